//! Reconciliation with Stripe: webhooks may be lost (an endpoint down for longer than Stripe's
//! three days of retries, an endpoint not subscribed to every type), so each tenant connected
//! to Stripe is compared with its account every `TOLLGATE_RECONCILE_SECONDS`, and on demand
//! from the admin API.
//!
//! One run, claimed by one replica at a time through a lease on the tenant's `reconciliation`
//! row (one conditional `UPDATE`, the same on SQLite and PostgreSQL):
//! 1. reads Stripe's events of the handled types since the tenant's cursor (`GET /v1/events`,
//!    newest first, every page), and applies them oldest first through the webhook's own path
//!    (`ingest_event`: the processed event-id table makes an event already seen a no-op);
//! 2. re-reads the subscriptions of entitlements not ended and not confirmed for
//!    [`CONFIRMATION_AGE`] (`GET /v1/subscriptions/{id}`) and corrects them through the
//!    lifecycle (`lifecycle.rs`: a tombstone stays, a newer state wins);
//! 3. writes the report, moves the cursor and gives the lease up, in one statement, only if
//!    the lease is still its own. A run that dies before step 3 moved nothing: the next one
//!    reads the same events again, and applies none of them twice.
//!
//! The cursor is Stripe's `created` of the newest event read, so it follows Stripe's clock
//! only; each run lists from [`CURSOR_OVERLAP`] before it, in case Stripe shows an event a
//! little after a newer one.

use super::entitlements::{Changed, access_of, status_of};
use super::lifecycle::{self, Applied, Fact};
use super::webhook::{HANDLED_EVENT_TYPES, StripeEvent};
use super::{BillingError, BillingService, PaymentProvider, ProviderError, WebhookOutcome, store};
use crate::tenant::{Tenant, TenantId, TenantService};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long a run's claim lasts; a run that takes longer is stopped (see [`RUN_DEADLINE`]),
/// and a replica that dies mid-run leaves the tenant to the others once it lapses.
pub const RECONCILE_LEASE: Duration = Duration::minutes(10);

/// A run ends (unfinished: nothing moves) after this, well within its lease.
const RUN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(8 * 60);

/// A subscription whose state Stripe has not told for this long is read again.
pub const CONFIRMATION_AGE: Duration = Duration::hours(1);

/// How far back the first run reads: Stripe keeps events for 30 days.
const FIRST_LOOK_BACK: Duration = Duration::days(30);

/// Each run lists events from this many seconds before the cursor again.
pub const CURSOR_OVERLAP: i64 = 300;

/// At most this many pages of 100 events in one run; more fails the run (nothing is skipped).
const MAX_PAGES: usize = 1_000;

/// At most this many subscriptions are read again per run (the least recently confirmed).
const SUBSCRIPTIONS_PER_RUN: u64 = 100;

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The background job.
    Schedule,
    /// An operator, through the admin API.
    Operator,
}

/// One entitlement a run changed to match Stripe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correction {
    /// The end user's id.
    pub end_user_id: Uuid,
    /// Their login.
    pub end_user: String,
    /// The plan's name.
    pub offer: String,
    /// `checkout:<session>` or `subscription:<id>`.
    pub source: String,
    /// `active`, `suspended` or `revoked` before (none: there was no entitlement).
    pub before: Option<String>,
    /// And after.
    pub after: String,
    /// The period end before and after.
    pub access_until_before: Option<DateTime<Utc>>,
    /// The period end after.
    pub access_until: Option<DateTime<Utc>>,
    /// What showed it: the event's type, or `subscription` for a subscription read again.
    pub cause: String,
    /// The event's id, when an event showed it.
    pub event: Option<String>,
}

/// What one run did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationReport {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// The replica that ran it.
    pub replica: String,
    /// What started it.
    pub trigger: Trigger,
    /// Events of the handled types read from Stripe.
    pub events_read: u64,
    /// Of those, events Tollgate had not seen (their webhooks were lost), now applied.
    pub events_applied: u64,
    /// Subscriptions read again from Stripe.
    pub subscriptions_checked: u64,
    /// Entitlements changed to match Stripe.
    pub corrections: Vec<Correction>,
    /// What could not be checked (Stripe's message), to look at.
    pub problems: Vec<String>,
}

impl BillingService {
    /// Runs one reconciliation of `tenant` now, for an operator. Another replica's run in
    /// progress is [`BillingError::Busy`].
    pub async fn reconcile_now(
        &self,
        tenant: &Tenant,
    ) -> Result<ReconciliationReport, BillingError> {
        if tenant.settings.stripe.is_none() {
            return Err(BillingError::Invalid(
                "this tenant is not connected to Stripe: there is nothing to reconcile with".into(),
            ));
        }
        match self.reconcile(tenant, Trigger::Operator, None).await? {
            Some(report) => Ok(report),
            None => {
                let row = store::find_reconciliation(&self.db, tenant.id)
                    .await?
                    .unwrap_or_default();
                let holder = row.lease_holder.unwrap_or_else(|| "another replica".into());
                let until = row
                    .lease_until
                    .map(|t| format!(", claimed until {}", t.format("%H:%M:%S UTC")))
                    .unwrap_or_default();
                Err(BillingError::Busy(format!(
                    "a reconciliation of this tenant is already running (on {holder}{until}); its report will be at GET …/billing/reconciliation when it ends"
                )))
            }
        }
    }

    /// The last finished run's report, if any.
    pub async fn last_reconciliation(
        &self,
        tenant: TenantId,
    ) -> Result<Option<ReconciliationReport>, BillingError> {
        let row = store::find_reconciliation(&self.db, tenant).await?;
        Ok(row
            .and_then(|r| r.last_report)
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Claims and runs one reconciliation; `None` when another run holds the claim (or, with
    /// `finished_before`, when the last run finished after it).
    async fn reconcile(
        &self,
        tenant: &Tenant,
        trigger: Trigger,
        finished_before: Option<DateTime<Utc>>,
    ) -> Result<Option<ReconciliationReport>, BillingError> {
        let provider = self.provider_for(tenant)?;
        let token = Uuid::new_v4().simple().to_string();
        let started_at = self.clock.now();
        if !store::claim_reconciliation(
            &self.db,
            tenant.id,
            &token,
            &self.replica,
            started_at,
            started_at + RECONCILE_LEASE,
            finished_before,
        )
        .await?
        {
            return Ok(None);
        }
        let events_from = store::find_reconciliation(&self.db, tenant.id)
            .await?
            .and_then(|row| row.events_from);
        let run = tokio::time::timeout(
            RUN_DEADLINE,
            self.run(tenant, provider.as_ref(), events_from, started_at),
        )
        .await
        .unwrap_or_else(|_| {
            Err(BillingError::Provider(ProviderError::Unavailable(
                "the reconciliation took too long and was stopped; the next one starts over".into(),
            )))
        });
        let (mut report, cursor) = match run {
            Ok(done) => done,
            Err(error) => {
                store::release_reconciliation(&self.db, tenant.id, &token).await?;
                return Err(error);
            }
        };
        report.trigger = trigger;
        report.finished_at = self.clock.now();
        let text = serde_json::to_string(&report)
            .map_err(|e| BillingError::Invalid(format!("the report could not be written: {e}")))?;
        if !store::finish_reconciliation(
            &self.db,
            tenant.id,
            &token,
            cursor,
            report.finished_at,
            &text,
        )
        .await?
        {
            return Err(BillingError::Busy(
                "this reconciliation outlived its claim and another one took over; its changes are kept, its report is not".into(),
            ));
        }
        tracing::info!(
            tenant.slug = %tenant.slug,
            events.read = report.events_read,
            events.applied = report.events_applied,
            subscriptions.checked = report.subscriptions_checked,
            corrections = report.corrections.len(),
            "reconciled with stripe"
        );
        Ok(Some(report))
    }

    /// Steps 1 and 2; answers the report and the new cursor.
    async fn run(
        &self,
        tenant: &Tenant,
        provider: &dyn PaymentProvider,
        events_from: Option<i64>,
        started_at: DateTime<Utc>,
    ) -> Result<(ReconciliationReport, Option<i64>), BillingError> {
        let mut report = ReconciliationReport {
            started_at,
            finished_at: started_at,
            replica: self.replica.to_string(),
            trigger: Trigger::Schedule,
            events_read: 0,
            events_applied: 0,
            subscriptions_checked: 0,
            corrections: Vec::new(),
            problems: Vec::new(),
        };
        let list_from = match events_from {
            Some(cursor) => cursor - CURSOR_OVERLAP,
            None => (started_at - FIRST_LOOK_BACK).timestamp(),
        };
        let events = self.read_events(provider, list_from).await?;
        report.events_read = u64::try_from(events.len()).unwrap_or(u64::MAX);
        let cursor = events.iter().map(|e| e.created).max().max(events_from);
        let test_mode = tenant
            .settings
            .stripe
            .as_ref()
            .is_some_and(|c| c.key_hint.contains("_test_"));
        for event in &events {
            if event.livemode && test_mode {
                continue;
            }
            let (outcome, changed) = self.ingest_event(tenant, event).await?;
            if outcome != WebhookOutcome::Duplicate {
                report.events_applied += 1;
            }
            for change in changed {
                let correction = self
                    .correction(tenant.id, change, &event.kind, Some(&event.id))
                    .await?;
                report.corrections.push(correction);
            }
        }
        self.check_subscriptions(tenant, provider, &mut report)
            .await?;
        Ok((report, cursor))
    }

    /// Every page of the handled events created at or after `from`, oldest first, each once.
    async fn read_events(
        &self,
        provider: &dyn PaymentProvider,
        from: i64,
    ) -> Result<Vec<StripeEvent>, BillingError> {
        let mut events = Vec::new();
        let mut seen = HashSet::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = tokio::time::timeout(
                self.provider_deadline,
                provider.list_events(HANDLED_EVENT_TYPES, from, after.as_deref()),
            )
            .await
            .map_err(|_| ProviderError::Unavailable("Stripe did not answer in time".into()))??;
            for event in page.events {
                if seen.insert(event.id.clone()) {
                    events.push(event);
                }
            }
            match page.last_id {
                Some(last) if page.has_more => after = Some(last),
                _ => {
                    // Stripe lists newest first; they are applied in the order they happened.
                    events.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
                    return Ok(events);
                }
            }
        }
        Err(BillingError::Provider(ProviderError::Unavailable(format!(
            "more than {MAX_PAGES} pages of events to reconcile: nothing was skipped, the next run reads them again"
        ))))
    }

    /// Step 2: reads again the subscriptions not confirmed for a while, and corrects them.
    async fn check_subscriptions(
        &self,
        tenant: &Tenant,
        provider: &dyn PaymentProvider,
        report: &mut ReconciliationReport,
    ) -> Result<(), BillingError> {
        let now = self.clock.now();
        let due = store::unconfirmed_subscriptions(
            &self.db,
            tenant.id,
            now - CONFIRMATION_AGE,
            SUBSCRIPTIONS_PER_RUN,
        )
        .await?;
        for (source, _) in due {
            let Some(id) = source.strip_prefix("subscription:") else {
                continue;
            };
            let read =
                tokio::time::timeout(self.provider_deadline, provider.subscription_state(id))
                    .await
                    .unwrap_or_else(|_| {
                        Err(ProviderError::Unavailable(
                            "Stripe did not answer in time".into(),
                        ))
                    });
            let subscription = match read {
                Ok(subscription) => subscription,
                Err(error) => {
                    report.problems.push(format!("{id}: {error}"));
                    if error.is_transient() {
                        // Stripe is struggling: the rest waits for the next run.
                        break;
                    }
                    continue;
                }
            };
            report.subscriptions_checked += 1;
            let fact = Fact::Status {
                state: subscription.state,
                period_end: subscription.period_end,
            };
            if let Some(change) = self.correct(tenant, &source, fact).await? {
                let correction = self
                    .correction(tenant.id, change, "subscription", None)
                    .await?;
                report.corrections.push(correction);
            }
        }
        Ok(())
    }

    /// Applies a state read from Stripe now to the entitlement from `source`, through the
    /// lifecycle, and confirms it; the change, when access or its period changed. A state
    /// that says what the entitlement already says writes nothing but the confirmation (its
    /// `last_event_at` stays Stripe's, so a later event is never outranked by our clock).
    async fn correct(
        &self,
        tenant: &Tenant,
        source: &str,
        fact: Fact,
    ) -> Result<Option<Changed>, BillingError> {
        let now = self.clock.now();
        let txn = crate::db::begin_write(&self.db).await?;
        let Some(held) = store::find_entitlement_by_source(&txn, tenant.id, source).await? else {
            txn.rollback().await?;
            return Ok(None);
        };
        let current = Applied {
            access: access_of(held.status),
            period_end: held.period_end,
            at: held.last_event_at,
        };
        let grace = super::entitlements::grace_of(&txn, tenant, held.offer_id).await?;
        let next = lifecycle::next(Some(current), fact, now.timestamp(), grace)
            .filter(|to| (to.access, to.period_end) != (current.access, current.period_end));
        let mut changed = None;
        if let Some(to) = next {
            store::set_lifecycle(
                &txn,
                tenant.id,
                source,
                (held.status, held.last_event_at),
                (status_of(to.access), to.period_end, to.at),
                now,
            )
            .await?;
            let subscription = source.trim_start_matches("subscription:");
            store::insert_provider_audit(
                &txn,
                tenant.id,
                "stripe",
                &format!("reconciliation:{subscription}:{}", now.timestamp()),
                "subscription.reconciled",
                Some(subscription),
                now,
            )
            .await?;
            let after = store::find_entitlement_by_source(&txn, tenant.id, source).await?;
            changed = after.map(|after| Changed {
                source: source.to_owned(),
                before: Some(held),
                after,
            });
        }
        store::confirm_entitlement(&txn, tenant.id, source, now).await?;
        txn.commit().await?;
        if changed.is_some() {
            // Every replica's fast lane forgets what it kept of this tenant's entitlements.
            self.entitlements_changed(tenant.id).await;
        }
        Ok(changed)
    }

    /// A change as the report tells it: who, which plan, from what to what, and why.
    async fn correction(
        &self,
        tenant: TenantId,
        change: Changed,
        cause: &str,
        event: Option<&str>,
    ) -> Result<Correction, BillingError> {
        let user = store::find_end_user(&self.db, tenant, change.after.end_user_id).await?;
        let offer = store::find_offer(&self.db, tenant, change.after.offer_id).await?;
        Ok(Correction {
            end_user_id: change.after.end_user_id,
            end_user: user.map(|u| u.login).unwrap_or_default(),
            offer: offer.map(|o| o.name).unwrap_or_default(),
            source: change.source,
            before: change.before.as_ref().map(|b| b.status.as_str().to_owned()),
            after: change.after.status.as_str().to_owned(),
            access_until_before: change.before.and_then(|b| b.period_end),
            access_until: change.after.period_end,
            cause: cause.to_owned(),
            event: event.map(str::to_owned),
        })
    }

    /// Starts the background job: every `interval` (the first time one interval after start),
    /// every tenant connected to Stripe whose last run is at least `interval` old is
    /// reconciled by whichever replica claims it first.
    pub fn spawn_reconciler(
        &self,
        tenants: TenantService,
        interval: std::time::Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let billing = self.clone();
        crate::clock::spawn_every(interval, shutdown, move || {
            let (billing, tenants) = (billing.clone(), tenants.clone());
            async move {
                billing.reconcile_all(&tenants, interval).await;
                billing.reconcile_rounds.send_modify(|rounds| *rounds += 1);
            }
        })
    }

    /// Counts the background job's finished rounds in this process (for tests and operators
    /// waiting on one).
    pub fn reconcile_rounds(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reconcile_rounds.subscribe()
    }

    /// One round of the background job over every tenant connected to Stripe.
    async fn reconcile_all(&self, tenants: &TenantService, interval: std::time::Duration) {
        let ids = match tenants.list_tenant_ids().await {
            Ok(ids) => ids,
            Err(error) => {
                tracing::error!(%error, "reconciliation: the tenants could not be listed");
                return;
            }
        };
        // A run that finished less than an interval ago (on any replica) is not repeated;
        // a second's slack keeps replicas' ticks from skipping a round.
        let interval = Duration::from_std(interval).unwrap_or(Duration::MAX);
        for id in ids {
            let tenant = match tenants.get_tenant_by_id(id).await {
                Ok(tenant) if tenant.settings.stripe.is_some() => tenant,
                Ok(_) => continue,
                Err(error) => {
                    tracing::error!(%error, "reconciliation: a tenant could not be read");
                    continue;
                }
            };
            let due = self.clock.now() - interval + Duration::seconds(1);
            if let Err(error) = self.reconcile(&tenant, Trigger::Schedule, Some(due)).await {
                tracing::warn!(tenant.slug = %tenant.slug, %error, "reconciliation with stripe failed; the next one starts over");
            }
        }
    }
}

/// A name for this process in reconciliation reports: the host, the process id and a few
/// random characters (two app instances in one process stay apart).
pub(super) fn replica_name() -> Arc<str> {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "tollgate".into());
    let mut tail = Uuid::new_v4().simple().to_string();
    tail.truncate(6);
    Arc::from(format!("{host}/{}/{tail}", std::process::id()))
}
