//! Meter events the provider refused, or whose time it would refuse, are set aside as `failed`
//! with the moment they were set aside (`failed_at`), for the operator's list. Rows set aside
//! by earlier versions as `dead` (too old) become `failed` too.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MeterOutbox {
    Table,
    Status,
    FailedAt,
    NextAttemptAt,
}

#[async_trait::async_trait]
#[expect(
    elided_lifetimes_in_paths,
    reason = "async_trait rejects an explicit '_ on SchemaManager here"
)]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MeterOutbox::Table)
                    .add_column(timestamp_with_time_zone_null(MeterOutbox::FailedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(MeterOutbox::Table)
                    .value(MeterOutbox::Status, "failed")
                    .value(MeterOutbox::FailedAt, Expr::col(MeterOutbox::NextAttemptAt))
                    .and_where(Expr::col(MeterOutbox::Status).eq("dead"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MeterOutbox::Table)
                    .drop_column(MeterOutbox::FailedAt)
                    .to_owned(),
            )
            .await
    }
}
