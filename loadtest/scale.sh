#!/usr/bin/env bash
# Gateways and Redis topologies side by side on this machine: position polls
# (wrk, 64 connections in all) against 1 and 3 gateway processes, on the single
# Redis and on a Redis Cluster of 3 masters and 3 replicas
# (scripts/redis-cluster.sh, its own ports), rounds alternated. Reports req/s,
# and for one gateway the server's CPU µs per request. With RESULTS=path the
# table goes between the "scale:start" and "scale:end" markers of that file.
#
#   loadtest/scale.sh                       # 2 rounds of 10 s per setup
#   ROUNDS=3 DURATION=15 RESULTS=loadtest/RESULTS.md loadtest/scale.sh
#
# Loopback only. Everything it starts (servers, the cluster, databases, keys)
# is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-10}"
USERS=100000
STAMP="$(date +%s)"
WORK="$(mktemp -d)"
CLUSTER_PORT=7151
PORTS=(18361 18362 18363)
PIDS=()
log() { echo "scale: $*" >&2; }

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    CLUSTER_BASE_PORT=$CLUSTER_PORT bash scripts/redis-cluster.sh stop >/dev/null 2>&1 || true
    redis-cli --scan --pattern "{scl${STAMP}:*" | xargs -r -n 1000 redis-cli del >/dev/null 2>&1 || true
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS bo_scale_${STAMP} WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

./scripts/services.sh >&2
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
log "building the dist binary (fat LTO, as deployed)"
cargo build --profile dist --quiet --bin boxoffice --example queue_bench
BIN=target/dist/boxoffice
NODES="$(CLUSTER_BASE_PORT=$CLUSTER_PORT CLUSTER_NODE_TIMEOUT_MS=5000 bash scripts/redis-cluster.sh start)"

export DATABASE_URL="postgres://postgres@127.0.0.1:5432/bo_scale_${STAMP}" BOXOFFICE_REDIS_PREFIX="scl${STAMP}"
export REDIS_URL="redis://127.0.0.1:6379" BOXOFFICE_TOKEN_SECRET="scale-secret" RUST_LOG=warn
# Every simulated client comes from 127.0.0.1: no per-address connection cap.
export BOXOFFICE_MAX_CONNECTIONS_PER_IP=0
log "seeding ${USERS} users; filling the line on both topologies"
"$BIN" seed --users $((USERS - 1000)) >/dev/null 2>&1
target/dist/examples/queue_bench fill --queue poll --users "1..${USERS}" >&2
BOXOFFICE_REDIS_CLUSTER="$NODES" target/dist/examples/queue_bench fill --queue poll --users "1..${USERS}" >&2

start() { # topology (single|cluster) count
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
    local cluster=""
    [[ $1 == cluster ]] && cluster="$NODES"
    for i in $(seq 0 $(($2 - 1))); do
        BOXOFFICE_REDIS_CLUSTER="$cluster" BOXOFFICE_ADDR="127.0.0.1:${PORTS[$i]}" BOXOFFICE_SCHEDULER=false \
            BOXOFFICE_JOIN_RATE_LIMIT=0 BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_READ_RATE_LIMIT=0 \
            BOXOFFICE_IDLE_TIMEOUT_S=3600 BOXOFFICE_DEFAULT_QUEUE=poll \
            "$BIN" >"$WORK/server-$i.log" 2>&1 &
        PIDS+=($!)
    done
    for i in $(seq 0 $(($2 - 1))); do
        for _ in $(seq 1 150); do
            curl -fs "http://127.0.0.1:${PORTS[$i]}/ready" >/dev/null 2>&1 && break
            sleep 0.2
        done
    done
}

cpu_ticks() { local total=0; for pid in "${PIDS[@]}"; do total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat"))); done; echo $total; }

measure() { # count -> "req/s/server µs per request"
    local count=$1 before after total=0 requests=0 loads=()
    before=$(cpu_ticks)
    for i in $(seq 0 $((count - 1))); do
        FIRST_USER=1 LAST_USER=$USERS wrk -t1 -c$((64 / count)) -d"${DURATION}s" -s loadtest/wrk/poll.lua \
            "http://127.0.0.1:${PORTS[$i]}" >"$WORK/wrk-$i.out" &
        loads+=($!)
    done
    wait "${loads[@]}"
    after=$(cpu_ticks)
    for i in $(seq 0 $((count - 1))); do
        total=$((total + $(awk '/^Requests\/sec/ { printf "%.0f", $2 }' "$WORK/wrk-$i.out")))
        requests=$((requests + $(awk '/requests in/ { print $1 }' "$WORK/wrk-$i.out")))
    done
    echo "${total}/$(python3 -c "print(f'{($after - $before) * 1e6 / $(getconf CLK_TCK) / max($requests, 1):.1f}')")"
}

declare -A RUNS
SETUPS="single:1 cluster:1 single:3 cluster:3"
for round in $(seq 1 "$ROUNDS"); do
    order="$SETUPS"
    (( round % 2 == 0 )) && order="$(echo "$SETUPS" | tr ' ' '\n' | tac | tr '\n' ' ')"
    for setup in $order; do
        topology=${setup%:*} count=${setup#*:}
        start "$topology" "$count"
        RUNS[$setup]+="$(measure "$count") "
        log "round ${round} ${setup}: ${RUNS[$setup]}"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | cut -d/ -f1 | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
TABLE="$WORK/table.md"
{
    echo "Scale run: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit \`$(git rev-parse --short HEAD)\`, $(nproc) cores shared by the gateways, Redis and wrk; position polls, wrk 64 connections in all (split over the gateways), ${DURATION} s per run, ${ROUNDS} rounds alternated."
    echo
    echo "| Redis | gateways | median polls/s | runs as req/s / gateways' CPU µs per request |"
    echo "|---|---|---|---|"
    for setup in $SETUPS; do
        topology=${setup%:*} count=${setup#*:}
        label="single Redis"
        [[ $topology == cluster ]] && label="Redis Cluster (3 masters + 3 replicas)"
        echo "| ${label} | ${count} | $(echo "${RUNS[$setup]}" | median) | ${RUNS[$setup]% } |"
    done
} >"$TABLE"
cat "$TABLE"
if [[ -n "${RESULTS:-}" ]]; then
    python3 loadtest/write_table.py "$RESULTS" "$TABLE" scale
    log "wrote the table into ${RESULTS}"
fi
