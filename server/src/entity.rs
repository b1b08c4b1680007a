//! sea-orm entities: the shape of each table, used only by the feature `store.rs` files.

pub mod api_token;
pub mod audit_log;
pub mod call_stat;
pub mod customer;
pub mod end_user;
pub mod entitlement;
pub mod invitation;
pub mod master_key;
pub mod mcp_session;
pub mod membership;
pub mod meter_outbox;
pub mod oauth_client;
pub mod oauth_code;
pub mod oauth_grant;
pub mod oauth_pending;
pub mod oauth_token;
pub mod offer;
pub mod operator;
pub mod operator_session;
pub mod provider_event;
pub mod purchase;
pub mod reconciliation;
pub mod setup_claim;
pub mod tenant;
pub mod tool;
pub mod usage;
