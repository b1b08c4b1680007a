//! The meter-event sender: delivers the outbox to the tenant's payment provider with the row's
//! deterministic identifier, retrying with exponential backoff through outages and restarts.
//! An event older than the provider accepts (35 days) is set aside as `dead` for an operator.

use super::{BillingService, MeterEvent, store};
use crate::tenant::TenantService;
use chrono::Duration;
use tokio_util::sync::CancellationToken;

/// The oldest event Stripe accepts, minus a safety margin.
const MAX_AGE: Duration = Duration::days(34);

pub(super) fn spawn(
    billing: BillingService,
    tenants: TenantService,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = match deliver_due(&billing, &tenants).await {
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
            }
        }
    })
}

/// Sends what is due; returns how long to wait before the next due event.
async fn deliver_due(
    billing: &BillingService,
    tenants: &TenantService,
) -> Result<std::time::Duration, sea_orm::DbErr> {
    let now = billing.clock.now();
    for row in store::due_meter_events(&billing.db, now, 100).await? {
        let tenant_id = crate::tenant::TenantId(row.tenant_id);
        if now.timestamp() - row.timestamp > MAX_AGE.num_seconds() {
            tracing::error!(meter.identifier = %row.identifier, "meter event too old for the provider: set aside");
            store::mark_meter_event(
                &billing.db,
                row.id,
                "dead",
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
                "pending",
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
        match provider.send_meter_event(&event).await {
            Ok(()) => {
                store::mark_meter_event(
                    &billing.db,
                    row.id,
                    "sent",
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
                    "pending",
                    attempts,
                    now + backoff,
                    Some(error.to_string()),
                    now,
                )
                .await?;
            }
        }
    }
    let next = store::next_meter_attempt(&billing.db).await?;
    Ok(next
        .map(|at| (at - billing.clock.now()).to_std().unwrap_or_default())
        .unwrap_or(std::time::Duration::from_secs(60))
        .max(std::time::Duration::from_millis(50)))
}
