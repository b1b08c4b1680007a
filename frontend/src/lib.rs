//! Tollgate's operators' dashboard (a Leptos app that runs in the browser, built with the `csr`
//! feature for `wasm32-unknown-unknown`). Without features the crate is only the dashboard's
//! pure logic, tested on the host. What it shares with the server (wire types, input rules,
//! money, escaping) lives in the `api-types` crate and is re-exported here under its old paths.

pub use api_types::{html, money, validate, wire};

pub mod chart;
pub mod plan;
pub mod text;

#[cfg(feature = "csr")]
mod app;

/// The browser entry point: mounts the dashboard on `<body>`.
#[cfg(feature = "csr")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
