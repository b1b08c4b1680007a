//! A tenant's Stripe connection: connecting, disconnecting, testing it, its prices, the
//! meter events Stripe refused (or would have), and reconciliation with Stripe.

use super::{Body, Result, TenantMember, audit, min, public_url};
use crate::admin::tenant_view;
use crate::app::AppState;
use crate::billing::{ReconciliationReport, Trigger};
use api_types::wire;
use axum::Json;
use axum::extract::State;

/// `PUT /api/v1/tenants/{slug}/payments/stripe`
pub async fn connect_stripe(
    State(state): State<AppState>,
    TenantMember {
        tenant, role, auth, ..
    }: TenantMember<min::Admin>,
    Body(body): Body<wire::StripeKeys>,
) -> Result<Json<wire::Tenant>> {
    state
        .billing
        .connect_stripe(
            &state.tenants,
            &tenant,
            &body.secret_key,
            &[body.webhook_secret.trim()],
        )
        .await?;
    let tenant = state.tenants.get_tenant_by_id(tenant.id).await?;
    // The keys never reach the log: only the masked hint.
    audit(
        &state,
        &auth,
        Some(&tenant),
        "payments.connect",
        "stripe",
        serde_json::json!({
            "key_hint": tenant.settings.stripe.as_ref().map(|s| s.key_hint.clone())
        }),
    )
    .await?;
    Ok(Json(tenant_view(&tenant, role, &public_url(&state))))
}

/// `DELETE /api/v1/tenants/{slug}/payments/stripe`
pub async fn disconnect_stripe(
    State(state): State<AppState>,
    TenantMember {
        tenant, role, auth, ..
    }: TenantMember<min::Admin>,
) -> Result<Json<wire::Tenant>> {
    let tenant = state
        .billing
        .disconnect_stripe(&state.tenants, &tenant)
        .await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "payments.disconnect",
        "stripe",
        serde_json::json!({}),
    )
    .await?;
    Ok(Json(tenant_view(&tenant, role, &public_url(&state))))
}

/// `POST /api/v1/tenants/{slug}/payments/stripe/test`
pub async fn test_stripe(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Admin>,
) -> Result<Json<wire::ConnectionTest>> {
    Ok(Json(state.billing.test_connection(&tenant).await.into()))
}

/// `GET /api/v1/tenants/{slug}/payments/stripe/prices`
pub async fn stripe_prices(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Admin>,
) -> Result<Json<Vec<wire::StripePrice>>> {
    Ok(Json(
        state
            .billing
            .stripe_prices(&tenant)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// `GET /api/v1/tenants/{slug}/meter-events/failed`: usage that never reached Stripe, with
/// why, the latest 100 first.
pub async fn failed_meter_events(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<Vec<wire::FailedMeterEvent>>> {
    Ok(Json(
        state
            .billing
            .failed_meter_events(tenant.id)
            .await?
            .into_iter()
            .map(|event| wire::FailedMeterEvent {
                identifier: event.identifier,
                event_name: event.event_name,
                customer: event.customer,
                value: event.value,
                occurred_at: event.occurred_at.to_rfc3339(),
                reason: event.reason,
                attempts: event.attempts,
                failed_at: event.failed_at.to_rfc3339(),
            })
            .collect(),
    ))
}

/// `POST /api/v1/tenants/{slug}/billing/reconcile`: reconciles the tenant with its Stripe
/// account now and answers the report; 409 while another replica's run holds the claim.
pub async fn reconcile_billing(
    State(state): State<AppState>,
    TenantMember { tenant, auth, .. }: TenantMember<min::Admin>,
) -> Result<Json<wire::ReconciliationReport>> {
    let report = state.billing.reconcile_now(&tenant).await?;
    audit(
        &state,
        &auth,
        Some(&tenant),
        "billing.reconcile",
        "stripe",
        serde_json::json!({
            "events_applied": report.events_applied,
            "subscriptions_checked": report.subscriptions_checked,
            "corrections": report.corrections.len(),
        }),
    )
    .await?;
    Ok(Json(report_view(report)))
}

/// `GET /api/v1/tenants/{slug}/billing/reconciliation`: the last run's report, or null.
pub async fn last_reconciliation(
    State(state): State<AppState>,
    TenantMember { tenant, .. }: TenantMember<min::Viewer>,
) -> Result<Json<Option<wire::ReconciliationReport>>> {
    Ok(Json(
        state
            .billing
            .last_reconciliation(tenant.id)
            .await?
            .map(report_view),
    ))
}

fn report_view(report: ReconciliationReport) -> wire::ReconciliationReport {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339());
    wire::ReconciliationReport {
        started_at: report.started_at.to_rfc3339(),
        finished_at: report.finished_at.to_rfc3339(),
        replica: report.replica,
        trigger: match report.trigger {
            Trigger::Schedule => "schedule",
            Trigger::Operator => "operator",
        }
        .to_owned(),
        events_read: report.events_read,
        events_applied: report.events_applied,
        subscriptions_checked: report.subscriptions_checked,
        corrections: report
            .corrections
            .into_iter()
            .map(|c| wire::ReconciliationCorrection {
                end_user_id: c.end_user_id.to_string(),
                end_user: c.end_user,
                offer: c.offer,
                source: c.source,
                before: c.before,
                after: c.after,
                access_until_before: time(c.access_until_before),
                access_until: time(c.access_until),
                cause: c.cause,
                event: c.event,
            })
            .collect(),
        problems: report.problems,
    }
}
