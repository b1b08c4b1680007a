//! The small building blocks every page uses: form fields that validate as you type, submit
//! buttons with a spinner, error notes, copy buttons, inline confirmations, loading states,
//! tables.

use super::api::{ApiResult, Failure};
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::future::Future;
use wasm_bindgen::JsCast;

/// A request in flight and its outcome, for one form or button.
#[derive(Clone, Copy)]
pub struct Busy {
    /// True while the request runs.
    pub pending: RwSignal<bool>,
    /// The API's error, shown next to the form.
    pub failure: RwSignal<Option<Failure>>,
}

impl Busy {
    /// A fresh one.
    pub fn new() -> Self {
        Busy {
            pending: RwSignal::new(false),
            failure: RwSignal::new(None),
        }
    }

    /// Runs `request`; on success hands the answer to `then`, else keeps the failure.
    pub fn run<T, F>(self, request: F, then: impl FnOnce(T) + 'static)
    where
        T: 'static,
        F: Future<Output = ApiResult<T>> + 'static,
    {
        if self.pending.get_untracked() {
            return;
        }
        self.pending.set(true);
        self.failure.set(None);
        spawn_local(async move {
            let outcome = request.await;
            self.pending.set(false);
            match outcome {
                Ok(value) => then(value),
                Err(failure) => self.failure.set(Some(failure)),
            }
        });
    }

    /// The API's message for `field`, if it blamed that field.
    pub fn field_error(self, field: &'static str) -> Signal<Option<String>> {
        Signal::derive(move || {
            self.failure.with(|f| {
                f.as_ref()
                    .filter(|f| f.field() == Some(field))
                    .map(Failure::message)
            })
        })
    }
}

impl Default for Busy {
    fn default() -> Self {
        Self::new()
    }
}

/// The validation message of `value` under `rule`, once something was typed.
pub fn check(
    value: RwSignal<String>,
    rule: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
) -> Signal<Option<String>> {
    Signal::derive(move || value.with(|v| rule(v).err()))
}

/// A labelled input bound to `value`, with its validation message and the API's message for
/// its field.
#[component]
pub fn Field(
    /// Shown above the input.
    #[prop(into)]
    label: String,
    /// The API field name (the input's `name`).
    name: &'static str,
    /// The value.
    value: RwSignal<String>,
    /// `text`, `email`, `password`, `number`, `url`, … (default `text`).
    #[prop(optional)]
    kind: Option<&'static str>,
    /// Placeholder.
    #[prop(optional, into)]
    placeholder: Option<String>,
    /// A hint under the input.
    #[prop(optional, into)]
    hint: Option<String>,
    /// The validation message (shown once the field was edited).
    #[prop(optional, into)]
    error: Option<Signal<Option<String>>>,
    /// The request whose failure may name this field.
    #[prop(optional)]
    busy: Option<Busy>,
    /// A textarea instead of an input.
    #[prop(optional)]
    multiline: bool,
    /// Read only.
    #[prop(optional, into)]
    disabled: Option<Signal<bool>>,
    /// `autocomplete`.
    #[prop(optional)]
    autocomplete: Option<&'static str>,
) -> impl IntoView {
    // What the operator last typed here. The field counts as touched only while it still holds
    // that: a form emptied after a successful save shows no errors, but a field the operator
    // emptied by hand says what is missing.
    let typed = RwSignal::new(None::<String>);
    let touched = Signal::derive(move || {
        typed.with(|t| t.as_deref().is_some_and(|t| value.with(|v| v == t)))
    });
    let server = busy.map(|b| b.field_error(name));
    let message = Signal::derive(move || {
        let own = error
            .and_then(|e| e.get())
            .filter(|_| touched.get() || !value.with(String::is_empty));
        own.or_else(|| server.and_then(|s| s.get()))
    });
    let disabled = Signal::derive(move || disabled.is_some_and(|d| d.get()));
    let id = format!("f-{name}-{}", next_id());
    // The hint and the message are tied to the input, so screen readers read them with it.
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let has_hint = hint.is_some();
    let described_by = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        move || {
            let mut ids = Vec::new();
            if has_hint {
                ids.push(hint_id.clone());
            }
            if message.with(Option::is_some) {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let input = if multiline {
        view! {
            <textarea
                id=id.clone()
                name=name
                rows="4"
                placeholder=placeholder
                prop:value=move || value.get()
                on:input=move |ev| {
                    let typed_now = event_target_value(&ev);
                    typed.set(Some(typed_now.clone()));
                    value.set(typed_now);
                }
                disabled=disabled
                aria-invalid=move || message.with(|m| m.is_some().to_string())
                aria-describedby=described_by
            ></textarea>
        }
        .into_any()
    } else {
        view! {
            <input
                id=id.clone()
                name=name
                // A number field is a text field with a numeric keyboard: the browser's number
                // input reports "" for a half-typed "3." and the value got rewritten under the
                // operator's fingers; the field's own rule says what is wrong instead.
                type=kind.filter(|k| *k != "number").unwrap_or("text")
                inputmode=(kind == Some("number")).then_some("decimal")
                placeholder=placeholder
                autocomplete=autocomplete
                prop:value=move || value.get()
                on:input=move |ev| {
                    let typed_now = event_target_value(&ev);
                    typed.set(Some(typed_now.clone()));
                    value.set(typed_now);
                }
                disabled=disabled
                aria-invalid=move || message.with(|m| m.is_some().to_string())
                aria-describedby=described_by
            />
        }
        .into_any()
    };
    view! {
        <div class="field" class:invalid=move || message.with(Option::is_some)>
            <label for=id>{label}</label>
            {input}
            {hint.map(|h| view! { <small class="hint" id=hint_id>{h}</small> })}
            <div aria-live="polite">
                {move || {
                    message
                        .get()
                        .map(|m| {
                            view! {
                                <small class="field-error" id=error_id.clone()
                                    data-test=format!("field-error-{name}")>
                                    {m}
                                </small>
                            }
                        })
                }}
            </div>
        </div>
    }
}

fn next_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A submit button: disabled while `invalid` or in flight, "Saving…" with a spinner meanwhile.
#[component]
pub fn Submit(
    /// The label.
    #[prop(into)]
    label: String,
    /// The request.
    busy: Busy,
    /// Whether the form is invalid.
    #[prop(optional, into)]
    invalid: Option<Signal<bool>>,
    /// The `data-test` hook.
    test: &'static str,
    /// Text while in flight (default "Saving…").
    #[prop(optional)]
    pending_label: Option<&'static str>,
    /// Extra classes.
    #[prop(optional)]
    class: Option<&'static str>,
) -> impl IntoView {
    let pending = busy.pending;
    let label = StoredValue::new(label);
    view! {
        <button
            type="submit"
            class=format!("btn primary {}", class.unwrap_or(""))
            data-test=test
            disabled=move || pending.get() || invalid.is_some_and(|i| i.get())
            aria-busy=move || pending.get().to_string()
        >
            {move || {
                if pending.get() {
                    view! {
                        <span class="spinner" aria-hidden="true"></span>
                        {pending_label.unwrap_or("Saving…")}
                    }
                        .into_any()
                } else {
                    label.get_value().into_any()
                }
            }}
        </button>
    }
}

/// The API's error for a form (unless it named a field shown elsewhere).
#[component]
pub fn FormError(busy: Busy, #[prop(optional)] fields: &'static [&'static str]) -> impl IntoView {
    move || {
        busy.failure
            .get()
            .filter(|f| f.field().is_none_or(|field| !fields.contains(&field)))
            .map(|f| {
                view! {
                    <p class="alert error" role="alert" data-test="form-error">
                        {f.message()}
                    </p>
                }
            })
    }
}

/// A spinner with a label.
#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <div class="loading" data-test="loading">
            <span class="spinner" aria-hidden="true"></span>
            "Loading…"
        </div>
    }
}

/// A load error.
#[component]
pub fn LoadError(failure: Failure) -> impl IntoView {
    view! {
        <p class="alert error" role="alert" data-test="load-error">
            {failure.into_message()}
        </p>
    }
}

/// Renders a resource: spinner, error, or `f(value)`.
pub fn loaded<T, V>(
    resource: LocalResource<ApiResult<T>>,
    f: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + 'static,
    V: IntoView + 'static,
{
    move || match resource.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(failure)) => view! { <LoadError failure/> }.into_any(),
        Some(Ok(value)) => f(value).into_any(),
    }
}

/// A table of `items`, one `row` each, under `headers`, in a wrapper that scrolls sideways at
/// phone width; `empty` instead when there are none. `test` is the `data-test` of either.
pub fn data_table<T, V>(
    test: &'static str,
    empty: &'static str,
    headers: &'static [&'static str],
    items: Vec<T>,
    row: impl FnMut(T) -> V,
) -> AnyView
where
    V: IntoView + 'static,
{
    if items.is_empty() {
        return view! { <p class="empty" data-test=test>{empty}</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table data-test=test>
                <thead>
                    <tr>{headers.iter().map(|h| view! { <th>{*h}</th> }).collect_view()}</tr>
                </thead>
                <tbody>{items.into_iter().map(row).collect_view()}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Copies `text` to the clipboard; says "Copied" for a moment.
#[component]
pub fn CopyButton(
    /// What to copy.
    #[prop(into)]
    text: Signal<String>,
    /// The label (default "Copy").
    #[prop(optional)]
    label: Option<&'static str>,
) -> impl IntoView {
    let state = RwSignal::new(0_u8); // 0 idle, 1 copied, 2 failed
    let copy = move |_| {
        let value = text.get_untracked();
        spawn_local(async move {
            let ok = copy_text(&value).await;
            state.set(if ok { 1 } else { 2 });
            sleep_ms(1800).await;
            state.set(0);
        });
    };
    view! {
        <button
            type="button"
            class="btn small copy"
            data-test="copy-button"
            data-copied=move || (state.get() == 1).then_some("true")
            on:click=copy
        >
            {move || match state.get() {
                1 => "Copied".to_string(),
                // Nothing is selected for the operator, so "Press Ctrl+C" would be wrong.
                2 => "Copy failed: select the text and copy it".to_string(),
                _ => label.unwrap_or("Copy").to_string(),
            }}
        </button>
    }
}

/// Writes to the clipboard (falls back to selecting a hidden textarea and `execCommand`).
pub async fn copy_text(value: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(value);
    wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
}

/// Waits `ms` milliseconds.
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(resolve.unchecked_ref(), ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A button that asks "Sure?" inline before running `on_confirm`.
#[component]
pub fn ConfirmButton(
    /// The first label ("Revoke").
    label: &'static str,
    /// The question ("Revoke this client?").
    #[prop(into)]
    question: String,
    /// The `data-test` hook of the first button.
    test: &'static str,
    /// What to do.
    on_confirm: Callback<()>,
    /// While in flight.
    #[prop(optional)]
    busy: Option<Busy>,
    /// Hidden (read-only roles).
    #[prop(optional, into)]
    hidden: Option<Signal<bool>>,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let pending = Signal::derive(move || busy.is_some_and(|b| b.pending.get()));
    let question = StoredValue::new(question);
    move || {
        if hidden.is_some_and(|h| h.get()) {
            return ().into_any();
        }
        if asking.get() {
            view! {
                <span class="confirm">
                    <span>{question.get_value()}</span>
                    <button
                        type="button"
                        class="btn small danger"
                        data-test="confirm-yes"
                        disabled=pending
                        on:click=move |_| {
                            asking.set(false);
                            on_confirm.run(());
                        }
                    >
                        "Yes, " {label.to_lowercase()}
                    </button>
                    <button
                        type="button"
                        class="btn small"
                        data-test="confirm-no"
                        on:click=move |_| asking.set(false)
                    >
                        "Cancel"
                    </button>
                </span>
            }
            .into_any()
        } else {
            view! {
                <button
                    type="button"
                    class="btn small danger-outline"
                    data-test=test
                    disabled=pending
                    on:click=move |_| asking.set(true)
                >
                    {move || if pending.get() { "Working…" } else { label }}
                </button>
            }
            .into_any()
        }
    }
}

/// What leaving a page with unsaved edits asks.
pub const LEAVE_QUESTION: &str = "You have unsaved changes. Leave this page and lose them?";

/// How many forms on the page hold unsaved edits (see [`guard_unsaved`]).
#[derive(Clone, Copy)]
pub struct UnsavedEdits(RwSignal<usize>);

impl UnsavedEdits {
    /// Provides the count to the app and installs, once for the app's lifetime, the two
    /// listeners that ask before leaving while it is not zero: the browser's own
    /// `beforeunload` prompt for a reload, a close or a typed address, and `confirm()` for a
    /// link inside the dashboard. The link check listens in the capture phase, before the
    /// router's click handler, which leaves alone a click whose default was prevented.
    /// (Back/forward are not asked about: the router has already moved when it hears of them.)
    pub fn install() {
        use wasm_bindgen::closure::Closure;
        let count = RwSignal::new(0_usize);
        provide_context(UnsavedEdits(count));
        let Some(window) = web_sys::window() else {
            return;
        };
        let unsaved = move || count.try_get_untracked().is_some_and(|n| n > 0);
        let before_unload = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
            if unsaved() {
                ev.prevent_default();
                // What browsers before the standard looked at instead.
                let _ = js_sys::Reflect::set(&ev, &"returnValue".into(), &LEAVE_QUESTION.into());
            }
        });
        let on_click = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
            if !unsaved() || ev.default_prevented() {
                return;
            }
            let on_link = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|e| e.closest("a[href]").ok().flatten())
                // A link that opens elsewhere leaves the edits where they are.
                .filter(|a| a.get_attribute("target").is_none_or(|t| t == "_self"));
            if on_link.is_none() {
                return;
            }
            if !UnsavedEdits(count).may_leave() {
                ev.prevent_default();
                ev.stop_immediate_propagation();
            }
        });
        let _ = window.add_event_listener_with_callback(
            "beforeunload",
            before_unload.as_ref().unchecked_ref(),
        );
        let _ = window.add_event_listener_with_callback_and_bool(
            "click",
            on_click.as_ref().unchecked_ref(),
            true,
        );
        // They live as long as the app.
        before_unload.forget();
        on_click.forget();
    }
}

impl UnsavedEdits {
    /// Whether the operator may leave the page now: yes when nothing is unsaved, else what they
    /// answer to `confirm()`. For ways of leaving that are not links (the tenant switcher,
    /// signing out); links are asked about by the listener [`install`](Self::install) adds.
    pub fn may_leave(self) -> bool {
        self.0.try_get_untracked().is_none_or(|n| n == 0)
            || web_sys::window()
                .and_then(|w| w.confirm_with_message(LEAVE_QUESTION).ok())
                .unwrap_or(true)
    }
}

/// While the calling component lives and `dirty` is true, leaving the page asks first (see
/// [`UnsavedEdits::install`]).
pub fn guard_unsaved(dirty: Signal<bool>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some(UnsavedEdits(count)) = use_context::<UnsavedEdits>() else {
        return;
    };
    let counted = Arc::new(AtomicBool::new(false));
    {
        let counted = Arc::clone(&counted);
        Effect::new(move |_| {
            let now = dirty.get();
            if counted.swap(now, Ordering::Relaxed) != now {
                count.update(|n| *n = if now { *n + 1 } else { n.saturating_sub(1) });
            }
        });
    }
    on_cleanup(move || {
        if counted.swap(false, Ordering::Relaxed) {
            count.try_update(|n| *n = n.saturating_sub(1));
        }
    });
}

/// Puts the keyboard focus on the element `selector` finds, once the page has been redrawn:
/// a control that was re-created by a change (a re-keyed row) gets the focus back, instead of
/// losing it to `<body>`. Falls back to `fallback` when the first is missing or disabled.
pub fn focus_after_redraw(selector: String, fallback: Option<String>) {
    use wasm_bindgen::closure::Closure;
    let Some(window) = web_sys::window() else {
        return;
    };
    let focus = Closure::once_into_js(move || {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let usable = |css: &str| {
            document
                .query_selector(css)
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                .filter(|e| !e.has_attribute("disabled"))
        };
        if let Some(element) = usable(&selector).or_else(|| fallback.as_deref().and_then(usable)) {
            let _ = element.focus();
        }
    });
    let _ = window.request_animation_frame(focus.unchecked_ref());
}

/// A page heading.
#[component]
pub fn PageTitle(
    #[prop(into)] title: String,
    #[prop(optional, into)] subtitle: Option<String>,
) -> impl IntoView {
    // Each page names itself (and its tenant) in the browser tab and history.
    let tenant = use_context::<super::tenant::TenantCtx>();
    let page = title.clone();
    Effect::new(move |_| {
        let name = tenant.and_then(|t| t.tenant.with(|t| t.as_ref().map(|t| t.name.clone())));
        set_document_title(&crate::text::page_title(&page, name.as_deref()));
    });
    view! {
        <div class="page-head">
            <h1 data-test="page-title">{title}</h1>
            {subtitle.map(|s| view! { <p class="muted">{s}</p> })}
        </div>
    }
}

/// Sets the browser tab's title.
pub fn set_document_title(title: &str) {
    if let Some(document) = web_sys::window().and_then(|w| w.document()) {
        document.set_title(title);
    }
}

/// 404 inside the app.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="auth-page">
            <div class="card narrow">
                <h1>"Page not found"</h1>
                <p>
                    <a href="/admin">"Back to your tenants"</a>
                </p>
            </div>
        </main>
    }
}

/// A read-only note for viewers.
#[component]
pub fn ReadOnlyNote() -> impl IntoView {
    view! {
        <p class="alert info" data-test="read-only">
            "You are a viewer of this tenant: you can look, not change."
        </p>
    }
}

/// A role badge.
#[component]
pub fn RoleBadge(#[prop(into)] role: String) -> impl IntoView {
    let class = format!("badge role-{role}");
    view! { <span class=class>{role}</span> }
}

/// The query parameter `name` of the current URL.
pub fn query_param(name: &'static str) -> Memo<String> {
    let query = leptos_router::hooks::use_query_map();
    Memo::new(move |_| query.with(|q| q.get(name).unwrap_or_default()))
}
