# Helpers shared by the benchmark scripts (sourced, not run).

# wait_ready URL LOG [curl args...]: waits up to 30 s for URL to answer 2xx;
# on timeout prints LOG (the server's output) and fails.
wait_ready() {
    local url=$1 log=$2
    shift 2
    for _ in $(seq 1 150); do
        curl -fs "$@" "$url" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    cat "$log" >&2
    return 1
}
