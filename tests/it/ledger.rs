//! The ledger under faults (issue 13): paid calls, metered and one-time, of many users of
//! several tenants, through the real server while the fake Stripe fails a fifth of its API
//! requests (500, 429, time-outs past Tollgate's deadline, responses dropped after the work was
//! done) and drops a fifth of its webhooks, with one replica crashing halfway. At the end the
//! meter totals at Stripe equal Tollgate's count of paid metered calls, per customer; every
//! payment has at most (after reconciliation: exactly) one entitlement; nothing is granted that
//! Stripe does not show as paid; every call of a one-time purchase is counted once.
//!
//! A small run by default; `TOLLGATE_LEDGER_CALLS=10000` (or `scripts/ledger`) runs the full
//! one. `TOLLGATE_LEDGER_SEED` replays a fault sequence (the seed is printed). On PostgreSQL two
//! replicas share the database behind a front and one of them crashes; on SQLite, one process
//! by design, the one app crashes and restarts.

use futures::future::join_all;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tollgate::billing::OfferKind;
use tollgate::wordpress::Operation;
use tollgate_tests::admin::Operator;
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::cluster::Cluster;
use tollgate_tests::fake_github::GitHubUser;
use tollgate_tests::fake_stripe::{FakeStripe, Faults, Webhook};
use tollgate_tests::{McpClient, TestApp, TestOptions};

const METERED_TOOL: &str = "wporg_plugin_downloads";
const ONE_TIME_TOOL: &str = "wporg_plugin_info";
/// Six tenants: each sends its meter events in its own lane, so six lanes share the time-outs.
const TENANTS: [&str; 6] = ["demo", "north", "south", "east", "west", "centre"];
/// Calls one one-time purchase buys.
const CALLS_PER_PURCHASE: i64 = 3;

/// The run's size and faults, from the environment.
struct Run {
    calls: usize,
    users_per_tenant: usize,
    faults: Faults,
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl Run {
    fn from_env() -> Self {
        let calls = env_number("TOLLGATE_LEDGER_CALLS").map_or(240, |n| n.max(30) as usize);
        let users_per_tenant = env_number("TOLLGATE_LEDGER_USERS")
            .map_or_else(|| (calls / 600).clamp(2, 20), |n| n.max(1) as usize);
        let seed = env_number("TOLLGATE_LEDGER_SEED").unwrap_or_else(|| {
            u64::from_le_bytes(
                uuid::Uuid::new_v4().as_bytes()[..8]
                    .try_into()
                    .expect("8 bytes"),
            )
        });
        // Past the 8 s Tollgate gives one Stripe request (and far past what a user waits).
        let timeout_ms = env_number("TOLLGATE_LEDGER_TIMEOUT_MS").unwrap_or(8_500);
        Self {
            calls,
            users_per_tenant,
            faults: Faults {
                seed,
                rate: 0.2,
                webhook_drop_rate: 0.2,
                timeout: Duration::from_millis(timeout_ms),
            },
        }
    }
}

/// Two replicas on PostgreSQL behind a front, or the one SQLite app.
enum Deployment {
    One(Box<TestApp>),
    Two(Box<Cluster>),
}

impl Deployment {
    async fn start() -> Self {
        // What a user waits on the provider for: the time-outs above are far past it.
        let options = TestOptions {
            extra: vec![("TOLLGATE_PROVIDER_DEADLINE_MS".into(), "2000".into())],
            crash_cuts_connections: true,
            ..TestOptions::default()
        };
        let postgres =
            std::env::var("TOLLGATE_TEST_DATABASE").is_ok_and(|d| d.starts_with("postgres"));
        if postgres {
            Self::Two(Box::new(Cluster::start(2, options).await))
        } else {
            Self::One(Box::new(TestApp::spawn_with(options).await))
        }
    }

    fn app(&self) -> &TestApp {
        match self {
            Self::One(app) => app,
            Self::Two(cluster) => cluster.app(),
        }
    }

    fn apps(&self) -> Vec<&TestApp> {
        match self {
            Self::One(app) => vec![app],
            Self::Two(cluster) => cluster.replicas.iter().collect(),
        }
    }

    /// Kills a replica without a graceful stop (the second, when there are two) and starts it
    /// again on the same address and database.
    async fn crash(&mut self) -> &'static str {
        match self {
            Self::One(app) => {
                app.crash_and_restart().await;
                "the one app (SQLite)"
            }
            Self::Two(cluster) => {
                cluster.replicas[1].crash_and_restart().await;
                "replica 2 of 2 (PostgreSQL)"
            }
        }
    }
}

/// A tenant of `owner` selling a metered plan (`METERED_TOOL`) and one-time packs
/// (`ONE_TIME_TOOL`) through the fake Stripe; returns its id and webhook secret.
async fn open_shop(app: &TestApp, owner: &Operator, slug: &str) -> (String, String) {
    let tenants = &app.state.tenants;
    if slug != "demo" {
        let created = owner
            .post("/api/v1/tenants", json!({"slug": slug, "name": slug}))
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
    }
    let tenant = tenants.get_tenant_by_slug(slug).await.expect("tenant");
    let installed = tenants.list_tools(tenant.id).await.expect("tools");
    if !installed
        .iter()
        .any(|t| t.operation == Operation::PluginDownloads)
    {
        tenants
            .install_wordpress_pack(tenant.id)
            .await
            .expect("tools");
    }
    let secret = app.connect_stripe(slug).await;
    for (operation, kind) in [
        (Operation::PluginDownloads, OfferKind::Metered),
        (Operation::PluginInfo, OfferKind::OneTime),
    ] {
        let price = format!("price_{slug}_{}", kind.as_str());
        let mut offer = crate::stripe::offer(kind, &price);
        if kind == OfferKind::OneTime {
            offer.calls = Some(CALLS_PER_PURCHASE);
        }
        app.stripe.add_price(
            &price,
            offer.amount,
            &offer.currency,
            offer.interval.as_deref(),
            kind == OfferKind::Metered,
        );
        let created = app
            .state
            .billing
            .create_offer(tenant.id, offer)
            .await
            .expect("offer");
        let tool = tenants
            .list_tools(tenant.id)
            .await
            .expect("tools")
            .into_iter()
            .find(|t| t.operation == operation)
            .expect("tool");
        app.state
            .billing
            .price_tool(tenants, tenant.id, tool.id, Some(created.id))
            .await
            .expect("priced");
    }
    (tenant.id.to_string(), secret)
}

/// One end user of one tenant, signed in.
struct Payer {
    tenant: &'static str,
    number: usize,
    token: String,
    secret: String,
}

/// What the workers share.
struct Shared {
    stripe: FakeStripe,
    /// The public URL (the front, with two replicas).
    url: String,
    http: reqwest::Client,
    done: AtomicUsize,
    progress: watch::Sender<usize>,
}

/// What one user saw.
#[derive(Default)]
struct Tally {
    calls: usize,
    ok_metered: usize,
    ok_one_time: usize,
    asked_to_pay: usize,
    paid: usize,
    already_paid: usize,
    success_pages: usize,
    unavailable: usize,
    refused: usize,
    failed: usize,
    webhooks_unreachable: usize,
}

impl Tally {
    fn add(&mut self, other: &Self) {
        self.calls += other.calls;
        self.ok_metered += other.ok_metered;
        self.ok_one_time += other.ok_one_time;
        self.asked_to_pay += other.asked_to_pay;
        self.paid += other.paid;
        self.already_paid += other.already_paid;
        self.success_pages += other.success_pages;
        self.unavailable += other.unavailable;
        self.refused += other.refused;
        self.failed += other.failed;
        self.webhooks_unreachable += other.webhooks_unreachable;
    }
}

/// An rmcp client of the 2026 era for `url`, retried while a replica restarts.
async fn connect(url: &str, token: &str) -> McpClient {
    let start = Instant::now();
    loop {
        let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
            .auth_header(token.to_owned());
        let transport = StreamableHttpClientTransport::from_config(config);
        let connected = ()
            .serve_with_lifecycle(
                transport,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await;
        match connected {
            Ok(client) => return client,
            Err(error) => assert!(
                start.elapsed() < Duration::from_secs(30),
                "the MCP client cannot connect: {error}"
            ),
        }
        tokio::task::yield_now().await;
    }
}

fn status_of(result: &CallToolResult) -> String {
    crate::stripe::status(result)
}

/// The answer a user gets when Stripe did not answer in time: nothing was charged.
fn unavailable(result: &CallToolResult) -> bool {
    result.content.iter().any(|content| {
        content
            .as_text()
            .is_some_and(|text| text.text.starts_with("Payments are unavailable right now"))
    })
}

/// A small, seeded generator for a user's choices (which tool, whether to open the success
/// page).
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn coin(&mut self) -> bool {
        self.next().is_multiple_of(2)
    }
}

/// One user's calls, paying when asked as a person would: completing the Checkout Session
/// (Stripe then sends the webhook, unless it is dropped) and, one time in two, landing on the
/// success page.
async fn run_payer(shared: Arc<Shared>, payer: Payer, calls: usize, seed: u64) -> Tally {
    let mcp_url = format!("{}/t/{}/mcp", shared.url, payer.tenant);
    let webhook_url = format!("{}/t/{}/webhooks/stripe", shared.url, payer.tenant);
    let mut client = connect(&mcp_url, &payer.token).await;
    let mut choices = Choices(seed ^ (payer.number as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut tally = Tally::default();
    for _ in 0..calls {
        let metered = choices.coin();
        let tool = if metered { METERED_TOOL } else { ONE_TIME_TOOL };
        let arguments = json!({"slug": "akismet"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let answer = client
            .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
            .await;
        tally.calls += 1;
        match answer {
            Err(_) => {
                // The replica answering went down mid-call: a person would call again.
                tally.failed += 1;
                let _ = client.cancel().await;
                client = connect(&mcp_url, &payer.token).await;
            }
            Ok(result) => match status_of(&result).as_str() {
                "ok" if metered => tally.ok_metered += 1,
                "ok" => tally.ok_one_time += 1,
                "payment_required" | "payment_pending" => {
                    tally.asked_to_pay += 1;
                    pay(
                        &shared,
                        &payer,
                        &webhook_url,
                        &result,
                        &mut choices,
                        &mut tally,
                    )
                    .await;
                }
                "error" if unavailable(&result) => tally.unavailable += 1,
                other => {
                    tally.refused += 1;
                    eprintln!("ledger: {tool} answered {other}: {result:?}");
                }
            },
        }
        let done = shared.done.fetch_add(1, Ordering::SeqCst) + 1;
        shared.progress.send_replace(done);
    }
    let _ = client.cancel().await;
    tally
}

/// Pays the purchase a `payment_required` answer points at, unless it is paid already.
async fn pay(
    shared: &Shared,
    payer: &Payer,
    webhook_url: &str,
    result: &CallToolResult,
    choices: &mut Choices,
    tally: &mut Tally,
) {
    let link = result
        .structured_content
        .as_ref()
        .and_then(|s| s["checkout_url"].as_str())
        .expect("a payment link");
    let purchase = link.rsplit('/').next().expect("the purchase id");
    let session = shared
        .stripe
        .checkout_session_with("tollgate_purchase", purchase)
        .expect("the purchase's Checkout Session is at Stripe");
    if session["status"] != "open" {
        // Paid before; Tollgate has not heard of it yet.
        tally.already_paid += 1;
        return;
    }
    let id = session["id"].as_str().expect("id");
    let (_, webhooks) = shared
        .stripe
        .pay_notifying(id, webhook_url, &payer.secret)
        .await;
    tally.paid += 1;
    for webhook in webhooks {
        match webhook {
            Webhook::Answered(200) | Webhook::Dropped => {}
            Webhook::Answered(_) | Webhook::Unreachable(_) => tally.webhooks_unreachable += 1,
        }
    }
    if choices.coin()
        && let Some(success) = shared.stripe.success_redirect(id)
    {
        let page = shared.http.get(&success).send().await;
        if page.is_ok_and(|p| p.status().is_success()) {
            tally.success_pages += 1;
        }
    }
}

/// Rows of a query on the shared database, each as text cells.
async fn rows(database_url: &str, sql: &str) -> Vec<Vec<String>> {
    let db = Database::connect(database_url).await.expect("connect");
    let found = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql);
    let mut out = Vec::with_capacity(found.len());
    for row in found {
        let mut cells = Vec::new();
        for index in 0.. {
            let text = row
                .try_get_by_index::<String>(index)
                .or_else(|_| row.try_get_by_index::<i64>(index).map(|n| n.to_string()));
            match text {
                Ok(text) => cells.push(text),
                Err(_) => break,
            }
        }
        out.push(cells);
    }
    db.close().await.expect("closed");
    out
}

async fn number(database_url: &str, sql: &str) -> i64 {
    rows(database_url, sql).await[0][0]
        .parse()
        .expect("a number")
}

/// Waits until no meter event is pending: polls the shared database, waking every sender and
/// moving the clock past their retry timers and claims when nothing moves; panics after `bound`.
async fn drain_meter(deployment: &Deployment, bound: Duration) -> Duration {
    let app = deployment.app();
    let start = Instant::now();
    let mut last = i64::MAX;
    let mut still = Instant::now();
    loop {
        let pending = number(
            &app.database_url,
            "select count(*) from meter_outbox where status = 'pending'",
        )
        .await;
        if pending == 0 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < bound,
            "{pending} meter events still pending after {bound:?}"
        );
        if pending < last {
            last = pending;
            still = Instant::now();
        } else if still.elapsed() > Duration::from_secs(2) {
            // Retries wait with backoff, and a crashed sender's claims last a minute.
            app.clock.advance(chrono::Duration::seconds(61));
            for replica in deployment.apps() {
                replica.state.billing.wake_meter_sender();
            }
            still = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What Tollgate should have granted: one entitlement per payment Stripe shows as paid, in
/// the tenant that sold it (`slugs`: tenant id → slug).
fn paid_sources(stripe: &FakeStripe, slugs: &BTreeMap<String, &str>) -> BTreeSet<(String, String)> {
    stripe
        .checkout_sessions()
        .iter()
        .filter(|s| s["status"] == "complete" && s["payment_status"] == "paid")
        .map(|s| {
            let tenant = s["metadata"]["tollgate_tenant"].as_str().expect("tenant");
            let source = match s["subscription"].as_str() {
                Some(subscription) => format!("subscription:{subscription}"),
                None => format!("checkout:{}", s["id"].as_str().expect("id")),
            };
            (
                (*slugs.get(tenant).expect("a tenant of the run")).to_owned(),
                source,
            )
        })
        .collect()
}

/// Meter totals at Stripe, per customer.
fn stripe_meter_totals(stripe: &FakeStripe) -> BTreeMap<String, i64> {
    let mut totals = BTreeMap::new();
    for event in stripe.meter_events() {
        let customer = event["payload"]["stripe_customer_id"]
            .as_str()
            .expect("customer")
            .to_owned();
        let value = &event["payload"]["value"];
        let value = value
            .as_i64()
            .or_else(|| value.as_str().and_then(|v| v.parse().ok()))
            .expect("a value");
        *totals.entry(customer).or_default() += value;
    }
    totals
}

#[tokio::test]
async fn the_ledger_under_faults_matches_stripe() {
    let started = Instant::now();
    let run = Run::from_env();
    let mut deployment = Deployment::start().await;
    let app = deployment.app();
    let owner = app.first_operator().await;
    let mut secrets = BTreeMap::new();
    let mut slugs = BTreeMap::new();
    for slug in TENANTS {
        let (id, secret) = open_shop(app, &owner, slug).await;
        secrets.insert(slug, secret);
        slugs.insert(id, slug);
    }
    let mut payers = Vec::new();
    for slug in TENANTS {
        let oauth = OAuthClient::register(app, slug).await;
        for _ in 0..run.users_per_tenant {
            let number = payers.len();
            let id = 7_000 + i64::try_from(number).expect("small");
            app.github.sign_in_as(GitHubUser {
                id,
                login: format!("payer{number}"),
                name: Some(format!("Payer {number}")),
                email: Some(format!("payer{number}@example.com")),
            });
            let tokens = oauth.sign_in().await;
            payers.push(Payer {
                tenant: slug,
                number,
                token: tokens["access_token"].as_str().expect("token").to_owned(),
                secret: secrets[slug].clone(),
            });
        }
    }
    let users = payers.len();
    println!(
        "ledger: seed {} (TOLLGATE_LEDGER_SEED replays it), {} calls, {} users over {} tenants, \
         faults {:.0} % of Stripe API requests, {:.0} % of webhooks dropped, time-outs hold {:?}",
        run.faults.seed,
        run.calls,
        users,
        TENANTS.len(),
        run.faults.rate * 100.0,
        run.faults.webhook_drop_rate * 100.0,
        run.faults.timeout,
    );

    // The work, with the faults on; one replica crashes halfway.
    app.stripe.set_faults(Some(run.faults.clone()));
    let (progress, mut watched) = watch::channel(0);
    let shared = Arc::new(Shared {
        stripe: app.stripe.clone(),
        url: app.url.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        done: AtomicUsize::new(0),
        progress,
    });
    let per_user = run.calls / users;
    let extra = run.calls % users;
    let work_started = Instant::now();
    let workers: Vec<_> = payers
        .into_iter()
        .enumerate()
        .map(|(i, payer)| {
            let calls = per_user + usize::from(i < extra);
            tokio::spawn(run_payer(
                Arc::clone(&shared),
                payer,
                calls,
                run.faults.seed,
            ))
        })
        .collect();
    let half = run.calls / 2;
    watched
        .wait_for(|done| *done >= half)
        .await
        .expect("the workers report progress");
    let crashed = deployment.crash().await;
    println!(
        "ledger: crashed and restarted {crashed} after {half} calls ({:.1} s)",
        work_started.elapsed().as_secs_f64()
    );
    let mut tally = Tally::default();
    for worker in join_all(workers).await {
        tally.add(&worker.expect("the worker finishes"));
    }
    let work_time = work_started.elapsed();

    // Every meter event delivered, through the faults still in force.
    // The bound grows with the run: each tenant's events go out one after another, and a
    // time-out holds its lane for Tollgate's whole 8 s limit.
    let bound = Duration::from_secs(120) + Duration::from_millis(150) * run.calls as u32;
    let drain_time = drain_meter(&deployment, bound).await;
    let faults = deployment.app().stripe.fault_counts();
    // Stripe recovers; each tenant's owner runs a reconciliation, which reads back what the
    // dropped webhooks said.
    deployment.app().stripe.set_faults(None);
    let app = deployment.app();
    let db = &app.database_url;
    let granted_before = number(db, "select count(*) from entitlement").await;
    let (mut events_read, mut events_applied, mut corrections) = (0, 0, 0);
    let mut lapsed = 0;
    for slug in TENANTS {
        let path = format!("/api/v1/tenants/{slug}/billing/reconcile");
        let mut report = owner.post(&path, json!({})).await;
        if report.status == 409 {
            // A background run holds the tenant; if it was the crashed replica's, its claim
            // lapses after ten minutes: let them pass, then run.
            lapsed += 1;
            app.clock.advance(chrono::Duration::minutes(11));
            report = owner.post(&path, json!({})).await;
        }
        assert_eq!(report.status, 200, "{slug}: {:?}", report.body);
        events_read += report.body["events_read"].as_u64().expect("events_read");
        events_applied += report.body["events_applied"]
            .as_u64()
            .expect("events_applied");
        corrections += report.body["corrections"].as_array().map_or(0, Vec::len);
    }

    let outbox: BTreeMap<String, i64> = rows(
        db,
        "select status, count(*) from meter_outbox group by status",
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse().expect("n")))
    .collect();
    let attempts = number(db, "select coalesce(sum(attempts), 0) from meter_outbox").await;
    let sent = outbox.get("sent").copied().unwrap_or_default();
    let tollgate_meter: BTreeMap<String, i64> = rows(
        db,
        "select c.provider_customer_id, sum(u.calls) from usage u join customer c \
         on c.tenant_id = u.tenant_id and c.end_user_id = u.end_user_id and c.provider = 'stripe' \
         where u.kind = 'metered' and u.status = 'committed' group by c.provider_customer_id",
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone(), r[1].parse().expect("n")))
    .collect();
    let stripe_meter = stripe_meter_totals(&app.stripe);
    // Entitlements that grant (or granted) access, by tenant and source.
    let granted: Vec<((String, String), i64)> = rows(
        db,
        "select t.slug, e.source, count(*) from entitlement e join tenant t on t.id = e.tenant_id \
         group by t.slug, e.source",
    )
    .await
    .into_iter()
    .map(|r| ((r[0].clone(), r[1].clone()), r[2].parse().expect("n")))
    .collect();
    let paid = paid_sources(&app.stripe, &slugs);
    let granted_sources: BTreeSet<(String, String)> =
        granted.iter().map(|(s, _)| s.clone()).collect();
    let not_paid: Vec<&(String, String)> = granted_sources.difference(&paid).collect();
    let doubled: Vec<&((String, String), i64)> = granted.iter().filter(|(_, n)| *n > 1).collect();
    let missing: Vec<&(String, String)> = paid.difference(&granted_sources).collect();
    let one_time_granted = number(
        db,
        &format!(
            "select cast(count(*) * {CALLS_PER_PURCHASE} - coalesce(sum(calls_remaining), 0) \
             as bigint) from entitlement where source like 'checkout:%'"
        ),
    )
    .await;
    let one_time_used = number(
        db,
        &format!(
            "select coalesce(sum(calls), 0) from usage where kind = 'paid' and status <> 'released' \
             and tool_name = '{ONE_TIME_TOOL}'"
        ),
    )
    .await;
    let metered_calls: i64 = tollgate_meter.values().sum();

    println!(
        "ledger figures ({:.1} s in all):",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  calls {} in {:.1} s: {} metered ok, {} one-time ok, {} asked to pay, {} payments unavailable, \
         {} lost to the crash (transport), {} other",
        tally.calls,
        work_time.as_secs_f64(),
        tally.ok_metered,
        tally.ok_one_time,
        tally.asked_to_pay,
        tally.unavailable,
        tally.failed,
        tally.refused,
    );
    println!(
        "  payments {} (checkout sessions paid at Stripe {}), already paid when asked again {}, success pages {}",
        tally.paid,
        paid.len(),
        tally.already_paid,
        tally.success_pages,
    );
    println!(
        "  Stripe API requests {}: faults 500 {}, 429 {}, time-outs {}, dropped responses {}; \
         idempotent replays {}",
        faults.requests,
        faults.server_errors,
        faults.rate_limited,
        faults.timeouts,
        faults.dropped,
        faults.idempotent_replays,
    );
    println!(
        "  webhooks {} sent, {} dropped, {} unanswered (replica down)",
        faults.webhooks_sent, faults.webhooks_dropped, tally.webhooks_unreachable,
    );
    println!(
        "  meter events: {sent} sent in {attempts} attempts ({} retried), duplicates refused {}, \
         outbox {outbox:?}; drained {:.1} s after the calls",
        attempts - sent,
        faults.duplicate_meter_events,
        drain_time.as_secs_f64(),
    );
    println!(
        "  metered calls: Tollgate {metered_calls}, Stripe {}, over {} customers",
        stripe_meter.values().sum::<i64>(),
        stripe_meter.len(),
    );
    println!(
        "  reconciliation of {} tenants ({lapsed} held by a background run, let lapse): \
         {events_read} events read, {events_applied} applied, {corrections} corrections; \
         entitlements {granted_before} before it, {} after",
        TENANTS.len(),
        granted.len(),
    );
    println!(
        "  entitlements {} for {} payments ({} without one); one-time calls bought-and-used \
         {one_time_granted}, counted {one_time_used}",
        granted.len(),
        paid.len(),
        missing.len(),
    );

    // Money never lost or doubled.
    assert_eq!(outbox.get("pending"), None, "every meter event delivered");
    assert_eq!(outbox.get("failed"), None, "no meter event set aside");
    assert_eq!(
        tollgate_meter, stripe_meter,
        "the meter totals at Stripe equal Tollgate's paid metered calls, per customer"
    );
    let seen_ok = i64::try_from(tally.ok_metered).expect("small");
    let lost = i64::try_from(tally.failed).expect("small");
    assert!(
        metered_calls >= seen_ok && metered_calls <= seen_ok + lost,
        "Tollgate counted {metered_calls} metered calls; users saw {seen_ok} answered and {lost} cut"
    );
    assert!(
        not_paid.is_empty(),
        "granted without a payment at Stripe: {not_paid:?}"
    );
    assert!(doubled.is_empty(), "a payment granted twice: {doubled:?}");
    assert!(
        missing.is_empty(),
        "payments at Stripe without an entitlement: {missing:?}"
    );
    assert_eq!(
        one_time_granted, one_time_used,
        "each call of a one-time purchase taken exactly once"
    );
    let seen_one_time = i64::try_from(tally.ok_one_time).expect("small");
    assert!(
        one_time_used >= seen_one_time && one_time_used <= seen_one_time + lost,
        "one-time calls counted {one_time_used}; users saw {seen_one_time} answered and {lost} cut"
    );
    assert!(
        tally.paid > 0 && metered_calls > 0,
        "the run bought something"
    );
    assert_eq!(
        paid.len(),
        tally.paid,
        "every payment made is at Stripe once"
    );
}
