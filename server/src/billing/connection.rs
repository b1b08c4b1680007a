//! A tenant's Stripe connection: connecting (the key is checked with Stripe before it is
//! stored, sealed), disconnecting, testing, and the payment provider a tenant's payments go
//! through (Stripe when connected, else the sandbox).

use super::{
    BillingError, BillingService, PaymentProvider, ProviderError, ProviderPrice, SandboxPayments,
    StripePayments,
};
use crate::tenant::{StripeConnection, Tenant, TenantId, TenantService, TenantSettings};
use std::sync::Arc;

/// What asking the provider whether a tenant's credentials work found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionCheck {
    /// Whether they work.
    pub ok: bool,
    /// What to tell the operator (never the key).
    pub message: String,
}

impl BillingService {
    /// How many live Stripe subscriptions the tenant's end users hold (not ended; the
    /// sandbox's do not count). Deleting a tenant with any would leave them charging at
    /// Stripe while Tollgate no longer serves what they pay for, so the admin API refuses it.
    pub async fn live_subscriptions(&self, tenant: TenantId) -> Result<u64, BillingError> {
        Ok(super::store::live_provider_subscriptions(&self.db, tenant).await?)
    }

    /// Cancels at Stripe, now, every live subscription of the tenant's end users (before the
    /// tenant is deleted), each with an idempotency key of its own so a retry cancels nothing
    /// twice (one that already ended counts as cancelled). Each cancellation is recorded in
    /// the audit log (`stripe.subscription.cancelled_for_deletion`, target the subscription)
    /// and its entitlement ended. The first failure stops here: what was cancelled stays
    /// cancelled and recorded, and the tenant is not deleted. Answers how many were cancelled.
    pub async fn cancel_live_subscriptions(&self, tenant: &Tenant) -> Result<u64, BillingError> {
        let live = super::store::list_live_provider_subscriptions(&self.db, tenant.id).await?;
        if live.is_empty() {
            return Ok(0);
        }
        let provider = self.provider_for(tenant)?;
        let mut cancelled = 0;
        for subscription in live {
            let key = format!("tg-cancel-{subscription}");
            tokio::time::timeout(
                self.provider_deadline,
                provider.cancel_subscription(&subscription, &key),
            )
            .await
            .unwrap_or_else(|_| {
                Err(ProviderError::Unavailable(format!(
                    "no answer within {} ms",
                    self.provider_deadline.as_millis()
                )))
            })?;
            let txn = crate::db::begin_write(&self.db).await?;
            super::store::end_subscription_for_deletion(
                &txn,
                tenant.id,
                provider.name(),
                &subscription,
                self.clock.now(),
            )
            .await?;
            txn.commit().await?;
            self.entitlements_changed(tenant.id).await;
            tracing::info!(tenant.slug = %tenant.slug, subscription, "subscription cancelled before the tenant's deletion");
            cancelled += 1;
        }
        Ok(cancelled)
    }

    /// The provider that takes this tenant's payments: Stripe when connected, else the sandbox.
    ///
    /// The Stripe client (and its pool of kept-alive connections) is built once per tenant and
    /// key, and reused by every paid call, the meter sender and the success page. The cache is
    /// keyed by the tenant and checked against the sealed key: a new key (connecting again, a
    /// master-key rotation) builds a new client, and the old one goes when its last call ends.
    pub fn provider_for(&self, tenant: &Tenant) -> Result<Arc<dyn PaymentProvider>, BillingError> {
        match &tenant.settings.stripe {
            Some(connection) => {
                if let Some((sealed, client)) = self.stripe_clients.get(&tenant.id)
                    && sealed == connection.secret_key_sealed
                {
                    return Ok(client);
                }
                let key = self.key.open(
                    &connection.secret_key_sealed,
                    &stripe_key_context(tenant.id),
                )?;
                let client: Arc<dyn PaymentProvider> =
                    Arc::new(StripePayments::new(key.expose(), &self.stripe_api_url)?);
                self.stripe_clients.insert(
                    tenant.id,
                    (connection.secret_key_sealed.clone(), client.clone()),
                );
                Ok(client)
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
        self.stripe_clients.invalidate(&tenant.id);
        Ok(tenants.update_settings(tenant.id, &settings).await?)
    }

    /// Asks the tenant's payment provider whether its credentials work. Never fails: a
    /// refusal is `ok: false` with the provider's message (Stripe echoes at most a masked key;
    /// the key itself is never put in the message).
    pub async fn test_connection(&self, tenant: &Tenant) -> ConnectionCheck {
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
            Ok(message) => ConnectionCheck { ok: true, message },
            Err(message) => ConnectionCheck {
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
    pub async fn stripe_prices(&self, tenant: &Tenant) -> Result<Vec<ProviderPrice>, BillingError> {
        let provider = self.provider_for(tenant)?;
        Ok(provider.list_prices().await?)
    }
}

pub(crate) fn stripe_key_context(tenant: TenantId) -> String {
    format!("tenant:{tenant}:stripe_secret_key")
}

pub(crate) fn webhook_secret_context(tenant: TenantId) -> String {
    format!("tenant:{tenant}:stripe_webhook_secret")
}
