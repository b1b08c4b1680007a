//! Queries of the dashboard's customers page: a tenant's end users, their entitlements,
//! purchases and billed calls.

use super::super::records::{EndUserSummary, Entitlement, Purchase, UsageKind, UsageStatus};
use super::entitlement_from_row;
use super::purchases::purchase_from_row;
use crate::entity::{end_user, entitlement, purchase, usage};
use crate::tenant::TenantId;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

fn summary(row: end_user::Model) -> EndUserSummary {
    EndUserSummary {
        id: row.id,
        login: row.login,
        display_name: row.display_name,
        email: row.email,
        created_at: row.created_at,
    }
}

/// The tenant's end users, newest first.
pub async fn list_end_users(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Vec<EndUserSummary>, DbErr> {
    Ok(end_user::Entity::find()
        .filter(end_user::Column::TenantId.eq(tenant.0))
        .order_by_desc(end_user::Column::CreatedAt)
        .order_by_asc(end_user::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(summary)
        .collect())
}

pub async fn find_end_user(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<EndUserSummary>, DbErr> {
    Ok(end_user::Entity::find_by_id(id)
        .filter(end_user::Column::TenantId.eq(tenant.0))
        .one(db)
        .await?
        .map(summary))
}

/// The tenant's entitlements (of one user, or of all), oldest first.
pub async fn list_entitlements(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Option<Uuid>,
) -> Result<Vec<Entitlement>, DbErr> {
    let mut query = entitlement::Entity::find().filter(entitlement::Column::TenantId.eq(tenant.0));
    if let Some(user) = user {
        query = query.filter(entitlement::Column::EndUserId.eq(user));
    }
    query
        .order_by_asc(entitlement::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| entitlement_from_row(&row))
        .collect()
}

/// Billed calls (paid or metered, committed) in `period`, per end user (of one user, or of
/// all). A row may count several calls (the fast lane's groups): their sum is the count.
pub async fn count_billed_usage_per_user(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Option<Uuid>,
    period: &str,
) -> Result<Vec<(Uuid, i64)>, DbErr> {
    let mut query = usage::Entity::find()
        .select_only()
        .column(usage::Column::EndUserId)
        .column_as(usage::Column::Calls.sum(), "calls")
        .filter(usage::Column::TenantId.eq(tenant.0))
        .filter(usage::Column::Period.eq(period))
        .filter(usage::Column::Kind.is_in([UsageKind::Paid.as_str(), UsageKind::Metered.as_str()]))
        .filter(usage::Column::Status.eq(UsageStatus::Committed.as_str()));
    if let Some(user) = user {
        query = query.filter(usage::Column::EndUserId.eq(user));
    }
    query
        .group_by(usage::Column::EndUserId)
        .into_tuple()
        .all(db)
        .await
}

/// An end user's purchases, newest first.
pub async fn list_purchases_of(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
) -> Result<Vec<Purchase>, DbErr> {
    purchase::Entity::find()
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(purchase::Column::EndUserId.eq(user))
        .order_by_desc(purchase::Column::CreatedAt)
        .order_by_desc(purchase::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(purchase_from_row)
        .collect()
}

/// An end user's committed calls (free quota included) per (tool, period), newest period
/// first; summed, like `count_billed_usage_per_user`.
pub async fn usage_per_tool(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
) -> Result<Vec<(String, String, i64)>, DbErr> {
    usage::Entity::find()
        .select_only()
        .column(usage::Column::ToolName)
        .column(usage::Column::Period)
        .column_as(usage::Column::Calls.sum(), "calls")
        .filter(usage::Column::TenantId.eq(tenant.0))
        .filter(usage::Column::EndUserId.eq(user))
        .filter(usage::Column::Status.eq(UsageStatus::Committed.as_str()))
        .group_by(usage::Column::ToolName)
        .group_by(usage::Column::Period)
        .order_by_desc(usage::Column::Period)
        .order_by_asc(usage::Column::ToolName)
        .into_tuple()
        .all(db)
        .await
}
