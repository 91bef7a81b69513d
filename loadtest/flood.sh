#!/usr/bin/env bash
# The join flood: 2,000 connections posting joins back to back for DURATION
# seconds, against a dist build with the queue's in-flight bound at its
# default and, for comparison, with no bound (BOXOFFICE_MAX_INFLIGHT_QUEUE=0).
# Reports the p99 of the requests served and the share shed, from
# examples/loadgen.rs --closed. Loopback only; takes about a minute.
#
#   loadtest/flood.sh                 # both runs, a markdown table on stdout
#   CONNECTIONS=4000 DURATION=20 loadtest/flood.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS="${CONNECTIONS:-2000}"
DURATION="${DURATION:-15}"
PORT="${PORT:-18400}"
STAMP="$(date +%s)"
DB="bo_flood_${STAMP}"
PREFIX="flood${STAMP}"
WORK="$(mktemp -d)"
SERVER_PID=""
log() { echo "flood: $*" >&2; }
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    redis-cli --scan --pattern "{${PREFIX}:*" | xargs -r -n 1000 redis-cli del >/dev/null 2>&1 || true
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${DB} WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

./scripts/services.sh >&2
cargo build --profile dist --quiet --bin boxoffice --example loadgen
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/${DB}" BOXOFFICE_REDIS_PREFIX="$PREFIX" \
    BOXOFFICE_TOKEN_SECRET=flood RUST_LOG=warn
# Every simulated client comes from 127.0.0.1: no per-address connection cap.
export BOXOFFICE_MAX_CONNECTIONS_PER_IP=0
target/dist/boxoffice seed --users 99000 >&2

# run <label> [server env...]: writes the RESULT json to $WORK/result. Not
# called in a $(subshell), so that SERVER_PID stays this shell's to stop.
run() {
    local label=$1
    shift
    [[ -n "$SERVER_PID" ]] && { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; }
    env BOXOFFICE_ADDR="127.0.0.1:${PORT}" BOXOFFICE_SCHEDULER=false BOXOFFICE_JOIN_RATE_LIMIT=0 \
        BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_DEFAULT_QUEUE="flood-${label}" "$@" \
        target/dist/boxoffice >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:${PORT}/ready" >/dev/null 2>&1 && break; sleep 0.2; done
    kill -0 "$SERVER_PID" || { cat "$WORK/server.log" >&2; exit 1; }
    target/dist/examples/loadgen --closed --connections "$CONNECTIONS" --seconds "$DURATION" \
        --method POST --users 1..100000 --url "http://127.0.0.1:${PORT}/api/waiting-queue" |
        sed -n 's/^RESULT //p' >"$WORK/result"
    # Anything the server had to say under the flood (a warning here is a finding).
    grep -v "BOXOFFICE_IDENTITY\|BOXOFFICE_TOKEN_SECRET" "$WORK/server.log" | tail -3 >&2 || true
}

# BOUNDS: the in-flight bounds to try; "default" leaves the server's own, 0 is none.
RESULTS=()
for bound in ${BOUNDS:-default 0}; do
    log "queue in-flight bound: ${bound}"
    if [[ "$bound" == default ]]; then
        run "b${bound}"
    else
        run "b${bound}" BOXOFFICE_MAX_INFLIGHT_QUEUE="$bound"
    fi
    RESULTS+=("${bound} $(cat "$WORK/result")")
done
python3 - "$CONNECTIONS" "$DURATION" "${RESULTS[@]}" <<'PY'
import json, sys
print(f"Join flood: {sys.argv[1]} connections, closed loop, {sys.argv[2]} s each (examples/loadgen.rs --closed).")
print()
print("| queue in-flight bound | served/s | served p50 | served p99 | served max | shed | shed p99 | failed |")
print("|---|---|---|---|---|---|---|---|")
for entry in sys.argv[3:]:
    bound, result = entry.split(" ", 1)
    r = json.loads(result)
    name = {"default": "default", "0": "none"}.get(bound, bound)
    print(f"| {name} | {r['served_rps']} | {r['p50_ms']} ms | {r['p99_ms']} ms | {r['max_ms']} ms | {r['shed_rate']*100:.1f} % | {r['shed_p99_ms']} ms | {r['failed']} |")
PY
