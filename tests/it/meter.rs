//! The meter sender and the Stripe client under Stripe's failures, through the real server and
//! the fake Stripe: refusals set aside after one attempt and shown to the operator, transient
//! failures retried, events outside Stripe's time window never sent (and listed on the
//! dashboard's payments page, in a real Chromium), one client per tenant key, and one deadline
//! for what a user waits on.

use reqwest::StatusCode;
use rmcp::model::CallToolResult;
use std::time::{Duration, Instant};
use tollgate::billing::OfferKind;
use tollgate::tenant::Tenant;
use tollgate_tests::admin::sign_in_in_browser;
use tollgate_tests::fake_stripe::Failure;
use tollgate_tests::webdriver::Chromium;
use tollgate_tests::{TestApp, TestOptions};

use crate::stripe::{Shop, call, shop_with, status};

const METER: &str = "POST /v1/billing/meter_events";

async fn demo(app: &TestApp) -> Tenant {
    app.state
        .tenants
        .get_tenant_by_slug("demo")
        .await
        .expect("demo")
}

/// A metered plan, paid for: each successful call queues one meter event.
async fn metered_shop() -> Shop {
    let shop = shop_with(OfferKind::Metered, TestOptions::default()).await;
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let sessions = shop.app.stripe.checkout_sessions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let session = shop
        .app
        .stripe
        .complete_session(sessions[0]["id"].as_str().expect("id"), "paid");
    let event = shop.app.stripe.event("checkout.session.completed", session);
    let response = shop
        .app
        .stripe
        .deliver(&shop.app.webhook_url("demo"), &event, &shop.secret)
        .await;
    assert_eq!(response.status(), 200);
    client.cancel().await.expect("closes");
    shop
}

impl Shop {
    /// Lets the sender run one whole round from now (after the clock moved, say).
    async fn one_sender_round(&self) {
        let mut rounds = self.app.state.billing.meter_rounds();
        rounds.borrow_and_update();
        self.app.state.billing.wake_meter_sender();
        tokio::time::timeout(Duration::from_secs(60), rounds.changed())
            .await
            .expect("a round within 60 s")
            .expect("the sender runs");
    }
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_refused_meter_event_is_set_aside_after_one_attempt_and_shown_to_the_operator() {
    let shop = metered_shop().await;
    shop.app.stripe.fail(METER, Some(Failure::Status(400)));
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
    shop.app.wait_for_meter_outbox_empty().await;
    assert_eq!(shop.app.stripe.requests(METER), 1);
    // Hours later, with Stripe accepting again, it is still not retried: a refusal is final.
    shop.app.stripe.fail(METER, None);
    shop.app.clock.advance(chrono::Duration::hours(2));
    shop.one_sender_round().await;
    assert_eq!(shop.app.stripe.requests(METER), 1, "never retried");
    assert!(shop.app.stripe.meter_events().is_empty());

    let owner = shop.app.first_operator().await;
    let answer = owner.get("/api/v1/tenants/demo/meter-events/failed").await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let failed = answer.body.as_array().expect("a list");
    assert_eq!(failed.len(), 1, "{failed:?}");
    let event = &failed[0];
    assert_eq!(event["attempts"], 1);
    assert_eq!(event["event_name"], "tool_calls");
    assert_eq!(event["value"], 1);
    assert_eq!(event["customer"], shop.app.stripe.customers()[0]["id"]);
    assert!(
        event["identifier"]
            .as_str()
            .is_some_and(|i| i.starts_with("tg_call_")),
        "{event}"
    );
    let reason = event["reason"].as_str().expect("reason");
    assert!(
        reason.contains("400") && reason.contains("Simulated failure (400)"),
        "Stripe's message: {reason}"
    );
    assert!(event["failed_at"].as_str().is_some_and(|t| !t.is_empty()));
    let document = owner.get("/api/v1/openapi.json").await;
    assert!(
        document.body["paths"]["/api/v1/tenants/{slug}/meter-events/failed"]["get"].is_object(),
        "documented in the OpenAPI document"
    );
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_event_counted_once() {
    let shop = metered_shop().await;
    shop.app
        .stripe
        .fail(METER, Some(Failure::FailTimes(500, 1)));
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
    shop.app.stripe.wait_for_requests(METER, 1).await;
    // The retry waits its backoff (1–2 s); moving the clock on makes it due now.
    shop.app.clock.advance(chrono::Duration::minutes(1));
    shop.app.state.billing.wake_meter_sender();
    shop.app.wait_for_meter_outbox_empty().await;
    assert_eq!(shop.app.stripe.requests(METER), 2, "one failure, one retry");
    assert_eq!(shop.app.stripe.meter_events().len(), 1);
    let demo = demo(&shop.app).await;
    assert!(
        shop.app
            .state
            .billing
            .failed_meter_events(demo.id)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn an_event_older_than_stripe_accepts_is_never_sent_and_is_reported() {
    let shop = metered_shop().await;
    // Stripe is down when the call is made; the event waits in the outbox.
    shop.app.stripe.fail(METER, Some(Failure::Status(503)));
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
    shop.app.stripe.wait_for_requests(METER, 1).await;
    // It stays down for 36 days; when it is back, the event is past Stripe's 35 days.
    shop.app.clock.advance(chrono::Duration::days(36));
    shop.app.stripe.fail(METER, None);
    shop.app.state.billing.wake_meter_sender();
    shop.app.wait_for_meter_outbox_empty().await;
    assert_eq!(
        shop.app.stripe.requests(METER),
        1,
        "never sent once outside the window"
    );
    assert!(shop.app.stripe.meter_events().is_empty());
    let demo = demo(&shop.app).await;
    let failed = shop
        .app
        .state
        .billing
        .failed_meter_events(demo.id)
        .await
        .expect("list");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].reason.contains("older than Stripe accepts"),
        "{}",
        failed[0].reason
    );
}

#[tokio::test]
async fn one_stripe_client_serves_a_tenant_until_its_key_changes() {
    let shop = shop_with(OfferKind::OneTime, TestOptions::default()).await;
    let client = shop.client().await;
    let before = shop.app.stripe.connections_accepted();
    // The first call makes a customer and a Checkout Session; each later one asks Stripe
    // whether the open session was paid.
    for _ in 0..6 {
        assert_eq!(status(&call(&client).await), "payment_required");
    }
    let requests = shop.app.stripe.requests("POST /v1/customers")
        + shop.app.stripe.requests("POST /v1/checkout/sessions")
        + shop.app.stripe.requests("GET /v1/checkout/sessions");
    assert!(requests >= 7, "{requests} Stripe requests");
    // A client per call opened a connection per call; one kept-alive pool opens one (two, if
    // a request went out just before the previous connection was back in the pool).
    let opened = shop.app.stripe.connections_accepted() - before;
    assert!(opened <= 2, "{opened} connections for {requests} requests");

    // The operator rolls the key and connects the new one: the next call uses it, on a new
    // client.
    let new_key = shop.app.stripe.roll_secret_key();
    let demo = demo(&shop.app).await;
    shop.app
        .state
        .billing
        .connect_stripe(&shop.app.state.tenants, &demo, &new_key, &[&shop.secret])
        .await
        .expect("connected with the new key");
    let before = shop.app.stripe.connections_accepted();
    assert_eq!(status(&call(&client).await), "payment_required");
    assert_eq!(
        shop.app
            .stripe
            .last_header("GET /v1/checkout/sessions", "authorization")
            .as_deref(),
        Some(format!("Bearer {new_key}").as_str()),
        "the call used the new key"
    );
    assert!(
        shop.app.stripe.connections_accepted() > before,
        "a new client, so a new connection"
    );
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_checkout_whose_stripe_calls_hang_answers_by_the_deadline_and_charges_nothing() {
    let options = TestOptions {
        extra: vec![("TOLLGATE_PROVIDER_DEADLINE_MS".into(), "1500".into())],
        ..TestOptions::default()
    };
    let shop = shop_with(OfferKind::OneTime, options).await;
    let client = shop.client().await;
    for route in ["POST /v1/customers", "POST /v1/checkout/sessions"] {
        shop.app.stripe.fail(route, Some(Failure::Hang));
        let started = Instant::now();
        let result = call(&client).await;
        // One Stripe request alone may take 8 s, and is tried twice: the answer came from the
        // deadline, not from Stripe's time-outs.
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{route}: {:?}",
            started.elapsed()
        );
        assert_eq!(result.is_error, Some(true), "{route}");
        let said = text(&result);
        assert!(
            said.contains("Payments are unavailable") && said.contains("Nothing was charged"),
            "{route}: {said}"
        );
        shop.app.stripe.fail(route, None);
    }
    // Nothing could be paid: Stripe holds no Checkout Session, Tollgate no purchase.
    assert!(shop.app.stripe.checkout_sessions().is_empty());
    let demo = demo(&shop.app).await;
    for listed in shop
        .app
        .state
        .billing
        .customers(demo.id)
        .await
        .expect("customers")
    {
        let one = shop
            .app
            .state
            .billing
            .customer(demo.id, listed.user.id)
            .await
            .expect("customer")
            .expect("exists");
        assert!(one.payments.is_empty(), "no purchase: {:?}", one.payments);
    }
    // With Stripe answering again, the user is asked to pay, once.
    assert_eq!(status(&call(&client).await), "payment_required");
    assert_eq!(shop.app.stripe.checkout_sessions().len(), 1);
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn the_payments_page_lists_usage_stripe_refused() {
    let shop = metered_shop().await;
    shop.app.stripe.fail(METER, Some(Failure::Status(400)));
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
    shop.app.wait_for_meter_outbox_empty().await;

    let _owner = shop.app.first_operator().await;
    let browser = Chromium::launch().await.expect("Chromium starts");
    browser
        .goto(&format!("{}/admin/sign-in", shop.app.url))
        .await
        .expect("the sign-in page");
    sign_in_in_browser(&browser, "owner@example.com").await;
    browser
        .wait_for("[data-test=tenant-card-demo]")
        .await
        .expect("signed in");
    browser
        .goto(&format!("{}/admin/t/demo/payments", shop.app.url))
        .await
        .expect("the payments page");
    let row = browser
        .wait_for_text("[data-test=failed-meter-events]", "Simulated failure (400)")
        .await
        .expect("the refused usage is listed with Stripe's message");
    assert!(row.contains("tool_calls"), "{row}");
    let customer = shop.app.stripe.customers()[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(row.contains(&customer), "{row}");
    let _ = browser.quit().await;
}
