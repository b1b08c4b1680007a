//! Paid tools: offers (plans) and their pricing models, the gate a paid tool call passes,
//! checkout through a payment provider (Stripe, or the built-in sandbox), webhooks, entitlements,
//! and usage metering through an outbox.
//!
//! Entitlements are decided from Tollgate's own database, never by asking Stripe on the hot path.
//! Every change to money or entitlements is written in one transaction with the record that makes
//! it idempotent: the webhook event id, the checkout session id, or the tool call id.
//!
//! This file holds the service and the types its flows share; each flow is an
//! `impl BillingService` block in a file of its own: `offers.rs` (plans and pricing),
//! `connection.rs` (the tenant's Stripe connection and the provider it selects), `gate.rs`
//! (reserve / commit / release of a paid call), `checkout.rs` (purchases and fulfilment),
//! `entitlements.rs` (what a Stripe event does, once `webhook.rs` has verified it and read
//! Stripe's JSON into a typed event), `sandbox.rs` (the test checkout), `account.rs` (the end
//! user's account page and its signed link), `meter.rs` (the meter sender), `reconcile.rs`
//! (reconciliation with Stripe: lost webhooks read back, subscriptions read again),
//! `customers.rs` (the dashboard's customers) and `duplicates.rs` (double payments and their
//! refunds). `records.rs` has the records and statuses the store returns.

mod account;
mod checkout;
mod connection;
mod customers;
mod duplicates;
mod entitlements;
mod fast;
mod gate;
pub mod lifecycle;
mod meter;
mod offers;
mod pages;
mod provider;
mod reconcile;
mod records;
pub(crate) mod routes;
mod sandbox;
mod store;
mod stripe;
pub mod webhook;

pub use connection::ConnectionCheck;
pub(crate) use connection::{stripe_key_context, webhook_secret_context};
pub use customers::{CustomerRecord, HeldPlan, Payment, PlanState, ToolUsage};
pub use duplicates::DoublePayment;
pub use fast::{Admission, Pass};
pub use offers::{NewOffer, Offer, OfferId, OfferKind, offer_of};
pub use provider::{
    CheckoutMode, CheckoutRequest, CheckoutSession, EventPage, MeterEvent, PaymentProvider,
    ProviderError, ProviderPrice, ProviderSubscription,
};
pub use reconcile::{
    CONFIRMATION_AGE, CURSOR_OVERLAP, Correction, RECONCILE_LEASE, ReconciliationReport, Trigger,
};
pub use records::{
    EndUserSummary, EntitlementStatus, FailedMeterEvent, MeterStatus, PurchaseStatus, UsageKind,
    UsageStatus,
};
pub use sandbox::SandboxPayments;
pub(crate) use store::usable_entitlements;
pub use stripe::StripePayments;

use crate::clock::Clock;
use crate::config::PublicUrl;
use crate::crypto::{self, MasterKey};
use crate::tenant::{Tenant, TenantId};
use chrono::{DateTime, Datelike, Duration, Utc};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::Notify;
use uuid::Uuid;

/// How long a checkout stays open.
pub const CHECKOUT_TTL: Duration = Duration::hours(1);
/// A reservation older than this belonged to a call that never finished (a crash): released.
pub const STALE_RESERVATION: Duration = Duration::minutes(10);

/// What can go wrong in billing.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The operator's input is invalid.
    #[error("{0}")]
    Invalid(String),
    /// No such offer in this tenant.
    #[error("offer not found")]
    OfferNotFound,
    /// The payment provider failed; the user should retry later.
    #[error("{0}")]
    Provider(#[from] ProviderError),
    /// A sealed secret could not be opened.
    #[error("a stored secret could not be read")]
    Crypto(#[from] crypto::CryptoError),
    /// The tenant store failed.
    #[error("{0}")]
    Tenant(#[from] crate::tenant::TenantError),
    /// The work is being done by another replica right now (a reconciliation's claim).
    #[error("{0}")]
    Busy(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// A call that may run: the usage row reserved for it.
#[derive(Clone, Debug)]
pub struct Reservation {
    usage_id: Uuid,
    entitlement: Option<Uuid>,
    metered: Option<(String, i64)>,
    tenant: TenantId,
    user: Uuid,
    call_id: String,
    /// Paid for (an entitlement or the meter), not a free-quota call.
    billed: bool,
}

impl Reservation {
    /// Whether the call is paid for (by an entitlement or the meter) rather than free quota.
    pub fn is_billed(&self) -> bool {
        self.billed
    }
}

/// Why a call must be paid first, and where.
#[derive(Clone, Debug)]
pub struct PaymentRequired {
    /// Our purchase id.
    pub purchase_id: Uuid,
    /// Tollgate's payment page for it (tool, price, tenant, then on to checkout).
    pub payment_url: String,
    /// The offer's name.
    pub offer_name: String,
    /// The price, readable.
    pub price: String,
    /// The payment reason.
    pub reason: String,
    /// The payment was made but the provider has not confirmed it yet.
    pub pending: bool,
    /// The spend cap or quota is exhausted for this period (no payment link helps).
    pub capped: bool,
}

/// What the gate decided.
#[derive(Clone, Debug)]
pub enum Gate {
    /// Run the tool, then commit or release.
    Go(Reservation),
    /// Ask for payment.
    Pay(PaymentRequired),
}

/// What a webhook delivery did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Applied now.
    Applied,
    /// Seen before; nothing changed.
    Duplicate,
    /// Recorded but not relevant to Tollgate.
    Ignored,
}

/// Billing for all tenants.
#[derive(Clone)]
pub struct BillingService {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    key: Arc<MasterKey>,
    public: PublicUrl,
    stripe_api_url: String,
    /// In production mode the sandbox never takes "payments": without Stripe, paid tools wait.
    production: bool,
    offers: moka::future::Cache<TenantId, Arc<Vec<Offer>>>,
    meter_wakeup: Arc<Notify>,
    /// On SQLite (one process), one lock per (tenant, user, offer) while a checkout is looked
    /// up or created, so that concurrent calls wait and reuse the first one's purchase. On
    /// PostgreSQL an advisory lock does this across processes (`payment_required`).
    purchase_locks: moka::sync::Cache<String, Arc<tokio::sync::Mutex<()>>>,
    meter_rounds: Arc<tokio::sync::watch::Sender<u64>>,
    changes: crate::changes::ChangePublisher,
    /// The usage rows of calls on entitlements that count nothing, written in groups.
    usage_writer: Arc<fast::UsageWriter>,
    /// The entitlements that count nothing, remembered for the fast lane (`fast.rs`).
    entitled: fast::Entitled,
    /// One Stripe client per tenant, with the sealed key it was built from
    /// (`connection.rs`, `provider_for`).
    stripe_clients: moka::sync::Cache<TenantId, (String, Arc<dyn PaymentProvider>)>,
    /// How long a user may wait on the provider for a checkout (customer + session); then the
    /// call answers "payments are unavailable, nothing was charged" (`gate.rs`).
    provider_deadline: std::time::Duration,
    /// This process's name in reconciliation reports (`reconcile.rs`).
    replica: Arc<str>,
    /// Rounds of the reconciliation job finished in this process.
    reconcile_rounds: Arc<tokio::sync::watch::Sender<u64>>,
}

/// The default of [`BillingService::with_provider_deadline`] (`TOLLGATE_PROVIDER_DEADLINE_MS`).
pub const PROVIDER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// The key that serialises the decisions about one user's uses of one offer.
fn use_lock_key(tenant: TenantId, user: Uuid, offer: Uuid) -> String {
    format!("use:{tenant}:{user}:{offer}")
}

fn period_of(now: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", now.year(), now.month())
}

impl BillingService {
    /// The service.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        key: Arc<MasterKey>,
        public: PublicUrl,
        stripe_api_url: String,
        production: bool,
    ) -> Self {
        Self {
            changes: crate::changes::ChangePublisher::new(db.clone()),
            usage_writer: Arc::new(fast::UsageWriter::new(db.clone())),
            db,
            clock,
            key,
            public,
            stripe_api_url,
            production,
            offers: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(5))
                .build(),
            meter_wakeup: Arc::new(Notify::new()),
            stripe_clients: moka::sync::Cache::builder().max_capacity(10_000).build(),
            provider_deadline: PROVIDER_DEADLINE,
            replica: reconcile::replica_name(),
            reconcile_rounds: Arc::new(tokio::sync::watch::channel(0).0),
            purchase_locks: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(std::time::Duration::from_secs(600))
                .build(),
            meter_rounds: Arc::new(tokio::sync::watch::channel(0).0),
            entitled: fast::Entitled::default(),
        }
    }

    /// Sets how long a user may wait on the provider for a checkout (default
    /// [`PROVIDER_DEADLINE`]).
    #[must_use]
    pub fn with_provider_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.provider_deadline = deadline;
        self
    }

    fn tenant_base(&self, tenant: &Tenant) -> String {
        self.public.join(&format!("/t/{}", tenant.slug))
    }
}

/// A purchase, as the payment pages show it.
#[derive(Clone, Debug)]
pub struct PurchaseView {
    /// Its id.
    pub id: Uuid,
    /// Where it stands.
    pub status: PurchaseStatus,
    /// The provider's checkout URL.
    pub checkout_url: String,
    /// The provider's session id.
    pub session_id: String,
    /// What is bought.
    pub offer: Option<Offer>,
}

/// One plan as a user sees it.
#[derive(Clone, Debug, Serialize)]
pub struct PlanStatus {
    /// The plan's name.
    pub offer: String,
    /// Its price.
    pub price: String,
    /// Whether the user has it now.
    pub active: bool,
    /// Calls left on a one-time purchase (`None`: unlimited or not applicable).
    pub calls_remaining: Option<i64>,
    /// When a subscription's paid period ends.
    pub access_until: Option<DateTime<Utc>>,
    /// Free calls left this month.
    pub free_calls_left: Option<i64>,
    /// Billed calls this month.
    pub calls_this_month: i64,
}

/// Why a webhook delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The tenant has no Stripe connection.
    #[error("this tenant is not connected to Stripe")]
    NotConnected,
    /// The signature does not verify.
    #[error("{0}")]
    Signature(webhook::SignatureError),
    /// The body is not a Stripe event.
    #[error("the body is not a Stripe event")]
    Malformed,
    /// Applying it failed; Stripe will retry.
    #[error("{0}")]
    Billing(#[from] BillingError),
}
