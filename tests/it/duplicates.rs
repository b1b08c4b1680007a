//! Double payments (a second paid checkout for a plan the user already holds untouched):
//! listed for the operator, and refunded at Stripe exactly once when the tenant asks for it,
//! however often and however concurrently the completion is delivered; and the dashboard's
//! side of it (the payments page's list and switch, the delete dialog's subscriptions rule).

use super::stripe::{Shop, call, only_session, shop, status};
use futures::future::join_all;
use serde_json::{Value, json};
use tollgate::billing::OfferKind;
use tollgate_tests::admin::{Operator, sign_in_in_browser};
use tollgate_tests::fake_stripe::Failure;
use tollgate_tests::webdriver::Chromium;

fn id(object: &Value) -> String {
    object["id"].as_str().expect("id").to_owned()
}

/// One user pays for the same plan twice: the first session is left open in a tab past
/// Tollgate's hour, the next call makes a second one, and both get paid. The first is
/// notified; answers the second, paid at the fake but not notified yet.
async fn paid_twice(shop: &Shop) -> Value {
    let client = shop.client().await;
    assert_eq!(status(&call(&client).await), "payment_required");
    let first = id(&only_session(&shop.app.stripe));
    client.cancel().await.expect("closes");
    shop.app.clock.advance(chrono::Duration::minutes(70));
    let client = shop.refreshed_client().await;
    assert_eq!(status(&call(&client).await), "payment_required");
    client.cancel().await.expect("closes");
    let second = shop
        .app
        .stripe
        .checkout_sessions()
        .into_iter()
        .map(|s| id(&s))
        .find(|s| *s != first)
        .expect("a second session");
    shop.pay_and_notify(&first).await;
    shop.app.stripe.complete_session(&second, "paid")
}

async fn duplicates(operator: &Operator) -> Vec<Value> {
    let answer = operator
        .get("/api/v1/tenants/demo/payments/duplicates")
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body.as_array().cloned().expect("a list")
}

async fn audit_count(operator: &Operator, action: &str) -> usize {
    operator
        .get("/api/v1/tenants/demo/audit")
        .await
        .body
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == action)
        .count()
}

#[tokio::test]
async fn a_double_payment_is_listed_for_the_operator_and_not_refunded_by_default() {
    let shop = shop(OfferKind::OneTime).await;
    let operator = shop.app.first_operator().await;
    let tenant = operator.get("/api/v1/tenants/demo").await.body;
    assert_eq!(tenant["refund_duplicate_payments"], false, "{tenant}");
    assert!(duplicates(&operator).await.is_empty());

    let second = paid_twice(&shop).await;
    let event = shop
        .app
        .stripe
        .event("checkout.session.completed", second.clone());
    let url = shop.app.webhook_url("demo");
    let delivered = shop.app.stripe.deliver(&url, &event, &shop.secret).await;
    assert_eq!(delivered.status(), 200);

    let listed = duplicates(&operator).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["session_id"], second["id"]);
    assert_eq!(listed[0]["offer"], "Stats");
    assert_eq!(listed[0]["amount_text"], "$5.00 for 2 calls");
    assert_eq!(listed[0]["refunded"], false);
    assert!(listed[0]["paid_at"].is_string());
    assert!(listed[0]["purchase_id"].is_string());
    assert!(shop.app.stripe.refunds().is_empty(), "nothing refunded");
    assert_eq!(shop.app.stripe.requests("POST /v1/refunds"), 0);
}

#[tokio::test]
async fn with_automatic_refunds_a_double_payment_is_refunded_once_however_it_is_delivered() {
    let shop = shop(OfferKind::OneTime).await;
    let operator = shop.app.first_operator().await;
    let on = operator
        .patch(
            "/api/v1/tenants/demo",
            json!({"refund_duplicate_payments": true}),
        )
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert_eq!(on.body["refund_duplicate_payments"], true);

    let second = paid_twice(&shop).await;
    let event = shop
        .app
        .stripe
        .event("checkout.session.completed", second.clone());
    let url = shop.app.webhook_url("demo");
    let stripe = &shop.app.stripe;

    // Stripe fails the refund (twice: the request and its retry): the delivery fails, so
    // Stripe delivers again; the payment is flagged and not refunded yet.
    stripe.fail("POST /v1/refunds", Some(Failure::FailTimes(500, 2)));
    let failed = stripe.deliver(&url, &event, &shop.secret).await;
    assert_eq!(failed.status(), 500);
    assert!(stripe.refunds().is_empty());
    assert_eq!(duplicates(&operator).await[0]["refunded"], false);

    // The redeliveries, several at once and one more afterwards: one refund.
    let concurrent = join_all((0..4).map(|_| stripe.deliver(&url, &event, &shop.secret))).await;
    for answer in concurrent {
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(
        stripe.deliver(&url, &event, &shop.secret).await.status(),
        200
    );
    let refunds = stripe.refunds();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["payment_intent"], second["payment_intent"]);
    assert_eq!(refunds[0]["amount"], 500);
    assert_eq!(refunds[0]["reason"], "duplicate");
    let keys = stripe.idempotency_keys("POST /v1/refunds");
    assert!(
        keys.iter()
            .all(|k| *k == format!("tg-dup-refund-{}", id(&second))),
        "{keys:?}"
    );

    let listed = duplicates(&operator).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["refunded"], true);
    assert!(listed[0]["refunded_at"].is_string());
    assert_eq!(
        audit_count(&operator, "stripe.checkout.duplicate_refunded").await,
        1
    );
    assert_eq!(
        audit_count(&operator, "stripe.checkout.double_payment").await,
        1
    );

    // The first purchase's calls are still the user's.
    let client = shop.refreshed_client().await;
    assert_eq!(status(&call(&client).await), "ok");
    client.cancel().await.expect("closes");
}

/// A Chromium signed in as the owner, on `page` (a path under `/admin`).
async fn dashboard_at(shop: &Shop, page: &str) -> Chromium {
    let browser = Chromium::launch().await.expect("Chromium starts");
    browser.set_window_size(1280, 900).await.expect("resize");
    browser
        .goto(&format!("{}/admin{page}", shop.app.url))
        .await
        .expect("the dashboard");
    sign_in_in_browser(&browser, "owner@example.com").await;
    browser
}

#[tokio::test]
async fn the_dashboard_lists_double_payments_switches_their_refund_and_explains_deletion() {
    let shop = shop(OfferKind::OneTime).await;
    let operator = shop.app.first_operator().await;
    let second = paid_twice(&shop).await;
    let event = shop
        .app
        .stripe
        .event("checkout.session.completed", second.clone());
    let url = shop.app.webhook_url("demo");
    let delivered = shop.app.stripe.deliver(&url, &event, &shop.secret).await;
    assert_eq!(delivered.status(), 200);

    // The payments page lists the double payment, not refunded.
    let browser = dashboard_at(&shop, "/t/demo/payments").await;
    let table = browser
        .wait_for_text("[data-test=double-payments]", &id(&second))
        .await
        .expect("the double payment is listed");
    assert!(
        table.contains("Stats") && table.contains("$5.00"),
        "{table}"
    );
    assert!(table.contains("No"), "not refunded: {table}");

    // The switch turns automatic refunds on, for the server too.
    browser
        .click("[data-test=refund-duplicates]")
        .await
        .expect("switch on");
    browser
        .wait_until_script(
            "the switch on and saved",
            "const s = document.querySelector('[data-test=refund-duplicates]'); \
             return s.checked && s.getAttribute('aria-busy') === 'false';",
        )
        .await
        .expect("switched on");
    let tenant = operator.get("/api/v1/tenants/demo").await.body;
    assert_eq!(tenant["refund_duplicate_payments"], true, "{tenant}");

    // A subscription plan's form asks for its past-due grace, with the rule as its hint.
    browser
        .goto(&format!("{}/admin/t/demo/plans", shop.app.url))
        .await
        .expect("plans");
    browser
        .click("[data-test=plan-new]")
        .await
        .expect("new plan");
    browser
        .click("#plan-kind option[value=subscription]")
        .await
        .expect("a subscription");
    let form = browser
        .wait_for_text("[data-test=plan-form]", "Past-due grace (days)")
        .await
        .expect("the grace field");
    assert!(
        form.contains("0-30 days, empty means 3. 0 ends access at once."),
        "{form}"
    );

    // The delete dialog says what happens to live subscriptions, and offers to cancel them.
    browser
        .goto(&format!("{}/admin/t/demo/settings", shop.app.url))
        .await
        .expect("settings");
    browser
        .click("[data-test=delete-tenant]")
        .await
        .expect("delete…");
    let said = browser
        .wait_for_text("[data-test=delete-subscriptions]", "not deleted")
        .await
        .expect("the subscriptions rule");
    assert!(said.contains("cancels each of them at Stripe"), "{said}");
    browser
        .wait_for("[data-test=delete-cancel-subscriptions]")
        .await
        .expect("the choice to cancel them");
    let _ = browser.quit().await;
}
