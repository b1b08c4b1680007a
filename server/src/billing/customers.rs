//! The dashboard's view of a tenant's customers: its end users with their plans and billed
//! calls, and for one of them, their payments and usage.

use super::{BillingError, BillingService, Offer, period_of, store};
use crate::entity::{end_user, entitlement};
use crate::tenant::TenantId;
use chrono::{DateTime, SecondsFormat, Utc};
use frontend::wire::{Customer, CustomerPayment, CustomerPlan, CustomerUsage};
use std::collections::HashMap;
use uuid::Uuid;

/// What a plan is called when its offer is gone.
const UNKNOWN_PLAN: &str = "(removed plan)";

impl BillingService {
    /// Every end user of the tenant, newest first, with their plans and their billed calls
    /// this month; without payments and usage (see [`Self::customer`]).
    pub async fn customers(&self, tenant: TenantId) -> Result<Vec<Customer>, BillingError> {
        let now = self.clock.now();
        let offers = self.offers(tenant).await?;
        let users = store::list_end_users(&self.db, tenant).await?;
        let mut plans: HashMap<Uuid, Vec<CustomerPlan>> = HashMap::new();
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
    ) -> Result<Option<Customer>, BillingError> {
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
                CustomerPayment {
                    id: purchase.id.to_string(),
                    offer: offer.map_or_else(|| UNKNOWN_PLAN.to_owned(), |o| o.name.clone()),
                    status: purchase.status,
                    created_at: rfc3339(purchase.created_at),
                    amount_text: offer.map(Offer::price_text).unwrap_or_default(),
                }
            })
            .collect();
        let usage = store::usage_per_tool(&self.db, tenant, user.id)
            .await?
            .into_iter()
            .map(|(tool, period, calls)| CustomerUsage {
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

fn customer(user: end_user::Model, calls_this_month: i64, plans: Vec<CustomerPlan>) -> Customer {
    Customer {
        id: user.id.to_string(),
        login: user.login,
        name: user.display_name,
        email: user.email,
        created_at: rfc3339(user.created_at),
        calls_this_month: u64::try_from(calls_this_month).unwrap_or_default(),
        plans,
        payments: Vec::new(),
        usage: Vec::new(),
    }
}

fn offer_named(offers: &[Offer], id: Uuid) -> Option<&Offer> {
    offers.iter().find(|o| o.id.0 == id)
}

/// A held plan as the dashboard shows it. Its status is the stored one (`active`, `revoked`)
/// unless an active one can no longer be used: `expired` past its period, `exhausted` without
/// calls left.
fn plan(offers: &[Offer], held: &entitlement::Model, now: DateTime<Utc>) -> CustomerPlan {
    let status = if held.status != "active" {
        held.status.clone()
    } else if held.period_end.is_some_and(|end| end <= now) {
        "expired".to_owned()
    } else if held.calls_remaining == Some(0) {
        "exhausted".to_owned()
    } else {
        "active".to_owned()
    };
    CustomerPlan {
        offer: offer_named(offers, held.offer_id)
            .map_or_else(|| UNKNOWN_PLAN.to_owned(), |o| o.name.clone()),
        status,
        calls_remaining: held.calls_remaining,
        period_end: held.period_end.map(rfc3339),
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
