//! Sessions and navigation in the dashboard (issue 14.4), in a real Chromium: a deep link
//! opened signed out returns to that page after signing in, a session that ends under the
//! operator says so and returns to the page they were on, and every page has its own title.
//! Walked at 1280 and 390 px; screenshots are saved as `<target>/screenshots/navigation-*.png`.

use tollgate_tests::TestApp;
use tollgate_tests::admin::{browser_signed_in, sign_in_in_browser};
use tollgate_tests::webdriver::{Chromium, WIDTHS};

async fn sign_in(browser: &Chromium) {
    sign_in_in_browser(browser, "owner@example.com").await;
}

async fn wait_for_title(browser: &Chromium, expected: &str) {
    browser
        .wait_for_title(expected)
        .await
        .unwrap_or_else(|e| panic!("the title: {e:#}"));
}

#[tokio::test]
async fn sign_in_returns_to_the_page_asked_for_and_an_ended_session_says_so() {
    for (width, height) in WIDTHS {
        let app = TestApp::spawn().await;
        let _owner = app.first_operator().await;
        let browser = Chromium::launch_at(width, height).await;

        // A deep link, signed out: the sign-in page, then the page asked for.
        browser
            .goto(&format!("{}/admin/t/demo/plans", app.url))
            .await
            .expect("the dashboard");
        wait_for_title(&browser, "Sign in · Tollgate").await;
        sign_in(&browser).await;
        browser
            .wait_for_text("[data-test=page-title]", "Plans")
            .await
            .expect("back on the plans page");
        let url = browser.current_url().await.expect("url");
        assert!(url.ends_with("/admin/t/demo/plans"), "{url}");
        wait_for_title(&browser, "Plans · Tollgate demo · Tollgate").await;

        // Every page names itself.
        for (nav, page) in [
            ("tools", "Tools"),
            ("payments", "Payments"),
            ("analytics", "Analytics"),
            ("members", "Members"),
        ] {
            if width < 600 {
                // At phone width the sidebar is a menu: go by URL.
                browser
                    .goto(&format!("{}/admin/t/demo/{nav}", app.url))
                    .await
                    .expect("the page");
            } else {
                browser
                    .click(&format!("[data-test=nav-{nav}]"))
                    .await
                    .expect("the link");
            }
            browser
                .wait_for_text("[data-test=page-title]", page)
                .await
                .expect("the page");
            wait_for_title(&browser, &format!("{page} · Tollgate demo · Tollgate")).await;
        }

        // The session ends (it is older than its lifetime) while the operator is on a page:
        // the next request sends them to the sign-in page, which says why, and signing in
        // again returns to that page.
        app.clock.advance(chrono::Duration::days(8));
        // A click on the sidebar's link (by script: at phone width the sidebar is a closed
        // menu), so the dashboard navigates without reloading and asks the API.
        browser
            .execute(
                "document.querySelector('[data-test=nav-customers]').click(); return 1;",
                &[],
            )
            .await
            .expect("customers");
        browser
            .wait_for("[data-test=session-expired]")
            .await
            .expect("the sign-in page says the session ended");
        browser
            .shot(&format!("navigation-session-ended-{width}"))
            .await;
        sign_in(&browser).await;
        browser
            .wait_for_text("[data-test=page-title]", "Customers")
            .await
            .expect("back on the customers page");
        let url = browser.current_url().await.expect("url");
        assert!(url.ends_with("/admin/t/demo/customers"), "{url}");

        // A sign-in link cannot send the operator to another site.
        browser
            .click("[data-test=sign-out]")
            .await
            .expect("sign out");
        browser
            .wait_for("[data-test=sign-in-form]")
            .await
            .expect("signed out");
        browser
            .goto(&format!(
                "{}/admin/sign-in?next=%2F%2Fevil.example%2Fadmin",
                app.url
            ))
            .await
            .expect("a crafted link");
        sign_in(&browser).await;
        browser
            .wait_for("[data-test=tenant-card-demo]")
            .await
            .expect("the start page instead");
        assert!(
            browser
                .current_url()
                .await
                .expect("url")
                .starts_with(&app.url)
        );
        let _ = browser.quit().await;
    }
}

#[tokio::test]
async fn the_page_never_contradicts_the_server_and_keeps_what_was_typed() {
    for (width, height) in WIDTHS {
        let app = TestApp::spawn().await;
        let owner = app.first_operator().await;
        let admin = app
            .invited_operator(&owner, "demo", "admin@example.com", "admin")
            .await;
        let browser = Chromium::launch_at(width, height).await;

        // An admin opens the sign-in settings; meanwhile the owner makes them a viewer.
        browser
            .goto(&format!("{}/admin/t/demo/sign-in", app.url))
            .await
            .expect("the dashboard");
        sign_in_in_browser(&browser, "admin@example.com").await;
        browser
            .wait_for("[data-test=anonymous-free-tools]")
            .await
            .expect("the switch");
        let before = browser
            .execute(
                "return document.querySelector('[data-test=anonymous-free-tools]').checked;",
                &[],
            )
            .await
            .expect("checked");
        let demoted = owner
            .patch(
                &format!("/api/v1/tenants/demo/members/{}", admin.id),
                serde_json::json!({"role": "viewer"}),
            )
            .await;
        assert_eq!(demoted.status, 200, "{:?}", demoted.body);

        // The switch is refused: it goes back to what the server has, says why, and keeps
        // the keyboard focus.
        browser
            .click("[data-test=anonymous-free-tools]")
            .await
            .expect("the switch");
        browser
            .wait_for("[data-test=form-error]")
            .await
            .expect("the refusal is shown");
        let state = browser
            .execute(
                "const s = document.querySelector('[data-test=anonymous-free-tools]'); \
                 return [s.checked, document.activeElement === s];",
                &[],
            )
            .await
            .expect("state");
        assert_eq!(
            state[0], before,
            "the switch shows the server's value again"
        );
        assert_eq!(
            state[1],
            serde_json::json!(true),
            "the focus stays on the switch"
        );
        let tenant = owner.get("/api/v1/tenants/demo").await;
        assert_eq!(
            tenant.body["anonymous_free_tools"], before,
            "nothing changed"
        );
        browser
            .shot(&format!("navigation-refused-switch-{width}"))
            .await;
        let _ = browser.quit().await;

        // As the owner: a number field keeps what is typed and says what is wrong.
        let browser =
            browser_signed_in(&app, (width, height), "/t/demo/plans", "owner@example.com").await;
        browser
            .click("[data-test=plan-new]")
            .await
            .expect("new plan");
        browser
            .fill("[data-test=plan-form] [name=free_quota]", "3.5")
            .await
            .expect("free calls");
        browser
            .wait_for("[data-test=field-error-free_quota]")
            .await
            .expect("a fraction of a call is refused");
        browser
            .wait_for_value("[data-test=plan-form] [name=free_quota]", "3.5")
            .await
            .expect("what was typed stays");
        let described = browser
            .attr(
                "[data-test=plan-form] [name=free_quota]",
                "aria-describedby",
            )
            .await
            .expect("the input")
            .unwrap_or_default();
        let error_id = browser
            .attr("[data-test=field-error-free_quota]", "id")
            .await
            .expect("the error")
            .unwrap_or_default();
        assert!(
            !error_id.is_empty() && described.contains(&error_id),
            "the error is tied to its field: {described:?} / {error_id:?}"
        );

        // A rename the server refuses (the name is taken) keeps the editor and the text.
        browser
            .goto(&format!("{}/admin/t/demo/tools", app.url))
            .await
            .expect("tools");
        let row = "[data-test=tool-row-wporg_query_themes]";
        browser
            .click(&format!("{row} [data-test=tool-rename]"))
            .await
            .expect("rename");
        browser
            .fill(&format!("{row} [name=name]"), "wporg_query_plugins")
            .await
            .expect("a taken name");
        browser
            .click(&format!("{row} .inline-edit button[type=submit]"))
            .await
            .expect("save");
        browser
            .wait_for(&format!("{row} [data-test=field-error-name]"))
            .await
            .expect("the refusal is shown next to the name");
        browser
            .wait_for_value(&format!("{row} [name=name]"), "wporg_query_plugins")
            .await
            .expect("the typed name stays");
        browser
            .shot(&format!("navigation-refused-rename-{width}"))
            .await;

        // Members: the role menu and Remove stay whole and in view at every width.
        browser
            .open(
                &format!("{}/admin/t/demo/members", app.url),
                "[data-test=member-role]",
            )
            .await;
        let fits = browser
            .execute(
                "const rows = [...document.querySelectorAll('[data-test=members-table] tbody tr')]; \
                 return rows.every(r => { \
                   const parts = [...r.querySelectorAll('select, button')]; \
                   return parts.every(p => { const b = p.getBoundingClientRect(); \
                     if (b.width === 0 && b.height === 0) return true; \
                     return b.left >= 0 && b.right <= window.innerWidth && b.width >= 48; }); });",
                &[],
            )
            .await
            .expect("layout");
        browser.shot(&format!("navigation-members-{width}")).await;
        assert_eq!(
            fits,
            serde_json::json!(true),
            "every control is whole and in view"
        );

        // The analytics period is in the URL, and a reload keeps it.
        browser
            .goto(&format!("{}/admin/t/demo/analytics", app.url))
            .await
            .expect("analytics");
        browser.click("[data-test=days-7]").await.expect("7 days");
        browser
            .wait_until_url(|u| u.ends_with("/admin/t/demo/analytics?days=7"))
            .await
            .expect("the period in the URL");
        browser
            .open(
                &format!("{}/admin/t/demo/analytics?days=90", app.url),
                "[data-test=days-90][aria-pressed=true]",
            )
            .await;
        let _ = browser.quit().await;
    }
}
