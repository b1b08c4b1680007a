//! The gate of a paid call, with a fast lane: a call on an entitlement that counts nothing (a
//! subscription within its period, or a purchase without a call count) of an offer that is
//! not metered, once the user's free quota is used up, needs no reservation. Nothing is taken
//! from anything, so there is nothing to decide under the per-user lock: the entitlement is
//! read (no transaction, no lock), the tool runs, and a success writes its usage row, already
//! committed: one read and one write per call instead of two write transactions behind a lock.
//! Every other call (free quota, counted calls, metered plans, no entitlement) goes through
//! `reserve` / `commit` / `release`, exact as before.

use super::{BillingError, BillingService, Gate, OfferKind, PaymentRequired, Reservation, store};
use crate::oauth::EndUser;
use crate::tenant::Tenant;
use uuid::Uuid;

/// A call admitted on an entitlement that counts nothing; its usage row is written when it
/// succeeds.
#[derive(Clone, Debug)]
pub struct EntitledUse {
    pub(super) entitlement: Uuid,
    pub(super) user: Uuid,
    pub(super) offer: Uuid,
    pub(super) period: String,
    pub(super) call_id: String,
}

/// A paid call that may run.
#[derive(Clone, Debug)]
pub enum Pass {
    /// Reserved: commit or release it.
    Reserved(Reservation),
    /// On an entitlement that counts nothing: record it when it succeeds.
    Entitled(EntitledUse),
}

impl Pass {
    /// Whether the call is paid for (an entitlement or the meter) rather than free quota.
    pub fn is_billed(&self) -> bool {
        match self {
            Self::Reserved(reservation) => reservation.is_billed(),
            Self::Entitled(_) => true,
        }
    }
}

/// What the gate decided.
#[derive(Clone, Debug)]
pub enum Admission {
    /// Run the tool, then `settle`.
    Go(Pass),
    /// Ask for payment.
    Pay(PaymentRequired),
}

impl BillingService {
    /// The gate of a paid tool call: the fast lane when it applies, else `reserve`.
    pub async fn admit(
        &self,
        tenant: &Tenant,
        user: &EndUser,
        offer: &super::Offer,
        tool: &str,
    ) -> Result<Admission, BillingError> {
        if let Some(entitled) = self.entitled_use(tenant, user, offer).await? {
            return Ok(Admission::Go(Pass::Entitled(entitled)));
        }
        Ok(match self.reserve(tenant, user, offer, tool).await? {
            Gate::Go(reservation) => Admission::Go(Pass::Reserved(reservation)),
            Gate::Pay(required) => Admission::Pay(required),
        })
    }

    /// After the tool ran: a success is final (committed, or recorded), a failure gives its
    /// use back.
    pub async fn settle(
        &self,
        tenant: &Tenant,
        pass: &Pass,
        tool: &str,
        succeeded: bool,
    ) -> Result<(), BillingError> {
        match (pass, succeeded) {
            (Pass::Reserved(reservation), true) => self.commit(tenant, reservation).await,
            (Pass::Reserved(reservation), false) => self.release(reservation).await,
            (Pass::Entitled(entitled), true) => {
                store::insert_committed_usage(&self.db, tenant.id, entitled, tool, self.clock.now())
                    .await?;
                Ok(())
            }
            (Pass::Entitled(_), false) => Ok(()),
        }
    }

    /// The fast lane alone, reading only: `Some` when the call may run without a
    /// reservation, `None` when only `admit` can decide (which may reserve or open a
    /// checkout). For answers that skip the handler (`mcp/replay.rs`).
    pub async fn fast_pass(
        &self,
        tenant: &Tenant,
        user: &EndUser,
        offer: &super::Offer,
    ) -> Result<Option<Pass>, BillingError> {
        Ok(self
            .entitled_use(tenant, user, offer)
            .await?
            .map(Pass::Entitled))
    }

    /// The fast lane's check: `Some` when the call needs no reservation.
    async fn entitled_use(
        &self,
        tenant: &Tenant,
        user: &EndUser,
        offer: &super::Offer,
    ) -> Result<Option<EntitledUse>, BillingError> {
        if offer.kind == OfferKind::Metered {
            return Ok(None);
        }
        let now = self.clock.now();
        let period = super::period_of(now);
        // Free calls come first, and counting them is a decision: left to `reserve`.
        if let Some(quota) = offer.free_quota
            && quota > 0
            && store::count_usage(&self.db, tenant.id, user.id.0, offer.id.0, &period, "free")
                .await?
                < i64::from(quota)
        {
            return Ok(None);
        }
        // The same entitlement `reserve` would pick; only one that counts nothing qualifies.
        let Some(entitlement) =
            store::usable_entitlement(&self.db, tenant.id, user.id.0, offer.id.0, now).await?
        else {
            return Ok(None);
        };
        if entitlement.calls_remaining.is_some() {
            return Ok(None);
        }
        Ok(Some(EntitledUse {
            entitlement: entitlement.id,
            user: user.id.0,
            offer: offer.id.0,
            period,
            call_id: format!("call_{}", Uuid::new_v4().simple()),
        }))
    }
}
