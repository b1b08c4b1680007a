//! Building the application from its configuration, and serving it on a bound listener.

use crate::account::{AccountService, OperatorGitHub};
use crate::analytics::AnalyticsService;
use crate::billing::BillingService;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, DemoSeed};
use crate::crypto::MasterKey;
use crate::housekeeping::Housekeeping;
use crate::limit::RateLimiter;
use crate::mcp::McpEndpoints;
use crate::oauth::github::GitHubIdentity;
use crate::oauth::{GitHubApp, IdentitySettings, OAuthService};
use crate::ops::metrics::Metrics;
use crate::tenant::TenantService;
use crate::wordpress::{ClientSettings, HttpWordPressApi, WordPressApi};
use anyhow::Context;
use axum::serve::ListenerExt;
use sea_orm::DatabaseConnection;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What every request handler may use; one `Arc`, so cloning it per request costs one atomic
/// increment.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services behind [`AppState`].
pub struct Services {
    /// The configuration Tollgate started with.
    pub config: Arc<Config>,
    /// The database pool.
    pub db: DatabaseConnection,
    /// Tenants and their tools.
    pub tenants: TenantService,
    /// The WordPress.org API.
    pub wordpress: Arc<dyn WordPressApi>,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// The per-tenant MCP services.
    pub mcp: McpEndpoints,
    /// Each tenant's authorization server.
    pub oauth: OAuthService,
    /// Offers, payments, entitlements and metering.
    pub billing: BillingService,
    /// Call statistics and the dashboard's analytics.
    pub analytics: AnalyticsService,
    /// Operators: accounts, sessions, API tokens, roles, invitations, audit log.
    pub accounts: AccountService,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The rate limits, counted in the database so that every replica shares them.
    pub limits: RateLimiter,
    /// The purge of expired rows.
    pub housekeeping: Housekeeping,
    /// The master key (and the previous one during a rotation).
    pub master_key: Arc<MasterKey>,
}

impl Services {
    /// `tollgate keys rotate`: re-seals every stored secret under the current master key.
    pub async fn rotate_master_key(&self) -> Result<crate::keys::Rotation, crate::keys::KeyError> {
        crate::keys::rotate(&self.db, &self.tenants, &self.master_key, self.clock.now()).await
    }
}

/// A built application, ready to serve.
pub struct App {
    state: AppState,
    shutdown: CancellationToken,
}

impl App {
    /// Connects to the database, applies migrations, seeds the demo tenant when configured, and
    /// builds the upstream clients.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`App::build`] with a clock of the caller's choosing (tests move time).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let db = crate::db::connect(&config.database_url)
            .await
            .context("TOLLGATE_DATABASE_URL: cannot open the database")?;
        // Replicas starting together take turns to migrate and seed (released below).
        let startup = crate::db::StartupLock::acquire(&db)
            .await
            .context("cannot take the start-up lock in the database")?;
        crate::db::migrate(&db)
            .await
            .context("cannot apply the database migrations")?;
        let metrics = Metrics::new();
        let mut wordpress_settings = ClientSettings::new(config.wporg_api_url.clone());
        wordpress_settings.timeout = config.wporg_timeout;
        let wordpress = HttpWordPressApi::new(wordpress_settings, metrics.clone())
            .context("cannot build the WordPress.org client")?;
        let tenants = TenantService::new(db.clone(), clock.clone());
        let mut master_key = MasterKey::load_or_create(
            config.master_key.as_ref().map(|k| k.expose()),
            &config.data_dir,
        )?;
        if let Some(previous) = &config.master_key_previous {
            master_key = master_key.with_previous(previous.expose())?;
        }
        crate::keys::check_master_key(&db, &master_key, clock.now()).await?;
        let identity_http = crate::oauth::github::http_client()
            .context("cannot build the HTTP client for GitHub")?;
        let master_key = Arc::new(master_key);
        let billing = BillingService::new(
            db.clone(),
            clock.clone(),
            master_key.clone(),
            config.public_url.clone(),
            config
                .stripe_api_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            config.production,
        )
        .with_provider_deadline(config.provider_deadline);
        let released = billing.release_stale_reservations().await?;
        if released > 0 {
            tracing::warn!(
                released,
                "released tool-call reservations left by an earlier stop"
            );
        }
        let oauth = OAuthService::new(
            db.clone(),
            clock.clone(),
            master_key.clone(),
            config.public_url.clone(),
            IdentitySettings {
                github_app: config
                    .github_app
                    .clone()
                    .map(|(client_id, client_secret)| GitHubApp {
                        client_id,
                        client_secret,
                    }),
                github_url: config.github_url.as_str().trim_end_matches('/').to_owned(),
                github_api_url: config
                    .github_api_url
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
                production: config.production,
                metadata_documents: crate::oauth::FetchPolicy {
                    allow_insecure_loopback: config.cimd_insecure_loopback,
                },
            },
            identity_http.clone(),
        );
        if !config.production {
            tracing::warn!(
                "development mode is on: the demo tenant, the demo sign-in and the sandbox checkout are available; set TOLLGATE_MODE=production for real use"
            );
        }
        if config.github_app.is_none() && !config.production {
            tracing::warn!(
                "no GitHub app configured: MCP clients sign in with the local demo sign-in (development only)"
            );
        }
        if config.seed_demo != DemoSeed::Off && tenants.ensure_demo_tenant().await? {
            tracing::info!(
                tenant.slug = "demo",
                "created the demo tenant with the WordPress.org tools"
            );
            if config.seed_demo == DemoSeed::WithPaidTool {
                seed_demo_pricing(&tenants, &billing).await?;
            }
        }
        startup
            .release()
            .await
            .context("cannot release the start-up lock in the database")?;
        let operator_github = config
            .github_app
            .clone()
            .map(|(client_id, secret)| OperatorGitHub {
                provider: Arc::new(GitHubIdentity::new(
                    client_id,
                    secret,
                    config.github_url.as_str(),
                    config.github_api_url.as_str(),
                    identity_http.clone(),
                )),
                callback: format!(
                    "{}/api/v1/session/github/callback",
                    config.public_url.as_str().trim_end_matches('/')
                ),
            });
        let counters = crate::db::connect_counters(&config.database_url, &db)
            .await
            .context("TOLLGATE_DATABASE_URL: cannot open the database for the rate limits")?;
        let limits = RateLimiter::new(counters, clock.clone(), config.limits.clone());
        let accounts = AccountService::new(
            db.clone(),
            clock.clone(),
            master_key.clone(),
            operator_github,
            config.setup_token.clone(),
            limits.clone(),
        );
        let shutdown = CancellationToken::new();
        let mcp_sessions =
            crate::mcp::McpSessions::new(db.clone(), clock.clone(), config.max_sessions);
        let state = AppState(Arc::new(Services {
            master_key,
            accounts,
            analytics: AnalyticsService::new(db.clone(), clock.clone()),
            oauth,
            billing,
            housekeeping: Housekeeping::new(db.clone(), clock.clone(), limits.clone()),
            clock,
            limits,
            mcp: McpEndpoints::new(config.max_body_bytes, shutdown.clone(), mcp_sessions),
            config: Arc::new(config),
            db,
            tenants,
            wordpress: Arc::new(wordpress),
            metrics,
        }));
        Ok(Self { state, shutdown })
    }

    /// The shared state, for start-up tasks and tests that act as an operator would.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops, once cancelled, the work `serve` runs beside the requests (the meter sender,
    /// the flushers, the change listener, housekeeping) where it stands, without the graceful
    /// stop's last writes: what a crash does to it, for tests that crash a replica.
    pub fn background_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves on `listener` until `shutdown` resolves, then lets in-flight requests finish
    /// and ends open MCP sessions and streams.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = crate::router::build(self.state.clone());
        let token = self.shutdown.clone();
        let meter = self
            .state
            .billing
            .spawn_meter_sender(self.state.tenants.clone(), self.shutdown.clone());
        let statistics = self.state.analytics.spawn_flusher(self.shutdown.clone());
        let purge = self
            .state
            .housekeeping
            .spawn(self.state.config.purge_interval, self.shutdown.clone());
        let reconciler = self.state.config.reconcile_interval.map(|interval| {
            self.state.billing.spawn_reconciler(
                self.state.tenants.clone(),
                interval,
                self.shutdown.clone(),
            )
        });
        let changes = crate::changes::spawn_listener(
            &self.state.config.database_url,
            CacheSink(self.state.clone()),
            self.shutdown.clone(),
        );
        // Without TCP_NODELAY a response written in more than one piece (a session's SSE
        // answer: headers, then the event) waits for the client's delayed ACK, about 40 ms
        // per call on a kept-alive connection (issue 11). Every accepted connection gets it.
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::warn!(%error, "could not set TCP_NODELAY on an accepted connection");
            }
        });
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            token.cancel();
        })
        .await?;
        self.shutdown.cancel();
        let _ = meter.await;
        let _ = statistics.await;
        let _ = purge.await;
        if let Some(reconciler) = reconciler {
            let _ = reconciler.await;
        }
        let _ = changes.await;
        // Every request has finished: the last calls' usage rows and counters are saved now.
        self.state.billing.flush_usage().await;
        if let Err(error) = self.state.analytics.flush().await {
            tracing::error!(%error, "could not save the last call counters");
        }
        Ok(())
    }
}

/// The caches a change notification from another replica reaches.
struct CacheSink(AppState);

impl crate::changes::ChangeSink for CacheSink {
    async fn apply(&self, change: crate::changes::Change) {
        match change {
            crate::changes::Change::Tenant { slug } => self.0.tenants.forget_snapshot(&slug).await,
            crate::changes::Change::Offers { tenant } => {
                self.0
                    .billing
                    .forget_offers(crate::tenant::TenantId(tenant))
                    .await;
            }
            crate::changes::Change::Session { id_hash, .. } => {
                self.0.mcp.sessions.forget(&id_hash);
            }
            crate::changes::Change::Tokens { .. } => self.0.oauth.forget_bearers(),
            crate::changes::Change::Entitlements { tenant } => {
                self.0
                    .billing
                    .forget_entitlements(crate::tenant::TenantId(tenant));
            }
        }
    }

    async fn apply_all(&self) {
        self.0.tenants.forget_all_snapshots();
        self.0.billing.forget_all_offers();
        self.0.mcp.sessions.forget_all();
        self.0.oauth.forget_bearers();
        self.0.billing.forget_all_entitlements();
    }
}

/// Prices one demo tool on the sandbox so the run command shows the whole paid flow: plugin
/// download history costs $5.00 for 100 calls, after 3 free calls a month.
async fn seed_demo_pricing(
    tenants: &TenantService,
    billing: &BillingService,
) -> anyhow::Result<()> {
    let demo = tenants.get_tenant_by_slug("demo").await?;
    let offer = billing
        .create_offer(
            demo.id,
            crate::billing::NewOffer {
                name: "Download statistics".into(),
                kind: crate::billing::OfferKind::OneTime,
                price_id: "sandbox_price_downloads".into(),
                amount: 500,
                currency: "usd".into(),
                interval: None,
                calls: Some(100),
                meter_event: None,
                meter_value: None,
                free_quota: Some(3),
                spend_cap: None,
                payment_reason: Some("Download history is a paid feature of this demo".into()),
                success_url: None,
                past_due_grace_days: None,
            },
        )
        .await?;
    let tools = tenants.list_tools(demo.id).await?;
    if let Some(tool) = tools
        .iter()
        .find(|t| t.operation == crate::wordpress::Operation::PluginDownloads)
    {
        billing
            .price_tool(tenants, demo.id, tool.id, Some(offer.id))
            .await?;
    }
    Ok(())
}
