//! Tenants and the tools each one offers: validated names, the store, and a cached directory.

mod store;

use crate::account::{AuditNote, write_audit};
use crate::wordpress::Operation;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A tenant's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantId(pub Uuid);

/// A tool row's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ToolId(pub Uuid);

/// An offer's id (a plan a tenant sells). Offers belong to billing; the id is defined here, with
/// the tool configuration whose pricing names it, so that the tenant feature depends on no
/// billing type (`billing::OfferId` is this type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OfferId(pub Uuid);

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for ToolId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A name checked by one of `api_types::validate`'s rules (the rules the dashboard checks
/// too): `parse` validates, `as_str` and `Display` give the text back.
macro_rules! validated_name {
    ($(#[$doc:meta])* $name:ident, $rule:ident, $error:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
        pub struct $name(String);

        impl $name {
            /// Validates the text (`api_types::validate`), or says what is wrong with it.
            pub fn parse(raw: &str) -> Result<Self, TenantError> {
                api_types::validate::$rule(raw).map_err(TenantError::$error)?;
                Ok(Self(raw.to_owned()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

validated_name!(
    /// A tenant's URL slug: 2–63 characters of `a-z`, `0-9` and `-`, starting with a letter and
    /// not ending with `-`.
    TenantSlug,
    slug,
    InvalidSlug
);

validated_name!(
    /// A tool's exposed name: 1–64 characters of `A-Za-z0-9_.-` (what MCP clients and the
    /// conformance suite accept).
    ToolName,
    tool_name,
    InvalidToolName
);

/// Per-tenant settings, stored as JSON so new settings need no migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// Whether free tools may be called without signing in (paid tools always need it).
    pub anonymous_free_tools: bool,
    /// The tenant's own GitHub OAuth app, overriding the platform's.
    pub github_app: Option<TenantGitHubApp>,
    /// The tenant's Stripe connection; without it payments go through the sandbox.
    pub stripe: Option<StripeConnection>,
    /// Whether `billing_status`, `billing_portal` and `list_plans` are offered when the tenant
    /// has paid tools.
    pub billing_tools: bool,
    /// Whether a double payment (a second paid checkout for a plan the user already holds
    /// untouched) is refunded at the provider automatically; off, it is only flagged.
    pub refund_duplicate_payments: bool,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            anonymous_free_tools: true,
            github_app: None,
            stripe: None,
            billing_tools: true,
            refund_duplicate_payments: false,
        }
    }
}

/// A tenant's own GitHub OAuth app; the secret is sealed under the master key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantGitHubApp {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret, sealed (never stored in clear).
    pub client_secret_sealed: String,
}

/// A tenant's Stripe connection; the secrets are sealed under the master key. Held here, with
/// the other sealed credentials of the settings, so that the tenant feature names no billing
/// type (billing reads it, and `keys.rs` reseals it with billing's seal contexts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripeConnection {
    /// The secret key, sealed.
    pub secret_key_sealed: String,
    /// The webhook signing secrets, sealed (several during a roll).
    pub webhook_secrets_sealed: Vec<String>,
    /// `sk_test_…1234`: what the dashboard may show.
    pub key_hint: String,
}

/// A tenant as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Its URL slug.
    pub slug: TenantSlug,
    /// Its display name.
    pub name: String,
    /// Its settings.
    pub settings: TenantSettings,
    /// Bumped by every configuration change.
    pub config_version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One tool a tenant offers, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolConfig {
    /// Its id.
    pub id: ToolId,
    /// The catalog operation it runs.
    pub operation: Operation,
    /// The name clients see.
    pub name: ToolName,
    /// A title overriding the catalog's.
    pub title: Option<String>,
    /// A description overriding the catalog's.
    pub description: Option<String>,
    /// Whether clients see it.
    pub enabled: bool,
    /// Its place in `tools/list` (ties broken by name).
    pub position: i32,
    /// The offer that prices it; `None` for a free tool. `billing::offer_of` finds the offer.
    pub pricing: Option<OfferId>,
}

impl ToolConfig {
    /// The title clients see.
    pub fn effective_title(&self) -> &str {
        self.title.as_deref().unwrap_or(self.operation.title())
    }

    /// The description clients see.
    pub fn effective_description(&self) -> &str {
        self.description
            .as_deref()
            .unwrap_or(self.operation.description())
    }
}

/// A change to a tool's configuration; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ToolPatch {
    /// A new exposed name.
    pub name: Option<ToolName>,
    /// A new title (`Some(None)` clears the override).
    pub title: Option<Option<String>>,
    /// A new description (`Some(None)` clears the override).
    pub description: Option<Option<String>>,
    /// Turn on or off.
    pub enabled: Option<bool>,
    /// A new position.
    pub position: Option<i32>,
    /// A new pricing (`Some(None)` makes the tool free); the caller checks that the offer
    /// exists.
    pub pricing: Option<Option<OfferId>>,
}

/// What can go wrong with tenants and tools.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The slug is malformed or reserved.
    #[error("{0}")]
    InvalidSlug(String),
    /// The tool name is malformed.
    #[error("{0}")]
    InvalidToolName(String),
    /// A display name, title or description is empty or too long.
    #[error("{0}")]
    InvalidText(String),
    /// No such tenant (or it belongs to someone else).
    #[error("tenant not found")]
    TenantNotFound,
    /// No such tool in this tenant.
    #[error("tool not found")]
    ToolNotFound,
    /// The slug is taken.
    #[error("a tenant with slug {0:?} already exists")]
    SlugTaken(String),
    /// The slug belonged to a tenant deleted less than [`SLUG_RETIREMENT`] ago.
    #[error(
        "the slug {slug:?} belonged to a tenant that was deleted recently; it can be used again from {}",
        free_from.format("%Y-%m-%d %H:%M UTC")
    )]
    SlugRetired {
        /// The slug asked for.
        slug: String,
        /// When it is free again.
        free_from: DateTime<Utc>,
    },
    /// The tenant existed and was deleted (its URLs answer 410 Gone).
    #[error("this tenant was deleted")]
    TenantGone,
    /// The tenant already has a tool with this name.
    #[error("this tenant already has a tool named {0:?}")]
    ToolNameTaken(String),
    /// A new tool order does not list every tool of the tenant exactly once.
    #[error("{0}")]
    InvalidOrder(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// How long the slug of a deleted tenant stays retired: its URLs answer 410 Gone, and no new
/// tenant may take it, so a client or a Stripe webhook still pointing at the old tenant never
/// reaches a stranger. After that a new tenant may take it (the old row is then purged).
pub const SLUG_RETIREMENT: chrono::Duration = chrono::Duration::days(30);

/// What is served at a slug.
#[derive(Debug)]
pub enum Served {
    /// A live tenant.
    Live(Arc<TenantSnapshot>),
    /// A tenant that was deleted (and whose slug is not taken by a new one).
    Gone,
    /// Nothing, ever (or not any more: a slug freed after its retirement).
    Missing,
}

/// A tenant with its enabled tools in `tools/list` order: what the MCP endpoint serves.
#[derive(Debug)]
pub struct TenantSnapshot {
    /// The tenant.
    pub tenant: Tenant,
    /// Its enabled tools, ordered by position then name.
    pub tools: Vec<ToolConfig>,
}

impl TenantSnapshot {
    /// The enabled tool with this exposed name.
    pub fn tool(&self, name: &str) -> Option<&ToolConfig> {
        self.tools.iter().find(|t| t.name.as_str() == name)
    }
}

/// Tenants and their tools, with an in-memory cache of what the MCP endpoint serves.
///
/// Every write made through this service invalidates the cache entry of the tenant it touched,
/// so a change is served at once by this process, and notifies the other processes (replicas
/// on one PostgreSQL, `crate::changes`), which drop theirs; a lost notice is covered by
/// [`SNAPSHOT_TTL`].
#[derive(Clone)]
pub struct TenantService {
    db: DatabaseConnection,
    snapshots: moka::future::Cache<String, Arc<Served>>,
    changes: crate::changes::ChangePublisher,
    clock: Arc<dyn crate::clock::Clock>,
    /// Announces, in this process, that a tenant's configuration changed (for the MCP streams
    /// that tell clients their tool list changed).
    announcements: tokio::sync::broadcast::Sender<ConfigChanged>,
}

/// A tenant's configuration changed in this process's view: its own write, or (PostgreSQL) any
/// replica's write it heard of. Its tool list may have changed with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigChanged {
    /// The tenant served at this slug.
    Tenant(String),
    /// Possibly any tenant: notifications between replicas may have been missed.
    Any,
}

/// How long a cached tenant snapshot is trusted without re-reading the database.
pub const SNAPSHOT_TTL: Duration = Duration::from_secs(5);

impl TenantService {
    /// A service over this database.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn crate::clock::Clock>) -> Self {
        Self {
            clock,
            changes: crate::changes::ChangePublisher::new(db.clone()),
            db,
            snapshots: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(SNAPSHOT_TTL)
                .build(),
            announcements: tokio::sync::broadcast::channel(1024).0,
        }
    }

    /// Every configuration change from now on (see [`ConfigChanged`]). A receiver that falls
    /// behind gets `Lagged` and should treat it as [`ConfigChanged::Any`].
    pub fn watch_changes(&self) -> tokio::sync::broadcast::Receiver<ConfigChanged> {
        self.announcements.subscribe()
    }

    /// Tells everyone watching the tenant (on every replica) that its configuration changed,
    /// without changing it: what the diagnostics pack's `test_trigger_tool_change` does.
    pub async fn announce_change(&self, slug: &TenantSlug) {
        self.invalidate(slug).await;
    }

    fn announce(&self, change: ConfigChanged) {
        // No receiver is the normal case (nobody listening), not an error.
        let _ = self.announcements.send(change);
    }

    /// What the MCP endpoint of `slug` serves, or `None` when there is no such tenant (or it
    /// was deleted: [`served`](Self::served) tells the two apart).
    pub async fn snapshot(&self, slug: &str) -> Result<Option<Arc<TenantSnapshot>>, TenantError> {
        Ok(match &*self.served(slug).await? {
            Served::Live(snapshot) => Some(snapshot.clone()),
            Served::Gone | Served::Missing => None,
        })
    }

    /// What is served at `slug`: a live tenant's snapshot, a deleted tenant, or nothing.
    pub async fn served(&self, slug: &str) -> Result<Arc<Served>, TenantError> {
        let db = self.db.clone();
        let key = slug.to_owned();
        self.snapshots
            .try_get_with(key.clone(), async move {
                let Ok(slug) = TenantSlug::parse(&key) else {
                    return Ok(Arc::new(Served::Missing));
                };
                let Some(tenant) = store::find_tenant_by_slug(&db, &slug).await? else {
                    let gone = store::find_deletion_by_slug(&db, &slug).await?.is_some();
                    return Ok(Arc::new(if gone { Served::Gone } else { Served::Missing }));
                };
                let tools = store::list_tools(&db, tenant.id)
                    .await?
                    .into_iter()
                    .filter(|t| t.enabled)
                    .collect();
                Ok::<_, sea_orm::DbErr>(Arc::new(Served::Live(Arc::new(TenantSnapshot {
                    tenant,
                    tools,
                }))))
            })
            .await
            .map_err(|e: Arc<sea_orm::DbErr>| TenantError::Database((*e).clone()))
    }

    /// Drops the tenant's snapshot here, and tells the other replicas to drop theirs.
    async fn invalidate(&self, slug: &TenantSlug) {
        self.snapshots.invalidate(slug.as_str()).await;
        // On PostgreSQL every replica, this one included, hears the notification published
        // below and announces it in `forget_snapshot`; on SQLite there is only this process.
        if !crate::db::is_shared(&self.db) {
            self.announce(ConfigChanged::Tenant(slug.as_str().to_owned()));
        }
        self.changes
            .publish(&crate::changes::Change::Tenant {
                slug: slug.as_str().to_owned(),
            })
            .await;
    }

    /// Drops the cached snapshot of `slug` (another replica changed it).
    pub async fn forget_snapshot(&self, slug: &str) {
        self.snapshots.invalidate(slug).await;
        self.announce(ConfigChanged::Tenant(slug.to_owned()));
    }

    /// Drops every cached snapshot (change notifications may have been missed).
    pub fn forget_all_snapshots(&self) {
        self.snapshots.invalidate_all();
        self.announce(ConfigChanged::Any);
    }

    /// Creates a tenant with no tools.
    pub async fn create_tenant(&self, slug: &str, name: &str) -> Result<Tenant, TenantError> {
        let slug = TenantSlug::parse(slug)?;
        let name = check_text("name", name, 200)?;
        let tenant = store::insert_tenant(
            &self.db,
            &slug,
            &name,
            &TenantSettings::default(),
            self.clock.now(),
        )
        .await?;
        self.invalidate(&slug).await;
        Ok(tenant)
    }

    /// The live tenant with this slug; [`TenantError::TenantGone`] when the tenant that had it
    /// was deleted (and its row is still kept).
    pub async fn get_tenant_by_slug(&self, slug: &str) -> Result<Tenant, TenantError> {
        let slug = TenantSlug::parse(slug).map_err(|_| TenantError::TenantNotFound)?;
        if let Some(tenant) = store::find_tenant_by_slug(&self.db, &slug).await? {
            return Ok(tenant);
        }
        match store::find_deletion_by_slug(&self.db, &slug).await? {
            Some(_) => Err(TenantError::TenantGone),
            None => Err(TenantError::TenantNotFound),
        }
    }

    /// Every live tenant's id (for work over all tenants, such as re-sealing secrets).
    pub async fn list_tenant_ids(&self) -> Result<Vec<TenantId>, TenantError> {
        Ok(store::list_tenant_ids(&self.db).await?)
    }

    /// Changes a tenant's settings.
    pub async fn update_settings(
        &self,
        tenant: TenantId,
        settings: &TenantSettings,
    ) -> Result<Tenant, TenantError> {
        let tenant =
            store::update_tenant_settings(&self.db, tenant, settings, self.clock.now()).await?;
        self.invalidate(&tenant.slug).await;
        Ok(tenant)
    }

    /// Renames a tenant (1-200 characters, like [`create_tenant`](Self::create_tenant)).
    pub async fn rename_tenant(&self, tenant: TenantId, name: &str) -> Result<Tenant, TenantError> {
        let name = check_text("name", name, 200)?;
        let tenant = store::update_tenant_name(&self.db, tenant, &name, self.clock.now()).await?;
        self.invalidate(&tenant.slug).await;
        Ok(tenant)
    }

    /// Deletes a tenant: every row it owns goes, in one transaction (the list of tables is
    /// `tenant::store::TENANT_TABLES`), and the tenant row stays, marked deleted, with its
    /// settings (and the secrets sealed in them) emptied. Its URLs answer 410 Gone at once in
    /// this process and, through the change notice, in every replica; its slug is refused to
    /// new tenants for [`SLUG_RETIREMENT`]. Its audit log stays (append-only).
    ///
    /// Billing keeps a short cache of the tenant's offers: callers also call
    /// [`BillingService::forget_tenant`](crate::billing::BillingService::forget_tenant).
    pub async fn delete_tenant(&self, tenant: TenantId) -> Result<(), TenantError> {
        let slug = store::delete_tenant(&self.db, tenant, self.clock.now()).await?;
        self.invalidate(&slug).await;
        tracing::info!(tenant.id = %tenant, tenant.slug = %slug, "tenant deleted");
        Ok(())
    }

    /// The live tenant with this id (a deleted one is [`TenantError::TenantNotFound`]).
    pub async fn get_tenant_by_id(&self, tenant: TenantId) -> Result<Tenant, TenantError> {
        store::find_tenant_by_id(&self.db, tenant)
            .await?
            .ok_or(TenantError::TenantNotFound)
    }

    /// Prices a tool with an offer, or makes it free with `None` (billing checks the offer
    /// exists: `BillingService::price_tool`).
    pub async fn set_tool_pricing(
        &self,
        tenant: TenantId,
        tool: ToolId,
        pricing: Option<OfferId>,
    ) -> Result<ToolConfig, TenantError> {
        let updated =
            store::set_tool_pricing(&self.db, tenant, tool, pricing, self.clock.now()).await?;
        self.tools_changed(tenant).await?;
        Ok(updated)
    }

    /// Bumps the tenant's configuration version and drops its cached tools on every replica.
    async fn tools_changed(&self, tenant: TenantId) -> Result<(), TenantError> {
        let slug = store::bump_config_version(&self.db, tenant, self.clock.now()).await?;
        self.invalidate(&slug).await;
        Ok(())
    }

    /// Every tool of a tenant, enabled or not, in `tools/list` order.
    pub async fn list_tools(&self, tenant: TenantId) -> Result<Vec<ToolConfig>, TenantError> {
        Ok(store::list_tools(&self.db, tenant).await?)
    }

    /// Adds every catalog operation the tenant does not offer yet, under its default name, after
    /// the tenant's existing tools.
    pub async fn install_wordpress_pack(&self, tenant: TenantId) -> Result<usize, TenantError> {
        let existing = store::list_tools(&self.db, tenant).await?;
        let mut position = existing.iter().map(|t| t.position).max().unwrap_or(-1);
        let mut added = 0;
        for operation in Operation::ALL {
            if existing.iter().any(|t| t.operation == operation) {
                continue;
            }
            position += 1;
            let name = ToolName::parse(operation.default_name())?;
            store::insert_tool(
                &self.db,
                tenant,
                operation,
                &name,
                position,
                self.clock.now(),
            )
            .await?;
            added += 1;
        }
        self.tools_changed(tenant).await?;
        Ok(added)
    }

    /// Adds one tool running `operation` under `name`, at the end of the list.
    pub async fn add_tool(
        &self,
        tenant: TenantId,
        operation: Operation,
        name: &str,
    ) -> Result<ToolConfig, TenantError> {
        let name = ToolName::parse(name)?;
        let position = store::list_tools(&self.db, tenant)
            .await?
            .iter()
            .map(|t| t.position + 1)
            .max()
            .unwrap_or(0);
        let tool = store::insert_tool(
            &self.db,
            tenant,
            operation,
            &name,
            position,
            self.clock.now(),
        )
        .await?;
        self.tools_changed(tenant).await?;
        Ok(tool)
    }

    /// Changes one tool of a tenant (its texts, name, switch, position and pricing) in one
    /// transaction, together with the audit entry that records it, when there is one (its
    /// target is the tool's name after the change). A tool of another tenant is
    /// [`TenantError::ToolNotFound`], and then nothing changes.
    pub async fn update_tool(
        &self,
        tenant: TenantId,
        tool: ToolId,
        patch: ToolPatch,
        audit: Option<&AuditNote>,
    ) -> Result<ToolConfig, TenantError> {
        let patch = ToolPatch {
            title: patch
                .title
                .map(|t| t.map(|t| check_text("title", &t, 200)).transpose())
                .transpose()?,
            description: patch
                .description
                .map(|d| d.map(|d| check_text("description", &d, 4000)).transpose())
                .transpose()?,
            ..patch
        };
        let now = self.clock.now();
        let txn = crate::db::begin_write(&self.db).await?;
        let mut updated = store::update_tool(&txn, tenant, tool, &patch, now).await?;
        if let Some(pricing) = patch.pricing {
            updated = store::set_tool_pricing(&txn, tenant, tool, pricing, now).await?;
        }
        if let Some(note) = audit {
            write_audit(&txn, Some(tenant), note, updated.name.as_str(), now).await?;
        }
        let slug = store::bump_config_version(&txn, tenant, now).await?;
        txn.commit().await?;
        self.invalidate(&slug).await;
        Ok(updated)
    }

    /// Puts the tenant's tools in this order (positions 0..n), in one transaction. `ids` must
    /// list every tool of the tenant exactly once ([`TenantError::InvalidOrder`]); an id that is
    /// not a tool of this tenant is [`TenantError::ToolNotFound`]. Either way nothing changes.
    /// Returns every tool in the new order.
    pub async fn reorder_tools(
        &self,
        tenant: TenantId,
        ids: &[ToolId],
    ) -> Result<Vec<ToolConfig>, TenantError> {
        let (slug, tools) = store::reorder_tools(&self.db, tenant, ids, self.clock.now()).await?;
        self.invalidate(&slug).await;
        Ok(tools)
    }

    /// Creates the `demo` tenant with the whole WordPress.org pack, unless it exists or was
    /// deleted (an operator who deleted it does not get it back at the next start).
    /// Returns whether it was created.
    pub async fn ensure_demo_tenant(&self) -> Result<bool, TenantError> {
        let slug = TenantSlug::parse("demo")?;
        if store::find_tenant_by_slug(&self.db, &slug).await?.is_some()
            || store::find_deletion_by_slug(&self.db, &slug)
                .await?
                .is_some()
        {
            return Ok(false);
        }
        let tenant = match self.create_tenant("demo", "Tollgate demo").await {
            Ok(tenant) => tenant,
            // Another instance seeded it at the same moment.
            Err(TenantError::SlugTaken(_) | TenantError::SlugRetired { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        self.install_wordpress_pack(tenant.id).await?;
        Ok(true)
    }
}

fn check_text(field: &str, value: &str, max: usize) -> Result<String, TenantError> {
    api_types::validate::text(field, value, max).map_err(TenantError::InvalidText)?;
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_follow_the_mcp_character_set() {
        for ok in ["a", "wporg_query_themes", "A.b-c_9", &"x".repeat(64)] {
            assert!(ToolName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "slash/", "ümlaut", &"x".repeat(65)] {
            assert!(ToolName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_are_lowercase_and_not_reserved() {
        for ok in ["demo", "acme-co", "a1"] {
            assert!(TenantSlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "Demo",
            "-x",
            "x-",
            "1abc",
            "admin",
            "a_b",
            &"a".repeat(64),
        ] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
