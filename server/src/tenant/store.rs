//! Queries for tenants and tools. Every tool query is scoped by the tenant id it is given.

use super::{
    OfferId, Tenant, TenantError, TenantId, TenantSettings, TenantSlug, ToolConfig, ToolId,
    ToolName, ToolPatch,
};
use crate::entity::{tenant, tool};
use crate::wordpress::Operation;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr,
};
use std::collections::HashSet;
use uuid::Uuid;

/// Every table that holds rows of a tenant, in a `tenant_id` column, children before the tables
/// they point at. Deleting a tenant deletes its rows from each, in this order, then the tenant
/// row, in one transaction. A new tenant-owned table belongs here: the test
/// `deleting_a_tenant_removes_every_row_it_owns` finds every table with a `tenant_id` column and
/// fails on one this list misses (the foreign keys' `ON DELETE CASCADE` is only a second line).
pub(super) const TENANT_TABLES: &[&str] = &[
    // billing
    "meter_outbox",
    "usage",
    "entitlement",
    "purchase",
    "customer",
    "provider_event",
    "reconciliation",
    "offer",
    // analytics
    "call_stat",
    // operators: who may manage it, who was invited (its audit log stays: it is append-only,
    // a trigger refuses deletes, and the record of what happened outlives the tenant)
    "membership",
    "invitation",
    // the authorization server
    "oauth_token",
    "oauth_code",
    "oauth_grant",
    "oauth_pending",
    "oauth_client",
    "end_user",
    // tenant
    "tool",
];

fn tenant_from_row(row: tenant::Model) -> Result<Tenant, sea_orm::DbErr> {
    let slug = TenantSlug::parse(&row.slug)
        .map_err(|e| sea_orm::DbErr::Custom(format!("stored slug is invalid: {e}")))?;
    // Settings written by an older or newer version fall back to defaults field by field.
    let settings = serde_json::from_str(&row.settings).unwrap_or_default();
    Ok(Tenant {
        id: TenantId(row.id),
        slug,
        name: row.name,
        settings,
        config_version: row.config_version,
        created_at: row.created_at,
    })
}

/// A tool's pricing as the `tool.pricing` column holds it: `{"offer_id": "<uuid>"}` (JSON, so
/// that pricing can say more later without a migration). Anything else reads as free.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredPricing {
    offer_id: Uuid,
}

fn tool_from_row(row: tool::Model) -> Option<ToolConfig> {
    let Some(operation) = Operation::parse(&row.operation) else {
        tracing::warn!(tool.id = %row.id, operation = %row.operation, "skipping a tool whose operation is not in the catalog");
        return None;
    };
    let Ok(name) = ToolName::parse(&row.name) else {
        tracing::warn!(tool.id = %row.id, "skipping a tool whose stored name is invalid");
        return None;
    };
    Some(ToolConfig {
        id: ToolId(row.id),
        operation,
        name,
        title: row.title,
        description: row.description,
        enabled: row.enabled,
        position: row.position,
        pricing: row
            .pricing
            .and_then(|p| serde_json::from_str::<StoredPricing>(&p).ok())
            .map(|p| OfferId(p.offer_id)),
    })
}

pub(super) async fn find_tenant_by_slug(
    db: &impl ConnectionTrait,
    slug: &TenantSlug,
) -> Result<Option<Tenant>, sea_orm::DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug.as_str()))
        .filter(tenant::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .map(tenant_from_row)
        .transpose()
}

/// When the tenant that last had `slug` was deleted, if it was and its row is still kept.
pub(super) async fn find_deletion_by_slug(
    db: &impl ConnectionTrait,
    slug: &TenantSlug,
) -> Result<Option<DateTime<Utc>>, sea_orm::DbErr> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug.as_str()))
        .filter(tenant::Column::DeletedAt.is_not_null())
        .one(db)
        .await?
        .and_then(|row| row.deleted_at))
}

/// The tenant row with this id unless it is deleted.
async fn live_row(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Option<tenant::Model>, sea_orm::DbErr> {
    tenant::Entity::find_by_id(tenant.0)
        .filter(tenant::Column::DeletedAt.is_null())
        .one(db)
        .await
}

pub(super) async fn list_tenant_ids(
    db: &impl ConnectionTrait,
) -> Result<Vec<TenantId>, sea_orm::DbErr> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|row| TenantId(row.id))
        .collect())
}

pub(super) async fn find_tenant_by_id(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Option<Tenant>, sea_orm::DbErr> {
    live_row(db, tenant).await?.map(tenant_from_row).transpose()
}

/// The tenant's tool row with this id, or [`TenantError::ToolNotFound`].
async fn tool_row(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    tool_id: ToolId,
) -> Result<tool::Model, TenantError> {
    tool::Entity::find_by_id(tool_id.0)
        .filter(tool::Column::TenantId.eq(tenant.0))
        .one(db)
        .await?
        .ok_or(TenantError::ToolNotFound)
}

/// `error`, or `taken` when it is a unique-constraint violation (a name already in use).
fn taken_or(error: sea_orm::DbErr, taken: impl FnOnce() -> TenantError) -> TenantError {
    if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        taken()
    } else {
        error.into()
    }
}

pub(super) async fn set_tool_pricing(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    tool_id: ToolId,
    pricing: Option<OfferId>,
    now: DateTime<Utc>,
) -> Result<ToolConfig, TenantError> {
    let row = tool_row(db, tenant, tool_id).await?;
    let mut active: tool::ActiveModel = row.into();
    active.pricing = Set(pricing
        .map(|offer| serde_json::to_string(&StoredPricing { offer_id: offer.0 }))
        .transpose()
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?);
    active.updated_at = Set(now);
    tool_from_row(active.update(db).await?).ok_or(TenantError::ToolNotFound)
}

/// Inserts a tenant. A slug whose tenant was deleted less than [`SLUG_RETIREMENT`] before
/// `now` is refused ([`TenantError::SlugRetired`]); an older deleted row with that slug is
/// purged in the same transaction, so the slug is free again (its audit entries stay: they
/// hold the tenant's id, with no foreign key).
pub(super) async fn insert_tenant(
    db: &DatabaseConnection,
    slug: &TenantSlug,
    name: &str,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Result<Tenant, TenantError> {
    let txn = crate::db::begin_write(db).await?;
    if let Some(deleted_at) = find_deletion_by_slug(&txn, slug).await? {
        let free_from = deleted_at + super::SLUG_RETIREMENT;
        if now < free_from {
            return Err(TenantError::SlugRetired {
                slug: slug.to_string(),
                free_from,
            });
        }
        tenant::Entity::delete_many()
            .filter(tenant::Column::Slug.eq(slug.as_str()))
            .filter(tenant::Column::DeletedAt.is_not_null())
            .exec(&txn)
            .await?;
    }
    let tenant = insert_tenant_row(&txn, slug, name, settings, now).await?;
    txn.commit().await?;
    Ok(tenant)
}

async fn insert_tenant_row(
    db: &impl ConnectionTrait,
    slug: &TenantSlug,
    name: &str,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Result<Tenant, TenantError> {
    let row = tenant::ActiveModel {
        id: Set(Uuid::new_v4()),
        slug: Set(slug.as_str().to_owned()),
        name: Set(name.to_owned()),
        settings: Set(serde_json::to_string(settings).unwrap_or_else(|_| "{}".into())),
        config_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    };
    let model = row
        .insert(db)
        .await
        .map_err(|e| taken_or(e, || TenantError::SlugTaken(slug.to_string())))?;
    Ok(tenant_from_row(model)?)
}

pub(super) async fn update_tenant_settings(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Result<Tenant, TenantError> {
    let settings = serde_json::to_string(settings).unwrap_or_else(|_| "{}".into());
    update_live_tenant(db, tenant, now, |active| active.settings = Set(settings)).await
}

pub(super) async fn update_tenant_name(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Tenant, TenantError> {
    update_live_tenant(db, tenant, now, |active| active.name = Set(name.to_owned())).await
}

/// Applies `change` to the live tenant's row and bumps its configuration version.
async fn update_live_tenant(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut tenant::ActiveModel),
) -> Result<Tenant, TenantError> {
    let row = live_row(db, tenant)
        .await?
        .ok_or(TenantError::TenantNotFound)?;
    let version = row.config_version;
    let mut active: tenant::ActiveModel = row.into();
    change(&mut active);
    active.config_version = Set(version + 1);
    active.updated_at = Set(now);
    Ok(tenant_from_row(active.update(db).await?)?)
}

/// Deletes the tenant's rows from every table in [`TENANT_TABLES`] and marks the tenant row
/// deleted at `now` (its settings, which hold sealed secrets, are emptied), in one
/// transaction. Returns the slug it had (for cache invalidation).
pub(super) async fn delete_tenant(
    db: &DatabaseConnection,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<TenantSlug, TenantError> {
    let txn = crate::db::begin_write(db).await?;
    let row = live_row(&txn, tenant)
        .await?
        .ok_or(TenantError::TenantNotFound)?;
    let slug = tenant_from_row(row)?.slug;
    for table in TENANT_TABLES {
        let delete = Query::delete()
            .from_table(Alias::new(*table))
            .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
            .to_owned();
        txn.execute(&delete).await?;
    }
    // Only a row still live is marked: two concurrent deletions cannot both succeed.
    let marked = tenant::Entity::update_many()
        .col_expr(tenant::Column::DeletedAt, Expr::value(now))
        .col_expr(tenant::Column::Settings, Expr::value("{}"))
        .col_expr(
            tenant::Column::ConfigVersion,
            Expr::col(tenant::Column::ConfigVersion).add(1),
        )
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Id.eq(tenant.0))
        .filter(tenant::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        return Err(TenantError::TenantNotFound);
    }
    txn.commit().await?;
    Ok(slug)
}

/// Sets the positions of the tenant's tools to their index in `ids`, which must name every tool
/// of the tenant exactly once; bumps the configuration version. Returns the slug and the tools
/// in their new order.
pub(super) async fn reorder_tools(
    db: &DatabaseConnection,
    tenant: TenantId,
    ids: &[ToolId],
    now: DateTime<Utc>,
) -> Result<(TenantSlug, Vec<ToolConfig>), TenantError> {
    let txn = crate::db::begin_write(db).await?;
    let existing: HashSet<Uuid> = tool::Entity::find()
        .select_only()
        .column(tool::Column::Id)
        .filter(tool::Column::TenantId.eq(tenant.0))
        .into_tuple::<Uuid>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    if ids.iter().any(|id| !existing.contains(&id.0)) {
        return Err(TenantError::ToolNotFound);
    }
    let listed: HashSet<Uuid> = ids.iter().map(|id| id.0).collect();
    if listed.len() != ids.len() {
        return Err(TenantError::InvalidOrder(
            "the order lists a tool more than once".into(),
        ));
    }
    if listed.len() != existing.len() {
        return Err(TenantError::InvalidOrder(format!(
            "the order must list every tool of the tenant exactly once: it lists {} of {}",
            listed.len(),
            existing.len()
        )));
    }
    for (position, id) in ids.iter().enumerate() {
        let position = i32::try_from(position)
            .map_err(|_| TenantError::InvalidOrder("too many tools".into()))?;
        tool::Entity::update_many()
            .col_expr(tool::Column::Position, Expr::value(position))
            .col_expr(tool::Column::UpdatedAt, Expr::value(now))
            .filter(tool::Column::TenantId.eq(tenant.0))
            .filter(tool::Column::Id.eq(id.0))
            .exec(&txn)
            .await?;
    }
    let slug = bump_config_version(&txn, tenant, now).await?;
    let tools = list_tools(&txn, tenant).await?;
    txn.commit().await?;
    Ok((slug, tools))
}

/// Bumps the tenant's configuration version and returns its slug (for cache invalidation).
pub(super) async fn bump_config_version(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<TenantSlug, TenantError> {
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::ConfigVersion,
            Expr::col(tenant::Column::ConfigVersion).add(1),
        )
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Id.eq(tenant.0))
        .filter(tenant::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    let row = live_row(db, tenant)
        .await?
        .ok_or(TenantError::TenantNotFound)?;
    Ok(tenant_from_row(row)?.slug)
}

pub(super) async fn list_tools(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Vec<ToolConfig>, sea_orm::DbErr> {
    Ok(tool::Entity::find()
        .filter(tool::Column::TenantId.eq(tenant.0))
        .order_by_asc(tool::Column::Position)
        .order_by_asc(tool::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .filter_map(tool_from_row)
        .collect())
}

pub(super) async fn insert_tool(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    operation: Operation,
    name: &ToolName,
    position: i32,
    now: DateTime<Utc>,
) -> Result<ToolConfig, TenantError> {
    if live_row(db, tenant).await?.is_none() {
        return Err(TenantError::TenantNotFound);
    }
    let row = tool::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.0),
        operation: Set(operation.key().to_owned()),
        name: Set(name.as_str().to_owned()),
        title: Set(None),
        description: Set(None),
        enabled: Set(true),
        position: Set(position),
        pricing: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let model = row
        .insert(db)
        .await
        .map_err(|e| taken_or(e, || TenantError::ToolNameTaken(name.to_string())))?;
    tool_from_row(model).ok_or(TenantError::ToolNotFound)
}

pub(super) async fn update_tool(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    tool_id: ToolId,
    patch: &ToolPatch,
    now: DateTime<Utc>,
) -> Result<ToolConfig, TenantError> {
    let row = tool_row(db, tenant, tool_id).await?;
    let mut active: tool::ActiveModel = row.into();
    if let Some(name) = &patch.name {
        active.name = Set(name.as_str().to_owned());
    }
    if let Some(title) = &patch.title {
        active.title = Set(title.clone());
    }
    if let Some(description) = &patch.description {
        active.description = Set(description.clone());
    }
    if let Some(enabled) = patch.enabled {
        active.enabled = Set(enabled);
    }
    if let Some(position) = patch.position {
        active.position = Set(position);
    }
    active.updated_at = Set(now);
    let model = active.update(db).await.map_err(|e| {
        taken_or(e, || {
            let name = patch.name.as_ref().map(ToString::to_string);
            TenantError::ToolNameTaken(name.unwrap_or_default())
        })
    })?;
    tool_from_row(model).ok_or(TenantError::ToolNotFound)
}
