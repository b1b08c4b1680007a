//! The sandbox provider: the embedded default when a tenant has no Stripe key. Its checkout is a
//! page on Tollgate, clearly marked as a test; paying there fulfils the purchase through the same
//! path as a Stripe webhook.

use super::provider::{
    CheckoutRequest, CheckoutSession, MeterEvent, PaymentProvider, ProviderError,
};
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

    fn list_prices(
        &self,
    ) -> BoxFuture<'_, Result<Vec<frontend::wire::StripePrice>, ProviderError>> {
        // The sandbox takes any label as a price id: there is nothing to list.
        Box::pin(async { Ok(Vec::new()) })
    }
}
