//! Client registration: dynamic (RFC 7591), pre-registered by an operator, and clients identified by a metadata document URL; and which clients may still be used.

use super::{
    FlowError, METADATA_DOCUMENT_TTL, OAuthError, OAuthService, RedirectUri, RegisteredClient,
    RegistrationRequest, SCOPE, UNUSED_CLIENT_TTL, is_metadata_document_url, local,
    metadata_document, store,
};
use crate::crypto;
use crate::tenant::{Tenant, TenantId};
use chrono::{DateTime, Utc};

impl OAuthService {
    /// RFC 7591 dynamic registration, with Tollgate's policy.
    pub async fn register(
        &self,
        tenant: &Tenant,
        request: RegistrationRequest,
    ) -> Result<RegisteredClient, OAuthError> {
        if request.redirect_uris.is_empty() || request.redirect_uris.len() > 5 {
            return Err(OAuthError::InvalidRedirectUri(
                "register between 1 and 5 redirect_uris".into(),
            ));
        }
        let mut uris = Vec::new();
        for raw in &request.redirect_uris {
            let uri = RedirectUri::parse(raw)
                .map_err(|e| OAuthError::InvalidRedirectUri(format!("{raw:?}: {e}")))?;
            uris.push(uri.as_str().to_owned());
        }
        let method = request
            .token_endpoint_auth_method
            .clone()
            .unwrap_or_else(|| "client_secret_basic".into());
        if !matches!(
            method.as_str(),
            "none" | "client_secret_post" | "client_secret_basic"
        ) {
            return Err(OAuthError::InvalidClientMetadata(format!(
                "token_endpoint_auth_method {method:?} is not supported"
            )));
        }
        let grant_types = request
            .grant_types
            .clone()
            .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
        if grant_types.is_empty()
            || grant_types
                .iter()
                .any(|g| g != "authorization_code" && g != "refresh_token")
        {
            return Err(OAuthError::InvalidClientMetadata(
                "grant_types may be authorization_code and refresh_token".into(),
            ));
        }
        let response_types = request
            .response_types
            .clone()
            .unwrap_or_else(|| vec!["code".into()]);
        if response_types.iter().any(|r| r != "code") {
            return Err(OAuthError::InvalidClientMetadata(
                "response_types may only be code".into(),
            ));
        }
        if let Some(scope) = &request.scope
            && scope.split_whitespace().any(|s| s != SCOPE)
        {
            return Err(OAuthError::InvalidClientMetadata(format!(
                "the only scope is {SCOPE:?}"
            )));
        }
        let name: String = request
            .client_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or("Unnamed MCP client")
            .chars()
            .filter(|c| !c.is_control() && !api_types::validate::is_bidi_control(*c))
            .take(100)
            .collect();
        let now = self.clock.now();
        store::delete_unused_clients(&self.db, tenant.id, now - UNUSED_CLIENT_TTL).await?;

        // A public client that registers the same metadata again gets the same client id.
        let fingerprint = crypto::hash_token(&format!(
            "{}|{}|{}|{}",
            name,
            uris.join(" "),
            method,
            grant_types.join(" ")
        ));
        if method == "none"
            && let Some(existing) =
                store::find_client_by_fingerprint(&self.db, tenant.id, &fingerprint).await?
        {
            return Ok(registered(existing, None, grant_types, response_types));
        }
        let client_id = crypto::random_id("tgc_").map_err(|_| {
            OAuthError::InvalidRequest("could not generate a client id; try again".into())
        })?;
        let secret = if method == "none" {
            None
        } else {
            Some(
                crypto::random_token(crypto::prefix::CLIENT_SECRET).map_err(|_| {
                    OAuthError::InvalidRequest("could not generate a secret; try again".into())
                })?,
            )
        };
        let row = store::ClientRecord {
            client_id,
            client_name: name,
            redirect_uris: uris,
            auth_method: method,
            secret_hash: secret.as_ref().map(|s| crypto::hash_token(s.expose())),
            kind: "dynamic".into(),
            fingerprint: (secret.is_none()).then_some(fingerprint),
            created_at: now,
            revoked: false,
        };
        store::insert_client(&self.db, tenant.id, &row).await?;
        Ok(registered(
            row,
            secret.map(|s| s.expose().to_owned()),
            grant_types,
            response_types,
        ))
    }

    /// Registers a client on the operator's behalf (no rate limit, no expiry).
    pub async fn preregister_client(
        &self,
        tenant: &Tenant,
        name: &str,
        redirect_uris: &[&str],
        confidential: bool,
    ) -> Result<RegisteredClient, OAuthError> {
        let mut uris = Vec::new();
        for raw in redirect_uris {
            uris.push(
                RedirectUri::parse(raw)
                    .map_err(|e| OAuthError::InvalidRedirectUri(e.to_string()))?
                    .as_str()
                    .to_owned(),
            );
        }
        let secret = if confidential {
            Some(
                crypto::random_token(crypto::prefix::CLIENT_SECRET).map_err(|_| {
                    OAuthError::InvalidRequest("could not generate a secret".into())
                })?,
            )
        } else {
            None
        };
        let client_id = crypto::random_id("tgc_")
            .map_err(|_| OAuthError::InvalidRequest("could not generate a client id".into()))?;
        let row = store::ClientRecord {
            client_id,
            client_name: name.chars().take(100).collect(),
            redirect_uris: uris,
            auth_method: if confidential {
                "client_secret_basic".into()
            } else {
                "none".into()
            },
            secret_hash: secret.as_ref().map(|s| crypto::hash_token(s.expose())),
            kind: "preregistered".into(),
            fingerprint: None,
            created_at: self.clock.now(),
            revoked: false,
        };
        store::insert_client(&self.db, tenant.id, &row).await?;
        Ok(registered(
            row,
            secret.map(|s| s.expose().to_owned()),
            vec!["authorization_code".into(), "refresh_token".into()],
            vec!["code".into()],
        ))
    }

    /// The client a `client_id` names at `/authorize`: a registered client, or the client
    /// metadata document at that URL, fetched safely and kept for an hour. A revoked client is
    /// refused, a metadata document URL included: its stored row keeps it blocked.
    pub(super) async fn resolve_client(
        &self,
        tenant: TenantId,
        client_id: &str,
    ) -> Result<Option<store::ClientRecord>, FlowError> {
        let stored = store::find_client(&self.db, tenant, client_id).await?;
        if stored.as_ref().is_some_and(|(client, _)| client.revoked) {
            return Err(local(
                403,
                "The operator of this service has revoked this application's access.",
            ));
        }
        if !is_metadata_document_url(client_id, &self.identity.metadata_documents) {
            return Ok(stored.and_then(|client| self.usable(client)));
        }
        let now = self.clock.now();
        if let Some((client, _)) = stored
            && now - client.created_at < METADATA_DOCUMENT_TTL
        {
            return Ok(Some(client));
        }
        let document = metadata_document::fetch(client_id, &self.identity.metadata_documents)
            .await
            .map_err(|e| {
                local(
                    400,
                    format!("This application's client metadata document could not be used: {e}"),
                )
            })?;
        let record = store::ClientRecord {
            client_id: document.client_id,
            client_name: document.client_name,
            redirect_uris: document.redirect_uris,
            auth_method: "none".into(),
            secret_hash: None,
            kind: "metadata_document".into(),
            fingerprint: None,
            created_at: now,
            revoked: false,
        };
        store::replace_client(&self.db, tenant, &record).await?;
        Ok(Some(record))
    }

    pub(super) async fn live_client(
        &self,
        tenant: TenantId,
        client_id: &str,
    ) -> Result<Option<store::ClientRecord>, sea_orm::DbErr> {
        Ok(store::find_client(&self.db, tenant, client_id)
            .await?
            .and_then(|client| self.usable(client)))
    }

    /// The client, unless it is revoked or a dynamic registration never used within
    /// [`UNUSED_CLIENT_TTL`].
    pub(super) fn usable(
        &self,
        (client, last_used): (store::ClientRecord, Option<DateTime<Utc>>),
    ) -> Option<store::ClientRecord> {
        let expired = last_used.is_none()
            && client.kind == "dynamic"
            && self.clock.now() - client.created_at > UNUSED_CLIENT_TTL;
        (!expired && !client.revoked).then_some(client)
    }
}

pub(super) fn registered(
    row: store::ClientRecord,
    secret: Option<String>,
    grant_types: Vec<String>,
    response_types: Vec<String>,
) -> RegisteredClient {
    RegisteredClient {
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret,
        client_id: row.client_id,
        client_id_issued_at: row.created_at.timestamp(),
        client_name: row.client_name,
        redirect_uris: row.redirect_uris,
        token_endpoint_auth_method: row.auth_method,
        grant_types,
        response_types,
        scope: SCOPE.into(),
    }
}
