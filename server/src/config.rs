//! Configuration from the environment: every setting has a `TOLLGATE_*` name and a default.

use crate::crypto::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

fn is_loopback_name(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// A configuration value that could not be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it, and what is expected.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// The externally visible base URL, e.g. `https://mcp.example.com` (never a trailing slash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl {
    base: String,
    origin: String,
    authority: String,
    host: String,
}

impl PublicUrl {
    /// Accepts an absolute `http`/`https` URL without query or fragment.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("not an absolute URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("the scheme must be http or https".into());
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not carry a query or a fragment".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        let host = url
            .host_str()
            .ok_or_else(|| "the URL needs a host".to_owned())?
            .to_ascii_lowercase();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let origin = format!("{}://{authority}", url.scheme());
        let path = url.path().trim_end_matches('/');
        Ok(Self {
            base: format!("{origin}{path}"),
            origin,
            authority,
            host,
        })
    }

    /// The base URL as a string, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// `scheme://host[:port]`, what browsers send as `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// `host[:port]`, what clients send as `Host`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The host name alone.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether a `Host` header value names this server. A loopback public URL also answers to
    /// the other loopback names (`localhost`, `127.0.0.1`, `[::1]`) on the same port, so a
    /// newcomer's client works whichever of them it was given.
    pub fn allows_authority(&self, authority: &str) -> bool {
        if authority == self.authority {
            return true;
        }
        if !self.is_loopback() {
            return false;
        }
        let port = self.authority.rsplit_once(':').map(|(_, p)| p);
        let (host, candidate_port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, Some(p)),
            _ => (authority, None),
        };
        is_loopback_name(host) && candidate_port == port
    }

    /// Whether an `Origin` header value is this server (see [`Self::allows_authority`]).
    pub fn allows_origin(&self, origin: &str) -> bool {
        let scheme = self.origin.split("://").next().unwrap_or("http");
        origin
            .strip_prefix(scheme)
            .and_then(|rest| rest.strip_prefix("://"))
            .is_some_and(|authority| self.allows_authority(authority))
    }

    fn is_loopback(&self) -> bool {
        is_loopback_name(&self.host)
    }

    /// An absolute URL for a path on this server (`path` starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// What to seed on a fresh database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoSeed {
    /// No demo tenant.
    Off,
    /// The demo tenant with the free WordPress.org tools only.
    FreeOnly,
    /// The demo tenant with one paid tool on the sandbox, to show the whole paid flow.
    WithPaidTool,
}

/// Everything Tollgate needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `TOLLGATE_BIND`: the socket to listen on.
    pub bind: SocketAddr,
    /// `TOLLGATE_PUBLIC_URL`: the external base URL (resource identifiers, issuer, links).
    pub public_url: PublicUrl,
    /// `TOLLGATE_DATA_DIR`: where the embedded database and generated keys live.
    pub data_dir: PathBuf,
    /// `TOLLGATE_DATABASE_URL`: `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// `TOLLGATE_WPORG_API_URL`: the WordPress.org API base URL.
    pub wporg_api_url: Url,
    /// `TOLLGATE_WPORG_TIMEOUT_MS`: how long one WordPress.org request may take.
    pub wporg_timeout: Duration,
    /// `TOLLGATE_SEED_DEMO`: create the `demo` tenant when it is missing (`true`), without its
    /// paid tool (`free`), or not at all (`false`).
    pub seed_demo: DemoSeed,
    /// `TOLLGATE_MAX_BODY_BYTES`: the largest MCP request body accepted.
    pub max_body_bytes: usize,
    /// `TOLLGATE_MAX_SESSIONS_PER_USER` / `TOLLGATE_MAX_SESSIONS_PER_ADDRESS`: open legacy
    /// MCP sessions one end user, and one client address, may hold (more: 429).
    pub max_sessions: crate::mcp::SessionLimits,
    /// `TOLLGATE_GITHUB_CLIENT_ID` / `TOLLGATE_GITHUB_CLIENT_SECRET`: the platform's GitHub
    /// OAuth app (both or neither).
    pub github_app: Option<(String, SecretString)>,
    /// `TOLLGATE_GITHUB_URL`: GitHub's web base URL.
    pub github_url: Url,
    /// `TOLLGATE_GITHUB_API_URL`: GitHub's API base URL.
    pub github_api_url: Url,
    /// `TOLLGATE_MASTER_KEY`: base64 of 32 bytes; generated into the data folder when absent
    /// (SQLite in development only).
    pub master_key: Option<SecretString>,
    /// `TOLLGATE_MASTER_KEY_PREVIOUS`: the key before a rotation; it still opens what it sealed.
    pub master_key_previous: Option<SecretString>,
    /// `TOLLGATE_METRICS_TOKEN`: the bearer token `/metrics` requires (without it, `/metrics`
    /// is served only in development mode).
    pub metrics_token: Option<SecretString>,
    /// `TOLLGATE_PROVIDER_DEADLINE_MS`: how long a user waits on the payment provider for a
    /// checkout (customer + Checkout Session) before the call answers "payments are
    /// unavailable, nothing was charged".
    pub provider_deadline: Duration,
    /// `TOLLGATE_STRIPE_API_URL`: Stripe's API base URL.
    pub stripe_api_url: Url,
    /// `TOLLGATE_CIMD_INSECURE_LOOPBACK`: accept `http://127.0.0.1` client metadata documents
    /// (development and tests only; refused in production mode).
    pub cimd_insecure_loopback: bool,
    /// `TOLLGATE_MODE=production` turns off everything meant for demos (the local sign-in).
    pub production: bool,
    /// `TOLLGATE_ADMIN_ASSETS`: the folder `scripts/build-frontend` writes the dashboard into
    /// (default `frontend/dist`, relative to the working directory).
    pub admin_assets: std::path::PathBuf,
    /// `TOLLGATE_SETUP_TOKEN`: a fixed token for the first operator's setup link (automation);
    /// without it a random one is printed at start while no operator exists.
    pub setup_token: Option<SecretString>,
    /// `TOLLGATE_TRUSTED_PROXIES`: comma-separated CIDRs of the load balancers in front of
    /// Tollgate; only a request from one of them has its `X-Forwarded-For` read.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `TOLLGATE_LIMIT_*`: the rate limits.
    pub limits: crate::limit::LimitSettings,
    /// `TOLLGATE_PURGE_INTERVAL_SECS`: how often expired rows are deleted.
    pub purge_interval: Duration,
    /// `TOLLGATE_RECONCILE_SECONDS`: how often each tenant connected to Stripe is reconciled
    /// with it (default 300; `0`: never by itself, only when an operator asks).
    pub reconcile_interval: Option<Duration>,
    /// `TOLLGATE_DIRECT_CALLS`: answer a plain WordPress.org `tools/call` without rmcp once
    /// rmcp accepted one of the same shape (`mcp/direct.rs`; default `true`). `false` sends
    /// every call through rmcp, which tests use to compare the two answers.
    pub direct_calls: bool,
}

const DEFAULT_BIND: &str = "127.0.0.1:8080";
const DEFAULT_WPORG: &str = "https://api.wordpress.org";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (a name → value function), so tests need no process
    /// environment. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let bind_raw = get("TOLLGATE_BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind: SocketAddr = bind_raw.trim().parse().map_err(|_| {
            ConfigError::new(
                "TOLLGATE_BIND",
                format!("{bind_raw:?} is not a socket address such as 127.0.0.1:8080"),
            )
        })?;

        let public_url = match get("TOLLGATE_PUBLIC_URL") {
            Some(raw) => PublicUrl::parse(&raw)
                .map_err(|problem| ConfigError::new("TOLLGATE_PUBLIC_URL", problem))?,
            None => default_public_url(bind),
        };

        let data_dir = PathBuf::from(get("TOLLGATE_DATA_DIR").unwrap_or_else(|| "data".into()));

        let database_url = match get("TOLLGATE_DATABASE_URL") {
            Some(url) => {
                if !(url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://"))
                {
                    return Err(ConfigError::new(
                        "TOLLGATE_DATABASE_URL",
                        "expected a sqlite:// or postgres:// URL",
                    ));
                }
                url
            }
            None => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("tollgate.db").display()
            ),
        };

        let wporg_api_url = parse_http_url(&get, "TOLLGATE_WPORG_API_URL", DEFAULT_WPORG)?;

        let wporg_timeout = Duration::from_millis(parse_number(
            &get,
            "TOLLGATE_WPORG_TIMEOUT_MS",
            10_000,
            1..=120_000,
        )?);
        let provider_deadline = Duration::from_millis(parse_number(
            &get,
            "TOLLGATE_PROVIDER_DEADLINE_MS",
            10_000,
            100..=120_000,
        )?);
        let max_body_bytes =
            parse_number(&get, "TOLLGATE_MAX_BODY_BYTES", 1 << 20, 1024..=(16 << 20))? as usize;
        let max_sessions = crate::mcp::SessionLimits {
            per_user: parse_number(&get, "TOLLGATE_MAX_SESSIONS_PER_USER", 100, 1..=100_000)?,
            per_address: parse_number(
                &get,
                "TOLLGATE_MAX_SESSIONS_PER_ADDRESS",
                1_000,
                1..=1_000_000,
            )?,
        };

        let seed_demo_raw = match get("TOLLGATE_SEED_DEMO").as_deref().map(str::trim) {
            None | Some("1" | "true" | "yes") => DemoSeed::WithPaidTool,
            Some("free") => DemoSeed::FreeOnly,
            Some("0" | "false" | "no") => DemoSeed::Off,
            Some(other) => {
                return Err(ConfigError::new(
                    "TOLLGATE_SEED_DEMO",
                    format!("{other:?} is not true, free or false"),
                ));
            }
        };

        let github_id = get("TOLLGATE_GITHUB_CLIENT_ID");
        let github_secret = get("TOLLGATE_GITHUB_CLIENT_SECRET");
        let github_app = match (github_id, github_secret) {
            (Some(id), Some(secret)) => {
                Some((id.trim().to_owned(), SecretString::new(secret.trim())))
            }
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "TOLLGATE_GITHUB_CLIENT_SECRET",
                    "is required when TOLLGATE_GITHUB_CLIENT_ID is set",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "TOLLGATE_GITHUB_CLIENT_ID",
                    "is required when TOLLGATE_GITHUB_CLIENT_SECRET is set",
                ));
            }
        };
        let github_url = parse_http_url(&get, "TOLLGATE_GITHUB_URL", "https://github.com")?;
        let github_api_url =
            parse_http_url(&get, "TOLLGATE_GITHUB_API_URL", "https://api.github.com")?;
        let production = match get("TOLLGATE_MODE").as_deref().map(str::trim) {
            None | Some("development") => false,
            Some("production") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "TOLLGATE_MODE",
                    format!("{other:?} is not development or production"),
                ));
            }
        };

        let stripe_api_url =
            parse_http_url(&get, "TOLLGATE_STRIPE_API_URL", "https://api.stripe.com")?;

        // Production means safe: no plain-http public URL (tokens, cookies and the consent
        // page would travel in clear; behind a TLS-terminating load balancer the public URL is
        // https while the bind stays plain http), no master key generated into one machine's
        // data folder, and no demo tenant.
        if production {
            if !public_url.as_str().starts_with("https://") {
                return Err(ConfigError::new(
                    "TOLLGATE_PUBLIC_URL",
                    "must be an https:// URL in production mode (terminate TLS in front of Tollgate and give its external https address)",
                ));
            }
            if get("TOLLGATE_MASTER_KEY").is_none() {
                return Err(ConfigError::new(
                    "TOLLGATE_MASTER_KEY",
                    "is required in production mode: generate one with `openssl rand -base64 32`, keep it in your secret store, and give the same key to every replica",
                ));
            }
        }
        // Replicas on one PostgreSQL must share one key: a key generated into each machine's
        // data folder would seal secrets the other replicas cannot open.
        if database_url.starts_with("postgres") && get("TOLLGATE_MASTER_KEY").is_none() {
            return Err(ConfigError::new(
                "TOLLGATE_MASTER_KEY",
                "is required with a PostgreSQL database: generate one with `openssl rand -base64 32`, keep it in your secret store, and give the same key to every replica",
            ));
        }
        let seed_demo = if !production || seed_demo_raw == DemoSeed::Off {
            seed_demo_raw
        } else if get("TOLLGATE_SEED_DEMO").is_none() {
            DemoSeed::Off
        } else {
            return Err(ConfigError::new(
                "TOLLGATE_SEED_DEMO",
                "the demo tenant is never created in production mode (set it to false or leave it unset)",
            ));
        };

        let cimd_insecure_loopback = match get("TOLLGATE_CIMD_INSECURE_LOOPBACK")
            .as_deref()
            .map(str::trim)
        {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") if !production => true,
            Some("true" | "1" | "yes") => {
                return Err(ConfigError::new(
                    "TOLLGATE_CIMD_INSECURE_LOOPBACK",
                    "cannot be on in production mode",
                ));
            }
            Some(other) => {
                return Err(ConfigError::new(
                    "TOLLGATE_CIMD_INSECURE_LOOPBACK",
                    format!("{other:?} is not true or false"),
                ));
            }
        };

        let trusted_proxies = crate::limit::parse_trusted_proxies(
            &get("TOLLGATE_TRUSTED_PROXIES").unwrap_or_default(),
        )
        .map_err(|problem| ConfigError::new("TOLLGATE_TRUSTED_PROXIES", problem))?;
        let limits = crate::limit::LimitSettings::from_lookup(&get)?;
        let purge_interval = Duration::from_secs(parse_number(
            &get,
            "TOLLGATE_PURGE_INTERVAL_SECS",
            600,
            1..=86_400,
        )?);
        let reconcile_interval =
            match parse_number(&get, "TOLLGATE_RECONCILE_SECONDS", 300, 0..=604_800)? {
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            };

        let direct_calls = match get("TOLLGATE_DIRECT_CALLS").as_deref().map(str::trim) {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "TOLLGATE_DIRECT_CALLS",
                    format!("{other:?} is not true or false"),
                ));
            }
        };

        Ok(Self {
            direct_calls,
            trusted_proxies,
            limits,
            purge_interval,
            reconcile_interval,
            admin_assets: get("TOLLGATE_ADMIN_ASSETS")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::path::PathBuf::from("frontend/dist")),
            setup_token: get("TOLLGATE_SETUP_TOKEN").map(SecretString::new),
            cimd_insecure_loopback,
            provider_deadline,
            stripe_api_url,
            github_app,
            github_url,
            github_api_url,
            master_key: get("TOLLGATE_MASTER_KEY").map(SecretString::new),
            master_key_previous: get("TOLLGATE_MASTER_KEY_PREVIOUS").map(SecretString::new),
            metrics_token: get("TOLLGATE_METRICS_TOKEN").map(|t| SecretString::new(t.trim())),
            production,
            bind,
            public_url,
            data_dir,
            database_url,
            wporg_api_url,
            wporg_timeout,
            seed_demo,
            max_body_bytes,
            max_sessions,
        })
    }
}

fn parse_http_url(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<Url, ConfigError> {
    let raw = get(name).unwrap_or_else(|| default.to_owned());
    Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| ConfigError::new(name, format!("{raw:?} is not an http(s) URL")))
}

fn parse_number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(default);
    };
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ConfigError::new(
                name,
                format!(
                    "{raw:?} is not a whole number between {} and {}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// `http://localhost:<port>` for a loopback or unspecified bind address, else `http://<bind>`.
fn default_public_url(bind: SocketAddr) -> PublicUrl {
    let ip = bind.ip();
    let host = if ip.is_loopback() || ip.is_unspecified() {
        "localhost".to_owned()
    } else if bind.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    // A bind address always forms a valid URL; the fallback is unreachable in practice.
    PublicUrl::parse(&format!("http://{host}:{}", bind.port())).unwrap_or_else(|_| PublicUrl {
        base: "http://localhost".into(),
        origin: "http://localhost".into(),
        authority: "localhost".into(),
        host: "localhost".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_serve_localhost_8080_on_embedded_sqlite() {
        let c = config(&[]).expect("defaults are valid");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_url.as_str(), "http://localhost:8080");
        assert!(c.database_url.starts_with("sqlite://data/tollgate.db"));
        assert_eq!(c.wporg_api_url.as_str(), "https://api.wordpress.org/");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("TOLLGATE_BIND", "localhost"),
            ("TOLLGATE_PUBLIC_URL", "ftp://x"),
            ("TOLLGATE_DATABASE_URL", "mysql://x"),
            ("TOLLGATE_WPORG_API_URL", "nonsense"),
            ("TOLLGATE_WPORG_TIMEOUT_MS", "-1"),
            ("TOLLGATE_GITHUB_API_URL", "not a url"),
            ("TOLLGATE_MODE", "prod"),
            ("TOLLGATE_TRUSTED_PROXIES", "10.0.0.0/8, load-balancer"),
            ("TOLLGATE_LIMIT_MCP_USER", "600"),
            ("TOLLGATE_PURGE_INTERVAL_SECS", "0"),
            ("TOLLGATE_RECONCILE_SECONDS", "soon"),
        ] {
            let err = config(&[(name, value)]).expect_err("must be refused");
            assert_eq!(err.variable, name);
            assert!(err.to_string().starts_with(name));
        }
        let half_app = config(&[("TOLLGATE_GITHUB_CLIENT_SECRET", "s3cret")]).expect_err("refused");
        assert_eq!(half_app.variable, "TOLLGATE_GITHUB_CLIENT_ID");
        assert!(
            !half_app.to_string().contains("s3cret"),
            "secrets never appear in errors"
        );
    }

    #[test]
    fn production_needs_an_https_public_url_and_an_explicit_master_key_and_seeds_nothing() {
        let key = (
            "TOLLGATE_MASTER_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        );
        let https = ("TOLLGATE_PUBLIC_URL", "https://mcp.example.com");
        let mode = ("TOLLGATE_MODE", "production");
        let plain = config(&[mode, key, ("TOLLGATE_PUBLIC_URL", "http://mcp.example.com")]);
        assert_eq!(plain.expect_err("refused").variable, "TOLLGATE_PUBLIC_URL");
        assert_eq!(
            config(&[mode, key])
                .expect_err("the default is http")
                .variable,
            "TOLLGATE_PUBLIC_URL"
        );
        let keyless = config(&[mode, https]).expect_err("refused");
        assert_eq!(keyless.variable, "TOLLGATE_MASTER_KEY");
        assert!(keyless.to_string().contains("every replica"), "{keyless}");
        let seeded = config(&[mode, https, key, ("TOLLGATE_SEED_DEMO", "true")]);
        assert_eq!(seeded.expect_err("refused").variable, "TOLLGATE_SEED_DEMO");
        // Behind a TLS-terminating load balancer: https outside, plain http on the bind.
        let ok = config(&[mode, https, key, ("TOLLGATE_BIND", "0.0.0.0:8080")]).expect("valid");
        assert!(ok.production);
        assert_eq!(ok.seed_demo, DemoSeed::Off);
        assert_eq!(config(&[]).expect("dev").seed_demo, DemoSeed::WithPaidTool);
    }

    #[test]
    fn postgres_needs_an_explicit_master_key() {
        let pg = (
            "TOLLGATE_DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/x",
        );
        let err = config(&[pg]).expect_err("refused");
        assert_eq!(err.variable, "TOLLGATE_MASTER_KEY");
        assert!(err.to_string().contains("every replica"), "{err}");
        let key = (
            "TOLLGATE_MASTER_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        );
        assert!(config(&[pg, key]).is_ok());
    }

    #[test]
    fn loopback_public_url_accepts_every_loopback_name_on_its_port() {
        let u = PublicUrl::parse("http://localhost:8080").expect("valid");
        for ok in ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"] {
            assert!(u.allows_authority(ok), "{ok}");
        }
        for bad in [
            "localhost:8081",
            "evil.example:8080",
            "localhost",
            "127.0.0.1",
        ] {
            assert!(!u.allows_authority(bad), "{bad}");
        }
        assert!(u.allows_origin("http://127.0.0.1:8080"));
        assert!(!u.allows_origin("https://localhost:8080"));
        assert!(!u.allows_origin("http://evil.example"));
        let public = PublicUrl::parse("https://mcp.example.com").expect("valid");
        assert!(public.allows_authority("mcp.example.com"));
        assert!(!public.allows_authority("localhost"));
    }

    #[test]
    fn public_url_drops_trailing_slash_and_lowercases_host() {
        let u = PublicUrl::parse("https://MCP.Example.com/base/").expect("valid");
        assert_eq!(u.as_str(), "https://mcp.example.com/base");
        assert_eq!(u.origin(), "https://mcp.example.com");
        assert_eq!(
            u.join("/t/demo/mcp"),
            "https://mcp.example.com/base/t/demo/mcp"
        );
    }
}
