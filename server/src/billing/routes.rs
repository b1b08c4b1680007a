//! The HTTP face of billing: the tenant's Stripe webhook, the end user's payment pages
//! (pay, success, cancel), the account page, and the sandbox's test checkout; and the admin
//! API's wire types made from billing's domain types (the admin routes call billing's
//! services and answer with these).

use super::{BillingError, WebhookError, WebhookOutcome, pages};
use crate::app::AppState;
use crate::html::{binding_cookie, foreign_form, form_from_our_pages, page};
use crate::tenant::{Tenant, TenantError};
use api_types::wire;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// The tenant of a payment page; a deleted one is a 410 page, a missing one a 404 page.
async fn tenant(state: &AppState, slug: &str) -> Result<Tenant, Response> {
    state
        .tenants
        .get_tenant_by_slug(slug)
        .await
        .map_err(|error| match error {
            TenantError::TenantGone => page(
                StatusCode::GONE,
                pages::message(
                    "This service was deleted",
                    "Its operator deleted it; its payment pages are no longer available.",
                ),
            ),
            TenantError::Database(_) => page(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::message(
                    "Try again shortly",
                    "This service is unavailable right now. Please try again in a minute.",
                ),
            ),
            _ => page(
                StatusCode::NOT_FOUND,
                pages::message("Not found", "There is no such service here."),
            ),
        })
}

fn server_error(error: &BillingError) -> Response {
    tracing::error!(%error, "billing page failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message(
            "Try again shortly",
            "Payments are unavailable right now. Please try again in a minute.",
        ),
    )
}

/// `POST /t/{slug}/webhooks/stripe`: verified on the raw body, applied once.
pub async fn stripe_webhook(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // 410 tells Stripe the endpoint is gone for good (it stops retrying sooner than on a 404
    // that may be a typo); a database failure is a 503, which Stripe retries.
    let tenant = match state.tenants.get_tenant_by_slug(&slug).await {
        Ok(tenant) => tenant,
        Err(TenantError::TenantGone) => {
            return (
                StatusCode::GONE,
                Json(json!({
                    "error": "gone",
                    "message": "this tenant was deleted; remove this webhook endpoint in Stripe"
                })),
            )
                .into_response();
        }
        Err(TenantError::Database(error)) => {
            tracing::error!(tenant.slug = %slug, %error, "tenant lookup failed; Stripe will retry");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "retry later"})),
            )
                .into_response();
        }
        Err(_) => {
            return (StatusCode::NOT_FOUND, Json(json!({"error": "not_found"}))).into_response();
        }
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match state
        .billing
        .handle_stripe_webhook(&tenant, &body, signature)
        .await
    {
        Ok(outcome) => {
            let outcome = match outcome {
                WebhookOutcome::Applied => "applied",
                WebhookOutcome::Duplicate => "duplicate",
                WebhookOutcome::Ignored => "ignored",
            };
            Json(json!({"received": true, "outcome": outcome})).into_response()
        }
        Err(WebhookError::Billing(error)) => {
            tracing::error!(tenant.slug = %slug, %error, "webhook could not be applied; Stripe will retry");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "retry later"})),
            )
                .into_response()
        }
        Err(error) => {
            tracing::warn!(tenant.slug = %slug, %error, "webhook refused");
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": error.to_string()})),
            )
                .into_response()
        }
    }
}

fn unknown_payment_link() -> Response {
    page(
        StatusCode::NOT_FOUND,
        pages::message(
            "Not found",
            "This payment link is unknown. Run the tool again in your assistant for a new one.",
        ),
    )
}

/// The purchase id of a payment link. The path is parsed here rather than by the extractor so
/// that a mangled link gets our page, not a parser's message.
fn purchase_id(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw).ok()
}

/// A purchase rendered by `render`, or a 404 page.
async fn purchase_page(
    state: &AppState,
    slug: &str,
    purchase: &str,
    render: fn(&str, &super::PurchaseView) -> String,
) -> Response {
    let tenant = match tenant(state, slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(purchase) = purchase_id(purchase) else {
        return unknown_payment_link();
    };
    match state.billing.purchase(&tenant, purchase).await {
        Ok(Some(view)) => page(StatusCode::OK, render(&tenant.name, &view)),
        Ok(None) => unknown_payment_link(),
        Err(e) => server_error(&e),
    }
}

/// `GET /t/{slug}/pay/{purchase}`: what is bought, then on to checkout.
pub async fn pay_page(
    State(state): State<AppState>,
    Path((slug, purchase)): Path<(String, String)>,
) -> Response {
    purchase_page(&state, &slug, &purchase, pages::pay).await
}

/// `GET /t/{slug}/pay/{purchase}/success`: paid, or pending until confirmed.
pub async fn success_page(
    State(state): State<AppState>,
    Path((slug, purchase)): Path<(String, String)>,
) -> Response {
    let tenant = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(purchase) = purchase_id(&purchase) else {
        return unknown_payment_link();
    };
    match state.billing.confirm_purchase(&tenant, purchase).await {
        Ok(Some(view)) => {
            if let Some(url) = view.offer.as_ref().and_then(|o| o.success_url.clone())
                && view.status == super::PurchaseStatus::Paid
            {
                let mut response = StatusCode::SEE_OTHER.into_response();
                if let Ok(value) = HeaderValue::from_str(&url) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                return response;
            }
            page(StatusCode::OK, pages::success(&tenant.name, &view))
        }
        Ok(None) => unknown_payment_link(),
        Err(e) => server_error(&e),
    }
}

/// `GET /t/{slug}/pay/{purchase}/cancel`.
pub async fn cancel_page(
    State(state): State<AppState>,
    Path((slug, purchase)): Path<(String, String)>,
) -> Response {
    purchase_page(&state, &slug, &purchase, pages::cancelled).await
}

/// `GET /t/{slug}/sandbox/checkout/{session}`: the sandbox's test checkout.
pub async fn sandbox_page(
    State(state): State<AppState>,
    Path((slug, session)): Path<(String, String)>,
) -> Response {
    let tenant = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if tenant.settings.stripe.is_some() || state.config.production {
        return page(
            StatusCode::NOT_FOUND,
            pages::message("Not found", "This service takes real payments."),
        );
    }
    let view = match state.billing.sandbox_checkout(&tenant, &session).await {
        Ok(Some(view)) => view,
        Ok(None) => {
            return page(
                StatusCode::NOT_FOUND,
                pages::message(
                    "Not found",
                    "This test checkout is unknown. Run the tool again in your assistant for a new one.",
                ),
            );
        }
        Err(e) => return server_error(&e),
    };
    let (cookie_name, secret, csrf) = match state.billing.sandbox_form(&session) {
        Ok(binding) => binding,
        Err(e) => return server_error(&e),
    };
    let mut response = page(
        StatusCode::OK,
        pages::sandbox(
            &tenant.name,
            &view,
            &format!("/t/{slug}/sandbox/checkout/{session}"),
            &csrf,
        ),
    );
    if let Some(cookie) = binding_cookie(&cookie_name, secret.expose(), &state.config.public_url) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The sandbox checkout form.
#[derive(Deserialize)]
pub struct SandboxForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /t/{slug}/sandbox/checkout/{session}`: "pays" in test mode.
pub async fn sandbox_pay(
    State(state): State<AppState>,
    Path((slug, session)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SandboxForm>,
) -> Response {
    if !form_from_our_pages(&headers, &state.config.public_url) {
        return foreign_form("Payment not taken");
    }
    let tenant = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !state
        .billing
        .sandbox_form_matches(&session, &crate::html::cookies(&headers), &form.csrf)
    {
        return page(
            StatusCode::FORBIDDEN,
            pages::message(
                "Payment not taken",
                "This test checkout was opened in another browser. Open the payment link again here.",
            ),
        );
    }
    match state.billing.pay_sandbox(&tenant, &session).await {
        Ok(true) => page(
            StatusCode::OK,
            pages::message(
                "Paid (test mode)",
                "The test payment went through. Return to your assistant and run the tool again.",
            ),
        ),
        Ok(false) => page(
            StatusCode::NOT_FOUND,
            pages::message("Not found", "This test checkout is unknown."),
        ),
        Err(e) => server_error(&e),
    }
}

/// The signed account link's parameters.
#[derive(Deserialize)]
pub struct AccountQuery {
    // Strings, parsed below: a mangled link gets our "expired" page, not a parser's message.
    user: Option<String>,
    expires: Option<String>,
    sig: Option<String>,
}

/// `GET /t/{slug}/account?user=&expires=&sig=`: plans, remaining calls, usage and the portal.
/// Reached through a short-lived signed link that the `billing_status` and `billing_portal`
/// tools hand to the signed-in user.
pub async fn account_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(query): Query<AccountQuery>,
) -> Response {
    let tenant = match tenant(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (Some(user), Some(expires), Some(sig)) = (query.user, query.expires, query.sig) else {
        return page(
            StatusCode::UNAUTHORIZED,
            pages::message(
                "Sign in from your assistant",
                "Ask your assistant for your billing status: it gives you a personal link to this page.",
            ),
        );
    };
    let parsed = Uuid::parse_str(&user).ok().zip(expires.parse::<i64>().ok());
    let verified = match parsed {
        Some((user, expires)) => {
            state
                .billing
                .verify_account_link(&tenant, user, expires, &sig, &state.oauth)
                .await
        }
        None => None,
    };
    let Some(user) = verified else {
        return page(
            StatusCode::FORBIDDEN,
            pages::message(
                "Link expired",
                "This account link has expired. Ask your assistant for a new one.",
            ),
        );
    };
    let plans = match state.billing.status(&tenant, &user).await {
        Ok(plans) => plans,
        Err(e) => return server_error(&e),
    };
    let portal = state.billing.portal_url(&tenant, &user).await.ok();
    page(
        StatusCode::OK,
        pages::account(&tenant.name, &user, &plans, portal.as_deref()),
    )
}

impl From<super::ConnectionCheck> for wire::ConnectionTest {
    fn from(check: super::ConnectionCheck) -> Self {
        Self {
            ok: check.ok,
            message: check.message,
        }
    }
}

impl From<super::ProviderPrice> for wire::StripePrice {
    fn from(price: super::ProviderPrice) -> Self {
        Self {
            id: price.id,
            product: price.product,
            amount: price.amount,
            currency: price.currency,
            kind: price.kind.as_str().to_owned(),
            interval: price.interval,
            text: price.text,
        }
    }
}

impl From<super::CustomerRecord> for wire::Customer {
    fn from(record: super::CustomerRecord) -> Self {
        Self {
            id: record.user.id.to_string(),
            login: record.user.login,
            name: record.user.display_name,
            email: record.user.email,
            created_at: rfc3339(record.user.created_at),
            calls_this_month: record.calls_this_month,
            plans: record
                .plans
                .into_iter()
                .map(|plan| wire::CustomerPlan {
                    offer: plan.offer,
                    status: plan.state.as_str().to_owned(),
                    calls_remaining: plan.calls_remaining,
                    period_end: plan.period_end.map(rfc3339),
                })
                .collect(),
            payments: record
                .payments
                .into_iter()
                .map(|payment| wire::CustomerPayment {
                    id: payment.id.to_string(),
                    offer: payment.offer,
                    status: payment.status.as_str().to_owned(),
                    created_at: rfc3339(payment.created_at),
                    amount_text: payment.amount_text,
                })
                .collect(),
            usage: record
                .usage
                .into_iter()
                .map(|usage| wire::CustomerUsage {
                    tool: usage.tool,
                    calls: usage.calls,
                    period: usage.period,
                })
                .collect(),
        }
    }
}

fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
