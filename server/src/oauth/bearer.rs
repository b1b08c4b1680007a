//! The bearer check the MCP endpoint runs on every request: an opaque token looked up by its hash.

use super::{BearerRejection, Caller, OAuthService, store};
use crate::crypto;
use crate::tenant::Tenant;

impl OAuthService {
    /// The bearer check of the MCP endpoint: the token must be a live access token of this
    /// tenant, issued for exactly this tenant's resource.
    pub async fn authenticate_bearer(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> Result<Caller, BearerRejection> {
        // An admin credential is never an MCP token: refused without a lookup.
        if token.starts_with(crypto::prefix::ADMIN_API)
            || token.starts_with(crypto::prefix::ADMIN_SESSION)
        {
            return Err(BearerRejection::InvalidToken);
        }
        let now = self.clock.now();
        let found = store::find_access(&self.db, tenant.id, &crypto::hash_token(token))
            .await
            .map_err(|error| {
                tracing::error!(%error, "bearer lookup failed");
                BearerRejection::Unavailable
            })?;
        let Some((token, grant, user)) = found else {
            return Err(BearerRejection::InvalidToken);
        };
        if token.expires_at <= now
            || token.revoked_at.is_some()
            || grant.revoked_at.is_some()
            || grant.resource != self.resource(tenant)
        {
            return Err(BearerRejection::InvalidToken);
        }
        Ok(Caller {
            user,
            client_id: grant.client_id,
        })
    }
}
