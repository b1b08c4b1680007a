//! `bench_peers`: the servers `scripts/bench` drives from outside with `wrk`. Starts the fake
//! WordPress.org (the fast upstream), Tollgate on it (embedded SQLite, or the database named by
//! `TOLLGATE_TEST_DATABASE`), a bare axum JSON-RPC echo (the ceiling) and a relay (the echo
//! plus one upstream GET: the floor of an uncached call); prices the demo's
//! `wporg_query_plugins` with an unlimited sandbox plan and buys it for one signed-in user. Prints one JSON line with the URLs and that user's token, then serves
//! until its standard input closes.

use anyhow::Context;
use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use std::io::Read;
use tollgate::wordpress::Operation;
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::{TestApp, TestOptions};

/// The allocator of the `tollgate` binary (see its `main.rs`), so that Tollgate is measured as
/// it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The ceiling: axum parsing a JSON-RPC request and answering a JSON-RPC result.
async fn start_echo() -> anyhow::Result<String> {
    async fn echo(Json(request): Json<Value>) -> Json<Value> {
        Json(json!({"jsonrpc": "2.0", "id": request["id"], "result": {"echo": request["params"]}}))
    }
    serve_rpc(axum::Router::new().route("/rpc", post(echo))).await
}

/// Serves `router` on a free loopback port, in the background; its `/rpc` URL.
async fn serve_rpc(router: axum::Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/rpc", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(url)
}

/// The floor of an uncached call: the echo plus one GET to the fast upstream, with the same
/// crates (axum serving, reqwest fetching) and nothing of MCP. It takes the call's
/// `arguments.search`, asks the upstream the TS SDK peer's theme search (5 themes), and answers
/// the upstream's body as one text content. No server built on axum and reqwest answers a call
/// that reaches the upstream for less than this costs.
async fn start_relay(upstream: &str) -> anyhow::Result<String> {
    #[derive(Clone)]
    struct Relay {
        http: reqwest::Client,
        themes: String,
    }
    async fn relay(
        axum::extract::State(relay): axum::extract::State<Relay>,
        Json(request): Json<Value>,
    ) -> Json<Value> {
        let search = request["params"]["arguments"]["search"]
            .as_str()
            .unwrap_or_default();
        let answer = async {
            let response = relay
                .http
                .get(&relay.themes)
                .query(&[
                    ("action", "query_themes"),
                    ("request[search]", search),
                    ("request[per_page]", "5"),
                ])
                .send()
                .await?
                .error_for_status()?;
            response.text().await
        }
        .await;
        let result = match answer {
            Ok(text) => json!({"content": [{"type": "text", "text": text}], "isError": false}),
            Err(error) => {
                json!({"content": [{"type": "text", "text": error.to_string()}], "isError": true})
            }
        };
        Json(json!({"jsonrpc": "2.0", "id": request["id"], "result": result}))
    }
    let state = Relay {
        http: reqwest::Client::new(),
        themes: format!("{}/themes/info/1.2/", upstream.trim_end_matches('/')),
    };
    serve_rpc(
        axum::Router::new()
            .route("/rpc", post(relay))
            .with_state(state),
    )
    .await
}

/// A raw 2026-07-28 `tools/call` of `wporg_query_themes` at `slug`, with `token` when given.
async fn call_themes(app: &TestApp, slug: &str, token: &str) -> anyhow::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "wporg_query_plugins", "arguments": {"search": "blog", "per_page": 5},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}});
    let auth = format!("Bearer {token}");
    let response = app
        .post_mcp(
            slug,
            &body.to_string(),
            &[
                ("authorization", &auth),
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "wporg_query_plugins"),
            ],
        )
        .await;
    anyhow::ensure!(response.status() == 200, "HTTP {}", response.status());
    Ok(response.json().await?)
}

/// Prices the demo's `wporg_query_plugins` (unlimited use for one payment), signs a user in,
/// pays in the sandbox, and returns the user's token, checked to be entitled.
async fn entitled_user(app: &TestApp) -> anyhow::Result<String> {
    let tenant = app.state.tenants.get_tenant_by_slug("demo").await?;
    let offer = app
        .state
        .billing
        .create_offer(
            tenant.id,
            tollgate::billing::NewOffer {
                name: "Unlimited themes".into(),
                kind: tollgate::billing::OfferKind::OneTime,
                price_id: "sandbox_unlimited".into(),
                amount: 900,
                currency: "usd".into(),
                interval: None,
                calls: None,
                meter_event: None,
                meter_value: None,
                free_quota: None,
                spend_cap: None,
                payment_reason: None,
                success_url: None,
                past_due_grace_days: None,
            },
        )
        .await?;
    let tools = app.state.tenants.list_tools(tenant.id).await?;
    let themes = tools
        .iter()
        .find(|t| t.operation == Operation::QueryPlugins)
        .context("the demo has the plugin search")?;
    app.state
        .billing
        .price_tool(&app.state.tenants, tenant.id, themes.id, Some(offer.id))
        .await?;
    let tokens = OAuthClient::register(app, "demo").await.sign_in().await;
    let token = tokens["access_token"]
        .as_str()
        .context("an access token")?
        .to_owned();

    let first = call_themes(app, "demo", &token).await?;
    let pay_url = first["result"]["structuredContent"]["checkout_url"]
        .as_str()
        .with_context(|| format!("a payment link: {first}"))?
        .to_owned();
    let page = app.http().get(&pay_url).send().await?.text().await?;
    let checkout = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("a checkout link on the payment page")?
        .replace("&amp;", "&");
    // The checkout's form is bound to the browser that loaded it: pay as one browser does.
    let paid = tollgate_tests::browser::Browser::new()
        .pay_sandbox_checkout(&checkout)
        .await;
    anyhow::ensure!(paid.status == 200, "sandbox payment: HTTP {}", paid.status);
    let after = call_themes(app, "demo", &token).await?;
    anyhow::ensure!(
        after["result"]["isError"] == false,
        "the entitled call failed: {after}"
    );
    Ok(token)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(TestOptions {
        // The limits still count every request (their cost is part of the figure) but never
        // refuse one: the load comes from one address and a few users.
        extra: vec![
            ("TOLLGATE_LIMIT_MCP_ADDRESS".into(), "1000000000/60".into()),
            ("TOLLGATE_LIMIT_MCP_USER".into(), "1000000000/60".into()),
        ],
        ..TestOptions::default()
    })
    .await;
    let echo = start_echo().await?;
    let relay = start_relay(&app.wporg.url).await?;
    let token = entitled_user(&app).await?;
    println!(
        "{}",
        json!({
            "tollgate": app.url,
            "echo": echo,
            "relay": relay,
            "upstream": app.wporg.url,
            "token": token,
        })
    );
    // Serve until whoever started us closes our standard input (or dies).
    tokio::task::spawn_blocking(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while stdin.read(&mut sink).unwrap_or(0) > 0 {}
    })
    .await?;
    eprintln!(
        "bench_peers: {} upstream requests in all",
        app.wporg.total_hits()
    );
    app.stop().await;
    Ok(())
}
