//! The gate of a paid call, with a fast lane: a call on an entitlement that counts nothing (a
//! subscription within its period, or a purchase without a call count) of an offer that is
//! not metered, once the user's free quota is used up, needs no reservation. Nothing is taken
//! from anything, so there is nothing to decide under the per-user lock: the entitlement is
//! read (no transaction, no lock), the tool runs, and a success writes its usage row, already
//! committed: one read and one write per call instead of two write transactions behind a lock.
//! Every other call (free quota, counted calls, metered plans, no entitlement) goes through
//! `reserve` / `commit` / `release`, exact as before.
//!
//! The usage rows of the fast lane are written behind the answer, by one task per process
//! ([`UsageWriter`]), in groups: the rows of the calls that finish while a group is being
//! written go together in the next statement and transaction, so a burst costs one commit (one
//! disk flush on SQLite) per group, and no call waits for one. The writer starts on a row as
//! soon as one is queued; what a crash can lose is the group being written and the rows queued
//! behind it (a few milliseconds of calls). Those rows are records of use on entitlements that
//! count nothing, never money: the call was allowed by the entitlement, not paid per call. A
//! stop writes what is queued first ([`BillingService::flush_usage`], from `App::serve`).
//!
//! What the fast lane reads is remembered by each process for a few seconds ([`Entitled`]): a
//! user's entitlement that counts nothing, per (tenant, user, offer), once the free quota of
//! the month is used up. Every write that can change which entitlement a user may use (a
//! grant, a lifecycle change from a webhook or a payment, a call given back to a counted one)
//! drops what is remembered of the tenant, here and, through `changes.rs`
//! (`Change::Entitlements`), at every other replica; the end of the paid period and the
//! month are checked on every call against what is remembered, and the offer's kind and free
//! quota must be the current offer's. A lookup that raced with such a write is not kept. One
//! thing is left to the lifetime (`ENTITLED_FOR`): a free call given back (a failed call
//! released) after the quota was reached makes the next call of that user an entitled one
//! instead of a free one; the entitlement counts nothing, so nothing is lost either way.

use super::{BillingError, BillingService, Gate, OfferKind, PaymentRequired, Reservation, store};
use crate::oauth::EndUser;
use crate::tenant::{Tenant, TenantId};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// The most rows written in one statement.
const GROUP_MAX: usize = 256;

/// What the writer is asked to do.
enum Job {
    /// Write this row.
    Row(store::UsedCall),
    /// Say when every row queued before this is written.
    Flush(oneshot::Sender<()>),
}

/// Writes the fast lane's usage rows in groups (see the module comment).
pub(super) struct UsageWriter {
    db: DatabaseConnection,
    /// Started on first use, inside the runtime.
    queue: OnceLock<mpsc::UnboundedSender<Job>>,
}

impl UsageWriter {
    pub(super) fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            queue: OnceLock::new(),
        }
    }

    fn queue(&self) -> &mpsc::UnboundedSender<Job> {
        self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(write_groups(self.db.clone(), receiver));
            sender
        })
    }

    /// Queues `row`; the writer takes it with the others queued now.
    async fn write(&self, row: store::UsedCall) -> Result<(), BillingError> {
        if let Err(refused) = self.queue().send(Job::Row(row)) {
            // The writer is gone (the runtime is stopping): write this one here.
            if let Job::Row(row) = refused.0 {
                store::insert_used_calls(&self.db, std::slice::from_ref(&row)).await?;
            }
        }
        Ok(())
    }

    /// Returns once every row queued before the call is written (or its write failed).
    async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue().send(Job::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// The writer's loop: takes whatever is queued (up to `GROUP_MAX` jobs), writes the rows in one
/// statement, then answers the flushes among them; ends when the service is dropped.
async fn write_groups(db: DatabaseConnection, mut queue: mpsc::UnboundedReceiver<Job>) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    while queue.recv_many(&mut group, GROUP_MAX).await > 0 {
        let mut rows = Vec::with_capacity(group.len());
        let mut flushes = Vec::new();
        for job in group.drain(..) {
            match job {
                Job::Row(row) => rows.push(row),
                Job::Flush(done) => flushes.push(done),
            }
        }
        if let Err(error) = store::insert_used_calls(&db, &rows).await {
            tracing::error!(%error, rows = rows.len(), "could not record calls on unlimited entitlements");
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// How long a process remembers a user's entitlement that counts nothing. Changes are pushed
/// to every process; this bounds only a lost notice (a reconnecting listener forgets them all).
const ENTITLED_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// An entitlement that counts nothing, as the fast lane found it.
struct Known {
    entitlement: Uuid,
    period_end: Option<DateTime<Utc>>,
    /// The month whose free quota was found used up.
    period: String,
    /// The offer as it was then: another kind or free quota is a new question.
    kind: OfferKind,
    free_quota: Option<i32>,
}

/// The fast lane's entitlements of one process, by (tenant, user, offer); see the module
/// comment.
#[derive(Clone)]
pub(super) struct Entitled {
    known: moka::sync::Cache<(Uuid, Uuid, Uuid), Arc<Known>>,
    /// Moves on every change heard of.
    changes: Arc<AtomicU64>,
}

impl Default for Entitled {
    fn default() -> Self {
        Self {
            known: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ENTITLED_FOR)
                .support_invalidation_closures()
                .build(),
            changes: Arc::new(AtomicU64::new(0)),
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
    /// Forgets what this process remembers of `tenant`'s entitlements (a change at another
    /// replica).
    pub fn forget_entitlements(&self, tenant: TenantId) {
        self.entitled.changes.fetch_add(1, Ordering::SeqCst);
        // Closures are supported by the cache's builder: this cannot fail.
        let _ = self
            .entitled
            .known
            .invalidate_entries_if(move |key, _| key.0 == tenant.0);
    }

    /// Forgets every remembered entitlement (notices may have been missed).
    pub fn forget_all_entitlements(&self) {
        self.entitled.changes.fetch_add(1, Ordering::SeqCst);
        self.entitled.known.invalidate_all();
    }

    /// After a write that may change which entitlement a user of `tenant` may use is
    /// committed: forgets them here and at every other replica.
    pub(super) async fn entitlements_changed(&self, tenant: TenantId) {
        self.forget_entitlements(tenant);
        self.changes
            .publish(&crate::changes::Change::Entitlements { tenant: tenant.0 })
            .await;
    }

    /// Writes the usage rows of fast-lane calls still queued (at a stop; tests read them).
    pub async fn flush_usage(&self) {
        self.usage_writer.flush().await;
    }

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
        let key = (tenant.id.0, user.id.0, offer.id.0);
        if let Some(known) = self.entitled.known.get(&key)
            && known.period == period
            && known.kind == offer.kind
            && known.free_quota == offer.free_quota
            && known.period_end.is_none_or(|end| end > now)
        {
            return Ok(Some(EntitledUse {
                entitlement: known.entitlement,
                user: user.id.0,
                offer: offer.id.0,
                period,
                call_id: format!("call_{}", Uuid::new_v4().simple()),
            }));
        }
        let changes = self.entitled.changes.load(Ordering::SeqCst);
        // Free calls come first, and counting them is a decision: left to `reserve`.
        if let Some(quota) = offer.free_quota
            && quota > 0
            && store::count_usage(
                &self.db,
                tenant.id,
                user.id.0,
                offer.id.0,
                &period,
                super::UsageKind::Free,
            )
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
        self.entitled.known.insert(
            key,
            Arc::new(Known {
                entitlement: entitlement.id,
                period_end: entitlement.period_end,
                period: period.clone(),
                kind: offer.kind,
                free_quota: offer.free_quota,
            }),
        );
        // A change heard of since the lookup began may have been missed by it.
        if self.entitled.changes.load(Ordering::SeqCst) != changes {
            self.entitled.known.invalidate(&key);
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
