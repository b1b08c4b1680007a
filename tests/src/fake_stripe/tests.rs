//! Unit tests of the fake against Stripe's documented behaviour.

use super::*;
use std::time::Duration;

/// A webhook payload and its signature, computed once with Python's `hmac` and `hashlib`:
/// `hmac.new(b"whsec_fake_0123456789", b"1700000000." + PAYLOAD, hashlib.sha256).hexdigest()`.
const PAYLOAD: &str = r#"{"id":"evt_test","object":"event"}"#;
const SIGNATURE: &str =
    "t=1700000000,v1=c05f36a9b20d7946520749cc3cd6f5b52fbd744a5a709e2eb4867a05c5b65f27";

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// `(type, code, param)` of a Stripe error.
    fn error(&self) -> (String, String, String) {
        let error = &self.json()["error"];
        let text = |key: &str| error[key].as_str().unwrap_or_default().to_owned();
        (text("type"), text("code"), text("param"))
    }
}

fn client() -> reqwest::Client {
    crate::install_crypto();
    reqwest::Client::new()
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("Stripe answers");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("a body"),
    }
}

async fn post(
    stripe: &FakeStripe,
    path: &str,
    form: &[(&str, &str)],
    idempotency_key: Option<&str>,
) -> Answer {
    let mut request = client()
        .post(format!("{}{path}", stripe.url))
        .bearer_auth(&stripe.secret_key)
        .header("stripe-version", API_VERSION)
        .form(form);
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    answer(request).await
}

async fn get(stripe: &FakeStripe, path: &str, query: &[(&str, &str)]) -> Answer {
    let request = client()
        .get(format!("{}{path}", stripe.url))
        .bearer_auth(&stripe.secret_key)
        .query(query);
    answer(request).await
}

async fn customer(stripe: &FakeStripe) -> String {
    let created = post(stripe, "/v1/customers", &[("email", "a@example.com")], None).await;
    created.json()["id"]
        .as_str()
        .expect("a customer id")
        .to_owned()
}

#[tokio::test]
async fn one_idempotency_key_creates_one_customer_and_replays_the_first_answer() {
    let stripe = FakeStripe::start().await;
    let form = [
        ("email", "ada@example.com"),
        ("name", "Ada"),
        ("metadata[tenant]", "acme"),
    ];
    let first = post(&stripe, "/v1/customers", &form, Some("key-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let customer = first.json();
    assert!(customer["id"].as_str().expect("an id").starts_with("cus_"));
    assert_eq!(customer["object"], "customer");
    assert_eq!(customer["email"], "ada@example.com");
    assert_eq!(customer["metadata"], json!({"tenant": "acme"}));
    assert_eq!(first.header("idempotency-key"), Some("key-1"));
    assert_eq!(first.header("stripe-version"), Some(API_VERSION));
    assert!(
        first
            .header("request-id")
            .expect("an id")
            .starts_with("req_")
    );

    let again = post(&stripe, "/v1/customers", &form, Some("key-1")).await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.header("original-request"), first.header("request-id"));
    assert_eq!(stripe.customers().len(), 1);
    assert_eq!(stripe.requests("POST /v1/customers"), 2);
    assert_eq!(stripe.idempotency_keys("POST /v1/"), ["key-1", "key-1"]);
    assert_eq!(
        stripe.last_header("POST /v1/customers", "stripe-version"),
        Some(API_VERSION.to_owned())
    );

    let other_body = post(
        &stripe,
        "/v1/customers",
        &[("email", "b@x.io")],
        Some("key-1"),
    )
    .await;
    assert_eq!(other_body.status, 400);
    assert_eq!(other_body.error().0, "idempotency_error");
    let other_path = post(
        &stripe,
        "/v1/billing/meter_events",
        &[("event_name", "calls"), ("payload[value]", "1")],
        Some("key-1"),
    )
    .await;
    assert_eq!(other_path.status, 400);
    assert_eq!(other_path.error().0, "idempotency_error");
    assert!(stripe.meter_events().is_empty());

    let concurrent = futures::future::join_all(
        (0..8).map(|_| post(&stripe, "/v1/customers", &form, Some("key-2"))),
    )
    .await;
    assert!(concurrent.iter().all(|a| a.body == concurrent[0].body));
    assert_eq!(stripe.customers().len(), 2);
    assert_eq!(
        stripe.last_form("POST /v1/customers"),
        Some(form.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec())
    );
}

#[tokio::test]
async fn the_api_wants_the_secret_key_and_known_urls() {
    let stripe = FakeStripe::start().await;
    let anonymous = answer(client().post(format!("{}/v1/customers", stripe.url))).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.error().0, "invalid_request_error");
    assert!(
        anonymous.json()["error"]["message"]
            .as_str()
            .expect("a message")
            .starts_with("You did not provide an API key.")
    );
    let wrong = answer(
        client()
            .post(format!("{}/v1/customers", stripe.url))
            .bearer_auth("sk_test_51wrongwrongwrong1234"),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        wrong.json()["error"]["message"],
        "Invalid API Key provided: sk_test_*****************1234"
    );
    assert!(stripe.customers().is_empty());
    let unknown = get(&stripe, "/v1/charges", &[]).await;
    assert_eq!(unknown.status, 404);
    assert!(
        unknown
            .body
            .contains("Unrecognized request URL (GET: /v1/charges)")
    );
    let strange = post(&stripe, "/v1/customers", &[("emial", "a@b.co")], None).await;
    assert_eq!(strange.status, 400);
    assert_eq!(
        strange.error(),
        (
            "invalid_request_error".into(),
            "parameter_unknown".into(),
            "emial".into()
        )
    );
}

#[tokio::test]
async fn checkout_sessions_are_created_retrieved_and_completed_into_subscriptions() {
    let stripe = FakeStripe::start().await;
    stripe.add_price("price_pro", 2000, "usd", Some("month"), false);
    stripe.add_price("price_calls", 5, "usd", Some("month"), true);
    let customer = customer(&stripe).await;
    let form = [
        ("mode", "subscription"),
        ("customer", customer.as_str()),
        ("line_items[0][price]", "price_pro"),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][price]", "price_calls"),
        (
            "success_url",
            "http://127.0.0.1:9/ok?session={CHECKOUT_SESSION_ID}",
        ),
        ("cancel_url", "http://127.0.0.1:9/cancel"),
        ("client_reference_id", "tenant-7"),
        ("metadata[tenant]", "acme"),
        ("subscription_data[metadata][tenant]", "acme"),
    ];
    let created = post(&stripe, "/v1/checkout/sessions", &form, Some("cs-1")).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let session = created.json();
    let id = session["id"].as_str().expect("an id").to_owned();
    assert!(id.starts_with("cs_test_"), "{id}");
    assert_eq!(session["object"], "checkout.session");
    assert_eq!(session["status"], "open");
    assert_eq!(session["payment_status"], "unpaid");
    assert_eq!(session["url"], format!("{}/c/pay/{id}", stripe.url));
    assert_eq!(session["amount_total"], 2000);
    assert_eq!(session["customer"], customer.as_str());
    assert_eq!(session["client_reference_id"], "tenant-7");
    assert_eq!(session["metadata"], json!({"tenant": "acme"}));
    let retrieved = get(&stripe, &format!("/v1/checkout/sessions/{id}"), &[]).await;
    assert_eq!(retrieved.json(), session);
    let page = answer(client().get(format!("{}/c/pay/{id}", stripe.url))).await;
    assert_eq!(page.status, 200);

    assert_eq!(
        stripe.success_redirect(&id),
        Some(format!("http://127.0.0.1:9/ok?session={id}"))
    );
    let completed = stripe.complete_session(&id, "paid");
    assert_eq!(completed["status"], "complete");
    assert_eq!(completed["payment_status"], "paid");
    let subscription_id = completed["subscription"].as_str().expect("a subscription");
    let subscription = stripe
        .subscription(subscription_id)
        .expect("the subscription");
    assert_eq!(subscription["status"], "active");
    assert_eq!(subscription["customer"], customer.as_str());
    assert_eq!(subscription["metadata"], json!({"tenant": "acme"}));
    let items = &subscription["items"]["data"];
    assert_eq!(items[0]["price"]["id"], "price_pro");
    assert_eq!(items[0]["quantity"], 1);
    assert_eq!(items[1]["price"]["recurring"]["usage_type"], "metered");
    assert!(items[1].get("quantity").is_none());
    let start = items[0]["current_period_start"].as_i64().expect("a start");
    let end = items[0]["current_period_end"].as_i64().expect("an end");
    assert_eq!(end, period_end(start, "month"));
    assert!((28 * 86_400..=31 * 86_400).contains(&(end - start)));
    let now = get(&stripe, &format!("/v1/checkout/sessions/{id}"), &[]).await;
    assert_eq!(now.json()["status"], "complete");
    assert_eq!(now.json()["invoice"], subscription["latest_invoice"]);

    stripe.set_subscription(subscription_id, "active", true);
    let canceling = stripe
        .subscription(subscription_id)
        .expect("the subscription");
    assert_eq!(canceling["cancel_at_period_end"], true);
    assert_eq!(canceling["cancel_at"], end);
    stripe.set_subscription(subscription_id, "canceled", false);
    let canceled = stripe
        .subscription(subscription_id)
        .expect("the subscription");
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled["ended_at"].is_i64());
    assert_eq!(stripe.checkout_sessions().len(), 1);
    assert_eq!(
        stripe
            .last_form("POST /v1/checkout/sessions")
            .expect("a form")
            .iter()
            .find(|(key, _)| key == "line_items[1][price]"),
        Some(&("line_items[1][price]".to_owned(), "price_calls".to_owned()))
    );
}

#[tokio::test]
async fn checkout_refuses_what_stripe_refuses() {
    let stripe = FakeStripe::start().await;
    stripe.add_price("price_pro", 2000, "usd", Some("month"), false);
    stripe.add_price("price_calls", 5, "usd", Some("month"), true);
    stripe.add_price("price_once", 900, "eur", None, false);
    let refused = |form: &'static [(&'static str, &'static str)]| {
        let stripe = stripe.clone();
        async move { post(&stripe, "/v1/checkout/sessions", form, None).await }
    };
    let unknown_price = refused(&[
        ("mode", "subscription"),
        ("line_items[0][price]", "price_nope"),
        ("line_items[0][quantity]", "1"),
    ])
    .await;
    assert_eq!(unknown_price.status, 400);
    assert_eq!(
        unknown_price.error(),
        (
            "invalid_request_error".into(),
            "resource_missing".into(),
            "line_items[0][price]".into()
        )
    );
    assert_eq!(
        unknown_price.json()["error"]["message"],
        "No such price: 'price_nope'"
    );
    let no_mode = refused(&[("line_items[0][price]", "price_pro")]).await;
    assert_eq!(no_mode.error().1, "parameter_missing");
    let recurring_in_payment = refused(&[
        ("mode", "payment"),
        ("line_items[0][price]", "price_pro"),
        ("line_items[0][quantity]", "1"),
    ])
    .await;
    assert_eq!(recurring_in_payment.status, 400);
    let metered_quantity = refused(&[
        ("mode", "subscription"),
        ("line_items[0][price]", "price_calls"),
        ("line_items[0][quantity]", "1"),
    ])
    .await;
    assert_eq!(metered_quantity.error().2, "line_items[0][quantity]");
    let intent_data = refused(&[
        ("mode", "subscription"),
        ("line_items[0][price]", "price_pro"),
        ("line_items[0][quantity]", "1"),
        ("payment_intent_data[metadata][a]", "b"),
    ])
    .await;
    assert_eq!(intent_data.error().2, "payment_intent_data");
    let unknown_customer = refused(&[
        ("mode", "payment"),
        ("customer", "cus_nope"),
        ("line_items[0][price]", "price_once"),
        ("line_items[0][quantity]", "1"),
    ])
    .await;
    assert_eq!(unknown_customer.error().1, "resource_missing");
    let missing = get(&stripe, "/v1/checkout/sessions/cs_test_nope", &[]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error().1, "resource_missing");
    assert!(stripe.checkout_sessions().is_empty());

    let paid = refused(&[
        ("mode", "payment"),
        ("line_items[0][price]", "price_once"),
        ("line_items[0][quantity]", "2"),
        ("payment_intent_data[metadata][tenant]", "acme"),
        ("customer_email", "buyer@example.com"),
    ])
    .await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    let session = paid.json();
    assert_eq!(session["amount_total"], 1800);
    assert_eq!(session["currency"], "eur");
    assert_eq!(session["customer_creation"], "if_required");
    let id = session["id"].as_str().expect("an id");
    let completed = stripe.complete_session(id, "paid");
    assert!(
        completed["payment_intent"]
            .as_str()
            .expect("a payment intent")
            .starts_with("pi_")
    );
    assert_eq!(completed["customer"], Value::Null);
    assert_eq!(completed["customer_details"]["email"], "buyer@example.com");
    let expire = post(
        &stripe,
        &format!("/v1/checkout/sessions/{id}/expire"),
        &[],
        None,
    )
    .await;
    assert_eq!(expire.status, 400);
}

#[tokio::test]
async fn meter_events_are_recorded_once_per_identifier() {
    let stripe = FakeStripe::start().await;
    let customer = customer(&stripe).await;
    let event = |identifier: &'static str| {
        [
            ("event_name", "tool_calls"),
            ("payload[stripe_customer_id]", customer.as_str()),
            ("payload[value]", "3"),
            ("identifier", identifier),
        ]
    };
    let first = post(&stripe, "/v1/billing/meter_events", &event("u1"), None).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let recorded = first.json();
    assert_eq!(recorded["object"], "billing.meter_event");
    assert_eq!(recorded["identifier"], "u1");
    assert_eq!(recorded["payload"]["value"], "3");
    assert_eq!(recorded["payload"]["stripe_customer_id"], customer.as_str());
    let duplicate = post(&stripe, "/v1/billing/meter_events", &event("u1"), None).await;
    assert_eq!(duplicate.status, 400);
    assert_eq!(
        duplicate.json()["error"]["message"],
        "An event already exists with identifier u1."
    );
    assert_eq!(duplicate.header("stripe-should-retry"), Some("false"));
    assert_eq!(stripe.meter_events().len(), 1);

    // A lost response: the event is recorded, and a retry under the key replays success.
    stripe.fail(
        "POST /v1/billing/meter_events",
        Some(Failure::CommitThenFail(500)),
    );
    let lost = post(
        &stripe,
        "/v1/billing/meter_events",
        &event("u2"),
        Some("m2"),
    )
    .await;
    assert_eq!(lost.status, 500);
    assert_eq!(lost.error().0, "api_error");
    assert_eq!(stripe.meter_events().len(), 2);
    stripe.fail("POST /v1/billing/meter_events", None);
    let retried = post(
        &stripe,
        "/v1/billing/meter_events",
        &event("u2"),
        Some("m2"),
    )
    .await;
    assert_eq!(retried.status, 200);
    assert_eq!(retried.header("idempotent-replayed"), Some("true"));
    assert_eq!(stripe.meter_events().len(), 2);

    // Failures that happen before the work leave nothing behind.
    stripe.fail("POST /v1/billing", Some(Failure::FailTimes(503, 2)));
    for _ in 0..2 {
        let failed = post(
            &stripe,
            "/v1/billing/meter_events",
            &event("u3"),
            Some("m3"),
        )
        .await;
        assert_eq!(failed.status, 503);
    }
    let third = post(
        &stripe,
        "/v1/billing/meter_events",
        &event("u3"),
        Some("m3"),
    )
    .await;
    assert_eq!(third.status, 200);
    assert!(third.header("idempotent-replayed").is_none());
    assert_eq!(stripe.meter_events().len(), 3);
    assert_eq!(stripe.requests("POST /v1/billing/meter_events"), 7);
    assert_eq!(
        stripe.idempotency_keys("POST /v1/billing/meter_events"),
        ["m2", "m2", "m3", "m3", "m3"]
    );

    stripe.fail("POST /v1/billing/meter_events", Some(Failure::Status(429)));
    let limited = post(&stripe, "/v1/billing/meter_events", &event("u4"), None).await;
    assert_eq!(
        (limited.status, limited.error().1),
        (429, "rate_limit".into())
    );
    stripe.fail("POST /v1/billing/meter_events", None);
    let old = post(
        &stripe,
        "/v1/billing/meter_events",
        &[
            ("event_name", "tool_calls"),
            ("payload[value]", "1"),
            ("timestamp", "1000000000"),
        ],
        None,
    )
    .await;
    assert_eq!((old.status, old.error().2), (400, "timestamp".into()));
    assert_eq!(stripe.meter_events().len(), 3);
}

#[tokio::test]
async fn prices_are_listed_newest_first_and_portals_open() {
    let stripe = FakeStripe::start().await;
    stripe.add_price("price_a", 100, "usd", None, false);
    stripe.add_price("price_b", 200, "usd", Some("month"), false);
    stripe.add_price("price_c", 300, "usd", Some("year"), false);
    let page = get(&stripe, "/v1/prices", &[("active", "true"), ("limit", "2")]).await;
    let list = page.json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["url"], "/v1/prices");
    assert_eq!(list["has_more"], true);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|price| price["id"].as_str())
        .collect();
    assert_eq!(ids, ["price_c", "price_b"]);
    let rest = get(&stripe, "/v1/prices", &[("starting_after", "price_b")]).await;
    assert_eq!(rest.json()["data"][0]["id"], "price_a");
    assert_eq!(rest.json()["has_more"], false);
    assert_eq!(
        get(&stripe, "/v1/prices", &[("active", "false")])
            .await
            .json()["data"],
        json!([])
    );

    let customer = customer(&stripe).await;
    let portal = post(
        &stripe,
        "/v1/billing_portal/sessions",
        &[
            ("customer", customer.as_str()),
            ("return_url", "http://127.0.0.1:9/account"),
        ],
        None,
    )
    .await;
    let session = portal.json();
    let id = session["id"].as_str().expect("an id");
    assert!(id.starts_with("bps_"));
    assert_eq!(session["object"], "billing_portal.session");
    assert_eq!(session["url"], format!("{}/p/session/{id}", stripe.url));
    assert_eq!(session["return_url"], "http://127.0.0.1:9/account");
    let unknown = post(
        &stripe,
        "/v1/billing_portal/sessions",
        &[("customer", "cus_nope")],
        None,
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.error().2),
        (400, "customer".into())
    );
}

#[tokio::test]
async fn prices_expand_their_product_and_the_balance_wants_the_key() {
    let stripe = FakeStripe::start().await;
    stripe.add_product_price("price_pro", "Pro", 500, "usd", Some("month"), false);
    let plain = get(&stripe, "/v1/prices", &[]).await.json();
    let product = plain["data"][0]["product"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert!(product.starts_with("prod_"), "{product}");
    let expanded = get(&stripe, "/v1/prices", &[("expand[]", "data.product")]).await;
    let expanded = expanded.json();
    assert_eq!(expanded["data"][0]["product"]["id"], product.as_str());
    assert_eq!(expanded["data"][0]["product"]["object"], "product");
    assert_eq!(expanded["data"][0]["product"]["name"], "Pro");
    let retrieved = get(&stripe, &format!("/v1/products/{product}"), &[]).await;
    assert_eq!(retrieved.json()["name"], "Pro");
    let unknown = get(&stripe, "/v1/prices", &[("expand[]", "data.nope")]).await;
    assert_eq!((unknown.status, unknown.error().2), (400, "expand".into()));

    let balance = get(&stripe, "/v1/balance", &[]).await;
    assert_eq!(balance.status, 200);
    assert_eq!(balance.json()["object"], "balance");
    assert_eq!(balance.json()["livemode"], false);
    let key = "sk_test_51NotTheAccountsKeyAtAll1234";
    let wrong = answer(
        client()
            .get(format!("{}/v1/balance", stripe.url))
            .bearer_auth(key),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let message = wrong.json()["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    assert!(
        message.starts_with("Invalid API Key provided: sk_test_*") && message.ends_with("1234"),
        "{message}"
    );
    assert!(!message.contains(key), "{message}");
}

#[tokio::test]
async fn a_held_request_ends_unanswered_when_the_fake_goes() {
    let stripe = FakeStripe::start().await;
    stripe.fail("POST /v1/customers", Some(Failure::Hang));
    let request = client()
        .post(format!("{}/v1/customers", stripe.url))
        .bearer_auth(&stripe.secret_key)
        .form(&[("email", "held@example.com")])
        .send();
    let held = tokio::spawn(request);
    stripe.wait_for_requests("POST /v1/customers", 1).await;
    assert!(!held.is_finished());
    drop(stripe);
    let outcome = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the held request ends with the fake")
        .expect("the task completes");
    assert!(outcome.is_err(), "no answer, only a closed connection");
}

#[test]
fn signatures_match_an_independent_computation() {
    assert_eq!(
        FakeStripe::sign(PAYLOAD, "whsec_fake_0123456789", 1_700_000_000),
        SIGNATURE
    );
}

#[tokio::test]
async fn webhooks_carry_the_exact_text_they_sign() {
    let stripe = FakeStripe::start().await;
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let receiver = Router::new().fallback(move |headers: HeaderMap, body: String| {
        let sender = sender.clone();
        async move {
            let _ = sender.send((headers, body));
            StatusCode::OK
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, receiver).await;
    });

    let event = stripe.event_at(
        "checkout.session.completed",
        json!({"id": "cs_test_1", "object": "checkout.session"}),
        1_700_000_000,
    );
    assert!(event["id"].as_str().expect("an id").starts_with("evt_"));
    assert_eq!(event["api_version"], API_VERSION);
    assert_eq!(event["created"], 1_700_000_000);
    assert_eq!(event["data"]["object"]["id"], "cs_test_1");
    assert_eq!(
        event["request"],
        json!({"id": null, "idempotency_key": null})
    );
    let secret = "whsec_test_secret";
    let response = stripe
        .deliver(&format!("http://{address}/webhooks/stripe"), &event, secret)
        .await;
    assert_eq!(response.status(), 200);
    let (headers, body) = received.recv().await.expect("a delivery");
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/json; charset=utf-8"
    );
    let signature = headers["stripe-signature"].to_str().expect("ascii");
    let timestamp: i64 = signature
        .strip_prefix("t=")
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse().ok())
        .expect("a timestamp");
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    assert_eq!(signature, FakeStripe::sign(&body, secret, timestamp));
    assert_eq!(serde_json::from_str::<Value>(&body).expect("JSON"), event);
    let now = stripe.event("customer.subscription.updated", json!({}));
    assert!((now["created"].as_i64().expect("a time") - timestamp).abs() < 60);
}

#[tokio::test]
async fn events_are_recorded_undelivered_while_webhooks_are_off_and_listed_newest_first() {
    let stripe = FakeStripe::start().await;
    stripe.set_webhooks_delivered(false);
    let now = stripe.shared.now();
    let mut made = Vec::new();
    for (kind, id) in [
        ("customer.subscription.updated", "sub_1"),
        ("payout.paid", "po_1"),
        ("charge.refunded", "ch_1"),
        ("customer.subscription.deleted", "sub_1"),
    ] {
        made.push(stripe.publish(kind, json!({"id": id})).await);
    }
    assert_eq!(
        stripe.recorded_events(),
        made,
        "recorded, with no endpoint reached"
    );
    let ids = |answer: &Answer| -> Vec<String> {
        answer.json()["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|event| event["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let id = |i: usize| made[i]["id"].as_str().unwrap_or_default().to_owned();
    let from = now.to_string();
    let types = [
        ("types[]", "customer.subscription.updated"),
        ("types[]", "customer.subscription.deleted"),
        ("types[]", "charge.refunded"),
        ("created[gte]", from.as_str()),
        ("limit", "2"),
    ];
    let first = get(&stripe, "/v1/events", &types).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(ids(&first), [id(3), id(2)], "newest first, of those types");
    assert_eq!(first.json()["has_more"], true);
    let mut next = types.to_vec();
    let after = id(2);
    next.push(("starting_after", after.as_str()));
    let second = get(&stripe, "/v1/events", &next).await;
    assert_eq!(ids(&second), [id(0)]);
    assert_eq!(second.json()["has_more"], false);
    let later = (now + 1).to_string();
    let none = get(&stripe, "/v1/events", &[("created[gte]", later.as_str())]).await;
    assert_eq!(
        ids(&none),
        Vec::<String>::new(),
        "created[gte] bounds the list"
    );
    let wrong = get(&stripe, "/v1/events", &[("limit", "101")]).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.error().2, "limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_faults_keep_stripes_semantics_and_the_same_seed_draws_the_same_faults() {
    let stripe = FakeStripe::start().await;
    let customer = customer(&stripe).await;
    let plan = Faults {
        seed: 42,
        rate: 1.0,
        webhook_drop_rate: 0.5,
        timeout: Duration::from_secs(4),
    };
    stripe.set_faults(Some(plan.clone()));
    let http = client();
    let form = |identifier: &str| {
        vec![
            ("event_name".to_owned(), "tool_calls".to_owned()),
            ("payload[stripe_customer_id]".to_owned(), customer.clone()),
            ("payload[value]".to_owned(), "1".to_owned()),
            ("identifier".to_owned(), identifier.to_owned()),
        ]
    };
    // Every request fails, by one of four kinds; a client waits 2 s for its answer.
    let sends = (0..40).map(|n| {
        http.post(format!("{}/v1/billing/meter_events", stripe.url))
            .bearer_auth(&stripe.secret_key)
            .header("idempotency-key", format!("k{n}"))
            .timeout(Duration::from_secs(2))
            .form(&form(&format!("f{n}")))
            .send()
    });
    let kinds: Vec<u16> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|sent| match sent {
            Ok(response) => response.status().as_u16(),
            Err(error) if error.is_timeout() => 1,
            Err(_) => 0,
        })
        .collect();
    let counts = stripe.fault_counts();
    assert_eq!(counts.requests, 40, "{kinds:?} {counts:?}");
    let of = |kind: u16| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!(of(500), counts.server_errors);
    assert_eq!(of(429), counts.rate_limited);
    assert_eq!(of(1), counts.timeouts);
    assert_eq!(of(0), counts.dropped);
    assert!(counts.server_errors * counts.rate_limited * counts.timeouts * counts.dropped > 0);

    // The work behind time-outs (once their hold ends) and dropped answers is kept.
    let kept = counts.timeouts + counts.dropped;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while stripe.meter_events().len() < kept {
        assert!(std::time::Instant::now() < deadline, "held requests done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Stripe recovers: retries under the same keys replay what was kept; the rest is recorded
    // now. One event per identifier.
    stripe.set_faults(None);
    for (n, kind) in kinds.iter().enumerate() {
        let pairs = form(&format!("f{n}"));
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let retried = post(
            &stripe,
            "/v1/billing/meter_events",
            &pairs,
            Some(&format!("k{n}")),
        )
        .await;
        assert_eq!(retried.status, 200, "{}", retried.body);
        let replayed = retried.header("idempotent-replayed") == Some("true");
        assert_eq!(replayed, *kind <= 1, "request {n} ({kind})");
    }
    assert_eq!(stripe.meter_events().len(), 40);
    assert_eq!(stripe.fault_counts().idempotent_replays, kept);

    // The same seed draws the same faults; another seed, others.
    let draws = |plan: Faults| {
        let mut account = Account {
            faults: Some(faults::FaultState::new(plan)),
            ..Account::default()
        };
        (0..200)
            .map(|_| faults::draw(&mut account).map(|(fault, _)| fault))
            .collect::<Vec<_>>()
    };
    assert_eq!(draws(plan.clone()), draws(plan.clone()));
    assert_ne!(draws(plan.clone()), draws(Faults { seed: 43, ..plan }));
}
