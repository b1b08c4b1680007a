//! Tollgate's black-box tests: one binary, one module per area of the URL space.

mod billing;
mod conformance;
mod logs;
mod mcp;
mod oauth;
mod ops;
mod python_sdk;
mod stripe;
mod wordpress;
