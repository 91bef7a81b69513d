//! How long a waiting user should expect to wait, and how often to ask.

/// Poll hints never go below this (ask again in a second at the front of the line)...
pub(crate) const MIN_POLL_MS: u64 = 1_000;
/// ...nor above this, so nobody waits much longer than needed after being admitted.
pub(crate) const MAX_POLL_MS: u64 = 30_000;
/// Ask about four times over the expected wait: often enough to notice admission,
/// rarely enough that people far back cost little.
const POLLS_PER_WAIT: u64 = 4;

/// Seconds until admission at `rate` users per second, rounded up.
pub(crate) fn eta_seconds(position: u64, rate_per_s: f64) -> u64 {
    if position == 0 {
        return 0;
    }
    let rate = if rate_per_s.is_finite() && rate_per_s > 0.01 {
        rate_per_s
    } else {
        0.01
    };
    (position as f64 / rate).ceil().min(u32::MAX as f64) as u64
}

/// Suggested delay before the next poll; grows with the expected wait.
pub(crate) fn poll_after_ms(position: u64, eta_seconds: u64) -> u64 {
    if position == 0 {
        return 0;
    }
    (eta_seconds.saturating_mul(1000) / POLLS_PER_WAIT).clamp(MIN_POLL_MS, MAX_POLL_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_with_the_position() {
        assert_eq!(eta_seconds(0, 100.0), 0);
        assert_eq!(eta_seconds(1, 100.0), 1);
        assert_eq!(eta_seconds(1000, 100.0), 10);
        assert_eq!(eta_seconds(10, 0.0), 1000);
    }

    #[test]
    fn people_far_back_poll_less_often() {
        assert_eq!(poll_after_ms(1, 1), MIN_POLL_MS);
        assert_eq!(poll_after_ms(1000, 10), 2_500);
        assert_eq!(poll_after_ms(100_000, 1_000), MAX_POLL_MS);
        assert!(poll_after_ms(2000, 20) > poll_after_ms(1000, 10));
    }
}
