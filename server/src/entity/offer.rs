//! The `offer` table: a plan a tenant sells; it covers the tools whose pricing names it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    /// `one_time`, `subscription` or `metered`.
    pub kind: String,
    /// The provider's price id.
    pub price_id: String,
    /// In minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// `month` or `year` for subscriptions.
    pub interval: Option<String>,
    /// Calls a one-time purchase buys; `None` is unlimited.
    pub calls: Option<i64>,
    /// The billing meter event name (metered).
    pub meter_event: Option<String>,
    /// The value each call reports to the meter.
    pub meter_value: i64,
    /// Free calls per user per month before payment is asked.
    pub free_quota: Option<i32>,
    /// Most billed calls per user per month (metered).
    pub spend_cap: Option<i64>,
    pub payment_reason: String,
    pub success_url: Option<String>,
    /// Days a `past_due` subscription keeps access while Stripe retries (0–30).
    pub past_due_grace_days: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
