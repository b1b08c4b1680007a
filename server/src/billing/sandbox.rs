//! The sandbox provider: the embedded default when a tenant has no Stripe key. Its checkout is a
//! page on Tollgate, clearly marked as a test; paying there fulfils the purchase through the same
//! path as a Stripe webhook.

use super::provider::{
    CheckoutRequest, CheckoutSession, MeterEvent, PaymentProvider, ProviderError, ProviderPrice,
};
use super::store::{self, PurchaseKey};
use super::{BillingError, BillingService, OfferKind, PurchaseStatus, PurchaseView};
use crate::crypto;
use crate::tenant::Tenant;
use futures::future::BoxFuture;
use std::collections::HashMap;

/// The sandbox for one tenant.
pub struct SandboxPayments {
    /// `{public}/t/{slug}`.
    pub tenant_base: String,
}

impl PaymentProvider for SandboxPayments {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn create_customer<'a>(
        &'a self,
        _email: Option<&'a str>,
        _name: Option<&'a str>,
        metadata: HashMap<String, String>,
        _idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        let user = metadata.get("user").cloned().unwrap_or_default();
        Box::pin(async move { Ok(format!("sbx_cus_{user}")) })
    }

    fn create_checkout<'a>(
        &'a self,
        request: &'a CheckoutRequest,
    ) -> BoxFuture<'a, Result<CheckoutSession, ProviderError>> {
        Box::pin(async move {
            // Deterministic from the idempotency key, like a provider replaying a request.
            let id = format!(
                "sbx_cs_{}",
                &crate::crypto::hash_token(&request.idempotency_key)[..24]
            );
            Ok(CheckoutSession {
                url: Some(format!("{}/sandbox/checkout/{id}", self.tenant_base)),
                id,
                status: "open".into(),
                payment_status: "unpaid".into(),
                customer: Some(request.customer.clone()),
                subscription: None,
                payment_intent: None,
            })
        })
    }

    fn retrieve_checkout<'a>(
        &'a self,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<CheckoutSession, ProviderError>> {
        // Sandbox payments are recorded in Tollgate's own database when they happen.
        Box::pin(async { Err(ProviderError::Unsupported) })
    }

    fn portal_url<'a>(
        &'a self,
        _customer: &'a str,
        _return_url: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move { Ok(format!("{}/account", self.tenant_base)) })
    }

    fn send_meter_event<'a>(
        &'a self,
        event: &'a MeterEvent,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            tracing::info!(meter.event = %event.event_name, meter.identifier = %event.identifier, meter.value = event.value, "sandbox meter event");
            Ok(())
        })
    }

    fn check_connection(&self) -> BoxFuture<'_, Result<String, ProviderError>> {
        Box::pin(async { Ok("Sandbox: no Stripe account connected".to_owned()) })
    }

    fn list_prices(&self) -> BoxFuture<'_, Result<Vec<ProviderPrice>, ProviderError>> {
        // The sandbox takes any label as a price id: there is nothing to list.
        Box::pin(async { Ok(Vec::new()) })
    }
}

impl BillingService {
    /// A fresh binding for the sandbox checkout form: the cookie's name and value (a random
    /// secret) and the form's token, a MAC of the session and that secret. Only a browser that
    /// loaded the page holds the pair, so another site cannot make a visitor "pay".
    pub fn sandbox_form(
        &self,
        session_id: &str,
    ) -> Result<(String, crypto::SecretString, String), BillingError> {
        let secret = crypto::random_token("")?;
        let token = self
            .key
            .mac("sandbox-form", &format!("{session_id}:{}", secret.expose()));
        Ok((self.sandbox_cookie_name(), secret, token))
    }

    /// Whether a posted sandbox form carries the binding [`Self::sandbox_form`] handed out.
    pub fn sandbox_form_matches(
        &self,
        session_id: &str,
        cookies: &std::collections::HashMap<String, String>,
        token: &str,
    ) -> bool {
        cookies
            .get(&self.sandbox_cookie_name())
            .is_some_and(|secret| {
                let expected = self
                    .key
                    .mac("sandbox-form", &format!("{session_id}:{secret}"));
                crypto::constant_time_eq(&expected, token)
            })
    }

    fn sandbox_cookie_name(&self) -> String {
        if self.public.as_str().starts_with("https://") {
            "__Host-tg_sandbox".into()
        } else {
            "tg_sandbox".into()
        }
    }

    /// Pays a sandbox checkout (the sandbox's own page calls this): fulfilled exactly as a
    /// Stripe webhook would be.
    pub async fn pay_sandbox(
        &self,
        tenant: &Tenant,
        session_id: &str,
    ) -> Result<bool, BillingError> {
        if tenant.settings.stripe.is_some() || self.production {
            return Ok(false);
        }
        let Some(purchase) =
            store::find_purchase_by(&self.db, tenant.id, PurchaseKey::Session(session_id)).await?
        else {
            return Ok(false);
        };
        let customer =
            store::find_customer(&self.db, tenant.id, purchase.end_user_id, "sandbox").await?;
        let offer = store::find_offer(&self.db, tenant.id, purchase.offer_id).await?;
        let subscription = offer
            .filter(|o| o.kind != OfferKind::OneTime)
            .map(|_| format!("sbx_sub_{}", &purchase.id.simple().to_string()[..16]));
        let session = CheckoutSession {
            id: session_id.to_owned(),
            url: None,
            status: "complete".into(),
            payment_status: "paid".into(),
            customer,
            subscription,
            payment_intent: Some(format!(
                "sbx_pi_{}",
                &purchase.id.simple().to_string()[..16]
            )),
        };
        // Applied like Stripe's `checkout.session.completed`: once, under an event id of its
        // own (a second click, or two at once, find it recorded and change nothing), with the
        // payment's audit row in the same transaction.
        let now = self.clock.now();
        let event_id = format!("sbx_evt_{session_id}");
        let kind = "checkout.session.completed";
        let txn = crate::db::begin_write(&self.db).await?;
        // Already paid (its event id may be purged after 30 days): nothing to apply or record.
        let paid = store::find_purchase_by(&txn, tenant.id, PurchaseKey::Session(session_id))
            .await?
            .is_some_and(|p| p.status == PurchaseStatus::Paid);
        if paid || !store::record_event(&txn, tenant.id, &event_id, kind, now).await? {
            txn.rollback().await?;
            return Ok(true);
        }
        if self
            .fulfil_in(&txn, tenant, &session, now.timestamp(), None)
            .await?
        {
            store::insert_provider_audit(
                &txn,
                tenant.id,
                "sandbox",
                &event_id,
                kind,
                Some(session_id),
                now,
            )
            .await?;
        }
        txn.commit().await?;
        self.entitlements_changed(tenant.id).await;
        Ok(true)
    }

    /// The purchase behind a sandbox checkout session, for the test checkout page (what is
    /// bought and its price); `None` for an unknown session or a tenant on Stripe.
    pub async fn sandbox_checkout(
        &self,
        tenant: &Tenant,
        session_id: &str,
    ) -> Result<Option<PurchaseView>, BillingError> {
        if tenant.settings.stripe.is_some() || self.production {
            return Ok(None);
        }
        let Some(purchase) =
            store::find_purchase_by(&self.db, tenant.id, PurchaseKey::Session(session_id)).await?
        else {
            return Ok(None);
        };
        self.purchase(tenant, purchase.id).await
    }
}
