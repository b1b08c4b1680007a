//! Paid tools through Stripe (the fake in `tests/src/fake_stripe.rs`): checkout, webhooks,
//! entitlements, metering, and the failure cases of the reference's sections G–I and L.

use futures::future::join_all;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tollgate::billing::{NewOffer, OfferKind};
use tollgate::wordpress::Operation;
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::fake_stripe::{Failure, FakeStripe};
use tollgate_tests::{Era, McpClient, TestApp, TestOptions};

const TOOL: &str = "wporg_plugin_downloads";

pub(crate) struct Shop {
    pub(crate) app: TestApp,
    pub(crate) secret: String,
    token: String,
    client_id: String,
    refresh_token: String,
}

pub(crate) fn offer(kind: OfferKind, price: &str) -> NewOffer {
    NewOffer {
        name: "Stats".into(),
        kind,
        price_id: price.into(),
        amount: 500,
        currency: "usd".into(),
        interval: (kind != OfferKind::OneTime).then(|| "month".into()),
        calls: (kind == OfferKind::OneTime).then_some(2),
        meter_event: (kind == OfferKind::Metered).then(|| "tool_calls".into()),
        meter_value: None,
        free_quota: None,
        spend_cap: None,
        payment_reason: Some("Download stats are paid".into()),
        success_url: None,
        past_due_grace_days: None,
    }
}

/// The demo tenant on the fake Stripe, with `TOOL` priced by one offer, and a signed-in user.
pub(crate) async fn shop(kind: OfferKind) -> Shop {
    shop_with(kind, TestOptions::default()).await
}

/// [`shop`] on an app started with `options`.
pub(crate) async fn shop_with(kind: OfferKind, options: TestOptions) -> Shop {
    let app = TestApp::spawn_with(options).await;
    let secret = app.connect_stripe("demo").await;
    let price = "price_stats";
    app.stripe.add_price(
        price,
        500,
        "usd",
        (kind != OfferKind::OneTime).then_some("month"),
        kind == OfferKind::Metered,
    );
    let demo = app
        .state
        .tenants
        .get_tenant_by_slug("demo")
        .await
        .expect("demo");
    app.sell(demo.id, Operation::PluginDownloads, offer(kind, price))
        .await;
    let oauth = OAuthClient::register(&app, "demo").await;
    let tokens = oauth.sign_in().await;
    let client_id = oauth.client_id.clone();
    let token = tokens["access_token"].as_str().expect("token").to_owned();
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    Shop {
        app,
        secret,
        token,
        client_id,
        refresh_token,
    }
}

pub(crate) async fn call(client: &McpClient) -> CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new(TOOL).with_arguments(
                json!({"slug": "akismet"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("tools/call")
}

pub(crate) fn status(result: &CallToolResult) -> String {
    result
        .structured_content
        .as_ref()
        .and_then(|s| s["status"].as_str())
        .unwrap_or(if result.is_error == Some(true) {
            "error"
        } else {
            "ok"
        })
        .to_owned()
}

/// The one checkout session the fake created (the test made exactly one purchase).
pub(crate) fn only_session(stripe: &FakeStripe) -> Value {
    let sessions = stripe.checkout_sessions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    sessions[0].clone()
}

impl Shop {
    /// Pays the one open checkout (a subscription) with its webhook, then checks that the
    /// user's call works; answers the subscription's id.
    pub(crate) async fn subscribe(&self, client: &McpClient) -> String {
        let session = only_session(&self.app.stripe);
        let paid = self
            .pay_and_notify(session["id"].as_str().expect("id"))
            .await;
        let subscription = paid["subscription"]
            .as_str()
            .expect("subscription")
            .to_owned();
        assert_eq!(status(&call(client).await), "ok");
        subscription
    }

    /// The payment page a "payment required" answer links to, as a browser gets it.
    pub(crate) async fn payment_page(&self, asked: &CallToolResult) -> String {
        let pay_url = asked.structured_content.as_ref().expect("structured")["checkout_url"]
            .as_str()
            .expect("url");
        self.app
            .http()
            .get(pay_url)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html")
    }

    pub(crate) async fn client(&self) -> McpClient {
        self.app
            .mcp_client_with_token("demo", Era::Stateless, &self.token)
            .await
    }

    /// The same user's client after the clock moved past the access token's hour: the token
    /// refreshed, as a client does.
    pub(crate) async fn refreshed_client(&self) -> McpClient {
        let oauth = OAuthClient {
            app: &self.app,
            slug: "demo".into(),
            client_id: self.client_id.clone(),
        };
        let (code, tokens) = oauth.refresh(&self.refresh_token).await;
        assert_eq!(code, 200, "{tokens}");
        let token = tokens["access_token"].as_str().expect("token");
        self.app
            .mcp_client_with_token("demo", Era::Stateless, token)
            .await
    }

    pub(crate) async fn pay_and_notify(&self, session_id: &str) -> Value {
        let session = self.app.stripe.complete_session(session_id, "paid");
        let event = self
            .app
            .stripe
            .event("checkout.session.completed", session.clone());
        let response = self
            .app
            .stripe
            .deliver(&self.app.webhook_url("demo"), &event, &self.secret)
            .await;
        assert_eq!(response.status(), 200);
        session
    }
}

#[tokio::test]
async fn a_one_time_purchase_through_stripe_checkout_unlocks_its_calls() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    let first = call(&client).await;
    assert_eq!(status(&first), "payment_required", "{first:?}");
    assert_eq!(
        shop.app.wporg.hits("/stats/plugin/1.0/downloads.php"),
        0,
        "nothing ran"
    );

    // What Stripe was asked for.
    let customers = shop.app.stripe.customers();
    assert_eq!(customers.len(), 1);
    assert!(
        customers[0]["metadata"]["user"].is_string(),
        "{customers:?}"
    );
    let session = only_session(&shop.app.stripe);
    assert_eq!(session["mode"], "payment");
    assert_eq!(session["customer"], customers[0]["id"]);
    assert!(session["client_reference_id"].is_string());
    assert!(session["metadata"]["tollgate_purchase"].is_string());
    let keys = shop
        .app
        .stripe
        .idempotency_keys("POST /v1/checkout/sessions");
    assert!(keys.iter().all(|k| k.starts_with("tg-co-")), "{keys:?}");
    let form = shop
        .app
        .stripe
        .last_form("POST /v1/checkout/sessions")
        .expect("form");
    assert!(
        form.iter()
            .any(|(k, _)| k == "payment_intent_data[metadata][tollgate_user]"),
        "{form:?}"
    );

    let success = session["success_url"].as_str().expect("success url");
    assert!(
        success.starts_with(&format!("{}/t/demo/pay/", shop.app.url))
            && success.ends_with("/success"),
        "{success}"
    );
    let cancel = session["cancel_url"]
        .as_str()
        .expect("cancel url")
        .to_owned();
    assert!(cancel.ends_with("/cancel"), "{cancel}");
    let cancelled = shop
        .app
        .http()
        .get(&cancel)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(cancelled.contains("Nothing was charged"), "{cancelled}");
    // The payment page leads to Stripe's checkout.
    let page = shop.payment_page(&first).await;
    assert!(
        page.contains(session["url"].as_str().expect("url")),
        "{page}"
    );

    shop.pay_and_notify(session["id"].as_str().expect("id"))
        .await;
    assert_eq!(status(&call(&client).await), "ok");
    assert_eq!(status(&call(&client).await), "ok");
    // Two calls bought, two used: the third asks again, with a new checkout.
    assert_eq!(status(&call(&client).await), "payment_required");
    assert_eq!(shop.app.stripe.checkout_sessions().len(), 2);
    // The billing portal is Stripe's, for this user's customer.
    let portal = client
        .call_tool(CallToolRequestParams::new("billing_portal"))
        .await
        .expect("billing_portal");
    let url = portal.structured_content.expect("structured")["portal_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert!(url.starts_with(&shop.app.stripe.url), "{url}");
    let portal_sessions = shop.app.stripe.portal_sessions();
    assert_eq!(
        portal_sessions[0]["customer"],
        shop.app.stripe.customers()[0]["id"]
    );
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn twenty_concurrent_unpaid_calls_make_one_checkout_session() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    let results = join_all((0..20).map(|_| call(&client))).await;
    let urls: Vec<Value> = results
        .iter()
        .map(|r| r.structured_content.as_ref().expect("structured")["checkout_url"].clone())
        .collect();
    assert!(urls.iter().all(|u| *u == urls[0]), "{urls:?}");
    assert_eq!(shop.app.stripe.checkout_sessions().len(), 1);
    assert_eq!(shop.app.stripe.customers().len(), 1);
    let keys = shop
        .app
        .stripe
        .idempotency_keys("POST /v1/checkout/sessions");
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one deterministic key: {keys:?}"
    );
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn the_same_webhook_fifty_times_at_once_grants_once() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    call(&client).await;
    let session = only_session(&shop.app.stripe);
    let completed = shop
        .app
        .stripe
        .complete_session(session["id"].as_str().expect("id"), "paid");
    let event = shop
        .app
        .stripe
        .event("checkout.session.completed", completed);
    let url = shop.app.webhook_url("demo");
    let responses =
        join_all((0..50).map(|_| shop.app.stripe.deliver(&url, &event, &shop.secret))).await;
    assert!(responses.iter().all(|r| r.status() == 200));
    // Exactly two calls were bought, whatever the number of deliveries.
    assert_eq!(status(&call(&client).await), "ok");
    assert_eq!(status(&call(&client).await), "ok");
    assert_eq!(status(&call(&client).await), "payment_required");
    client.cancel().await.expect("closes");
    // And the payment is in the audit log once.
    let audit = shop
        .app
        .first_operator()
        .await
        .get("/api/v1/tenants/demo/audit")
        .await
        .body;
    let payments = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "stripe.checkout.session.completed")
        .count();
    assert_eq!(payments, 1, "{audit}");
}

#[tokio::test]
async fn a_tampered_stale_or_foreign_webhook_changes_nothing() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    call(&client).await;
    // The event says paid; Stripe itself still has the session open (so a retry that asks
    // Stripe finds nothing to grant: only a genuine webhook can).
    let mut completed = only_session(&shop.app.stripe);
    completed["status"] = json!("complete");
    completed["payment_status"] = json!("paid");
    let event = shop
        .app
        .stripe
        .event("checkout.session.completed", completed);
    let payload = event.to_string();
    let url = shop.app.webhook_url("demo");
    let now = shop.app.clock_now();
    let post = |body: String, signature: Option<String>| {
        let mut request = shop
            .app
            .http()
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        request.send()
    };
    let tampered = payload.replace("\"paid\"", "\"paid\" ");
    for (body, signature) in [
        (
            tampered.clone(),
            Some(FakeStripe::sign(&payload, &shop.secret, now)),
        ),
        (
            payload.clone(),
            Some(FakeStripe::sign(&payload, "whsec_wrong", now)),
        ),
        (payload.clone(), None),
        (
            payload.clone(),
            Some(FakeStripe::sign(&payload, &shop.secret, now - 301)),
        ),
    ] {
        let response = post(body, signature).await.expect("answer");
        assert_eq!(response.status(), 400);
    }
    // Signed for demo, posted to another tenant's webhook URL.
    let other = shop
        .app
        .state
        .tenants
        .create_tenant("acme", "Acme")
        .await
        .expect("acme");
    let _ = other;
    shop.app.connect_stripe("acme").await;
    let foreign = shop
        .app
        .stripe
        .deliver(&shop.app.webhook_url("acme"), &event, &shop.secret)
        .await;
    assert_eq!(foreign.status(), 400);
    assert_eq!(
        status(&call(&client).await),
        "payment_required",
        "still unpaid"
    );
    // Inside the tolerance is accepted: four and a half minutes old, read from the clock
    // again here (the steps above take seconds on a loaded machine).
    let now = shop.app.clock_now();
    let ok = post(
        payload.clone(),
        Some(FakeStripe::sign(&payload, &shop.secret, now - 270)),
    )
    .await
    .expect("answer");
    assert_eq!(ok.status(), 200);
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_late_webhook_is_covered_by_asking_stripe_on_the_retry() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    call(&client).await;
    let session = only_session(&shop.app.stripe);
    shop.app
        .stripe
        .complete_session(session["id"].as_str().expect("id"), "paid");
    // No webhook: the retry fetches the session once and finds it paid.
    let before = shop.app.stripe.requests("GET /v1/checkout/sessions");
    assert_eq!(status(&call(&client).await), "ok");
    assert_eq!(
        shop.app.stripe.requests("GET /v1/checkout/sessions"),
        before + 1
    );
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn an_unpaid_completion_grants_nothing_until_the_async_payment_succeeds() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    call(&client).await;
    let session = only_session(&shop.app.stripe);
    let id = session["id"].as_str().expect("id");
    let unpaid = shop.app.stripe.complete_session(id, "unpaid");
    let url = shop.app.webhook_url("demo");
    let event = shop
        .app
        .stripe
        .event("checkout.session.completed", unpaid.clone());
    assert_eq!(
        shop.app
            .stripe
            .deliver(&url, &event, &shop.secret)
            .await
            .status(),
        200
    );
    assert_eq!(status(&call(&client).await), "payment_pending");
    let mut paid = unpaid;
    paid["payment_status"] = json!("paid");
    let event = shop
        .app
        .stripe
        .event("checkout.session.async_payment_succeeded", paid);
    assert_eq!(
        shop.app
            .stripe
            .deliver(&url, &event, &shop.secret)
            .await
            .status(),
        200
    );
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_refund_or_dispute_ends_one_time_access() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    call(&client).await;
    let session = only_session(&shop.app.stripe);
    let paid = shop
        .pay_and_notify(session["id"].as_str().expect("id"))
        .await;
    assert_eq!(status(&call(&client).await), "ok");
    let charge = json!({"id": "ch_1", "object": "charge", "payment_intent": paid["payment_intent"], "refunded": true});
    let event = shop.app.stripe.event("charge.refunded", charge);
    let response = shop
        .app
        .stripe
        .deliver(&shop.app.webhook_url("demo"), &event, &shop.secret)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(status(&call(&client).await), "payment_required");
    client.cancel().await.expect("closes");
    let audit = shop
        .app
        .first_operator()
        .await
        .get("/api/v1/tenants/demo/audit")
        .await
        .body;
    assert!(
        audit
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["action"] == "stripe.charge.refunded" && e["actor"] == "stripe"),
        "{audit}"
    );
}

#[tokio::test]
async fn a_subscription_lasts_while_active_and_an_older_event_never_revives_it() {
    let shop = shop(OfferKind::Subscription).await;
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let session = only_session(&shop.app.stripe);
    assert_eq!(session["mode"], "subscription");
    let paid = shop
        .pay_and_notify(session["id"].as_str().expect("id"))
        .await;
    let subscription_id = paid["subscription"]
        .as_str()
        .expect("subscription")
        .to_owned();
    let subscription = shop
        .app
        .stripe
        .subscription(&subscription_id)
        .expect("subscription");
    assert!(
        subscription["metadata"]["tollgate_purchase"].is_string(),
        "metadata reaches the subscription"
    );
    let url = shop.app.webhook_url("demo");
    let now = shop.app.clock_now();
    // Stripe sends these in any order: `updated` first here.
    let updated = shop.app.stripe.event_at(
        "customer.subscription.updated",
        subscription.clone(),
        now + 2,
    );
    let created = shop.app.stripe.event_at(
        "customer.subscription.created",
        subscription.clone(),
        now + 1,
    );
    for event in [&updated, &created] {
        assert_eq!(
            shop.app
                .stripe
                .deliver(&url, event, &shop.secret)
                .await
                .status(),
            200
        );
    }
    assert_eq!(status(&call(&client).await), "ok");
    assert_eq!(
        status(&call(&client).await),
        "ok",
        "a subscription is not counted in calls"
    );

    shop.app
        .stripe
        .set_subscription(&subscription_id, "canceled", false);
    let deleted = shop.app.stripe.event_at(
        "customer.subscription.deleted",
        shop.app.stripe.subscription(&subscription_id).expect("sub"),
        now + 60,
    );
    assert_eq!(
        shop.app
            .stripe
            .deliver(&url, &deleted, &shop.secret)
            .await
            .status(),
        200
    );
    assert_eq!(status(&call(&client).await), "payment_required");

    // A delayed, older "active" update arrives after the deletion: access stays ended.
    let mut stale = subscription;
    stale["status"] = json!("active");
    let late = shop
        .app
        .stripe
        .event_at("customer.subscription.updated", stale, now + 30);
    assert_eq!(
        shop.app
            .stripe
            .deliver(&url, &late, &shop.secret)
            .await
            .status(),
        200
    );
    assert_eq!(status(&call(&client).await), "payment_required");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn each_successful_metered_call_is_one_meter_event_even_when_responses_are_lost() {
    let shop = shop(OfferKind::Metered).await;
    let client = shop.client().await;
    call(&client).await;
    let session = only_session(&shop.app.stripe);
    shop.pay_and_notify(session["id"].as_str().expect("id"))
        .await;
    // Stripe records each event but the first answers are lost: Tollgate retries with the
    // same identifier, and Stripe keeps one.
    shop.app.stripe.fail(
        "POST /v1/billing/meter_events",
        Some(Failure::CommitThenFail(500)),
    );
    for _ in 0..3 {
        assert_eq!(status(&call(&client).await), "ok");
    }
    // A failed tool call is not metered (another plugin: the first answer is cached).
    shop.app.wporg.fail(
        "/stats/plugin/1.0/downloads.php",
        Some(tollgate_tests::fake_wporg::Failure::Status(500)),
    );
    let failed = client
        .call_tool(
            CallToolRequestParams::new(TOOL).with_arguments(
                json!({"slug": "hello-dolly"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("tools/call");
    assert_eq!(status(&failed), "error");
    shop.app.wporg.fail("/stats/plugin/1.0/downloads.php", None);
    shop.app
        .stripe
        .wait_for_requests("POST /v1/billing/meter_events", 3)
        .await;
    shop.app.stripe.fail("POST /v1/billing/meter_events", None);
    shop.app.wait_for_meter_outbox_empty().await;
    let events = shop.app.stripe.meter_events();
    assert_eq!(events.len(), 3, "{events:?}");
    let customer = shop.app.stripe.customers()[0]["id"].clone();
    for event in &events {
        assert_eq!(event["event_name"], "tool_calls");
        assert_eq!(event["payload"]["stripe_customer_id"], customer);
        assert!(
            event["identifier"]
                .as_str()
                .is_some_and(|i| i.starts_with("tg_call_"))
        );
    }
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_crash_before_the_meter_event_is_sent_delivers_it_once_after_restart() {
    let mut shop = shop(OfferKind::Metered).await;
    let client = shop.client().await;
    call(&client).await;
    let session = only_session(&shop.app.stripe);
    shop.pay_and_notify(session["id"].as_str().expect("id"))
        .await;
    shop.app
        .stripe
        .fail("POST /v1/billing/meter_events", Some(Failure::Hang));
    assert_eq!(status(&call(&client).await), "ok");
    shop.app
        .stripe
        .wait_for_requests("POST /v1/billing/meter_events", 1)
        .await;
    client.cancel().await.expect("closes");
    // The process dies with the event in its outbox, claimed: the new process takes it once
    // the claim (60 s) has lapsed.
    shop.app.clock.advance(chrono::Duration::seconds(61));
    shop.app.crash_and_restart().await;
    shop.app.stripe.fail("POST /v1/billing/meter_events", None);
    shop.app.wait_for_meter_outbox_empty().await;
    assert_eq!(shop.app.stripe.meter_events().len(), 1);
}

#[tokio::test]
async fn stripe_failures_give_a_clear_error_in_bounded_time_and_duplicate_nothing() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    for failure in [Failure::Status(500), Failure::Status(429), Failure::Hang] {
        shop.app
            .stripe
            .fail("POST /v1/checkout/sessions", Some(failure));
        let started = Instant::now();
        let result = call(&client).await;
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{failure:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(result.is_error, Some(true));
        let text = result.content[0].as_text().expect("text").text.clone();
        assert!(
            text.contains("Payments are unavailable"),
            "{failure:?}: {text}"
        );
    }
    shop.app.stripe.fail("POST /v1/checkout/sessions", None);
    assert_eq!(status(&call(&client).await), "payment_required");
    assert_eq!(status(&call(&client).await), "payment_required");
    assert_eq!(
        shop.app.stripe.customers().len(),
        1,
        "one customer across all attempts"
    );
    assert_eq!(
        shop.app
            .stripe
            .checkout_sessions()
            .iter()
            .filter(|s| s["status"] == "open")
            .count(),
        1,
        "one open checkout"
    );
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_tenant_with_live_stripe_subscriptions_is_not_deleted_until_they_end() {
    let shop = shop(OfferKind::Subscription).await;
    let owner = shop.app.first_operator().await;
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let subscription_id = shop.subscribe(&client).await;

    // Deleting now would leave the customer charging at Stripe: refused, nothing changes.
    let confirm = || Some(json!({"confirm": "demo"}));
    let refused = owner.delete("/api/v1/tenants/demo", confirm()).await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    let message = refused.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("1 customer subscription at Stripe is still live")
            && message.contains("Cancel it in Stripe first"),
        "{message}"
    );
    assert_eq!(
        owner.get("/api/v1/tenants/demo").await.status,
        200,
        "the tenant is still there"
    );
    assert_eq!(status(&call(&client).await), "ok", "and still served");

    // Stripe ends the subscription (the operator cancelled it there): the deletion goes through.
    shop.app
        .stripe
        .set_subscription(&subscription_id, "canceled", false);
    let deleted = shop.app.stripe.event_at(
        "customer.subscription.deleted",
        shop.app.stripe.subscription(&subscription_id).expect("sub"),
        shop.app.clock_now() + 60,
    );
    let url = shop.app.webhook_url("demo");
    assert_eq!(
        shop.app
            .stripe
            .deliver(&url, &deleted, &shop.secret)
            .await
            .status(),
        200
    );
    let gone = owner.delete("/api/v1/tenants/demo", confirm()).await;
    assert_eq!(gone.status, 204, "{:?}", gone.body);
}

#[tokio::test]
async fn deleting_a_tenant_can_cancel_its_live_stripe_subscriptions_first() {
    let shop = shop(OfferKind::Subscription).await;
    let owner = shop.app.first_operator().await;
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let subscription_id = shop.subscribe(&client).await;
    let cancel = || Some(json!({"confirm": "demo", "cancel_subscriptions": true}));
    let tenant_id = shop
        .app
        .state
        .tenants
        .get_tenant_by_slug("demo")
        .await
        .expect("demo")
        .id;

    // Stripe cannot cancel it now: nothing is deleted, the subscription is still live.
    let stripe = &shop.app.stripe;
    stripe.fail("DELETE /v1/subscriptions", Some(Failure::Status(503)));
    let failed = owner.delete("/api/v1/tenants/demo", cancel()).await;
    assert_eq!(failed.status, 502, "{:?}", failed.body);
    assert_eq!(owner.get("/api/v1/tenants/demo").await.status, 200);
    assert_eq!(
        stripe.subscription(&subscription_id).expect("sub")["status"],
        "active"
    );
    assert_eq!(status(&call(&client).await), "ok", "still served");

    // Stripe answers again: cancelled there first, then the tenant is deleted.
    stripe.fail("DELETE /v1/subscriptions", None);
    let deleted = owner.delete("/api/v1/tenants/demo", cancel()).await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    assert_eq!(
        stripe.subscription(&subscription_id).expect("sub")["status"],
        "canceled"
    );
    let keys = stripe.idempotency_keys(&format!("DELETE /v1/subscriptions/{subscription_id}"));
    assert!(
        !keys.is_empty()
            && keys
                .iter()
                .all(|k| *k == format!("tg-cancel-{subscription_id}")),
        "{keys:?}"
    );
    assert_eq!(owner.get("/api/v1/tenants/demo").await.status, 404);
    // The record outlives the tenant: the cancellation is in its audit log.
    let entries = shop
        .app
        .state
        .accounts
        .audit_log(tenant_id, 100)
        .await
        .expect("audit");
    let cancelled: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "stripe.subscription.cancelled_for_deletion")
        .collect();
    assert_eq!(cancelled.len(), 1, "{entries:?}");
    assert_eq!(cancelled[0].target, subscription_id);
}
