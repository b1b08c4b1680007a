//! The `tenant` table: one row per operator-owned MCP endpoint.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    /// JSON-encoded `TenantSettings`.
    pub settings: String,
    /// Bumped by every configuration change, so caches elsewhere can tell they are stale.
    pub config_version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When the tenant was deleted (soft delete: the row stays, its slug retired for a while).
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::tool::Entity")]
    Tool,
}

impl Related<super::tool::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tool.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
