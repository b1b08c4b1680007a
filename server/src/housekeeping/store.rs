//! The purge's deletes: each removes rows past a cut-off and nothing else, so running it twice,
//! or on every replica at once, deletes each row once and changes nothing more.

use crate::entity::{
    mcp_session, oauth_code, oauth_pending, oauth_token, operator_session, provider_event,
};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Pending authorization requests that expired before `before`.
pub async fn delete_pending_expired(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(oauth_pending::Entity::delete_many()
        .filter(oauth_pending::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Authorization codes that expired before `before`.
pub async fn delete_codes_expired(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(oauth_code::Entity::delete_many()
        .filter(oauth_code::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Access and refresh tokens that expired before `before`.
pub async fn delete_tokens_expired(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(oauth_token::Entity::delete_many()
        .filter(oauth_token::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Operator sessions that expired before `before`.
pub async fn delete_sessions_expired(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(operator_session::Entity::delete_many()
        .filter(operator_session::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// MCP sessions last seen before `before` (a session idle that long is already refused).
pub async fn delete_mcp_sessions_idle(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(mcp_session::Entity::delete_many()
        .filter(mcp_session::Column::LastSeenAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Processed webhook event ids received before `before`.
pub async fn delete_events_received_before(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(provider_event::Entity::delete_many()
        .filter(provider_event::Column::CreatedAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}
