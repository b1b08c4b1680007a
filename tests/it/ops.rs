//! `/healthz`, `/readyz`, `/metrics` and shutdown.

use rmcp::model::CallToolRequestParams;
use serde_json::json;
use std::time::Duration;
use tollgate_tests::{Era, TestApp};

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = app
            .http()
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.db.clone().close().await.expect("closed");
    let response = app
        .http()
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn metrics_count_tool_calls_by_tenant_tool_and_outcome() {
    let app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    let args = json!({"number": 2})
        .as_object()
        .cloned()
        .unwrap_or_default();
    for _ in 0..2 {
        client
            .call_tool(CallToolRequestParams::new("wporg_plugin_tags").with_arguments(args.clone()))
            .await
            .expect("tools/call");
    }
    let text = app
        .http()
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains(
            r#"tollgate_tool_calls_total{tenant="demo",tool="wporg_plugin_tags",outcome="ok"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"tollgate_upstream_cache_total{result="hit"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("tollgate_upstream_request_duration_seconds"),
        "{text}"
    );
    assert!(text.contains(r#"route="/t/{slug}/mcp""#), "{text}");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn shutdown_ends_open_sessions_and_returns() {
    let app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Sessions).await;
    client.list_all_tools().await.expect("tools/list");
    // A bound, not a synchronisation: a shutdown that hangs on the open session fails here.
    tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .expect("graceful shutdown finishes with a session open");
    drop(client);
}

/// When the database fails during authentication, MCP and admin clients get 503 with
/// `Retry-After` and keep their credentials, never 401 `invalid_token` (which makes clients
/// throw their tokens away and sign the user out).
#[tokio::test]
async fn a_database_failure_during_authentication_answers_503_not_401() {
    let app = TestApp::spawn().await;
    app.require_sign_in("demo").await;
    let client = tollgate_tests::browser::OAuthClient::register(&app, "demo").await;
    let tokens = client.sign_in().await;
    let access = tokens["access_token"].as_str().expect("token").to_owned();
    // A second token, never used before the failure: each process remembers a token it has
    // checked for a few seconds, so only an unseen one must reach the database.
    let unseen = client.sign_in().await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let owner = app.first_operator().await;
    let made = owner
        .post("/api/v1/tokens", serde_json::json!({"name": "ci"}))
        .await;
    let api = owner.with_token(made.body["token"].as_str().expect("shown once"));
    let body =
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}})
        .to_string();
    let auth = format!("Bearer {access}");
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
        ("authorization", auth.as_str()),
    ];
    // Working: the tenant is now in the MCP endpoint's memory.
    assert_eq!(app.post_mcp("demo", &body, &headers).await.status(), 200);
    assert_eq!(api.get("/api/v1/tenants").await.status, 200);

    // The database goes away.
    app.state.db.close_by_ref().await.expect("the pool closes");
    let unseen = format!("Bearer {unseen}");
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
        ("authorization", unseen.as_str()),
    ];
    let mcp = app.post_mcp("demo", &body, &headers).await;
    assert_eq!(mcp.status(), 503);
    assert!(
        mcp.headers().get("retry-after").is_some(),
        "{:?}",
        mcp.headers()
    );
    assert!(
        mcp.headers().get("www-authenticate").is_none(),
        "not a token problem"
    );
    let admin = api.get("/api/v1/tenants").await;
    assert_eq!(admin.status, 503, "{:?}", admin.body);
    assert_eq!(admin.body["error"]["code"], "unavailable");
    assert!(admin.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn metrics_need_their_bearer_token_when_one_is_configured() {
    let app = TestApp::spawn_with(tollgate_tests::TestOptions {
        extra: vec![("TOLLGATE_METRICS_TOKEN".into(), "metrics-s3cret".into())],
        ..tollgate_tests::TestOptions::default()
    })
    .await;
    let url = format!("{}/metrics", app.url);
    let anonymous = app.http().get(&url).send().await.expect("answer");
    assert_eq!(anonymous.status(), 401);
    let wrong = app
        .http()
        .get(&url)
        .bearer_auth("guess")
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 401);
    let right = app
        .http()
        .get(&url)
        .bearer_auth("metrics-s3cret")
        .send()
        .await
        .expect("answer");
    assert_eq!(right.status(), 200);
    assert!(right.text().await.expect("text").contains("tollgate_"));
}

#[tokio::test]
async fn production_sends_hsts_and_hides_metrics_without_a_token() {
    let app = TestApp::spawn_with(tollgate_tests::TestOptions {
        extra: vec![("TOLLGATE_MODE".into(), "production".into())],
        ..tollgate_tests::TestOptions::default()
    })
    .await;
    let health = app
        .http()
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        health
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
    let metrics = app
        .http()
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(metrics.status(), 404);
    // Development over plain http: no HSTS.
    let dev = TestApp::spawn().await;
    let plain = dev
        .http()
        .get(format!("{}/healthz", dev.url))
        .send()
        .await
        .expect("answer");
    assert!(plain.headers().get("strict-transport-security").is_none());
}
