//! Checkout: the user's open purchase is reused, or a customer and a Checkout Session are made at
//! the provider (one caller at a time per user and offer, in every process); a completed
//! session is fulfilled once (purchase paid, entitlement granted), whoever reports it first.

use super::lifecycle::{self, Fact};
use super::store::{self, PurchaseKey};
use super::{
    BillingError, BillingService, CHECKOUT_TTL, CheckoutMode, CheckoutRequest, CheckoutSession,
    EntitlementStatus, Offer, OfferKind, PaymentProvider, PaymentRequired, PurchaseStatus,
    PurchaseView, use_lock_key,
};
use crate::crypto;
use crate::oauth::EndUser;
use crate::tenant::Tenant;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// What one turn under the checkout lock found.
enum Found {
    /// Payment is needed here.
    Ask(PaymentRequired),
    /// This open purchase was paid at the provider: fulfil it with this session.
    Paid(Uuid, Box<CheckoutSession>),
}

pub(super) enum Checkout {
    /// Payment is needed here.
    Ask(PaymentRequired),
    /// This open purchase turned out to be paid, and is now fulfilled.
    Paid(Uuid),
}

impl BillingService {
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
    pub(super) async fn payment_required(
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
                if open.status == PurchaseStatus::Open
                    && let Ok(session) = provider.retrieve_checkout(&open.session_id).await
                    && session.is_complete()
                    && session.is_paid()
                {
                    return Ok(Found::Paid(open.id, Box::new(session)));
                }
                return Ok(Found::Ask(self.required(
                    tenant,
                    offer,
                    open.id,
                    open.status == PurchaseStatus::Processing,
                )));
            }
            store::set_purchase_status(
                conn,
                tenant.id,
                open.id,
                PurchaseStatus::Expired,
                true,
                now,
            )
            .await?;
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

    pub(super) fn required(
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
        let read = self.subscription_period_end(tenant, session).await;
        let txn = crate::db::begin_write(&self.db).await?;
        self.fulfil_in(&txn, tenant, session, event_created, read)
            .await?;
        txn.commit().await?;
        self.entitlements_changed(tenant.id).await;
        self.refund_if_duplicate(tenant, &session.id).await?;
        Ok(())
    }

    /// The end of the current period of the subscription a paid session started, read from
    /// the provider (within the provider deadline) before the grant's transaction opens.
    /// `None` for a payment, an unpaid session, or when the read fails: the grant then keeps
    /// its bound (one interval and the grace), and the log says so.
    pub(super) async fn subscription_period_end(
        &self,
        tenant: &Tenant,
        session: &CheckoutSession,
    ) -> Option<DateTime<Utc>> {
        let subscription = session
            .subscription
            .as_deref()
            .filter(|_| session.is_paid())?;
        let provider = self.provider_for(tenant).ok()?;
        let read = tokio::time::timeout(
            self.provider_deadline,
            provider.retrieve_subscription(subscription),
        )
        .await;
        let failure = match read {
            Ok(Ok(read)) if read.period_end.is_some() => return read.period_end,
            Ok(Ok(_)) => "it names no period end".to_owned(),
            // The sandbox keeps no subscriptions to read: its bound is the rule.
            Ok(Err(super::ProviderError::Unsupported)) => return None,
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {} ms", self.provider_deadline.as_millis()),
        };
        tracing::warn!(
            tenant.slug = %tenant.slug,
            subscription,
            error = %failure,
            "subscription not read at grant: access bounded to one interval and the plan's past-due grace until its events say more"
        );
        None
    }

    /// Fulfils `session` in `txn`; `read_period_end` is the subscription's period end as the
    /// provider reported it just before (see [`Self::subscription_period_end`]).
    pub(super) async fn fulfil_in(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        tenant: &Tenant,
        session: &CheckoutSession,
        event_created: i64,
        read_period_end: Option<DateTime<Utc>>,
    ) -> Result<bool, BillingError> {
        let Some(purchase) =
            store::find_purchase_by(txn, tenant.id, PurchaseKey::Session(&session.id)).await?
        else {
            tracing::info!(tenant.slug = %tenant.slug, session = %session.id, "checkout session not created by Tollgate: ignored");
            return Ok(false);
        };
        if !session.is_paid() {
            store::set_purchase_status(
                txn,
                tenant.id,
                purchase.id,
                PurchaseStatus::Processing,
                false,
                self.clock.now(),
            )
            .await?;
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
            self.clock.now(),
        )
        .await?;
        let source = match (&offer.kind, &session.subscription) {
            (OfferKind::OneTime, _) | (_, None) => format!("checkout:{}", session.id),
            (_, Some(subscription)) => format!("subscription:{subscription}"),
        };
        let calls = if offer.kind == OfferKind::OneTime {
            offer.calls
        } else {
            None
        };
        // A second payment while the user holds an untouched plan of the same offer (two
        // sessions paid in two tabs, a second subscription) is a double payment: granted (the
        // money was taken), and flagged in the audit log for the operator to refund.
        let unused = store::unused_entitlements(
            txn,
            tenant.id,
            purchase.end_user_id,
            offer.id.0,
            calls,
            &source,
        )
        .await?;
        if !unused.is_empty()
            && store::find_entitlement_by_source(txn, tenant.id, &source)
                .await?
                .is_none()
        {
            tracing::warn!(tenant.slug = %tenant.slug, purchase = %purchase.id, "double payment: flagged for the operator");
            store::insert_provider_audit(
                txn,
                tenant.id,
                &purchase.provider,
                &session.id,
                "checkout.double_payment",
                unused.first().map(String::as_str),
                self.clock.now(),
            )
            .await?;
        }
        // A subscription's period is the one Stripe reports for it, read just before; when
        // that read failed, it is bounded from the start: one interval (and the plan's
        // past-due grace) from the payment, so a lost renewal event never means access for
        // ever.
        let period_end = if offer.kind == OfferKind::OneTime {
            None
        } else {
            read_period_end.or_else(|| {
                lifecycle::first_period_end(
                    event_created,
                    offer.interval.as_deref(),
                    offer.past_due_grace(),
                )
            })
        };
        // A paid purchase fulfilled again (a second completion event for the same session) is
        // no new payment: its subscription's state is its own events' to say, never revived by
        // it. (The success page fulfils only open purchases.)
        if offer.kind != OfferKind::OneTime && purchase.status == PurchaseStatus::Paid {
            return Ok(true);
        }
        if offer.kind != OfferKind::OneTime
            && self
                .apply_fact(
                    txn,
                    tenant,
                    &source,
                    Fact::Paid { period_end },
                    event_created,
                )
                .await?
        {
            // Its events came first: the payment went through the lifecycle (a `deleted`
            // already there stays the end).
            return Ok(true);
        }
        store::grant(
            txn,
            tenant.id,
            &store::Grant {
                user: purchase.end_user_id,
                offer: offer.id.0,
                source,
                calls,
                period_end,
                event_created,
                status: EntitlementStatus::Active,
            },
            self.clock.now(),
        )
        .await?;
        Ok(true)
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
            && view.status == PurchaseStatus::Open
        {
            let provider = self.provider_for(tenant)?;
            if let Ok(session) = provider.retrieve_checkout(&view.session_id).await
                && session.is_complete()
            {
                self.fulfil_session(tenant, &session, self.clock.now().timestamp())
                    .await?;
            }
        }
        self.purchase(tenant, id).await
    }
}
