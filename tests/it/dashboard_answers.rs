//! The dashboard's answers an operator acts on, checked in a real Chromium against the real
//! server (issue 14): the GitHub callback URL it shows is one the server answers, a Stripe key
//! Stripe refuses is not "Connected." and changes nothing, and a decimal comma is refused rather
//! than read as a thousands separator. Walked at 1280 and 390 px; screenshots are saved as
//! `<target>/screenshots/answers-*.png`.

use reqwest::StatusCode;
use tollgate_tests::TestApp;
use tollgate_tests::admin::{Operator, browser_signed_in, use_own_github_app_in_browser};
use tollgate_tests::webdriver::{Chromium, WIDTHS};

async fn shot(browser: &Chromium, page: &str, width: u32) {
    browser.shot(&format!("answers-{page}-{width}")).await;
}

/// The app with its first operator, and a Chromium signed in as them at `width`.
async fn signed_in(width: u32, height: u32) -> (TestApp, Operator, Chromium) {
    let app = TestApp::spawn().await;
    let owner = app.first_operator().await;
    let browser = browser_signed_in(&app, (width, height), "/sign-in", "owner@example.com").await;
    browser
        .wait_for("[data-test=tenant-card-demo]")
        .await
        .expect("signed in");
    (app, owner, browser)
}

async fn open(app: &TestApp, browser: &Chromium, page: &str, marker: &str) {
    let url = format!("{}/admin/t/demo/{page}", app.url);
    browser.open(&url, marker).await;
}

#[tokio::test]
async fn the_github_callback_url_shown_is_the_one_the_server_answers() {
    for (width, height) in WIDTHS {
        let (app, owner, browser) = signed_in(width, height).await;
        open(&app, &browser, "sign-in", "[data-test=github-callback-url]").await;
        let shown = browser
            .text("[data-test=github-callback-url]")
            .await
            .expect("the callback URL");
        assert_eq!(shown, format!("{}/t/demo/oauth/callback/github", app.url));
        // The URL is served: GitHub sending a user back without a sign-in in progress gets our
        // page explaining it, not a 404.
        let answer = app.http().get(&shown).send().await.expect("it answers");
        assert_ne!(answer.status(), StatusCode::NOT_FOUND, "{shown}");
        assert!(
            answer.status().is_client_error(),
            "{shown}: {}",
            answer.status()
        );
        // The test app has a platform GitHub app, and the page says that one is active.
        browser
            .wait_for_text("[data-test=sign-in-active]", "the platform's GitHub app")
            .await
            .expect("the active sign-in is described");

        // A client id that cannot be GitHub's is refused as it is typed, and the server refuses
        // it too.
        browser
            .fill("[data-test=github-app-form] [name=client_id]", "bad id!")
            .await
            .expect("client id");
        browser
            .wait_for("[data-test=field-error-client_id]")
            .await
            .expect("the bad client id is refused");
        assert_eq!(
            browser
                .attr("[data-test=github-app-submit]", "disabled")
                .await
                .expect("the button"),
            Some("true".into())
        );
        let refused = owner
            .put(
                "/api/v1/tenants/demo/github-app",
                serde_json::json!({"client_id": "bad id!", "client_secret": "0123456789abcdef0123"}),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{:?}",
            refused.body
        );
        assert_eq!(refused.body["error"]["field"], "client_id");
        shot(&browser, "sign-in-bad-client-id", width).await;

        // The tenant's own app: the page then names it as the active sign-in, and the form is
        // emptied without showing errors.
        use_own_github_app_in_browser(&browser).await;
        browser
            .wait_for_value("[data-test=github-app-form] [name=client_id]", "")
            .await
            .expect("the form is emptied");
        assert!(
            browser
                .find_all("[data-test=github-app-form] .field-error")
                .await
                .expect("errors")
                .is_empty(),
            "a form emptied after saving shows no errors"
        );
        shot(&browser, "sign-in-own-app", width).await;
        let _ = browser.quit().await;
    }
}

#[tokio::test]
async fn a_stripe_key_stripe_refuses_is_not_connected_and_changes_nothing() {
    for (width, height) in WIDTHS {
        let (app, owner, browser) = signed_in(width, height).await;
        open(&app, &browser, "payments", "[data-test=stripe-form]").await;
        let wrong = "sk_test_51ThisKeyIsNotTheAccountsKeyAtAll00000001234";
        browser
            .fill("[data-test=stripe-form] [name=secret_key]", wrong)
            .await
            .expect("secret key");
        browser
            .fill(
                "[data-test=stripe-form] [name=webhook_secret]",
                "whsec_dashboard_test",
            )
            .await
            .expect("webhook secret");
        browser
            .click("[data-test=stripe-submit]")
            .await
            .expect("connect");
        let said = browser
            .wait_for_text("[data-test=form-error]", "Stripe refused this key")
            .await
            .expect("Stripe's refusal is shown");
        assert!(said.contains("Invalid API Key provided"), "{said}");
        assert!(!said.contains(wrong), "the key is not echoed: {said}");
        assert!(
            browser
                .find_all("[data-test=stripe-connected]")
                .await
                .expect("find")
                .is_empty(),
            "no 'Connected.' for a refused key"
        );
        let tenant = owner.get("/api/v1/tenants/demo").await;
        assert_eq!(
            tenant.body["payments"]["mode"], "sandbox",
            "nothing changed"
        );
        let mode = browser
            .text("[data-test=payments-mode]")
            .await
            .expect("mode");
        assert!(mode.to_lowercase().contains("sandbox"), "{mode}");
        // The typed keys stay, so the operator can correct them.
        browser
            .wait_for_value("[data-test=stripe-form] [name=secret_key]", wrong)
            .await
            .expect("the key stays in the field");
        shot(&browser, "payments-refused", width).await;

        // The account's key connects.
        browser
            .fill(
                "[data-test=stripe-form] [name=secret_key]",
                &app.stripe.secret_key,
            )
            .await
            .expect("secret key");
        browser
            .click("[data-test=stripe-submit]")
            .await
            .expect("connect");
        browser
            .wait_for("[data-test=stripe-connected]")
            .await
            .expect("connected");
        let tenant = owner.get("/api/v1/tenants/demo").await;
        assert_eq!(tenant.body["payments"]["mode"], "stripe");
        // Connected, the page says when Tollgate last reconciled with Stripe, and runs one.
        browser
            .wait_for_text("[data-test=reconciliation-last]", "Not reconciled yet")
            .await
            .expect("no reconciliation yet");
        browser
            .click("[data-test=reconcile-now]")
            .await
            .expect("reconcile");
        let ran = browser
            .wait_for_text("[data-test=reconciliation-last]", "Last run")
            .await
            .expect("the run's summary");
        assert!(ran.contains("0 corrected"), "{ran}");
        browser
            .wait_for_text(
                "[data-test=reconciliation-corrections]",
                "every entitlement matched Stripe",
            )
            .await
            .expect("nothing to correct");
        let last = owner
            .get("/api/v1/tenants/demo/billing/reconciliation")
            .await;
        assert_eq!(last.body["trigger"], "operator", "{:?}", last.body);
        shot(&browser, "payments-connected", width).await;
        let _ = browser.quit().await;
    }
}

#[tokio::test]
async fn a_decimal_comma_is_refused_and_the_price_is_read_next_to_save() {
    for (width, height) in WIDTHS {
        let (app, owner, browser) = signed_in(width, height).await;
        open(&app, &browser, "plans", "[data-test=plan-new]").await;
        browser
            .click("[data-test=plan-new]")
            .await
            .expect("new plan");
        browser
            .wait_for("[data-test=plan-form]")
            .await
            .expect("the plan form");
        browser
            .fill("[data-test=plan-form] [name=name]", "Comma")
            .await
            .expect("name");
        // The rule is stated next to the field.
        let hint = browser
            .text("[data-test=plan-form] [name=amount] ~ .hint")
            .await
            .expect("the amount's hint");
        assert!(hint.contains("commas are refused"), "{hint}");
        browser
            .fill("[data-test=plan-form] [name=amount]", "1,50")
            .await
            .expect("amount");
        let error = browser
            .wait_for_text("[data-test=field-error-amount]", "comma")
            .await
            .expect("the comma is refused");
        assert!(!error.is_empty());
        assert_eq!(
            browser
                .attr("[data-test=plan-submit]", "disabled")
                .await
                .expect("save"),
            Some("true".into()),
            "nothing can be saved"
        );
        assert!(
            browser
                .find_all("[data-test=amount-preview]")
                .await
                .expect("find")
                .is_empty(),
            "no price is announced for a refused amount"
        );
        shot(&browser, "plan-comma", width).await;

        browser
            .fill("[data-test=plan-form] [name=amount]", "1.50")
            .await
            .expect("amount");
        browser
            .wait_for_text("[data-test=amount-preview]", "Users pay $1.50")
            .await
            .expect("the price as users will pay it");
        let beside_save = browser
            .execute(
                "const p = document.querySelector('[data-test=amount-preview]'); \
                 const s = document.querySelector('[data-test=plan-submit]'); \
                 return p.parentElement === s.parentElement;",
                &[],
            )
            .await
            .expect("layout");
        assert_eq!(beside_save, serde_json::json!(true), "next to Save");
        shot(&browser, "plan-price", width).await;
        browser
            .click("[data-test=plan-submit]")
            .await
            .expect("save");
        browser
            .wait_for_text("[data-test=plan-row-Comma] [data-test=plan-price]", "$1.50")
            .await
            .expect("saved as $1.50");
        let offers = owner.get("/api/v1/tenants/demo/offers").await;
        let saved = offers
            .body
            .as_array()
            .expect("offers")
            .iter()
            .find(|o| o["name"] == "Comma")
            .cloned()
            .expect("the plan");
        assert_eq!(saved["amount"], 150, "{saved}");
        let _ = browser.quit().await;
    }
}
