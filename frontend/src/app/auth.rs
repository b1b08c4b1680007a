//! The signed-out pages: first-operator setup, sign-in, accepting an invitation.

use super::api::{self, Method};
use super::ui::{Busy, Field, FormError, Loading, Submit, check, query_param, set_document_title};
use super::{AuthState, navigator, use_auth};
use crate::validate;
use crate::wire::{
    AcceptInvitation, Session, SetupRequest, SetupStatus, SignInOptions, SignInRequest,
};
use leptos::prelude::*;

/// The frame of the signed-out pages.
#[component]
fn AuthFrame(#[prop(into)] title: String, children: Children) -> impl IntoView {
    set_document_title(&crate::text::page_title(&title, None));
    view! {
        <main class="auth-page">
            <div class="card narrow">
                <div class="brand big">
                    <span class="logo" aria-hidden="true">"◆"</span>
                    " Tollgate"
                </div>
                <h1 data-test="page-title">{title}</h1>
                {children()}
            </div>
        </main>
    }
}

/// `/admin/setup?token=…`: creates the first operator.
#[component]
pub fn SetupPage() -> impl IntoView {
    let auth = use_auth();
    let navigate = navigator();
    let token = query_param("token");
    let status = LocalResource::new(|| api::get_quiet::<SetupStatus>("/setup"));
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = Busy::new();
    let email_err = check(email, validate::email);
    let name_err = check(name, |v| validate::text("name", v, 200));
    let password_err = check(password, validate::password);
    let invalid = Signal::derive(move || {
        email_err.get().is_some() || name_err.get().is_some() || password_err.get().is_some()
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = SetupRequest {
            token: token.get_untracked(),
            email: email.get_untracked().trim().to_string(),
            name: name.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        let navigate = navigate.clone();
        busy.run(
            async move { api::send_quiet::<_, Session>(Method::Post, "/setup", &body).await },
            move |session| {
                auth.signed_in(session);
                navigate("/admin");
            },
        );
    };
    view! {
        <AuthFrame title="Set up Tollgate">
            {move || match status.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Ok(SetupStatus { needed: false })) => {
                    view! {
                        <p data-test="setup-done">
                            "Tollgate is already set up. "
                            <a href="/admin/sign-in">"Sign in"</a>
                        </p>
                    }
                        .into_any()
                }
                Some(_) if token.with(String::is_empty) => {
                    view! {
                        <p class="alert info">
                            "Open the setup link that the run command printed (it ends in "
                            <code>"?token=…"</code> ")."
                        </p>
                    }
                        .into_any()
                }
                Some(_) => {
                    view! {
                        <p class="muted">
                            "Create the first operator. They become the owner of every existing tenant."
                        </p>
                        <form data-test="setup-form" on:submit=submit.clone() novalidate>
                            <Field label="E-mail" name="email" value=email kind="email"
                                error=email_err busy=busy autocomplete="email"/>
                            <Field label="Name" name="name" value=name error=name_err busy=busy
                                autocomplete="name"/>
                            <Field label="Password" name="password" value=password kind="password"
                                error=password_err busy=busy autocomplete="new-password"
                                hint=format!("At least {} characters.", validate::MIN_PASSWORD)/>
                            <FormError busy fields=&["email", "name", "password"]/>
                            <Submit label="Create operator" busy invalid test="setup-submit"
                                pending_label="Creating…"/>
                        </form>
                    }
                        .into_any()
                }
            }}
        </AuthFrame>
    }
}

/// `/admin/sign-in`.
#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = use_auth();
    let navigate = navigator();
    let query = leptos_router::hooks::use_query_map();
    // Where the operator was going (checked: only a dashboard page), else the start page.
    let next = move || {
        query
            .with_untracked(|q| q.get("next"))
            .filter(|n| crate::text::safe_next(n))
            .unwrap_or_else(|| "/admin".to_owned())
    };
    let expired = move || query.with(|q| q.get("expired").is_some());
    {
        let navigate = navigate.clone();
        Effect::new(move |_| {
            if auth.state.get() == AuthState::SignedIn {
                navigate(&next());
            }
        });
    }
    let options = LocalResource::new(|| api::get_quiet::<SignInOptions>("/session/options"));
    Effect::new(move |_| {
        if let Some(Ok(o)) = options.get() {
            auth.options.set(Some(o));
        }
    });
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = Busy::new();
    let email_err = check(email, validate::email);
    let password_err = check(password, |v| {
        if v.is_empty() {
            Err("enter your password".into())
        } else {
            Ok(())
        }
    });
    let invalid = Signal::derive(move || email_err.get().is_some() || password_err.get().is_some());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = SignInRequest {
            email: email.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        let navigate = navigate.clone();
        busy.run(
            async move { api::send_quiet::<_, Session>(Method::Post, "/session", &body).await },
            move |session| {
                auth.signed_in(session);
                navigate(&next());
            },
        );
    };
    let github = move || {
        auth.options
            .with(|o| o.as_ref().is_some_and(|o| o.github_enabled))
    };
    let setup_needed = move || {
        auth.options
            .with(|o| o.as_ref().is_some_and(|o| o.setup_needed))
    };
    view! {
        <AuthFrame title="Sign in">
            <Show when=expired>
                <p class="alert info" role="status" data-test="session-expired">
                    "Your session has ended. Sign in again to continue where you were."
                </p>
            </Show>
            <Show when=setup_needed>
                <p class="alert info" data-test="sign-in-setup-hint">
                    "No operator exists yet. The run command printed a setup link ("
                    <code>"/admin/setup?token=…"</code>
                    "): open it to create the first operator."
                </p>
            </Show>
            <form data-test="sign-in-form" on:submit=submit novalidate>
                <Field label="E-mail" name="email" value=email kind="email" error=email_err
                    busy=busy autocomplete="username"/>
                <Field label="Password" name="password" value=password kind="password"
                    busy=busy autocomplete="current-password"/>
                <FormError busy fields=&["email"]/>
                <Submit label="Sign in" busy invalid test="sign-in-submit" class="wide"
                    pending_label="Signing in…"/>
            </form>
            <Show when=github>
                <div class="or">
                    <span>"or"</span>
                </div>
                <a class="btn wide github" href="/api/v1/session/github" data-test="sign-in-github"
                    rel="external">
                    "Sign in with GitHub"
                </a>
            </Show>
        </AuthFrame>
    }
}

/// `/admin/invite?token=…`: accepts an invitation (signed in, or creating an account).
#[component]
pub fn InvitePage() -> impl IntoView {
    let auth = use_auth();
    let navigate = navigator();
    let token = query_param("token");
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = Busy::new();
    let name_err = check(name, |v| validate::text("name", v, 200));
    let password_err = check(password, validate::password);
    let signed_in = move || auth.state.get() == AuthState::SignedIn;
    let invalid = Signal::derive(move || {
        token.with(String::is_empty)
            || (!signed_in() && (name_err.get().is_some() || password_err.get().is_some()))
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let new_account = auth.state.get_untracked() != AuthState::SignedIn;
        let body = AcceptInvitation {
            token: token.get_untracked(),
            name: new_account.then(|| name.get_untracked().trim().to_string()),
            password: new_account.then(|| password.get_untracked()),
        };
        let navigate = navigate.clone();
        busy.run(
            async move {
                api::send_quiet::<_, Session>(Method::Post, "/invitations/accept", &body).await
            },
            move |session| {
                auth.signed_in(session);
                navigate("/admin");
            },
        );
    };
    view! {
        <AuthFrame title="Accept the invitation">
            {move || match auth.state.get() {
                AuthState::Loading => view! { <Loading/> }.into_any(),
                _ if token.with(String::is_empty) => {
                    view! {
                        <p class="alert error">"This link has no invitation token."</p>
                    }
                        .into_any()
                }
                state => {
                    let signed_in = state == AuthState::SignedIn;
                    let who = auth
                        .session
                        .get()
                        .map(|s| s.operator.name)
                        .unwrap_or_default();
                    view! {
                        <form data-test="invite-form" on:submit=submit.clone() novalidate>
                            {if signed_in {
                                view! {
                                    <p>
                                        "You are signed in as " <strong>{who}</strong>
                                        ". Accept to join the tenant."
                                    </p>
                                }
                                    .into_any()
                            } else {
                                view! {
                                    <p class="muted">
                                        "Create your account for the invited e-mail address. Already have one? "
                                        <a href="/admin/sign-in">"Sign in"</a>
                                        " first, then open the link again."
                                    </p>
                                    <Field label="Your name" name="name" value=name error=name_err
                                        busy=busy autocomplete="name"/>
                                    <Field label="Password" name="password" value=password
                                        kind="password" error=password_err busy=busy
                                        autocomplete="new-password"
                                        hint=format!(
                                            "At least {} characters.",
                                            validate::MIN_PASSWORD,
                                        )/>
                                }
                                    .into_any()
                            }}
                            <FormError busy fields=&["name", "password"]/>
                            <Submit label="Accept invitation" busy invalid test="invite-submit"
                                pending_label="Joining…"/>
                        </form>
                    }
                        .into_any()
                }
            }}
        </AuthFrame>
    }
}
