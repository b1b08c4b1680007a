//! Tollgate's black-box tests: one binary, one module per area of the URL space.

mod admin;
mod admin_services;
mod analytics;
mod billing;
mod browser_smoke;
mod conformance;
mod dashboard;
mod dashboard_weight;
mod latency;
mod logs;
mod mcp;
mod oauth;
mod ops;
mod outside_clients;
mod python_sdk;
mod stripe;
mod wordpress;
