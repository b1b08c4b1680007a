//! The test harness: spawns the real Tollgate on `127.0.0.1:0` with its own database (SQLite
//! file, or a fresh PostgreSQL database when `TOLLGATE_TEST_DATABASE` is a `postgres://` URL),
//! pointed at fakes of the outside world that are real HTTP servers.

pub mod admin;
pub mod browser;
pub mod cluster;
pub mod fake_github;
pub mod fake_stripe;
pub mod fake_wporg;
pub mod sign_in_later;
pub mod webdriver;

use anyhow::Context;
use fake_github::FakeGitHub;
use fake_stripe::FakeStripe;
use fake_wporg::FakeWordPress;
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use sea_orm::{ConnectionTrait, Database};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Once;
use tokio::sync::oneshot;
use tollgate::clock::OffsetClock;
use tollgate::{App, AppState, Config};

/// An rmcp client connected to a tenant's endpoint.
pub type McpClient = RunningService<RoleClient, ()>;

/// Which era of the MCP specification a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// `initialize` and a session (2025-06-18 / 2025-11-25).
    Sessions,
    /// `server/discover` and self-contained requests (2026-07-28).
    Stateless,
}

/// Knobs a test may turn before the app starts.
#[derive(Clone, Debug)]
pub struct TestOptions {
    /// `TOLLGATE_WPORG_TIMEOUT_MS`.
    pub wporg_timeout_ms: u64,
    /// Configure the platform's GitHub app (pointing at the fake); without it the app offers
    /// the local demo sign-in.
    pub github: bool,
    /// Seed the demo's paid tool (`TOLLGATE_SEED_DEMO=true`); off by default so that tests of
    /// the free tools see every tool free.
    pub demo_pricing: bool,
    /// Extra environment-style settings.
    pub extra: Vec<(String, String)>,
    /// Serve through a door (a TCP forwarder on the app's address) so that
    /// [`TestApp::crash_and_restart`] cuts every open connection and stops the background
    /// work where it stands, as a dying process would.
    pub crash_cuts_connections: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            wporg_timeout_ms: 2_000,
            github: true,
            demo_pricing: false,
            extra: Vec::new(),
            crash_cuts_connections: false,
        }
    }
}

/// A running Tollgate and the fakes it talks to.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, also the public URL.
    pub url: String,
    /// The fake WordPress.org API.
    pub wporg: FakeWordPress,
    /// The fake GitHub (web and API).
    pub github: FakeGitHub,
    /// The fake Stripe API.
    pub stripe: FakeStripe,
    /// The app's state, to act as an operator would before the admin API exists.
    pub state: AppState,
    /// The database URL the app runs on.
    pub database_url: String,
    /// The app's clock; advance it to expire codes and tokens.
    pub clock: Arc<OffsetClock>,
    http: reqwest::Client,
    settings: HashMap<String, String>,
    /// The socket the app listens on (for raw HTTP exchanges).
    pub addr: std::net::SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    scratch: Option<PathBuf>,
    /// With `crash_cuts_connections`: the door, and what stops the background work.
    door: Option<Door>,
    stop_background: Option<Box<dyn Fn() + Send + Sync>>,
}

/// A TCP forwarder on an app's address: every connection goes through it to the app's own
/// listener, so a crash can cut them all at once, and the restarted app can listen elsewhere.
struct Door {
    target: Arc<std::sync::Mutex<std::net::SocketAddr>>,
    cut: tokio::sync::watch::Sender<u64>,
    accept: tokio::task::JoinHandle<()>,
}

impl Door {
    fn open(listener: tokio::net::TcpListener, target: std::net::SocketAddr) -> Self {
        let target = Arc::new(std::sync::Mutex::new(target));
        let (cut, cuts) = tokio::sync::watch::channel(0_u64);
        let to = Arc::clone(&target);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let app = *to.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut cuts = cuts.clone();
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(app).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self {
            target,
            cut,
            accept,
        }
    }

    /// Cuts every open connection.
    fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Sends new connections to `target`.
    fn point_to(&self, target: std::net::SocketAddr) {
        *self
            .target
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = target;
    }
}

impl Drop for Door {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Serves `app` on `listener`, or (with a door) on a listener of its own behind a door on
/// `listener`'s address.
async fn serve_app(
    app: App,
    listener: tokio::net::TcpListener,
    door: bool,
) -> anyhow::Result<(
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
    Option<Door>,
    Option<Box<dyn Fn() + Send + Sync>>,
)> {
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    };
    if !door {
        return Ok((tx, tokio::spawn(app.serve(listener, shutdown)), None, None));
    }
    let own = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let door = Door::open(listener, own.local_addr()?);
    let token = app.background_token();
    let server = tokio::spawn(app.serve(own, shutdown));
    Ok((
        tx,
        server,
        Some(door),
        Some(Box::new(move || token.cancel())),
    ))
}

/// Installs the TLS provider reqwest needs, once per process.
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A database of its own for one test: a SQLite file in a scratch folder, or a new PostgreSQL
/// database on the server named by `TOLLGATE_TEST_DATABASE`.
async fn fresh_database() -> anyhow::Result<(String, Option<PathBuf>)> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    match std::env::var("TOLLGATE_TEST_DATABASE") {
        Ok(base) if base.starts_with("postgres") => {
            let base = base.trim_end_matches('/');
            let (server, _) = base.rsplit_once('/').unwrap_or((base, ""));
            let admin = Database::connect(format!("{server}/postgres"))
                .await
                .context("TOLLGATE_TEST_DATABASE: cannot reach PostgreSQL")?;
            // A run of scripts/test names its databases after itself, so that it drops only its
            // own and never those of another run going on at the same time.
            let run = std::env::var("TOLLGATE_TEST_RUN").unwrap_or_default();
            let name = format!("tg_test_{run}{id}");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            admin.close().await?;
            Ok((format!("{server}/{name}"), None))
        }
        _ => {
            let dir = std::env::temp_dir().join(format!("tollgate-test-{id}"));
            std::fs::create_dir_all(&dir)?;
            let url = format!("sqlite://{}?mode=rwc", dir.join("tollgate.db").display());
            Ok((url, Some(dir)))
        }
    }
}

/// Starts an rmcp client over `transport` in the given era.
async fn connect(transport: StreamableHttpClientTransport<reqwest::Client>, era: Era) -> McpClient {
    match era {
        Era::Sessions => ().serve(transport).await.expect("the client initializes"),
        Era::Stateless => ()
            .serve_with_lifecycle(
                transport,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
                },
            )
            .await
            .expect("the client discovers the server"),
    }
}

impl TestApp {
    /// Starts Tollgate with default options.
    pub async fn spawn() -> Self {
        Self::spawn_with(TestOptions::default()).await
    }

    /// Starts Tollgate with these options. Panics when it cannot start: a test can do nothing
    /// without it.
    pub async fn spawn_with(options: TestOptions) -> Self {
        Self::try_spawn(options).await.expect("the app starts")
    }

    async fn try_spawn(options: TestOptions) -> anyhow::Result<Self> {
        let mut apps = Self::try_spawn_many(1, options, None).await?;
        apps.pop().context("one app")
    }

    /// Starts `n` apps at the same moment on one fresh database, with the same fakes, clock,
    /// master key and settings, each on its own port (the first one owns the database's
    /// scratch folder). With `public_url` every app is told it is served there (replicas
    /// behind one front), and each app's `url` is that front.
    pub async fn spawn_many_at_once(
        n: usize,
        options: TestOptions,
        public_url: Option<&str>,
    ) -> Vec<Self> {
        Self::try_spawn_many(n, options, public_url)
            .await
            .expect("the apps start")
    }

    async fn try_spawn_many(
        n: usize,
        options: TestOptions,
        public_url: Option<&str>,
    ) -> anyhow::Result<Vec<Self>> {
        install_crypto();
        if std::env::var_os("TOLLGATE_TEST_LOG").is_some() {
            tollgate::ops::init_logging();
        }
        let wporg = FakeWordPress::start().await;
        let github = FakeGitHub::start().await;
        let clock = Arc::new(OffsetClock::default());
        let stripe = FakeStripe::start_with_clock(clock.clone()).await;
        let (database_url, scratch) = fresh_database().await?;
        let data_dir = scratch.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("tollgate-test-{}", uuid::Uuid::new_v4().simple()))
        });
        let mut settings: HashMap<String, String> = HashMap::from([
            ("TOLLGATE_DATABASE_URL".into(), database_url.clone()),
            ("TOLLGATE_DATA_DIR".into(), data_dir.display().to_string()),
            (
                "TOLLGATE_MASTER_KEY".into(),
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into(),
            ),
            ("TOLLGATE_WPORG_API_URL".into(), wporg.url.clone()),
            ("TOLLGATE_STRIPE_API_URL".into(), stripe.url.clone()),
            (
                "TOLLGATE_WPORG_TIMEOUT_MS".into(),
                options.wporg_timeout_ms.to_string(),
            ),
        ]);
        settings.insert("TOLLGATE_SETUP_TOKEN".into(), admin::SETUP_TOKEN.into());
        settings.insert(
            "TOLLGATE_ADMIN_ASSETS".into(),
            admin::assets_dir().display().to_string(),
        );
        settings.insert(
            "TOLLGATE_SEED_DEMO".into(),
            if options.demo_pricing { "true" } else { "free" }.into(),
        );
        // GitHub is always the fake; `github` decides whether the platform has an app there.
        settings.extend([
            ("TOLLGATE_GITHUB_URL".into(), github.url.clone()),
            ("TOLLGATE_GITHUB_API_URL".into(), github.api_url.clone()),
        ]);
        if options.github {
            settings.extend([
                ("TOLLGATE_GITHUB_CLIENT_ID".into(), github.client_id.clone()),
                (
                    "TOLLGATE_GITHUB_CLIENT_SECRET".into(),
                    github.client_secret.clone(),
                ),
            ]);
        }
        // Production mode needs an https public URL and never seeds the demo tenant: the test
        // stands where a TLS-terminating load balancer would, and talks plain http to the bind
        // address (see `TestApp::local_url`).
        let production = options
            .extra
            .iter()
            .any(|(name, value)| name == "TOLLGATE_MODE" && value == "production");
        if production {
            settings.remove("TOLLGATE_SEED_DEMO");
        }
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let url = public_url.map_or_else(
                || format!("http://127.0.0.1:{}", addr.port()),
                str::to_owned,
            );
            let public = if production && public_url.is_none() {
                format!("https://localhost:{}", addr.port())
            } else {
                url.clone()
            };
            let mut own = settings.clone();
            own.insert("TOLLGATE_BIND".into(), addr.to_string());
            own.insert("TOLLGATE_PUBLIC_URL".into(), public);
            own.extend(options.extra.clone());
            members.push((listener, addr, url, own));
        }
        let builds = members.iter().map(|(_, _, _, own)| {
            let clock = clock.clone();
            async move {
                let config = Config::from_lookup(|name| own.get(name).cloned())?;
                App::build_with_clock(config, clock).await
            }
        });
        let built = futures::future::join_all(builds).await;
        let mut apps = Vec::with_capacity(n);
        for (i, ((listener, addr, url, own), app)) in members.into_iter().zip(built).enumerate() {
            let app = app?;
            let state = app.state().clone();
            let (tx, server, door, stop_background) =
                serve_app(app, listener, options.crash_cuts_connections).await?;
            apps.push(Self {
                url,
                wporg: wporg.clone(),
                github: github.clone(),
                stripe: stripe.clone(),
                settings: own,
                addr,
                state,
                database_url: database_url.clone(),
                clock: clock.clone(),
                http: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()?,
                shutdown: Some(tx),
                server: Some(server),
                scratch: if i == 0 { scratch.clone() } else { None },
                door,
                stop_background,
            });
        }
        Ok(apps)
    }

    /// The MCP endpoint URL of a tenant.
    pub fn mcp_url(&self, slug: &str) -> String {
        format!("{}/t/{slug}/mcp", self.url)
    }

    /// The public URL the app was configured with (`url`, unless a test runs it behind an
    /// https front, as production mode requires).
    pub fn public_url(&self) -> String {
        self.settings
            .get("TOLLGATE_PUBLIC_URL")
            .cloned()
            .unwrap_or_else(|| self.url.clone())
    }

    /// A tenant's MCP resource identifier (the public MCP URL), as tokens are bound to it.
    pub fn resource_url(&self, slug: &str) -> String {
        format!("{}/t/{slug}/mcp", self.public_url())
    }

    /// A URL the app handed out, made reachable from the test: a public https URL becomes the
    /// plain-http bind address, as a TLS-terminating front would forward it.
    pub fn local_url(&self, url: &str) -> String {
        match url.strip_prefix(&self.public_url()) {
            Some(rest) => format!("{}{rest}", self.url),
            None => url.to_owned(),
        }
    }

    /// A plain HTTP client that does not follow redirects.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// An rmcp client connected to `slug`'s endpoint, speaking the given era.
    pub async fn mcp_client(&self, slug: &str, era: Era) -> McpClient {
        connect(
            StreamableHttpClientTransport::from_uri(self.mcp_url(slug)),
            era,
        )
        .await
    }

    /// POSTs a raw JSON-RPC body to a tenant's endpoint with MCP's usual headers plus `headers`.
    pub async fn post_mcp(
        &self,
        slug: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.mcp_url(slug))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the server answers")
    }

    /// The live tenant `slug`, read through the app's own service.
    pub async fn tenant(&self, slug: &str) -> tollgate::tenant::Tenant {
        self.state
            .tenants
            .get_tenant_by_slug(slug)
            .await
            .expect("the tenant exists")
    }

    /// Creates `offer` for the tenant and prices the tool that serves `operation` with it, as
    /// an operator does in the dashboard; answers the offer.
    pub async fn sell(
        &self,
        tenant: tollgate::tenant::TenantId,
        operation: tollgate::wordpress::Operation,
        offer: tollgate::billing::NewOffer,
    ) -> tollgate::billing::Offer {
        let offer = self
            .state
            .billing
            .create_offer(tenant, offer)
            .await
            .expect("the offer is created");
        let tool = self.tool_serving(tenant, operation).await;
        self.state
            .billing
            .price_tool(&self.state.tenants, tenant, tool.id, Some(offer.id))
            .await
            .expect("the tool is priced");
        offer
    }

    /// The tenant's tool that serves `operation`.
    pub async fn tool_serving(
        &self,
        tenant: tollgate::tenant::TenantId,
        operation: tollgate::wordpress::Operation,
    ) -> tollgate::tenant::ToolConfig {
        self.state
            .tenants
            .list_tools(tenant)
            .await
            .expect("the tools")
            .into_iter()
            .find(|tool| tool.operation == operation)
            .expect("the tenant has the tool")
    }

    /// Switches off the tool that serves `operation` for the tenant, as an operator does in
    /// the dashboard.
    pub async fn switch_off(
        &self,
        tenant: tollgate::tenant::TenantId,
        operation: tollgate::wordpress::Operation,
    ) {
        let tool = self.tool_serving(tenant, operation).await;
        self.state
            .tenants
            .update_tool(
                tenant,
                tool.id,
                tollgate::tenant::ToolPatch {
                    enabled: Some(false),
                    ..tollgate::tenant::ToolPatch::default()
                },
                None,
            )
            .await
            .expect("the tool is switched off");
    }

    /// Makes `slug`'s free tools require sign-in, as an operator would.
    pub async fn require_sign_in(&self, slug: &str) {
        let tenant = self.tenant(slug).await;
        let mut settings = tenant.settings.clone();
        settings.anonymous_free_tools = false;
        self.state
            .tenants
            .update_settings(tenant.id, &settings)
            .await
            .expect("settings saved");
    }

    /// An rmcp client for `slug` that sends `token` as its bearer.
    pub async fn mcp_client_with_token(&self, slug: &str, era: Era, token: &str) -> McpClient {
        let config =
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                self.mcp_url(slug),
            )
            .auth_header(token.to_owned());
        connect(StreamableHttpClientTransport::from_config(config), era).await
    }

    /// The end users of a tenant.
    pub async fn end_users(&self, slug: &str) -> Vec<tollgate::oauth::EndUser> {
        let tenant = self.tenant(slug).await;
        self.state
            .oauth
            .list_end_users(tenant.id)
            .await
            .expect("listed")
    }

    /// Everything the database holds, as text, to check that no secret is stored in clear:
    /// the SQLite files' bytes, or every PostgreSQL row rendered as text.
    pub async fn dump_database(&self) -> String {
        if let Some(dir) = &self.scratch {
            let mut dump = String::new();
            for name in ["tollgate.db", "tollgate.db-wal"] {
                if let Ok(bytes) = std::fs::read(dir.join(name)) {
                    dump.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            return dump;
        }
        let db = &self.state.db;
        let backend = db.get_database_backend();
        let tables = db
            .query_all_raw(sea_orm::Statement::from_string(
                backend,
                "select tablename from pg_tables where schemaname = 'public'",
            ))
            .await
            .expect("tables");
        let mut dump = String::new();
        for row in tables {
            let table: String = row.try_get("", "tablename").expect("name");
            let rows = db
                .query_all_raw(sea_orm::Statement::from_string(
                    backend,
                    format!("select t::text as row from \"{table}\" t"),
                ))
                .await
                .expect("rows");
            for row in rows {
                let text: String = row.try_get("", "row").unwrap_or_default();
                dump.push_str(&text);
                dump.push('\n');
            }
        }
        dump
    }

    /// Kills the server without a graceful shutdown, as a crash would, and starts a new one on
    /// the same address and database. Work the old process had not finished is recovered (or
    /// not) by the new one alone. With `crash_cuts_connections` every open connection is cut
    /// and the background work (the meter sender mid-send, the flushers) stops where it
    /// stands; without it, requests already on a kept-alive connection are still answered.
    pub async fn crash_and_restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
        if let Some(stop) = self.stop_background.take() {
            stop();
        }
        if let Some(door) = &self.door {
            // Until the new app listens, connections find nobody behind the door.
            door.cut();
        }
        self.shutdown = None;
        let config = Config::from_lookup(|name| self.settings.get(name).cloned()).expect("config");
        let app = App::build_with_clock(config, self.clock.clone())
            .await
            .expect("the app restarts");
        self.state = app.state().clone();
        if let Some(door) = &self.door {
            let own = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port for the restarted app");
            door.point_to(own.local_addr().expect("its address"));
            door.cut();
            self.stop_background = Some(Box::new({
                let token = app.background_token();
                move || token.cancel()
            }));
            let (tx, rx) = oneshot::channel::<()>();
            self.server = Some(tokio::spawn(app.serve(own, async move {
                let _ = rx.await;
            })));
            self.shutdown = Some(tx);
            return;
        }
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("the address is free again");
        let (tx, rx) = oneshot::channel::<()>();
        self.server = Some(tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        })));
        self.shutdown = Some(tx);
    }

    /// Starts another replica of this app: a second Tollgate process-in-the-test on the same
    /// database, with the same fakes, clock, master key and settings, listening on its own port.
    /// `extra` overrides settings (`TOLLGATE_PUBLIC_URL`, for replicas behind one front). The
    /// replica leaves the database to the app it was made from.
    pub async fn spawn_replica(&self, extra: &[(&str, &str)]) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the replica");
        let addr = listener.local_addr().expect("the replica's address");
        let url = format!("http://127.0.0.1:{}", addr.port());
        let mut settings = self.settings.clone();
        settings.insert("TOLLGATE_BIND".into(), addr.to_string());
        settings.insert("TOLLGATE_PUBLIC_URL".into(), url.clone());
        for (name, value) in extra {
            settings.insert((*name).to_owned(), (*value).to_owned());
        }
        let config = Config::from_lookup(|name| settings.get(name).cloned()).expect("config");
        let app = App::build_with_clock(config, self.clock.clone())
            .await
            .expect("the replica starts");
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        TestApp {
            url,
            wporg: self.wporg.clone(),
            github: self.github.clone(),
            stripe: self.stripe.clone(),
            state,
            database_url: self.database_url.clone(),
            clock: self.clock.clone(),
            http: self.http.clone(),
            settings,
            addr,
            shutdown: Some(tx),
            server: Some(server),
            scratch: None,
            door: None,
            stop_background: None,
        }
    }

    /// Builds (without serving) another app on this app's database and settings, `extra`
    /// overriding them: what `tollgate serve` or `tollgate keys rotate` would start with, or
    /// the error that stops it.
    pub async fn build_app_with(&self, extra: &[(&str, &str)]) -> anyhow::Result<App> {
        let mut settings = self.settings.clone();
        for (name, value) in extra {
            settings.insert((*name).to_owned(), (*value).to_owned());
        }
        let config = Config::from_lookup(|name| settings.get(name).cloned())?;
        App::build_with_clock(config, self.clock.clone()).await
    }

    /// Connects `slug` to the fake Stripe with one webhook secret; returns that secret.
    pub async fn connect_stripe(&self, slug: &str) -> String {
        let secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
        let tenant = self.tenant(slug).await;
        self.state
            .billing
            .connect_stripe(
                &self.state.tenants,
                &tenant,
                &self.stripe.secret_key,
                &[&secret],
            )
            .await
            .expect("connected");
        secret
    }

    /// The app's current time, in unix seconds.
    pub fn clock_now(&self) -> i64 {
        use tollgate::clock::Clock;
        self.clock.now().timestamp()
    }

    /// Waits until every meter event is delivered: checks after each round of the sender
    /// (it runs on each new event and on its retry timer), within a 60 s bound.
    pub async fn wait_for_meter_outbox_empty(&self) {
        let mut rounds = self.state.billing.meter_rounds();
        let wait = async {
            loop {
                rounds.borrow_and_update();
                if self
                    .state
                    .billing
                    .pending_meter_events()
                    .await
                    .expect("count")
                    == 0
                {
                    return;
                }
                rounds.changed().await.expect("the sender runs");
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), wait)
            .await
            .expect("meter events delivered within 60 s");
    }

    /// The tenant's Stripe webhook URL.
    pub fn webhook_url(&self, slug: &str) -> String {
        format!("{}/t/{slug}/webhooks/stripe", self.url)
    }

    /// Stops the server gracefully and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(dir) = self.scratch.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
