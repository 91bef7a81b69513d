//! A queue's report (`crate::events::report`): JSON, or its per-second
//! figures as CSV (`Accept: text/csv` or `?format=csv`, for a spreadsheet).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::Admin;
use crate::events::report::{Report, Second};
use crate::http::error::{Error, ErrorCode, Result};
use crate::http::extract::{Path, Query};
use crate::http::guards::known_queue;
use crate::http::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportQuery {
    /// `csv`: the per-second figures as CSV, as `Accept: text/csv` asks.
    #[param(example = "csv")]
    format: Option<String>,
}

/// The report of a queue's sale, from Postgres: arrivals and the rest per
/// second, the waits, what became of those who joined, conversion, the rate's
/// changes with their reasons, seats and revenue per minute.
#[utoipa::path(get, path = "/admin/queues/{queue}/report", operation_id = "adminQueueReport", tag = "admin",
    params(("queue" = String, Path, description = "the default queue's name or a concert code", example = "hero-autumn"),
        ReportQuery, Admin),
    responses((status = 200, description = "the report, or its per-second figures as CSV",
        content((Report = "application/json"), (String = "text/csv")))))]
pub(super) async fn report(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let name = known_queue(&state, &name)?;
    let wants_csv = match query.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(Error::refused(
                ErrorCode::InvalidQuery,
                format!("format must be csv or json, not `{other}`"),
            ))
        }
        None => headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains("text/csv")),
    };
    let report = state.reports.of(&name).await?;
    if wants_csv {
        let disposition = format!("attachment; filename=\"{name}-per-second.csv\"");
        Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            csv(&report.per_second),
        )
            .into_response())
    } else {
        Ok(Json(report).into_response())
    }
}

/// The per-second figures, one row a second with a header row.
fn csv(seconds: &[Second]) -> String {
    let mut text = String::from("second,joins,polls,admitted,timedOut,left\n");
    for second in seconds {
        text.push_str(&format!(
            "{},{},{},{},{},{}\n",
            second.second, second.joins, second.polls, second.admitted, second.timed_out, second.left
        ));
    }
    text
}
