//! The `/api/v1` surface (seed 004): one queue per concert code, users by
//! UUID (in the body or the query; [`uuid`] gives a seed user's), the
//! queue's token as `Authorization: Bearer`; one method per endpoint.

use reqwest::Method;
use serde_json::json;

use super::call::{Api, Call};
use super::json_of;

/// A seed user's UUID (name-based on the id), as `/api/v1` names users.
pub fn uuid(user: i64) -> String {
    boxoffice::store::seed::user_uuid(user).to_string()
}

impl Api {
    /// `POST /api/v1/concerts/{code}/token`: takes a place in the concert's queue.
    pub fn v1_join(&self, code: &str, user: &str) -> Call {
        self.call(Method::POST, &format!("/api/v1/concerts/{code}/token"))
            .json(&json!({ "UUID": user }))
    }

    /// The token of a place taken through [`Api::v1_join`], which must answer 200.
    pub async fn v1_token(&self, code: &str, user: &str) -> String {
        let response = self.v1_join(code, user).await;
        assert_eq!(response.status(), 200);
        json_of(response).await["token"].as_str().expect("a token").to_string()
    }

    /// `GET /api/v1/concerts/{code}/token`: the place or admission of a token.
    pub fn v1_poll(&self, code: &str, token: &str) -> Call {
        self.call(Method::GET, &format!("/api/v1/concerts/{code}/token"))
            .bearer(token)
    }

    /// `GET /api/v1/concerts`: every concert and its dates, no token needed.
    pub fn v1_concerts(&self) -> Call {
        self.call(Method::GET, "/api/v1/concerts")
    }

    /// `GET /api/v1/concerts/{code}`: the dates, the UUID in the query string.
    pub fn v1_dates(&self, code: &str, token: &str, user: &str) -> Call {
        self.call(Method::GET, &format!("/api/v1/concerts/{code}"))
            .bearer(token)
            .query(&[("UUID", user)])
    }

    /// The same, the UUID in a GET body as the seed has it.
    pub fn v1_dates_in_body(&self, code: &str, token: &str, user: &str) -> Call {
        self.call(Method::GET, &format!("/api/v1/concerts/{code}"))
            .bearer(token)
            .json(&json!({ "UUID": user }))
    }

    /// `GET /api/v1/concerts/{code}/seats`: one date's seats, asked in the query string.
    pub fn v1_seats(&self, code: &str, token: &str, user: &str, date: &str) -> Call {
        self.call(Method::GET, &format!("/api/v1/concerts/{code}/seats"))
            .bearer(token)
            .query(&[("UUID", user), ("concertDate", date)])
    }

    /// The same, asked in a GET body as the seed has it.
    pub fn v1_seats_in_body(&self, code: &str, token: &str, user: &str, date: &str) -> Call {
        self.call(Method::GET, &format!("/api/v1/concerts/{code}/seats"))
            .bearer(token)
            .json(&json!({ "UUID": user, "concertDate": date }))
    }

    /// `PATCH /api/v1/concerts/{code}`: holds one seat of one date.
    pub fn v1_hold(&self, code: &str, token: &str, user: &str, date: &str, seat: i32) -> Call {
        self.call(Method::PATCH, &format!("/api/v1/concerts/{code}"))
            .bearer(token)
            .json(&json!({ "UUID": user, "concertDate": date, "seatNumber": seat }))
    }

    /// `POST /api/v1/payments`: pays for every hold of the token's concert.
    pub fn v1_pay(&self, token: &str, user: &str) -> Call {
        self.call(Method::POST, "/api/v1/payments")
            .bearer(token)
            .json(&json!({ "UUID": user }))
    }

    /// `GET /api/v1/users/{uuid}/balance`
    pub fn v1_balance(&self, user: &str) -> Call {
        self.call(Method::GET, &format!("/api/v1/users/{user}/balance"))
    }

    /// `PATCH /api/v1/users/{uuid}/balance`: tops up `amount` won.
    pub fn v1_charge(&self, user: &str, amount: i64) -> Call {
        self.call(Method::PATCH, &format!("/api/v1/users/{user}/balance"))
            .json(&json!({ "amount": amount }))
    }
}
