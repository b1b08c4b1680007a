//! Rate-limit counters shared by every replica: one row per (bucket, fixed window), added to by
//! an atomic upsert, and purged once the window has passed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RateLimit {
    Table,
    Bucket,
    WindowStart,
    Hits,
    ExpiresAt,
}

#[async_trait::async_trait]
#[expect(
    elided_lifetimes_in_paths,
    reason = "async_trait rejects an explicit '_ on SchemaManager here"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimit::Table)
                    .if_not_exists()
                    // `scope:tenant:subject`; long subjects are hashed, so this stays short.
                    .col(string_len(RateLimit::Bucket, 200))
                    // Unix seconds, a multiple of the window's length.
                    .col(big_integer(RateLimit::WindowStart))
                    .col(big_integer(RateLimit::Hits))
                    // Unix seconds after which the row counts for nothing (the purge's index).
                    .col(big_integer(RateLimit::ExpiresAt))
                    // The key the upsert conflicts on.
                    .primary_key(
                        Index::create()
                            .col(RateLimit::Bucket)
                            .col(RateLimit::WindowStart),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_expires_at")
                    .table(RateLimit::Table)
                    .col(RateLimit::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        // Counters need no durability: without the write-ahead log every request's upsert
        // costs no log flush. A crash empties the table, and a failover starts with empty
        // counters; both only forgive some requests once.
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE rate_limit SET UNLOGGED")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimit::Table).to_owned())
            .await
    }
}
