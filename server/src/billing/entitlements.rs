//! What a Stripe event does to purchases and entitlements, applied in one transaction with its
//! event id (a duplicate delivery changes nothing) and its audit entry.

use super::store::{self, PurchaseKey};
use super::{
    BillingError, BillingService, CheckoutSession, WebhookError, WebhookOutcome, webhook,
    webhook_secret_context,
};
use crate::tenant::Tenant;
use chrono::{DateTime, Utc};
use uuid::Uuid;

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
        let event: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| WebhookError::Malformed)?;
        let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else {
            return Err(WebhookError::Malformed);
        };
        if event["livemode"].as_bool() == Some(true) && connection.key_hint.contains("_test_") {
            tracing::warn!(tenant.slug = %tenant.slug, event = id, "live-mode event at a test-mode tenant: ignored");
            return Ok(WebhookOutcome::Ignored);
        }
        let created = event["created"].as_i64().unwrap_or_default();
        let object = &event["data"]["object"];
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
        let applied = self
            .apply_event(&txn, tenant, kind, object, created)
            .await?;
        if applied {
            // Payments, refunds, disputes and subscription changes are part of the record,
            // written once with the event id that makes them idempotent.
            store::insert_provider_audit(
                &txn,
                tenant.id,
                "stripe",
                id,
                kind,
                object["id"].as_str(),
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

    async fn apply_event(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        kind: &str,
        object: &serde_json::Value,
        created: i64,
    ) -> Result<bool, BillingError> {
        let text = |v: &serde_json::Value| -> Option<String> {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v["id"].as_str().map(str::to_owned))
        };
        match kind {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                let session = CheckoutSession {
                    id: object["id"].as_str().unwrap_or_default().to_owned(),
                    url: None,
                    status: object["status"].as_str().unwrap_or("complete").to_owned(),
                    payment_status: object["payment_status"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    customer: text(&object["customer"]),
                    subscription: text(&object["subscription"]),
                    payment_intent: text(&object["payment_intent"]),
                };
                self.fulfil_in(txn, tenant, &session, created).await
            }
            "checkout.session.async_payment_failed" | "checkout.session.expired" => {
                let Some(id) = object["id"].as_str() else {
                    return Ok(false);
                };
                let Some(purchase) =
                    store::find_purchase_by(txn, tenant.id, PurchaseKey::Session(id)).await?
                else {
                    return Ok(false);
                };
                let status = if kind.ends_with("expired") {
                    "expired"
                } else {
                    "failed"
                };
                if purchase.status != "paid" {
                    store::set_purchase_status(txn, tenant.id, purchase.id, status, true).await?;
                }
                Ok(true)
            }
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted" => {
                let Some(subscription) = object["id"].as_str() else {
                    return Ok(false);
                };
                let status = object["status"].as_str().unwrap_or_default();
                let period_end = object["items"]["data"][0]["current_period_end"]
                    .as_i64()
                    .or_else(|| object["current_period_end"].as_i64())
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
                let active = kind != "customer.subscription.deleted"
                    && matches!(status, "active" | "trialing" | "past_due");
                let source = format!("subscription:{subscription}");
                if store::find_entitlement_by_source(txn, tenant.id, &source)
                    .await?
                    .is_none()
                {
                    // Subscription events may come before the checkout's: find the buyer from
                    // the purchase the subscription carries in its metadata.
                    let purchase = match object["metadata"]["tollgate_purchase"]
                        .as_str()
                        .and_then(|p| Uuid::parse_str(p).ok())
                    {
                        Some(id) => store::find_purchase(txn, tenant.id, id).await?,
                        None => {
                            store::find_purchase_by(
                                txn,
                                tenant.id,
                                PurchaseKey::Subscription(subscription),
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
                            period_end,
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
                    period_end,
                    created,
                    self.clock.now(),
                )
                .await?;
                Ok(true)
            }
            "invoice.paid" => {
                let subscription =
                    object["subscription"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| {
                            object["parent"]["subscription_details"]["subscription"]
                                .as_str()
                                .map(str::to_owned)
                        });
                let Some(subscription) = subscription else {
                    return Ok(false);
                };
                let period_end = object["lines"]["data"][0]["period"]["end"]
                    .as_i64()
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0));
                store::update_subscription_entitlement(
                    txn,
                    tenant.id,
                    &format!("subscription:{subscription}"),
                    true,
                    period_end,
                    created,
                    self.clock.now(),
                )
                .await?;
                Ok(true)
            }
            "invoice.payment_failed" => {
                // Access continues until the paid period ends; Stripe's retries and the
                // subscription's own status events decide what happens next.
                Ok(true)
            }
            "charge.refunded" | "charge.dispute.created" => {
                let Some(payment_intent) = object["payment_intent"].as_str() else {
                    return Ok(false);
                };
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
                store::set_purchase_status(txn, tenant.id, purchase.id, "refunded", true).await?;
                tracing::warn!(tenant.slug = %tenant.slug, purchase = %purchase.id, kind, "payment reversed: access revoked");
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
