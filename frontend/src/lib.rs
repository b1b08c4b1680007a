//! Tollgate's operators' dashboard (a Leptos app that runs in the browser, built with the `csr`
//! feature for `wasm32-unknown-unknown`), and the pieces it shares with the server: the admin
//! API's wire types and the input rules. Without features the crate is only those shared pieces
//! and the dashboard's pure logic, so the server can depend on it without pulling in Leptos.

pub mod chart;
pub mod money;
pub mod plan;
pub mod text;
pub mod validate;
pub mod wire;

#[cfg(feature = "csr")]
mod app;

/// The browser entry point: mounts the dashboard on `<body>`.
#[cfg(feature = "csr")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
