//! HTML for the few server-rendered pages end users see (sign-in, payment): escaping and one
//! shared, self-contained layout (no scripts, inline styles only, so a strict CSP holds).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The one HTML escape, shared with the dashboard's charts.
pub use api_types::html::escape;

pub fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f6f7f9;color:#1d2327;margin:0;padding:2rem 1rem}}
main{{max-width:28rem;margin:0 auto;background:#fff;border-radius:12px;padding:1.75rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}}
h1{{font-size:1.3rem;margin:0 0 1rem}} .host{{font-family:ui-monospace,monospace;background:#f0f0f1;padding:.1rem .3rem;border-radius:4px}}
.warn{{background:#fcf9e8;border-left:4px solid #dba617;padding:.6rem .8rem;margin:1rem 0}}
.demo{{background:#fcf0f1;border-left:4px solid #d63638;padding:.6rem .8rem;margin:1rem 0}}
.actions{{display:flex;gap:.75rem;margin-top:1.5rem}} button{{font-size:1rem;padding:.6rem 1.2rem;border-radius:8px;border:1px solid #8c8f94;background:#fff;cursor:pointer}}
button.primary{{background:#2271b1;border-color:#2271b1;color:#fff}} input[type=text]{{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box}}
small{{color:#646970}}
</style></head><body><main>{body}</main></body></html>"#,
        title = escape(title),
    )
}

/// A page as an HTTP response, with the headers every end-user page carries: a strict CSP,
/// no framing, no caching, no referrer. (The one HTTP helper outside `routes.rs`: both the
/// sign-in and the payment routes answer with these pages.)
pub fn page(status: StatusCode, html: String) -> Response {
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        // Our own forms still carry their origin; other sites get no referrer at all.
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Whether a form POST comes from one of our own pages. A browser says where a request comes
/// from (`Sec-Fetch-Site`, and `Origin` on every POST); a form posted by another site — the
/// start of a login or payment CSRF — is refused before anything changes. Requests that say
/// neither (non-browser clients) are left to the form's cookie binding.
pub fn form_from_our_pages(
    headers: &axum::http::HeaderMap,
    public: &crate::config::PublicUrl,
) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if matches!(fetch_site.as_deref(), Some("cross-site" | "same-site")) {
        return false;
    }
    match headers.get(header::ORIGIN).map(|v| v.to_str()) {
        None => true,
        // A page that sends no referrer makes the browser say `Origin: null`; then only the
        // browser's own `Sec-Fetch-Site: same-origin` vouches for the form.
        Some(Ok("null")) => fetch_site.as_deref() == Some("same-origin"),
        Some(Ok(origin)) => public.allows_origin(origin),
        Some(Err(_)) => false,
    }
}

/// The refusal of a form posted from elsewhere (see [`form_from_our_pages`]).
pub fn foreign_form(title: &str) -> Response {
    page(
        StatusCode::FORBIDDEN,
        layout(
            title,
            &format!(
                "<h1>{}</h1><p>This form was sent from another site, so it was not accepted. If you meant to do this, start again from your application.</p>",
                escape(title)
            ),
        ),
    )
}

/// A `Set-Cookie` value for a short-lived cookie that binds a form to the browser that was
/// shown it: HttpOnly, `SameSite=Lax`, `Path=/`, and `Secure` on https (required by the
/// `__Host-` prefix the caller puts in the name there).
pub fn binding_cookie(
    name: &str,
    value: &str,
    public: &crate::config::PublicUrl,
) -> Option<HeaderValue> {
    let secure = if public.as_str().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age=600; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

/// The cookies a request carries, by name.
pub fn cookies(headers: &axum::http::HeaderMap) -> std::collections::HashMap<String, String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}
