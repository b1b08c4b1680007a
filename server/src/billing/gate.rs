//! The gate of a paid tool call: reserve a use (free quota, or an entitlement) before the tool
//! runs, commit it when the tool succeeds (queueing a metered use for the meter in the same
//! transaction), release it when the tool fails; and the sweep of reservations a crash left.

use super::checkout::Checkout;
use super::{
    BillingError, BillingService, Gate, Offer, OfferKind, PaymentRequired, Reservation,
    STALE_RESERVATION, UsageKind, period_of, store, use_lock_key,
};
use crate::oauth::EndUser;
use crate::tenant::{Tenant, TenantId};
use uuid::Uuid;

impl BillingService {
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
        // What the user waits on (the turn under the checkout lock, the customer and the
        // Checkout Session at the provider) has one deadline. Past it the work in flight is
        // dropped (its transaction rolls back; a session Stripe made meanwhile is found again
        // under the same idempotency key next time) and the call answers that payments are
        // unavailable and nothing was charged: no purchase exists, so no payment can be taken.
        let checkout = tokio::time::timeout(
            self.provider_deadline,
            self.payment_required(tenant, user, offer),
        )
        .await
        .map_err(|_| {
            BillingError::Provider(super::ProviderError::Unavailable(format!(
                "no answer within {} ms",
                self.provider_deadline.as_millis()
            )))
        })?;
        match checkout? {
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
            let used = store::count_usage(
                &txn,
                tenant.id,
                user.id.0,
                offer.id.0,
                &period,
                UsageKind::Free,
            )
            .await?;
            if used < i64::from(quota) {
                let usage = store::insert_usage(
                    &txn,
                    tenant.id,
                    user.id.0,
                    offer.id.0,
                    tool,
                    &call_id,
                    None,
                    UsageKind::Free,
                    &period,
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
                let billed = store::count_usage(
                    &txn,
                    tenant.id,
                    user.id.0,
                    offer.id.0,
                    &period,
                    UsageKind::Metered,
                )
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
                    UsageKind::Metered
                } else {
                    UsageKind::Paid
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
        let mut gave_back = false;
        if store::delete_reserved_usage(&txn, reservation.tenant, reservation.usage_id).await?
            && let Some(entitlement) = reservation.entitlement
        {
            store::give_back_call(&txn, reservation.tenant, entitlement).await?;
            gave_back = true;
        }
        txn.commit().await?;
        if gave_back {
            // An entitlement with calls may be usable again, ahead of a remembered one.
            self.entitlements_changed(reservation.tenant).await;
        }
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
            self.entitlements_changed(TenantId(tenant)).await;
        }
        Ok(count)
    }
}
