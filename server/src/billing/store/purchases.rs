//! Queries of purchases: one per checkout, found by its id, its open slot (one open purchase
//! per user and offer), or the provider's session, subscription or payment intent id.

use super::super::records::{Purchase, PurchaseStatus};
use super::{insert_unless_exists, unknown};
use crate::entity::purchase;
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, Set};
use uuid::Uuid;

pub(super) fn purchase_from_row(row: purchase::Model) -> Result<Purchase, DbErr> {
    Ok(Purchase {
        status: PurchaseStatus::parse(&row.status)
            .ok_or_else(|| unknown("purchase status", &row.status))?,
        id: row.id,
        end_user_id: row.end_user_id,
        offer_id: row.offer_id,
        provider: row.provider,
        session_id: row.session_id,
        checkout_url: row.checkout_url,
        subscription_id: row.subscription_id,
        payment_intent: row.payment_intent,
        expires_at: row.expires_at,
        created_at: row.created_at,
    })
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
        status: Set(PurchaseStatus::Open.as_str().to_owned()),
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
) -> Result<Option<Purchase>, DbErr> {
    purchase::Entity::find()
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(purchase::Column::OpenKey.eq(open_key))
        .one(db)
        .await?
        .map(purchase_from_row)
        .transpose()
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
) -> Result<Option<Purchase>, DbErr> {
    purchase::Entity::find_by_id(id)
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .one(db)
        .await?
        .map(purchase_from_row)
        .transpose()
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
) -> Result<Option<Purchase>, DbErr> {
    let (column, value) = match key {
        PurchaseKey::Session(id) => (purchase::Column::SessionId, id),
        PurchaseKey::Subscription(id) => (purchase::Column::SubscriptionId, id),
        PurchaseKey::PaymentIntent(id) => (purchase::Column::PaymentIntent, id),
    };
    purchase::Entity::find()
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(column.eq(value))
        .one(db)
        .await?
        .map(purchase_from_row)
        .transpose()
}

/// Sets a purchase's status; `close` frees its open slot so a new checkout can be made.
pub async fn set_purchase_status(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
    status: PurchaseStatus,
    close: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut update = purchase::Entity::update_many()
        .col_expr(purchase::Column::Status, Expr::value(status.as_str()))
        .col_expr(purchase::Column::UpdatedAt, Expr::value(now));
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
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    purchase::Entity::update_many()
        .col_expr(
            purchase::Column::Status,
            Expr::value(PurchaseStatus::Paid.as_str()),
        )
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
        .col_expr(purchase::Column::UpdatedAt, Expr::value(now))
        .filter(purchase::Column::TenantId.eq(tenant.0))
        .filter(purchase::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
