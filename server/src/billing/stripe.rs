//! Stripe behind the `PaymentProvider` port, with async-stripe: customers, Checkout Sessions,
//! the billing portal and billing meter events. Every call has a time limit (async-stripe's
//! async client has none) and is retried once on transient failures with the same idempotency
//! key, so a lost response never creates a second object; meter events are sent once per
//! attempt (the meter sender retries them). One `StripePayments` (one client, one connection
//! pool) serves a tenant for as long as its key stays the same (`BillingService::provider_for`).

use super::OfferKind;
use super::provider::{
    CheckoutMode, CheckoutRequest, CheckoutSession, EventPage, MeterEvent, PaymentProvider,
    ProviderError, ProviderPrice,
};
use super::webhook::{self, SubscriptionChange};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::time::Duration;
use stripe_billing::billing_meter_event::CreateBillingMeterEvent;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionPaymentIntentData,
    CreateCheckoutSessionSubscriptionData, RetrieveCheckoutSession,
};
use stripe_client_core::{
    IdempotencyKey, RequestBuilder, RequestStrategy, StripeMethod, StripeRequest,
};
use stripe_core::balance::RetrieveForMyAccountBalance;
use stripe_core::customer::CreateCustomer;
use stripe_shared::{Price, PriceType, RecurringUsageType};
use stripe_types::{Expandable, List};

mod pooled;

use pooled::{CallError, Pooled};

/// How long one Stripe request may take.
pub const STRIPE_TIMEOUT: Duration = Duration::from_secs(8);

/// Stripe, for one tenant's account.
pub struct StripePayments {
    client: Pooled,
}

impl StripePayments {
    /// A client for `secret_key` at `api_base` (Stripe's own, or a fake in tests).
    pub fn new(secret_key: &str, api_base: &str) -> Result<Self, ProviderError> {
        let client = Pooled::new(secret_key, api_base)
            .map_err(|e| ProviderError::Refused(format!("bad Stripe configuration: {e}")))?;
        Ok(Self { client })
    }
}

fn classify(error: CallError) -> ProviderError {
    match error {
        CallError::Api { status, message } if status == 429 || status >= 500 || status == 409 => {
            ProviderError::Unavailable(format!("Stripe answered {status}: {message}"))
        }
        CallError::Api { status, message } => {
            ProviderError::Refused(format!("Stripe answered {status}: {message}"))
        }
        CallError::Transport(e) => ProviderError::Unavailable(e),
        CallError::Decode(e) => {
            ProviderError::Unavailable(format!("Stripe's answer could not be read: {e}"))
        }
    }
}

fn idempotency(key: &str) -> Result<RequestStrategy, ProviderError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| ProviderError::Refused(format!("bad idempotency key: {e}")))
}

/// Runs `attempt` once, with a time limit: for callers that retry on their own schedule.
async fn once<T, Fut>(attempt: Fut) -> Result<T, ProviderError>
where
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    match tokio::time::timeout(STRIPE_TIMEOUT, attempt).await {
        Ok(result) => result.map_err(classify),
        Err(_) => Err(ProviderError::Unavailable(
            "Stripe did not answer in time".into(),
        )),
    }
}

/// Runs `attempt` with a time limit, and once more on a transient failure.
async fn with_retry<T, F, Fut>(mut attempt: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let mut last = ProviderError::Unavailable("not attempted".into());
    for round in 0..2 {
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        match tokio::time::timeout(STRIPE_TIMEOUT, attempt()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) => {
                let error = classify(error);
                if !error.is_transient() {
                    return Err(error);
                }
                last = error;
            }
            Err(_) => last = ProviderError::Unavailable("Stripe did not answer in time".into()),
        }
    }
    Err(last)
}

fn session_from(session: stripe_shared::CheckoutSession) -> CheckoutSession {
    CheckoutSession {
        id: session.id.to_string(),
        url: session.url,
        status: session
            .status
            .map_or_else(|| "open".to_owned(), |s| s.as_str().to_owned()),
        payment_status: session.payment_status.as_str().to_owned(),
        customer: session.customer.map(|c| c.id().to_string()),
        subscription: session.subscription.map(|s| s.id().to_string()),
        payment_intent: session.payment_intent.map(|p| p.id().to_string()),
    }
}

/// The query of `GET /v1/prices` for [`PaymentProvider::list_prices`]. Listing prices needs
/// no more of async-stripe than its client and the shared `Price` type, so this request is
/// built by hand rather than by enabling the whole products area.
#[derive(serde::Serialize)]
struct ListPrices {
    active: bool,
    limit: u8,
    expand: Vec<&'static str>,
}

/// A Stripe price as the dashboard shows it; `None` for prices without a unit amount
/// (tiered or customer-chosen), which an offer cannot use.
fn price_view(price: &Price) -> Option<ProviderPrice> {
    let amount = price.unit_amount?;
    let currency = price.currency.to_string();
    let product = match &price.product {
        Expandable::Object(product) => product.name.clone(),
        Expandable::Id(id) => id.to_string(),
    };
    let money = api_types::money::display(amount, &currency);
    let recurring = price
        .recurring
        .as_ref()
        .filter(|_| price.type_ != PriceType::OneTime);
    let (kind, interval, text) = match recurring {
        None => (OfferKind::OneTime, None, money),
        Some(recurring) => {
            let interval = recurring.interval.as_str().to_owned();
            let every = match recurring.interval_count {
                0 | 1 => interval.clone(),
                n => format!("{n} {interval}s"),
            };
            if recurring.usage_type == RecurringUsageType::Metered {
                (
                    OfferKind::Metered,
                    Some(interval),
                    format!("{money} per unit, billed every {every}"),
                )
            } else {
                (
                    OfferKind::Subscription,
                    Some(interval),
                    format!("{money} per {every}"),
                )
            }
        }
    };
    Some(ProviderPrice {
        id: price.id.to_string(),
        product,
        amount,
        currency,
        kind,
        interval,
        text,
    })
}

impl PaymentProvider for StripePayments {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn create_customer<'a>(
        &'a self,
        email: Option<&'a str>,
        name: Option<&'a str>,
        metadata: HashMap<String, String>,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let strategy = idempotency(idempotency_key)?;
            let mut request = CreateCustomer::new().metadata(metadata);
            if let Some(email) = email {
                request = request.email(email);
            }
            if let Some(name) = name {
                request = request.name(name);
            }
            let customer = with_retry(|| {
                request
                    .customize()
                    .request_strategy(strategy.clone())
                    .send(&self.client)
            })
            .await?;
            Ok(customer.id.to_string())
        })
    }

    fn create_checkout<'a>(
        &'a self,
        request: &'a CheckoutRequest,
    ) -> BoxFuture<'a, Result<CheckoutSession, ProviderError>> {
        Box::pin(async move {
            let strategy = idempotency(&request.idempotency_key)?;
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price = Some(request.price_id.clone());
            if !request.metered {
                item.quantity = Some(1);
            }
            let mut create = CreateCheckoutSession::new()
                .customer(request.customer.clone())
                .line_items(vec![item])
                .success_url(request.success_url.clone())
                .cancel_url(request.cancel_url.clone())
                .client_reference_id(request.client_reference_id.clone())
                .metadata(request.metadata.clone())
                .expires_at(request.expires_at);
            match request.mode {
                CheckoutMode::Payment => {
                    let mut data = CreateCheckoutSessionPaymentIntentData::new();
                    data.metadata = Some(request.metadata.clone());
                    create = create
                        .mode(stripe_shared::CheckoutSessionMode::Payment)
                        .payment_intent_data(data);
                }
                CheckoutMode::Subscription => {
                    let mut data = CreateCheckoutSessionSubscriptionData::new();
                    data.metadata = Some(request.metadata.clone());
                    create = create
                        .mode(stripe_shared::CheckoutSessionMode::Subscription)
                        .subscription_data(data);
                }
            }
            let session = with_retry(|| {
                create
                    .customize()
                    .request_strategy(strategy.clone())
                    .send(&self.client)
            })
            .await?;
            Ok(session_from(session))
        })
    }

    fn retrieve_checkout<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<CheckoutSession, ProviderError>> {
        Box::pin(async move {
            let request = RetrieveCheckoutSession::new(id);
            let session = with_retry(|| request.send(&self.client)).await?;
            Ok(session_from(session))
        })
    }

    fn portal_url<'a>(
        &'a self,
        customer: &'a str,
        return_url: &'a str,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(async move {
            let request = CreateBillingPortalSession::new()
                .customer(customer)
                .return_url(return_url);
            let session = with_retry(|| request.send(&self.client)).await?;
            Ok(session.url)
        })
    }

    fn send_meter_event<'a>(
        &'a self,
        event: &'a MeterEvent,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let payload = HashMap::from([
                ("stripe_customer_id".to_owned(), event.customer.clone()),
                ("value".to_owned(), event.value.to_string()),
            ]);
            let request = CreateBillingMeterEvent::new(event.event_name.clone(), payload)
                .identifier(event.identifier.clone())
                .timestamp(event.timestamp);
            // Stripe dedupes on `identifier`; the idempotency key makes a replayed request
            // return the first answer instead of a duplicate-identifier error.
            // One attempt: the meter sender retries transient failures itself, with backoff
            // and jitter, and sets refusals aside.
            let strategy = idempotency(&format!("tg-meter-{}", event.identifier))?;
            let sent = once(
                request
                    .customize()
                    .request_strategy(strategy)
                    .send(&self.client),
            )
            .await;
            match sent {
                Ok(_) => Ok(()),
                // Stripe refuses a second event with one identifier: the first one counted.
                Err(ProviderError::Refused(message))
                    if message.contains("already exists with identifier") =>
                {
                    Ok(())
                }
                Err(error) => Err(error),
            }
        })
    }

    fn check_connection(&self) -> BoxFuture<'_, Result<String, ProviderError>> {
        Box::pin(async move {
            // The balance is the cheapest read every secret key (and most restricted keys)
            // may make, and it tells test mode from live mode.
            let request = RetrieveForMyAccountBalance::new();
            let balance = with_retry(|| request.send(&self.client)).await?;
            Ok(if balance.livemode {
                "Connected to Stripe (live mode)"
            } else {
                "Connected to Stripe (test mode)"
            }
            .to_owned())
        })
    }

    fn list_prices(&self) -> BoxFuture<'_, Result<Vec<ProviderPrice>, ProviderError>> {
        Box::pin(async move {
            let query = ListPrices {
                active: true,
                limit: 100,
                expand: vec!["data.product"],
            };
            let page = with_retry(|| {
                RequestBuilder::new(StripeMethod::Get, "/prices")
                    .query(&query)
                    .customize::<List<Price>>()
                    .send(&self.client)
            })
            .await?;
            Ok(page.data.iter().filter_map(price_view).collect())
        })
    }

    fn list_events<'a>(
        &'a self,
        types: &'a [&'a str],
        created_from: i64,
        starting_after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<EventPage, ProviderError>> {
        Box::pin(async move {
            let mut query: Vec<(&str, String)> =
                types.iter().map(|t| ("types[]", (*t).to_owned())).collect();
            query.push(("created[gte]", created_from.to_string()));
            query.push(("limit", "100".to_owned()));
            if let Some(after) = starting_after {
                query.push(("starting_after", after.to_owned()));
            }
            let page = with_retry(|| self.client.get_json("/events", &query)).await?;
            let data = page["data"].as_array().cloned().unwrap_or_default();
            Ok(EventPage {
                last_id: data
                    .last()
                    .and_then(|event| event["id"].as_str())
                    .map(str::to_owned),
                events: data.iter().filter_map(webhook::read_event).collect(),
                has_more: page["has_more"].as_bool() == Some(true),
            })
        })
    }

    fn retrieve_subscription<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<SubscriptionChange, ProviderError>> {
        Box::pin(async move {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ProviderError::Refused(format!(
                    "not a subscription id: {id:?}"
                )));
            }
            let path = format!("/subscriptions/{id}");
            let object = with_retry(|| self.client.get_json(&path, &[])).await?;
            webhook::read_subscription(&object, false).ok_or_else(|| {
                ProviderError::Unavailable("Stripe's subscription could not be read".into())
            })
        })
    }
}
