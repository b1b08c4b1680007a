//! The authorization request and the consent decision, bound to the browser that was shown the consent page.

use super::github::IdentityProvider;
use super::sign_in::verifier_context;
use super::{
    AuthorizeParams, ConsentOutcome, ConsentPrompt, FlowError, OAuthService, PENDING_TTL,
    RedirectUri, SCOPE, Upstream, github, local, pkce, store,
};
use crate::crypto;
use crate::tenant::Tenant;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

impl OAuthService {
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
            .filter(|c| pkce::is_well_formed(c))
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
                created_at: now,
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

    pub(super) fn check_binding(
        &self,
        pending: &store::PendingRow,
        request_id: &str,
        cookies: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<(), FlowError> {
        check_binding(pending, &self.binding_cookie_name(request_id), cookies, now)
    }
}

pub(super) fn check_binding(
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

pub(super) fn error_redirect(
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
