//! Who exists: an in-memory copy of the users table, so that checking a user id
//! or UUID on a hot path never queries Postgres.
//!
//! Filled at start-up, then topped up every second with the users added since
//! (ids only grow), and fully reloaded now and then in case an insert committed
//! out of id order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

use sqlx::PgPool;
use uuid::Uuid;

#[derive(Default)]
pub struct UserDirectory {
    known: RwLock<Known>,
    highest_id: AtomicI64,
}

#[derive(Default)]
struct Known {
    uuid_of: HashMap<i64, Uuid>,
    by_uuid: HashMap<Uuid, i64>,
}

impl UserDirectory {
    pub fn contains(&self, user_id: i64) -> bool {
        self.read().uuid_of.contains_key(&user_id)
    }

    pub fn id_of(&self, uuid: &Uuid) -> Option<i64> {
        self.read().by_uuid.get(uuid).copied()
    }

    pub fn uuid_of(&self, user_id: i64) -> Option<Uuid> {
        self.read().uuid_of.get(&user_id).copied()
    }

    pub fn len(&self) -> usize {
        self.read().uuid_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
                known.uuid_of.insert(id, uuid);
                known.by_uuid.insert(uuid, id);
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
