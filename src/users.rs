//! Who exists: an in-memory copy of the users table, so that checking a user id
//! or UUID on a hot path never queries Postgres.
//!
//! Filled at start-up, then topped up every second with the users added since
//! (ids only grow), and fully reloaded now and then in case an insert committed
//! out of id order.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use sqlx::PgPool;
use uuid::Uuid;

/// A user id no account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnknownUser(pub(crate) i64);

#[derive(Default)]
pub struct UserDirectory {
    known: RwLock<Known>,
    highest_id: AtomicI64,
}

/// Ids below this live in a bitset (at most 8 MiB); larger ones in `sparse_ids`.
const DENSE_ID_LIMIT: i64 = 1 << 26;

#[derive(Default)]
struct Known {
    /// Bit n set = user n exists. Ids are dense (1, 2, 3, ...), so this is tiny
    /// (125 KB for a million users) and a lookup is one cache-friendly load.
    dense_ids: Vec<u64>,
    sparse_ids: HashSet<i64>,
    uuid_of: HashMap<i64, Uuid>,
    by_uuid: HashMap<Uuid, i64>,
}

impl Known {
    fn contains(&self, id: i64) -> bool {
        if (0..DENSE_ID_LIMIT).contains(&id) {
            let (word, bit) = ((id / 64) as usize, id % 64);
            self.dense_ids.get(word).is_some_and(|bits| bits & (1 << bit) != 0)
        } else {
            self.sparse_ids.contains(&id)
        }
    }

    fn insert(&mut self, id: i64, uuid: Uuid) {
        if (0..DENSE_ID_LIMIT).contains(&id) {
            let (word, bit) = ((id / 64) as usize, id % 64);
            if self.dense_ids.len() <= word {
                self.dense_ids.resize(word + 1, 0);
            }
            self.dense_ids[word] |= 1 << bit;
        } else {
            self.sparse_ids.insert(id);
        }
        self.uuid_of.insert(id, uuid);
        self.by_uuid.insert(uuid, id);
    }
}

impl UserDirectory {
    /// The user exists, or the error every layer reports for an unknown one.
    pub(crate) fn require(&self, user_id: i64) -> Result<(), UnknownUser> {
        if self.read().contains(user_id) {
            Ok(())
        } else {
            Err(UnknownUser(user_id))
        }
    }

    pub(crate) fn id_of(&self, uuid: &Uuid) -> Option<i64> {
        self.read().by_uuid.get(uuid).copied()
    }

    pub(crate) fn uuid_of(&self, user_id: i64) -> Option<Uuid> {
        self.read().uuid_of.get(&user_id).copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.read().uuid_of.len()
    }

    /// Loads the users added since the last refresh; returns how many.
    pub async fn refresh(&self, db: &PgPool) -> Result<usize, sqlx::Error> {
        let after = self.highest_id.load(Ordering::Acquire);
        self.load(db, after).await
    }

    /// Reloads every user.
    pub async fn reload(&self, db: &PgPool) -> Result<usize, sqlx::Error> {
        self.load(db, 0).await
    }

    async fn load(&self, db: &PgPool, after: i64) -> Result<usize, sqlx::Error> {
        let rows: Vec<(i64, Uuid)> = sqlx::query_as("SELECT id, uuid FROM users WHERE id > $1 ORDER BY id")
            .bind(after)
            .fetch_all(db)
            .await?;
        let Some(&(highest, _)) = rows.last() else {
            return Ok(0);
        };
        {
            let mut known = self.known.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            known.uuid_of.reserve(rows.len());
            known.by_uuid.reserve(rows.len());
            for &(id, uuid) in &rows {
                known.insert(id, uuid);
            }
        }
        self.highest_id.fetch_max(highest, Ordering::AcqRel);
        Ok(rows.len())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        // A panic while holding the lock cannot leave the sets half-valid for a
        // reader (inserts only), so a poisoned lock is still safe to read.
        self.known.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_ids_are_both_found() {
        let mut known = Known::default();
        for id in [1, 63, 64, 1_000_000, DENSE_ID_LIMIT + 5, i64::MAX] {
            known.insert(id, Uuid::new_v4());
        }
        for id in [1, 63, 64, 1_000_000, DENSE_ID_LIMIT + 5, i64::MAX] {
            assert!(known.contains(id), "{id}");
        }
        for id in [0, 2, 65, 999_999, DENSE_ID_LIMIT, -1, i64::MIN] {
            assert!(!known.contains(id), "{id}");
        }
    }
}
