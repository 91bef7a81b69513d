//! Every knob of the service, read from the command line or the environment.
//!
//! Each setting has a working default so `cargo run` on a machine with
//! local Redis and Postgres needs no configuration at all.

use chrono::FixedOffset;
use clap::{Parser, Subcommand};

use crate::booking::money::MAX_AMOUNT;

/// Signing secret used when none is configured; start-up warns loudly about it.
const DEVELOPMENT_TOKEN_SECRET: &str = "boxoffice-development-secret-do-not-use-in-production";

#[derive(Debug, Clone, Parser)]
#[command(name = "boxoffice", version, about = "Waiting-queue gateway and concert booking API")]
#[command(next_help_heading = "Service")]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(
        global = true,
        long = "addr",
        env = "BOXOFFICE_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub addr: String,

    /// Redis holding the queues, the seat holds and the live metrics.
    ///
    /// A `redis+cluster://host:port,host:port` URL means a Redis Cluster.
    #[arg(
        global = true,
        long,
        env = "REDIS_URL",
        hide_env_values = true,
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,

    /// Redis Cluster nodes (host:port, comma-separated); set, the cluster is used instead
    /// of REDIS_URL. A `redis+cluster://host:port,host:port` REDIS_URL does the same.
    #[arg(
        global = true,
        long,
        env = "BOXOFFICE_REDIS_CLUSTER",
        value_delimiter = ',',
        default_value = "",
        hide_env_values = true
    )]
    pub redis_cluster: Vec<String>,

    /// Postgres holding the truth: users, seats, sales, balances, ledger.
    ///
    /// The database is created if missing and migrated at start-up.
    #[arg(
        global = true,
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/boxoffice"
    )]
    pub database_url: String,

    /// Prefix of every Redis key, so deployments and parallel tests share one Redis.
    #[arg(global = true, long, env = "BOXOFFICE_REDIS_PREFIX", default_value = "bo")]
    pub redis_prefix: String,

    /// HMAC secret that signs queue tokens.
    ///
    /// The default is a public development secret, so anyone could forge a token
    /// with it: start-up logs a loud warning while it is in use. Every gateway of
    /// one deployment needs the same secret.
    #[arg(global = true, long, env = "BOXOFFICE_TOKEN_SECRET", default_value = DEVELOPMENT_TOKEN_SECRET, hide_default_value = true, hide_env_values = true)]
    pub token_secret: String,

    /// Bearer token of the admin API (`/admin`), compared in constant time.
    ///
    /// Unset: every admin route answers 403 ADMIN_DISABLED.
    #[arg(global = true, long, env = "BOXOFFICE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// How log lines are written to stdout: `text` (for people) or `json`.
    ///
    /// `json` writes one JSON object per line, each request's line with its
    /// request id, trace id, route, status and latency, for log pipelines
    /// (Loki, Elasticsearch, CloudWatch): docs/observability.md. `RUST_LOG`
    /// decides which lines are written in either format.
    #[arg(
        global = true,
        long,
        env = "BOXOFFICE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Zone of the local date-times in requests and responses: `+09:00`, `-0530`, `UTC`.
    #[arg(global = true, long, env = "BOXOFFICE_TIMEZONE", default_value = "+09:00", value_parser = parse_offset)]
    pub timezone: FixedOffset,

    /// Requests running longer than this are cut off with 503 TIMEOUT.
    ///
    /// The queue's join and poll skip it (one Redis call each, bounded by the
    /// Redis client's timeouts); charges and payments have their own deadlines
    /// (BOXOFFICE_DB_STATEMENT_TIMEOUT_MS). It also bounds a run of the audit.
    #[arg(global = true, long, env = "BOXOFFICE_REQUEST_TIMEOUT_MS", default_value_t = 10_000)]
    pub request_timeout_ms: u64,

    /// Largest Postgres connection pool of one instance.
    ///
    /// Besides it an instance keeps up to 5 connections of its own: 2 for
    /// reloads, 1 for the probe, 1 watched for Postgres ending it and 1 for the
    /// audit.
    #[arg(global = true, long, env = "BOXOFFICE_DB_MAX_CONNECTIONS", default_value_t = 20)]
    pub db_max_connections: u32,

    /// Longest wait for a pooled Postgres connection before answering 503.
    ///
    /// The answer is 503 DEPENDENCY_UNAVAILABLE with `Retry-After: 1`. This is
    /// how large a burst may queue: 2,000 simultaneous payments take about
    /// 1.2-1.5 s to drain through 20 connections on 2 cores. A dead database
    /// ends the waits sooner, as soon as its breaker opens.
    #[arg(global = true, long, env = "BOXOFFICE_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 2000)]
    pub db_acquire_timeout_ms: u64,

    /// Postgres gives up on a statement (and any lock wait in it) after this
    /// long and rolls it back.
    ///
    /// That is answered 503 DEPENDENCY_UNAVAILABLE: nothing happened. The client
    /// waits half a second more for Postgres's answer before calling the
    /// outcome unknown (503 OUTCOME_UNKNOWN). Migrations, seeding and reloads
    /// are not bound by it.
    #[arg(
        global = true,
        long,
        env = "BOXOFFICE_DB_STATEMENT_TIMEOUT_MS",
        default_value_t = 3000
    )]
    pub db_statement_timeout_ms: u64,

    /// How often each instance compares every schedule's sales in Postgres with
    /// Redis's sold set and repairs what differs.
    ///
    /// Sales of the last seconds are re-applied every second besides. 0 turns
    /// both off: only for tests of the audit itself, never in service.
    #[arg(global = true, long, env = "BOXOFFICE_RECONCILE_INTERVAL_MS", default_value_t = 5000)]
    pub reconcile_interval_ms: u64,

    /// How old a result GET /ops/invariants may serve.
    ///
    /// An older one is recomputed, once for every caller asking meanwhile, on a
    /// Postgres connection of the audit's own. 0 serves no finished result again
    /// (callers arriving during a run still share it). /admin/invariants always
    /// runs afresh.
    #[arg(global = true, long, env = "BOXOFFICE_AUDIT_MAX_AGE_MS", default_value_t = 2000)]
    pub audit_max_age_ms: u64,

    /// Insert the demo concerts and users when the database holds no concerts.
    #[arg(global = true, long, env = "BOXOFFICE_DEMO_DATA", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_data: bool,

    // The groups come after the service's own settings: a flattened group's
    // heading stays in force for the arguments declared after it.
    #[command(flatten)]
    pub queue: QueueConfig,

    #[command(flatten)]
    pub booking: BookingConfig,

    #[command(flatten)]
    pub identity: IdentityConfig,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub connections: ConnectionsConfig,

    #[command(flatten)]
    pub pass: PassConfig,

    #[command(flatten)]
    pub webhooks: WebhooksConfig,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Add users for load tests (same UUID rule as the demo users, ids continuing).
    Seed(Seeding),
    /// Audit the business invariants (no double sale, money conserved, Redis in
    /// step with Postgres); exits non-zero on any violation.
    Check,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Seeding {
    /// How many users to add.
    ///
    /// Written with COPY, about a second per 100,000; running servers see them
    /// within a second.
    #[arg(long, env = "BOXOFFICE_SEED_USERS", default_value_t = 0)]
    pub users: u64,
    /// Also add the `bench-arena` concert with this many schedules (once).
    #[arg(long, env = "BOXOFFICE_SEED_ARENA_SCHEDULES", default_value_t = 0)]
    pub arena_schedules: u32,
    /// Seats per `bench-arena` schedule, 1000 won each.
    #[arg(long, env = "BOXOFFICE_SEED_ARENA_SEATS", default_value_t = 500)]
    pub arena_seats: i32,
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Queue")]
pub struct QueueConfig {
    /// Queue behind the /api/waiting-queue routes (/api/v1 uses one queue per concert code).
    #[arg(global = true, long, env = "BOXOFFICE_DEFAULT_QUEUE", default_value = "default")]
    pub default_queue: String,

    /// Most users admitted to the booking API at once, per queue; 0 = unlimited.
    ///
    /// Only the default of a queue whose live settings do not say (the admin
    /// API's `maxActive`; docs/operations.md, Live settings).
    #[arg(global = true, long, env = "BOXOFFICE_MAX_ACTIVE", default_value_t = 1000)]
    pub max_active: u64,

    /// Users admitted per second, per queue, whatever the number of instances; 0 = unlimited.
    ///
    /// Only the default of a queue whose live settings do not say (the admin
    /// API's `admitRate`).
    #[arg(global = true, long, env = "BOXOFFICE_ADMIT_RATE", default_value_t = 100)]
    pub admit_rate: u64,

    /// How often each instance runs the admission step.
    #[arg(global = true, long, env = "BOXOFFICE_ADMIT_TICK_MS", default_value_t = 1000)]
    pub admit_tick_ms: u64,

    /// Lifetime of an active token, counted from admission.
    ///
    /// Using the token does not extend it: admission is a fixed window. A
    /// queue that protects a site admits for its `sessionSeconds` instead,
    /// which its visitors' activity slides (docs/protect-a-site.md).
    #[arg(global = true, long, env = "BOXOFFICE_ACTIVE_TTL_S", default_value_t = 600)]
    pub active_ttl_s: u64,

    /// A waiting user who has not polled for this long loses the place.
    #[arg(global = true, long, env = "BOXOFFICE_IDLE_TIMEOUT_S", default_value_t = 300)]
    pub idle_timeout_s: u64,

    /// Most joins and polls of one queue sent to Redis in one Lua call (1-1000).
    ///
    /// An instance gathers those that arrive while its previous run for the queue
    /// is in flight and sends them together; 1 sends each alone, at once.
    /// Larger runs cost Redis less per request (2.0 µs a poll in runs of 256,
    /// 2.3 in runs of 64, loadtest/RESULTS.md) but hold Redis's one thread
    /// longer: a run of 64 is about 0.15 ms of it, one of 256 about 0.5 ms.
    #[arg(global = true, long, env = "BOXOFFICE_QUEUE_BATCH_MAX", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub batch_max: u64,

    /// Joins allowed per second per user id, whatever the queue; 0 turns the limit off.
    ///
    /// A client IP may join 50 times as often (many users may share one address).
    /// The instance's guard against a tight loop; each queue's own limits, a
    /// minute, apply beside it (the BOXOFFICE_JOIN_LIMIT_PER_* settings below,
    /// and the admin API's `joinLimits`).
    #[arg(global = true, long, env = "BOXOFFICE_JOIN_RATE_LIMIT", default_value_t = 5)]
    pub join_rate_limit: u32,

    /// Joins a minute per identity, per queue, unless the queue's live settings say (`joinLimits`); 0 = no limit.
    ///
    /// The identity is the user a join names, or a protected site's visitor.
    /// Counted by each instance on its own (docs/queue.md, Join limits).
    #[arg(global = true, long, env = "BOXOFFICE_JOIN_LIMIT_PER_IDENTITY_PER_MINUTE", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub join_limit_per_identity_per_minute: u64,

    /// Joins a minute per client IP, per queue, unless the queue's live settings say; 0 = no limit.
    #[arg(global = true, long, env = "BOXOFFICE_JOIN_LIMIT_PER_IP_PER_MINUTE", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub join_limit_per_ip_per_minute: u64,

    /// Joins a minute per network (the client IP's /24, or /56 for IPv6), per queue, unless the queue's live settings say; 0 = no limit.
    #[arg(global = true, long, env = "BOXOFFICE_JOIN_LIMIT_PER_NETWORK_PER_MINUTE", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub join_limit_per_network_per_minute: u64,

    /// The complexity a queue's challenge gets when the admin API's `challenge` names none.
    ///
    /// A solver makes between half of it and all of it key derivations: the
    /// default takes a median of about a second in Chromium on two cores
    /// (docs/queue.md, The challenge; loadtest/RESULTS.md).
    #[arg(global = true, long, env = "BOXOFFICE_CHALLENGE_COMPLEXITY", default_value_t = 30_000,
          value_parser = clap::value_parser!(u32).range(2..=10_000_000))]
    pub challenge_complexity: u32,

    /// Seconds a challenge may be solved and used in, from its issue.
    #[arg(global = true, long, env = "BOXOFFICE_CHALLENGE_TTL_S", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub challenge_ttl_s: u64,

    /// Seconds of booking latency the adaptive admission step judges (1-7).
    ///
    /// See docs/operations.md, Adaptive admission.
    #[arg(global = true, long, env = "BOXOFFICE_ADAPTIVE_WINDOW_S", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=7))]
    pub adaptive_window_s: u64,

    /// Run the admission scheduler in this instance.
    ///
    /// Every instance may: the rate bucket lives in Redis, so ten instances
    /// stepping admit no more than one.
    #[arg(global = true, long = "scheduler", env = "BOXOFFICE_SCHEDULER", default_value_t = true, action = clap::ArgAction::Set)]
    pub run_scheduler: bool,
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Booking")]
pub struct BookingConfig {
    /// How long a seat hold lasts before the seat is free again.
    #[arg(global = true, long, env = "BOXOFFICE_HOLD_TTL_S", default_value_t = 300)]
    pub hold_ttl_s: u64,

    /// Most seats one user may hold on one schedule.
    #[arg(global = true, long, env = "BOXOFFICE_MAX_SEATS_PER_USER", default_value_t = 4)]
    pub max_seats_per_user: u32,

    /// Largest single balance charge, in won (1 to 10^15, the bound of every amount).
    #[arg(global = true, long, env = "BOXOFFICE_MAX_CHARGE", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(i64).range(1..=MAX_AMOUNT))]
    pub max_charge: i64,

    /// Largest balance a user may hold, in won (1 to 10^15, the bound of every amount).
    #[arg(global = true, long, env = "BOXOFFICE_MAX_BALANCE", default_value_t = 100_000_000,
          value_parser = clap::value_parser!(i64).range(1..=MAX_AMOUNT))]
    pub max_balance: i64,

    /// Require an active queue token on the open /api schedule and seat reads.
    #[arg(global = true, long, env = "BOXOFFICE_READS_REQUIRE_TOKEN", default_value_t = false, action = clap::ArgAction::Set)]
    pub reads_require_token: bool,
}

/// The shape of the log lines (see `telemetry/logs.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, its span's fields before it.
    Text,
    /// One JSON object per line.
    Json,
}

/// Whether a user named by a request must prove it (see `identity/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IdentityMode {
    /// Believe the user-id header, userId and UUID as sent (behind an authenticating gateway).
    TrustedHeader,
    /// Require an `X-Identity` JWT whose `sub` is the named user.
    Signed,
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Identity")]
pub struct IdentityConfig {
    /// Whether a user named by a request must prove it: `trusted-header` or `signed`.
    ///
    /// Unset: `signed` when BOXOFFICE_IDENTITY_KEY,
    /// BOXOFFICE_IDENTITY_PUBLIC_KEY_FILE, BOXOFFICE_IDENTITY_ISSUER or
    /// BOXOFFICE_IDENTITY_JWKS_URL is set, else `trusted-header`
    /// (docs/identity.md).
    #[arg(global = true, long = "identity", env = "BOXOFFICE_IDENTITY", value_enum)]
    pub mode: Option<IdentityMode>,

    /// HS256 secret shared with the auth service that signs `X-Identity`.
    #[arg(
        global = true,
        long = "identity-key",
        env = "BOXOFFICE_IDENTITY_KEY",
        hide_env_values = true
    )]
    pub key: Option<String>,

    /// PEM file of the auth service's public key (RSA for RS256, Ed25519 for EdDSA).
    #[arg(
        global = true,
        long = "identity-public-key-file",
        env = "BOXOFFICE_IDENTITY_PUBLIC_KEY_FILE"
    )]
    pub public_key_file: Option<String>,

    /// The OIDC issuer whose proofs are believed: a proof's `iss` must equal
    /// it. Alone (no key, key file nor JWKS URL), its keys are found through
    /// `<issuer>/.well-known/openid-configuration` (docs/identity.md).
    #[arg(global = true, long = "identity-issuer", env = "BOXOFFICE_IDENTITY_ISSUER")]
    pub issuer: Option<String>,

    /// URL of the auth service's JWKS (its public keys, chosen by `kid`),
    /// used as given: no discovery. Keys are refetched in the background.
    #[arg(
        global = true,
        long = "identity-jwks-url",
        env = "BOXOFFICE_IDENTITY_JWKS_URL",
        hide_env_values = true
    )]
    pub jwks_url: Option<String>,

    /// How often the JWKS is fetched again, in seconds. A key not yet known is
    /// fetched at its first use (at most once per few seconds); this bounds how
    /// long a key the provider withdrew is still believed.
    #[arg(global = true, long = "identity-jwks-refresh-s", env = "BOXOFFICE_IDENTITY_JWKS_REFRESH_S",
          default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub jwks_refresh_s: u64,

    /// The audience this service answers to: set, a proof's `aud` must name it
    /// (and be present); unset, `aud` is not checked (any or none is accepted).
    #[arg(global = true, long = "identity-audience", env = "BOXOFFICE_IDENTITY_AUDIENCE")]
    pub audience: Option<String>,

    /// Longest life a proof may claim: `exp` at most this far ahead of now, and
    /// of `iat` when present. A proof valid for longer is refused, however signed.
    #[arg(global = true, long = "identity-max-lifetime-s", env = "BOXOFFICE_IDENTITY_MAX_LIFETIME_S",
          default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_lifetime_s: u64,
}

impl IdentityConfig {
    pub(crate) fn mode(&self) -> IdentityMode {
        let any_key =
            self.key.is_some() || self.public_key_file.is_some() || self.issuer.is_some() || self.jwks_url.is_some();
        match (self.mode, any_key) {
            (Some(mode), _) => mode,
            (None, false) => IdentityMode::TrustedHeader,
            (None, true) => IdentityMode::Signed,
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitsConfig {
    /// Position polls per second per client IP; 0 turns the limit off.
    ///
    /// The client IP comes from `X-Forwarded-For` only for a connection from one
    /// of BOXOFFICE_TRUSTED_PROXIES.
    #[arg(global = true, long, env = "BOXOFFICE_POLL_RATE_LIMIT", default_value_t = 1000)]
    pub poll_rate_limit: u32,

    /// Balance reads per second per client IP; 0 turns the limit off.
    #[arg(global = true, long, env = "BOXOFFICE_READ_RATE_LIMIT", default_value_t = 100)]
    pub read_rate_limit: u32,

    /// Passes never seen before that one client IP may have verified per
    /// second at a protected site's check (`GET /gate/{queue}`); the excess is
    /// refused `401 PASS_THROTTLED`. A pass already verified is not counted, so
    /// a visitor pays once per instance; 0 turns the limit off.
    #[arg(global = true, long, env = "BOXOFFICE_PASS_VERIFY_RATE_LIMIT", default_value_t = 20)]
    pub pass_verify_rate_limit: u32,

    /// Most queue requests (joins and polls, both APIs) in flight at once in this
    /// instance; the excess is answered 503 OVERLOADED at once. 0 = no bound.
    #[arg(global = true, long, env = "BOXOFFICE_MAX_INFLIGHT_QUEUE", default_value_t = 256)]
    pub max_inflight_queue: usize,

    /// Most booking requests in flight at once in this instance (a safety net:
    /// admission already bounds how many users book). 0 = no bound.
    #[arg(global = true, long, env = "BOXOFFICE_MAX_INFLIGHT_BOOKING", default_value_t = 4096)]
    pub max_inflight_booking: usize,

    /// Proxies whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated).
    ///
    /// Their `X-Forwarded-For` gives the client IP for the limits, and their
    /// connections are exempt from BOXOFFICE_MAX_CONNECTIONS_PER_IP. Empty: the
    /// client IP is the connection's peer, whatever the headers say.
    #[arg(
        global = true,
        long,
        env = "BOXOFFICE_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub trusted_proxies: Vec<String>,
}

/// What one client connection may hold, and for how long (`http/edge/connections/`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Connections")]
pub struct ConnectionsConfig {
    /// A connection must deliver a whole request head within this long.
    ///
    /// Counted from its opening, and from the first byte of each later request.
    /// Past it, the connection is closed.
    #[arg(global = true, long, env = "BOXOFFICE_HEADER_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,

    /// A keep-alive connection with no request for this long is closed.
    ///
    /// Counted from the last byte written, so an event stream that keeps
    /// writing (its keep-alives come within a third of this) stays open.
    /// Longer than a proxy's own idle timeout (60 s is common), so the proxy
    /// closes first. Also the longest a request may take to arrive and be
    /// answered.
    #[arg(global = true, long, env = "BOXOFFICE_IDLE_CONNECTION_TIMEOUT_S", default_value_t = 75,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_connection_timeout_s: u64,

    /// Most client connections this instance holds; 0 = only the open-file limit.
    ///
    /// Past it a new one is answered 503 OVERLOADED and closed at once. Lowered
    /// at start-up, with a warning, to the open-file limit less 100 and the
    /// pool's size.
    #[arg(global = true, long, env = "BOXOFFICE_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most connections from one client address (an IPv4 address, an IPv6 /64); 0 = no cap.
    ///
    /// So that one client cannot take every connection. BOXOFFICE_TRUSTED_PROXIES
    /// are exempt, since their clients share their address. Raise it where many
    /// users share one address (carrier NAT) and no proxy stands in front.
    #[arg(global = true, long, env = "BOXOFFICE_MAX_CONNECTIONS_PER_IP", default_value_t = 256)]
    pub max_connections_per_ip: usize,
}

/// Webhook deliveries (`events/webhooks/`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Webhooks")]
pub struct WebhooksConfig {
    /// How long an endpoint has to answer a delivery; a later answer is a
    /// failed attempt, retried.
    #[arg(global = true, long, env = "BOXOFFICE_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub webhook_timeout_ms: u64,

    /// The wait before a failed delivery's first retry; each next wait doubles
    /// (with a tenth of jitter), up to 8 hours.
    #[arg(global = true, long, env = "BOXOFFICE_WEBHOOK_RETRY_FIRST_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_retry_first_ms: u64,

    /// How long a failed delivery is retried: the attempt that fails this long
    /// after the delivery was owed is its last, and it is given up as failed
    /// (a day: a receiver down for less still gets everything).
    #[arg(global = true, long, env = "BOXOFFICE_WEBHOOK_RETRY_FOR_S", default_value_t = 86_400)]
    pub webhook_retry_for_s: u64,
}

/// The admission pass of protected sites (`pass/`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Pass")]
pub struct PassConfig {
    /// PEM files of the Ed25519 private keys that sign and verify admission
    /// passes (PKCS#8, as `openssl genpkey -algorithm ed25519` writes), newest
    /// first, comma-separated.
    ///
    /// The first signs; the others only verify, so a key being retired keeps
    /// its passes valid until they expire. Each key's `kid` is its RFC 7638
    /// thumbprint. Empty: a development key is made at start, so passes do not
    /// survive a restart nor verify on another instance; start-up warns loudly.
    /// Every gateway of one deployment needs the same files.
    #[arg(
        global = true,
        long,
        env = "BOXOFFICE_PASS_KEY_FILES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub pass_key_files: Vec<String>,

    /// The `iss` of every pass, and the only one a check accepts.
    #[arg(global = true, long, env = "BOXOFFICE_PASS_ISSUER", default_value = "boxoffice")]
    pub pass_issuer: String,

    /// Most passes whose signature this instance remembers having verified, so
    /// that a visitor's next requests skip Ed25519 (about 1 KB each); 0 verifies
    /// every time.
    #[arg(global = true, long, env = "BOXOFFICE_PASS_CACHE_ENTRIES", default_value_t = 100_000)]
    pub pass_cache_entries: usize,

    /// The waiting room a refused check sends visitors to (its `Location`,
    /// with `queue` and `return` added).
    ///
    /// A path when the room is served through the proxy under the protected
    /// site's own host (its cookies are then first-party); a URL for a room on
    /// a host of its own, which hands the pass back in the return address.
    #[arg(
        global = true,
        long,
        env = "BOXOFFICE_ROOM_URL",
        default_value = "/waiting-room/gate",
        hide_env_values = true
    )]
    pub room_url: String,
}

impl PassConfig {
    /// The key files named, less empty entries.
    pub(crate) fn key_files(&self) -> impl Iterator<Item = &str> {
        self.pass_key_files
            .iter()
            .map(|file| file.trim())
            .filter(|file| !file.is_empty())
    }
}

impl Config {
    /// Defaults only, ignoring the process's arguments (the environment still applies).
    pub fn from_env() -> Self {
        Config::parse_from(["boxoffice"])
    }

    pub(crate) fn uses_development_secret(&self) -> bool {
        self.token_secret == DEVELOPMENT_TOKEN_SECRET
    }
}

/// Accepts `+09:00`, `-05:30`, `+0900`, `Z` and `UTC`.
fn parse_offset(raw: &str) -> Result<FixedOffset, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("z") || raw.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0).ok_or_else(|| "bad offset".to_string());
    }
    let (sign, rest) = match raw.as_bytes().first() {
        Some(b'+') => (1, &raw[1..]),
        Some(b'-') => (-1, &raw[1..]),
        _ => return Err(format!("timezone `{raw}` must look like +09:00")),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("timezone `{raw}` must look like +09:00"));
    }
    let hours: i32 = digits[..2].parse().map_err(|_| "bad hours".to_string())?;
    let minutes: i32 = digits[2..].parse().map_err(|_| "bad minutes".to_string())?;
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
        .ok_or_else(|| format!("timezone `{raw}` is out of range"))
}

/// The configuration page rendered from the clap tree, and its test.
#[cfg(test)]
mod doc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_in_the_usual_spellings() {
        assert_eq!(parse_offset("+09:00").unwrap().local_minus_utc(), 9 * 3600);
        assert_eq!(parse_offset("-0530").unwrap().local_minus_utc(), -(5 * 3600 + 1800));
        assert_eq!(parse_offset("UTC").unwrap().local_minus_utc(), 0);
        assert!(parse_offset("Asia/Seoul").is_err());
        assert!(parse_offset("+9").is_err());
    }

    /// Settings with no default, each because "unset" means something.
    const UNSET_MEANS_SOMETHING: [&str; 7] = [
        "admin_token",
        "mode",
        "key",
        "public_key_file",
        "issuer",
        "jwks_url",
        "audience",
    ];

    #[test]
    fn every_option_of_every_command_names_its_variable_and_default() {
        use clap::CommandFactory;
        let mut root = Config::command();
        // Building propagates the settings to every subcommand's own help.
        root.build();
        let commands = std::iter::once(&root).chain(root.get_subcommands());
        let mut checked = 0;
        for command in commands {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_env().is_some(), "{} --{id} has no variable", command.get_name());
                assert!(
                    !arg.get_default_values().is_empty() || UNSET_MEANS_SOMETHING.contains(&id),
                    "{} --{id} has no default",
                    command.get_name()
                );
                checked += 1;
            }
        }
        assert!(
            checked > 100,
            "only {checked} options: are the settings missing from the subcommands?"
        );
    }

    #[test]
    fn settings_apply_before_or_after_the_command() {
        let before = Config::try_parse_from(["boxoffice", "--admit-rate", "7", "seed", "--users", "3"]).unwrap();
        let after = Config::try_parse_from(["boxoffice", "seed", "--users", "3", "--admit-rate", "7"]).unwrap();
        for config in [before, after] {
            assert_eq!(config.queue.admit_rate, 7);
            assert!(matches!(config.command, Some(Command::Seed(Seeding { users: 3, .. }))));
        }
        let served = Config::try_parse_from(["boxoffice", "serve", "--redis-prefix", "x"]).unwrap();
        assert_eq!(served.redis_prefix, "x");
        assert!(Config::try_parse_from(["boxoffice", "--adaptive-window-s", "8"]).is_err());
    }

    #[test]
    fn the_identity_audience_and_lifetime_are_settings_listed_in_help() {
        use clap::CommandFactory;
        let help = Config::command().render_long_help().to_string();
        for variable in ["BOXOFFICE_IDENTITY_AUDIENCE", "BOXOFFICE_IDENTITY_MAX_LIFETIME_S"] {
            assert!(help.contains(variable), "{variable} missing from --help");
        }
        let config = Config::try_parse_from(["boxoffice", "--identity-audience", "boxoffice"]).unwrap();
        assert_eq!(config.identity.audience.as_deref(), Some("boxoffice"));
        assert_eq!(config.identity.max_lifetime_s, 86_400, "a day by default");
        assert!(Config::try_parse_from(["boxoffice", "--identity-max-lifetime-s", "0"]).is_err());
    }

    #[test]
    fn money_settings_stay_within_the_bound_of_every_amount() {
        let largest = MAX_AMOUNT.to_string();
        let beyond = (MAX_AMOUNT + 1).to_string();
        for flag in ["--max-charge", "--max-balance"] {
            assert!(Config::try_parse_from(["boxoffice", flag, largest.as_str()]).is_ok());
            assert!(
                Config::try_parse_from(["boxoffice", flag, beyond.as_str()]).is_err(),
                "{flag}"
            );
            assert!(Config::try_parse_from(["boxoffice", flag, "0"]).is_err(), "{flag}");
        }
    }
}
