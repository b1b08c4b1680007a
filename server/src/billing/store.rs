//! Queries of billing. Every function takes the tenant first and filters by it.

use super::{Offer, OfferId, OfferKind};
use crate::entity::{
    audit_log, customer, entitlement, meter_outbox, offer, provider_event, purchase, usage,
};
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
    kind: &str,
) -> Result<i64, DbErr> {
    let n = usage::Entity::find()
        .filter(usage::Column::TenantId.eq(tenant.0))
        .filter(usage::Column::EndUserId.eq(user))
        .filter(usage::Column::OfferId.eq(offer))
        .filter(usage::Column::Period.eq(period))
        .filter(usage::Column::Kind.eq(kind))
        .count(db)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
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
    kind: &str,
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
        kind: Set(kind.to_owned()),
        status: Set("reserved".into()),
        period: Set(period.to_owned()),
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
        .col_expr(usage::Column::Status, Expr::value("committed"))
        .filter(usage::Column::TenantId.eq(tenant.0))
        .filter(usage::Column::Id.eq(id))
        .filter(usage::Column::Status.eq("reserved"))
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
        .filter(usage::Column::Status.eq("reserved"))
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
        .filter(usage::Column::Status.eq("reserved"))
        .filter(usage::Column::CreatedAt.lt(before))
        .all(db)
        .await?
        .into_iter()
        .map(|u| {
            (
                u.tenant_id,
                u.id,
                u.entitlement_id.filter(|_| u.kind == "paid"),
            )
        })
        .collect())
}

/// An active entitlement the user may use now: unlimited or with calls left, and within its
/// period.
pub async fn usable_entitlement(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
    offer: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<entitlement::Model>, DbErr> {
    entitlement::Entity::find()
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::EndUserId.eq(user))
        .filter(entitlement::Column::OfferId.eq(offer))
        .filter(entitlement::Column::Status.eq("active"))
        .filter(
            Condition::any()
                .add(entitlement::Column::CallsRemaining.is_null())
                .add(entitlement::Column::CallsRemaining.gt(0)),
        )
        .filter(
            Condition::any()
                .add(entitlement::Column::PeriodEnd.is_null())
                .add(entitlement::Column::PeriodEnd.gt(now)),
        )
        .order_by_asc(entitlement::Column::CreatedAt)
        .limit(1)
        .one(db)
        .await
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

/// A new purchase.
pub struct NewPurchase {
    pub id: Uuid,
    pub user: Uuid,
    pub offer: Uuid,
    pub provider: String,
    pub session_id: String,
    pub checkout_url: String,
    pub open_key: String,
    pub idempotency_key: String,
    pub expires_at: DateTime<Utc>,
}

/// Records a purchase; a concurrent request that recorded the same session (the provider
/// replayed it for the same idempotency key) already did the work.
pub async fn insert_purchase(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    p: &NewPurchase,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = purchase::ActiveModel {
        id: Set(p.id),
        tenant_id: Set(tenant.0),
        end_user_id: Set(p.user),
        offer_id: Set(p.offer),
        provider: Set(p.provider.clone()),
        session_id: Set(p.session_id.clone()),
        checkout_url: Set(p.checkout_url.clone()),
        status: Set("open".into()),
        open_key: Set(Some(p.open_key.clone())),
        idempotency_key: Set(p.idempotency_key.clone()),
        payment_intent: Set(None),
        subscription_id: Set(None),
        expires_at: Set(p.expires_at),
        created_at: Set(now),
        updated_at: Set(now),
    };
    insert_unless_exists(
        db,
        row,
        [purchase::Column::TenantId, purchase::Column::OpenKey],
    )
    .await?;
    Ok(())
}

pub async fn find_open_purchase(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    open_key: &str,
) -> Result<Option<purchase::Model>, DbErr> {
    purchase::Entity::find()
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(purchase::Column::OpenKey.eq(open_key))
        .one(db)
        .await
}

/// This user's closed purchases of this offer: the attempt number of the next checkout. An open
/// purchase does not count, so concurrent callers agree on the number while one is open.
pub async fn count_closed_purchases(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
    offer: Uuid,
) -> Result<u64, DbErr> {
    purchase::Entity::find()
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(purchase::Column::EndUserId.eq(user))
        .filter(purchase::Column::OfferId.eq(offer))
        .filter(purchase::Column::OpenKey.is_null())
        .count(db)
        .await
}

pub async fn find_purchase(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<purchase::Model>, DbErr> {
    purchase::Entity::find_by_id(id)
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .one(db)
        .await
}

/// What a provider event names a purchase by.
pub enum PurchaseKey<'a> {
    /// The checkout session id.
    Session(&'a str),
    /// The subscription id.
    Subscription(&'a str),
    /// The payment intent id.
    PaymentIntent(&'a str),
}

/// The tenant's purchase with this session, subscription or payment intent id.
pub async fn find_purchase_by(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    key: PurchaseKey<'_>,
) -> Result<Option<purchase::Model>, DbErr> {
    let (column, value) = match key {
        PurchaseKey::Session(id) => (purchase::Column::SessionId, id),
        PurchaseKey::Subscription(id) => (purchase::Column::SubscriptionId, id),
        PurchaseKey::PaymentIntent(id) => (purchase::Column::PaymentIntent, id),
    };
    purchase::Entity::find()
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(column.eq(value))
        .one(db)
        .await
}

/// Sets a purchase's status; `close` frees its open slot so a new checkout can be made.
pub async fn set_purchase_status(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
    status: &str,
    close: bool,
) -> Result<(), DbErr> {
    let mut update = purchase::Entity::update_many()
        .col_expr(purchase::Column::Status, Expr::value(status))
        .col_expr(purchase::Column::UpdatedAt, Expr::value(Utc::now()));
    if close {
        update = update.col_expr(
            purchase::Column::OpenKey,
            Expr::value(Option::<String>::None),
        );
    }
    update
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(purchase::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn mark_paid(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
    payment_intent: Option<&str>,
    subscription: Option<&str>,
) -> Result<(), DbErr> {
    purchase::Entity::update_many()
        .col_expr(purchase::Column::Status, Expr::value("paid"))
        .col_expr(
            purchase::Column::OpenKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            purchase::Column::PaymentIntent,
            Expr::value(payment_intent.map(str::to_owned)),
        )
        .col_expr(
            purchase::Column::SubscriptionId,
            Expr::value(subscription.map(str::to_owned)),
        )
        .col_expr(purchase::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(purchase::Column::Id.eq(id))
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
        status: Set("active".into()),
        calls_remaining: Set(g.calls),
        period_end: Set(g.period_end),
        last_event_at: Set(g.event_created),
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
) -> Result<Option<entitlement::Model>, DbErr> {
    entitlement::Entity::find()
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.eq(source))
        .one(db)
        .await
}

/// Applies a subscription state, unless a newer event was applied already.
pub async fn update_subscription_entitlement(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    source: &str,
    active: bool,
    period_end: Option<DateTime<Utc>>,
    event_created: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut update = entitlement::Entity::update_many()
        .col_expr(
            entitlement::Column::Status,
            Expr::value(if active { "active" } else { "revoked" }),
        )
        .col_expr(entitlement::Column::LastEventAt, Expr::value(event_created))
        .col_expr(entitlement::Column::UpdatedAt, Expr::value(now));
    if let Some(end) = period_end {
        update = update.col_expr(entitlement::Column::PeriodEnd, Expr::value(end));
    }
    update
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.eq(source))
        .filter(entitlement::Column::LastEventAt.lte(event_created))
        // A revoked subscription (deleted, refunded) is never brought back by an older state.
        .filter(
            Condition::any()
                .add(entitlement::Column::Status.eq("active"))
                .add(entitlement::Column::LastEventAt.lt(event_created)),
        )
        .exec(db)
        .await?;
    Ok(())
}

pub async fn revoke_entitlement(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    source: &str,
    event_created: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    entitlement::Entity::update_many()
        .col_expr(entitlement::Column::Status, Expr::value("revoked"))
        .col_expr(entitlement::Column::LastEventAt, Expr::value(event_created))
        .col_expr(entitlement::Column::UpdatedAt, Expr::value(now))
        .filter(entitlement::Column::TenantId.eq(tenant.0))
        .filter(entitlement::Column::Source.eq(source))
        .exec(db)
        .await?;
    Ok(())
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
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
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
) -> Result<Vec<meter_outbox::Model>, DbErr> {
    meter_outbox::Entity::find()
        .filter(meter_outbox::Column::Status.eq("pending"))
        .filter(meter_outbox::Column::NextAttemptAt.lte(now))
        .filter(meter_outbox::Column::TenantId.is_not_in(busy.iter().copied()))
        .order_by_asc(meter_outbox::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await
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
        .filter(meter_outbox::Column::Status.eq("pending"))
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
        .filter(meter_outbox::Column::Status.eq("pending"))
        .filter(meter_outbox::Column::TenantId.is_not_in(busy.iter().copied()))
        .order_by_asc(meter_outbox::Column::NextAttemptAt)
        .one(db)
        .await?
        .map(|m| m.next_attempt_at))
}

pub async fn mark_meter_event(
    db: &impl ConnectionTrait,
    id: Uuid,
    status: &str,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    meter_outbox::Entity::update_many()
        .col_expr(meter_outbox::Column::Status, Expr::value(status))
        .col_expr(meter_outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(
            meter_outbox::Column::NextAttemptAt,
            Expr::value(next_attempt_at),
        )
        .col_expr(meter_outbox::Column::LastError, Expr::value(error))
        .col_expr(
            meter_outbox::Column::SentAt,
            Expr::value((status == "sent").then_some(now)),
        )
        .filter(meter_outbox::Column::Id.eq(id))
        // Only a pending event changes: a sender that outlived its process (or lost a race)
        // never turns a sent event back into a pending one.
        .filter(meter_outbox::Column::Status.eq("pending"))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn count_pending_meter_events(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    meter_outbox::Entity::find()
        .filter(meter_outbox::Column::Status.eq("pending"))
        .count(db)
        .await
}

/// The tenant's end users, newest first.
pub async fn list_end_users(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Vec<crate::entity::end_user::Model>, DbErr> {
    use crate::entity::end_user;
    end_user::Entity::find()
        .filter(end_user::Column::TenantId.eq(tenant.0))
        .order_by_desc(end_user::Column::CreatedAt)
        .order_by_asc(end_user::Column::Id)
        .all(db)
        .await
}

pub async fn find_end_user(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<crate::entity::end_user::Model>, DbErr> {
    use crate::entity::end_user;
    end_user::Entity::find_by_id(id)
        .filter(end_user::Column::TenantId.eq(tenant.0))
        .one(db)
        .await
}

/// The tenant's entitlements (of one user, or of all), oldest first.
pub async fn list_entitlements(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Option<Uuid>,
) -> Result<Vec<entitlement::Model>, DbErr> {
    let mut query = entitlement::Entity::find().filter(entitlement::Column::TenantId.eq(tenant.0));
    if let Some(user) = user {
        query = query.filter(entitlement::Column::EndUserId.eq(user));
    }
    query
        .order_by_asc(entitlement::Column::CreatedAt)
        .all(db)
        .await
}

/// Billed calls (paid or metered, committed) in `period`, per end user (of one user, or of
/// all).
pub async fn count_billed_usage_per_user(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Option<Uuid>,
    period: &str,
) -> Result<Vec<(Uuid, i64)>, DbErr> {
    let mut query = usage::Entity::find()
        .select_only()
        .column(usage::Column::EndUserId)
        .column_as(usage::Column::Id.count(), "calls")
        .filter(usage::Column::TenantId.eq(tenant.0))
        .filter(usage::Column::Period.eq(period))
        .filter(usage::Column::Kind.is_in(["paid", "metered"]))
        .filter(usage::Column::Status.eq("committed"));
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
) -> Result<Vec<purchase::Model>, DbErr> {
    purchase::Entity::find()
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(purchase::Column::EndUserId.eq(user))
        .order_by_desc(purchase::Column::CreatedAt)
        .order_by_desc(purchase::Column::Id)
        .all(db)
        .await
}

/// An end user's committed calls (free quota included) per (tool, period), newest period
/// first.
pub async fn usage_per_tool(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    user: Uuid,
) -> Result<Vec<(String, String, i64)>, DbErr> {
    usage::Entity::find()
        .select_only()
        .column(usage::Column::ToolName)
        .column(usage::Column::Period)
        .column_as(usage::Column::Id.count(), "calls")
        .filter(usage::Column::TenantId.eq(tenant.0))
        .filter(usage::Column::EndUserId.eq(user))
        .filter(usage::Column::Status.eq("committed"))
        .group_by(usage::Column::ToolName)
        .group_by(usage::Column::Period)
        .order_by_desc(usage::Column::Period)
        .order_by_asc(usage::Column::ToolName)
        .into_tuple()
        .all(db)
        .await
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

/// A finished paid call that needed no reservation (`fast.rs`: an entitlement that counts
/// nothing), to record.
#[derive(Clone, Debug)]
pub struct UsedCall {
    pub tenant: TenantId,
    pub user: Uuid,
    pub offer: Uuid,
    pub entitlement: Uuid,
    pub call_id: String,
    pub tool: String,
    pub period: String,
    pub at: DateTime<Utc>,
}

/// Records finished paid calls that needed no reservation, each under its own tenant: their
/// usage rows, committed at once, in one statement.
pub async fn insert_used_calls(db: &impl ConnectionTrait, calls: &[UsedCall]) -> Result<(), DbErr> {
    if calls.is_empty() {
        return Ok(());
    }
    usage::Entity::insert_many(calls.iter().map(|call| usage::ActiveModel {
        id: Set(Uuid::new_v4()),
        tenant_id: Set(call.tenant.0),
        end_user_id: Set(call.user),
        offer_id: Set(call.offer),
        tool_name: Set(call.tool.clone()),
        call_id: Set(call.call_id.clone()),
        entitlement_id: Set(Some(call.entitlement)),
        kind: Set("paid".into()),
        status: Set("committed".into()),
        period: Set(call.period.clone()),
        created_at: Set(call.at),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}
