//! Several replicas on one PostgreSQL database behind HAProxy (`tollgate_tests::cluster`):
//! money, identity, sessions and caches hold across processes. These tests need PostgreSQL
//! (`TOLLGATE_TEST_DATABASE=postgres://…`): SQLite is one process by design, so on SQLite they
//! say so and return.

use futures::future::join_all;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use tollgate::billing::{NewOffer, OfferKind};
use tollgate::wordpress::Operation;
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::cluster::Cluster;
use tollgate_tests::{Era, McpClient, TestApp, TestOptions};

const TOOL: &str = "wporg_plugin_downloads";

/// Whether the suite runs on PostgreSQL; otherwise prints why the test does nothing.
fn on_postgres(test: &str) -> bool {
    let yes = std::env::var("TOLLGATE_TEST_DATABASE").is_ok_and(|d| d.starts_with("postgres"));
    if !yes {
        eprintln!("{test}: replicas share a PostgreSQL database; not run on SQLite");
    }
    yes
}

/// Prices `TOOL` of the demo tenant with `offer` on the fake Stripe (through replica 0).
async fn price(app: &TestApp, offer: NewOffer) {
    let demo = app
        .state
        .tenants
        .get_tenant_by_slug("demo")
        .await
        .expect("demo");
    app.stripe.add_price(
        &offer.price_id,
        offer.amount,
        &offer.currency,
        offer.interval.as_deref(),
        offer.kind == OfferKind::Metered,
    );
    let created = app
        .state
        .billing
        .create_offer(demo.id, offer)
        .await
        .expect("offer");
    let tool = app
        .state
        .tenants
        .list_tools(demo.id)
        .await
        .expect("tools")
        .into_iter()
        .find(|t| t.operation == Operation::PluginDownloads)
        .expect("tool");
    app.state
        .billing
        .price_tool(&app.state.tenants, demo.id, tool.id, Some(created.id))
        .await
        .expect("priced");
}

fn offer(kind: OfferKind) -> NewOffer {
    NewOffer {
        name: "Stats".into(),
        kind,
        price_id: "price_stats".into(),
        amount: 500,
        currency: "usd".into(),
        interval: (kind != OfferKind::OneTime).then(|| "month".into()),
        calls: (kind == OfferKind::OneTime).then_some(2),
        meter_event: (kind == OfferKind::Metered).then(|| "tool_calls".into()),
        meter_value: None,
        free_quota: None,
        spend_cap: None,
        payment_reason: Some("Download stats are paid".into()),
        success_url: None,
    }
}

async fn sign_in(app: &TestApp) -> String {
    let tokens = OAuthClient::register(app, "demo").await.sign_in().await;
    tokens["access_token"].as_str().expect("token").to_owned()
}

async fn call(client: &McpClient) -> CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new(TOOL).with_arguments(
                json!({"slug": "akismet"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("tools/call")
}

fn status(result: &CallToolResult) -> String {
    result
        .structured_content
        .as_ref()
        .and_then(|s| s["status"].as_str())
        .unwrap_or(if result.is_error == Some(true) {
            "error"
        } else {
            "ok"
        })
        .to_owned()
}

fn count(results: &[CallToolResult], wanted: &str) -> usize {
    results.iter().filter(|r| status(r) == wanted).count()
}

/// One number from the database the replicas share.
async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let db = Database::connect(&app.database_url).await.expect("connect");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
        .expect("a row");
    let value: i64 = row.try_get_by_index(0).expect("a number");
    db.close().await.expect("closed");
    value
}

/// Every replica answered part of the work: the front did spread it.
fn assert_spread(cluster: &Cluster) {
    let per_replica = cluster.mcp_requests_per_replica();
    assert!(
        per_replica.iter().all(|n| *n > 0),
        "MCP requests per replica: {per_replica:?}"
    );
}

#[tokio::test]
async fn fifty_concurrent_calls_of_one_user_over_three_replicas_respect_quota_cap_and_one_checkout()
{
    if !on_postgres("fifty_concurrent_calls") {
        return;
    }
    let cluster = Cluster::start(3, TestOptions::default()).await;
    let app = cluster.app();
    let secret = app.connect_stripe("demo").await;
    let mut metered = offer(OfferKind::Metered);
    metered.free_quota = Some(3);
    metered.spend_cap = Some(5);
    price(app, metered).await;
    let token = sign_in(app).await;
    let client = app
        .mcp_client_with_token("demo", Era::Stateless, &token)
        .await;

    // Not paid yet: exactly the free quota runs, every other call gets the one payment link.
    let results = join_all((0..50).map(|_| call(&client))).await;
    assert_eq!(count(&results, "ok"), 3, "free calls");
    let links: Vec<&Value> = results
        .iter()
        .filter(|r| status(r) == "payment_required")
        .map(|r| &r.structured_content.as_ref().expect("structured")["checkout_url"])
        .collect();
    assert_eq!(links.len(), 47);
    assert!(links.iter().all(|l| *l == links[0]), "{links:?}");
    let sessions = app.stripe.checkout_sessions();
    assert_eq!(sessions.len(), 1, "one Checkout Session: {sessions:?}");
    assert_eq!(app.stripe.customers().len(), 1, "one customer");
    assert_spread(&cluster);

    // Paid: the metered plan runs exactly up to its spend cap, whatever replica answers.
    let session = app
        .stripe
        .complete_session(sessions[0]["id"].as_str().expect("id"), "paid");
    let event = app.stripe.event("checkout.session.completed", session);
    let delivered = app
        .stripe
        .deliver(&app.webhook_url("demo"), &event, &secret)
        .await;
    assert_eq!(delivered.status(), 200);
    let results = join_all((0..50).map(|_| call(&client))).await;
    assert_eq!(count(&results, "ok"), 5, "metered calls up to the cap");
    assert_eq!(count(&results, "spend_cap_reached"), 45);
    assert_eq!(
        scalar(
            app,
            "select count(*) from usage where kind = 'metered' and status = 'committed'"
        )
        .await,
        5
    );
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn the_same_webhook_fifty_times_at_once_to_three_replicas_grants_once() {
    if !on_postgres("the_same_webhook_fifty_times") {
        return;
    }
    let cluster = Cluster::start(3, TestOptions::default()).await;
    let app = cluster.app();
    let secret = app.connect_stripe("demo").await;
    price(app, offer(OfferKind::OneTime)).await;
    let token = sign_in(app).await;
    let client = app
        .mcp_client_with_token("demo", Era::Stateless, &token)
        .await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let sessions = app.stripe.checkout_sessions();
    assert_eq!(sessions.len(), 1);
    let completed = app
        .stripe
        .complete_session(sessions[0]["id"].as_str().expect("id"), "paid");
    let event = app.stripe.event("checkout.session.completed", completed);
    // Through the front (round-robin) and straight to each replica.
    let mut urls = vec![app.webhook_url("demo")];
    urls.extend((0..3).map(|i| format!("{}/t/demo/webhooks/stripe", cluster.direct_url(i))));
    let responses =
        join_all((0..50).map(|i| app.stripe.deliver(&urls[i % urls.len()], &event, &secret))).await;
    assert!(
        responses.iter().all(|r| r.status() == 200),
        "{:?}",
        responses
            .iter()
            .map(reqwest::Response::status)
            .collect::<Vec<_>>()
    );
    assert_eq!(scalar(app, "select count(*) from entitlement").await, 1);
    assert_eq!(scalar(app, "select count(*) from provider_event").await, 1);
    assert_eq!(
        scalar(app, "select count(*) from purchase where status = 'paid'").await,
        1
    );
    // Exactly the two calls bought, whatever the number of deliveries.
    assert_eq!(status(&call(&client).await), "ok");
    assert_eq!(status(&call(&client).await), "ok");
    assert_eq!(status(&call(&client).await), "payment_required");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn three_replicas_started_at_once_on_an_empty_database_migrate_once_and_are_all_ready() {
    if !on_postgres("three_replicas_started_at_once") {
        return;
    }
    let cluster = Cluster::start(3, TestOptions::default()).await;
    let app = cluster.app();
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migration/src"))
        .expect("the migrations folder")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("m20"))
        .count();
    let applied = scalar(app, "select count(*) from seaql_migrations").await;
    assert_eq!(
        usize::try_from(applied).expect("a count"),
        migrations,
        "each migration applied once"
    );
    assert_eq!(
        scalar(app, "select count(*) from tenant where slug = 'demo'").await,
        1
    );
    let tools = scalar(
        app,
        "select count(*) from tool t join tenant n on n.id = t.tenant_id where n.slug = 'demo'",
    )
    .await;
    let distinct = scalar(
        app,
        "select count(distinct t.name) from tool t join tenant n on n.id = t.tenant_id where n.slug = 'demo'",
    )
    .await;
    assert!(
        tools > 0 && tools == distinct,
        "{tools} tools, {distinct} names"
    );
    for i in 0..3 {
        let ready = app
            .http()
            .get(format!("{}/readyz", cluster.direct_url(i)))
            .send()
            .await
            .expect("answers");
        assert_eq!(ready.status(), 200, "replica {i}");
    }
    let through_front = app
        .http()
        .get(format!("{}/readyz", cluster.url))
        .send()
        .await
        .expect("answers");
    assert_eq!(through_front.status(), 200);
}
