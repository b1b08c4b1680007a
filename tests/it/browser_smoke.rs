//! The WebDriver client against the real app: a headless Chromium walks the end user's
//! server-rendered sign-in pages (consent, then the demo sign-in) as a person would.

use tollgate_tests::browser::{OAuthClient, Pkce, query_param};
use tollgate_tests::webdriver::{Chromium, screenshot_dir};
use tollgate_tests::{TestApp, TestOptions};

#[tokio::test]
async fn chromium_signs_an_end_user_in_through_the_consent_and_demo_sign_in_pages() {
    let app = TestApp::spawn_with(TestOptions {
        github: false,
        ..TestOptions::default()
    })
    .await;
    // The client returns to a page of the app itself, so the browser's last hop loads.
    let back_to = format!("{}/healthz", app.url);
    let client = OAuthClient::register_with(&app, "demo", &back_to).await;
    let authorize = client.authorize_url(&Pkce::new(), &[("redirect_uri", &back_to)]);

    let browser = Chromium::launch().await.expect("Chromium starts");
    browser
        .goto(&authorize)
        .await
        .expect("the consent page loads");
    let heading = browser
        .wait_for_text("h1", "Allow Test Client to use")
        .await
        .expect("the consent page asks");
    assert!(heading.ends_with('?'), "{heading}");
    browser
        .click("button[value=approve]")
        .await
        .expect("Approve is clickable");

    browser
        .wait_for_text("h1", "Demo sign-in")
        .await
        .expect("the demo sign-in page follows");
    assert!(
        browser
            .text("p.demo")
            .await
            .expect("the test-mode notice")
            .starts_with("Test mode."),
    );
    assert_eq!(
        browser.text("label[for=name]").await.expect("a label"),
        "Your name"
    );
    let shot = screenshot_dir().join("smoke.png");
    browser.screenshot(&shot).await.expect("a screenshot");
    let png = std::fs::read(&shot).expect("the screenshot is written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        shot.display()
    );

    browser
        .fill("#name", "Ada Lovelace")
        .await
        .expect("the name field");
    browser.click("button[type=submit]").await.expect("Sign in");
    let landed = browser
        .wait_until_url(|url| url.starts_with(&back_to))
        .await
        .expect("the browser returns to the client");
    assert!(query_param(&landed, "code").is_some(), "{landed}");
    assert_eq!(query_param(&landed, "state").as_deref(), Some("xyz-state"));
    browser.quit().await.expect("Chromium quits");

    let users = app.end_users("demo").await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].provider, "local");
}
