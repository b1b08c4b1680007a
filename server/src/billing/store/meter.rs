//! Queries of the meter outbox: events queued in a paid call's transaction, claimed with a
//! lease by one sender at a time, and marked sent (or set aside) once delivered.

use super::super::records::{FailedMeterEvent, MeterRecord, MeterStatus};
use crate::entity::meter_outbox;
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

pub async fn insert_meter_event(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    identifier: &str,
    event_name: &str,
    customer: &str,
    value: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    meter_outbox::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.0),
        identifier: Set(identifier.to_owned()),
        event_name: Set(event_name.to_owned()),
        provider_customer_id: Set(customer.to_owned()),
        value: Set(value),
        timestamp: Set(now.timestamp()),
        status: Set(MeterStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        failed_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Pending events due now, oldest first, of every tenant but `busy` ones.
pub async fn due_meter_events(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    busy: &[Uuid],
    limit: u64,
) -> Result<Vec<MeterRecord>, DbErr> {
    Ok(meter_outbox::Entity::find()
        .filter(meter_outbox::Column::Status.eq(MeterStatus::Pending.as_str()))
        .filter(meter_outbox::Column::NextAttemptAt.lte(now))
        .filter(meter_outbox::Column::TenantId.is_not_in(busy.iter().copied()))
        .order_by_asc(meter_outbox::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| MeterRecord {
            id: row.id,
            tenant_id: row.tenant_id,
            identifier: row.identifier,
            event_name: row.event_name,
            provider_customer_id: row.provider_customer_id,
            value: row.value,
            timestamp: row.timestamp,
            attempts: row.attempts,
        })
        .collect())
}

/// Claims a due event for one sender: its next attempt moves to `lease_until`, so no other
/// sender (in any process) takes it meanwhile; a sender that dies leaves it due again then.
/// A compare-and-set on `next_attempt_at`, so two senders never both get it. True when claimed.
pub async fn claim_meter_event(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = meter_outbox::Entity::update_many()
        .col_expr(
            meter_outbox::Column::NextAttemptAt,
            Expr::value(lease_until),
        )
        .filter(meter_outbox::Column::Id.eq(id))
        .filter(meter_outbox::Column::Status.eq(MeterStatus::Pending.as_str()))
        .filter(meter_outbox::Column::NextAttemptAt.lte(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// When the next pending event of a tenant not `busy` falls due.
pub async fn next_meter_attempt(
    db: &impl ConnectionTrait,
    busy: &[Uuid],
) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(meter_outbox::Entity::find()
        .filter(meter_outbox::Column::Status.eq(MeterStatus::Pending.as_str()))
        .filter(meter_outbox::Column::TenantId.is_not_in(busy.iter().copied()))
        .order_by_asc(meter_outbox::Column::NextAttemptAt)
        .one(db)
        .await?
        .map(|m| m.next_attempt_at))
}

pub async fn mark_meter_event(
    db: &impl ConnectionTrait,
    id: Uuid,
    status: MeterStatus,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    meter_outbox::Entity::update_many()
        .col_expr(meter_outbox::Column::Status, Expr::value(status.as_str()))
        .col_expr(meter_outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(
            meter_outbox::Column::NextAttemptAt,
            Expr::value(next_attempt_at),
        )
        .col_expr(meter_outbox::Column::LastError, Expr::value(error))
        .col_expr(
            meter_outbox::Column::SentAt,
            Expr::value((status == MeterStatus::Sent).then_some(now)),
        )
        .col_expr(
            meter_outbox::Column::FailedAt,
            Expr::value((status == MeterStatus::Failed).then_some(now)),
        )
        .filter(meter_outbox::Column::Id.eq(id))
        // Only a pending event changes: a sender that outlived its process (or lost a race)
        // never turns a sent event back into a pending one.
        .filter(meter_outbox::Column::Status.eq(MeterStatus::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn count_pending_meter_events(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    meter_outbox::Entity::find()
        .filter(meter_outbox::Column::Status.eq(MeterStatus::Pending.as_str()))
        .count(db)
        .await
}

/// A tenant's meter events set aside as `failed`, the latest first.
pub async fn failed_meter_events(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    limit: u64,
) -> Result<Vec<FailedMeterEvent>, DbErr> {
    Ok(meter_outbox::Entity::find()
        .filter(meter_outbox::Column::TenantId.eq(tenant.0))
        .filter(meter_outbox::Column::Status.eq(MeterStatus::Failed.as_str()))
        .order_by_desc(meter_outbox::Column::FailedAt)
        .order_by_desc(meter_outbox::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| FailedMeterEvent {
            occurred_at: DateTime::<Utc>::from_timestamp(row.timestamp, 0)
                .unwrap_or(row.created_at),
            failed_at: row.failed_at.unwrap_or(row.next_attempt_at),
            identifier: row.identifier,
            event_name: row.event_name,
            customer: row.provider_customer_id,
            value: row.value,
            reason: row.last_error.unwrap_or_default(),
            attempts: row.attempts,
        })
        .collect())
}
