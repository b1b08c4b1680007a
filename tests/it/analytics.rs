//! Call statistics and the dashboard's read models: every tool call counted by outcome, the
//! checkouts and revenue of the paid flow, counters that survive a flush and a crash, and the
//! customers list.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};
use tollgate::billing::{PlanState, PurchaseStatus};
use tollgate::tenant::TenantId;
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::fake_wporg::Failure;
use tollgate_tests::{Era, McpClient, TestApp, TestOptions};

async fn call(client: &McpClient, tool: &str, args: Value) -> CallToolResult {
    let arguments = args.as_object().cloned().unwrap_or_default();
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .expect("tools/call answers")
}

async fn tenant(app: &TestApp, slug: &str) -> TenantId {
    app.tenant(slug).await.id
}

/// The analytics report as the admin API sends it.
async fn report(app: &TestApp, slug: &str, days: u32) -> Value {
    let report = app
        .state
        .analytics
        .report(tenant(app, slug).await, days)
        .await
        .expect("the report");
    serde_json::to_value(tollgate::admin::analytics_view(report)).expect("json")
}

/// Today's row of `tool`: free, paid, payment required, errors.
fn row(report: &Value, tool: &str) -> [u64; 4] {
    let row = report["daily"]
        .as_array()
        .and_then(|rows| rows.iter().find(|d| d["tool"] == tool))
        .unwrap_or_else(|| panic!("no row for {tool}: {report}"));
    ["free", "paid", "payment_required", "errors"].map(|k| row[k].as_u64().expect("a count"))
}

fn today(app: &TestApp) -> String {
    use tollgate::clock::Clock;
    app.clock.now().format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn free_calls_and_failures_are_counted_at_once_by_tool_and_outcome() {
    let app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Sessions).await;
    assert!(
        !call(&client, "wporg_plugin_info", json!({"slug": "akismet"}))
            .await
            .is_error
            .unwrap_or_default()
    );
    assert!(
        !call(&client, "wporg_plugin_info", json!({"slug": "jetpack"}))
            .await
            .is_error
            .unwrap_or_default()
    );
    app.wporg
        .fail("/themes/info/1.2/", Some(Failure::Status(500)));
    let upstream = call(&client, "wporg_theme_info", json!({"slug": "astra"})).await;
    assert_eq!(upstream.is_error, Some(true));
    let invalid = call(&client, "wporg_theme_tags", json!({"number": "ten"})).await;
    assert_eq!(invalid.is_error, Some(true));
    // A tool the tenant does not have is refused and not counted.
    let unknown = client
        .call_tool(CallToolRequestParams::new("no_such_tool"))
        .await;
    assert!(unknown.is_err());

    let report = report(&app, "demo", 30).await;
    assert_eq!(report["days"], 30);
    let dates: Vec<&Value> = report["daily"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|d| &d["date"])
        .collect();
    assert_eq!(dates, [&json!(today(&app)); 3], "{report}");
    assert_eq!(row(&report, "wporg_plugin_info"), [2, 0, 0, 0]);
    assert_eq!(row(&report, "wporg_theme_info"), [0, 0, 0, 1]);
    assert_eq!(row(&report, "wporg_theme_tags"), [0, 0, 0, 1]);
    assert_eq!(
        report["totals"],
        json!({"calls": 4, "free": 2, "paid": 0, "payment_required": 0, "errors": 2,
               "checkouts_started": 0, "checkouts_paid": 0, "conversion": 0.0})
    );
    assert_eq!(report["revenue"], json!([]));

    // Another tenant sees none of it.
    app.state
        .tenants
        .create_tenant("acme", "Acme")
        .await
        .expect("acme");
    let foreign = self::report(&app, "acme", 30).await;
    assert_eq!(foreign["daily"], json!([]), "{foreign}");
    assert_eq!(foreign["totals"]["calls"], 0);
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn the_report_covers_the_last_days_oldest_first() {
    let app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    call(&client, "wporg_plugin_info", json!({"slug": "akismet"})).await;
    let yesterday = today(&app);
    app.clock.advance(chrono::Duration::days(1));
    call(&client, "wporg_plugin_info", json!({"slug": "akismet"})).await;
    call(&client, "wporg_plugin_info", json!({"slug": "akismet"})).await;

    let week = report(&app, "demo", 7).await;
    let days: Vec<(&Value, &Value)> = week["daily"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|d| (&d["date"], &d["free"]))
        .collect();
    assert_eq!(
        days,
        [
            (&json!(yesterday), &json!(1)),
            (&json!(today(&app)), &json!(2))
        ]
    );
    let one = report(&app, "demo", 1).await;
    assert_eq!(one["totals"]["calls"], 2, "{one}");
    let numbers = app
        .state
        .analytics
        .overview_numbers(tenant(&app, "demo").await)
        .await
        .expect("numbers");
    assert_eq!((numbers.calls_today, numbers.calls_30d), (2, 3));
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn the_paid_flow_counts_payment_requests_checkouts_revenue_and_customers() {
    let app = TestApp::spawn_with(TestOptions {
        demo_pricing: true,
        ..TestOptions::default()
    })
    .await;
    let tokens = OAuthClient::register(&app, "demo").await.sign_in().await;
    let token = tokens["access_token"].as_str().expect("token");
    let client = app
        .mcp_client_with_token("demo", Era::Sessions, token)
        .await;
    let args = json!({"slug": "akismet", "limit": 7});
    // Three free calls of the quota, then a payment request.
    for _ in 0..3 {
        let result = call(&client, "wporg_plugin_downloads", args.clone()).await;
        assert_ne!(result.is_error, Some(true), "{result:?}");
    }
    let asked = call(&client, "wporg_plugin_downloads", args.clone()).await;
    let structured = asked.structured_content.expect("structured");
    assert_eq!(structured["status"], "payment_required");
    let before = report(&app, "demo", 30).await;
    assert_eq!(row(&before, "wporg_plugin_downloads"), [3, 0, 1, 0]);
    assert_eq!(before["totals"]["checkouts_started"], 1);
    assert_eq!(before["totals"]["checkouts_paid"], 0);
    assert_eq!(before["revenue"], json!([]));

    // The user pays on the sandbox: Tollgate's payment page, then the sandbox checkout.
    let pay_url = structured["checkout_url"].as_str().expect("url");
    let page = app
        .http()
        .get(pay_url)
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
    let paid = tollgate_tests::browser::Browser::new()
        .pay_sandbox_checkout(&checkout)
        .await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    let result = call(&client, "wporg_plugin_downloads", args).await;
    assert_ne!(result.is_error, Some(true), "{result:?}");
    // The billing tools are counted too.
    call(&client, "billing_status", json!({})).await;

    let after = report(&app, "demo", 30).await;
    assert_eq!(row(&after, "wporg_plugin_downloads"), [3, 1, 1, 0]);
    assert_eq!(row(&after, "billing_status"), [1, 0, 0, 0]);
    assert_eq!(
        after["totals"],
        json!({"calls": 6, "free": 4, "paid": 1, "payment_required": 1, "errors": 0,
               "checkouts_started": 1, "checkouts_paid": 1, "conversion": 1.0})
    );
    assert_eq!(
        after["revenue"],
        json!([{"currency": "usd", "amount": 500, "text": "$5.00"}])
    );
    let demo = tenant(&app, "demo").await;
    let numbers = app
        .state
        .analytics
        .overview_numbers(demo)
        .await
        .expect("numbers");
    assert_eq!((numbers.calls_today, numbers.calls_30d), (6, 6));
    assert_eq!(numbers.paying_customers, 1);
    assert_eq!(
        serde_json::to_value(
            numbers
                .revenue_30d
                .iter()
                .map(tollgate::admin::money_view)
                .collect::<Vec<_>>()
        )
        .expect("json"),
        after["revenue"]
    );

    // The customer, their plan and their calls.
    let customers = app.state.billing.customers(demo).await.expect("customers");
    assert_eq!(customers.len(), 1, "{customers:?}");
    let customer = &customers[0];
    assert_eq!(customer.calls_this_month, 1, "only billed calls");
    assert_eq!(customer.plans.len(), 1);
    assert_eq!(customer.plans[0].offer, "Download statistics");
    assert_eq!(customer.plans[0].state, PlanState::Active);
    assert_eq!(customer.plans[0].calls_remaining, Some(99));
    assert!(customer.payments.is_empty() && customer.usage.is_empty());
    let id = customer.user.id;
    let detail = app
        .state
        .billing
        .customer(demo, id)
        .await
        .expect("customer")
        .expect("found");
    assert_eq!(detail.user.login, customer.user.login);
    assert_eq!(detail.payments.len(), 1, "{detail:?}");
    assert_eq!(detail.payments[0].status, PurchaseStatus::Paid);
    assert_eq!(detail.payments[0].offer, "Download statistics");
    assert_eq!(detail.payments[0].amount_text, "$5.00 for 100 calls");
    assert_eq!(detail.usage.len(), 1, "{detail:?}");
    assert_eq!(detail.usage[0].tool, "wporg_plugin_downloads");
    assert_eq!(detail.usage[0].calls, 4, "three free calls and a paid one");
    assert_eq!(detail.usage[0].period, today(&app)[..7]);

    // Another tenant knows nothing of this customer.
    let acme = app
        .state
        .tenants
        .create_tenant("acme", "Acme")
        .await
        .expect("acme")
        .id;
    assert!(
        app.state
            .billing
            .customer(acme, id)
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        app.state
            .billing
            .customers(acme)
            .await
            .expect("customers")
            .is_empty()
    );
    let foreign = report(&app, "acme", 30).await;
    assert_eq!(foreign["totals"]["checkouts_started"], 0);
    assert_eq!(foreign["revenue"], json!([]));
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn counters_survive_a_flush_and_a_crash_without_counting_twice() {
    let mut app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    call(&client, "wporg_plugin_info", json!({"slug": "akismet"})).await;
    app.state.analytics.flush().await.expect("flushed");
    assert_eq!(report(&app, "demo", 30).await["totals"]["calls"], 1);
    call(&client, "wporg_plugin_info", json!({"slug": "akismet"})).await;
    assert_eq!(
        row(&report(&app, "demo", 30).await, "wporg_plugin_info"),
        [2, 0, 0, 0],
        "one saved, one in memory"
    );
    app.state.analytics.flush().await.expect("flushed");
    app.state.analytics.flush().await.expect("nothing to flush");
    assert_eq!(report(&app, "demo", 30).await["totals"]["calls"], 2);
    app.crash_and_restart().await;
    let after = report(&app, "demo", 30).await;
    assert_eq!(row(&after, "wporg_plugin_info"), [2, 0, 0, 0], "{after}");
    assert_eq!(after["totals"]["calls"], 2);
}

#[tokio::test]
async fn a_deleted_tenants_counters_are_dropped_and_the_others_saved() {
    let mut app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    call(&client, "wporg_plugin_info", json!({"slug": "akismet"})).await;
    client.cancel().await.expect("closes");
    let acme = app
        .state
        .tenants
        .create_tenant("acme", "Acme")
        .await
        .expect("acme")
        .id;
    app.state
        .analytics
        .record(acme, "acme_tool", tollgate::analytics::Outcome::Free);
    let demo = tenant(&app, "demo").await;
    app.state
        .tenants
        .delete_tenant(demo)
        .await
        .expect("deleted");
    app.state
        .analytics
        .flush()
        .await
        .expect("a deleted tenant's counters do not fail the flush");
    // Its row is kept (soft delete), its counters are not.
    use sea_orm::ConnectionTrait;
    use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query};
    let count = Query::select()
        .expr_as(Expr::col(Asterisk).count(), Alias::new("n"))
        .from(Alias::new("call_stat"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(demo.0))
        .to_owned();
    let left = app
        .state
        .db
        .query_one(&count)
        .await
        .expect("counted")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("a count");
    assert_eq!(left, 0);
    app.crash_and_restart().await;
    assert_eq!(
        row(&report(&app, "acme", 1).await, "acme_tool"),
        [1, 0, 0, 0]
    );
}
