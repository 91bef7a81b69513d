//! Response bodies shared by both API surfaces: the seed's field names and
//! Korean status strings exactly, plus a few extra fields.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, TimeZone, Timelike, Utc};
use serde::Serialize;

use crate::booking::catalog::{Concert, Schedule};
use crate::booking::holds::{Hold, SeatState};
use crate::booking::payments::Receipt;
use crate::queue::{Ticket, TokenState};

/// Local date-times without an offset, as the seeds show them.
#[derive(Clone, Copy)]
pub struct LocalClock(pub FixedOffset);

impl LocalClock {
    pub fn format(&self, at: DateTime<Utc>) -> String {
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
    pub fn parse(&self, text: &str) -> Option<DateTime<Utc>> {
        let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S%.f").ok()?;
        self.0
            .from_local_datetime(&naive)
            .single()
            .map(|at| at.with_timezone(&Utc))
    }
}

pub fn status_text(state: TokenState) -> &'static str {
    match state {
        TokenState::Waiting => "대기",
        TokenState::Active => "활성",
        TokenState::Expired => "만료",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketView<U: Serialize> {
    pub user_id: U,
    pub token: String,
    pub token_created: String,
    pub token_expiry: String,
    pub token_status: &'static str,
    pub position: u64,
    pub eta_seconds: u64,
    pub poll_after_ms: u64,
}

impl<U: Serialize> TicketView<U> {
    pub fn new(user_id: U, ticket: Ticket, clock: LocalClock) -> Self {
        TicketView {
            user_id,
            token_created: clock.format(ticket.issued_at),
            token_expiry: clock.format(ticket.expires_at),
            token_status: status_text(ticket.state),
            position: ticket.position,
            eta_seconds: ticket.eta_seconds,
            poll_after_ms: ticket.poll_after_ms,
            token: ticket.token,
        }
    }

    /// The body, with `Retry-After` telling a waiting client when to ask again.
    pub fn into_response_with_hint(self) -> Response {
        let retry_after = self.poll_after_ms.div_ceil(1000);
        let mut response = Json(self).into_response();
        if retry_after > 0 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub concert_date_id: i64,
    pub schedule_at: String,
    pub available_seat_count: usize,
    pub available: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulesView {
    pub concert_id: i64,
    pub concert_code: String,
    pub concert_name: String,
    pub schedules: Vec<ScheduleView>,
}

impl SchedulesView {
    pub fn new(concert: &Concert, schedules: Vec<(&Schedule, usize)>, clock: LocalClock) -> Self {
        SchedulesView {
            concert_id: concert.id,
            concert_code: concert.code.clone(),
            concert_name: concert.name.clone(),
            schedules: schedules
                .into_iter()
                .map(|(schedule, free)| ScheduleView {
                    concert_date_id: schedule.id,
                    schedule_at: clock.format(schedule.starts_at),
                    available_seat_count: free,
                    available: free > 0,
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatView {
    pub seat_id: i64,
    pub seat_number: i32,
    pub reserve_yn: &'static str,
    pub seat_price: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatsView {
    pub concert_id: i64,
    pub schedule_id: i64,
    pub schedule_at: String,
    pub seats: Vec<SeatView>,
}

impl SeatsView {
    pub fn new(schedule: &Schedule, seats: Vec<SeatState>, clock: LocalClock) -> Self {
        SeatsView {
            concert_id: schedule.concert_id,
            schedule_id: schedule.id,
            schedule_at: clock.format(schedule.starts_at),
            seats: seats
                .into_iter()
                .map(|state| SeatView {
                    seat_id: state.seat.id,
                    seat_number: state.seat.number,
                    reserve_yn: if state.taken { "Y" } else { "N" },
                    seat_price: state.seat.price,
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldSeatView {
    pub seat_number: i32,
    pub status: &'static str,
    pub seat_price: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldView {
    pub user_id: i64,
    pub concert_name: String,
    pub concert_schedule_id: i64,
    pub schedule_at: String,
    pub total_price: i64,
    pub seats: Vec<HeldSeatView>,
    pub hold_expires_at: String,
}

impl HoldView {
    pub fn new(user_id: i64, concert: &Concert, hold: Hold, clock: LocalClock) -> Self {
        HoldView {
            user_id,
            concert_name: concert.name.clone(),
            concert_schedule_id: hold.schedule.id,
            schedule_at: clock.format(hold.schedule.starts_at),
            total_price: hold.seats.iter().map(|seat| seat.price).sum(),
            seats: hold
                .seats
                .iter()
                .map(|seat| HeldSeatView {
                    seat_number: seat.number,
                    status: "예약완료",
                    seat_price: seat.price,
                })
                .collect(),
            hold_expires_at: clock.format(hold.expires_at),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaidSeatView {
    pub concert_schedule_id: i64,
    pub seat_number: i32,
    pub seat_price: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub payment_date: String,
    pub payment_amount: i64,
    pub payment_status: &'static str,
    pub payment_ids: Vec<i64>,
    pub user_id: i64,
    pub balance: i64,
    pub seats: Vec<PaidSeatView>,
}

impl PaymentView {
    pub fn new(receipt: Receipt, clock: LocalClock) -> Self {
        PaymentView {
            payment_date: clock.format(receipt.paid_at),
            payment_amount: receipt.amount,
            payment_status: "결제 완료",
            payment_ids: receipt.payment_ids,
            user_id: receipt.user_id,
            balance: receipt.balance_after,
            seats: receipt
                .seats
                .into_iter()
                .map(|seat| PaidSeatView {
                    concert_schedule_id: seat.schedule_id,
                    seat_number: seat.seat_number,
                    seat_price: seat.price,
                })
                .collect(),
        }
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
