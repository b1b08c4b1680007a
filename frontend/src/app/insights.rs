//! Analytics (charts drawn as inline SVG by `crate::chart`) and the audit log.

use super::api;
use super::tenant::use_tenant;
use super::ui::{PageTitle, data_table, loaded};
use crate::chart::{self, SERIES};
use crate::text::short_time;
use crate::wire::{Analytics, AuditEntry};
use leptos::prelude::*;

/// Today's date in UTC (`YYYY-MM-DD`), from the browser's clock.
fn today_utc() -> String {
    let iso: String = js_sys::Date::new_0().to_iso_string().into();
    iso.get(..10).unwrap_or_default().to_string()
}

/// `/admin/t/:slug/analytics`.
#[component]
pub fn AnalyticsPage() -> impl IntoView {
    let ctx = use_tenant();
    // The period lives in the URL (`?days=7`), so a link or a reload shows the same numbers.
    let query = super::ui::query_param("days");
    let days = Memo::new(move |_| {
        query
            .get()
            .parse::<u32>()
            .ok()
            .filter(|d| [7, 30, 90].contains(d))
            .unwrap_or(30)
    });
    let navigate = super::navigator();
    let pick = move |n: u32| {
        navigate(&format!(
            "/admin/t/{}/analytics?days={n}",
            ctx.slug.get_untracked()
        ));
    };
    let analytics = LocalResource::new(move || {
        let path = ctx.path_tracked(&format!("/analytics?days={}", days.get()));
        async move { api::get::<Analytics>(&path).await }
    });
    view! {
        <main class="page">
            <div class="page-head row">
                <PageTitle title="Analytics"/>
                <div class="segmented" role="group" aria-label="Period">
                    {[7_u32, 30, 90]
                        .into_iter()
                        .map(|n| {
                            let pick = pick.clone();
                            view! {
                                <button
                                    type="button"
                                    class="seg"
                                    class:active=move || days.get() == n
                                    aria-pressed=move || (days.get() == n).to_string()
                                    data-test=format!("days-{n}")
                                    on:click=move |_| pick(n)
                                >
                                    {format!("{n} days")}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
            </div>
            {loaded(analytics, |a: Analytics| view! { <Charts analytics=a/> })}
        </main>
    }
}

#[component]
fn Charts(analytics: Analytics) -> impl IntoView {
    let dates = chart::date_range(&today_utc(), analytics.days);
    let per_day = chart::per_day(&analytics.daily, &dates);
    let per_tool = chart::per_tool(&analytics.daily);
    let totals = analytics.totals.clone();
    let daily_svg = chart::stacked_bars_svg(&per_day);
    let tools_svg = chart::horizontal_bars_svg(&per_tool, "s-tool");
    let conversion_pct = (totals.conversion * 100.0).round();
    let conversion_width = format!("width: {}%", conversion_pct.clamp(0.0, 100.0));
    let revenue = analytics.revenue;
    view! {
        <section class="tiles">
            <div class="tile" data-test="total-calls">
                <div class="tile-value">{totals.calls}</div>
                <div class="tile-label">"Calls"</div>
            </div>
            <div class="tile">
                <div class="tile-value">{totals.paid}</div>
                <div class="tile-label">"Paid calls"</div>
            </div>
            <div class="tile">
                <div class="tile-value">{totals.payment_required}</div>
                <div class="tile-label">"Payment requests"</div>
            </div>
            <div class="tile" class:warn={totals.errors > 0} data-test="error-count">
                <div class="tile-value">{totals.errors}</div>
                <div class="tile-label">"Errors"</div>
            </div>
        </section>
        <section class="card">
            <h2>"Calls per day"</h2>
            <div class="legend">
                {SERIES
                    .iter()
                    .map(|(class, label)| {
                        view! {
                            <span class="legend-item">
                                <span class=format!("swatch {class}")></span>
                                {*label}
                            </span>
                        }
                    })
                    .collect_view()}
            </div>
            <div class="chart-wrap" data-test="chart-daily" inner_html=daily_svg></div>
        </section>
        <div class="grid-2 cards-row">
            <section class="card">
                <h2>"Conversion"</h2>
                <p class="big-number" data-test="conversion">{format!("{conversion_pct}%")}</p>
                <div class="meter" aria-hidden="true">
                    <div class="meter-fill" style=conversion_width></div>
                </div>
                <p class="muted">
                    {totals.checkouts_paid} " of " {totals.checkouts_started}
                    " checkouts started were paid."
                </p>
            </section>
            <section class="card">
                <h2>"Revenue"</h2>
                <div data-test="revenue">
                    {if revenue.is_empty() {
                        view! { <p class="big-number muted">"–"</p> }.into_any()
                    } else {
                        revenue
                            .into_iter()
                            .map(|m| {
                                view! {
                                    <p class="big-number">
                                        {m.text}
                                        <span class="muted small">" " {m.currency.to_uppercase()}</span>
                                    </p>
                                }
                            })
                            .collect_view()
                            .into_any()
                    }}
                </div>
            </section>
        </div>
        <section class="card">
            <h2>"Calls per tool"</h2>
            {if per_tool.is_empty() {
                view! { <p class="empty" data-test="chart-tools">"No calls in this period."</p> }
                    .into_any()
            } else {
                view! { <div class="chart-wrap" data-test="chart-tools" inner_html=tools_svg></div> }
                    .into_any()
            }}
        </section>
    }
}

/// `/admin/t/:slug/audit`.
#[component]
pub fn AuditPage() -> impl IntoView {
    let ctx = use_tenant();
    let entries = LocalResource::new(move || {
        let path = ctx.path_tracked("/audit");
        async move { api::get::<Vec<AuditEntry>>(&path).await }
    });
    view! {
        <main class="page">
            <PageTitle title="Audit log" subtitle="Every configuration change, newest first (the last 200)."/>
            {loaded(
                entries,
                |list: Vec<AuditEntry>| {
                    data_table(
                        "audit-table",
                        "Nothing yet.",
                        &["When (UTC)", "Who", "Action", "Target", "Detail"],
                        list,
                        |e| {
                            let detail = if e.detail.is_null() {
                                None
                            } else {
                                Some(serde_json::to_string_pretty(&e.detail).unwrap_or_default())
                            };
                            view! {
                                <tr data-test="audit-row">
                                    <td class="nowrap">{short_time(&e.at)}</td>
                                    <td>{e.actor}</td>
                                    <td><code>{e.action}</code></td>
                                    <td class="mono small">{e.target}</td>
                                    <td>
                                        {detail
                                            .map(|d| {
                                                view! {
                                                    <details>
                                                        <summary>"Show"</summary>
                                                        <pre class="json small">{d}</pre>
                                                    </details>
                                                }
                                            })}
                                    </td>
                                </tr>
                            }
                        },
                    )
                },
            )}
        </main>
    }
}
