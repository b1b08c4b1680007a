//! Rate limits shared by every replica: counters in the database, one fixed window per bucket,
//! added to by one atomic upsert per check (or per lease of hits, on the hot path); and the
//! client address behind trusted proxies.
//!
//! Every limit Tollgate enforces goes through [`RateLimiter`]: the operator sign-in throttle,
//! the registration, authorization and token endpoints, and MCP requests.

mod lease;
pub(crate) mod routes;
mod store;

use crate::clock::Clock;
use crate::config::ConfigError;
use ipnet::IpNet;
use sea_orm::DatabaseConnection;
use std::net::IpAddr;
use std::sync::Arc;

/// At most `max` hits per `window_secs` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Hits allowed in one window.
    pub max: u32,
    /// The window's length in seconds.
    pub window_secs: u32,
}

impl Limit {
    /// `max` per `window_secs`.
    pub const fn new(max: u32, window_secs: u32) -> Self {
        Self { max, window_secs }
    }

    /// Parses `N/S`: N hits per S seconds (`600/60`).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || format!("{raw:?} is not COUNT/SECONDS, such as 600/60");
        let (max, window) = raw.trim().split_once('/').ok_or_else(bad)?;
        let max: u32 = max.trim().parse().map_err(|_| bad())?;
        let window_secs: u32 = window.trim().parse().map_err(|_| bad())?;
        if max == 0 || !(1..=86_400).contains(&window_secs) {
            return Err(format!(
                "{raw:?}: the count must be at least 1 and the window between 1 and 86400 seconds"
            ));
        }
        Ok(Self { max, window_secs })
    }
}

/// Every limit, as configured (`TOLLGATE_LIMIT_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    /// Failed operator sign-ins per e-mail address.
    pub sign_in_email: Limit,
    /// Failed operator sign-ins per client address.
    pub sign_in_address: Limit,
    /// Dynamic client registrations per client address and tenant.
    pub register_address: Limit,
    /// `/authorize` requests per client address and tenant.
    pub authorize_address: Limit,
    /// `/authorize` requests per OAuth client and tenant.
    pub authorize_client: Limit,
    /// `/token` requests per client address and tenant.
    pub token_address: Limit,
    /// `/token` requests per OAuth client and tenant.
    pub token_client: Limit,
    /// MCP requests per signed-in end user.
    pub mcp_user: Limit,
    /// MCP requests per client address and tenant.
    pub mcp_address: Limit,
}

impl Default for LimitSettings {
    /// Production defaults: generous for people and agents, tight for guessing and floods.
    fn default() -> Self {
        Self {
            sign_in_email: Limit::new(5, 900),
            sign_in_address: Limit::new(20, 900),
            register_address: Limit::new(20, 60),
            authorize_address: Limit::new(60, 60),
            authorize_client: Limit::new(300, 60),
            token_address: Limit::new(60, 60),
            token_client: Limit::new(300, 60),
            mcp_user: Limit::new(600, 60),
            mcp_address: Limit::new(1200, 60),
        }
    }
}

impl LimitSettings {
    /// Reads `TOLLGATE_LIMIT_*` through `get`; unset ones keep their default.
    pub(crate) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut settings = Self::default();
        let fields: [(&'static str, &mut Limit); 9] = [
            ("TOLLGATE_LIMIT_SIGN_IN_EMAIL", &mut settings.sign_in_email),
            (
                "TOLLGATE_LIMIT_SIGN_IN_ADDRESS",
                &mut settings.sign_in_address,
            ),
            (
                "TOLLGATE_LIMIT_REGISTER_ADDRESS",
                &mut settings.register_address,
            ),
            (
                "TOLLGATE_LIMIT_AUTHORIZE_ADDRESS",
                &mut settings.authorize_address,
            ),
            (
                "TOLLGATE_LIMIT_AUTHORIZE_CLIENT",
                &mut settings.authorize_client,
            ),
            ("TOLLGATE_LIMIT_TOKEN_ADDRESS", &mut settings.token_address),
            ("TOLLGATE_LIMIT_TOKEN_CLIENT", &mut settings.token_client),
            ("TOLLGATE_LIMIT_MCP_USER", &mut settings.mcp_user),
            ("TOLLGATE_LIMIT_MCP_ADDRESS", &mut settings.mcp_address),
        ];
        for (name, field) in fields {
            if let Some(raw) = get(name) {
                *field = Limit::parse(&raw).map_err(|problem| ConfigError::new(name, problem))?;
            }
        }
        Ok(settings)
    }
}

/// Parses `TOLLGATE_TRUSTED_PROXIES`: comma-separated CIDRs (a bare address is its own /32 or
/// /128).
pub(crate) fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| format!("{item:?} is not an address or a CIDR such as 10.0.0.0/8"))
        })
        .collect()
}

/// The address a request comes from. The socket peer, unless it is a trusted proxy: then
/// `X-Forwarded-For` is read from the right, skipping trusted proxies, and the first address
/// that is not one is the client. A proxy appends the address it saw, so everything left of
/// the first untrusted hop may be forged and is never used. `forwarded_for` holds the header's
/// values in the order received.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip.to_canonical();
                if !is_trusted(&client) {
                    return client;
                }
            }
            // A hop that is not an address was not written by a proxy we trust: the last
            // trusted hop is the best we know.
            Err(_) => return client,
        }
    }
    client
}

/// How a client address is counted: IPv4 alone, IPv6 by its /64 (one host usually holds a
/// whole /64, so counting single IPv6 addresses would let one machine rotate past any limit).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match IpNet::new(IpAddr::V6(v6), 64) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v6.to_string(),
        },
    }
}

/// A check that failed: the limit is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Seconds until the window that is full has passed (at least 1).
    pub retry_after_secs: u64,
}

/// One counter to add to: which limit, and the bucket (`scope:…:subject`).
#[derive(Clone, Debug)]
pub struct Check {
    /// The limit.
    pub limit: Limit,
    /// The bucket.
    pub bucket: String,
}

impl Check {
    /// A check of `limit` on the bucket `scope:parts…`; long buckets are hashed so that any
    /// subject (a client metadata document URL, say) fits the column.
    pub fn new(limit: Limit, scope: &str, parts: &[&str]) -> Self {
        let mut bucket = scope.to_owned();
        for part in parts {
            bucket.push(':');
            bucket.push_str(part);
        }
        if bucket.len() > 120 {
            bucket = format!("{scope}:#{}", crate::crypto::hash_token(&bucket));
        }
        Self { limit, bucket }
    }
}

/// Counts hits in the database, so that every replica sees the same counters.
#[derive(Clone)]
pub struct RateLimiter {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    settings: Arc<LimitSettings>,
    /// This process's leases on the shared counters (`hit_leased`).
    leases: Arc<lease::Leases>,
}

impl RateLimiter {
    /// A limiter on `db`, telling time by `clock`.
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>, settings: LimitSettings) -> Self {
        Self {
            db,
            clock,
            settings: Arc::new(settings),
            leases: Arc::default(),
        }
    }

    /// The configured limits.
    pub fn settings(&self) -> &LimitSettings {
        &self.settings
    }

    /// Counts one hit on every check, in one statement (one round-trip), and says whether any
    /// of them went over its limit. The counters are added to atomically (`INSERT … ON
    /// CONFLICT … DO UPDATE … RETURNING`), so concurrent requests on any number of replicas
    /// never get more than the limit through. A refused request's hits are taken back (a
    /// second statement, on the refusing path only): only what was let through counts, so a
    /// client that retries while refused is not kept out longer for it.
    pub async fn hit(&self, checks: &[Check]) -> Result<Result<(), Limited>, sea_orm::DbErr> {
        if checks.is_empty() {
            return Ok(Ok(()));
        }
        let now = self.clock.now().timestamp();
        let mut rows: Vec<store::Hit> = checks
            .iter()
            .map(|check| {
                let window = i64::from(check.limit.window_secs);
                let start = now.div_euclid(window) * window;
                store::Hit {
                    bucket: check.bucket.clone(),
                    window_start: start,
                    expires_at: start + 2 * window,
                    amount: 1,
                }
            })
            .collect();
        // One order for every statement, so two upserts never wait on each other's rows in
        // opposite orders (a deadlock on PostgreSQL); and one row per bucket.
        rows.sort_by(|a, b| a.bucket.cmp(&b.bucket));
        rows.dedup_by(|a, b| a.bucket == b.bucket);
        let counts = store::add_hits(&self.db, &rows).await?;
        let mut retry_after: Option<u64> = None;
        for check in checks {
            let window = i64::from(check.limit.window_secs);
            let counts = counts.get(&check.bucket).copied().unwrap_or_default();
            if let Some(wait) = sliding_wait(
                check.limit.max,
                window,
                now.rem_euclid(window),
                counts.previous,
                counts.current,
            ) {
                retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
            }
        }
        let Some(retry_after_secs) = retry_after else {
            return Ok(Ok(()));
        };
        for row in &rows {
            store::remove_hits(&self.db, &row.bucket, row.window_start, 1).await?;
        }
        Ok(Err(Limited { retry_after_secs }))
    }

    /// Like [`RateLimiter::hit`], for the limits every request passes (MCP requests): hits are
    /// counted in the shared store ahead of use, a lease at a time (`lease.rs`), so that most
    /// requests are let through from memory. Nothing gets past a limit that `hit` would have
    /// refused: every hit let through was counted in the shared store first, and near the
    /// limit leases shrink to nothing and each hit is decided in the database. Hits a replica
    /// leased but did not use yet count against the client until the window passes.
    pub async fn hit_leased(
        &self,
        checks: &[Check],
    ) -> Result<Result<(), Limited>, sea_orm::DbErr> {
        let now = self.clock.now().timestamp();
        let mut keys: Vec<(&str, i64, Limit)> = checks
            .iter()
            .map(|check| {
                let window = i64::from(check.limit.window_secs);
                (
                    check.bucket.as_str(),
                    now.div_euclid(window) * window,
                    check.limit,
                )
            })
            .collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        keys.dedup_by(|a, b| a.0 == b.0);
        let windows: Vec<(&str, i64)> = keys.iter().map(|(b, w, _)| (*b, *w)).collect();
        if self.leases.take(&windows) {
            return Ok(Ok(()));
        }
        // One turn per bucket, taken in bucket order (never two requests in opposite orders).
        let turns: Vec<_> = keys.iter().map(|(b, _, _)| self.leases.turn(b)).collect();
        let mut held = Vec::with_capacity(turns.len());
        for turn in &turns {
            held.push(turn.lock().await);
        }
        // The request before this one may have brought back a lease.
        if self.leases.take(&windows) {
            return Ok(Ok(()));
        }
        let mut from_lease = Vec::new();
        let mut rows = Vec::new();
        for (bucket, start, limit) in &keys {
            if self.leases.take_one(bucket, *start) {
                from_lease.push((*bucket, *start));
                continue;
            }
            let window = i64::from(limit.window_secs);
            rows.push(store::Hit {
                bucket: (*bucket).to_owned(),
                window_start: *start,
                expires_at: start + 2 * window,
                amount: 1 + self.leases.next_size(bucket, *start),
            });
        }
        let put_back = |from_lease: &[(&str, i64)]| {
            for (bucket, start) in from_lease {
                self.leases.put_back(bucket, *start);
            }
        };
        let counts = match store::add_hits(&self.db, &rows).await {
            Ok(counts) => counts,
            Err(error) => {
                put_back(&from_lease);
                return Err(error);
            }
        };
        let mut retry_after: Option<u64> = None;
        // (row, hits counted for it, room left under its limit)
        let mut counted = Vec::with_capacity(rows.len());
        for row in &rows {
            let Some((_, _, limit)) = keys.iter().find(|(b, _, _)| *b == row.bucket) else {
                continue;
            };
            let window = i64::from(limit.window_secs);
            let elapsed = now.rem_euclid(window);
            let seen = counts.get(&row.bucket).copied().unwrap_or_default();
            let mut current = seen.current;
            let mut amount = row.amount;
            if amount > 1
                && sliding_wait(limit.max, window, elapsed, seen.previous, current).is_some()
            {
                // The lease does not fit under the limit: keep only the hit at hand.
                store::remove_hits(&self.db, &row.bucket, row.window_start, amount - 1).await?;
                current -= amount - 1;
                amount = 1;
            }
            if let Some(wait) = sliding_wait(limit.max, window, elapsed, seen.previous, current) {
                retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
            }
            let room = room_left(limit.max, window, elapsed, seen.previous, current);
            counted.push((row, amount, room));
        }
        if let Some(retry_after_secs) = retry_after {
            for (row, amount, room) in counted {
                store::remove_hits(&self.db, &row.bucket, row.window_start, amount).await?;
                self.leases.hold(&row.bucket, row.window_start, 0, room);
            }
            put_back(&from_lease);
            return Ok(Err(Limited { retry_after_secs }));
        }
        for (row, amount, room) in counted {
            self.leases
                .hold(&row.bucket, row.window_start, amount - 1, room);
        }
        drop(held);
        Ok(Ok(()))
    }

    /// Takes back one hit of the current window (a sign-in that succeeded does not count as a
    /// failure).
    pub async fn give_back(&self, check: &Check) -> Result<(), sea_orm::DbErr> {
        let now = self.clock.now().timestamp();
        let window = i64::from(check.limit.window_secs);
        store::remove_hits(&self.db, &check.bucket, now.div_euclid(window) * window, 1).await
    }

    /// Deletes the counters of windows that have passed; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, sea_orm::DbErr> {
        store::delete_expired(&self.db, self.clock.now().timestamp()).await
    }
}

/// How many more hits the sliding window takes, after `current` (0 when full).
fn room_left(max: u32, window: i64, elapsed: i64, previous: i64, current: i64) -> i64 {
    let used = previous * (window - elapsed) + current * window;
    ((i64::from(max) * window - used) / window).max(0)
}

/// The sliding-window check: the previous window's hits, weighted by how much of it still
/// overlaps the last `window` seconds, plus the current window's (`current` includes this
/// hit). `None` when the hit is within `max`; otherwise the seconds until one more hit would
/// be, if nothing else came.
fn sliding_wait(max: u32, window: i64, elapsed: i64, previous: i64, current: i64) -> Option<u64> {
    let max = i64::from(max);
    // previous × (window − elapsed) / window + current > max, in integers.
    if previous * (window - elapsed) + current * window <= max * window {
        return None;
    }
    // This hit is taken back, so "one more" is this one again: `current` still counts it.
    let wait = if current <= max && previous > 0 {
        // Later in this window: previous × (window − t) / window + current ≤ max.
        let t = window - (max - current) * window / previous;
        if t < window { Some(t - elapsed) } else { None }
    } else {
        None
    };
    let wait = wait.unwrap_or_else(|| {
        // In the next window, where this window's hits, less this one, are the previous:
        // (current − 1) × (window − t) / window + 1 ≤ max.
        let before = (current - 1).max(0);
        let t = if before < max {
            0
        } else {
            window - (max - 1) * window / before
        };
        window - elapsed + t
    });
    Some(wait.max(1).unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_peers() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 192.168.1.1").expect("valid");
        // An untrusted peer's header is ignored.
        assert_eq!(
            client_address(ip("203.0.113.9"), ["1.2.3.4"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
        // A trusted peer: the right-most untrusted hop; forged hops to its left are not read.
        assert_eq!(
            client_address(
                ip("10.1.2.3"),
                ["6.6.6.6, 198.51.100.7", "10.9.9.9"].into_iter(),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // Only trusted hops: the left-most of them.
        assert_eq!(
            client_address(ip("10.1.2.3"), ["192.168.1.1"].into_iter(), &trusted),
            ip("192.168.1.1")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            client_address(ip("10.1.2.3"), ["1.1.1.1, nonsense"].into_iter(), &trusted),
            ip("10.1.2.3")
        );
        // IPv4-mapped peers count as IPv4.
        assert_eq!(
            client_address(ip("::ffff:10.0.0.1"), ["7.7.7.7"].into_iter(), &trusted),
            ip("7.7.7.7")
        );
    }

    #[test]
    fn limits_and_proxies_parse_strictly() {
        assert_eq!(Limit::parse("600/60"), Ok(Limit::new(600, 60)));
        for bad in ["600", "0/60", "5/0", "a/b", "5/100000"] {
            assert!(Limit::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
        assert!(parse_trusted_proxies("").expect("empty is none").is_empty());
    }

    #[test]
    fn the_sliding_window_weighs_the_previous_window() {
        // Within the limit, with or without an earlier window.
        assert_eq!(sliding_wait(5, 100, 10, 0, 5), None);
        assert_eq!(sliding_wait(5, 100, 50, 4, 3), None);
        // Five in the previous window, at its very end: a sixth is refused, and may come back
        // once enough of the previous window has slid out.
        let wait = sliding_wait(5, 100, 1, 5, 1).expect("refused");
        assert!((1..=100).contains(&wait), "{wait}");
        assert_eq!(
            sliding_wait(5, 100, 1 + i64::try_from(wait).expect("small"), 5, 1),
            None
        );
        // A full current window: back early in the next one.
        let wait = sliding_wait(5, 100, 10, 0, 6).expect("refused");
        assert!((90..=190).contains(&wait), "{wait}");
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        assert_eq!(address_key(ip("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(address_key(ip("192.0.2.1")), "192.0.2.1");
    }
}
