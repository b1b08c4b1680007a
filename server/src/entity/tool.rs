//! The `tool` table: a catalog operation a tenant exposes, under its own name and settings.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tool")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The catalog operation's key, e.g. `wporg.query_themes`.
    pub operation: String,
    /// The name clients see in `tools/list`.
    pub name: String,
    pub title: Option<String>,
    /// Overrides the catalog description when set.
    pub description: Option<String>,
    pub enabled: bool,
    pub position: i32,
    /// JSON-encoded pricing; filled by the billing feature.
    pub pricing: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenant::Entity",
        from = "Column::TenantId",
        to = "super::tenant::Column::Id",
        on_delete = "Cascade"
    )]
    Tenant,
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
