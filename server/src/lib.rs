//! Tollgate: a multi-tenant platform that serves, and sells, MCP tools.
//!
//! See `ARCHITECTURE.md` at the repository root for the map of this crate.

pub mod account;
pub mod admin;
pub mod analytics;
pub mod app;
pub mod billing;
pub mod changes;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
mod entity;
pub mod housekeeping;
mod html;
pub mod keys;
pub mod limit;
pub mod mcp;
pub mod oauth;
pub mod ops;
mod router;
pub mod tenant;
pub mod wordpress;

// Billing (server/src/billing*) is being split on another branch and still names the shared
// crate by its old name, `frontend::wire`. This alias keeps those paths compiling until the
// merge replaces them with `api_types::`; then it goes. The server does not depend on the
// dashboard crate.
extern crate api_types as frontend;

pub use app::{App, AppState, Services};
pub use config::Config;
