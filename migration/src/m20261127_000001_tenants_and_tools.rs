//! Tenants and the tools each tenant offers.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
    Slug,
    Name,
    Settings,
    ConfigVersion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tool {
    Table,
    Id,
    TenantId,
    Operation,
    Name,
    Title,
    Description,
    Enabled,
    Position,
    Pricing,
    CreatedAt,
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
                    .table(Tenant::Table)
                    .if_not_exists()
                    .col(pk_uuid(Tenant::Id))
                    .col(string_len_uniq(Tenant::Slug, 63))
                    .col(string_len(Tenant::Name, 200))
                    .col(text(Tenant::Settings))
                    .col(big_integer(Tenant::ConfigVersion).default(1))
                    .col(timestamp_with_time_zone(Tenant::CreatedAt))
                    .col(timestamp_with_time_zone(Tenant::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tool::Table)
                    .if_not_exists()
                    .col(pk_uuid(Tool::Id))
                    .col(uuid(Tool::TenantId))
                    .col(string_len(Tool::Operation, 100))
                    .col(string_len(Tool::Name, 64))
                    .col(string_len_null(Tool::Title, 200))
                    .col(text_null(Tool::Description))
                    .col(boolean(Tool::Enabled))
                    .col(integer(Tool::Position))
                    .col(text_null(Tool::Pricing))
                    .col(timestamp_with_time_zone(Tool::CreatedAt))
                    .col(timestamp_with_time_zone(Tool::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tool_tenant")
                            .from(Tool::Table, Tool::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_tool_tenant_name")
                    .table(Tool::Table)
                    .col(Tool::TenantId)
                    .col(Tool::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tool::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Tenant::Table).to_owned())
            .await
    }
}
