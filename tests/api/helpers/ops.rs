//! The admin API (behind the admin token, sent when the app has one) and the
//! open operations reads; one method per endpoint. Pages and assets are
//! fetched by path with [`Api::get`].

use reqwest::Method;
use serde_json::Value;

use super::call::{Api, Call};

impl Api {
    /// `GET /admin/queues`
    pub fn admin_queues(&self) -> Call {
        self.admin(Method::GET, "/admin/queues")
    }

    /// `GET /admin/queues/{queue}`
    pub fn admin_queue(&self, queue: &str) -> Call {
        self.admin(Method::GET, &format!("/admin/queues/{queue}"))
    }

    /// `PATCH /admin/queues/{queue}`: changes the queue's live settings.
    pub fn admin_set_queue(&self, queue: &str, settings: &Value) -> Call {
        self.admin(Method::PATCH, &format!("/admin/queues/{queue}"))
            .json(settings)
    }

    /// `GET /admin/events` as JSON: a page of the sales' events (`after`,
    /// `limit`, `types`, `queue` as query pairs).
    pub fn admin_events(&self, query: &[(&str, &str)]) -> Call {
        self.admin(Method::GET, "/admin/events")
            .header("accept", "application/json")
            .query(query)
    }

    /// `GET /admin/events` as Server-Sent Events, following new ones.
    pub fn admin_event_stream(&self) -> Call {
        self.admin(Method::GET, "/admin/events")
            .header("accept", "text/event-stream")
    }

    /// `GET /admin/queues/{queue}/events`: the record of changes, newest first.
    pub fn admin_queue_events(&self, queue: &str) -> Call {
        self.admin(Method::GET, &format!("/admin/queues/{queue}/events"))
    }

    /// `POST /admin/queues/{queue}/origin-keys`: a key for ending sessions, shown once.
    pub fn admin_new_origin_key(&self, queue: &str) -> Call {
        self.admin(Method::POST, &format!("/admin/queues/{queue}/origin-keys"))
    }

    /// `POST /admin/queues/{queue}/invitations`: a batch of presale codes.
    pub fn admin_new_invitations(&self, queue: &str, batch: &Value) -> Call {
        self.admin(Method::POST, &format!("/admin/queues/{queue}/invitations"))
            .json(batch)
    }

    /// `GET /admin/queues/{queue}/invitations`: the codes with their uses left.
    pub fn admin_invitations(&self, queue: &str) -> Call {
        self.admin(Method::GET, &format!("/admin/queues/{queue}/invitations"))
    }

    /// `GET /admin/queues/{queue}/report`, as JSON or `?format=csv`.
    pub fn admin_queue_report(&self, queue: &str, format: Option<&str>) -> Call {
        let call = self.admin(Method::GET, &format!("/admin/queues/{queue}/report"));
        match format {
            Some(format) => call.query(&[("format", format)]),
            None => call,
        }
    }

    /// `POST /admin/webhooks`: registers an endpoint.
    pub fn admin_new_webhook(&self, endpoint: &Value) -> Call {
        self.admin(Method::POST, "/admin/webhooks").json(endpoint)
    }

    /// `GET /admin/webhooks`
    pub fn admin_webhooks(&self) -> Call {
        self.admin(Method::GET, "/admin/webhooks")
    }

    /// `DELETE /admin/webhooks/{id}`
    pub fn admin_delete_webhook(&self, id: &str) -> Call {
        self.admin(Method::DELETE, &format!("/admin/webhooks/{id}"))
    }

    /// `GET /admin/webhooks/{id}/deliveries`: the latest deliveries with their attempts.
    pub fn admin_webhook_deliveries(&self, id: &str) -> Call {
        self.admin(Method::GET, &format!("/admin/webhooks/{id}/deliveries"))
    }

    /// `POST /admin/concerts`
    pub fn admin_create_concert(&self, concert: &Value) -> Call {
        self.admin(Method::POST, "/admin/concerts").json(concert)
    }

    /// `GET /admin/schedules/{schedule}/seats`: the seat map with holders.
    pub fn admin_seat_map(&self, schedule: i64) -> Call {
        self.admin(Method::GET, &format!("/admin/schedules/{schedule}/seats"))
    }

    /// `GET /admin/invariants`: an audit run afresh.
    pub fn admin_invariants(&self) -> Call {
        self.admin(Method::GET, "/admin/invariants")
    }

    /// `GET /health`
    pub fn health(&self) -> Call {
        self.get("/health")
    }

    /// `GET /ready`
    pub fn ready(&self) -> Call {
        self.get("/ready")
    }

    /// `GET /metrics`
    pub fn metrics(&self) -> Call {
        self.get("/metrics")
    }

    /// The Prometheus exposition of [`Api::metrics`].
    pub async fn metrics_text(&self) -> String {
        self.metrics().await.text().await.expect("the exposition")
    }

    /// `GET /ops/invariants`: the latest audit, at most its max age old.
    pub fn ops_invariants(&self) -> Call {
        self.get("/ops/invariants")
    }

    /// `GET /ops/queues`
    pub fn ops_queues(&self) -> Call {
        self.get("/ops/queues")
    }

    /// `GET /ops/sales`
    pub fn ops_sales(&self) -> Call {
        self.get("/ops/sales")
    }

    /// `GET /ops/schedules/{schedule}/seats`: the seat map without holders.
    pub fn ops_seat_map(&self, schedule: i64) -> Call {
        self.get(&format!("/ops/schedules/{schedule}/seats"))
    }

    /// `GET /ops/refusals`
    pub fn ops_refusals(&self) -> Call {
        self.get("/ops/refusals")
    }

    /// `GET /`, the front door
    pub fn home(&self) -> Call {
        self.get("/")
    }

    /// `GET /openapi.json`
    pub fn openapi(&self) -> Call {
        self.get("/openapi.json")
    }

    /// `GET /waiting-room/config.json`
    pub fn waiting_room_config(&self) -> Call {
        self.get("/waiting-room/config.json")
    }
}
