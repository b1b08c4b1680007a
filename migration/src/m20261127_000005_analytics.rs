//! Call statistics: how many tool calls each tenant served per day, tool and outcome. One row
//! per (tenant, day, tool, outcome), added to by the analytics flusher.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum CallStat {
    Table,
    TenantId,
    Day,
    Tool,
    Outcome,
    Count,
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
                    .table(CallStat::Table)
                    .if_not_exists()
                    .col(uuid(CallStat::TenantId))
                    // `YYYY-MM-DD` in UTC: compares in date order as text on every backend.
                    .col(string_len(CallStat::Day, 10))
                    .col(string_len(CallStat::Tool, 64))
                    // `free`, `paid`, `payment_required` or `error`.
                    .col(string_len(CallStat::Outcome, 20))
                    .col(big_integer(CallStat::Count))
                    // The key the flusher's upsert adds to; it also serves the reads, which
                    // select one tenant's days.
                    .primary_key(
                        Index::create()
                            .col(CallStat::TenantId)
                            .col(CallStat::Day)
                            .col(CallStat::Tool)
                            .col(CallStat::Outcome),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_call_stat_tenant")
                            .from(CallStat::Table, CallStat::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CallStat::Table).to_owned())
            .await
    }
}
