//! What the booking routes answer: schedules, seat maps, holds, receipts, balances.

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::booking::balances::Balance;
use crate::booking::catalog::{Concert, Schedule};
use crate::booking::holds::{Hold, SeatState};
use crate::booking::receipt::Receipt;
use crate::http::openapi::schemas;
use crate::local_time::LocalClock;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ScheduleView {
    concert_date_id: i64,
    #[schema(schema_with = schemas::local_date_time)]
    schedule_at: String,
    available_seat_count: usize,
    available: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SchedulesView {
    concert_id: i64,
    concert_code: String,
    concert_name: String,
    schedules: Vec<ScheduleView>,
}

impl SchedulesView {
    pub(crate) fn new(concert: &Concert, schedules: Vec<(Arc<Schedule>, usize)>, clock: LocalClock) -> Self {
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SeatView {
    seat_id: i64,
    seat_number: i32,
    #[schema(schema_with = schemas::reserve_yn)]
    reserve_yn: &'static str,
    seat_price: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeatsView {
    concert_id: i64,
    schedule_id: i64,
    #[schema(schema_with = schemas::local_date_time)]
    schedule_at: String,
    seats: Vec<SeatView>,
}

impl SeatsView {
    pub(crate) fn new(schedule: &Schedule, seats: Vec<SeatState>, clock: LocalClock) -> Self {
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct HeldSeatView {
    seat_number: i32,
    #[schema(schema_with = schemas::held_status)]
    status: &'static str,
    seat_price: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HoldView {
    user_id: i64,
    concert_name: String,
    concert_schedule_id: i64,
    #[schema(schema_with = schemas::local_date_time)]
    schedule_at: String,
    total_price: i64,
    seats: Vec<HeldSeatView>,
    #[schema(schema_with = schemas::local_date_time)]
    hold_expires_at: String,
}

impl HoldView {
    pub(crate) fn new(user_id: i64, concert: &Concert, hold: Hold, clock: LocalClock) -> Self {
        HoldView {
            user_id,
            concert_name: concert.name.clone(),
            concert_schedule_id: hold.schedule.id,
            schedule_at: clock.format(hold.schedule.starts_at),
            total_price: hold.amount(),
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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PaidSeatView {
    concert_schedule_id: i64,
    seat_number: i32,
    seat_price: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PaymentView {
    #[schema(schema_with = schemas::local_date_time)]
    payment_date: String,
    payment_amount: i64,
    #[schema(schema_with = schemas::payment_status)]
    payment_status: &'static str,
    payment_ids: Vec<i64>,
    user_id: i64,
    balance: i64,
    seats: Vec<PaidSeatView>,
}

impl PaymentView {
    pub(crate) fn new(receipt: Receipt, clock: LocalClock) -> Self {
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

/// A balance. `/api/v1` names the user by UUID as well; `/api` does not.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BalanceView {
    #[serde(rename = "UUID", skip_serializing_if = "Option::is_none")]
    uuid: Option<Uuid>,
    user_id: i64,
    amount: i64,
}

impl BalanceView {
    pub(crate) fn new(balance: Balance, uuid: Option<Uuid>) -> Self {
        BalanceView {
            uuid,
            user_id: balance.user_id,
            amount: balance.amount,
        }
    }
}
