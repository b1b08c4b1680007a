//! The entitlement lifecycle through the real server and the fake Stripe (`billing/lifecycle.rs`
//! is the state machine; its property test is a unit test there): subscription events in any
//! order, resumed and past-due subscriptions (with each plan's grace), the period read from
//! Stripe at grant time, refunds, disputes and double payments.

use super::stripe::{Shop, call, only_session, shop, status};
use serde_json::{Value, json};
use tollgate::billing::OfferKind;
use tollgate_tests::admin::Operator;
use tollgate_tests::fake_stripe::Failure;

impl Shop {
    /// Delivers an event about `object`, created at `created`, and expects a 200.
    async fn send(&self, kind: &str, object: Value, created: i64) {
        let event = self.app.stripe.event_at(kind, object, created);
        let response = self
            .app
            .stripe
            .deliver(&self.app.webhook_url("demo"), &event, &self.secret)
            .await;
        assert_eq!(response.status(), 200, "{kind}");
    }

    /// The demo tenant's audit log, as the operator reads it through the admin API.
    async fn audit(&self) -> Vec<Value> {
        audit(&self.app.first_operator().await).await
    }
}

async fn audit(operator: &Operator) -> Vec<Value> {
    operator
        .get("/api/v1/tenants/demo/audit")
        .await
        .body
        .as_array()
        .cloned()
        .expect("entries")
}

fn id(object: &Value) -> String {
    object["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_subscription_deleted_before_its_checkout_completes_is_never_granted_nor_revived() {
    let shop = shop(OfferKind::Subscription).await;
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let session = id(&only_session(&shop.app.stripe));
    let paid = shop.app.stripe.complete_session(&session, "paid");
    let subscription = paid["subscription"].as_str().expect("sub").to_owned();
    let active = shop.app.stripe.subscription(&subscription).expect("sub");
    shop.app
        .stripe
        .set_subscription(&subscription, "canceled", false);
    let ended = shop.app.stripe.subscription(&subscription).expect("sub");
    let now = shop.app.clock_now();
    // The deletion arrives first, then the checkout's completion and an older update.
    shop.send("customer.subscription.deleted", ended, now + 60)
        .await;
    shop.send("checkout.session.completed", paid, now).await;
    shop.send("customer.subscription.updated", active.clone(), now + 30)
        .await;
    assert_eq!(status(&call(&client).await), "payment_required");
    // Even an update sent after the deletion (Stripe never sends one) does not revive it.
    shop.send("customer.subscription.updated", active, now + 90)
        .await;
    assert_eq!(status(&call(&client).await), "payment_required");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_paused_subscription_resumed_gets_access_back_and_past_due_has_three_days_of_grace() {
    let shop = shop(OfferKind::Subscription).await;
    let client = shop.client().await;
    call(&client).await;
    let session = id(&only_session(&shop.app.stripe));
    let subscription = shop.subscribe(&client).await;
    let now = shop.app.clock_now();
    let stripe = &shop.app.stripe;

    stripe.set_subscription(&subscription, "paused", false);
    let paused = stripe.subscription(&subscription).expect("sub");
    shop.send("customer.subscription.updated", paused, now + 10)
        .await;
    assert_eq!(status(&call(&client).await), "payment_required");
    // Reloading the old checkout's success page is no new payment: still paused.
    let success = stripe.success_redirect(&session).expect("success url");
    let page = shop.app.http().get(&success).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert_eq!(status(&call(&client).await), "payment_required");

    stripe.set_subscription(&subscription, "active", false);
    let resumed = stripe.subscription(&subscription).expect("sub");
    shop.send("customer.subscription.updated", resumed, now + 20)
        .await;
    assert_eq!(
        status(&call(&client).await),
        "ok",
        "a newer active state restores"
    );

    // The renewal fails: access goes on while Stripe retries, for the grace period only.
    stripe.set_subscription(&subscription, "past_due", false);
    let past_due = stripe.subscription(&subscription).expect("sub");
    shop.send("customer.subscription.updated", past_due, now + 30)
        .await;
    assert_eq!(status(&call(&client).await), "ok");
    shop.app
        .clock
        .advance(chrono::Duration::days(3) + chrono::Duration::minutes(1));
    let client = shop.refreshed_client().await;
    assert_eq!(status(&call(&client).await), "payment_required");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_partial_refund_keeps_access_and_a_full_one_ends_it() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    call(&client).await;
    let session = id(&only_session(&shop.app.stripe));
    shop.pay_and_notify(&session).await;
    let now = shop.app.clock_now();

    let partly = shop.app.stripe.refund(&session, Some(100));
    assert_eq!(
        (&partly["refunded"], &partly["amount_refunded"]),
        (&json!(false), &json!(100))
    );
    shop.send("charge.refunded", partly, now + 1).await;
    assert_eq!(status(&call(&client).await), "ok");

    let fully = shop.app.stripe.refund(&session, None);
    assert_eq!(fully["refunded"], true);
    shop.send("charge.refunded", fully, now + 2).await;
    let again = call(&client).await;
    assert_eq!(status(&again), "payment_required");
    // The rule is stated on the plan's payment page.
    let page = shop.payment_page(&again).await;
    assert!(
        page.contains("A partial refund keeps your access; a full refund"),
        "{page}"
    );
    let refunds = shop
        .audit()
        .await
        .into_iter()
        .filter(|e| e["action"] == "stripe.charge.refunded")
        .count();
    assert_eq!(refunds, 2, "both refunds are in the record");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_dispute_suspends_access_a_won_one_restores_it_and_a_lost_one_ends_it() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    call(&client).await;
    let first = id(&only_session(&shop.app.stripe));
    shop.pay_and_notify(&first).await;
    let now = shop.app.clock_now();
    let stripe = &shop.app.stripe;

    let dispute = stripe.dispute(&first);
    shop.send("charge.dispute.created", dispute.clone(), now + 1)
        .await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let won = stripe.close_dispute(&id(&dispute), "won");
    shop.send("charge.dispute.closed", won, now + 2).await;
    assert_eq!(status(&call(&client).await), "ok", "a won dispute restores");

    // The second of the two calls bought is used up: the next purchase is disputed and lost.
    assert_eq!(status(&call(&client).await), "ok");
    assert_eq!(status(&call(&client).await), "payment_required");
    let second = stripe
        .checkout_sessions()
        .into_iter()
        .map(|s| id(&s))
        .find(|s| *s != first)
        .expect("a second session");
    shop.pay_and_notify(&second).await;
    let dispute = stripe.dispute(&second);
    shop.send("charge.dispute.created", dispute.clone(), now + 3)
        .await;
    let lost = stripe.close_dispute(&id(&dispute), "lost");
    shop.send("charge.dispute.closed", lost, now + 4).await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let audit = shop.audit().await;
    for action in [
        "stripe.charge.dispute.created",
        "stripe.charge.dispute.closed",
    ] {
        assert!(audit.iter().any(|e| e["action"] == action), "{action}");
    }
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_second_paid_session_for_one_purchase_is_flagged_for_the_operator() {
    let shop = shop(OfferKind::OneTime).await;
    let client = shop.client().await;
    call(&client).await;
    let first = id(&only_session(&shop.app.stripe));
    // The user leaves the first checkout open in a tab past Tollgate's hour; the next call
    // makes a second session, and both get paid.
    client.cancel().await.expect("closes");
    shop.app.clock.advance(chrono::Duration::minutes(70));
    let client = shop.refreshed_client().await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let second = shop
        .app
        .stripe
        .checkout_sessions()
        .into_iter()
        .map(|s| id(&s))
        .find(|s| *s != first)
        .expect("a second session");
    let operator = shop.app.first_operator().await;
    shop.pay_and_notify(&first).await;
    assert!(
        !audit(&operator)
            .await
            .iter()
            .any(|e| e["action"] == "stripe.checkout.double_payment"),
        "one payment is not a double one"
    );
    shop.pay_and_notify(&second).await;
    let audit = audit(&operator).await;
    let flagged: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "stripe.checkout.double_payment")
        .collect();
    assert_eq!(flagged.len(), 1, "{audit:?}");
    assert_eq!(flagged[0]["target"], second.as_str());
    client.cancel().await.expect("closes");
}

/// The demo tenant's only plan as the operator writes it back (`PUT`), with `change` applied.
fn plan_with(offer: &Value, change: &Value) -> Value {
    let mut plan = offer.clone();
    let fields = plan.as_object_mut().expect("object");
    for key in ["id", "price_text", "tools"] {
        fields.remove(key);
    }
    for (key, value) in change.as_object().expect("object") {
        fields.insert(key.clone(), value.clone());
    }
    plan
}

/// The end of the first plan the demo tenant's first customer holds, as the operator sees it.
async fn held_period_end(operator: &Operator) -> i64 {
    let customers = operator.get("/api/v1/tenants/demo/customers").await.body;
    let end = customers[0]["plans"][0]["period_end"]
        .as_str()
        .unwrap_or_else(|| panic!("a period end: {customers}"));
    chrono::DateTime::parse_from_rfc3339(end)
        .expect("RFC 3339")
        .timestamp()
}

#[tokio::test]
async fn a_plan_without_past_due_grace_ends_access_when_a_renewal_fails_and_one_with_three_days_keeps_it()
 {
    let shop = shop(OfferKind::Subscription).await;
    let operator = shop.app.first_operator().await;
    let offers = operator.get("/api/v1/tenants/demo/offers").await.body;
    let offer = offers[0].clone();
    assert_eq!(offer["past_due_grace_days"], 3, "the default: {offer}");
    let path = format!("/api/v1/tenants/demo/offers/{}", id(&offer));

    // Out of range: a clear error, and nothing changes.
    let refused = operator
        .put(
            &path,
            plan_with(&offer, &json!({"past_due_grace_days": 31})),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("0-30 days"),
        "{:?}",
        refused.body
    );
    let none = operator
        .put(&path, plan_with(&offer, &json!({"past_due_grace_days": 0})))
        .await;
    assert_eq!(none.status, 200, "{:?}", none.body);
    assert_eq!(none.body["past_due_grace_days"], 0);

    let client = shop.client().await;
    call(&client).await;
    let subscription = shop.subscribe(&client).await;
    let now = shop.app.clock_now();
    let stripe = &shop.app.stripe;

    // No grace: the failed renewal ends access at once, as the plan's payment page says.
    stripe.set_subscription(&subscription, "past_due", false);
    let past_due = stripe.subscription(&subscription).expect("sub");
    shop.send("customer.subscription.updated", past_due.clone(), now + 10)
        .await;
    let stopped = call(&client).await;
    assert_eq!(status(&stopped), "payment_required");
    let page = shop.payment_page(&stopped).await;
    assert!(
        page.contains("If a renewal payment fails, access stops until it is paid."),
        "{page}"
    );

    // Three days of grace: the next report of the same state keeps access.
    let three = operator
        .put(&path, plan_with(&offer, &json!({"past_due_grace_days": 3})))
        .await;
    assert_eq!(three.status, 200, "{:?}", three.body);
    shop.send("customer.subscription.updated", past_due, now + 20)
        .await;
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_subscription_granted_at_checkout_runs_until_the_period_end_stripe_reports() {
    let shop = shop(OfferKind::Subscription).await;
    let operator = shop.app.first_operator().await;
    let client = shop.client().await;
    call(&client).await;
    let session = id(&only_session(&shop.app.stripe));
    let paid = shop.app.stripe.complete_session(&session, "paid");
    let subscription = paid["subscription"].as_str().expect("sub").to_owned();
    let reported = shop.app.stripe.subscription(&subscription).expect("sub")["items"]["data"][0]
        ["current_period_end"]
        .as_i64()
        .expect("the item's period end");
    shop.send("checkout.session.completed", paid, shop.app.clock_now())
        .await;
    assert_eq!(
        shop.app
            .stripe
            .requests(&format!("GET /v1/subscriptions/{subscription}")),
        1,
        "the subscription was read once"
    );
    assert_eq!(held_period_end(&operator).await, reported);
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
}

#[tokio::test]
async fn a_subscription_stripe_cannot_read_at_checkout_keeps_the_interval_bound() {
    let shop = shop(OfferKind::Subscription).await;
    let operator = shop.app.first_operator().await;
    let client = shop.client().await;
    call(&client).await;
    let session = id(&only_session(&shop.app.stripe));
    let paid = shop.app.stripe.complete_session(&session, "paid");
    shop.app
        .stripe
        .fail("GET /v1/subscriptions", Some(Failure::Status(500)));
    let now = shop.app.clock_now();
    shop.send("checkout.session.completed", paid, now).await;
    // One month's interval (31 days) and the plan's 3 days of grace from the payment.
    assert_eq!(held_period_end(&operator).await, now + 34 * 86_400);
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
}
