//! What a Stripe event does to purchases and entitlements. The delivery is verified and read
//! into a [`StripeEvent`] by `webhook.rs` (Stripe's wire format lives there); here it is
//! applied in one transaction with its event id (a duplicate delivery changes nothing) and
//! its audit entry; what it does to an entitlement's state is `lifecycle.rs`'s answer.

use super::lifecycle::{self, Access, Applied, Fact};
use super::records::Entitlement;
use super::store::{self, PurchaseKey};
use super::webhook::{self, StripeChange, StripeEvent};
use super::{
    BillingError, BillingService, EntitlementStatus, PurchaseStatus, WebhookError, WebhookOutcome,
    webhook_secret_context,
};
use crate::tenant::Tenant;

/// An entitlement an event (or a reconciliation's check) changed: its access or its period.
#[derive(Clone, Debug)]
pub(super) struct Changed {
    /// `checkout:<session>` or `subscription:<id>`.
    pub(super) source: String,
    /// As it was (none: the change created it).
    pub(super) before: Option<Entitlement>,
    /// As it is now.
    pub(super) after: Entitlement,
}

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
        let (outcome, _) = self.ingest_event(tenant, &event).await?;
        tracing::info!(tenant.slug = %tenant.slug, event.id = id, event.kind = kind, ?outcome, "stripe webhook");
        Ok(outcome)
    }

    /// Applies a Stripe event (from a webhook, or read back by reconciliation) in one
    /// transaction with its event id, so that an event seen before changes nothing, and with
    /// its audit entry. Answers what it did and the entitlements it changed.
    pub(super) async fn ingest_event(
        &self,
        tenant: &Tenant,
        event: &StripeEvent,
    ) -> Result<(WebhookOutcome, Vec<Changed>), BillingError> {
        let (id, kind) = (event.id.as_str(), event.kind.as_str());
        // A subscription's period is read from Stripe before the transaction opens (never a
        // network call while holding the write lock).
        // An event applied before (a redelivery, or one reconciliation reads back) needs none.
        let read_period_end = match &event.change {
            StripeChange::CheckoutCompleted(session)
                if !store::event_recorded(&self.db, tenant.id, id).await? =>
            {
                self.subscription_period_end(tenant, session).await
            }
            _ => None,
        };
        let txn = crate::db::begin_write(&self.db).await?;
        if !store::record_event(&txn, tenant.id, id, kind, self.clock.now()).await? {
            txn.rollback().await?;
            // A refund of a double payment that failed on an earlier delivery is tried again.
            if let StripeChange::CheckoutCompleted(session) = &event.change {
                self.refund_if_duplicate(tenant, &session.id).await?;
            }
            return Ok((WebhookOutcome::Duplicate, Vec::new()));
        }
        let sources = self.sources_of(&txn, tenant, event).await?;
        let mut before = Vec::with_capacity(sources.len());
        for source in &sources {
            before.push(store::find_entitlement_by_source(&txn, tenant.id, source).await?);
        }
        let applied = self
            .apply_event(&txn, tenant, event, read_period_end)
            .await?;
        let mut changed = Vec::new();
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
            .await?;
            for (source, before) in sources.into_iter().zip(before) {
                let Some(after) =
                    store::find_entitlement_by_source(&txn, tenant.id, &source).await?
                else {
                    continue;
                };
                if event.confirms_state() {
                    // Stripe's word as of the event: an old event read back by reconciliation
                    // confirms the entitlement as of then, not now.
                    let now = self.clock.now();
                    let told = chrono::DateTime::from_timestamp(event.created, 0)
                        .map_or(now, |at| at.min(now));
                    store::confirm_entitlement(&txn, tenant.id, &source, told).await?;
                }
                let same = before
                    .as_ref()
                    .is_some_and(|b| (b.status, b.period_end) == (after.status, after.period_end));
                if !same {
                    changed.push(Changed {
                        source,
                        before,
                        after,
                    });
                }
            }
        }
        txn.commit().await?;
        if applied {
            self.entitlements_changed(tenant.id).await;
        }
        // After the commit: a double payment this completion flagged is refunded when the
        // tenant asks for it (a passing failure answers 500, and the redelivery retries).
        if let StripeChange::CheckoutCompleted(session) = &event.change {
            self.refund_if_duplicate(tenant, &session.id).await?;
        }
        Ok((
            if applied {
                WebhookOutcome::Applied
            } else {
                WebhookOutcome::Ignored
            },
            changed,
        ))
    }

    /// The entitlement sources `event` may change (before it is applied).
    async fn sources_of(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        event: &StripeEvent,
    ) -> Result<Vec<String>, BillingError> {
        Ok(match &event.change {
            StripeChange::CheckoutCompleted(session) => {
                let mut sources = vec![format!("checkout:{}", session.id)];
                if let Some(subscription) = &session.subscription {
                    sources.push(format!("subscription:{subscription}"));
                }
                sources
            }
            StripeChange::Subscription(subscription) => {
                vec![format!("subscription:{}", subscription.id)]
            }
            StripeChange::InvoicePaid { subscription, .. } => {
                vec![format!("subscription:{subscription}")]
            }
            StripeChange::Refunded { payment_intent, .. }
            | StripeChange::DisputeOpened(payment_intent)
            | StripeChange::DisputeClosed { payment_intent, .. } => {
                store::find_purchase_by(txn, tenant.id, PurchaseKey::PaymentIntent(payment_intent))
                    .await?
                    .map(|purchase| match &purchase.subscription_id {
                        Some(subscription) => format!("subscription:{subscription}"),
                        None => format!("checkout:{}", purchase.session_id),
                    })
                    .into_iter()
                    .collect()
            }
            StripeChange::CheckoutFailed(_)
            | StripeChange::CheckoutExpired(_)
            | StripeChange::InvoicePaymentFailed
            | StripeChange::Other => Vec::new(),
        })
    }

    /// Applies one event in `txn`; true when it concerned something of Tollgate's (it is then
    /// audited).
    async fn apply_event(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        event: &StripeEvent,
        read_period_end: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<bool, BillingError> {
        let created = event.created;
        match &event.change {
            StripeChange::CheckoutCompleted(session) => {
                self.fulfil_in(txn, tenant, session, created, read_period_end)
                    .await
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
                let fact = Fact::Status {
                    state: subscription.state,
                    period_end: subscription.period_end,
                };
                let source = format!("subscription:{}", subscription.id);
                if self.apply_fact(txn, tenant, &source, fact, created).await? {
                    return Ok(true);
                }
                // Subscription events may come before the checkout's: find the buyer from
                // the purchase the subscription carries in its metadata, and record the state
                // now, so that a `deleted` before the checkout's `completed` still wins (the
                // row is then the tombstone the grant cannot replace).
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
                let grace = grace_of(txn, tenant, purchase.offer_id).await?;
                let Some(applied) = lifecycle::next(None, fact, created, grace) else {
                    return Ok(false);
                };
                store::grant(
                    txn,
                    tenant.id,
                    &store::Grant {
                        user: purchase.end_user_id,
                        offer: purchase.offer_id,
                        source,
                        calls: None,
                        period_end: applied.period_end,
                        event_created: created,
                        status: status_of(applied.access),
                    },
                    self.clock.now(),
                )
                .await?;
                Ok(true)
            }
            StripeChange::InvoicePaid {
                subscription,
                period_end,
            } => {
                let source = format!("subscription:{subscription}");
                let fact = Fact::Paid {
                    period_end: *period_end,
                };
                self.apply_fact(txn, tenant, &source, fact, created).await
            }
            StripeChange::InvoicePaymentFailed => {
                // Access continues until the paid period ends; Stripe's retries and the
                // subscription's own status events (past_due, unpaid) decide what happens next.
                Ok(true)
            }
            StripeChange::Refunded {
                payment_intent,
                full,
            } => {
                let fact = Fact::Refunded { full: *full };
                self.apply_payment_fact(txn, tenant, event, payment_intent, fact)
                    .await
            }
            StripeChange::DisputeOpened(payment_intent) => {
                self.apply_payment_fact(txn, tenant, event, payment_intent, Fact::DisputeOpened)
                    .await
            }
            StripeChange::DisputeClosed {
                payment_intent,
                won,
            } => {
                let fact = Fact::DisputeClosed { won: *won };
                self.apply_payment_fact(txn, tenant, event, payment_intent, fact)
                    .await
            }
            StripeChange::Other => Ok(false),
        }
    }

    /// Applies `fact` to the entitlement from `source` through the lifecycle; false when
    /// there is no such entitlement.
    pub(super) async fn apply_fact(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        source: &str,
        fact: Fact,
        created: i64,
    ) -> Result<bool, BillingError> {
        let Some(held) = store::find_entitlement_by_source(txn, tenant.id, source).await? else {
            return Ok(false);
        };
        let current = Applied {
            access: access_of(held.status),
            period_end: held.period_end,
            at: held.last_event_at,
        };
        let grace = grace_of(txn, tenant, held.offer_id).await?;
        if let Some(to) = lifecycle::next(Some(current), fact, created, grace) {
            store::set_lifecycle(
                txn,
                tenant.id,
                source,
                (held.status, held.last_event_at),
                (status_of(to.access), to.period_end, to.at),
                self.clock.now(),
            )
            .await?;
        }
        Ok(true)
    }

    /// Applies a refund or dispute of a payment to what the payment bought.
    async fn apply_payment_fact(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        event: &StripeEvent,
        payment_intent: &str,
        fact: Fact,
    ) -> Result<bool, BillingError> {
        let Some(purchase) =
            store::find_purchase_by(txn, tenant.id, PurchaseKey::PaymentIntent(payment_intent))
                .await?
        else {
            return Ok(false);
        };
        let source = match &purchase.subscription_id {
            Some(subscription) => format!("subscription:{subscription}"),
            None => format!("checkout:{}", purchase.session_id),
        };
        self.apply_fact(txn, tenant, &source, fact, event.created)
            .await?;
        if fact == (Fact::Refunded { full: true }) {
            store::set_purchase_status(
                txn,
                tenant.id,
                purchase.id,
                PurchaseStatus::Refunded,
                true,
                self.clock.now(),
            )
            .await?;
        }
        let kind = event.kind.as_str();
        tracing::warn!(tenant.slug = %tenant.slug, purchase = %purchase.id, kind, "payment refunded or disputed");
        Ok(true)
    }
}

/// The past-due grace of the plan `offer` (the default when the plan is gone).
pub(super) async fn grace_of(
    txn: &impl sea_orm::ConnectionTrait,
    tenant: &Tenant,
    offer: uuid::Uuid,
) -> Result<chrono::Duration, BillingError> {
    Ok(store::find_offer(txn, tenant.id, offer)
        .await?
        .map_or(lifecycle::PAST_DUE_GRACE, |offer| offer.past_due_grace()))
}

/// What the lifecycle's access is stored as.
pub(super) fn status_of(access: Access) -> EntitlementStatus {
    match access {
        Access::Granted => EntitlementStatus::Active,
        Access::Suspended => EntitlementStatus::Suspended,
        Access::Ended => EntitlementStatus::Revoked,
    }
}

pub(super) fn access_of(status: EntitlementStatus) -> Access {
    match status {
        EntitlementStatus::Active => Access::Granted,
        EntitlementStatus::Suspended => Access::Suspended,
        EntitlementStatus::Revoked => Access::Ended,
    }
}
