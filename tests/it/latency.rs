//! Latency a client sees on one kept-alive connection: a session's answers do not wait for
//! the client's delayed ACK (issue 11: about 40 ms per call before `TCP_NODELAY`).

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tollgate_tests::TestApp;

/// Calls measured after the warm-up call.
const CALLS: usize = 40;

/// The stall this guards against is a 40 ms delayed ACK on every call; a median under this
/// bound cannot include it, while a loaded two-core machine stays far below it.
const MEDIAN_BOUND: Duration = Duration::from_millis(30);

/// The first non-empty `data:` line of an SSE answer (the stream opens with an empty priming
/// event), or the body itself when it is JSON.
fn json_of(body: &str) -> Value {
    let data = body
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .find(|data| !data.is_empty())
        .unwrap_or(body);
    serde_json::from_str(data).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test]
async fn a_session_tool_call_on_a_kept_alive_connection_does_not_stall() {
    let app = TestApp::spawn().await;
    // One connection, reused for every request, as real clients and wrk do.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("client");
    let url = app.mcp_url("demo");
    let post = |body: Value, session: Option<String>| {
        let mut request = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.send()
    };

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "latency", "version": "1"}}});
    let response = post(init, None).await.expect("initialize");
    assert_eq!(response.status(), 200);
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("a session id")
        .to_owned();
    response.bytes().await.expect("initialize body");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = post(initialized, Some(session.clone()))
        .await
        .expect("initialized");
    assert_eq!(response.status(), 202);

    let call = |id: usize| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "wporg_query_themes", "arguments": {"search": "blog", "per_page": 3}}})
    };
    let mut latencies = Vec::with_capacity(CALLS);
    // The first call fills the upstream cache; the measured ones are all cached.
    for id in 0..=CALLS {
        let started = Instant::now();
        let response = post(call(id + 2), Some(session.clone()))
            .await
            .expect("tools/call");
        assert_eq!(response.status(), 200);
        let body = response.text().await.expect("body");
        let elapsed = started.elapsed();
        let answer = json_of(&body);
        assert_eq!(answer["result"]["isError"], false, "{answer}");
        assert!(
            answer["result"]["structuredContent"]["themes"].is_array(),
            "{answer}"
        );
        if id > 0 {
            latencies.push(elapsed);
        }
    }
    assert_eq!(app.wporg.total_hits(), 1, "later calls come from the cache");
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    eprintln!("session tools/call on one kept-alive connection: median {median:?}");
    assert!(
        median < MEDIAN_BOUND,
        "median {median:?} per session tools/call on one connection (all: {latencies:?})"
    );
}
