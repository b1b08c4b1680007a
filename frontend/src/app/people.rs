//! People around a tenant: how end users sign in (GitHub app, MCP clients), the end users
//! themselves (customers), and the operators (members, invitations).

use super::api::{self, Method};
use super::tenant::use_tenant;
use super::ui::{
    Busy, ConfirmButton, CopyButton, Field, FormError, PageTitle, ReadOnlyNote, RoleBadge, Submit,
    check, data_table, loaded,
};
use super::use_auth;
use crate::text::short_time;
use crate::validate;
use crate::wire::{
    Customer, GitHubAppKeys, Invitation, McpClientView, Member, NewInvitation, RoleChange,
    SignInSetup, Tenant, TenantPatch,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// `/admin/t/:slug/sign-in`: the GitHub app, anonymous free tools, registered clients.
#[component]
pub fn SignInSettingsPage() -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let anonymous = move || {
        ctx.tenant
            .with(|t| t.as_ref().is_some_and(|t| t.anonymous_free_tools))
    };
    let toggle_busy = Busy::new();
    let toggle = move |_| {
        if toggle_busy.pending.get_untracked() {
            return;
        }
        let body = TenantPatch {
            anonymous_free_tools: Some(!anonymous()),
            ..TenantPatch::default()
        };
        let path = ctx.path("");
        toggle_busy.run(
            async move { api::send::<_, Tenant>(Method::Patch, &path, &body).await },
            move |t| ctx.tenant.set(Some(t)),
        );
    };
    view! {
        <main class="page">
            <PageTitle title="Sign-in" subtitle="How your users sign in from their MCP clients."/>
            <Show when=move || read_only.get()>
                <ReadOnlyNote/>
            </Show>
            <section class="card">
                <h2>"Free tools without sign-in"</h2>
                <label class="switch-row">
                    <input
                        type="checkbox"
                        role="switch"
                        data-test="anonymous-free-tools"
                        // Read again when the request ends, so a refused change puts the switch
                        // back; not disabled meanwhile, which would drop the keyboard focus.
                        prop:checked=move || {
                            toggle_busy.pending.track();
                            anonymous()
                        }
                        aria-busy=move || toggle_busy.pending.get().to_string()
                        disabled=move || read_only.get()
                        on:change=toggle
                    />
                    <span>
                        "Let clients call free tools without signing in. Paid tools always need "
                        "a signed-in user."
                    </span>
                </label>
                <FormError busy=toggle_busy/>
            </section>
            <GitHubApp/>
            <Clients/>
        </main>
    }
}

#[component]
fn GitHubApp() -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let current = move || {
        ctx.tenant.with(|t| {
            t.as_ref()
                .and_then(|t| t.github_app.as_ref().map(|a| a.client_id.clone()))
        })
    };
    // What the server says is active, and the callback URL it serves: never built here, so the
    // page cannot show a URL the router does not answer. Fetched again when the app changes.
    let setup = LocalResource::new(move || {
        let path = ctx.path_tracked("/sign-in");
        let _ = current();
        async move { api::get::<SignInSetup>(&path).await }
    });
    let client_id = RwSignal::new(String::new());
    let client_secret = RwSignal::new(String::new());
    let id_err = check(client_id, validate::github_client_id);
    let secret_err = check(client_secret, validate::github_client_secret);
    let busy = Busy::new();
    let invalid = Signal::derive(move || id_err.get().is_some() || secret_err.get().is_some());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = GitHubAppKeys {
            client_id: client_id.get_untracked().trim().to_string(),
            client_secret: client_secret.get_untracked().trim().to_string(),
        };
        let path = ctx.path("/github-app");
        busy.run(
            async move { api::send::<_, Tenant>(Method::Put, &path, &body).await },
            move |t| {
                ctx.tenant.set(Some(t));
                client_id.set(String::new());
                client_secret.set(String::new());
            },
        );
    };
    let remove_busy = Busy::new();
    let remove = Callback::new(move |()| {
        let path = ctx.path("/github-app");
        remove_busy.run(
            async move { api::call::<Tenant>(Method::Delete, &path).await },
            move |t| ctx.tenant.set(Some(t)),
        );
    });
    view! {
        <section class="card form-card">
            <h2>"GitHub app"</h2>
            {loaded(
                setup,
                move |setup: SignInSetup| {
                    let active = match setup.active.as_str() {
                        "tenant_app" => {
                            view! {
                                <p data-test="sign-in-active">
                                    "Users sign in through your own GitHub OAuth app "
                                    <code data-test="github-app-client-id">
                                        {current().unwrap_or_default()}
                                    </code> "."
                                </p>
                            }
                                .into_any()
                        }
                        "platform_app" => {
                            view! {
                                <p data-test="sign-in-active">
                                    "Users sign in through the platform's GitHub app. Use your own "
                                    "app to show your name on GitHub's consent screen."
                                </p>
                            }
                                .into_any()
                        }
                        "demo" => {
                            view! {
                                <p data-test="sign-in-active" class="warning">
                                    "No GitHub app is configured, so users get the demo sign-in: "
                                    "they type any name, nobody is verified. Add your GitHub app "
                                    "for real sign-in."
                                </p>
                            }
                                .into_any()
                        }
                        _ => {
                            view! {
                                <p data-test="sign-in-active" class="warning">
                                    "No sign-in is configured: your users cannot sign in until "
                                    "you add a GitHub app here."
                                </p>
                            }
                                .into_any()
                        }
                    };
                    let url = setup.github_callback_url;
                    view! {
                        {active}
                        <p class="muted">
                            "Your GitHub app's authorization callback URL must be "
                            <code data-test="github-callback-url">{url.clone()}</code> " "
                            <CopyButton text=url label="Copy URL"/>
                        </p>
                    }
                },
            )}
            <Show when=move || current().is_some()>
                <ConfirmButton label="Remove" question="Stop using your own app?"
                    test="github-app-remove" busy=remove_busy on_confirm=remove
                    hidden=read_only/>
                <FormError busy=remove_busy/>
            </Show>
            <Show when=move || !read_only.get()>
                <form data-test="github-app-form" on:submit=submit novalidate class="grid-2">
                    <Field label="Client id" name="client_id" value=client_id error=id_err busy=busy
                        placeholder="Iv1.…" autocomplete="off"
                        hint="From your GitHub app's settings page."/>
                    <Field label="Client secret" name="client_secret" value=client_secret
                        kind="password" error=secret_err busy=busy autocomplete="off"
                        hint="GitHub shows it once, when you generate it."/>
                    <div class="span-2">
                        <FormError busy fields=&["client_id", "client_secret"]/>
                        <Submit label=if current().is_some() { "Replace app" } else { "Use this app" }
                            busy invalid test="github-app-submit"/>
                    </div>
                </form>
            </Show>
        </section>
    }
}

#[component]
fn Clients() -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let clients = LocalResource::new(move || {
        let path = ctx.path_tracked("/clients");
        async move { api::get::<Vec<McpClientView>>(&path).await }
    });
    let busy = Busy::new();
    let revoke = Callback::new(move |client_id: String| {
        let path = ctx.path(&format!("/clients/{}", api::seg(&client_id)));
        busy.run(
            async move { api::call_empty(Method::Delete, &path).await },
            move |()| clients.refetch(),
        );
    });
    view! {
        <section class="card">
            <h2>"Registered MCP clients"</h2>
            <p class="muted">"Revoking a client stops its sign-ins and tokens at once."</p>
            <FormError busy/>
            {loaded(
                clients,
                move |list: Vec<McpClientView>| {
                    data_table(
                        "clients-table",
                        "No client has registered yet.",
                        &["Client", "Kind", "Redirect URIs", "Users", "Registered", ""],
                        list,
                        |c| {
                            let id = c.client_id.clone();
                            view! {
                                <tr>
                                    <td>
                                        <strong>{c.name}</strong>
                                        <div class="muted mono small">{c.client_id}</div>
                                    </td>
                                    <td>{c.kind.replace('_', " ")}</td>
                                    <td class="mono small">{c.redirect_uris.join(" ")}</td>
                                    <td>{c.active_grants}</td>
                                    <td>{short_time(&c.created_at)}</td>
                                    <td class="actions">
                                        <ConfirmButton label="Revoke"
                                            question="Revoke this client?"
                                            test="client-revoke" busy=busy
                                            hidden=read_only
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
        </section>
    }
}

fn plan_summary(c: &Customer) -> Vec<String> {
    c.plans
        .iter()
        .map(|p| {
            let mut s = format!("{} ({})", p.offer, p.status.replace('_', " "));
            if let Some(n) = p.calls_remaining {
                s.push_str(&format!(", {n} calls left"));
            }
            if let Some(end) = &p.period_end {
                s.push_str(&format!(", until {}", short_time(end)));
            }
            s
        })
        .collect()
}

/// `/admin/t/:slug/customers`.
#[component]
pub fn CustomersPage() -> impl IntoView {
    let ctx = use_tenant();
    let customers = LocalResource::new(move || {
        let path = ctx.path_tracked("/customers");
        async move { api::get::<Vec<Customer>>(&path).await }
    });
    view! {
        <main class="page">
            <PageTitle title="Customers" subtitle="The end users who signed in to this tenant."/>
            {loaded(
                customers,
                move |list: Vec<Customer>| {
                    data_table(
                        "customers-table",
                        "Nobody has signed in yet. Users appear here after their first sign-in.",
                        &["User", "Plans", "Calls left", "Calls this month", "Since"],
                        list,
                        |c| {
                            let href = format!(
                                "/admin/t/{}/customers/{}",
                                ctx.slug.get_untracked(),
                                c.id,
                            );
                            let plans = plan_summary(&c);
                            let left: Vec<String> = c
                                .plans
                                .iter()
                                .filter_map(|p| p.calls_remaining.map(|n| n.to_string()))
                                .collect();
                            view! {
                                <tr data-test=format!("customer-row-{}", c.login)>
                                    <td>
                                        <a href=href>{c.login.clone()}</a>
                                        <div class="muted small">
                                            {c.name.clone().unwrap_or_default()}
                                        </div>
                                    </td>
                                    <td>
                                        {if plans.is_empty() {
                                            view! { <span class="muted">"none"</span> }.into_any()
                                        } else {
                                            plans
                                                .into_iter()
                                                .map(|p| view! { <div>{p}</div> })
                                                .collect_view()
                                                .into_any()
                                        }}
                                    </td>
                                    <td>
                                        {if left.is_empty() { "–".to_string() } else { left.join(", ") }}
                                    </td>
                                    <td>{c.calls_this_month}</td>
                                    <td>{short_time(&c.created_at)}</td>
                                </tr>
                            }
                        },
                    )
                },
            )}
        </main>
    }
}

/// `/admin/t/:slug/customers/:id`.
#[component]
pub fn CustomerPage() -> impl IntoView {
    let ctx = use_tenant();
    let params = use_params_map();
    let customer = LocalResource::new(move || {
        let id = params.with(|p| p.get("id").unwrap_or_default());
        let path = ctx.path_tracked(&format!("/customers/{}", api::seg(&id)));
        async move { api::get::<Customer>(&path).await }
    });
    let back = move || format!("/admin/t/{}/customers", ctx.slug.get());
    view! {
        <main class="page" data-test="customer-detail">
            <p class="crumbs"><a href=back>"← Customers"</a></p>
            {loaded(
                customer,
                |c: Customer| {
                    let plans = plan_summary(&c);
                    let who = [c.name.clone(), c.email.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" · ");
                    view! {
                        <PageTitle title=c.login.clone() subtitle=who/>
                        <section class="tiles">
                            <div class="tile">
                                <div class="tile-value">{c.calls_this_month}</div>
                                <div class="tile-label">"Billed calls this month"</div>
                            </div>
                            <div class="tile">
                                <div class="tile-value">{short_time(&c.created_at)}</div>
                                <div class="tile-label">"First sign-in"</div>
                            </div>
                        </section>
                        <section class="card">
                            <h2>"Plans"</h2>
                            {if plans.is_empty() {
                                view! { <p class="empty">"No plans."</p> }.into_any()
                            } else {
                                view! {
                                    <ul>{plans.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                                }
                                    .into_any()
                            }}
                        </section>
                        <section class="card">
                            <h2>"Payments"</h2>
                            {data_table(
                                "customer-payments",
                                "No payments.",
                                &["When", "Plan", "Amount", "Status"],
                                c.payments,
                                |p| {
                                    view! {
                                        <tr>
                                            <td>{short_time(&p.created_at)}</td>
                                            <td>{p.offer}</td>
                                            <td>{p.amount_text}</td>
                                            <td>
                                                <span class=format!("badge status-{}", p.status)>
                                                    {p.status.clone()}
                                                </span>
                                            </td>
                                        </tr>
                                    }
                                },
                            )}
                        </section>
                        <section class="card">
                            <h2>"Usage"</h2>
                            {data_table(
                                "customer-usage",
                                "No calls yet.",
                                &["Month", "Tool", "Calls"],
                                c.usage,
                                |u| {
                                    view! {
                                        <tr>
                                            <td>{u.period}</td>
                                            <td class="mono">{u.tool}</td>
                                            <td>{u.calls}</td>
                                        </tr>
                                    }
                                },
                            )}
                        </section>
                    }
                },
            )}
        </main>
    }
}

/// `/admin/t/:slug/members`.
#[component]
pub fn MembersPage() -> impl IntoView {
    let ctx = use_tenant();
    let auth = use_auth();
    let is_owner = ctx.is_owner();
    let can_edit = ctx.can_edit();
    let members = LocalResource::new(move || {
        let path = ctx.path_tracked("/members");
        async move { api::get::<Vec<Member>>(&path).await }
    });
    provide_context(InvitationsVersion(RwSignal::new(0)));
    let me = move || {
        auth.session
            .with(|s| s.as_ref().map(|s| s.operator.id.clone()))
    };
    let busy = Busy::new();
    let change_role = Callback::new(move |(id, role): (String, String)| {
        let path = ctx.path(&format!("/members/{}", api::seg(&id)));
        busy.run(
            async move { api::send::<_, Member>(Method::Patch, &path, &RoleChange { role }).await },
            move |_| members.refetch(),
        );
    });
    let remove = Callback::new(move |id: String| {
        let path = ctx.path(&format!("/members/{}", api::seg(&id)));
        busy.run(
            async move { api::call_empty(Method::Delete, &path).await },
            move |()| members.refetch(),
        );
    });
    view! {
        <main class="page">
            <PageTitle title="Members" subtitle="Operators who can see or change this tenant."/>
            <section class="card muted small roles-help">
                <strong>"Owner"</strong> ": everything. "
                <strong>"Admin"</strong> ": everything but deleting the tenant and managing members. "
                <strong>"Viewer"</strong> ": read only."
            </section>
            <FormError busy/>
            {loaded(
                members,
                move |list: Vec<Member>| {
                    view! {
                        <div class="table-wrap">
                            <table data-test="members-table">
                                <thead>
                                    <tr>
                                        <th>"Name"</th>
                                        <th>"E-mail / GitHub"</th>
                                        <th>"Role"</th>
                                        <th></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list
                                        .into_iter()
                                        .map(|m| {
                                            let key = m
                                                .email
                                                .clone()
                                                .or(m.github_login.clone())
                                                .unwrap_or(m.operator_id.clone());
                                            let id = StoredValue::new(m.operator_id.clone());
                                            let is_me = me().as_deref() == Some(m.operator_id.as_str());
                                            let contact = [m.email.clone(), m.github_login.clone().map(|g| format!("@{g}"))]
                                                .into_iter()
                                                .flatten()
                                                .collect::<Vec<_>>()
                                                .join(" · ");
                                            let role = m.role.clone();
                                            view! {
                                                <tr data-test=format!("member-row-{key}")>
                                                    <td>
                                                        {m.name}
                                                        {is_me.then(|| view! { <span class="muted small">" (you)"</span> })}
                                                    </td>
                                                    <td class="small">{contact}</td>
                                                    <td>
                                                        {move || {
                                                            if is_owner.get() {
                                                                let current = role.clone();
                                                                let shown = role.clone();
                                                                view! {
                                                                    <select data-test="member-role" name="role"
                                                                        aria-label="Role"
                                                                        // Read again when the request ends: a refused
                                                                        // change shows the role the member still has.
                                                                        prop:value=move || {
                                                                            busy.pending.track();
                                                                            shown.clone()
                                                                        }
                                                                        disabled=move || busy.pending.get()
                                                                        on:change=move |ev| {
                                                                            change_role.run((id.get_value(), event_target_value(&ev)));
                                                                        }>
                                                                        {["owner", "admin", "viewer"]
                                                                            .into_iter()
                                                                            .map(|r| {
                                                                                view! {
                                                                                    <option value=r selected=current == r>{r}</option>
                                                                                }
                                                                            })
                                                                            .collect_view()}
                                                                    </select>
                                                                }
                                                                    .into_any()
                                                            } else {
                                                                view! { <RoleBadge role=role.clone()/> }.into_any()
                                                            }
                                                        }}
                                                    </td>
                                                    <td class="actions">
                                                        <ConfirmButton label="Remove"
                                                            question="Remove this member?"
                                                            test="member-remove" busy=busy
                                                            hidden=Signal::derive(move || !is_owner.get())
                                                            on_confirm=Callback::new(move |()| remove.run(id.get_value()))/>
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                },
            )}
            <Show when=move || is_owner.get()>
                <InviteForm/>
            </Show>
            <Show when=move || can_edit.get()>
                <Invitations/>
            </Show>
        </main>
    }
}

/// Bumped when an invitation is created, so the list reloads.
#[derive(Clone, Copy)]
struct InvitationsVersion(RwSignal<u32>);

#[component]
fn InviteForm() -> impl IntoView {
    let ctx = use_tenant();
    let version = expect_context::<InvitationsVersion>();
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("admin".to_string());
    let email_err = check(email, validate::email);
    let busy = Busy::new();
    let created = RwSignal::new(None::<Invitation>);
    let invalid =
        Signal::derive(move || email_err.get().is_some() || validate::role(&role.get()).is_err());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = NewInvitation {
            email: email.get_untracked().trim().to_string(),
            role: role.get_untracked(),
        };
        let path = ctx.path("/invitations");
        busy.run(
            async move { api::send::<_, Invitation>(Method::Post, &path, &body).await },
            move |inv| {
                created.set(Some(inv));
                email.set(String::new());
                version.0.update(|n| *n += 1);
            },
        );
    };
    view! {
        <section class="card form-card">
            <h2>"Invite someone"</h2>
            <form data-test="invite-member-form" on:submit=submit novalidate class="grid-2">
                <Field label="E-mail" name="email" value=email kind="email" error=email_err
                    busy=busy placeholder="grace@example.com"/>
                <div class="field">
                    <label for="invite-role">"Role"</label>
                    <select id="invite-role" name="role" prop:value=move || role.get()
                        on:change=move |ev| role.set(event_target_value(&ev))>
                        <option value="admin" selected=true>"Admin"</option>
                        <option value="viewer">"Viewer"</option>
                        <option value="owner">"Owner"</option>
                    </select>
                </div>
                <div class="span-2">
                    <FormError busy fields=&["email"]/>
                    <Submit label="Create invitation" busy invalid test="invite-member-submit"
                        pending_label="Creating…"/>
                </div>
            </form>
            {move || {
                created
                    .get()
                    .and_then(|inv| {
                        let url = inv.accept_url?;
                        let full = absolute(&url);
                        let copy = full.clone();
                        Some(
                            view! {
                                <div class="alert success once">
                                    <p>
                                        "Send this link to " <strong>{inv.email}</strong>
                                        ". It is shown only now and works for 7 days."
                                    </p>
                                    <div class="url-row">
                                        <code class="url" data-test="invite-url">{full}</code>
                                        <CopyButton text=copy/>
                                    </div>
                                </div>
                            },
                        )
                    })
            }}
        </section>
    }
}

/// Makes a path absolute on this origin (accept URLs may come as paths).
fn absolute(url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        return url.to_string();
    }
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}{url}")
}

#[component]
fn Invitations() -> impl IntoView {
    let ctx = use_tenant();
    let is_owner = ctx.is_owner();
    let version = expect_context::<InvitationsVersion>();
    let invitations = LocalResource::new(move || {
        version.0.track();
        let path = ctx.path_tracked("/invitations");
        async move { api::get::<Vec<Invitation>>(&path).await }
    });
    let busy = Busy::new();
    let revoke = Callback::new(move |id: String| {
        let path = ctx.path(&format!("/invitations/{}", api::seg(&id)));
        busy.run(
            async move { api::call_empty(Method::Delete, &path).await },
            move |()| invitations.refetch(),
        );
    });
    view! {
        <section class="card">
            <h2>"Open invitations"</h2>
            <FormError busy/>
            {loaded(
                invitations,
                move |list: Vec<Invitation>| {
                    data_table(
                        "invitations-table",
                        "None.",
                        &["E-mail", "Role", "Expires", ""],
                        list,
                        |i| {
                            let id = i.id.clone();
                            view! {
                                <tr>
                                    <td>{i.email}</td>
                                    <td><RoleBadge role=i.role/></td>
                                    <td>{short_time(&i.expires_at)}</td>
                                    <td class="actions">
                                        <ConfirmButton label="Revoke"
                                            question="Revoke this invitation?"
                                            test="invitation-revoke" busy=busy
                                            hidden=Signal::derive(move || !is_owner.get())
                                            on_confirm=Callback::new(move |()| revoke.run(id.clone()))/>
                                    </td>
                                </tr>
                            }
                        },
                    )
                },
            )}
        </section>
    }
}
