//! Paid tools: the gate, the payment answer in each client era, the sandbox checkout, the
//! payment pages, and the billing tools.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};
use tollgate_tests::browser::{Browser, OAuthClient, hidden_input};
use tollgate_tests::{Era, McpClient, TestApp, TestOptions};

async fn priced_app() -> TestApp {
    TestApp::spawn_with(TestOptions {
        demo_pricing: true,
        ..TestOptions::default()
    })
    .await
}

fn downloads_args() -> serde_json::Map<String, Value> {
    json!({"slug": "akismet", "limit": 7})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// A raw 2026-07-28 `tools/call`, with the client capabilities given.
async fn modern_call(app: &TestApp, token: &str, tool: &str, capabilities: Value) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": tool, "arguments": {"slug": "akismet", "limit": 7},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": capabilities}}});
    let auth = format!("Bearer {token}");
    let response = app
        .post_mcp(
            "demo",
            &body.to_string(),
            &[
                ("authorization", &auth),
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", tool),
            ],
        )
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn token(app: &TestApp) -> String {
    let tokens = OAuthClient::register(app, "demo").await.sign_in().await;
    tokens["access_token"].as_str().expect("token").to_owned()
}

/// A signed-in end user's MCP client of the demo tenant (2026-07-28, stateless).
async fn signed_in(app: &TestApp) -> McpClient {
    let token = token(app).await;
    app.mcp_client_with_token("demo", Era::Stateless, &token)
        .await
}

/// One call of the plugin downloads tool with the arguments these tests use.
async fn call_downloads(client: &McpClient) -> Result<CallToolResult, rmcp::ServiceError> {
    client
        .call_tool(
            CallToolRequestParams::new("wporg_plugin_downloads").with_arguments(downloads_args()),
        )
        .await
}

#[tokio::test]
async fn a_paid_tool_lists_its_price_and_needs_sign_in() {
    let app = priced_app().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let paid = tools
        .iter()
        .find(|t| t.name == "wporg_plugin_downloads")
        .expect("listed");
    assert!(
        paid.description
            .as_deref()
            .is_some_and(|d| d.contains("$5.00 for 100 calls")),
        "{paid:?}"
    );
    let meta = paid.meta.as_ref().expect("_meta");
    assert_eq!(meta.0["io.tollgate/price"]["amount"], 500);
    assert!(tools.iter().any(|t| t.name == "billing_status"));
    assert!(tools.iter().any(|t| t.name == "list_plans"));
    // Free tools stay free and anonymous; the paid one asks for sign-in.
    let free = client
        .call_tool(CallToolRequestParams::new("wporg_theme_tags"))
        .await
        .expect("free call");
    assert_ne!(free.is_error, Some(true));
    let anonymous = client
        .call_tool(
            CallToolRequestParams::new("wporg_plugin_downloads").with_arguments(downloads_args()),
        )
        .await;
    assert!(anonymous.is_err(), "an anonymous paid call is refused");
    let (status, _) = {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "wporg_plugin_downloads", "arguments": {"slug": "akismet"}}});
        let response = app.post_mcp("demo", &body.to_string(), &[]).await;
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 401);
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn free_quota_then_sandbox_payment_then_the_retry_works() {
    let app = priced_app().await;
    let token = token(&app).await;
    let client = app
        .mcp_client_with_token("demo", Era::Sessions, &token)
        .await;
    let call = || {
        client.call_tool(
            CallToolRequestParams::new("wporg_plugin_downloads").with_arguments(downloads_args()),
        )
    };
    for i in 0..3 {
        let result = call().await.expect("tools/call");
        assert_ne!(result.is_error, Some(true), "free call {i}: {result:?}");
    }
    let result = call().await.expect("tools/call");
    assert_eq!(result.is_error, Some(true));
    let structured = result.structured_content.clone().expect("structured");
    assert_eq!(structured["status"], "payment_required", "{structured}");
    assert_eq!(structured["price"], "$5.00 for 100 calls");
    let pay_url = structured["checkout_url"].as_str().expect("url").to_owned();
    assert!(
        pay_url.starts_with(&format!("{}/t/demo/pay/", app.url)),
        "{pay_url}"
    );
    let text = result.content[0].as_text().expect("text").text.clone();
    assert!(text.contains(&pay_url), "{text}");

    // The same unpaid call again reuses the same purchase.
    let again = call().await.expect("tools/call");
    assert_eq!(
        again.structured_content.expect("structured")["checkout_url"],
        pay_url.as_str()
    );

    // The user opens the payment page, goes on to the sandbox checkout and pays.
    let page = app
        .http()
        .get(&pay_url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        page.contains("Tollgate demo") && page.contains("$5.00 for 100 calls"),
        "{page}"
    );
    let checkout = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a checkout link")
        .to_owned();
    let browser = Browser::new();
    let sandbox = browser.get(&checkout).await.body;
    assert!(sandbox.contains("TEST MODE"), "{sandbox}");
    let paid = browser.pay_sandbox_checkout(&checkout).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    let success = app
        .http()
        .get(format!("{pay_url}/success"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(success.contains("Payment received"), "{success}");

    let result = call().await.expect("tools/call");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let status = client
        .call_tool(CallToolRequestParams::new("billing_status"))
        .await
        .expect("billing_status");
    let plans = &status.structured_content.expect("structured")["plans"];
    assert_eq!(plans[0]["calls_remaining"], 99, "{plans}");
    assert_eq!(plans[0]["free_calls_left"], 0);
    let account = status.content[0].as_text().expect("text").text.clone();
    let link = account
        .split("valid 15 minutes): ")
        .nth(1)
        .expect("a link")
        .trim()
        .to_owned();
    let page = app.http().get(&link).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("99 calls left"));
    let forged = app
        .http()
        .get(link.replace("sig=", "sig=0"))
        .send()
        .await
        .expect("page");
    assert_eq!(forged.status(), 403);
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_sandbox_payment_is_in_the_audit_log_once_like_a_stripe_one() {
    let app = priced_app().await;
    let client = signed_in(&app).await;
    let call = || call_downloads(&client);
    for _ in 0..3 {
        call().await.expect("free call");
    }
    let asked = call().await.expect("tools/call");
    let pay_url = asked.structured_content.as_ref().expect("structured")["checkout_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let page = app
        .http()
        .get(&pay_url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let checkout = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a checkout link")
        .to_owned();
    // An impatient user: "Pay (test)" pressed several times at once, then once more.
    let browser = Browser::new();
    let form = browser.get(&checkout).await;
    let csrf = hidden_input(&form.body, "csrf").expect("the checkout form's token");
    let form: &[(&str, &str)] = &[("csrf", &csrf)];
    let clicks =
        futures::future::join_all((0..4).map(|_| browser.post_form(&checkout, form))).await;
    assert!(
        clicks.iter().all(|p| p.status == 200),
        "{:?}",
        clicks.iter().map(|p| p.status).collect::<Vec<_>>()
    );
    assert_eq!(
        browser
            .post_form(&checkout, &[("csrf", &csrf)])
            .await
            .status,
        200
    );

    // One payment: 100 calls bought once, and one audit row, written as a Stripe payment's is.
    let result = call().await.expect("tools/call");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let status = client
        .call_tool(CallToolRequestParams::new("billing_status"))
        .await
        .expect("billing_status");
    let plans = &status.structured_content.expect("structured")["plans"];
    assert_eq!(plans[0]["calls_remaining"], 99, "{plans}");
    let audit = app
        .first_operator()
        .await
        .get("/api/v1/tenants/demo/audit")
        .await
        .body;
    let payments: Vec<&Value> = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "sandbox.checkout.session.completed")
        .collect();
    assert_eq!(payments.len(), 1, "{audit}");
    assert_eq!(payments[0]["actor"], "sandbox");
    assert_eq!(payments[0]["detail"]["type"], "checkout.session.completed");
    let session = checkout.rsplit('/').next().expect("session id");
    assert_eq!(payments[0]["detail"]["object"], session, "{audit}");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_failed_paid_call_costs_nothing() {
    let app = priced_app().await;
    let token = token(&app).await;
    let client = app
        .mcp_client_with_token("demo", Era::Stateless, &token)
        .await;
    app.wporg.fail(
        "/stats/plugin/1.0/downloads.php",
        Some(tollgate_tests::fake_wporg::Failure::Status(500)),
    );
    for _ in 0..5 {
        let result = client
            .call_tool(
                CallToolRequestParams::new("wporg_plugin_downloads")
                    .with_arguments(downloads_args()),
            )
            .await
            .expect("tools/call");
        assert_eq!(result.is_error, Some(true));
        assert!(
            result.structured_content.is_none(),
            "an upstream failure, not a payment request"
        );
    }
    app.wporg.fail("/stats/plugin/1.0/downloads.php", None);
    let status = client
        .call_tool(CallToolRequestParams::new("billing_status"))
        .await
        .expect("billing_status");
    assert_eq!(
        status.structured_content.expect("structured")["plans"][0]["free_calls_left"],
        3
    );
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn each_era_gets_the_payment_answer_it_understands() {
    let app = priced_app().await;
    let token = token(&app).await;
    // Spend the free quota.
    for _ in 0..3 {
        let (status, body) = modern_call(&app, &token, "wporg_plugin_downloads", json!({})).await;
        assert_eq!(status, 200, "{body}");
    }
    // 2026-07-28 with URL elicitation: input_required.
    let (status, body) = modern_call(
        &app,
        &token,
        "wporg_plugin_downloads",
        json!({"elicitation": {"url": {}}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["resultType"], "input_required", "{body}");
    let request = &result["inputRequests"]["payment"];
    assert_eq!(request["method"], "elicitation/create", "{body}");
    assert_eq!(request["params"]["mode"], "url");
    assert!(
        request["params"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/t/demo/pay/"))
    );

    // 2026-07-28 without it: the tool result with the link.
    let (_, body) = modern_call(&app, &token, "wporg_plugin_downloads", json!({})).await;
    assert_eq!(body["result"]["isError"], true, "{body}");
    assert_eq!(
        body["result"]["structuredContent"]["status"],
        "payment_required"
    );

    // 2025-11-25 with URL elicitation: error -32042.
    let auth = format!("Bearer {token}");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {"url": {}}},
        "clientInfo": {"name": "it", "version": "1"}}});
    let response = app
        .post_mcp("demo", &init.to_string(), &[("authorization", &auth)])
        .await;
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let _ = response.text().await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    app.post_mcp("demo", &initialized.to_string(), &headers)
        .await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "wporg_plugin_downloads", "arguments": {"slug": "akismet"}}});
    let text = app
        .post_mcp("demo", &call.to_string(), &headers)
        .await
        .text()
        .await
        .expect("body");
    let data = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .find(|d| !d.is_empty())
        .unwrap_or(&text);
    let message: Value = serde_json::from_str(data).expect("json-rpc");
    assert_eq!(message["error"]["code"], -32042, "{message}");
    let elicitation = &message["error"]["data"]["elicitations"][0];
    assert_eq!(elicitation["mode"], "url");
    assert!(
        elicitation["url"]
            .as_str()
            .is_some_and(|u| u.contains("/t/demo/pay/"))
    );
}

#[tokio::test]
async fn list_plans_names_the_tools_each_plan_unlocks() {
    let app = priced_app().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    let result = client
        .call_tool(CallToolRequestParams::new("list_plans"))
        .await
        .expect("list_plans");
    let plans = &result.structured_content.expect("structured")["plans"];
    assert_eq!(plans[0]["name"], "Download statistics");
    assert_eq!(plans[0]["tools"], json!(["wporg_plugin_downloads"]));
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_tenant_without_paid_tools_has_no_billing_tools() {
    let app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().all(|t| t.name != "billing_status"));
    client.cancel().await.expect("closes");
}

/// Prices the named tools of the demo tenant with one new sandbox offer.
async fn price_with(app: &TestApp, offer: tollgate::billing::NewOffer, tools: &[&str]) {
    let demo = app
        .state
        .tenants
        .get_tenant_by_slug("demo")
        .await
        .expect("demo");
    let created = app
        .state
        .billing
        .create_offer(demo.id, offer)
        .await
        .expect("offer");
    for tool in app.state.tenants.list_tools(demo.id).await.expect("tools") {
        if tools.contains(&tool.name.as_str()) {
            app.state
                .billing
                .price_tool(&app.state.tenants, demo.id, tool.id, Some(created.id))
                .await
                .expect("priced");
        }
    }
}

fn sandbox_offer(kind: tollgate::billing::OfferKind) -> tollgate::billing::NewOffer {
    tollgate::billing::NewOffer {
        name: "Plan".into(),
        kind,
        price_id: "sandbox_plan".into(),
        amount: 900,
        currency: "eur".into(),
        interval: Some("month".into()),
        calls: None,
        meter_event: Some("calls".into()),
        meter_value: None,
        free_quota: None,
        spend_cap: Some(2),
        payment_reason: None,
        success_url: None,
        past_due_grace_days: None,
    }
}

/// Pays the purchase behind a payment-required result in the sandbox.
async fn pay_in_sandbox(app: &TestApp, result: &rmcp::model::CallToolResult) {
    let pay_url = result.structured_content.as_ref().expect("structured")["checkout_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let page = app
        .http()
        .get(&pay_url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let checkout = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a checkout link")
        .to_owned();
    let paid = Browser::new().pay_sandbox_checkout(&checkout).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
}

#[tokio::test]
async fn one_plan_unlocks_every_tool_it_covers_with_one_payment() {
    let app = TestApp::spawn().await;
    let mut offer = sandbox_offer(tollgate::billing::OfferKind::Subscription);
    offer.spend_cap = None;
    price_with(
        &app,
        offer,
        &["wporg_plugin_downloads", "wporg_translations"],
    )
    .await;
    let token = token(&app).await;
    let client = app
        .mcp_client_with_token("demo", Era::Stateless, &token)
        .await;
    let downloads =
        CallToolRequestParams::new("wporg_plugin_downloads").with_arguments(downloads_args());
    let translations = CallToolRequestParams::new("wporg_translations").with_arguments(
        json!({"type": "plugins", "slug": "akismet"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let first = client.call_tool(downloads.clone()).await.expect("call");
    assert_eq!(
        first.structured_content.as_ref().expect("structured")["status"],
        "payment_required"
    );
    let other = client.call_tool(translations.clone()).await.expect("call");
    assert_eq!(
        other.structured_content.as_ref().expect("structured")["checkout_url"],
        first.structured_content.as_ref().expect("structured")["checkout_url"],
        "one plan, one checkout"
    );
    pay_in_sandbox(&app, &first).await;
    for call in [downloads, translations] {
        let result = client.call_tool(call).await.expect("call");
        assert_ne!(result.is_error, Some(true), "{result:?}");
    }
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_metered_plan_stops_at_its_spend_cap() {
    let app = TestApp::spawn().await;
    price_with(
        &app,
        sandbox_offer(tollgate::billing::OfferKind::Metered),
        &["wporg_plugin_downloads"],
    )
    .await;
    let client = signed_in(&app).await;
    let call = || call_downloads(&client);
    let first = call().await.expect("call");
    pay_in_sandbox(&app, &first).await;
    for _ in 0..2 {
        let result = call().await.expect("call");
        assert_ne!(result.is_error, Some(true), "{result:?}");
    }
    let capped = call().await.expect("call");
    assert_eq!(capped.is_error, Some(true));
    assert_eq!(
        capped.structured_content.expect("structured")["status"],
        "spend_cap_reached"
    );
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn in_production_the_sandbox_never_takes_payments() {
    let app = TestApp::spawn_with(TestOptions {
        extra: vec![("TOLLGATE_MODE".into(), "production".into())],
        ..TestOptions::default()
    })
    .await;
    // No demo tenant in production: an operator's tenant with a paid tool, no Stripe yet.
    app.state
        .tenants
        .ensure_demo_tenant()
        .await
        .expect("an operator's tenant");
    let mut offer = sandbox_offer(tollgate::billing::OfferKind::OneTime);
    offer.calls = Some(100);
    offer.free_quota = Some(3);
    offer.interval = None;
    offer.meter_event = None;
    offer.spend_cap = None;
    price_with(&app, offer, &["wporg_plugin_downloads"]).await;
    let client = signed_in(&app).await;
    let call = || call_downloads(&client);
    // The free quota still works; then there is no way to pay until Stripe is connected.
    for _ in 0..3 {
        assert_ne!(call().await.expect("call").is_error, Some(true));
    }
    let result = call().await.expect("call");
    assert_eq!(result.is_error, Some(true));
    assert!(
        result.structured_content.is_none(),
        "no payment link: {result:?}"
    );
    let text = result.content[0].as_text().expect("text").text.clone();
    assert!(text.contains("Payments are unavailable"), "{text}");
    client.cancel().await.expect("closes");
}

/// Twenty calls of one paying user at once, while the meter sender writes beside them: every
/// call runs and is billed exactly once (on SQLite, concurrent read-then-write transactions
/// once failed with "database is locked" and the tool answered "payments are unavailable").
#[tokio::test]
async fn concurrent_paid_calls_all_run_and_each_is_billed_once() {
    let app = TestApp::spawn().await;
    let mut offer = sandbox_offer(tollgate::billing::OfferKind::Metered);
    offer.spend_cap = None;
    price_with(&app, offer, &["wporg_plugin_downloads"]).await;
    let client = signed_in(&app).await;
    let call = || call_downloads(&client);
    let first = call().await.expect("call");
    pay_in_sandbox(&app, &first).await;
    let results = futures::future::join_all((0..20).map(|_| call())).await;
    for result in results {
        let result = result.expect("tools/call answers");
        assert_ne!(result.is_error, Some(true), "{result:?}");
    }
    client.cancel().await.expect("closes");
    app.wait_for_meter_outbox_empty().await;
    let owner = app.first_operator().await;
    let customers = owner.get("/api/v1/tenants/demo/customers").await.body;
    assert_eq!(customers[0]["calls_this_month"], 20, "{customers}");
}

#[tokio::test]
async fn a_sandbox_payment_form_posted_from_elsewhere_pays_nothing() {
    let app = priced_app().await;
    let token = token(&app).await;
    let client = app
        .mcp_client_with_token("demo", Era::Sessions, &token)
        .await;
    let call = || {
        client.call_tool(
            CallToolRequestParams::new("wporg_plugin_downloads").with_arguments(downloads_args()),
        )
    };
    // Three free calls, then the payment answer.
    for _ in 0..3 {
        call().await.expect("tools/call");
    }
    let result = call().await.expect("tools/call");
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let pay_url = result.structured_content.as_ref().expect("structured")["checkout_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let page = Browser::new().get(&pay_url).await.body;
    let checkout = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a checkout link")
        .to_owned();
    let shown = Browser::new();
    let form_page = shown.get(&checkout).await;
    let csrf = hidden_input(&form_page.body, "csrf").expect("the form's token");
    // Another browser posts the form it did not load; the one that loaded it is made to post
    // it from another site.
    let elsewhere = Browser::new()
        .post_form(&checkout, &[("csrf", &csrf)])
        .await;
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    let cross_site = shown
        .post_form_with(
            &checkout,
            &[("csrf", &csrf)],
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(cross_site.status, 403, "{}", cross_site.body);
    let still = call().await.expect("tools/call");
    assert_eq!(still.is_error, Some(true), "nothing was paid: {still:?}");
    // The browser that was shown the page pays.
    let paid = shown.post_form(&checkout, &[("csrf", &csrf)]).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    let after = call().await.expect("tools/call");
    assert_ne!(after.is_error, Some(true), "{after:?}");
}

/// Runs `sql` (a count) on the app's database.
async fn count(app: &TestApp, sql: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let row = app
        .state
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            sql,
        ))
        .await
        .expect("query")
        .expect("a row");
    row.try_get_by_index(0).expect("a number")
}

#[tokio::test]
async fn calls_on_a_subscription_are_recorded_once_each_and_stop_when_it_is_revoked() {
    let app = TestApp::spawn().await;
    let mut offer = sandbox_offer(tollgate::billing::OfferKind::Subscription);
    offer.spend_cap = None;
    price_with(&app, offer, &["wporg_plugin_downloads"]).await;
    let client = signed_in(&app).await;
    let call = || call_downloads(&client);
    let first = call().await.expect("call");
    pay_in_sandbox(&app, &first).await;
    // The same call three times: the first runs the tool, the others may be answered again
    // from its answer; each is a paid call on the subscription, recorded once.
    for i in 0..3 {
        let result = call().await.expect("call");
        assert_ne!(result.is_error, Some(true), "call {i}: {result:?}");
    }
    // Their usage rows are written behind the answers; a stop writes them, as this does.
    app.state.billing.flush_usage().await;
    assert_eq!(
        count(
            &app,
            "select coalesce(sum(calls), 0) from usage where kind = 'paid' and status = 'committed'"
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &app,
            "select coalesce(sum(calls), 0) from usage where status = 'reserved'"
        )
        .await,
        0
    );
    // The subscription ends (a refund, say): the very same call asks for payment again.
    let revoked = {
        use sea_orm::ConnectionTrait;
        app.state
            .db
            .execute_unprepared("update entitlement set status = 'revoked'")
            .await
            .expect("revoked")
    };
    assert_eq!(revoked.rows_affected(), 1);
    // Written behind the service's back: every write path of the app (webhooks, payments,
    // refunds) tells the processes' remembered entitlements (`billing/fast.rs`); this one
    // must do the same.
    let demo = app
        .state
        .tenants
        .get_tenant_by_slug("demo")
        .await
        .expect("demo");
    app.state.billing.forget_entitlements(demo.id);
    let result = call().await.expect("call");
    assert_eq!(
        result.structured_content.as_ref().expect("structured")["status"],
        "payment_required",
        "{result:?}"
    );
    client.cancel().await.expect("closes");
}

/// Two hundred calls at once of a user whose free quota is used up, on a subscription: the
/// operator's customer page counts every one of them, once, on the tool.
#[tokio::test]
async fn many_concurrent_calls_on_a_subscription_each_show_once_in_the_customer_usage() {
    let app = TestApp::spawn().await;
    let mut offer = sandbox_offer(tollgate::billing::OfferKind::Subscription);
    offer.spend_cap = None;
    offer.free_quota = Some(2);
    price_with(&app, offer, &["wporg_plugin_downloads"]).await;
    let client = signed_in(&app).await;
    let call = || call_downloads(&client);
    for i in 0..2 {
        let free = call().await.expect("call");
        assert_ne!(free.is_error, Some(true), "free call {i}: {free:?}");
    }
    let asked = call().await.expect("call");
    pay_in_sandbox(&app, &asked).await;
    let results = futures::future::join_all((0..200).map(|_| call())).await;
    for result in results {
        let result = result.expect("tools/call answers");
        assert_ne!(result.is_error, Some(true), "{result:?}");
    }
    client.cancel().await.expect("closes");
    // The records of use are written behind the answers; a stop writes them, as this does.
    app.state.billing.flush_usage().await;

    let owner = app.first_operator().await;
    let customers = owner.get("/api/v1/tenants/demo/customers").await.body;
    assert_eq!(customers[0]["calls_this_month"], 200, "{customers}");
    let id = customers[0]["id"].as_str().expect("id");
    let customer = owner
        .get(&format!("/api/v1/tenants/demo/customers/{id}"))
        .await
        .body;
    let usage = customer["usage"].as_array().expect("usage");
    assert_eq!(usage.len(), 1, "{customer}");
    assert_eq!(usage[0]["tool"], "wporg_plugin_downloads");
    assert_eq!(
        usage[0]["calls"], 202,
        "the two free calls and the 200 paid ones"
    );
}

#[tokio::test]
async fn a_free_call_answered_before_asks_for_payment_once_the_tool_is_priced() {
    let app = TestApp::spawn().await;
    let client = signed_in(&app).await;
    let call = || call_downloads(&client);
    for i in 0..2 {
        let result = call().await.expect("call");
        assert_ne!(result.is_error, Some(true), "call {i}: {result:?}");
    }
    let mut offer = sandbox_offer(tollgate::billing::OfferKind::Subscription);
    offer.spend_cap = None;
    price_with(&app, offer, &["wporg_plugin_downloads"]).await;
    let result = call().await.expect("call");
    assert_eq!(
        result.structured_content.as_ref().expect("structured")["status"],
        "payment_required",
        "{result:?}"
    );
    client.cancel().await.expect("closes");
}
