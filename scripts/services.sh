#!/usr/bin/env bash
# Ensure the local PostgreSQL and Redis that boxoffice's tests need are up.
#
#   PostgreSQL: ${PGHOST:-127.0.0.1}:${PGPORT:-5432}, trust auth, user postgres
#   Redis:      127.0.0.1:${REDIS_PORT:-6379}, no persistence
#
# Idempotent: when both already answer this returns immediately. Otherwise it
# installs missing Debian packages (postgresql, redis-server), starts whatever
# is down, and waits (bounded) until both answer.
set -euo pipefail

PG_HOST="${PGHOST:-127.0.0.1}"
# PGHOST may be a socket directory; only use it for TCP checks if it is a host.
[[ "$PG_HOST" == /* ]] && PG_HOST=127.0.0.1
PG_PORT="${PGPORT:-5432}"
REDIS_HOST=127.0.0.1
REDIS_PORT="${REDIS_PORT:-6379}"
WAIT_SECS="${SERVICES_WAIT_SECS:-30}"

REDIS_DIR=/var/lib/redis
REDIS_LOG_DIR=/var/log/redis
REDIS_LOG="$REDIS_LOG_DIR/ci.log"

log() { echo "services: $*" >&2; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

# Run privileged commands directly as root, via sudo otherwise (if present).
SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        log "not root and sudo not found; privileged steps may fail"
    fi
fi
priv() {
    if [[ ${#SUDO[@]} -gt 0 ]]; then "${SUDO[@]}" "$@"; else "$@"; fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# Run a command with a time limit when coreutils' timeout is available.
limit() {
    local secs="$1"; shift
    if have timeout; then timeout "$secs" "$@"; else "$@"; fi
}

# ---------------------------------------------------------------- health checks

pg_up() {
    if have pg_isready; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1
    else
        # shellcheck disable=SC2016  # expanded by the inner bash
        limit 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$PG_HOST" "$PG_PORT" >/dev/null 2>&1
    fi
}

redis_up() {
    local reply
    if have redis-cli; then
        reply="$(limit 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" || return 1
    else
        # shellcheck disable=SC2016  # expanded by the inner bash
        reply="$(limit 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "PING\r\n" >&3 && IFS= read -r -t 2 line <&3 && printf "%s" "$line"' \
            _ "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null)" || return 1
    fi
    [[ "$reply" == *PONG* ]]
}

report() {
    echo "postgres: up ($PG_HOST:$PG_PORT)"
    echo "redis: up ($REDIS_HOST:$REDIS_PORT)"
}

# Fast path: nothing to do.
if pg_up && redis_up; then
    report
    exit 0
fi

# ---------------------------------------------------------------- installation

APT_UPDATED=0
apt_install() {
    have apt-get || die "apt-get not found; install $* manually"
    export DEBIAN_FRONTEND=noninteractive
    if [[ "$APT_UPDATED" -eq 0 ]]; then
        log "apt-get update"
        priv env DEBIAN_FRONTEND=noninteractive apt-get update || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    priv env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" || die "apt-get install $* failed"
}

pg_server_installed() {
    have pg_ctlcluster && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

missing=()
PG_FRESH=0
REDIS_FRESH=0
if ! pg_up && ! pg_server_installed; then
    missing+=(postgresql)
    PG_FRESH=1
fi
if ! redis_up && ! have redis-server; then
    missing+=(redis-server)
    REDIS_FRESH=1
fi
if [[ ${#missing[@]} -gt 0 ]]; then
    apt_install "${missing[@]}"
fi

# ---------------------------------------------------------------- postgres

# Newest PostgreSQL version that has a "main" cluster configured (empty if none).
pg_version() {
    newest_version /etc/postgresql/*/main
}

# Newest version among paths like /some/dir/<version>[/...] (empty if none).
newest_version() {
    local p
    for p in "$@"; do
        [[ -e "$p" ]] || continue
        p="${p%/main}"; p="${p%/bin/postgres}"
        printf '%s\n' "${p##*/}"
    done | sort -V | tail -n1
}

# Make host lines for 127.0.0.1/32 and ::1/128 use trust. Prints "changed" if
# the file was modified.
pg_trust_local_tcp() {
    local hba="$1" tmp
    [[ -f "$hba" ]] || die "pg_hba.conf not found at $hba"
    tmp="$(mktemp)"
    priv cat "$hba" | awk '
        BEGIN { OFS = "\t"; has4 = 0 }
        $1 == "host" && ($4 == "127.0.0.1/32" || $4 == "::1/128") {
            if ($4 == "127.0.0.1/32" && $2 == "all" && $3 == "all") has4 = 1
            if ($5 != "trust") { $5 = "trust" }
        }
        { lines[NR] = $0 }
        END {
            if (!has4) print "host\tall\tall\t127.0.0.1/32\ttrust"
            for (i = 1; i <= NR; i++) print lines[i]
        }' >"$tmp"
    if priv cmp -s "$tmp" "$hba"; then
        rm -f "$tmp"
        return 0
    fi
    log "setting trust auth for local TCP connections in $hba"
    priv cp "$hba" "$hba.bak"
    # shellcheck disable=SC2016  # expanded by the inner sh
    priv sh -c 'cat "$1" > "$2"' _ "$tmp" "$hba"
    rm -f "$tmp"
    echo changed
}

start_postgres() {
    local ver
    ver="$(pg_version)"
    if [[ -z "$ver" ]]; then
        # Package installed without a default cluster: create one.
        have pg_createcluster || die "PostgreSQL is installed but pg_createcluster is missing"
        ver="$(newest_version /usr/lib/postgresql/*/bin/postgres)"
        [[ -n "$ver" ]] || die "no PostgreSQL server version found under /usr/lib/postgresql"
        log "creating PostgreSQL $ver cluster 'main' on port $PG_PORT"
        priv pg_createcluster --port "$PG_PORT" "$ver" main >/dev/null || die "pg_createcluster failed"
        PG_FRESH=1
    fi

    local changed=""
    if [[ "$PG_FRESH" -eq 1 ]]; then
        changed="$(pg_trust_local_tcp "/etc/postgresql/$ver/main/pg_hba.conf")"
    fi

    # Socket directory lives on a tmpfs in some containers.
    if [[ ! -d /var/run/postgresql ]]; then
        priv install -d -m 2775 -o postgres -g postgres /var/run/postgresql || true
    fi

    if pg_up; then
        # Running already (e.g. started by the package's postinst): reload to
        # pick up the pg_hba.conf change.
        if [[ -n "$changed" ]]; then
            log "reloading PostgreSQL $ver/main"
            priv pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || die "PostgreSQL reload failed"
        fi
        return 0
    fi
    log "starting PostgreSQL $ver/main"
    priv pg_ctlcluster --skip-systemctl-redirect "$ver" main start \
        || die "pg_ctlcluster $ver main start failed (see /var/log/postgresql/postgresql-$ver-main.log)"
}

# ---------------------------------------------------------------- redis

start_redis() {
    if redis_up; then
        return 0
    fi
    have redis-server || die "redis-server not found"
    priv mkdir -p "$REDIS_DIR" "$REDIS_LOG_DIR"
    log "starting redis-server on $REDIS_HOST:$REDIS_PORT"
    priv redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir "$REDIS_DIR" --logfile "$REDIS_LOG" \
        || die "redis-server failed to start (see $REDIS_LOG)"
}

pg_up || start_postgres
if [[ "$REDIS_FRESH" -eq 1 ]] && redis_up && have redis-cli; then
    # The package's postinst may have started redis with its own (persistent)
    # config; turn persistence off.
    limit 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" config set save "" >/dev/null || true
    limit 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" config set appendonly no >/dev/null || true
fi
redis_up || start_redis

# ---------------------------------------------------------------- wait

deadline=$((SECONDS + WAIT_SECS))
pg_ok=0
redis_ok=0
while :; do
    [[ "$pg_ok" -eq 1 ]] || { pg_up && pg_ok=1; } || true
    [[ "$redis_ok" -eq 1 ]] || { redis_up && redis_ok=1; } || true
    [[ "$pg_ok" -eq 1 && "$redis_ok" -eq 1 ]] && break
    if (( SECONDS >= deadline )); then
        [[ "$pg_ok" -eq 1 ]] || log "postgres did not answer on $PG_HOST:$PG_PORT within ${WAIT_SECS}s (see /var/log/postgresql/)"
        [[ "$redis_ok" -eq 1 ]] || log "redis did not answer on $REDIS_HOST:$REDIS_PORT within ${WAIT_SECS}s (see $REDIS_LOG)"
        die "services did not come up"
    fi
    sleep 0.5
done

report
