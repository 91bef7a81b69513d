//! Natural batching of calls to one Redis slot, as a database's group commit
//! does: while a call for a lane is in flight, the requests that arrive for it
//! wait, and go together in the next call as soon as that one is back.
//!
//! Why: every key of a queue carries the queue's hash tag, so one concert's line
//! is served by one Redis thread, however many shards and gateways there are.
//! What a script run costs Redis is mostly per call (reading and parsing the
//! request, finding the script, `TIME`, writing the reply), not per user, so a
//! call that answers fifty users costs Redis far less than fifty calls.
//!
//! At low load a request finds its lane idle and goes at once, alone: nothing
//! waits for a timer. Under load the batch grows by itself, to at most `max`
//! entries, which keeps one script run short. One call per lane is in flight,
//! except that a full batch does not wait: it goes at once, up to
//! [`MAX_IN_FLIGHT`] calls, so a burst larger than a batch is not served one
//! round trip per batch. Calls of different lanes (queues) do not wait for
//! each other.
//!
//! The first request to find a lane idle makes the call itself. When it is
//! back, whatever gathered meanwhile is handed to a spawned task that keeps
//! sending batches until nobody is waiting, so no request's answer waits for
//! other people's batches. A request dropped while its call is in flight (a
//! client that went away) still hands the lane on, so a lane never stays busy.
//! Batches in flight together were all waiting at once, so whichever Redis
//! runs first is an order in which they could have come.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use redis::{ErrorKind, RedisError, RedisResult};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::telemetry::otel;

/// One batched operation: runs entries in order and answers each, in order.
pub(crate) trait Batch: Send + Sync + 'static {
    type Entry: Send + 'static;
    type Answer: Send + 'static;

    fn run(&self, entries: Vec<Self::Entry>) -> impl Future<Output = RedisResult<Vec<Self::Answer>>> + Send;

    /// Told the size of every call made, for the metrics.
    fn sent(&self, _entries: usize) {}
}

/// Calls of one lane in flight at most: one, plus full batches.
pub(crate) const MAX_IN_FLIGHT: usize = 4;

/// The lane of one batched operation (say, one queue's joins and polls).
pub(crate) struct Lane<B: Batch> {
    batch: B,
    max: usize,
    state: Mutex<State<B>>,
}

type Waiter<B> = (<B as Batch>::Entry, oneshot::Sender<RedisResult<<B as Batch>::Answer>>);

/// What a request does on arriving at its lane.
enum Turn<B: Batch> {
    /// The lane was idle: it goes at once, alone.
    Lead(B::Entry),
    /// A call is in flight: it waits to be answered by a later one.
    Wait(oneshot::Receiver<RedisResult<B::Answer>>),
}

struct State<B: Batch> {
    /// Calls in flight; 0 is an idle lane.
    in_flight: usize,
    waiting: Vec<Waiter<B>>,
}

impl<B: Batch> Lane<B> {
    /// A lane sending at most `max` entries in one call. With `max` 1 nothing
    /// is gathered: every call goes at once, alone, however many are in flight.
    pub(crate) fn new(batch: B, max: usize) -> Arc<Self> {
        Arc::new(Lane {
            batch,
            max: max.max(1),
            state: Mutex::new(State {
                in_flight: 0,
                waiting: Vec::new(),
            }),
        })
    }

    /// Runs `entry`: at once if the lane is idle, otherwise in the next batch.
    pub(crate) async fn call(self: &Arc<Self>, entry: B::Entry) -> RedisResult<B::Answer> {
        if self.max == 1 {
            self.batch.sent(1);
            return self.batch.run(vec![entry]).await.and_then(single);
        }
        let (turn, full) = {
            let mut state = self.lock();
            if state.in_flight == 0 {
                state.in_flight = 1;
                (Turn::<B>::Lead(entry), None)
            } else {
                let (sender, receiver) = oneshot::channel();
                state.waiting.push((entry, sender));
                let full = (state.waiting.len() >= self.max && state.in_flight < MAX_IN_FLIGHT).then(|| {
                    state.in_flight += 1;
                    self.take_batch(&mut state)
                });
                (Turn::Wait(receiver), full)
            }
        };
        if let Some(full) = full {
            tokio::spawn(self.clone().drain(full));
        }
        match turn {
            Turn::Wait(receiver) => receiver.await.unwrap_or_else(|_| Err(abandoned())),
            Turn::Lead(entry) => {
                let handoff = Handoff(self.clone());
                self.batch.sent(1);
                let answer = self.batch.run(vec![entry]).await.and_then(single);
                drop(handoff);
                answer
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<B>> {
        // No code panics while holding it; a poisoned lock still holds a valid state.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next batch for a call that is back, or `None` (one call fewer in
    /// flight) when nobody waits.
    fn next_batch(&self) -> Option<Vec<Waiter<B>>> {
        let mut state = self.lock();
        if state.waiting.is_empty() {
            state.in_flight = state.in_flight.saturating_sub(1);
            return None;
        }
        Some(self.take_batch(&mut state))
    }

    /// The oldest `max` waiting, or all of them.
    fn take_batch(&self, state: &mut State<B>) -> Vec<Waiter<B>> {
        if state.waiting.len() <= self.max {
            return std::mem::take(&mut state.waiting);
        }
        let rest = state.waiting.split_off(self.max);
        std::mem::replace(&mut state.waiting, rest)
    }

    /// Sends batches until nobody waits.
    async fn drain(self: Arc<Self>, mut batch: Vec<Waiter<B>>) {
        loop {
            let (entries, senders): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            self.batch.sent(entries.len());
            // Sent for requests other than the one that started the drain:
            // with tracing on, each run is a trace of its own.
            let answers = if otel::enabled() {
                self.batch.run(entries).instrument(otel::chore("queue.batch")).await
            } else {
                self.batch.run(entries).await
            };
            match answers {
                Ok(answers) if answers.len() == senders.len() => {
                    for (sender, answer) in senders.into_iter().zip(answers) {
                        // A receiver that is gone was a client that went away.
                        let _ = sender.send(Ok(answer));
                    }
                }
                Ok(_) => {
                    for sender in senders {
                        let _ = sender.send(Err(miscounted()));
                    }
                }
                Err(err) => {
                    for sender in senders {
                        let _ = sender.send(Err(err.clone()));
                    }
                }
            }
            match self.next_batch() {
                Some(next) => batch = next,
                None => return,
            }
        }
    }
}

/// Hands the lane on when the leading request is done, or dropped mid-call.
struct Handoff<B: Batch>(Arc<Lane<B>>);

impl<B: Batch> Drop for Handoff<B> {
    fn drop(&mut self) {
        let Some(batch) = self.0.next_batch() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(self.0.clone().drain(batch));
            }
            // Only when the runtime itself is going away: the waiters are
            // answered with an error as their senders drop.
            Err(_) => {
                let mut state = self.0.lock();
                state.in_flight = state.in_flight.saturating_sub(1);
            }
        }
    }
}

fn single<T>(mut answers: Vec<T>) -> RedisResult<T> {
    match (answers.pop(), answers.is_empty()) {
        (Some(answer), true) => Ok(answer),
        _ => Err(miscounted()),
    }
}

fn miscounted() -> RedisError {
    RedisError::from((
        ErrorKind::Parse,
        "a batched call answered a different number of entries",
    ))
}

/// The batch carrying this request was lost with the task sending it (the
/// runtime shutting down): whether it ran is unknown, so it reads as a
/// dropped connection (503), never as a client's mistake.
fn abandoned() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the batched Redis call carrying this request was abandoned",
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Doubles numbers after a pause, recording the size of each call.
    struct Doubler {
        calls: Mutex<Vec<usize>>,
        pause: Duration,
        failing: AtomicUsize,
    }

    impl Batch for Doubler {
        type Entry = u32;
        type Answer = u32;

        async fn run(&self, entries: Vec<u32>) -> RedisResult<Vec<u32>> {
            self.calls.lock().unwrap().push(entries.len());
            tokio::time::sleep(self.pause).await;
            if self.failing.load(Ordering::SeqCst) > 0 {
                return Err(RedisError::from((ErrorKind::Io, "down")));
            }
            Ok(entries.into_iter().map(|n| n * 2).collect())
        }
    }

    /// One task per number, each calling the lane with it.
    fn spawn_calls(
        lane: &Arc<Lane<Doubler>>,
        numbers: std::ops::Range<u32>,
    ) -> Vec<tokio::task::JoinHandle<RedisResult<u32>>> {
        numbers
            .map(|n| {
                let lane = lane.clone();
                tokio::spawn(async move { lane.call(n).await })
            })
            .collect()
    }

    fn doubler(pause_ms: u64, max: usize) -> Arc<Lane<Doubler>> {
        Lane::new(
            Doubler {
                calls: Mutex::default(),
                pause: Duration::from_millis(pause_ms),
                failing: AtomicUsize::new(0),
            },
            max,
        )
    }

    #[tokio::test]
    async fn a_lane_of_one_sends_every_call_at_once_however_many_are_in_flight() {
        let lane = doubler(50, 1);
        let started = tokio::time::Instant::now();
        for (n, call) in spawn_calls(&lane, 0..10).into_iter().enumerate() {
            assert_eq!(call.await.unwrap().unwrap(), 2 * n as u32);
        }
        assert_eq!(*lane.batch.calls.lock().unwrap(), vec![1; 10]);
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn an_idle_lane_sends_a_request_at_once_and_alone() {
        let lane = doubler(0, 64);
        assert_eq!(lane.call(21).await.unwrap(), 42);
        assert_eq!(lane.call(5).await.unwrap(), 10);
        assert_eq!(*lane.batch.calls.lock().unwrap(), vec![1, 1]);
    }

    #[tokio::test]
    async fn requests_arriving_during_a_call_go_together_in_capped_batches() {
        let lane = doubler(20, 8);
        let calls = spawn_calls(&lane, 0..21);
        for (n, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap().unwrap(), 2 * n as u32);
        }
        let sizes = lane.batch.calls.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 21, "{sizes:?}");
        assert!(sizes.iter().all(|&size| size <= 8), "{sizes:?}");
        assert!(sizes.len() <= 4, "20 arrived during the first call: {sizes:?}");
    }

    #[tokio::test]
    async fn a_full_batch_goes_at_once_without_waiting_for_the_call_in_flight() {
        let lane = doubler(100, 4);
        let started = tokio::time::Instant::now();
        let leader = tokio::spawn({
            let lane = lane.clone();
            async move { lane.call(0).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let calls = spawn_calls(&lane, 1..14);
        for (n, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap().unwrap(), 2 * (n as u32 + 1));
        }
        assert_eq!(leader.await.unwrap().unwrap(), 0);
        let sizes = lane.batch.calls.lock().unwrap().clone();
        // The leader alone; three full batches at once (four in flight);
        // the one left over once a call is back.
        assert_eq!(sizes, vec![1, 4, 4, 4, 1]);
        // Three calls' time, not five: the full batches overlapped the leader.
        assert!(
            started.elapsed() < Duration::from_millis(350),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(lane.lock().in_flight, 0, "the lane is idle again");
    }

    #[tokio::test]
    async fn a_failed_call_fails_every_request_in_it_and_the_lane_goes_on() {
        let lane = doubler(20, 64);
        lane.batch.failing.store(1, Ordering::SeqCst);
        let calls = spawn_calls(&lane, 0..5);
        for call in calls {
            assert!(call.await.unwrap().unwrap_err().is_io_error());
        }
        lane.batch.failing.store(0, Ordering::SeqCst);
        assert_eq!(lane.call(4).await.unwrap(), 8);
    }

    #[tokio::test]
    async fn a_leader_dropped_mid_call_still_hands_the_lane_on() {
        let lane = doubler(50, 64);
        let leader = tokio::spawn({
            let lane = lane.clone();
            async move { lane.call(1).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let follower = tokio::spawn({
            let lane = lane.clone();
            async move { lane.call(2).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        leader.abort();
        let answer = tokio::time::timeout(Duration::from_secs(2), follower).await;
        assert_eq!(answer.expect("the follower was answered").unwrap().unwrap(), 4);
        assert_eq!(lane.call(3).await.unwrap(), 6, "the lane is idle again");
    }
}
