#!/usr/bin/env bash
# A local Redis Cluster for tests and measurements: 3 masters and 3 replicas
# on loopback, never touching the Redis on 6379.
#
#   scripts/redis-cluster.sh start    # prints the node list for BOXOFFICE_REDIS_CLUSTER
#   scripts/redis-cluster.sh status
#   scripts/redis-cluster.sh stop     # shuts the nodes down and removes their files
#
# Environment: CLUSTER_BASE_PORT (7101: nodes on 7101..7106),
# CLUSTER_NODE_TIMEOUT_MS (2000: how soon a silent master is failed over; a
# replica takes over however long it was cut off: availability first, as a
# ticket sale wants, since the sales themselves live in Postgres),
# CLUSTER_DIR (/tmp/boxoffice-redis-cluster-<base port>),
# CLUSTER_ANNOUNCE_OFFSET (0: each node tells clients and replicas to reach it
# at its port plus this offset, where the chaos soak puts a fault-injecting
# proxy; the cluster bus stays direct).
set -euo pipefail

BASE="${CLUSTER_BASE_PORT:-7101}"
NODE_TIMEOUT="${CLUSTER_NODE_TIMEOUT_MS:-2000}"
DIR="${CLUSTER_DIR:-/tmp/boxoffice-redis-cluster-$BASE}"
ANNOUNCE_OFFSET="${CLUSTER_ANNOUNCE_OFFSET:-0}"
PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=($((BASE + i))); done

log() { echo "redis-cluster: $*" >&2; }
die() { echo "redis-cluster: ERROR: $*" >&2; exit 1; }

nodes() {
    local list=()
    for port in "${PORTS[@]}"; do list+=("127.0.0.1:$port"); done
    (IFS=,; echo "${list[*]}")
}

up() { redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return
    log "installing redis-server (Debian)"
    local sudo=()
    [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >/dev/null ||
        { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server >/dev/null; }
}

# Every node sees the cluster whole, and every replica has its master's data
# (a replica still in its first sync could not take over).
cluster_ok() {
    for port in "${PORTS[@]}"; do
        redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
        if redis-cli -p "$port" role 2>/dev/null | head -1 | grep -q slave; then
            redis-cli -p "$port" info replication 2>/dev/null | grep -q '^master_link_status:up' || return 1
        fi
    done
}

start() {
    ensure_redis
    if cluster_ok; then
        log "already running"
        nodes
        return
    fi
    mkdir -p "$DIR"
    for port in "${PORTS[@]}"; do
        up "$port" && die "port $port is taken by another Redis; pick CLUSTER_BASE_PORT"
        local announce=()
        if ((ANNOUNCE_OFFSET != 0)); then
            announce=(--cluster-announce-ip 127.0.0.1 --cluster-announce-port $((port + ANNOUNCE_OFFSET))
                --cluster-announce-bus-port $((port + 10000)))
        fi
        redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
            --cluster-config-file "$DIR/nodes-$port.conf" --cluster-node-timeout "$NODE_TIMEOUT" \
            --cluster-replica-validity-factor 0 "${announce[@]}" \
            --save '' --appendonly no --dir "$DIR" --daemonize yes \
            --logfile "$DIR/$port.log" --pidfile "$DIR/$port.pid"
    done
    for _ in $(seq 1 50); do
        all=1
        for port in "${PORTS[@]}"; do up "$port" || all=0; done
        ((all)) && break
        sleep 0.1
    done
    local hosts=()
    for port in "${PORTS[@]}"; do hosts+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${hosts[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 ||
        { cat "$DIR/create.log" >&2; die "cluster create failed"; }
    for _ in $(seq 1 100); do
        if cluster_ok; then
            log "cluster_state:ok on all 6 nodes, replicas in sync ($DIR)"
            nodes
            return
        fi
        sleep 0.2
    done
    die "the cluster did not reach cluster_state:ok in 20 s"
}

status() {
    for port in "${PORTS[@]}"; do
        if up "$port"; then
            role="$(redis-cli -p "$port" role | head -1)"
            state="$(redis-cli -p "$port" cluster info | grep '^cluster_state' | tr -d '\r')"
            echo "127.0.0.1:$port $role $state"
        else
            echo "127.0.0.1:$port down"
        fi
    done
}

stop() {
    for port in "${PORTS[@]}"; do
        up "$port" && redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    done
    rm -rf "$DIR"
    log "stopped; $DIR removed"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    nodes) nodes ;;
    *) die "usage: $0 start|stop|status|nodes" ;;
esac
