//! The end user's account: their plans this month, the provider's billing portal, and the
//! 15-minute signed link that opens the account page.

use super::{BillingError, BillingService, PlanStatus, UsageKind, period_of, store};
use crate::crypto;
use crate::oauth::EndUser;
use crate::tenant::Tenant;
use chrono::Duration;
use uuid::Uuid;

impl BillingService {
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
            let free_used = store::count_usage(
                &self.db,
                tenant.id,
                user.id.0,
                offer.id.0,
                &period,
                UsageKind::Free,
            )
            .await?;
            let billed = store::count_usage(
                &self.db,
                tenant.id,
                user.id.0,
                offer.id.0,
                &period,
                UsageKind::Metered,
            )
            .await?
                + store::count_usage(
                    &self.db,
                    tenant.id,
                    user.id.0,
                    offer.id.0,
                    &period,
                    UsageKind::Paid,
                )
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
}
