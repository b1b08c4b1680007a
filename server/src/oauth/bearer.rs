//! The bearer check the MCP endpoint runs on every request: an opaque token looked up by its
//! hash, and remembered by this process for a few seconds so that a client's calls do not each
//! read three rows.
//!
//! What would make a remembered token wrong reaches every process at once: a revocation (of
//! the token, its grant or its client) drops every remembered token here and, through
//! `changes.rs` (`Change::Tokens`), at every other replica; the rest (expiry, the tenant's
//! resource) is checked on every call against what is remembered. A lookup that raced with a
//! revocation is not kept: every revocation moves a counter, and a lookup that started before
//! the move drops what it stored.

use super::{BearerRejection, Caller, OAuthService, store};
use crate::crypto;
use crate::tenant::{Tenant, TenantId};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long a process remembers a token it looked up. Revocations are pushed to every
/// process; this bounds only a lost notice (and a listener that reconnects forgets them all).
const REMEMBER_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// A live access token as looked up.
struct Remembered {
    tenant: TenantId,
    expires_at: DateTime<Utc>,
    /// The resource its grant was issued for.
    resource: String,
    caller: Caller,
}

/// The access tokens this process looked up lately, by hash.
#[derive(Clone)]
pub(super) struct Bearers {
    remembered: moka::sync::Cache<String, Arc<Remembered>>,
    /// Moves on every revocation heard of (see the module comment).
    revocations: Arc<AtomicU64>,
}

impl Default for Bearers {
    fn default() -> Self {
        Self {
            remembered: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(REMEMBER_FOR)
                .build(),
            revocations: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Bearers {
    fn forget_all(&self) {
        self.revocations.fetch_add(1, Ordering::SeqCst);
        self.remembered.invalidate_all();
    }
}

impl OAuthService {
    /// The bearer check of the MCP endpoint: the token must be a live access token of this
    /// tenant, issued for exactly this tenant's resource.
    pub async fn authenticate_bearer(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<Caller, BearerRejection> {
        // An admin credential is never an MCP token: refused without a lookup.
        if token.starts_with(crypto::prefix::ADMIN_API)
            || token.starts_with(crypto::prefix::ADMIN_SESSION)
        {
            return Err(BearerRejection::InvalidToken);
        }
        let now = self.clock.now();
        let hash = crypto::hash_token(token);
        if let Some(remembered) = self.bearers.remembered.get(&hash)
            && remembered.tenant == tenant.id
        {
            return if remembered.expires_at > now && remembered.resource == self.resource(tenant) {
                Ok(remembered.caller.clone())
            } else {
                Err(BearerRejection::InvalidToken)
            };
        }
        let revocations = self.bearers.revocations.load(Ordering::SeqCst);
        let found = store::find_access(&self.db, tenant.id, &hash)
            .await
            .map_err(|error| {
                tracing::error!(%error, "bearer lookup failed");
                BearerRejection::Unavailable
            })?;
        let Some((token, grant, user)) = found else {
            return Err(BearerRejection::InvalidToken);
        };
        if token.expires_at <= now
            || token.revoked_at.is_some()
            || grant.revoked_at.is_some()
            || grant.resource != self.resource(tenant)
        {
            return Err(BearerRejection::InvalidToken);
        }
        let caller = Caller {
            user,
            client_id: grant.client_id,
        };
        self.bearers.remembered.insert(
            hash.clone(),
            Arc::new(Remembered {
                tenant: tenant.id,
                expires_at: token.expires_at,
                resource: grant.resource,
                caller: caller.clone(),
            }),
        );
        // A revocation heard of since the lookup began may have been missed by it.
        if self.bearers.revocations.load(Ordering::SeqCst) != revocations {
            self.bearers.remembered.invalidate(&hash);
        }
        Ok(caller)
    }

    /// Forgets every remembered token (a revocation at another process, or notices missed).
    pub fn forget_bearers(&self) {
        self.bearers.forget_all();
    }

    /// After a revocation at `tenant` is committed: forgets every remembered token here and at
    /// every other replica.
    pub(super) async fn tokens_revoked(&self, tenant: TenantId) {
        self.bearers.forget_all();
        self.changes
            .publish(&crate::changes::Change::Tokens { tenant: tenant.0 })
            .await;
    }
}
