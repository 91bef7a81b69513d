//! The admission rate each queue is measured to sustain, kept in process so a
//! poll can turn a position into an ETA without another Redis read.
//!
//! Written by the scheduler after each admission step (the step's script
//! measures it in Redis, so every instance sees the same figure) and by
//! [`super::Scheduler::refresh_rates`] on instances that run no scheduler.

use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Default)]
pub(crate) struct MeasuredRates {
    by_queue: RwLock<HashMap<String, f64>>,
}

impl MeasuredRates {
    /// Users per second the ETA should assume for `queue`: the measured rate,
    /// or else the configured one (`configured` 0 = unlimited).
    pub(crate) fn rate_for(&self, queue: &str, configured: u64) -> f64 {
        let measured = self
            .by_queue
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(queue)
            .copied();
        match measured {
            Some(rate) if rate > 0.0 => rate,
            _ if configured > 0 => configured as f64,
            _ => f64::from(u32::MAX),
        }
    }

    pub(crate) fn remember(&self, queue: &str, measured: Option<f64>) {
        let Some(rate) = measured else {
            return;
        };
        let mut rates = self.by_queue.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        match rates.get_mut(queue) {
            Some(known) => *known = rate,
            None => {
                rates.insert(queue.to_string(), rate);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_rate_stands_in_until_one_is_measured() {
        let rates = MeasuredRates::default();
        assert_eq!(rates.rate_for("q", 100), 100.0);
        rates.remember("q", None);
        assert_eq!(rates.rate_for("q", 100), 100.0);
        rates.remember("q", Some(42.5));
        assert_eq!(rates.rate_for("q", 100), 42.5);
        assert_eq!(rates.rate_for("other", 0), f64::from(u32::MAX));
    }
}
