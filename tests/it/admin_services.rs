//! The services behind the admin API, through the real app: renaming, deleting and reordering
//! a tenant's tools, changing offers, the Stripe connection check and price list, and the
//! tenant's MCP clients (listing, revoking).

use rmcp::model::{CallToolRequestParams, CallToolResult};
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tollgate::billing::{BillingError, NewOffer, OfferKind};
use tollgate::oauth::OAuthError;
use tollgate::tenant::{Tenant, TenantError, ToolId};
use tollgate::wordpress::Operation;
use tollgate_tests::browser::{Browser, OAuthClient, Pkce, REDIRECT_URI};
use tollgate_tests::fake_stripe::Failure;
use tollgate_tests::{Era, TestApp, TestOptions};

const PAID_TOOL: &str = "wporg_plugin_downloads";

/// A new tenant offering the whole WordPress.org pack.
async fn tenant_with_pack(app: &TestApp, slug: &str) -> Tenant {
    let created = app
        .state
        .tenants
        .create_tenant(slug, &format!("Tenant {slug}"))
        .await
        .expect("created");
    app.state
        .tenants
        .install_wordpress_pack(created.id)
        .await
        .expect("pack installed");
    created
}

/// The names `tools/list` answers at `slug`'s live endpoint, in order.
async fn live_tool_names(app: &TestApp, slug: &str) -> Vec<String> {
    let client = app.mcp_client(slug, Era::Sessions).await;
    let names = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect();
    client.cancel().await.expect("closes");
    names
}

/// The live description of one tool.
async fn live_description(app: &TestApp, slug: &str, name: &str) -> String {
    let client = app.mcp_client(slug, Era::Sessions).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    client.cancel().await.expect("closes");
    tools
        .into_iter()
        .find(|tool| tool.name == name)
        .and_then(|tool| tool.description.map(|d| d.to_string()))
        .expect("the tool is listed with a description")
}

/// A raw 2026-07-28 `tools/list` with an optional bearer token.
async fn list_tools_with(app: &TestApp, slug: &str, token: Option<&str>) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
    ];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    app.post_mcp(slug, &body, &headers).await
}

fn one_time_offer(name: &str, amount: i64, calls: i64) -> NewOffer {
    NewOffer {
        name: name.into(),
        kind: OfferKind::OneTime,
        price_id: "price_one_time".into(),
        amount,
        currency: "usd".into(),
        interval: None,
        calls: Some(calls),
        meter_event: None,
        meter_value: None,
        free_quota: None,
        spend_cap: None,
        payment_reason: None,
        success_url: None,
        past_due_grace_days: None,
    }
}

/// For every table with a `tenant_id` column (and the `tenant` table itself), how many rows
/// belong to `tenant`. Asks the database which tables those are, so a table added later is
/// checked too.
async fn rows_of(app: &TestApp, tenant: &Tenant) -> BTreeMap<String, i64> {
    let db = &app.state.db;
    let backend = db.get_database_backend();
    let tables_sql = match backend {
        DbBackend::Sqlite => {
            "SELECT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'tenant_id'"
        }
        _ => {
            "SELECT table_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'tenant_id'"
        }
    };
    let tables = db
        .query_all_raw(Statement::from_string(backend, tables_sql))
        .await
        .expect("tables");
    let mut counts = BTreeMap::new();
    let mut columns: Vec<(String, &str)> = tables
        .iter()
        .map(|row| {
            (
                row.try_get::<String>("", "name").expect("name"),
                "tenant_id",
            )
        })
        .collect();
    // The audit log outlives its tenant (append-only; see `the_audit_log_is_append_only…`).
    columns.retain(|(table, _)| table != "audit_log");
    assert!(columns.len() >= 14, "{columns:?}");
    columns.push(("tenant".into(), "id"));
    for (table, column) in columns {
        let count = Query::select()
            .expr_as(Expr::col(Asterisk).count(), Alias::new("n"))
            .from(Alias::new(table.as_str()))
            .and_where(Expr::col(Alias::new(column)).eq(tenant.id.0))
            .to_owned();
        let row = db.query_one(&count).await.expect("counted").expect("a row");
        counts.insert(table, row.try_get::<i64>("", "n").expect("a count"));
    }
    counts
}

fn status(result: &CallToolResult) -> String {
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

async fn call_paid_tool(app: &TestApp, slug: &str, token: &str) -> CallToolResult {
    let client = app.mcp_client_with_token(slug, Era::Stateless, token).await;
    let result = client
        .call_tool(
            CallToolRequestParams::new(PAID_TOOL).with_arguments(
                json!({"slug": "akismet"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
        )
        .await
        .expect("tools/call");
    client.cancel().await.expect("closes");
    result
}

#[tokio::test]
async fn renaming_a_tenant_shows_at_once_and_checks_the_name() {
    let app = TestApp::spawn().await;
    let demo = app.tenant("demo").await;
    let renamed = app
        .state
        .tenants
        .rename_tenant(demo.id, "  Acme Tools  ")
        .await
        .expect("renamed");
    assert_eq!(renamed.name, "Acme Tools");
    assert!(renamed.config_version > demo.config_version);
    assert_eq!(app.tenant("demo").await.name, "Acme Tools");
    let metadata: Value = app
        .http()
        .get(format!(
            "{}/.well-known/oauth-protected-resource/t/demo/mcp",
            app.url
        ))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(metadata["resource_name"], "Acme Tools");

    for bad in ["", "   ", &"x".repeat(201)] {
        let refused = app.state.tenants.rename_tenant(demo.id, bad).await;
        assert!(
            matches!(refused, Err(TenantError::InvalidText(_))),
            "{refused:?}"
        );
    }
    let unknown = app
        .state
        .tenants
        .rename_tenant(tollgate::tenant::TenantId(uuid::Uuid::new_v4()), "Ghost")
        .await;
    assert!(
        matches!(unknown, Err(TenantError::TenantNotFound)),
        "{unknown:?}"
    );
    assert_eq!(app.tenant("demo").await.name, "Acme Tools");
}

#[tokio::test]
async fn deleting_a_tenant_removes_every_row_it_owns_and_nothing_of_another() {
    let app = TestApp::spawn_with(TestOptions {
        demo_pricing: true,
        ..TestOptions::default()
    })
    .await;
    // The other tenant: a signed-in user, a purchase on the sandbox.
    let demo = app.tenant("demo").await;
    let demo_token = OAuthClient::register(&app, "demo").await.sign_in().await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    call_paid_tool(&app, "demo", &demo_token).await;

    // The doomed tenant, on Stripe, with a metered plan that has been paid for and used.
    let doomed = tenant_with_pack(&app, "doomed").await;
    let secret = app.connect_stripe("doomed").await;
    app.stripe
        .add_price("price_doomed", 5, "usd", Some("month"), true);
    let offer = app
        .state
        .billing
        .create_offer(
            doomed.id,
            NewOffer {
                kind: OfferKind::Metered,
                price_id: "price_doomed".into(),
                interval: Some("month".into()),
                calls: None,
                meter_event: Some("tool_calls".into()),
                ..one_time_offer("Metered stats", 5, 1)
            },
        )
        .await
        .expect("offer");
    let tool = app
        .state
        .tenants
        .list_tools(doomed.id)
        .await
        .expect("tools")
        .into_iter()
        .find(|t| t.operation == Operation::PluginDownloads)
        .expect("tool");
    app.state
        .billing
        .price_tool(&app.state.tenants, doomed.id, tool.id, Some(offer.id))
        .await
        .expect("priced");
    let token = OAuthClient::register(&app, "doomed").await.sign_in().await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let asked = call_paid_tool(&app, "doomed", &token).await;
    assert_eq!(status(&asked), "payment_required", "{asked:?}");
    let sessions = app.stripe.checkout_sessions();
    let session_id = sessions[0]["id"].as_str().expect("id").to_owned();
    let session = app.stripe.complete_session(&session_id, "paid");
    let event = app.stripe.event("checkout.session.completed", session);
    let delivered = app
        .stripe
        .deliver(&app.webhook_url("doomed"), &event, &secret)
        .await;
    assert_eq!(delivered.status(), 200);
    let paid = call_paid_tool(&app, "doomed", &token).await;
    assert_eq!(status(&paid), "ok", "{paid:?}");

    // The call counters are written every few seconds: write them now, so that both tenants
    // have their `call_stat` rows and nothing changes under the comparison below.
    app.state.analytics.flush().await.expect("flushed");
    let before = rows_of(&app, &doomed).await;
    for table in [
        "call_stat",
        "tenant",
        "tool",
        "offer",
        "customer",
        "purchase",
        "entitlement",
        "usage",
        "meter_outbox",
        "provider_event",
        "end_user",
        "oauth_client",
        "oauth_pending",
        "oauth_code",
        "oauth_grant",
        "oauth_token",
    ] {
        assert!(before[table] > 0, "{table} has rows to delete: {before:?}");
    }
    let other_before = rows_of(&app, &demo).await;

    app.state
        .tenants
        .delete_tenant(doomed.id)
        .await
        .expect("deleted");
    app.state.billing.forget_tenant(doomed.id).await;

    // Every row it owned is gone; only the tenant row stays, marked deleted (a soft delete:
    // its URLs answer 410 and its slug stays retired for 30 days).
    let after = rows_of(&app, &doomed).await;
    assert!(
        after
            .iter()
            .all(|(table, n)| *n == i64::from(table == "tenant")),
        "rows left: {after:?}"
    );
    assert_eq!(rows_of(&app, &demo).await, other_before);
    assert_eq!(list_tools_with(&app, "doomed", None).await.status(), 410);
    assert_eq!(
        list_tools_with(&app, "doomed", Some(&token)).await.status(),
        410
    );
    assert!(matches!(
        app.state.tenants.get_tenant_by_slug("doomed").await,
        Err(TenantError::TenantGone)
    ));
    assert!(matches!(
        app.state.tenants.get_tenant_by_id(doomed.id).await,
        Err(TenantError::TenantNotFound)
    ));
    assert!(
        !app.state
            .tenants
            .list_tenant_ids()
            .await
            .expect("ids")
            .contains(&doomed.id)
    );
    assert!(matches!(
        app.state.tenants.delete_tenant(doomed.id).await,
        Err(TenantError::TenantNotFound)
    ));
    // The other tenant still serves its user.
    assert_eq!(
        list_tools_with(&app, "demo", Some(&demo_token))
            .await
            .status(),
        200
    );

    // The slug stays retired for 30 days, then is free again, for a tenant that knows nothing
    // of the old one.
    let refused = app
        .state
        .tenants
        .create_tenant("doomed", "Doomed again")
        .await;
    assert!(
        matches!(refused, Err(TenantError::SlugRetired { .. })),
        "{refused:?}"
    );
    app.clock.advance(chrono::Duration::days(30));
    let reborn = app
        .state
        .tenants
        .create_tenant("doomed", "Doomed again")
        .await
        .expect("the slug is free");
    assert_ne!(reborn.id, doomed.id);
    assert!(live_tool_names(&app, "doomed").await.is_empty());
    assert_eq!(
        list_tools_with(&app, "doomed", Some(&token)).await.status(),
        401,
        "the old tenant's token means nothing here"
    );
    assert!(
        app.state
            .billing
            .offers(reborn.id)
            .await
            .expect("offers")
            .is_empty()
    );
}

#[tokio::test]
async fn reordering_tools_changes_the_live_list_and_a_wrong_order_changes_nothing() {
    let app = TestApp::spawn().await;
    let demo = app.tenant("demo").await;
    let tools = app.state.tenants.list_tools(demo.id).await.expect("tools");
    assert!(tools.len() > 3);
    let mut ids: Vec<ToolId> = tools.iter().map(|t| t.id).collect();
    ids.reverse();
    let reordered = app
        .state
        .tenants
        .reorder_tools(demo.id, &ids)
        .await
        .expect("reordered");
    let expected: Vec<String> = tools
        .iter()
        .rev()
        .map(|t| t.name.as_str().to_owned())
        .collect();
    let names: Vec<String> = reordered
        .iter()
        .map(|t| t.name.as_str().to_owned())
        .collect();
    assert_eq!(names, expected);
    assert!(
        reordered
            .iter()
            .enumerate()
            .all(|(i, t)| usize::try_from(t.position).ok() == Some(i))
    );
    assert_eq!(live_tool_names(&app, "demo").await, expected);
    assert!(app.tenant("demo").await.config_version > demo.config_version);

    let other = tenant_with_pack(&app, "other").await;
    let foreign = app.state.tenants.list_tools(other.id).await.expect("tools")[0].id;
    let missing = &ids[1..];
    let mut twice = ids.clone();
    twice[0] = twice[1];
    let mut with_foreign = ids.clone();
    with_foreign[0] = foreign;
    let mut extra = ids.clone();
    extra.push(ids[0]);
    for (wrong, what) in [
        (missing.to_vec(), "one missing"),
        (twice, "one twice"),
        (extra, "one extra"),
        (Vec::new(), "empty"),
    ] {
        let refused = app.state.tenants.reorder_tools(demo.id, &wrong).await;
        assert!(
            matches!(refused, Err(TenantError::InvalidOrder(_))),
            "{what}: {refused:?}"
        );
    }
    let refused = app
        .state
        .tenants
        .reorder_tools(demo.id, &with_foreign)
        .await;
    assert!(
        matches!(refused, Err(TenantError::ToolNotFound)),
        "{refused:?}"
    );
    assert_eq!(live_tool_names(&app, "demo").await, expected);
    let stored: Vec<String> = app
        .state
        .tenants
        .list_tools(demo.id)
        .await
        .expect("tools")
        .iter()
        .map(|t| t.name.as_str().to_owned())
        .collect();
    assert_eq!(stored, expected);
    // The other tenant's order is its own.
    assert_eq!(
        app.state.tenants.list_tools(other.id).await.expect("tools")[0].id,
        foreign
    );
}

#[tokio::test]
async fn updating_an_offer_changes_the_live_price_and_foreign_offers_are_not_found() {
    let app = TestApp::spawn_with(TestOptions {
        demo_pricing: true,
        ..TestOptions::default()
    })
    .await;
    let demo = app.tenant("demo").await;
    let offer = app.state.billing.offers(demo.id).await.expect("offers")[0].clone();
    assert!(
        live_description(&app, "demo", PAID_TOOL)
            .await
            .contains("$5.00 for 100 calls")
    );
    let names = app
        .state
        .billing
        .offer_tool_names(&app.state.tenants, demo.id)
        .await
        .expect("names");
    assert_eq!(names.get(&offer.id), Some(&vec![PAID_TOOL.to_owned()]));

    let updated = app
        .state
        .billing
        .update_offer(demo.id, offer.id, one_time_offer(" Stats plus ", 900, 50))
        .await
        .expect("updated");
    assert_eq!(updated.id, offer.id);
    assert_eq!(updated.name, "Stats plus");
    assert_eq!(updated.price_text(), "$9.00 for 50 calls");
    let live = live_description(&app, "demo", PAID_TOOL).await;
    assert!(live.contains("$9.00 for 50 calls"), "{live}");
    assert!(live.contains("Stats plus"), "{live}");
    assert_eq!(
        *app.state.billing.offers(demo.id).await.expect("offers"),
        vec![updated.clone()]
    );

    // Checked as a new offer is; nothing changes on a refusal.
    let refused = app
        .state
        .billing
        .update_offer(demo.id, offer.id, one_time_offer("Stats", -1, 50))
        .await;
    assert!(
        matches!(refused, Err(BillingError::Invalid(_))),
        "{refused:?}"
    );
    let other = tenant_with_pack(&app, "other").await;
    let foreign = app
        .state
        .billing
        .update_offer(other.id, offer.id, one_time_offer("Stolen", 1, 1))
        .await;
    assert!(
        matches!(foreign, Err(BillingError::OfferNotFound)),
        "{foreign:?}"
    );
    let unknown = app
        .state
        .billing
        .update_offer(
            demo.id,
            tollgate::billing::OfferId(uuid::Uuid::new_v4()),
            one_time_offer("Ghost", 1, 1),
        )
        .await;
    assert!(
        matches!(unknown, Err(BillingError::OfferNotFound)),
        "{unknown:?}"
    );
    assert_eq!(
        *app.state.billing.offers(demo.id).await.expect("offers"),
        vec![updated]
    );
    assert!(
        app.state
            .billing
            .offers(other.id)
            .await
            .expect("offers")
            .is_empty()
    );
}

#[tokio::test]
async fn the_stripe_connection_is_tested_and_disconnected() {
    let app = TestApp::spawn().await;
    let demo = app.tenant("demo").await;
    let sandbox = app.state.billing.test_connection(&demo).await;
    assert!(sandbox.ok);
    assert_eq!(sandbox.message, "Sandbox: no Stripe account connected");

    app.connect_stripe("demo").await;
    let connected = app
        .state
        .billing
        .test_connection(&app.tenant("demo").await)
        .await;
    assert!(connected.ok, "{connected:?}");
    assert_eq!(connected.message, "Connected to Stripe (test mode)");
    // Once when connecting (the key is checked before it is stored), once for the test.
    assert_eq!(app.stripe.requests("GET /v1/balance"), 2);

    // A key Stripe refuses is not stored: the tenant keeps the connection it had.
    let wrong_key = "sk_test_51ThisKeyIsNotTheFakeAccountsKey0000001234";
    let before = app.tenant("demo").await.settings.stripe;
    let refused = app
        .state
        .billing
        .connect_stripe(
            &app.state.tenants,
            &app.tenant("demo").await,
            wrong_key,
            &["whsec_test"],
        )
        .await
        .expect_err("Stripe refuses the key");
    let said = refused.to_string();
    assert!(said.contains("Invalid API Key provided"), "{said}");
    assert!(!said.contains(wrong_key), "{said}");
    assert_eq!(app.tenant("demo").await.settings.stripe, before);
    assert_eq!(app.stripe.requests("GET /v1/balance"), 3);

    // A key Stripe stops accepting later (rolled in Stripe's dashboard) fails the test.
    app.stripe
        .fail("GET /v1/balance", Some(Failure::Status(401)));
    let refused = app
        .state
        .billing
        .test_connection(&app.tenant("demo").await)
        .await;
    app.stripe.fail("GET /v1/balance", None);
    assert!(!refused.ok);
    assert!(
        refused.message.contains("Stripe answered 401"),
        "{refused:?}"
    );
    assert!(
        !refused.message.contains(&app.stripe.secret_key),
        "{refused:?}"
    );
    // Refused, not retried.
    assert_eq!(app.stripe.requests("GET /v1/balance"), 4);

    let disconnected = app
        .state
        .billing
        .disconnect_stripe(&app.state.tenants, &app.tenant("demo").await)
        .await
        .expect("disconnected");
    assert_eq!(disconnected.settings.stripe, None);
    assert_eq!(app.tenant("demo").await.settings.stripe, None);
    assert_eq!(
        app.state
            .billing
            .provider_for(&disconnected)
            .expect("a provider")
            .name(),
        "sandbox"
    );
    assert!(app.state.billing.test_connection(&disconnected).await.ok);
}

#[tokio::test]
async fn stripe_prices_list_the_accounts_active_prices() {
    let app = TestApp::spawn().await;
    assert!(
        app.state
            .billing
            .stripe_prices(&app.tenant("demo").await)
            .await
            .expect("the sandbox lists nothing")
            .is_empty()
    );
    app.stripe
        .add_product_price("price_pro", "Pro", 500, "usd", None, false);
    app.stripe
        .add_product_price("price_team", "Team", 2000, "eur", Some("month"), false);
    app.stripe
        .add_product_price("price_calls", "API calls", 5, "usd", Some("month"), true);
    app.connect_stripe("demo").await;
    let prices = app
        .state
        .billing
        .stripe_prices(&app.tenant("demo").await)
        .await
        .expect("listed");
    let shown: Vec<Value> = prices
        .iter()
        .map(|p| serde_json::to_value(p).expect("json"))
        .collect();
    assert_eq!(
        shown,
        vec![
            json!({"id": "price_calls", "product": "API calls", "amount": 5, "currency": "usd",
                   "kind": "metered", "interval": "month",
                   "text": "$0.05 per unit, billed every month"}),
            json!({"id": "price_team", "product": "Team", "amount": 2000, "currency": "eur",
                   "kind": "subscription", "interval": "month", "text": "€20.00 per month"}),
            json!({"id": "price_pro", "product": "Pro", "amount": 500, "currency": "usd",
                   "kind": "one_time", "interval": null, "text": "$5.00"}),
        ]
    );
    let form = app.stripe.last_form("GET /v1/prices").expect("asked");
    assert!(
        form.iter()
            .any(|(k, v)| k.starts_with("expand[") && v == "data.product"),
        "{form:?}"
    );
    assert!(form.contains(&("active".into(), "true".into())), "{form:?}");
}

#[tokio::test]
async fn revoking_a_client_stops_its_tokens_at_once_and_spares_the_others() {
    let app = TestApp::spawn().await;
    let demo = app.tenant("demo").await;
    let revoked = OAuthClient::register(&app, "demo").await;
    let revoked_tokens = revoked.sign_in().await;
    let registered = app
        .state
        .oauth
        .preregister_client(&demo, "Other client", &[REDIRECT_URI], false)
        .await
        .expect("preregistered");
    let kept = OAuthClient {
        app: &app,
        slug: "demo".into(),
        client_id: registered.client_id.clone(),
    };
    let kept_tokens = kept.sign_in().await;
    let access = |tokens: &Value| tokens["access_token"].as_str().expect("token").to_owned();
    let refresh = |tokens: &Value| tokens["refresh_token"].as_str().expect("token").to_owned();

    let clients = app.state.oauth.list_clients(demo.id).await.expect("listed");
    let view = |id: &str| {
        clients
            .iter()
            .find(|c| c.client_id == id)
            .cloned()
            .expect("listed")
    };
    let dynamic = view(&revoked.client_id);
    assert_eq!(
        (dynamic.kind.as_str(), dynamic.name.as_str()),
        ("dynamic", "Test Client")
    );
    assert_eq!(dynamic.redirect_uris, vec![REDIRECT_URI.to_owned()]);
    assert_eq!(dynamic.active_grants, 1);
    let wire = tollgate::admin::client_view(dynamic.clone());
    assert!(chrono::DateTime::parse_from_rfc3339(&wire.created_at).is_ok());
    let preregistered = view(&kept.client_id);
    assert_eq!(preregistered.kind, "preregistered");
    assert_eq!(preregistered.active_grants, 1);
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access(&revoked_tokens)))
            .await
            .status(),
        200
    );

    app.state
        .oauth
        .revoke_client(demo.id, &revoked.client_id)
        .await
        .expect("revoked");

    // Its access token stops at once, its refresh token too, and it cannot sign in again.
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access(&revoked_tokens)))
            .await
            .status(),
        401
    );
    let (status, body) = revoked.refresh(&refresh(&revoked_tokens)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let page = Browser::new()
        .get(&revoked.authorize_url(&Pkce::new(), &[]))
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("revoked"), "{}", page.body);

    // The other client goes on.
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access(&kept_tokens)))
            .await
            .status(),
        200
    );
    let (status, rotated) = kept.refresh(&refresh(&kept_tokens)).await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access(&rotated)))
            .await
            .status(),
        200
    );
    let listed: Vec<String> = app
        .state
        .oauth
        .list_clients(demo.id)
        .await
        .expect("listed")
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(listed, vec![kept.client_id.clone()]);

    // Revoked once; an unknown client and another tenant's are not found, and stay as they are.
    for (tenant, client) in [
        (demo.id, revoked.client_id.as_str()),
        (demo.id, "tgc_unknown"),
        (
            tenant_with_pack(&app, "other").await.id,
            kept.client_id.as_str(),
        ),
    ] {
        let refused = app.state.oauth.revoke_client(tenant, client).await;
        assert!(
            matches!(refused, Err(OAuthError::ClientNotFound)),
            "{refused:?}"
        );
    }
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access(&rotated)))
            .await
            .status(),
        200
    );

    // A dynamic registration cannot be blocked (anyone may register any metadata): the same
    // software registering again gets a new client id, and its user signs in afresh.
    let again = OAuthClient::register(&app, "demo").await;
    assert_ne!(again.client_id, revoked.client_id);
    let fresh = again.sign_in().await;
    assert_eq!(
        list_tools_with(&app, "demo", Some(&access(&fresh)))
            .await
            .status(),
        200
    );
}
