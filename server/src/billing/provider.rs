//! The payment-provider port: what Tollgate asks of Stripe (or of its sandbox).

use super::OfferKind;
use super::webhook::{StripeEvent, SubscriptionChange};
use futures::future::BoxFuture;
use std::collections::HashMap;

/// Why a provider call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the request (4xx other than 429): retrying will not help.
    #[error("the payment provider refused the request: {0}")]
    Refused(String),
    /// The provider is unreachable, slow, rate limiting or failing (5xx, 429, time-out).
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider does not offer this operation.
    #[error("not supported by this payment provider")]
    Unsupported,
}

impl ProviderError {
    /// Whether a later retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// A checkout to create.
#[derive(Clone, Debug)]
pub struct CheckoutRequest {
    /// `payment` or `subscription`.
    pub mode: CheckoutMode,
    /// The provider customer id.
    pub customer: String,
    /// The provider price id.
    pub price_id: String,
    /// Whether the price is metered (Stripe takes no quantity for those).
    pub metered: bool,
    /// Where the provider sends the browser after paying.
    pub success_url: String,
    /// Where it sends the browser on cancel.
    pub cancel_url: String,
    /// Our purchase id.
    pub client_reference_id: String,
    /// Metadata on the session (and on the subscription / payment intent).
    pub metadata: HashMap<String, String>,
    /// Unix time the session expires (30 min to 24 h ahead).
    pub expires_at: i64,
    /// The idempotency key: the same key gives the same session.
    pub idempotency_key: String,
}

/// Checkout modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckoutMode {
    /// A one-time payment.
    Payment,
    /// A subscription.
    Subscription,
}

/// A checkout session as the provider reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutSession {
    /// Its id.
    pub id: String,
    /// Where the user pays.
    pub url: Option<String>,
    /// `open`, `complete` or `expired`.
    pub status: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    /// The customer id.
    pub customer: Option<String>,
    /// The subscription it created.
    pub subscription: Option<String>,
    /// The payment intent it created.
    pub payment_intent: Option<String>,
}

impl CheckoutSession {
    /// Whether the buyer finished the checkout.
    pub fn is_complete(&self) -> bool {
        self.status == "complete"
    }

    /// Whether its payment went through (or none was needed): what grants access.
    pub fn is_paid(&self) -> bool {
        matches!(self.payment_status.as_str(), "paid" | "no_payment_required")
    }
}

/// One usage report.
#[derive(Clone, Debug)]
pub struct MeterEvent {
    /// The meter's event name.
    pub event_name: String,
    /// The provider customer id.
    pub customer: String,
    /// The value.
    pub value: i64,
    /// The deterministic dedupe identifier.
    pub identifier: String,
    /// Unix seconds.
    pub timestamp: i64,
}

/// A price in the provider's account, as an offer may use it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProviderPrice {
    /// `price_…`.
    pub id: String,
    /// The product's name.
    pub product: String,
    /// Minor units.
    pub amount: i64,
    /// ISO code, lower case.
    pub currency: String,
    /// The kind of offer it suits.
    pub kind: OfferKind,
    /// `month`/`year` for recurring prices.
    pub interval: Option<String>,
    /// As people read it.
    pub text: String,
}

/// One page of the account's events, newest first (Stripe's list order).
#[derive(Clone, Debug, Default)]
pub struct EventPage {
    /// The events, read into Tollgate's terms by `webhook.rs`.
    pub events: Vec<StripeEvent>,
    /// More pages follow (older events): ask again after the last id.
    pub has_more: bool,
    /// The last event's id on this page, for `starting_after`.
    pub last_id: Option<String>,
}

/// A payment provider.
pub trait PaymentProvider: Send + Sync {
    /// `stripe` or `sandbox`.
    fn name(&self) -> &'static str;

    /// Creates a customer (idempotent under `idempotency_key`).
    fn create_customer<'a>(
        &'a self,
        email: Option<&'a str>,
        name: Option<&'a str>,
        metadata: HashMap<String, String>,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;

    /// Creates a checkout session.
    fn create_checkout<'a>(
        &'a self,
        request: &'a CheckoutRequest,
    ) -> BoxFuture<'a, Result<CheckoutSession, ProviderError>>;

    /// Reads a checkout session.
    fn retrieve_checkout<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<CheckoutSession, ProviderError>>;

    /// A billing-portal URL for the customer.
    fn portal_url<'a>(
        &'a self,
        customer: &'a str,
        return_url: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;

    /// Reports usage.
    fn send_meter_event<'a>(
        &'a self,
        event: &'a MeterEvent,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;

    /// Checks that the credentials work; on success, says what is connected, for the operator
    /// (e.g. "Connected to Stripe (test mode)").
    fn check_connection(&self) -> BoxFuture<'_, Result<String, ProviderError>>;

    /// The account's active prices, for the operator to choose an offer's price from.
    fn list_prices(&self) -> BoxFuture<'_, Result<Vec<ProviderPrice>, ProviderError>>;

    /// One page of the account's events of `types` created at or after `created_from` (unix
    /// seconds), newest first, after the event `starting_after`.
    fn list_events<'a>(
        &'a self,
        _types: &'a [&'a str],
        _created_from: i64,
        _starting_after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<EventPage, ProviderError>> {
        Box::pin(async { Err(ProviderError::Unsupported) })
    }

    /// A subscription's state as the provider holds it now.
    fn retrieve_subscription<'a>(
        &'a self,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<SubscriptionChange, ProviderError>> {
        Box::pin(async { Err(ProviderError::Unsupported) })
    }
}
