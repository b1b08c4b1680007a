//! Stripe's error bodies, and the errors injected failures answer with.

use super::*;

pub(super) fn stripe_error(
    status: StatusCode,
    kind: &str,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Reply {
    let mut error = Map::new();
    if let Some(code) = code {
        error.insert("code".into(), json!(code));
        error.insert(
            "doc_url".into(),
            json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            )),
        );
    }
    error.insert("message".into(), json!(message));
    if let Some(param) = param {
        error.insert("param".into(), json!(param));
    }
    error.insert("type".into(), json!(kind));
    Reply::json(status, &json!({ "error": error }))
}

pub(super) fn invalid_request(
    status: StatusCode,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Reply {
    stripe_error(status, "invalid_request_error", code, param, message)
}

pub(super) fn bad_param(param: &str, message: &str) -> Reply {
    invalid_request(StatusCode::BAD_REQUEST, None, Some(param), message)
}

pub(super) fn missing(param: &str) -> Reply {
    invalid_request(
        StatusCode::BAD_REQUEST,
        Some("parameter_missing"),
        Some(param),
        &format!("Missing required param: {param}."),
    )
}

pub(super) fn unknown_parameter(param: &str) -> Reply {
    invalid_request(
        StatusCode::BAD_REQUEST,
        Some("parameter_unknown"),
        Some(param),
        &format!("Received unknown parameter: {param}"),
    )
}

pub(super) fn no_such(status: StatusCode, kind: &str, id: &str, param: &str) -> Reply {
    invalid_request(
        status,
        Some("resource_missing"),
        Some(param),
        &format!("No such {kind}: '{id}'"),
    )
}

/// The error a [`Failure`] answers with: Stripe's shape for that status.
pub(super) fn injected(status: u16) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status.as_u16() {
        401 => invalid_request(status, None, None, NO_API_KEY),
        402 => stripe_error(
            status,
            "card_error",
            Some("card_declined"),
            None,
            "Your card was declined.",
        ),
        404 => invalid_request(
            status,
            Some("resource_missing"),
            Some("id"),
            "No such object",
        ),
        409 => invalid_request(
            status,
            Some("lock_timeout"),
            None,
            "This object cannot be accessed right now because another API request or Stripe \
             process is currently accessing it. If you see this error intermittently, retry \
             the request. If you see this error frequently and are making multiple concurrent \
             requests to a single object, make your requests serially or at a lower rate. See \
             https://stripe.com/docs/rate-limits#object-lock-timeouts for more details.",
        ),
        429 => invalid_request(
            status,
            Some("rate_limit"),
            None,
            "Request rate limit exceeded. You can learn more about rate limits here \
             https://stripe.com/docs/rate-limits.",
        ),
        500.. => stripe_error(status, "api_error", None, None, SERVER_ERROR),
        _ => invalid_request(
            status,
            None,
            None,
            &format!("Simulated failure ({})", status.as_u16()),
        ),
    }
}
