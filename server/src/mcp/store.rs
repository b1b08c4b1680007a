//! Queries of the legacy MCP sessions (`mcp_session`). Every function takes the tenant first.

use crate::entity::mcp_session;
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set};
use uuid::Uuid;

/// A session to record.
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub user: Option<Uuid>,
    pub address: &'a str,
    pub protocol_version: &'a str,
    pub capabilities: &'a str,
}

pub async fn insert_session(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    s: &NewSession<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    mcp_session::Entity::insert(mcp_session::ActiveModel {
        id_hash: Set(s.id_hash.to_owned()),
        tenant_id: Set(tenant.0),
        end_user_id: Set(s.user),
        client_address: Set(s.address.to_owned()),
        protocol_version: Set(s.protocol_version.to_owned()),
        client_capabilities: Set(s.capabilities.to_owned()),
        created_at: Set(now),
        last_seen_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The session, when it exists at this tenant and was seen since `idle_since`.
pub async fn find_session(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id_hash: &str,
    idle_since: DateTime<Utc>,
) -> Result<Option<mcp_session::Model>, DbErr> {
    mcp_session::Entity::find_by_id(id_hash.to_owned())
        .filter(mcp_session::Column::TenantId.eq(tenant.0))
        .filter(mcp_session::Column::LastSeenAt.gte(idle_since))
        .one(db)
        .await
}

/// Binds an anonymous session to `user`; false when it already had an owner.
pub async fn bind_session(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id_hash: &str,
    user: Uuid,
) -> Result<bool, DbErr> {
    let result = mcp_session::Entity::update_many()
        .col_expr(mcp_session::Column::EndUserId, Expr::value(user))
        .filter(mcp_session::Column::TenantId.eq(tenant.0))
        .filter(mcp_session::Column::IdHash.eq(id_hash))
        .filter(mcp_session::Column::EndUserId.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn touch_session(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    mcp_session::Entity::update_many()
        .col_expr(mcp_session::Column::LastSeenAt, Expr::value(now))
        .filter(mcp_session::Column::TenantId.eq(tenant.0))
        .filter(mcp_session::Column::IdHash.eq(id_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the session; false when there was none.
pub async fn delete_session(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id_hash: &str,
) -> Result<bool, DbErr> {
    let result = mcp_session::Entity::delete_many()
        .filter(mcp_session::Column::TenantId.eq(tenant.0))
        .filter(mcp_session::Column::IdHash.eq(id_hash))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Open sessions of one end user at this tenant.
pub async fn count_user_sessions(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
    idle_since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    mcp_session::Entity::find()
        .filter(mcp_session::Column::TenantId.eq(tenant.0))
        .filter(mcp_session::Column::EndUserId.eq(user))
        .filter(mcp_session::Column::LastSeenAt.gte(idle_since))
        .count(db)
        .await
}

/// Open sessions opened from one client address, at any tenant.
pub async fn count_address_sessions(
    db: &impl ConnectionTrait,
    address: &str,
    idle_since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    mcp_session::Entity::find()
        .filter(mcp_session::Column::ClientAddress.eq(address))
        .filter(mcp_session::Column::LastSeenAt.gte(idle_since))
        .count(db)
        .await
}
