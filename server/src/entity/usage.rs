//! The `usage` table: one row per counted tool call (reserved, metered, free quota), or one row
//! per group of calls on an entitlement that counts nothing (`billing/fast.rs`), with their
//! number in `calls`; the call id is unique.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub end_user_id: Uuid,
    pub offer_id: Uuid,
    pub tool_name: String,
    #[sea_orm(unique)]
    pub call_id: String,
    pub entitlement_id: Option<Uuid>,
    /// `free`, `paid` or `metered`.
    pub kind: String,
    /// `reserved` while the tool runs, `committed` once it succeeded.
    pub status: String,
    /// `YYYY-MM`.
    pub period: String,
    /// The calls this row records: 1, but for the fast lane's groups.
    pub calls: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
