//! The payments page's reconciliation card: when Tollgate last compared its entitlements with
//! the tenant's Stripe account, what it corrected, and, for admins, a button to do it now.

use super::api::{self, Method};
use super::tenant::use_tenant;
use super::ui::{Busy, FormError, data_table, loaded};
use crate::text;
use crate::wire::ReconciliationReport;
use leptos::prelude::*;

/// The last reconciliation (or the one just run) and its corrections.
#[component]
pub fn Reconciliation() -> impl IntoView {
    let ctx = use_tenant();
    let can_edit = ctx.can_edit();
    let last = LocalResource::new(move || {
        let path = ctx.path_tracked("/billing/reconciliation");
        async move { api::get::<Option<ReconciliationReport>>(&path).await }
    });
    let fresh = RwSignal::new(None::<ReconciliationReport>);
    let busy = Busy::new();
    let run = move |_| {
        let path = ctx.path("/billing/reconcile");
        busy.run(
            async move { api::call::<ReconciliationReport>(Method::Post, &path).await },
            move |report| fresh.set(Some(report)),
        );
    };
    view! {
        <section class="card" data-test="reconciliation">
            <h2>"Reconciliation with Stripe"</h2>
            <p class="muted">
                "Webhooks can be lost. Every few minutes Tollgate reads back Stripe's events, "
                "reads again the subscriptions it has not heard about for an hour, and corrects "
                "any access that differs from Stripe."
            </p>
            {move || fresh.get().map(|report| summary(Some(report)))}
            <Show when=move || fresh.get().is_none()>
                {loaded(last, summary)}
            </Show>
            <Show when=move || can_edit.get()>
                <div class="form-actions">
                    <button type="button" class="btn" data-test="reconcile-now"
                        disabled=move || busy.pending.get() on:click=run>
                        {move || {
                            if busy.pending.get() { "Reconciling…" } else { "Reconcile now" }
                        }}
                    </button>
                </div>
                <FormError busy=busy/>
            </Show>
        </section>
    }
}

/// One run's summary line and its corrections.
fn summary(report: Option<ReconciliationReport>) -> AnyView {
    let Some(report) = report else {
        return view! { <p data-test="reconciliation-last">"Not reconciled yet."</p> }.into_any();
    };
    let by = if report.trigger == "operator" {
        "asked for"
    } else {
        "scheduled"
    };
    let line = format!(
        "Last run {} ({by}, on {}): {} events read, {} of them from lost webhooks, {} \
         subscriptions read again, {} corrected.",
        text::short_time(&report.finished_at),
        report.replica,
        report.events_read,
        report.events_applied,
        report.subscriptions_checked,
        report.corrections.len(),
    );
    let problems = (!report.problems.is_empty()).then(|| {
        view! {
            <p class="alert error" data-test="reconciliation-problems">
                {format!("Not checked: {}", report.problems.join("; "))}
            </p>
        }
    });
    view! {
        <p data-test="reconciliation-last">{line}</p>
        {problems}
        {data_table(
            "reconciliation-corrections",
            "Nothing to correct: every entitlement matched Stripe.",
            &["Customer", "Plan", "Was", "Now", "Why"],
            report.corrections,
            |c| {
                view! {
                    <tr>
                        <td>{c.end_user}</td>
                        <td>{c.offer}</td>
                        <td>{c.before.unwrap_or_else(|| "none".into())}</td>
                        <td>{c.after}</td>
                        <td class="small">{c.cause}</td>
                    </tr>
                }
            },
        )}
    }
    .into_any()
}
