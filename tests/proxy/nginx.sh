#!/usr/bin/env bash
# A protected site behind Debian's nginx, with the documented config
# (docs/proxies/nginx.conf) as it is: nginx on ports of its own in front of a
# tiny demo origin (an nginx server block answering with what it was sent),
# and a boxoffice of its own (fresh database, Redis prefix and port). Checks,
# through the proxy: no pass is sent to the waiting room; a visitor joins
# through the room, is admitted and passes with the pass (the origin sees
# X-Boxoffice-Visitor, and not a forged one); a pass handed back in the URL
# becomes the cookie; a pass of another queue, a tampered one and an expired
# one are refused; the origin ends the session and the pass is refused.
#
#   tests/proxy/nginx.sh
#
# Installs nginx-light (apt) when nginx is missing. BOXOFFICE_BIN picks the
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

SUDO=()
[[ "$(id -u)" -eq 0 ]] || SUDO=(sudo)
if [[ ! -x /usr/sbin/nginx ]]; then
    log "installing Debian's nginx-light"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light >/dev/null ||
        { "${SUDO[@]}" apt-get update -q >/dev/null &&
            "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light >/dev/null; }
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
BOX_PORT="$(free_port)"
SITE_PORT="$(free_port)"
ORIGIN_PORT="$(free_port)"
DIR="$(mktemp -d)"
DB_NAME="bo_proxy_$$"
PREFIX="proxy$$"
SERVER_PID=""
NGINX_PID=""
cleanup() {
    [[ -z "$NGINX_PID" ]] || { kill -TERM "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; }
    [[ -z "$SERVER_PID" ]] || { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; }
    psql "$PG_URL/postgres" -X -q -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
    redis-cli -u "$REDIS_URL" --scan --pattern "{$PREFIX:*" 2>/dev/null |
        xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# boxoffice, admitting quickly, its room under the site's /boxoffice/.
log "boxoffice on 127.0.0.1:$BOX_PORT (database $DB_NAME)"
DATABASE_URL="$PG_URL/$DB_NAME" REDIS_URL="$REDIS_URL" \
BOXOFFICE_ADDR="127.0.0.1:$BOX_PORT" BOXOFFICE_REDIS_PREFIX="$PREFIX" \
BOXOFFICE_ADMIN_TOKEN="$ADMIN_TOKEN" BOXOFFICE_ADMIT_TICK_MS=200 BOXOFFICE_ADMIT_RATE=100 \
BOXOFFICE_ROOM_URL=/boxoffice/waiting-room/gate BOXOFFICE_JOIN_RATE_LIMIT=0 \
RUST_LOG=warn "$BIN" >"$DIR/boxoffice.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    curl -fsS -m 2 "http://127.0.0.1:$BOX_PORT/ready" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/boxoffice.log" >&2; die "boxoffice exited"; }
    sleep 0.2
done

BOX="http://127.0.0.1:$BOX_PORT"
SITE="http://127.0.0.1:$SITE_PORT"
admin() { curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }
protect() { # queue, session seconds
    admin -X PATCH "$BOX/admin/queues/$1" \
        -d "{\"protect\": {\"origin\": \"$SITE\", \"paths\": [\"/*\"], \"sessionSeconds\": $2}}" >/dev/null
}
protect default 600
protect hero-autumn 600
protect iu-winter 1
ORIGIN_KEY="$(admin -X POST "$BOX/admin/queues/default/origin-keys" | jq -r .key)"

# nginx: the documented site config as it is, and the demo origin.
mkdir -p "$DIR/temp"
sed -e "s|@LISTEN@|127.0.0.1:$SITE_PORT|" -e "s|@BOXOFFICE@|127.0.0.1:$BOX_PORT|" \
    -e "s|@ORIGIN@|127.0.0.1:$ORIGIN_PORT|" -e "s|@QUEUE@|default|" docs/proxies/nginx.conf >"$DIR/site.conf"
cat >"$DIR/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $DIR/temp/body;
    proxy_temp_path $DIR/temp/proxy;
    fastcgi_temp_path $DIR/temp/fastcgi;
    uwsgi_temp_path $DIR/temp/uwsgi;
    scgi_temp_path $DIR/temp/scgi;
    include $DIR/site.conf;
    # The demo origin: says what it was asked and who the proxy says is asking.
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        default_type text/plain;
        location / { return 200 "origin \$request_uri visitor=\$http_x_boxoffice_visitor\n"; }
    }
}
EOF
/usr/sbin/nginx -t -p "$DIR" -c "$DIR/nginx.conf" 2>"$DIR/nginx-t.log" || { cat "$DIR/nginx-t.log" >&2; die "nginx -t"; }
/usr/sbin/nginx -p "$DIR" -c "$DIR/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 1 50); do
    curl -s -o /dev/null -m 1 "http://127.0.0.1:$ORIGIN_PORT/" && break
    sleep 0.1
done
log "nginx: the site on $SITE_PORT, the origin on $ORIGIN_PORT"

FAILED=0
check() { # what, expected, actual
    if [[ "$2" == "$3" ]]; then
        log "ok: $1"
    else
        log "FAILED: $1: expected $2, got $3"
        FAILED=1
    fi
}
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
location_of() { curl -s -o /dev/null -w '%{redirect_url}' "$@"; }

# No pass: to the waiting room, with the queue and the page to return to.
check "no pass is redirected" 302 "$(status_of "$SITE/checkout/cart?x=1")"
room="$(location_of "$SITE/checkout/cart?x=1")"
check "to the room, with the queue and the page" yes \
    "$( [[ "$room" == "$SITE/boxoffice/waiting-room/gate?queue=default&return="*checkout%2Fcart%3Fx%3D1 ]] && echo yes || echo "$room")"

# A visitor joins through the room (under the site's host) and waits to be admitted.
visit() { # queue -> the pass, once admitted
    local queue=$1 token status
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
PASS="$(visit default)"
body="$(curl -s "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$PASS" -H 'X-Boxoffice-Visitor: forged')"
check "a valid pass reaches the origin" "origin /checkout/cart" "${body%% visitor=*}"
check "the origin sees the check's visitor, not a forged one" yes \
    "$( [[ "$body" == *"visitor=v"[0-9]* ]] && echo yes || echo "$body")"

# A pass handed back in the URL (a room on a host of its own) becomes the cookie.
cookie="$(curl -s -o /dev/null -D - "$SITE/checkout/cart?boxoffice_pass=$PASS" | tr -d '\r' |
    sed -n 's/^[Ss]et-[Cc]ookie: boxoffice_pass=\([^;]*\).*/\1/p')"
check "a handed-over pass becomes the cookie" "$PASS" "$cookie"

# Passes the proxy must refuse.
OTHER="$(visit hero-autumn)"
check "a pass of another queue is refused" 302 "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$OTHER")"
IFS=. read -r head claims signature <<<"$PASS"
forged_claims="$(python3 - "$claims" <<'PY'
import base64, json, sys
raw = sys.argv[1] + "=" * (-len(sys.argv[1]) % 4)
claims = json.loads(base64.urlsafe_b64decode(raw))
claims["exp"] += 86400
print(base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="))
PY
)"
check "a tampered pass is refused" 302 \
    "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$head.$forged_claims.$signature")"
SHORT="$(visit iu-winter)"
sleep 2 # the iu-winter passes last a second: time passing is what is tested
code="$(curl -s "$BOX/gate/iu-winter" -H "X-Original-URI: /" -H "Cookie: boxoffice_pass=$SHORT" | jq -r .code)"
check "boxoffice calls the short pass expired" PASS_EXPIRED "$code"
sed -i "s|/gate/default;|/gate/iu-winter;|" "$DIR/site.conf"
/usr/sbin/nginx -p "$DIR" -c "$DIR/nginx.conf" -s reload 2>/dev/null
sleep 0.5
check "an expired pass is refused" 302 "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$SHORT")"
sed -i "s|/gate/iu-winter;|/gate/default;|" "$DIR/site.conf"
/usr/sbin/nginx -p "$DIR" -c "$DIR/nginx.conf" -s reload 2>/dev/null
sleep 0.5

# The origin ends the session (checkout done): the pass is refused at once.
check "the pass still works" 200 "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$PASS")"
check "the origin ends the session" 204 "$(status_of -X POST "$SITE/boxoffice/gate/default/end" \
    -H "Authorization: Bearer $ORIGIN_KEY" -H 'Content-Type: application/json' -d "{\"pass\": \"$PASS\"}")"
check "an ended pass is refused" 302 "$(status_of "$SITE/checkout/cart" -H "Cookie: boxoffice_pass=$PASS")"

[[ "$FAILED" -eq 0 ]] || { log "boxoffice's log:"; tail -20 "$DIR/boxoffice.log" >&2; die "some checks failed"; }
log "all passed"
