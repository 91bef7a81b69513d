//! The way joins and polls reach Redis: one lane per queue, in which the calls
//! of this instance are coalesced into batched calls of `queue_standing`
//! (see `store::coalesce` for why and how).
//!
//! A run follows one set of join rules, so the joins with a presale invitation
//! (which take a place before the opening, the others do not) go in lanes of
//! their own: mixed into one run, one kind would follow the other's rules.
//!
//! With `BOXOFFICE_QUEUE_BATCH_MAX=1` every join and poll is a call of its
//! own, sent at once however many are in flight: the behaviour before
//! coalescing, kept for comparison.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use redis::RedisResult;

use super::settings::Snapshot;
use crate::events::{Count, QueueCounter, QueueCounts};
use crate::store::coalesce::{Batch, Lane};
use crate::store::keys::{Keys, QueueKeys};
use crate::store::redis::Redis;
use crate::store::scripts::standing::{self, Ask, Mode, Standing, StandingState, Timing};
use crate::telemetry::metrics::{QUEUE_SCRIPT_CALLS, QUEUE_SCRIPT_ENTRIES};

/// The joins and polls of one queue, sent as runs of `queue_standing.lua`.
pub(crate) struct Standings {
    redis: Redis,
    keys: Arc<QueueKeys>,
    queue: String,
    settings: Snapshot,
    timing: Timing,
    calls: metrics::Counter,
    entries: metrics::Counter,
    /// The joins and polls answered, for `queue.counts`: counted once a run.
    counter: QueueCounter,
}

impl Batch for Standings {
    type Entry = Ask;
    type Answer = Standing;

    async fn run(&self, asks: Vec<Ask>) -> RedisResult<Vec<Standing>> {
        let mut redis = self.redis.connection().await?;
        let fallback = self.settings.join_rules(&self.queue);
        let answers = standing::run(&mut redis, &self.keys, &asks, &self.timing, fallback).await?;
        // An opening due is asked again once the pre-queue is placed: counted then.
        let (mut joins, mut polls) = (0, 0);
        for (ask, answer) in asks.iter().zip(&answers) {
            if answer.state != StandingState::OpeningDue {
                match ask.mode {
                    Mode::Poll => polls += 1,
                    Mode::Join { .. } => joins += 1,
                }
            }
        }
        self.counter.add(Count::Join, joins);
        self.counter.add(Count::Poll, polls);
        Ok(answers)
    }

    fn sent(&self, entries: usize) {
        self.calls.increment(1);
        self.entries.increment(entries as u64);
    }
}

#[derive(Clone)]
pub(crate) struct Lanes {
    redis: Redis,
    keys: Keys,
    timing: Timing,
    settings: Snapshot,
    batch_max: usize,
    /// Queues are the configured default plus one per concert, so this stays small.
    lanes: Arc<RwLock<HashMap<String, Arc<Lane<Standings>>>>>,
    /// The invited joins' lanes, one per queue that has had one.
    invited: Arc<RwLock<HashMap<String, Arc<Lane<Standings>>>>>,
    /// Where the lanes count their joins and polls.
    counts: QueueCounts,
}

impl Lanes {
    pub(crate) fn new(redis: Redis, keys: Keys, timing: Timing, settings: Snapshot, batch_max: usize) -> Self {
        Lanes {
            redis,
            keys,
            timing,
            settings,
            batch_max,
            lanes: Arc::default(),
            invited: Arc::default(),
            counts: QueueCounts::default(),
        }
    }

    /// The same lanes, counting their joins and polls into `counts`.
    pub(crate) fn counting(mut self, counts: QueueCounts) -> Self {
        self.counts = counts;
        self
    }

    /// The standing of one user in `queue`, joined or polled as `ask` says.
    pub(crate) async fn ask(&self, queue: &str, ask: Ask) -> RedisResult<Standing> {
        let lanes = match ask.mode {
            Mode::Join { rules, .. } if rules.invited => &self.invited,
            _ => &self.lanes,
        };
        self.lane(lanes, queue).call(ask).await
    }

    fn lane(&self, lanes: &RwLock<HashMap<String, Arc<Lane<Standings>>>>, queue: &str) -> Arc<Lane<Standings>> {
        if let Some(lane) = lanes.read().unwrap_or_else(|p| p.into_inner()).get(queue) {
            return lane.clone();
        }
        let mut lanes = lanes.write().unwrap_or_else(|p| p.into_inner());
        lanes
            .entry(queue.to_string())
            .or_insert_with(|| {
                let label = queue.to_string();
                Lane::new(
                    Standings {
                        redis: self.redis.clone(),
                        keys: self.keys.queue(queue),
                        queue: queue.to_string(),
                        settings: self.settings.clone(),
                        timing: self.timing,
                        calls: metrics::counter!(QUEUE_SCRIPT_CALLS, "queue" => label.clone()),
                        entries: metrics::counter!(QUEUE_SCRIPT_ENTRIES, "queue" => label),
                        counter: self.counts.counter(queue),
                    },
                    self.batch_max,
                )
            })
            .clone()
    }
}
