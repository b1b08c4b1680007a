//! Tollgate's database schema as sea-orm migrations. Depends on nothing else in the workspace.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_tenants_and_tools;
mod m20261127_000002_oauth;
mod m20261127_000003_billing;
mod m20261127_000004_accounts;
mod m20261127_000005_analytics;
mod m20261127_000006_client_revocation;
mod m20261201_47_hardening_master_key;
mod m20261201_47_limits_rate_limit;
mod m20261201_47_replicas_mcp_session;
mod m20261201_60_meter_failed_at;
mod m20261201_83_hardening_audit_append_only;
mod m20261201_90_softdelete_tenant_deleted_at;
mod m20261202_10_reconciliation;
mod m20261202_30_offer_past_due_grace;
mod m20261203_10_usage_calls;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_tenants_and_tools::Migration),
            Box::new(m20261127_000002_oauth::Migration),
            Box::new(m20261127_000003_billing::Migration),
            Box::new(m20261127_000004_accounts::Migration),
            Box::new(m20261127_000005_analytics::Migration),
            Box::new(m20261127_000006_client_revocation::Migration),
            Box::new(m20261201_47_limits_rate_limit::Migration),
            Box::new(m20261201_47_replicas_mcp_session::Migration),
            Box::new(m20261201_47_hardening_master_key::Migration),
            Box::new(m20261201_83_hardening_audit_append_only::Migration),
            Box::new(m20261201_90_softdelete_tenant_deleted_at::Migration),
            Box::new(m20261201_60_meter_failed_at::Migration),
            Box::new(m20261202_10_reconciliation::Migration),
            Box::new(m20261202_30_offer_past_due_grace::Migration),
            Box::new(m20261203_10_usage_calls::Migration),
        ]
    }
}
