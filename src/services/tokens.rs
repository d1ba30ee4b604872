//! The callers of recently seen tokens, kept for at most [`TokenCache::TTL`] in
//! front of whatever store answers `caller_for_token`: a revocation made anywhere
//! (the CLI on the same database, another node) is honoured within twice that.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::auth::hash_token;
use crate::domain::Caller;
use crate::services::Services;
use crate::store::StoreError;

/// A bounded map from token to its caller (or to "no such live token"). Keyed by
/// the token itself, so a hit costs no SHA-256; tokens are held no longer than
/// their entry, and the database still keeps hashes only.
pub struct TokenCache {
    entries: Mutex<HashMap<Box<str>, Entry>>,
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
    /// Longer tokens are looked up every time (nexds makes none this long).
    const LONGEST: usize = 128;

    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            entries: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
            capacity,
        }
    }

    fn get(&self, token: &str, now: Instant) -> Option<Option<Caller>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(token)?;
        (now.duration_since(entry.looked_up) < Self::TTL).then(|| entry.caller.clone())
    }

    fn put(&self, token: &str, caller: Option<Caller>, looked_up: Instant) {
        if token.len() > Self::LONGEST {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(token) {
            let now = Instant::now();
            entries.retain(|_, e| now.duration_since(e.looked_up) < Self::TTL);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token.into(), Entry { caller, looked_up });
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(Self::CAPACITY)
    }
}

impl Services {
    /// The caller a token stands for, if the token exists and was not revoked
    /// more than [`TokenCache::TTL`] before its last lookup.
    pub async fn caller_for_token(&self, token: &str) -> Result<Option<Caller>, StoreError> {
        let now = Instant::now();
        if let Some(caller) = self.tokens.get(token, now) {
            return Ok(caller);
        }
        let caller = self.store.caller_for_token(hash_token(token)).await?;
        self.tokens.put(token, caller.clone(), now);
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
        cache.put("one", title.clone(), start);
        cache.put("two", None, start);
        assert_eq!(cache.get("one", start), Some(title.clone()));
        assert_eq!(cache.get("two", start), Some(None));
        assert_eq!(cache.get("three", start), None);
        assert_eq!(cache.get("one", start + TokenCache::TTL), None);
        for i in 0..100u8 {
            cache.put(&i.to_string(), None, Instant::now());
            let len = cache
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len();
            assert!(len <= 3, "{len} entries");
        }
        let long = "x".repeat(TokenCache::LONGEST + 1);
        cache.put(&long, title, start);
        assert_eq!(cache.get(&long, start), None);
    }
}
