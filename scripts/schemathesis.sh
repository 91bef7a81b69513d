#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI) generates requests from the
# OpenAPI document at /openapi.json and checks every answer against it: no
# 5xx, every status and header documented, every body valid against its
# schema. Starts a server of its own (own database, Redis prefix and port)
# from a binary built beforehand, and removes all of it on exit.
#
#   cargo build && scripts/schemathesis.sh            # debug build
#   ST_MAX_EXAMPLES=50 scripts/schemathesis.sh        # more cases per operation
#
# Needs Redis and Postgres on localhost (scripts/services.sh).
set -euo pipefail

cd "$(dirname "$0")/.."

PORT="${ST_PORT:-18451}"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-25}"
DB_NAME="bo_schemathesis_$$"
PREFIX="st$$"
PG_SERVER="${PG_SERVER:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export BOXOFFICE_ADMIN_TOKEN="schemathesis-admin-$$"

binary=target/debug/boxoffice
[[ -x target/release/boxoffice && target/release/boxoffice -nt "$binary" ]] && binary=target/release/boxoffice
[[ -x "$binary" ]] || { echo "no $binary: run cargo build first" >&2; exit 1; }

if ! command -v st >/dev/null 2>&1; then
    python3 -m pip install --quiet 'schemathesis>=4,<5'
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    local status=$?
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    psql "$PG_SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    redis-cli -u "$REDIS_URL" --scan --pattern "{$PREFIX:*" 2>/dev/null \
        | xargs -r -n 500 redis-cli -u "$REDIS_URL" UNLINK >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT INT TERM

echo "starting $binary on 127.0.0.1:$PORT (database $DB_NAME, Redis prefix $PREFIX)"
BOXOFFICE_ADDR="127.0.0.1:$PORT" \
DATABASE_URL="$PG_SERVER/$DB_NAME" \
REDIS_URL="$REDIS_URL" \
BOXOFFICE_REDIS_PREFIX="$PREFIX" \
BOXOFFICE_TOKEN_SECRET="schemathesis-secret-$$" \
BOXOFFICE_JOIN_RATE_LIMIT=0 \
BOXOFFICE_POLL_RATE_LIMIT=0 \
BOXOFFICE_READ_RATE_LIMIT=0 \
RUST_LOG="${RUST_LOG:-warn}" \
    "$binary" serve >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.5
done
curl -fsS "http://127.0.0.1:$PORT/ready" >/dev/null || { echo "the server never became ready" >&2; exit 1; }
# One queue protects a site, so the /gate routes are exercised past 404 QUEUE_NOT_PROTECTED
# (the admin operations may change or lift it while they run; the others keep theirs).
curl -fsS -X PATCH "http://127.0.0.1:$PORT/admin/queues/bts-spring" \
    -H "Authorization: Bearer $BOXOFFICE_ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"protect": {"origin": "https://shop.example", "paths": ["/*"]}}' >/dev/null
# And one asks for a proof of work, so GET /queues/{queue}/challenge answers past 404
# CHALLENGE_OFF and its joins are refused 403 CHALLENGE_REQUIRED / CHALLENGE_FAILED.
curl -fsS -X PATCH "http://127.0.0.1:$PORT/admin/queues/iu-winter" \
    -H "Authorization: Bearer $BOXOFFICE_ADMIN_TOKEN" -H 'Content-Type: application/json' \
    -d '{"challenge": {"kind": "altcha", "complexity": 1000}}' >/dev/null

# Values that exist in the demo data, so generated requests reach past the
# "no such user/concert" answers: the seed's users (ids and UUIDs), concerts,
# codes and schedules. Each is drawn often, not always: the rest is generated.
python3 - "$work/schemathesis.toml" <<'PY'
import sys, uuid
users = list(range(1, 21))
uuids = [str(uuid.uuid5(uuid.NAMESPACE_OID, f"boxoffice-user-{n}")) for n in users]
def values(items):
    return "[" + ", ".join(f'"{i}"' if isinstance(i, str) else str(i) for i in items) + "]"
with open(sys.argv[1], "w") as toml:
    toml.write(f"""
[dictionaries]
users = {{ values = {values(users)} }}
uuids = {{ values = {values(uuids)} }}
codes = {{ values = ["hero-autumn", "iu-winter", "bts-spring", "default"] }}
concerts = {{ values = [1, 2, 3] }}
schedules = {{ values = [1, 2, 3, 4, 5, 6, 7] }}
dates = {{ values = ["2030-10-10T19:00:00", "2030-12-24T19:00:00", "2031-04-05T18:00:00"] }}
# Webhook endpoints the fuzzer registers are delivered to: loopback only (a
# closed port), never a generated host.
webhooks = {{ values = ["http://127.0.0.1:9/hook"] }}

# An unknown header is not an invalid request: HTTP servers ignore them.
[generation]
allow-extra-parameters = true

[parameters]
"header.user-id" = {{ dictionary = "users", probability = 0.8 }}
"path.uuid" = {{ dictionary = "uuids", probability = 0.8 }}
"query.UUID" = {{ dictionary = "uuids", probability = 0.8 }}
"body.UUID" = {{ dictionary = "uuids", probability = 0.8 }}
"body.userId" = {{ dictionary = "users", probability = 0.8 }}
"path.code" = {{ dictionary = "codes", probability = 0.8 }}
"path.queue" = {{ dictionary = "codes", probability = 0.8 }}
"path.concert_id" = {{ dictionary = "concerts", probability = 0.8 }}
"path.schedule_id" = {{ dictionary = "schedules", probability = 0.8 }}
"query.concertDate" = {{ dictionary = "dates", probability = 0.8 }}
"body.url" = {{ dictionary = "webhooks", probability = 1.0 }}

# The protected site's routes on the queue that protects one (set up above).
[[operations]]
include-path-regex = "^/gate/"
parameters = {{ "path.queue" = "bts-spring" }}

# The event stream never ends by design: the fuzzer reads its JSON pages
# (the stream has its own tests, tests/api/events.rs).
[[operations]]
include-path-regex = "^/admin/events$"
headers = {{ Authorization = "Bearer ${{BOXOFFICE_ADMIN_TOKEN}}", Accept = "application/json" }}

# The admin API with the server's token, so it is exercised past the 401.
[[operations]]
include-path-regex = "^/admin"
exclude-path-regex = "^/admin/events$"
headers = {{ Authorization = "Bearer ${{BOXOFFICE_ADMIN_TOKEN}}" }}
""")
PY

# Every check but the two that judge validation by the schema alone: they
# call an unknown header accepted an error (HTTP ignores such headers), and a
# schema-valid request refused one even when the refusal is a rule no schema
# states (minRate <= maxRate, 31 February, an Idempotency-Key reused with
# another body: 422 by design). Those answers are still checked: their status
# must be documented and their body must match the error schema.
echo "running schemathesis (max $MAX_EXAMPLES examples per operation)"
status=0
st --config-file "$work/schemathesis.toml" run "http://127.0.0.1:$PORT/openapi.json" \
    --checks all \
    --exclude-checks negative_data_rejection,positive_data_acceptance \
    --max-examples "$MAX_EXAMPLES" \
    --workers 2 \
    --seed "${ST_SEED:-1}" \
    --request-timeout 20 \
    --suppress-health-check too_slow,filter_too_much \
    ${ST_ARGS:-} || status=$?

if grep -qiE "panicked|request failed" "$work/server.log"; then
    echo "the server logged failures:" >&2
    grep -iE -B2 -A5 "panicked|request failed" "$work/server.log" | head -50 >&2
    status=1
fi
exit "$status"
