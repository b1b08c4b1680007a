//! Double payments: the ones flagged in the audit log (`<provider>.checkout.double_payment`,
//! target the second session) and the refunds Tollgate made of them
//! (`<provider>.checkout.duplicate_refunded`), recorded once under a provider-event key.

use super::super::records::Purchase;
use super::{PurchaseKey, find_purchase_by, insert_provider_audit, record_event};
use crate::entity::audit_log;
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

/// The audit action's suffix of a flagged double payment.
const FLAGGED: &str = ".checkout.double_payment";
/// The audit action's suffix of a refund Tollgate made of one.
const REFUNDED: &str = "checkout.duplicate_refunded";

/// A flagged double payment, with its purchase and refund.
#[derive(Clone, Debug)]
pub struct FlaggedPayment {
    /// The second paid session.
    pub session_id: String,
    /// When it was flagged.
    pub flagged_at: DateTime<Utc>,
    /// Its purchase (gone only if the row was removed).
    pub purchase: Option<Purchase>,
    /// When Tollgate refunded it, if it did.
    pub refunded_at: Option<DateTime<Utc>>,
}

/// The tenant's flagged double payments, newest first.
pub async fn list_double_payments(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Vec<FlaggedPayment>, DbErr> {
    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant.0))
        .filter(audit_log::Column::Action.ends_with(FLAGGED))
        .order_by_desc(audit_log::Column::CreatedAt)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let purchase = find_purchase_by(db, tenant, PurchaseKey::Session(&row.target)).await?;
        let refunded_at = duplicate_refunded(db, tenant, &row.target).await?;
        out.push(FlaggedPayment {
            session_id: row.target,
            flagged_at: row.created_at,
            purchase,
            refunded_at,
        });
    }
    Ok(out)
}

/// The double payment of `session`, if it was flagged as one.
pub async fn find_double_payment(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    session: &str,
) -> Result<Option<FlaggedPayment>, DbErr> {
    let Some(row) = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant.0))
        .filter(audit_log::Column::Action.ends_with(FLAGGED))
        .filter(audit_log::Column::Target.eq(session))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(FlaggedPayment {
        purchase: find_purchase_by(db, tenant, PurchaseKey::Session(session)).await?,
        refunded_at: duplicate_refunded(db, tenant, session).await?,
        session_id: row.target,
        flagged_at: row.created_at,
    }))
}

/// When the double payment of `session` was refunded by Tollgate, if it was.
async fn duplicate_refunded(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    session: &str,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant.0))
        .filter(audit_log::Column::Action.ends_with(REFUNDED))
        .filter(audit_log::Column::Target.eq(session))
        .one(db)
        .await?
        .map(|row| row.created_at))
}

/// Records, in the caller's transaction, that the double payment of `session` was refunded
/// (`refund` is the provider's id): once, whoever records it first (the provider-event key
/// `duplicate_refund:<session>` is unique). False when it was recorded already.
pub async fn record_duplicate_refund(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    provider: &str,
    session: &str,
    refund: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let key = format!("duplicate_refund:{session}");
    if !record_event(db, tenant, &key, "duplicate_refund", now).await? {
        return Ok(false);
    }
    insert_provider_audit(db, tenant, provider, session, REFUNDED, Some(refund), now).await?;
    Ok(true)
}
