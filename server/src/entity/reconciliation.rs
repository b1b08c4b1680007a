//! The `reconciliation` table: per tenant, the Stripe event cursor, the lease of the replica
//! running a reconciliation, and the last run's report.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reconciliation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// Stripe's `created` (unix seconds) from which the next run lists events.
    pub events_from: Option<i64>,
    /// The running run's random token (`None`: nobody runs).
    pub lease_token: Option<String>,
    /// Which replica runs it, for the report.
    pub lease_holder: Option<String>,
    /// The lease ends then; another replica may claim it afterwards.
    pub lease_until: Option<DateTimeUtc>,
    /// When the last run finished.
    pub last_run_at: Option<DateTimeUtc>,
    /// The last run's report, as JSON.
    pub last_report: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
