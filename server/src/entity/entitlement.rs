//! The `entitlement` table: what an end user may use, and until when or how often.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "entitlement")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub end_user_id: Uuid,
    pub offer_id: Uuid,
    /// `checkout:<session>` or `subscription:<id>`: what granted it, unique per tenant.
    pub source: String,
    /// `active` or `revoked`.
    pub status: String,
    /// Calls left; `None` is unlimited.
    pub calls_remaining: Option<i64>,
    /// When access ends (subscriptions).
    pub period_end: Option<DateTimeUtc>,
    /// `created` of the newest provider event applied, so an older event never undoes it.
    pub last_event_at: i64,
    /// When Stripe's word on it was last heard (a webhook, or reconciliation's check).
    pub confirmed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
