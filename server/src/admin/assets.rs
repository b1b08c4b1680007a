//! Serves the dashboard: the files `scripts/build-frontend` wrote into
//! `TOLLGATE_ADMIN_ASSETS` (default `frontend/dist`). `/admin/pkg/…` are the wasm, JS and CSS
//! files; every other `/admin` path is the app's single page (the app routes in the browser).

use crate::app::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The dashboard's Content-Security-Policy: its own scripts (and wasm) only, no framing.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
                   style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self' https://github.com";

fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// `/admin` and every page below it: the app's page.
pub async fn page(State(state): State<AppState>) -> Response {
    let index = state.config.admin_assets.join("index.html");
    match tokio::fs::read_to_string(&index).await {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            harden(response)
        }
        Err(_) => harden(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Html(crate::html::layout(
                    "Dashboard not built",
                    &format!(
                        "<h1>The dashboard is not built</h1><p>No <code>{}</code>. Run \
                         <code>scripts/build-frontend</code> (the run command does it), or set \
                         <code>TOLLGATE_ADMIN_ASSETS</code> to the folder it wrote. The admin API \
                         under <code>/api/v1</code> works without it.</p>",
                        crate::html::escape(&index.display().to_string())
                    ),
                )),
            )
                .into_response(),
        ),
    }
}

/// `/admin/pkg/{file}`: the built wasm, JS and CSS.
pub async fn file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    // Only plain file names: no traversal out of the folder.
    let safe = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.');
    if !safe {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = state.config.admin_assets.join("pkg").join(&name);
    let Ok(bytes) = tokio::fs::read(&path).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = match name.rsplit('.').next() {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    harden(response)
}
