//! Operators: the people who run tenants. Their accounts (e-mail and argon2 password, or GitHub),
//! dashboard sessions, personal API tokens, roles per tenant, invitations, the one-time setup of
//! the first operator, sign-in throttling, and the audit log of configuration changes.
//!
//! Nothing here speaks HTTP: the admin API (`crate::admin`) turns these calls into routes.

mod audit;
mod members;
pub mod store;

use crate::clock::Clock;
use crate::crypto::{self, MasterKey, SecretString};
use crate::limit::{Check, RateLimiter};
use crate::oauth::github::{IdentityProvider, upstream_pkce, upstream_state};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

pub use audit::write_audit;

/// How long a dashboard session lasts.
pub const SESSION_LIFETIME: Duration = Duration::days(7);
/// How long an invitation link works.
pub const INVITATION_LIFETIME: Duration = Duration::days(7);
/// The name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "tollgate_admin";
/// The prefix of personal API tokens (MCP access tokens look different and are refused).
pub const API_TOKEN_PREFIX: &str = crypto::prefix::ADMIN_API;

/// An operator's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OperatorId(pub Uuid);

/// A role in a tenant, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Changes the configuration.
    Admin,
    /// Also deletes the tenant and manages members.
    Owner,
}

impl Role {
    /// `owner`, `admin` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Parses a role name.
    pub fn parse(raw: &str) -> Result<Self, AccountError> {
        match raw {
            "viewer" => Ok(Self::Viewer),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            _ => Err(AccountError::invalid(
                "role",
                api_types::validate::role(raw).err().unwrap_or_default(),
            )),
        }
    }
}

/// An operator as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// Id.
    pub id: OperatorId,
    /// E-mail, when known.
    pub email: Option<String>,
    /// Display name.
    pub name: String,
    /// GitHub login, when they signed up with GitHub.
    pub github_login: Option<String>,
}

/// How a request proved who it is.
#[derive(Clone, Debug)]
pub enum Credential {
    /// The dashboard's session cookie.
    Session,
    /// A personal API token, by its name.
    ApiToken(String),
}

/// The operator behind a request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// Who.
    pub operator: Operator,
    /// How.
    pub credential: Credential,
}

/// An audit entry that a service writes in the same transaction as the change it records
/// ([`write_audit`]), so that the change and its entry are kept or lost together.
#[derive(Clone, Debug)]
pub struct AuditNote {
    /// Who.
    pub operator: OperatorId,
    /// How the audit log names them ([`Principal::actor`]).
    pub actor: String,
    /// What (`tool.update`, …).
    pub action: &'static str,
    /// The change, as JSON (never a secret).
    pub detail: serde_json::Value,
}

impl Principal {
    /// An audit entry by this actor, to be written with the change ([`write_audit`]).
    pub fn audit_note(&self, action: &'static str, detail: serde_json::Value) -> AuditNote {
        AuditNote {
            operator: self.operator.id,
            actor: self.actor(),
            action,
            detail,
        }
    }

    /// How the audit log names this actor.
    pub fn actor(&self) -> String {
        let who = self
            .operator
            .email
            .clone()
            .or_else(|| self.operator.github_login.clone())
            .unwrap_or_else(|| self.operator.name.clone());
        match &self.credential {
            Credential::Session => who,
            Credential::ApiToken(name) => format!("{who} (token:{name})"),
        }
    }
}

/// A personal API token as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiTokenInfo {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// First characters.
    pub prefix: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A member of a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    /// The operator.
    pub operator: Operator,
    /// Their role.
    pub role: Role,
}

/// An invitation as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvitationInfo {
    /// Id.
    pub id: Uuid,
    /// Invited address.
    pub email: String,
    /// Role they will get.
    pub role: Role,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Valid until.
    pub expires_at: DateTime<Utc>,
}

/// One audit log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Id.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// The change, as JSON.
    pub detail: serde_json::Value,
}

/// What can go wrong with operators' accounts.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field is wrong.
    #[error("{message}")]
    Invalid {
        /// The field to blame.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Wrong e-mail or password (never says which).
    #[error("wrong e-mail or password")]
    WrongCredentials,
    /// Too many failed sign-ins.
    #[error("too many failed sign-ins; try again in {retry_after_secs} seconds")]
    Throttled {
        /// Seconds until the window passes.
        retry_after_secs: i64,
    },
    /// No valid session or token.
    #[error("sign in first")]
    Unauthenticated,
    /// An MCP access token was sent to the admin side.
    #[error("this is an MCP access token; the admin API takes a session or a personal API token")]
    WrongTokenKind,
    /// The role does not allow this.
    #[error("your role in this tenant does not allow this")]
    Forbidden,
    /// No such object (or not yours).
    #[error("not found")]
    NotFound,
    /// Already exists, or already used.
    #[error("{0}")]
    Conflict(String),
    /// The setup link is wrong, or setup was done.
    #[error("{0}")]
    SetupUnavailable(String),
    /// The GitHub sign-in failed.
    #[error("{0}")]
    GitHub(String),
    /// A secret could not be made or read.
    #[error("a secret could not be handled")]
    Crypto(#[from] crypto::CryptoError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl AccountError {
    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// The platform's GitHub app, for operators who sign in with GitHub.
pub struct OperatorGitHub {
    /// The provider.
    pub provider: Arc<dyn IdentityProvider>,
    /// Where GitHub sends the browser back.
    pub callback: String,
}

/// Where a started GitHub sign-in is remembered: sealed into a short-lived cookie.
#[derive(Serialize, Deserialize)]
struct GitHubFlow {
    state: String,
    verifier: String,
    expires: i64,
}

/// Operators' accounts, sessions, tokens, memberships, invitations and the audit log.
#[derive(Clone)]
pub struct AccountService {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    key: Arc<MasterKey>,
    github: Option<Arc<OperatorGitHub>>,
    setup_token: Arc<Mutex<Option<SecretString>>>,
    limits: RateLimiter,
    hasher: Arc<Argon2<'static>>,
}

impl AccountService {
    /// The service. `setup_token` fixes the setup link's token (for automation); without it a
    /// random one is made while no operator exists.
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        key: Arc<MasterKey>,
        github: Option<OperatorGitHub>,
        setup_token: Option<SecretString>,
        limits: RateLimiter,
    ) -> Self {
        Self {
            db,
            clock,
            key,
            github: github.map(Arc::new),
            setup_token: Arc::new(Mutex::new(setup_token)),
            limits,
            hasher: Arc::new(Argon2::default()),
        }
    }

    /// Whether operators can sign in with GitHub.
    pub fn github_enabled(&self) -> bool {
        self.github.is_some()
    }

    /// Whether the first operator has yet to be created.
    pub async fn setup_needed(&self) -> Result<bool, AccountError> {
        Ok(!store::setup_claimed(&self.db).await?)
    }

    /// The one-time setup link's token while no operator exists (made on first call), for the
    /// run command to print; `None` once setup is done.
    pub async fn setup_token(&self) -> Result<Option<SecretString>, AccountError> {
        if !self.setup_needed().await? {
            return Ok(None);
        }
        let mut slot = self
            .setup_token
            .lock()
            .map_err(|_| AccountError::Unauthenticated)?;
        if slot.is_none() {
            *slot = Some(crypto::random_token("setup_")?);
        }
        Ok(slot.as_ref().map(|t| SecretString::new(t.expose())))
    }

    /// Creates the first operator with the setup link's token. They become owner of every
    /// tenant that exists (the demo tenant). Returns a session token.
    pub async fn setup(
        &self,
        token: &str,
        email: &str,
        name: &str,
        password: &str,
    ) -> Result<(Operator, SecretString), AccountError> {
        let expected = self
            .setup_token
            .lock()
            .map_err(|_| AccountError::Unauthenticated)?
            .as_ref()
            .map(|t| SecretString::new(t.expose()));
        let Some(expected) = expected else {
            return Err(AccountError::SetupUnavailable(
                "Tollgate is already set up: sign in instead".into(),
            ));
        };
        if !crypto::constant_time_eq(expected.expose(), token) {
            return Err(AccountError::SetupUnavailable(
                "this setup link is not valid: use the link the run command printed".into(),
            ));
        }
        let email = check_email(email)?;
        let name = check_name(name)?;
        check_password(password)?;
        let hash = self.hash_password(password)?;
        let now = self.clock.now();
        let operator = store::claim_setup(&self.db, &email, &name, &hash, now)
            .await?
            .ok_or_else(|| {
                AccountError::SetupUnavailable("Tollgate is already set up: sign in instead".into())
            })?;
        if let Ok(mut slot) = self.setup_token.lock() {
            *slot = None;
        }
        let session = self.open_session(operator.id).await?;
        Ok((operator, session))
    }

    /// Signs in with e-mail and password; failures are throttled per e-mail address and per
    /// client address, in counters every replica shares (see [`crate::limit`]).
    ///
    /// Every attempt is counted before the password is checked and given back when it
    /// succeeds: counting only after a failure would let concurrent guesses all pass the check
    /// before any of them was counted.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> Result<(Operator, SecretString), AccountError> {
        let email = email.trim().to_ascii_lowercase();
        let settings = self.limits.settings();
        // The e-mail is counted by its hash: the counters need not keep who was guessed at.
        let email_key = crypto::hash_token(&email);
        let checks = [
            Check::new(settings.sign_in_email, "sign_in_email", &[&email_key]),
            Check::new(settings.sign_in_address, "sign_in_address", &[client]),
        ];
        if let Err(limited) = self.limits.hit(&checks).await? {
            tracing::info!("operator sign-in throttled");
            return Err(AccountError::Throttled {
                retry_after_secs: i64::try_from(limited.retry_after_secs).unwrap_or(i64::MAX),
            });
        }
        let found = store::find_operator_by_email(&self.db, &email).await?;
        let verified = match &found {
            Some((_, Some(hash))) => self.verify_password(password, hash),
            // Spend the same effort when the address is unknown, so timing does not tell.
            _ => {
                let _ = self.hash_password(password);
                false
            }
        };
        match found {
            Some((operator, _)) if verified => {
                for check in &checks {
                    self.limits.give_back(check).await?;
                }
                Ok((operator.clone(), self.open_session(operator.id).await?))
            }
            _ => {
                tracing::info!("failed operator sign-in");
                Err(AccountError::WrongCredentials)
            }
        }
    }

    fn hash_password(&self, password: &str) -> Result<String, AccountError> {
        let mut bytes = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| crypto::CryptoError::Random)?;
        let salt = SaltString::encode_b64(&bytes).map_err(|_| crypto::CryptoError::Random)?;
        self.hasher
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| AccountError::Crypto(crypto::CryptoError::Random))
    }

    fn verify_password(&self, password: &str, hash: &str) -> bool {
        PasswordHash::new(hash).is_ok_and(|parsed| {
            self.hasher
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    }

    async fn open_session(&self, operator: OperatorId) -> Result<SecretString, AccountError> {
        let token = crypto::random_token(crypto::prefix::ADMIN_SESSION)?;
        let now = self.clock.now();
        store::insert_session(
            &self.db,
            operator,
            &crypto::hash_token(token.expose()),
            now + SESSION_LIFETIME,
            now,
        )
        .await?;
        Ok(token)
    }

    /// The CSRF token that goes with a session: a MAC of the session token, so nothing more is
    /// stored and it dies with the session.
    pub fn csrf_token(&self, session_token: &str) -> String {
        self.key.mac("admin-csrf", session_token)
    }

    /// Whether `presented` is the CSRF token of `session_token`.
    pub fn csrf_matches(&self, session_token: &str, presented: &str) -> bool {
        crypto::constant_time_eq(&self.csrf_token(session_token), presented)
    }

    /// The operator behind a session cookie.
    pub async fn authenticate_session(&self, token: &str) -> Result<Principal, AccountError> {
        let operator =
            store::find_session_operator(&self.db, &crypto::hash_token(token), self.clock.now())
                .await?
                .ok_or(AccountError::Unauthenticated)?;
        Ok(Principal {
            operator,
            credential: Credential::Session,
        })
    }

    /// The operator behind a personal API token.
    pub async fn authenticate_api_token(&self, token: &str) -> Result<Principal, AccountError> {
        if !token.starts_with(API_TOKEN_PREFIX) {
            return Err(AccountError::WrongTokenKind);
        }
        let (operator, name) =
            store::use_api_token(&self.db, &crypto::hash_token(token), self.clock.now())
                .await?
                .ok_or(AccountError::Unauthenticated)?;
        Ok(Principal {
            operator,
            credential: Credential::ApiToken(name),
        })
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> Result<(), AccountError> {
        store::delete_session(&self.db, &crypto::hash_token(token)).await?;
        Ok(())
    }

    /// Starts a GitHub sign-in: the URL to send the browser to, and the sealed flow to keep in a
    /// short-lived cookie.
    pub fn start_github(&self) -> Result<(String, String), AccountError> {
        let github = self
            .github
            .as_ref()
            .ok_or_else(|| AccountError::GitHub("GitHub sign-in is not configured".into()))?;
        let state = upstream_state();
        let (challenge, verifier) = upstream_pkce();
        let url = github
            .provider
            .authorize_url(&github.callback, state.expose(), &challenge);
        let flow = GitHubFlow {
            state: state.expose().to_owned(),
            verifier: verifier.expose().to_owned(),
            expires: (self.clock.now() + Duration::minutes(10)).timestamp(),
        };
        let json = serde_json::to_string(&flow).map_err(|_| AccountError::Unauthenticated)?;
        Ok((url, self.key.seal(&json, "operator-github-flow")?))
    }

    /// Finishes a GitHub sign-in: checks the state against the flow cookie, redeems the code,
    /// and finds or creates the operator. Returns a session token.
    pub async fn finish_github(
        &self,
        sealed_flow: &str,
        state: &str,
        code: &str,
    ) -> Result<(Operator, SecretString), AccountError> {
        let github = self
            .github
            .as_ref()
            .ok_or_else(|| AccountError::GitHub("GitHub sign-in is not configured".into()))?;
        let expired = || AccountError::GitHub("this sign-in expired; start again".into());
        let flow = self
            .key
            .open(sealed_flow, "operator-github-flow")
            .map_err(|_| expired())?;
        let flow: GitHubFlow = serde_json::from_str(flow.expose()).map_err(|_| expired())?;
        if flow.expires < self.clock.now().timestamp()
            || !crypto::constant_time_eq(&flow.state, state)
        {
            return Err(expired());
        }
        let identity = github
            .provider
            .sign_in(&github.callback, code, &flow.verifier)
            .await
            .map_err(|e| AccountError::GitHub(e.to_string()))?;
        let operator = store::upsert_github_operator(&self.db, &identity, self.clock.now()).await?;
        let session = self.open_session(operator.id).await?;
        Ok((operator, session))
    }

    /// An operator's personal API tokens.
    pub async fn list_api_tokens(
        &self,
        operator: OperatorId,
    ) -> Result<Vec<ApiTokenInfo>, AccountError> {
        Ok(store::list_api_tokens(&self.db, operator).await?)
    }

    /// Makes a personal API token; the token itself is returned only here.
    pub async fn create_api_token(
        &self,
        operator: OperatorId,
        name: &str,
    ) -> Result<(ApiTokenInfo, SecretString), AccountError> {
        let name = name.trim();
        api_types::validate::text("token name", name, 100)
            .map_err(|m| AccountError::invalid("name", m))?;
        let token = crypto::random_token(API_TOKEN_PREFIX)?;
        let info = ApiTokenInfo {
            id: Uuid::new_v4(),
            name: name.to_owned(),
            prefix: token
                .expose()
                .chars()
                .take(API_TOKEN_PREFIX.len() + 6)
                .collect(),
            created_at: self.clock.now(),
            last_used_at: None,
        };
        store::insert_api_token(
            &self.db,
            operator,
            &info,
            &crypto::hash_token(token.expose()),
        )
        .await?;
        Ok((info, token))
    }

    /// Deletes one of an operator's tokens; someone else's is [`AccountError::NotFound`].
    pub async fn delete_api_token(
        &self,
        operator: OperatorId,
        id: Uuid,
    ) -> Result<(), AccountError> {
        if store::delete_api_token(&self.db, operator, id).await? {
            Ok(())
        } else {
            Err(AccountError::NotFound)
        }
    }
}

fn check_email(raw: &str) -> Result<String, AccountError> {
    api_types::validate::email(raw).map_err(|m| AccountError::invalid("email", m))?;
    Ok(raw.trim().to_ascii_lowercase())
}

fn check_name(raw: &str) -> Result<String, AccountError> {
    api_types::validate::text("name", raw, 200).map_err(|m| AccountError::invalid("name", m))?;
    Ok(raw.trim().to_owned())
}

fn check_password(raw: &str) -> Result<(), AccountError> {
    api_types::validate::password(raw).map_err(|m| AccountError::invalid("password", m))
}
