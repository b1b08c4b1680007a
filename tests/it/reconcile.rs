//! Reconciliation with Stripe (`billing/reconcile.rs`) through the real server and the fake
//! Stripe: webhooks switched off at the fake while subscriptions end or go unpaid, a checkout
//! is paid, a payment is refunded and another disputed; one run makes every entitlement match
//! Stripe (checked as the users see it), a second changes nothing; a subscription that changed
//! without any event is read again once its confirmation is old; two runs at once on two
//! replicas run once; a run that dies midway is redone without applying anything twice.

use super::stripe::status;
use futures::future::{Either, select};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tollgate::billing::{CONFIRMATION_AGE, NewOffer, OfferKind, RECONCILE_LEASE};
use tollgate::wordpress::Operation;
use tollgate_tests::admin::Operator;
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::fake_github::GitHubUser;
use tollgate_tests::fake_stripe::Failure;
use tollgate_tests::{Era, McpClient, TestApp};

/// Priced by a monthly subscription.
const MONTHLY: &str = "wporg_plugin_downloads";
/// Priced by a one-time purchase of 5 calls.
const ONCE: &str = "wporg_plugin_info";

const RECONCILE: &str = "/api/v1/tenants/demo/billing/reconcile";
const LAST: &str = "/api/v1/tenants/demo/billing/reconciliation";

/// The demo tenant on the fake Stripe, its webhooks delivered, with one tool on a monthly
/// plan and one on a one-time purchase; and its owner.
async fn store() -> (TestApp, Operator) {
    let app = TestApp::spawn().await;
    let secret = app.connect_stripe("demo").await;
    app.stripe
        .send_webhooks_to(&app.webhook_url("demo"), &secret);
    app.stripe
        .add_price("price_monthly", 900, "usd", Some("month"), false);
    app.stripe.add_price("price_once", 500, "usd", None, false);
    let demo = app
        .state
        .tenants
        .get_tenant_by_slug("demo")
        .await
        .expect("demo");
    for (operation, kind, price) in [
        (
            Operation::PluginDownloads,
            OfferKind::Subscription,
            "price_monthly",
        ),
        (Operation::PluginInfo, OfferKind::OneTime, "price_once"),
    ] {
        let offer = NewOffer {
            name: format!("{price} plan"),
            kind,
            price_id: price.into(),
            amount: if kind == OfferKind::OneTime { 500 } else { 900 },
            currency: "usd".into(),
            interval: (kind == OfferKind::Subscription).then(|| "month".into()),
            calls: (kind == OfferKind::OneTime).then_some(5),
            meter_event: None,
            meter_value: None,
            free_quota: None,
            spend_cap: None,
            payment_reason: Some("Paid data".into()),
            success_url: None,
            past_due_grace_days: None,
        };
        app.sell(demo.id, operation, offer).await;
    }
    let owner = app.first_operator().await;
    (app, owner)
}

/// An end user with one open or paid checkout for one tool.
struct Buyer {
    login: String,
    tool: &'static str,
    session: String,
    refresh_token: String,
    client_id: String,
    client: McpClient,
}

impl Buyer {
    /// Signs in as a new GitHub user, calls `tool` (payment required: a checkout is made), and
    /// pays when `pay` (the webhooks go out if delivery is on).
    async fn new(app: &TestApp, id: i64, login: &str, tool: &'static str, pay: bool) -> Self {
        app.github.sign_in_as(GitHubUser {
            id,
            login: login.into(),
            name: None,
            email: Some(format!("{login}@example.com")),
        });
        let oauth = OAuthClient::register(app, "demo").await;
        let tokens = oauth.sign_in().await;
        let token = tokens["access_token"].as_str().expect("token");
        let client = app
            .mcp_client_with_token("demo", Era::Stateless, token)
            .await;
        let buyer = Self {
            login: login.into(),
            tool,
            session: String::new(),
            refresh_token: tokens["refresh_token"].as_str().expect("refresh").into(),
            client_id: oauth.client_id.clone(),
            client,
        };
        assert_eq!(buyer.use_tool().await, "payment_required");
        let session = app
            .stripe
            .checkout_sessions()
            .last()
            .and_then(|s| s["id"].as_str().map(str::to_owned))
            .expect("a checkout session");
        let buyer = Self { session, ..buyer };
        if pay {
            app.stripe.pay(&buyer.session).await;
            assert_eq!(buyer.use_tool().await, "ok", "{login} paid");
        }
        buyer
    }

    /// What calling the tool gives: `ok`, `payment_required`, …
    async fn use_tool(&self) -> String {
        let result = self
            .client
            .call_tool(
                CallToolRequestParams::new(self.tool).with_arguments(
                    json!({"slug": "akismet"})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                ),
            )
            .await
            .expect("tools/call");
        status(&result)
    }

    /// The subscription the paid checkout started.
    fn subscription(&self, app: &TestApp) -> String {
        app.stripe
            .checkout_sessions()
            .into_iter()
            .find(|s| s["id"] == self.session.as_str())
            .and_then(|s| s["subscription"].as_str().map(str::to_owned))
            .expect("a subscription")
    }

    /// The same user after the clock moved past the access token's hour: refreshed, as a
    /// client does.
    async fn refreshed(self, app: &TestApp) -> Self {
        let oauth = OAuthClient {
            app,
            slug: "demo".into(),
            client_id: self.client_id.clone(),
        };
        let (code, tokens) = oauth.refresh(&self.refresh_token).await;
        assert_eq!(code, 200, "{tokens}");
        let token = tokens["access_token"].as_str().expect("token");
        let client = app
            .mcp_client_with_token("demo", Era::Stateless, token)
            .await;
        let refresh_token = tokens["refresh_token"].as_str().expect("refresh").into();
        Self {
            client,
            refresh_token,
            ..self
        }
    }
}

/// Runs a reconciliation as the operator; expects it to run, answers its report.
async fn reconcile(operator: &Operator) -> Value {
    let answer = operator.post(RECONCILE, json!({})).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

/// A report's corrections as (user, before, after, cause).
fn corrections(report: &Value) -> BTreeSet<(String, String, String, String)> {
    report["corrections"]
        .as_array()
        .expect("corrections")
        .iter()
        .map(|c| {
            let text = |v: &Value| v.as_str().unwrap_or("none").to_owned();
            (
                text(&c["end_user"]),
                text(&c["before"]),
                text(&c["after"]),
                text(&c["cause"]),
            )
        })
        .collect()
}

fn correction(
    user: &str,
    before: &str,
    after: &str,
    cause: &str,
) -> (String, String, String, String) {
    (user.into(), before.into(), after.into(), cause.into())
}

#[tokio::test]
async fn after_lost_webhooks_one_reconciliation_matches_stripe_and_a_second_changes_nothing() {
    let (app, owner) = store().await;
    assert_eq!(owner.get(LAST).await.body, Value::Null, "no run yet");
    let alice = Buyer::new(&app, 2001, "alice", MONTHLY, true).await;
    let bob = Buyer::new(&app, 2002, "bob", MONTHLY, true).await;
    let carol = Buyer::new(&app, 2003, "carol", ONCE, true).await;
    let dave = Buyer::new(&app, 2004, "dave", ONCE, true).await;
    let erin = Buyer::new(&app, 2005, "erin", ONCE, false).await;
    let delivered = app.stripe.recorded_events().len();
    assert_eq!(
        delivered, 6,
        "two subscriptions (created, completed), two payments"
    );

    // The webhook endpoint goes down; meanwhile, at Stripe:
    app.stripe.set_webhooks_delivered(false);
    app.clock.advance(chrono::Duration::seconds(10));
    app.stripe
        .cancel_subscription(&alice.subscription(&app))
        .await;
    app.stripe
        .change_subscription(&bob.subscription(&app), "unpaid")
        .await;
    app.stripe.pay(&erin.session).await;
    app.stripe.refund_payment(&carol.session, None).await;
    app.stripe.open_dispute(&dave.session).await;
    // Tollgate heard none of it: everybody keeps what they had.
    for buyer in [&alice, &bob, &carol, &dave] {
        assert_eq!(buyer.use_tool().await, "ok", "{} before", buyer.login);
    }

    let report = reconcile(&owner).await;
    assert_eq!(report["events_read"], 11, "{report}");
    assert_eq!(report["events_applied"], 5, "only the lost ones: {report}");
    assert_eq!(report["trigger"], "operator");
    assert_eq!(
        corrections(&report),
        BTreeSet::from([
            correction(
                "alice",
                "active",
                "revoked",
                "customer.subscription.deleted"
            ),
            correction(
                "bob",
                "active",
                "suspended",
                "customer.subscription.updated"
            ),
            correction("carol", "active", "revoked", "charge.refunded"),
            correction("dave", "active", "suspended", "charge.dispute.created"),
            correction("erin", "none", "active", "checkout.session.completed"),
        ]),
        "{report}"
    );
    // As the users see it, every entitlement now matches Stripe.
    for buyer in [&alice, &bob, &carol, &dave] {
        assert_eq!(
            buyer.use_tool().await,
            "payment_required",
            "{} after",
            buyer.login
        );
    }
    assert_eq!(erin.use_tool().await, "ok", "erin paid");

    let again = reconcile(&owner).await;
    assert_eq!(again["events_read"], 11);
    assert_eq!(again["events_applied"], 0, "{again}");
    assert_eq!(again["corrections"], json!([]), "{again}");
    assert_eq!(owner.get(LAST).await.body, again, "the last report is kept");
    for buyer in [&alice, &bob, &carol, &dave] {
        assert_eq!(buyer.use_tool().await, "payment_required");
    }
    assert_eq!(erin.use_tool().await, "ok");
}

#[tokio::test]
async fn a_subscription_changed_without_any_event_is_read_again_once_its_confirmation_is_old() {
    let (app, owner) = store().await;
    let alice = Buyer::new(&app, 2001, "alice", MONTHLY, true).await;
    // Cancelled at Stripe with no event Tollgate can read (a type the endpoint missed, or one
    // older than Stripe keeps).
    app.stripe
        .set_subscription(&alice.subscription(&app), "canceled", false);
    let fresh = reconcile(&owner).await;
    assert_eq!(
        fresh["subscriptions_checked"], 0,
        "confirmed by its webhook just now"
    );
    assert_eq!(fresh["corrections"], json!([]));

    app.clock
        .advance(CONFIRMATION_AGE + chrono::Duration::minutes(1));
    let stale = reconcile(&owner).await;
    assert_eq!(stale["subscriptions_checked"], 1, "{stale}");
    assert_eq!(
        corrections(&stale),
        BTreeSet::from([correction("alice", "active", "revoked", "subscription")]),
    );
    let alice = alice.refreshed(&app).await;
    assert_eq!(alice.use_tool().await, "payment_required");
    let after = reconcile(&owner).await;
    assert_eq!(
        after["subscriptions_checked"], 0,
        "an ended one is not read again"
    );
    assert_eq!(after["corrections"], json!([]));
}

#[tokio::test]
async fn two_reconciliations_of_one_tenant_at_once_on_two_replicas_run_once() {
    let (app, owner) = store().await;
    let replica = app.spawn_replica(&[]).await;
    let _alice = Buyer::new(&app, 2001, "alice", MONTHLY, true).await;
    // The first run to claim the tenant waits at Stripe's event list.
    app.stripe.fail("GET /v1/events", Some(Failure::Hold));
    let here = owner.clone();
    let there = owner.at(&replica);
    let one = tokio::spawn(async move { here.post(RECONCILE, json!({})).await });
    let other = tokio::spawn(async move { there.post(RECONCILE, json!({})).await });
    let (refused, running) = match select(one, other).await {
        Either::Left((done, running)) | Either::Right((done, running)) => {
            (done.expect("a run"), running)
        }
    };
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already running"),
        "{:?}",
        refused.body
    );
    app.stripe.release_held();
    let ran = running.await.expect("a run");
    assert_eq!(ran.status, 200, "{:?}", ran.body);
    assert_eq!(ran.body["events_read"], 2);
    assert_eq!(
        app.stripe.requests("GET /v1/events"),
        1,
        "one run read Stripe's events, once"
    );
    assert_eq!(owner.get(LAST).await.body, ran.body);
}

#[tokio::test]
async fn a_run_that_dies_after_applying_events_is_redone_without_applying_anything_twice() {
    let (mut app, owner) = store().await;
    let bob = Buyer::new(&app, 2002, "bob", MONTHLY, true).await;
    app.stripe.set_webhooks_delivered(false);
    app.clock.advance(chrono::Duration::seconds(10));
    app.stripe
        .change_subscription(&bob.subscription(&app), "unpaid")
        .await;
    // Bob's subscription is due to be read again as well: the run stops there, having applied
    // the lost event, and its process dies before the cursor moves.
    app.clock
        .advance(CONFIRMATION_AGE + chrono::Duration::minutes(1));
    app.stripe
        .fail("GET /v1/subscriptions", Some(Failure::Hold));
    // The checkout already read the subscription once (its period end, at grant).
    let read_before = app.stripe.requests("GET /v1/subscriptions");
    let first = owner.clone();
    let dying = tokio::spawn(async move { first.post(RECONCILE, json!({})).await });
    app.stripe
        .wait_for_requests("GET /v1/subscriptions", read_before + 1)
        .await;
    dying.abort();
    app.crash_and_restart().await;
    app.stripe.fail("GET /v1/subscriptions", None);
    let bob = bob.refreshed(&app).await;
    assert_eq!(
        bob.use_tool().await,
        "payment_required",
        "applied before the crash"
    );
    assert_eq!(
        owner.get(LAST).await.body,
        Value::Null,
        "the run never finished"
    );
    let busy = owner.post(RECONCILE, json!({})).await;
    assert_eq!(
        busy.status, 409,
        "its claim holds until it lapses: {:?}",
        busy.body
    );

    app.clock
        .advance(RECONCILE_LEASE + chrono::Duration::seconds(1));
    let redone = reconcile(&owner).await;
    assert_eq!(
        redone["events_read"], 3,
        "read again from the same cursor: {redone}"
    );
    assert_eq!(
        redone["events_applied"], 0,
        "nothing applied twice: {redone}"
    );
    assert_eq!(redone["subscriptions_checked"], 1);
    assert_eq!(redone["corrections"], json!([]), "{redone}");
    assert_eq!(bob.use_tool().await, "payment_required");
    let audit = owner.get("/api/v1/tenants/demo/audit").await.body;
    let updates = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "stripe.customer.subscription.updated")
        .count();
    assert_eq!(updates, 1, "the lost event was applied once: {audit}");
}

#[tokio::test]
async fn the_background_job_reconciles_by_itself_every_interval() {
    let app = TestApp::spawn_with(tollgate_tests::TestOptions {
        extra: vec![("TOLLGATE_RECONCILE_SECONDS".into(), "1".into())],
        ..Default::default()
    })
    .await;
    let secret = app.connect_stripe("demo").await;
    app.stripe
        .send_webhooks_to(&app.webhook_url("demo"), &secret);
    app.stripe
        .add_price("price_monthly", 900, "usd", Some("month"), false);
    let demo = app
        .state
        .tenants
        .get_tenant_by_slug("demo")
        .await
        .expect("demo");
    app.sell(
        demo.id,
        Operation::PluginDownloads,
        super::stripe::offer(OfferKind::Subscription, "price_monthly"),
    )
    .await;
    let owner = app.first_operator().await;
    let alice = Buyer::new(&app, 2001, "alice", MONTHLY, true).await;
    app.stripe.set_webhooks_delivered(false);
    app.clock.advance(chrono::Duration::seconds(10));
    app.stripe
        .cancel_subscription(&alice.subscription(&app))
        .await;

    // Waits for rounds of the job (one a second) until one has seen the cancellation.
    let mut rounds = app.state.billing.reconcile_rounds();
    let corrected = async {
        loop {
            rounds.changed().await.expect("the job runs");
            let last = owner.get(LAST).await.body;
            if last["corrections"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
            {
                return last;
            }
        }
    };
    let last = tokio::time::timeout(std::time::Duration::from_secs(30), corrected)
        .await
        .expect("reconciled within 30 s");
    assert_eq!(last["trigger"], "schedule", "{last}");
    assert_eq!(
        corrections(&last),
        BTreeSet::from([correction(
            "alice",
            "active",
            "revoked",
            "customer.subscription.deleted"
        )]),
    );
    assert_eq!(alice.use_tool().await, "payment_required");
}

#[tokio::test]
async fn a_reconciliation_that_cannot_run_says_why_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let sandbox = owner.post(RECONCILE, json!({})).await;
    assert_eq!(sandbox.status, 400, "{:?}", sandbox.body);
    assert!(
        sandbox.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not connected to Stripe"),
        "{:?}",
        sandbox.body
    );
    app.connect_stripe("demo").await;
    let viewer = app
        .invited_operator(&owner, "demo", "viewer@example.com", "viewer")
        .await;
    let refused = viewer.post(RECONCILE, json!({})).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(
        viewer.get(LAST).await.body,
        Value::Null,
        "a viewer reads it"
    );

    // Stripe failing: a clear error, no report, no claim left behind.
    app.stripe
        .fail("GET /v1/events", Some(Failure::Status(500)));
    let failed = owner.post(RECONCILE, json!({})).await;
    assert_eq!(failed.status, 502, "{:?}", failed.body);
    assert!(
        failed.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("unavailable"),
        "{:?}",
        failed.body
    );
    assert_eq!(owner.get(LAST).await.body, Value::Null);
    app.stripe.fail("GET /v1/events", None);
    let ran = reconcile(&owner).await;
    assert_eq!(ran["events_read"], 0);
    assert_eq!(viewer.get(LAST).await.body, ran);
}
