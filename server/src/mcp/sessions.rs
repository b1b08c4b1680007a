//! Legacy (2025-era) MCP sessions, kept in the database rather than in a process: Tollgate
//! issues the `Mcp-Session-Id` itself and rmcp serves every request statelessly, so any
//! replica answers any request of a session. A session belongs to the user who opened it, or,
//! when opened anonymously, to the first user who signs in on it (once).
//!
//! Each process keeps the sessions it served lately in memory for a few seconds
//! (`REMEMBER_FOR`), so that a session's requests do not each read its row. What would make a
//! remembered session wrong reaches every process at once: closing it or binding it to a user
//! drops it here and, through `changes.rs`, at every other replica; the rest (idle expiry) is
//! checked against the remembered `last_seen_at`.

use super::store;
use crate::clock::Clock;
use crate::tenant::TenantId;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::Value;
use std::sync::Arc;
use uuid::Uuid;

/// A session unused for this long is closed.
pub const SESSION_IDLE: Duration = Duration::hours(8);

/// `last_seen_at` is written at most this often per session, not on every request.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// How long a process remembers a session's row. A notice lost between replicas (the
/// listener reconnecting) is covered by this.
const REMEMBER_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// A session's row, as remembered by this process.
#[derive(Clone, Debug)]
struct Remembered {
    tenant: TenantId,
    owner: Option<Uuid>,
    last_seen_at: DateTime<Utc>,
    info: SessionInfo,
}

/// How many open sessions one end user, and one client address, may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    pub per_user: u64,
    pub per_address: u64,
}

/// What a request in a session needs to know of it: what the client said at `initialize`.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The protocol version the session negotiated.
    pub protocol_version: String,
    /// Whether the client declared URL elicitation.
    pub url_elicitation: bool,
}

/// Why a session was not opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("too many open sessions; close one or retry in {retry_after_seconds} s")]
    TooMany { retry_after_seconds: u64 },
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("no randomness for a session id")]
    Random,
}

/// The sessions of every tenant.
#[derive(Clone)]
pub struct McpSessions {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    limits: SessionLimits,
    /// Sessions served lately, by id hash.
    remembered: moka::sync::Cache<String, Remembered>,
    changes: crate::changes::ChangePublisher,
}

impl McpSessions {
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>, limits: SessionLimits) -> Self {
        Self {
            changes: crate::changes::ChangePublisher::new(db.clone()),
            db,
            clock,
            limits,
            remembered: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(REMEMBER_FOR)
                .build(),
        }
    }

    /// Forgets a session another process closed or bound (`changes.rs`).
    pub fn forget(&self, id_hash: &str) {
        self.remembered.invalidate(id_hash);
    }

    /// Forgets every session (notices from other processes may have been missed).
    pub fn forget_all(&self) {
        self.remembered.invalidate_all();
    }

    /// Forgets a session here and at every other replica.
    async fn changed(&self, tenant: TenantId, id_hash: &str) {
        self.remembered.invalidate(id_hash);
        self.changes
            .publish(&crate::changes::Change::Session {
                tenant: tenant.0,
                id_hash: id_hash.to_owned(),
            })
            .await;
    }

    /// The session's row, from memory when served lately; `None` when unknown at this tenant.
    async fn find(
        &self,
        tenant: TenantId,
        hash: &str,
        idle_since: DateTime<Utc>,
    ) -> Result<Option<Remembered>, DbErr> {
        if let Some(remembered) = self.remembered.get(hash) {
            return Ok(
                (remembered.tenant == tenant && remembered.last_seen_at >= idle_since)
                    .then_some(remembered),
            );
        }
        let Some(session) = store::find_session(&self.db, tenant, hash, idle_since).await? else {
            return Ok(None);
        };
        let capabilities: Value =
            serde_json::from_str(&session.client_capabilities).unwrap_or_default();
        let remembered = Remembered {
            tenant,
            owner: session.end_user_id,
            last_seen_at: session.last_seen_at,
            info: SessionInfo {
                protocol_version: session.protocol_version,
                url_elicitation: capabilities["elicitation"].get("url").is_some(),
            },
        };
        self.remembered.insert(hash.to_owned(), remembered.clone());
        Ok(Some(remembered))
    }

    fn idle_since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - SESSION_IDLE
    }

    /// Opens a session after a successful `initialize` whose params are `params`; returns
    /// its id. The limits are checked under a lock per user and per address, so concurrent
    /// `initialize`s of one user on several replicas cannot overshoot them.
    pub async fn open(
        &self,
        tenant: TenantId,
        user: Option<Uuid>,
        address: &str,
        params: &Value,
    ) -> Result<String, SessionError> {
        let now = self.clock.now();
        let idle_since = self.idle_since(now);
        let txn = crate::db::begin_write(&self.db).await?;
        if let Some(user) = user {
            crate::db::lock_key(&txn, &format!("sessions:user:{tenant}:{user}")).await?;
            if store::count_user_sessions(&txn, tenant, user, idle_since).await?
                >= self.limits.per_user
            {
                return Err(SessionError::TooMany {
                    retry_after_seconds: 60,
                });
            }
        }
        crate::db::lock_key(&txn, &format!("sessions:address:{address}")).await?;
        if store::count_address_sessions(&txn, address, idle_since).await?
            >= self.limits.per_address
        {
            return Err(SessionError::TooMany {
                retry_after_seconds: 60,
            });
        }
        let id = crate::crypto::random_id("").map_err(|_| SessionError::Random)?;
        let version = params["protocolVersion"].as_str().unwrap_or("2025-03-26");
        let capabilities = params
            .get("capabilities")
            .cloned()
            .unwrap_or(Value::Object(serde_json::Map::new()));
        store::insert_session(
            &txn,
            tenant,
            &store::NewSession {
                id_hash: &crate::crypto::hash_token(&id),
                user,
                address,
                protocol_version: version,
                capabilities: &capabilities.to_string(),
            },
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(id)
    }

    /// The session `id` for a request by `user` (`None`: anonymous); `None` when the request
    /// may not use it: unknown, closed, idle too long, at another tenant, or someone else's.
    /// An anonymous session is bound to the first signed-in user who uses it.
    pub async fn check(
        &self,
        tenant: TenantId,
        id: &str,
        user: Option<Uuid>,
    ) -> Result<Option<SessionInfo>, DbErr> {
        let now = self.clock.now();
        let hash = crate::crypto::hash_token(id);
        let Some(session) = self.find(tenant, &hash, self.idle_since(now)).await? else {
            return Ok(None);
        };
        let allowed = match (session.owner, user) {
            (owner, caller) if owner == caller => true,
            (None, Some(caller)) => {
                // Anonymous until now: the first user to sign in on it takes it, once. A
                // concurrent binding by another user leaves this one out.
                let bound = store::bind_session(&self.db, tenant, &hash, caller).await?;
                if bound {
                    self.changed(tenant, &hash).await;
                } else {
                    self.remembered.invalidate(&hash);
                }
                bound
                    || self
                        .find(tenant, &hash, self.idle_since(now))
                        .await?
                        .is_some_and(|s| s.owner == Some(caller))
            }
            _ => false,
        };
        if !allowed {
            return Ok(None);
        }
        if session.last_seen_at < now - TOUCH_EVERY {
            store::touch_session(&self.db, tenant, &hash, now).await?;
            if let Some(mut remembered) = self.remembered.get(&hash) {
                remembered.last_seen_at = now;
                self.remembered.insert(hash.clone(), remembered);
            }
        }
        Ok(Some(session.info))
    }

    /// Closes the session (the client's `DELETE`); `check` must have allowed it.
    pub async fn close(&self, tenant: TenantId, id: &str) -> Result<bool, DbErr> {
        let hash = crate::crypto::hash_token(id);
        let closed = store::delete_session(&self.db, tenant, &hash).await?;
        self.changed(tenant, &hash).await;
        Ok(closed)
    }
}
