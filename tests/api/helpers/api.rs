//! The `/api` surface (seed 000): users by numeric id in a `user-id` header,
//! the queue's token in a `Token` header; one method per endpoint.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::json;

use super::call::{Api, Call};
use super::json_of;

impl Api {
    /// `POST /api/waiting-queue/`: takes a place in the default queue.
    pub fn join(&self, user: i64) -> Call {
        self.call(Method::POST, "/api/waiting-queue/")
            .header("user-id", user.to_string())
    }

    /// `GET /api/waiting-queue/position`
    pub fn position(&self, user: i64) -> Call {
        self.call(Method::GET, "/api/waiting-queue/position")
            .header("user-id", user.to_string())
    }

    /// `GET /api/concerts/{concert}/schedules/`
    pub fn schedules(&self, concert: i64) -> Call {
        self.call(Method::GET, &format!("/api/concerts/{concert}/schedules/"))
    }

    /// `GET /api/concerts/{concert}/schedules/{schedule}/seats`
    pub fn seats(&self, concert: i64, schedule: i64) -> Call {
        self.call(
            Method::GET,
            &format!("/api/concerts/{concert}/schedules/{schedule}/seats"),
        )
    }

    /// `POST .../seats/reservation`: holds `seats` for `user`.
    pub fn reserve(&self, token: &str, concert: i64, schedule: i64, user: i64, seats: &[i32]) -> Call {
        self.call(
            Method::POST,
            &format!("/api/concerts/{concert}/schedules/{schedule}/seats/reservation"),
        )
        .token(token)
        .json(&json!({ "userId": user, "seats": seats }))
    }

    /// `POST .../seats/reservation/payment`: pays for `user`'s holds on the schedule.
    pub fn pay(&self, token: &str, concert: i64, schedule: i64, user: i64) -> Call {
        self.call(
            Method::POST,
            &format!("/api/concerts/{concert}/schedules/{schedule}/seats/reservation/payment"),
        )
        .token(token)
        .json(&json!({ "userId": user, "concertScheduleId": schedule }))
    }

    /// `PATCH /api/balances/balance/charge`: tops up `amount` won.
    pub fn charge(&self, user: i64, amount: i64) -> Call {
        self.call(Method::PATCH, "/api/balances/balance/charge")
            .header("user-id", user.to_string())
            .body(amount.to_string())
    }

    /// `GET /api/balances/balance/`
    pub fn balance(&self, user: i64) -> Call {
        self.call(Method::GET, "/api/balances/balance/")
            .header("user-id", user.to_string())
    }

    /// The balance's amount, read through [`Api::balance`].
    pub async fn balance_amount(&self, user: i64) -> i64 {
        json_of(self.balance(user).await).await["amount"]
            .as_i64()
            .expect("an amount")
    }

    /// Each seat's number and `reserveYn` flag, read through [`Api::seats`].
    pub async fn seat_flags(&self, concert: i64, schedule: i64) -> HashMap<i64, String> {
        let body = json_of(self.seats(concert, schedule).await).await;
        body["seats"]
            .as_array()
            .expect("seats")
            .iter()
            .map(|seat| {
                (
                    seat["seatNumber"].as_i64().expect("a number"),
                    seat["reserveYn"].as_str().expect("a flag").to_string(),
                )
            })
            .collect()
    }
}
