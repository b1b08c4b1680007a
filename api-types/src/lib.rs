//! The one home of every rule the server and the dashboard both apply: the admin API's wire
//! types, the input rules (the server enforces them, the dashboard checks them as you type),
//! money parsing and formatting, and HTML escaping. Plain Rust and serde, no I/O, so it builds
//! for the host and for `wasm32-unknown-unknown` alike.

pub mod html;
pub mod money;
pub mod validate;
pub mod wire;
