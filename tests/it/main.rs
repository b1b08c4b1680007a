//! Tollgate's black-box tests: one binary, one module per area of the URL space.

mod admin;
mod admin_services;
mod analytics;
mod billing;
mod browser_smoke;
mod conformance;
mod dashboard;
mod dashboard_answers;
mod dashboard_editing;
mod dashboard_navigation;
mod dashboard_weight;
mod housekeeping;
mod keys;
mod limits;
mod list_changed;
mod logs;
mod mcp;
mod oauth;
mod ops;
mod our_words;
mod outside_clients;
mod python_sdk;
mod replicas;
mod stripe;
mod tidy;
mod wordpress;
