//! The payments page's double payments: each second paid checkout for a plan the user already
//! held untouched, refunded or not, and the switch that has Tollgate refund them at Stripe.

use super::api::{self, Method};
use super::tenant::use_tenant;
use super::ui::{Busy, FormError, data_table, loaded};
use crate::text;
use crate::wire::{DoublePayment, Tenant, TenantPatch};
use leptos::prelude::*;

/// The list, and the automatic-refund switch.
#[component]
pub fn DoublePayments() -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let busy = Busy::new();
    let list = LocalResource::new(move || {
        busy.pending.track();
        let path = ctx.path_tracked("/payments/duplicates");
        async move { api::get::<Vec<DoublePayment>>(&path).await }
    });
    let refunds_on = move || {
        ctx.tenant
            .with(|t| t.as_ref().is_some_and(|t| t.refund_duplicate_payments))
    };
    let toggle = move |_| {
        if busy.pending.get_untracked() {
            return;
        }
        let body = TenantPatch {
            refund_duplicate_payments: Some(!refunds_on()),
            ..TenantPatch::default()
        };
        let path = ctx.path("");
        busy.run(
            async move { api::send::<_, Tenant>(Method::Patch, &path, &body).await },
            move |t| ctx.tenant.set(Some(t)),
        );
    };
    view! {
        <section class="card">
            <h2>"Double payments"</h2>
            <p class="muted">
                "A user who pays a second time for a plan they already hold unused (two checkout "
                "tabs, say) keeps both; each such payment is listed here. Refund it in Stripe, or "
                "let Tollgate do it."
            </p>
            <label class="switch-row">
                <input
                    type="checkbox"
                    role="switch"
                    data-test="refund-duplicates"
                    // Read again when the request ends: a refused change puts it back.
                    prop:checked=move || {
                        busy.pending.track();
                        refunds_on()
                    }
                    aria-busy=move || busy.pending.get().to_string()
                    disabled=move || read_only.get()
                    on:change=toggle
                />
                <span>
                    "Refund duplicate payments automatically: the second one-time payment is "
                    "refunded in full at Stripe as soon as it arrives (a second subscription is "
                    "only listed: cancel it in Stripe if the user does not want it)."
                </span>
            </label>
            <FormError busy/>
            {loaded(
                list,
                |payments: Vec<DoublePayment>| {
                    data_table(
                        "double-payments",
                        "None: nobody paid twice.",
                        &["When", "Plan", "Amount", "Checkout", "Refunded"],
                        payments,
                        |p| {
                            let refunded = match (&p.refunded_at, p.refunded) {
                                (Some(at), _) => format!("Yes, by Tollgate ({})", text::short_time(at)),
                                (None, true) => "Yes".to_owned(),
                                (None, false) => "No".to_owned(),
                            };
                            view! {
                                <tr>
                                    <td>{text::short_time(&p.paid_at)}</td>
                                    <td>{p.offer}</td>
                                    <td>{p.amount_text}</td>
                                    <td class="mono small">{p.session_id}</td>
                                    <td>{refunded}</td>
                                </tr>
                            }
                        },
                    )
                },
            )}
        </section>
    }
}
