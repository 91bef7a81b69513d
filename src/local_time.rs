//! Date-times as the seeds write them: local to the configured zone
//! (`BOXOFFICE_TIMEZONE`), without an offset (`2024-10-10T10:00:00`). The
//! catalog's schedules, the queue's tickets, holds, receipts and the live
//! settings' opening time are all shown, and read back, this way.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, TimeZone, Timelike, Utc};

/// Local date-times without an offset, as the seeds show them.
#[derive(Clone, Copy)]
pub(crate) struct LocalClock(pub(crate) FixedOffset);

impl LocalClock {
    pub(crate) fn format(&self, at: DateTime<Utc>) -> String {
        // Digits written by hand rather than `format!` or strftime (which
        // re-parses its pattern on every call): two of these are in every
        // poll's answer, and the formatting machinery showed in its profile.
        let local = at.with_timezone(&self.0).naive_local();
        let mut text = *b"0000-00-00T00:00:00";
        let year = local.year().clamp(0, 9999) as u32;
        for (at, value, width) in [
            (0, year, 4),
            (5, local.month(), 2),
            (8, local.day(), 2),
            (11, local.hour(), 2),
            (14, local.minute(), 2),
            (17, local.second(), 2),
        ] {
            let mut value = value;
            for digit in text[at..at + width].iter_mut().rev() {
                *digit = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Whether [`LocalClock::format`] shows `at` as it is: its year has four digits.
    pub(crate) fn shows(&self, at: DateTime<Utc>) -> bool {
        (0..=9999).contains(&at.with_timezone(&self.0).year())
    }

    /// Parses `2024-10-10T10:00:00` (fractional seconds allowed) in this zone.
    pub(crate) fn parse(&self, text: &str) -> Option<DateTime<Utc>> {
        let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%.f").ok()?;
        self.0
            .from_local_datetime(&naive)
            .single()
            .map(|at| at.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_round_trip_without_an_offset() {
        let clock = LocalClock(FixedOffset::east_opt(9 * 3600).unwrap());
        let at = clock.parse("2024-10-10T10:00:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2024-10-10T01:00:00+00:00");
        assert_eq!(clock.format(at), "2024-10-10T10:00:00");
        assert_eq!(
            clock.format(clock.parse("2031-01-02T03:04:05").unwrap()),
            "2031-01-02T03:04:05"
        );
        assert!(clock.parse("2024-10-10").is_none());
        assert!(clock.parse("yesterday").is_none());
    }

    #[test]
    fn a_time_beyond_year_9999_is_one_it_cannot_show() {
        let clock = LocalClock(FixedOffset::east_opt(9 * 3600).unwrap());
        let last = clock.parse("9999-12-31T23:59:59").unwrap();
        assert!(clock.shows(last));
        let beyond = clock
            .parse("+10000-01-01T00:00:00")
            .expect("chrono reads five-digit years");
        assert!(!clock.shows(beyond), "it would be shown as {}", clock.format(beyond));
    }
}
