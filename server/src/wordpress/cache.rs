//! The upstream response cache and its single flight: what [`super::HttpWordPressApi`] keeps
//! of WordPress.org's answers, and how concurrent askers of one request wait for one fetch.
//!
//! A request is known by its fingerprint: 128 bits of two keyed SipHash passes (keys drawn per
//! process) over its canonical form (the path and its sorted, encoded query), so that a
//! lookup hashes and compares 16 bytes, not a query of up to several hundred. Two requests
//! sharing a fingerprint by chance is a 2^-128 event per pair, and the keys are secret, so it
//! cannot be forced.
//!
//! The store is a fixed table of small sets (four entries each), sized from the capacity:
//! an answer goes in its set's empty or expired entry, else in place of the set's oldest.
//! A lookup locks one set; nothing else runs in the background. moka did this job before and
//! cost more than the rest of the cache path together under unique keys (its concurrent map
//! rehashed under the churn, every miss went through its waiter map, and the housekeeping ran
//! on the callers: docs/benchmarks.md). What that gives up is moka's admission filter: a flood
//! of unique searches pushes popular answers out, and each comes back at the cost of one
//! upstream request the next time it is asked.
//!
//! The single flight: the first asker of a request that is not stored fetches it; the others
//! wait on its channel. If that first asker is dropped before it finishes (its client went
//! away), its waiters see the channel close and ask again, and one of them fetches.

use super::client::UpstreamError;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Entries per set of the store.
const WAYS: usize = 4;
/// Locks over the requests in flight (a power of two).
const FLIGHT_SHARDS: usize = 16;

/// What a fetch ends with, as its waiters receive it.
type Outcome = Result<Arc<Value>, UpstreamError>;
/// The requests in flight of one shard: each one's channel, where its outcome will appear.
type Flights = HashMap<Fingerprint, watch::Receiver<Option<Outcome>>>;

/// 128 bits that name one upstream request (see the module comment).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Fingerprint(u128);

/// How a lookup was answered: the `result` label of the cache metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// From the store.
    Hit,
    /// This caller fetched.
    Miss,
    /// This caller waited for another caller's fetch.
    Coalesced,
}

impl Lookup {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Coalesced => "coalesced",
        }
    }
}

struct Entry {
    key: Fingerprint,
    stored: Instant,
    value: Arc<Value>,
}

/// The bounded store of answers and the requests in flight.
pub(crate) struct ResponseCache {
    keys: (std::hash::RandomState, std::hash::RandomState),
    sets: Box<[Mutex<Vec<Entry>>]>,
    ttl: Duration,
    flights: Box<[Mutex<Flights>]>,
}

impl ResponseCache {
    /// A cache keeping about `capacity` answers (rounded up to whole sets) for `ttl` each.
    pub(crate) fn new(capacity: u64, ttl: Duration) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX).max(1);
        let sets = capacity.div_ceil(WAYS);
        Self {
            keys: (std::hash::RandomState::new(), std::hash::RandomState::new()),
            sets: (0..sets)
                .map(|_| Mutex::new(Vec::with_capacity(WAYS)))
                .collect(),
            ttl,
            flights: (0..FLIGHT_SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    /// The fingerprint of a request's canonical form.
    pub(crate) fn fingerprint(&self, canonical: &str) -> Fingerprint {
        let half = |state: &std::hash::RandomState| {
            let mut hasher = state.build_hasher();
            hasher.write(canonical.as_bytes());
            hasher.finish()
        };
        Fingerprint((u128::from(half(&self.keys.0)) << 64) | u128::from(half(&self.keys.1)))
    }

    /// How many answers are stored (expired ones included until they are replaced).
    pub(crate) fn len(&self) -> usize {
        self.sets.iter().map(|set| lock(set).len()).sum()
    }

    /// The stored answer of `key`, or the outcome of one `fetch` shared by every concurrent
    /// asker of `key`. Errors are handed to the waiters of that fetch but never stored.
    pub(crate) async fn get_or_fetch<F, Fut>(&self, key: Fingerprint, fetch: F) -> (Outcome, Lookup)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Outcome>,
    {
        loop {
            if let Some(value) = self.stored(key) {
                return (Ok(value), Lookup::Hit);
            }
            let joined = {
                let mut flights = lock(self.flight_shard(key));
                match flights.get(&key) {
                    // A closed channel is a flight whose caller is gone (its `Flight` takes it
                    // out; this only covers the moment in between).
                    Some(receiver) if receiver.has_changed().is_ok() => Ok(receiver.clone()),
                    _ => {
                        let (sender, receiver) = watch::channel(None);
                        flights.insert(key, receiver);
                        Err(sender)
                    }
                }
            };
            let mut waiting = match joined {
                Ok(receiver) => receiver,
                Err(sender) => return (self.lead(key, sender, fetch()).await, Lookup::Miss),
            };
            match waiting.wait_for(Option::is_some).await {
                Ok(outcome) => {
                    if let Some(outcome) = outcome.as_ref() {
                        return (outcome.clone(), Lookup::Coalesced);
                    }
                }
                // The fetching caller was dropped before it finished: ask again.
                Err(_) => continue,
            }
        }
    }

    /// Runs the fetch of `key` for everyone waiting on `sender`, stores a success, and ends
    /// the flight (also when this future is dropped half-way, see [`Flight`]).
    async fn lead(
        &self,
        key: Fingerprint,
        sender: watch::Sender<Option<Outcome>>,
        fetch: impl Future<Output = Outcome>,
    ) -> Outcome {
        let flight = Flight {
            cache: self,
            key,
            sender,
        };
        let outcome = fetch.await;
        if let Ok(value) = &outcome {
            self.store(key, Arc::clone(value));
        }
        flight.sender.send_replace(Some(outcome.clone()));
        outcome
    }

    fn set_of(&self, key: Fingerprint) -> &Mutex<Vec<Entry>> {
        // The fingerprint is already uniformly spread: its low bits pick the set.
        let index = (key.0 as u64 % self.sets.len() as u64) as usize;
        &self.sets[index]
    }

    fn flight_shard(&self, key: Fingerprint) -> &Mutex<Flights> {
        &self.flights[((key.0 >> 64) as usize) & (FLIGHT_SHARDS - 1)]
    }

    fn stored(&self, key: Fingerprint) -> Option<Arc<Value>> {
        let set = lock(self.set_of(key));
        set.iter()
            .find(|entry| entry.key == key && entry.stored.elapsed() < self.ttl)
            .map(|entry| Arc::clone(&entry.value))
    }

    fn store(&self, key: Fingerprint, value: Arc<Value>) {
        // One reading of the clock serves the entry and the expiry checks of the set.
        let now = Instant::now();
        let entry = Entry {
            key,
            stored: now,
            value,
        };
        let mut set = lock(self.set_of(key));
        let place = set
            .iter()
            .position(|old| old.key == key || now.duration_since(old.stored) >= self.ttl);
        match place {
            Some(index) => set[index] = entry,
            None if set.len() < WAYS => set.push(entry),
            None => {
                let oldest = set
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, old)| old.stored)
                    .map_or(0, |(index, _)| index);
                set[oldest] = entry;
            }
        }
    }
}

/// One fetch in flight; dropping it takes the request out of the flight map, so that later
/// askers fetch anew, and closes the channel, so that the waiters of an abandoned fetch ask
/// again.
struct Flight<'a> {
    cache: &'a ResponseCache,
    key: Fingerprint,
    sender: watch::Sender<Option<Outcome>>,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut flights = lock(self.cache.flight_shard(self.key));
        // Only this flight's own entry: a later flight of the same key may have replaced it.
        if flights
            .get(&self.key)
            .is_some_and(|receiver| receiver.same_channel(&self.sender.subscribe()))
        {
            flights.remove(&self.key);
        }
    }
}

/// A poisoned lock only means another caller panicked while holding it; the data (answers
/// and channels) is still whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn answer(n: u64) -> Outcome {
        Ok(Arc::new(json!({ "n": n })))
    }

    #[tokio::test]
    async fn a_stored_answer_is_served_until_it_expires() {
        let fetches = AtomicUsize::new(0);
        let fetch = || async { answer(fetches.fetch_add(1, Ordering::SeqCst) as u64) };
        let cache = ResponseCache::new(8, Duration::from_secs(60));
        let key = cache.fingerprint("/a?x=1");
        let (first, how) = cache.get_or_fetch(key, fetch).await;
        assert_eq!(
            (first.expect("fetched")["n"].clone(), how),
            (json!(0), Lookup::Miss)
        );
        let (again, how) = cache.get_or_fetch(key, fetch).await;
        assert_eq!(
            (again.expect("stored")["n"].clone(), how),
            (json!(0), Lookup::Hit)
        );
        // With no time to live, every answer has expired by the next lookup.
        let expired = ResponseCache::new(8, Duration::ZERO);
        let key = expired.fingerprint("/a?x=1");
        expired.get_or_fetch(key, fetch).await.0.expect("fetched");
        let (late, how) = expired.get_or_fetch(key, fetch).await;
        assert_eq!(
            (late.expect("fetched again")["n"].clone(), how),
            (json!(2), Lookup::Miss)
        );
    }

    #[tokio::test]
    async fn errors_reach_the_asker_but_are_not_stored() {
        let cache = ResponseCache::new(8, Duration::from_secs(60));
        let key = cache.fingerprint("/a");
        let (failed, _) = cache
            .get_or_fetch(key, || async { Err(UpstreamError::Timeout) })
            .await;
        assert_eq!(failed, Err(UpstreamError::Timeout));
        let (ok, how) = cache.get_or_fetch(key, || async { answer(7) }).await;
        assert_eq!(
            (ok.expect("fetched")["n"].clone(), how),
            (json!(7), Lookup::Miss)
        );
    }

    #[test]
    fn a_full_set_gives_up_its_oldest_answer_and_the_store_stays_bounded() {
        let cache = ResponseCache::new(WAYS as u64, Duration::from_secs(60));
        let keys: Vec<Fingerprint> = (0..WAYS + 1)
            .map(|n| cache.fingerprint(&format!("/a?n={n}")))
            .collect();
        for (n, key) in keys.iter().enumerate() {
            cache.store(*key, Arc::new(json!(n)));
        }
        assert_eq!(cache.len(), WAYS);
        assert!(cache.stored(keys[0]).is_none(), "the oldest went");
        for key in &keys[1..] {
            assert!(cache.stored(*key).is_some());
        }
    }

    #[test]
    fn fingerprints_differ_by_request_and_agree_for_one() {
        let cache = ResponseCache::new(8, Duration::from_secs(60));
        assert_eq!(cache.fingerprint("/a?x=1"), cache.fingerprint("/a?x=1"));
        assert_ne!(cache.fingerprint("/a?x=1"), cache.fingerprint("/a?x=2"));
        let other = ResponseCache::new(8, Duration::from_secs(60));
        assert_ne!(
            cache.fingerprint("/a?x=1"),
            other.fingerprint("/a?x=1"),
            "keys are drawn per cache"
        );
    }

    #[tokio::test]
    async fn waiters_of_an_abandoned_fetch_fetch_again() {
        // The test runtime runs one task at a time, so `yield_now` lets the spawned tasks run
        // until each waits on something.
        let cache = Arc::new(ResponseCache::new(8, Duration::from_secs(60)));
        let key = cache.fingerprint("/slow");
        // An asker whose fetch never ends by itself.
        let stuck = |cache: &Arc<ResponseCache>| {
            let cache = Arc::clone(cache);
            tokio::spawn(async move {
                cache
                    .get_or_fetch(key, std::future::pending::<Outcome>)
                    .await
            })
        };
        let alone = stuck(&cache);
        tokio::task::yield_now().await;
        assert_eq!(
            lock(cache.flight_shard(key)).len(),
            1,
            "one fetch in flight"
        );
        alone.abort();
        assert!(alone.await.is_err());
        assert!(
            lock(cache.flight_shard(key)).is_empty(),
            "an abandoned fetch leaves"
        );

        let leader = stuck(&cache);
        tokio::task::yield_now().await;
        let waiter = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { cache.get_or_fetch(key, || async { answer(2) }).await }
        });
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "the second asker waits for the first"
        );
        // The first asker goes away (its client hung up): the waiter fetches for itself.
        leader.abort();
        assert!(leader.await.is_err());
        let (outcome, how) = waiter.await.expect("the waiter ends");
        assert_eq!(
            (outcome.expect("answered")["n"].clone(), how),
            (json!(2), Lookup::Miss)
        );
        assert!(
            lock(cache.flight_shard(key)).is_empty(),
            "no flight is left behind"
        );
    }
}
