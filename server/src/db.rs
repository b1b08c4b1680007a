//! Connecting to the database (embedded SQLite or PostgreSQL) and applying migrations.

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use std::time::Duration;

/// Connects, creating the SQLite file's folder when needed. Start-up then takes the
/// [`StartupLock`] and applies the migrations with [`migrate`].
pub async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    if let Some(path) = sqlite_file(url)
        && let Some(parent) = std::path::Path::new(&path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            sea_orm::DbErr::Custom(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let mut options = pool_options(url, if url.contains(":memory:") { 1 } else { 16 });
    options
        // Set on every connection of the pool (a PRAGMA run once reaches only one of them):
        // WAL lets readers proceed while a write is in progress; the busy timeout makes
        // concurrent writers wait for each other instead of failing.
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    Database::connect(options).await
}

/// Applies pending migrations. Call it under the [`StartupLock`]: replicas that start together
/// would otherwise race to create the same tables.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    Migrator::up(db, None).await
}

/// Held while a process migrates and seeds the database, so that replicas starting at the same
/// moment take turns: the first applies the migrations, the others find nothing left to do. On
/// PostgreSQL a transaction on its own connection holds an advisory lock (the migrations run on
/// other connections of the pool); if the process dies, the connection closes and the lock
/// goes with it. SQLite is one process: nothing to hold.
pub struct StartupLock(Option<DatabaseTransaction>);

impl StartupLock {
    /// Waits for the lock.
    pub async fn acquire(db: &DatabaseConnection) -> Result<Self, sea_orm::DbErr> {
        if !is_shared(db) {
            return Ok(Self(None));
        }
        let txn = db.begin().await?;
        lock_key(&txn, "tollgate:startup").await?;
        Ok(Self(Some(txn)))
    }

    /// Lets the next process in.
    pub async fn release(self) -> Result<(), sea_orm::DbErr> {
        match self.0 {
            Some(txn) => txn.commit().await,
            None => Ok(()),
        }
    }
}

/// What both pools share: up to `max` connections, five seconds to connect or to wait for a
/// free connection, no statement logging.
fn pool_options(url: &str, max: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    options
}

/// The connection the rate-limit counters are written through. On SQLite, a small pool of its
/// own on the same file that does not wait for the disk at each commit (`synchronous=OFF`):
/// every request adds to a counter, the counters need no durability (a crash forgives a few
/// requests once), and a flush per request cost more than the rest of a cached tool call. On
/// PostgreSQL the table is `UNLOGGED` for the same reason, and this is the main pool.
pub async fn connect_counters(
    url: &str,
    main: &DatabaseConnection,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") {
        return Ok(main.clone());
    }
    let mut options = pool_options(url, 4);
    options.map_sqlx_sqlite_opts(|sqlite| {
        sqlite
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Off)
            .busy_timeout(Duration::from_secs(5))
    });
    Database::connect(options).await
}

/// Starts a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails with "database
/// is locked" at its first write when another connection wrote in between, and waiting cannot
/// help it, so the busy timeout does not apply. Taking the lock first makes concurrent writers
/// queue. On PostgreSQL it is a plain `BEGIN`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Whether this is PostgreSQL, where several processes share the database and coordinate
/// through it (SQLite is one process: its write lock and in-process locks are enough).
pub fn is_shared(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Serialises, across every process, the transactions that decide about one key (say a user's
/// uses of an offer): on PostgreSQL a transaction-scoped advisory lock, held until the
/// transaction ends (commit, rollback, or a dropped connection: a crash never leaves it held).
/// On SQLite nothing more is needed: `begin_write` already holds the one write lock.
pub async fn lock_key(txn: &DatabaseTransaction, key: &str) -> Result<(), sea_orm::DbErr> {
    if is_shared(txn) {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [advisory_id(key).into()],
        ))
        .await?;
    }
    Ok(())
}

/// The 64-bit advisory-lock id of a key: the first 8 bytes of its SHA-256. Distinct keys that
/// collide merely wait for each other.
fn advisory_id(key: &str) -> i64 {
    let hex = crate::crypto::hash_token(key);
    u64::from_str_radix(&hex[..16], 16).map_or(0, |v| i64::from_ne_bytes(v.to_ne_bytes()))
}

/// Whether the database answers.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

/// The file path of a `sqlite://path?…` URL, when it names a file.
fn sqlite_file(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_owned())
}
