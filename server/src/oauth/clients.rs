//! What the dashboard manages: a tenant's MCP clients (listing, revoking) and its end users.

use super::{ClientSummary, EndUser, OAuthError, OAuthService, store};
use crate::tenant::TenantId;
use uuid::Uuid;

impl OAuthService {
    /// The tenant's MCP clients, for the dashboard: every client that may still sign users in
    /// (not revoked, and not a dynamic registration that expired unused), oldest first, each
    /// with the number of users holding a grant that is not revoked (`active_grants`).
    pub async fn list_clients(&self, tenant: TenantId) -> Result<Vec<ClientSummary>, OAuthError> {
        let mut users = store::count_users_with_live_grants(&self.db, tenant).await?;
        Ok(store::list_clients(&self.db, tenant)
            .await?
            .into_iter()
            .filter_map(|client| self.usable(client))
            .map(|client| ClientSummary {
                active_grants: users.remove(&client.client_id).unwrap_or_default(),
                created_at: client.created_at,
                client_id: client.client_id,
                name: client.client_name,
                redirect_uris: client.redirect_uris,
                kind: client.kind,
            })
            .collect())
    }

    /// Revokes a client for the operator, in one transaction: the client can no longer start an
    /// authorization, redeem a code or refresh a token, and every grant and token issued to it
    /// is revoked, so its access tokens stop working at the next request (they are looked up on
    /// every request; nothing caches them).
    ///
    /// The client is marked revoked rather than deleted, because deleting would not revoke a
    /// client metadata document: its URL would simply be fetched and registered again. The
    /// mark keeps that URL blocked for this tenant. A dynamically registered client cannot be
    /// blocked that way (anyone may register any metadata), so the same software may register
    /// again and get a new client id, and its users must then sign in and consent afresh.
    ///
    /// An unknown client, another tenant's, or one already revoked is
    /// [`OAuthError::ClientNotFound`], and nothing changes.
    pub async fn revoke_client(&self, tenant: TenantId, client_id: &str) -> Result<(), OAuthError> {
        let txn = crate::db::begin_write(&self.db).await?;
        if !store::revoke_client(&txn, tenant, client_id, self.clock.now()).await? {
            txn.rollback().await?;
            return Err(OAuthError::ClientNotFound);
        }
        txn.commit().await?;
        self.tokens_revoked(tenant).await;
        tracing::info!(tenant.id = %tenant, client.id = %client_id, "MCP client revoked by the operator");
        Ok(())
    }

    /// One end user of a tenant.
    pub async fn find_end_user(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<EndUser>, sea_orm::DbErr> {
        store::find_end_user(&self.db, tenant, id).await
    }

    /// The end users of a tenant, oldest first.
    pub async fn list_end_users(&self, tenant: TenantId) -> Result<Vec<EndUser>, sea_orm::DbErr> {
        store::list_end_users(&self.db, tenant).await
    }
}
