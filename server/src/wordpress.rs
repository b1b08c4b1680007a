//! The WordPress.org tool pack: read-only tools over the public api.wordpress.org.
//!
//! Each tool declares its name, texts, schemas and handler (an `OperationSpec`) next to its
//! code in the files below; `crate::catalog` lists them. [`HttpWordPressApi`] is the real
//! client, with a response cache, single-flight fetching and one retry.

mod cache;
mod client;
mod directory;
pub(crate) mod patterns;
pub(crate) mod plugin_downloads;
pub(crate) mod plugins;
pub(crate) mod site;
mod support;
pub(crate) mod theme_features;
pub(crate) mod themes;

pub use crate::catalog::{Operation, ToolFailure, ToolOutput};
pub use client::{ClientSettings, HttpWordPressApi, UpstreamError, WordPressApi};
