//! Leases on the shared rate-limit counters: a replica adds a few hits to a counter ahead of
//! use, in the same statement as the hit that needed the database, and lets the next requests
//! through against them from memory. Requests on the hot path (every MCP request) then reach
//! the database once per lease rather than once each, and a limit is still never exceeded,
//! since every hit let through was counted in the shared store before it was.
//!
//! A lease is sized from the room the counter had at the replica's last look: an eighth of it
//! (`LEASE_SHARE`), at most `LEASE_MAX` hits. Near the limit the room is small and the lease is
//! zero, so the last hits of a window are decided one by one in the database, exactly as
//! without leases. The cost is the other way round: hits a replica leased and has not used yet
//! count against the client at every replica, so a client spread over replicas may be refused
//! while up to an eighth of the room (per replica) is still unused, until the window passes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A replica leases at most this share of the room left under a limit (1/8)…
pub const LEASE_SHARE: i64 = 8;
/// …and at most this many hits at once.
pub const LEASE_MAX: i64 = 1000;

/// What a replica holds of one bucket's counter.
#[derive(Clone, Copy, Debug)]
struct Lease {
    /// The window the leased hits were counted in.
    window_start: i64,
    /// Hits counted in the shared store and not yet used here.
    left: i64,
    /// The room under the limit at the last look, in hits (what sizes the next lease).
    room: i64,
}

/// The leases of one process, by bucket.
#[derive(Default)]
pub struct Leases {
    held: Mutex<HashMap<String, Lease>>,
    /// One turn at the database per bucket at a time, so that requests waiting for a bucket
    /// use the lease the one before them brought back rather than each fetching its own.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Beyond this many buckets, the ones of passed windows are dropped.
const TIDY_ABOVE: usize = 10_000;

impl Leases {
    /// Takes one hit from the lease of every `(bucket, window_start)`, all or none; false when
    /// one of them has none left in that window.
    pub fn take(&self, buckets: &[(&str, i64)]) -> bool {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let all = buckets.iter().all(|(bucket, window)| {
            held.get(*bucket)
                .is_some_and(|l| l.window_start == *window && l.left > 0)
        });
        if all {
            for (bucket, _) in buckets {
                if let Some(lease) = held.get_mut(*bucket) {
                    lease.left -= 1;
                }
            }
        }
        all
    }

    /// Takes one hit from this bucket's lease in this window, if it has one.
    pub fn take_one(&self, bucket: &str, window_start: i64) -> bool {
        self.take(&[(bucket, window_start)])
    }

    /// Gives back one hit taken with `take_one` (the request was refused by another bucket).
    pub fn put_back(&self, bucket: &str, window_start: i64) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(lease) = held.get_mut(bucket)
            && lease.window_start == window_start
        {
            lease.left += 1;
        }
    }

    /// How many hits beyond the one at hand to lease for `bucket` in this window: a share of
    /// the room seen last time in this window, none the first time.
    pub fn next_size(&self, bucket: &str, window_start: i64) -> i64 {
        let held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match held.get(bucket) {
            Some(lease) if lease.window_start == window_start => {
                (lease.room / LEASE_SHARE).clamp(0, LEASE_MAX)
            }
            _ => 0,
        }
    }

    /// Records what the database said: `left` leased hits to use here, `room` under the limit.
    pub fn hold(&self, bucket: &str, window_start: i64, left: i64, room: i64) {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.len() > TIDY_ABOVE {
            // Windows are at most a day long; a lease older than that is of a passed window.
            held.retain(|_, l| l.window_start >= window_start - 86_400);
        }
        let lease = held.entry(bucket.to_owned()).or_insert(Lease {
            window_start,
            left: 0,
            room,
        });
        if lease.window_start != window_start {
            lease.left = 0;
        }
        lease.window_start = window_start;
        lease.left += left;
        lease.room = room;
    }

    /// The turn of one bucket at the database.
    pub fn turn(&self, bucket: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self
            .turns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if turns.len() > TIDY_ABOVE {
            // Only turns nobody waits for or holds go.
            turns.retain(|_, turn| Arc::strong_count(turn) > 1);
        }
        turns.entry(bucket.to_owned()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_used_within_its_window_only_and_all_or_none() {
        let leases = Leases::default();
        assert_eq!(leases.next_size("a", 0), 0, "no lease the first time");
        leases.hold("a", 0, 2, 80);
        leases.hold("b", 0, 0, 80);
        assert_eq!(leases.next_size("a", 0), 10);
        assert_eq!(leases.next_size("a", 60), 0, "another window starts afresh");
        assert!(!leases.take(&[("a", 0), ("b", 0)]), "b has nothing left");
        assert!(leases.take(&[("a", 0)]));
        assert!(leases.take(&[("a", 0)]));
        assert!(!leases.take(&[("a", 0)]), "both leased hits are used");
        leases.put_back("a", 0);
        assert!(!leases.take(&[("a", 60)]), "not in another window");
        assert!(leases.take(&[("a", 0)]));
        leases.hold("a", 0, 0, 3);
        assert_eq!(leases.next_size("a", 0), 0, "near the limit, hit by hit");
        leases.hold("c", 0, 0, 1_000_000);
        assert_eq!(leases.next_size("c", 0), LEASE_MAX);
    }
}
