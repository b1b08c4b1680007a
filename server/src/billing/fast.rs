//! The gate of a paid call, with a fast lane: a call on an entitlement that counts nothing (a
//! subscription within its period, or a purchase without a call count) of an offer that is
//! not metered, once the user's free quota is used up, needs no reservation. Nothing is taken
//! from anything, so there is nothing to decide under the per-user lock: the entitlement is
//! read (no transaction, no lock), the tool runs, and a success writes its usage row, already
//! committed: one read and one write per call instead of two write transactions behind a lock.
//! Every other call (free quota, counted calls, metered plans, no entitlement) goes through
//! `reserve` / `commit` / `release`, exact as before.
//!
//! The usage rows of the fast lane are written by one task per process in groups
//! ([`UsageWriter`]): each call still waits until its row is committed, but the calls that
//! finish while a group is being written go together in the next statement and transaction,
//! so a burst costs one commit (one disk flush on SQLite) per group rather than one per call.

use super::{BillingError, BillingService, Gate, OfferKind, PaymentRequired, Reservation, store};
use crate::oauth::EndUser;
use crate::tenant::Tenant;
use sea_orm::{DatabaseConnection, DbErr};
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// The most rows written in one statement.
const GROUP_MAX: usize = 256;

/// A usage row to write, and who waits for it.
struct Pending {
    row: store::UsedCall,
    written: oneshot::Sender<Result<(), DbErr>>,
}

/// Writes the fast lane's usage rows in groups (see the module comment).
pub(super) struct UsageWriter {
    db: DatabaseConnection,
    /// Started on first use, inside the runtime.
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
}

impl UsageWriter {
    pub(super) fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            queue: OnceLock::new(),
        }
    }

    /// Writes `row` with the rows of other calls finishing now; returns once it is committed.
    async fn write(&self, row: store::UsedCall) -> Result<(), DbErr> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(write_groups(self.db.clone(), receiver));
            sender
        });
        let (written, wait) = oneshot::channel();
        if let Err(refused) = queue.send(Pending { row, written }) {
            // The writer is gone (the runtime is shutting down): write this one alone.
            return store::insert_used_calls(&self.db, std::slice::from_ref(&refused.0.row)).await;
        }
        wait.await
            .unwrap_or_else(|_| Err(DbErr::Custom("the usage writer stopped".into())))
    }
}

/// The writer's loop: takes whatever is queued (up to `GROUP_MAX`), writes it in one
/// statement, tells each caller; ends when the service is dropped.
async fn write_groups(db: DatabaseConnection, mut queue: mpsc::UnboundedReceiver<Pending>) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    while queue.recv_many(&mut group, GROUP_MAX).await > 0 {
        let rows: Vec<store::UsedCall> = group.iter().map(|p| p.row.clone()).collect();
        let result = store::insert_used_calls(&db, &rows).await;
        for pending in group.drain(..) {
            let _ = pending.written.send(result.clone());
        }
    }
}

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
                self.usage_writer
                    .write(store::UsedCall {
                        tenant: tenant.id,
                        user: entitled.user,
                        offer: entitled.offer,
                        entitlement: entitled.entitlement,
                        call_id: entitled.call_id.clone(),
                        tool: tool.to_owned(),
                        period: entitled.period.clone(),
                        at: self.clock.now(),
                    })
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
