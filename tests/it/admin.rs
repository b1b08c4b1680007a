//! The admin API (`/api/v1`) through the real server: operator accounts (setup link, password
//! sign-in and its throttle, sessions, CSRF, API tokens, GitHub), every route, the validation
//! errors, roles, the audit log, changes reaching the live MCP endpoint, and the matrix that
//! calls every tenant route as a member of another tenant.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate_tests::admin::{Operator, PASSWORD, SETUP_TOKEN, session_cookie};
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::{Era, TestApp, TestOptions};

/// The tool names and descriptions the live endpoint lists, through the real rmcp client.
async fn live_tools(app: &TestApp, slug: &str) -> Vec<(String, String)> {
    let client = app.mcp_client(slug, Era::Sessions).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let _ = client.cancel().await;
    tools
        .into_iter()
        .map(|t| {
            (
                t.name.to_string(),
                t.description.map(|d| d.to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

fn tool_id(tools: &Value, name: &str) -> String {
    tools
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["id"].as_str())
        .unwrap_or_else(|| panic!("no tool {name} in {tools}"))
        .to_owned()
}

#[tokio::test]
async fn the_setup_link_creates_the_first_operator_once() {
    let app = TestApp::spawn().await;
    let anonymous = Operator::anonymous(&app);
    assert_eq!(
        anonymous.get("/api/v1/setup").await.body,
        json!({"needed": true})
    );

    let wrong = anonymous
        .post(
            "/api/v1/setup",
            json!({"token": "guess", "email": "a@example.com", "name": "A", "password": PASSWORD}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(anonymous.get("/api/v1/setup").await.body["needed"], true);

    let weak = anonymous
        .post(
            "/api/v1/setup",
            json!({"token": SETUP_TOKEN, "email": "a@example.com", "name": "A", "password": "short"}),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert_eq!(weak.body["error"]["field"], "password");

    let created = anonymous
        .post(
            "/api/v1/setup",
            json!({"token": SETUP_TOKEN, "email": "Owner@Example.com", "name": "Olive", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["operator"]["email"], "owner@example.com");
    let (_, line) = session_cookie(&created.headers).expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(line.contains(attribute), "{line}");
    }
    assert!(!line.contains("Secure"), "plain http: no Secure flag");

    // The link is spent.
    let again = anonymous
        .post(
            "/api/v1/setup",
            json!({"token": SETUP_TOKEN, "email": "b@example.com", "name": "B", "password": PASSWORD}),
        )
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(
        again.body["error"]["message"],
        "Tollgate is already set up: sign in instead"
    );
    assert_eq!(anonymous.get("/api/v1/setup").await.body["needed"], false);
    assert!(
        app.state
            .accounts
            .setup_token()
            .await
            .expect("db")
            .is_none(),
        "the run command prints no link once set up"
    );

    // The first operator owns the demo tenant.
    let mut owner = Operator::anonymous(&app);
    owner.adopt(&created);
    let tenants = owner.get("/api/v1/tenants").await;
    assert_eq!(tenants.body[0]["slug"], "demo");
    assert_eq!(tenants.body[0]["role"], "owner");
    assert_eq!(
        tenants.body[0]["mcp_url"],
        format!("{}/t/demo/mcp", app.url)
    );
    // The password is stored as an argon2 hash, the session token only hashed.
    let dump = app.dump_database().await;
    assert!(!dump.contains(PASSWORD));
    assert!(dump.contains("$argon2"));
    let token = owner
        .cookie
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches("tollgate_admin=");
    assert!(!dump.contains(token));
}

/// Behind https (a TLS-terminating proxy in front of Tollgate), the session cookie is `Secure`,
/// and a browser on the public origin may write.
#[tokio::test]
async fn behind_https_the_session_cookie_is_secure() {
    let app = TestApp::spawn_with(TestOptions {
        extra: vec![(
            "TOLLGATE_PUBLIC_URL".into(),
            "https://tollgate.example".into(),
        )],
        ..TestOptions::default()
    })
    .await;
    let created = app
        .http()
        .post(format!("{}/api/v1/setup", app.url))
        .header("origin", "https://tollgate.example")
        .json(&json!({"token": SETUP_TOKEN, "email": "o@example.com", "name": "O", "password": PASSWORD}))
        .send()
        .await
        .expect("the admin API answers");
    assert_eq!(created.status(), StatusCode::CREATED);
    let (_, line) = session_cookie(created.headers()).expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(line.contains(attribute), "{line}");
    }
}

#[tokio::test]
async fn sign_in_checks_the_password_and_throttles_guessing() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let anonymous = Operator::anonymous(&app);

    let ok = anonymous
        .post(
            "/api/v1/session",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    let mut again = Operator::anonymous(&app);
    again.adopt(&ok);
    assert_eq!(
        again.get("/api/v1/session").await.body["operator"]["id"],
        owner.id
    );

    for _ in 0..5 {
        let wrong = anonymous
            .post(
                "/api/v1/session",
                json!({"email": "owner@example.com", "password": "not the password"}),
            )
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
        assert_eq!(wrong.body["error"]["message"], "wrong e-mail or password");
    }
    // The sixth try is refused before the password is even checked, right or wrong.
    let throttled = anonymous
        .post(
            "/api/v1/session",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.code(), "throttled");
    let retry: i64 = throttled.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    // The 15-minute window slides: a full window still weighs on the one after it.
    assert!((1..=1800).contains(&retry), "{retry}");
    assert!(session_cookie(&throttled.headers).is_none());

    // An unknown address says the same as a wrong password.
    let unknown = Operator::anonymous(&app);
    let unknown = unknown
        .post(
            "/api/v1/session",
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    assert!(matches!(
        unknown.status,
        StatusCode::BAD_REQUEST | StatusCode::TOO_MANY_REQUESTS
    ));

    // Signing out ends the session.
    assert_eq!(
        again.delete("/api/v1/session", None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        again.get("/api/v1/session").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn writes_need_the_csrf_token_and_our_own_origin() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let before = app.dump_database().await;

    let mut no_csrf = owner.clone();
    no_csrf.csrf = None;
    let refused = no_csrf
        .post("/api/v1/tenants", json!({"slug": "acme", "name": "Acme"}))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code(), "csrf");
    let mut wrong_csrf = owner.clone();
    wrong_csrf.csrf = Some("forged".into());
    assert_eq!(
        wrong_csrf
            .post("/api/v1/tenants", json!({"slug": "acme", "name": "Acme"}))
            .await
            .code(),
        "csrf"
    );
    // A cross-site request with the right token is still refused.
    let cross_site = app
        .http()
        .post(format!("{}/api/v1/tenants", app.url))
        .header("cookie", owner.cookie.clone().unwrap_or_default())
        .header("x-csrf-token", owner.csrf.clone().unwrap_or_default())
        .header("origin", "https://evil.example")
        .json(&json!({"slug": "acme", "name": "Acme"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    // A form post (not JSON) is refused too.
    let form = app
        .http()
        .post(format!("{}/api/v1/session", app.url))
        .form(&[("email", "owner@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .expect("answer");
    assert_eq!(form.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.dump_database().await, before, "nothing changed");

    let created = owner
        .post("/api/v1/tenants", json!({"slug": "acme", "name": "Acme"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
}

#[tokio::test]
async fn api_tokens_script_the_api_and_mcp_tokens_and_admin_cookies_do_not_cross_over() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;

    let made = owner.post("/api/v1/tokens", json!({"name": "ci"})).await;
    assert_eq!(made.status, StatusCode::CREATED);
    let secret = made.body["token"].as_str().expect("shown once").to_owned();
    assert!(secret.starts_with("tga_"));
    let listed = owner.get("/api/v1/tokens").await;
    assert_eq!(listed.body[0]["name"], "ci");
    assert!(listed.body[0].get("token").is_none(), "never shown again");
    assert!(
        !app.dump_database().await.contains(&secret),
        "stored hashed"
    );

    // A token needs no CSRF header.
    let script = owner.with_token(&secret);
    let created = script
        .post(
            "/api/v1/tenants",
            json!({"slug": "scripted", "name": "Scripted"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let audit = owner.get("/api/v1/tenants/scripted/audit").await;
    assert!(
        audit.body[0]["actor"]
            .as_str()
            .expect("actor")
            .contains("token:ci"),
        "{}",
        audit.body
    );

    // An MCP access token is not an admin credential.
    let mcp_token = OAuthClient::register(&app, "demo").await.sign_in().await["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let refused = owner.with_token(&mcp_token).get("/api/v1/tenants").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // And neither an admin cookie nor an API token is an MCP credential.
    for (name, value) in [
        ("cookie", owner.cookie.clone().unwrap_or_default()),
        ("authorization", format!("Bearer {secret}")),
    ] {
        let response = app
            .http()
            .post(app.mcp_url("demo"))
            .header(name, value)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "billing_status", "arguments": {}}}))
            .send()
            .await
            .expect("answer");
        if name == "authorization" {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        } else {
            let text = response.text().await.unwrap_or_default();
            assert!(
                !text.contains("owner@example.com"),
                "the cookie identifies nobody: {text}"
            );
        }
    }

    // Revoked tokens stop at once.
    let id = made.body["id"].as_str().expect("id");
    assert_eq!(
        owner
            .delete(&format!("/api/v1/tokens/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        script.get("/api/v1/tenants").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn tenants_are_created_renamed_and_deleted_with_clear_errors() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;

    for (body, field) in [
        (json!({"slug": "Bad Slug", "name": "x"}), "slug"),
        (json!({"slug": "admin", "name": "x"}), "slug"),
        (json!({"slug": "demo", "name": "x"}), "slug"),
    ] {
        let answer = owner.post("/api/v1/tenants", body.clone()).await;
        assert!(answer.status.is_client_error(), "{body}");
        assert_eq!(
            answer.body["error"]["field"], field,
            "{body}: {:?}",
            answer.body
        );
    }
    let empty_name = owner
        .post("/api/v1/tenants", json!({"slug": "acme", "name": "  "}))
        .await;
    assert_eq!(empty_name.status, StatusCode::BAD_REQUEST);
    let not_json = owner.post("/api/v1/tenants", json!({"slug": 3})).await;
    assert_eq!(not_json.code(), "bad_request");

    let created = owner
        .post(
            "/api/v1/tenants",
            json!({"slug": "acme", "name": "Acme Tools"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["payments"]["mode"], "sandbox");
    assert_eq!(
        created.body["webhook_url"],
        format!("{}/t/acme/webhooks/stripe", app.url)
    );
    assert_eq!(
        live_tools(&app, "acme").await.len(),
        12,
        "the catalog is installed"
    );

    let renamed = owner
        .patch("/api/v1/tenants/acme", json!({"name": "Acme Inc"}))
        .await;
    assert_eq!(renamed.body["name"], "Acme Inc");
    let overview = owner.get("/api/v1/tenants/acme/overview").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert_eq!(overview.body["tools_enabled"], 12);
    let configs = overview.body["client_configs"].as_array().expect("configs");
    assert_eq!(configs.len(), 4);
    assert!(configs.iter().all(|c| {
        c["text"]
            .as_str()
            .expect("text")
            .contains(&format!("{}/t/acme/mcp", app.url))
    }));

    let unconfirmed = owner
        .delete("/api/v1/tenants/acme", Some(json!({"confirm": "acm"})))
        .await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST);
    assert_eq!(unconfirmed.body["error"]["field"], "confirm");
    assert_eq!(
        owner.get("/api/v1/tenants/acme").await.status,
        StatusCode::OK
    );

    let deleted = owner
        .delete("/api/v1/tenants/acme", Some(json!({"confirm": "acme"})))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        owner.get("/api/v1/tenants/acme").await.status,
        StatusCode::NOT_FOUND
    );
    let mcp = app
        .http()
        .post(app.mcp_url("acme"))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(mcp.status(), StatusCode::GONE);
}

/// Status of a plain request to one of the tenant's public URLs.
async fn status_of(app: &TestApp, method: Method, url: &str) -> (StatusCode, String) {
    let response = app
        .http()
        .request(method, url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string())
        .send()
        .await
        .expect("answer");
    (
        response.status(),
        response.text().await.expect("a readable body"),
    )
}

#[tokio::test]
async fn a_deleted_tenant_is_gone_everywhere_and_its_slug_rests_thirty_days() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let created = owner
        .post(
            "/api/v1/tenants",
            json!({"slug": "acme", "name": "Acme Tools"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let secret = app.connect_stripe("acme").await;
    let event = app.stripe.event(
        "customer.created",
        json!({"id": "cus_nobody", "object": "customer"}),
    );
    let webhook = app.webhook_url("acme");
    assert_eq!(
        app.stripe.deliver(&webhook, &event, &secret).await.status(),
        StatusCode::OK
    );
    let metadata = format!("{}/.well-known/oauth-authorization-server/t/acme", app.url);
    let register = format!("{}/t/acme/oauth/register", app.url);
    assert_eq!(
        status_of(&app, Method::GET, &metadata).await.0,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, Method::POST, &app.mcp_url("acme")).await.0,
        StatusCode::OK
    );

    // Two owners' tabs delete it at once: one deletion, the other finds nothing.
    let confirm = || Some(json!({"confirm": "acme"}));
    let (first, second) = tokio::join!(
        owner.delete("/api/v1/tenants/acme", confirm()),
        owner.delete("/api/v1/tenants/acme", confirm())
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND],
        "{:?} {:?}",
        first.body,
        second.body
    );

    // Its public URLs answer 410 Gone, with a clear message.
    let (mcp, body) = status_of(&app, Method::POST, &app.mcp_url("acme")).await;
    assert_eq!(mcp, StatusCode::GONE, "{body}");
    assert!(body.contains("deleted"), "{body}");
    let delivered = app.stripe.deliver(&webhook, &event, &secret).await;
    assert_eq!(delivered.status(), StatusCode::GONE);
    assert!(delivered.text().await.expect("body").contains("deleted"));
    assert_eq!(
        status_of(&app, Method::GET, &metadata).await.0,
        StatusCode::GONE
    );
    let (registered, body) = status_of(&app, Method::POST, &register).await;
    assert_eq!(registered, StatusCode::GONE, "{body}");
    // Its browser pages too: the sign-in and the payment pages.
    for page in [
        format!("{}/t/acme/oauth/authorize?client_id=x", app.url),
        format!("{}/t/acme/pay/{}", app.url, uuid::Uuid::new_v4()),
    ] {
        let response = app.http().get(&page).send().await.expect("answer");
        assert_eq!(response.status(), StatusCode::GONE, "{page}");
        assert!(
            response.text().await.expect("html").contains("deleted"),
            "{page}"
        );
    }
    // A slug that never existed is still a plain 404.
    assert_eq!(
        status_of(&app, Method::POST, &app.mcp_url("never")).await.0,
        StatusCode::NOT_FOUND
    );

    // The operator's views and the admin API know it no more.
    for path in [
        "/api/v1/tenants/acme",
        "/api/v1/tenants/acme/overview",
        "/api/v1/tenants/acme/tools",
        "/api/v1/tenants/acme/audit",
    ] {
        let answer = owner.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.code(), "not_found", "{path}");
    }
    assert_eq!(
        owner
            .patch("/api/v1/tenants/acme", json!({"name": "Back"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let listed = owner.get("/api/v1/tenants").await.body;
    assert!(
        listed
            .as_array()
            .expect("tenants")
            .iter()
            .all(|t| t["slug"] != "acme"),
        "{listed}"
    );

    // Its slug rests for 30 days: a clear error, and nothing is created.
    let retaken = owner
        .post("/api/v1/tenants", json!({"slug": "acme", "name": "Acme 2"}))
        .await;
    assert_eq!(retaken.status, StatusCode::BAD_REQUEST);
    assert_eq!(retaken.body["error"]["field"], "slug");
    let message = retaken.body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("deleted recently") && message.contains("can be used again from"),
        "{message}"
    );
    assert_eq!(
        status_of(&app, Method::POST, &app.mcp_url("acme")).await.0,
        StatusCode::GONE
    );
    app.clock
        .advance(chrono::Duration::days(30) - chrono::Duration::minutes(1));
    // A month later the operator signs in again (sessions do not last that long).
    let signed_in = Operator::anonymous(&app)
        .post(
            "/api/v1/session",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK);
    let mut owner = Operator::anonymous(&app);
    owner.adopt(&signed_in);
    assert_eq!(
        owner
            .post("/api/v1/tenants", json!({"slug": "acme", "name": "Acme 2"}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // After 30 days it is free again, for a new tenant with nothing of the old one.
    app.clock.advance(chrono::Duration::minutes(1));
    let reborn = owner
        .post("/api/v1/tenants", json!({"slug": "acme", "name": "Acme 2"}))
        .await;
    assert_eq!(reborn.status, StatusCode::CREATED, "{:?}", reborn.body);
    assert_eq!(reborn.body["payments"]["mode"], "sandbox");
    assert_eq!(
        status_of(&app, Method::POST, &app.mcp_url("acme")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, Method::GET, &metadata).await.0,
        StatusCode::OK
    );
    // The old tenant's webhook secret means nothing to the new one.
    assert_eq!(
        app.stripe.deliver(&webhook, &event, &secret).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn tool_changes_and_prices_reach_the_live_endpoint_without_a_restart() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let before = live_tools(&app, "demo").await;
    assert!(before.iter().all(|(_, d)| !d.contains("Paid")));

    let tools = owner.get("/api/v1/tenants/demo/tools").await.body;
    let themes = tool_id(&tools, "wporg_query_themes");
    let plugins = tool_id(&tools, "wporg_query_plugins");

    let bad_name = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{themes}"),
            json!({"name": "has space"}),
        )
        .await;
    assert_eq!(bad_name.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_name.body["error"]["field"], "name");
    let bad_plan = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{themes}"),
            json!({"offer_id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert_eq!(bad_plan.status, StatusCode::BAD_REQUEST);

    let bad_offer = owner
        .post("/api/v1/tenants/demo/offers", json!({"name": "Meter", "kind": "metered", "price_id": "price_m", "amount": 2, "currency": "usd"}))
        .await;
    assert_eq!(
        bad_offer.status,
        StatusCode::BAD_REQUEST,
        "a metered plan needs its meter event"
    );
    let bad_kind = owner
        .post("/api/v1/tenants/demo/offers", json!({"name": "X", "kind": "lifetime", "price_id": "p", "amount": 2, "currency": "usd"}))
        .await;
    assert_eq!(bad_kind.body["error"]["field"], "kind");
    // The success page redirects from Tollgate's origin: only https (or this computer in
    // development), never an open redirect.
    for url in [
        "http://shop.example/thanks",
        "javascript:alert(1)",
        "https://u:p@shop.example/",
    ] {
        let open_redirect = owner
            .post("/api/v1/tenants/demo/offers", json!({"name": "X", "kind": "one_time", "price_id": "p", "amount": 2, "currency": "usd", "calls": 1, "success_url": url}))
            .await;
        assert_eq!(open_redirect.status, StatusCode::BAD_REQUEST, "{url}");
    }

    let offer = owner
        .post(
            "/api/v1/tenants/demo/offers",
            json!({"name": "Theme pack", "kind": "one_time", "price_id": "price_themes", "amount": 700, "currency": "usd", "calls": 50, "free_quota": 2}),
        )
        .await;
    assert_eq!(offer.status, StatusCode::CREATED, "{:?}", offer.body);
    assert_eq!(offer.body["price_text"], "$7.00 for 50 calls");
    let offer_id = offer.body["id"].as_str().expect("id").to_owned();

    let priced = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{themes}"),
            json!({"name": "find_themes", "description": "Find a theme.", "offer_id": offer_id}),
        )
        .await;
    assert_eq!(priced.status, StatusCode::OK, "{:?}", priced.body);
    assert_eq!(priced.body["price_text"], "$7.00 for 50 calls");
    let off = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{plugins}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(off.body["enabled"], false);

    // The next client lists the change (clients may cache a list for its `ttlMs`).
    let client = app.mcp_client("demo", Era::Sessions).await;
    let after = client.list_all_tools().await.expect("list");
    let _ = client.cancel().await;
    let themed = after
        .iter()
        .find(|t| t.name == "find_themes")
        .expect("renamed tool listed");
    let description = themed.description.as_deref().unwrap_or_default();
    assert!(description.starts_with("Find a theme."), "{description}");
    assert!(description.contains("$7.00 for 50 calls"), "{description}");
    assert!(
        after.iter().all(|t| t.name != "wporg_query_plugins"),
        "disabled tool gone"
    );

    // The preview is exactly what tools/list answers.
    let preview = owner.get("/api/v1/tenants/demo/tools/preview").await.body["tools"].clone();
    let live = serde_json::to_value(&after).expect("json");
    assert_eq!(preview, live);

    // Changing the plan changes the advertised price at once.
    let changed = owner
        .put(
            &format!("/api/v1/tenants/demo/offers/{offer_id}"),
            json!({"name": "Theme pack", "kind": "one_time", "price_id": "price_themes", "amount": 900, "currency": "usd", "calls": 50}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["tools"], json!(["find_themes"]));
    let tools = live_tools(&app, "demo").await;
    let (_, description) = tools
        .iter()
        .find(|(n, _)| n == "find_themes")
        .expect("listed");
    assert!(description.contains("$9.00 for 50 calls"), "{description}");

    // Reordering: the last tool first.
    let all = owner.get("/api/v1/tenants/demo/tools").await.body;
    let mut ids: Vec<String> = all
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect();
    let short = owner
        .put(
            "/api/v1/tenants/demo/tools/order",
            json!({"tool_ids": ids[1..]}),
        )
        .await;
    assert_eq!(
        short.status,
        StatusCode::BAD_REQUEST,
        "every tool must be listed"
    );
    ids.rotate_right(1);
    let reordered = owner
        .put("/api/v1/tenants/demo/tools/order", json!({"tool_ids": ids}))
        .await;
    assert_eq!(reordered.status, StatusCode::OK, "{:?}", reordered.body);
    assert_eq!(reordered.body[0]["id"], ids[0]);

    // Making it free again.
    let free = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{themes}"),
            json!({"offer_id": null, "description": null}),
        )
        .await;
    assert_eq!(free.body["price_text"], Value::Null);
    assert_eq!(free.body["description"], Value::Null);

    // Every change is in the audit log, newest first, with who made it.
    let audit = owner.get("/api/v1/tenants/demo/audit").await.body;
    let actions: Vec<&str> = audit
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(actions.first(), Some(&"tool.update"));
    for action in [
        "offer.create",
        "offer.update",
        "tool.reorder",
        "tool.update",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(
        audit
            .as_array()
            .expect("list")
            .iter()
            .all(|e| e["actor"] == "owner@example.com")
    );
}

#[tokio::test]
async fn stripe_keys_are_stored_encrypted_shown_masked_and_tested() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let secret = app.stripe.secret_key.clone();

    let publishable = owner
        .put(
            "/api/v1/tenants/demo/payments/stripe",
            json!({"secret_key": "pk_test_123", "webhook_secret": "whsec_abc"}),
        )
        .await;
    assert_eq!(publishable.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        owner.get("/api/v1/tenants/demo").await.body["payments"]["mode"],
        "sandbox"
    );

    let connected = owner
        .put(
            "/api/v1/tenants/demo/payments/stripe",
            json!({"secret_key": secret, "webhook_secret": "whsec_dashboard_secret"}),
        )
        .await;
    assert_eq!(connected.status, StatusCode::OK, "{:?}", connected.body);
    assert_eq!(connected.body["payments"]["mode"], "stripe");
    let hint = connected.body["payments"]["key_hint"]
        .as_str()
        .expect("hint");
    assert!(hint.starts_with("sk_test_…"), "{hint}");
    assert!(
        !hint.contains(&secret[8..secret.len() - 4]),
        "masked: {hint}"
    );
    let dump = app.dump_database().await;
    assert!(!dump.contains(&secret), "the key is not stored in clear");
    assert!(!dump.contains("whsec_dashboard_secret"));
    let audit = owner.get("/api/v1/tenants/demo/audit").await;
    assert!(
        !audit.body.to_string().contains(&secret),
        "nor in the audit log"
    );

    let tested = owner
        .post("/api/v1/tenants/demo/payments/stripe/test", json!({}))
        .await;
    assert_eq!(tested.body["ok"], true, "{:?}", tested.body);
    let prices = owner
        .get("/api/v1/tenants/demo/payments/stripe/prices")
        .await;
    assert_eq!(prices.status, StatusCode::OK, "{:?}", prices.body);

    let back = owner
        .delete("/api/v1/tenants/demo/payments/stripe", None)
        .await;
    assert_eq!(back.body["payments"]["mode"], "sandbox");
    assert_eq!(back.body["payments"]["key_hint"], Value::Null);
}

#[tokio::test]
async fn roles_decide_who_may_change_what() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let viewer = app
        .invited_operator(&owner, "demo", "viewer@example.com", "viewer")
        .await;
    let admin = app
        .invited_operator(&owner, "demo", "admin@example.com", "admin")
        .await;

    let members = owner.get("/api/v1/tenants/demo/members").await.body;
    assert_eq!(members.as_array().expect("list").len(), 3);

    // A viewer reads but cannot write.
    assert_eq!(
        viewer.get("/api/v1/tenants/demo/tools").await.status,
        StatusCode::OK
    );
    let denied = viewer
        .patch("/api/v1/tenants/demo", json!({"name": "Mine"}))
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.code(), "forbidden");
    // An admin configures but cannot delete the tenant or manage members.
    assert_eq!(
        admin
            .patch("/api/v1/tenants/demo", json!({"name": "Renamed"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        admin
            .delete("/api/v1/tenants/demo", Some(json!({"confirm": "demo"})))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin
            .post(
                "/api/v1/tenants/demo/invitations",
                json!({"email": "x@example.com", "role": "owner"})
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // The last owner stays an owner.
    let demote = owner
        .patch(
            &format!("/api/v1/tenants/demo/members/{}", owner.id),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
    let promote = owner
        .patch(
            &format!("/api/v1/tenants/demo/members/{}", viewer.id),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promote.body["role"], "admin");
    assert_eq!(
        viewer
            .patch("/api/v1/tenants/demo", json!({"name": "Now I can"}))
            .await
            .status,
        StatusCode::OK
    );
    let bad_role = owner
        .patch(
            &format!("/api/v1/tenants/demo/members/{}", viewer.id),
            json!({"role": "god"}),
        )
        .await;
    assert_eq!(bad_role.body["error"]["field"], "role");

    // An invitation link works once.
    let invited = owner
        .post(
            "/api/v1/tenants/demo/invitations",
            json!({"email": "once@example.com", "role": "viewer"}),
        )
        .await;
    let token = invited.body["accept_url"]
        .as_str()
        .expect("url")
        .split("token=")
        .nth(1)
        .expect("token")
        .to_owned();
    // Bound to the invited address: the signed-in owner (another address) cannot take it.
    let someone_else = owner
        .post("/api/v1/invitations/accept", json!({"token": token}))
        .await;
    assert_eq!(
        someone_else.status,
        StatusCode::CONFLICT,
        "{:?}",
        someone_else.body
    );
    assert!(
        someone_else.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("another e-mail address")),
        "{:?}",
        someone_else.body
    );
    let first = Operator::anonymous(&app)
        .post(
            "/api/v1/invitations/accept",
            json!({"token": token, "name": "Once", "password": PASSWORD}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let replay = Operator::anonymous(&app)
        .post(
            "/api/v1/invitations/accept",
            json!({"token": token, "name": "Twice", "password": PASSWORD}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert_eq!(
        owner.get("/api/v1/tenants/demo/invitations").await.body,
        json!([])
    );

    // Removing a member ends their access.
    assert_eq!(
        owner
            .delete(&format!("/api/v1/tenants/demo/members/{}", admin.id), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin.get("/api/v1/tenants/demo").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn operators_sign_in_with_github() {
    let app = TestApp::spawn().await;
    let options = Operator::anonymous(&app)
        .get("/api/v1/session/options")
        .await;
    assert_eq!(options.body["github_enabled"], true);

    let start = app
        .http()
        .get(format!("{}/api/v1/session/github", app.url))
        .send()
        .await
        .expect("answer");
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let flow_cookie = start
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tollgate_admin_github="))
        .expect("flow cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let github = start.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(github.starts_with(&app.github.url), "{github}");
    let back = app
        .http()
        .get(&github)
        .send()
        .await
        .expect("GitHub answers");
    let callback = back.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        callback.starts_with(&format!("{}/api/v1/session/github/callback", app.url)),
        "{callback}"
    );

    // Without the flow cookie (another browser), the sign-in is refused.
    let stolen = app.http().get(&callback).send().await.expect("answer");
    assert!(
        stolen.headers()["location"]
            .to_str()
            .expect("l")
            .starts_with("/admin/sign-in?error=")
    );
    assert!(session_cookie(stolen.headers()).is_none());

    let done = app
        .http()
        .get(&callback)
        .header("cookie", &flow_cookie)
        .send()
        .await
        .expect("answer");
    assert_eq!(done.headers()["location"], "/admin");
    let (pair, _) = session_cookie(done.headers()).expect("signed in");
    let mut operator = Operator::anonymous(&app);
    operator.cookie = Some(pair);
    let session = operator.get("/api/v1/session").await;
    assert_eq!(session.status, StatusCode::OK);
    assert_eq!(session.body["operator"]["github_login"], "octocat");
    // A GitHub operator is a member of nothing until they create or join a tenant.
    assert_eq!(operator.get("/api/v1/tenants").await.body, json!([]));
    assert_eq!(
        operator.get("/api/v1/tenants/demo").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn().await;
    let doc = Operator::anonymous(&app)
        .get("/api/v1/openapi.json")
        .await
        .body;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 30, "{}", paths.len());
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "Tenant",
        "Tool",
        "NewOffer",
        "Analytics",
        "ErrorBody",
        "Session",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    // Every $ref points at a schema that exists.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().expect("name");
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
    // Every documented operation is routed: none answers the API's catch-all "no such route".
    let owner = app.first_operator().await;
    for (path, item) in paths {
        for method in item.as_object().expect("methods").keys() {
            if path.contains("github") || path == "/api/v1/setup" || path == "/api/v1/session" {
                continue;
            }
            let concrete = path
                .replace("{slug}", "demo")
                .replace("{id}", &uuid::Uuid::new_v4().to_string())
                .replace("{operator_id}", &uuid::Uuid::new_v4().to_string())
                .replace("{client_id}", "nobody");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let answer = owner.send(method.clone(), &concrete, Some(json!({}))).await;
            assert_ne!(
                answer.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_ne!(
                answer.body["error"]["message"], "no such API route; see /api/v1/openapi.json",
                "{method} {path}"
            );
        }
    }
}

/// Every tenant route of the OpenAPI document, called by a member of another tenant with real
/// ids of the victim tenant: always 404, and the database is unchanged.
#[tokio::test]
async fn every_tenant_route_answers_404_to_a_member_of_another_tenant() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    // The victim (demo) gets one of everything.
    let offer = owner
        .post("/api/v1/tenants/demo/offers", json!({"name": "P", "kind": "one_time", "price_id": "price_p", "amount": 100, "currency": "usd"}))
        .await;
    let offer_id = offer.body["id"].as_str().expect("offer").to_owned();
    let tools = owner.get("/api/v1/tenants/demo/tools").await.body;
    let tool = tool_id(&tools, "wporg_query_themes");
    let client = OAuthClient::register(&app, "demo").await;
    let _ = client.sign_in().await;
    let clients = owner.get("/api/v1/tenants/demo/clients").await.body;
    let client_id = clients[0]["client_id"].as_str().expect("client").to_owned();
    let customers = owner.get("/api/v1/tenants/demo/customers").await.body;
    let customer = customers[0]["id"].as_str().expect("customer").to_owned();
    let invitation = owner
        .post(
            "/api/v1/tenants/demo/invitations",
            json!({"email": "v@example.com", "role": "viewer"}),
        )
        .await;
    let invitation_id = invitation.body["id"]
        .as_str()
        .expect("invitation")
        .to_owned();

    let stranger = app.stranger(&owner, "other").await;
    let doc = Operator::anonymous(&app)
        .get("/api/v1/openapi.json")
        .await
        .body;
    let before = app.dump_database().await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.contains("{slug}") {
            continue;
        }
        for (method, operation) in item.as_object().expect("methods") {
            let id = if path.contains("/offers/") {
                &offer_id
            } else if path.contains("/tools/") {
                &tool
            } else if path.contains("/customers/") {
                &customer
            } else {
                &invitation_id
            };
            let concrete = path
                .replace("{slug}", "demo")
                .replace("{id}", id)
                .replace("{operator_id}", &owner.id)
                .replace("{client_id}", &client_id);
            // A plausible body, so that only the tenant check can refuse it.
            let body = match operation["operationId"].as_str().expect("id") {
                "delete_tenant" => json!({"confirm": "demo"}),
                "update_tenant" => json!({"name": "Pwned"}),
                "add_tool" => json!({"operation": "query_themes", "name": "pwned"}),
                "update_tool" => json!({"enabled": false}),
                "reorder_tools" => json!({"tool_ids": []}),
                "create_offer" | "update_offer" => {
                    json!({"name": "X", "kind": "one_time", "price_id": "p", "amount": 1, "currency": "usd"})
                }
                "connect_stripe" => json!({"secret_key": "sk_test_x", "webhook_secret": "whsec_x"}),
                "set_github_app" => json!({"client_id": "x", "client_secret": "y"}),
                "change_role" => json!({"role": "viewer"}),
                "invite" => json!({"email": "evil@example.com", "role": "owner"}),
                _ => json!({}),
            };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let answer = stranger.send(method.clone(), &concrete, Some(body)).await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{method} {concrete}: {:?}",
                answer.body
            );
            assert_eq!(answer.code(), "not_found");
            assert!(
                !answer.body.to_string().contains("Tollgate demo"),
                "no data leaks"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked} routes checked");
    assert_eq!(app.dump_database().await, before, "nothing changed");
    // The stranger's own tenant answers normally.
    assert_eq!(
        stranger.get("/api/v1/tenants/other/tools").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn customers_clients_and_analytics_show_what_happened() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let client = OAuthClient::register(&app, "demo").await;
    let tokens = client.sign_in().await;
    let token = tokens["access_token"].as_str().expect("token");
    let mcp = app
        .mcp_client_with_token("demo", Era::Sessions, token)
        .await;
    let _ = mcp
        .call_tool(
            rmcp::model::CallToolRequestParams::new("wporg_query_themes").with_arguments(
                json!({"search": "blue"})
                    .as_object()
                    .expect("object")
                    .clone(),
            ),
        )
        .await
        .expect("called");
    let _ = mcp.cancel().await;

    let customers = owner.get("/api/v1/tenants/demo/customers").await.body;
    assert_eq!(customers.as_array().expect("list").len(), 1, "{customers}");
    let id = customers[0]["id"].as_str().expect("id");
    assert_eq!(
        owner
            .get(&format!("/api/v1/tenants/demo/customers/{id}"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        owner
            .get(&format!(
                "/api/v1/tenants/demo/customers/{}",
                uuid::Uuid::new_v4()
            ))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let analytics = owner
        .get("/api/v1/tenants/demo/analytics?days=7")
        .await
        .body;
    assert_eq!(analytics["days"], 7);
    assert_eq!(analytics["totals"]["free"], 1, "{analytics}");
    assert_eq!(analytics["daily"][0]["tool"], "wporg_query_themes");
    let bad_days = owner.get("/api/v1/tenants/demo/analytics?days=0").await;
    assert_eq!(bad_days.body["error"]["field"], "days");
    let overview = owner.get("/api/v1/tenants/demo/overview").await.body;
    assert_eq!(overview["calls_today"], 1);
    assert_eq!(overview["end_users"], 1);

    let clients = owner.get("/api/v1/tenants/demo/clients").await.body;
    let client_id = clients[0]["client_id"].as_str().expect("client id");
    assert_eq!(clients[0]["active_grants"], 1);
    assert_eq!(
        owner
            .delete(&format!("/api/v1/tenants/demo/clients/{client_id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let after = app
        .http()
        .post(app.mcp_url("demo"))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "the revoked client's token stops"
    );
    assert_eq!(
        owner
            .delete("/api/v1/tenants/demo/clients/nobody", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_tenants_github_app_override_is_stored_encrypted() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let missing = owner
        .put(
            "/api/v1/tenants/demo/github-app",
            json!({"client_id": "Iv1.abc", "client_secret": " "}),
        )
        .await;
    assert_eq!(missing.body["error"]["field"], "client_secret");
    let set = owner
        .put(
            "/api/v1/tenants/demo/github-app",
            json!({"client_id": "Iv1.abc", "client_secret": "very-secret-value"}),
        )
        .await;
    assert_eq!(set.body["github_app"], json!({"client_id": "Iv1.abc"}));
    assert!(!app.dump_database().await.contains("very-secret-value"));
    let removed = owner.delete("/api/v1/tenants/demo/github-app", None).await;
    assert_eq!(removed.body["github_app"], Value::Null);
    let anonymous_off = owner
        .patch(
            "/api/v1/tenants/demo",
            json!({"anonymous_free_tools": false}),
        )
        .await;
    assert_eq!(anonymous_off.body["anonymous_free_tools"], false);
}

#[tokio::test]
async fn the_audit_log_is_append_only_and_outlives_its_tenant() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let created = owner
        .post(
            "/api/v1/tenants",
            json!({"slug": "ledger", "name": "Ledger"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let renamed = owner
        .patch("/api/v1/tenants/ledger", json!({"name": "Ledger 2"}))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
    let db = &app.state.db;
    let backend = db.get_database_backend();
    let count = || async {
        db.query_one_raw(sea_orm::Statement::from_string(
            backend,
            "select count(*) as n from audit_log",
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n")
    };
    let before = count().await;
    assert!(before >= 2, "{before}");
    // Not even the application's own connection can rewrite or erase the record.
    for statement in [
        "update audit_log set action = 'nothing happened'",
        "delete from audit_log",
    ] {
        let refused = db
            .execute_unprepared(statement)
            .await
            .expect_err("the audit log refuses it");
        assert!(refused.to_string().contains("append-only"), "{refused}");
    }
    assert_eq!(count().await, before);
    // Deleting the tenant keeps its history.
    let deleted = owner
        .delete("/api/v1/tenants/ledger", Some(json!({"confirm": "ledger"})))
        .await;
    assert!(deleted.status.is_success(), "{:?}", deleted.body);
    assert!(
        count().await > before,
        "the deletion itself is recorded, nothing erased"
    );
}

/// The tool editor's preview of unsaved edits: the server describes the draft with the code
/// that answers `tools/list`, so saving the same edits lists exactly that; nothing changes
/// meanwhile, a viewer may ask, and a bad plan or an unknown one is refused.
#[tokio::test]
async fn a_tool_draft_is_previewed_as_tools_list_will_list_it_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let viewer = app
        .invited_operator(&owner, "demo", "viewer@example.com", "viewer")
        .await;
    let tools = owner.get("/api/v1/tenants/demo/tools").await.body;
    let tool = tool_id(&tools, "wporg_query_themes");
    let path = format!("/api/v1/tenants/demo/tools/{tool}/preview");
    let plan = json!({"name": "Themes pass", "kind": "one_time", "price_id": "price_t", "amount": 199, "currency": "usd", "calls": 5});
    let draft =
        json!({"title": "  Theme finder ", "description": "Finds themes.", "new_offer": plan});

    let before = app.dump_database().await;
    let previewed = viewer.post(&path, draft.clone()).await;
    assert_eq!(previewed.status, StatusCode::OK, "{:?}", previewed.body);
    let previewed = previewed.body["tool"].clone();
    assert_eq!(previewed["title"], "Theme finder");
    assert!(
        previewed["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Finds themes. (Paid: Themes pass")),
        "{previewed}"
    );
    assert_eq!(
        app.dump_database().await,
        before,
        "a preview changes nothing"
    );

    // Refused: a plan that could not be created, a plan of no one.
    let mut bad = draft.clone();
    bad["new_offer"]["amount"] = json!(-1);
    assert_eq!(owner.post(&path, bad).await.status, StatusCode::BAD_REQUEST);
    let unknown = owner
        .post(&path, json!({"offer_id": uuid::Uuid::new_v4().to_string()}))
        .await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        unknown.body
    );
    assert_eq!(unknown.body["error"]["field"], "offer_id");

    // Saved as drafted, tools/list lists what the preview showed.
    let created = owner.post("/api/v1/tenants/demo/offers", plan).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let saved = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{tool}"),
            json!({"title": "Theme finder", "description": "Finds themes.", "offer_id": created.body["id"]}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.body);
    let listed = owner.get("/api/v1/tenants/demo/tools/preview").await.body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .find(|t| t["name"] == "wporg_query_themes")
        .cloned()
        .expect("listed");
    assert_eq!(listed, previewed);
    // With nothing drafted, the preview is the live description.
    assert_eq!(owner.post(&path, json!({})).await.body["tool"], listed);

    // A tool switched off is not listed, and its preview says so.
    let off = owner
        .patch(
            &format!("/api/v1/tenants/demo/tools/{tool}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK);
    assert_eq!(owner.post(&path, json!({})).await.body["tool"], Value::Null);
}
