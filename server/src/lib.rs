//! Tollgate: a multi-tenant platform that serves, and sells, MCP tools.
//!
//! See `ARCHITECTURE.md` at the repository root for the map of this crate.

pub mod account;
pub mod admin;
pub mod analytics;
pub mod app;
pub mod billing;
pub mod catalog;
pub mod changes;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod diagnostics;
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

pub use app::{App, AppState, Services};
pub use config::Config;
