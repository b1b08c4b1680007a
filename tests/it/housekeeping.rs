//! The purge of expired rows, through the real server and database: rows made by real flows
//! (sign-ins, authorizations, tokens, webhooks, rate-limit windows), a month passes on the
//! clock, new live rows are made; the purge removes exactly the old ones, the live credentials
//! keep working, and a second purge finds nothing.

use chrono::Duration;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tollgate::housekeeping::Purged;
use tollgate_tests::TestApp;
use tollgate_tests::admin::{Operator, PASSWORD};
use tollgate_tests::browser::{OAuthClient, Pkce};

const TABLES: [&str; 6] = [
    "oauth_pending",
    "oauth_code",
    "oauth_token",
    "operator_session",
    "provider_event",
    "rate_limit",
];

async fn counts(app: &TestApp) -> [u64; 6] {
    let db = &app.state.db;
    let mut counts = [0; 6];
    for (i, table) in TABLES.iter().enumerate() {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        let n: i64 = row.try_get("", "n").expect("a number");
        counts[i] = u64::try_from(n).expect("not negative");
    }
    counts
}

/// Makes one of each kind of row: an operator session, a pending authorization, a used code, an
/// access and a refresh token, a processed webhook event, rate-limit windows. Returns the
/// operator (signed in) and the MCP access token.
async fn make_rows(app: &TestApp, secret: &str, event_id: &str) -> (Operator, String) {
    let mut operator = Operator::anonymous(app);
    let signed_in = operator
        .post(
            "/api/v1/session",
            json!({"email": "owner@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(signed_in.status, StatusCode::OK);
    operator.adopt(&signed_in);
    let client = OAuthClient::register(app, "demo").await;
    let tokens = client.sign_in().await;
    // One authorization left pending (the consent page was shown, never answered).
    let consent = app
        .http()
        .get(client.authorize_url(&Pkce::new(), &[]))
        .send()
        .await
        .expect("answer");
    assert_eq!(consent.status(), 200);
    let mut event = app.stripe.event(
        "customer.created",
        json!({"id": "cus_purge", "object": "customer"}),
    );
    event["id"] = Value::String(event_id.to_owned());
    let delivered = app
        .stripe
        .deliver(&app.webhook_url("demo"), &event, secret)
        .await;
    assert_eq!(delivered.status(), 200);
    (
        operator,
        tokens["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned(),
    )
}

#[tokio::test]
async fn the_purge_removes_expired_rows_and_leaves_live_ones() {
    let app = TestApp::spawn().await;
    app.first_operator().await;
    let secret = app.connect_stripe("demo").await;
    make_rows(&app, &secret, "evt_old").await;
    let old = counts(&app).await;
    assert!(old.iter().all(|n| *n > 0), "one of each kind: {old:?}");

    // A month and two days later everything made so far has expired (refresh tokens live 30
    // days, codes and tokens are kept a day past expiry, event ids 30 days).
    app.clock.advance(Duration::days(32));
    let (operator, access_token) = make_rows(&app, &secret, "evt_new").await;
    let all = counts(&app).await;

    let purged = app
        .state
        .housekeeping
        .purge()
        .await
        .expect("the purge runs");
    assert_eq!(
        purged,
        Purged {
            pending: old[0],
            codes: old[1],
            tokens: old[2],
            sessions: old[3],
            webhook_events: old[4],
            rate_limits: old[5],
            mcp_sessions: 0,
        }
    );
    let left = counts(&app).await;
    for i in 0..TABLES.len() {
        assert_eq!(left[i], all[i] - old[i], "{}", TABLES[i]);
    }

    // The live credentials still work.
    assert_eq!(operator.get("/api/v1/session").await.status, StatusCode::OK);
    let client = app
        .mcp_client_with_token("demo", tollgate_tests::Era::Stateless, &access_token)
        .await;
    assert!(
        !client
            .list_all_tools()
            .await
            .expect("tools/list")
            .is_empty()
    );
    let _ = client.cancel().await;

    // Running again (as another replica would, at the same time) deletes nothing more.
    let again = app
        .state
        .housekeeping
        .purge()
        .await
        .expect("the purge runs");
    assert_eq!(
        again.pending + again.codes + again.tokens + again.sessions,
        0
    );
    assert_eq!(again.webhook_events, 0);
}

#[tokio::test]
async fn every_replica_purges_on_its_own_at_the_configured_interval() {
    let app = TestApp::spawn_with(tollgate_tests::TestOptions {
        extra: vec![("TOLLGATE_PURGE_INTERVAL_SECS".into(), "1".into())],
        ..tollgate_tests::TestOptions::default()
    })
    .await;
    let replica = app.spawn_replica(&[]).await;
    app.first_operator().await;
    let secret = app.connect_stripe("demo").await;
    make_rows(&app, &secret, "evt_old").await;
    app.clock.advance(Duration::days(32));

    // Both replicas purge every second, at the same time or not: the rows go, and nothing
    // fails. Polled against a deadline, never waited for blindly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let left = counts(&app).await;
        if left == [0; 6] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expired rows still there after 30 s: {left:?}"
        );
        // The poll's pace, not a wait for the result: the loop ends on the condition.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(replica);
}
