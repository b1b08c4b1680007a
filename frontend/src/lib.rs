//! The operators' dashboard (Leptos) and the wire types it shares with the server's admin API.
//!
//! Empty for now: the dashboard and the admin API arrive together in their own issue. The crate
//! exists so that the workspace already has the shape the design asks for, and so that the
//! dashboard can depend on shared types rather than on server internals.
