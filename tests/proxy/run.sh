#!/usr/bin/env bash
# A protected site behind a real proxy, each with its documented config as it
# is (docs/proxies/): Debian's nginx (auth_request) and Caddy (forward_auth), on
# ports of their own, in front of a tiny demo origin (an nginx server block
# answering with what it was sent), each with a boxoffice of its own (fresh
# database, Redis prefix and port). Checks, through the proxy: no pass is sent
# to the waiting room; a visitor joins through the room (under the site's own
# host), is admitted and passes with the pass (the origin sees the check's
# X-Boxoffice-Visitor, not a forged one); a pass of another queue, a tampered
# one and an expired one are refused; the origin ends the session and the pass
# is refused. With nginx, a pass handed back in the URL becomes the cookie, and
# a real browser walks the site (tests/browser/protected-site.mjs): to the
# room and back with the pass, ended by the origin and back in the room.
#
#   tests/proxy/run.sh            # nginx, then caddy
#   tests/proxy/run.sh caddy      # one
#
# Installs nginx-light and caddy (apt) when missing. BOXOFFICE_BIN picks the
# server binary; unset, the debug build (built when absent).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

log() { echo "proxy: $*" >&2; }
die() { echo "proxy: ERROR: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
ADMIN_TOKEN="proxy-test-admin"
PROXIES=("$@")
[[ ${#PROXIES[@]} -gt 0 ]] || PROXIES=(nginx caddy)

SUDO=()
[[ "$(id -u)" -eq 0 ]] || SUDO=(sudo)
apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null ||
        { "${SUDO[@]}" apt-get update -q >/dev/null &&
            "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }
}
# nginx serves the demo origin for both.
[[ -x /usr/sbin/nginx ]] || { log "installing Debian's nginx-light"; apt_install nginx-light; }
if [[ " ${PROXIES[*]} " == *" caddy "* ]] && ! have caddy; then
    log "installing Debian's caddy"
    apt_install caddy
fi
for tool in curl jq psql redis-cli python3; do have "$tool" || die "$tool is needed"; done
if [[ -n "${BOXOFFICE_BIN:-}" ]]; then
    BIN="$BOXOFFICE_BIN"
else
    TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
    [[ -x "$TARGET/debug/boxoffice" ]] || cargo build
    BIN="$TARGET/debug/boxoffice"
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

PIDS=()
DIR=""
DB_NAME=""
PREFIX=""
stop_all() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    if [[ -n "$DB_NAME" ]]; then
        psql "$PG_URL/postgres" -X -q -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
        redis-cli -u "$REDIS_URL" --scan --pattern "{$PREFIX:*" 2>/dev/null |
            xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
        DB_NAME=""
    fi
    if [[ -n "$DIR" ]]; then
        rm -rf "$DIR"
        DIR=""
    fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# The documented config of proxy $1, its placeholders filled in.
documented() {
    local file listen="127.0.0.1:$SITE_PORT"
    case "$1" in
        nginx) file=docs/proxies/nginx.conf ;;
        caddy) file=docs/proxies/Caddyfile listen="http://$listen" ;;
    esac
    sed -e "s|@LISTEN@|$listen|" -e "s|@BOXOFFICE@|127.0.0.1:$BOX_PORT|" \
        -e "s|@ORIGIN@|127.0.0.1:$ORIGIN_PORT|" -e "s|@QUEUE@|default|" "$file"
}

# nginx: the demo origin, and the site too when $1 is nginx.
start_nginx() {
    mkdir -p "$DIR/temp"
    local site=""
    if [[ "$1" == nginx ]]; then
        documented nginx >"$DIR/site.conf"
        site="include $DIR/site.conf;"
    fi
    cat >"$DIR/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $DIR/temp/body;
    proxy_temp_path $DIR/temp/proxy;
    fastcgi_temp_path $DIR/temp/fastcgi;
    uwsgi_temp_path $DIR/temp/uwsgi;
    scgi_temp_path $DIR/temp/scgi;
    $site
    # The demo origin: says what it was asked and who the proxy says is asking.
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        default_type text/plain;
        location / { return 200 "origin \$request_uri visitor=\$http_x_boxoffice_visitor\n"; }
    }
}
NGINX
    /usr/sbin/nginx -t -p "$DIR" -c "$DIR/nginx.conf" 2>"$DIR/nginx-t.log" || { cat "$DIR/nginx-t.log" >&2; die "nginx -t"; }
    /usr/sbin/nginx -p "$DIR" -c "$DIR/nginx.conf" &
    PIDS+=($!)
}

start_caddy() {
    { printf '{\n\tadmin off\n}\n\n'; documented caddy; } >"$DIR/Caddyfile"
    XDG_DATA_HOME="$DIR" XDG_CONFIG_HOME="$DIR" caddy run --adapter caddyfile --config "$DIR/Caddyfile" \
        >"$DIR/caddy.log" 2>&1 &
    PIDS+=($!)
}

# boxoffice, admitting quickly, its room under the site's /boxoffice/.
start_boxoffice() {
    DATABASE_URL="$PG_URL/$DB_NAME" REDIS_URL="$REDIS_URL" \
    BOXOFFICE_ADDR="127.0.0.1:$BOX_PORT" BOXOFFICE_REDIS_PREFIX="$PREFIX" \
    BOXOFFICE_ADMIN_TOKEN="$ADMIN_TOKEN" BOXOFFICE_ADMIT_TICK_MS=200 BOXOFFICE_ADMIT_RATE=100 \
    BOXOFFICE_ROOM_URL=/boxoffice/waiting-room/gate BOXOFFICE_JOIN_RATE_LIMIT=0 \
    RUST_LOG=warn "$BIN" >"$DIR/boxoffice.log" 2>&1 &
    PIDS+=($!)
    local pid=$!
    for _ in $(seq 1 300); do
        curl -fsS -m 2 "http://127.0.0.1:$BOX_PORT/ready" >/dev/null 2>&1 && return
        kill -0 "$pid" 2>/dev/null || { cat "$DIR/boxoffice.log" >&2; die "boxoffice exited"; }
        sleep 0.2
    done
    die "boxoffice never became ready"
}

FAILED=0
check() { # what, expected, actual
    if [[ "$2" == "$3" ]]; then
        log "$PROXY: ok: $1"
    else
        log "$PROXY: FAILED: $1: expected $2, got $3"
        FAILED=1
    fi
}
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
location_of() { curl -s -o /dev/null -w '%{redirect_url}' "$@"; }
admin() { curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }
protect() { # queue, session seconds
    admin -X PATCH "$BOX/admin/queues/$1" \
        -d "{\"protect\": {\"origin\": \"$SITE\", \"paths\": [\"/*\"], \"sessionSeconds\": $2}}" >/dev/null
}

# A visitor joins through the room (under the site's host) and waits to be
# admitted; prints the pass.
visit() { # queue
    local queue=$1 token status=""
    token="$(curl -fsS -X POST "$SITE/boxoffice/gate/$queue/join" | jq -r .token)"
    for _ in $(seq 1 50); do
        status="$(curl -fsS "$SITE/boxoffice/gate/$queue/status" -H "Cookie: boxoffice_visitor=$token")"
        if [[ "$(jq -r .status <<<"$status")" == admitted ]]; then
            jq -r .pass <<<"$status"
            return
        fi
        sleep 0.2
    done
    die "$queue: never admitted: $status"
}

walk() {
    protect default 600
    protect hero-autumn 600
    local key room body cookie pass other short head claims signature forged
    key="$(admin -X POST "$BOX/admin/queues/default/origin-keys" | jq -r .key)"

    # No pass: to the waiting room, with the queue and the page to return to.
    check "no pass is redirected" 302 "$(status_of "$SITE/checkout/cart?x=1")"
    room="$(location_of "$SITE/checkout/cart?x=1")"
    check "to the room, with the queue and the page" yes \
        "$([[ "$room" == *"/boxoffice/waiting-room/gate?queue=default&return="*checkout%2Fcart%3Fx%3D1 ]] && echo yes || echo "$room")"

    if [[ "$PROXY" == nginx ]]; then
        # An app asking for JSON gets the room's address as JSON instead of a page.
        check "an app is answered JSON" 401 "$(status_of "$SITE/api/cart" -H 'Accept: application/json')"
        check "with the room's address" yes "$(curl -s "$SITE/api/cart" -H 'Accept: application/json' |
            jq -r '.room | test("/boxoffice/waiting-room/gate[?]queue=default")' | sed 's/true/yes/')"
    fi

    pass="$(visit default)"
    body="$(curl -s "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$pass" -H 'X-Boxoffice-Visitor: forged')"
    check "a valid pass reaches the origin" "origin /checkout/cart" "${body%% visitor=*}"
    check "the origin sees the check's visitor, not a forged one" yes \
        "$([[ "$body" == *"visitor=v"[0-9]* ]] && echo yes || echo "$body")"

    if [[ "$PROXY" == nginx ]]; then
        # A pass handed back in the URL (a room on a host of its own) becomes the cookie.
        cookie="$(curl -s -o /dev/null -D - "$SITE/checkout/cart?boxoffice_pass=$pass" | tr -d '\r' |
            sed -n 's/^[Ss]et-[Cc]ookie: boxoffice_pass=\([^;]*\).*/\1/p')"
        check "a handed-over pass becomes the cookie" "$pass" "$cookie"
    fi

    other="$(visit hero-autumn)"
    check "a pass of another queue is refused" 302 \
        "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$other")"
    IFS=. read -r head claims signature <<<"$pass"
    forged="$(python3 - "$claims" <<'PY'
import base64, json, sys
raw = sys.argv[1] + "=" * (-len(sys.argv[1]) % 4)
claims = json.loads(base64.urlsafe_b64decode(raw))
claims["exp"] += 86400
print(base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="))
PY
)"
    check "a tampered pass is refused" 302 \
        "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$head.$forged.$signature")"

    # The origin ends the session (checkout done): the pass is refused at once.
    check "the pass still works" 200 "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$pass")"
    check "the origin ends the session" 204 "$(status_of -X POST "$SITE/boxoffice/gate/default/end" \
        -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "{\"pass\": \"$pass\"}")"
    check "an ended pass is refused" 302 "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$pass")"

    # Sessions of two seconds from now on: the next pass expires while we wait.
    protect default 2
    short="$(visit default)"
    sleep 3 # time passing is what is tested
    check "boxoffice calls the pass expired" PASS_EXPIRED \
        "$(curl -s "$BOX/gate/default" -H "X-Original-URI: /" -H "Cookie: boxoffice_pass=$short" | jq -r .code)"
    check "an expired pass is refused" 302 "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$short")"
}

for PROXY in "${PROXIES[@]}"; do
    [[ "$PROXY" == nginx || "$PROXY" == caddy ]] || die "no proxy $PROXY: nginx or caddy"
    DIR="$(mktemp -d)"
    DB_NAME="bo_proxy_${PROXY}_$$"
    PREFIX="proxy$PROXY$$"
    BOX_PORT="$(free_port)"
    SITE_PORT="$(free_port)"
    ORIGIN_PORT="$(free_port)"
    BOX="http://127.0.0.1:$BOX_PORT"
    SITE="http://127.0.0.1:$SITE_PORT"
    start_boxoffice
    start_nginx "$PROXY"
    [[ "$PROXY" == caddy ]] && start_caddy
    for _ in $(seq 1 50); do
        [[ "$(status_of -m 1 "$SITE/")" != 000 ]] && break
        sleep 0.1
    done
    log "$PROXY: the site on $SITE_PORT, boxoffice on $BOX_PORT, the origin on $ORIGIN_PORT"
    walk
    if [[ "$PROXY" == nginx && "$FAILED" -eq 0 ]]; then
        # The same site in a real browser (tests/browser/run.sh installs what it needs).
        if [[ -x /usr/bin/chromium && -d tests/browser/node_modules/playwright-core ]]; then
            protect default 600
            key="$(admin -X POST "$BOX/admin/queues/default/origin-keys" | jq -r .key)"
            SITE_URL="$SITE" BOX_URL="$BOX" ADMIN_TOKEN="$ADMIN_TOKEN" ORIGIN_KEY="$key" QUEUE=default \
                node tests/browser/protected-site.mjs || FAILED=1
        elif [[ -n "${CI:-}" ]]; then
            log "nginx: FAILED: the browser walk needs Chromium and playwright-core (tests/browser/run.sh installs them)"
            FAILED=1
        else
            log "nginx: the browser walk is skipped: no Chromium or playwright-core (tests/browser/run.sh installs them)"
        fi
    fi
    if [[ "$FAILED" -ne 0 ]]; then
        log "$PROXY: boxoffice's log:"
        tail -20 "$DIR/boxoffice.log" >&2
        [[ -f "$DIR/caddy.log" ]] && tail -20 "$DIR/caddy.log" >&2
        die "$PROXY: some checks failed"
    fi
    log "$PROXY: all passed"
    stop_all
done
