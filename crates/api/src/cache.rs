//! Answers of single days (or hours), kept for the next request that asks the same of the same
//! objects: dashboards repeat their queries, and overlapping windows (`7d`, `30d`) share days.
//!
//! An answer is kept under the day, the ETags of the allocation object and (when the request
//! reads assets) of the asset object it was computed from, as their GetObjects returned them,
//! and a fingerprint of everything else the answer depends on (the query options and the
//! filter). A request looks its days up by the ETags a HeadObject gives now, so a rewritten
//! object (a late cluster, a re-federation) is never answered from the old version. Bounded by
//! the rows it holds ([`DayCache::new`]); the least recently used answers go first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use ampfed_allocation::{Allocation, Window};

use crate::params::AllocationRequest;

/// Answers larger than this share of the cache's rows are not kept.
const MAX_SHARE: usize = 8;

/// What an answer was computed from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DayKey {
    pub day: Window,
    /// The allocation object's ETag.
    pub allocations: String,
    /// The asset object's ETag, when the request reads assets.
    pub assets: Option<String>,
    /// [`fingerprint`] of the request.
    pub request: String,
}

/// One day's answer: its raw rows and its rows by key.
pub type DayAnswer = (usize, BTreeMap<String, Allocation>);

struct Entry {
    answer: DayAnswer,
    used: u64,
}

struct Inner {
    entries: HashMap<DayKey, Entry>,
    /// Each entry's key by its `used` tick: the least recently used first (eviction in
    /// O(log n), not a scan of every entry).
    by_use: BTreeMap<u64, DayKey>,
    rows: usize,
    clock: u64,
}

/// Day answers held, at most `max_rows` answer rows in all.
pub struct DayCache {
    max_rows: usize,
    inner: Mutex<Inner>,
}

/// Everything but the day and the objects that a day's answer depends on.
pub fn fingerprint(req: &AllocationRequest) -> String {
    format!("{:?}|{:?}", req.options, req.filter)
}

impl DayCache {
    /// A cache of at most `max_rows` answer rows (0: nothing is kept).
    pub fn new(max_rows: usize) -> DayCache {
        let inner = Inner { entries: HashMap::new(), by_use: BTreeMap::new(), rows: 0, clock: 0 };
        DayCache { max_rows, inner: Mutex::new(inner) }
    }

    pub fn enabled(&self) -> bool {
        self.max_rows > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map: entries are inserted whole.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer kept under `key`, if any.
    pub fn get(&self, key: &DayKey) -> Option<DayAnswer> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.entries.get_mut(key)?;
        let was = std::mem::replace(&mut entry.used, now);
        let answer = entry.answer.clone();
        if let Some(k) = inner.by_use.remove(&was) {
            inner.by_use.insert(now, k);
        }
        Some(answer)
    }

    /// Keeps `answer` under `key`, dropping the least recently used answers beyond the bound;
    /// an answer larger than an eighth of the bound is not kept.
    pub fn put(&self, key: DayKey, answer: DayAnswer) {
        let rows = answer.1.len().max(1);
        if !self.enabled() || rows > self.max_rows / MAX_SHARE {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let used = inner.clock;
        inner.by_use.insert(used, key.clone());
        if let Some(old) = inner.entries.insert(key, Entry { answer, used }) {
            inner.rows -= old.answer.1.len().max(1);
            inner.by_use.remove(&old.used);
        }
        inner.rows += rows;
        while inner.rows > self.max_rows {
            let Some((_, oldest)) = inner.by_use.pop_first() else { break };
            if let Some(gone) = inner.entries.remove(&oldest) {
                inner.rows -= gone.answer.1.len().max(1);
            }
        }
    }

    /// Answers and rows held.
    pub fn held(&self) -> (usize, usize) {
        let inner = self.lock();
        debug_assert_eq!(inner.by_use.len(), inner.entries.len(), "one use tick an entry");
        (inner.entries.len(), inner.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: i64, etag: &str) -> DayKey {
        DayKey {
            day: Window { start: n, end: n + 1 },
            allocations: etag.into(),
            assets: None,
            request: "r".into(),
        }
    }

    fn answer(rows: usize) -> DayAnswer {
        (rows, (0..rows).map(|i| (format!("k{i}"), Allocation::default())).collect())
    }

    #[test]
    fn an_answer_is_found_under_its_objects_versions_only() {
        let cache = DayCache::new(80);
        cache.put(key(0, "\"a\""), answer(2));
        assert_eq!(cache.get(&key(0, "\"a\"")).map(|a| a.0), Some(2));
        assert!(cache.get(&key(0, "\"b\"")).is_none(), "a rewritten object is another version");
        assert!(cache.get(&key(1, "\"a\"")).is_none(), "another day");
        let other = DayKey { request: "s".into(), ..key(0, "\"a\"") };
        assert!(cache.get(&other).is_none(), "another request");
        let with_assets = DayKey { assets: Some("\"x\"".into()), ..key(0, "\"a\"") };
        assert!(cache.get(&with_assets).is_none(), "another asset version");
    }

    #[test]
    fn the_least_recently_used_answers_go_beyond_the_bound() {
        // 80 rows, answers of at most 10: the eighth of the bound.
        let cache = DayCache::new(80);
        for n in 0..8 {
            cache.put(key(n, "e"), answer(10));
        }
        assert_eq!(cache.held(), (8, 80));
        assert!(cache.get(&key(0, "e")).is_some(), "day 0 used again");
        cache.put(key(8, "e"), answer(10));
        assert_eq!(cache.held(), (8, 80));
        assert!(cache.get(&key(1, "e")).is_none(), "day 1 was the least recently used");
        assert!(cache.get(&key(0, "e")).is_some());
        cache.put(key(9, "e"), answer(11));
        assert_eq!(cache.held(), (8, 80), "an answer over an eighth of the bound is not kept");
        cache.put(key(8, "e"), answer(5));
        assert_eq!(cache.held(), (8, 75), "a replaced answer's rows are given back");
        // Many days through a small cache: the eviction order stays one tick an entry.
        let small = DayCache::new(40);
        for n in 0..1_000 {
            small.put(key(n % 13, "e"), answer(1 + (n % 5) as usize));
            let _ = small.get(&key((n * 7) % 13, "e"));
            assert!(small.held().1 <= 40);
        }
        let off = DayCache::new(0);
        off.put(key(0, "e"), answer(1));
        assert_eq!(off.held(), (0, 0));
    }
}
