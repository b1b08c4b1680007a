//! Each tenant's OAuth 2.1 authorization server for MCP clients: metadata, client registration,
//! consent, the upstream sign-in (GitHub, or a marked local sign-in for demos), codes, tokens,
//! revocation, and the bearer check the MCP endpoint runs on every request.
//!
//! Protocol logic lives here, apart from HTTP (`routes.rs`) and queries (`store.rs`).

mod authorize;
mod bearer;
mod clients;
pub mod github;
mod metadata_document;
mod pages;
mod pkce;
mod redirect;
mod registration;
pub(crate) mod routes;
mod sign_in;
mod store;
mod token;

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

/// One of a tenant's MCP clients as the operator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSummary {
    /// Its client id.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// Its redirect URIs.
    pub redirect_uris: Vec<String>,
    /// `dynamic`, `metadata_document` or `preregistered`.
    pub kind: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// How many users hold a grant to it that is not revoked.
    pub active_grants: u64,
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
    http: github::HttpClient,
    /// Access tokens looked up lately (`bearer.rs`).
    bearers: bearer::Bearers,
    changes: crate::changes::ChangePublisher,
}

impl OAuthService {
    /// The service.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        key: Arc<MasterKey>,
        public: PublicUrl,
        identity: IdentitySettings,
        http: github::HttpClient,
    ) -> Self {
        Self {
            changes: crate::changes::ChangePublisher::new(db.clone()),
            db,
            clock,
            key,
            public,
            identity,
            http,
            bearers: bearer::Bearers::default(),
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
}

pub(crate) fn github_secret_context(tenant: TenantId) -> String {
    format!("tenant:{tenant}:github_client_secret")
}
