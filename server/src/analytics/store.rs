//! Queries of analytics: the call counters, and the billing tables read for checkouts, revenue
//! and paying customers. Every function takes the tenant first and filters by it.

use crate::billing::usable_entitlements;
use crate::entity::{call_stat, entitlement, offer, purchase, tenant};
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Rows per insert statement: far below every backend's limit on bound parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// Calls to add to one counter.
pub struct Count {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub tool: String,
    pub outcome: &'static str,
    pub count: i64,
}

/// Whether the tenant exists and is not deleted.
pub async fn tenant_is_live(db: &impl ConnectionTrait, id: TenantId) -> Result<bool, DbErr> {
    Ok(tenant::Entity::find_by_id(id.0)
        .filter(tenant::Column::DeletedAt.is_null())
        .count(db)
        .await?
        > 0)
}

/// Adds to the tenant's counters, creating those that do not exist yet.
pub async fn add_counts(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    counts: &[Count],
) -> Result<(), DbErr> {
    for chunk in counts.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|c| call_stat::ActiveModel {
            tenant_id: Set(tenant.0),
            day: Set(c.day.clone()),
            tool: Set(c.tool.clone()),
            outcome: Set(c.outcome.to_owned()),
            count: Set(c.count),
        });
        // `count = call_stat.count + excluded.count`, which PostgreSQL and SQLite both accept.
        let excluded = Alias::new("excluded");
        let add = Expr::col((call_stat::Entity, call_stat::Column::Count))
            .add(Expr::col((excluded, call_stat::Column::Count)));
        call_stat::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    call_stat::Column::TenantId,
                    call_stat::Column::Day,
                    call_stat::Column::Tool,
                    call_stat::Column::Outcome,
                ])
                .value(call_stat::Column::Count, add)
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// The tenant's counters from `since` (`YYYY-MM-DD`) on.
pub async fn list_counts(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    since: &str,
) -> Result<Vec<call_stat::Model>, DbErr> {
    call_stat::Entity::find()
        .filter(call_stat::Column::TenantId.eq(tenant.0))
        .filter(call_stat::Column::Day.gte(since))
        .all(db)
        .await
}

/// The tenant's purchases created from `since` on, counted per (status, offer).
pub async fn purchases_since(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    since: DateTime<Utc>,
) -> Result<Vec<(String, Uuid, i64)>, DbErr> {
    purchase::Entity::find()
        .select_only()
        .column(purchase::Column::Status)
        .column(purchase::Column::OfferId)
        .column_as(purchase::Column::Id.count(), "purchases")
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(purchase::Column::CreatedAt.gte(since))
        .group_by(purchase::Column::Status)
        .group_by(purchase::Column::OfferId)
        .into_tuple()
        .all(db)
        .await
}

/// Each of the tenant's offers: its amount and currency.
pub async fn offer_prices(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<HashMap<Uuid, (i64, String)>, DbErr> {
    let rows: Vec<(Uuid, i64, String)> = offer::Entity::find()
        .select_only()
        .column(offer::Column::Id)
        .column(offer::Column::Amount)
        .column(offer::Column::Currency)
        .filter(offer::Column::TenantId.eq(tenant.0))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, amount, currency)| (id, (amount, currency)))
        .collect())
}

/// End users with an entitlement they can use now: active, within its period, calls left.
pub async fn count_paying_customers(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    entitlement::Entity::find()
        .select_only()
        .column(entitlement::Column::EndUserId)
        .distinct()
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(usable_entitlements(now))
        .into_tuple::<Uuid>()
        .count(db)
        .await
}
