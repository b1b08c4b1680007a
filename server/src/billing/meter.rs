//! The meter-event sender: delivers the outbox to the tenant's payment provider with the row's
//! deterministic identifier. Transient failures (5xx, 429, time-outs, unreachable) are retried
//! with exponential backoff and jitter, through outages and restarts; a refusal (any other 4xx)
//! is never retried: the event is set aside as `failed` with the provider's message. An event
//! whose time Stripe would refuse (more than 35 days ago, or more than 5 minutes ahead) is
//! never sent, and set aside the same way. The operator sees set-aside events in the admin API
//! (`GET /api/v1/tenants/{slug}/meter-events/failed`) and on the dashboard's payments page.
//!
//! Every replica runs one. Each event is claimed before it is sent (a lease on its
//! `next_attempt_at`, `store::claim_meter_event`), so one sender sends it; a sender that dies
//! mid-send leaves it to another once the lease ends, and the provider keeps one event per
//! identifier. Tenants are sent for in parallel (up to [`PARALLEL_TENANTS`]), each tenant's
//! events in order, so one slow or hanging provider account delays only its own tenant. The
//! same loop releases stale tool-call reservations every few minutes.

use super::records::FailedMeterEvent;
use super::records::MeterRecord;
use super::{BillingError, BillingService, MeterEvent, MeterStatus, ProviderError, store};
use crate::tenant::TenantService;
use chrono::Duration;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The oldest event Stripe accepts (35 days), minus an hour for clocks that disagree.
const MAX_AGE: Duration = Duration::seconds(35 * 86_400 - 3_600);

/// How far ahead of the provider's clock an event may be (5 minutes), minus a minute.
const MAX_AHEAD: Duration = Duration::minutes(4);

/// The longest wait between two attempts at one event.
const MAX_BACKOFF: Duration = Duration::minutes(10);

/// How long a claim lasts: well over one send (8 s at most).
const LEASE: Duration = Duration::seconds(60);

/// Tenants whose events are being sent at the same time, per process.
pub const PARALLEL_TENANTS: usize = 8;

/// How often reservations left by stopped calls are released.
const STALE_SWEEP: std::time::Duration = std::time::Duration::from_secs(300);

type Busy = Arc<Mutex<HashSet<Uuid>>>;

pub(super) fn spawn(
    billing: BillingService,
    tenants: TenantService,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let busy: Busy = Arc::default();
        let mut sends = JoinSet::new();
        let mut sweep = tokio::time::interval(STALE_SWEEP);
        sweep.tick().await;
        loop {
            while sends.try_join_next().is_some() {}
            let wait = match start_due(&billing, &tenants, &busy, &mut sends).await {
                Ok(wait) => wait,
                Err(error) => {
                    tracing::error!(%error, "meter sender: database error");
                    std::time::Duration::from_secs(5)
                }
            };
            billing.meter_rounds.send_modify(|rounds| *rounds += 1);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = billing.meter_wakeup.notified() => {}
                () = tokio::time::sleep(wait) => {}
                Some(_) = sends.join_next(), if !sends.is_empty() => {}
                _ = sweep.tick() => {
                    match billing.release_stale_reservations().await {
                        Ok(0) => {}
                        Ok(released) => tracing::warn!(released, "released tool-call reservations of calls that never finished"),
                        Err(error) => tracing::error!(%error, "releasing stale reservations failed"),
                    }
                }
            }
        }
        // Sends still running end here; their claims lapse and another sender retries them.
        sends.shutdown().await;
    })
}

fn busy_now(busy: &Busy) -> Vec<Uuid> {
    busy.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .copied()
        .collect()
}

/// Claims what is due for tenants not already being sent for, and starts one task per tenant;
/// returns how long to wait before the next due event.
async fn start_due(
    billing: &BillingService,
    tenants: &TenantService,
    busy: &Busy,
    sends: &mut JoinSet<()>,
) -> Result<std::time::Duration, sea_orm::DbErr> {
    let now = billing.clock.now();
    let skip = busy_now(busy);
    let mut groups: HashMap<Uuid, Vec<MeterRecord>> = HashMap::new();
    for row in store::due_meter_events(&billing.db, now, &skip, 200).await? {
        if !groups.contains_key(&row.tenant_id) && groups.len() + skip.len() >= PARALLEL_TENANTS {
            continue;
        }
        if store::claim_meter_event(&billing.db, row.id, now, now + LEASE).await? {
            groups.entry(row.tenant_id).or_default().push(row);
        }
    }
    for (tenant, rows) in groups {
        busy.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(tenant);
        let (billing, tenants, busy) = (billing.clone(), tenants.clone(), busy.clone());
        sends.spawn(async move {
            if let Err(error) = deliver(&billing, &tenants, rows).await {
                tracing::error!(%error, "meter sender: database error");
            }
            busy.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&tenant);
        });
    }
    let next = store::next_meter_attempt(&billing.db, &busy_now(busy)).await?;
    Ok(next
        .map(|at| (at - billing.clock.now()).to_std().unwrap_or_default())
        .unwrap_or(std::time::Duration::from_secs(60))
        .max(std::time::Duration::from_millis(50)))
}

/// Why an event's time keeps it from the provider, if it does.
fn outside_window(timestamp: i64, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let now = now.timestamp();
    if now - timestamp > MAX_AGE.num_seconds() {
        Some(format!(
            "not sent: the call is older than Stripe accepts (35 days); it happened {} days ago",
            (now - timestamp) / 86_400
        ))
    } else if timestamp - now > MAX_AHEAD.num_seconds() {
        Some(format!(
            "not sent: the call's time is {} s ahead of this server's clock, beyond the 5 \
             minutes Stripe accepts",
            timestamp - now
        ))
    } else {
        None
    }
}

/// How long to wait before attempt `attempts + 1` after a transient failure: exponential
/// (2 s, 4 s, 8 s … up to 10 minutes) with "equal jitter" — a random point in the upper half —
/// so that the events of many tenants failing together do not come back together.
fn backoff(attempts: i32) -> Duration {
    let full_ms = 1000 * 2_i64.saturating_pow(attempts.clamp(1, 10).unsigned_abs());
    let full_ms = full_ms.min(MAX_BACKOFF.num_milliseconds());
    let half = full_ms / 2;
    let random = i64::try_from(Uuid::new_v4().as_u128() % (half as u128 + 1)).unwrap_or(0);
    Duration::milliseconds(half + random)
}

/// Sends one tenant's claimed events, in order.
async fn deliver(
    billing: &BillingService,
    tenants: &TenantService,
    rows: Vec<MeterRecord>,
) -> Result<(), sea_orm::DbErr> {
    for row in rows {
        let now = billing.clock.now();
        let tenant_id = crate::tenant::TenantId(row.tenant_id);
        if let Some(reason) = outside_window(row.timestamp, now) {
            tracing::error!(meter.identifier = %row.identifier, %reason, "meter event outside the provider's window: set aside");
            store::mark_meter_event(
                &billing.db,
                row.id,
                MeterStatus::Failed,
                row.attempts,
                now,
                Some(reason),
                now,
            )
            .await?;
            continue;
        }
        let provider = match tenants.get_tenant_by_id(tenant_id).await {
            Ok(tenant) => billing.provider_for(&tenant).ok(),
            Err(_) => None,
        };
        let Some(provider) = provider else {
            store::mark_meter_event(
                &billing.db,
                row.id,
                MeterStatus::Pending,
                row.attempts + 1,
                now + Duration::minutes(5),
                Some("tenant or provider unavailable".into()),
                now,
            )
            .await?;
            continue;
        };
        let event = MeterEvent {
            event_name: row.event_name.clone(),
            customer: row.provider_customer_id.clone(),
            value: row.value,
            identifier: row.identifier.clone(),
            timestamp: row.timestamp,
        };
        let sent = provider.send_meter_event(&event).await;
        let now = billing.clock.now();
        let attempts = row.attempts + 1;
        let (status, next, error) = match sent {
            Ok(()) => (MeterStatus::Sent, now, None),
            // Refused (4xx other than 429): the same request would be refused again.
            Err(ProviderError::Refused(message)) => {
                tracing::error!(meter.identifier = %row.identifier, attempts, %message, "meter event refused by the provider: set aside");
                (MeterStatus::Failed, now, Some(message))
            }
            Err(error @ ProviderError::Unsupported) => {
                (MeterStatus::Failed, now, Some(error.to_string()))
            }
            Err(error @ ProviderError::Unavailable(_)) => {
                let wait = backoff(attempts);
                tracing::warn!(meter.identifier = %row.identifier, attempts, %error, retry_in_ms = wait.num_milliseconds(), "meter event not delivered; will retry");
                (MeterStatus::Pending, now + wait, Some(error.to_string()))
            }
        };
        store::mark_meter_event(&billing.db, row.id, status, attempts, next, error, now).await?;
    }
    Ok(())
}

impl BillingService {
    /// Starts the meter-event sender; it runs until `shutdown`.
    pub fn spawn_meter_sender(
        &self,
        tenants: TenantService,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        spawn(self.clone(), tenants, shutdown)
    }

    /// Wakes the meter sender now (it also wakes on each new event and on its retry timer).
    pub fn wake_meter_sender(&self) {
        self.meter_wakeup.notify_one();
    }

    /// Counts the sender's delivery rounds: a receiver sees a change after each one.
    pub fn meter_rounds(&self) -> tokio::sync::watch::Receiver<u64> {
        self.meter_rounds.subscribe()
    }

    /// Meter events not yet delivered (for operators and tests).
    pub async fn pending_meter_events(&self) -> Result<u64, BillingError> {
        Ok(store::count_pending_meter_events(&self.db).await?)
    }
}

impl BillingService {
    /// The tenant's meter events set aside as `failed` (the latest 100), for the operator.
    pub async fn failed_meter_events(
        &self,
        tenant: crate::tenant::TenantId,
    ) -> Result<Vec<FailedMeterEvent>, BillingError> {
        Ok(store::failed_meter_events(&self.db, tenant, 100).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_stripes_35_days_back_and_5_minutes_ahead() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
        let at = |offset: Duration| (now + offset).timestamp();
        assert!(outside_window(at(Duration::days(-30)), now).is_none());
        assert!(outside_window(at(Duration::seconds(60)), now).is_none());
        assert!(outside_window(at(Duration::days(-35)), now).is_some());
        assert!(outside_window(at(Duration::minutes(6)), now).is_some());
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_its_upper_half() {
        for attempts in 1..30 {
            let full =
                Duration::milliseconds(1000 * 2_i64.pow(attempts.min(10) as u32)).min(MAX_BACKOFF);
            let wait = backoff(attempts);
            assert!(wait <= full && wait >= full / 2, "{attempts}: {wait}");
        }
        let waits: HashSet<i64> = (0..20).map(|_| backoff(8).num_milliseconds()).collect();
        assert!(waits.len() > 1, "jittered: {waits:?}");
    }
}
