//! The meter-event sender: delivers the outbox to the tenant's payment provider with the row's
//! deterministic identifier, retrying with exponential backoff through outages and restarts.
//! An event older than the provider accepts (35 days) is set aside as `dead` for an operator.
//!
//! Every replica runs one. Each event is claimed before it is sent (a lease on its
//! `next_attempt_at`, `store::claim_meter_event`), so one sender sends it; a sender that dies
//! mid-send leaves it to another once the lease ends, and the provider keeps one event per
//! identifier. Tenants are sent for in parallel (up to [`PARALLEL_TENANTS`]), each tenant's
//! events in order, so one slow or hanging provider account delays only its own tenant. The
//! same loop releases stale tool-call reservations every few minutes.

use super::records::MeterRecord;
use super::{BillingError, BillingService, MeterEvent, MeterStatus, store};
use crate::tenant::TenantService;
use chrono::Duration;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The oldest event Stripe accepts, minus a safety margin.
const MAX_AGE: Duration = Duration::days(34);

/// How long a claim lasts: well over one send with its retry (2 × 8 s).
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

/// Sends one tenant's claimed events, in order.
async fn deliver(
    billing: &BillingService,
    tenants: &TenantService,
    rows: Vec<MeterRecord>,
) -> Result<(), sea_orm::DbErr> {
    for row in rows {
        let now = billing.clock.now();
        let tenant_id = crate::tenant::TenantId(row.tenant_id);
        if now.timestamp() - row.timestamp > MAX_AGE.num_seconds() {
            tracing::error!(meter.identifier = %row.identifier, "meter event too old for the provider: set aside");
            store::mark_meter_event(
                &billing.db,
                row.id,
                MeterStatus::Dead,
                row.attempts,
                now,
                Some("older than 34 days".into()),
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
        match sent {
            Ok(()) => {
                store::mark_meter_event(
                    &billing.db,
                    row.id,
                    MeterStatus::Sent,
                    row.attempts + 1,
                    now,
                    None,
                    now,
                )
                .await?;
            }
            Err(error) => {
                let attempts = row.attempts + 1;
                let backoff = Duration::seconds(2_i64.saturating_pow(attempts.clamp(0, 9) as u32))
                    .min(Duration::minutes(10));
                tracing::warn!(meter.identifier = %row.identifier, attempts, %error, "meter event not delivered; will retry");
                store::mark_meter_event(
                    &billing.db,
                    row.id,
                    MeterStatus::Pending,
                    attempts,
                    now + backoff,
                    Some(error.to_string()),
                    now,
                )
                .await?;
            }
        }
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
