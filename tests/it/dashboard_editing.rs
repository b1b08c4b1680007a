//! Editing in the dashboard without losing work or the thread (issue 14, the rest), in a real
//! Chromium against the real server: leaving a tool with unsaved edits asks first (a link in
//! the app and a reload), the tool's preview shows the unsaved edits marked "Not yet live" and
//! is what `tools/list` serves once they are saved, no page scrolls sideways at phone width,
//! errors and successes reach screen readers, the focus stays on the control used, the
//! sign-in settings describe the sign-in really active, and the delete dialog gives the
//! server's rest period of a slug. Screenshots: `<target>/screenshots/editing-*.png`.

use serde_json::{Value, json};
use tollgate_tests::admin::{Operator, browser_signed_in, use_own_github_app_in_browser};
use tollgate_tests::webdriver::{Chromium, WIDTHS};
use tollgate_tests::{TestApp, TestOptions};

async fn shot(browser: &Chromium, page: &str, width: u32) {
    browser.shot(&format!("editing-{page}-{width}")).await;
}

/// A Chromium at `width` signed in as the owner, on `page` (a path under `/admin`).
async fn signed_in_at(app: &TestApp, width: u32, height: u32, page: &str) -> Chromium {
    browser_signed_in(app, (width, height), page, "owner@example.com").await
}

/// The id of the demo tenant's tool `name`.
async fn tool_id(owner: &Operator, name: &str) -> String {
    let tools = owner.get("/api/v1/tenants/demo/tools").await;
    tools
        .body
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str())
        .unwrap_or_else(|| panic!("no tool {name} in {:?}", tools.body))
        .to_owned()
}

/// `tools/list`'s description of `name` now, as the admin API's live preview gives it.
async fn listed(owner: &Operator, name: &str) -> Value {
    let preview = owner.get("/api/v1/tenants/demo/tools/preview").await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    preview.body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

/// Clicks the editor's "← Tools" link, scrolled up first: once the page has scrolled, the
/// sticky top bar covers it.
async fn back_to_tools(browser: &Chromium) {
    browser
        .execute("window.scrollTo(0, 0); return 1;", &[])
        .await
        .expect("scroll");
    browser.click(".crumbs a").await.expect("back to tools");
}

const TOOL: &str = "wporg_query_plugins";

/// Sends the page the `beforeunload` a browser sends before a reload or close; whether the page
/// asked to stay (which makes the browser ask the user).
const BEFORE_UNLOAD: &str = "const e = new Event('beforeunload', {cancelable: true}); \
     window.dispatchEvent(e); return e.defaultPrevented;";

#[tokio::test]
async fn unsaved_tool_edits_show_in_the_preview_not_yet_live_and_leaving_asks_first() {
    for (width, height) in WIDTHS {
        let app = TestApp::spawn().await;
        let owner = app.first_operator().await;
        let plan = owner
            .post(
                "/api/v1/tenants/demo/offers",
                json!({"name": "Pro", "kind": "one_time", "price_id": "price_pro", "amount": 250, "currency": "usd", "calls": 10}),
            )
            .await;
        assert_eq!(plan.status, 201, "{:?}", plan.body);
        let plan_id = plan.body["id"].as_str().expect("plan id").to_owned();
        let id = tool_id(&owner, TOOL).await;
        let live_before = listed(&owner, TOOL).await;
        let browser = signed_in_at(&app, width, height, &format!("/t/demo/tools/{id}")).await;
        browser
            .wait_for_text("[data-test=tool-preview]", TOOL)
            .await
            .expect("the preview");
        assert!(
            browser
                .find_all("[data-test=preview-not-live]")
                .await
                .expect("marks")
                .is_empty(),
            "nothing is edited yet"
        );

        // Edits show in the preview at once, marked as not yet live; clients still get the
        // saved tool.
        let title = "Plugin finder (draft)";
        browser
            .fill("[data-test=tool-text-form] [name=title]", title)
            .await
            .expect("title");
        browser
            .click(&format!(
                "[data-test=pricing-choice] option[value=\"{plan_id}\"]"
            ))
            .await
            .expect("the plan");
        browser
            .wait_for_text("[data-test=tool-preview]", "Paid: Pro")
            .await
            .expect("the plan shows in the preview");
        browser
            .wait_for_text("[data-test=tool-preview]", title)
            .await
            .expect("the title shows in the preview");
        browser
            .wait_for_text("[data-test=preview-not-live]", "Not yet live")
            .await
            .expect("marked as not yet live");
        let previewed: Value = serde_json::from_str(
            &browser
                .text("[data-test=tool-preview]")
                .await
                .expect("the preview"),
        )
        .expect("the preview is the tool's JSON");
        assert_eq!(
            listed(&owner, TOOL).await,
            live_before,
            "nothing is live yet"
        );
        shot(&browser, "preview-not-live", width).await;

        // A link inside the dashboard asks; staying keeps the page and what was typed.
        back_to_tools(&browser).await;
        let question = browser.dismiss_alert().await.expect("asked first");
        assert!(question.contains("unsaved changes"), "{question}");
        assert!(
            browser
                .current_url()
                .await
                .expect("url")
                .ends_with(&format!("/tools/{id}"))
        );
        browser
            .wait_for_value("[data-test=tool-text-form] [name=title]", title)
            .await
            .expect("the typed title stays");

        // So does the tenant switcher; staying shows this tenant in it again.
        browser
            .execute("window.scrollTo(0, 0); return 1;", &[])
            .await
            .expect("scroll");
        browser
            .click("[data-test=tenant-switcher] option[value=\"\"]")
            .await
            .expect("all tenants");
        let question = browser.dismiss_alert().await.expect("asked first");
        assert!(question.contains("unsaved changes"), "{question}");
        browser
            .wait_for_value("[data-test=tenant-switcher]", "demo")
            .await
            .expect("the switcher shows this tenant again");
        assert!(
            browser
                .current_url()
                .await
                .expect("url")
                .ends_with(&format!("/tools/{id}"))
        );

        // A reload or close asks too: the page stops the `beforeunload` the browser sends
        // first, which makes the browser ask "Leave site?". (Headless Chromium under
        // chromedriver reloads without showing that prompt, so the test sends the event the
        // browser would send and checks that the page asks for it.)
        assert_eq!(
            browser
                .execute(BEFORE_UNLOAD, &[])
                .await
                .expect("beforeunload"),
            json!(true),
            "unsaved edits: the page asks before it is unloaded"
        );

        // Saved, the preview is exactly what tools/list serves, and no longer marked.
        browser
            .click("[data-test=tool-text-submit]")
            .await
            .expect("save texts");
        browser
            .click("[data-test=pricing-submit]")
            .await
            .expect("save pricing");
        browser
            .wait_for("[data-test=pricing-saved]")
            .await
            .expect("saved");
        browser
            .wait_until_script(
                "the mark to go",
                "return document.querySelector('[data-test=preview-not-live]') === null;",
            )
            .await
            .expect("no longer marked");
        assert_eq!(
            listed(&owner, TOOL).await,
            previewed,
            "the preview of the unsaved edits is what tools/list serves once they are saved"
        );

        // Nothing unsaved: leaving asks nothing.
        assert_eq!(
            browser
                .execute(BEFORE_UNLOAD, &[])
                .await
                .expect("beforeunload"),
            json!(false),
            "nothing unsaved: the page lets itself be unloaded"
        );
        back_to_tools(&browser).await;
        browser
            .wait_for("[data-test=tools-table]")
            .await
            .expect("the tools page, without a question");
        let _ = browser.quit().await;
    }
}

#[tokio::test]
async fn at_phone_width_no_page_scrolls_sideways_and_every_control_is_in_view() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    // Something in every table: a plan pricing a tool, a token, audit entries, a member.
    let plan = owner
        .post(
            "/api/v1/tenants/demo/offers",
            json!({"name": "Pro plan for heavy users", "kind": "one_time", "price_id": "price_pro", "amount": 250, "currency": "usd", "calls": 10}),
        )
        .await;
    assert_eq!(plan.status, 201, "{:?}", plan.body);
    let id = tool_id(&owner, TOOL).await;
    let priced = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{id}"),
            json!({"offer_id": plan.body["id"]}),
        )
        .await;
    assert_eq!(priced.status, 200, "{:?}", priced.body);
    let token = owner
        .post("/api/v1/tokens", json!({"name": "deploy-from-ci"}))
        .await;
    assert!(token.status.is_success(), "{:?}", token.body);
    let _admin = app
        .invited_operator(&owner, "demo", "admin@example.com", "admin")
        .await;

    let browser = signed_in_at(&app, 390, 844, "").await;
    browser
        .wait_for("[data-test=tenant-card-demo]")
        .await
        .expect("signed in");
    let pages = [
        ("", "[data-test=tenant-card-demo]"),
        ("/tokens", "[data-test=tokens-table]"),
        ("/t/demo", "[data-test=mcp-url]"),
        ("/t/demo/tools", "[data-test=tools-table]"),
        (
            &format!("/t/demo/tools/{id}") as &str,
            "[data-test=tool-preview]",
        ),
        ("/t/demo/plans", "[data-test=plans-table]"),
        ("/t/demo/payments", "[data-test=payments-mode]"),
        ("/t/demo/sign-in", "[data-test=sign-in-active]"),
        ("/t/demo/customers", "[data-test=customers-table]"),
        ("/t/demo/analytics", "[data-test=conversion]"),
        ("/t/demo/audit", "[data-test=audit-table]"),
        ("/t/demo/members", "[data-test=members-table]"),
        ("/t/demo/settings", "[data-test=rename-form]"),
    ];
    let mut problems = Vec::new();
    for (page, marker) in pages {
        browser
            .goto(&format!("{}/admin{page}", app.url))
            .await
            .expect("the page");
        browser
            .wait_for(marker)
            .await
            .unwrap_or_else(|e| panic!("{marker} on {page}: {e:#}"));
        browser
            .wait_until_script(
                "the page to finish loading",
                "return document.querySelector('[data-test=loading]') === null;",
            )
            .await
            .unwrap_or_else(|e| panic!("{page}: {e:#}"));
        let layout = browser
            .execute(
                "const doc = document.scrollingElement; \
                 const cut = [...document.querySelectorAll('button, a.btn, select, input')] \
                   .filter(e => { const b = e.getBoundingClientRect(); \
                     if (b.width === 0 && b.height === 0) return false; \
                     return b.left < -0.5 || b.right > doc.clientWidth + 0.5; }) \
                   .map(e => e.outerHTML.slice(0, 100)); \
                 const wide = [...document.querySelectorAll('body *')] \
                   .filter(e => e.children.length === 0 && \
                     e.getBoundingClientRect().right > doc.clientWidth + 0.5) \
                   .slice(0, 3).map(e => e.outerHTML.slice(0, 100)); \
                 return {scroll: doc.scrollWidth, client: doc.clientWidth, cut, wide};",
                &[],
            )
            .await
            .expect("layout");
        let name = if page.is_empty() {
            "home".to_owned()
        } else if page.starts_with("/t/demo/tools/") {
            "t-demo-tool-editor".to_owned()
        } else {
            page.trim_start_matches('/').replace('/', "-")
        };
        shot(&browser, &format!("phone-{name}"), 390).await;
        if layout["scroll"].as_i64() > layout["client"].as_i64() {
            problems.push(format!("{page}: scrolls sideways ({layout})"));
        }
        if layout["cut"].as_array().is_some_and(|c| !c.is_empty()) {
            problems.push(format!("{page}: controls cut off: {}", layout["cut"]));
        }
    }
    let _ = browser.quit().await;
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Whether the element `css` (its first match) sits in a region screen readers announce.
fn announced(css: &str) -> String {
    format!(
        "const e = document.querySelector('{css}'); \
         return !!e && !!e.closest('[aria-live], [role=alert], [role=status]') \
           && e.textContent.trim().length > 0;"
    )
}

#[tokio::test]
async fn errors_and_successes_are_announced_and_the_focus_stays_on_the_control_used() {
    for (width, height) in WIDTHS {
        let app = TestApp::spawn().await;
        let owner = app.first_operator().await;
        let browser = signed_in_at(&app, width, height, "/t/demo/tools").await;
        let row = format!("[data-test=\"tool-row-{TOOL}\"]");

        // A switch used from the keyboard keeps the focus after the change is saved.
        browser
            .click(&format!("{row} [data-test=tool-toggle]"))
            .await
            .expect("switch off");
        browser
            .wait_for(&format!("{row}.disabled"))
            .await
            .expect("switched off");
        browser
            .wait_until_script(
                "the focus on the switch",
                &format!(
                    "return document.activeElement === \
                     document.querySelector('{row} [data-test=tool-toggle]');"
                ),
            )
            .await
            .expect("the focus stays on the switch");
        let tools = owner.get("/api/v1/tenants/demo/tools").await;
        assert!(
            tools
                .body
                .as_array()
                .expect("tools")
                .iter()
                .any(|t| t["name"] == TOOL && t["enabled"] == false),
            "{:?}",
            tools.body
        );

        // So does an arrow that moved a row (or the other arrow, when the row reached the end).
        browser
            .click(&format!("{row} [data-test=tool-down]"))
            .await
            .expect("move down");
        browser
            .wait_until_script(
                "the focus on the row's arrow",
                &format!(
                    "const a = document.activeElement; \
                     return !!a && !!a.closest('{row}') && \
                       ['tool-down', 'tool-up'].includes(a.dataset.test);"
                ),
            )
            .await
            .expect("the focus stays on the arrow");

        // A refusal (the name was taken meanwhile) is announced and tied to its field.
        let add = "[data-test=add-tool-form]";
        browser
            .click(&format!(
                "{add} [name=operation] option[value=\"wporg.query_plugins\"]"
            ))
            .await
            .expect("an operation");
        browser
            .fill(&format!("{add} [name=name]"), "plugins_again")
            .await
            .expect("a name");
        let taken = owner
            .post(
                "/api/v1/tenants/demo/tools",
                json!({"operation": "wporg.query_plugins", "name": "plugins_again"}),
            )
            .await;
        assert_eq!(taken.status, 201, "{:?}", taken.body);
        browser
            .click("[data-test=add-tool-submit]")
            .await
            .expect("add");
        let error = format!("{add} [data-test=field-error-name]");
        browser.wait_for(&error).await.expect("the refusal");
        browser
            .wait_until_script("the refusal to be announced", &announced(&error))
            .await
            .expect("announced");
        let described = browser
            .attr(&format!("{add} [name=name]"), "aria-describedby")
            .await
            .expect("the input")
            .unwrap_or_default();
        let error_id = browser
            .attr(&error, "id")
            .await
            .expect("the error")
            .unwrap_or_default();
        assert!(
            !error_id.is_empty() && described.split(' ').any(|d| d == error_id),
            "{described:?} / {error_id:?}"
        );
        // The field's hint is tied to it as well.
        let hint = browser
            .execute(
                &format!(
                    "const i = document.querySelector('{add} [name=name]'); \
                     return (i.getAttribute('aria-describedby') || '').split(' ') \
                       .map(id => document.getElementById(id)) \
                       .filter(e => e && e.classList.contains('hint')) \
                       .map(e => e.textContent);"
                ),
                &[],
            )
            .await
            .expect("hint");
        assert!(hint.to_string().contains("What clients call it"), "{hint}");
        shot(&browser, "announced-refusal", width).await;

        // A success is announced too.
        let id = tool_id(&owner, TOOL).await;
        browser
            .goto(&format!("{}/admin/t/demo/tools/{id}", app.url))
            .await
            .expect("the editor");
        browser
            .fill("[data-test=tool-text-form] [name=title]", "Plugin finder")
            .await
            .expect("title");
        browser
            .click("[data-test=tool-text-submit]")
            .await
            .expect("save");
        browser
            .wait_until_script(
                "the success to be announced",
                &announced("[data-test=tool-text-form] .ok"),
            )
            .await
            .expect("announced");
        let _ = browser.quit().await;
    }
}

#[tokio::test]
async fn the_sign_in_settings_name_the_sign_in_that_is_active() {
    // No platform GitHub app: the demo sign-in, said as such, and no word of a platform app.
    let app = TestApp::spawn_with(TestOptions {
        github: false,
        ..TestOptions::default()
    })
    .await;
    let _owner = app.first_operator().await;
    for (width, height) in WIDTHS {
        let browser = signed_in_at(&app, width, height, "/t/demo/sign-in").await;
        let said = browser
            .wait_for_text("[data-test=sign-in-active]", "No GitHub app is configured")
            .await
            .expect("none configured");
        assert!(said.contains("demo sign-in"), "{said}");
        assert!(!said.contains("platform"), "{said}");
        shot(&browser, "sign-in-demo", width).await;

        // The tenant's own app replaces it.
        use_own_github_app_in_browser(&browser).await;
        // Removed again: back to the demo sign-in, not to a platform app there is none of.
        browser
            .click("[data-test=github-app-remove]")
            .await
            .expect("remove");
        browser.click("[data-test=confirm-yes]").await.expect("yes");
        browser
            .wait_for_text("[data-test=sign-in-active]", "No GitHub app is configured")
            .await
            .expect("the demo sign-in again");
        let _ = browser.quit().await;
    }

    // With the platform's app configured, that one is named.
    let app = TestApp::spawn().await;
    let _owner = app.first_operator().await;
    let browser = signed_in_at(&app, 1280, 900, "/t/demo/sign-in").await;
    browser
        .wait_for_text("[data-test=sign-in-active]", "the platform's GitHub app")
        .await
        .expect("the platform's app");
    let _ = browser.quit().await;
}

#[tokio::test]
async fn the_delete_dialog_says_how_long_the_address_rests() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let days = owner.get("/api/v1/tenants/demo").await.body["slug_rest_days"]
        .as_u64()
        .expect("the server's rest period");
    assert_eq!(days, 30, "tenant::SLUG_RETIREMENT");
    for (width, height) in WIDTHS {
        let browser = signed_in_at(&app, width, height, "/t/demo/settings").await;
        browser
            .click("[data-test=delete-tenant]")
            .await
            .expect("delete…");
        let said = browser
            .wait_for_text("[data-test=slug-rest]", &format!("{days} days"))
            .await
            .expect("the rest period");
        assert!(said.contains("demo"), "{said}");
        shot(&browser, "delete-dialog", width).await;
        let _ = browser.quit().await;
    }
}
