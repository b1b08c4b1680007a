//! The `oauth_pending` table: an authorization request between `/authorize` and the code.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_pending")]
pub struct Model {
    /// Random public id of the request.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub redirect_uri: String,
    /// The client's `state`, returned as given.
    pub state: Option<String>,
    pub code_challenge: String,
    pub resource: String,
    pub scope: String,
    /// SHA-256 of the consent form's CSRF token.
    pub csrf_hash: String,
    /// SHA-256 of the secret in the browser-binding cookie set on approval.
    pub binding_hash: Option<String>,
    /// SHA-256 of the `state` sent to the identity provider.
    pub upstream_state_hash: Option<String>,
    /// The upstream PKCE verifier, sealed under the master key.
    pub upstream_verifier: Option<String>,
    /// `pending`, `approved`, `exchanging`, `done`.
    pub status: String,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
