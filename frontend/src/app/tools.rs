//! The tools table (toggle, rename, reorder, add) and the tool editor (texts, pricing, preview).

use super::api::{self, ApiResult, Method};
use super::money_pages::{PlanDraft, PlanFields, PriceSummary};
use super::tenant::use_tenant;
use super::ui::{
    Busy, Field, FormError, LoadError, Loading, PageTitle, ReadOnlyNote, Submit, check,
    focus_after_redraw, guard_unsaved,
};
use crate::validate;
use crate::wire::{
    CatalogEntry, NewTool, Offer, Tool, ToolDraft, ToolDraftPreview, ToolOrder, ToolPatch,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// Loads the tenant's tools into a signal the page edits in place.
fn tools_signal() -> (RwSignal<Option<ApiResult<Vec<Tool>>>>, impl Fn() + Copy) {
    let ctx = use_tenant();
    let tools = RwSignal::new(None::<ApiResult<Vec<Tool>>>);
    let reload = RwSignal::new(0_u32);
    let resource = LocalResource::new(move || {
        reload.track();
        let path = ctx.path_tracked("/tools");
        async move { api::get::<Vec<Tool>>(&path).await }
    });
    Effect::new(move |_| {
        if let Some(result) = resource.get() {
            tools.set(Some(result));
        }
    });
    (tools, move || reload.update(|n| *n += 1))
}

/// Replaces one tool in the list.
fn replace(tools: RwSignal<Option<ApiResult<Vec<Tool>>>>, tool: Tool) {
    tools.update(|list| {
        if let Some(Ok(list)) = list
            && let Some(slot) = list.iter_mut().find(|t| t.id == tool.id)
        {
            *slot = tool;
        }
    });
}

/// `/admin/t/:slug/tools`.
#[component]
pub fn ToolsPage() -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let (tools, _reload) = tools_signal();
    let busy = Busy::new();
    let list = move || tools.get().and_then(Result::ok).unwrap_or_default();
    let move_tool = Callback::new(move |(id, delta): (String, i32)| {
        let mut ids: Vec<String> = list().into_iter().map(|t| t.id).collect();
        let Some(from) = ids.iter().position(|i| *i == id) else {
            return;
        };
        let to = from as i64 + i64::from(delta);
        if to < 0 || to >= ids.len() as i64 {
            return;
        }
        ids.swap(from, to as usize);
        let path = ctx.path("/tools/order");
        let name = list()
            .into_iter()
            .find(|t| t.id == id)
            .map(|t| t.name)
            .unwrap_or_default();
        busy.run(
            async move {
                api::send::<_, Vec<Tool>>(Method::Put, &path, &ToolOrder { tool_ids: ids }).await
            },
            move |new| {
                tools.set(Some(Ok(new)));
                // The moved row is drawn anew: the focus goes back to the arrow that was
                // used, or to the other one when the row reached the end.
                let (used, other) = if delta < 0 {
                    ("tool-up", "tool-down")
                } else {
                    ("tool-down", "tool-up")
                };
                let row = format!("[data-test=\"tool-row-{name}\"]");
                focus_after_redraw(
                    format!("{row} [data-test={used}]"),
                    Some(format!("{row} [data-test={other}]")),
                );
            },
        );
    });
    let patch = Callback::new(move |(id, body): (String, ToolPatch)| {
        let path = ctx.path(&format!("/tools/{}", api::seg(&id)));
        // The changed row is drawn anew: the focus goes back to the control that was used.
        let used = if body.enabled.is_some() {
            "tool-toggle"
        } else {
            "tool-rename"
        };
        busy.run(
            async move { api::send::<_, Tool>(Method::Patch, &path, &body).await },
            move |tool| {
                let row = format!("[data-test=\"tool-row-{}\"]", tool.name);
                replace(tools, tool);
                focus_after_redraw(format!("{row} [data-test={used}]"), None);
            },
        );
    });
    view! {
        <main class="page">
            <PageTitle title="Tools"
                subtitle="What MCP clients see in tools/list, in this order. Switch tools off to hide them."/>
            <Show when=move || read_only.get()>
                <ReadOnlyNote/>
            </Show>
            <FormError busy/>
            {move || match tools.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(failure)) => view! { <LoadError failure/> }.into_any(),
                Some(Ok(list)) if list.is_empty() => {
                    view! { <p class="empty" data-test="tools-table">"No tools yet: add one below."</p> }
                        .into_any()
                }
                Some(Ok(_)) => {
                    view! {
                        <div class="table-wrap">
                            <table class="tools" data-test="tools-table">
                                <thead>
                                    <tr>
                                        <th class="narrow">"On"</th>
                                        <th>"Name"</th>
                                        <th>"Title"</th>
                                        <th>"Price"</th>
                                        <th class="narrow">"Order"</th>
                                        <th></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    <For
                                        each=list
                                        key=|t| {
                                            format!(
                                                "{}|{}|{}|{:?}|{:?}|{:?}",
                                                t.id,
                                                t.name,
                                                t.enabled,
                                                t.title,
                                                t.price_text,
                                                t.position,
                                            )
                                        }
                                        let:tool
                                    >
                                        <ToolRow tool tools busy patch move_tool/>
                                    </For>
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any()
                }
            }}
            <Show when=move || !read_only.get()>
                <AddTool tools/>
            </Show>
        </main>
    }
}

#[component]
fn ToolRow(
    tool: Tool,
    tools: RwSignal<Option<ApiResult<Vec<Tool>>>>,
    busy: Busy,
    patch: Callback<(String, ToolPatch)>,
    move_tool: Callback<(String, i32)>,
) -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let id = StoredValue::new(tool.id.clone());
    let renaming = RwSignal::new(false);
    let new_name = RwSignal::new(tool.name.clone());
    let current_name = StoredValue::new(tool.name.clone());
    let refused_name = busy.field_error("name");
    let name_err = check(new_name, validate::tool_name);
    let position = move || {
        tools.with(|t| match t {
            Some(Ok(list)) => (
                list.first().is_some_and(|t| t.id == id.get_value()),
                list.last().is_some_and(|t| t.id == id.get_value()),
            ),
            _ => (true, true),
        })
    };
    let enabled = tool.enabled;
    let toggle = move |_| {
        if busy.pending.get_untracked() {
            return;
        }
        patch.run((
            id.get_value(),
            ToolPatch {
                enabled: Some(!enabled),
                ..ToolPatch::default()
            },
        ));
    };
    let save_name = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if name_err.get_untracked().is_some() {
            return;
        }
        let unchanged = new_name.with_untracked(|n| n.trim() == current_name.get_value());
        if unchanged {
            renaming.set(false);
            return;
        }
        // The editor stays open with the typed name until the server takes it: a saved name
        // re-keys the row (a fresh, closed editor); a refused one (taken) stays to be fixed.
        patch.run((
            id.get_value(),
            ToolPatch {
                name: Some(new_name.get_untracked()),
                ..ToolPatch::default()
            },
        ));
    };
    let is_custom_title = tool.title.is_some();
    let title = tool.title.clone().unwrap_or(tool.default_title.clone());
    let name = tool.name.clone();
    let edit_href = move || format!("/admin/t/{}/tools/{}", ctx.slug.get(), id.get_value());
    let paid = tool.price_text.is_some();
    view! {
        <tr data-test=format!("tool-row-{}", tool.name) class:disabled=!tool.enabled>
            <td class="narrow">
                <input
                    type="checkbox"
                    role="switch"
                    class="switch"
                    data-test="tool-toggle"
                    aria-label=format!("Enable {}", tool.name)
                    // Read again when the request ends: a refused change puts it back.
                    prop:checked=move || {
                        busy.pending.track();
                        enabled
                    }
                    aria-busy=move || busy.pending.get().to_string()
                    disabled=move || read_only.get()
                    on:change=toggle
                />
            </td>
            <td>
                {move || {
                    if renaming.get() {
                        view! {
                            <form class="inline-edit" on:submit=save_name novalidate>
                                <input
                                    name="name"
                                    aria-label="New name"
                                    prop:value=move || new_name.get()
                                    on:input=move |ev| new_name.set(event_target_value(&ev))
                                />
                                <button type="submit" class="btn small primary"
                                    disabled=move || name_err.get().is_some()>
                                    "Save"
                                </button>
                                <button type="button" class="btn small"
                                    on:click=move |_| renaming.set(false)>
                                    "Cancel"
                                </button>
                                <span aria-live="polite">
                                    {move || {
                                        name_err
                                            .get()
                                            .or_else(|| refused_name.get())
                                            .map(|m| {
                                                view! {
                                                    <small class="field-error"
                                                        data-test="field-error-name">{m}</small>
                                                }
                                            })
                                    }}
                                </span>
                            </form>
                        }
                            .into_any()
                    } else {
                        let name = name.clone();
                        view! {
                            <code data-test="tool-name">{name}</code>
                            <Show when=move || !read_only.get()>
                                <button type="button" class="btn link small" data-test="tool-rename"
                                    on:click=move |_| renaming.set(true)>
                                    "Rename"
                                </button>
                            </Show>
                        }
                            .into_any()
                    }
                }}
            </td>
            <td class:muted=!is_custom_title>{title}</td>
            <td data-test="tool-price">
                <span class=if paid { "badge paid" } else { "badge free" }>
                    {tool.price_text.clone().unwrap_or_else(|| "Free".into())}
                </span>
            </td>
            <td class="narrow nowrap">
                <button type="button" class="btn icon" data-test="tool-up" aria-label="Move up"
                    disabled=move || read_only.get() || busy.pending.get() || position().0
                    on:click=move |_| move_tool.run((id.get_value(), -1))>
                    "↑"
                </button>
                <button type="button" class="btn icon" data-test="tool-down" aria-label="Move down"
                    disabled=move || read_only.get() || busy.pending.get() || position().1
                    on:click=move |_| move_tool.run((id.get_value(), 1))>
                    "↓"
                </button>
            </td>
            <td class="actions">
                <a class="btn small" href=edit_href data-test="tool-edit">
                    {move || if read_only.get() { "View" } else { "Edit & price" }}
                </a>
            </td>
        </tr>
    }
}

#[component]
fn AddTool(tools: RwSignal<Option<ApiResult<Vec<Tool>>>>) -> impl IntoView {
    let ctx = use_tenant();
    let catalog = LocalResource::new(|| api::get::<Vec<CatalogEntry>>("/catalog"));
    let operation = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let taken = move |n: &str| {
        tools.with(|t| matches!(t, Some(Ok(list)) if list.iter().any(|t| t.name == n)))
    };
    // Picking an operation suggests its default name (numbered if taken).
    let pick = move |ev: leptos::ev::Event| {
        let op = event_target_value(&ev);
        let default = catalog
            .get()
            .and_then(Result::ok)
            .and_then(|c| c.into_iter().find(|e| e.operation == op))
            .map(|e| e.default_name)
            .unwrap_or_default();
        let mut suggestion = default.clone();
        let mut n = 2;
        while !default.is_empty() && taken(&suggestion) {
            suggestion = format!("{default}_{n}");
            n += 1;
        }
        operation.set(op);
        name.set(suggestion);
    };
    let name_err = Signal::derive(move || {
        let n = name.get();
        validate::tool_name(&n)
            .err()
            .or_else(|| taken(&n).then(|| format!("{n} is taken")))
    });
    let busy = Busy::new();
    let invalid =
        Signal::derive(move || operation.with(String::is_empty) || name_err.get().is_some());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let body = NewTool {
            operation: operation.get_untracked(),
            name: name.get_untracked(),
        };
        let path = ctx.path("/tools");
        busy.run(
            async move { api::send::<_, Tool>(Method::Post, &path, &body).await },
            move |tool| {
                tools.update(|t| {
                    if let Some(Ok(list)) = t {
                        list.push(tool);
                    }
                });
                operation.set(String::new());
                name.set(String::new());
            },
        );
    };
    view! {
        <section class="card form-card">
            <h2>"Add a tool"</h2>
            <p class="muted">"Any catalog operation can be added more than once, under different names and prices."</p>
            <form data-test="add-tool-form" on:submit=submit novalidate class="grid-2">
                <div class="field">
                    <label for="add-op">"Operation"</label>
                    <select id="add-op" name="operation" on:change=pick
                        prop:value=move || operation.get()>
                        <option value="">"Choose…"</option>
                        {move || {
                            catalog
                                .get()
                                .and_then(Result::ok)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|e| {
                                    view! {
                                        <option value=e.operation>
                                            {format!("{} ({})", e.title, e.operation)}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                    </select>
                    {move || {
                        let op = operation.get();
                        catalog
                            .get()
                            .and_then(Result::ok)
                            .and_then(|c| c.into_iter().find(|e| e.operation == op))
                            .map(|e| view! { <small class="hint">{e.description}</small> })
                    }}
                </div>
                <Field label="Tool name" name="name" value=name error=name_err busy=busy
                    hint="What clients call it: A-Z, a-z, 0-9, _ . - (up to 64)."/>
                <div class="span-2">
                    <FormError busy fields=&["name"]/>
                    <Submit label="Add tool" busy invalid test="add-tool-submit" pending_label="Adding…"/>
                </div>
            </form>
        </section>
    }
}

/// `/admin/t/:slug/tools/:id`: texts, pricing and the live preview of one tool.
#[component]
pub fn ToolEditorPage() -> impl IntoView {
    let ctx = use_tenant();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let (tools, _) = tools_signal();
    let tool = Memo::new(move |_| {
        tools.with(|t| match t {
            None => None,
            Some(Err(f)) => Some(Err(f.clone())),
            Some(Ok(list)) => Some(list.iter().find(|t| t.id == id.get()).cloned().ok_or_else(
                || api::Failure {
                    status: 404,
                    error: crate::wire::ApiError {
                        code: "not_found".into(),
                        message: "no such tool".into(),
                        field: None,
                    },
                    retry_after: None,
                },
            )),
        })
    });
    // The editor is built once per tool: a save updates `tools`, which must not rebuild the
    // forms (they would lose their "Saved" notes and what is being typed).
    let shown = Memo::new(move |_| {
        tool.with(|t| {
            t.as_ref()
                .map(|r| r.as_ref().map(|t| t.id.clone()).map_err(Clone::clone))
        })
    });
    let back = move || format!("/admin/t/{}/tools", ctx.slug.get());
    view! {
        <main class="page" data-test="tool-editor">
            <p class="crumbs">
                <a href=back>"← Tools"</a>
            </p>
            {move || match shown.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(failure)) => view! { <LoadError failure/> }.into_any(),
                Some(Ok(_)) => match tool.get_untracked() {
                    Some(Ok(t)) => view! { <ToolEditor tool=t tools/> }.into_any(),
                    _ => view! { <Loading/> }.into_any(),
                },
            }}
        </main>
    }
}

/// The saved pricing of `tool` as the pricing menu's value (`free` or an offer id).
fn saved_choice(tool: &Tool) -> String {
    tool.offer_id.clone().unwrap_or_else(|| "free".into())
}

#[component]
fn ToolEditor(tool: Tool, tools: RwSignal<Option<ApiResult<Vec<Tool>>>>) -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let id = StoredValue::new(tool.id.clone());
    // What the server has now (updated by every save).
    let saved = Memo::new(move |_| {
        tools.with(|t| match t {
            Some(Ok(list)) => list.iter().find(|t| t.id == id.get_value()).cloned(),
            _ => None,
        })
    });
    // What the forms hold: the preview and the leave-guard read them.
    let title = RwSignal::new(tool.title.clone().unwrap_or(tool.default_title.clone()));
    let description = RwSignal::new(
        tool.description
            .clone()
            .unwrap_or(tool.default_description.clone()),
    );
    let choice = RwSignal::new(saved_choice(&tool));
    let sandbox = Signal::derive(move || {
        ctx.tenant
            .with(|t| t.as_ref().is_none_or(|t| t.payments.mode != "stripe"))
    });
    let draft = PlanDraft::new(sandbox.get_untracked());
    let dirty = Signal::derive(move || {
        saved.with(|saved| {
            saved.as_ref().is_some_and(|s| {
                let title_now =
                    title.with(|t| t.trim() != s.title.as_deref().unwrap_or(&s.default_title));
                let description_now = description.with(|d| {
                    d.trim() != s.description.as_deref().unwrap_or(&s.default_description)
                });
                title_now || description_now || choice.with(|c| *c != saved_choice(s))
            })
        })
    });
    guard_unsaved(dirty);
    // The preview: the tool as tools/list will describe it once what the forms hold is saved
    // (the server describes it, with the same code that answers tools/list).
    let incomplete_plan =
        Signal::derive(move || choice.get() == "new" && draft.input().first_error().is_some());
    let preview = LocalResource::new(move || {
        saved.track();
        let path = ctx.path_tracked(&format!("/tools/{}/preview", api::seg(&id.get_value())));
        let chosen = choice.get();
        let body = ToolDraft {
            title: Some(title.get()),
            description: Some(description.get()),
            offer_id: match chosen.as_str() {
                // An incomplete new plan: the saved price until its fields are valid.
                "new" => None,
                "free" => Some(None),
                offer => Some(Some(offer.to_owned())),
            },
            new_offer: (chosen == "new")
                .then(|| draft.input().to_offer().ok())
                .flatten(),
        };
        async move { api::send::<_, ToolDraftPreview>(Method::Post, &path, &body).await }
    });
    let on_saved = Callback::new(move |tool: Tool| replace(tools, tool));
    view! {
        <PageTitle title=tool.name.clone() subtitle=format!("Catalog operation: {}", tool.operation)/>
        <Show when=move || read_only.get()>
            <ReadOnlyNote/>
        </Show>
        <div class="editor-grid">
            <div class="editor-main">
                <TextsForm tool=tool.clone() title description on_saved/>
                <PricingForm tool choice draft on_saved/>
            </div>
            <section class="card preview">
                <h2>
                    "Preview "
                    <Show when=move || dirty.get()>
                        <span class="badge draft" data-test="preview-not-live">"Not yet live"</span>
                    </Show>
                </h2>
                <p class="muted small">
                    {move || {
                        if dirty.get() {
                            "This tool as clients will receive it from tools/list once you save your changes. Until then they get the saved version."
                        } else {
                            "This tool exactly as clients receive it from tools/list."
                        }
                    }}
                </p>
                <Show when=move || incomplete_plan.get()>
                    <p class="muted small" data-test="preview-plan-incomplete">
                        "The new plan's price shows here once its fields are valid."
                    </p>
                </Show>
                {move || match preview.get() {
                    None => view! { <Loading/> }.into_any(),
                    Some(Err(failure)) => view! { <LoadError failure/> }.into_any(),
                    Some(Ok(ToolDraftPreview { tool: Some(shown) })) => {
                        let json = serde_json::to_string_pretty(&shown).unwrap_or_default();
                        view! {
                            <pre class="json" data-test="tool-preview" class:draft=move || dirty.get()>
                                <code>{json}</code>
                            </pre>
                        }
                            .into_any()
                    }
                    Some(Ok(ToolDraftPreview { tool: None })) => {
                        view! {
                            <p class="alert info" data-test="tool-preview">
                                "Clients do not see this tool: it is switched off."
                            </p>
                        }
                            .into_any()
                    }
                }}
            </section>
        </div>
    }
}

#[component]
fn TextsForm(
    tool: Tool,
    title: RwSignal<String>,
    description: RwSignal<String>,
    on_saved: Callback<Tool>,
) -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let id = tool.id.clone();
    let default_title = tool.default_title.clone();
    let default_description = tool.default_description;
    let busy = Busy::new();
    let saved = RwSignal::new(false);
    let title_err = check(title, |v| validate::text("title", v, 200));
    let description_err = check(description, |v| validate::text("description", v, 4000));
    let invalid = Signal::derive(move || {
        read_only.get() || title_err.get().is_some() || description_err.get().is_some()
    });
    let defaults = StoredValue::new((default_title, default_description));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let (dt, dd) = defaults.get_value();
        let t = title.get_untracked().trim().to_string();
        let d = description.get_untracked().trim().to_string();
        // Text equal to the catalog's is stored as "no override", so catalog updates reach it.
        let body = ToolPatch {
            title: Some((t != dt).then_some(t)),
            description: Some((d != dd).then_some(d)),
            ..ToolPatch::default()
        };
        let path = ctx.path(&format!("/tools/{}", api::seg(&id)));
        saved.set(false);
        busy.run(
            async move { api::send::<_, Tool>(Method::Patch, &path, &body).await },
            move |tool| {
                saved.set(true);
                on_saved.run(tool);
            },
        );
    };
    let reset = move |_| {
        let (dt, dd) = defaults.get_value();
        title.set(dt);
        description.set(dd);
    };
    view! {
        <section class="card form-card">
            <h2>"Title and description"</h2>
            <form data-test="tool-text-form" on:submit=submit novalidate>
                <Field label="Title" name="title" value=title error=title_err busy=busy
                    disabled=read_only/>
                <Field label="Description" name="description" value=description
                    error=description_err busy=busy multiline=true disabled=read_only
                    hint="Clients show this to the model: say what the tool does and when to use it."/>
                <FormError busy fields=&["title", "description"]/>
                <div class="form-actions">
                    <Submit label="Save texts" busy invalid test="tool-text-submit"/>
                    <button type="button" class="btn" on:click=reset
                        disabled=move || read_only.get()>
                        "Reset to catalog text"
                    </button>
                    <Show when=move || saved.get()>
                        <span class="ok small" role="status">"Saved."</span>
                    </Show>
                </div>
            </form>
        </section>
    }
}

#[component]
fn PricingForm(
    tool: Tool,
    choice: RwSignal<String>,
    draft: PlanDraft,
    on_saved: Callback<Tool>,
) -> impl IntoView {
    let ctx = use_tenant();
    let read_only = ctx.read_only();
    let offers = LocalResource::new(move || {
        let path = ctx.path_tracked("/offers");
        async move { api::get::<Vec<Offer>>(&path).await }
    });
    let busy = Busy::new();
    let saved = RwSignal::new(None::<String>);
    let current_price = RwSignal::new(tool.price_text.clone());
    let id = StoredValue::new(tool.id);
    let invalid = Signal::derive(move || {
        read_only.get() || (choice.get() == "new" && draft.input().first_error().is_some())
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if invalid.get_untracked() {
            return;
        }
        let chosen = choice.get_untracked();
        let new_offer = if chosen == "new" {
            match draft.input_untracked().to_offer() {
                Ok(offer) => Some(offer),
                Err(_) => return,
            }
        } else {
            None
        };
        let offers_path = ctx.path("/offers");
        let tool_path = ctx.path(&format!("/tools/{}", api::seg(&id.get_value())));
        saved.set(None);
        busy.run(
            async move {
                let offer_id = match new_offer {
                    Some(offer) => {
                        let created: Offer = api::send(Method::Post, &offers_path, &offer).await?;
                        Some(created.id)
                    }
                    None if chosen == "free" => None,
                    None => Some(chosen),
                };
                let patch = ToolPatch {
                    offer_id: Some(offer_id),
                    ..ToolPatch::default()
                };
                api::send::<_, Tool>(Method::Patch, &tool_path, &patch).await
            },
            move |tool| {
                current_price.set(tool.price_text.clone());
                saved.set(Some(
                    tool.price_text
                        .clone()
                        .map(|p| format!("Saved: {p}."))
                        .unwrap_or_else(|| "Saved: the tool is free.".into()),
                ));
                if let Some(offer_id) = &tool.offer_id {
                    choice.set(offer_id.clone());
                } else {
                    choice.set("free".into());
                }
                offers.refetch();
                on_saved.run(tool);
            },
        );
    };
    view! {
        <section class="card form-card">
            <h2>"Pricing"</h2>
            <p class="muted">
                "Now: "
                <strong data-test="tool-price">
                    {move || current_price.get().unwrap_or_else(|| "Free".into())}
                </strong>
            </p>
            <form data-test="pricing-form" on:submit=submit novalidate>
                <div class="field">
                    <label for="pricing-choice">"Price"</label>
                    <select
                        id="pricing-choice"
                        name="pricing"
                        data-test="pricing-choice"
                        disabled=move || read_only.get()
                        on:change=move |ev| choice.set(event_target_value(&ev))
                        prop:value=move || choice.get()
                    >
                        <option value="free" selected=move || choice.get() == "free">"Free"</option>
                        {move || {
                            offers
                                .get()
                                .and_then(Result::ok)
                                .unwrap_or_default()
                                .into_iter()
                                .map(|o| {
                                    let value = o.id.clone();
                                    let selected = move || choice.with(|c| *c == value);
                                    view! {
                                        <option value=o.id selected=selected>
                                            {format!("{} — {}", o.fields.name, o.price_text)}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                        <option value="new" selected=move || choice.get() == "new">"New plan…"</option>
                    </select>
                    <small class="hint">
                        "A plan can price several tools: paying once unlocks all of them."
                    </small>
                </div>
                <Show when=move || choice.get() == "new">
                    <PlanFields draft busy disabled=read_only/>
                </Show>
                <FormError busy fields=&crate::plan::FIELDS/>
                <div class="form-actions">
                    <Submit label="Save pricing" busy invalid test="pricing-submit"/>
                    <Show when=move || choice.get() == "new">
                        <PriceSummary draft/>
                    </Show>
                    {move || {
                        saved
                            .get()
                            .map(|m| view! { <span class="ok small" role="status" data-test="pricing-saved">{m}</span> })
                    }}
                </div>
            </form>
        </section>
    }
}
