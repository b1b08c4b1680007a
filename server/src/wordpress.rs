//! The WordPress.org tool pack: read-only tools over the public api.wordpress.org.
//!
//! [`Operation`] is the catalogue (names, descriptions, schemas) and runs a tool against a
//! [`WordPressApi`]; [`HttpWordPressApi`] is the real client, with a response cache, single-flight
//! fetching and one retry.

mod catalog;
mod client;
mod plugins;
mod site;
mod support;
mod themes;

pub use catalog::{Operation, ToolFailure, ToolOutput};
pub use client::{ClientSettings, HttpWordPressApi, UpstreamError, WordPressApi};
