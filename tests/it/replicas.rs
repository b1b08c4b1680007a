//! Several replicas on one PostgreSQL database behind HAProxy (`tollgate_tests::cluster`):
//! money, identity, sessions and caches hold across processes. These tests need PostgreSQL
//! (`TOLLGATE_TEST_DATABASE=postgres://…`): SQLite is one process by design, so on SQLite they
//! say so and return.

use crate::stripe::{call, status};
use futures::future::join_all;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use tollgate::billing::{NewOffer, OfferKind};
use tollgate::wordpress::Operation;
use tollgate_tests::browser::{Browser, OAuthClient};
use tollgate_tests::cluster::Cluster;
use tollgate_tests::{Era, TestApp, TestOptions};

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
    app.sell(demo.id, Operation::PluginDownloads, offer).await;
}

fn offer(kind: OfferKind) -> NewOffer {
    crate::stripe::offer(kind, "price_stats")
}

async fn sign_in(app: &TestApp) -> String {
    let tokens = OAuthClient::register(app, "demo").await.sign_in().await;
    tokens["access_token"].as_str().expect("token").to_owned()
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
            "select coalesce(sum(calls), 0) from usage where kind = 'metered' and status = 'committed'"
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

/// Pays the purchase behind `payment_url` in the sandbox, as a person would: one browser opens
/// the payment page, follows its checkout link and presses "Pay (test)".
async fn pay_in_sandbox(payment_url: &str) {
    let browser = Browser::new();
    let page = browser.get(payment_url).await;
    let checkout = page
        .body
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a checkout link")
        .replace("&amp;", "&");
    let paid = browser.pay_sandbox_checkout(&checkout).await;
    assert_eq!(paid.status, 200, "{}", paid.body);
}

#[tokio::test]
async fn a_2025_session_of_the_rmcp_client_is_answered_by_every_replica() {
    if !on_postgres("a_2025_session_of_the_rmcp_client") {
        return;
    }
    let cluster = Cluster::start(3, TestOptions::default()).await;
    let client = cluster.app().mcp_client("demo", Era::Sessions).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "wporg_theme_tags"));
    for _ in 0..9 {
        let result = client
            .call_tool(CallToolRequestParams::new("wporg_theme_tags"))
            .await
            .expect("tools/call in the session");
        assert_ne!(result.is_error, Some(true), "{result:?}");
    }
    assert_spread(&cluster);
    client.cancel().await.expect("closes");
}

/// The one-session story, with the rmcp client: anonymous free call, paid call refused with
/// 401, sign-in, the same session gets the payment link, pay, the retry runs.
#[tokio::test]
async fn one_rmcp_session_goes_from_anonymous_to_paid_across_replicas() {
    if !on_postgres("one_rmcp_session_goes_from_anonymous_to_paid") {
        return;
    }
    let cluster = Cluster::start(3, TestOptions::default()).await;
    let app = cluster.app();
    price(app, offer(OfferKind::OneTime)).await;
    let http = tollgate_tests::sign_in_later::SignInLater::default();
    let client = rmcp::ServiceExt::serve((), http.transport(&app.mcp_url("demo")))
        .await
        .expect("the client initializes anonymously");
    let free = client
        .call_tool(CallToolRequestParams::new("wporg_theme_tags"))
        .await
        .expect("a free call, anonymously");
    assert_ne!(free.is_error, Some(true), "{free:?}");
    let refused = client
        .call_tool(
            CallToolRequestParams::new(TOOL).with_arguments(
                json!({"slug": "akismet"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await;
    let error = format!("{:?}", refused.expect_err("a paid call needs sign-in"));
    assert!(
        error.contains("401") || error.contains("Unauthorized") || error.contains("Auth"),
        "{error}"
    );
    http.sign_in(&sign_in(app).await);
    let asked = call(&client).await;
    assert_eq!(status(&asked), "payment_required", "{asked:?}");
    let link = asked.structured_content.as_ref().expect("structured")["checkout_url"]
        .as_str()
        .expect("a link")
        .to_owned();
    pay_in_sandbox(&link).await;
    let paid = call(&client).await;
    assert_eq!(status(&paid), "ok", "{paid:?}");
    assert_eq!(scalar(app, "select count(*) from mcp_session").await, 1);
    assert_eq!(
        scalar(
            app,
            "select count(*) from mcp_session where end_user_id is not null"
        )
        .await,
        1,
        "the session now belongs to the user who signed in on it"
    );
    assert_spread(&cluster);
    client.cancel().await.expect("closes");
}

/// The same story with the official Python SDK client in its default (2025, session) mode.
#[tokio::test]
async fn one_python_sdk_session_goes_from_anonymous_to_paid_across_replicas() {
    if !on_postgres("one_python_sdk_session_goes_from_anonymous_to_paid") {
        return;
    }
    let python = crate::python_sdk::python();
    crate::python_sdk::require_the_sdk(&python).await;
    let cluster = Cluster::start(3, TestOptions::default()).await;
    let app = cluster.app();
    price(app, offer(OfferKind::OneTime)).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/session_sign_in_pay.py");
    let done = crate::python_sdk::run(
        &python,
        &[
            script,
            &app.mcp_url("demo"),
            "wporg_theme_tags",
            TOOL,
            r#"{"slug":"akismet"}"#,
        ],
        crate::python_sdk::SCRIPT_BOUND,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        done.status.success(),
        "the Python SDK client failed ({}).\nstderr:\n{}\nstdout:\n{}",
        done.status,
        done.stderr,
        done.stdout
    );
    let line = done
        .stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line on stdout:\n{}", done.stdout));
    let outcome: Value = serde_json::from_str(line).expect("the script prints JSON");
    assert_eq!(outcome["free_is_error"], false, "{outcome}");
    assert!(
        outcome["payment_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("{}/t/demo/pay/", cluster.url))),
        "{outcome}"
    );
    assert_eq!(outcome["paid_is_error"], false, "{outcome}");
    assert_eq!(outcome["initializes"], 1, "one session: {outcome}");
    assert_eq!(
        outcome["session_ids"].as_array().map(Vec::len),
        Some(1),
        "one session id throughout: {outcome}"
    );
    assert_eq!(app.github.token_requests(), 1, "signed in once");
    assert_spread(&cluster);
}

/// An `initialize` with MCP's usual headers; returns the answer.
async fn initialize(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}});
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    app.post_mcp("demo", &init.to_string(), &headers).await
}

fn session_of(response: &reqwest::Response) -> String {
    response.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

async fn list_in(app: &TestApp, session: &str, token: Option<&str>) -> u16 {
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("mcp-session-id", session),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    app.post_mcp("demo", &list, &headers)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_anonymous_session_is_bound_once_to_the_first_user_who_signs_in_on_it() {
    let app = TestApp::spawn().await;
    let alice = sign_in(&app).await;
    app.github
        .sign_in_as(tollgate_tests::fake_github::GitHubUser {
            id: 3003,
            login: "bob".into(),
            name: None,
            email: None,
        });
    let bob = sign_in(&app).await;
    let opened = initialize(&app, None).await;
    assert_eq!(opened.status(), 200);
    let session = session_of(&opened);
    assert_eq!(
        list_in(&app, &session, None).await,
        200,
        "anonymous, as opened"
    );
    assert_eq!(
        list_in(&app, &session, Some(&alice)).await,
        200,
        "Alice signs in on it"
    );
    assert_eq!(list_in(&app, &session, Some(&alice)).await, 200);
    assert_eq!(list_in(&app, &session, Some(&bob)).await, 404, "Bob never");
    assert_eq!(
        list_in(&app, &session, None).await,
        404,
        "nor anyone anonymous"
    );
    assert_eq!(list_in(&app, "not-a-session", Some(&alice)).await, 404);
}

#[tokio::test]
async fn open_sessions_are_capped_per_user_with_retry_after() {
    let app = TestApp::spawn_with(TestOptions {
        extra: vec![("TOLLGATE_MAX_SESSIONS_PER_USER".into(), "2".into())],
        ..TestOptions::default()
    })
    .await;
    let alice = sign_in(&app).await;
    let first = session_of(&initialize(&app, Some(&alice)).await);
    assert_eq!(initialize(&app, Some(&alice)).await.status(), 200);
    let refused = initialize(&app, Some(&alice)).await;
    assert_eq!(refused.status(), 429);
    assert!(
        refused.headers().contains_key("retry-after"),
        "{:?}",
        refused.headers()
    );
    // Anonymous sessions are not this user's: still allowed.
    assert_eq!(initialize(&app, None).await.status(), 200);
    // Closing one makes room.
    let closed = app
        .http()
        .delete(app.mcp_url("demo"))
        .header("mcp-session-id", &first)
        .header("authorization", format!("Bearer {alice}"))
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .expect("answers");
    assert_eq!(closed.status(), 204);
    assert_eq!(list_in(&app, &first, Some(&alice)).await, 404, "closed");
    assert_eq!(initialize(&app, Some(&alice)).await.status(), 200);
}

/// `tools/list` (2026-07-28) straight at one replica, as the front would forward it (the Host
/// is the public one); returns the HTTP status and the body.
async fn tools_list_at(cluster: &Cluster, replica: usize, token: &str) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}});
    let host = cluster.url.trim_start_matches("http://").to_owned();
    let response = cluster
        .app()
        .http()
        .post(format!("{}/t/demo/mcp", cluster.direct_url(replica)))
        .header("host", host)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_string())
        .send()
        .await
        .expect("the replica answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn listed_price(list: &Value) -> String {
    list["result"]["tools"]
        .as_array()
        .and_then(|tools| tools.iter().find(|t| t["name"] == TOOL))
        .and_then(|t| t["description"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Polls `check` on replicas 1 and 2 until both pass; returns how long it took. Panics after 1 s.
async fn in_force_at_the_others<F, Fut>(check: F) -> std::time::Duration
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    let mut pending = vec![1, 2];
    while !pending.is_empty() {
        let mut still = Vec::new();
        for replica in pending {
            if !check(replica).await {
                still.push(replica);
            }
        }
        pending = still;
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "not in force at replicas {pending:?} after 1 s"
        );
    }
    start.elapsed()
}

#[tokio::test]
async fn a_price_change_and_a_client_revocation_at_one_replica_are_in_force_at_the_others_within_a_second()
 {
    if !on_postgres("a_price_change_and_a_client_revocation") {
        return;
    }
    let cluster = Cluster::start(3, TestOptions::default()).await;
    let app = cluster.app();
    price(app, offer(OfferKind::OneTime)).await;
    let client = OAuthClient::register(app, "demo").await;
    let tokens = client.sign_in().await;
    let token = tokens["access_token"].as_str().expect("token").to_owned();
    // Every replica has the tenant and its offers in its caches (TTL 5 s).
    for replica in 0..3 {
        let (status, list) = tools_list_at(&cluster, replica, &token).await;
        assert_eq!(status, 200, "{list}");
        assert!(listed_price(&list).contains("$5.00"), "{list}");
    }

    // The operator changes the price at replica 0.
    let demo = app
        .state
        .tenants
        .get_tenant_by_slug("demo")
        .await
        .expect("demo");
    let current = app.state.billing.offers(demo.id).await.expect("offers")[0].clone();
    let mut changed = offer(OfferKind::OneTime);
    changed.amount = 700;
    app.state
        .billing
        .update_offer(demo.id, current.id, changed)
        .await
        .expect("updated");
    let delay =
        in_force_at_the_others(|replica| {
            let cluster = &cluster;
            let token = &token;
            async move {
                listed_price(&tools_list_at(cluster, replica, token).await.1).contains("$7.00")
            }
        })
        .await;
    println!("price change in force at the other replicas after {delay:?}");

    // The operator revokes the client at replica 0: its token stops working everywhere.
    app.state
        .oauth
        .revoke_client(demo.id, &client.client_id)
        .await
        .expect("revoked");
    let delay = in_force_at_the_others(|replica| {
        let cluster = &cluster;
        let token = &token;
        async move { tools_list_at(cluster, replica, token).await.0 == 401 }
    })
    .await;
    println!("client revocation in force at the other replicas after {delay:?}");
}

/// Polls the shared database until `sql` counts `expected`; panics after `bound`.
async fn until_count(app: &TestApp, sql: &str, expected: i64, bound: std::time::Duration) {
    let start = std::time::Instant::now();
    loop {
        let now = scalar(app, sql).await;
        if now == expected {
            return;
        }
        assert!(
            start.elapsed() < bound,
            "{sql}: {now}, not {expected}, after {bound:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn three_meter_senders_send_each_event_once_and_one_hanging_stripe_account_stalls_only_its_tenant()
 {
    if !on_postgres("three_meter_senders") {
        return;
    }
    let mut cluster = Cluster::start(3, TestOptions::default()).await;
    let calls = 6;
    {
        let app = cluster.app();
        // demo sells a metered plan through (the fake) Stripe.
        let secret = app.connect_stripe("demo").await;
        price(app, offer(OfferKind::Metered)).await;
        // acme sells one through the sandbox.
        let acme = app
            .state
            .tenants
            .create_tenant("acme", "Acme")
            .await
            .expect("acme");
        app.state
            .tenants
            .install_wordpress_pack(acme.id)
            .await
            .expect("tools");
        let mut sandbox = offer(OfferKind::Metered);
        sandbox.price_id = "sandbox_stats".into();
        app.sell(acme.id, Operation::PluginDownloads, sandbox).await;

        let demo_client = app
            .mcp_client_with_token("demo", Era::Stateless, &sign_in(app).await)
            .await;
        assert_eq!(status(&call(&demo_client).await), "payment_required");
        let session = app.stripe.checkout_sessions()[0]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let completed = app.stripe.complete_session(&session, "paid");
        let event = app.stripe.event("checkout.session.completed", completed);
        assert_eq!(
            app.stripe
                .deliver(&app.webhook_url("demo"), &event, &secret)
                .await
                .status(),
            200
        );
        let acme_token = OAuthClient::register(app, "acme").await.sign_in().await;
        let acme_client = app
            .mcp_client_with_token(
                "acme",
                Era::Stateless,
                acme_token["access_token"].as_str().expect("token"),
            )
            .await;
        let asked = call(&acme_client).await;
        let link = asked.structured_content.as_ref().expect("structured")["checkout_url"]
            .as_str()
            .expect("a link")
            .to_owned();
        pay_in_sandbox(&link).await;

        // demo's Stripe account hangs; both tenants' users make paid calls on every replica.
        app.stripe.fail(
            "POST /v1/billing/meter_events",
            Some(tollgate_tests::fake_stripe::Failure::Hang),
        );
        for _ in 0..calls {
            assert_eq!(status(&call(&demo_client).await), "ok");
            assert_eq!(status(&call(&acme_client).await), "ok");
        }
        // acme's events all go out while demo's account hangs.
        until_count(
            app,
            &format!(
                "select count(*) from meter_outbox where status = 'sent' and tenant_id = '{}'",
                acme.id
            ),
            calls,
            std::time::Duration::from_secs(20),
        )
        .await;
        assert_eq!(
            scalar(
                app,
                "select count(*) from meter_outbox where status = 'sent'"
            )
            .await,
            calls,
            "none of demo's"
        );
        demo_client.cancel().await.expect("closes");
        acme_client.cancel().await.expect("closes");
    }
    // A replica dies mid-send; the account recovers; the claims lapse.
    cluster.replicas[1].crash_and_restart().await;
    let app = cluster.app();
    app.stripe.fail("POST /v1/billing/meter_events", None);
    app.clock.advance(chrono::Duration::seconds(61));
    for replica in &cluster.replicas {
        replica.state.billing.wake_meter_sender();
    }
    until_count(
        app,
        "select count(*) from meter_outbox where status = 'sent'",
        2 * calls,
        std::time::Duration::from_secs(60),
    )
    .await;
    let events = app.stripe.meter_events();
    let identifiers: std::collections::HashSet<&str> = events
        .iter()
        .filter_map(|e| e["identifier"].as_str())
        .collect();
    assert_eq!(
        usize::try_from(calls).expect("small"),
        identifiers.len(),
        "one meter event per paid call at Stripe: {events:?}"
    );
    assert_eq!(events.len(), identifiers.len(), "no duplicates: {events:?}");
}

/// A 2026-07-28 `tools/call` of the paid `TOOL` straight at one replica (Host: the front's);
/// returns what a client reads of it: `ok`, `error`, or the status the answer carries
/// (`payment_required`).
async fn paid_call_at(cluster: &Cluster, replica: usize, token: &str) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": TOOL, "arguments": {"slug": "akismet"}, "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}});
    let host = cluster.url.trim_start_matches("http://").to_owned();
    let response = cluster
        .app()
        .http()
        .post(format!("{}/t/demo/mcp", cluster.direct_url(replica)))
        .header("host", host)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", TOOL)
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_string())
        .send()
        .await
        .expect("the replica answers");
    assert_eq!(response.status(), 200, "replica {replica}");
    let answer: Value = response.json().await.expect("JSON");
    let result = &answer["result"];
    assert!(result.is_object(), "replica {replica}: {answer}");
    match result["structuredContent"]["status"].as_str() {
        Some(status) => status.to_owned(),
        None if result["isError"] == true => "error".to_owned(),
        None => "ok".to_owned(),
    }
}

/// Each replica remembers a token it looked up for a few seconds (`oauth/bearer.rs`): a
/// revocation (RFC 7009) at one replica must still be in force at once there and, through the
/// change notices, at the others.
#[tokio::test]
async fn a_token_revoked_at_one_replica_is_refused_there_at_once_and_at_the_others_within_a_second()
{
    if !on_postgres("a_token_revoked_at_one_replica") {
        return;
    }
    let cluster = Cluster::start(3, TestOptions::default()).await;
    let app = cluster.app();
    let client = OAuthClient::register(app, "demo").await;
    let tokens = client.sign_in().await;
    let token = tokens["access_token"].as_str().expect("token").to_owned();
    // Every replica has looked the token up, and remembers it.
    for _ in 0..2 {
        for replica in 0..3 {
            assert_eq!(tools_list_at(&cluster, replica, &token).await.0, 200);
        }
    }

    let host = cluster.url.trim_start_matches("http://").to_owned();
    let revoked = app
        .http()
        .post(format!("{}/t/demo/oauth/revoke", cluster.direct_url(0)))
        .header("host", host)
        .form(&[
            ("token", token.as_str()),
            ("client_id", client.client_id.as_str()),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        tools_list_at(&cluster, 0, &token).await.0,
        401,
        "refused at once where it was revoked"
    );
    let delay = in_force_at_the_others(|replica| {
        let cluster = &cluster;
        let token = &token;
        async move { tools_list_at(cluster, replica, token).await.0 == 401 }
    })
    .await;
    println!("token revocation in force at the other replicas after {delay:?}");
}

/// Each replica remembers a user's entitlement that counts nothing for a few seconds
/// (`billing/fast.rs`): a subscription ended by Stripe's webhook at one replica must end the
/// paid calls there at once and, through the change notices, at the others.
#[tokio::test]
async fn a_subscription_ended_by_webhook_at_one_replica_ends_paid_calls_at_every_replica() {
    if !on_postgres("a_subscription_ended_by_webhook") {
        return;
    }
    let cluster = Cluster::start(3, TestOptions::default()).await;
    let app = cluster.app();
    let secret = app.connect_stripe("demo").await;
    price(app, offer(OfferKind::Subscription)).await;
    let token = sign_in(app).await;
    assert_eq!(paid_call_at(&cluster, 0, &token).await, "payment_required");
    let session = crate::stripe::only_session(&app.stripe);
    let session_id = session["id"].as_str().expect("id");
    let paid = app.stripe.complete_session(session_id, "paid");
    let webhook = format!("{}/t/demo/webhooks/stripe", cluster.direct_url(0));
    let completed = app.stripe.event("checkout.session.completed", paid.clone());
    assert_eq!(
        app.stripe
            .deliver(&webhook, &completed, &secret)
            .await
            .status(),
        200
    );
    // Every replica runs paid calls on it, twice: the second from what it remembers.
    for _ in 0..2 {
        for replica in 0..3 {
            assert_eq!(paid_call_at(&cluster, replica, &token).await, "ok");
        }
    }

    let subscription_id = paid["subscription"].as_str().expect("subscription");
    app.stripe
        .set_subscription(subscription_id, "canceled", false);
    let deleted = app.stripe.event_at(
        "customer.subscription.deleted",
        app.stripe
            .subscription(subscription_id)
            .expect("subscription"),
        app.clock_now() + 60,
    );
    assert_eq!(
        app.stripe
            .deliver(&webhook, &deleted, &secret)
            .await
            .status(),
        200
    );
    assert_eq!(
        paid_call_at(&cluster, 0, &token).await,
        "payment_required",
        "ended at once where the webhook arrived"
    );
    let delay = in_force_at_the_others(|replica| {
        let cluster = &cluster;
        let token = &token;
        async move { paid_call_at(cluster, replica, token).await == "payment_required" }
    })
    .await;
    println!("subscription end in force at the other replicas after {delay:?}");
    for replica in &cluster.replicas {
        replica.state.billing.flush_usage().await;
    }
    assert_eq!(
        scalar(
            app,
            "select coalesce(sum(calls), 0) from usage where kind = 'paid'"
        )
        .await,
        6,
        "each of the six paid calls is recorded once"
    );
}
