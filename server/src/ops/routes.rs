//! `/healthz`, `/readyz` and `/metrics`, and the middleware every request goes through.

use crate::app::AppState;
use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if crate::db::ping(&state.db).await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
    }
}

/// Prometheus text exposition. It names every tenant and tool, so it is not public: with
/// `TOLLGATE_METRICS_TOKEN` set it needs `Authorization: Bearer <token>`; without one it is
/// served only in development mode (404 in production).
pub async fn metrics(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    match &state.config.metrics_token {
        Some(expected) => {
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !crate::crypto::constant_time_eq(
                &crate::crypto::hash_token(presented),
                &crate::crypto::hash_token(expected.expose()),
            ) {
                let mut response =
                    (StatusCode::UNAUTHORIZED, "metrics need a bearer token").into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"metrics\""),
                );
                return response;
            }
        }
        None if state.config.production => {
            return (StatusCode::NOT_FOUND, "not found").into_response();
        }
        None => {}
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Counts every answered request by its route template and status.
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state
        .metrics
        .http_request(&route, response.status().as_u16());
    response
}

/// A request body that notes when it has been read to its end.
struct NoteEnd {
    inner: BodyDataStream,
    ended: Arc<AtomicBool>,
}

impl Stream for NoteEnd {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.poll_next_unpin(cx);
        if let Poll::Ready(None) = next {
            self.ended.store(true, Ordering::Release);
        }
        next
    }
}

/// Says `Connection: close` on an answer given before the request's body was read to its end
/// (a 401, 403 or 413 decided from the headers alone). HTTP/1.1 can carry the next request on
/// a connection only once this one's body is read, so hyper closes the connection after such
/// an answer; without the header a client may send its next request on it as it closes, and
/// see the connection drop without an answer.
pub async fn close_when_body_unread(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|length| length > 0);
    if !has_body {
        return next.run(request).await;
    }
    let ended = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let body = Body::from_stream(NoteEnd {
        inner: body.into_data_stream(),
        ended: ended.clone(),
    });
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if !ended.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// `Strict-Transport-Security` on every answer when the public URL is https: browsers then
/// never try the plain-http address (where a network attacker could strip TLS) for a year.
pub async fn strict_transport_security(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    if state.config.public_url.as_str().starts_with("https://") {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}
