//! Paid tools: offers (plans) and their pricing models, the gate a paid tool call passes,
//! checkout through a payment provider (Stripe, or the built-in sandbox), webhooks, entitlements,
//! and usage metering through an outbox.
//!
//! Entitlements are decided from Tollgate's own database, never by asking Stripe on the hot path.
//! Every change to money or entitlements is written in one transaction with the record that makes
//! it idempotent: the webhook event id, the checkout session id, or the tool call id.

mod customers;
mod fast;
mod meter;
mod pages;
mod provider;
pub(crate) mod routes;
mod sandbox;
mod store;
use store::PurchaseKey;
mod stripe;
pub mod webhook;

pub use fast::{Admission, Pass};
pub use provider::{
    CheckoutMode, CheckoutRequest, CheckoutSession, MeterEvent, PaymentProvider, ProviderError,
};
pub use sandbox::SandboxPayments;
pub use stripe::StripePayments;

use crate::clock::Clock;
use crate::config::PublicUrl;
use crate::crypto::{self, MasterKey};
use crate::oauth::EndUser;
use crate::tenant::{Tenant, TenantId, TenantService, TenantSettings, ToolId};
use chrono::{DateTime, Datelike, Duration, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;
use uuid::Uuid;

/// How long a checkout stays open.
pub const CHECKOUT_TTL: Duration = Duration::hours(1);
/// A reservation older than this belonged to a call that never finished (a crash): released.
pub const STALE_RESERVATION: Duration = Duration::minutes(10);

/// An offer's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OfferId(pub Uuid);

/// How an offer charges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    /// One payment buys N calls (or unlimited use).
    OneTime,
    /// An active or trialing subscription unlocks the tools.
    Subscription,
    /// A subscription with a metered price: every successful call is a meter event.
    Metered,
}

impl OfferKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::OneTime => "one_time",
            Self::Subscription => "subscription",
            Self::Metered => "metered",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "one_time" => Some(Self::OneTime),
            "subscription" => Some(Self::Subscription),
            "metered" => Some(Self::Metered),
            _ => None,
        }
    }
}

/// A plan a tenant sells. One offer may cover several tools: paying once unlocks all of them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// Its id.
    pub id: OfferId,
    /// Its display name.
    pub name: String,
    /// How it charges.
    pub kind: OfferKind,
    /// The provider's price id (`price_…`; for the sandbox, any label).
    pub price_id: String,
    /// The price in minor units of `currency` (per period for subscriptions, per unit for
    /// metered).
    pub amount: i64,
    /// ISO currency code, lower case.
    pub currency: String,
    /// `month` or `year` for subscriptions.
    pub interval: Option<String>,
    /// Calls one purchase buys (one-time); `None` is unlimited.
    pub calls: Option<i64>,
    /// The billing meter event name (metered).
    pub meter_event: Option<String>,
    /// The value each successful call reports.
    pub meter_value: i64,
    /// Free calls per user per calendar month before payment is asked.
    pub free_quota: Option<i32>,
    /// Most billed calls per user per calendar month (metered).
    pub spend_cap: Option<i64>,
    /// Why payment is asked, shown to the user.
    pub payment_reason: String,
    /// Where the browser goes after paying (default: Tollgate's success page).
    pub success_url: Option<String>,
}

impl Offer {
    /// The price as people read it: `$5.00`, `€9.00 per month`, `¥500 per call`.
    pub fn price_text(&self) -> String {
        let amount = format_money(self.amount, &self.currency);
        match self.kind {
            OfferKind::OneTime => match self.calls {
                Some(n) => format!("{amount} for {n} calls"),
                None => format!("{amount}, unlimited use"),
            },
            OfferKind::Subscription => {
                format!(
                    "{amount} per {}",
                    self.interval.as_deref().unwrap_or("month")
                )
            }
            OfferKind::Metered => format!(
                "{amount} per call, billed every {}",
                self.interval.as_deref().unwrap_or("month")
            ),
        }
    }
}

/// Formats minor units, knowing the zero-decimal currencies.
pub fn format_money(minor: i64, currency: &str) -> String {
    let currency = currency.to_ascii_lowercase();
    let zero_decimal = matches!(
        currency.as_str(),
        "bif"
            | "clp"
            | "djf"
            | "gnf"
            | "jpy"
            | "kmf"
            | "krw"
            | "mga"
            | "pyg"
            | "rwf"
            | "ugx"
            | "vnd"
            | "vuv"
            | "xaf"
            | "xof"
            | "xpf"
    );
    let symbol = match currency.as_str() {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        "jpy" => "¥",
        _ => "",
    };
    let number = if zero_decimal {
        minor.to_string()
    } else {
        format!("{}.{:02}", minor / 100, (minor % 100).abs())
    };
    if symbol.is_empty() {
        format!("{number} {}", currency.to_ascii_uppercase())
    } else {
        format!("{symbol}{number}")
    }
}

/// A new offer, as an operator defines it.
#[derive(Clone, Debug, Deserialize)]
pub struct NewOffer {
    /// Display name.
    pub name: String,
    /// How it charges.
    pub kind: OfferKind,
    /// The provider price id.
    pub price_id: String,
    /// Minor units.
    pub amount: i64,
    /// Currency code.
    pub currency: String,
    /// `month` or `year` (subscriptions).
    pub interval: Option<String>,
    /// Calls per purchase (one-time).
    pub calls: Option<i64>,
    /// Meter event name (metered).
    pub meter_event: Option<String>,
    /// Meter value per call (default 1).
    pub meter_value: Option<i64>,
    /// Free calls per month.
    pub free_quota: Option<i32>,
    /// Spend cap in calls per month (metered).
    pub spend_cap: Option<i64>,
    /// Payment reason text.
    pub payment_reason: Option<String>,
    /// Success URL.
    pub success_url: Option<String>,
}

/// A tenant's Stripe connection; the secrets are sealed under the master key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeConnection {
    /// The secret key, sealed.
    pub secret_key_sealed: String,
    /// The webhook signing secrets, sealed (several during a roll).
    pub webhook_secrets_sealed: Vec<String>,
    /// `sk_test_…1234`: what the dashboard may show.
    pub key_hint: String,
}

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

/// What looking for the user's checkout found.
/// What one turn under the checkout lock found.
enum Found {
    /// Payment is needed here.
    Ask(PaymentRequired),
    /// This open purchase was paid at the provider: fulfil it with this session.
    Paid(Uuid, Box<CheckoutSession>),
}

enum Checkout {
    /// Payment is needed here.
    Ask(PaymentRequired),
    /// This open purchase turned out to be paid, and is now fulfilled.
    Paid(Uuid),
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
}

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
            purchase_locks: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(std::time::Duration::from_secs(600))
                .build(),
            meter_rounds: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    fn tenant_base(&self, tenant: &Tenant) -> String {
        self.public.join(&format!("/t/{}", tenant.slug))
    }

    /// The provider that takes this tenant's payments: Stripe when connected, else the sandbox.
    pub fn provider_for(&self, tenant: &Tenant) -> Result<Arc<dyn PaymentProvider>, BillingError> {
        match &tenant.settings.stripe {
            Some(connection) => {
                let key = self.key.open(
                    &connection.secret_key_sealed,
                    &stripe_key_context(tenant.id),
                )?;
                Ok(Arc::new(StripePayments::new(
                    key.expose(),
                    &self.stripe_api_url,
                )?))
            }
            None if self.production => Err(BillingError::Invalid(
                "this service has not connected its payment provider yet".into(),
            )),
            None => Ok(Arc::new(SandboxPayments {
                tenant_base: self.tenant_base(tenant),
            })),
        }
    }

    /// Connects a tenant to its Stripe account. The secret key must be a secret or restricted
    /// key (`sk_`/`rk_`), never a publishable one, and one Stripe accepts (checked by reading
    /// the balance before anything is stored).
    pub async fn connect_stripe(
        &self,
        tenants: &TenantService,
        tenant: &Tenant,
        secret_key: &str,
        webhook_secrets: &[&str],
    ) -> Result<(), BillingError> {
        let secret_key = secret_key.trim();
        if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_")) {
            return Err(BillingError::Invalid(
                "use a secret (sk_…) or restricted (rk_…) Stripe key, not a publishable one".into(),
            ));
        }
        if webhook_secrets.is_empty() || webhook_secrets.iter().any(|s| !s.starts_with("whsec_")) {
            return Err(BillingError::Invalid(
                "add the webhook endpoint's signing secret (whsec_…)".into(),
            ));
        }
        // Stripe is asked first: a key it refuses is never stored, so a typo cannot take the
        // tenant out of the sandbox and break its paid tools for everybody.
        let candidate = StripePayments::new(secret_key, &self.stripe_api_url)?;
        let mask = |message: String| message.replace(secret_key, "sk_…");
        match candidate.check_connection().await {
            Ok(_) => {}
            Err(ProviderError::Refused(message)) => {
                return Err(BillingError::Invalid(format!(
                    "Stripe refused this key, so nothing was changed. {}",
                    mask(message)
                )));
            }
            Err(ProviderError::Unavailable(message)) => {
                return Err(BillingError::Provider(ProviderError::Unavailable(format!(
                    "{}; nothing was changed, try again",
                    mask(message)
                ))));
            }
            Err(other) => return Err(other.into()),
        }
        let hint_tail: String = secret_key
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let hint_head = secret_key.split('_').take(2).collect::<Vec<_>>().join("_");
        let connection = StripeConnection {
            secret_key_sealed: self.key.seal(secret_key, &stripe_key_context(tenant.id))?,
            webhook_secrets_sealed: webhook_secrets
                .iter()
                .map(|s| self.key.seal(s, &webhook_secret_context(tenant.id)))
                .collect::<Result<_, _>>()?,
            key_hint: format!("{hint_head}_…{hint_tail}"),
        };
        let settings = TenantSettings {
            stripe: Some(connection),
            ..tenant.settings.clone()
        };
        tenants.update_settings(tenant.id, &settings).await?;
        Ok(())
    }

    /// Disconnects a tenant from Stripe: its payments go through the sandbox again (in
    /// production mode, paid tools wait until a provider is connected). Purchases and
    /// entitlements already made stay.
    pub async fn disconnect_stripe(
        &self,
        tenants: &TenantService,
        tenant: &Tenant,
    ) -> Result<Tenant, BillingError> {
        // Read afresh, so that a settings change made meanwhile is kept.
        let current = tenants.get_tenant_by_id(tenant.id).await?;
        let settings = TenantSettings {
            stripe: None,
            ..current.settings
        };
        Ok(tenants.update_settings(tenant.id, &settings).await?)
    }

    /// Asks the tenant's payment provider whether its credentials work. Never fails: a
    /// refusal is `ok: false` with the provider's message (Stripe echoes at most a masked key;
    /// the key itself is never put in the message).
    pub async fn test_connection(&self, tenant: &Tenant) -> frontend::wire::ConnectionTest {
        let checked = match self.provider_for(tenant) {
            Ok(provider) => provider.check_connection().await.map_err(|e| match e {
                ProviderError::Refused(message) => message,
                ProviderError::Unavailable(message) => {
                    format!("Stripe could not be reached: {message}")
                }
                other @ ProviderError::Unsupported => other.to_string(),
            }),
            Err(error) => Err(error.to_string()),
        };
        match checked {
            Ok(message) => frontend::wire::ConnectionTest { ok: true, message },
            Err(message) => frontend::wire::ConnectionTest {
                ok: false,
                message: self.without_secret_key(tenant, message),
            },
        }
    }

    /// `message` with the tenant's Stripe secret key masked, should it appear.
    fn without_secret_key(&self, tenant: &Tenant, message: String) -> String {
        let key = tenant.settings.stripe.as_ref().and_then(|c| {
            self.key
                .open(&c.secret_key_sealed, &stripe_key_context(tenant.id))
                .ok()
        });
        match key {
            Some(key) if !key.expose().is_empty() && message.contains(key.expose()) => {
                message.replace(key.expose(), "sk_…")
            }
            _ => message,
        }
    }

    /// The active prices in the tenant's Stripe account (at most 100, newest first), for
    /// choosing an offer's price; none on the sandbox.
    pub async fn stripe_prices(
        &self,
        tenant: &Tenant,
    ) -> Result<Vec<frontend::wire::StripePrice>, BillingError> {
        let provider = self.provider_for(tenant)?;
        Ok(provider.list_prices().await?)
    }

    /// Forgets what this service caches about a tenant (its offers); for a deleted tenant.
    pub async fn forget_tenant(&self, tenant: TenantId) {
        self.offers_changed(tenant).await;
    }

    /// Drops the tenant's offers here and tells the other replicas to drop theirs.
    async fn offers_changed(&self, tenant: TenantId) {
        self.offers.invalidate(&tenant).await;
        self.changes
            .publish(&crate::changes::Change::Offers { tenant: tenant.0 })
            .await;
    }

    /// Drops the cached offers of `tenant` (another replica changed them).
    pub async fn forget_offers(&self, tenant: TenantId) {
        self.offers.invalidate(&tenant).await;
    }

    /// Drops every cached offer list (change notifications may have been missed).
    pub fn forget_all_offers(&self) {
        self.offers.invalidate_all();
    }

    /// The names of the tools each offer prices, in `tools/list` order (disabled tools
    /// included). Offers that price no tool are absent.
    pub async fn offer_tool_names(
        &self,
        tenants: &TenantService,
        tenant: TenantId,
    ) -> Result<HashMap<OfferId, Vec<String>>, BillingError> {
        let mut names: HashMap<OfferId, Vec<String>> = HashMap::new();
        for tool in tenants.list_tools(tenant).await? {
            if let Some(offer) = pricing_offer_id(tool.pricing.as_ref()) {
                names
                    .entry(OfferId(offer))
                    .or_default()
                    .push(tool.name.as_str().to_owned());
            }
        }
        Ok(names)
    }

    /// Creates an offer.
    pub async fn create_offer(
        &self,
        tenant: TenantId,
        new: NewOffer,
    ) -> Result<Offer, BillingError> {
        let offer = validated_offer(OfferId(Uuid::new_v4()), new, self.production)?;
        store::insert_offer(&self.db, tenant, &offer, self.clock.now()).await?;
        self.offers_changed(tenant).await;
        Ok(offer)
    }

    /// Changes an offer, checked as [`create_offer`](Self::create_offer) checks a new one. The
    /// change applies to future purchases and at once to the price the tenant's `tools/list`
    /// shows (it reads offers through the cache invalidated here); entitlements already bought
    /// stay as they are. Another tenant's or an unknown offer is [`BillingError::OfferNotFound`]
    /// and nothing changes.
    pub async fn update_offer(
        &self,
        tenant: TenantId,
        offer: OfferId,
        new: NewOffer,
    ) -> Result<Offer, BillingError> {
        let offer = validated_offer(offer, new, self.production)?;
        if !store::update_offer(&self.db, tenant, &offer, self.clock.now()).await? {
            return Err(BillingError::OfferNotFound);
        }
        self.offers_changed(tenant).await;
        Ok(offer)
    }

    /// Prices a tool with an offer (or makes it free with `None`).
    pub async fn price_tool(
        &self,
        tenants: &TenantService,
        tenant: TenantId,
        tool: ToolId,
        offer: Option<OfferId>,
    ) -> Result<(), BillingError> {
        if let Some(offer) = offer
            && !self.offers(tenant).await?.iter().any(|o| o.id == offer)
        {
            return Err(BillingError::OfferNotFound);
        }
        let pricing = offer.map(|o| serde_json::json!({"offer_id": o.0}));
        tenants.set_tool_pricing(tenant, tool, pricing).await?;
        Ok(())
    }

    /// A tenant's offers (cached briefly, invalidated by changes made here).
    pub async fn offers(&self, tenant: TenantId) -> Result<Arc<Vec<Offer>>, BillingError> {
        let db = self.db.clone();
        self.offers
            .try_get_with(tenant, async move {
                store::list_offers(&db, tenant).await.map(Arc::new)
            })
            .await
            .map_err(|e: Arc<sea_orm::DbErr>| BillingError::Database((*e).clone()))
    }

    /// The offer a tool's pricing names, if any.
    pub async fn offer_for_pricing(
        &self,
        tenant: TenantId,
        pricing: Option<&serde_json::Value>,
    ) -> Result<Option<Offer>, BillingError> {
        let Some(id) = pricing_offer_id(pricing) else {
            return Ok(None);
        };
        Ok(self
            .offers(tenant)
            .await?
            .iter()
            .find(|o| o.id.0 == id)
            .cloned())
    }

    /// The gate of a paid tool call: reserve a use, or say how to pay.
    pub async fn reserve(
        &self,
        tenant: &Tenant,
        user: &EndUser,
        offer: &Offer,
        tool: &str,
    ) -> Result<Gate, BillingError> {
        if let Some(reservation) = self.try_reserve(tenant, user, offer, tool).await? {
            return Ok(reservation);
        }
        match self.payment_required(tenant, user, offer).await? {
            Checkout::Ask(required) => Ok(Gate::Pay(required)),
            // The provider had confirmed a payment the webhook had not told us about yet. Should
            // it still grant nothing (say the customer did not match), point at that purchase.
            Checkout::Paid(purchase) => Ok(self
                .try_reserve(tenant, user, offer, tool)
                .await?
                .unwrap_or_else(|| Gate::Pay(self.required(tenant, offer, purchase, true)))),
        }
    }

    /// Reserves a use when the user has one (free quota, entitlement); `None` when not.
    async fn try_reserve(
        &self,
        tenant: &Tenant,
        user: &EndUser,
        offer: &Offer,
        tool: &str,
    ) -> Result<Option<Gate>, BillingError> {
        let now = self.clock.now();
        let period = period_of(now);
        let call_id = format!("call_{}", Uuid::new_v4().simple());
        let txn = crate::db::begin_write(&self.db).await?;
        // Counting uses and then inserting one is a decision only if no other transaction makes
        // the same one in between, in any process: each (tenant, user, offer) takes its turn.
        crate::db::lock_key(&txn, &use_lock_key(tenant.id, user.id.0, offer.id.0)).await?;
        // Free quota first: a free call costs nothing and is never metered.
        if let Some(quota) = offer.free_quota
            && quota > 0
        {
            let used =
                store::count_usage(&txn, tenant.id, user.id.0, offer.id.0, &period, "free").await?;
            if used < i64::from(quota) {
                let usage = store::insert_usage(
                    &txn, tenant.id, user.id.0, offer.id.0, tool, &call_id, None, "free", &period,
                    now,
                )
                .await?;
                txn.commit().await?;
                return Ok(Some(Gate::Go(Reservation {
                    usage_id: usage,
                    entitlement: None,
                    metered: None,
                    tenant: tenant.id,
                    user: user.id.0,
                    call_id,
                    billed: false,
                })));
            }
        }
        if let Some(entitlement) =
            store::usable_entitlement(&txn, tenant.id, user.id.0, offer.id.0, now).await?
        {
            if offer.kind == OfferKind::Metered
                && let Some(cap) = offer.spend_cap
            {
                let billed =
                    store::count_usage(&txn, tenant.id, user.id.0, offer.id.0, &period, "metered")
                        .await?;
                if billed >= cap {
                    txn.rollback().await?;
                    return Ok(Some(Gate::Pay(PaymentRequired {
                        purchase_id: Uuid::nil(),
                        payment_url: format!("{}/account", self.tenant_base(tenant)),
                        offer_name: offer.name.clone(),
                        price: offer.price_text(),
                        reason: format!(
                            "You reached this month's spending cap of {cap} calls for {}. It resets next month.",
                            offer.name
                        ),
                        pending: false,
                        capped: true,
                    })));
                }
            }
            let consumed = match entitlement.calls_remaining {
                Some(_) => store::consume_call(&txn, tenant.id, entitlement.id).await?,
                None => true,
            };
            if consumed {
                let kind = if offer.kind == OfferKind::Metered {
                    "metered"
                } else {
                    "paid"
                };
                let usage = store::insert_usage(
                    &txn,
                    tenant.id,
                    user.id.0,
                    offer.id.0,
                    tool,
                    &call_id,
                    Some(entitlement.id),
                    kind,
                    &period,
                    now,
                )
                .await?;
                txn.commit().await?;
                let metered = (offer.kind == OfferKind::Metered).then(|| {
                    (
                        offer.meter_event.clone().unwrap_or_default(),
                        offer.meter_value,
                    )
                });
                return Ok(Some(Gate::Go(Reservation {
                    usage_id: usage,
                    entitlement: entitlement.calls_remaining.map(|_| entitlement.id),
                    metered,
                    tenant: tenant.id,
                    user: user.id.0,
                    call_id,
                    billed: true,
                })));
            }
        }
        txn.rollback().await?;
        Ok(None)
    }

    /// The tool succeeded: the use is final; a metered use is queued for the meter, in the same
    /// transaction.
    pub async fn commit(
        &self,
        tenant: &Tenant,
        reservation: &Reservation,
    ) -> Result<(), BillingError> {
        let now = self.clock.now();
        let txn = crate::db::begin_write(&self.db).await?;
        if !store::commit_usage(&txn, reservation.tenant, reservation.usage_id).await? {
            txn.rollback().await?;
            return Ok(());
        }
        if let Some((event_name, value)) = &reservation.metered {
            let provider = self.provider_for(tenant)?;
            let customer = store::find_customer(&txn, tenant.id, reservation.user, provider.name())
                .await?
                .unwrap_or_default();
            store::insert_meter_event(
                &txn,
                tenant.id,
                &format!("tg_{}", reservation.call_id),
                event_name,
                &customer,
                *value,
                now,
            )
            .await?;
        }
        txn.commit().await?;
        if reservation.metered.is_some() {
            self.meter_wakeup.notify_one();
        }
        Ok(())
    }

    /// The tool failed: nothing is charged, the call is given back.
    pub async fn release(&self, reservation: &Reservation) -> Result<(), BillingError> {
        let txn = crate::db::begin_write(&self.db).await?;
        if store::delete_reserved_usage(&txn, reservation.tenant, reservation.usage_id).await?
            && let Some(entitlement) = reservation.entitlement
        {
            store::give_back_call(&txn, reservation.tenant, entitlement).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Releases reservations of calls that never finished (the process stopped mid-call).
    pub async fn release_stale_reservations(&self) -> Result<usize, BillingError> {
        let cutoff = self.clock.now() - STALE_RESERVATION;
        let stale = store::stale_reservations(&self.db, cutoff).await?;
        let count = stale.len();
        for (tenant, usage, entitlement) in stale {
            let txn = crate::db::begin_write(&self.db).await?;
            if store::delete_reserved_usage(&txn, TenantId(tenant), usage).await?
                && let Some(entitlement) = entitlement
            {
                store::give_back_call(&txn, TenantId(tenant), entitlement).await?;
            }
            txn.commit().await?;
        }
        Ok(count)
    }

    /// The user's customer id at the payment provider, created there on first use.
    async fn provider_customer(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        user: &EndUser,
        provider: &dyn PaymentProvider,
    ) -> Result<String, BillingError> {
        if let Some(existing) =
            store::find_customer(conn, tenant.id, user.id.0, provider.name()).await?
        {
            return Ok(existing);
        }
        let metadata = HashMap::from([
            ("tenant".to_owned(), tenant.id.to_string()),
            ("user".to_owned(), user.id.0.to_string()),
        ]);
        // One deterministic key per (tenant, user): concurrent first purchases create one customer.
        let key = format!("tg-cus-{}-{}", tenant.id, user.id.0);
        let created = provider
            .create_customer(
                user.email.as_deref(),
                user.display_name.as_deref(),
                metadata,
                &key,
            )
            .await?;
        store::insert_customer(
            conn,
            tenant.id,
            user.id.0,
            provider.name(),
            &created,
            self.clock.now(),
        )
        .await?;
        Ok(
            store::find_customer(conn, tenant.id, user.id.0, provider.name())
                .await?
                .unwrap_or(created),
        )
    }

    /// Finds the user's open purchase of this offer, or creates one at the provider; or finds,
    /// by asking the provider, that the open purchase was paid (it is now fulfilled).
    ///
    /// One caller at a time per (tenant, user, offer), in every process: on PostgreSQL a
    /// transaction holds an advisory lock and does every query of the turn on its own
    /// connection (a caller waiting for the lock then holds one connection, never two, so a
    /// queue of callers cannot exhaust the pool under the lock holder); on SQLite, one
    /// process, a lock in memory, so the write lock is not held across the provider's API.
    async fn payment_required(
        &self,
        tenant: &Tenant,
        user: &EndUser,
        offer: &Offer,
    ) -> Result<Checkout, BillingError> {
        let key = format!(
            "checkout:{}",
            use_lock_key(tenant.id, user.id.0, offer.id.0)
        );
        let found = if crate::db::is_shared(&self.db) {
            let txn = sea_orm::TransactionTrait::begin(&self.db).await?;
            crate::db::lock_key(&txn, &key).await?;
            let found = self
                .find_or_open_checkout(&txn, tenant, user, offer)
                .await?;
            txn.commit().await?;
            found
        } else {
            let lock = self.purchase_locks.get_with(key, Arc::default);
            let _held = lock.lock().await;
            self.find_or_open_checkout(&self.db, tenant, user, offer)
                .await?
        };
        match found {
            Found::Ask(required) => Ok(Checkout::Ask(required)),
            Found::Paid(purchase, session) => {
                self.fulfil_session(tenant, &session, self.clock.now().timestamp())
                    .await?;
                Ok(Checkout::Paid(purchase))
            }
        }
    }

    /// One turn of `payment_required`, every query on `conn`.
    async fn find_or_open_checkout(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        user: &EndUser,
        offer: &Offer,
    ) -> Result<Found, BillingError> {
        let provider = self.provider_for(tenant)?;
        let open_key = format!("{}:{}", user.id.0, offer.id.0);
        let now = self.clock.now();
        if let Some(open) = store::find_open_purchase(conn, tenant.id, &open_key).await? {
            if open.expires_at > now + Duration::minutes(2) {
                // The webhook may be late: ask the provider once, on this retry.
                if open.status == "open"
                    && let Ok(session) = provider.retrieve_checkout(&open.session_id).await
                    && session.status == "complete"
                    && matches!(
                        session.payment_status.as_str(),
                        "paid" | "no_payment_required"
                    )
                {
                    return Ok(Found::Paid(open.id, Box::new(session)));
                }
                return Ok(Found::Ask(self.required(
                    tenant,
                    offer,
                    open.id,
                    open.status == "processing",
                )));
            }
            store::set_purchase_status(conn, tenant.id, open.id, "expired", true).await?;
        }
        let customer = self
            .provider_customer(conn, tenant, user, provider.as_ref())
            .await?;
        let attempt = store::count_closed_purchases(conn, tenant.id, user.id.0, offer.id.0).await?;
        let idempotency_key = format!("tg-co-{}-{}-{}-{attempt}", tenant.id, user.id.0, offer.id.0);
        // Derived from the idempotency key, so concurrent requests agree on the purchase id.
        let purchase_id = Uuid::parse_str(&crypto::hash_token(&idempotency_key)[..32])
            .unwrap_or_else(|_| Uuid::new_v4());
        let base = self.tenant_base(tenant);
        // Every parameter sent under one idempotency key must be the same on a repeat, so the
        // expiry is rounded to a 5-minute step (it lands 60 to 65 minutes ahead).
        let step = 300;
        let expires_at = DateTime::<Utc>::from_timestamp(
            now.timestamp() - now.timestamp().rem_euclid(step) + CHECKOUT_TTL.num_seconds() + step,
            0,
        )
        .unwrap_or(now + CHECKOUT_TTL);
        let request = CheckoutRequest {
            mode: if offer.kind == OfferKind::OneTime {
                CheckoutMode::Payment
            } else {
                CheckoutMode::Subscription
            },
            customer: customer.clone(),
            price_id: offer.price_id.clone(),
            metered: offer.kind == OfferKind::Metered,
            success_url: format!("{base}/pay/{purchase_id}/success"),
            cancel_url: format!("{base}/pay/{purchase_id}/cancel"),
            client_reference_id: purchase_id.to_string(),
            metadata: HashMap::from([
                ("tollgate_tenant".to_owned(), tenant.id.to_string()),
                ("tollgate_user".to_owned(), user.id.0.to_string()),
                ("tollgate_offer".to_owned(), offer.id.0.to_string()),
                ("tollgate_purchase".to_owned(), purchase_id.to_string()),
            ]),
            expires_at: expires_at.timestamp(),
            idempotency_key: idempotency_key.clone(),
        };
        let session = provider.create_checkout(&request).await?;
        let url = session.url.clone().unwrap_or_default();
        store::insert_purchase(
            conn,
            tenant.id,
            &store::NewPurchase {
                id: purchase_id,
                user: user.id.0,
                offer: offer.id.0,
                provider: provider.name().to_owned(),
                session_id: session.id.clone(),
                checkout_url: url,
                open_key,
                idempotency_key,
                expires_at,
            },
            now,
        )
        .await?;
        Ok(Found::Ask(self.required(tenant, offer, purchase_id, false)))
    }

    fn required(
        &self,
        tenant: &Tenant,
        offer: &Offer,
        purchase_id: Uuid,
        pending: bool,
    ) -> PaymentRequired {
        PaymentRequired {
            purchase_id,
            payment_url: format!("{}/pay/{purchase_id}", self.tenant_base(tenant)),
            offer_name: offer.name.clone(),
            price: offer.price_text(),
            reason: offer.payment_reason.clone(),
            pending,
            capped: false,
        }
    }

    /// Applies a completed (or paid-later) checkout session: the purchase is paid and the
    /// entitlement granted, once, whoever calls first (webhook, success page, retry).
    async fn fulfil_session(
        &self,
        tenant: &Tenant,
        session: &CheckoutSession,
        event_created: i64,
    ) -> Result<(), BillingError> {
        let txn = crate::db::begin_write(&self.db).await?;
        self.fulfil_in(&txn, tenant, session, event_created).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn fulfil_in(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        session: &CheckoutSession,
        event_created: i64,
    ) -> Result<bool, BillingError> {
        let Some(purchase) =
            store::find_purchase_by(txn, tenant.id, PurchaseKey::Session(&session.id)).await?
        else {
            tracing::info!(tenant.slug = %tenant.slug, session = %session.id, "checkout session not created by Tollgate: ignored");
            return Ok(false);
        };
        if !matches!(
            session.payment_status.as_str(),
            "paid" | "no_payment_required"
        ) {
            store::set_purchase_status(txn, tenant.id, purchase.id, "processing", false).await?;
            return Ok(true);
        }
        // The session must belong to the customer Tollgate created for this purchase's user.
        if let (Some(paid_by), Some(ours)) = (
            session.customer.as_deref(),
            store::find_customer(txn, tenant.id, purchase.end_user_id, &purchase.provider).await?,
        ) && paid_by != ours
        {
            tracing::warn!(tenant.slug = %tenant.slug, session = %session.id, "checkout customer does not match the purchase's user: not granted");
            return Ok(false);
        }
        let Some(offer) = store::find_offer(txn, tenant.id, purchase.offer_id).await? else {
            return Ok(false);
        };
        store::mark_paid(
            txn,
            tenant.id,
            purchase.id,
            session.payment_intent.as_deref(),
            session.subscription.as_deref(),
        )
        .await?;
        let source = match (&offer.kind, &session.subscription) {
            (OfferKind::OneTime, _) | (_, None) => format!("checkout:{}", session.id),
            (_, Some(subscription)) => format!("subscription:{subscription}"),
        };
        store::grant(
            txn,
            tenant.id,
            &store::Grant {
                user: purchase.end_user_id,
                offer: offer.id.0,
                source,
                calls: if offer.kind == OfferKind::OneTime {
                    offer.calls
                } else {
                    None
                },
                period_end: None,
                // The checkout says nothing of a subscription's later states: its own events
                // (created, updated, deleted) all apply after it.
                event_created: if offer.kind == OfferKind::OneTime {
                    event_created
                } else {
                    0
                },
            },
            self.clock.now(),
        )
        .await?;
        Ok(true)
    }

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
            .is_some_and(|p| p.status == "paid");
        if paid || !store::record_event(&txn, tenant.id, &event_id, kind, now).await? {
            txn.rollback().await?;
            return Ok(true);
        }
        if self
            .fulfil_in(&txn, tenant, &session, now.timestamp())
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

    /// A purchase, for the payment pages.
    pub async fn purchase(
        &self,
        tenant: &Tenant,
        id: Uuid,
    ) -> Result<Option<PurchaseView>, BillingError> {
        let Some(purchase) = store::find_purchase(&self.db, tenant.id, id).await? else {
            return Ok(None);
        };
        let offer = store::find_offer(&self.db, tenant.id, purchase.offer_id).await?;
        Ok(Some(PurchaseView {
            id: purchase.id,
            status: purchase.status,
            checkout_url: purchase.checkout_url,
            session_id: purchase.session_id,
            offer,
        }))
    }

    /// The success page's check: when the webhook has not arrived yet, ask the provider once.
    pub async fn confirm_purchase(
        &self,
        tenant: &Tenant,
        id: Uuid,
    ) -> Result<Option<PurchaseView>, BillingError> {
        if let Some(view) = self.purchase(tenant, id).await?
            && view.status == "open"
        {
            let provider = self.provider_for(tenant)?;
            if let Ok(session) = provider.retrieve_checkout(&view.session_id).await
                && session.status == "complete"
            {
                self.fulfil_session(tenant, &session, self.clock.now().timestamp())
                    .await?;
            }
        }
        self.purchase(tenant, id).await
    }

    /// The user's plans and usage this month.
    pub async fn status(
        &self,
        tenant: &Tenant,
        user: &EndUser,
    ) -> Result<Vec<PlanStatus>, BillingError> {
        let now = self.clock.now();
        let period = period_of(now);
        let mut plans = Vec::new();
        for offer in self.offers(tenant.id).await?.iter() {
            let entitlement =
                store::usable_entitlement(&self.db, tenant.id, user.id.0, offer.id.0, now).await?;
            let free_used =
                store::count_usage(&self.db, tenant.id, user.id.0, offer.id.0, &period, "free")
                    .await?;
            let billed = store::count_usage(
                &self.db, tenant.id, user.id.0, offer.id.0, &period, "metered",
            )
            .await?
                + store::count_usage(&self.db, tenant.id, user.id.0, offer.id.0, &period, "paid")
                    .await?;
            plans.push(PlanStatus {
                offer: offer.name.clone(),
                price: offer.price_text(),
                active: entitlement.is_some(),
                calls_remaining: entitlement.as_ref().and_then(|e| e.calls_remaining),
                access_until: entitlement.and_then(|e| e.period_end),
                free_calls_left: offer.free_quota.map(|q| (i64::from(q) - free_used).max(0)),
                calls_this_month: billed,
            });
        }
        Ok(plans)
    }

    /// A link to manage billing: the provider's portal for Stripe customers.
    pub async fn portal_url(
        &self,
        tenant: &Tenant,
        user: &EndUser,
    ) -> Result<String, BillingError> {
        let provider = self.provider_for(tenant)?;
        let account = format!("{}/account", self.tenant_base(tenant));
        match store::find_customer(&self.db, tenant.id, user.id.0, provider.name()).await? {
            Some(customer) => Ok(provider.portal_url(&customer, &account).await?),
            None => Ok(account),
        }
    }

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

    /// Starts the meter-event sender; it runs until `shutdown`.
    pub fn spawn_meter_sender(
        &self,
        tenants: TenantService,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        meter::spawn(self.clone(), tenants, shutdown)
    }

    /// A personal link to the account page, valid for 15 minutes.
    pub fn account_link(&self, tenant: &Tenant, user: &EndUser) -> String {
        let expires = (self.clock.now() + Duration::minutes(15)).timestamp();
        let sig = self.key.mac(
            "account-link",
            &format!("{}|{}|{expires}", tenant.id, user.id.0),
        );
        format!(
            "{}/account?user={}&expires={expires}&sig={sig}",
            self.tenant_base(tenant),
            user.id.0
        )
    }

    /// The user a signed account link names, when the link is genuine and fresh.
    pub async fn verify_account_link(
        &self,
        tenant: &Tenant,
        user: Uuid,
        expires: i64,
        sig: &str,
        oauth: &crate::oauth::OAuthService,
    ) -> Option<EndUser> {
        let expected = self
            .key
            .mac("account-link", &format!("{}|{user}|{expires}", tenant.id));
        if expires < self.clock.now().timestamp() || !crypto::constant_time_eq(&expected, sig) {
            return None;
        }
        oauth.find_end_user(tenant.id, user).await.ok().flatten()
    }

    /// Wakes the meter sender now (it also wakes on each new event and on its retry timer).
    pub fn wake_meter_sender(&self) {
        self.meter_wakeup.notify_one();
    }

    /// Counts the sender's delivery rounds: a receiver sees a change after each one.
    pub fn meter_rounds(&self) -> tokio::sync::watch::Receiver<u64> {
        self.meter_rounds.subscribe()
    }

    /// Meter events not yet delivered (for operators and tests).
    pub async fn pending_meter_events(&self) -> Result<u64, BillingError> {
        Ok(store::count_pending_meter_events(&self.db).await?)
    }
}

/// A purchase, as the payment pages show it.
#[derive(Clone, Debug)]
pub struct PurchaseView {
    /// Its id.
    pub id: Uuid,
    /// `open`, `processing`, `paid`, `expired`, `failed`, `refunded`.
    pub status: String,
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

/// The offer id a tool's pricing names (`{"offer_id": "…"}`), if any.
fn pricing_offer_id(pricing: Option<&serde_json::Value>) -> Option<Uuid> {
    pricing
        .and_then(|p| p.get("offer_id"))
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
}

/// Where the success page may send a buyer: https, without credentials in the URL; plain http
/// only to a loopback address in development. Tollgate redirects there from its own origin, so
/// anything looser would be an open redirect wearing Tollgate's name.
fn acceptable_success_url(raw: &str, production: bool) -> bool {
    let Ok(url) = url::Url::parse(raw.trim()) else {
        return false;
    };
    if !url.username().is_empty() || url.password().is_some() || url.host_str().is_none() {
        return false;
    }
    match url.scheme() {
        "https" => true,
        "http" => {
            !production && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        }
        _ => false,
    }
}

/// Checks an operator's offer and normalises it (trimmed names, lower-case currency, fields
/// that do not apply to its kind dropped), under the id `id`.
fn validated_offer(id: OfferId, new: NewOffer, production: bool) -> Result<Offer, BillingError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(BillingError::Invalid(
            "the offer name must be 1-200 characters".into(),
        ));
    }
    if new.price_id.trim().is_empty() {
        return Err(BillingError::Invalid("a price id is required".into()));
    }
    if new.amount < 0 {
        return Err(BillingError::Invalid(
            "the amount cannot be negative".into(),
        ));
    }
    let currency = new.currency.trim().to_ascii_lowercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(BillingError::Invalid(
            "the currency must be a 3-letter ISO code".into(),
        ));
    }
    if new.calls.is_some_and(|n| n < 1)
        || new.spend_cap.is_some_and(|n| n < 1)
        || new.free_quota.is_some_and(|n| n < 0)
    {
        return Err(BillingError::Invalid("call counts must be positive".into()));
    }
    if new.kind == OfferKind::Metered
        && new
            .meter_event
            .as_deref()
            .is_none_or(|e| e.trim().is_empty())
    {
        return Err(BillingError::Invalid(
            "a metered offer needs its meter event name".into(),
        ));
    }
    if let Some(url) = &new.success_url
        && !acceptable_success_url(url, production)
    {
        return Err(BillingError::Invalid(
            "the success URL must be an https:// URL (http:// only to this computer, and only in development)".into(),
        ));
    }
    Ok(Offer {
        id,
        name: name.to_owned(),
        kind: new.kind,
        price_id: new.price_id.trim().to_owned(),
        amount: new.amount,
        currency,
        interval: new.interval.filter(|_| new.kind != OfferKind::OneTime),
        calls: new.calls.filter(|_| new.kind == OfferKind::OneTime),
        meter_event: new.meter_event.filter(|_| new.kind == OfferKind::Metered),
        meter_value: new.meter_value.unwrap_or(1).max(1),
        free_quota: new.free_quota,
        spend_cap: new.spend_cap,
        payment_reason: new
            .payment_reason
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| format!("Payment is required to use {name}")),
        success_url: new.success_url,
    })
}

pub(crate) fn stripe_key_context(tenant: TenantId) -> String {
    format!("tenant:{tenant}:stripe_secret_key")
}

pub(crate) fn webhook_secret_context(tenant: TenantId) -> String {
    format!("tenant:{tenant}:stripe_webhook_secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_urls_are_https_or_loopback_in_development() {
        assert!(acceptable_success_url("https://shop.example/thanks", true));
        assert!(acceptable_success_url("http://127.0.0.1:3000/done", false));
        assert!(acceptable_success_url("http://localhost/done", false));
        for bad in [
            "http://shop.example/thanks",
            "javascript:alert(1)",
            "https://user:pw@shop.example/",
            "//evil.example",
            "ftp://x.example",
            "not a url",
        ] {
            assert!(!acceptable_success_url(bad, false), "{bad}");
        }
        assert!(!acceptable_success_url("http://127.0.0.1:3000/done", true));
    }

    #[test]
    fn money_is_formatted_in_minor_units_per_currency() {
        assert_eq!(format_money(500, "usd"), "$5.00");
        assert_eq!(format_money(1999, "EUR"), "€19.99");
        assert_eq!(format_money(500, "jpy"), "¥500");
        assert_eq!(format_money(1005, "chf"), "10.05 CHF");
    }
}
