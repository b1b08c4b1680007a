//! The master key across a cluster: a replica with another key is refused with a message that
//! says what to do, and `tollgate keys rotate` re-seals every secret under a new key while the
//! previous key keeps the replicas working.

use tollgate_tests::TestApp;

/// The harness's key (base64 of "0123456789abcdef0123456789abcdef").
const OLD: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const NEW: &str = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=";
const WRONG: &str = "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=";

/// A signed webhook that Tollgate verifies with the tenant's sealed webhook secret: 200 only
/// when the replica can open it.
async fn webhook_status(app: &TestApp, at: &str, secret: &str) -> u16 {
    let event = app.stripe.event(
        "customer.created",
        serde_json::json!({"id": "cus_x", "object": "customer"}),
    );
    app.stripe
        .deliver(&format!("{at}/t/demo/webhooks/stripe"), &event, secret)
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_replica_with_another_master_key_is_refused_with_what_to_do() {
    let app = TestApp::spawn().await;
    app.connect_stripe("demo").await;
    let error = app
        .build_app_with(&[("TOLLGATE_MASTER_KEY", WRONG)])
        .await
        .err()
        .expect("a replica with another key does not start");
    let message = format!("{error:#}");
    assert!(
        message.contains("TOLLGATE_MASTER_KEY does not open the secrets")
            && message.contains("tollgate keys rotate"),
        "{message}"
    );
    assert!(
        !message.contains(WRONG) && !message.contains(OLD),
        "no key in the message"
    );
    // The same key starts.
    app.build_app_with(&[]).await.expect("the same key starts");
}

#[tokio::test]
async fn keys_rotate_reseals_every_secret_while_the_old_key_still_opens_old_rows() {
    let app = TestApp::spawn().await;
    let secret = app.connect_stripe("demo").await;
    assert_eq!(webhook_status(&app, &app.url, &secret).await, 200);
    let old_dump = app.dump_database().await;

    // Step 1 of a rotation: replicas restart with the new key and the previous one.
    let rotating = [
        ("TOLLGATE_MASTER_KEY", NEW),
        ("TOLLGATE_MASTER_KEY_PREVIOUS", OLD),
    ];
    let replica = app.spawn_replica(&rotating).await;
    assert_eq!(
        webhook_status(&app, &replica.url, &secret).await,
        200,
        "a replica with both keys opens the old rows"
    );

    // Step 2: `tollgate keys rotate`.
    let cli = app.build_app_with(&rotating).await.expect("the CLI starts");
    let report = cli
        .state()
        .rotate_master_key()
        .await
        .expect("rotation succeeds");
    assert_eq!(report.tenants, 1);
    assert_eq!(report.resealed, 2, "the Stripe key and the webhook secret");
    let again = cli.state().rotate_master_key().await.expect("idempotent");
    assert_eq!(again.resealed, 0);
    let new_dump = app.dump_database().await;
    let new_id = app
        .build_app_with(&rotating)
        .await
        .expect("starts")
        .state()
        .master_key
        .id()
        .to_owned();
    assert!(
        new_dump.contains(&format!("v2.{new_id}.")),
        "sealed under the new key"
    );
    assert_ne!(old_dump, new_dump);
    assert!(!new_dump.contains(&secret), "never in clear");

    // Step 3: replicas drop the previous key; the old key alone is now refused.
    let after = app.spawn_replica(&[("TOLLGATE_MASTER_KEY", NEW)]).await;
    assert_eq!(webhook_status(&app, &after.url, &secret).await, 200);
    let stale = app
        .build_app_with(&[("TOLLGATE_MASTER_KEY", OLD)])
        .await
        .err()
        .expect("the old key no longer starts");
    assert!(format!("{stale:#}").contains("does not open"), "{stale:#}");
    // A forged signature is still refused by the rotated replica.
    assert_eq!(webhook_status(&app, &after.url, "whsec_forged").await, 400);
}
