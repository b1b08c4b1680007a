//! Plans (offers), the plan form shared with the tool editor, and the payments page.

use super::api::{self, Method};
use super::reconciliation::Reconciliation;
use super::tenant::use_tenant;
use super::ui::{
    Busy, ConfirmButton, CopyButton, Field, FormError, Loading, PageTitle, ReadOnlyNote, Submit,
    check, data_table, loaded,
};
use crate::money::{self, COMMON_CURRENCIES};
use crate::plan::{FIELDS, KINDS, PlanInput};
use crate::text;
use crate::wire::{ConnectionTest, FailedMeterEvent, Offer, StripeKeys, StripePrice, Tenant};
use leptos::prelude::*;

/// The plan form's values, one signal per field.
#[derive(Clone, Copy)]
pub struct PlanDraft {
    name: RwSignal<String>,
    kind: RwSignal<String>,
    calls: RwSignal<String>,
    interval: RwSignal<String>,
    meter_event: RwSignal<String>,
    meter_value: RwSignal<String>,
    price_id: RwSignal<String>,
    amount: RwSignal<String>,
    currency: RwSignal<String>,
    free_quota: RwSignal<String>,
    spend_cap: RwSignal<String>,
    payment_reason: RwSignal<String>,
    success_url: RwSignal<String>,
    /// The sandbox price id last suggested (replaced while the operator has not edited it).
    suggested_price: RwSignal<String>,
}

impl PlanDraft {
    /// A fresh one-time plan.
    pub fn new(sandbox: bool) -> Self {
        let draft = Self::from_input(PlanInput::new_one_time(sandbox));
        if sandbox {
            draft.suggested_price.set(draft.price_id.get_untracked());
            Effect::new(move |_| {
                let name = draft.name.get();
                let current = draft.price_id.get_untracked();
                if current.is_empty() || current == draft.suggested_price.get_untracked() {
                    let suggestion = text::sandbox_price_id(&name);
                    draft.price_id.set(suggestion.clone());
                    draft.suggested_price.set(suggestion);
                }
            });
        }
        draft
    }

    /// A form holding `input`.
    pub fn from_input(input: PlanInput) -> Self {
        PlanDraft {
            name: RwSignal::new(input.name),
            kind: RwSignal::new(input.kind),
            calls: RwSignal::new(input.calls),
            interval: RwSignal::new(input.interval),
            meter_event: RwSignal::new(input.meter_event),
            meter_value: RwSignal::new(input.meter_value),
            price_id: RwSignal::new(input.price_id),
            amount: RwSignal::new(input.amount),
            currency: RwSignal::new(input.currency),
            free_quota: RwSignal::new(input.free_quota),
            spend_cap: RwSignal::new(input.spend_cap),
            payment_reason: RwSignal::new(input.payment_reason),
            success_url: RwSignal::new(input.success_url),
            suggested_price: RwSignal::new(String::new()),
        }
    }

    fn signal(&self, field: &str) -> RwSignal<String> {
        match field {
            "name" => self.name,
            "kind" => self.kind,
            "calls" => self.calls,
            "interval" => self.interval,
            "meter_event" => self.meter_event,
            "meter_value" => self.meter_value,
            "price_id" => self.price_id,
            "amount" => self.amount,
            "currency" => self.currency,
            "free_quota" => self.free_quota,
            "spend_cap" => self.spend_cap,
            "payment_reason" => self.payment_reason,
            _ => self.success_url,
        }
    }

    /// The form as typed (tracked).
    pub fn input(&self) -> PlanInput {
        PlanInput {
            name: self.name.get(),
            kind: self.kind.get(),
            calls: self.calls.get(),
            interval: self.interval.get(),
            meter_event: self.meter_event.get(),
            meter_value: self.meter_value.get(),
            price_id: self.price_id.get(),
            amount: self.amount.get(),
            currency: self.currency.get(),
            free_quota: self.free_quota.get(),
            spend_cap: self.spend_cap.get(),
            payment_reason: self.payment_reason.get(),
            success_url: self.success_url.get(),
        }
    }

    /// The form as typed (untracked).
    pub fn input_untracked(&self) -> PlanInput {
        untrack(|| self.input())
    }

    /// The message for `field`.
    pub fn error(self, field: &'static str) -> Signal<Option<String>> {
        Signal::derive(move || self.input().error(field))
    }

    /// Whether `field` matters for the chosen kind.
    pub fn shows(self, field: &'static str) -> Signal<bool> {
        Signal::derive(move || self.input().shows(field))
    }

    /// Fills the price fields from one of the Stripe account's prices.
    fn take_price(&self, price: &StripePrice) {
        self.price_id.set(price.id.clone());
        self.amount
            .set(money::format_minor(price.amount, &price.currency));
        self.currency.set(price.currency.clone());
        self.kind.set(price.kind.clone());
        if let Some(interval) = &price.interval {
            self.interval.set(interval.clone());
        }
    }
}

/// "Users pay $5.00", shown next to the Save button so the amount that will be saved is read
/// where the operator commits to it (nothing while the amount or currency is invalid).
#[component]
pub fn PriceSummary(draft: PlanDraft) -> impl IntoView {
    move || {
        let input = draft.input();
        let currency = money::currency(&input.currency).ok()?;
        let amount = money::parse_amount(&input.amount, &currency).ok()?;
        Some(view! {
            <span class="price-summary" data-test="amount-preview" aria-live="polite">
                "Users pay " <strong>{money::display(amount, &currency)}</strong>
                " (" {amount} " minor units)."
            </span>
        })
    }
}

/// The plan fields (inside the caller's form).
#[component]
pub fn PlanFields(
    draft: PlanDraft,
    busy: Busy,
    #[prop(into)] disabled: Signal<bool>,
) -> impl IntoView {
    let ctx = use_tenant();
    let stripe = Signal::derive(move || {
        ctx.tenant
            .with(|t| t.as_ref().is_some_and(|t| t.payments.mode == "stripe"))
    });
    let can_edit = ctx.can_edit();
    let prices = LocalResource::new(move || {
        let wanted = stripe.get() && can_edit.get();
        let path = ctx.path_tracked("/payments/stripe/prices");
        async move {
            if wanted {
                api::get::<Vec<StripePrice>>(&path).await.map(Some)
            } else {
                Ok(None)
            }
        }
    });
    let field = move |label: &'static str,
                      name: &'static str,
                      kind: Option<&'static str>,
                      placeholder: &'static str,
                      hint: &'static str| {
        let shows = draft.shows(name);
        move || {
            shows.get().then(|| {
                view! {
                    <Field label=label name=name value=draft.signal(name) kind=kind.unwrap_or("text")
                        placeholder=placeholder hint=hint error=draft.error(name) busy=busy
                        disabled=disabled/>
                }
            })
        }
    };
    let kind = draft.kind;
    let interval = draft.interval;
    let pick_price = move |ev: leptos::ev::Event| {
        let id = event_target_value(&ev);
        if let Some(Ok(Some(list))) = prices.get_untracked()
            && let Some(price) = list.iter().find(|p| p.id == id)
        {
            draft.take_price(price);
        }
    };
    view! {
        <fieldset class="plan-fields" disabled=disabled>
            <legend>"New plan"</legend>
            <div class="grid-2">
                {field("Plan name", "name", None, "Pro", "Users see it when asked to pay.")}
                <div class="field">
                    <label for="plan-kind">"Kind"</label>
                    <select id="plan-kind" name="kind" prop:value=move || kind.get()
                        on:change=move |ev| kind.set(event_target_value(&ev))>
                        {KINDS
                            .iter()
                            .map(|(value, label)| {
                                view! {
                                    <option value=*value selected=move || kind.get() == *value>
                                        {*label}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </div>
                {field("Calls per purchase", "calls", Some("number"), "100", "Empty means unlimited.")}
                {move || {
                    draft
                        .shows("interval")
                        .get()
                        .then(|| {
                            view! {
                                <div class="field">
                                    <label for="plan-interval">"Billed every"</label>
                                    <select id="plan-interval" name="interval"
                                        prop:value=move || interval.get()
                                        on:change=move |ev| interval.set(event_target_value(&ev))>
                                        <option value="month" selected=move || interval.get() == "month">
                                            "Month"
                                        </option>
                                        <option value="year" selected=move || interval.get() == "year">
                                            "Year"
                                        </option>
                                    </select>
                                </div>
                            }
                        })
                }}
                {field("Meter event name", "meter_event", None, "tool_calls",
                    "The event name of the Stripe billing meter.")}
                {field("Meter value per call", "meter_value", Some("number"), "1", "Empty means 1.")}
            </div>
            <h3>"Price"</h3>
            {move || match prices.get() {
                Some(Ok(Some(list))) if !list.is_empty() => {
                    view! {
                        <div class="field">
                            <label for="price-picker">"Pick a price from your Stripe account"</label>
                            <select id="price-picker" name="price_picker" data-test="price-picker"
                                on:change=pick_price>
                                <option value="">"Choose…"</option>
                                {list
                                    .into_iter()
                                    .map(|p| {
                                        view! {
                                            <option value=p.id>
                                                {format!("{} — {} ({})", p.product, p.text, p.id)}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </select>
                        </div>
                    }
                        .into_any()
                }
                None if stripe.get() => view! { <Loading/> }.into_any(),
                _ => ().into_any(),
            }}
            <div class="grid-3">
                {move || {
                    let hint = if stripe.get() {
                        "The Stripe price users pay (price_…)."
                    } else {
                        "Sandbox: any id starting with price_, e.g. price_sandbox_pro."
                    };
                    view! {
                        <Field label="Price id" name="price_id" value=draft.price_id
                            placeholder="price_…" hint=hint error=draft.error("price_id") busy=busy
                            disabled=disabled/>
                    }
                }}
                <Field label="Amount" name="amount" value=draft.amount placeholder="5.00"
                    hint=money::AMOUNT_RULE error=draft.error("amount") busy=busy
                    disabled=disabled/>
                <Field label="Currency" name="currency" value=draft.currency placeholder="usd"
                    error=draft.error("currency") busy=busy disabled=disabled
                    hint=format!("E.g. {}.", COMMON_CURRENCIES.join(", "))/>
            </div>
            <h3>"Limits and wording"</h3>
            <div class="grid-2">
                {field("Free calls per month", "free_quota", Some("number"), "0",
                    "Each user's free calls per month before payment is asked.")}
                {field("Spend cap (calls per month)", "spend_cap", Some("number"), "",
                    "Most billed calls per user a month. Empty means no cap.")}
                {field("Payment reason", "payment_reason", None, "",
                    "Optional: why payment is asked, shown to users.")}
                {field("Success URL", "success_url", Some("url"), "https://…",
                    "Optional: where the browser goes after paying.")}
            </div>
        </fieldset>
    }
}

/// `/admin/t/:slug/plans`.
#[component]
pub fn PlansPage() -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let offers = LocalResource::new(move || {
        let path = ctx.path_tracked("/offers");
        async move { api::get::<Vec<Offer>>(&path).await }
    });
    let editing = RwSignal::new(None::<Option<Offer>>);
    view! {
        <main class="page">
            <PageTitle title="Plans"
                subtitle="What users pay for. One plan can price several tools; paying once unlocks them all."/>
            <Show when=move || read_only.get()>
                <ReadOnlyNote/>
            </Show>
            {loaded(
                offers,
                move |list: Vec<Offer>| {
                    data_table(
                        "plans-table",
                        "No plans yet. Price a tool from its editor, or create a plan here.",
                        &["Plan", "Kind", "Price", "Free calls", "Tools", ""],
                        list,
                        |o| {
                            let kind = KINDS
                                .iter()
                                .find(|(k, _)| *k == o.fields.kind)
                                .map(|(_, l)| *l)
                                .unwrap_or("?");
                            let stored = StoredValue::new(o.clone());
                            let tools = if o.tools.is_empty() {
                                "–".to_string()
                            } else {
                                o.tools.join(", ")
                            };
                            view! {
                                <tr data-test=format!("plan-row-{}", o.fields.name)>
                                    <td><strong>{o.fields.name.clone()}</strong>
                                        <div class="muted mono small">{o.fields.price_id.clone()}</div>
                                    </td>
                                    <td>{kind}</td>
                                    <td data-test="plan-price">{o.price_text.clone()}</td>
                                    <td>{o.fields.free_quota.unwrap_or(0)}</td>
                                    <td class="mono small">{tools}</td>
                                    <td class="actions">
                                        <Show when=move || !read_only.get()>
                                            <button type="button" class="btn small"
                                                data-test="plan-edit"
                                                on:click=move |_| editing.set(Some(Some(stored.get_value())))>
                                                "Edit"
                                            </button>
                                        </Show>
                                    </td>
                                </tr>
                            }
                        },
                    )
                },
            )}
            <Show when=move || !read_only.get() && editing.with(Option::is_none)>
                <button type="button" class="btn" data-test="plan-new"
                    on:click=move |_| editing.set(Some(None))>
                    "New plan"
                </button>
            </Show>
            {move || {
                editing
                    .get()
                    .map(|offer| {
                        view! {
                            <PlanEditor
                                offer
                                on_done=Callback::new(move |changed: bool| {
                                    editing.set(None);
                                    if changed {
                                        offers.refetch();
                                    }
                                })
                            />
                        }
                    })
            }}
        </main>
    }
}

#[component]
fn PlanEditor(offer: Option<Offer>, on_done: Callback<bool>) -> impl IntoView {
    let ctx = use_tenant();
    let sandbox = ctx
        .tenant
        .with_untracked(|t| t.as_ref().is_none_or(|t| t.payments.mode != "stripe"));
    let draft = match &offer {
        Some(o) => PlanDraft::from_input(PlanInput::from_offer(&o.fields)),
        None => PlanDraft::new(sandbox),
    };
    let busy = Busy::new();
    let invalid = Signal::derive(move || draft.input().first_error().is_some());
    let id = offer.as_ref().map(|o| o.id.clone());
    let title = match &offer {
        Some(o) => format!("Edit {}", o.fields.name),
        None => "New plan".into(),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(body) = draft.input_untracked().to_offer() else {
            return;
        };
        let (method, path) = match &id {
            Some(id) => (Method::Put, ctx.path(&format!("/offers/{}", api::seg(id)))),
            None => (Method::Post, ctx.path("/offers")),
        };
        busy.run(
            async move { api::send::<_, Offer>(method, &path, &body).await },
            move |_| on_done.run(true),
        );
    };
    view! {
        <section class="card form-card">
            <h2>{title}</h2>
            {offer
                .is_some()
                .then(|| {
                    view! {
                        <p class="muted small">"Changes apply to future purchases."</p>
                    }
                })}
            <form data-test="plan-form" on:submit=submit novalidate>
                <PlanFields draft busy disabled=Signal::derive(|| false)/>
                <FormError busy fields=&FIELDS/>
                <div class="form-actions">
                    <Submit label="Save plan" busy invalid test="plan-submit"/>
                    <PriceSummary draft/>
                    <button type="button" class="btn" on:click=move |_| on_done.run(false)>
                        "Cancel"
                    </button>
                </div>
            </form>
        </section>
    }
}

/// `/admin/t/:slug/payments`.
#[component]
pub fn PaymentsPage() -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let can_edit = ctx.can_edit();
    let stripe = Signal::derive(move || {
        ctx.tenant
            .with(|t| t.as_ref().is_some_and(|t| t.payments.mode == "stripe"))
    });
    let webhook = Signal::derive(move || {
        ctx.tenant
            .with(|t| t.as_ref().map(|t| t.webhook_url.clone()))
            .unwrap_or_default()
    });
    let mode_text = move || {
        ctx.tenant.with(|t| match t {
            Some(t) if t.payments.mode == "stripe" => format!(
                "Stripe ({})",
                t.payments
                    .key_hint
                    .clone()
                    .unwrap_or_else(|| "key set".into())
            ),
            Some(_) => "Sandbox: test purchases, no real money".to_string(),
            None => String::new(),
        })
    };
    // Test connection.
    let test_busy = Busy::new();
    let test_result = RwSignal::new(None::<ConnectionTest>);
    let run_test = move |_| {
        test_result.set(None);
        let path = ctx.path("/payments/stripe/test");
        test_busy.run(
            async move { api::call::<ConnectionTest>(Method::Post, &path).await },
            move |result| test_result.set(Some(result)),
        );
    };
    // Disconnect.
    let disconnect_busy = Busy::new();
    let disconnect = Callback::new(move |()| {
        let path = ctx.path("/payments/stripe");
        disconnect_busy.run(
            async move { api::call::<Tenant>(Method::Delete, &path).await },
            move |t| {
                test_result.set(None);
                ctx.tenant.set(Some(t));
            },
        );
    });
    view! {
        <main class="page">
            <PageTitle title="Payments"/>
            <Show when=move || read_only.get()>
                <ReadOnlyNote/>
            </Show>
            <section class="card">
                <h2>"Mode"</h2>
                <p class="mode-line">
                    <span class=move || if stripe.get() { "badge paid" } else { "badge free" }
                        data-test="payments-mode">
                        {mode_text}
                    </span>
                </p>
                <Show when=move || !stripe.get()>
                    <p class="muted">
                        "On the sandbox, checkout pages are simulated: try the whole payment flow "
                        "without a Stripe account. Connect Stripe to take real payments."
                    </p>
                </Show>
                <Show when=move || stripe.get() && can_edit.get()>
                    <div class="form-actions">
                        <button type="button" class="btn" data-test="stripe-test"
                            disabled=move || test_busy.pending.get() on:click=run_test>
                            {move || {
                                if test_busy.pending.get() {
                                    view! {
                                        <span class="spinner" aria-hidden="true"></span>
                                        "Testing the connection…"
                                    }
                                        .into_any()
                                } else {
                                    "Test connection".into_any()
                                }
                            }}
                        </button>
                        <ConfirmButton label="Disconnect"
                            question="Go back to the sandbox? Real payments stop."
                            test="stripe-disconnect" busy=disconnect_busy on_confirm=disconnect/>
                    </div>
                    {move || {
                        test_result
                            .get()
                            .map(|r| {
                                view! {
                                    <p class=if r.ok { "alert success" } else { "alert error" }
                                        data-test="stripe-test-result">
                                        {r.message}
                                    </p>
                                }
                            })
                    }}
                    <FormError busy=test_busy/>
                    <FormError busy=disconnect_busy/>
                </Show>
            </section>
            <section class="card">
                <h2>"Webhook"</h2>
                <p class="muted">
                    "In Stripe (Developers → Webhooks), add an endpoint with this URL and the events "
                    <code>"checkout.session.completed"</code> ", "
                    <code>"customer.subscription.*"</code> " and "
                    <code>"invoice.*"</code>
                    ", then paste its signing secret below."
                </p>
                <div class="url-row">
                    <code class="url" data-test="webhook-url">{webhook}</code>
                    <CopyButton text=webhook/>
                </div>
            </section>
            <Show when=move || can_edit.get()>
                <StripeForm/>
            </Show>
            <Show when=move || stripe.get()>
                <FailedMeterEvents/>
                <Reconciliation/>
            </Show>
            <Show when=move || stripe.get() && can_edit.get()>
                <StripePrices/>
            </Show>
        </main>
    }
}

#[component]
fn StripeForm() -> impl IntoView {
    let ctx = use_tenant();
    let secret_key = RwSignal::new(String::new());
    let webhook_secret = RwSignal::new(String::new());
    let key_err = check(secret_key, text::stripe_secret_key);
    let secret_err = check(webhook_secret, text::stripe_webhook_secret);
    let busy = Busy::new();
    let saved = RwSignal::new(false);
    let invalid = Signal::derive(move || key_err.get().is_some() || secret_err.get().is_some());
    let connected = move || {
        ctx.tenant
            .with(|t| t.as_ref().is_some_and(|t| t.payments.mode == "stripe"))
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = StripeKeys {
            secret_key: secret_key.get_untracked().trim().to_string(),
            webhook_secret: webhook_secret.get_untracked().trim().to_string(),
        };
        let path = ctx.path("/payments/stripe");
        saved.set(false);
        busy.run(
            async move { api::send::<_, Tenant>(Method::Put, &path, &body).await },
            move |t| {
                ctx.tenant.set(Some(t));
                secret_key.set(String::new());
                webhook_secret.set(String::new());
                saved.set(true);
            },
        );
    };
    view! {
        <section class="card form-card">
            <h2>{move || if connected() { "Replace the Stripe keys" } else { "Connect Stripe" }}</h2>
            <p class="muted">
                "Keys are stored encrypted and never shown again. A restricted key ("
                <code>"rk_…"</code>
                ") needs write access to Checkout Sessions, Customers, Billing Portal and Meter Events, "
                "and read access to Prices."
            </p>
            <form data-test="stripe-form" on:submit=submit novalidate class="grid-2">
                <Field label="Secret key" name="secret_key" value=secret_key kind="password"
                    placeholder="sk_test_…" error=key_err busy=busy autocomplete="off"/>
                <Field label="Webhook signing secret" name="webhook_secret" value=webhook_secret
                    kind="password" placeholder="whsec_…" error=secret_err busy=busy
                    autocomplete="off"/>
                <div class="span-2">
                    <FormError busy fields=&["secret_key", "webhook_secret"]/>
                    <div class="form-actions">
                        <Submit label="Connect" busy invalid test="stripe-submit"
                            pending_label="Checking the key with Stripe…"/>
                        <Show when=move || saved.get()>
                            <span class="ok small" role="status" data-test="stripe-connected">"Connected."</span>
                        </Show>
                    </div>
                </div>
            </form>
        </section>
    }
}

#[component]
fn StripePrices() -> impl IntoView {
    let ctx = use_tenant();
    let prices = LocalResource::new(move || {
        let path = ctx.path_tracked("/payments/stripe/prices");
        let _ = ctx
            .tenant
            .with(|t| t.as_ref().map(|t| t.payments.key_hint.clone()));
        async move { api::get::<Vec<StripePrice>>(&path).await }
    });
    view! {
        <section class="card">
            <h2>"Prices in your Stripe account"</h2>
            {loaded(
                prices,
                |list: Vec<StripePrice>| {
                    data_table(
                        "stripe-prices",
                        "No active prices. Create products and prices in Stripe first.",
                        &["Product", "Price", "Kind", "Id", ""],
                        list,
                        |p| {
                            let id = p.id.clone();
                            view! {
                                <tr>
                                    <td>{p.product}</td>
                                    <td>{p.text}</td>
                                    <td>
                                        {p.kind}
                                        {p.interval.map(|i| format!(" / {i}"))}
                                    </td>
                                    <td class="mono small">{p.id}</td>
                                    <td><CopyButton text=id label="Copy id"/></td>
                                </tr>
                            }
                        },
                    )
                },
            )}
        </section>
    }
}

/// Usage Stripe refused (or would have): set aside by the meter sender, never retried.
#[component]
fn FailedMeterEvents() -> impl IntoView {
    let ctx = use_tenant();
    let failed = LocalResource::new(move || {
        let path = ctx.path_tracked("/meter-events/failed");
        async move { api::get::<Vec<FailedMeterEvent>>(&path).await }
    });
    view! {
        <section class="card">
            <h2>"Usage Stripe did not take"</h2>
            <p class="muted">
                "Metered calls whose usage Stripe refused, or that were too old for Stripe by the "
                "time it could be sent. They are not retried and were not billed."
            </p>
            {loaded(
                failed,
                |list: Vec<FailedMeterEvent>| {
                    data_table(
                        "failed-meter-events",
                        "None: every metered call reached Stripe.",
                        &["When", "Customer", "Usage", "Why"],
                        list,
                        |e| {
                            view! {
                                <tr>
                                    <td>{text::short_time(&e.occurred_at)}</td>
                                    <td class="mono small">{e.customer}</td>
                                    <td>{format!("{} × {}", e.value, e.event_name)}</td>
                                    <td>{e.reason}</td>
                                </tr>
                            }
                        },
                    )
                },
            )}
        </section>
    }
}
