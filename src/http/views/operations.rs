//! What the operations team reads: each queue's figures and settings, a
//! schedule's seat map, and sales. The admin API answers them with everything;
//! the open `/ops` reads (behind the `/ops` page without a token) answer the
//! same figures with nobody's identity in them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::booking::holds::SeatHolding;
use crate::booking::BookingError;
use crate::http::error::Result;
use crate::http::openapi::schemas;
use crate::http::state::AppState;
use crate::local_time::LocalClock;
use crate::queue::overview::{overview, QueueOverview};
use crate::queue::settings::{Adaptive, ChallengeSetting, JoinLimits, Protect, QueueSettings, QueueState};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SettingsView {
    state: QueueState,
    max_active: u64,
    admit_rate: u64,
    #[schema(value_type = Option<schemas::LocalDateTime>)]
    opens_at: Option<String>,
    adaptive: Option<Adaptive>,
    /// The site this queue protects; null when none.
    protect: Option<Protect>,
    /// The join limits in force: the queue's, or the configuration's for those it leaves out.
    join_limits: JoinLimits,
    /// The proof of work each join must carry solved; null when none.
    challenge: Option<ChallengeSetting>,
}

impl SettingsView {
    pub(crate) fn new(settings: QueueSettings, clock: LocalClock) -> Self {
        SettingsView {
            state: settings.state,
            max_active: settings.max_active,
            admit_rate: settings.admit_rate,
            opens_at: settings.opens_at.map(|at| clock.format(at)),
            adaptive: settings.adaptive,
            protect: settings.protect.map(|protect| protect.redacted()),
            join_limits: settings.join_limits,
            challenge: settings.challenge,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AdmittedPerSecond {
    last10s: f64,
    last60s: f64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AdaptiveView {
    rate: u64,
    p99_ms: u64,
    samples: u64,
    errors: u64,
    decision: String,
}

/// Holds and payments answered in the last seconds, all instances together.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BookingView {
    window_seconds: u64,
    p99_ms: u64,
    samples: u64,
    errors: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueueView {
    name: String,
    state: QueueState,
    waiting: u64,
    active: u64,
    admitted_per_second: AdmittedPerSecond,
    /// The rate admission uses now: the setting, or in adaptive mode the controller's.
    admit_rate_in_use: u64,
    eta_seconds_of_last: u64,
    joined: u64,
    admitted: u64,
    abandoned: u64,
    expired: u64,
    completed: u64,
    booking: BookingView,
    settings: SettingsView,
    /// In adaptive mode: the rate the controller set and what it judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    adaptive: Option<AdaptiveView>,
}

/// One queue's figures, settings and booking latency.
pub(crate) async fn queue_view(state: &AppState, name: &str) -> Result<QueueView> {
    let window_s = state.config.queue.adaptive_window_s;
    let (overview, latency) = tokio::try_join!(
        overview(&state.scheduler, &state.settings, name),
        state.booking_health.latency(name, window_s)
    )?;
    let adaptive = overview.adaptive().map(|status| AdaptiveView {
        rate: status.rate,
        p99_ms: status.p99_ms,
        samples: status.samples,
        errors: status.errors,
        decision: status.decision.clone(),
    });
    let QueueOverview {
        stats,
        settings,
        rate_in_use,
        eta_seconds_of_last,
    } = overview;
    Ok(QueueView {
        name: name.to_string(),
        state: settings.state,
        waiting: stats.waiting,
        active: stats.active,
        admitted_per_second: AdmittedPerSecond {
            last10s: stats.admission_rate,
            last60s: stats.admission_rate_60,
        },
        admit_rate_in_use: rate_in_use,
        eta_seconds_of_last,
        joined: stats.joined,
        admitted: stats.admitted,
        abandoned: stats.abandoned,
        expired: stats.expired,
        completed: stats.completed,
        booking: BookingView {
            window_seconds: window_s,
            p99_ms: latency.p99_ms,
            samples: latency.samples,
            errors: latency.errors,
        },
        settings: SettingsView::new(settings, state.clock),
        adaptive,
    })
}

/// Every queue: the default one and one per concert code.
pub(crate) async fn queue_views(state: &AppState) -> Result<Vec<QueueView>> {
    let mut views = Vec::new();
    for name in state.catalog.queue_names(&state.config.queue.default_queue) {
        views.push(queue_view(state, &name).await?);
    }
    Ok(views)
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SeatRow {
    seat_id: i64,
    seat_number: i32,
    seat_price: i64,
    /// `free`, `held` or `sold`.
    #[schema(schema_with = schemas::seat_state)]
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    held_by: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<schemas::LocalDateTime>)]
    held_until: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeatMap {
    schedule_id: i64,
    concert_id: i64,
    #[schema(schema_with = schemas::local_date_time)]
    schedule_at: String,
    free: usize,
    held: usize,
    sold: i64,
    revenue: i128,
    seats: Vec<SeatRow>,
}

/// Whose hold a seat map may show.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holders {
    /// The holder's id and the hold's end (admin).
    Shown,
    /// Only that the seat is held (the open reads).
    Hidden,
}

/// A schedule's seats, each free, held or sold, with its sales.
pub(crate) async fn seat_map(state: &AppState, schedule_id: i64, holders: Holders) -> Result<SeatMap> {
    let schedule = state
        .catalog
        .schedule_by_id(schedule_id)
        .ok_or(BookingError::ScheduleNotFound)?;
    let (details, (sold, revenue)) =
        tokio::try_join!(state.holds.seat_details(&schedule), state.sold.sales(schedule_id))?;
    let mut seats = Vec::with_capacity(details.len());
    let (mut free, mut held) = (0, 0);
    for detail in details {
        let (label, held_by, held_until) = match detail.state {
            SeatHolding::Free => {
                free += 1;
                ("free", None, None)
            }
            SeatHolding::Held { user_id, until } => {
                held += 1;
                match holders {
                    Holders::Shown => ("held", Some(user_id), Some(state.clock.format(until))),
                    Holders::Hidden => ("held", None, None),
                }
            }
            SeatHolding::Sold => ("sold", None, None),
        };
        seats.push(SeatRow {
            seat_id: detail.seat.id,
            seat_number: detail.seat.number,
            seat_price: detail.seat.price,
            state: label,
            held_by,
            held_until,
        });
    }
    Ok(SeatMap {
        schedule_id,
        concert_id: schedule.concert_id,
        schedule_at: state.clock.format(schedule.starts_at),
        free,
        held,
        sold,
        revenue,
        seats,
    })
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ScheduleSales {
    schedule_id: i64,
    #[schema(schema_with = schemas::local_date_time)]
    schedule_at: String,
    seats: usize,
    free: usize,
    held: usize,
    sold: i64,
    revenue: i128,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConcertSales {
    concert_id: i64,
    code: String,
    name: String,
    schedules: Vec<ScheduleSales>,
}

/// Every concert with each schedule's seat counts and sales.
pub(crate) async fn sales(state: &AppState) -> Result<Vec<ConcertSales>> {
    let concerts = state.catalog.concerts();
    let mut answer = Vec::with_capacity(concerts.len());
    for concert in concerts {
        let mut schedules = Vec::new();
        for schedule in state.catalog.schedules_of(&concert) {
            let map = seat_map(state, schedule.id, Holders::Hidden).await?;
            schedules.push(ScheduleSales {
                schedule_id: schedule.id,
                schedule_at: map.schedule_at,
                seats: map.seats.len(),
                free: map.free,
                held: map.held,
                sold: map.sold,
                revenue: map.revenue,
            });
        }
        answer.push(ConcertSales {
            concert_id: concert.id,
            code: concert.code.clone(),
            name: concert.name.clone(),
            schedules,
        });
    }
    Ok(answer)
}
