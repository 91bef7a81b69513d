//! Response bodies shared by both API surfaces: the seeds' field names and
//! Korean status strings exactly, plus a few extra fields. Each surface
//! translates the domain's answers through these; neither defines its own.

mod booking;
pub(crate) mod operations;
mod queue;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, TimeZone, Timelike, Utc};

pub(crate) use booking::{BalanceView, HoldView, PaymentView, SchedulesView, SeatsView};
pub(crate) use queue::TicketView;

/// Local date-times without an offset, as the seeds show them.
#[derive(Clone, Copy)]
pub(crate) struct LocalClock(pub(crate) FixedOffset);

impl LocalClock {
    pub(crate) fn format(&self, at: DateTime<Utc>) -> String {
        // Spelled out rather than `format(LOCAL_FORMAT)`: strftime re-parses its
        // pattern on every call, which showed in the poll profile.
        let local = at.with_timezone(&self.0).naive_local();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            local.year(),
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second()
        )
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
}
