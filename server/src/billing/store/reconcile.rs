//! Queries of reconciliation: the per-tenant row (event cursor, lease, last report) and the
//! subscription entitlements whose state has not been confirmed with Stripe for a while.

use super::super::records::{Entitlement, EntitlementStatus};
use super::{entitlement_from_row, insert_unless_exists};
use crate::entity::{entitlement, reconciliation};
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, UpdateMany,
};

/// A tenant's reconciliation row, as stored.
#[derive(Clone, Debug, Default)]
pub struct ReconciliationRow {
    /// Stripe's `created` from which the next run lists events.
    pub events_from: Option<i64>,
    /// The replica running one now, and until when its lease lasts.
    pub lease_holder: Option<String>,
    /// The lease's end.
    pub lease_until: Option<DateTime<Utc>>,
    /// The last run's report (JSON).
    pub last_report: Option<String>,
}

pub async fn find_reconciliation(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Option<ReconciliationRow>, DbErr> {
    Ok(reconciliation::Entity::find_by_id(tenant.0)
        .one(db)
        .await?
        .map(|row| ReconciliationRow {
            events_from: row.events_from,
            lease_holder: row.lease_holder,
            lease_until: row.lease_until,
            last_report: row.last_report,
        }))
}

/// Takes the tenant's reconciliation lease for `token` until `until`, by one conditional
/// `UPDATE` (the same on SQLite and PostgreSQL, so it holds across processes): only when no
/// lease runs at `now`, and, with `finished_before`, only when the last run finished before
/// then (a background run that another replica just made is not repeated). True when taken.
pub async fn claim_reconciliation(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    token: &str,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    finished_before: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    insert_unless_exists(
        db,
        reconciliation::ActiveModel {
            tenant_id: Set(tenant.0),
            events_from: Set(None),
            lease_token: Set(None),
            lease_holder: Set(None),
            lease_until: Set(None),
            last_run_at: Set(None),
            last_report: Set(None),
        },
        [reconciliation::Column::TenantId],
    )
    .await?;
    let mut free = Condition::all().add(
        Condition::any()
            .add(reconciliation::Column::LeaseUntil.is_null())
            .add(reconciliation::Column::LeaseUntil.lt(now)),
    );
    if let Some(before) = finished_before {
        free = free.add(
            Condition::any()
                .add(reconciliation::Column::LastRunAt.is_null())
                .add(reconciliation::Column::LastRunAt.lte(before)),
        );
    }
    let result = reconciliation::Entity::update_many()
        .col_expr(reconciliation::Column::LeaseToken, Expr::value(token))
        .col_expr(reconciliation::Column::LeaseHolder, Expr::value(holder))
        .col_expr(reconciliation::Column::LeaseUntil, Expr::value(until))
        .filter(reconciliation::Column::TenantId.eq(tenant.0))
        .filter(free)
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Ends a run that holds the lease under `token`: the cursor moves to `events_from`, the
/// report is kept and the lease is given up, in one statement. False when the lease is no
/// longer this run's (it outlived its lease and another run took over): nothing is written.
pub async fn finish_reconciliation(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    token: &str,
    events_from: Option<i64>,
    now: DateTime<Utc>,
    report: &str,
) -> Result<bool, DbErr> {
    let result = lease_given_up(tenant, token)
        .col_expr(reconciliation::Column::EventsFrom, Expr::value(events_from))
        .col_expr(reconciliation::Column::LastRunAt, Expr::value(now))
        .col_expr(reconciliation::Column::LastReport, Expr::value(report))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Gives up the lease of a run that failed; the cursor and the last report stay.
pub async fn release_reconciliation(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    token: &str,
) -> Result<(), DbErr> {
    lease_given_up(tenant, token).exec(db).await?;
    Ok(())
}

/// The update that gives up `tenant`'s lease when `token` still holds it (the holder, the
/// token and the deadline cleared); a finishing run adds its cursor and report to it.
fn lease_given_up(tenant: TenantId, token: &str) -> UpdateMany<reconciliation::Entity> {
    reconciliation::Entity::update_many()
        .col_expr(
            reconciliation::Column::LeaseToken,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            reconciliation::Column::LeaseHolder,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            reconciliation::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(reconciliation::Column::TenantId.eq(tenant.0))
        .filter(reconciliation::Column::LeaseToken.eq(token))
}

/// Up to `limit` entitlements from a Stripe subscription (not the sandbox's) that are not
/// ended and whose state was not confirmed since `confirmed_before`, the least recently
/// confirmed first, with their sources.
pub async fn unconfirmed_subscriptions(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    confirmed_before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(String, Entitlement)>, DbErr> {
    entitlement::Entity::find()
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.starts_with("subscription:"))
        .filter(entitlement::Column::Source.not_like("subscription:sbx_sub_%"))
        .filter(entitlement::Column::Status.ne(EntitlementStatus::Revoked.as_str()))
        .filter(
            Condition::any()
                .add(entitlement::Column::ConfirmedAt.is_null())
                .add(entitlement::Column::ConfirmedAt.lt(confirmed_before)),
        )
        .order_by_asc(entitlement::Column::ConfirmedAt)
        .order_by_asc(entitlement::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Ok((row.source.clone(), entitlement_from_row(&row)?)))
        .collect()
}

/// Records that Stripe's word on the entitlement from `source` is known as of `at` (never
/// moving an earlier confirmation back).
pub async fn confirm_entitlement(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    source: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    entitlement::Entity::update_many()
        .col_expr(entitlement::Column::ConfirmedAt, Expr::value(Some(at)))
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.eq(source))
        .filter(
            Condition::any()
                .add(entitlement::Column::ConfirmedAt.is_null())
                .add(entitlement::Column::ConfirmedAt.lt(at)),
        )
        .exec(db)
        .await?;
    Ok(())
}
