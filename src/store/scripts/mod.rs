//! The Lua scripts of `lua/`, one per atomic operation, each with one Rust home
//! in this folder: the keys and arguments it takes and its reply as a type, so
//! no caller formats arguments or reads a reply by hand.
//!
//! `redis::Script` runs them with EVALSHA and falls back to loading the source on
//! NOSCRIPT, so a restarted or flushed Redis needs no special handling;
//! [`load_all`] warms the script cache at start-up.

pub(crate) mod adapt;
pub(crate) mod admit;
pub(crate) mod check_active;
pub(crate) mod expire_token;
pub(crate) mod finalize_sale;
pub(crate) mod health;
pub(crate) mod hold_seats;
pub(crate) mod open_queue;
pub(crate) mod seat_state;
pub(crate) mod settings;
pub(crate) mod standing;
pub(crate) mod sweep_holds;
pub(crate) mod user_holds;

use std::sync::LazyLock;

use redis::{Cmd, ErrorKind, FromRedisValue, ParsingError, RedisResult, Script, ServerErrorKind, Value};

use super::redis::Connection;

/// A script compiled into the binary from `lua/`.
macro_rules! lua {
    ($file:literal) => {
        std::sync::LazyLock::new(|| redis::Script::new(include_str!(concat!("../../../lua/", $file))))
    };
}
pub(crate) use lua;

fn all() -> [&'static LazyLock<Script>; 13] {
    [
        &standing::SCRIPT,
        &check_active::SCRIPT,
        &expire_token::SCRIPT,
        &admit::SCRIPT,
        &hold_seats::SCRIPT,
        &user_holds::SCRIPT,
        &finalize_sale::SCRIPT,
        &seat_state::SCRIPT,
        &sweep_holds::SCRIPT,
        &settings::SCRIPT,
        &open_queue::SCRIPT,
        &health::SCRIPT,
        &adapt::SCRIPT,
    ]
}

/// Loads every script into Redis's script cache (SCRIPT LOAD).
pub(crate) async fn load_all(connection: &mut Connection) -> RedisResult<()> {
    for script in all() {
        script.prepare_invoke().load_async(connection).await?;
    }
    Ok(())
}

/// An `EVALSHA` of `script` with `keys`, to which the caller adds the
/// arguments; for a batch, whose many arguments `ScriptInvocation` would hold
/// one allocation each before copying them into the command. Run with [`eval`].
pub(crate) fn evalsha(script: &Script, keys: &[&str]) -> Cmd {
    let mut call = redis::cmd("EVALSHA");
    call.arg(script.get_hash()).arg(keys.len()).arg(keys);
    call
}

/// Sends an [`evalsha`] call, loading `script` and sending it again when Redis
/// does not have it (restarted, flushed), as `ScriptInvocation` does.
pub(crate) async fn eval<T: FromRedisValue>(
    connection: &mut Connection,
    script: &Script,
    call: &Cmd,
) -> RedisResult<T> {
    match call.query_async(connection).await {
        Err(err) if err.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            script.load_async(connection).await?;
            call.query_async(connection).await
        }
        answer => answer,
    }
}

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
        let value = self.0.next().ok_or("the reply is shorter than the script promises")?;
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

pub(crate) fn unknown_tag(script: &str, tag: &str) -> ParsingError {
    format!("{script} answered with an unknown tag `{tag}`").into()
}

/// The reply of a script that refuses to run on a sold set that has not been
/// rebuilt from Postgres since Redis lost it (see `booking::sold`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Synced<T> {
    Ready(T),
    Unsynced,
}
