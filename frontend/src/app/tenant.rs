//! One tenant: the frame with its sidebar, the overview, and the settings page.

use super::api::{self, Method};
use super::navigator;
use super::shell::use_tenant_list;
use super::ui::{
    Busy, CopyButton, Field, FormError, LoadError, Loading, PageTitle, ReadOnlyNote, RoleBadge,
    Submit, check, loaded,
};
use crate::text::format_label;
use crate::validate;
use crate::wire::{DeleteTenant, Overview, Tenant, TenantPatch};
use leptos::prelude::*;
use leptos_router::components::Outlet;
use leptos_router::hooks::{use_location, use_params_map};

/// The tenant being looked at, shared by its pages.
#[derive(Clone, Copy)]
pub struct TenantCtx {
    /// Its slug (from the URL).
    pub slug: Memo<String>,
    /// The tenant, once loaded (pages replace it with the API's answers).
    pub tenant: RwSignal<Option<Tenant>>,
}

impl TenantCtx {
    /// `/tenants/{slug}` + `rest`, for API calls.
    pub fn path(&self, rest: &str) -> String {
        format!("/tenants/{}{rest}", api::seg(&self.slug.get_untracked()))
    }

    /// Same, tracking the slug (for resources).
    pub fn path_tracked(&self, rest: &str) -> String {
        format!("/tenants/{}{rest}", api::seg(&self.slug.get()))
    }

    /// The operator's role here.
    pub fn role(&self) -> String {
        self.tenant
            .with(|t| t.as_ref().map(|t| t.role.clone()))
            .unwrap_or_default()
    }

    /// Whether they may change things (owner or admin).
    pub fn can_edit(&self) -> Signal<bool> {
        let this = *self;
        Signal::derive(move || matches!(this.role().as_str(), "owner" | "admin"))
    }

    /// Whether they may only look.
    pub fn read_only(&self) -> Signal<bool> {
        let edit = self.can_edit();
        Signal::derive(move || !edit.get())
    }

    /// Whether they own the tenant.
    pub fn is_owner(&self) -> Signal<bool> {
        let this = *self;
        Signal::derive(move || this.role() == "owner")
    }
}

/// The `TenantCtx` context.
pub fn use_tenant() -> TenantCtx {
    expect_context::<TenantCtx>()
}

const SECTIONS: [(&str, &str); 10] = [
    ("", "Overview"),
    ("tools", "Tools"),
    ("plans", "Plans"),
    ("payments", "Payments"),
    ("sign-in", "Sign-in"),
    ("customers", "Customers"),
    ("analytics", "Analytics"),
    ("audit", "Audit log"),
    ("members", "Members"),
    ("settings", "Settings"),
];

/// `/admin/t/:slug/…`: loads the tenant and shows the sidebar.
#[component]
pub fn TenantShell() -> impl IntoView {
    let params = use_params_map();
    let slug = Memo::new(move |_| params.with(|p| p.get("slug").unwrap_or_default()));
    let ctx = TenantCtx {
        slug,
        tenant: RwSignal::new(None),
    };
    provide_context(ctx);
    let resource = LocalResource::new(move || {
        let path = format!("/tenants/{}", api::seg(&slug.get()));
        async move { api::get::<Tenant>(&path).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(tenant)) = resource.get() {
            ctx.tenant.set(Some(tenant));
        }
    });
    let location = use_location();
    let section = Memo::new(move |_| {
        let path = location.pathname.get();
        let prefix = format!("/admin/t/{}", slug.get());
        path.strip_prefix(&prefix)
            .unwrap_or("")
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_string()
    });
    let menu_open = RwSignal::new(false);
    view! {
        <div class="layout">
            <aside class="sidebar" class:open=move || menu_open.get()>
                <div class="sidebar-head">
                    <div class="tenant-name">
                        {move || ctx.tenant.get().map(|t| t.name).unwrap_or_else(|| slug.get())}
                    </div>
                    {move || ctx.tenant.get().map(|t| view! { <RoleBadge role=t.role/> })}
                    <button type="button" class="btn small menu-toggle" aria-label="Menu"
                        on:click=move |_| menu_open.update(|o| *o = !*o)>
                        {move || if menu_open.get() { "Close" } else { "Menu" }}
                    </button>
                </div>
                <nav data-test="tenant-nav" on:click=move |_| menu_open.set(false)>
                    {SECTIONS
                        .iter()
                        .map(|(path, label)| {
                            let href = move || {
                                if path.is_empty() {
                                    format!("/admin/t/{}", slug.get())
                                } else {
                                    format!("/admin/t/{}/{path}", slug.get())
                                }
                            };
                            let test = if path.is_empty() {
                                "nav-overview".to_string()
                            } else {
                                format!("nav-{path}")
                            };
                            view! {
                                <a
                                    href=href
                                    data-test=test
                                    class:active=move || section.get() == *path
                                    aria-current=move || (section.get() == *path).then_some("page")
                                >
                                    {*label}
                                </a>
                            }
                        })
                        .collect_view()}
                </nav>
            </aside>
            <div class="content">
                {move || match resource.get() {
                    None if ctx.tenant.with(Option::is_none) => view! { <Loading/> }.into_any(),
                    Some(Err(failure)) => {
                        view! {
                            <main class="page">
                                <LoadError failure/>
                                <p><a href="/admin">"Back to your tenants"</a></p>
                            </main>
                        }
                            .into_any()
                    }
                    _ => view! { <Outlet/> }.into_any(),
                }}
            </div>
        </div>
    }
}

/// `/admin/t/:slug`: MCP URL, client configurations, numbers.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let ctx = use_tenant();
    let overview = LocalResource::new(move || {
        let path = ctx.path_tracked("/overview");
        async move { api::get::<Overview>(&path).await }
    });
    view! {
        <main class="page">
            <PageTitle title="Overview"/>
            {loaded(overview, |o: Overview| view! { <OverviewBody overview=o/> })}
        </main>
    }
}

#[component]
fn OverviewBody(overview: Overview) -> impl IntoView {
    let url = overview.mcp_url.clone();
    let configs = StoredValue::new(overview.client_configs.clone());
    let tab = RwSignal::new(
        overview
            .client_configs
            .first()
            .map(|c| c.client.clone())
            .unwrap_or_default(),
    );
    let revenue = if overview.revenue_30d.is_empty() {
        "–".to_string()
    } else {
        overview
            .revenue_30d
            .iter()
            .map(|m| m.text.clone())
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let tiles = [
        (
            "calls-today",
            "Calls today",
            overview.calls_today.to_string(),
        ),
        (
            "calls-30d",
            "Calls, 30 days",
            overview.calls_30d.to_string(),
        ),
        ("revenue-30d", "Revenue, 30 days", revenue),
        (
            "paying-customers",
            "Paying customers",
            overview.paying_customers.to_string(),
        ),
        ("end-users", "End users", overview.end_users.to_string()),
        (
            "tools",
            "Tools enabled / paid",
            format!("{} / {}", overview.tools_enabled, overview.tools_paid),
        ),
    ];
    view! {
        <section class="card">
            <h2>"MCP server URL"</h2>
            <p class="muted">"Paste this into any MCP client. Users sign in with GitHub when a tool needs it."</p>
            <div class="url-row big">
                <code class="url" data-test="mcp-url">{overview.mcp_url}</code>
                <CopyButton text=url/>
            </div>
        </section>
        <section class="tiles">
            {tiles
                .into_iter()
                .map(|(key, label, value)| {
                    view! {
                        <div class="tile" data-test=format!("stat-{key}")>
                            <div class="tile-value">{value}</div>
                            <div class="tile-label">{label}</div>
                        </div>
                    }
                })
                .collect_view()}
        </section>
        <section class="card">
            <h2>"Connect a client"</h2>
            <div class="tabs" role="tablist">
                {move || {
                    configs
                        .get_value()
                        .into_iter()
                        .map(|c| {
                            let client = c.client.clone();
                            let active = {
                                let client = client.clone();
                                move || tab.with(|t| *t == client)
                            };
                            view! {
                                <button
                                    type="button"
                                    role="tab"
                                    class="tab"
                                    class:active=active.clone()
                                    aria-selected=move || active().to_string()
                                    data-test=format!("client-tab-{}", c.client)
                                    on:click=move |_| tab.set(client.clone())
                                >
                                    {c.label}
                                </button>
                            }
                        })
                        .collect_view()
                }}
            </div>
            {move || {
                configs
                    .get_value()
                    .into_iter()
                    .find(|c| tab.with(|t| *t == c.client))
                    .map(|c| {
                        let text = c.text.clone();
                        view! {
                            <div class="snippet" data-test=format!("client-config-{}", c.client)>
                                <div class="snippet-head">
                                    <span class="muted small">{format_label(&c.format)}</span>
                                    <CopyButton text=text/>
                                </div>
                                <pre><code>{c.text}</code></pre>
                            </div>
                        }
                    })
            }}
        </section>
    }
}

/// `/admin/t/:slug/settings`: name, billing tools, delete.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let is_owner = ctx.is_owner();
    let name = RwSignal::new(String::new());
    Effect::new(move |_| {
        if let Some(t) = ctx.tenant.get() {
            name.set(t.name);
        }
    });
    let tenants = use_tenant_list().0;
    let busy = Busy::new();
    let saved = RwSignal::new(false);
    let name_err = check(name, |v| validate::text("name", v, 200));
    let invalid = Signal::derive(move || name_err.get().is_some() || read_only.get());
    let rename = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = TenantPatch {
            name: Some(name.get_untracked().trim().to_string()),
            ..TenantPatch::default()
        };
        let path = ctx.path("");
        saved.set(false);
        busy.run(
            async move { api::send::<_, Tenant>(Method::Patch, &path, &body).await },
            move |t| {
                ctx.tenant.set(Some(t));
                saved.set(true);
                tenants.refetch();
            },
        );
    };
    let toggle_busy = Busy::new();
    let billing_tools = move || {
        ctx.tenant
            .with(|t| t.as_ref().is_some_and(|t| t.billing_tools))
    };
    let toggle_billing = move |_| {
        if toggle_busy.pending.get_untracked() {
            return;
        }
        let body = TenantPatch {
            billing_tools: Some(!billing_tools()),
            ..TenantPatch::default()
        };
        let path = ctx.path("");
        toggle_busy.run(
            async move { api::send::<_, Tenant>(Method::Patch, &path, &body).await },
            move |t| ctx.tenant.set(Some(t)),
        );
    };
    let dialog_open = RwSignal::new(false);
    view! {
        <main class="page">
            <PageTitle title="Settings"/>
            <Show when=move || read_only.get()>
                <ReadOnlyNote/>
            </Show>
            <section class="card form-card">
                <h2>"Name"</h2>
                <form data-test="rename-form" on:submit=rename novalidate class="inline-form">
                    <Field label="Tenant name" name="name" value=name error=name_err busy=busy
                        disabled=read_only/>
                    <Submit label="Save" busy invalid test="rename-submit"/>
                </form>
                <FormError busy fields=&["name"]/>
                <Show when=move || saved.get()>
                    <p class="ok small" role="status">"Saved."</p>
                </Show>
            </section>
            <section class="card">
                <h2>"Billing tools"</h2>
                <label class="switch-row">
                    <input
                        type="checkbox"
                        role="switch"
                        data-test="billing-tools"
                        // Read again when the request ends: a refused change puts it back.
                        prop:checked=move || {
                            toggle_busy.pending.track();
                            billing_tools()
                        }
                        aria-busy=move || toggle_busy.pending.get().to_string()
                        disabled=move || read_only.get()
                        on:change=toggle_billing
                    />
                    <span>
                        "Offer the "
                        <code>"billing_status"</code>
                        ", "
                        <code>"billing_portal"</code>
                        " and "
                        <code>"list_plans"</code>
                        " tools, so users can see their plans and manage payments from their client."
                    </span>
                </label>
                <FormError busy=toggle_busy/>
            </section>
            <Show when=move || is_owner.get()>
                <section class="card danger-zone">
                    <h2>"Danger zone"</h2>
                    <p>
                        "Deleting the tenant removes its MCP server, tools, plans, users and history. "
                        "Clients using it stop working at once."
                    </p>
                    <button
                        type="button"
                        class="btn danger"
                        data-test="delete-tenant"
                        on:click=move |_| dialog_open.set(true)
                    >
                        "Delete tenant…"
                    </button>
                </section>
            </Show>
            <Show when=move || dialog_open.get()>
                <DeleteDialog on_close=Callback::new(move |()| dialog_open.set(false))/>
            </Show>
        </main>
    }
}

#[component]
fn DeleteDialog(on_close: Callback<()>) -> impl IntoView {
    let ctx = use_tenant();
    let tenants = use_tenant_list().0;
    let navigate = navigator();
    let confirm = RwSignal::new(String::new());
    let cancel_subscriptions = RwSignal::new(false);
    let busy = Busy::new();
    let invalid = Signal::derive(move || confirm.get() != ctx.slug.get());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = DeleteTenant {
            confirm: confirm.get_untracked(),
            cancel_subscriptions: cancel_subscriptions.get_untracked(),
        };
        let path = ctx.path("");
        let navigate = navigate.clone();
        busy.run(
            async move { api::send_empty(Method::Delete, &path, &body).await },
            move |()| {
                tenants.refetch();
                navigate("/admin");
            },
        );
    };
    view! {
        <div class="backdrop" on:click=move |_| on_close.run(())></div>
        <div class="dialog" role="dialog" aria-modal="true" data-test="delete-dialog">
            <h2>"Delete " {move || ctx.slug.get()} "?"</h2>
            <p>
                "This cannot be undone. Type " <code>{move || ctx.slug.get()}</code>
                " to confirm."
            </p>
            // The rest period is the server's own number (`tenant::SLUG_RETIREMENT`).
            {move || {
                ctx.tenant
                    .with(|t| t.as_ref().map(|t| t.slug_rest_days))
                    .map(|days| {
                        view! {
                            <p data-test="slug-rest">
                                "The address " <code>{ctx.slug.get()}</code> " then rests for "
                                <strong>{if days == 1 { "1 day".to_owned() } else { format!("{days} days") }}</strong>
                                ": its MCP and payment links answer that the tenant is gone, and no tenant, "
                                "this one included, can take it before then."
                            </p>
                        }
                    })
            }}
            <p data-test="delete-subscriptions">
                "Customers' Stripe subscriptions outlive the tenant and would go on charging. "
                "Unless you tick the box below, a tenant with live subscriptions is not deleted: "
                "you are told how many, and cancel them in Stripe first. Ticked, Tollgate cancels "
                "each of them at Stripe now (no refund, no further charge), then deletes the tenant."
            </p>
            <form on:submit=submit novalidate>
                <label class="switch-row">
                    <input
                        type="checkbox"
                        name="cancel_subscriptions"
                        data-test="delete-cancel-subscriptions"
                        prop:checked=move || cancel_subscriptions.get()
                        on:change=move |ev| cancel_subscriptions.set(event_target_checked(&ev))
                    />
                    <span>"Cancel live Stripe subscriptions first"</span>
                </label>
                <div class="field">
                    <label for="delete-confirm">"Tenant slug"</label>
                    <input
                        id="delete-confirm"
                        name="confirm"
                        data-test="delete-confirm"
                        autocomplete="off"
                        prop:value=move || confirm.get()
                        on:input=move |ev| confirm.set(event_target_value(&ev))
                    />
                </div>
                <FormError busy/>
                <div class="dialog-actions">
                    <button type="button" class="btn" on:click=move |_| on_close.run(())>
                        "Cancel"
                    </button>
                    <button
                        type="submit"
                        class="btn danger"
                        data-test="delete-submit"
                        disabled=move || invalid.get() || busy.pending.get()
                    >
                        {move || if busy.pending.get() { "Deleting…" } else { "Delete tenant" }}
                    </button>
                </div>
            </form>
        </div>
    }
}
