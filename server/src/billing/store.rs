//! Queries of billing. Every function for tenant data takes the tenant first and filters by it,
//! and returns billing's own records (`records.rs`), never database rows. The meter outbox's
//! queries are in `store/meter.rs`, the purchases' in `store/purchases.rs`, the customers page's
//! in `store/customers.rs`, the double payments' in `store/duplicates.rs`.

mod customers;
mod duplicates;
mod meter;
mod purchases;
mod reconcile;

pub use customers::{
    count_billed_usage_per_user, find_end_user, list_end_users, list_entitlements,
    list_purchases_of, usage_per_tool,
};
pub use duplicates::{
    FlaggedPayment, find_double_payment, list_double_payments, record_duplicate_refund,
};
pub use meter::{
    claim_meter_event, count_pending_meter_events, due_meter_events, failed_meter_events,
    insert_meter_event, mark_meter_event, next_meter_attempt,
};
pub use purchases::{
    NewPurchase, PurchaseKey, count_closed_purchases, find_open_purchase, find_purchase,
    find_purchase_by, insert_purchase, mark_paid, set_purchase_status,
};
pub use reconcile::{
    claim_reconciliation, confirm_entitlement, find_reconciliation, finish_reconciliation,
    release_reconciliation, unconfirmed_subscriptions,
};

use super::records::{Entitlement, EntitlementStatus, UsageKind, UsageStatus};
use super::{Offer, OfferId, OfferKind};
use crate::entity::{audit_log, customer, entitlement, offer, provider_event, usage};
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, IntoIden, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

/// Inserts a row unless one with the same `unique` columns exists; true when inserted.
/// `ON CONFLICT DO NOTHING` rather than catching the unique violation: on PostgreSQL a failed
/// statement aborts the whole transaction, and its COMMIT then silently rolls back.
async fn insert_unless_exists<A, C>(
    db: &impl ConnectionTrait,
    row: A,
    unique: impl IntoIterator<Item = C>,
) -> Result<bool, DbErr>
where
    A: ActiveModelTrait,
    C: IntoIden,
{
    let inserted = <A::Entity as EntityTrait>::insert(row)
        .on_conflict(OnConflict::columns(unique).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// A stored status that no enum variant spells: the row was not written by this version.
fn unknown(what: &str, raw: &str) -> DbErr {
    DbErr::Type(format!("unknown {what} {raw:?}"))
}

fn entitlement_from_row(row: &entitlement::Model) -> Result<Entitlement, DbErr> {
    Ok(Entitlement {
        status: EntitlementStatus::parse(&row.status)
            .ok_or_else(|| unknown("entitlement status", &row.status))?,
        id: row.id,
        end_user_id: row.end_user_id,
        offer_id: row.offer_id,
        calls_remaining: row.calls_remaining,
        period_end: row.period_end,
        last_event_at: row.last_event_at,
    })
}

fn offer_from_row(row: offer::Model) -> Option<Offer> {
    Some(Offer {
        id: OfferId(row.id),
        name: row.name,
        kind: OfferKind::parse(&row.kind)?,
        price_id: row.price_id,
        amount: row.amount,
        currency: row.currency,
        interval: row.interval,
        calls: row.calls,
        meter_event: row.meter_event,
        meter_value: row.meter_value,
        free_quota: row.free_quota,
        spend_cap: row.spend_cap,
        payment_reason: row.payment_reason,
        success_url: row.success_url,
        past_due_grace_days: row.past_due_grace_days,
    })
}

pub async fn insert_offer(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    o: &Offer,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    offer::ActiveModel {
        id: Set(o.id.0),
        tenant_id: Set(tenant.0),
        name: Set(o.name.clone()),
        kind: Set(o.kind.as_str().to_owned()),
        price_id: Set(o.price_id.clone()),
        amount: Set(o.amount),
        currency: Set(o.currency.clone()),
        interval: Set(o.interval.clone()),
        calls: Set(o.calls),
        meter_event: Set(o.meter_event.clone()),
        meter_value: Set(o.meter_value),
        free_quota: Set(o.free_quota),
        spend_cap: Set(o.spend_cap),
        payment_reason: Set(o.payment_reason.clone()),
        success_url: Set(o.success_url.clone()),
        past_due_grace_days: Set(o.past_due_grace_days),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Overwrites the offer `o.id` of this tenant with `o`; false when the tenant has no such
/// offer (nothing changed).
pub async fn update_offer(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    o: &Offer,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = offer::Entity::update_many()
        .col_expr(offer::Column::Name, Expr::value(o.name.clone()))
        .col_expr(offer::Column::Kind, Expr::value(o.kind.as_str()))
        .col_expr(offer::Column::PriceId, Expr::value(o.price_id.clone()))
        .col_expr(offer::Column::Amount, Expr::value(o.amount))
        .col_expr(offer::Column::Currency, Expr::value(o.currency.clone()))
        .col_expr(offer::Column::Interval, Expr::value(o.interval.clone()))
        .col_expr(offer::Column::Calls, Expr::value(o.calls))
        .col_expr(
            offer::Column::MeterEvent,
            Expr::value(o.meter_event.clone()),
        )
        .col_expr(offer::Column::MeterValue, Expr::value(o.meter_value))
        .col_expr(offer::Column::FreeQuota, Expr::value(o.free_quota))
        .col_expr(offer::Column::SpendCap, Expr::value(o.spend_cap))
        .col_expr(
            offer::Column::PaymentReason,
            Expr::value(o.payment_reason.clone()),
        )
        .col_expr(
            offer::Column::SuccessUrl,
            Expr::value(o.success_url.clone()),
        )
        .col_expr(
            offer::Column::PastDueGraceDays,
            Expr::value(o.past_due_grace_days),
        )
        .col_expr(offer::Column::UpdatedAt, Expr::value(now))
        .filter(offer::Column::TenantId.eq(tenant.0))
        .filter(offer::Column::Id.eq(o.id.0))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn list_offers(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Vec<Offer>, DbErr> {
    Ok(offer::Entity::find()
        .filter(offer::Column::TenantId.eq(tenant.0))
        .order_by_asc(offer::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .filter_map(offer_from_row)
        .collect())
}

pub async fn find_offer(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<Offer>, DbErr> {
    Ok(offer::Entity::find_by_id(id)
        .filter(offer::Column::TenantId.eq(tenant.0))
        .one(db)
        .await?
        .and_then(offer_from_row))
}

pub async fn find_customer(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
    provider: &str,
) -> Result<Option<String>, DbErr> {
    Ok(customer::Entity::find()
        .filter(customer::Column::TenantId.eq(tenant.0))
        .filter(customer::Column::EndUserId.eq(user))
        .filter(customer::Column::Provider.eq(provider))
        .one(db)
        .await?
        .map(|c| c.provider_customer_id))
}

/// Records the customer; when another request recorded one first, keeps theirs.
pub async fn insert_customer(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
    provider: &str,
    customer_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = customer::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.0),
        end_user_id: Set(user),
        provider: Set(provider.to_owned()),
        provider_customer_id: Set(customer_id.to_owned()),
        created_at: Set(now),
    };
    insert_unless_exists(
        db,
        row,
        [
            customer::Column::TenantId,
            customer::Column::EndUserId,
            customer::Column::Provider,
        ],
    )
    .await?;
    Ok(())
}

pub async fn count_usage(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
    offer: Uuid,
    period: &str,
    kind: UsageKind,
) -> Result<i64, DbErr> {
    // A row may count several calls (the fast lane's groups): their sum is the count.
    let calls: Option<Option<i64>> = usage::Entity::find()
        .select_only()
        .column_as(usage::Column::Calls.sum(), "calls")
        .filter(usage::Column::TenantId.eq(tenant.0))
        .filter(usage::Column::EndUserId.eq(user))
        .filter(usage::Column::OfferId.eq(offer))
        .filter(usage::Column::Period.eq(period))
        .filter(usage::Column::Kind.eq(kind.as_str()))
        .into_tuple()
        .one(db)
        .await?;
    Ok(calls.flatten().unwrap_or(0))
}

#[expect(clippy::too_many_arguments, reason = "one row, one call")]
pub async fn insert_usage(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
    offer: Uuid,
    tool: &str,
    call_id: &str,
    entitlement: Option<Uuid>,
    kind: UsageKind,
    period: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::new_v4();
    usage::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant.0),
        end_user_id: Set(user),
        offer_id: Set(offer),
        tool_name: Set(tool.to_owned()),
        call_id: Set(call_id.to_owned()),
        entitlement_id: Set(entitlement),
        kind: Set(kind.as_str().to_owned()),
        status: Set(UsageStatus::Reserved.as_str().to_owned()),
        period: Set(period.to_owned()),
        calls: Set(1),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(id)
}

pub async fn commit_usage(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<bool, DbErr> {
    let result = usage::Entity::update_many()
        .col_expr(
            usage::Column::Status,
            Expr::value(UsageStatus::Committed.as_str()),
        )
        .filter(usage::Column::TenantId.eq(tenant.0))
        .filter(usage::Column::Id.eq(id))
        .filter(usage::Column::Status.eq(UsageStatus::Reserved.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn delete_reserved_usage(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<bool, DbErr> {
    let result = usage::Entity::delete_many()
        .filter(usage::Column::TenantId.eq(tenant.0))
        .filter(usage::Column::Id.eq(id))
        .filter(usage::Column::Status.eq(UsageStatus::Reserved.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Reservations older than `before`: (tenant, usage, entitlement whose call to give back).
pub async fn stale_reservations(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<Vec<(Uuid, Uuid, Option<Uuid>)>, DbErr> {
    Ok(usage::Entity::find()
        .filter(usage::Column::Status.eq(UsageStatus::Reserved.as_str()))
        .filter(usage::Column::CreatedAt.lt(before))
        .all(db)
        .await?
        .into_iter()
        .map(|u| {
            (
                u.tenant_id,
                u.id,
                u.entitlement_id
                    .filter(|_| UsageKind::parse(&u.kind) == Some(UsageKind::Paid)),
            )
        })
        .collect())
}

/// The entitlements usable at `now`: active, unlimited or with calls left, and within their
/// period. The gate and analytics' count of paying customers share this rule.
pub(crate) fn usable_entitlements(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(entitlement::Column::Status.eq(EntitlementStatus::Active.as_str()))
        .add(
            Condition::any()
                .add(entitlement::Column::CallsRemaining.is_null())
                .add(entitlement::Column::CallsRemaining.gt(0)),
        )
        .add(
            Condition::any()
                .add(entitlement::Column::PeriodEnd.is_null())
                .add(entitlement::Column::PeriodEnd.gt(now)),
        )
}

/// An active entitlement the user may use now: unlimited or with calls left, and within its
/// period.
pub async fn usable_entitlement(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
    offer: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Entitlement>, DbErr> {
    entitlement::Entity::find()
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::EndUserId.eq(user))
        .filter(entitlement::Column::OfferId.eq(offer))
        .filter(usable_entitlements(now))
        .order_by_asc(entitlement::Column::CreatedAt)
        .limit(1)
        .one(db)
        .await?
        .map(|row| entitlement_from_row(&row))
        .transpose()
}

/// Takes one call from an entitlement, if it has one left.
pub async fn consume_call(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<bool, DbErr> {
    let result = entitlement::Entity::update_many()
        .col_expr(
            entitlement::Column::CallsRemaining,
            Expr::col(entitlement::Column::CallsRemaining).sub(1),
        )
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Id.eq(id))
        .filter(entitlement::Column::CallsRemaining.gt(0))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn give_back_call(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<(), DbErr> {
    entitlement::Entity::update_many()
        .col_expr(
            entitlement::Column::CallsRemaining,
            Expr::col(entitlement::Column::CallsRemaining).add(1),
        )
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Id.eq(id))
        .filter(entitlement::Column::CallsRemaining.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

/// An entitlement to grant.
pub struct Grant {
    pub user: Uuid,
    pub offer: Uuid,
    pub source: String,
    pub calls: Option<i64>,
    pub period_end: Option<DateTime<Utc>>,
    pub event_created: i64,
    /// `Active`, or a tombstone (`Revoked`) when the source ended before it was paid for.
    pub status: EntitlementStatus,
}

/// Grants once per source: a second grant from the same source changes nothing.
pub async fn grant(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    g: &Grant,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row = entitlement::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.0),
        end_user_id: Set(g.user),
        offer_id: Set(g.offer),
        source: Set(g.source.clone()),
        status: Set(g.status.as_str().to_owned()),
        calls_remaining: Set(g.calls),
        period_end: Set(g.period_end),
        last_event_at: Set(g.event_created),
        confirmed_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    insert_unless_exists(
        db,
        row,
        [entitlement::Column::TenantId, entitlement::Column::Source],
    )
    .await
}

pub async fn find_entitlement_by_source(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    source: &str,
) -> Result<Option<Entitlement>, DbErr> {
    entitlement::Entity::find()
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.eq(source))
        .one(db)
        .await?
        .map(|row| entitlement_from_row(&row))
        .transpose()
}

/// Moves an entitlement from the lifecycle state `from` (as read in this transaction) to
/// `to`, by compare-and-set on its status and `last_event_at`: when another transaction moved
/// it in between, nothing is written and `RecordNotUpdated` is returned (the webhook answers
/// 500 and Stripe delivers the event again, to be applied on the new state).
pub async fn set_lifecycle(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    source: &str,
    from: (EntitlementStatus, i64),
    to: (EntitlementStatus, Option<DateTime<Utc>>, i64),
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (status, period_end, event_created) = to;
    let result = entitlement::Entity::update_many()
        .col_expr(entitlement::Column::Status, Expr::value(status.as_str()))
        .col_expr(entitlement::Column::PeriodEnd, Expr::value(period_end))
        .col_expr(entitlement::Column::LastEventAt, Expr::value(event_created))
        .col_expr(entitlement::Column::UpdatedAt, Expr::value(now))
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.eq(source))
        .filter(entitlement::Column::Status.eq(from.0.as_str()))
        .filter(entitlement::Column::LastEventAt.eq(from.1))
        .exec(db)
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(DbErr::RecordNotUpdated)
    }
}

/// How many of the tenant's entitlements come from a Stripe subscription that may still be
/// charging its customer: granted by a `subscription:<id>` that is not the sandbox's
/// (`sbx_sub_…`) and not ended. Suspended ones count: Stripe may resume them.
pub async fn live_provider_subscriptions(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<u64, DbErr> {
    entitlement::Entity::find()
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.starts_with("subscription:"))
        .filter(entitlement::Column::Source.not_like("subscription:sbx_sub_%"))
        .filter(entitlement::Column::Status.ne(EntitlementStatus::Revoked.as_str()))
        .count(db)
        .await
}

/// The provider subscription ids behind the entitlements [`live_provider_subscriptions`]
/// counts.
pub async fn list_live_provider_subscriptions(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Vec<String>, DbErr> {
    Ok(entitlement::Entity::find()
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.starts_with("subscription:"))
        .filter(entitlement::Column::Source.not_like("subscription:sbx_sub_%"))
        .filter(entitlement::Column::Status.ne(EntitlementStatus::Revoked.as_str()))
        .order_by_asc(entitlement::Column::Source)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| row.source.strip_prefix("subscription:").map(str::to_owned))
        .collect())
}

/// Ends the entitlement of a subscription cancelled at the provider before its tenant's
/// deletion, and records the cancellation in the audit log, in the caller's transaction.
pub async fn end_subscription_for_deletion(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    provider: &str,
    subscription: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    entitlement::Entity::update_many()
        .col_expr(
            entitlement::Column::Status,
            Expr::value(EntitlementStatus::Revoked.as_str()),
        )
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.eq(format!("subscription:{subscription}")))
        .exec(db)
        .await?;
    insert_provider_audit(
        db,
        tenant,
        provider,
        subscription,
        "subscription.cancelled_for_deletion",
        Some(subscription),
        now,
    )
    .await
}

/// The other active entitlements of `user` for `offer` that are untouched: a subscription, or
/// a purchase with all its `calls` left. A new payment while one exists is a double payment.
pub async fn unused_entitlements(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
    offer: Uuid,
    calls: Option<i64>,
    except_source: &str,
) -> Result<Vec<String>, DbErr> {
    let mut query = entitlement::Entity::find()
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::EndUserId.eq(user))
        .filter(entitlement::Column::OfferId.eq(offer))
        .filter(entitlement::Column::Status.eq(EntitlementStatus::Active.as_str()))
        .filter(entitlement::Column::Source.ne(except_source));
    query = match calls {
        Some(calls) => query.filter(entitlement::Column::CallsRemaining.eq(calls)),
        None => query.filter(entitlement::Column::CallsRemaining.is_null()),
    };
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.source)
        .collect())
}

/// Records a webhook event id; false when it was recorded before (a duplicate delivery).
pub async fn record_event(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row = provider_event::ActiveModel {
        tenant_id: Set(tenant.0),
        event_id: Set(id.to_owned()),
        event_type: Set(kind.to_owned()),
        created_at: Set(now),
    };
    insert_unless_exists(
        db,
        row,
        [
            provider_event::Column::TenantId,
            provider_event::Column::EventId,
        ],
    )
    .await
}

/// Whether the event `id` was applied already (a read outside any transaction: a hint that
/// spares a provider call, never the guard; `record_event` is).
pub async fn event_recorded(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: &str,
) -> Result<bool, DbErr> {
    Ok(provider_event::Entity::find()
        .filter(provider_event::Column::TenantId.eq(tenant.0))
        .filter(provider_event::Column::EventId.eq(id))
        .count(db)
        .await?
        > 0)
}

/// Records in the audit log, in the caller's transaction, a payment-provider event that changed
/// money or access (a payment, a refund, a dispute, a subscription change): the actor is the
/// provider (`stripe`, or `sandbox` for a test payment), the action `{provider}.{kind}`, the
/// target the event id.
pub async fn insert_provider_audit(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    provider: &str,
    event_id: &str,
    kind: &str,
    object_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(Some(tenant.0)),
        operator_id: Set(None),
        actor: Set(provider.to_owned()),
        action: Set(format!("{provider}.{kind}").chars().take(60).collect()),
        target: Set(event_id.chars().take(300).collect()),
        detail: Set(
            serde_json::json!({"event": event_id, "type": kind, "object": object_id}).to_string(),
        ),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Finished paid calls that needed no reservation (`fast.rs`: an entitlement that counts
/// nothing) of one user on one tool in one month, counted: one row records them.
#[derive(Clone, Debug)]
pub struct UsedCalls {
    pub user: Uuid,
    pub offer: Uuid,
    pub entitlement: Uuid,
    pub period: std::sync::Arc<str>,
    pub tool: String,
    pub calls: u32,
    /// The first of them.
    pub at: DateTime<Utc>,
}

/// Records counted paid calls of `tenant` that needed no reservation: one committed usage row
/// per element, with its number of calls and a call id of its own, in one statement.
pub async fn insert_used_calls(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    rows: &[UsedCalls],
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    usage::Entity::insert_many(rows.iter().map(|row| usage::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(tenant.0),
        end_user_id: Set(row.user),
        offer_id: Set(row.offer),
        tool_name: Set(row.tool.clone()),
        call_id: Set(format!("calls_{}", Uuid::new_v4().simple())),
        entitlement_id: Set(Some(row.entitlement)),
        kind: Set(UsageKind::Paid.as_str().into()),
        status: Set(UsageStatus::Committed.as_str().into()),
        period: Set(row.period.to_string()),
        calls: Set(i32::try_from(row.calls).unwrap_or(i32::MAX)),
        created_at: Set(row.at),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}
