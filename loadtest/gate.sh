#!/usr/bin/env bash
# The forward-auth benchmark (issue 25): Debian's nginx in front of a static
# demo origin, three ways in one run, each driven with the passes of 10,000
# distinct admitted visitors (one Cookie a request, cycling):
#
#   plain    nginx proxying the origin alone;
#   bare     nginx with auth_request to a bare axum route answering 200
#            (examples/ceiling.rs, GET /gate/{queue}), the yardstick;
#   gated    nginx with auth_request to boxoffice's GET /gate/{queue}.
#
# bare and gated use the documented config (docs/proxies/nginx.conf) as it is,
# only its upstream differs. Reported: the closed-loop maximum of each (wrk,
# alternated RUNS times, the median), the p99 of each at half of the gated
# maximum (examples/loadgen.rs, scheduled, no coordinated omission), the CPU
# each checker spent per check (/proc, over the wrk runs), the Redis commands
# boxoffice sent per valid check (INFO commandstats over the gated runs, less
# an idle window of the same length: the background's own, reported per
# second), and the same gated run with BOXOFFICE_PASS_CACHE_ENTRIES=0, so
# every check verifies Ed25519 (a never-seen pass's cost).
#
# boxoffice gets a Redis of its own (a port of its own, so that the command
# counts are its alone) and a fresh database on the local Postgres. Loopback
# only; about three minutes after the build. Prints a markdown table.
#
#   loadtest/gate.sh
#   DURATION=5 RUNS=1 loadtest/gate.sh     # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
source loadtest/lib.sh

DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
VISITORS="${VISITORS:-10000}"
CONNECTIONS="${CONNECTIONS:-64}"
STAMP="$(date +%s)"
DB="bo_gate_${STAMP}"
QUEUE=default
ADMIN_TOKEN=gate-bench
WORK="$(mktemp -d)"
PIDS=()
BOX_PID=""
log() { echo "gate: $*" >&2; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
cleanup() {
    [[ -n "${KEEP:-}" ]] && { log "keeping ${WORK}"; cp -r "$WORK" "${KEEP}"; }
    for pid in "${PIDS[@]}" $BOX_PID; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

./scripts/services.sh >&2
[[ -x /usr/sbin/nginx ]] || { log "installing Debian's nginx-light"; apt-get install -y -qq nginx-light >/dev/null; }
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --profile dist --quiet --bin boxoffice --example loadgen --example ceiling
EX=target/dist/examples
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

REDIS_PORT="$(free_port)"
BOX_PORT="$(free_port)"
BARE_PORT="$(free_port)"
ORIGIN_PORT="$(free_port)"
PLAIN_PORT="$(free_port)"
BARE_SITE_PORT="$(free_port)"
GATED_SITE_PORT="$(free_port)"
SITE="http://127.0.0.1:${GATED_SITE_PORT}"

redis-server --port "$REDIS_PORT" --save '' --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
REDIS_URL="redis://127.0.0.1:${REDIS_PORT}"
for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

# boxoffice, admitting everyone at once: the benchmark is the check, not the line.
start_boxoffice() { # [env...]
    [[ -n "$BOX_PID" ]] && { kill "$BOX_PID"; wait "$BOX_PID" 2>/dev/null || true; }
    env DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}" REDIS_URL="$REDIS_URL" \
        BOXOFFICE_ADDR="127.0.0.1:${BOX_PORT}" BOXOFFICE_ADMIN_TOKEN="$ADMIN_TOKEN" \
        BOXOFFICE_MAX_ACTIVE=$((VISITORS * 2)) BOXOFFICE_ADMIT_RATE=$((VISITORS * 2)) BOXOFFICE_ADMIT_TICK_MS=100 \
        BOXOFFICE_JOIN_RATE_LIMIT=0 BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_MAX_CONNECTIONS_PER_IP=0 \
        BOXOFFICE_PASS_KEY_FILES="$WORK/pass.pem" BOXOFFICE_ROOM_URL=/boxoffice/waiting-room/gate \
        BOXOFFICE_TOKEN_SECRET=gate-bench RUST_LOG=warn \
        `# every visitor here comes from 127.0.0.1: no per-address limit on verifying new passes` \
        BOXOFFICE_PASS_VERIFY_RATE_LIMIT=0 "$@" \
        target/dist/boxoffice >>"$WORK/boxoffice.log" 2>&1 &
    BOX_PID=$!
    wait_ready "http://127.0.0.1:${BOX_PORT}/ready" "$WORK/boxoffice.log"
}
# One key for every start, so passes minted once stay valid across restarts.
openssl genpkey -algorithm ed25519 -out "$WORK/pass.pem" 2>/dev/null
start_boxoffice
CEILING_ADDR="127.0.0.1:${BARE_PORT}" REDIS_URL="$REDIS_URL" "$EX/ceiling" >"$WORK/ceiling.log" 2>&1 &
PIDS+=($!)
BARE_PID=$!

curl -fsS -X PATCH "http://127.0.0.1:${BOX_PORT}/admin/queues/${QUEUE}" \
    -H "Authorization: Bearer ${ADMIN_TOKEN}" -H 'Content-Type: application/json' \
    -d "{\"protect\": {\"origin\": \"${SITE}\", \"paths\": [\"/*\"], \"sessionSeconds\": 3600}}" >/dev/null

# --- nginx: the origin and three sites -------------------------------------
mkdir -p "$WORK/temp" "$WORK/www/shop"
head -c 1024 /dev/zero | tr '\0' 'x' >"$WORK/www/shop/index.html"
# nginx's workers run as an unprivileged user: the page must be theirs to read.
chmod -R a+rX "$WORK"
documented() { # listen, checker address
    sed -e "s|@LISTEN@|127.0.0.1:$1|" -e "s|@BOXOFFICE@|$2|" \
        -e "s|@ORIGIN@|127.0.0.1:${ORIGIN_PORT}|" -e "s|@QUEUE@|${QUEUE}|" docs/proxies/nginx.conf
}
documented "$GATED_SITE_PORT" "127.0.0.1:${BOX_PORT}" >"$WORK/gated.conf"
# The same file with the checker's upstream renamed, so both live in one nginx.
documented "$BARE_SITE_PORT" "127.0.0.1:${BARE_PORT}" | sed -e 's/upstream boxoffice/upstream bare/' \
    -e 's|http://boxoffice/|http://bare/|g' -e 's/upstream origin/upstream origin_bare/' \
    -e 's|http://origin;|http://origin_bare;|' >"$WORK/bare.conf"
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    # The load generators keep their connections: nginx's default (1,000
    # requests, then close) would fail a scheduled run's later requests.
    keepalive_requests 1000000;
    client_body_temp_path $WORK/temp/body;
    proxy_temp_path $WORK/temp/proxy;
    fastcgi_temp_path $WORK/temp/fastcgi;
    uwsgi_temp_path $WORK/temp/uwsgi;
    scgi_temp_path $WORK/temp/scgi;
    include $WORK/gated.conf;
    include $WORK/bare.conf;
    # The static demo origin.
    server {
        listen 127.0.0.1:${ORIGIN_PORT};
        root $WORK/www;
    }
    # The site without a check.
    upstream origin_plain {
        server 127.0.0.1:${ORIGIN_PORT};
        keepalive 64;
    }
    server {
        listen 127.0.0.1:${PLAIN_PORT};
        location / {
            proxy_pass http://origin_plain;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
        }
    }
}
NGINX
/usr/sbin/nginx -t -p "$WORK" -c "$WORK/nginx.conf" 2>"$WORK/nginx-t.log" || { cat "$WORK/nginx-t.log" >&2; exit 1; }
/usr/sbin/nginx -p "$WORK" -c "$WORK/nginx.conf" &
PIDS+=($!)
wait_ready "http://127.0.0.1:${PLAIN_PORT}/shop/index.html" "$WORK/nginx-error.log"

# --- 10,000 visitors join and are admitted; their passes -------------------
log "admitting ${VISITORS} visitors"
python3 - "http://127.0.0.1:${BOX_PORT}" "$QUEUE" "$VISITORS" >"$WORK/cookies" <<'PY'
import http.client, json, sys, time, urllib.parse
base, queue, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = urllib.parse.urlsplit(base)
conn = http.client.HTTPConnection(url.hostname, url.port)
def call(method, path, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        sys.exit(f"{method} {path}: {response.status} {body[:200]!r}")
    return json.loads(body)
tokens = [call("POST", f"/gate/{queue}/join")["token"] for _ in range(count)]
passes, deadline = {}, time.time() + 60
while len(passes) < count and time.time() < deadline:
    for token in tokens:
        if token not in passes:
            status = call("GET", f"/gate/{queue}/status", token)
            if status["status"] == "admitted":
                passes[token] = status["pass"]
    time.sleep(0.2)
if len(passes) < count:
    sys.exit(f"only {len(passes)} of {count} admitted")
for token in tokens:
    print(f"boxoffice_pass={passes[token]}")
PY
FIRST="$(head -1 "$WORK/cookies")"
for port in "$PLAIN_PORT" "$BARE_SITE_PORT" "$GATED_SITE_PORT"; do
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: ${FIRST}" "http://127.0.0.1:${port}/shop/index.html")"
    [[ "$code" == 200 ]] || { log "port ${port} answered ${code} to a valid pass"; cat "$WORK/nginx-error.log" >&2; exit 1; }
done
code="$(curl -s -o /dev/null -w '%{http_code}' "${SITE}/shop/index.html")"
[[ "$code" == 302 ]] || { log "the gated site let a request without a pass through (${code})"; exit 1; }

cat >"$WORK/cookies.lua" <<LUA
-- One visitor's pass a request, cycling; each thread from its own offset.
-- Every answer but a 200 is counted: a refused check is a 302 to the room,
-- which wrk's own error count (4xx and 5xx) would miss.
local cookies = {}
for line in io.lines("$WORK/cookies") do cookies[#cookies + 1] = line end
local threads = {}
function setup(thread) table.insert(threads, thread) end
local n = 0
bad = 0
function init(args) n = math.random(#cookies) end
function request()
  n = n % #cookies + 1
  return wrk.format("GET", "/shop/index.html", { ["Cookie"] = cookies[n] })
end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.stderr:write(string.format("non200=%d\n", total))
end
LUA

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
redis_calls() {
    redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' |
        sed -n 's/^cmdstat_[^:]*:calls=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}'
}
# wrk_run site_port: "req/s non200"
wrk_run() {
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" -s "$WORK/cookies.lua" "http://127.0.0.1:$1/shop/index.html" \
        >"$WORK/wrk.out" 2>"$WORK/wrk.err"
    echo "$(sed -n 's/^Requests\/sec: *\([0-9.]*\)/\1/p' "$WORK/wrk.out") $(sed -n 's/^non200=//p' "$WORK/wrk.err")"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# --- the closed-loop maxima, alternated ------------------------------------
declare -A RPS NON200
BARE_TICKS=0 BARE_REQS=0 GATED_TICKS=0 GATED_REQS=0 GATED_REDIS=0
for run in $(seq 1 "$RUNS"); do
    for site in plain bare gated; do
        case "$site" in plain) port=$PLAIN_PORT ;; bare) port=$BARE_SITE_PORT ;; gated) port=$GATED_SITE_PORT ;; esac
        t0=$(ticks "$BARE_PID") g0=$(ticks "$BOX_PID") r0=$(redis_calls)
        read -r rps errors < <(wrk_run "$port")
        t1=$(ticks "$BARE_PID") g1=$(ticks "$BOX_PID") r1=$(redis_calls)
        RPS[$site]="${RPS[$site]:-} $rps"
        NON200[$site]=$(( ${NON200[$site]:-0} + ${errors:-0} ))
        reqs=$(python3 -c "print(round($rps * $DURATION))")
        case "$site" in
            bare) BARE_TICKS=$((BARE_TICKS + t1 - t0)) BARE_REQS=$((BARE_REQS + reqs)) ;;
            gated) GATED_TICKS=$((GATED_TICKS + g1 - g0)) GATED_REQS=$((GATED_REQS + reqs))
                   GATED_REDIS=$((GATED_REDIS + r1 - r0)) ;;
        esac
        log "run ${run} ${site}: ${rps} req/s, ${errors:-0} non-200"
    done
done
# HOLD=seconds: leaves everything running that long, for a look from outside.
if [[ -n "${HOLD:-}" ]]; then
    log "holding: boxoffice ${BOX_PID} on ${BOX_PORT}, bare ${BARE_PID} on ${BARE_PORT}, sites plain ${PLAIN_PORT} bare ${BARE_SITE_PORT} gated ${GATED_SITE_PORT}, cookies ${WORK}/cookies"
    echo "BOX_PID=${BOX_PID} BARE_PID=${BARE_PID} PLAIN_PORT=${PLAIN_PORT} BARE_SITE_PORT=${BARE_SITE_PORT} GATED_SITE_PORT=${GATED_SITE_PORT} WORK=${WORK} BOX_PORT=${BOX_PORT}" >/tmp/gate-hold.env
    sleep "$HOLD"
fi
# PROFILE=file: a perf profile of boxoffice under one more gated run.
if [[ -n "${PROFILE:-}" ]]; then
    perf record -F 999 -g -p "$BOX_PID" -o "$PROFILE" -- sleep "$DURATION" >/dev/null 2>&1 &
    wrk_run "$GATED_SITE_PORT" >/dev/null
    wait $! || true
fi
# The background's own Redis traffic, over an idle window as long as the gated runs.
r0=$(redis_calls)
sleep $((DURATION * RUNS))
IDLE_REDIS=$(( $(redis_calls) - r0 ))

PLAIN_MAX=$(echo "${RPS[plain]}" | median)
BARE_MAX=$(echo "${RPS[bare]}" | median)
GATED_MAX=$(echo "${RPS[gated]}" | median)
HALF=$(python3 -c "print(int($GATED_MAX / 2))")

# --- p99 at half of the gated maximum ---------------------------------------
half_run() { # port
    "$EX/loadgen" --url "http://127.0.0.1:$1/shop/index.html" --rate "$HALF" --seconds "$DURATION" \
        --connections "$CONNECTIONS" --cookies "$WORK/cookies" | sed -n 's/^RESULT //p'
}
PLAIN_HALF="$(half_run "$PLAIN_PORT")"
GATED_HALF="$(half_run "$GATED_SITE_PORT")"
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }

# --- never-seen passes: no cache, every check verifies ----------------------
start_boxoffice BOXOFFICE_PASS_CACHE_ENTRIES=0
curl -fs -o /dev/null -H "Cookie: ${FIRST}" "${SITE}/shop/index.html"
g0=$(ticks "$BOX_PID")
read -r COLD_RPS COLD_ERRORS < <(wrk_run "$GATED_SITE_PORT")
g1=$(ticks "$BOX_PID")
COLD_US=$(python3 -c "print(round(($g1 - $g0) * 1e4 / ($COLD_RPS * $DURATION), 1))")

HZ=100
BARE_US=$(python3 -c "print(round($BARE_TICKS * 1e6 / $HZ / $BARE_REQS, 1))")
GATED_US=$(python3 -c "print(round($GATED_TICKS * 1e6 / $HZ / $GATED_REQS, 1))")
IDLE_PER_S=$(python3 -c "print(round($IDLE_REDIS / ($DURATION * $RUNS), 1))")
PER_CHECK=$(python3 -c "print(round(max(0, $GATED_REDIS - $IDLE_REDIS) / $GATED_REQS, 5))")
verdict() { python3 -c "print('met' if $1 else 'missed')"; }

cat <<TABLE
Gate benchmark: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), $(nproc) cores,
dist build; nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||'), one worker; wrk -t1 -c${CONNECTIONS} for ${DURATION} s, median of ${RUNS} alternated
runs; ${VISITORS} distinct visitors' passes, one a request; nginx, the origin, boxoffice, its Redis and the load
generator share the machine.

| figure | value | target | |
|---|---|---|---|
| nginx → static origin, no check | ${PLAIN_MAX} req/s (runs:${RPS[plain]}) | | |
| with auth_request to a bare axum route (200) | ${BARE_MAX} req/s (runs:${RPS[bare]}) | | |
| with auth_request to boxoffice \`GET /gate/{queue}\` | ${GATED_MAX} req/s (runs:${RPS[gated]}) = $(python3 -c "print(round($GATED_MAX / $PLAIN_MAX, 2))") × no check; non-200 ${NON200[gated]} | ≥ 0.6 × | $(verdict "$GATED_MAX >= 0.6 * $PLAIN_MAX") |
| p99 at ${HALF} req/s (half the gated maximum), no check → checked | $(field "$PLAIN_HALF" p99_ms) → $(field "$GATED_HALF" p99_ms) ms (p50 $(field "$PLAIN_HALF" p50_ms) → $(field "$GATED_HALF" p50_ms)); failed $(field "$GATED_HALF" failed) | added ≤ 1 ms | $(verdict "$(field "$GATED_HALF" p99_ms) - $(field "$PLAIN_HALF" p99_ms) <= 1") |
| CPU per check: boxoffice vs the bare axum route | ${GATED_US} µs vs ${BARE_US} µs = $(python3 -c "print(round($GATED_US / $BARE_US, 2))") × | ≤ 1.2 × | $(verdict "$GATED_US <= 1.2 * $BARE_US") |
| Redis commands per valid check | ${PER_CHECK} (${GATED_REDIS} during ${GATED_REQS} checks; the background alone sends ${IDLE_PER_S}/s) | 0 | $(verdict "$PER_CHECK < 0.001") |
| a never-seen pass (cache off: Ed25519 on every check) | ${COLD_RPS} req/s, ${COLD_US} µs of boxoffice CPU per check (non-200 ${COLD_ERRORS:-0}) | reported | |
TABLE
