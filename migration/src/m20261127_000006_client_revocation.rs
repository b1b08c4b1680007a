//! Revoking an MCP client from the dashboard: `oauth_client.revoked_at`. A revoked client can
//! no longer sign users in nor redeem codes or refresh tokens; its row stays so that a client
//! metadata document URL stays blocked.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthClient {
    Table,
    RevokedAt,
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
                    .table(OauthClient::Table)
                    .add_column(timestamp_with_time_zone_null(OauthClient::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OauthClient::Table)
                    .drop_column(OauthClient::RevokedAt)
                    .to_owned(),
            )
            .await
    }
}
