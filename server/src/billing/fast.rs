//! The gate of a paid call, with a fast lane: a call on an entitlement that counts nothing (a
//! subscription within its period, or a purchase without a call count) of an offer that is
//! not metered, once the user's free quota is used up, needs no reservation. Nothing is taken
//! from anything, so there is nothing to decide under the per-user lock: the entitlement is
//! read (no transaction, no lock), the tool runs, and a success is counted as a use of the
//! entitlement. Every other call (free quota, counted calls, metered plans, no entitlement)
//! goes through `reserve` / `commit` / `release`, exact as before, one usage row per call (it
//! carries the reservation, the meter identifier).
//!
//! The fast lane's records of use are counts, not one row per call: a success adds one to a
//! counter in memory per (tenant, user, offer, entitlement, month, tool), and one task per
//! process ([`UsageWriter`]) writes the counters as usage rows whose `calls` says how many
//! calls each records, then starts again from zero. The task is woken by the first call
//! counted and writes at most every `GROUP_EVERY` (100 ms): under load, a user's calls of a
//! tool cost one row and one commit per interval instead of one row each (a row per call was
//! the difference between free and paid calls, issue 11); after a pause, the first call is
//! written at once. Every reader of usage sums `calls`. A group that could not be written is
//! put back and tried again a second later (a deleted tenant's is dropped). What a crash can
//! lose is the interval not written yet (at most `GROUP_EVERY` of calls, more only while the
//! database refuses writes): records of use on entitlements that count nothing, never money —
//! the call was allowed by the entitlement, not paid per call. A stop writes what is counted
//! first ([`BillingService::flush_usage`], from `App::serve`).
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
use chrono::{DateTime, Datelike, Utc};
use sea_orm::{DatabaseConnection, DbErr, SqlErr};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// The most rows written in one statement.
const ROWS_PER_STATEMENT: usize = 256;
/// Under load, a group is written at most this often: the calls of the interval become one row
/// per (user, entitlement, tool, month).
const GROUP_EVERY: Duration = Duration::from_millis(100);
/// After a failed write, the next try waits this long (the database is down or busy).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Whose calls a row counts: all of a row but its tool and number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Holder {
    tenant: TenantId,
    user: Uuid,
    offer: Uuid,
    entitlement: Uuid,
    period: Arc<str>,
}

/// The calls of one holder and tool not written yet.
#[derive(Clone, Copy, Debug)]
struct Counted {
    calls: u32,
    /// The first of them: the row's time.
    first_at: DateTime<Utc>,
}

/// The calls not written yet, by holder, then tool (looked up by `&str`: no allocation for a
/// tool already counted).
type Pending = HashMap<Holder, HashMap<String, Counted>>;

/// What the writer task and the service share.
struct Shared {
    db: DatabaseConnection,
    pending: Mutex<Pending>,
    /// Held from taking the pending calls until they are written (or put back): a flush that
    /// takes it has every call counted before it written.
    writing: tokio::sync::Mutex<()>,
}

/// Writes the fast lane's records of use, counted, in groups (see the module comment).
pub(super) struct UsageWriter {
    shared: Arc<Shared>,
    /// Rung when the first call of a group is counted, and when the writer is dropped.
    wake: Arc<Notify>,
    /// The task is started on first use, inside the runtime.
    started: OnceLock<()>,
}

impl UsageWriter {
    pub(super) fn new(db: DatabaseConnection) -> Self {
        Self {
            shared: Arc::new(Shared {
                db,
                pending: Mutex::default(),
                writing: tokio::sync::Mutex::default(),
            }),
            wake: Arc::new(Notify::new()),
            started: OnceLock::new(),
        }
    }

    /// Counts one finished call of `holder` on `tool`; the writer writes it with its group.
    fn count(&self, holder: Holder, tool: &str, at: DateTime<Utc>) {
        self.started.get_or_init(|| {
            tokio::spawn(write_groups(
                Arc::downgrade(&self.shared),
                Arc::clone(&self.wake),
            ));
        });
        let first = {
            let mut pending = self
                .shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let first = pending.is_empty();
            let tools = pending.entry(holder).or_default();
            match tools.get_mut(tool) {
                Some(counted) => counted.calls += 1,
                None => {
                    tools.insert(
                        tool.to_owned(),
                        Counted {
                            calls: 1,
                            first_at: at,
                        },
                    );
                }
            }
            first
        };
        // Later calls find the writer already woken: the pending calls are taken all at once.
        if first {
            self.wake.notify_one();
        }
    }

    /// Returns once every call counted before is written (or its write failed, in which case
    /// they stay for the writer's next try).
    async fn flush(&self) {
        if let Err(error) = self.shared.write_pending().await {
            tracing::error!(%error, "could not record calls on unlimited entitlements; kept for the next try");
            // What was put back is a group that no new call will announce.
            self.wake.notify_one();
        }
    }
}

impl Drop for UsageWriter {
    fn drop(&mut self) {
        // The task finds the shared state gone and ends.
        self.wake.notify_one();
    }
}

impl Shared {
    /// Writes the calls counted so far, one transaction per tenant; those that could not be
    /// written are put back (a deleted tenant's are dropped).
    async fn write_pending(&self) -> Result<(), DbErr> {
        let _writing = self.writing.lock().await;
        let taken =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let mut per_tenant: HashMap<TenantId, Vec<store::UsedCalls>> = HashMap::new();
        for (holder, tools) in taken {
            let rows = per_tenant.entry(holder.tenant).or_default();
            for (tool, counted) in tools {
                rows.push(store::UsedCalls {
                    user: holder.user,
                    offer: holder.offer,
                    entitlement: holder.entitlement,
                    period: Arc::clone(&holder.period),
                    tool,
                    calls: counted.calls,
                    at: counted.first_at,
                });
            }
        }
        let mut first_error = None;
        for (tenant, rows) in per_tenant {
            match self.save(tenant, &rows).await {
                Ok(()) => {}
                Err(error)
                    if matches!(
                        error.sql_err(),
                        Some(SqlErr::ForeignKeyConstraintViolation(_))
                    ) =>
                {
                    tracing::info!(tenant.id = %tenant, "records of use of a deleted tenant dropped");
                }
                Err(error) => {
                    self.put_back(tenant, rows);
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn save(&self, tenant: TenantId, rows: &[store::UsedCalls]) -> Result<(), DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            store::insert_used_calls(&txn, tenant, chunk).await?;
        }
        txn.commit().await
    }

    /// Counts again the calls of rows that could not be written. A write that failed after
    /// its commit (a connection lost at that moment) would count them twice; they are records
    /// of use on entitlements that count nothing, and dropping every failed group would lose
    /// far more of them.
    fn put_back(&self, tenant: TenantId, rows: Vec<store::UsedCalls>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for row in rows {
            let holder = Holder {
                tenant,
                user: row.user,
                offer: row.offer,
                entitlement: row.entitlement,
                period: row.period,
            };
            let counted = pending
                .entry(holder)
                .or_default()
                .entry(row.tool)
                .or_insert(Counted {
                    calls: 0,
                    first_at: row.at,
                });
            counted.calls += row.calls;
            counted.first_at = counted.first_at.min(row.at);
        }
    }
}

/// The writer's loop: woken by the first call of a group, lets the group gather until
/// `GROUP_EVERY` after the last write, then writes it; ends when the service is dropped.
async fn write_groups(shared: Weak<Shared>, wake: Arc<Notify>) {
    let mut next = tokio::time::Instant::now();
    loop {
        wake.notified().await;
        tokio::time::sleep_until(next).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        next = tokio::time::Instant::now() + GROUP_EVERY;
        if let Err(error) = shared.write_pending().await {
            tracing::error!(%error, "could not record calls on unlimited entitlements; kept for the next try");
            next = tokio::time::Instant::now() + RETRY_AFTER;
            // What was put back is a group that no new call will announce.
            wake.notify_one();
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
    /// The month whose free quota was found used up (year, month), and as stored (`YYYY-MM`):
    /// a call compares the numbers and shares the text.
    month: (i32, u32),
    period: Arc<str>,
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

/// A call admitted on an entitlement that counts nothing; it is counted when it succeeds.
#[derive(Clone, Debug)]
pub struct EntitledUse {
    entitlement: Uuid,
    user: Uuid,
    offer: Uuid,
    period: Arc<str>,
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
                self.usage_writer.count(
                    Holder {
                        tenant: tenant.id,
                        user: entitled.user,
                        offer: entitled.offer,
                        entitlement: entitled.entitlement,
                        period: Arc::clone(&entitled.period),
                    },
                    tool,
                    self.clock.now(),
                );
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
        let month = (now.year(), now.month());
        let key = (tenant.id.0, user.id.0, offer.id.0);
        if let Some(known) = self.entitled.known.get(&key)
            && known.month == month
            && known.kind == offer.kind
            && known.free_quota == offer.free_quota
            && known.period_end.is_none_or(|end| end > now)
        {
            return Ok(Some(EntitledUse {
                entitlement: known.entitlement,
                user: user.id.0,
                offer: offer.id.0,
                period: Arc::clone(&known.period),
            }));
        }
        let period = super::period_of(now);
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
        let period: Arc<str> = period.into();
        self.entitled.known.insert(
            key,
            Arc::new(Known {
                entitlement: entitlement.id,
                period_end: entitlement.period_end,
                month,
                period: Arc::clone(&period),
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
        }))
    }
}
