//! The signed-in frame: the header (brand, tenant switcher, operator, sign out) around every
//! page but the signed-out ones; it sends signed-out visitors to the sign-in page.

use super::api::{self, ApiResult, Method};
use super::ui::Loading;
use super::{AuthState, navigator, use_auth};
use crate::text::slug_in_path;
use crate::wire::TenantSummary;
use leptos::prelude::*;
use leptos_router::components::Outlet;
use leptos_router::hooks::use_location;
use wasm_bindgen::JsCast;

/// The tenants the operator belongs to, for the switcher and the home page.
#[derive(Clone, Copy)]
pub struct TenantList(pub LocalResource<ApiResult<Vec<TenantSummary>>>);

/// The `TenantList` context.
pub fn use_tenant_list() -> TenantList {
    expect_context::<TenantList>()
}

/// The frame.
#[component]
pub fn Shell() -> impl IntoView {
    let auth = use_auth();
    let navigate = navigator();
    {
        let navigate = navigate.clone();
        Effect::new(move |_| {
            if auth.state.get() == AuthState::SignedOut {
                navigate(&crate::app::sign_in_path(false));
            }
        });
    }
    let tenants = TenantList(LocalResource::new(|| {
        api::get::<Vec<TenantSummary>>("/tenants")
    }));
    provide_context(tenants);
    view! {
        {move || match auth.state.get() {
            AuthState::SignedIn => {
                view! {
                    <a class="skip-link" href="#content">"Skip to content"</a>
                    <Header/>
                    <div id="content" tabindex="-1">
                        <Outlet/>
                    </div>
                }
                    .into_any()
            }
            _ => view! { <main class="auth-page"><Loading/></main> }.into_any(),
        }}
    }
}

#[component]
fn Header() -> impl IntoView {
    let auth = use_auth();
    let navigate = navigator();
    let tenants = use_tenant_list().0;
    let location = use_location();
    let current = Memo::new(move |_| slug_in_path(&location.pathname.get()));
    let signing_out = RwSignal::new(false);
    // Leaving by the switcher or by signing out asks first too, when edits are unsaved.
    let unsaved = use_context::<super::ui::UnsavedEdits>();
    let may_leave = move || unsaved.is_none_or(super::ui::UnsavedEdits::may_leave);
    let sign_out = {
        let navigate = navigate.clone();
        move |_| {
            if !may_leave() {
                return;
            }
            signing_out.set(true);
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                let _ = api::call_empty(Method::Delete, "/session").await;
                auth.signed_out();
                navigate("/admin/sign-in");
            });
        }
    };
    let switch = move |ev: leptos::ev::Event| {
        if !may_leave() {
            // Stay: the menu shows the tenant of the page again.
            let shown = current.get_untracked().unwrap_or_default();
            if let Some(select) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
            {
                select.set_value(&shown);
            }
            return;
        }
        let slug = event_target_value(&ev);
        if slug.is_empty() {
            navigate("/admin");
        } else {
            navigate(&format!("/admin/t/{slug}"));
        }
    };
    let name = move || {
        auth.session
            .get()
            .map(|s| s.operator.name)
            .unwrap_or_default()
    };
    view! {
        <header class="topbar" data-test="header">
            <a class="brand" href="/admin">
                <span class="logo" aria-hidden="true">"◆"</span>
                <span class="brand-name">"Tollgate"</span>
            </a>
            <label class="switcher">
                <span class="sr-only">"Tenant"</span>
                <select data-test="tenant-switcher" on:change=switch>
                    <option value="" selected=move || current.get().is_none()>
                        "All tenants"
                    </option>
                    {move || {
                        tenants
                            .get()
                            .and_then(Result::ok)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|t| {
                                let slug = t.slug.clone();
                                let selected = move || {
                                    current.with(|c| c.as_deref() == Some(slug.as_str()))
                                };
                                view! {
                                    <option value=t.slug selected=selected>
                                        {t.name}
                                    </option>
                                }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <nav class="topnav">
                <a href="/admin/tokens" data-test="nav-tokens">"API tokens"</a>
                <span class="operator" data-test="operator-name">{name}</span>
                <button
                    type="button"
                    class="btn small"
                    data-test="sign-out"
                    disabled=move || signing_out.get()
                    on:click=sign_out
                >
                    {move || if signing_out.get() { "Signing out…" } else { "Sign out" }}
                </button>
            </nav>
        </header>
    }
}
