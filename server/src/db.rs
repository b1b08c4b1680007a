//! Connecting to the database (embedded SQLite or PostgreSQL) and applying migrations.

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use std::time::Duration;

/// Connects, creating the SQLite file's folder when needed, and applies pending migrations.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    if let Some(path) = sqlite_file(url)
        && let Some(parent) = std::path::Path::new(&path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            sea_orm::DbErr::Custom(format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if url.contains(":memory:") { 1 } else { 16 })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        // Set on every connection of the pool (a PRAGMA run once reaches only one of them):
        // WAL lets readers proceed while a write is in progress; the busy timeout makes
        // concurrent writers wait for each other instead of failing.
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    let db = Database::connect(options).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
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
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(4)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|sqlite| {
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
