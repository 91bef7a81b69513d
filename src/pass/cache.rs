//! Passes this instance has verified, so that a visitor's every request does
//! not pay for Ed25519 again: a never-seen pass cost about 85 µs a check
//! against 1.2 µs for one remembered, in a debug build
//! (`pass::tests::verification_cost`; not yet measured in a release build).
//!
//! Keyed by the SHA-256 of the whole pass string: a hit is a string already
//! verified byte for byte, and no other string can find its entry short of a
//! SHA-256 collision. What it keeps are the claims only; expiry and
//! revocation are checked again on every hit by the caller.
//!
//! Bounded by two generations: entries go into the current one; when it is
//! full it becomes the previous one (the older previous one dropped whole),
//! so at most twice the capacity is held, with no per-entry bookkeeping. A
//! pass dropped this way is only verified once more.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use super::PassClaims;

pub(crate) type PassHash = [u8; 32];

pub(crate) fn hash_of(raw: &str) -> PassHash {
    Sha256::digest(raw.as_bytes()).into()
}

pub(crate) struct VerifiedCache {
    capacity: usize,
    generations: RwLock<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<PassHash, Arc<PassClaims>>,
    previous: HashMap<PassHash, Arc<PassClaims>>,
}

impl VerifiedCache {
    /// A capacity of 0 keeps nothing.
    pub(crate) fn new(capacity: usize) -> Self {
        VerifiedCache {
            capacity,
            generations: RwLock::default(),
        }
    }

    pub(crate) fn get(&self, hash: &PassHash) -> Option<Arc<PassClaims>> {
        let held = self.generations.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.current.get(hash).or_else(|| held.previous.get(hash)).cloned()
    }

    pub(crate) fn insert(&self, hash: PassHash, claims: Arc<PassClaims>) {
        if self.capacity == 0 {
            return;
        }
        let mut held = self
            .generations
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if held.current.len() >= self.capacity {
            held.previous = std::mem::take(&mut held.current);
        }
        held.current.insert(hash, claims);
    }

    pub(crate) fn len(&self) -> usize {
        let held = self.generations.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.current.len() + held.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jti: &str) -> Arc<PassClaims> {
        Arc::new(PassClaims {
            iss: "boxoffice".into(),
            aud: "https://shop.example".into(),
            sub: "v1".into(),
            queue: "q".into(),
            iat: 1,
            exp: 2,
            jti: jti.into(),
        })
    }

    #[test]
    fn it_holds_at_most_twice_its_capacity_and_keeps_the_newest() {
        let cache = VerifiedCache::new(3);
        for n in 0..10 {
            cache.insert(hash_of(&n.to_string()), claims(&n.to_string()));
            assert!(cache.len() <= 6);
        }
        assert_eq!(cache.get(&hash_of("9")).map(|c| c.jti.clone()), Some("9".into()));
        assert!(cache.get(&hash_of("0")).is_none());
    }

    #[test]
    fn a_capacity_of_zero_keeps_nothing() {
        let cache = VerifiedCache::new(0);
        cache.insert(hash_of("a"), claims("a"));
        assert!(cache.get(&hash_of("a")).is_none());
    }
}
