//! The master key's fingerprint (its public id): every replica checks at start that its key is
//! the one the database's secrets are sealed under, instead of failing later on each secret.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MasterKey {
    Table,
    Id,
    Fingerprint,
    UpdatedAt,
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
                    .table(MasterKey::Table)
                    .if_not_exists()
                    // One row (id 1): the key the sealed secrets are under.
                    .col(integer(MasterKey::Id).primary_key())
                    .col(string(MasterKey::Fingerprint))
                    .col(timestamp_with_time_zone(MasterKey::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MasterKey::Table).to_owned())
            .await
    }
}
