//! `/t/{slug}/oauth/…` and the bearer check at `/t/{slug}/mcp`: discovery, registration,
//! consent, the GitHub hop, codes, tokens, and the attacks the reference lists (sections B–F).

use futures::future::join_all;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use tollgate_tests::browser::{
    Browser, OAuthClient, Pkce, REDIRECT_URI, hidden_input, query_param,
};
use tollgate_tests::fake_github::GitHubUser;
use tollgate_tests::{Era, TestApp, TestOptions};

async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app
        .http()
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn list_tools_with(app: &TestApp, slug: &str, token: Option<&str>) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
    ];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    app.post_mcp(slug, &body, &headers).await
}

#[tokio::test]
async fn a_request_without_a_token_gets_401_pointing_at_the_metadata() {
    let app = TestApp::spawn().await;
    app.require_sign_in("demo").await;
    let response = list_tools_with(&app, "demo", None).await;
    assert_eq!(response.status(), 401);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a challenge")
        .to_owned();
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/t/demo/mcp",
        app.url
    );
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(&format!(r#"resource_metadata="{metadata_url}""#)),
        "{challenge}"
    );

    let (status, prm) = get_json(&app, "/.well-known/oauth-protected-resource/t/demo/mcp").await;
    assert_eq!(status, 200);
    assert_eq!(prm["resource"], app.mcp_url("demo"));
    let issuer = format!("{}/t/demo", app.url);
    assert_eq!(prm["authorization_servers"], json!([issuer]));
    assert!(
        !prm["scopes_supported"]
            .to_string()
            .contains("offline_access")
    );
    let (_, root_form) = get_json(&app, "/t/demo/.well-known/oauth-protected-resource").await;
    assert_eq!(root_form, prm);

    for path in [
        "/.well-known/oauth-authorization-server/t/demo",
        "/.well-known/openid-configuration/t/demo",
        "/t/demo/.well-known/openid-configuration",
    ] {
        let (status, meta) = get_json(&app, path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(meta["issuer"], issuer, "{path}");
        assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
        assert_eq!(meta["token_endpoint"], format!("{issuer}/oauth/token"));
        assert_eq!(
            meta["registration_endpoint"],
            format!("{issuer}/oauth/register")
        );
    }
    let (status, _) = get_json(&app, "/.well-known/oauth-authorization-server/t/nobody").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn metadata_ignores_a_spoofed_host_header() {
    let app = TestApp::spawn().await;
    let meta: Value = app
        .http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server/t/demo",
            app.url
        ))
        .header("host", "evil.example")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(meta["issuer"], format!("{}/t/demo", app.url));
}

#[tokio::test]
async fn a_client_signs_in_through_github_and_calls_a_tool_with_rmcp() {
    let app = TestApp::spawn().await;
    app.require_sign_in("demo").await;
    let client = OAuthClient::register(&app, "demo").await;
    let pkce = Pkce::new();
    let browser = Browser::new();
    let consent = client.consent_page(&browser, &pkce).await;
    assert!(
        consent.body.contains("Test Client"),
        "the consent page names the client"
    );
    assert!(
        consent.body.contains("127.0.0.1"),
        "and where the browser goes back"
    );
    assert_eq!(
        consent
            .headers
            .get("x-frame-options")
            .and_then(|v| v.to_str().ok()),
        Some("DENY")
    );
    assert!(
        consent
            .headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("frame-ancestors 'none'"))
    );
    let back = client.approve(&browser, &consent).await;
    assert_eq!(
        query_param(&back, "iss"),
        Some(format!("{}/t/demo", app.url))
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("xyz-state"));
    let code = query_param(&back, "code").expect("code");
    let (status, tokens) = client.exchange(&code, &pkce).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().expect("access token");

    for era in [Era::Sessions, Era::Stateless] {
        let mcp = app.mcp_client_with_token("demo", era, access).await;
        let result = mcp
            .call_tool(
                CallToolRequestParams::new("wporg_plugin_tags").with_arguments(
                    json!({"number": 2})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                ),
            )
            .await
            .expect("tools/call");
        assert_ne!(result.is_error, Some(true), "{result:?}");
        mcp.cancel().await.expect("closes");
    }
    // The MCP token went nowhere but Tollgate.
    assert!(
        app.github
            .bearer_tokens_seen()
            .iter()
            .all(|t| !t.contains("tgmcp_"))
    );
    assert!(!app.wporg.saw_authorization_header());

    let users = app.end_users("demo").await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].subject, "1001");
    assert_eq!(users[0].login, "octocat");
    assert_eq!(users[0].email.as_deref(), Some("octocat@example.com"));
}

#[tokio::test]
async fn without_a_github_app_the_marked_demo_sign_in_completes_the_flow() {
    let app = TestApp::spawn_with(TestOptions {
        github: false,
        ..TestOptions::default()
    })
    .await;
    app.require_sign_in("demo").await;
    let client = OAuthClient::register(&app, "demo").await;
    let tokens = client.sign_in().await;
    let access = tokens["access_token"].as_str().expect("token");
    assert_eq!(
        list_tools_with(&app, "demo", Some(access)).await.status(),
        200
    );
    let users = app.end_users("demo").await;
    assert_eq!(users[0].provider, "local");
    assert_eq!(
        users[0].login, "demo:Ada Lovelace",
        "demo users have their own namespace"
    );
    assert_eq!(app.github.token_requests(), 0);
}

#[tokio::test]
async fn production_mode_never_offers_the_demo_sign_in() {
    let app = TestApp::spawn_with(TestOptions {
        github: false,
        extra: vec![("TOLLGATE_MODE".into(), "production".into())],
        ..TestOptions::default()
    })
    .await;
    assert!(
        app.state.tenants.get_tenant_by_slug("demo").await.is_err(),
        "production never seeds the demo tenant"
    );
    app.state
        .tenants
        .ensure_demo_tenant()
        .await
        .expect("an operator's tenant");
    let client = OAuthClient::register(&app, "demo").await;
    let page = Browser::new()
        .get(&client.authorize_url(&Pkce::new(), &[]))
        .await;
    assert_eq!(page.status, 503);
    assert!(page.location.is_none());
}

#[tokio::test]
async fn a_token_is_refused_at_another_tenant_and_when_expired_or_revoked() {
    let app = TestApp::spawn().await;
    app.state
        .tenants
        .create_tenant("acme", "Acme")
        .await
        .expect("created");
    app.require_sign_in("demo").await;
    app.require_sign_in("acme").await;
    let client = OAuthClient::register(&app, "demo").await;
    let tokens = client.sign_in().await;
    let access = tokens["access_token"].as_str().expect("token").to_owned();
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access)).await.status(),
        200
    );

    let foreign = list_tools_with(&app, "acme", Some(&access)).await;
    assert_eq!(foreign.status(), 401);
    let challenge = foreign.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );

    for bogus in ["tga_not-a-real-token", "", "Bearer"] {
        assert_eq!(
            list_tools_with(&app, "demo", Some(bogus)).await.status(),
            401
        );
    }
    let in_query = app
        .http()
        .post(format!("{}?access_token={access}", app.mcp_url("demo")))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(in_query.status(), 401);

    // Revocation (RFC 7009): the access token stops working at once.
    let revoked = app
        .http()
        .post(format!("{}/t/demo/oauth/revoke", app.url))
        .form(&[
            ("token", access.as_str()),
            ("client_id", client.client_id.as_str()),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access)).await.status(),
        401
    );

    // Expiry: a fresh token dies after its hour.
    let tokens = client.sign_in().await;
    let access = tokens["access_token"].as_str().expect("token");
    assert_eq!(
        list_tools_with(&app, "demo", Some(access)).await.status(),
        200
    );
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(
        list_tools_with(&app, "demo", Some(access)).await.status(),
        401
    );
}

#[tokio::test]
async fn redirect_uri_variants_are_refused_on_our_page_never_redirected() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let other = OAuthClient::register_with(&app, "demo", "https://other.example/cb").await;
    let pkce = Pkce::new();
    let browser = Browser::new();
    for bad in [
        "http://127.0.0.1:9/callback123",
        "http://127.0.0.1:9/CALLBACK",
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:9/callback#f",
        "https://127.0.0.1:9/callback",
        "https://other.example/cb",
        "javascript:alert(1)",
    ] {
        let page = browser
            .get(&client.authorize_url(&pkce, &[("redirect_uri", bad)]))
            .await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.location.is_none(), "{bad} must not redirect");
    }
    // Unknown client, or another client's id with this redirect URI.
    let unknown = browser
        .get(&client.authorize_url(&pkce, &[("client_id", "tgc_unknown")]))
        .await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.location.is_none());
    let mixed = browser
        .get(&client.authorize_url(&pkce, &[("client_id", &other.client_id)]))
        .await;
    assert_eq!(mixed.status, 400);
    assert!(mixed.location.is_none());
    // A loopback redirect URI may use another port (native apps pick one).
    let ok = browser
        .get(&client.authorize_url(
            &pkce,
            &[("redirect_uri", "http://127.0.0.1:51234/callback")],
        ))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn pkce_is_required_and_only_s256() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let pkce = Pkce::new();
    let browser = Browser::new();
    for extra in [
        vec![("code_challenge", ""), ("code_challenge_method", "")],
        vec![("code_challenge_method", "plain")],
        vec![("code_challenge_method", "")],
        vec![("code_challenge_method", "S512")],
        vec![("code_challenge", "short")],
    ] {
        let page = browser.get(&client.authorize_url(&pkce, &extra)).await;
        assert_eq!(
            page.status, 303,
            "{extra:?}: errors go back to the trusted redirect URI"
        );
        let location = page.location.expect("location");
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(
            query_param(&location, "state").as_deref(),
            Some("xyz-state")
        );
        assert_eq!(
            query_param(&location, "iss"),
            Some(format!("{}/t/demo", app.url))
        );
    }
    // A resource other than this tenant's MCP URL.
    let page = browser
        .get(&client.authorize_url(&pkce, &[("resource", "https://evil.example/mcp")]))
        .await;
    let location = page.location.expect("location");
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_target")
    );
}

#[tokio::test]
async fn a_wrong_or_malformed_verifier_burns_the_code() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let pkce = Pkce::new();
    let code = client.authorize(&pkce).await;
    let wrong = Pkce::new();
    let (status, body) = client.exchange(&code, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = client.exchange(&code, &pkce).await;
    assert_eq!(status, 400, "a failed attempt burns the code");

    for verifier in ["a", &"a".repeat(129), &"é".repeat(50)] {
        let pkce = Pkce::new();
        let code = client.authorize(&pkce).await;
        let bad = Pkce {
            verifier: verifier.to_owned(),
            challenge: String::new(),
        };
        let (status, body) = client.exchange(&code, &bad).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{verifier}"
        );
    }
}

#[tokio::test]
async fn twenty_parallel_redemptions_of_one_code_give_exactly_one_token() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let pkce = Pkce::new();
    let code = client.authorize(&pkce).await;
    let results = join_all((0..20).map(|_| client.exchange(&code, &pkce))).await;
    let ok: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 400);
        assert_eq!(body["error"], "invalid_grant");
    }
}

#[tokio::test]
async fn a_replayed_code_revokes_the_tokens_it_gave() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let pkce = Pkce::new();
    let code = client.authorize(&pkce).await;
    let (status, tokens) = client.exchange(&code, &pkce).await;
    assert_eq!(status, 200);
    let access = tokens["access_token"].as_str().expect("token").to_owned();
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access)).await.status(),
        200
    );
    let (status, body) = client.exchange(&code, &pkce).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access)).await.status(),
        401
    );
    let (status, _) = client
        .refresh(tokens["refresh_token"].as_str().expect("rt"))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_expired_code_or_one_for_another_client_is_refused() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let thief = OAuthClient::register_with(&app, "demo", "https://thief.example/cb").await;
    let pkce = Pkce::new();
    let code = client.authorize(&pkce).await;
    let (status, body) = thief.exchange(&code, &pkce).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let pkce = Pkce::new();
    let code = client.authorize(&pkce).await;
    app.clock.advance(chrono::Duration::seconds(61));
    let (status, body) = client.exchange(&code, &pkce).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// Live grants (token families) in the database.
async fn live_families(app: &TestApp) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = &app.state.db;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "select count(*) as n from oauth_grant where revoked_at is null",
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

#[tokio::test]
async fn ten_parallel_refreshes_with_one_token_keep_the_user_signed_in_in_one_family() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let first = client.sign_in().await;
    let rt1 = first["refresh_token"].as_str().expect("rt").to_owned();
    let answers = join_all((0..10).map(|_| client.refresh(&rt1))).await;
    let mut access = Vec::new();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "every parallel refresh succeeds: {body}");
        access.push(body["access_token"].as_str().expect("at").to_owned());
    }
    assert_eq!(live_families(&app).await, 1, "exactly one family");
    for token in &access {
        assert_eq!(
            list_tools_with(&app, "demo", Some(token)).await.status(),
            200,
            "the user stays signed in"
        );
    }
    // The new refresh tokens work; after the window, the old one is a replay and revokes the
    // family.
    let (status, _) = client
        .refresh(answers[3].1["refresh_token"].as_str().expect("rt"))
        .await;
    assert_eq!(status, 200);
    app.clock.advance(chrono::Duration::seconds(31));
    let (status, body) = client.refresh(&rt1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(live_families(&app).await, 0);
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access[0]))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let first = client.sign_in().await;
    let rt1 = first["refresh_token"].as_str().expect("rt").to_owned();
    let (status, second) = client.refresh(&rt1).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().expect("rt").to_owned();
    let at2 = second["access_token"].as_str().expect("at").to_owned();
    assert_ne!(rt1, rt2);
    assert_eq!(
        list_tools_with(&app, "demo", Some(&at2)).await.status(),
        200
    );

    // Past the grace window for parallel refreshes, a reuse is a replay.
    app.clock.advance(chrono::Duration::seconds(31));
    let (status, body) = client.refresh(&rt1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        list_tools_with(&app, "demo", Some(&at2)).await.status(),
        401
    );
    let (status, _) = client.refresh(&rt2).await;
    assert_eq!(status, 400, "the whole family is revoked");

    let (status, body) = client
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "tgr_unknown"),
            ("client_id", &client.client_id),
            ("scope", "admin"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = client
        .token_request(&[("grant_type", "password"), ("client_id", &client.client_id)])
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn consent_needs_its_csrf_token() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let browser = Browser::new();
    let consent = client.consent_page(&browser, &Pkce::new()).await;
    let request = hidden_input(&consent.body, "request").expect("request");
    for csrf in ["", "forged"] {
        let page = browser
            .post_form(
                &format!("{}/t/demo/oauth/consent", app.url),
                &[
                    ("request", &request),
                    ("csrf", csrf),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(page.status, 403, "{csrf:?}");
        assert!(page.location.is_none());
    }
    assert_eq!(app.github.token_requests(), 0);
    // Two consent pages loaded at once keep working independently.
    let a = client.consent_page(&browser, &Pkce::new()).await;
    let b = client.consent_page(&browser, &Pkce::new()).await;
    let back_b = client.approve(&browser, &b).await;
    let back_a = client.approve(&browser, &a).await;
    assert!(query_param(&back_a, "code").is_some() && query_param(&back_b, "code").is_some());
}

#[tokio::test]
async fn a_consent_form_posted_from_another_browser_ends_on_an_error_page_never_at_github() {
    let app = TestApp::spawn().await;
    // The attacker registers a client with their own redirect URI and loads /authorize in
    // their own browser: they now know the request id and the form's CSRF token.
    let client = OAuthClient::register(&app, "demo").await;
    let attacker = Browser::new();
    let consent = client.consent_page(&attacker, &Pkce::new()).await;
    let set_cookie = consent
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tg_auth_"))
        .expect("the consent page binds itself to this browser")
        .to_owned();
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let form = [
        (
            "request",
            hidden_input(&consent.body, "request").expect("request"),
        ),
        ("csrf", hidden_input(&consent.body, "csrf").expect("csrf")),
        ("decision", "approve".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = format!("{}/t/demo/oauth/consent", app.url);
    // The attacker's page auto-submits that form in a victim's browser: as a browser sends
    // it (cross-site), and as a script-less client would (no Origin, no Sec-Fetch-Site).
    let victim = Browser::new();
    let evil = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ];
    for headers in [&evil[..], &[][..], &[("sec-fetch-site", "cross-site")][..]] {
        let page = victim.post_form_with(&url, &form, headers).await;
        assert_eq!(page.status, 403, "{headers:?}: {}", page.body);
        assert!(page.location.is_none(), "{headers:?}: never on to GitHub");
        assert!(page.body.contains("Sign-in problem"), "{}", page.body);
        assert!(
            victim.cookie_names().is_empty(),
            "no binding set in the victim's browser"
        );
    }
    // Even the browser that holds the cookie is refused when the form comes from elsewhere.
    let forged = attacker.post_form_with(&url, &form, &evil).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(app.github.token_requests(), 0);
    assert!(app.end_users("demo").await.is_empty());
    // The browser that was shown the page can still answer it, from our own origin.
    let approved = attacker
        .post_form_with(
            &url,
            &form,
            &[("origin", &app.url), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let back = client
        .follow(&attacker, approved.location.expect("to GitHub"))
        .await;
    assert!(query_param(&back, "code").is_some(), "{back}");
}

#[tokio::test]
async fn the_demo_sign_in_form_is_refused_from_another_site() {
    let app = TestApp::spawn_with(TestOptions {
        github: false,
        ..TestOptions::default()
    })
    .await;
    let client = OAuthClient::register(&app, "demo").await;
    let browser = Browser::new();
    let consent = client.consent_page(&browser, &Pkce::new()).await;
    let request = hidden_input(&consent.body, "request").expect("request");
    let approved = browser
        .post_form(
            &format!("{}/t/demo/oauth/consent", app.url),
            &[
                ("request", &request),
                ("csrf", &hidden_input(&consent.body, "csrf").expect("csrf")),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let local = format!("{}/t/demo/oauth/local", app.url);
    let form = [("request", request.as_str()), ("name", "Mallory")];
    let forged = browser
        .post_form_with(
            &local,
            &form,
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let elsewhere = Browser::new().post_form(&local, &form).await;
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    assert!(app.end_users("demo").await.is_empty());
    let signed_in = browser.post_form(&local, &form).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(app.end_users("demo").await.len(), 1);
}

#[tokio::test]
async fn denying_consent_sends_access_denied_to_the_client() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let browser = Browser::new();
    let consent = client.consent_page(&browser, &Pkce::new()).await;
    let page = browser
        .post_form(
            &format!("{}/t/demo/oauth/consent", app.url),
            &[
                (
                    "request",
                    &hidden_input(&consent.body, "request").expect("request"),
                ),
                ("csrf", &hidden_input(&consent.body, "csrf").expect("csrf")),
                ("decision", "deny"),
            ],
        )
        .await;
    assert_eq!(page.status, 303);
    let location = page.location.expect("location");
    assert!(location.starts_with(REDIRECT_URI));
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("access_denied")
    );
}

#[tokio::test]
async fn a_consent_approved_in_one_browser_cannot_finish_in_another() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let attacker = Browser::new();
    let consent = client.consent_page(&attacker, &Pkce::new()).await;
    let approved = attacker
        .post_form(
            &format!("{}/t/demo/oauth/consent", app.url),
            &[
                (
                    "request",
                    &hidden_input(&consent.body, "request").expect("request"),
                ),
                ("csrf", &hidden_input(&consent.body, "csrf").expect("csrf")),
                ("decision", "approve"),
            ],
        )
        .await;
    let github_url = approved.location.expect("to GitHub");
    // The attacker sends the GitHub URL to a victim, whose browser follows it.
    let victim = Browser::new();
    let at_github = victim.get(&github_url).await;
    let callback = at_github.location.expect("GitHub answers at once");
    let at_tollgate = victim.get(&callback).await;
    assert_eq!(at_tollgate.status, 403, "{}", at_tollgate.body);
    assert!(at_tollgate.location.is_none(), "no code goes anywhere");
    assert!(app.end_users("demo").await.is_empty());
}

#[tokio::test]
async fn a_replayed_or_unknown_github_state_is_refused() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let browser = Browser::new();
    let consent = client.consent_page(&browser, &Pkce::new()).await;
    let approved = browser
        .post_form(
            &format!("{}/t/demo/oauth/consent", app.url),
            &[
                (
                    "request",
                    &hidden_input(&consent.body, "request").expect("request"),
                ),
                ("csrf", &hidden_input(&consent.body, "csrf").expect("csrf")),
                ("decision", "approve"),
            ],
        )
        .await;
    let callback = browser
        .get(&approved.location.expect("github"))
        .await
        .location
        .expect("back");
    let first = browser.get(&callback).await;
    assert_eq!(first.status, 303);
    let replay = browser.get(&callback).await;
    assert_eq!(replay.status, 400);
    let forged = browser
        .get(&format!(
            "{}/t/demo/oauth/callback/github?code=x&state=forged",
            app.url
        ))
        .await;
    assert_eq!(forged.status, 400);
}

#[tokio::test]
async fn a_renamed_github_login_is_the_same_user_and_a_reused_login_is_not() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    client.sign_in().await;
    app.github.sign_in_as(GitHubUser {
        id: 1001,
        login: "octocat-renamed".into(),
        name: Some("The Octocat".into()),
        email: None,
    });
    client.sign_in().await;
    let users = app.end_users("demo").await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].login, "octocat-renamed");
    assert_eq!(users[0].email, None);

    app.github.sign_in_as(GitHubUser {
        id: 2002,
        login: "octocat".into(),
        name: None,
        email: None,
    });
    client.sign_in().await;
    assert_eq!(app.end_users("demo").await.len(), 2);
}

#[tokio::test]
async fn a_failing_github_user_endpoint_creates_no_one() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    for failure in [
        tollgate_tests::fake_github::UserFailure::Status(500),
        tollgate_tests::fake_github::UserFailure::Status(401),
        tollgate_tests::fake_github::UserFailure::EmptyObject,
    ] {
        app.github.fail_user_endpoint(Some(failure));
        let browser = Browser::new();
        let consent = client.consent_page(&browser, &Pkce::new()).await;
        let back = client.approve(&browser, &consent).await;
        assert!(query_param(&back, "code").is_none(), "{back}");
        assert!(query_param(&back, "error").is_some(), "{back}");
    }
    assert!(app.end_users("demo").await.is_empty());
}

#[tokio::test]
async fn registration_policy_refuses_bad_metadata_and_floods() {
    let app = TestApp::spawn().await;
    let register = |body: Value| {
        let app = &app;
        async move {
            let response = app
                .http()
                .post(format!("{}/t/demo/oauth/register", app.url))
                .json(&body)
                .send()
                .await
                .expect("answer");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    for uris in [
        json!([]),
        json!(["javascript:alert(1)"]),
        json!(["http://example.com/cb"]),
        json!(["https://c.example/cb#frag"]),
        json!(["https://user@c.example/cb"]),
        json!([format!("https://c.example/{}", "a".repeat(2100))]),
        json!([
            "https://a.example/1",
            "https://a.example/2",
            "https://a.example/3",
            "https://a.example/4",
            "https://a.example/5",
            "https://a.example/6"
        ]),
    ] {
        let (status, body) =
            register(json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"})).await;
        assert_eq!(status, 400, "{uris}");
        assert_eq!(body["error"], "invalid_redirect_uri", "{uris}");
    }
    let (status, body) =
        register(json!({"redirect_uris": [REDIRECT_URI], "grant_types": ["client_credentials"]}))
            .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    let huge = json!({"redirect_uris": [REDIRECT_URI], "client_name": "x".repeat(20_000)});
    assert_eq!(register(huge).await.0, 400);

    // The same public metadata twice gives the same client.
    let same = json!({"redirect_uris": [REDIRECT_URI], "client_name": "Same", "token_endpoint_auth_method": "none"});
    let (_, a) = register(same.clone()).await;
    let (_, b) = register(same).await;
    assert_eq!(a["client_id"], b["client_id"]);

    // A confidential client gets a secret once; it is kept only as a hash.
    let (status, confidential) =
        register(json!({"redirect_uris": ["https://c.example/cb"], "client_name": "Conf"})).await;
    assert_eq!(status, 201);
    assert!(
        confidential["client_secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("tgcsec_"))
    );

    let mut refused = 0;
    for i in 0..40 {
        let (status, _) = register(json!({"redirect_uris": [format!("https://c{i}.example/cb")], "token_endpoint_auth_method": "none"})).await;
        if status == 429 {
            refused += 1;
        }
    }
    assert!(refused > 0, "a flood of registrations is throttled");
}

#[tokio::test]
async fn a_client_name_is_escaped_on_the_consent_page() {
    let app = TestApp::spawn().await;
    let body: Value = app
        .http()
        .post(format!("{}/t/demo/oauth/register", app.url))
        .json(
            &json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none",
            "client_name": "<script>alert(1)</script>\u{202E}evil"}),
        )
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    let client = OAuthClient {
        app: &app,
        slug: "demo".into(),
        client_id: body["client_id"].as_str().expect("id").into(),
    };
    let page = client.consent_page(&Browser::new(), &Pkce::new()).await;
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(page.body.contains("&lt;script&gt;"));
    assert!(!page.body.contains('\u{202E}'));
}

#[tokio::test]
async fn secrets_are_stored_only_as_hashes() {
    let app = TestApp::spawn().await;
    let client = OAuthClient::register(&app, "demo").await;
    let pkce = Pkce::new();
    let code = client.authorize(&pkce).await;
    let (_, tokens) = client.exchange(&code, &pkce).await;
    let dump = app.dump_database().await;
    for secret in [
        code.as_str(),
        tokens["access_token"].as_str().expect("at"),
        tokens["refresh_token"].as_str().expect("rt"),
        app.github.client_secret.as_str(),
    ] {
        assert!(!dump.contains(secret), "{secret} is stored in clear");
    }
    assert!(!dump.contains("gho_"), "GitHub's token is never stored");
}

#[tokio::test]
async fn a_legacy_session_belongs_to_the_user_who_opened_it() {
    let app = TestApp::spawn().await;
    let alice = OAuthClient::register(&app, "demo").await.sign_in().await;
    app.github.sign_in_as(GitHubUser {
        id: 3003,
        login: "bob".into(),
        name: None,
        email: None,
    });
    let bob = OAuthClient::register(&app, "demo").await.sign_in().await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "it", "version": "1"}}});
    let alice_auth = format!("Bearer {}", alice["access_token"].as_str().expect("at"));
    let response = app
        .post_mcp("demo", &init.to_string(), &[("authorization", &alice_auth)])
        .await;
    assert_eq!(response.status(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .expect("ascii")
        .to_owned();

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let bob_auth = format!("Bearer {}", bob["access_token"].as_str().expect("at"));
    let as_bob = app
        .post_mcp(
            "demo",
            &list,
            &[
                ("authorization", &bob_auth),
                ("mcp-session-id", &session),
                ("mcp-protocol-version", "2025-06-18"),
            ],
        )
        .await;
    assert_eq!(as_bob.status(), 404);
    let anonymous = app
        .post_mcp(
            "demo",
            &list,
            &[
                ("mcp-session-id", &session),
                ("mcp-protocol-version", "2025-06-18"),
            ],
        )
        .await;
    assert_eq!(anonymous.status(), 404);
}

/// Serves one client metadata document on 127.0.0.1; returns its URL (the client id).
async fn serve_metadata_document(name: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/oauth/client.json",
        listener.local_addr().expect("addr")
    );
    let document = json!({
        "client_id": url,
        "client_name": name,
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let router = axum::Router::new().route(
        "/oauth/client.json",
        axum::routing::get(move || {
            let document = document.clone();
            async move { axum::Json(document) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}

#[tokio::test]
async fn a_client_metadata_document_url_works_as_a_client_id() {
    let app = TestApp::spawn_with(TestOptions {
        extra: vec![("TOLLGATE_CIMD_INSECURE_LOOPBACK".into(), "true".into())],
        ..TestOptions::default()
    })
    .await;
    let (_, meta) = get_json(&app, "/.well-known/oauth-authorization-server/t/demo").await;
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    let client_id = serve_metadata_document("Doc Client").await;
    let client = OAuthClient {
        app: &app,
        slug: "demo".into(),
        client_id,
    };
    let pkce = Pkce::new();
    let browser = Browser::new();
    let consent = client.consent_page(&browser, &pkce).await;
    assert!(consent.body.contains("Doc Client"), "{}", consent.body);
    let back = client.approve(&browser, &consent).await;
    let code = query_param(&back, "code").expect("code");
    let (status, tokens) = client.exchange(&code, &pkce).await;
    assert_eq!(status, 200, "{tokens}");
}

#[tokio::test]
async fn a_metadata_document_on_a_private_address_is_never_fetched() {
    let app = TestApp::spawn().await;
    let browser = Browser::new();
    for client_id in [
        serve_metadata_document("Local").await,
        "https://127.0.0.1/client.json".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://10.1.2.3/client.json".to_owned(),
    ] {
        let client = OAuthClient {
            app: &app,
            slug: "demo".into(),
            client_id: client_id.clone(),
        };
        let page = browser.get(&client.authorize_url(&Pkce::new(), &[])).await;
        assert_eq!(page.status, 400, "{client_id}");
        assert!(page.location.is_none(), "{client_id}");
    }
}

#[tokio::test]
async fn an_operator_preregistered_confidential_client_authenticates_with_its_secret() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("demo").await;
    let registered = app
        .state
        .oauth
        .preregister_client(&tenant, "Operator's app", &[REDIRECT_URI], true)
        .await
        .expect("registered");
    let secret = registered.client_secret.clone().expect("a secret");
    let client = OAuthClient {
        app: &app,
        slug: "demo".into(),
        client_id: registered.client_id.clone(),
    };
    let pkce = Pkce::new();
    let code = client.authorize(&pkce).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let wrong = app
        .http()
        .post(format!("{}/t/demo/oauth/token", app.url))
        .basic_auth(&registered.client_id, Some("tgs_wrong"))
        .form(&form)
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status(), 401);
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
    // The failed authentication did not burn the code.
    let right = app
        .http()
        .post(format!("{}/t/demo/oauth/token", app.url))
        .basic_auth(&registered.client_id, Some(&secret))
        .form(&form)
        .send()
        .await
        .expect("answer");
    assert_eq!(right.status(), 200);
    assert_eq!(right.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn a_tenant_can_bring_its_own_github_app() {
    // No platform GitHub app: without the tenant's own, the demo sign-in would be used.
    let app = TestApp::spawn_with(TestOptions {
        github: false,
        ..TestOptions::default()
    })
    .await;
    let tenant = app.tenant("demo").await;
    let sealed = app
        .state
        .oauth
        .seal_github_secret(tenant.id, &app.github.client_secret)
        .expect("sealed");
    let mut settings = tenant.settings.clone();
    settings.github_app = Some(tollgate::tenant::TenantGitHubApp {
        client_id: app.github.client_id.clone(),
        client_secret_sealed: sealed.clone(),
    });
    app.state
        .tenants
        .update_settings(tenant.id, &settings)
        .await
        .expect("saved");
    assert!(!sealed.contains(&app.github.client_secret));
    let client = OAuthClient::register(&app, "demo").await;
    let pkce = Pkce::new();
    let browser = Browser::new();
    let consent = client.consent_page(&browser, &pkce).await;
    assert!(
        consent.body.contains("sign in with GitHub"),
        "{}",
        consent.body
    );
    let _ = client.approve(&browser, &consent).await;
    assert_eq!(
        app.github.token_requests(),
        1,
        "the tenant's app signed the user in"
    );
    assert_eq!(app.end_users("demo").await[0].provider, "github");
}
