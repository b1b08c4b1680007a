//! The operators' dashboard (the Leptos app under `/admin`) in a real Chromium: the first
//! operator is created from the setup link, creates a tenant, prices a tool with a new plan, an
//! MCP client then sees that price in `tools/list`, an end user pays for it in the browser, and
//! the dashboard shows the customer, the payment and the calls; signing out and in again ends it. Every page is visited and photographed
//! (`<target>/screenshots/dashboard-*.png`), also at phone width.

use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use serde_json::json;
use tollgate_tests::admin::{PASSWORD, SETUP_TOKEN};
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::webdriver::Chromium;
use tollgate_tests::{Era, McpClient, TestApp};

const SLUG: &str = "acme-tools";
const TOOL: &str = "wporg_query_themes";

async fn shot(browser: &Chromium, page: &str) {
    browser.shot(&format!("dashboard-{page}")).await;
}

/// Follows a sidebar link and waits for the page's own marker.
async fn visit(browser: &Chromium, nav: &str, title: &str, marker: &str) {
    browser
        .click(&format!("[data-test=nav-{nav}]"))
        .await
        .unwrap_or_else(|e| panic!("the {nav} link: {e:#}"));
    browser
        .wait_for_text("[data-test=page-title]", title)
        .await
        .unwrap_or_else(|e| panic!("the {nav} page: {e:#}"));
    browser
        .wait_for(marker)
        .await
        .unwrap_or_else(|e| panic!("{marker} on the {nav} page: {e:#}"));
}

async fn call_tool(client: &McpClient) -> CallToolResult {
    let arguments = json!({"search": "portfolio", "per_page": 2});
    client
        .call_tool(
            CallToolRequestParams::new(TOOL)
                .with_arguments(arguments.as_object().cloned().unwrap_or_default()),
        )
        .await
        .expect("tools/call answers")
}

async fn listed_tool(app: &TestApp, name: &str) -> Tool {
    let client = app.mcp_client(SLUG, Era::Sessions).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let _ = client.cancel().await;
    tools
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name} is listed"))
}

#[tokio::test]
async fn an_operator_sets_up_creates_a_tenant_and_prices_a_tool_in_the_dashboard() {
    let app = TestApp::spawn().await;
    let browser = Chromium::launch_at(1280, 900).await;

    // Signed out, every page leads to the sign-in page, which points at the setup link.
    browser
        .open(
            &format!("{}/admin/t/{SLUG}/tools", app.url),
            "[data-test=sign-in-setup-hint]",
        )
        .await;
    let url = browser.current_url().await.expect("url");
    assert!(
        url.ends_with(&format!(
            "/admin/sign-in?next=%2Fadmin%2Ft%2F{SLUG}%2Ftools"
        )),
        "the sign-in page remembers the page asked for: {url}"
    );
    shot(&browser, "sign-in").await;

    // The setup link creates the first operator and signs them in.
    browser
        .open(
            &format!("{}/admin/setup?token={SETUP_TOKEN}", app.url),
            "[data-test=setup-form]",
        )
        .await;
    browser
        .fill("[data-test=setup-form] [name=email]", "ada@example.com")
        .await
        .expect("e-mail");
    browser
        .fill("[data-test=setup-form] [name=name]", "Ada Lovelace")
        .await
        .expect("name");
    browser
        .fill("[data-test=setup-form] [name=password]", "short")
        .await
        .expect("password");
    browser
        .wait_for("[data-test=field-error-password]")
        .await
        .expect("a short password is refused as you type");
    assert_eq!(
        browser
            .attr("[data-test=setup-submit]", "disabled")
            .await
            .expect("the button"),
        Some("true".into()),
        "the button is disabled while the form is invalid"
    );
    browser
        .fill("[data-test=setup-form] [name=password]", PASSWORD)
        .await
        .expect("password");
    shot(&browser, "setup").await;
    browser
        .click("[data-test=setup-submit]")
        .await
        .expect("submit");

    // The tenant list: the demo tenant, and a new one whose slug follows its name.
    browser
        .wait_for("[data-test=tenant-card-demo]")
        .await
        .expect("the first operator owns the demo tenant");
    browser
        .wait_for_text("[data-test=operator-name]", "Ada Lovelace")
        .await
        .expect("the header names the operator");
    browser
        .fill("[data-test=new-tenant-form] [name=name]", "Acme Tools")
        .await
        .expect("tenant name");
    browser
        .wait_for_value("[data-test=new-tenant-form] [name=slug]", SLUG)
        .await
        .expect("the slug is suggested from the name");
    shot(&browser, "tenants").await;
    browser
        .click("[data-test=new-tenant-submit]")
        .await
        .expect("create");

    // Its overview.
    let mcp_url = browser
        .wait_for_text("[data-test=mcp-url]", &format!("/t/{SLUG}/mcp"))
        .await
        .expect("the overview shows the MCP URL");
    assert_eq!(mcp_url, app.mcp_url(SLUG));
    browser
        .wait_for("[data-test=client-config-claude_desktop]")
        .await
        .expect("a client configuration");
    shot(&browser, "overview").await;

    // Tools: every catalog tool, free.
    visit(
        &browser,
        "tools",
        "Tools",
        &format!("[data-test=tool-row-{TOOL}]"),
    )
    .await;
    assert_eq!(
        browser
            .text(&format!(
                "[data-test=tool-row-{TOOL}] [data-test=tool-price]"
            ))
            .await
            .expect("price cell"),
        "Free"
    );
    shot(&browser, "tools").await;

    // Price it with a new one-time plan.
    browser
        .click(&format!(
            "[data-test=tool-row-{TOOL}] [data-test=tool-edit]"
        ))
        .await
        .expect("edit");
    browser
        .wait_for("[data-test=tool-preview]")
        .await
        .expect("the preview");
    browser
        .click("[data-test=pricing-choice] option[value=new]")
        .await
        .expect("New plan…");
    browser
        .fill("[data-test=pricing-form] [name=name]", "Pro")
        .await
        .expect("plan name");
    browser
        .fill("[data-test=pricing-form] [name=calls]", "100")
        .await
        .expect("calls");
    browser
        .fill("[data-test=pricing-form] [name=amount]", "5.001")
        .await
        .expect("amount");
    browser
        .wait_for("[data-test=field-error-amount]")
        .await
        .expect("three decimals are refused");
    browser
        .fill("[data-test=pricing-form] [name=amount]", "5.00")
        .await
        .expect("amount");
    browser
        .fill("[data-test=pricing-form] [name=free_quota]", "2")
        .await
        .expect("free quota");
    browser
        .wait_for_value(
            "[data-test=pricing-form] [name=price_id]",
            "price_sandbox_pro",
        )
        .await
        .expect("the sandbox price id is suggested from the plan name");
    browser
        .wait_for_text("[data-test=amount-preview]", "500 minor units")
        .await
        .expect("the amount in minor units");
    shot(&browser, "tool-editor").await;
    browser
        .click("[data-test=pricing-submit]")
        .await
        .expect("save");
    browser
        .wait_for_text("[data-test=pricing-saved]", "for 100 calls")
        .await
        .expect("saved");
    browser
        .wait_for_text("[data-test=tool-preview]", "io.tollgate/price")
        .await
        .expect("the preview shows the price");
    shot(&browser, "tool-priced").await;

    // An MCP client sees the price.
    let listed = listed_tool(&app, TOOL).await;
    let description = listed.description.as_deref().unwrap_or_default();
    assert!(
        description.contains("Pro") && description.contains("for 100 calls"),
        "{description}"
    );
    let meta = listed.meta.as_ref().expect("_meta");
    assert_eq!(meta.0["io.tollgate/price"]["amount"], 500);
    assert_eq!(meta.0["io.tollgate/price"]["currency"], "usd");
    assert_eq!(meta.0["io.tollgate/price"]["free_quota"], 2);

    // An end user signs in, spends the two free calls, is asked to pay, pays in the browser
    // (the sandbox checkout), and the same call then works.
    let tokens = OAuthClient::register(&app, SLUG).await.sign_in().await;
    let token = tokens["access_token"].as_str().expect("an access token");
    let user = app.mcp_client_with_token(SLUG, Era::Sessions, token).await;
    for i in 0..2 {
        let free = call_tool(&user).await;
        assert_ne!(free.is_error, Some(true), "free call {i}: {free:?}");
    }
    let asked = call_tool(&user).await;
    let structured = asked.structured_content.clone().expect("a payment answer");
    assert_eq!(structured["status"], "payment_required", "{structured}");
    let checkout_url = structured["checkout_url"].as_str().expect("a payment link");
    browser.goto(checkout_url).await.expect("the payment page");
    browser
        .wait_for_text("h1", "Pay Acme Tools")
        .await
        .expect("the payment page names the tenant");
    browser
        .click("button.primary")
        .await
        .expect("Continue to checkout");
    browser
        .wait_for_text("p.demo", "TEST MODE")
        .await
        .expect("the sandbox checkout");
    browser
        .click("button[type=submit]")
        .await
        .expect("Pay (test)");
    browser
        .wait_for_text("body", "The test payment went through")
        .await
        .expect("the payment is confirmed");
    let paid = call_tool(&user).await;
    assert_ne!(paid.is_error, Some(true), "the paid call works: {paid:?}");
    let _ = user.cancel().await;
    browser
        .goto(&format!("{}/admin/t/{SLUG}/tools", app.url))
        .await
        .expect("back to the dashboard");

    // Back on the tools page, the row shows the price.
    visit(
        &browser,
        "tools",
        "Tools",
        &format!("[data-test=tool-row-{TOOL}]"),
    )
    .await;
    browser
        .wait_for_text(
            &format!("[data-test=tool-row-{TOOL}] [data-test=tool-price]"),
            "for 100 calls",
        )
        .await
        .expect("the price in the table");

    // Every other page.
    visit(&browser, "plans", "Plans", "[data-test=plan-row-Pro]").await;
    shot(&browser, "plans").await;
    visit(
        &browser,
        "payments",
        "Payments",
        "[data-test=payments-mode]",
    )
    .await;
    shot(&browser, "payments").await;
    visit(&browser, "sign-in", "Sign-in", "[data-test=clients-table]").await;
    shot(&browser, "sign-in-settings").await;
    // The paying user is a customer with the calls left of the plan (100 bought, one used).
    visit(
        &browser,
        "customers",
        "Customers",
        "[data-test=customer-row-octocat]",
    )
    .await;
    let row = browser
        .text("[data-test=customer-row-octocat]")
        .await
        .expect("the customer row");
    assert!(row.contains("Pro") && row.contains("99"), "{row}");
    shot(&browser, "customers").await;
    browser
        .click("[data-test=customer-row-octocat] a")
        .await
        .expect("the customer");
    browser
        .wait_for_text("[data-test=customer-payments]", "$5.00")
        .await
        .expect("the payment is listed");
    shot(&browser, "customer").await;
    // Analytics: two free calls, one payment request, one paid call; one checkout, paid.
    visit(
        &browser,
        "analytics",
        "Analytics",
        "[data-test=chart-daily]",
    )
    .await;
    browser
        .wait_for_text("[data-test=total-calls]", "4")
        .await
        .expect("every call is counted");
    browser
        .wait_for_text("[data-test=conversion]", "100%")
        .await
        .expect("the checkout converted");
    browser
        .wait_for_text("[data-test=revenue]", "$5.00")
        .await
        .expect("the revenue");
    shot(&browser, "analytics").await;
    visit(&browser, "audit", "Audit log", "[data-test=audit-row]").await;
    browser
        .wait_for_text("[data-test=audit-table]", "offer.create")
        .await
        .expect("the plan is in the audit log");
    shot(&browser, "audit").await;
    visit(&browser, "members", "Members", "[data-test=members-table]").await;
    shot(&browser, "members").await;
    visit(&browser, "settings", "Settings", "[data-test=rename-form]").await;
    browser
        .click("[data-test=delete-tenant]")
        .await
        .expect("delete…");
    browser
        .wait_for("[data-test=delete-dialog]")
        .await
        .expect("the dialog");
    assert_eq!(
        browser
            .attr("[data-test=delete-submit]", "disabled")
            .await
            .expect("delete button"),
        Some("true".into()),
        "deleting needs the slug typed"
    );
    shot(&browser, "settings-delete").await;
    browser
        .execute(
            "document.querySelector('.backdrop').click(); return 1;",
            &[],
        )
        .await
        .expect("close the dialog");
    browser
        .click("[data-test=nav-tokens]")
        .await
        .expect("tokens");
    browser
        .wait_for("[data-test=token-form]")
        .await
        .expect("the tokens page");
    shot(&browser, "tokens").await;

    // Phone width: the sidebar becomes a menu, tables scroll.
    browser.set_window_size(390, 844).await.expect("resize");
    browser
        .open(
            &format!("{}/admin/t/{SLUG}/tools", app.url),
            &format!("[data-test=tool-row-{TOOL}]"),
        )
        .await;
    shot(&browser, "tools-390").await;
    browser
        .open(
            &format!("{}/admin/t/{SLUG}", app.url),
            "[data-test=mcp-url]",
        )
        .await;
    shot(&browser, "overview-390").await;

    // Signing out leads back to the sign-in page.
    browser
        .click("[data-test=sign-out]")
        .await
        .expect("sign out");
    browser
        .wait_for("[data-test=sign-in-form]")
        .await
        .expect("the sign-in page");
    shot(&browser, "signed-out").await;

    // A wrong password is refused with a clear message; the right one signs in again.
    browser
        .fill("[data-test=sign-in-form] [name=email]", "ada@example.com")
        .await
        .expect("e-mail");
    browser
        .fill(
            "[data-test=sign-in-form] [name=password]",
            "not the password",
        )
        .await
        .expect("password");
    browser
        .click("[data-test=sign-in-submit]")
        .await
        .expect("sign in");
    browser
        .wait_for_text("[data-test=form-error]", "Wrong e-mail or password")
        .await
        .expect("the refusal");
    browser
        .fill("[data-test=sign-in-form] [name=password]", PASSWORD)
        .await
        .expect("password");
    browser
        .click("[data-test=sign-in-submit]")
        .await
        .expect("sign in");
    browser
        .wait_for(&format!("[data-test=tenant-card-{SLUG}]"))
        .await
        .expect("signed in again, the tenant list");
    browser.quit().await.expect("Chromium quits");
}

async fn fetch(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.http().get(format!("{}{path}", app.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the server answers")
}

/// The app's files as a browser gets them: the wasm gzipped when the browser takes gzip (the
/// very bytes `scripts/build-frontend` wrote), plain otherwise, and a reload with the `ETag`
/// answered 304 without the body.
#[tokio::test]
async fn the_dashboard_is_sent_gzipped_and_revalidated() {
    let app = TestApp::spawn().await;
    let pkg = tollgate_tests::admin::assets_dir().join("pkg");
    let wasm = "/admin/pkg/frontend_bg.wasm";

    let page = fetch(&app, "/admin/t/demo/tools", &[]).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains("'sha256-") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("/admin/pkg/frontend.js")
    );

    let plain = fetch(&app, wasm, &[]).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()["content-type"], "application/wasm");
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_bytes = plain.bytes().await.expect("body");
    assert_eq!(
        plain_bytes.as_ref(),
        std::fs::read(pkg.join("frontend_bg.wasm")).expect("the built wasm")
    );
    assert!(plain_bytes.starts_with(b"\0asm"));

    let gzipped = fetch(&app, wasm, &[("accept-encoding", "gzip, deflate")]).await;
    assert_eq!(gzipped.status(), 200);
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.headers()["content-type"], "application/wasm");
    assert_eq!(gzipped.headers()["vary"], "accept-encoding");
    let etag = gzipped.headers()["etag"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let gzipped_bytes = gzipped.bytes().await.expect("body");
    assert_eq!(
        gzipped_bytes.as_ref(),
        std::fs::read(pkg.join("frontend_bg.wasm.gz")).expect("the gzipped wasm")
    );
    assert!(gzipped_bytes.starts_with(&[0x1f, 0x8b]));
    assert!(
        gzipped_bytes.len() * 2 < plain_bytes.len(),
        "{} vs {} bytes",
        gzipped_bytes.len(),
        plain_bytes.len()
    );

    let again = fetch(
        &app,
        wasm,
        &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.expect("body").is_empty());
    // The plain file has an ETag of its own: a gzip ETag does not revalidate it.
    let other = fetch(&app, wasm, &[("if-none-match", &etag)]).await;
    assert_eq!(other.status(), 200);

    for bad in [
        "/admin/pkg/..%2Fmaster.key",
        "/admin/pkg/.hidden",
        "/admin/pkg/nope.js",
    ] {
        assert_eq!(fetch(&app, bad, &[]).await.status(), 404, "{bad}");
    }
}
