//! The callers of recently seen tokens, kept for at most [`TokenCache::TTL`] in
//! front of whatever store answers `caller_for_token`: a revocation made anywhere
//! (the CLI on the same database, another node) is honoured within twice that.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::Caller;
use crate::services::Services;
use crate::store::StoreError;

/// A bounded map from token hash to its caller (or to "no such live token").
pub struct TokenCache {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    capacity: usize,
}

struct Entry {
    caller: Option<Caller>,
    /// When the lookup that found it began: a revocation committed after that
    /// is seen once the entry is older than the TTL.
    looked_up: Instant,
}

impl TokenCache {
    /// How long an answer of the store is reused, positive or negative.
    pub const TTL: Duration = Duration::from_secs(1);
    /// The most tokens remembered; past it, the stale ones go, or all.
    pub const CAPACITY: usize = 4096;

    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            entries: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
            capacity,
        }
    }

    fn get(&self, hash: &[u8; 32], now: Instant) -> Option<Option<Caller>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(hash)?;
        (now.duration_since(entry.looked_up) < Self::TTL).then(|| entry.caller.clone())
    }

    fn put(&self, hash: [u8; 32], caller: Option<Caller>, looked_up: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&hash) {
            let now = Instant::now();
            entries.retain(|_, e| now.duration_since(e.looked_up) < Self::TTL);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(hash, Entry { caller, looked_up });
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(Self::CAPACITY)
    }
}

impl Services {
    /// The caller a token hash stands for, if the token exists and was not
    /// revoked more than [`TokenCache::TTL`] before its last lookup.
    pub async fn caller_for_token(&self, hash: [u8; 32]) -> Result<Option<Caller>, StoreError> {
        let now = Instant::now();
        if let Some(caller) = self.tokens.get(&hash, now) {
            return Ok(caller);
        }
        let caller = self.store.caller_for_token(hash).await?;
        self.tokens.put(hash, caller.clone(), now);
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_cache_stays_bounded() {
        let cache = TokenCache::new(3);
        let start = Instant::now();
        let title = Some(Caller::title("default"));
        cache.put([1; 32], title.clone(), start);
        cache.put([2; 32], None, start);
        assert_eq!(cache.get(&[1; 32], start), Some(title.clone()));
        assert_eq!(cache.get(&[2; 32], start), Some(None));
        assert_eq!(cache.get(&[3; 32], start), None);
        assert_eq!(cache.get(&[1; 32], start + TokenCache::TTL), None);
        for i in 0..100u8 {
            cache.put([i; 32], None, Instant::now());
            let len = cache
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len();
            assert!(len <= 3, "{len} entries");
        }
    }
}
