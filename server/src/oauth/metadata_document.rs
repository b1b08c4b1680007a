//! Client ID Metadata Documents: fetching an https `client_id` URL's client metadata safely.
//!
//! An MCP client may use as its `client_id` an https URL that serves its client metadata
//! (draft-ietf-oauth-client-id-metadata-document). Fetching a URL named by a stranger is a
//! server-side request forgery risk, so [`fetch`] only talks to public internet addresses, pins
//! the connection to the addresses it vetted (no second DNS lookup that could be rebound), never
//! follows redirects, and caps the time and the bytes it spends.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;
use url::{Host, Url};

use super::RedirectUri;

/// The longest `client_id` URL fetched, in bytes.
const MAX_URL_BYTES: usize = 2048;
/// The largest document read, in bytes.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the whole fetch (resolving, connecting, reading) may take.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);
/// The most redirect URIs a document may list.
const MAX_REDIRECT_URIS: usize = 5;
/// The longest client name kept, in characters.
const MAX_NAME_CHARS: usize = 100;
/// Sent with every fetch, so that document hosts can tell who is asking.
const USER_AGENT: &str = concat!(
    "Tollgate/",
    env!("CARGO_PKG_VERSION"),
    " (OAuth client metadata fetch)"
);

/// A validated client metadata document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMetadataDocument {
    /// The `client_id`: exactly the URL the document was fetched from.
    pub client_id: String,
    /// The name to show on the consent page: trimmed, without control or bidirectional-override
    /// characters, at most 100 characters; the URL's host when the document names none.
    pub client_name: String,
    /// One to five redirect URIs, each accepted by [`RedirectUri::parse`].
    pub redirect_uris: Vec<String>,
}

/// Why a client metadata document could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetadataDocumentError {
    /// The URL is not `https` (and not an allowed development loopback URL).
    #[error("the client_id URL must use https to be fetched as a client metadata document")]
    NotHttps,
    /// The URL is not a usable document URL; the text says why.
    #[error("the client_id is not a usable client metadata document URL: {0}")]
    BadUrl(String),
    /// The host is, or resolves to, an address that is not on the public internet.
    #[error(
        "the client_id host is or resolves to {0}, which is not a public internet address; \
         client metadata documents must be served from the public internet"
    )]
    ForbiddenAddress(String),
    /// The host could not be resolved or reached; the text has the details.
    #[error("the client metadata document could not be fetched: {0}")]
    Unreachable(String),
    /// The document is larger than 64 KiB.
    #[error("the client metadata document is larger than the 64 KiB allowed")]
    TooLarge,
    /// Resolving, connecting or reading took longer than allowed.
    #[error(
        "the client metadata document did not arrive in time (3 s to connect, 5 s in all); \
         its host is too slow or not answering"
    )]
    Timeout,
    /// The server answered with a status other than 200 (and not a redirect).
    #[error("fetching the client metadata document returned HTTP status {0}; 200 is required")]
    BadStatus(u16),
    /// The server answered with a redirect, which is not followed.
    #[error(
        "the client metadata document URL answered with a redirect, which is not followed; \
         the document must be served at the client_id URL itself"
    )]
    Redirected,
    /// The body is not JSON; the text is the parser's complaint.
    #[error("the client metadata document is not JSON: {0}")]
    NotJson(String),
    /// The JSON is not an acceptable client metadata document; the text says why.
    #[error("the client metadata document is not acceptable: {0}")]
    Invalid(String),
}

/// Knobs: the only relaxation is for local development and tests.
#[derive(Clone, Debug, Default)]
pub struct FetchPolicy {
    /// Allow `http://127.0.0.1:<port>/…`, `http://[::1]:<port>/…` and `http://localhost:<port>/…`
    /// document URLs, and loopback addresses for any document host (development and tests only;
    /// production refuses the setting). Private and other non-public addresses stay refused.
    pub allow_insecure_loopback: bool,
}

/// Whether a `client_id` is a metadata-document URL, i.e. should be fetched rather than looked up
/// among registered clients: an absolute `https` URL (or, under
/// [`FetchPolicy::allow_insecure_loopback`], an `http` loopback URL) with a path other than `/`,
/// and without a fragment or user information.
///
/// Length and canonical form are left to [`fetch`], so that such a `client_id` gets a precise
/// refusal rather than "unknown client".
pub fn is_metadata_document_url(client_id: &str, policy: &FetchPolicy) -> bool {
    document_url_shape(client_id, policy).is_ok()
}

/// Fetches and validates the document at `client_id`.
///
/// - Only `https://` URLs (see [`FetchPolicy`] for the development exception), written in
///   canonical form, with a path other than `/`, without user information or a fragment, and at
///   most 2048 bytes long.
/// - The host is resolved once, and refused if any of its addresses is not a public internet
///   address (loopback, private, link-local, shared, documentation, benchmarking, multicast,
///   reserved, and their IPv4-mapped and NAT64 IPv6 forms, unique-local and so on). IP-literal
///   hosts are checked the same way.
/// - The request then goes only to the vetted addresses (DNS is pinned and any other lookup
///   refused, no proxy), follows no redirect (a 3xx is [`MetadataDocumentError::Redirected`]),
///   and may take 3 s to connect and 5 s in all; at most 64 KiB of body are read.
/// - The answer must be a 200 with a JSON object whose `client_id` equals the URL exactly, with
///   one to five valid `redirect_uris`, no secret, `token_endpoint_auth_method` (if present)
///   `none`, `grant_types` (if present) within `authorization_code` and `refresh_token` and
///   including the first, and `response_types` (if present) exactly `code`.
///
/// Every call makes a fresh connection; callers should cache the result.
pub async fn fetch(
    client_id: &str,
    policy: &FetchPolicy,
) -> Result<ClientMetadataDocument, MetadataDocumentError> {
    let url = document_url(client_id, policy)?;
    match tokio::time::timeout(TOTAL_TIMEOUT, fetch_body(&url, policy)).await {
        Ok(body) => validate_document(client_id, &url, &body?),
        Err(_elapsed) => Err(MetadataDocumentError::Timeout),
    }
}

/// The checks that make a string a metadata-document URL at all (see
/// [`is_metadata_document_url`]).
fn document_url_shape(raw: &str, policy: &FetchPolicy) -> Result<Url, MetadataDocumentError> {
    let bad = |reason: &str| MetadataDocumentError::BadUrl(reason.to_owned());
    let url = Url::parse(raw).map_err(|_| bad("it is not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_insecure_loopback && is_loopback_host(&url) => {}
        _ => return Err(MetadataDocumentError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it must not contain a user name or password"));
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err(bad("it must not contain a fragment (#…)"));
    }
    if url.host().is_none() {
        return Err(bad("it needs a host"));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(bad(
            "it needs a path naming the document, such as https://client.example/oauth/client.json",
        ));
    }
    Ok(url)
}

/// All URL checks [`fetch`] applies before touching the network.
fn document_url(raw: &str, policy: &FetchPolicy) -> Result<Url, MetadataDocumentError> {
    if raw.len() > MAX_URL_BYTES {
        return Err(MetadataDocumentError::BadUrl(format!(
            "it is longer than {MAX_URL_BYTES} bytes"
        )));
    }
    let url = document_url_shape(raw, policy)?;
    // The document's `client_id` must equal the URL exactly; insisting on the canonical spelling
    // also refuses dot segments, default ports, upper-case hosts and numeric host tricks, so that
    // one document has one identity.
    if url.as_str() != raw {
        return Err(MetadataDocumentError::BadUrl(format!(
            "it must be written in canonical form (lower-case scheme and host, no default port, \
             no dot segments, special characters percent-encoded), that is `{url}`"
        )));
    }
    Ok(url)
}

/// Whether the URL's host is one the development `http` exception covers.
fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        Some(Host::Domain(domain)) => domain == "localhost",
        None => false,
    }
}

/// Resolves the host once and keeps its addresses only if every one may be connected to.
async fn vetted_addresses(
    url: &Url,
    policy: &FetchPolicy,
) -> Result<Vec<SocketAddr>, MetadataDocumentError> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| MetadataDocumentError::BadUrl("it has no port".to_owned()))?;
    let mut addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(domain)) => tokio::net::lookup_host((domain, port))
            .await
            .map_err(|e| {
                MetadataDocumentError::Unreachable(format!("cannot resolve the host {domain}: {e}"))
            })?
            .collect(),
        None => return Err(MetadataDocumentError::BadUrl("it needs a host".to_owned())),
    };
    if addrs.is_empty() {
        return Err(MetadataDocumentError::Unreachable(
            "the host has no addresses".to_owned(),
        ));
    }
    if let Some(bad) = addrs.iter().find(|a| !is_allowed_address(a.ip(), policy)) {
        return Err(MetadataDocumentError::ForbiddenAddress(
            bad.ip().to_string(),
        ));
    }
    // Plain http never leaves the machine, even if `localhost` is mapped elsewhere.
    if url.scheme() == "http"
        && let Some(bad) = addrs.iter().find(|a| !is_loopback_address(a.ip()))
    {
        return Err(MetadataDocumentError::ForbiddenAddress(
            bad.ip().to_string(),
        ));
    }
    addrs.dedup();
    Ok(addrs)
}

/// Whether a document may be fetched from `ip` under `policy`.
fn is_allowed_address(ip: IpAddr, policy: &FetchPolicy) -> bool {
    is_public_address(ip) || (policy.allow_insecure_loopback && is_loopback_address(ip))
}

/// Loopback, in IPv4, IPv6 or IPv4-mapped IPv6 form.
fn is_loopback_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// IPv4 ranges that are not public internet hosts (IANA special-purpose registry and RFC 1918).
const FORBIDDEN_V4: &[(Ipv4Addr, u32)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8), // "this network", including the unspecified address
    (Ipv4Addr::new(10, 0, 0, 0), 8), // private
    (Ipv4Addr::new(100, 64, 0, 0), 10), // shared address space (CGNAT)
    (Ipv4Addr::new(127, 0, 0, 0), 8), // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16), // link-local, including cloud metadata services
    (Ipv4Addr::new(172, 16, 0, 0), 12), // private
    (Ipv4Addr::new(192, 0, 0, 0), 24), // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24), // documentation (TEST-NET-1)
    (Ipv4Addr::new(192, 88, 99, 0), 24), // deprecated 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16), // private
    (Ipv4Addr::new(198, 18, 0, 0), 15), // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation (TEST-NET-2)
    (Ipv4Addr::new(203, 0, 113, 0), 24), // documentation (TEST-NET-3)
    (Ipv4Addr::new(224, 0, 0, 0), 4), // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4), // reserved, including the broadcast address
];

/// IPv6 ranges inside global unicast (`2000::/3`) that are not public internet hosts.
const FORBIDDEN_V6_GLOBAL: &[(Ipv6Addr, u32)] = &[
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments, Teredo, benchmarking
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), // 6to4: relays to an embedded, unchecked IPv4
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
];

/// `2000::/3`: the only IPv6 space assigned for public unicast.
const GLOBAL_UNICAST_V6: (Ipv6Addr, u32) = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
/// `64:ff9b::/96`: the NAT64 well-known prefix; the last 32 bits are the IPv4 destination.
const NAT64_V6: (Ipv6Addr, u32) = (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);

/// Whether `ip` is within `net`/`len`.
fn in_v4(ip: Ipv4Addr, (net, len): (Ipv4Addr, u32)) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

/// Whether `ip` is within `net`/`len`.
fn in_v6(ip: Ipv6Addr, (net, len): (Ipv6Addr, u32)) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// The IPv4 address in the last 32 bits of an IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = ip.octets();
    Ipv4Addr::new(a, b, c, d)
}

/// Whether `ip` is an ordinary public internet address that a document may be fetched from.
fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// Whether an IPv4 address is outside every forbidden range.
fn is_public_v4(ip: Ipv4Addr) -> bool {
    !FORBIDDEN_V4.iter().any(|&net| in_v4(ip, net))
}

/// Whether an IPv6 address is public unicast, judging embedded IPv4 forms by their IPv4 host.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    // `::ffff:a.b.c.d` is the IPv4 host itself; judge that.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // NAT64 translates to the embedded IPv4 host; judge that.
    if in_v6(ip, NAT64_V6) {
        return is_public_v4(embedded_v4(ip));
    }
    // Everything else outside `2000::/3` (unspecified, loopback, IPv4-compatible, discard-only,
    // unique-local, link-local, site-local, multicast, unassigned) is not a public host.
    in_v6(ip, GLOBAL_UNICAST_V6) && !FORBIDDEN_V6_GLOBAL.iter().any(|&net| in_v6(ip, net))
}

/// The base resolver of the fetch client: refuses every name, so that only the pinned, vetted
/// addresses can ever be connected to.
struct RefuseUnpinned;

impl reqwest::dns::Resolve for RefuseUnpinned {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_owned();
        Box::pin(async move {
            Err(format!("refusing to resolve {name}: only vetted addresses are used").into())
        })
    }
}

/// Vets the host, then reads the body of a 200 answer, at most [`MAX_DOCUMENT_BYTES`].
async fn fetch_body(url: &Url, policy: &FetchPolicy) -> Result<Vec<u8>, MetadataDocumentError> {
    let addrs = vetted_addresses(url, policy).await?;
    let client = pinned_client(url, &addrs)?;
    let mut response = client
        .get(url.as_str())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| request_error(&e))?;
    let status = response.status();
    if status.is_redirection() {
        return Err(MetadataDocumentError::Redirected);
    }
    if status != reqwest::StatusCode::OK {
        return Err(MetadataDocumentError::BadStatus(status.as_u16()));
    }
    let announced = response.content_length().unwrap_or(0);
    if announced > MAX_DOCUMENT_BYTES as u64 {
        return Err(MetadataDocumentError::TooLarge);
    }
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(|e| request_error(&e))? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(MetadataDocumentError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An HTTP client for one fetch: the URL's host name is pinned to the vetted `addrs`, any other
/// name fails to resolve, and there is no proxy, redirect or connection reuse.
fn pinned_client(
    url: &Url,
    addrs: &[SocketAddr],
) -> Result<reqwest::Client, MetadataDocumentError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .no_proxy()
        .https_only(url.scheme() == "https")
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .pool_max_idle_per_host(0)
        .dns_resolver(RefuseUnpinned);
    if let Some(Host::Domain(domain)) = url.host() {
        builder = builder.resolve_to_addrs(domain, addrs);
    }
    builder.build().map_err(|e| {
        MetadataDocumentError::Unreachable(format!("cannot set up the HTTP client: {e}"))
    })
}

/// Maps a transport error, keeping its causes so the message says what actually failed.
fn request_error(error: &reqwest::Error) -> MetadataDocumentError {
    if error.is_timeout() {
        return MetadataDocumentError::Timeout;
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    MetadataDocumentError::Unreachable(text)
}

/// The fields of a client metadata document Tollgate reads; others are ignored.
#[derive(Deserialize)]
struct RawDocument {
    client_id: Option<String>,
    client_name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_secret: Option<serde_json::Value>,
}

/// Checks a fetched body against the URL it came from.
fn validate_document(
    client_id: &str,
    url: &Url,
    body: &[u8],
) -> Result<ClientMetadataDocument, MetadataDocumentError> {
    let invalid = MetadataDocumentError::Invalid;
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| MetadataDocumentError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(invalid("it must be a JSON object".to_owned()));
    }
    // Parsed again from the bytes (not the `Value`) so that a repeated key is refused rather
    // than silently resolved to its last occurrence.
    let raw: RawDocument = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    match raw.client_id.as_deref() {
        Some(id) if id == client_id => {}
        Some(id) => {
            return Err(invalid(format!(
                "its client_id `{id}` differs from the URL it was fetched from, `{client_id}`; \
                 they must be identical"
            )));
        }
        None => return Err(invalid("it has no client_id".to_owned())),
    }
    if raw.client_secret.is_some() {
        return Err(invalid(
            "it contains a client_secret; a public document cannot hold a secret".to_owned(),
        ));
    }
    if let Some(method) = raw.token_endpoint_auth_method.as_deref()
        && method != "none"
    {
        return Err(invalid(format!(
            "its token_endpoint_auth_method is `{method}`; only `none` (a public client) is \
             supported"
        )));
    }
    if let Some(grants) = &raw.grant_types {
        if let Some(other) = grants
            .iter()
            .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
        {
            return Err(invalid(format!(
                "its grant_types include `{other}`; only authorization_code and refresh_token \
                 are supported"
            )));
        }
        if !grants.iter().any(|g| g == "authorization_code") {
            return Err(invalid(
                "its grant_types must include authorization_code".to_owned(),
            ));
        }
    }
    if let Some(types) = &raw.response_types
        && (types.is_empty() || types.iter().any(|t| t != "code"))
    {
        return Err(invalid(
            "its response_types must be [\"code\"], the only one supported".to_owned(),
        ));
    }
    let redirect_uris = raw
        .redirect_uris
        .ok_or_else(|| invalid("it has no redirect_uris".to_owned()))?;
    if redirect_uris.is_empty() || redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid(format!(
            "it lists {} redirect_uris; between 1 and {MAX_REDIRECT_URIS} are allowed",
            redirect_uris.len()
        )));
    }
    for uri in &redirect_uris {
        RedirectUri::parse(uri).map_err(|e| invalid(format!("redirect URI `{uri}`: {e}")))?;
    }
    let client_name = raw
        .client_name
        .as_deref()
        .map(clean_name)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| url.host_str().unwrap_or_default().to_owned());
    Ok(ClientMetadataDocument {
        client_id: client_id.to_owned(),
        client_name,
        redirect_uris,
    })
}

/// Bidirectional formatting characters, which can make a name display as something else.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// A client name fit for display: no control or bidirectional-formatting characters, trimmed,
/// at most [`MAX_NAME_CHARS`] characters.
fn clean_name(raw: &str) -> String {
    let kept: String = raw
        .chars()
        .filter(|&c| !c.is_control() && !is_bidi_control(c))
        .collect();
    let short: String = kept.trim().chars().take(MAX_NAME_CHARS).collect();
    short.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
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
        let app = Router::new()
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
        assert!(
            matches!(fetch_path("/mismatch").await, Err(E::Invalid(m)) if m.contains("differs"))
        );
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
}
