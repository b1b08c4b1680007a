//! Reconciliation with Stripe: `entitlement.confirmed_at` (when Tollgate last heard Stripe's
//! word on the entitlement: a webhook, or a reconciliation's check of its subscription), and
//! `reconciliation`, one row per tenant: the event cursor, the lease that lets one replica run
//! at a time, and the last run's report.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Entitlement {
    Table,
    ConfirmedAt,
}

#[derive(DeriveIden)]
enum Reconciliation {
    Table,
    TenantId,
    EventsFrom,
    LeaseToken,
    LeaseHolder,
    LeaseUntil,
    LastRunAt,
    LastReport,
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
                    .table(Entitlement::Table)
                    .add_column(timestamp_with_time_zone_null(Entitlement::ConfirmedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Reconciliation::Table)
                    .if_not_exists()
                    .col(uuid(Reconciliation::TenantId).primary_key())
                    .col(big_integer_null(Reconciliation::EventsFrom))
                    .col(string_len_null(Reconciliation::LeaseToken, 64))
                    .col(string_len_null(Reconciliation::LeaseHolder, 200))
                    .col(timestamp_with_time_zone_null(Reconciliation::LeaseUntil))
                    .col(timestamp_with_time_zone_null(Reconciliation::LastRunAt))
                    .col(text_null(Reconciliation::LastReport))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reconciliation_tenant")
                            .from(Reconciliation::Table, Reconciliation::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Reconciliation::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Entitlement::Table)
                    .drop_column(Entitlement::ConfirmedAt)
                    .to_owned(),
            )
            .await
    }
}
