//! Moves the events born in Redis into Postgres: a queue's scripts write its
//! admissions, time-outs, departures and rate changes into the queue's
//! STREAM, a schedule's scripts its holds made and lapsed into the
//! schedule's, each in the same atomic step as the change itself
//! (`emit_event` in `lua/prelude.lua`); each instance, once a second, copies
//! what is there into the `events` table and deletes what it copied. From
//! there they are sequenced and read like every other event.
//!
//! Each entry is written once: its stream and stream id are the row's
//! `origin`, unique, so instances draining the same entries, or a pass that
//! lost Postgres's reply and drains them again, add nothing twice. An entry
//! is deleted from its stream only after its row committed. What Redis loses
//! before a pass (a crash without persistence) is lost; a stream keeps at
//! most about 100,000 entries while Postgres is down.

use std::time::Duration;

use serde_json::{Map, Value};
use tracing::Instrument;

use super::EventsError;
use crate::store::db::Db;
use crate::store::keys::Keys;
use crate::store::redis::Redis;
use crate::telemetry::otel;

/// The most entries a stream keeps while the drain cannot move them (as
/// `EVENTS_KEPT` in `lua/prelude.lua`, for the events Rust writes).
const KEPT: u64 = 100_000;

/// Appends an event born in Rust rather than in a script to a queue's stream
/// (`keys.queue(queue).events`), beside the scripts' own: `fields` are its data.
pub(crate) async fn emit(
    redis: &Redis,
    stream: &str,
    kind: super::EventType,
    fields: &[(&str, String)],
) -> Result<(), redis::RedisError> {
    let mut connection = redis.connection().await?;
    let mut command = redis::cmd("XADD");
    command
        .arg(stream)
        .arg("MAXLEN")
        .arg("~")
        .arg(KEPT)
        .arg("*")
        .arg("type")
        .arg(kind.name());
    for (name, value) in fields {
        command.arg(*name).arg(value);
    }
    command.query_async::<String>(&mut connection).await?;
    Ok(())
}

/// How often an instance drains every queue's stream.
pub(crate) const DRAIN_EVERY: Duration = Duration::from_secs(1);

/// The most entries one pass moves from one queue; a backlog takes several.
const MOST_PER_PASS: usize = 5_000;

/// One entry, ready for its row.
struct Drained {
    origin: String,
    event_type: String,
    queue: Option<String>,
    time_ms: i64,
    data: String,
}

/// A stream the scripts write events into.
enum Source<'a> {
    /// A queue's: its events are the queue's.
    Queue(&'a str),
    /// A schedule's: each entry names its queue, and the schedule is added.
    Schedule(i64),
}

impl Source<'_> {
    /// The prefix of its entries' `origin`: unique across every stream.
    fn origin(&self) -> String {
        match self {
            Source::Queue(queue) => format!("q:{queue}"),
            Source::Schedule(schedule) => format!("s:{schedule}"),
        }
    }
}

/// Copies the streams into Postgres.
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

    /// One pass over the streams of `queues` and of `schedules`: how many
    /// entries it moved.
    pub(crate) async fn drain_once(&self, queues: &[String], schedules: &[i64]) -> Result<usize, EventsError> {
        let mut moved = 0;
        for queue in queues {
            let stream = self.keys.queue(queue).events.clone();
            moved += self.drain_stream(&stream, Source::Queue(queue)).await?;
        }
        for &schedule in schedules {
            let stream = self.keys.schedule(schedule).events;
            moved += self.drain_stream(&stream, Source::Schedule(schedule)).await?;
        }
        Ok(moved)
    }

    async fn drain_stream(&self, stream: &str, source: Source<'_>) -> Result<usize, EventsError> {
        let mut redis = self.redis.connection().await?;
        let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
            .arg(stream)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(MOST_PER_PASS)
            .query_async(&mut redis)
            .await?;
        if entries.is_empty() {
            return Ok(0);
        }
        let rows: Vec<Drained> = entries
            .iter()
            .filter_map(|(id, fields)| drained(&source, id, fields))
            .collect();
        self.write(rows).await?;
        let ids: Vec<&String> = entries.iter().map(|(id, _)| id).collect();
        redis::cmd("XDEL")
            .arg(stream)
            .arg(&ids)
            .query_async::<i64>(&mut redis)
            .await?;
        Ok(entries.len())
    }

    async fn write(&self, rows: Vec<Drained>) -> Result<(), EventsError> {
        let (mut origins, mut types, mut queues, mut times, mut data) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for row in rows {
            origins.push(row.origin);
            types.push(row.event_type);
            queues.push(row.queue);
            times.push(row.time_ms);
            data.push(row.data);
        }
        self.db
            .bounded(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO events (type, queue, time, data, origin)
                         SELECT kind, queue, to_timestamp(ms / 1000.0), data::jsonb, origin
                         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
                             AS entry(origin, kind, queue, ms, data)
                         ON CONFLICT (origin) WHERE origin IS NOT NULL DO NOTHING",
                    )
                    .bind(origins)
                    .bind(types)
                    .bind(queues)
                    .bind(times)
                    .bind(data)
                    .execute(connection)
                    .instrument(otel::sql("events.insert_drained"))
                    .await?;
                    Ok::<_, EventsError>(())
                })
            })
            .await
    }
}

/// An entry's row: its type, its queue (the source's, or the entry's own
/// `queue` field when it has a non-empty one), and its other fields as the
/// event's data: whole numbers as numbers, `true` and `false` as booleans,
/// `seats` as an ascending list of numbers, a
/// visitor's line id as its name, and a schedule's id for a schedule's entry.
/// An entry without a type, or whose id is not a stream id, was not written
/// by the scripts and is dropped.
fn drained(source: &Source<'_>, id: &str, fields: &[String]) -> Option<Drained> {
    let time_ms = id.split_once('-')?.0.parse().ok()?;
    let mut event_type = None;
    let mut queue = match source {
        Source::Queue(queue) => Some(queue.to_string()),
        Source::Schedule(_) => None,
    };
    let mut data = Map::new();
    if let Source::Schedule(schedule) = source {
        data.insert("scheduleId".into(), Value::from(*schedule));
    }
    for pair in fields.chunks_exact(2) {
        let (name, value) = (pair[0].as_str(), &pair[1]);
        match name {
            "type" => event_type = Some(value.clone()),
            "queue" => {
                if !value.is_empty() {
                    queue = Some(value.clone());
                }
            }
            "seats" => {
                let mut seats: Vec<i64> = value.split(',').filter_map(|seat| seat.parse().ok()).collect();
                seats.sort_unstable();
                data.insert(
                    "seats".into(),
                    Value::Array(seats.into_iter().map(Value::from).collect()),
                );
            }
            // A protected site's anonymous visitor stands in the line as a
            // negative id (`queue::Visitor`): named as its pass names it.
            "userId" if value.starts_with('-') => {
                data.insert("visitorId".into(), Value::String(format!("v{}", &value[1..])));
            }
            _ => {
                let value = match value.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    text => text
                        .parse::<i64>()
                        .map_or_else(|_| Value::String(value.clone()), Value::from),
                };
                data.insert(name.to_string(), value);
            }
        }
    }
    Some(Drained {
        origin: format!("{}:{id}", source.origin()),
        event_type: event_type?,
        queue,
        time_ms,
        data: Value::Object(data).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::{drained, Source};

    fn fields<const N: usize>(pairs: [&str; N]) -> Vec<String> {
        pairs.map(String::from).to_vec()
    }

    #[test]
    fn a_queue_entry_becomes_its_type_time_and_data() {
        let queue = Source::Queue("default");
        let row = drained(
            &queue,
            "1733500000123-0",
            &fields(["type", "queue.admitted", "userId", "42", "waitedS", "7"]),
        )
        .expect("a row");
        assert_eq!(
            (row.event_type.as_str(), row.time_ms),
            ("queue.admitted", 1_733_500_000_123)
        );
        assert_eq!(
            (row.queue.as_deref(), row.origin.as_str()),
            (Some("default"), "q:default:1733500000123-0")
        );
        assert_eq!(row.data, r#"{"userId":42,"waitedS":7}"#);
        let issued = fields(["type", "pass.issued", "visitorId", "v3", "renewed", "false"]);
        assert_eq!(
            drained(&queue, "1-0", &issued).expect("a row").data,
            r#"{"renewed":false,"visitorId":"v3"}"#
        );
        let reason = fields(["type", "queue.timed_out", "reason", "idle"]);
        assert_eq!(
            drained(&queue, "1-0", &reason).expect("a row").data,
            r#"{"reason":"idle"}"#
        );
        let visitor = fields(["type", "queue.left", "userId", "-17"]);
        assert_eq!(
            drained(&queue, "1-0", &visitor).expect("a row").data,
            r#"{"visitorId":"v17"}"#
        );
        assert!(drained(&queue, "1-0", &fields(["userId", "1"])).is_none(), "no type");
        assert!(drained(&queue, "garbage", &reason).is_none());
    }

    #[test]
    fn a_schedule_entry_names_its_queue_and_schedule() {
        let schedule = Source::Schedule(12);
        let held = fields([
            "type",
            "seats.held",
            "queue",
            "hero-autumn",
            "userId",
            "3",
            "seats",
            "7,4",
        ]);
        let row = drained(&schedule, "5-1", &held).expect("a row");
        assert_eq!(
            (row.queue.as_deref(), row.origin.as_str()),
            (Some("hero-autumn"), "s:12:5-1")
        );
        assert_eq!(row.data, r#"{"scheduleId":12,"seats":[4,7],"userId":3}"#);
        let released = fields(["type", "seats.released", "queue", "", "userId", "3", "seats", "4"]);
        assert_eq!(drained(&schedule, "6-0", &released).expect("a row").queue, None);
    }
}
