//! `/t/{slug}/mcp`: both protocol eras, the HTTP guards, and tenant isolation.

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use serde_json::{Value, json};
use tollgate::tenant::ToolPatch;
use tollgate::wordpress::Operation;
use tollgate_tests::{Era, TestApp};

const MODERN: &str = "2026-07-28";

/// A 2026-07-28 request body and the headers that must accompany it.
fn modern(method: &str, params: Value) -> (String, Vec<(&'static str, String)>) {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "1"},
    });
    let mut headers = vec![
        ("mcp-protocol-version", MODERN.to_owned()),
        ("mcp-method", method.to_owned()),
    ];
    if let Some(name) = params.get("name").and_then(Value::as_str) {
        headers.push(("mcp-name", name.to_owned()));
    }
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    (body.to_string(), headers)
}

async fn post_modern(app: &TestApp, slug: &str, method: &str, params: Value) -> (u16, Value) {
    let (body, headers) = modern(method, params);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = app.post_mcp(slug, &body, &headers).await;
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn default_names() -> Vec<String> {
    Operation::ALL
        .iter()
        .map(|op| op.default_name().to_owned())
        .collect()
}

#[tokio::test]
async fn session_client_lists_the_demo_pack_in_stable_order() {
    let app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Sessions).await;
    let info = client.peer_info().expect("initialized");
    let server = info.server_info.as_ref().expect("server info");
    assert_eq!(server.name, "tollgate");
    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, default_names());
    for tool in &tools {
        assert_eq!(
            tool.input_schema.get("type"),
            Some(&json!("object")),
            "{}",
            tool.name
        );
        let output = tool.output_schema.as_ref().expect("an output schema");
        assert_eq!(output.get("type"), Some(&json!("object")), "{}", tool.name);
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.read_only_hint, Some(true));
        assert_eq!(annotations.open_world_hint, Some(true));
        assert!(tool.title.is_some() && tool.description.is_some());
    }
    // Asking twice gives the same order.
    let again = client.list_all_tools().await.expect("tools/list");
    assert_eq!(again, tools);
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn stateless_client_discovers_and_calls_a_tool() {
    let app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert_eq!(tools.len(), Operation::ALL.len());
    let result = client
        .call_tool(
            CallToolRequestParams::new("wporg_theme_tags").with_arguments(
                json!({"number": 3})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("tools/call");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert!(result.structured_content.is_some());
    assert_eq!(app.wporg.hits("/themes/info/1.2/"), 1);
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn server_discover_answers_versions_and_cache_hints() {
    let app = TestApp::spawn().await;
    let (status, body) = post_modern(&app, "demo", "server/discover", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    let versions = result["supportedVersions"].as_array().expect("versions");
    assert!(versions.contains(&json!(MODERN)), "{versions:?}");
    assert!(versions.contains(&json!("2025-06-18")), "{versions:?}");
    assert!(result["capabilities"]["tools"].is_object(), "{result}");
    assert!(result["ttlMs"].is_u64(), "{result}");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "tollgate"
    );
}

#[tokio::test]
async fn stateless_tools_list_carries_result_type_and_cache_hints() {
    let app = TestApp::spawn().await;
    let (status, body) = post_modern(&app, "demo", "tools/list", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 30_000);
    assert_eq!(result["cacheScope"], "public");
    assert_eq!(
        result["tools"].as_array().map(Vec::len),
        Some(Operation::ALL.len())
    );
}

#[tokio::test]
async fn a_name_header_that_contradicts_the_body_is_refused_before_the_tool_runs() {
    let app = TestApp::spawn().await;
    let (body, _) = modern(
        "tools/call",
        json!({"name": "wporg_theme_tags", "arguments": {}}),
    );
    let response = app
        .post_mcp(
            "demo",
            &body,
            &[
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/call"),
                ("mcp-name", "wporg_plugin_tags"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], -32020, "{body}");
    assert_eq!(body["id"], 7, "errors carry the request id: {body}");
    assert_eq!(app.wporg.total_hits(), 0, "the tool must not have run");
}

#[tokio::test]
async fn batches_and_non_objects_are_refused_before_anything_runs() {
    let app = TestApp::spawn().await;
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "wporg_theme_tags", "arguments": {}}});
    for body in [
        json!([call.clone(), call]).to_string(),
        "42".into(),
        "\"x\"".into(),
        "null".into(),
    ] {
        let response = app.post_mcp("demo", &body, &[]).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.expect("json");
        assert_eq!(answer["error"]["code"], -32600, "{body}: {answer}");
    }
    assert_eq!(app.wporg.total_hits(), 0);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = TestApp::spawn().await;
    let padding = "x".repeat(2 << 20);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": padding}});
    let response = app.post_mcp("demo", &body.to_string(), &[]).await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn a_foreign_origin_or_host_is_forbidden() {
    let app = TestApp::spawn().await;
    let (body, headers) = modern("tools/list", json!({}));
    let mut with_origin: Vec<(&str, &str)> =
        headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    with_origin.push(("origin", "https://evil.example"));
    let response = app.post_mcp("demo", &body, &with_origin).await;
    assert_eq!(response.status(), 403);

    let mut with_host: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    with_host.push(("host", "evil.example"));
    let response = app.post_mcp("demo", &body, &with_host).await;
    assert_eq!(response.status(), 403);

    // Our own origin passes.
    let mut own: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    own.push(("origin", app.url.as_str()));
    let response = app.post_mcp("demo", &body, &own).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_unknown_tenant_is_404() {
    let app = TestApp::spawn().await;
    let (status, _) = post_modern(&app, "nobody-here", "tools/list", json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = post_modern(&app, "Bad_Slug", "tools/list", json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_unknown_tool_is_a_protocol_error() {
    let app = TestApp::spawn().await;
    let (status, body) = post_modern(
        &app,
        "demo",
        "tools/call",
        json!({"name": "no_such_tool", "arguments": {}}),
    )
    .await;
    assert!(status == 200 || status == 400, "{status} {body}");
    assert_eq!(body["error"]["code"], -32602, "{body}");
}

#[tokio::test]
async fn a_tenant_sees_and_calls_only_its_own_tools() {
    let app = TestApp::spawn().await;
    let acme = app
        .state
        .tenants
        .create_tenant("acme", "Acme")
        .await
        .expect("created");
    app.state
        .tenants
        .add_tool(acme.id, Operation::PluginTags, "plugin_tags")
        .await
        .expect("added");

    let client = app.mcp_client("acme", Era::Sessions).await;
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, vec!["plugin_tags".to_owned()]);
    let error = client
        .call_tool(CallToolRequestParams::new("wporg_theme_tags"))
        .await
        .expect_err("demo's tool is not acme's");
    assert!(error.to_string().contains("unknown tool"), "{error}");
    assert_eq!(app.wporg.total_hits(), 0);
    client.cancel().await.expect("closes");

    // And demo does not see acme's tool.
    let (_, body) = post_modern(
        &app,
        "demo",
        "tools/call",
        json!({"name": "plugin_tags", "arguments": {}}),
    )
    .await;
    assert_eq!(body["error"]["code"], -32602, "{body}");
}

#[tokio::test]
async fn a_session_minted_at_one_tenant_is_unknown_at_another() {
    let app = TestApp::spawn().await;
    app.state
        .tenants
        .create_tenant("acme", "Acme")
        .await
        .expect("created");
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "it", "version": "1"}}});
    let response = app.post_mcp("demo", &init.to_string(), &[]).await;
    assert_eq!(response.status(), 200);
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("a session id")
        .to_owned();
    assert!(session.bytes().all(|b| (0x21..=0x7e).contains(&b)));

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let at_acme = app.post_mcp("acme", &list, &headers).await;
    assert_eq!(at_acme.status(), 404);
}

#[tokio::test]
async fn a_configuration_change_is_served_without_a_restart() {
    let app = TestApp::spawn().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    let before = client.list_all_tools().await.expect("tools/list");
    assert_eq!(before[0].name, "wporg_query_themes");

    let demo = app.tenant("demo").await;
    let tools = app.state.tenants.list_tools(demo.id).await.expect("tools");
    let themes = tools
        .iter()
        .find(|t| t.operation == Operation::QueryThemes)
        .expect("present");
    let patch = ToolPatch {
        name: Some(tollgate::tenant::ToolName::parse("search_themes").expect("valid")),
        description: Some(Some("Find a theme.".into())),
        ..ToolPatch::default()
    };
    app.state
        .tenants
        .update_tool(demo.id, themes.id, patch, None)
        .await
        .expect("updated");
    app.switch_off(demo.id, Operation::QueryPlugins).await;

    // A new client: the first one may keep its list for the advertised ttlMs.
    client.cancel().await.expect("closes");
    let client = app.mcp_client("demo", Era::Stateless).await;
    let after = client.list_all_tools().await.expect("tools/list");
    assert_eq!(after[0].name, "search_themes");
    assert_eq!(after[0].description.as_deref(), Some("Find a theme."));
    assert!(after.iter().all(|t| t.name != "wporg_query_plugins"));
    assert_eq!(after.len(), before.len() - 1);
    let error = client
        .call_tool(CallToolRequestParams::new("wporg_query_plugins"))
        .await
        .expect_err("a disabled tool cannot be called");
    assert!(error.to_string().contains("unknown tool"), "{error}");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn an_unsupported_protocol_version_is_refused() {
    let app = TestApp::spawn().await;
    let (body, _) = modern("tools/list", json!({}));
    let body = body.replace(MODERN, "2099-01-01");
    let response = app
        .post_mcp(
            "demo",
            &body,
            &[
                ("mcp-protocol-version", "2099-01-01"),
                ("mcp-method", "tools/list"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(ProtocolVersion::KNOWN_VERSIONS.len() >= 4);
}

/// One HTTP/1.1 exchange on a kept-alive raw connection: the head (lower-cased) and the body,
/// or `None` when the server closed the connection instead of answering.
async fn exchange(stream: &mut tokio::net::TcpStream, request: &str) -> Option<(String, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return Some((head, seen[end + 4..end + 4 + length].to_vec()));
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
        }
    }
}

fn post(app: &TestApp, path: &str, headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        app.addr,
        body.len()
    )
}

/// A refusal decided before the request's body is read (a bad token, a foreign origin, a
/// signed-out admin write) says `Connection: close`: HTTP/1.1 cannot carry another request on
/// that connection, and a client reusing it would see it drop without an answer. Answers that
/// read the body keep the connection for the next request.
#[tokio::test]
async fn a_refusal_before_the_body_is_read_tells_the_client_to_close_the_connection() {
    let app = TestApp::spawn().await;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let modern = "Mcp-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n";

    // Read bodies: two answers on one connection.
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connects");
    for i in 0..2 {
        let (head, _) = exchange(&mut stream, &post(&app, "/t/demo/mcp", modern, list))
            .await
            .unwrap_or_else(|| panic!("answer {i} on a kept-alive connection"));
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
    }

    let refusals = [
        (
            "/t/demo/mcp",
            format!("{modern}Authorization: Bearer not-a-token\r\n"),
            "http/1.1 401",
        ),
        (
            "/t/demo/mcp",
            format!("{modern}Origin: https://evil.example\r\n"),
            "http/1.1 403",
        ),
        ("/api/v1/tenants", String::new(), "http/1.1 401"),
    ];
    for (path, headers, status) in refusals {
        let mut stream = tokio::net::TcpStream::connect(app.addr)
            .await
            .expect("connects");
        let (head, _) = exchange(&mut stream, &post(&app, path, &headers, list))
            .await
            .unwrap_or_else(|| panic!("{path}: an answer"));
        assert!(head.starts_with(status), "{path}: {head}");
        assert!(head.contains("connection: close"), "{path}: {head}");
        // And the server does close it.
        assert!(
            exchange(&mut stream, &post(&app, "/t/demo/mcp", modern, list))
                .await
                .is_none(),
            "{path}: the connection is closed"
        );
    }
}
