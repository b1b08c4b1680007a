//! Serves the dashboard: the files `scripts/build-frontend` wrote into
//! `TOLLGATE_ADMIN_ASSETS` (default `frontend/dist`). `/admin/pkg/…` are the wasm, JS and CSS
//! files; every other `/admin` path is the app's single page (the app routes in the browser).

use crate::app::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The dashboard's Content-Security-Policy: its own scripts (and wasm) only, plus the page's own
/// inline bootstrap script by hash; no framing, no plugins.
fn csp(inline_script_hashes: &[String]) -> String {
    let hashes: String = inline_script_hashes
        .iter()
        .map(|h| format!(" 'sha256-{h}'"))
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
}

/// The SHA-256 (base64) of every inline `<script>` of a page, for its CSP.
fn inline_script_hashes(html: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let tag = &after[..open_end];
        let body_start = &after[open_end + 1..];
        let Some(close) = body_start.find("</script>") else {
            break;
        };
        if !tag.contains("src=") {
            let digest =
                ring::digest::digest(&ring::digest::SHA256, &body_start.as_bytes()[..close]);
            hashes.push(base64::engine::general_purpose::STANDARD.encode(digest.as_ref()));
        }
        rest = &body_start[close..];
    }
    hashes
}

fn harden(mut response: Response, inline_hashes: &[String]) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp(inline_hashes)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
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
            let hashes = inline_script_hashes(&html);
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            harden(response, &hashes)
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
            &[],
        ),
    }
}

/// Whether an `Accept-Encoding` value takes `coding` (listed without `q=0`).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|listed| {
        let mut parts = listed.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        name.eq_ignore_ascii_case(coding) && !refused
    })
}

/// The precompressed copies `scripts/build-frontend` writes, best first: Brotli (the wasm is
/// about 30 % smaller than with gzip), then gzip. Browsers send `br` on HTTPS only.
const ENCODINGS: [(&str, &str); 2] = [("br", "br"), ("gzip", "gz")];

/// `/admin/pkg/{file}`: the built wasm, JS and CSS. `scripts/build-frontend` also writes
/// Brotli and gzip copies (`{file}.br`, `{file}.gz`), sent to browsers that take them. Each answer carries an `ETag` (size and modification time of the file
/// sent), so a reload revalidates with a 304 instead of downloading the app again.
pub async fn file(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    // Only plain file names: no traversal out of the folder.
    let safe = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.');
    if !safe {
        return StatusCode::NOT_FOUND.into_response();
    }
    let plain = state.config.admin_assets.join("pkg").join(&name);
    let accept_encoding = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut chosen = None;
    for (coding, suffix) in ENCODINGS {
        if !accepts(accept_encoding, coding) {
            continue;
        }
        let compressed = plain.with_file_name(format!("{name}.{suffix}"));
        if let Ok(metadata) = tokio::fs::metadata(&compressed).await {
            chosen = Some((compressed, metadata, Some(coding)));
            break;
        }
    }
    let (path, metadata, encoding) = match chosen {
        Some(found) => found,
        None => match tokio::fs::metadata(&plain).await {
            Ok(metadata) => (plain, metadata, None),
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!(
        "\"{:x}-{modified:x}{}\"",
        metadata.len(),
        encoding
            .map(|coding| format!("-{coding}"))
            .unwrap_or_default()
    );
    let content_type = match name.rsplit('.').next() {
        Some("wasm") => "application/wasm",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    };
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match tokio::fs::read(&path).await {
            Ok(bytes) => bytes.into_response(),
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(coding) = encoding {
        out.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    harden(response, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coding_is_taken_unless_refused() {
        assert!(accepts("gzip, deflate, br, zstd", "gzip"));
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5", "gzip"));
        assert!(!accepts("gzip;q=0, br", "gzip"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("identity", "gzip"));
        assert!(!accepts("x-gzip-not", "gzip"));
        assert!(!accepts("", "br"));
    }

    #[test]
    fn only_inline_scripts_are_hashed() {
        let html = "<script src=\"/a.js\"></script><script type=\"module\">init();</script>";
        // echo -n 'init();' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            inline_script_hashes(html),
            vec!["GEnM5q1nYY/iACnyMTdov+tNp9OFcBnnDgNXUXaVNXc=".to_owned()]
        );
    }
}
