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

/// A client name fit for display: no control or bidirectional-formatting characters, trimmed,
/// at most [`MAX_NAME_CHARS`] characters.
fn clean_name(raw: &str) -> String {
    let kept: String = raw
        .chars()
        .filter(|&c| !c.is_control() && !api_types::validate::is_bidi_control(c))
        .collect();
    let short: String = kept.trim().chars().take(MAX_NAME_CHARS).collect();
    short.trim_end().to_owned()
}

#[cfg(test)]
mod tests;
