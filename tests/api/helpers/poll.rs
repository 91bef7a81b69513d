//! Waiting for a condition by asking for it again and again, instead of
//! sleeping for a time guessed to be long enough: as fast as the condition
//! allows, and a failure names what never came.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is asked for.
const EVERY: Duration = Duration::from_millis(25);

/// Asks `check` until it gives a value; fails, naming `what`, once `within`
/// has passed without one.
pub async fn eventually<T, F, Fut>(within: Duration, what: impl Display, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(EVERY).await;
    }
}
