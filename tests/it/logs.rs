//! What Tollgate writes to its logs: never a secret, even at debug level, on the MCP side and
//! on the operators' side.

use rmcp::model::CallToolRequestParams;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tollgate::billing::{NewOffer, OfferKind};
use tollgate_tests::admin::{Operator, PASSWORD, SETUP_TOKEN};
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::{Era, TestApp};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs_even_at_debug_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_writer(move || writer.clone())
        .finish();
    // One process per test under nextest; under `cargo test` another test may have set it.
    let installed = tracing::subscriber::set_global_default(subscriber).is_ok();

    let app = TestApp::spawn().await;
    // The operators' side: setup with a password, a wrong and a right sign-in, a personal API
    // token used, Stripe connected through the admin API, an invitation link.
    let owner = app.first_operator().await;
    let wrong = Operator::anonymous(&app)
        .post(
            "/api/v1/session",
            json!({"email": "owner@example.com", "password": "a wrong password"}),
        )
        .await;
    assert_eq!(wrong.status, 400);
    let signed_in = Operator::anonymous(&app)
        .post(
            "/api/v1/session",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_in.status, 200);
    let api_token = owner
        .post("/api/v1/tokens", json!({"name": "logs"}))
        .await
        .body["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    assert_eq!(
        owner
            .with_token(&api_token)
            .get("/api/v1/tenants")
            .await
            .status,
        200
    );
    let webhook_secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
    let connected = owner
        .put(
            "/api/v1/tenants/demo/payments/stripe",
            json!({"secret_key": app.stripe.secret_key, "webhook_secret": webhook_secret}),
        )
        .await;
    assert_eq!(connected.status, 200, "{:?}", connected.body);
    let invitation = owner
        .post(
            "/api/v1/tenants/demo/invitations",
            json!({"email": "new@example.com", "role": "viewer"}),
        )
        .await;
    let invitation_token = invitation.body["accept_url"]
        .as_str()
        .and_then(|url| url.split("token=").nth(1))
        .expect("an invitation link")
        .to_owned();
    let session_token = owner
        .cookie
        .as_deref()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("a session");
    app.stripe.add_price("price_logs", 500, "usd", None, false);
    let demo = app.tenant("demo").await;
    let offer = app
        .state
        .billing
        .create_offer(
            demo.id,
            NewOffer {
                name: "Logs".into(),
                kind: OfferKind::OneTime,
                price_id: "price_logs".into(),
                amount: 500,
                currency: "usd".into(),
                interval: None,
                calls: Some(5),
                meter_event: None,
                meter_value: None,
                free_quota: None,
                spend_cap: None,
                payment_reason: None,
                success_url: None,
                past_due_grace_days: None,
            },
        )
        .await
        .expect("offer");
    let tool = app
        .state
        .tenants
        .list_tools(demo.id)
        .await
        .expect("tools")
        .into_iter()
        .find(|t| t.name.as_str() == "wporg_plugin_downloads")
        .expect("tool");
    app.state
        .billing
        .price_tool(&app.state.tenants, demo.id, tool.id, Some(offer.id))
        .await
        .expect("priced");

    let client = OAuthClient::register(&app, "demo").await;
    let tokens = client.sign_in().await;
    let access = tokens["access_token"].as_str().expect("at").to_owned();
    let refresh = tokens["refresh_token"].as_str().expect("rt").to_owned();
    let (_, refreshed) = client.refresh(&refresh).await;
    let mcp = app
        .mcp_client_with_token("demo", Era::Stateless, &access)
        .await;
    let args = json!({"slug": "akismet"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    mcp.call_tool(
        CallToolRequestParams::new("wporg_plugin_downloads").with_arguments(args.clone()),
    )
    .await
    .expect("call");
    let session = app.stripe.checkout_sessions()[0].clone();
    let paid = app
        .stripe
        .complete_session(session["id"].as_str().expect("id"), "paid");
    let event = app.stripe.event("checkout.session.completed", paid);
    app.stripe
        .deliver(&app.webhook_url("demo"), &event, &webhook_secret)
        .await;
    // And a failing delivery: refused signatures are logged too.
    app.stripe
        .deliver(&app.webhook_url("demo"), &event, "whsec_wrong")
        .await;
    mcp.call_tool(CallToolRequestParams::new("wporg_plugin_downloads").with_arguments(args))
        .await
        .expect("call");
    mcp.cancel().await.expect("closes");

    let logs = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
    if installed {
        assert!(
            logs.contains("tool call"),
            "the capture works: {}",
            &logs[..logs.len().min(2000)]
        );
    }
    for secret in [
        access.as_str(),
        refresh.as_str(),
        refreshed["access_token"].as_str().expect("at"),
        app.stripe.secret_key.as_str(),
        webhook_secret.as_str(),
        app.github.client_secret.as_str(),
        PASSWORD,
        SETUP_TOKEN,
        api_token.as_str(),
        invitation_token.as_str(),
        session_token.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
    for prefix in [
        "tga_", "tgmcp_", "tgref_", "tgses_", "tgcsec_", "tgi_", "tgcode_", "gho_", "sk_test_",
        "whsec_",
    ] {
        assert!(!logs.contains(prefix), "{prefix}… reached the logs");
    }
}
