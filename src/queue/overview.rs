//! One queue at a glance, for operations: its live figures and settings, the
//! admission rate in use and how long the last in line would wait. The admin
//! API, the `/ops` reads and `/metrics` all show this one reading.

use super::scheduler::{AdaptiveStatus, QueueStats};
use super::settings::QueueSettings;
use super::{pacing, QueueError, Scheduler, Settings};

pub(crate) struct QueueOverview {
    pub(crate) stats: QueueStats,
    pub(crate) settings: QueueSettings,
    /// The rate admission uses now: the setting, or in adaptive mode the controller's.
    pub(crate) rate_in_use: u64,
    /// Seconds until the last in line is admitted at the measured rate (at
    /// the setting's before any admission was measured).
    pub(crate) eta_seconds_of_last: u64,
}

impl QueueOverview {
    /// The adaptive controller's last step, while the queue is in adaptive mode.
    pub(crate) fn adaptive(&self) -> Option<&AdaptiveStatus> {
        self.stats
            .adaptive
            .as_ref()
            .filter(|_| self.settings.adaptive.is_some())
    }
}

/// Reads `queue`'s figures and settings together.
pub(crate) async fn overview(
    scheduler: &Scheduler,
    settings: &Settings,
    queue: &str,
) -> Result<QueueOverview, QueueError> {
    let (stats, settings) = tokio::try_join!(scheduler.stats(queue), settings.get(queue))?;
    Ok(QueueOverview::of(stats, settings))
}

impl QueueOverview {
    fn of(stats: QueueStats, settings: QueueSettings) -> Self {
        let measured = if stats.admission_rate > 0.0 {
            stats.admission_rate
        } else {
            settings.admit_rate as f64
        };
        let mut overview = QueueOverview {
            eta_seconds_of_last: pacing::eta_seconds(stats.waiting, measured),
            rate_in_use: settings.admit_rate,
            stats,
            settings,
        };
        if let Some(status) = overview.adaptive() {
            overview.rate_in_use = status.rate;
        }
        overview
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::settings::{Adaptive, QueueState};

    fn settings(admit_rate: u64, adaptive: Option<Adaptive>) -> QueueSettings {
        QueueSettings {
            state: QueueState::Open,
            max_active: 100,
            admit_rate,
            opens_at: None,
            adaptive,
            protect: None,
            join_limits: Default::default(),
            challenge: None,
        }
    }

    #[test]
    fn before_any_admission_the_eta_follows_the_configured_rate() {
        let stats = QueueStats {
            waiting: 100,
            ..QueueStats::default()
        };
        let overview = QueueOverview::of(stats, settings(10, None));
        assert_eq!(overview.eta_seconds_of_last, 10);
        assert_eq!(overview.rate_in_use, 10);
    }

    #[test]
    fn the_controller_s_rate_is_in_use_only_in_adaptive_mode() {
        let stats = QueueStats {
            waiting: 100,
            admission_rate: 50.0,
            adaptive: Some(AdaptiveStatus {
                rate: 7,
                ..AdaptiveStatus::default()
            }),
            ..QueueStats::default()
        };
        let fixed = QueueOverview::of(stats.clone(), settings(10, None));
        assert_eq!((fixed.rate_in_use, fixed.eta_seconds_of_last), (10, 2));
        assert!(fixed.adaptive().is_none());
        let adaptive = Adaptive {
            target_p99_ms: 500,
            min_rate: 1,
            max_rate: 100,
            increase_by: 0,
            decrease_to_percent: 70,
            max_error_percent: 5,
        };
        let adapting = QueueOverview::of(stats, settings(10, Some(adaptive)));
        assert_eq!(adapting.rate_in_use, 7);
    }
}
