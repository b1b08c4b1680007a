//! Double payments: the list the operator sees (a second paid session for a plan the user
//! already held untouched, flagged at fulfilment by `checkout.rs`), and their automatic
//! refund when the tenant asks for it (`TenantSettings::refund_duplicate_payments`).
//!
//! The refund goes to Stripe after the fulfilment's transaction committed, with an
//! idempotency key derived from the session (`tg-dup-refund-<session>`), so the same payment
//! is refunded once however many times, and however concurrently, the completion is
//! delivered; the refund is recorded once (a provider-event key and an audit row, in one
//! transaction). A refund that failed for a passing reason fails the delivery (500), so
//! Stripe's redelivery tries again; a refusal is logged and left to the operator.

use super::store;
use super::{BillingError, BillingService, ProviderError, PurchaseStatus};
use crate::tenant::{Tenant, TenantId};
use chrono::{DateTime, Utc};

/// A flagged double payment, as the operator sees it.
#[derive(Clone, Debug)]
pub struct DoublePayment {
    /// The second paid session.
    pub session_id: String,
    /// Its purchase.
    pub purchase_id: Option<uuid::Uuid>,
    /// The plan's name.
    pub offer: String,
    /// The plan's price as people read it.
    pub amount_text: String,
    /// When it was flagged (the second payment's fulfilment).
    pub paid_at: DateTime<Utc>,
    /// When it was refunded: by Tollgate, or fully at Stripe (the purchase is refunded).
    pub refunded: bool,
    /// When Tollgate refunded it, if it did.
    pub refunded_at: Option<DateTime<Utc>>,
}

impl BillingService {
    /// The tenant's flagged double payments, newest first.
    pub async fn double_payments(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<DoublePayment>, BillingError> {
        let offers = self.offers(tenant).await?;
        let flagged = store::list_double_payments(&self.db, tenant).await?;
        Ok(flagged
            .into_iter()
            .map(|f| {
                let offer = f
                    .purchase
                    .as_ref()
                    .and_then(|p| offers.iter().find(|o| o.id.0 == p.offer_id));
                DoublePayment {
                    purchase_id: f.purchase.as_ref().map(|p| p.id),
                    offer: offer.map(|o| o.name.clone()).unwrap_or_default(),
                    amount_text: offer.map(super::Offer::price_text).unwrap_or_default(),
                    paid_at: f.flagged_at,
                    refunded: f.refunded_at.is_some()
                        || f.purchase
                            .as_ref()
                            .is_some_and(|p| p.status == PurchaseStatus::Refunded),
                    refunded_at: f.refunded_at,
                    session_id: f.session_id,
                }
            })
            .collect())
    }

    /// Refunds the payment of `session` when it was flagged as a double payment, the tenant
    /// refunds those automatically, and it was not refunded yet. A subscription's second
    /// payment is flagged only: ending the second subscription is the operator's choice.
    pub(super) async fn refund_if_duplicate(
        &self,
        tenant: &Tenant,
        session: &str,
    ) -> Result<(), BillingError> {
        if !tenant.settings.refund_duplicate_payments {
            return Ok(());
        }
        let Some(store::FlaggedPayment {
            purchase: Some(purchase),
            refunded_at: None,
            ..
        }) = store::find_double_payment(&self.db, tenant.id, session).await?
        else {
            return Ok(());
        };
        let Some(payment_intent) = purchase.payment_intent.as_deref() else {
            tracing::info!(tenant.slug = %tenant.slug, session, "double payment of a subscription: flagged, not refunded automatically");
            return Ok(());
        };
        let provider = self.provider_for(tenant)?;
        let key = format!("tg-dup-refund-{session}");
        let refund = tokio::time::timeout(
            self.provider_deadline,
            provider.refund_payment(payment_intent, &key),
        )
        .await
        .unwrap_or_else(|_| {
            Err(ProviderError::Unavailable(format!(
                "no answer within {} ms",
                self.provider_deadline.as_millis()
            )))
        });
        let refund = match refund {
            Ok(refund) => refund,
            Err(ProviderError::Unsupported) => return Ok(()),
            Err(error) if !error.is_transient() => {
                tracing::warn!(tenant.slug = %tenant.slug, session, %error, "double payment not refunded: the provider refused; left to the operator");
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        };
        let txn = crate::db::begin_write(&self.db).await?;
        let recorded = store::record_duplicate_refund(
            &txn,
            tenant.id,
            &purchase.provider,
            session,
            &refund,
            self.clock.now(),
        )
        .await?;
        txn.commit().await?;
        if recorded {
            tracing::info!(tenant.slug = %tenant.slug, session, refund, "double payment refunded");
        }
        Ok(())
    }
}
