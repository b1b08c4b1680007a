//! The `end_user` table: a person who signed in to one tenant's MCP endpoint.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "end_user")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `github` or `local`.
    pub provider: String,
    /// The provider's stable id (GitHub's numeric user id), never a login or an email.
    pub subject: String,
    pub login: String,
    pub display_name: Option<String>,
    /// A verified email, when the provider gave one.
    pub email: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
