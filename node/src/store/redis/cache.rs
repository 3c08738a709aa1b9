//! The near cache (`--session-cache N`, standalone Redis): sessions this node read or wrote
//! recently, kept current by RESP3 client-side caching in broadcast mode — Redis pushes the
//! name of every `rjk:s:` key anyone changes, expires or deletes down this node's connection.
//!
//! This node's own save is applied to its copy; Redis announces it too (NOLOOP does not cover
//! scripts), right after the save's reply, so the save registers that one push as its own
//! and it is consumed instead of dropping the copy. An entry is filled only if no other
//! invalidation for its key arrived while the command that fetched or wrote it was in flight
//! (a per-bucket generation counter), so a push overtaking a reply never leaves a stale copy;
//! a push mistaken for our own (another node's, arriving first) only means our own one then
//! drops the copy. Losing the connection empties the cache: invalidations
//! may have been missed. What remains is the push's own latency: a request that reaches this
//! node within that time (well under a millisecond on a LAN) after another node changed the
//! session may see the change before it; sticky balancing makes that rare.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use redis::{PushInfo, PushKind, Value};

use crate::session::manager::{lock, SessionData};

const BUCKETS: usize = 1024;

/// A copy of a session's state, used at `now`.
pub(crate) fn copy(d: &SessionData, now: Instant) -> SessionData {
    SessionData {
        attributes: d.attributes.clone(),
        last_access: now,
        max_inactive: d.max_inactive,
        version: d.version,
    }
}

struct Cached {
    data: SessionData,
    used: Instant,
}

/// Sessions by key, bounded.
pub(crate) struct NearCache {
    capacity: usize,
    entries: Mutex<HashMap<String, Cached>>,
    /// Bumped by every invalidation of a key in the bucket (all of them on a flush).
    generations: Box<[AtomicU64]>,
    /// Saves of ours whose push has not arrived yet, per key.
    own: Mutex<HashMap<String, u32>>,
}

fn bucket(key: &str) -> usize {
    // FNV-1a: spreads keys, costs nothing.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    (h % BUCKETS as u64) as usize
}

impl NearCache {
    pub fn new(capacity: NonZeroUsize) -> NearCache {
        NearCache {
            capacity: capacity.get(),
            entries: Mutex::new(HashMap::new()),
            generations: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            own: Mutex::new(HashMap::new()),
        }
    }

    /// Taken before a command about `key` is sent; [`NearCache::put`] compares.
    pub fn generation(&self, key: &str) -> u64 {
        self.generations[bucket(key)].load(Ordering::SeqCst)
    }

    /// A copy of the cached session.
    pub fn get(&self, key: &str, now: Instant) -> Option<SessionData> {
        let mut m = lock(&self.entries);
        let e = m.get_mut(key)?;
        e.used = now;
        Some(copy(&e.data, now))
    }

    /// Keep `data` for `key` unless an invalidation arrived since `generation`.
    pub fn put(&self, key: &str, data: SessionData, generation: u64, now: Instant) {
        let mut m = lock(&self.entries);
        if self.generation(key) != generation {
            m.remove(key);
            return;
        }
        if m.len() >= self.capacity && !m.contains_key(key) {
            // Drop the least recently used eighth: one scan per capacity/8 fills.
            let mut ages: Vec<(Instant, String)> =
                m.iter().map(|(k, e)| (e.used, k.clone())).collect();
            ages.sort();
            for (_, k) in ages.into_iter().take((self.capacity / 8).max(1)) {
                m.remove(&k);
            }
        }
        m.insert(key.to_string(), Cached { data, used: now });
    }

    pub fn remove(&self, key: &str) {
        self.generations[bucket(key)].fetch_add(1, Ordering::SeqCst);
        lock(&self.entries).remove(key);
    }

    /// A save of ours is about to change `key`: its push is not news.
    pub fn expect_own(&self, key: &str) {
        *lock(&self.own).entry(key.to_string()).or_insert(0) += 1;
    }

    /// The save did not change `key` after all (no push will come).
    pub fn cancel_own(&self, key: &str) {
        let mut own = lock(&self.own);
        if let Some(n) = own.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                own.remove(key);
            }
        }
    }

    /// An invalidation of `key`: ours (expected) or news.
    fn invalidated(&self, key: &str) {
        {
            let mut own = lock(&self.own);
            if let Some(n) = own.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    own.remove(key);
                }
                return;
            }
        }
        self.remove(key);
    }

    pub fn clear(&self) {
        lock(&self.own).clear();
        for g in self.generations.iter() {
            g.fetch_add(1, Ordering::SeqCst);
        }
        lock(&self.entries).clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// A push from Redis: invalidated keys (a null list: everything), or the library telling
    /// the connection is gone. Returns whether the connection is still usable.
    pub fn on_push(&self, p: &PushInfo) -> bool {
        match p.kind {
            PushKind::Invalidate => {
                match p.data.first() {
                    Some(Value::Array(keys)) => {
                        for k in keys {
                            if let Value::BulkString(k) = k {
                                self.invalidated(&String::from_utf8_lossy(k));
                            }
                        }
                    }
                    _ => self.clear(),
                }
                true
            }
            PushKind::Disconnection => {
                self.clear();
                false
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn data(v: u64) -> SessionData {
        SessionData {
            attributes: HashMap::new(),
            last_access: Instant::now(),
            max_inactive: Duration::from_secs(60),
            version: v,
        }
    }

    #[test]
    fn an_invalidation_during_the_fetch_keeps_the_copy_out() {
        let c = NearCache::new(NonZeroUsize::new(4).unwrap());
        let now = Instant::now();
        let g = c.generation("k");
        c.put("k", data(1), g, now);
        assert_eq!(c.get("k", now).unwrap().version, 1);
        let g = c.generation("k");
        c.on_push(&PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(vec![Value::BulkString(b"k".to_vec())])],
        });
        assert!(c.get("k", now).is_none());
        c.put("k", data(2), g, now);
        assert!(c.get("k", now).is_none(), "fetched before the push: stale");
        // Our own save's push is consumed; the next one is news.
        let push = PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(vec![Value::BulkString(b"k".to_vec())])],
        };
        c.expect_own("k");
        let g = c.generation("k");
        c.on_push(&push);
        c.put("k", data(4), g, now);
        assert_eq!(c.get("k", now).unwrap().version, 4);
        c.on_push(&push);
        assert!(c.get("k", now).is_none());
        let g = c.generation("k");
        c.put("k", data(3), g, now);
        assert!(!c.on_push(&PushInfo {
            kind: PushKind::Disconnection,
            data: vec![]
        }));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let c = NearCache::new(NonZeroUsize::new(8).unwrap());
        let t0 = Instant::now();
        for i in 0..20u64 {
            let k = format!("k{i}");
            c.put(&k, data(i), c.generation(&k), t0 + Duration::from_millis(i));
        }
        assert!(c.len() <= 8);
        assert!(c.get("k19", t0).is_some());
    }
}
