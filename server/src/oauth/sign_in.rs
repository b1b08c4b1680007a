//! The upstream sign-in after consent (GitHub, or the marked local sign-in for demos), ending in an authorization code.

use super::authorize::error_redirect;
use super::github::IdentityProvider;
use super::{
    CODE_TTL, FlowError, IdentityError, OAuthService, Upstream, UpstreamIdentity, local, store,
};
use crate::crypto;
use crate::tenant::Tenant;
use std::collections::HashMap;

impl OAuthService {
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

    pub(super) async fn issue_code(
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
                created_at: now,
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
}

pub(super) fn verifier_context(request_id: &str) -> String {
    format!("oauth_pending:{request_id}:upstream_verifier")
}
