//! The purge job: deletes rows that no longer mean anything (expired authorization requests,
//! codes, tokens, operator sessions, passed rate-limit windows, and webhook event ids older than
//! the replay window), every `TOLLGATE_PURGE_INTERVAL_SECS`.
//!
//! It runs on every replica, with no lock: each delete removes rows past a cut-off and nothing
//! else, so two replicas purging at once delete each row once (the second finds it gone) and
//! nothing is lost. A lock would only save a few empty deletes.

mod store;

use crate::clock::Clock;
use crate::limit::RateLimiter;
use chrono::Duration;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How long expired codes and tokens are kept after they expire. A replayed code, or a reused
/// refresh token, revokes what was issued from it; kept a day past expiry, such a replay is
/// still recognised while anything issued from it may live.
pub const EXPIRED_CREDENTIAL_GRACE: Duration = Duration::days(1);

/// How long a processed webhook event id is kept. Stripe retries a delivery for up to 3 days,
/// and an operator can resend an event from Stripe's dashboard for as long as Stripe keeps it
/// (30 days): within 30 days every copy Stripe can still send is recognised as a duplicate.
pub const WEBHOOK_REPLAY_WINDOW: Duration = Duration::days(30);

/// What one purge deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Pending authorization requests.
    pub pending: u64,
    /// Authorization codes.
    pub codes: u64,
    /// Access and refresh tokens.
    pub tokens: u64,
    /// Operator sessions.
    pub sessions: u64,
    /// MCP sessions idle for longer than a session lives.
    pub mcp_sessions: u64,
    /// Rate-limit windows.
    pub rate_limits: u64,
    /// Processed webhook event ids.
    pub webhook_events: u64,
}

impl Purged {
    fn total(&self) -> u64 {
        self.pending
            + self.codes
            + self.tokens
            + self.sessions
            + self.mcp_sessions
            + self.rate_limits
            + self.webhook_events
    }
}

/// Deletes expired rows, now or periodically.
#[derive(Clone)]
pub struct Housekeeping {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    limits: RateLimiter,
}

impl Housekeeping {
    /// The job, on `db`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>, limits: RateLimiter) -> Self {
        Self { db, clock, limits }
    }

    /// Deletes every expired row once; safe to run at the same time on every replica.
    pub async fn purge(&self) -> Result<Purged, sea_orm::DbErr> {
        let now = self.clock.now();
        let credentials = now - EXPIRED_CREDENTIAL_GRACE;
        Ok(Purged {
            pending: store::delete_pending_expired(&self.db, now).await?,
            codes: store::delete_codes_expired(&self.db, credentials).await?,
            tokens: store::delete_tokens_expired(&self.db, credentials).await?,
            sessions: store::delete_sessions_expired(&self.db, now).await?,
            mcp_sessions: store::delete_mcp_sessions_idle(&self.db, now - crate::mcp::SESSION_IDLE)
                .await?,
            rate_limits: self.limits.purge_expired().await?,
            webhook_events: store::delete_events_received_before(
                &self.db,
                now - WEBHOOK_REPLAY_WINDOW,
            )
            .await?,
        })
    }

    /// Purges every `interval` (the first time one interval after start), until `shutdown`.
    pub fn spawn(
        &self,
        interval: std::time::Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let job = self.clone();
        // A purge cut short by shutdown loses nothing: each delete is its own statement.
        crate::clock::spawn_every(interval, shutdown, move || {
            let job = job.clone();
            async move {
                match job.purge().await {
                    Ok(purged) if purged.total() > 0 => {
                        tracing::info!(
                            purged.pending = purged.pending,
                            purged.codes = purged.codes,
                            purged.tokens = purged.tokens,
                            purged.sessions = purged.sessions,
                            purged.mcp_sessions = purged.mcp_sessions,
                            purged.rate_limits = purged.rate_limits,
                            purged.webhook_events = purged.webhook_events,
                            "purged expired rows"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "the purge of expired rows failed; it runs again at the next interval");
                    }
                }
            }
        })
    }
}
