#!/usr/bin/env bash
# What the proof of work at the door costs the server, and what it costs a bot
# and a fan (issue 26; docs/queue.md, The challenge):
#
#  1. Join throughput with the challenge on (every join carrying a distinct
#     valid solution) against the same joins with it off, rounds alternated
#     on one gateway and one queue (wrk, 64 connections; distinct new users
#     each round): req/s, the gateway's CPU per join, refusals. A third run
#     sends the same payloads with the challenge off (the header is not read),
#     so the load generator and the kernel carry the same bytes as with it on:
#     on against that is what checking and taking solutions cost. Checking a
#     solution derives no key, so the solutions are made at complexity 2: the
#     server's work is the same at any complexity.
#  2. Issuing: challenges a second through HTTP (wrk on
#     GET /queues/{queue}/challenge), and by one core in process.
#  3. Checking a solution in process, µs.
#  4. A bot's cost: solves at the default complexity in Rust on one core
#     (the altcha crate's solver, a tight loop), and the joins a second that
#     core buys, against the joins a second the server takes without a challenge.
#  5. A fan's cost: solves in real Chromium through the page's widget
#     (loadtest/challenge_solve.mjs), median and p90 over SOLVES.
#
#   loadtest/challenge.sh                               # 3 rounds of 5 s, 20 browser solves
#   ROUNDS=1 DURATION=3 SOLVES=3 loadtest/challenge.sh
#   RESULTS=loadtest/RESULTS.md loadtest/challenge.sh   # table between "challenge:start" / "challenge:end"
#
# Loopback only; everything it starts (server, database, keys) is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtest/lib.sh
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
SOLVES="${SOLVES:-20}"
COMPLEXITY="${COMPLEXITY:-}"
PER_ROUND=320000
STAMP="$(date +%s)"
PREFIX="ch${STAMP}"
DB="bo_ch_${STAMP}"
PORT=18391
ADMIN=challenge-bench-admin
WORK="$(mktemp -d)"
BIN="${BIN:-target/dist/boxoffice}"
EX="${EX:-target/dist/examples}"
PID=""
log() { echo "challenge: $*" >&2; }

cleanup() {
    [[ -n "$PID" ]] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
    redis-cli --scan --pattern "{${PREFIX}:*" | xargs -r -n 1000 redis-cli del >/dev/null 2>&1 || true
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

./scripts/services.sh >&2
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
if [[ -z "${SKIP_BUILD:-}" ]]; then
    log "building the dist profile (fat LTO, as deployed)"
    cargo build --profile dist --quiet --bin boxoffice --example challenge_bench
fi

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}" REDIS_URL="redis://127.0.0.1:6379"
export BOXOFFICE_REDIS_PREFIX="$PREFIX" BOXOFFICE_TOKEN_SECRET="challenge-secret" RUST_LOG=warn
export BOXOFFICE_MAX_CONNECTIONS_PER_IP=0
USERS=$((ROUNDS * 3 * PER_ROUND + 1000))
log "seeding ${USERS} users"
"$BIN" seed --users "$USERS" >/dev/null 2>&1
env BOXOFFICE_ADDR="127.0.0.1:${PORT}" BOXOFFICE_SCHEDULER=false BOXOFFICE_ADMIN_TOKEN="$ADMIN" \
    BOXOFFICE_JOIN_RATE_LIMIT=0 BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_READ_RATE_LIMIT=0 \
    BOXOFFICE_IDLE_TIMEOUT_S=3600 "$BIN" >"$WORK/server.log" 2>&1 &
PID=$!
wait_ready "http://127.0.0.1:${PORT}/ready" "$WORK/server.log"
URL="http://127.0.0.1:${PORT}"
QUEUE="$(curl -fs -H "Authorization: Bearer $ADMIN" "$URL/admin/queues" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["name"])')"
DEFAULT_COMPLEXITY="$(curl -fs -X PATCH -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    -d '{"challenge":{"kind":"altcha"}}' "$URL/admin/queues/$QUEUE" | python3 -c 'import json,sys; print(json.load(sys.stdin)["challenge"]["complexity"])')"
COMPLEXITY="${COMPLEXITY:-$DEFAULT_COMPLEXITY}"

challenge() { # complexity, or null
    local body='{"challenge":null}'
    [[ "$1" != null ]] && body="{\"challenge\":{\"kind\":\"altcha\",\"complexity\":$1}}"
    curl -fs -o /dev/null -X PATCH -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
        -d "$body" "$URL/admin/queues/$QUEUE"
}
process_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.6f", ($14 + $15) / hz }' "/proc/$1/stat"; }
# run <script> [env...]: prints {"rps", "non2xx", "serverUs"} for one wrk run at URL
run() {
    local script=$1
    shift
    local before after
    before=$(process_cpu "$PID")
    env "$@" wrk -t2 -c64 -d"${DURATION}s" -s "$script" "$URL" >"$WORK/wrk.out"
    after=$(process_cpu "$PID")
    python3 - "$WORK/wrk.out" "$before" "$after" <<'PY'
import json, re, sys
out = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
total = int(re.search(r"(\d+) requests in", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
cpu = float(sys.argv[3]) - float(sys.argv[2])
print(json.dumps({"rps": rps, "non2xx": int(bad.group(1)) if bad else 0, "serverUs": cpu * 1e6 / max(total, 1)}))
PY
}

: >"$WORK/off" && : >"$WORK/on" && : >"$WORK/offh"
for round in $(seq 1 "$ROUNDS"); do
    off_first=$(((round - 1) * 3 * PER_ROUND + 1))
    on_first=$((off_first + PER_ROUND))
    offh_first=$((on_first + PER_ROUND))
    log "round ${round}: ${PER_ROUND} solutions, then joins with the challenge off and on"
    "$EX/challenge_bench" payloads --queue "$QUEUE" --complexity 2 --count "$PER_ROUND" --out "$WORK/payloads" >/dev/null
    challenge null
    run loadtest/wrk/join.lua FIRST_USER="$off_first" LAST_USER=$((on_first - 1)) THREADS=2 >>"$WORK/off"
    challenge 2
    run loadtest/wrk/join_altcha.lua FIRST_USER="$on_first" PAYLOADS="$WORK/payloads" THREADS=2 >>"$WORK/on"
    challenge null
    run loadtest/wrk/join_altcha.lua FIRST_USER="$offh_first" PAYLOADS="$WORK/payloads" THREADS=2 >>"$WORK/offh"
done

log "issuing through HTTP and in process; checking; a bot's solves at complexity ${COMPLEXITY}"
challenge "$COMPLEXITY"
cat >"$WORK/issue.lua" <<LUA
request = function() return wrk.format("GET", "/queues/${QUEUE}/challenge") end
LUA
run "$WORK/issue.lua" >"$WORK/issue-http"
"$EX/challenge_bench" issue --queue "$QUEUE" --complexity "$COMPLEXITY" --seconds "$DURATION" | sed -n 's/^RESULT //p' >"$WORK/issue"
"$EX/challenge_bench" check --queue "$QUEUE" | sed -n 's/^RESULT //p' >"$WORK/check"
"$EX/challenge_bench" bot --queue "$QUEUE" --complexity "$COMPLEXITY" --solves "$SOLVES" | sed -n 's/^RESULT //p' >"$WORK/bot"

log "a fan's solves in Chromium at complexity ${COMPLEXITY}"
if [[ -f loadtest/challenge_solve.mjs ]]; then
    (cd tests/browser && { [[ -d node_modules/playwright-core ]] || npm ci --no-audit --no-fund --loglevel=error >&2; })
    BASE_URL="$URL" QUEUE="$QUEUE" SOLVES="$SOLVES" COMPLEXITY="$COMPLEXITY" ADMIN_TOKEN="$ADMIN" \
        node loadtest/challenge_solve.mjs | tail -1 >"$WORK/browser" || echo '{}' >"$WORK/browser"
else
    echo '{}' >"$WORK/browser"
fi

python3 - "$WORK" "$COMPLEXITY" "$(nproc)" "$(git rev-parse --short HEAD)" >"$WORK/table.md" <<'PY'
import json, statistics, sys
work, complexity, cores, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = lambda name: [json.loads(line) for line in open(f"{work}/{name}") if line.strip()]
one = lambda name: json.loads(open(f"{work}/{name}").read() or "{}")
off, on, offh = rows("off"), rows("on"), rows("offh")
median = lambda runs, key: statistics.median(run[key] for run in runs)
ratio = median(on, "rps") / median(off, "rps")
issue_http, issue, check, bot, browser = one("issue-http"), one("issue"), one("check"), one("bot"), one("browser")
mark = lambda ok: "met" if ok else "missed"
print(f"Commit {commit}, {cores} cores, {len(off)} rounds alternated; default complexity {complexity}.\n")
print("| figure | value | target |")
print("|---|---|---|")
print(f"| joins/s, challenge off (median) | {median(off, 'rps'):,.0f} ({median(off, 'serverUs'):.1f} µs gateway CPU each) | |")
print(f"| joins/s, challenge on, distinct valid solutions (median) | {median(on, 'rps'):,.0f} ({median(on, 'serverUs'):.1f} µs each) | |")
print(f"| joins/s, challenge off, the same payloads sent and not read (median) | {median(offh, 'rps'):,.0f} ({median(offh, 'serverUs'):.1f} µs each) | |")
print(f"| on / off | {ratio:.3f} × | ≥ 0.9 × {mark(ratio >= 0.9)} |")
same = median(on, "rps") / median(offh, "rps")
print(f"| on / off with the same bytes sent (what checking and taking cost) | {same:.3f} × | |")
print(f"| gateway CPU a join, on / off | {median(on, 'serverUs') / median(off, 'serverUs'):.2f} × | |")
print(f"| refused joins (non-2xx), off / on / off with payloads | {sum(r['non2xx'] for r in off)} / {sum(r['non2xx'] for r in on)} / {sum(r['non2xx'] for r in offh)} | 0 |")
print(f"| challenges issued/s through HTTP (2 cores shared with wrk) | {issue_http.get('rps', 0):,.0f} | |")
print(f"| challenges issued/s by one core in process | {issue.get('issuedPerSecond', 0):,.0f} ({issue.get('usEach', 0):.1f} µs each) | ≥ 50,000 {mark(issue.get('issuedPerSecond', 0) >= 50000)} |")
print(f"| checking a solution in process | {check.get('usEach', 0):.1f} µs | |")
bot_rate = bot.get("joinsPerSecondPerCore", 0)
print(f"| a bot's solve in Rust, one core (median / p90) | {bot.get('medianS', 0):.3f} / {bot.get('p90S', 0):.3f} s | |")
print(f"| joins/s one bot core buys, challenge on | {bot_rate:.2f} | |")
if bot_rate:
    print(f"| joins/s taken without a challenge ÷ bot core's joins/s with it | {median(off, 'rps') / bot_rate:,.0f} × | reported |")
if browser:
    print(f"| Chromium widget solve, {browser.get('solves', '?')} solves (median / p90) | {browser.get('medianMs', 0)/1000:.2f} / {browser.get('p90Ms', 0)/1000:.2f} s | median 0.5-2 s {mark(500 <= browser.get('medianMs', 0) <= 2000)} |")
PY
cat "$WORK/table.md"
if [[ -n "${RESULTS:-}" ]]; then
    python3 loadtest/write_table.py "$RESULTS" "$WORK/table.md" challenge
fi
