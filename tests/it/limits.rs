//! Rate limits through the real server: the operator sign-in throttle across replicas, the
//! client address behind trusted and untrusted peers, each limit's 429 with `Retry-After` and
//! its recovery when the window passes (the clock is moved, never waited for), and concurrent
//! requests over two replicas never getting more than the limit through.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tollgate_tests::admin::PASSWORD;
use tollgate_tests::browser::{OAuthClient, Pkce};
use tollgate_tests::{TestApp, TestOptions};

/// The window every test limit uses, in seconds.
const WINDOW: i64 = 600;

fn with_limits(limits: &[(&str, &str)]) -> TestOptions {
    let mut extra: Vec<(String, String)> = limits
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    // The test client plays the load balancer: `X-Forwarded-For` picks each request's address.
    extra.push(("TOLLGATE_TRUSTED_PROXIES".into(), "127.0.0.1/32".into()));
    TestOptions {
        extra,
        ..TestOptions::default()
    }
}

/// Moves the clock to the first second of a fresh window, so that no window ends while a test
/// counts.
fn start_fresh_window(app: &TestApp) {
    let now = app.clock_now();
    app.clock
        .advance(Duration::seconds(WINDOW - now.rem_euclid(WINDOW) + 1));
}

/// Moves the clock until the current window no longer counts: the limits slide, so the
/// window after this one still weighs it.
fn pass_window(app: &TestApp) {
    app.clock.advance(Duration::seconds(2 * WINDOW));
}

fn retry_after(response: &reqwest::Response) -> i64 {
    let value: i64 = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    // A sliding window may still weigh this window during the next one.
    assert!((1..=2 * WINDOW).contains(&value), "Retry-After {value}");
    value
}

/// One password sign-in at `base`, from `forwarded_for` when given.
async fn sign_in(
    app: &TestApp,
    base: &str,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http()
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"email": email, "password": password}));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.expect("the admin API answers")
}

#[tokio::test]
async fn the_sign_in_throttle_holds_across_replicas_and_under_concurrency() {
    let app = TestApp::spawn().await;
    app.first_operator().await;
    let replica = app.spawn_replica(&[]).await;
    let email = "owner@example.com";

    // Five wrong passwords, alternating between the two replicas.
    for i in 0..5 {
        let base = if i % 2 == 0 { &app.url } else { &replica.url };
        let wrong = sign_in(&app, base, email, "not the password", None).await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST, "try {i}");
    }
    // The sixth, even with the right password and at either replica, is refused.
    for base in [&replica.url, &app.url] {
        let throttled = sign_in(&app, base, email, PASSWORD, None).await;
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
        retry_after(&throttled);
        let body: Value = throttled.json().await.expect("json");
        assert_eq!(body["error"]["code"], "throttled", "{body}");
    }
    // Once the (sliding, 15-minute) window has passed, the right password works again.
    app.clock.advance(Duration::minutes(31));
    let ok = sign_in(&app, &replica.url, email, PASSWORD, None).await;
    assert_eq!(ok.status(), StatusCode::OK);

    // Twelve concurrent guesses over both replicas: exactly five reach the password check.
    app.clock.advance(Duration::minutes(31));
    let guesses = (0..12).map(|i| {
        let base = if i % 2 == 0 {
            app.url.clone()
        } else {
            replica.url.clone()
        };
        let app = &app;
        async move { sign_in(app, &base, email, "a guess", None).await.status() }
    });
    let statuses = futures::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 7), "{statuses:?}");
}

#[tokio::test]
async fn forwarded_for_is_used_only_from_a_trusted_proxy() {
    let limit = [("TOLLGATE_LIMIT_SIGN_IN_ADDRESS", "3/900")];
    // The app trusts no proxy; the replica, on the same database, trusts the test client.
    let app = TestApp::spawn_with(TestOptions {
        extra: limit
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..TestOptions::default()
    })
    .await;
    app.first_operator().await;
    let behind_proxy = app
        .spawn_replica(&[("TOLLGATE_TRUSTED_PROXIES", "127.0.0.1/32")])
        .await;

    // From an untrusted peer a forged header changes nothing: every try counts against the
    // socket address, whatever address it claims (each names another e-mail, so only the
    // address counter can refuse).
    for i in 0..3 {
        let forged = format!("198.51.100.{i}");
        let wrong = sign_in(
            &app,
            &app.url,
            &format!("nobody{i}@example.com"),
            "x",
            Some(&forged),
        )
        .await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    }
    let refused = sign_in(
        &app,
        &app.url,
        "someone@example.com",
        "x",
        Some("198.51.100.99"),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    retry_after(&refused);

    // Behind a trusted proxy the forwarded address is the client: another address is not
    // throttled, the same one is, and hops forged to the left of it are not read.
    for i in 0..3 {
        let wrong = sign_in(
            &app,
            &behind_proxy.url,
            &format!("guess{i}@example.com"),
            "x",
            Some("203.0.113.5"),
        )
        .await;
        assert_eq!(wrong.status(), StatusCode::BAD_REQUEST, "try {i}");
    }
    let same = sign_in(
        &app,
        &behind_proxy.url,
        "guess9@example.com",
        "x",
        Some("6.6.6.6, 203.0.113.5"),
    )
    .await;
    assert_eq!(same.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = sign_in(
        &app,
        &behind_proxy.url,
        "owner@example.com",
        PASSWORD,
        Some("203.0.113.6"),
    )
    .await;
    assert_eq!(other.status(), StatusCode::OK);
}

/// POSTs a registration from `address`.
async fn register(app: &TestApp, address: &str) -> reqwest::Response {
    app.http()
        .post(format!("{}/t/demo/oauth/register", app.url))
        .header("x-forwarded-for", address)
        .json(&json!({"redirect_uris": ["http://127.0.0.1:9/callback"], "token_endpoint_auth_method": "none", "client_name": address}))
        .send()
        .await
        .expect("answer")
}

async fn assert_oauth_limited(response: reqwest::Response, error: &str) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    retry_after(&response);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

#[tokio::test]
async fn registration_is_limited_per_address() {
    let app =
        TestApp::spawn_with(with_limits(&[("TOLLGATE_LIMIT_REGISTER_ADDRESS", "2/600")])).await;
    start_fresh_window(&app);
    for _ in 0..2 {
        assert_eq!(register(&app, "192.0.2.1").await.status(), 201);
    }
    assert_oauth_limited(register(&app, "192.0.2.1").await, "slow_down").await;
    assert_eq!(register(&app, "192.0.2.2").await.status(), 201);
    pass_window(&app);
    assert_eq!(register(&app, "192.0.2.1").await.status(), 201);
}

#[tokio::test]
async fn authorization_is_limited_per_address_and_per_client() {
    let app = TestApp::spawn_with(with_limits(&[
        ("TOLLGATE_LIMIT_AUTHORIZE_ADDRESS", "3/600"),
        ("TOLLGATE_LIMIT_AUTHORIZE_CLIENT", "4/600"),
    ]))
    .await;
    let first = OAuthClient::register(&app, "demo").await;
    // Other metadata, so that registration gives another client (the same gives the same).
    let answer: Value = register(&app, "192.0.2.200")
        .await
        .json()
        .await
        .expect("a registration");
    let second = OAuthClient {
        app: &app,
        slug: "demo".into(),
        client_id: answer["client_id"].as_str().expect("client_id").to_owned(),
    };
    assert_ne!(first.client_id, second.client_id);
    let pkce = Pkce::new();
    let authorize = |client: &OAuthClient<'_>, address: &str| {
        app.http()
            .get(client.authorize_url(&pkce, &[]))
            .header("x-forwarded-for", address.to_owned())
            .send()
    };
    start_fresh_window(&app);

    // Per client: four addresses pass, a fifth is refused.
    for i in 1..=4 {
        let page = authorize(&first, &format!("192.0.2.{i}"))
            .await
            .expect("answer");
        assert_eq!(page.status(), 200, "address {i}");
    }
    assert_oauth_limited(
        authorize(&first, "192.0.2.5").await.expect("answer"),
        "temporarily_unavailable",
    )
    .await;

    // Per address: another client from one address, three times, then refused.
    for _ in 0..3 {
        let page = authorize(&second, "198.51.100.1").await.expect("answer");
        assert_eq!(page.status(), 200);
    }
    assert_oauth_limited(
        authorize(&second, "198.51.100.1").await.expect("answer"),
        "temporarily_unavailable",
    )
    .await;

    pass_window(&app);
    assert_eq!(
        authorize(&first, "198.51.100.1")
            .await
            .expect("answer")
            .status(),
        200
    );
}

#[tokio::test]
async fn the_token_endpoint_is_limited_per_address_and_per_client() {
    let app = TestApp::spawn_with(with_limits(&[
        ("TOLLGATE_LIMIT_TOKEN_ADDRESS", "3/600"),
        ("TOLLGATE_LIMIT_TOKEN_CLIENT", "4/600"),
    ]))
    .await;
    let token = |client: &str, address: &str| {
        app.http()
            .post(format!("{}/t/demo/oauth/token", app.url))
            .header("x-forwarded-for", address.to_owned())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "tgr_not_a_real_one"),
                ("client_id", client),
            ])
            .send()
    };
    start_fresh_window(&app);
    for i in 1..=4 {
        let answer = token("client-a", &format!("192.0.2.{i}"))
            .await
            .expect("answer");
        assert_eq!(answer.status(), 401, "an unknown client, counted");
    }
    assert_oauth_limited(
        token("client-a", "192.0.2.5").await.expect("answer"),
        "slow_down",
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            token("client-b", "198.51.100.1")
                .await
                .expect("answer")
                .status(),
            401
        );
    }
    assert_oauth_limited(
        token("client-c", "198.51.100.1").await.expect("answer"),
        "slow_down",
    )
    .await;
    pass_window(&app);
    assert_eq!(
        token("client-a", "198.51.100.1")
            .await
            .expect("answer")
            .status(),
        401
    );
}

/// A 2026-07-28 `tools/list` from `address`, with `token` when given.
async fn list_tools(
    app: &TestApp,
    base: &str,
    address: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": 41, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "1"},
    }}});
    let mut request = app
        .http()
        .post(format!("{base}/t/demo/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .header("x-forwarded-for", address)
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("the server answers")
}

async fn assert_mcp_limited(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    retry_after(&response);
    let body: Value = response.json().await.expect("a JSON-RPC body");
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], 41, "the request's id: {body}");
    assert_eq!(body["error"]["code"], -32010, "{body}");
}

#[tokio::test]
async fn mcp_requests_are_limited_per_user_and_per_address() {
    let app = TestApp::spawn_with(with_limits(&[
        ("TOLLGATE_LIMIT_MCP_USER", "3/600"),
        ("TOLLGATE_LIMIT_MCP_ADDRESS", "4/600"),
    ]))
    .await;
    let tokens = OAuthClient::register(&app, "demo").await.sign_in().await;
    let token = tokens["access_token"].as_str().expect("a token").to_owned();
    start_fresh_window(&app);

    // Per user: three addresses pass, the fourth request of the same user is refused.
    for i in 1..=3 {
        let answer = list_tools(&app, &app.url, &format!("192.0.2.{i}"), Some(&token)).await;
        assert_eq!(answer.status(), 200, "request {i}");
    }
    assert_mcp_limited(list_tools(&app, &app.url, "192.0.2.4", Some(&token)).await).await;

    // Per address: anonymous requests from one address, four times, then refused.
    for _ in 0..4 {
        assert_eq!(
            list_tools(&app, &app.url, "198.51.100.1", None)
                .await
                .status(),
            200
        );
    }
    assert_mcp_limited(list_tools(&app, &app.url, "198.51.100.1", None).await).await;

    pass_window(&app);
    assert_eq!(
        list_tools(&app, &app.url, "198.51.100.1", Some(&token))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn concurrent_requests_over_two_replicas_never_exceed_the_limit() {
    let app = TestApp::spawn_with(with_limits(&[("TOLLGATE_LIMIT_MCP_ADDRESS", "10/600")])).await;
    let replica = app
        .spawn_replica(&[("TOLLGATE_TRUSTED_PROXIES", "127.0.0.1/32")])
        .await;
    start_fresh_window(&app);
    let requests = (0..40).map(|i| {
        let base = if i % 2 == 0 { &app.url } else { &replica.url };
        let app = &app;
        async move { list_tools(app, base, "203.0.113.77", None).await.status() }
    });
    let statuses = futures::future::join_all(requests).await;
    let served = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((served, refused), (10, 30), "{statuses:?}");
}

#[tokio::test]
async fn leased_hits_never_let_more_than_the_limit_through_over_two_replicas() {
    // Room enough for leases of several hits: each replica counts ahead in the shared store.
    let app = TestApp::spawn_with(with_limits(&[("TOLLGATE_LIMIT_MCP_ADDRESS", "100/600")])).await;
    let replica = app
        .spawn_replica(&[("TOLLGATE_TRUSTED_PROXIES", "127.0.0.1/32")])
        .await;
    start_fresh_window(&app);
    let requests = (0..300).map(|i| {
        let base = if i % 2 == 0 { &app.url } else { &replica.url };
        let app = &app;
        async move { list_tools(app, base, "203.0.113.78", None).await.status() }
    });
    let statuses = futures::future::join_all(requests).await;
    let served = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // Exactly the limit: leases are counted before use, and every replica used its own.
    assert_eq!((served, refused), (100, 200), "{statuses:?}");
    // Another address has its own room.
    assert_eq!(
        list_tools(&app, &replica.url, "203.0.113.79", None)
            .await
            .status(),
        200
    );
}
