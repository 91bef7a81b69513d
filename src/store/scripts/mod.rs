//! The functions of the Lua library (`lua/`), one per atomic operation, each
//! with one Rust home in this folder: the keys and arguments it takes and its
//! reply as a type, so no caller formats arguments or reads a reply by hand.
//! [`library`] builds the library, loads it (again whenever Redis lost it) and
//! runs the calls; [`record`] reads the values the library writes that Rust
//! reads too.

pub(crate) mod adapt;
pub(crate) mod admit;
pub(crate) mod check_active;
pub(crate) mod expire_token;
pub(crate) mod finalize_sale;
pub(crate) mod health;
pub(crate) mod hold_seats;
pub(crate) mod leave;
pub(crate) mod library;
pub(crate) mod open_queue;
pub(crate) mod record;
pub(crate) mod seat_state;
pub(crate) mod settings;
pub(crate) mod standing;
pub(crate) mod sweep_holds;
pub(crate) mod user_holds;

use redis::{FromRedisValue, ParsingError, Value};

/// The elements of an array reply, read in order.
pub(crate) struct Fields(std::vec::IntoIter<Value>);

impl Fields {
    pub(crate) fn of(reply: Value) -> Result<Self, ParsingError> {
        match reply {
            Value::Array(items) => Ok(Fields(items.into_iter())),
            other => Err(format!("expected an array reply, got {other:?}").into()),
        }
    }

    pub(crate) fn next<T: FromRedisValue>(&mut self) -> Result<T, ParsingError> {
        let value = self.0.next().ok_or("the reply is shorter than the function promises")?;
        T::from_redis_value(value)
    }

    /// The tag a reply opens with (`"held"`, `"taken"`, ...).
    pub(crate) fn tag(&mut self) -> Result<String, ParsingError> {
        self.next()
    }

    pub(crate) fn rest<T: FromRedisValue>(self) -> Result<Vec<T>, ParsingError> {
        self.0.map(T::from_redis_value).collect()
    }
}

pub(crate) fn unknown_tag(function: &str, tag: &str) -> ParsingError {
    format!("{function} answered with an unknown tag `{tag}`").into()
}

/// The reply of a function that refuses to run on a sold set that has not been
/// rebuilt from Postgres since Redis lost it (see `booking::sold`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Synced<T> {
    Ready(T),
    Unsynced,
}
