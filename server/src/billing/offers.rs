//! Offers (the plans a tenant sells), how a tool names the offer that prices it, and their
//! checks; the offer list is cached per tenant and dropped on every replica when it changes.

use super::{BillingError, BillingService, store};
pub use crate::tenant::OfferId;
use crate::tenant::{TenantId, TenantService, ToolConfig, ToolId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

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
    /// The stored (and admin API) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneTime => "one_time",
            Self::Subscription => "subscription",
            Self::Metered => "metered",
        }
    }

    pub(super) fn parse(raw: &str) -> Option<Self> {
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
    /// Days a `past_due` subscription keeps access while Stripe retries (0-30; 3 unless the
    /// operator says).
    pub past_due_grace_days: i32,
}

impl Offer {
    /// How long this plan's `past_due` subscriptions keep access.
    pub fn past_due_grace(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.past_due_grace_days))
    }

    /// The price as people read it: `$5.00`, `€9.00 per month`, `¥500 per call`.
    pub fn price_text(&self) -> String {
        let amount = api_types::money::display(self.amount, &self.currency);
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
    /// Past-due grace in days (default 3).
    pub past_due_grace_days: Option<i64>,
}

impl BillingService {
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
            if let Some(offer) = tool.pricing {
                names
                    .entry(offer)
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

    /// Checks an offer as [`create_offer`](Self::create_offer) would, without storing it: the
    /// offer a tool's preview shows for a plan not created yet (under a throwaway id).
    pub fn draft_offer(&self, new: NewOffer) -> Result<Offer, BillingError> {
        validated_offer(OfferId(Uuid::new_v4()), new, self.production)
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
        tenants.set_tool_pricing(tenant, tool, offer).await?;
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
}

/// The offer that prices `tool`, among its tenant's `offers`; `None` for a free tool (or one
/// whose offer is gone). The one answer to "which offer prices this tool": `tools/list`, the
/// gate, the billing tools and the dashboard all ask here.
pub fn offer_of<'a>(offers: &'a [Offer], tool: &ToolConfig) -> Option<&'a Offer> {
    let id = tool.pricing?;
    offers.iter().find(|o| o.id == id)
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
    let grace = new
        .past_due_grace_days
        .unwrap_or(i64::from(api_types::validate::DEFAULT_PAST_DUE_GRACE_DAYS));
    api_types::validate::past_due_grace_days(grace).map_err(BillingError::Invalid)?;
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
        past_due_grace_days: i32::try_from(grace)
            .unwrap_or(api_types::validate::DEFAULT_PAST_DUE_GRACE_DAYS),
    })
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
}
