//! Each tenant's OAuth 2.1 authorization server for MCP clients: metadata, client registration,
//! consent, the upstream sign-in (GitHub, or a marked local sign-in for demos), codes, tokens,
//! revocation, and the bearer check the MCP endpoint runs on every request.
//!
//! Protocol logic lives here, apart from HTTP (`routes.rs`) and queries (`store.rs`).

pub mod github;
mod metadata_document;
mod pages;
mod redirect;
pub(crate) mod routes;
mod store;

pub use github::{GitHubIdentity, IdentityError, IdentityProvider, UpstreamIdentity};
pub use metadata_document::{
    ClientMetadataDocument, FetchPolicy, MetadataDocumentError, is_metadata_document_url,
};
pub use redirect::{RedirectUri, RedirectUriError};

use crate::clock::Clock;
use crate::config::PublicUrl;
use crate::crypto::{self, MasterKey, SecretString};
use crate::tenant::{Tenant, TenantId};
use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// How long an access token lives.
pub const ACCESS_TOKEN_TTL: Duration = Duration::hours(1);
/// How long a rotated refresh token still refreshes (into the same family) instead of counting
/// as a replay: clients that run several sessions refresh in parallel with one token.
pub const REFRESH_GRACE: Duration = Duration::seconds(30);
/// How long a refresh token lives unused.
pub const REFRESH_TOKEN_TTL: Duration = Duration::days(30);
/// How long an authorization code lives.
pub const CODE_TTL: Duration = Duration::seconds(60);
/// How long a user has between `/authorize` and the code.
pub const PENDING_TTL: Duration = Duration::minutes(10);
/// How long a registered client that never completed a sign-in is kept.
pub const UNUSED_CLIENT_TTL: Duration = Duration::hours(1);
/// The one scope Tollgate grants: use of the tenant's MCP tools.
pub const SCOPE: &str = "mcp";
/// How long a fetched client metadata document is used before it is fetched again.
pub const METADATA_DOCUMENT_TTL: Duration = Duration::hours(1);

/// An end user's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EndUserId(pub Uuid);

/// A person signed in to one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndUser {
    /// The id.
    pub id: EndUserId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// `github` or `local`.
    pub provider: String,
    /// The provider's stable id.
    pub subject: String,
    /// The login.
    pub login: String,
    /// The display name.
    pub display_name: Option<String>,
    /// A verified email.
    pub email: Option<String>,
}

/// Who is calling the MCP endpoint, after the bearer check.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The signed-in user.
    pub user: EndUser,
    /// The client the token was issued to.
    pub client_id: String,
}

/// Errors of the token, registration and revocation endpoints, spelled as RFC 6749 / 7591 /
/// 8707 spell them.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// `invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    /// `invalid_client` (answered with 401).
    #[error("{0}")]
    InvalidClient(String),
    /// `invalid_grant`.
    #[error("{0}")]
    InvalidGrant(String),
    /// `unsupported_grant_type`.
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// `invalid_scope`.
    #[error("{0}")]
    InvalidScope(String),
    /// `invalid_target` (RFC 8707).
    #[error("{0}")]
    InvalidTarget(String),
    /// `invalid_redirect_uri` (RFC 7591).
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// `invalid_client_metadata` (RFC 7591).
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// The operator named a client this tenant does not have (or has revoked). Never answered
    /// at the OAuth endpoints; the admin API answers it with 404.
    #[error("client not found")]
    ClientNotFound,
    /// `server_error`.
    #[error("internal error")]
    Server(#[from] sea_orm::DbErr),
}

impl OAuthError {
    /// The RFC error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::ClientNotFound => "invalid_client",
            Self::Server(_) => "server_error",
        }
    }
}

/// An error in the browser part of the flow.
#[derive(Debug)]
pub enum FlowError {
    /// Shown on a page of ours: the redirect URI is not (yet) trusted, or the browser is not
    /// the one that started the flow.
    Local {
        /// 400, 403, 404 …
        status: u16,
        /// What went wrong, for a person.
        message: String,
    },
    /// Sent back to the client's (trusted) redirect URI.
    Redirect(String),
}

impl From<sea_orm::DbErr> for FlowError {
    fn from(error: sea_orm::DbErr) -> Self {
        tracing::error!(%error, "database error in the authorization flow");
        Self::Local {
            status: 500,
            message: "Something went wrong on our side. Please try again.".into(),
        }
    }
}

impl From<crypto::CryptoError> for FlowError {
    fn from(error: crypto::CryptoError) -> Self {
        tracing::error!(%error, "crypto error in the authorization flow");
        Self::Local {
            status: 500,
            message: "Something went wrong on our side. Please try again.".into(),
        }
    }
}

fn local(status: u16, message: impl Into<String>) -> FlowError {
    FlowError::Local {
        status,
        message: message.into(),
    }
}

/// A client's registration request (RFC 7591), as received.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RegistrationRequest {
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The name shown on the consent page.
    pub client_name: Option<String>,
    /// `none`, `client_secret_post` or `client_secret_basic`.
    pub token_endpoint_auth_method: Option<String>,
    /// Grant types.
    pub grant_types: Option<Vec<String>>,
    /// Response types.
    pub response_types: Option<Vec<String>>,
    /// Requested scope.
    pub scope: Option<String>,
    /// `web` or `native`.
    pub application_type: Option<String>,
}

/// The registration answer.
#[derive(Clone, Debug, Serialize)]
pub struct RegisteredClient {
    /// The client id.
    pub client_id: String,
    /// The secret, for confidential clients; shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// 0: the secret does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// When it was issued.
    pub client_id_issued_at: i64,
    /// Its name.
    pub client_name: String,
    /// Its redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Its auth method.
    pub token_endpoint_auth_method: String,
    /// Its grant types.
    pub grant_types: Vec<String>,
    /// Its response types.
    pub response_types: Vec<String>,
    /// Its scope.
    pub scope: String,
}

/// `/authorize` parameters.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    /// `code`.
    pub response_type: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// Where to send the answer.
    pub redirect_uri: Option<String>,
    /// The client's state.
    pub state: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method: only `S256`.
    pub code_challenge_method: Option<String>,
    /// RFC 8707 resource.
    pub resource: Option<String>,
    /// Requested scope.
    pub scope: Option<String>,
}

/// What the consent page shows.
#[derive(Clone, Debug)]
pub struct ConsentPrompt {
    /// The pending request's id.
    pub request_id: String,
    /// The form's CSRF token.
    pub csrf: SecretString,
    /// The browser-binding cookie's name; set with the page, required on the form's POST.
    pub cookie_name: String,
    /// The browser-binding cookie's value (a secret; only its hash is stored).
    pub cookie_value: SecretString,
    /// The tenant's display name.
    pub tenant_name: String,
    /// The client's self-declared name.
    pub client_name: String,
    /// The host the browser will be sent back to.
    pub redirect_host: String,
    /// Whether the redirect goes to this computer (a local app), worth a warning.
    pub redirect_is_loopback: bool,
    /// How the user will sign in: `GitHub` or the local demo sign-in.
    pub upstream: Upstream,
}

/// Which upstream sign-in a tenant uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// GitHub (the platform's app or the tenant's own).
    GitHub,
    /// The local demo sign-in: type a name. Only without any GitHub app, outside production.
    Local,
}

/// The route of a tenant's GitHub callback. The router serves it and the dashboard shows the
/// URL built from it, so the URL an operator registers with GitHub is the one that answers.
pub const GITHUB_CALLBACK_ROUTE: &str = "/t/{slug}/oauth/callback/github";

/// The sign-in a tenant's end users get now, as the Sign-in settings page describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActiveSignIn {
    /// The tenant's own GitHub OAuth app.
    TenantApp,
    /// The platform's GitHub app (`TOLLGATE_GITHUB_CLIENT_ID`).
    PlatformApp,
    /// The marked demo sign-in (type a name): no GitHub app anywhere, outside production.
    Demo,
    /// None: production without any GitHub app; sign-in fails until one is set.
    Unavailable,
}

impl ActiveSignIn {
    /// `tenant_app`, `platform_app`, `demo` or `unavailable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TenantApp => "tenant_app",
            Self::PlatformApp => "platform_app",
            Self::Demo => "demo",
            Self::Unavailable => "unavailable",
        }
    }
}

/// What happened on the consent form.
pub enum ConsentOutcome {
    /// Go here next, with this browser-binding cookie set.
    Continue {
        /// The next URL.
        location: String,
        /// The cookie name.
        cookie_name: String,
        /// The cookie value (a secret).
        cookie_value: SecretString,
    },
    /// The user said no; send the browser to the client.
    Denied(String),
}

/// A successful token response.
#[derive(Clone, Debug, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The refresh token.
    pub refresh_token: String,
    /// The scope granted.
    pub scope: String,
}

/// `/token` parameters (form-encoded).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TokenParams {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: Option<String>,
    /// The code.
    pub code: Option<String>,
    /// The redirect URI used at `/authorize`.
    pub redirect_uri: Option<String>,
    /// PKCE verifier.
    pub code_verifier: Option<String>,
    /// The refresh token.
    pub refresh_token: Option<String>,
    /// The client id (public clients, or `client_secret_post`).
    pub client_id: Option<String>,
    /// The secret (`client_secret_post`).
    pub client_secret: Option<String>,
    /// RFC 8707 resource.
    pub resource: Option<String>,
    /// Requested scope.
    pub scope: Option<String>,
}

/// Why a bearer token was not accepted at the MCP endpoint.
#[derive(Debug, PartialEq, Eq)]
pub enum BearerRejection {
    /// Unknown, expired, revoked, or for another resource.
    InvalidToken,
    /// The token could not be checked (the database failed): not the token's fault, so the
    /// client must keep it and retry, never throw it away as it would on `invalid_token`.
    Unavailable,
}

/// The GitHub OAuth app the platform uses unless a tenant brings its own.
#[derive(Clone, Debug)]
pub struct GitHubApp {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret.
    pub client_secret: SecretString,
}

/// Where the upstream identity provider lives, and whether the local sign-in may be offered.
#[derive(Clone, Debug)]
pub struct IdentitySettings {
    /// The platform's GitHub app, when configured.
    pub github_app: Option<GitHubApp>,
    /// GitHub's web base URL.
    pub github_url: String,
    /// GitHub's API base URL.
    pub github_api_url: String,
    /// Production mode turns the local sign-in off for good.
    pub production: bool,
    /// How client metadata documents may be fetched.
    pub metadata_documents: FetchPolicy,
}

/// The authorization servers of all tenants.
#[derive(Clone)]
pub struct OAuthService {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    key: Arc<MasterKey>,
    public: PublicUrl,
    identity: IdentitySettings,
    http: reqwest::Client,
}

impl OAuthService {
    /// The service.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        key: Arc<MasterKey>,
        public: PublicUrl,
        identity: IdentitySettings,
        http: reqwest::Client,
    ) -> Self {
        Self {
            db,
            clock,
            key,
            public,
            identity,
            http,
        }
    }

    /// The issuer of a tenant's authorization server.
    pub fn issuer(&self, tenant: &Tenant) -> String {
        self.public.join(&format!("/t/{}", tenant.slug))
    }

    /// The tenant's MCP endpoint, its protected resource.
    pub fn resource(&self, tenant: &Tenant) -> String {
        self.public.join(&format!("/t/{}/mcp", tenant.slug))
    }

    /// The RFC 9728 metadata URL of a tenant's resource.
    pub fn resource_metadata_url(&self, slug: &str) -> String {
        self.public.join(&format!(
            "/.well-known/oauth-protected-resource/t/{slug}/mcp"
        ))
    }

    /// RFC 9728 protected-resource metadata.
    pub fn resource_metadata(&self, tenant: &Tenant) -> serde_json::Value {
        serde_json::json!({
            "resource": self.resource(tenant),
            "authorization_servers": [self.issuer(tenant)],
            "scopes_supported": [SCOPE],
            "bearer_methods_supported": ["header"],
            "resource_name": tenant.name,
        })
    }

    /// RFC 8414 authorization-server metadata.
    pub fn server_metadata(&self, tenant: &Tenant) -> serde_json::Value {
        let issuer = self.issuer(tenant);
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth/authorize"),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "registration_endpoint": format!("{issuer}/oauth/register"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "scopes_supported": [SCOPE],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "client_id_metadata_document_supported": true,
            "subject_types_supported": ["public"],
        })
    }

    /// The URL GitHub must send a tenant's users back to (register it with the tenant's app).
    pub fn github_callback_url(&self, tenant: &Tenant) -> String {
        self.public
            .join(&GITHUB_CALLBACK_ROUTE.replace("{slug}", tenant.slug.as_str()))
    }

    /// Which sign-in the tenant's end users get now; the same rule as [`Self::upstream_for`].
    pub fn active_sign_in(&self, tenant: &Tenant) -> ActiveSignIn {
        if tenant.settings.github_app.is_some() {
            ActiveSignIn::TenantApp
        } else if self.identity.github_app.is_some() {
            ActiveSignIn::PlatformApp
        } else if self.identity.production {
            ActiveSignIn::Unavailable
        } else {
            ActiveSignIn::Demo
        }
    }

    fn upstream_for(&self, tenant: &Tenant) -> Result<Upstream, FlowError> {
        if tenant.settings.github_app.is_some() || self.identity.github_app.is_some() {
            Ok(Upstream::GitHub)
        } else if self.identity.production {
            Err(local(
                503,
                "Sign-in is not configured for this service yet. Please tell its operator.",
            ))
        } else {
            Ok(Upstream::Local)
        }
    }

    fn github_for(&self, tenant: &Tenant) -> Result<GitHubIdentity, FlowError> {
        let app = match &tenant.settings.github_app {
            Some(own) => GitHubApp {
                client_id: own.client_id.clone(),
                client_secret: self
                    .key
                    .open(&own.client_secret_sealed, &github_secret_context(tenant.id))?,
            },
            None => self
                .identity
                .github_app
                .clone()
                .ok_or_else(|| local(503, "GitHub sign-in is not configured."))?,
        };
        Ok(GitHubIdentity::new(
            app.client_id,
            app.client_secret,
            &self.identity.github_url,
            &self.identity.github_api_url,
            self.http.clone(),
        ))
    }

    /// Seals a tenant's own GitHub app secret for storage in its settings.
    pub fn seal_github_secret(
        &self,
        tenant: TenantId,
        secret: &str,
    ) -> Result<String, crypto::CryptoError> {
        self.key.seal(secret, &github_secret_context(tenant))
    }

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
            .filter(|c| !c.is_control() && !is_bidi_control(*c))
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
    async fn resolve_client(
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

    async fn live_client(
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
    fn usable(
        &self,
        (client, last_used): (store::ClientRecord, Option<DateTime<Utc>>),
    ) -> Option<store::ClientRecord> {
        let expired = last_used.is_none()
            && client.kind == "dynamic"
            && self.clock.now() - client.created_at > UNUSED_CLIENT_TTL;
        (!expired && !client.revoked).then_some(client)
    }

    /// Validates an authorization request and prepares the consent page.
    pub async fn start_authorization(
        &self,
        tenant: &Tenant,
        params: AuthorizeParams,
    ) -> Result<ConsentPrompt, FlowError> {
        // Until the client and its redirect URI are known, errors are shown here, never
        // redirected (RFC 6749 §4.1.2.1).
        let client_id = params
            .client_id
            .as_deref()
            .ok_or_else(|| local(400, "The request has no client_id."))?;
        let client = self
            .resolve_client(tenant.id, client_id)
            .await?
            .ok_or_else(|| {
                local(
                    400,
                    "This application is not registered here (unknown client_id).",
                )
            })?;
        let registered: Vec<RedirectUri> = client
            .redirect_uris
            .iter()
            .filter_map(|u| RedirectUri::parse(u).ok())
            .collect();
        let redirect_uri = match params.redirect_uri.as_deref() {
            Some(requested) => {
                if !registered.iter().any(|r| r.matches(requested)) {
                    return Err(local(
                        400,
                        "The redirect_uri does not match any this application registered.",
                    ));
                }
                requested.to_owned()
            }
            None if registered.len() == 1 => registered[0].as_str().to_owned(),
            None => return Err(local(400, "The request has no redirect_uri.")),
        };
        let issuer = self.issuer(tenant);
        let fail = |error: &str, description: &str| {
            FlowError::Redirect(error_redirect(
                &redirect_uri,
                error,
                description,
                params.state.as_deref(),
                &issuer,
            ))
        };
        if params.response_type.as_deref() != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        let challenge = params
            .code_challenge
            .as_deref()
            .filter(|c| (43..=128).contains(&c.len()) && c.bytes().all(is_pkce_char))
            .ok_or_else(|| {
                fail(
                    "invalid_request",
                    "a PKCE code_challenge (S256) is required",
                )
            })?;
        if params.code_challenge_method.as_deref() != Some("S256") {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        let resource = self.resource(tenant);
        if let Some(requested) = params.resource.as_deref()
            && requested != resource
        {
            return Err(fail(
                "invalid_target",
                "resource must be this tenant's MCP endpoint URL",
            ));
        }
        let scope = match params.scope.as_deref().map(str::trim) {
            None | Some("") => SCOPE.to_owned(),
            Some(s) if s.split_whitespace().all(|part| part == SCOPE) => SCOPE.to_owned(),
            Some(_) => return Err(fail("invalid_scope", "the only scope is mcp")),
        };
        if params.state.as_deref().is_some_and(|s| s.len() > 1024) {
            return Err(fail("invalid_request", "state is too long"));
        }
        let upstream = self.upstream_for(tenant)?;

        let request_id = crypto::random_id("req_")?;
        let csrf = crypto::random_token("")?;
        let binding = crypto::random_token("")?;
        let now = self.clock.now();
        store::insert_pending(
            &self.db,
            tenant.id,
            &store::PendingRecord {
                id: request_id.clone(),
                client_id: client.client_id.clone(),
                redirect_uri: redirect_uri.clone(),
                state: params.state.clone(),
                code_challenge: challenge.to_owned(),
                resource,
                scope,
                csrf_hash: crypto::hash_token(csrf.expose()),
                binding_hash: crypto::hash_token(binding.expose()),
                expires_at: now + PENDING_TTL,
            },
        )
        .await?;
        let parsed = url::Url::parse(&redirect_uri).ok();
        let redirect_host = parsed
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        Ok(ConsentPrompt {
            cookie_name: self.binding_cookie_name(&request_id),
            cookie_value: binding,
            request_id,
            csrf,
            tenant_name: tenant.name.clone(),
            client_name: client.client_name,
            redirect_is_loopback: matches!(
                redirect_host.as_str(),
                "127.0.0.1" | "localhost" | "[::1]"
            ),
            redirect_host,
            upstream,
        })
    }

    /// The user's answer on the consent page. Only the browser that was shown the page (it
    /// holds the binding cookie set with it) can answer: a form posted by another browser —
    /// an attacker's page auto-submitting the attacker's own request in a victim's browser —
    /// is refused before anything happens.
    pub async fn decide_consent(
        &self,
        tenant: &Tenant,
        request_id: &str,
        csrf: &str,
        approve: bool,
        cookies: &HashMap<String, String>,
    ) -> Result<ConsentOutcome, FlowError> {
        let now = self.clock.now();
        let pending = store::find_pending(&self.db, tenant.id, request_id)
            .await?
            .ok_or_else(|| local(400, "This sign-in request is unknown or finished. Start again from your application."))?;
        self.check_binding(&pending, request_id, cookies, now)?;
        if !crypto::constant_time_eq(&crypto::hash_token(csrf), &pending.csrf_hash) {
            return Err(local(
                403,
                "This form is not valid for this sign-in request.",
            ));
        }
        if pending.status != "pending" {
            return Err(local(400, "This sign-in request was already answered."));
        }
        let issuer = self.issuer(tenant);
        if !approve {
            store::transition_pending(&self.db, tenant.id, request_id, "pending", "done").await?;
            return Ok(ConsentOutcome::Denied(error_redirect(
                &pending.redirect_uri,
                "access_denied",
                "the user declined",
                pending.state.as_deref(),
                &issuer,
            )));
        }
        let binding = crypto::random_token("")?;
        let upstream = self.upstream_for(tenant)?;
        let (location, upstream_state_hash, sealed_verifier) = match upstream {
            Upstream::GitHub => {
                let github = self.github_for(tenant)?;
                let state = github::upstream_state();
                let (challenge, verifier) = github::upstream_pkce();
                let callback = self.github_callback_url(tenant);
                (
                    github.authorize_url(&callback, state.expose(), &challenge),
                    Some(crypto::hash_token(state.expose())),
                    Some(
                        self.key
                            .seal(verifier.expose(), &verifier_context(request_id))?,
                    ),
                )
            }
            Upstream::Local => (
                self.public.join(&format!(
                    "/t/{}/oauth/local?request={request_id}",
                    tenant.slug
                )),
                None,
                None,
            ),
        };
        let approved = store::approve_pending(
            &self.db,
            tenant.id,
            request_id,
            &crypto::hash_token(binding.expose()),
            upstream_state_hash.as_deref(),
            sealed_verifier.as_deref(),
        )
        .await?;
        if !approved {
            return Err(local(400, "This sign-in request was already answered."));
        }
        Ok(ConsentOutcome::Continue {
            location,
            cookie_name: self.binding_cookie_name(request_id),
            cookie_value: binding,
        })
    }

    /// The local demo sign-in page's request, checked against the browser's binding cookie.
    pub async fn local_sign_in_request(
        &self,
        tenant: &Tenant,
        request_id: &str,
        cookies: &HashMap<String, String>,
    ) -> Result<(), FlowError> {
        if self.upstream_for(tenant)? != Upstream::Local {
            return Err(local(404, "The local sign-in is off for this service."));
        }
        let pending = store::find_pending(&self.db, tenant.id, request_id)
            .await?
            .ok_or_else(|| local(400, "This sign-in request is unknown or finished."))?;
        self.check_binding(&pending, request_id, cookies, self.clock.now())?;
        Ok(())
    }

    /// Completes the local demo sign-in: the typed name becomes a `local:` user.
    pub async fn finish_local_sign_in(
        &self,
        tenant: &Tenant,
        request_id: &str,
        name: &str,
        cookies: &HashMap<String, String>,
    ) -> Result<String, FlowError> {
        self.local_sign_in_request(tenant, request_id, cookies)
            .await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            return Err(local(400, "Type a name of 1 to 60 characters."));
        }
        if !store::transition_pending(&self.db, tenant.id, request_id, "approved", "exchanging")
            .await?
        {
            return Err(local(400, "This sign-in request was already used."));
        }
        // Demo users live in their own namespace (provider `local`, login `demo:<name>`): a
        // typed name never becomes, or looks like, a GitHub user of the same name.
        let identity = UpstreamIdentity {
            subject: name.to_lowercase(),
            login: format!("demo:{name}"),
            name: Some(name.to_owned()),
            email: None,
        };
        self.issue_code(tenant, request_id, "local", &identity)
            .await
    }

    /// GitHub sent the browser back.
    pub async fn finish_github_sign_in(
        &self,
        tenant: &Tenant,
        state: Option<&str>,
        code: Option<&str>,
        upstream_error: Option<&str>,
        cookies: &HashMap<String, String>,
    ) -> Result<String, FlowError> {
        let state = state.ok_or_else(|| local(400, "GitHub's answer has no state."))?;
        let pending = store::find_pending_by_upstream_state(
            &self.db,
            tenant.id,
            &crypto::hash_token(state),
        )
        .await?
        .ok_or_else(|| {
            local(
                400,
                "This sign-in is unknown, finished or expired. Start again from your application.",
            )
        })?;
        self.check_binding(&pending, &pending.id, cookies, self.clock.now())?;
        let issuer = self.issuer(tenant);
        let back = |error: &str, description: &str| {
            FlowError::Redirect(error_redirect(
                &pending.redirect_uri,
                error,
                description,
                pending.state.as_deref(),
                &issuer,
            ))
        };
        if !store::transition_pending(&self.db, tenant.id, &pending.id, "approved", "exchanging")
            .await?
        {
            return Err(local(400, "This sign-in was already completed."));
        }
        if let Some(error) = upstream_error {
            store::transition_pending(&self.db, tenant.id, &pending.id, "exchanging", "done")
                .await?;
            return Err(back("access_denied", &format!("GitHub answered {error}")));
        }
        let code = code.ok_or_else(|| back("access_denied", "GitHub gave no code"))?;
        let verifier = pending
            .upstream_verifier
            .as_deref()
            .ok_or_else(|| local(400, "This sign-in was not started with GitHub."))?;
        let verifier = self.key.open(verifier, &verifier_context(&pending.id))?;
        let github = self.github_for(tenant)?;
        let callback = self.github_callback_url(tenant);
        let identity = match github.sign_in(&callback, code, verifier.expose()).await {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(tenant.slug = %tenant.slug, %error, "GitHub sign-in failed");
                store::transition_pending(&self.db, tenant.id, &pending.id, "exchanging", "done")
                    .await?;
                let code = match error {
                    IdentityError::Refused(_) => "access_denied",
                    IdentityError::Unavailable(_) => "temporarily_unavailable",
                };
                return Err(back(code, "the GitHub sign-in did not complete; try again"));
            }
        };
        self.issue_code(tenant, &pending.id, "github", &identity)
            .await
    }

    async fn issue_code(
        &self,
        tenant: &Tenant,
        request_id: &str,
        provider: &str,
        identity: &UpstreamIdentity,
    ) -> Result<String, FlowError> {
        let now = self.clock.now();
        let pending = store::find_pending(&self.db, tenant.id, request_id)
            .await?
            .ok_or_else(|| local(400, "This sign-in request is unknown."))?;
        let user = store::upsert_end_user(&self.db, tenant.id, provider, identity, now).await?;
        let code = crypto::random_token(crypto::prefix::CODE)?;
        store::insert_code(
            &self.db,
            tenant.id,
            &store::CodeRecord {
                code_hash: crypto::hash_token(code.expose()),
                client_id: pending.client_id.clone(),
                end_user_id: user.id.0,
                redirect_uri: pending.redirect_uri.clone(),
                resource: pending.resource.clone(),
                scope: pending.scope.clone(),
                code_challenge: pending.code_challenge.clone(),
                expires_at: now + CODE_TTL,
            },
        )
        .await?;
        store::transition_pending(&self.db, tenant.id, request_id, "exchanging", "done").await?;
        store::touch_client(&self.db, tenant.id, &pending.client_id, now).await?;
        tracing::info!(tenant.slug = %tenant.slug, user.id = %user.id.0, provider, "end user signed in");
        let mut location = url::Url::parse(&pending.redirect_uri)
            .map_err(|_| local(400, "The redirect_uri is not a URL."))?;
        {
            let mut query = location.query_pairs_mut();
            query.append_pair("code", code.expose());
            if let Some(state) = &pending.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", &self.issuer(tenant));
        }
        Ok(location.to_string())
    }

    async fn authenticate_client(
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
    async fn redeem_code(
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
        } else if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_pkce_char) {
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

    async fn issue_tokens(
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
    async fn refresh(
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
        store::revoke_token(
            &self.db,
            tenant.id,
            &client.client_id,
            &crypto::hash_token(token),
            now,
        )
        .await?;
        Ok(())
    }

    /// The tenant's MCP clients, for the dashboard: every client that may still sign users in
    /// (not revoked, and not a dynamic registration that expired unused), oldest first, each
    /// with the number of users holding a grant that is not revoked (`active_grants`).
    pub async fn list_clients(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<frontend::wire::McpClientView>, OAuthError> {
        let mut users = store::count_users_with_live_grants(&self.db, tenant).await?;
        Ok(store::list_clients(&self.db, tenant)
            .await?
            .into_iter()
            .filter_map(|client| self.usable(client))
            .map(|client| frontend::wire::McpClientView {
                active_grants: users.remove(&client.client_id).unwrap_or_default(),
                created_at: client
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
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

fn registered(
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

impl OAuthService {
    /// The name of the cookie that binds a sign-in request to the browser that was shown its
    /// consent page: `__Host-` on https (no other host or path can set or shadow it), the
    /// same name without the prefix on http, where browsers refuse the prefix.
    pub fn binding_cookie_name(&self, request_id: &str) -> String {
        if self.public.as_str().starts_with("https://") {
            format!("__Host-tg_auth_{request_id}")
        } else {
            format!("tg_auth_{request_id}")
        }
    }

    fn check_binding(
        &self,
        pending: &store::PendingRow,
        request_id: &str,
        cookies: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        check_binding(pending, &self.binding_cookie_name(request_id), cookies, now)
    }
}

fn check_binding(
    pending: &store::PendingRow,
    cookie_name: &str,
    cookies: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(), FlowError> {
    if pending.expires_at < now {
        return Err(local(
            400,
            "This sign-in request has expired. Start again from your application.",
        ));
    }
    let presented = cookies.get(cookie_name);
    let matches = match (presented, &pending.binding_hash) {
        (Some(value), Some(hash)) => crypto::constant_time_eq(&crypto::hash_token(value), hash),
        _ => false,
    };
    if !matches {
        return Err(local(
            403,
            "This sign-in was started in another browser. For your safety it cannot be completed \
             here; start again from your application.",
        ));
    }
    Ok(())
}

pub(crate) fn github_secret_context(tenant: TenantId) -> String {
    format!("tenant:{tenant}:github_client_secret")
}

fn verifier_context(request_id: &str) -> String {
    format!("oauth_pending:{request_id}:upstream_verifier")
}

fn is_pkce_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

fn error_redirect(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("error", error);
        query.append_pair("error_description", description);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.to_string()
}
