//! Queries of the rate-limit counters (`rate_limit`): the atomic upsert that counts hits and
//! returns the new count, taking hits back, and the purge of passed windows.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use std::collections::HashMap;

/// One hit to count.
pub struct Hit {
    /// `scope:…:subject`.
    pub bucket: String,
    /// The window's start, unix seconds.
    pub window_start: i64,
    /// When the row stops mattering, unix seconds: the end of the window after this one (it
    /// is still the previous window then).
    pub expires_at: i64,
    /// How many hits to add (1, or more when a replica takes a lease: see `limit.rs`).
    pub amount: i64,
}

/// `$n` on PostgreSQL, `?` on SQLite.
fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// A bucket's hits in its current window (this one included) and in the one before.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    /// The current window's hits.
    pub current: i64,
    /// The previous window's hits.
    pub previous: i64,
}

/// Adds each row's amount to its counter (creating it at that amount) in one statement and
/// returns each bucket's counts after the addition. On PostgreSQL the conflicting row is locked for the
/// update, so concurrent statements add one after the other and each sees its own total.
pub async fn add_hits(
    db: &impl ConnectionTrait,
    hits: &[Hit],
) -> Result<HashMap<String, Counts>, DbErr> {
    let backend = db.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(hits.len() * 4);
    let mut rows = Vec::with_capacity(hits.len());
    for hit in hits {
        let n = values.len();
        rows.push(format!(
            "({}, {}, {}, {})",
            placeholder(backend, n + 1),
            placeholder(backend, n + 2),
            placeholder(backend, n + 3),
            placeholder(backend, n + 4)
        ));
        values.push(hit.bucket.clone().into());
        values.push(hit.window_start.into());
        values.push(hit.amount.into());
        values.push(hit.expires_at.into());
    }
    // The previous window's count comes back in the same statement: a row lives two windows
    // (`expires_at - window_start`), so the window's length is half of that.
    let sql = format!(
        "INSERT INTO rate_limit (bucket, window_start, hits, expires_at) VALUES {} \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limit.hits + excluded.hits \
         RETURNING bucket, hits, \
         (SELECT p.hits FROM rate_limit p WHERE p.bucket = rate_limit.bucket \
          AND p.window_start = rate_limit.window_start \
          - (rate_limit.expires_at - rate_limit.window_start) / 2) AS previous",
        rows.join(", ")
    );
    let answered = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    answered
        .iter()
        .map(|row| {
            let previous: Option<i64> = row.try_get("", "previous")?;
            Ok((
                row.try_get("", "bucket")?,
                Counts {
                    current: row.try_get("", "hits")?,
                    previous: previous.unwrap_or(0),
                },
            ))
        })
        .collect()
}

/// Takes `amount` hits back from a window's counter, never below zero.
pub async fn remove_hits(
    db: &impl ConnectionTrait,
    bucket: &str,
    window_start: i64,
    amount: i64,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "UPDATE rate_limit SET hits = CASE WHEN hits > {} THEN hits - {} ELSE 0 END \
         WHERE bucket = {} AND window_start = {} AND hits > 0",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3),
        placeholder(backend, 4),
    );
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [
            amount.into(),
            amount.into(),
            bucket.into(),
            window_start.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Deletes the counters that no longer matter at `now`.
pub async fn delete_expired(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "DELETE FROM rate_limit WHERE expires_at <= {}",
        placeholder(backend, 1)
    );
    let result = db
        .execute_raw(Statement::from_sql_and_values(backend, sql, [now.into()]))
        .await?;
    Ok(result.rows_affected())
}
