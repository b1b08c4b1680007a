//! Configuration changes reach every replica at once: a write publishes what changed with
//! PostgreSQL `NOTIFY`, and every process `LISTEN`s and drops the cache entries it names. The
//! caches' TTL stays as the fallback when a notification is lost (a listener reconnecting
//! also drops everything). On SQLite (one process) the writer's own invalidation is enough and
//! nothing is published.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// The PostgreSQL channel of the notifications.
pub const CHANNEL: &str = "tollgate_changes";

/// What changed, at which tenant: the payload of one notification (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Change {
    /// The tenant's configuration (settings, tools, names, Stripe or GitHub connection, the
    /// tenant itself): its snapshot is stale.
    Tenant { slug: String },
    /// The tenant's offers (prices, plans): its offer list is stale.
    Offers { tenant: uuid::Uuid },
    /// A legacy MCP session was closed or bound to a user: what a process remembers of it is
    /// stale. Named by the hash of its id, as stored.
    Session { tenant: uuid::Uuid, id_hash: String },
    /// An access token, a grant or a client of the tenant was revoked: every access token a
    /// process remembers is stale.
    Tokens { tenant: uuid::Uuid },
    /// An entitlement of the tenant was granted, changed or given a call back: what a process
    /// remembers of the tenant's entitlements is stale.
    Entitlements { tenant: uuid::Uuid },
}

/// Publishes changes to the other processes.
#[derive(Clone)]
pub struct ChangePublisher {
    db: DatabaseConnection,
}

impl ChangePublisher {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Tells every process (itself included) that `change` happened. A failure is logged, not
    /// returned: the write is done, and the other processes' TTL covers a lost notice.
    pub async fn publish(&self, change: &Change) {
        if !crate::db::is_shared(&self.db) {
            return;
        }
        let Ok(payload) = serde_json::to_string(change) else {
            return;
        };
        let sent = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            ))
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, ?change, "could not notify the other replicas of a change; they see it within the cache TTL");
        }
    }
}

/// What a listener does with what it hears.
pub trait ChangeSink: Send + Sync + 'static {
    /// Drops what `change` makes stale.
    fn apply(&self, change: Change) -> impl std::future::Future<Output = ()> + Send;
    /// Drops everything: notifications may have been missed.
    fn apply_all(&self) -> impl std::future::Future<Output = ()> + Send;
}

/// Listens on PostgreSQL until `shutdown`, applying each change to `sink`. Does nothing on
/// SQLite.
pub fn spawn_listener(
    database_url: &str,
    sink: impl ChangeSink,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let url = database_url.to_owned();
    tokio::spawn(async move {
        if !url.starts_with("postgres") {
            return;
        }
        tokio::select! {
            () = listen(&url, &sink) => {}
            () = shutdown.cancelled() => {}
        }
    })
}

async fn listen(url: &str, sink: &impl ChangeSink) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect(url).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for changes; retrying in 1 s");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "cannot listen for changes; retrying in 1 s");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        // Anything published before this point may have been missed.
        sink.apply_all().await;
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    match serde_json::from_str::<Change>(notification.payload()) {
                        Ok(change) => sink.apply(change).await,
                        Err(error) => {
                            tracing::warn!(%error, "unreadable change notification: dropping every cache");
                            sink.apply_all().await;
                        }
                    }
                }
                // The connection dropped; the listener reconnects on the next call and
                // whatever was published meanwhile is lost.
                Ok(None) => sink.apply_all().await,
                Err(error) => {
                    tracing::warn!(%error, "change listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_names_the_tenant_and_what_changed() {
        let change = Change::Offers {
            tenant: uuid::Uuid::nil(),
        };
        let text = serde_json::to_string(&change).expect("json");
        assert_eq!(
            text,
            r#"{"what":"offers","tenant":"00000000-0000-0000-0000-000000000000"}"#
        );
        assert_eq!(serde_json::from_str::<Change>(&text).expect("back"), change);
    }
}
