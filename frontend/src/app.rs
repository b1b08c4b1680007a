//! The dashboard: routes under `/admin`, the signed-in shell (header, tenant switcher, sidebar)
//! and the pages. Everything goes through the admin API (`api.rs`).
//!
//! Stable hooks for browser tests (`data-test="…"`; inputs also carry their API field as `name`):
//! - shell: `header`, `operator-name`, `sign-out`, `tenant-switcher`, `tenant-nav`,
//!   `nav-{overview,tools,plans,payments,sign-in,customers,analytics,audit,members,settings}`,
//!   `nav-tokens`, `page-title`, `loading`, `load-error`, `form-error`, `field-error-{name}`,
//!   `copy-button` (each copy button; `data-copied` when done), `confirm-yes`, `confirm-no`
//! - setup: `setup-form` (`email`, `name`, `password`), `setup-submit`, `setup-done`
//! - sign-in: `sign-in-form` (`email`, `password`), `sign-in-submit`, `sign-in-github`,
//!   `sign-in-setup-hint`, `session-expired` (`?next=` returns there after signing in)
//! - invite: `invite-form` (`name`, `password`), `invite-submit`
//! - tenants: `tenant-list`, `tenant-card-{slug}`, `new-tenant-form` (`name`, `slug`),
//!   `new-tenant-submit`
//! - overview: `mcp-url`, `client-config-{client}`, `client-tab-{client}`, `stat-{name}`
//! - tools: `tools-table`, `tool-row-{name}` (with `tool-toggle`, `tool-name`, `tool-rename`,
//!   `tool-up`, `tool-down`, `tool-price`, `tool-edit`), `add-tool-form` (`operation`, `name`),
//!   `add-tool-submit`
//! - tool editor: `tool-editor`, `tool-text-form` (`title`, `description`), `tool-text-submit`,
//!   `pricing-form`, `pricing-choice` (select: `free`, an offer id, or `new`), plan fields by
//!   name (`name`, `kind`, `calls`, `interval`, `meter_event`, `meter_value`, `price_id`,
//!   `amount`, `currency`, `free_quota`, `spend_cap`, `payment_reason`, `success_url`),
//!   `price-picker`, `pricing-submit`, `pricing-saved`, `tool-preview` (the tool as `tools/list`
//!   will describe it once what the forms hold is saved), `preview-not-live` (shown while
//!   they hold unsaved edits, which also make leaving the page ask first),
//!   `preview-plan-incomplete`
//! - plans: `plans-table`, `plan-row-{name}`, `plan-price`, `plan-new`, `plan-edit`,
//!   `plan-form`, `plan-submit`, `amount-preview` ("Users pay …", next to Save)
//! - payments: `payments-mode`, `stripe-form` (`secret_key`, `webhook_secret`), `stripe-submit`,
//!   `stripe-connected`, `webhook-url`, `stripe-test`, `stripe-test-result`,
//!   `stripe-disconnect`, `stripe-prices`
//! - sign-in settings: `github-app-form` (`client_id`, `client_secret`), `github-app-submit`,
//!   `github-app-remove`, `github-app-client-id`, `sign-in-active`, `github-callback-url`,
//!   `anonymous-free-tools`, `clients-table`, `client-revoke`
//! - customers: `customers-table`, `customer-row-{login}`, `customer-detail`
//! - analytics (`?days=7|30|90`): `days-{7,30,90}`, `chart-daily`, `chart-tools`, `conversion`, `revenue`,
//!   `error-count`
//! - audit: `audit-table`, `audit-row`
//! - members: `members-table`, `member-row-{email or login}`, `member-role`, `member-remove`,
//!   `invite-member-form` (`email`, `role`), `invite-member-submit`, `invite-url`,
//!   `invitations-table`, `invitation-revoke`
//! - settings: `rename-form` (`name`), `rename-submit`, `billing-tools`, `delete-tenant`,
//!   `delete-dialog`, `slug-rest` (how long the slug rests, from the server),
//!   `delete-confirm` (input `confirm`), `delete-submit`
//! - tokens: `token-form` (`name`), `token-submit`, `new-token`, `tokens-table`, `token-revoke`

mod api;
mod auth;
mod home;
mod insights;
mod money_pages;
mod people;
mod reconciliation;
mod shell;
mod tenant;
mod tools;
mod ui;

use crate::wire::{Session, SignInOptions};
use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::hooks::use_navigate;
use leptos_router::{NavigateOptions, path};

/// Whether the operator is signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthState {
    /// Asking the server.
    Loading,
    /// Signed in (see [`Auth::session`]).
    SignedIn,
    /// Not signed in.
    SignedOut,
}

/// The signed-in operator, shared by every page.
#[derive(Clone, Copy)]
pub struct Auth {
    /// The session, when signed in.
    pub session: RwSignal<Option<Session>>,
    /// Where we are.
    pub state: RwSignal<AuthState>,
    /// Sign-in options for the signed-out pages.
    pub options: RwSignal<Option<SignInOptions>>,
}

impl Auth {
    /// Takes a fresh session (after setup, sign-in, accepting an invitation).
    pub fn signed_in(&self, session: Session) {
        api::remember(&session);
        self.session.set(Some(session));
        self.state.set(AuthState::SignedIn);
    }

    /// Drops the session.
    pub fn signed_out(&self) {
        api::forget();
        self.session.set(None);
        self.state.set(AuthState::SignedOut);
    }
}

/// The `Auth` context.
pub fn use_auth() -> Auth {
    expect_context::<Auth>()
}

/// A function that navigates to an absolute dashboard path (`/admin/…`). Call it while
/// building a component (it needs the router's context), then use it in handlers.
pub fn navigator() -> impl Fn(&str) + Clone + 'static {
    let navigate = use_navigate();
    move |path: &str| {
        navigate(
            path,
            NavigateOptions {
                resolve: false,
                ..NavigateOptions::default()
            },
        );
    }
}

/// The dashboard page shown now (`/admin/t/acme/tools?…`), to come back to after signing in.
fn here() -> Option<String> {
    let location = web_sys::window()?.location();
    let path = location.pathname().ok()?;
    let search = location.search().unwrap_or_default();
    Some(format!("{path}{search}"))
}

/// The sign-in page, remembering the page shown now (`next`) unless that is the start page;
/// `expired` when a session ended under the operator, which the sign-in page then says.
pub fn sign_in_path(expired: bool) -> String {
    // Already there (a late 401 of the page just left): keep the page to return to.
    if let Some(here) = here().filter(|p| p.starts_with("/admin/sign-in")) {
        return here;
    }
    let mut params = Vec::new();
    if let Some(here) = here().filter(|p| crate::text::safe_next(p) && p != "/admin") {
        let encoded: String = js_sys::encode_uri_component(&here).into();
        params.push(format!("next={encoded}"));
    }
    if expired {
        params.push("expired=1".to_owned());
    }
    if params.is_empty() {
        "/admin/sign-in".to_owned()
    } else {
        format!("/admin/sign-in?{}", params.join("&"))
    }
}

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let auth = Auth {
        session: RwSignal::new(None),
        state: RwSignal::new(AuthState::Loading),
        options: RwSignal::new(None),
    };
    provide_context(auth);
    ui::UnsavedEdits::install();
    leptos::task::spawn_local(async move {
        match api::probe_session().await {
            api::Probe::SignedIn(session) => auth.signed_in(session),
            api::Probe::SignedOut(options) => {
                auth.options.set(options);
                auth.signed_out();
            }
        }
    });

    view! {
        <Router base="/admin">
            <Unauthenticated/>
            <Routes fallback=|| view! { <ui::NotFound/> }>
                <Route path=path!("/setup") view=auth::SetupPage/>
                <Route path=path!("/sign-in") view=auth::SignInPage/>
                <Route path=path!("/invite") view=auth::InvitePage/>
                <ParentRoute path=path!("") view=shell::Shell>
                    <Route path=path!("") view=home::TenantsPage/>
                    <Route path=path!("tokens") view=home::TokensPage/>
                    <ParentRoute path=path!("t/:slug") view=tenant::TenantShell>
                        <Route path=path!("") view=tenant::OverviewPage/>
                        <Route path=path!("tools") view=tools::ToolsPage/>
                        <Route path=path!("tools/:id") view=tools::ToolEditorPage/>
                        <Route path=path!("plans") view=money_pages::PlansPage/>
                        <Route path=path!("payments") view=money_pages::PaymentsPage/>
                        <Route path=path!("sign-in") view=people::SignInSettingsPage/>
                        <Route path=path!("customers") view=people::CustomersPage/>
                        <Route path=path!("customers/:id") view=people::CustomerPage/>
                        <Route path=path!("analytics") view=insights::AnalyticsPage/>
                        <Route path=path!("audit") view=insights::AuditPage/>
                        <Route path=path!("members") view=people::MembersPage/>
                        <Route path=path!("settings") view=tenant::SettingsPage/>
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Registers the 401 handler (inside the router, so it can navigate).
#[component]
fn Unauthenticated() -> impl IntoView {
    let auth = use_auth();
    let navigate = navigator();
    api::on_unauthenticated(move || {
        // A 401 while a session was held means it ended (expired or revoked elsewhere).
        let expired = auth.session.get_untracked().is_some();
        let target = sign_in_path(expired);
        api::forget();
        auth.session.set(None);
        auth.state.set(AuthState::SignedOut);
        navigate(&target);
    });
}
