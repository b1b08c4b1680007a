//! Operators (the people who run tenants), their sessions and personal API tokens, their roles
//! per tenant, invitations, the one-time setup claim, and the audit log of configuration
//! changes. Session and API tokens and invitation tokens are stored only as SHA-256 hashes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Operator {
    Table,
    Id,
    Email,
    Name,
    GithubId,
    GithubLogin,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OperatorSession {
    Table,
    Id,
    TokenHash,
    OperatorId,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    Id,
    OperatorId,
    Name,
    Prefix,
    TokenHash,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Membership {
    Table,
    Id,
    TenantId,
    OperatorId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Invitation {
    Table,
    Id,
    TenantId,
    Email,
    Role,
    TokenHash,
    InvitedBy,
    ExpiresAt,
    AcceptedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SetupClaim {
    Table,
    Id,
    OperatorId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    TenantId,
    OperatorId,
    Actor,
    Action,
    Target,
    Detail,
    CreatedAt,
}

fn unique_index(name: &str, table: impl IntoIden, cols: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
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
                    .table(Operator::Table)
                    .if_not_exists()
                    .col(pk_uuid(Operator::Id))
                    .col(string_len_null(Operator::Email, 254))
                    .col(string_len(Operator::Name, 200))
                    .col(string_len_null(Operator::GithubId, 40))
                    .col(string_len_null(Operator::GithubLogin, 100))
                    .col(text_null(Operator::PasswordHash))
                    .col(timestamp_with_time_zone(Operator::CreatedAt))
                    .col(timestamp_with_time_zone(Operator::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_operator_email",
                Operator::Table,
                &["email"],
            ))
            .await?;
        manager
            .create_index(unique_index(
                "ux_operator_github_id",
                Operator::Table,
                &["github_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OperatorSession::Table)
                    .if_not_exists()
                    .col(pk_uuid(OperatorSession::Id))
                    .col(string_len_uniq(OperatorSession::TokenHash, 64))
                    .col(uuid(OperatorSession::OperatorId))
                    .col(timestamp_with_time_zone(OperatorSession::ExpiresAt))
                    .col(timestamp_with_time_zone(OperatorSession::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiToken::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApiToken::Id))
                    .col(uuid(ApiToken::OperatorId))
                    .col(string_len(ApiToken::Name, 100))
                    .col(string_len(ApiToken::Prefix, 20))
                    .col(string_len_uniq(ApiToken::TokenHash, 64))
                    .col(timestamp_with_time_zone(ApiToken::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiToken::LastUsedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Membership::Table)
                    .if_not_exists()
                    .col(pk_uuid(Membership::Id))
                    .col(uuid(Membership::TenantId))
                    .col(uuid(Membership::OperatorId))
                    .col(string_len(Membership::Role, 10))
                    .col(timestamp_with_time_zone(Membership::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index(
                "ux_membership_tenant_operator",
                Membership::Table,
                &["tenant_id", "operator_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invitation::Table)
                    .if_not_exists()
                    .col(pk_uuid(Invitation::Id))
                    .col(uuid(Invitation::TenantId))
                    .col(string_len(Invitation::Email, 254))
                    .col(string_len(Invitation::Role, 10))
                    .col(string_len_uniq(Invitation::TokenHash, 64))
                    .col(uuid(Invitation::InvitedBy))
                    .col(timestamp_with_time_zone(Invitation::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Invitation::AcceptedAt))
                    .col(timestamp_with_time_zone(Invitation::CreatedAt))
                    .to_owned(),
            )
            .await?;

        // One row, ever: inserting it in the transaction that creates the first operator makes
        // a second, concurrent setup fail on the primary key.
        manager
            .create_table(
                Table::create()
                    .table(SetupClaim::Table)
                    .if_not_exists()
                    .col(integer(SetupClaim::Id).primary_key())
                    .col(uuid(SetupClaim::OperatorId))
                    .col(timestamp_with_time_zone(SetupClaim::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(pk_uuid(AuditLog::Id))
                    .col(uuid_null(AuditLog::TenantId))
                    .col(uuid_null(AuditLog::OperatorId))
                    .col(string_len(AuditLog::Actor, 300))
                    .col(string_len(AuditLog::Action, 60))
                    .col(string_len(AuditLog::Target, 300))
                    .col(text(AuditLog::Detail))
                    .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_log_tenant_created")
                    .table(AuditLog::Table)
                    .col(AuditLog::TenantId)
                    .col(AuditLog::CreatedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            SetupClaim::Table.into_iden(),
            Invitation::Table.into_iden(),
            Membership::Table.into_iden(),
            ApiToken::Table.into_iden(),
            OperatorSession::Table.into_iden(),
            Operator::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
