//! Billing: offers (plans), customers, purchases, entitlements, usage, the meter-event outbox
//! and the provider events already applied.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenant {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Offer {
    Table,
    Id,
    TenantId,
    Name,
    Kind,
    PriceId,
    Amount,
    Currency,
    Interval,
    Calls,
    MeterEvent,
    MeterValue,
    FreeQuota,
    SpendCap,
    PaymentReason,
    SuccessUrl,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Customer {
    Table,
    Id,
    TenantId,
    EndUserId,
    Provider,
    ProviderCustomerId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Purchase {
    Table,
    Id,
    TenantId,
    EndUserId,
    OfferId,
    Provider,
    SessionId,
    CheckoutUrl,
    Status,
    OpenKey,
    IdempotencyKey,
    PaymentIntent,
    SubscriptionId,
    ExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Entitlement {
    Table,
    Id,
    TenantId,
    EndUserId,
    OfferId,
    Source,
    Status,
    CallsRemaining,
    PeriodEnd,
    LastEventAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Usage {
    Table,
    Id,
    TenantId,
    EndUserId,
    OfferId,
    ToolName,
    CallId,
    EntitlementId,
    Kind,
    Status,
    Period,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MeterOutbox {
    Table,
    Id,
    TenantId,
    Identifier,
    EventName,
    ProviderCustomerId,
    Value,
    Timestamp,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum ProviderEvent {
    Table,
    TenantId,
    EventId,
    EventType,
    CreatedAt,
}

fn tenant_fk(
    table: impl IntoIden + 'static,
    name: &str,
    col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(Tenant::Table, Tenant::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn unique(name: &str, table: impl IntoIden + 'static, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).unique();
    for col in cols {
        index.col(col);
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
                    .table(Offer::Table)
                    .if_not_exists()
                    .col(pk_uuid(Offer::Id))
                    .col(uuid(Offer::TenantId))
                    .col(string_len(Offer::Name, 200))
                    .col(string_len(Offer::Kind, 20))
                    .col(string_len(Offer::PriceId, 255))
                    .col(big_integer(Offer::Amount))
                    .col(string_len(Offer::Currency, 3))
                    .col(string_len_null(Offer::Interval, 10))
                    .col(big_integer_null(Offer::Calls))
                    .col(string_len_null(Offer::MeterEvent, 100))
                    .col(big_integer(Offer::MeterValue).default(1))
                    .col(integer_null(Offer::FreeQuota))
                    .col(big_integer_null(Offer::SpendCap))
                    .col(string_len(Offer::PaymentReason, 500))
                    .col(string_len_null(Offer::SuccessUrl, 2048))
                    .col(timestamp_with_time_zone(Offer::CreatedAt))
                    .col(timestamp_with_time_zone(Offer::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        Offer::Table,
                        "fk_offer_tenant",
                        Offer::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Customer::Table)
                    .if_not_exists()
                    .col(pk_uuid(Customer::Id))
                    .col(uuid(Customer::TenantId))
                    .col(uuid(Customer::EndUserId))
                    .col(string_len(Customer::Provider, 20))
                    .col(string_len(Customer::ProviderCustomerId, 255))
                    .col(timestamp_with_time_zone(Customer::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        Customer::Table,
                        "fk_customer_tenant",
                        Customer::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "ux_customer_user_provider",
                Customer::Table,
                vec![
                    Customer::TenantId.into_iden(),
                    Customer::EndUserId.into_iden(),
                    Customer::Provider.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Purchase::Table)
                    .if_not_exists()
                    .col(pk_uuid(Purchase::Id))
                    .col(uuid(Purchase::TenantId))
                    .col(uuid(Purchase::EndUserId))
                    .col(uuid(Purchase::OfferId))
                    .col(string_len(Purchase::Provider, 20))
                    .col(string_len(Purchase::SessionId, 255))
                    .col(string_len(Purchase::CheckoutUrl, 2048))
                    .col(string_len(Purchase::Status, 20))
                    .col(string_len_null(Purchase::OpenKey, 200))
                    .col(string_len(Purchase::IdempotencyKey, 255))
                    .col(string_len_null(Purchase::PaymentIntent, 255))
                    .col(string_len_null(Purchase::SubscriptionId, 255))
                    .col(timestamp_with_time_zone(Purchase::ExpiresAt))
                    .col(timestamp_with_time_zone(Purchase::CreatedAt))
                    .col(timestamp_with_time_zone(Purchase::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        Purchase::Table,
                        "fk_purchase_tenant",
                        Purchase::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "ux_purchase_session",
                Purchase::Table,
                vec![
                    Purchase::TenantId.into_iden(),
                    Purchase::SessionId.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(unique(
                "ux_purchase_open",
                Purchase::Table,
                vec![
                    Purchase::TenantId.into_iden(),
                    Purchase::OpenKey.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Entitlement::Table)
                    .if_not_exists()
                    .col(pk_uuid(Entitlement::Id))
                    .col(uuid(Entitlement::TenantId))
                    .col(uuid(Entitlement::EndUserId))
                    .col(uuid(Entitlement::OfferId))
                    .col(string_len(Entitlement::Source, 300))
                    .col(string_len(Entitlement::Status, 20))
                    .col(big_integer_null(Entitlement::CallsRemaining))
                    .col(timestamp_with_time_zone_null(Entitlement::PeriodEnd))
                    .col(big_integer(Entitlement::LastEventAt))
                    .col(timestamp_with_time_zone(Entitlement::CreatedAt))
                    .col(timestamp_with_time_zone(Entitlement::UpdatedAt))
                    .foreign_key(&mut tenant_fk(
                        Entitlement::Table,
                        "fk_entitlement_tenant",
                        Entitlement::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique(
                "ux_entitlement_source",
                Entitlement::Table,
                vec![
                    Entitlement::TenantId.into_iden(),
                    Entitlement::Source.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Usage::Table)
                    .if_not_exists()
                    .col(pk_uuid(Usage::Id))
                    .col(uuid(Usage::TenantId))
                    .col(uuid(Usage::EndUserId))
                    .col(uuid(Usage::OfferId))
                    .col(string_len(Usage::ToolName, 64))
                    .col(string_len_uniq(Usage::CallId, 100))
                    .col(uuid_null(Usage::EntitlementId))
                    .col(string_len(Usage::Kind, 10))
                    .col(string_len(Usage::Status, 10))
                    .col(string_len(Usage::Period, 7))
                    .col(timestamp_with_time_zone(Usage::CreatedAt))
                    .foreign_key(&mut tenant_fk(
                        Usage::Table,
                        "fk_usage_tenant",
                        Usage::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_usage_user_offer_period")
                    .table(Usage::Table)
                    .col(Usage::TenantId)
                    .col(Usage::EndUserId)
                    .col(Usage::OfferId)
                    .col(Usage::Period)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MeterOutbox::Table)
                    .if_not_exists()
                    .col(pk_uuid(MeterOutbox::Id))
                    .col(uuid(MeterOutbox::TenantId))
                    .col(string_len_uniq(MeterOutbox::Identifier, 100))
                    .col(string_len(MeterOutbox::EventName, 100))
                    .col(string_len(MeterOutbox::ProviderCustomerId, 255))
                    .col(big_integer(MeterOutbox::Value))
                    .col(big_integer(MeterOutbox::Timestamp))
                    .col(string_len(MeterOutbox::Status, 20))
                    .col(integer(MeterOutbox::Attempts))
                    .col(timestamp_with_time_zone(MeterOutbox::NextAttemptAt))
                    .col(text_null(MeterOutbox::LastError))
                    .col(timestamp_with_time_zone(MeterOutbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(MeterOutbox::SentAt))
                    .foreign_key(&mut tenant_fk(
                        MeterOutbox::Table,
                        "fk_meter_outbox_tenant",
                        MeterOutbox::TenantId,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProviderEvent::Table)
                    .if_not_exists()
                    .col(uuid(ProviderEvent::TenantId))
                    .col(string_len(ProviderEvent::EventId, 255))
                    .col(string_len(ProviderEvent::EventType, 100))
                    .col(timestamp_with_time_zone(ProviderEvent::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(ProviderEvent::TenantId)
                            .col(ProviderEvent::EventId),
                    )
                    .foreign_key(&mut tenant_fk(
                        ProviderEvent::Table,
                        "fk_provider_event_tenant",
                        ProviderEvent::TenantId,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProviderEvent::Table.into_iden(),
            MeterOutbox::Table.into_iden(),
            Usage::Table.into_iden(),
            Entitlement::Table.into_iden(),
            Purchase::Table.into_iden(),
            Customer::Table.into_iden(),
            Offer::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
