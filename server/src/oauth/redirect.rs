//! Redirect URIs: what may be registered, and when a requested one matches a registered one.

/// A redirect URI that passed the registration policy: `https`, or `http` on a loopback host;
/// no fragment, no credentials, no control characters, at most 2048 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectUri(String);

/// Why a redirect URI was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("redirect URI refused: {0}")]
pub struct RedirectUriError(pub &'static str);

fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

impl RedirectUri {
    /// Applies the policy.
    pub fn parse(raw: &str) -> Result<Self, RedirectUriError> {
        if raw.len() > 2048 {
            return Err(RedirectUriError("longer than 2048 bytes"));
        }
        if raw.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(RedirectUriError("contains spaces or control characters"));
        }
        let url = url::Url::parse(raw).map_err(|_| RedirectUriError("not an absolute URL"))?;
        if url.fragment().is_some() || raw.contains('#') {
            return Err(RedirectUriError("must not contain a fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RedirectUriError("must not contain credentials"));
        }
        let host = url.host_str().ok_or(RedirectUriError("needs a host"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback_host(host) => {}
            "http" => return Err(RedirectUriError("http is allowed only on loopback hosts")),
            _ => {
                return Err(RedirectUriError(
                    "the scheme must be https (or http on loopback)",
                ));
            }
        }
        // The URL parser normalises (lower-cases the scheme and host, adds a `/` path); keep
        // what the client sent so that matching stays an exact string comparison.
        Ok(Self(raw.to_owned()))
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `requested` is this registered URI: exact string equality, except that for a
    /// loopback `http` URI the port may differ (RFC 8252 §7.3: native apps pick a free port).
    pub fn matches(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        let (Ok(registered), Ok(candidate)) =
            (url::Url::parse(&self.0), url::Url::parse(requested))
        else {
            return false;
        };
        let loopback =
            registered.scheme() == "http" && registered.host_str().is_some_and(is_loopback_host);
        loopback
            && !requested.contains('#')
            && candidate.scheme() == "http"
            && candidate.host_str() == registered.host_str()
            && candidate.path() == registered.path()
            && candidate.query() == registered.query()
            && candidate.username().is_empty()
            && candidate.password().is_none()
            && strip_port(requested) == strip_port(&self.0)
    }
}

/// The URI with its `:port` removed, for the loopback comparison.
fn strip_port(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let host = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    };
    format!("{scheme}://{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_policy() {
        for ok in [
            "https://c.example/cb",
            "http://127.0.0.1:3000/callback",
            "http://localhost/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " data:text/html,x",
            "data:text/html,x",
            "http://c.example/cb",
            "https://c.example/cb#f",
            "https://user@c.example/cb",
            "https://c.example/c\tb",
            "https://c.example/c\nb",
            "https://c.example/c\0b",
            "ftp://c.example/cb",
            "/relative",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad:?}");
        }
        assert!(RedirectUri::parse(&format!("https://c.example/{}", "a".repeat(2100))).is_err());
    }

    #[test]
    fn matching_is_exact_except_the_loopback_port() {
        let https = RedirectUri::parse("https://c.example/cb").expect("valid");
        assert!(https.matches("https://c.example/cb"));
        for bad in [
            "https://c.example/cb123",
            "https://c.example/CB",
            "https://c.example/cb/",
            "https://c.example/cb?x=1",
            "https://c.example/cb#f",
            "https://c.example.evil/cb",
            "https://c.example@evil/cb",
            "https://C.example/cb",
            "https://c.example:443/cb",
        ] {
            assert!(!https.matches(bad), "{bad}");
        }
        let loopback = RedirectUri::parse("http://127.0.0.1:3000/cb").expect("valid");
        assert!(loopback.matches("http://127.0.0.1:51234/cb"));
        assert!(loopback.matches("http://127.0.0.1/cb"));
        assert!(!loopback.matches("http://127.0.0.1:51234/other"));
        assert!(!loopback.matches("http://localhost:3000/cb"));
        assert!(!loopback.matches("https://127.0.0.1:3000/cb"));
        assert!(!loopback.matches("http://127.0.0.1:3000/cb#x"));
    }
}
