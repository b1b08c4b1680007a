//! The operator's own pages: the tenant list with "New tenant", and personal API tokens.

use super::api::{self, Method};
use super::navigator;
use super::shell::use_tenant_list;
use super::ui::{
    Busy, ConfirmButton, CopyButton, Field, FormError, PageTitle, RoleBadge, Submit, check,
    data_table, loaded,
};
use crate::text::{short_time, suggest_slug};
use crate::validate;
use crate::wire::{ApiToken, NewApiToken, NewTenant, Tenant, TenantSummary};
use leptos::prelude::*;

/// `/admin`: the tenants.
#[component]
pub fn TenantsPage() -> impl IntoView {
    let tenants = use_tenant_list().0;
    view! {
        <main class="page">
            <PageTitle title="Your tenants"
                subtitle="Each tenant is one MCP server with its own tools, prices and users."/>
            {loaded(
                tenants,
                |list: Vec<TenantSummary>| {
                    if list.is_empty() {
                        view! {
                            <p class="empty" data-test="tenant-list">
                                "No tenants yet: create your first one below."
                            </p>
                        }
                            .into_any()
                    } else {
                        view! {
                            <ul class="cards" data-test="tenant-list">
                                {list
                                    .into_iter()
                                    .map(|t| view! { <TenantCard tenant=t/> })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                },
            )}
            <NewTenantForm/>
        </main>
    }
}

#[component]
fn TenantCard(tenant: TenantSummary) -> impl IntoView {
    let href = format!("/admin/t/{}", tenant.slug);
    let url = tenant.mcp_url.clone();
    let test = format!("tenant-card-{}", tenant.slug);
    view! {
        <li class="card tenant-card" data-test=test>
            <div class="card-head">
                <a class="card-title" href=href>{tenant.name}</a>
                <RoleBadge role=tenant.role/>
            </div>
            <div class="muted mono">{tenant.slug}</div>
            <div class="url-row">
                <code class="url">{tenant.mcp_url}</code>
                <CopyButton text=url/>
            </div>
        </li>
    }
}

#[component]
fn NewTenantForm() -> impl IntoView {
    let tenants = use_tenant_list().0;
    let navigate = navigator();
    let name = RwSignal::new(String::new());
    let slug = RwSignal::new(String::new());
    // The slug follows the name until the operator edits it.
    let slug_edited = RwSignal::new(false);
    let last_suggestion = RwSignal::new(String::new());
    Effect::new(move |_| {
        let suggestion = suggest_slug(&name.get());
        if !slug_edited.get_untracked() || slug.get_untracked() == last_suggestion.get_untracked() {
            slug.set(suggestion.clone());
            slug_edited.set(false);
        }
        last_suggestion.set(suggestion);
    });
    Effect::new(move |_| {
        if slug.get() != last_suggestion.get_untracked() {
            slug_edited.set(true);
        }
    });
    let busy = Busy::new();
    let name_err = check(name, |v| validate::text("name", v, 200));
    let slug_err = check(slug, validate::slug);
    let invalid = Signal::derive(move || name_err.get().is_some() || slug_err.get().is_some());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = NewTenant {
            slug: slug.get_untracked(),
            name: name.get_untracked().trim().to_string(),
            install_catalog: true,
        };
        let navigate = navigate.clone();
        busy.run(
            async move { api::send::<_, Tenant>(Method::Post, "/tenants", &body).await },
            move |tenant| {
                tenants.refetch();
                navigate(&format!("/admin/t/{}", tenant.slug));
            },
        );
    };
    view! {
        <section class="card form-card">
            <h2>"New tenant"</h2>
            <form data-test="new-tenant-form" on:submit=submit novalidate class="grid-2">
                <Field label="Name" name="name" value=name error=name_err busy=busy
                    placeholder="Acme Tools"/>
                <Field label="Slug" name="slug" value=slug error=slug_err busy=busy
                    placeholder="acme-tools"
                    hint="Part of the MCP URL: /t/{slug}/mcp. Lower-case letters, digits and -."/>
                <div class="span-2">
                    <p class="muted small">
                        "It starts with every WordPress.org tool, enabled and free."
                    </p>
                    <FormError busy fields=&["name", "slug"]/>
                    <Submit label="Create tenant" busy invalid test="new-tenant-submit"
                        pending_label="Creating…"/>
                </div>
            </form>
        </section>
    }
}

/// `/admin/tokens`: personal API tokens.
#[component]
pub fn TokensPage() -> impl IntoView {
    let tokens = LocalResource::new(|| api::get::<Vec<ApiToken>>("/tokens"));
    let name = RwSignal::new(String::new());
    let created = RwSignal::new(None::<ApiToken>);
    let busy = Busy::new();
    let name_err = check(name, |v| validate::text("name", v, 100));
    let invalid = Signal::derive(move || name_err.get().is_some());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = NewApiToken {
            name: name.get_untracked().trim().to_string(),
        };
        busy.run(
            async move { api::send::<_, ApiToken>(Method::Post, "/tokens", &body).await },
            move |token| {
                created.set(Some(token));
                name.set(String::new());
                tokens.refetch();
            },
        );
    };
    let revoke_busy = Busy::new();
    let revoke = Callback::new(move |id: String| {
        revoke_busy.run(
            async move { api::call_empty(Method::Delete, &format!("/tokens/{}", api::seg(&id))).await },
            move |()| tokens.refetch(),
        );
    });
    view! {
        <main class="page">
            <PageTitle title="Personal API tokens"
                subtitle="Script the admin API with Authorization: Bearer tga_…"/>
            <section class="card form-card">
                <h2>"New token"</h2>
                <form data-test="token-form" on:submit=submit novalidate class="inline-form">
                    <Field label="Name" name="name" value=name error=name_err busy=busy
                        placeholder="deploy script"/>
                    <Submit label="Create token" busy invalid test="token-submit"
                        pending_label="Creating…"/>
                </form>
                <FormError busy fields=&["name"]/>
                {move || {
                    created
                        .get()
                        .and_then(|t| t.token)
                        .map(|secret| {
                            let copy = secret.clone();
                            view! {
                                <div class="alert success once" data-test="new-token">
                                    <p>
                                        <strong>"Copy this token now."</strong>
                                        " It will not be shown again."
                                    </p>
                                    <div class="url-row">
                                        <code class="url">{secret}</code>
                                        <CopyButton text=copy/>
                                    </div>
                                </div>
                            }
                        })
                }}
            </section>
            <FormError busy=revoke_busy/>
            {loaded(
                tokens,
                move |list: Vec<ApiToken>| {
                    data_table(
                        "tokens-table",
                        "No tokens yet.",
                        &["Name", "Token", "Created", "Last used", ""],
                        list,
                        |t| {
                            let id = t.id.clone();
                            view! {
                                <tr>
                                    <td>{t.name}</td>
                                    <td class="mono">{t.prefix} "…"</td>
                                    <td>{short_time(&t.created_at)}</td>
                                    <td>
                                        {t
                                            .last_used_at
                                            .map(|at| short_time(&at))
                                            .unwrap_or_else(|| "never".into())}
                                    </td>
                                    <td class="actions">
                                        <ConfirmButton label="Revoke"
                                            question="Revoke this token?"
                                            test="token-revoke" busy=revoke_busy
                                            on_confirm=Callback::new(move |()| {
                                                revoke.run(id.clone());
                                            })/>
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
