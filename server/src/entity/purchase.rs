//! The `purchase` table: one checkout attempt.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "purchase")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub end_user_id: Uuid,
    pub offer_id: Uuid,
    pub provider: String,
    pub session_id: String,
    pub checkout_url: String,
    /// `open`, `processing`, `paid`, `expired`, `failed`, `refunded`.
    pub status: String,
    /// `user:offer` while open, so one user has at most one open purchase per offer.
    pub open_key: Option<String>,
    pub idempotency_key: String,
    pub payment_intent: Option<String>,
    pub subscription_id: Option<String>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
