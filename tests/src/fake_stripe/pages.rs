//! The hosted pages: Checkout (`/c/pay/…`) and the customer portal (`/p/session/…`).

use super::*;

/// `/c/pay/{session}` (Checkout) and `/p/session/{session}` (the portal), as plain pages.
pub(super) fn page(shared: &Shared, request: &Request) -> Response {
    let account = shared.account();
    let body = match request.path.split('/').collect::<Vec<_>>().as_slice() {
        ["", "c", "pay", id] => account
            .sessions
            .iter()
            .find(|session| session.object["id"] == *id)
            .map(|session| {
                let object = &session.object;
                format!(
                    "<h1>Pay {} {}</h1><p>Checkout Session {id}: {}</p>",
                    object["amount_total"],
                    object["currency"].as_str().unwrap_or_default(),
                    object["status"].as_str().unwrap_or_default(),
                )
            }),
        ["", "p", "session", id] => account
            .portal_sessions
            .iter()
            .find(|session| session["id"] == *id)
            .map(|session| {
                format!(
                    "<h1>Billing for {}</h1><p><a href=\"{}\">Return</a></p>",
                    session["customer"].as_str().unwrap_or_default(),
                    session["return_url"].as_str().unwrap_or_default(),
                )
            }),
        _ => None,
    };
    let (status, body) = match body {
        Some(body) => (StatusCode::OK, body),
        None => (
            StatusCode::NOT_FOUND,
            "<h1>Something went wrong</h1>".into(),
        ),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!("<!DOCTYPE html>\n<html lang=\"en\"><body>{body}</body></html>\n"),
    )
        .into_response()
}
