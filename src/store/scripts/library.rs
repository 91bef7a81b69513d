//! The Lua of `lua/` as one Redis Functions library: built here from its files
//! (the shared prelude first, then one file per function), loaded with
//! `FUNCTION LOAD REPLACE`, and called with `FCALL`.
//!
//! Loaded at start-up ([`load`]) and again whenever Redis answers that a
//! function is not found ([`run`]): a Redis restarted without persistence, a
//! `FUNCTION FLUSH`, a failover to a node that never had it. On a Cluster,
//! `FUNCTION LOAD` goes to every master (the redis crate routes it so) and
//! each master's replicas receive it from it; an `FCALL` goes to the master of
//! its keys' slot. One load per Redis handle at a time: the calls that find the
//! library missing together wait for one load, then each is sent again once.
//!
//! The library's name and every function's carry a version, a hash of the
//! library's text (`boxoffice_<version>`, `queue_standing_<version>`): two
//! builds of the gateway serving one Redis (a rolling upgrade) each call their
//! own functions, as scripts called by their SHA did, rather than the one
//! loaded last replacing the other's. An old build's library stays in Redis
//! (tens of kB) until a restart or a `FUNCTION DELETE`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use redis::{Cmd, FromRedisValue, RedisError, RedisResult, RedisWrite, ToRedisArgs};
use tracing::Instrument;

use crate::store::redis::Connection;
use crate::telemetry::otel;

/// The library's files, the prelude (what every function shares) first.
const SOURCE: &str = concat!(
    include_str!("../../../lua/prelude.lua"),
    include_str!("../../../lua/queue_standing.lua"),
    include_str!("../../../lua/queue_check_active.lua"),
    include_str!("../../../lua/queue_expire_token.lua"),
    include_str!("../../../lua/queue_leave.lua"),
    include_str!("../../../lua/queue_admit.lua"),
    include_str!("../../../lua/queue_open.lua"),
    include_str!("../../../lua/queue_settings.lua"),
    include_str!("../../../lua/queue_health.lua"),
    include_str!("../../../lua/queue_adapt.lua"),
    include_str!("../../../lua/seats_hold.lua"),
    include_str!("../../../lua/seats_user_holds.lua"),
    include_str!("../../../lua/seats_finalize_sale.lua"),
    include_str!("../../../lua/seats_state.lua"),
    include_str!("../../../lua/seats_sweep.lua"),
);

struct Library {
    version: String,
    /// What `FUNCTION LOAD` is sent: the header line, the version, [`SOURCE`].
    text: String,
}

static LIBRARY: LazyLock<Library> = LazyLock::new(|| {
    let version = format!("{:012x}", fnv1a(SOURCE.as_bytes()) >> 16);
    let text = format!("#!lua name=boxoffice_{version}\nlocal VERSION = '{version}'\n{SOURCE}");
    Library { version, text }
});

/// FNV-1a, 64 bits: stable across builds and Rust versions, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One function of the library, by the name its file registers.
pub(crate) struct Function(&'static str);

impl Function {
    pub(crate) const fn new(name: &'static str) -> Self {
        Function(name)
    }

    /// An `FCALL` of this function with `keys`, to which the caller adds the arguments.
    pub(crate) fn call(&self, keys: &[&str]) -> Cmd {
        let mut call = self.call_naming(keys.len());
        call.arg(keys);
        call
    }

    /// An `FCALL` of this function declaring `count` keys: the caller adds
    /// exactly that many keys, then the arguments.
    pub(crate) fn call_naming(&self, count: usize) -> Cmd {
        let mut call = redis::cmd("FCALL");
        call.arg(Versioned(self.0)).arg(count);
        call
    }
}

/// A function's name as registered, `<name>_<version>`, written straight into
/// the command (the hot path's calls allocate no string for it).
struct Versioned(&'static str);

impl ToRedisArgs for Versioned {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        // Writes into memory: they cannot fail.
        let _ = arg.write_all(self.0.as_bytes());
        let _ = arg.write_all(b"_");
        let _ = arg.write_all(LIBRARY.version.as_bytes());
    }
}

/// An `FCALL` of the library's function `name` (as its file in `lua/`
/// registers it), for tools and tests that call one directly.
pub fn fcall(name: &str) -> Cmd {
    let mut call = redis::cmd("FCALL");
    call.arg(format!("{name}_{}", LIBRARY.version));
    call
}

/// Loads the library into Redis (every master of a Cluster), replacing this
/// build's if it is there.
pub(crate) async fn load(redis: &mut Connection) -> RedisResult<()> {
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(&LIBRARY.text)
        .query_async(redis)
        .await
}

/// Sends `call`; when Redis does not have the function, loads the library and
/// sends it once more.
pub(crate) async fn run<T: FromRedisValue>(redis: &mut Connection, call: &Cmd) -> RedisResult<T> {
    run_as(redis, call, None).await
}

/// [`run`] for a coalesced call carrying `entries` joins and polls, which its
/// trace span shows.
pub(crate) async fn run_batch<T: FromRedisValue>(redis: &mut Connection, call: &Cmd, entries: usize) -> RedisResult<T> {
    run_as(redis, call, Some(entries)).await
}

/// With traces off (the poll's hot path, most of the time) the call is sent
/// as it is: no span, not even an empty one around the future.
async fn run_as<T: FromRedisValue>(redis: &mut Connection, call: &Cmd, entries: Option<usize>) -> RedisResult<T> {
    if otel::enabled() {
        send_reloading(redis, call).instrument(span(call, entries)).await
    } else {
        send_reloading(redis, call).await
    }
}

/// The trace span of `call`, named by its function (the `FCALL`'s first
/// argument) without the library's version, one name across builds.
fn span(call: &Cmd, entries: Option<usize>) -> tracing::Span {
    let function = match call.args_iter().nth(1) {
        Some(redis::Arg::Simple(name)) => std::str::from_utf8(name).unwrap_or("FCALL"),
        _ => "FCALL",
    };
    let function = function
        .strip_suffix(LIBRARY.version.as_str())
        .map_or(function, |name| name.trim_end_matches('_'));
    otel::redis(function, entries)
}

/// Tries a lost library's reload this many times in one call: Redis can lose
/// it again between the reload and the retry (a second failover, or a
/// `FUNCTION FLUSH` from another client), and the call should still be answered.
const LOADS_PER_CALL: usize = 3;

async fn send_reloading<T: FromRedisValue>(redis: &mut Connection, call: &Cmd) -> RedisResult<T> {
    let loads = redis.library_loads().clone();
    let mut seen = loads.count.load(Ordering::Acquire);
    let mut reloads = 0;
    loop {
        match call.query_async(redis).await {
            Err(err) if not_loaded(&err) && reloads < LOADS_PER_CALL => {
                loads.reload(redis, seen).await?;
                seen = loads.count.load(Ordering::Acquire);
                reloads += 1;
            }
            answer => return answer,
        }
    }
}

/// Redis 7's answer to an `FCALL` of a function it does not have.
fn not_loaded(err: &RedisError) -> bool {
    err.code() == Some("ERR")
        && err
            .detail()
            .is_some_and(|detail| detail.starts_with("Function not found"))
}

/// The loads of the library through one Redis handle.
#[derive(Default)]
pub(crate) struct Loads {
    /// Loads made after start-up.
    count: AtomicU64,
    one_at_a_time: tokio::sync::Mutex<()>,
}

impl Loads {
    /// Loads the library, unless it was loaded since `seen` (while this
    /// caller's call was under way).
    async fn reload(&self, redis: &mut Connection, seen: u64) -> RedisResult<()> {
        let _turn = self.one_at_a_time.lock().await;
        if self.count.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        load(redis).await?;
        self.count.fetch_add(1, Ordering::Release);
        tracing::info!("Redis had lost the Lua library: loaded it again");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_lua_is_in_the_library_and_registers_its_functions() {
        let files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/lua"))
            .expect("lua/ is readable")
            .map(|entry| {
                entry
                    .expect("an entry of lua/")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        for file in &files {
            let text = std::fs::read_to_string(format!("{}/lua/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            assert!(SOURCE.contains(&text), "lua/{file} is not in the library");
            if file != "prelude.lua" {
                let name = file.trim_end_matches(".lua");
                assert!(
                    text.contains(&format!("register('{name}', {name}")),
                    "lua/{file} registers `{name}`"
                );
            }
        }
    }

    #[test]
    fn the_version_follows_the_text() {
        assert_eq!(LIBRARY.version.len(), 12);
        assert!(LIBRARY
            .text
            .starts_with(&format!("#!lua name=boxoffice_{}\n", LIBRARY.version)));
        assert_ne!(fnv1a(b"queue_standing"), fnv1a(b"queue_standinh"));
        let name = redis::ToRedisArgs::to_redis_args(&Versioned("queue_standing"));
        assert_eq!(name, vec![format!("queue_standing_{}", LIBRARY.version).into_bytes()]);
    }

    /// Keys are named in Rust only (`store::keys`): the library must not build
    /// one, by concatenating a key's parts or from a prefix it was given.
    #[test]
    fn no_key_is_built_in_lua() {
        let code: String = SOURCE
            .lines()
            .map(|line| line.split("--").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        for built in ["':'", "\":\"", "'{'", "prefix", "meta:", ":q:", ":s:"] {
            let uses: Vec<&str> = code.lines().filter(|line| line.contains(built)).collect();
            // The one ':' is the hold value's, a value and not a key.
            let allowed = usize::from(built == "':'");
            assert!(uses.len() <= allowed, "`{built}` in Lua code: {uses:?}");
        }
        assert!(
            code.contains("return user .. ':' .. expiry"),
            "the hold value is the one ':'"
        );
        // Nor from what the caller sent: a key's parts joined to an argument or key.
        for given in ["ARGV[", "KEYS["] {
            for line in code.lines() {
                let joined = line.split(given).skip(1).any(|rest| {
                    let after = rest.split_once(']').map_or("", |(_, after)| after).trim_start();
                    after.starts_with("..")
                });
                assert!(!joined, "a key built from {given}...]: {line}");
            }
        }
        // Every key a function touches comes from KEYS: a `redis.call` whose
        // key is a literal string or a concatenation names its own.
        for line in code.lines().filter(|line| line.contains("redis.call(")) {
            let after = line.split("redis.call(").nth(1).unwrap_or("");
            let key = after.split(',').nth(1).unwrap_or("").trim();
            assert!(
                !key.starts_with('\'') && !key.contains(".."),
                "a key built in Lua: {line}"
            );
        }
    }
}
