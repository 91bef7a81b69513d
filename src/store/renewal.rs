//! The serving pool, replaced by a fresh one when its slots are lost.
//!
//! sqlx checks every connection returned to its pool with a round trip of
//! its own (a `Sync`), and waits for the answer without a deadline. Behind a
//! link that lost the connection's replies for good (a NAT or a load
//! balancer that dropped its state, while new connections pass), that answer
//! never comes, and the slot is held until the kernel gives up on the socket,
//! which may be never if the middlebox still acknowledges what is sent. The
//! fault suite saw a pool of three lose every slot so, and every payment and
//! balance read was refused from then on.
//!
//! Every statement on the serving pool is bounded (`Db::bounded`,
//! `Db::decisive`): a connection is closed or returned within the deadline.
//! So a pool whose every slot is taken, that has handed out nothing for
//! longer than twice that deadline and its acquire timeout, while Postgres
//! answers its probe, is holding lost slots: it is replaced by a pool with
//! the same options, and the old one closed as its connections come back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use sqlx::PgPool;

pub(crate) struct RenewingPool {
    /// The pool in use, and how many pools came before it.
    current: RwLock<(u64, PgPool)>,
    /// When a connection was last handed out, in ms since `since`.
    handed_out_ms: AtomicU64,
    since: Instant,
}

impl RenewingPool {
    pub(crate) fn new(pool: PgPool) -> Self {
        RenewingPool {
            current: RwLock::new((0, pool)),
            handed_out_ms: AtomicU64::new(0),
            since: Instant::now(),
        }
    }

    /// The pool in use, with its generation for [`RenewingPool::timed_out`].
    pub(crate) fn current(&self) -> (u64, PgPool) {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A connection was handed out.
    pub(crate) fn handed_out(&self) {
        self.handed_out_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    /// An acquire from `pool` (of `generation`) timed out while Postgres
    /// answers; replaces the pool if its slots are lost. True when it did.
    pub(crate) fn timed_out(&self, generation: u64, pool: &PgPool, answer_within: Duration) -> bool {
        let options = pool.options();
        let stuck_after = answer_within * 2 + options.get_acquire_timeout();
        let quiet_ms = self.now_ms().saturating_sub(self.handed_out_ms.load(Ordering::Relaxed));
        let every_slot_taken = pool.num_idle() == 0 && pool.size() >= options.get_max_connections();
        if quiet_ms < stuck_after.as_millis() as u64 || !every_slot_taken {
            return false;
        }
        let mut current = match self.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if current.0 != generation {
            // Another caller replaced it meanwhile.
            return false;
        }
        let fresh = options.clone().connect_lazy_with((*pool.connect_options()).clone());
        let old = std::mem::replace(&mut *current, (generation + 1, fresh)).1;
        drop(current);
        // The next replacement waits for the new pool's own quiet spell.
        self.handed_out();
        tracing::warn!(
            held = pool.size(),
            quiet_ms,
            "every Postgres connection of the pool was held past any statement's deadline: a new pool replaces it"
        );
        metrics::counter!(crate::telemetry::metrics::DB_POOLS_REPLACED).increment(1);
        // Marked closed at once (by the call), so a connection that does come
        // back is closed, not kept; the wait for the lost ones runs apart.
        let closing = old.clone();
        drop(old.close());
        tokio::spawn(async move { closing.close().await });
        true
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

// The fault suite's link, shared rather than copied.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../tests/api/helpers/lost_replies.rs"]
mod lost_replies;

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    use super::*;

    const POSTGRES_PORT: u16 = 5432;

    /// Both slots of a pool are lost in sqlx's check of their return; the pool
    /// is replaced once nothing was handed out for longer than any bounded
    /// work lasts, and not before, and the new one serves.
    #[tokio::test]
    async fn a_pool_whose_every_slot_was_lost_on_its_return_is_replaced() {
        let link = super::lost_replies::LostReplies::start(POSTGRES_PORT).await;
        let base = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| format!("postgres://postgres@127.0.0.1:{POSTGRES_PORT}/postgres"));
        let url = link.in_front_of(&base, POSTGRES_PORT);
        let options = PgConnectOptions::from_str(&url).expect("a Postgres URL");
        let acquire_timeout = Duration::from_millis(200);
        let answer_within = Duration::from_millis(100);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(options);
        let renewing = RenewingPool::new(pool);

        let (generation, first) = renewing.current();
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut connection = first.acquire().await.expect("a connection");
            renewing.handed_out();
            sqlx::query("SELECT 1")
                .execute(&mut *connection)
                .await
                .expect("an answer");
            held.push(connection);
        }
        link.lose_open_connections();
        // Returned: sqlx asks each for a round trip whose answer never comes.
        drop(held);

        let started = Instant::now();
        let mut replaced = false;
        while !replaced {
            assert!(started.elapsed() < Duration::from_secs(5), "not replaced within 5 s");
            let acquired = first.acquire().await;
            assert!(matches!(acquired, Err(sqlx::Error::PoolTimedOut)), "{acquired:?}");
            replaced = renewing.timed_out(generation, &first, answer_within);
            if replaced {
                assert!(
                    started.elapsed() >= answer_within * 2,
                    "replaced after {:?}, before any bounded work would have ended",
                    started.elapsed()
                );
            }
        }
        assert!(first.is_closed(), "the old pool is closed");
        let (next, fresh) = renewing.current();
        assert_eq!(next, generation + 1);
        let answer: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&fresh)
            .await
            .expect("the new pool serves");
        assert_eq!(answer, 1);
        // A second caller that saw the old pool time out replaces nothing more.
        assert!(!renewing.timed_out(generation, &first, answer_within));
    }
}
