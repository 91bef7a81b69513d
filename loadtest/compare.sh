#!/usr/bin/env bash
# A/B of the queue's hot paths: builds another commit (the one before a change,
# say) beside this checkout and measures position polls and joins of both,
# alternating runs so that a slow minute on a shared machine falls on both
# alike. Prints a table; with RESULTS=path it also writes the table into that
# file between the "compare:<A>:start" and "compare:<A>:end" markers (A: the
# other commit), so each baseline keeps a table of its own.
#
#   loadtest/compare.sh 6ff1f24            # that commit (A) against this checkout (B)
#   ROUNDS=5 DURATION=10 loadtest/compare.sh HEAD~3
#
# Each binary gets its own database (migrations differ between commits) and
# Redis key prefix; both databases hold the same 1,000,000 users. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_REV="${1:?usage: loadtest/compare.sh REV}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS=64
PORT_A="${PORT_A:-18310}"
PORT_B="${PORT_B:-18311}"
STAMP="$(date +%s)"
WORK="$(mktemp -d)"
# The base commit's tree and build stay under target/ between runs, so a
# second comparison against the same commit does not build it again (cargo
# tells builds apart by the tree's path).
TREE="$PWD/target/compare-base-tree"
BASE_TARGET="$PWD/target/compare-base"

log() { echo "compare: $*" >&2; }
SERVER_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    for side in a b; do
        redis-cli --scan --pattern "{cmp${side}${STAMP}:*" | xargs -r -n 1000 redis-cli del >/dev/null 2>&1 || true
        psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS bo_cmp_${side}_${STAMP} WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

./scripts/services.sh >&2
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

BASE_SHA="$(git rev-parse --short "$BASE_REV")"
HEAD_SHA="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src lua Cargo.toml || echo "+dirty")"
log "building A = ${BASE_SHA} (in a worktree) and B = ${HEAD_SHA} (this checkout)"
if [[ "$(git -C "$TREE" rev-parse --short HEAD 2>/dev/null)" != "$BASE_SHA" ]]; then
    git worktree remove --force "$TREE" >/dev/null 2>&1 || rm -rf "$TREE"
    git worktree prune
    git worktree add --detach "$TREE" "$BASE_SHA" >/dev/null 2>&1
fi
# Both sides built as deployed: the dist profile (fat LTO, one codegen unit),
# or release for a commit from before dist existed (release was that then).
BASE_PROFILE=release
grep -q '^\[profile.dist\]' "$TREE/Cargo.toml" && BASE_PROFILE=dist
(cd "$TREE" && CARGO_TARGET_DIR="$BASE_TARGET" cargo build --profile "$BASE_PROFILE" --quiet --bin boxoffice)
cargo build --profile dist --quiet --bin boxoffice --example queue_bench
BIN_A="$BASE_TARGET/$BASE_PROFILE/boxoffice"
BIN_B="target/dist/boxoffice"

env_of() { # side -> environment of that side's binary
    echo "DATABASE_URL=postgres://postgres@127.0.0.1:5432/bo_cmp_$1_${STAMP} BOXOFFICE_REDIS_PREFIX=cmp$1${STAMP}"
}
bin_of() { [[ $1 == a ]] && echo "$BIN_A" || echo "$BIN_B"; }
port_of() { [[ $1 == a ]] && echo "$PORT_A" || echo "$PORT_B"; }

export REDIS_URL="redis://127.0.0.1:6379" BOXOFFICE_TOKEN_SECRET="compare-secret" RUST_LOG=warn
# Every simulated client comes from 127.0.0.1: no per-address connection cap.
export BOXOFFICE_MAX_CONNECTIONS_PER_IP=0
for side in a b; do
    log "seeding 1,000,000 users for ${side}"
    env $(env_of $side) "$(bin_of $side)" seed --users 999000 >&2
    # The per-user record is the same in both commits (12 bytes in a 32-user bucket).
    env $(env_of $side) target/dist/examples/queue_bench fill --queue poll --users 1..100000 >&2
done

start() { # side queue
    [[ -n "$SERVER_PID" ]] && { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    env $(env_of "$1") BOXOFFICE_ADDR="127.0.0.1:$(port_of "$1")" BOXOFFICE_SCHEDULER=false \
        BOXOFFICE_JOIN_RATE_LIMIT=0 BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_READ_RATE_LIMIT=0 BOXOFFICE_IDLE_TIMEOUT_S=3600 BOXOFFICE_DEFAULT_QUEUE="$2" \
        "$(bin_of "$1")" >"$WORK/server-$1.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 150); do
        curl -fs "http://127.0.0.1:$(port_of "$1")/ready" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    cat "$WORK/server-$1.log" >&2
    return 1
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }

# rps <script> <side> [env...]: prints "req/s/server_us/redis_us": requests per
# second, the server's CPU time per request (from /proc), and Redis's own time
# per call of its Lua (INFO commandstats) during the run: FCALL of the
# library, or EVALSHA of the scripts of a commit from before it, so the two
# sides compare whichever each sends.
lua_usec() {
    redis-cli info commandstats | tr -d '\r' | awk -F'[:,=]' '
        /^cmdstat_(fcall|evalsha):/ {
            for (i = 2; i < NF; i += 2) {
                if ($i == "usec") usec += $(i + 1)
            }
        }
        END { printf "%d", usec }'
}

rps() {
    local script=$1 side=$2
    shift 2
    redis-cli config resetstat >/dev/null
    local before rate after usec requests
    before=$(cpu_ticks)
    env "$@" wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" -s "$script" "http://127.0.0.1:$(port_of "$side")" >"$WORK/wrk.out"
    after=$(cpu_ticks)
    rate=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$WORK/wrk.out")
    requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk.out")
    # Redis's time per request, not per call: a call carries a batch whose
    # size grows with the load, so per call would reward the slower side.
    usec=$(lua_usec)
    echo "${rate}/$(python3 -c "print(f'{($after - $before) * 1e6 / $(getconf CLK_TCK) / $requests:.1f}/{${usec:-0} / $requests:.2f}')")"
}

declare -A RUNS
for round in $(seq 1 "$ROUNDS"); do
    # Alternate which side goes first, so neither always gets the warmer minute.
    sides="a b"; (( round % 2 == 0 )) && sides="b a"
    for side in $sides; do
        start "$side" poll
        RUNS[poll_$side]+="$(rps loadtest/wrk/poll.lua "$side" FIRST_USER=1 LAST_USER=100000) "
        # Every join run starts an empty queue of its own, so each request is a new place.
        start "$side" "join${round}"
        RUNS[join_$side]+="$(rps loadtest/wrk/join.lua "$side" FIRST_USER=100001 LAST_USER=1000000 THREADS=2) "
        log "round ${round} ${side}: poll, join (req/s / server CPU µs per request / Redis µs per request in Lua): ${RUNS[poll_$side]} | ${RUNS[join_$side]}"
    done
done

# The median of field $1 (1 req/s, 3 Redis µs per request) of the runs on stdin.
median() { tr ' ' '\n' | grep -v '^$' | cut -d/ -f"${1:-1}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
TABLE="$WORK/table.md"
{
    echo "A/B run: $(date -u +%Y-%m-%dT%H:%M:%SZ), A = \`${BASE_SHA}\`, B = \`${HEAD_SHA}\`, $(nproc) cores, wrk ${CONNECTIONS} connections, ${DURATION} s per run, ${ROUNDS} rounds alternating A and B (runs listed in order)."
    echo
    echo "| route | A \`${BASE_SHA}\`: median req/s; runs as req/s / server CPU µs per request / Redis µs per request inside Lua (FCALL or EVALSHA) | B \`${HEAD_SHA}\`: the same | B / A req/s | B / A Redis µs per request (medians) |"
    echo "|---|---|---|---|---|"
    for route in poll join; do
        a=$(echo "${RUNS[${route}_a]}" | median 1)
        b=$(echo "${RUNS[${route}_b]}" | median 1)
        ra=$(echo "${RUNS[${route}_a]}" | median 3)
        rb=$(echo "${RUNS[${route}_b]}" | median 3)
        echo "| ${route} | ${a} req/s; ${RUNS[${route}_a]% } | ${b} req/s; ${RUNS[${route}_b]% } | $(python3 -c "print(f'{$b / $a:.3f}')") | $(python3 -c "print(f'{$rb / $ra:.3f} ({$ra} → {$rb})')") |"
    done
} >"$TABLE"
cat "$TABLE"
if [[ -n "${RESULTS:-}" ]]; then
    python3 loadtest/write_table.py "$RESULTS" "$TABLE" "compare:${BASE_SHA}"
    log "wrote the table into ${RESULTS}"
fi
