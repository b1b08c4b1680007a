//! Each plan says how long a `past_due` subscription keeps access while Stripe retries the
//! payment (`offer.past_due_grace_days`, 0–30); plans made before this keep the 3 days that
//! were the one rule for every plan.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Offer {
    Table,
    PastDueGraceDays,
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
                    .table(Offer::Table)
                    .add_column(integer(Offer::PastDueGraceDays).default(3))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Offer::Table)
                    .drop_column(Offer::PastDueGraceDays)
                    .to_owned(),
            )
            .await
    }
}
