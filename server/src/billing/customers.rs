//! The dashboard's view of a tenant's customers: its end users with their plans and billed
//! calls, and for one of them, their payments and usage. Domain types here; `routes.rs` turns
//! them into the admin API's wire types.

use super::records::{EndUserSummary, Entitlement, EntitlementStatus, PurchaseStatus};
use super::{BillingError, BillingService, Offer, period_of, store};
use crate::tenant::TenantId;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// What a plan is called when its offer is gone.
const UNKNOWN_PLAN: &str = "(removed plan)";

/// An end user as the customers page shows them.
#[derive(Clone, Debug)]
pub struct CustomerRecord {
    /// Who.
    pub user: EndUserSummary,
    /// Billed calls (paid or metered, committed) this calendar month.
    pub calls_this_month: u64,
    /// The plans they hold or held, oldest first.
    pub plans: Vec<HeldPlan>,
    /// Their payments, newest first (filled for one customer only).
    pub payments: Vec<Payment>,
    /// Their committed calls per tool and month, newest month first (one customer only).
    pub usage: Vec<ToolUsage>,
}

/// A plan an end user holds or held.
#[derive(Clone, Debug)]
pub struct HeldPlan {
    /// The offer's name ("(removed plan)" when it is gone).
    pub offer: String,
    /// Where it stands now.
    pub state: PlanState,
    /// Calls left (one-time purchases of N calls).
    pub calls_remaining: Option<i64>,
    /// The end of the paid period (subscriptions).
    pub period_end: Option<DateTime<Utc>>,
}

/// A held plan's state as the dashboard shows it: the stored status, unless an active
/// entitlement can no longer be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanState {
    /// Usable now.
    Active,
    /// Ended by Stripe (cancelled, refunded, disputed).
    Revoked,
    /// Active, but its paid period is over.
    Expired,
    /// Active, but no calls are left.
    Exhausted,
}

impl PlanState {
    /// How the admin API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Exhausted => "exhausted",
        }
    }
}

/// One purchase of an end user.
#[derive(Clone, Debug)]
pub struct Payment {
    /// The purchase id.
    pub id: Uuid,
    /// The offer's name ("(removed plan)" when it is gone).
    pub offer: String,
    /// Where it stands.
    pub status: PurchaseStatus,
    /// When the checkout was created.
    pub created_at: DateTime<Utc>,
    /// The offer's price as people read it (empty when the offer is gone).
    pub amount_text: String,
}

/// Committed calls of one tool in one month.
#[derive(Clone, Debug)]
pub struct ToolUsage {
    /// The tool's name at the time of the calls.
    pub tool: String,
    /// `YYYY-MM`.
    pub period: String,
    /// How many.
    pub calls: u64,
}

impl BillingService {
    /// Every end user of the tenant, newest first, with their plans and their billed calls
    /// this month; without payments and usage (see [`Self::customer`]).
    pub async fn customers(&self, tenant: TenantId) -> Result<Vec<CustomerRecord>, BillingError> {
        let now = self.clock.now();
        let offers = self.offers(tenant).await?;
        let users = store::list_end_users(&self.db, tenant).await?;
        let mut plans: HashMap<Uuid, Vec<HeldPlan>> = HashMap::new();
        for held in store::list_entitlements(&self.db, tenant, None).await? {
            plans
                .entry(held.end_user_id)
                .or_default()
                .push(plan(&offers, &held, now));
        }
        let calls: HashMap<Uuid, i64> =
            store::count_billed_usage_per_user(&self.db, tenant, None, &period_of(now))
                .await?
                .into_iter()
                .collect();
        Ok(users
            .into_iter()
            .map(|user| {
                let calls = calls.get(&user.id).copied().unwrap_or_default();
                let plans = plans.remove(&user.id).unwrap_or_default();
                customer(user, calls, plans)
            })
            .collect())
    }

    /// One end user of the tenant with their plans, payments (newest first) and committed
    /// calls per tool and month (free-quota calls included); `None` when the tenant has no
    /// such user.
    pub async fn customer(
        &self,
        tenant: TenantId,
        end_user: Uuid,
    ) -> Result<Option<CustomerRecord>, BillingError> {
        let Some(user) = store::find_end_user(&self.db, tenant, end_user).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let offers = self.offers(tenant).await?;
        let plans = store::list_entitlements(&self.db, tenant, Some(user.id))
            .await?
            .iter()
            .map(|held| plan(&offers, held, now))
            .collect();
        let calls =
            store::count_billed_usage_per_user(&self.db, tenant, Some(user.id), &period_of(now))
                .await?
                .into_iter()
                .map(|(_, calls)| calls)
                .sum();
        let payments = store::list_purchases_of(&self.db, tenant, user.id)
            .await?
            .into_iter()
            .map(|purchase| {
                let offer = offer_named(&offers, purchase.offer_id);
                Payment {
                    id: purchase.id,
                    offer: offer.map_or_else(|| UNKNOWN_PLAN.to_owned(), |o| o.name.clone()),
                    status: purchase.status,
                    created_at: purchase.created_at,
                    amount_text: offer.map(Offer::price_text).unwrap_or_default(),
                }
            })
            .collect();
        let usage = store::usage_per_tool(&self.db, tenant, user.id)
            .await?
            .into_iter()
            .map(|(tool, period, calls)| ToolUsage {
                tool,
                calls: u64::try_from(calls).unwrap_or_default(),
                period,
            })
            .collect();
        let mut customer = customer(user, calls, plans);
        customer.payments = payments;
        customer.usage = usage;
        Ok(Some(customer))
    }
}

fn customer(user: EndUserSummary, calls_this_month: i64, plans: Vec<HeldPlan>) -> CustomerRecord {
    CustomerRecord {
        user,
        calls_this_month: u64::try_from(calls_this_month).unwrap_or_default(),
        plans,
        payments: Vec::new(),
        usage: Vec::new(),
    }
}

fn offer_named(offers: &[Offer], id: Uuid) -> Option<&Offer> {
    offers.iter().find(|o| o.id.0 == id)
}

/// A held plan as the dashboard shows it. Its state is the stored status unless an active
/// one can no longer be used: expired past its period, exhausted without calls left.
fn plan(offers: &[Offer], held: &Entitlement, now: DateTime<Utc>) -> HeldPlan {
    // A suspended plan (unpaid, paused, disputed) shows as revoked: no access now.
    let state = if held.status != EntitlementStatus::Active {
        PlanState::Revoked
    } else if held.period_end.is_some_and(|end| end <= now) {
        PlanState::Expired
    } else if held.calls_remaining == Some(0) {
        PlanState::Exhausted
    } else {
        PlanState::Active
    };
    HeldPlan {
        offer: offer_named(offers, held.offer_id)
            .map_or_else(|| UNKNOWN_PLAN.to_owned(), |o| o.name.clone()),
        state,
        calls_remaining: held.calls_remaining,
        period_end: held.period_end,
    }
}
