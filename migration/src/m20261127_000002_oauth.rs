//! End users and each tenant's OAuth 2.1 authorization server: clients, pending authorizations,
//! codes, grants and tokens. Secrets are stored only as SHA-256 hashes (or sealed ciphertext).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EndUser {
    Table,
    Id,
    TenantId,
    Provider,
    Subject,
    Login,
    DisplayName,
    Email,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OauthClient {
    Table,
    Id,
    TenantId,
    ClientId,
    ClientName,
    RedirectUris,
    AuthMethod,
    SecretHash,
    Kind,
    Fingerprint,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum OauthPending {
    Table,
    Id,
    TenantId,
    ClientId,
    RedirectUri,
    State,
    CodeChallenge,
    Resource,
    Scope,
    CsrfHash,
    BindingHash,
    UpstreamStateHash,
    UpstreamVerifier,
    Status,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OauthCode {
    Table,
    CodeHash,
    TenantId,
    ClientId,
    EndUserId,
    RedirectUri,
    Resource,
    Scope,
    CodeChallenge,
    ExpiresAt,
    UsedAt,
    GrantId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OauthGrant {
    Table,
    Id,
    TenantId,
    ClientId,
    EndUserId,
    Resource,
    Scope,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum OauthToken {
    Table,
    TokenHash,
    TenantId,
    GrantId,
    Kind,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

fn tenant_fk(
    from_table: impl IntoIden + 'static,
    name: &str,
    col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from_table, col)
        .to(Tenant::Table, Tenant::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
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
                    .table(EndUser::Table)
                    .if_not_exists()
                    .col(pk_uuid(EndUser::Id))
                    .col(uuid(EndUser::TenantId))
                    .col(string_len(EndUser::Provider, 20))
                    .col(string_len(EndUser::Subject, 100))
                    .col(string_len(EndUser::Login, 100))
                    .col(string_len_null(EndUser::DisplayName, 200))
                    .col(string_len_null(EndUser::Email, 320))
                    .col(timestamp_with_time_zone(EndUser::CreatedAt))
                    .col(timestamp_with_time_zone(EndUser::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        EndUser::Table,
                        "fk_end_user_tenant",
                        EndUser::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_end_user_identity")
                    .table(EndUser::Table)
                    .col(EndUser::TenantId)
                    .col(EndUser::Provider)
                    .col(EndUser::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthClient::Table)
                    .if_not_exists()
                    .col(pk_uuid(OauthClient::Id))
                    .col(uuid(OauthClient::TenantId))
                    .col(string_len(OauthClient::ClientId, 2048))
                    .col(string_len(OauthClient::ClientName, 200))
                    .col(text(OauthClient::RedirectUris))
                    .col(string_len(OauthClient::AuthMethod, 40))
                    .col(string_len_null(OauthClient::SecretHash, 64))
                    .col(string_len(OauthClient::Kind, 20))
                    .col(string_len_null(OauthClient::Fingerprint, 64))
                    .col(timestamp_with_time_zone(OauthClient::CreatedAt))
                    .col(timestamp_with_time_zone_null(OauthClient::LastUsedAt))
                    .foreign_key(&mut tenant_fk(
                        OauthClient::Table,
                        "fk_oauth_client_tenant",
                        OauthClient::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_oauth_client_id")
                    .table(OauthClient::Table)
                    .col(OauthClient::TenantId)
                    .col(OauthClient::ClientId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthPending::Table)
                    .if_not_exists()
                    .col(string_len(OauthPending::Id, 64).primary_key())
                    .col(uuid(OauthPending::TenantId))
                    .col(string_len(OauthPending::ClientId, 2048))
                    .col(string_len(OauthPending::RedirectUri, 2048))
                    .col(string_len_null(OauthPending::State, 1024))
                    .col(string_len(OauthPending::CodeChallenge, 128))
                    .col(string_len(OauthPending::Resource, 2048))
                    .col(string_len(OauthPending::Scope, 200))
                    .col(string_len(OauthPending::CsrfHash, 64))
                    .col(string_len_null(OauthPending::BindingHash, 64))
                    .col(string_len_null(OauthPending::UpstreamStateHash, 64))
                    .col(text_null(OauthPending::UpstreamVerifier))
                    .col(string_len(OauthPending::Status, 20))
                    .col(timestamp_with_time_zone(OauthPending::ExpiresAt))
                    .col(timestamp_with_time_zone(OauthPending::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        OauthPending::Table,
                        "fk_oauth_pending_tenant",
                        OauthPending::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_oauth_pending_upstream_state")
                    .table(OauthPending::Table)
                    .col(OauthPending::UpstreamStateHash)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthGrant::Table)
                    .if_not_exists()
                    .col(pk_uuid(OauthGrant::Id))
                    .col(uuid(OauthGrant::TenantId))
                    .col(string_len(OauthGrant::ClientId, 2048))
                    .col(uuid(OauthGrant::EndUserId))
                    .col(string_len(OauthGrant::Resource, 2048))
                    .col(string_len(OauthGrant::Scope, 200))
                    .col(timestamp_with_time_zone(OauthGrant::CreatedAt))
                    .col(timestamp_with_time_zone_null(OauthGrant::RevokedAt))
                    .foreign_key(&mut tenant_fk(
                        OauthGrant::Table,
                        "fk_oauth_grant_tenant",
                        OauthGrant::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthCode::Table)
                    .if_not_exists()
                    .col(string_len(OauthCode::CodeHash, 64).primary_key())
                    .col(uuid(OauthCode::TenantId))
                    .col(string_len(OauthCode::ClientId, 2048))
                    .col(uuid(OauthCode::EndUserId))
                    .col(string_len(OauthCode::RedirectUri, 2048))
                    .col(string_len(OauthCode::Resource, 2048))
                    .col(string_len(OauthCode::Scope, 200))
                    .col(string_len(OauthCode::CodeChallenge, 128))
                    .col(timestamp_with_time_zone(OauthCode::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OauthCode::UsedAt))
                    .col(uuid_null(OauthCode::GrantId))
                    .col(timestamp_with_time_zone(OauthCode::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        OauthCode::Table,
                        "fk_oauth_code_tenant",
                        OauthCode::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OauthToken::Table)
                    .if_not_exists()
                    .col(string_len(OauthToken::TokenHash, 64).primary_key())
                    .col(uuid(OauthToken::TenantId))
                    .col(uuid(OauthToken::GrantId))
                    .col(string_len(OauthToken::Kind, 10))
                    .col(timestamp_with_time_zone(OauthToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OauthToken::UsedAt))
                    .col(timestamp_with_time_zone_null(OauthToken::RevokedAt))
                    .col(timestamp_with_time_zone(OauthToken::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        OauthToken::Table,
                        "fk_oauth_token_tenant",
                        OauthToken::TenantId,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oauth_token_grant")
                            .from(OauthToken::Table, OauthToken::GrantId)
                            .to(OauthGrant::Table, OauthGrant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_oauth_token_grant")
                    .table(OauthToken::Table)
                    .col(OauthToken::GrantId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OauthToken::Table.into_iden(),
            OauthCode::Table.into_iden(),
            OauthGrant::Table.into_iden(),
            OauthPending::Table.into_iden(),
            OauthClient::Table.into_iden(),
            EndUser::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
