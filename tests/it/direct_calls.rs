//! `/t/{slug}/mcp`: plain calls of WordPress.org tools answered without rmcp (the direct path,
//! `TOLLGATE_DIRECT_CALLS`) answer exactly what rmcp answers, in both protocol eras, and every
//! refusal of the full path still comes out.

use serde_json::{Value, json};
use tollgate::wordpress::Operation;
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::{TestApp, TestOptions};

const MODERN: &str = "2026-07-28";
const LEGACY: &str = "2025-11-25";

/// How requests are sent: 2026-07-28 requests that carry their version, or a 2025 session.
#[derive(Clone, Copy, Debug)]
enum Era {
    Modern,
    Session,
}

/// One app and how this test talks to it.
struct Endpoint {
    app: TestApp,
    era: Era,
    /// The 2025 session's id.
    session: Option<String>,
    /// A signed-in user's bearer token, when the calls carry one.
    token: Option<String>,
}

impl Endpoint {
    async fn start(direct: bool, era: Era, options: TestOptions) -> Self {
        let mut options = options;
        options
            .extra
            .push(("TOLLGATE_DIRECT_CALLS".into(), direct.to_string()));
        let app = TestApp::spawn_with(options).await;
        let mut endpoint = Self {
            app,
            era,
            session: None,
            token: None,
        };
        endpoint.open_session().await;
        endpoint
    }

    /// Signs a user in; the calls (and the session, opened again) carry the token from now on.
    async fn sign_in(&mut self) {
        let tokens = OAuthClient::register(&self.app, "demo")
            .await
            .sign_in()
            .await;
        self.token = tokens["access_token"].as_str().map(str::to_owned);
        self.open_session().await;
    }

    async fn open_session(&mut self) {
        if !matches!(self.era, Era::Session) {
            return;
        }
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": LEGACY, "capabilities": {},
            "clientInfo": {"name": "it", "version": "1"}}});
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.as_str()));
        }
        let response = self.app.post_mcp("demo", &init.to_string(), &headers).await;
        assert_eq!(response.status(), 200);
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_owned();
        headers.push(("mcp-session-id", session.as_str()));
        headers.push(("mcp-protocol-version", LEGACY));
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = self
            .app
            .post_mcp("demo", &initialized.to_string(), &headers)
            .await;
        assert_eq!(response.status(), 202);
        self.session = Some(session);
    }

    /// A `tools/call` of `tool` with `arguments` (`Value::Null`: none) and the `mcp-name`
    /// header `name_header`: the HTTP status and the body as sent.
    async fn call_named(
        &self,
        id: u64,
        tool: &str,
        arguments: Value,
        name_header: &str,
    ) -> (u16, String) {
        let mut params = json!({"name": tool});
        if !arguments.is_null() {
            params["arguments"] = arguments;
        }
        let mut headers: Vec<(&str, String)> = vec![];
        match self.era {
            Era::Modern => {
                params["_meta"] = json!({
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities": {},
                });
                headers.push(("mcp-protocol-version", MODERN.to_owned()));
                headers.push(("mcp-method", "tools/call".to_owned()));
                headers.push(("mcp-name", name_header.to_owned()));
            }
            Era::Session => {
                // A new progress token with every request, as rmcp's client sends.
                params["_meta"] = json!({"progressToken": id});
                headers.push(("mcp-protocol-version", LEGACY.to_owned()));
                headers.push(("mcp-session-id", self.session.clone().expect("a session")));
            }
        }
        if let Some(token) = &self.token {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let response = self.app.post_mcp("demo", &body.to_string(), &headers).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }

    async fn call(&self, id: u64, tool: &str, arguments: Value) -> (u16, String) {
        self.call_named(id, tool, arguments, tool).await
    }

    /// How many calls the direct path answered.
    async fn direct_answers(&self) -> u64 {
        self.answers_by("direct").await
    }

    /// How many calls were answered by `path` (`direct`, `replayed`, `rmcp`).
    async fn answers_by(&self, path: &str) -> u64 {
        let prefix = format!(r#"tollgate_tool_call_paths_total{{path="{path}"}} "#);
        let text = self
            .app
            .http()
            .get(format!("{}/metrics", self.app.url))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .map_or(0, |count| count.trim().parse().expect("a count"))
    }
}

fn parsed(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
}

/// For each tool: a first call (its shape is new, so rmcp answers it at both apps), then the
/// calls compared, each with arguments not called before (nothing replayed).
fn calls() -> Vec<(&'static str, Value, Vec<Value>)> {
    vec![
        (
            "wporg_query_themes",
            json!({"search": "blog 1", "per_page": 5}),
            vec![
                json!({"search": "blog 2", "per_page": 5}),
                json!({"search": "twenty", "per_page": 2}),
                json!({"tag": ["full-site-editing", "blog"], "per_page": 3}),
                // Invalid: answered as a tool error.
                json!({"serch": "blog"}),
            ],
        ),
        (
            "wporg_theme_info",
            json!({"slug": "astra"}),
            vec![
                json!({"slug": "kadence", "fields": ["versions", "tags"]}),
                json!({"slug": "no-such-theme"}),
            ],
        ),
        (
            "wporg_query_plugins",
            json!({"search": "cache"}),
            vec![json!({"search": "seo", "per_page": 1})],
        ),
        (
            "wporg_plugin_info",
            json!({"slug": "akismet"}),
            vec![json!({"slugs": ["jetpack", "no-such-plugin"]})],
        ),
        ("wporg_theme_tags", json!({"number": 3}), vec![json!({})]),
    ]
}

async fn direct_answers_equal_rmcp_answers(era: Era) {
    let direct = Endpoint::start(true, era, TestOptions::default()).await;
    let through_rmcp = Endpoint::start(false, era, TestOptions::default()).await;
    let mut id = 10;
    let mut compared = 0;
    for (tool, first, others) in calls() {
        for endpoint in [&direct, &through_rmcp] {
            let (status, body) = endpoint.call(id, tool, first.clone()).await;
            assert_eq!(status, 200, "{tool}: {body}");
        }
        for arguments in others {
            id += 1;
            let (direct_status, direct_body) = direct.call(id, tool, arguments.clone()).await;
            let (status, body) = through_rmcp.call(id, tool, arguments.clone()).await;
            assert_eq!(
                (direct_status, parsed(&direct_body)),
                (status, parsed(&body)),
                "{era:?} {tool} {arguments}"
            );
            assert_eq!(
                direct_body, body,
                "byte for byte: {era:?} {tool} {arguments}"
            );
            compared += 1;
        }
    }
    assert_eq!(direct.direct_answers().await, compared);
    assert_eq!(through_rmcp.direct_answers().await, 0);
    // Each era's form: `resultType` only from 2026-07-28 on.
    let last = parsed(&direct.call(99, "wporg_theme_tags", json!({})).await.1);
    match era {
        Era::Modern => assert_eq!(last["result"]["resultType"], "complete", "{last}"),
        Era::Session => assert!(last["result"].get("resultType").is_none(), "{last}"),
    }
}

#[tokio::test]
async fn direct_answers_equal_rmcp_answers_in_2026_requests() {
    direct_answers_equal_rmcp_answers(Era::Modern).await;
}

#[tokio::test]
async fn direct_answers_equal_rmcp_answers_in_a_2025_session() {
    direct_answers_equal_rmcp_answers(Era::Session).await;
}

#[tokio::test]
async fn refusals_still_come_out_once_a_shape_is_answered_directly() {
    let direct = Endpoint::start(true, Era::Modern, TestOptions::default()).await;
    let (status, _) = direct
        .call(1, "wporg_query_themes", json!({"search": "blog"}))
        .await;
    assert_eq!(status, 200);
    let (status, body) = direct
        .call(2, "wporg_query_themes", json!({"search": "kadence"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        direct.direct_answers().await,
        1,
        "the shape is answered directly"
    );
    let hits = direct.app.wporg.total_hits();

    // Arguments that are not an object.
    let (status, body) = direct.call(3, "wporg_query_themes", json!("blog")).await;
    let body = parsed(&body);
    assert!(
        status != 200 || body.get("error").is_some(),
        "{status} {body}"
    );

    // A name header that contradicts the body.
    let (status, body) = direct
        .call_named(
            4,
            "wporg_query_themes",
            json!({"search": "astra"}),
            "wporg_theme_tags",
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(parsed(&body)["error"]["code"], -32020, "{body}");

    // An unknown tool.
    let (status, body) = direct
        .call(5, "wporg_no_such_tool", json!({"search": "astra"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(parsed(&body)["error"]["code"], -32602, "{body}");

    // A tool switched off after its shape was answered directly.
    let tenant = direct.app.tenant("demo").await;
    direct
        .app
        .switch_off(tenant.id, Operation::QueryThemes)
        .await;
    let (status, body) = direct
        .call(6, "wporg_query_themes", json!({"search": "oceanwp"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(parsed(&body)["error"]["code"], -32602, "{body}");

    assert_eq!(direct.app.wporg.total_hits(), hits, "no refused call ran");
    assert_eq!(direct.direct_answers().await, 1);
}

#[tokio::test]
async fn a_paid_tool_counts_its_free_calls_then_asks_for_payment_as_before() {
    let priced = TestOptions {
        demo_pricing: true,
        ..TestOptions::default()
    };
    let mut direct = Endpoint::start(true, Era::Modern, priced).await;
    direct.sign_in().await;
    let args = |n: u64| json!({"slug": "akismet", "limit": n});
    // The month's 3 free calls are counted by the full path's reservation, one by one.
    for id in 1..=3 {
        let (status, body) = direct.call(id, "wporg_plugin_downloads", args(id)).await;
        assert_eq!(status, 200, "{body}");
        let body = parsed(&body);
        assert_eq!(body["result"]["isError"], false, "free call {id}: {body}");
    }
    for id in 4..=6 {
        let (status, body) = direct.call(id, "wporg_plugin_downloads", args(id)).await;
        assert_eq!(status, 200, "{body}");
        let body = parsed(&body);
        assert_eq!(
            body["result"]["structuredContent"]["status"], "payment_required",
            "call {id}: {body}"
        );
    }
    assert_eq!(direct.app.wporg.total_hits(), 3, "only the free calls ran");
    assert_eq!(direct.direct_answers().await, 0);
}

/// The hot call: a call asked again is answered from the answer remembered, with its own id (in
/// a 2025 session, with its own progress token too); other arguments are not.
async fn a_call_asked_again_is_answered_again_with_its_own_id(era: Era) {
    let endpoint = Endpoint::start(true, era, TestOptions::default()).await;
    let arguments = json!({"search": "portfolio", "per_page": 3});
    let (status, first) = endpoint
        .call(1, "wporg_query_themes", arguments.clone())
        .await;
    assert_eq!(status, 200, "{first}");
    let first = parsed(&first);
    assert!(first["result"]["content"][0]["text"].is_string(), "{first}");
    // Kept once it is asked a second time, answered from memory from the third on. A rebuilt
    // tenant snapshot makes a new key and starts that over (on PostgreSQL the app also hears
    // its own start-up's configuration notices, a moment later; and a snapshot lives 5 s),
    // hence a few more tries.
    let mut id = 1;
    while endpoint.answers_by("replayed").await == 0 {
        id += 1;
        assert!(id <= 10, "no call was answered from memory");
        let (status, body) = endpoint
            .call(id, "wporg_query_themes", arguments.clone())
            .await;
        assert_eq!(status, 200, "{body}");
        let body = parsed(&body);
        assert_eq!(body["id"], id, "{body}");
        assert_eq!(body["result"], first["result"], "call {id}");
    }
    let replayed = endpoint.answers_by("replayed").await;
    let (status, other) = endpoint
        .call(
            id + 1,
            "wporg_query_themes",
            json!({"search": "portfolio", "per_page": 2}),
        )
        .await;
    assert_eq!(status, 200, "{other}");
    let other = parsed(&other);
    assert_ne!(other["result"], first["result"], "{other}");
    assert_eq!(
        endpoint.answers_by("replayed").await,
        replayed,
        "other arguments"
    );
}

#[tokio::test]
async fn a_call_asked_again_is_answered_again_in_2026_requests() {
    a_call_asked_again_is_answered_again_with_its_own_id(Era::Modern).await;
}

#[tokio::test]
async fn a_call_asked_again_is_answered_again_in_a_2025_session() {
    a_call_asked_again_is_answered_again_with_its_own_id(Era::Session).await;
}
