//! The token endpoint (code redemption, refresh rotation with its grace window) and revocation.

use super::{
    ACCESS_TOKEN_TTL, OAuthError, OAuthService, REFRESH_GRACE, REFRESH_TOKEN_TTL, SCOPE,
    TokenParams, TokenResponse, pkce, store,
};
use crate::crypto;
use crate::tenant::{Tenant, TenantId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

impl OAuthService {
    pub(super) async fn authenticate_client(
        &self,
        tenant: TenantId,
        params: &TokenParams,
        basic: Option<(String, String)>,
    ) -> Result<store::ClientRecord, OAuthError> {
        let (client_id, secret) = match basic {
            Some((id, secret)) => (id, Some(secret)),
            None => (
                params
                    .client_id
                    .clone()
                    .ok_or_else(|| OAuthError::InvalidClient("client_id is required".into()))?,
                params.client_secret.clone(),
            ),
        };
        let client = self
            .live_client(tenant, &client_id)
            .await?
            .ok_or_else(|| OAuthError::InvalidClient("unknown client".into()))?;
        match (&client.secret_hash, secret) {
            (None, None) => Ok(client),
            (Some(hash), Some(secret))
                if crypto::constant_time_eq(hash, &crypto::hash_token(&secret)) =>
            {
                Ok(client)
            }
            (None, Some(_)) => Err(OAuthError::InvalidClient(
                "this is a public client: send no secret".into(),
            )),
            _ => Err(OAuthError::InvalidClient(
                "client authentication failed".into(),
            )),
        }
    }

    /// The token endpoint.
    pub async fn token(
        &self,
        tenant: &Tenant,
        params: TokenParams,
        basic: Option<(String, String)>,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(tenant.id, &params, basic).await?;
        match params.grant_type.as_deref() {
            Some("authorization_code") => self.redeem_code(tenant, &client, &params).await,
            Some("refresh_token") => self.refresh(tenant, &client, &params).await,
            Some(other) => Err(OAuthError::UnsupportedGrantType(format!(
                "grant_type {other:?} is not supported"
            ))),
            None => Err(OAuthError::InvalidRequest("grant_type is required".into())),
        }
    }

    /// Redeems a code. The code is consumed first, atomically, so that of concurrent
    /// redemptions exactly one proceeds; a redemption that then fails a check (client, redirect
    /// URI, PKCE, resource) has still burned the code: an attacker holding a stolen code gets one
    /// try. A second redemption of a used code revokes the tokens the first one got.
    pub(super) async fn redeem_code(
        &self,
        tenant: &Tenant,
        client: &store::ClientRecord,
        params: &TokenParams,
    ) -> Result<TokenResponse, OAuthError> {
        let code = params
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
        let verifier = params
            .code_verifier
            .as_deref()
            .ok_or_else(|| OAuthError::InvalidGrant("code_verifier is required (PKCE)".into()))?;
        let now = self.clock.now();
        let hash = crypto::hash_token(code);
        let txn = crate::db::begin_write(&self.db).await?;
        let Some(record) = store::consume_code(&txn, tenant.id, &hash, now).await? else {
            txn.rollback().await?;
            if let Some(grant) = store::find_used_code_grant(&self.db, tenant.id, &hash).await? {
                store::revoke_grant(&self.db, tenant.id, grant, now).await?;
                self.tokens_revoked(tenant.id).await;
                tracing::warn!(tenant.slug = %tenant.slug, "authorization code replayed: its tokens are revoked");
            }
            return Err(OAuthError::InvalidGrant(
                "the code is invalid, expired or already used".into(),
            ));
        };
        let checks = if record.client_id != client.client_id {
            Err("the code was issued to another client")
        } else if record.expires_at < now {
            Err("the code has expired")
        } else if params
            .redirect_uri
            .as_deref()
            .is_some_and(|r| r != record.redirect_uri)
        {
            Err("redirect_uri differs from the authorization request")
        } else if !pkce::is_well_formed(verifier) {
            Err("code_verifier is malformed")
        } else if !crypto::constant_time_eq(&crypto::pkce_s256(verifier), &record.code_challenge) {
            Err("code_verifier does not match the code_challenge")
        } else {
            Ok(())
        };
        if let Err(reason) = checks {
            // Commit the consumption: a failed attempt burns the code.
            txn.commit().await?;
            return Err(OAuthError::InvalidGrant(reason.into()));
        }
        if let Some(resource) = params.resource.as_deref()
            && resource != record.resource
        {
            txn.commit().await?;
            return Err(OAuthError::InvalidTarget(
                "resource differs from the authorization request".into(),
            ));
        }
        if !store::claim_live_client(&txn, tenant.id, &record.client_id, now).await? {
            // Revoked since it was authenticated: the code is burned all the same.
            txn.commit().await?;
            return Err(OAuthError::InvalidClient(
                "this client's access was revoked".into(),
            ));
        }
        let grant = store::insert_grant(
            &txn,
            tenant.id,
            &record.client_id,
            record.end_user_id,
            &record.resource,
            &record.scope,
            now,
        )
        .await?;
        store::set_code_grant(&txn, tenant.id, &hash, grant).await?;
        let response = self
            .issue_tokens(&txn, tenant.id, grant, &record.scope, now)
            .await?;
        txn.commit().await?;
        Ok(response)
    }

    pub(super) async fn issue_tokens(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        tenant: TenantId,
        grant: Uuid,
        scope: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenResponse, OAuthError> {
        let generation_failed =
            |_| OAuthError::InvalidRequest("could not generate a token; try again".into());
        let access = crypto::random_token(crypto::prefix::MCP_ACCESS).map_err(generation_failed)?;
        let refresh =
            crypto::random_token(crypto::prefix::MCP_REFRESH).map_err(generation_failed)?;
        store::insert_token(
            db,
            tenant,
            grant,
            "access",
            &crypto::hash_token(access.expose()),
            now + ACCESS_TOKEN_TTL,
            now,
        )
        .await?;
        store::insert_token(
            db,
            tenant,
            grant,
            "refresh",
            &crypto::hash_token(refresh.expose()),
            now + REFRESH_TOKEN_TTL,
            now,
        )
        .await?;
        Ok(TokenResponse {
            access_token: access.expose().to_owned(),
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_TTL.num_seconds(),
            refresh_token: refresh.expose().to_owned(),
            scope: scope.to_owned(),
        })
    }

    /// Rotates a refresh token. Presenting a refresh token that was already rotated revokes
    /// the whole family (RFC 9700 §4.14.2).
    pub(super) async fn refresh(
        &self,
        tenant: &Tenant,
        client: &store::ClientRecord,
        params: &TokenParams,
    ) -> Result<TokenResponse, OAuthError> {
        let token = params
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
        if let Some(scope) = params.scope.as_deref()
            && scope.split_whitespace().any(|s| s != SCOPE)
        {
            return Err(OAuthError::InvalidScope(format!(
                "the only scope is {SCOPE:?}"
            )));
        }
        let now = self.clock.now();
        let hash = crypto::hash_token(token);
        let txn = crate::db::begin_write(&self.db).await?;
        match store::rotate_refresh(&txn, tenant.id, &hash, now, now - REFRESH_GRACE).await? {
            // A parallel refresh of the same token (a client running several sessions) gets a
            // fresh pair of the same family instead of signing the user out.
            store::Rotation::Rotated(grant) | store::Rotation::ReusedInGrace(grant) => {
                if grant.client_id != client.client_id {
                    txn.rollback().await?;
                    return Err(OAuthError::InvalidGrant(
                        "the token was issued to another client".into(),
                    ));
                }
                if let Some(resource) = params.resource.as_deref()
                    && resource != grant.resource
                {
                    txn.rollback().await?;
                    return Err(OAuthError::InvalidTarget(
                        "resource differs from the grant".into(),
                    ));
                }
                if !store::claim_live_client(&txn, tenant.id, &client.client_id, now).await? {
                    txn.rollback().await?;
                    return Err(OAuthError::InvalidClient(
                        "this client's access was revoked".into(),
                    ));
                }
                let response = self
                    .issue_tokens(&txn, tenant.id, grant.id, &grant.scope, now)
                    .await?;
                txn.commit().await?;
                Ok(response)
            }
            store::Rotation::Reused(grant) => {
                txn.rollback().await?;
                store::revoke_grant(&self.db, tenant.id, grant, now).await?;
                self.tokens_revoked(tenant.id).await;
                tracing::warn!(tenant.slug = %tenant.slug, "refresh token reused: the family is revoked");
                Err(OAuthError::InvalidGrant(
                    "the refresh token was already used".into(),
                ))
            }
            store::Rotation::Invalid => {
                txn.rollback().await?;
                Err(OAuthError::InvalidGrant(
                    "the refresh token is invalid or expired".into(),
                ))
            }
        }
    }

    /// RFC 7009 revocation: an access token is revoked alone; a refresh token revokes its
    /// grant. Unknown tokens and tokens of other clients change nothing and still answer 200.
    pub async fn revoke(
        &self,
        tenant: &Tenant,
        token: &str,
        params: &TokenParams,
        basic: Option<(String, String)>,
    ) -> Result<(), OAuthError> {
        let client = self.authenticate_client(tenant.id, params, basic).await?;
        let now = self.clock.now();
        let revoked = store::revoke_token(
            &self.db,
            tenant.id,
            &client.client_id,
            &crypto::hash_token(token),
            now,
        )
        .await?;
        if revoked {
            self.tokens_revoked(tenant.id).await;
        }
        Ok(())
    }
}
