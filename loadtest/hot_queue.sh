#!/usr/bin/env bash
# One hot queue on one Redis core. Every key of a queue carries the queue's
# hash tag, so however many shards and gateways there are, one concert's line
# is served by one Redis thread: its CPU time per request is the ceiling of the
# biggest sale. This measures it.
#
#  1. Redis CPU per request (`INFO cpu`, user + sys, divided by the requests
#     wrk completed in the same window) for a position poll, a join of a new
#     user, and the ceiling route (axum + one bare ZRANK), rounds alternated,
#     one gateway, wrk 64 connections. Also each route's req/s, the gateway's
#     own CPU per request, and the mean batch (joins and polls per script run,
#     from /metrics). A poll round with BOXOFFICE_QUEUE_BATCH_MAX=1 (every call
#     alone, as before coalescing) shows what coalescing buys.
#  2. Low load: polls at 1,000/s, open loop (loadgen), coalesced and alone,
#     alternated: what coalescing costs a request that arrives alone.
#  3. Three gateway processes polling one queue together (wrk 3 x 22
#     connections): polls/s, how busy the Redis thread was, how busy the
#     machine was, so the report can say which saturated first.
#  4. Redis as the bottleneck: two driver processes poll the queue through the
#     real queue code with no HTTP in the way (queue_bench saturate, 2048 tasks
#     each), with the batch capped at 1 (every call alone), 64 (the default)
#     and 256: polls/s, Redis CPU per poll, how busy Redis's thread was, the
#     mean batch; then joins of new users the same way, batches capped at 64.
#     On this machine HTTP costs the gateway about six times what a poll costs
#     Redis, so only this way does one Redis core get near its limit.
#  5. The projection: polls/s one Redis core sustains for one queue at the cost
#     measured with Redis as the bottleneck, and how many waiting fans that
#     serves at a flat 5 s poll and at the suggested poll intervals
#     (src/queue/pacing.rs).
#
#   loadtest/hot_queue.sh                              # 3 rounds of 10 s
#   ROUNDS=1 DURATION=5 loadtest/hot_queue.sh
#   RESULTS=loadtest/RESULTS.md loadtest/hot_queue.sh  # table between "hot:start" / "hot:end"
#
# bench.sh runs it as its "hot queue" section. Loopback only; everything it
# starts (servers, database, keys) is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtest/lib.sh
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS=64
WAITING=100000
STAMP="$(date +%s)"
PREFIX="hot${STAMP}"
DB="bo_hot_${STAMP}"
PORTS=(18381 18382 18383)
CEILING_PORT=18389
WORK="$(mktemp -d)"
BIN="${BIN:-target/dist/boxoffice}"
EX="${EX:-target/dist/examples}"
PIDS=()
log() { echo "hot queue: $*" >&2; }

stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait "${PIDS[@]}" 2>/dev/null || true
    PIDS=()
}
cleanup() {
    stop_all
    redis-cli --scan --pattern "{${PREFIX}:*" | xargs -r -n 1000 redis-cli del >/dev/null 2>&1 || true
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

./scripts/services.sh >&2
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [[ -z "${SKIP_BUILD:-}" ]]; then
    log "building the dist profile (fat LTO, as deployed)"
    cargo build --profile dist --quiet --bin boxoffice --example queue_bench --example ceiling --example loadgen
fi

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}" REDIS_URL="redis://127.0.0.1:6379"
export BOXOFFICE_REDIS_PREFIX="$PREFIX" BOXOFFICE_TOKEN_SECRET="hot-secret" RUST_LOG=warn
# Every simulated client comes from 127.0.0.1: no per-address connection cap.
export BOXOFFICE_MAX_CONNECTIONS_PER_IP=0
log "seeding 1,000,000 users; ${WAITING} waiting in queue hot"
"$BIN" seed --users 999000 >/dev/null 2>&1
BOXOFFICE_DEFAULT_QUEUE=hot "$EX/queue_bench" fill --queue hot --users "1..${WAITING}" >&2

start_gateways() { # queue count [env...]
    stop_all
    local queue=$1 count=$2
    shift 2
    for i in $(seq 0 $((count - 1))); do
        env "$@" BOXOFFICE_ADDR="127.0.0.1:${PORTS[$i]}" BOXOFFICE_SCHEDULER=false \
            BOXOFFICE_JOIN_RATE_LIMIT=0 BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_READ_RATE_LIMIT=0 \
            BOXOFFICE_IDLE_TIMEOUT_S=3600 BOXOFFICE_DEFAULT_QUEUE="$queue" \
            "$BIN" >"$WORK/server-$i.log" 2>&1 &
        PIDS+=($!)
    done
    for i in $(seq 0 $((count - 1))); do
        wait_ready "http://127.0.0.1:${PORTS[$i]}/ready" "$WORK/server-$i.log" || return 1
    done
}
start_ceiling() {
    stop_all
    CEILING_ADDR="127.0.0.1:${CEILING_PORT}" CEILING_KEY="{${PREFIX}:q:hot}:waiting" "$EX/ceiling" >"$WORK/ceiling.log" 2>&1 &
    PIDS+=($!)
    wait_ready "http://127.0.0.1:${CEILING_PORT}/position" "$WORK/ceiling.log" -H 'user-id: 1'
}

redis_cpu() { redis-cli info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.6f", s }'; }
machine_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
process_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.6f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# "script runs, joins and polls they carried" so far, over every queue of one gateway.
batch_counts() {
    curl -fs "http://127.0.0.1:$1/metrics" | awk '
        /^boxoffice_queue_standing_calls_total/ { calls += $2 }
        /^boxoffice_queue_standing_entries_total/ { entries += $2 }
        END { printf "%d %d", calls, entries }'
}

# measure <script> <url> <pid> <gateway port, or - for the ceiling> [env...]:
# prints "req/s redis_us/request server_us/request mean_batch"
measure() {
    local script=$1 url=$2 pid=$3 port=$4
    shift 4
    local batches_before="0 0" batches_after="0 0"
    [[ "$port" != - ]] && batches_before=$(batch_counts "$port")
    local redis_before server_before
    redis_before=$(redis_cpu)
    server_before=$(process_cpu "$pid")
    env "$@" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$script" "$url" >"$WORK/wrk.out"
    local redis_after server_after
    redis_after=$(redis_cpu)
    server_after=$(process_cpu "$pid")
    [[ "$port" != - ]] && batches_after=$(batch_counts "$port")
    python3 loadtest/hot_queue_report.py measured "$WORK/wrk.out" "$redis_before" "$redis_after" \
        "$server_before" "$server_after" "$batches_before" "$batches_after"
}

# low <port>: polls at 1,000/s, open loop: prints "p50_ms p99_ms"
low() {
    "$EX/loadgen" --url "http://127.0.0.1:$1/api/waiting-queue/position" --rate 1000 \
        --seconds "$DURATION" --users "1..${WAITING}" | sed -n 's/^RESULT //p' >"$WORK/low.json"
    python3 loadtest/hot_queue_report.py low "$WORK/low.json"
}

: >"$WORK/poll" && : >"$WORK/alone" && : >"$WORK/ceiling" && : >"$WORK/join"
for round in $(seq 1 "$ROUNDS"); do
    log "round ${round}: poll, poll with every call alone, ceiling, join"
    start_gateways hot 1
    measure loadtest/wrk/poll.lua "http://127.0.0.1:${PORTS[0]}" "${PIDS[0]}" "${PORTS[0]}" \
        FIRST_USER=1 LAST_USER=$WAITING >>"$WORK/poll"
    start_gateways hot 1 BOXOFFICE_QUEUE_BATCH_MAX=1
    measure loadtest/wrk/poll.lua "http://127.0.0.1:${PORTS[0]}" "${PIDS[0]}" "${PORTS[0]}" \
        FIRST_USER=1 LAST_USER=$WAITING >>"$WORK/alone"
    start_ceiling
    measure loadtest/wrk/poll.lua "http://127.0.0.1:${CEILING_PORT}" "${PIDS[0]}" - \
        FIRST_USER=1 LAST_USER=$WAITING PATH_TO_POLL=/position >>"$WORK/ceiling"
    # A queue of its own per round, so every join is a new place.
    start_gateways "join${round}" 1
    measure loadtest/wrk/join.lua "http://127.0.0.1:${PORTS[0]}" "${PIDS[0]}" "${PORTS[0]}" \
        FIRST_USER=$((WAITING + 1)) LAST_USER=1000000 THREADS=2 >>"$WORK/join"
done

log "1,000 polls/s, open loop: coalesced and alone, alternated"
: >"$WORK/low" && : >"$WORK/low-alone"
for _ in $(seq 1 "$ROUNDS"); do
    start_gateways hot 1
    low "${PORTS[0]}" >>"$WORK/low"
    start_gateways hot 1 BOXOFFICE_QUEUE_BATCH_MAX=1
    low "${PORTS[0]}" >>"$WORK/low-alone"
done

log "three gateways polling one queue"
start_gateways hot 3
for i in 0 1 2; do batch_counts "${PORTS[$i]}"; echo; done >"$WORK/three-batches-before"
redis_before=$(redis_cpu)
read -r busy_before total_before < <(machine_busy)
started=$(date +%s.%N)
LOADS=()
for i in 0 1 2; do
    FIRST_USER=1 LAST_USER=$WAITING wrk -t1 -c22 -d"${DURATION}s" -s loadtest/wrk/poll.lua \
        "http://127.0.0.1:${PORTS[$i]}" >"$WORK/three-$i.out" &
    LOADS+=($!)
done
wait "${LOADS[@]}"
ended=$(date +%s.%N)
redis_after=$(redis_cpu)
read -r busy_after total_after < <(machine_busy)
for i in 0 1 2; do batch_counts "${PORTS[$i]}"; echo; done >"$WORK/three-batches-after"
stop_all
echo "$redis_before $redis_after $started $ended $busy_before $total_before $busy_after $total_after" >"$WORK/three"

# saturate <cap>: two drivers at once; prints "polls/s redis_us/poll redis_busy mean_batch"
evalsha_calls() { redis-cli info commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\).*/\1/p'; }
saturate() { # cap [--join]
    local redis_before evals_before started ended drivers=() queue=hot users seconds=$DURATION
    redis_before=$(redis_cpu)
    evals_before=$(evalsha_calls)
    started=$(date +%s.%N)
    for i in 0 1; do
        users="1..${WAITING}"
        # Joins: a queue of their own, and new users, half the range each.
        # 4 s, so that neither runs out of new users (about 90k joins/s each here).
        [[ "${2:-}" == --join ]] && queue=jsat && seconds=4 &&
            users="$((WAITING + 1 + i * 450000))..$((WAITING + (i + 1) * 450000))"
        BOXOFFICE_QUEUE_BATCH_MAX=$1 BOXOFFICE_IDLE_TIMEOUT_S=3600 "$EX/queue_bench" saturate --queue "$queue" \
            --users "$users" --tasks 2048 --seconds "$seconds" ${2:-} >"$WORK/saturate-$i.out" &
        drivers+=($!)
    done
    wait "${drivers[@]}"
    ended=$(date +%s.%N)
    python3 loadtest/hot_queue_report.py saturated "$WORK" "$redis_before" "$(redis_cpu)" \
        "$evals_before" "$(evalsha_calls)" "$started" "$ended"
}
log "Redis as the bottleneck: two drivers without HTTP, batches capped at 1, 64 and 256; joins at 64"
: >"$WORK/saturate"
for cap in 1 64 256; do
    result=$(saturate "$cap")
    echo "$cap $result" >>"$WORK/saturate"
done
result=$(saturate 64 --join)
echo "$result" >"$WORK/saturate-join"

COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src lua Cargo.toml || echo "+dirty")"
python3 loadtest/hot_queue_report.py table "$WORK" "$COMMIT" "$(nproc)" "$ROUNDS" "$DURATION" >"$WORK/table.md"
cat "$WORK/table.md"
if [[ -n "${RESULTS:-}" ]]; then
    python3 loadtest/write_table.py "$RESULTS" "$WORK/table.md" hot
    log "wrote the table into ${RESULTS}"
fi
