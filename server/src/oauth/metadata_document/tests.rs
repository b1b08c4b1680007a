//! Tests of the metadata-document fetcher: URL shapes, address vetting, and fetches from local
//! servers under the development policy.

use super::*;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::time::Instant;

fn strict() -> FetchPolicy {
    FetchPolicy::default()
}

fn dev() -> FetchPolicy {
    FetchPolicy {
        allow_insecure_loopback: true,
    }
}

#[test]
fn the_address_classifier_admits_only_public_addresses() {
    let public = [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "192.169.0.1",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2a00:1450:4001:82a::200e",
        "2001:200::1",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
    ];
    let forbidden = [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.127.255.255",
        "127.0.0.1",
        "127.255.255.254",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::127.0.0.1",
        "::8.8.8.8",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:192.168.0.1",
        "::ffff:0.0.0.0",
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",
        "64:ff9b:1::1",
        "100::1",
        "fc00::1",
        "fd12:3456:789a::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "2001::1",
        "2001:2::1",
        "2001:db8::1",
        "2002:a00:1::1",
        "3fff::1",
        "5f00::1",
    ];
    for text in public {
        let ip: IpAddr = text.parse().expect("test address");
        assert!(is_public_address(ip), "{text} should be public");
        assert!(is_allowed_address(ip, &strict()), "{text}");
    }
    for text in forbidden {
        let ip: IpAddr = text.parse().expect("test address");
        assert!(!is_public_address(ip), "{text} should be forbidden");
        assert!(!is_allowed_address(ip, &strict()), "{text}");
    }
}

#[test]
fn the_development_knob_admits_loopback_and_nothing_else() {
    for text in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
        let ip: IpAddr = text.parse().expect("test address");
        assert!(is_allowed_address(ip, &dev()), "{text}");
    }
    for text in [
        "10.0.0.1",
        "169.254.169.254",
        "192.168.0.1",
        "fd00::1",
        "0.0.0.0",
        "::",
    ] {
        let ip: IpAddr = text.parse().expect("test address");
        assert!(!is_allowed_address(ip, &dev()), "{text}");
    }
}

#[test]
fn metadata_document_urls_are_recognised_by_shape() {
    for yes in [
        "https://client.example/oauth/client.json",
        "https://client.example/c",
        "https://client.example:8443/c?v=1",
    ] {
        assert!(is_metadata_document_url(yes, &strict()), "{yes}");
    }
    for no in [
        "tgc_0123456789abcdef",
        "",
        "https://client.example",
        "https://client.example/",
        "https://client.example/c#frag",
        "https://user@client.example/c",
        "https://user:pw@client.example/c",
        "http://client.example/c",
        "http://127.0.0.1:8080/c",
        "ftp://client.example/c",
        "client.example/c",
    ] {
        assert!(!is_metadata_document_url(no, &strict()), "{no}");
    }
    for yes in [
        "http://127.0.0.1:8080/c",
        "http://localhost:8080/c",
        "http://[::1]:8080/c",
    ] {
        assert!(is_metadata_document_url(yes, &dev()), "{yes}");
    }
    for no in ["http://10.0.0.1:8080/c", "http://client.example/c"] {
        assert!(!is_metadata_document_url(no, &dev()), "{no}");
    }
}

#[tokio::test]
async fn unsafe_urls_are_refused_before_any_connection() {
    use MetadataDocumentError as E;
    let long = format!("https://client.example/{}", "a".repeat(MAX_URL_BYTES));
    let cases: Vec<(&str, E)> = vec![
        ("http://client.example/c", E::NotHttps),
        ("http://127.0.0.1:9/c", E::NotHttps),
        ("ftp://client.example/c", E::NotHttps),
        (
            "https://user:pw@client.example/c",
            E::BadUrl("it must not contain a user name or password".into()),
        ),
        (
            "https://client.example/c#x",
            E::BadUrl("it must not contain a fragment (#…)".into()),
        ),
        (
            long.as_str(),
            E::BadUrl("it is longer than 2048 bytes".into()),
        ),
        (
            "https://127.0.0.1/x",
            E::ForbiddenAddress("127.0.0.1".into()),
        ),
        ("https://10.0.0.1/x", E::ForbiddenAddress("10.0.0.1".into())),
        ("https://[::1]/x", E::ForbiddenAddress("::1".into())),
        (
            "https://[::ffff:a9fe:a9fe]/x",
            E::ForbiddenAddress("::ffff:169.254.169.254".into()),
        ),
        (
            "https://169.254.169.254/latest/meta-data",
            E::ForbiddenAddress("169.254.169.254".into()),
        ),
    ];
    for (url, expected) in cases {
        assert_eq!(fetch(url, &strict()).await, Err(expected), "{url}");
    }
    for no_path in ["https://client.example", "https://client.example/"] {
        assert!(
            matches!(fetch(no_path, &strict()).await, Err(E::BadUrl(m)) if m.contains("path")),
            "{no_path}"
        );
    }
    for not_canonical in [
        "https://Client.Example/c",
        "https://client.example:443/c",
        "https://client.example/a/../c",
        "https://client.example/./c",
        "https://2130706433/c",
        "https://0x7f.1/c",
        "https://client.example/a b",
    ] {
        assert!(
            matches!(fetch(not_canonical, &strict()).await, Err(E::BadUrl(m)) if m.contains("canonical")),
            "{not_canonical}"
        );
    }
    // The knob relaxes loopback only.
    assert_eq!(
        fetch("https://10.0.0.1/x", &dev()).await,
        Err(E::ForbiddenAddress("10.0.0.1".into()))
    );
    assert_eq!(fetch("http://10.0.0.1/x", &dev()).await, Err(E::NotHttps));
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_without_the_knob() {
    let result = fetch("https://localhost/c", &strict()).await;
    assert!(
        matches!(result, Err(MetadataDocumentError::ForbiddenAddress(_))),
        "{result:?}"
    );
}

fn body(uris: &[&str]) -> serde_json::Value {
    json!({ "client_id": "https://client.example/c.json", "redirect_uris": uris })
}

fn check(value: &serde_json::Value) -> Result<ClientMetadataDocument, MetadataDocumentError> {
    let id = "https://client.example/c.json";
    let url = Url::parse(id).expect("test URL");
    validate_document(id, &url, value.to_string().as_bytes())
}

fn assert_invalid(value: &serde_json::Value, needle: &str) {
    match check(value) {
        Err(MetadataDocumentError::Invalid(reason)) => {
            assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
        }
        other => panic!("expected Invalid for {value}, got {other:?}"),
    }
}

#[test]
fn document_rules_are_enforced() {
    let ok = check(&json!({
        "client_id": "https://client.example/c.json",
        "client_name": "Example",
        "redirect_uris": ["https://client.example/cb", "http://127.0.0.1/cb"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "logo_uri": "https://client.example/logo.png"
    }))
    .expect("valid document");
    assert_eq!(ok.client_name, "Example");
    assert_eq!(ok.redirect_uris.len(), 2);

    let mut v = body(&["https://client.example/cb"]);
    v["client_id"] = json!("https://client.example/c.json/");
    assert_invalid(&v, "differs");
    assert_invalid(
        &json!({ "redirect_uris": ["https://c.example/cb"] }),
        "no client_id",
    );
    assert_invalid(
        &json!({ "client_id": "https://client.example/c.json" }),
        "no redirect_uris",
    );
    assert_invalid(&body(&[]), "between 1 and 5");
    assert_invalid(
        &body(&[
            "https://a.example/1",
            "https://a.example/2",
            "https://a.example/3",
            "https://a.example/4",
            "https://a.example/5",
            "https://a.example/6",
        ]),
        "between 1 and 5",
    );
    assert_invalid(&body(&["http://evil.example/cb"]), "loopback");
    assert_invalid(&body(&["javascript:alert(1)"]), "redirect URI");
    for (field, value, needle) in [
        (
            "token_endpoint_auth_method",
            json!("client_secret_basic"),
            "none",
        ),
        (
            "grant_types",
            json!(["client_credentials"]),
            "client_credentials",
        ),
        (
            "grant_types",
            json!(["authorization_code", "implicit"]),
            "implicit",
        ),
        ("grant_types", json!(["refresh_token"]), "must include"),
        ("response_types", json!(["token"]), "code"),
        ("response_types", json!([]), "code"),
        ("client_secret", json!("s3cret"), "secret"),
        (
            "redirect_uris",
            json!("https://client.example/cb"),
            "invalid type",
        ),
        ("client_name", json!(7), "invalid type"),
    ] {
        let mut v = body(&["https://client.example/cb"]);
        v[field] = value;
        assert_invalid(&v, needle);
    }
    assert_invalid(&json!(["not", "an", "object"]), "JSON object");
    assert_invalid(&json!("https://client.example/c.json"), "JSON object");
    let url = Url::parse("https://client.example/c.json").expect("test URL");
    let repeated = br#"{"client_id": "https://client.example/c.json",
        "client_id": "https://client.example/c.json", "redirect_uris": ["https://c.example/cb"]}"#;
    assert!(matches!(
        validate_document("https://client.example/c.json", &url, repeated),
        Err(MetadataDocumentError::Invalid(m)) if m.contains("duplicate")
    ));
    for not_json in [
        &b"<html>hi</html>"[..],
        b"",
        b"{\"client_id\":",
        b"\xff\xfe",
    ] {
        assert!(
            matches!(
                validate_document("https://client.example/c.json", &url, not_json),
                Err(MetadataDocumentError::NotJson(_))
            ),
            "{not_json:?}"
        );
    }
}

#[test]
fn client_names_are_cleaned_for_display() {
    let mut v = body(&["https://client.example/cb"]);
    v["client_name"] = json!("  \u{202E}Evil\u{2066} App\u{0007}\n ");
    assert_eq!(check(&v).expect("valid").client_name, "Evil App");
    v["client_name"] = json!("x".repeat(150));
    assert_eq!(check(&v).expect("valid").client_name, "x".repeat(100));
    v["client_name"] = json!("é".repeat(150));
    assert_eq!(check(&v).expect("valid").client_name.chars().count(), 100);
    v["client_name"] = json!(" \u{202E}\t ");
    assert_eq!(check(&v).expect("valid").client_name, "client.example");
    let unnamed = check(&body(&["https://client.example/cb"])).expect("valid");
    assert_eq!(unnamed.client_name, "client.example");
}

/// A document server on 127.0.0.1; returns its base URL.
async fn serve() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let document = |State(base): State<String>, path: &str, uris: &[&str]| {
        axum::Json(json!({
            "client_id": format!("{base}{path}"),
            "client_name": "Test Client",
            "redirect_uris": uris,
        }))
    };
    let app =
        Router::new()
            .route(
                "/good",
                get(move |s: State<String>| async move {
                    document(s, "/good", &["http://127.0.0.1/cb"])
                }),
            )
            .route(
                "/mismatch",
                get(move |s: State<String>| async move {
                    document(s, "/elsewhere", &["http://127.0.0.1/cb"])
                }),
            )
            .route(
                "/bad-redirect-uri",
                get(move |s: State<String>| async move {
                    document(s, "/bad-redirect-uri", &["http://evil.example/cb"])
                }),
            )
            .route(
                "/redirect",
                get(|| async {
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, "http://169.254.169.254/")],
                    )
                }),
            )
            .route("/huge", get(|| async { vec![b' '; 1024 * 1024] }))
            .route(
                "/huge-chunked",
                get(|| async {
                    let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b' '; 16 * 1024]));
                    Response::new(Body::from_stream(futures::stream::iter(chunks)))
                }),
            )
            .route("/hang", get(std::future::pending::<Response>))
            .route(
                "/not-json",
                get(|| async { "<html>not a document</html>".into_response() }),
            )
            .with_state(base.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[tokio::test]
async fn a_valid_document_on_loopback_is_accepted_with_the_knob() {
    install_tls_provider();
    let base = serve().await;
    let id = format!("{base}/good");
    let document = fetch(&id, &dev()).await.expect("valid document");
    assert_eq!(
        document,
        ClientMetadataDocument {
            client_id: id.clone(),
            client_name: "Test Client".to_owned(),
            redirect_uris: vec!["http://127.0.0.1/cb".to_owned()],
        }
    );
    // Without the knob the same URL is not even fetched.
    assert_eq!(
        fetch(&id, &strict()).await,
        Err(MetadataDocumentError::NotHttps)
    );
}

#[tokio::test]
async fn a_localhost_name_is_pinned_to_its_vetted_addresses() {
    install_tls_provider();
    let base = serve().await;
    let port = base.rsplit(':').next().expect("port");
    // The document names itself by 127.0.0.1, so the fetch gets through the pinned name and
    // the connection and then fails only on the identity check.
    let result = fetch(&format!("http://localhost:{port}/good"), &dev()).await;
    assert!(
        matches!(&result, Err(MetadataDocumentError::Invalid(m)) if m.contains("differs")),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_client_connects_only_to_pinned_addresses_and_never_looks_names_up() {
    install_tls_provider();
    let base = serve().await;
    let address: SocketAddr = base.trim_start_matches("http://").parse().expect("address");
    let port = address.port();
    // `.invalid` names never resolve, so success proves the pinned address was used.
    let pinned = Url::parse(&format!("http://doc.invalid:{port}/good")).expect("test URL");
    let client = pinned_client(&pinned, &[address]).expect("client");
    let answer = client.get(pinned.as_str()).send().await.expect("pinned");
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    let other = client
        .get(format!("http://other.invalid:{port}/good"))
        .send()
        .await
        .expect_err("an unpinned name must not resolve");
    match request_error(&other) {
        MetadataDocumentError::Unreachable(text) => {
            assert!(text.contains("refusing to resolve"), "{text}");
        }
        unexpected => panic!("{unexpected:?}"),
    }
}

#[tokio::test]
async fn bad_documents_and_answers_are_refused() {
    use MetadataDocumentError as E;
    install_tls_provider();
    let base = serve().await;
    let fetch_path = |path: &str| {
        let id = format!("{base}{path}");
        async move { fetch(&id, &dev()).await }
    };
    assert!(matches!(fetch_path("/mismatch").await, Err(E::Invalid(m)) if m.contains("differs")));
    assert!(
        matches!(fetch_path("/bad-redirect-uri").await, Err(E::Invalid(m)) if m.contains("redirect URI"))
    );
    assert_eq!(fetch_path("/redirect").await, Err(E::Redirected));
    assert_eq!(fetch_path("/huge").await, Err(E::TooLarge));
    assert_eq!(fetch_path("/huge-chunked").await, Err(E::TooLarge));
    assert!(matches!(fetch_path("/not-json").await, Err(E::NotJson(_))));
    assert_eq!(fetch_path("/missing").await, Err(E::BadStatus(404)));
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    install_tls_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let result = fetch(&format!("http://{address}/c"), &dev()).await;
    assert!(
        matches!(&result, Err(MetadataDocumentError::Unreachable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_five_seconds() {
    install_tls_provider();
    let base = serve().await;
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        fetch(&format!("{base}/hang"), &dev()),
    )
    .await
    .expect("fetch must give up by itself");
    assert_eq!(result, Err(MetadataDocumentError::Timeout));
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
}
