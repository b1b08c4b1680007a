//! What a Stripe event does to purchases and entitlements. The delivery is verified and read
//! into a [`StripeEvent`] by `webhook.rs` (Stripe's wire format lives there); here it is
//! applied in one transaction with its event id (a duplicate delivery changes nothing) and
//! its audit entry.

use super::store::{self, PurchaseKey};
use super::webhook::{self, StripeChange, StripeEvent, SubscriptionStatus};
use super::{
    BillingError, BillingService, PurchaseStatus, WebhookError, WebhookOutcome,
    webhook_secret_context,
};
use crate::tenant::Tenant;

impl BillingService {
    /// Verifies and applies a Stripe webhook delivery for `tenant` (chosen by the URL).
    pub async fn handle_stripe_webhook(
        &self,
        tenant: &Tenant,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<WebhookOutcome, WebhookError> {
        let connection = tenant
            .settings
            .stripe
            .as_ref()
            .ok_or(WebhookError::NotConnected)?;
        let secrets: Vec<String> = connection
            .webhook_secrets_sealed
            .iter()
            .filter_map(|s| self.key.open(s, &webhook_secret_context(tenant.id)).ok())
            .map(|s| s.expose().to_owned())
            .collect();
        webhook::verify(body, signature, &secrets, self.clock.now().timestamp())
            .map_err(WebhookError::Signature)?;
        let event = webhook::parse_event(body).ok_or(WebhookError::Malformed)?;
        let (id, kind) = (event.id.as_str(), event.kind.as_str());
        if event.livemode && connection.key_hint.contains("_test_") {
            tracing::warn!(tenant.slug = %tenant.slug, event = id, "live-mode event at a test-mode tenant: ignored");
            return Ok(WebhookOutcome::Ignored);
        }
        let txn = crate::db::begin_write(&self.db)
            .await
            .map_err(BillingError::from)?;
        if !store::record_event(&txn, tenant.id, id, kind, self.clock.now())
            .await
            .map_err(BillingError::from)?
        {
            txn.rollback().await.map_err(BillingError::from)?;
            return Ok(WebhookOutcome::Duplicate);
        }
        let applied = self.apply_event(&txn, tenant, &event).await?;
        if applied {
            // Payments, refunds, disputes and subscription changes are part of the record,
            // written once with the event id that makes them idempotent.
            store::insert_provider_audit(
                &txn,
                tenant.id,
                "stripe",
                id,
                kind,
                event.object_id.as_deref(),
                self.clock.now(),
            )
            .await
            .map_err(BillingError::from)?;
        }
        txn.commit().await.map_err(BillingError::from)?;
        tracing::info!(tenant.slug = %tenant.slug, event.id = id, event.kind = kind, applied, "stripe webhook");
        Ok(if applied {
            WebhookOutcome::Applied
        } else {
            WebhookOutcome::Ignored
        })
    }

    /// Applies one event in `txn`; true when it concerned something of Tollgate's (it is then
    /// audited).
    async fn apply_event(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        event: &StripeEvent,
    ) -> Result<bool, BillingError> {
        let created = event.created;
        match &event.change {
            StripeChange::CheckoutCompleted(session) => {
                self.fulfil_in(txn, tenant, session, created).await
            }
            StripeChange::CheckoutFailed(session) | StripeChange::CheckoutExpired(session) => {
                let Some(purchase) =
                    store::find_purchase_by(txn, tenant.id, PurchaseKey::Session(session)).await?
                else {
                    return Ok(false);
                };
                let status = if matches!(event.change, StripeChange::CheckoutExpired(_)) {
                    PurchaseStatus::Expired
                } else {
                    PurchaseStatus::Failed
                };
                if purchase.status != PurchaseStatus::Paid {
                    store::set_purchase_status(
                        txn,
                        tenant.id,
                        purchase.id,
                        status,
                        true,
                        self.clock.now(),
                    )
                    .await?;
                }
                Ok(true)
            }
            StripeChange::Subscription(subscription) => {
                let active = !subscription.deleted
                    && matches!(
                        subscription.status,
                        SubscriptionStatus::Active
                            | SubscriptionStatus::Trialing
                            | SubscriptionStatus::PastDue
                    );
                let source = format!("subscription:{}", subscription.id);
                if store::find_entitlement_by_source(txn, tenant.id, &source)
                    .await?
                    .is_none()
                {
                    // Subscription events may come before the checkout's: find the buyer from
                    // the purchase the subscription carries in its metadata.
                    let purchase = match subscription.purchase {
                        Some(id) => store::find_purchase(txn, tenant.id, id).await?,
                        None => {
                            store::find_purchase_by(
                                txn,
                                tenant.id,
                                PurchaseKey::Subscription(&subscription.id),
                            )
                            .await?
                        }
                    };
                    let Some(purchase) = purchase else {
                        return Ok(false);
                    };
                    if !active {
                        return Ok(true);
                    }
                    store::grant(
                        txn,
                        tenant.id,
                        &store::Grant {
                            user: purchase.end_user_id,
                            offer: purchase.offer_id,
                            source: source.clone(),
                            calls: None,
                            period_end: subscription.period_end,
                            event_created: created,
                        },
                        self.clock.now(),
                    )
                    .await?;
                    return Ok(true);
                }
                store::update_subscription_entitlement(
                    txn,
                    tenant.id,
                    &source,
                    active,
                    subscription.period_end,
                    created,
                    self.clock.now(),
                )
                .await?;
                Ok(true)
            }
            StripeChange::InvoicePaid {
                subscription,
                period_end,
            } => {
                store::update_subscription_entitlement(
                    txn,
                    tenant.id,
                    &format!("subscription:{subscription}"),
                    true,
                    *period_end,
                    created,
                    self.clock.now(),
                )
                .await?;
                Ok(true)
            }
            StripeChange::InvoicePaymentFailed => {
                // Access continues until the paid period ends; Stripe's retries and the
                // subscription's own status events decide what happens next.
                Ok(true)
            }
            StripeChange::PaymentReversed(payment_intent) => {
                let Some(purchase) = store::find_purchase_by(
                    txn,
                    tenant.id,
                    PurchaseKey::PaymentIntent(payment_intent),
                )
                .await?
                else {
                    return Ok(false);
                };
                let source = match &purchase.subscription_id {
                    Some(subscription) => format!("subscription:{subscription}"),
                    None => format!("checkout:{}", purchase.session_id),
                };
                store::revoke_entitlement(txn, tenant.id, &source, created, self.clock.now())
                    .await?;
                store::set_purchase_status(
                    txn,
                    tenant.id,
                    purchase.id,
                    PurchaseStatus::Refunded,
                    true,
                    self.clock.now(),
                )
                .await?;
                let kind = event.kind.as_str();
                tracing::warn!(tenant.slug = %tenant.slug, purchase = %purchase.id, kind, "payment reversed: access revoked");
                Ok(true)
            }
            StripeChange::Other => Ok(false),
        }
    }
}
