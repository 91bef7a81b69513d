//! Moves the events born in Redis into Postgres: a queue's scripts write its
//! admissions, time-outs and departures into the queue's STREAM in the same
//! atomic step as the change itself (`emit_event` in `lua/prelude.lua`), and
//! each instance, once a second, copies what is there into the `events` table
//! and deletes what it copied. From there they are sequenced and read like
//! every other event.
//!
//! Each entry is written once: its stream id is the row's `origin`, unique
//! within the queue, so instances draining the same entries, or a pass that
//! lost Postgres's reply and drains them again, add nothing twice. An entry
//! is deleted from the stream only after its row committed. What Redis loses
//! before a pass (a crash without persistence) is lost; the stream keeps at
//! most about 100,000 entries a queue while Postgres is down.

use std::time::Duration;

use serde_json::{Map, Value};

use super::EventsError;
use crate::store::db::Db;
use crate::store::keys::Keys;
use crate::store::redis::Redis;

/// How often an instance drains every queue's stream.
pub(crate) const DRAIN_EVERY: Duration = Duration::from_secs(1);

/// The most entries one pass moves from one queue; a backlog takes several.
const MOST_PER_PASS: usize = 5_000;

/// One entry, ready for its row.
struct Drained {
    origin: String,
    event_type: String,
    time_ms: i64,
    data: String,
}

/// Copies the queues' streams into Postgres.
#[derive(Clone)]
pub(crate) struct Drain {
    db: Db,
    redis: Redis,
    keys: Keys,
}

impl Drain {
    pub(crate) fn new(db: Db, redis: Redis, keys: Keys) -> Self {
        Drain { db, redis, keys }
    }

    /// One pass over `queues`: how many entries it moved.
    pub(crate) async fn drain_once(&self, queues: &[String]) -> Result<usize, EventsError> {
        let mut moved = 0;
        for queue in queues {
            moved += self.drain_queue(queue).await?;
        }
        Ok(moved)
    }

    async fn drain_queue(&self, queue: &str) -> Result<usize, EventsError> {
        let stream = self.keys.queue(queue).events.clone();
        let mut redis = self.redis.connection().await?;
        let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(&stream)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(MOST_PER_PASS)
            .query_async(&mut redis)
            .await?;
        if entries.is_empty() {
            return Ok(0);
        }
        let rows: Vec<Drained> = entries.iter().filter_map(|(id, fields)| drained(id, fields)).collect();
        self.write(queue, rows).await?;
        let ids: Vec<&String> = entries.iter().map(|(id, _)| id).collect();
        redis::cmd("XDEL")
            .arg(&stream)
            .arg(&ids)
            .query_async::<i64>(&mut redis)
            .await?;
        Ok(entries.len())
    }

    async fn write(&self, queue: &str, rows: Vec<Drained>) -> Result<(), EventsError> {
        let queue = queue.to_string();
        let (mut origins, mut types, mut times, mut data) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for row in rows {
            origins.push(row.origin);
            types.push(row.event_type);
            times.push(row.time_ms);
            data.push(row.data);
        }
        self.db
            .bounded(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO events (type, queue, time, data, origin)
                         SELECT kind, $1, to_timestamp(ms / 1000.0), data::jsonb, origin
                         FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) AS entry(origin, kind, ms, data)
                         ON CONFLICT (queue, origin) WHERE origin IS NOT NULL DO NOTHING",
                    )
                    .bind(queue)
                    .bind(origins)
                    .bind(types)
                    .bind(times)
                    .bind(data)
                    .execute(connection)
                    .await?;
                    Ok::<_, EventsError>(())
                })
            })
            .await
    }
}

/// An entry's row: its type, and its other fields as the event's data (whole
/// numbers as numbers, a visitor's line id as its name). An entry without a type, or whose id is not a stream
/// id, was not written by the scripts and is dropped.
fn drained(id: &str, fields: &[String]) -> Option<Drained> {
    let time_ms = id.split_once('-')?.0.parse().ok()?;
    let mut event_type = None;
    let mut data = Map::new();
    for pair in fields.chunks_exact(2) {
        let (name, value) = (&pair[0], &pair[1]);
        if name == "type" {
            event_type = Some(value.clone());
        } else if let Some(visitor) = (name == "userId").then(|| value.strip_prefix('-')).flatten() {
            // A protected site's anonymous visitor stands in the line as a
            // negative id (`queue::Visitor`): named as its pass names it.
            data.insert("visitorId".into(), Value::String(format!("v{visitor}")));
        } else {
            let value = value
                .parse::<i64>()
                .map_or_else(|_| Value::String(value.clone()), Value::from);
            data.insert(name.clone(), value);
        }
    }
    Some(Drained {
        origin: id.to_string(),
        event_type: event_type?,
        time_ms,
        data: Value::Object(data).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::drained;

    #[test]
    fn an_entry_becomes_its_type_time_and_data() {
        let fields = ["type", "queue.admitted", "userId", "42", "waitedS", "7"].map(String::from);
        let row = drained("1733500000123-0", &fields).expect("a row");
        assert_eq!(
            (row.event_type.as_str(), row.time_ms),
            ("queue.admitted", 1_733_500_000_123)
        );
        assert_eq!(row.data, r#"{"userId":42,"waitedS":7}"#);
        let reason = ["type", "queue.timed_out", "reason", "idle"].map(String::from);
        assert_eq!(drained("1-0", &reason).expect("a row").data, r#"{"reason":"idle"}"#);
        assert!(drained("1-0", &["userId", "1"].map(String::from)).is_none(), "no type");
        let visitor = ["type", "queue.left", "userId", "-17"].map(String::from);
        assert_eq!(drained("1-0", &visitor).expect("a row").data, r#"{"visitorId":"v17"}"#);
        assert!(drained("garbage", &fields).is_none());
    }
}
