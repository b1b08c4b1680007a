//! Legacy (2025-era) MCP sessions in the database, so that any replica answers any request of a
//! session: `mcp_session`, keyed by the hash of the `Mcp-Session-Id` Tollgate issued.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum McpSession {
    Table,
    IdHash,
    TenantId,
    EndUserId,
    ClientAddress,
    ProtocolVersion,
    ClientCapabilities,
    CreatedAt,
    LastSeenAt,
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
                    .table(McpSession::Table)
                    .if_not_exists()
                    .col(string_len(McpSession::IdHash, 64).primary_key())
                    .col(uuid(McpSession::TenantId))
                    .col(uuid_null(McpSession::EndUserId))
                    .col(string_len(McpSession::ClientAddress, 64))
                    .col(string_len(McpSession::ProtocolVersion, 32))
                    .col(text(McpSession::ClientCapabilities))
                    .col(timestamp_with_time_zone(McpSession::CreatedAt))
                    .col(timestamp_with_time_zone(McpSession::LastSeenAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mcp_session_tenant")
                            .from(McpSession::Table, McpSession::TenantId)
                            .to(Tenant::Table, Tenant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mcp_session_user")
                    .table(McpSession::Table)
                    .col(McpSession::TenantId)
                    .col(McpSession::EndUserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mcp_session_address")
                    .table(McpSession::Table)
                    .col(McpSession::ClientAddress)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(McpSession::Table).to_owned())
            .await
    }
}
