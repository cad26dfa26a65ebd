//! The memory replay store: one per route, this process only, bounded by `max_entries` with
//! the oldest claim evicted first. Instants are passed in, so the tests move time by hand.
//!
//! Each key is a SHA-256 digest (32 bytes whatever the delivery id's length), kept with the
//! claim's token, whether its delivery is done, and when it expires; a queue in claim order
//! finds the oldest (an entry whose key was removed or claimed again since is skipped when
//! it comes up). Expired keys go when looked up or when they are the oldest; either way the
//! store never holds more than `max_entries`. The map hashes a key by its first eight bytes:
//! it is already a SHA-256 digest, and only verified requests reach the store.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::serve::replay_redis::Found;

/// A route's keys in this process.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    max_entries: AtomicUsize,
}

#[derive(Default)]
struct Inner {
    keys: HashMap<[u8; 32], Entry, BuildHasherDefault<DigestHasher>>,
    /// (claim sequence, key), oldest first; stale when the key's entry has another sequence.
    order: VecDeque<(u64, [u8; 32])>,
    seq: u64,
}

/// A digest's first eight bytes as its hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as its length, then its bytes: keep the first eight of those.
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_usize(&mut self, _: usize) {}
}

struct Entry {
    seq: u64,
    token: u64,
    done: bool,
    expires: Instant,
}

impl MemoryStore {
    /// An empty store holding at most `max_entries` keys.
    pub fn new(max_entries: usize) -> MemoryStore {
        MemoryStore {
            inner: Mutex::default(),
            max_entries: AtomicUsize::new(max_entries.max(1)),
        }
    }

    /// A reload changed `max_entries`; the next claim evicts down to it.
    pub fn set_max_entries(&self, max_entries: usize) {
        self.max_entries
            .store(max_entries.max(1), Ordering::Relaxed);
    }

    /// Keys held now, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.lock().keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Claims `key` with `token` until `now + ttl`, unless a live claim holds it.
    pub fn claim(&self, key: [u8; 32], token: u64, now: Instant, ttl: Duration) -> Found {
        let max = self.max_entries.load(Ordering::Relaxed);
        let mut inner = self.lock();
        if let Some(e) = inner.keys.get(&key) {
            if e.expires > now {
                return if e.done {
                    Found::Duplicate
                } else {
                    Found::InFlight
                };
            }
            inner.remove(&key);
        }
        inner.insert(key, token, false, now + ttl, max);
        Found::Claimed
    }

    /// Marks `key` delivered: a duplicate until `now + window`, whoever held it (a 2xx means
    /// the delivery was made; see the Redis store's `keep`).
    pub fn keep(&self, key: [u8; 32], token: u64, now: Instant, window: Duration) {
        let max = self.max_entries.load(Ordering::Relaxed);
        let mut inner = self.lock();
        if let Some(e) = inner.keys.get_mut(&key) {
            (e.token, e.done, e.expires) = (token, true, now + window);
        } else {
            inner.insert(key, token, true, now + window, max);
        }
    }

    /// Drops `key` if it is still our claim.
    pub fn release(&self, key: [u8; 32], token: u64) {
        let mut inner = self.lock();
        if inner.keys.get(&key).is_some_and(|e| e.token == token) {
            inner.remove(&key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Inserts a key that is not held, evicting the oldest down to `max - 1` first.
    fn insert(&mut self, key: [u8; 32], token: u64, done: bool, expires: Instant, max: usize) {
        while self.keys.len() >= max {
            let Some((seq, oldest)) = self.order.pop_front() else {
                break;
            };
            if self.keys.get(&oldest).is_some_and(|e| e.seq == seq) {
                self.keys.remove(&oldest);
            }
        }
        // Released keys leave stale entries behind: past twice the bound, drop them all at
        // once (amortised over as many claims), so the queue stays bounded too.
        if self.order.len() >= 2 * max {
            let keys = &self.keys;
            self.order
                .retain(|(seq, k)| keys.get(k).is_some_and(|e| e.seq == *seq));
        }
        self.seq += 1;
        let seq = self.seq;
        self.order.push_back((seq, key));
        let entry = Entry {
            seq,
            token,
            done,
            expires,
        };
        self.keys.insert(key, entry);
    }

    /// Forgets `key`; its place in the queue is skipped when it comes up.
    fn remove(&mut self, key: &[u8; 32]) {
        self.keys.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    fn k(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn a_key_is_in_flight_then_a_duplicate_then_free_after_the_window() {
        let store = MemoryStore::new(10);
        let t0 = Instant::now();
        let window = Duration::from_millis(300);
        assert_eq!(store.claim(k(1), 7, t0, TTL), Found::Claimed);
        assert_eq!(store.claim(k(1), 8, t0, TTL), Found::InFlight);
        store.keep(k(1), 7, t0, window);
        let later = t0 + Duration::from_millis(299);
        assert_eq!(store.claim(k(1), 8, later, TTL), Found::Duplicate);
        let after = t0 + window;
        assert_eq!(store.claim(k(1), 9, after, TTL), Found::Claimed);
    }

    #[test]
    fn a_release_with_another_token_leaves_the_newer_claim_alone() {
        let store = MemoryStore::new(10);
        let t0 = Instant::now();
        let short = Duration::from_millis(5);
        assert_eq!(store.claim(k(1), 1, t0, short), Found::Claimed);
        // The first claim expired; a retry claims the key with its own token.
        let t1 = t0 + Duration::from_millis(6);
        assert_eq!(store.claim(k(1), 2, t1, TTL), Found::Claimed);
        store.release(k(1), 1);
        assert_eq!(store.claim(k(1), 3, t1, TTL), Found::InFlight);
        store.release(k(1), 2);
        assert_eq!(store.claim(k(1), 3, t1, TTL), Found::Claimed);
    }

    #[test]
    fn a_late_2xx_marks_the_key_delivered_whoever_holds_it() {
        let store = MemoryStore::new(10);
        let t0 = Instant::now();
        let short = Duration::from_millis(5);
        assert_eq!(store.claim(k(1), 1, t0, short), Found::Claimed);
        let t1 = t0 + Duration::from_millis(6);
        assert_eq!(store.claim(k(1), 2, t1, TTL), Found::Claimed);
        // The first attempt's upstream answered 2xx after all: the delivery was made.
        store.keep(k(1), 1, t1, TTL);
        // The retry's failure then releases nothing: its claim is no longer there.
        store.release(k(1), 2);
        assert_eq!(store.claim(k(1), 3, t1, TTL), Found::Duplicate);
        // Kept after its claim was evicted or expired: recorded anew.
        store.keep(k(9), 9, t1, TTL);
        assert_eq!(store.claim(k(9), 3, t1, TTL), Found::Duplicate);
    }

    #[test]
    fn released_claims_do_not_grow_the_queue_past_twice_the_bound() {
        let store = MemoryStore::new(4);
        let now = Instant::now();
        for n in 0..200u8 {
            assert_eq!(store.claim(k(n), 1, now, TTL), Found::Claimed);
            store.release(k(n), 1);
        }
        let inner = store.lock();
        assert!(inner.keys.is_empty());
        assert!(inner.order.len() <= 8, "queue holds {}", inner.order.len());
    }

    #[test]
    fn a_key_claimed_again_after_release_is_evicted_by_its_new_place() {
        let store = MemoryStore::new(2);
        let now = Instant::now();
        assert_eq!(store.claim(k(1), 1, now, TTL), Found::Claimed);
        store.release(k(1), 1);
        assert_eq!(store.claim(k(2), 2, now, TTL), Found::Claimed);
        // k(1) again: newer than k(2), so k(2) is the oldest when k(3) needs room.
        assert_eq!(store.claim(k(1), 3, now, TTL), Found::Claimed);
        assert_eq!(store.claim(k(3), 4, now, TTL), Found::Claimed);
        assert_eq!(store.claim(k(1), 5, now, TTL), Found::InFlight);
        assert_eq!(store.claim(k(2), 6, now, TTL), Found::Claimed);
        assert!(store.len() <= 2);
    }

    #[test]
    fn the_oldest_key_is_evicted_at_max_entries() {
        let store = MemoryStore::new(3);
        let t0 = Instant::now();
        for n in 1..=3 {
            store.claim(k(n), u64::from(n), t0, TTL);
            store.keep(k(n), u64::from(n), t0, TTL);
        }
        assert_eq!(store.claim(k(4), 4, t0, TTL), Found::Claimed);
        assert_eq!(store.len(), 3);
        // 1 was the oldest: gone, so it is claimable again; 2 and 3 stay duplicates.
        assert_eq!(store.claim(k(2), 9, t0, TTL), Found::Duplicate);
        assert_eq!(store.claim(k(3), 9, t0, TTL), Found::Duplicate);
        assert_eq!(store.claim(k(1), 9, t0, TTL), Found::Claimed);
        assert_eq!(store.len(), 3);
        store.set_max_entries(1);
        assert_eq!(store.claim(k(5), 5, t0, TTL), Found::Claimed);
        assert_eq!(store.len(), 1);
    }
}
