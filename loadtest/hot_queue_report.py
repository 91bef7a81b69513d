"""The arithmetic and the table of loadtest/hot_queue.sh.

    hot_queue_report.py measured WRK_OUT REDIS0 REDIS1 SERVER0 SERVER1 "CALLS0 ENTRIES0" "CALLS1 ENTRIES1"
        one wrk run: prints "req/s redis_us/request server_us/request mean_batch"
    hot_queue_report.py low RESULT_JSON
        one loadgen run: prints "p50_ms p99_ms"
    hot_queue_report.py saturated WORK REDIS0 REDIS1 EVALS0 EVALS1 STARTED ENDED
        the two drivers of one saturation run: prints "polls/s redis_us/poll redis_busy mean_batch"
    hot_queue_report.py table WORK COMMIT CORES ROUNDS DURATION
        the markdown table from the runs hot_queue.sh wrote into WORK
"""
import datetime
import glob
import json
import math
import re
import statistics
import sys


def measured(wrk_out, redis0, redis1, server0, server1, batches0, batches1):
    text = open(wrk_out).read()
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if errors:
        sys.exit(f"hot queue: {errors.group(1)} failed requests:\n{text}")
    redis_us = (float(redis1) - float(redis0)) * 1e6 / requests
    server_us = (float(server1) - float(server0)) * 1e6 / requests
    calls0, entries0 = map(int, batches0.split())
    calls1, entries1 = map(int, batches1.split())
    batch = (entries1 - entries0) / (calls1 - calls0) if calls1 > calls0 else 0.0
    print(f"{rps:.0f} {redis_us:.2f} {server_us:.2f} {batch:.1f}")


def low(result_json):
    result = json.loads(open(result_json).read())
    if result.get("failed"):
        sys.exit(f"hot queue: {result['failed']} failed requests at 1,000/s: {result}")
    print(f"{result['p50_ms']} {result['p99_ms']}")


def saturated(work, redis0, redis1, evals0, evals1, started, ended):
    polls = 0
    for path in glob.glob(f"{work}/saturate-*.out"):
        result = re.search(r"^RESULT (.*)$", open(path).read(), re.M)
        if not result:
            sys.exit(f"hot queue: a driver printed no result: {open(path).read()}")
        polls += json.loads(result.group(1))["polls"]
    wall = float(ended) - float(started)
    redis_s = float(redis1) - float(redis0)
    calls = max(1, int(evals1) - int(evals0))
    print(f"{polls / wall:.0f} {redis_s * 1e6 / max(1, polls):.2f} {redis_s / wall:.3f} {polls / calls:.1f}")


def rows(path):
    return [tuple(float(v) for v in line.split()) for line in open(path).read().strip().splitlines()]


def median(values):
    return statistics.median(values)


def pacing_ms(position, rate=100.0):
    """src/queue/pacing.rs: a quarter of the ETA, between 1 s and 30 s."""
    eta = math.ceil(position / rate)
    return min(max(eta * 1000 // 4, 1000), 30000)


def fans_served(polls_per_s):
    """Waiting fans whose suggested polls add up to `polls_per_s`."""
    fans, load = 0, 0.0
    while load < polls_per_s and fans < 20_000:
        fans += 1
        load += 1000.0 / pacing_ms(fans)
    if load < polls_per_s:  # past the front of the line everyone polls every 30 s
        fans += int((polls_per_s - load) * 30)
    return fans


def table(work, commit, cores, rounds, duration):
    poll, alone, ceil, join = (rows(f"{work}/{name}") for name in ("poll", "alone", "ceiling", "join"))
    lows, lows_alone = rows(f"{work}/low"), rows(f"{work}/low-alone")
    col = lambda runs, i: median(r[i] for r in runs)
    listed = lambda runs: ", ".join(f"{r[0]:.0f}/{r[1]:.2f}" for r in runs)
    poll_rps, poll_us, poll_server, poll_batch = (col(poll, i) for i in range(4))
    alone_rps, alone_us, alone_server = (col(alone, i) for i in range(3))
    ceil_rps, ceil_us, ceil_server = (col(ceil, i) for i in range(3))
    join_rps, join_us, join_server, join_batch = (col(join, i) for i in range(4))
    low_p50, low_p99 = col(lows, 0), col(lows, 1)
    alone_p50, alone_p99 = col(lows_alone, 0), col(lows_alone, 1)

    r0, r1, t0, t1, b0, n0, b1, n1 = open(f"{work}/three").read().split()
    three = sum(
        float(re.search(r"Requests/sec:\s+([0-9.]+)", open(path).read()).group(1))
        for path in glob.glob(f"{work}/three-*.out")
    )
    before = [tuple(map(int, l.split())) for l in open(f"{work}/three-batches-before").read().split("\n") if l]
    after = [tuple(map(int, l.split())) for l in open(f"{work}/three-batches-after").read().split("\n") if l]
    calls = sum(a[0] - b[0] for a, b in zip(after, before))
    entries = sum(a[1] - b[1] for a, b in zip(after, before))
    three_batch = entries / calls if calls else 0.0
    wall = float(t1) - float(t0)
    redis_busy = (float(r1) - float(r0)) / wall
    machine_busy = (float(b1) - float(b0)) / max(1.0, float(n1) - float(n0))
    three_us = (float(r1) - float(r0)) * 1e6 / max(1.0, three * wall)
    if redis_busy >= 0.9:
        saturated = "Redis's thread saturated"
    elif machine_busy >= 0.9:
        saturated = "the machine saturated first (gateways, wrk and Redis share its 2 cores)"
    else:
        saturated = "neither saturated"
    saturation = {int(r[0]): r[1:] for r in rows(f"{work}/saturate")}
    sat_rps, sat_us, sat_busy, sat_batch = saturation[64]
    core = 1e6 / sat_us if sat_us > 0 else 0.0

    def ok(value, target, more=False):
        return "yes" if (value >= target if more else value <= target) else "no"

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    out.append(
        f"Run: {now}, commit `{commit}`, {cores} cores, one queue of 100,000 waiting, wrk 64 connections, "
        f"{rounds} rounds of {duration} s alternating poll, poll alone, ceiling and join (runs as req/s / "
        "Redis µs per request; medians reported). Redis CPU is `INFO cpu` user + sys over the run divided by "
        "the requests wrk completed; gateway CPU is the process's own from /proc; the mean batch is joins and "
        "polls per script run, from /metrics."
    )
    out.append("")
    out.append("| what | measured | target | met |")
    out.append("|---|---|---|---|")
    out.append(
        f"| Redis CPU per position poll | **{poll_us:.2f} µs** ({listed(poll)}; mean batch {poll_batch:.1f}) "
        f"| <= 2.0 µs | {ok(poll_us, 2.0)} |"
    )
    out.append(
        f"| Redis CPU per join (new user) | **{join_us:.2f} µs** ({listed(join)}; mean batch {join_batch:.1f}) "
        f"| <= 3.0 µs | {ok(join_us, 3.0)} |"
    )
    out.append(
        f"| Redis CPU per poll, every call alone (`BOXOFFICE_QUEUE_BATCH_MAX=1`) | {alone_us:.2f} µs "
        f"({listed(alone)}) | | |"
    )
    out.append(f"| Redis CPU per ceiling request (one bare ZRANK) | {ceil_us:.2f} µs ({listed(ceil)}) | | |")
    out.append(
        f"| gateway CPU per request: poll / alone / ceiling / join | {poll_server:.1f} / {alone_server:.1f} / "
        f"{ceil_server:.1f} / {join_server:.1f} µs | | |"
    )
    out.append(
        f"| poll / ceiling throughput, same runs | **{poll_rps / ceil_rps:.2f} x** ({poll_rps:.0f} vs "
        f"{ceil_rps:.0f} req/s; alone {alone_rps:.0f}) | >= 1.0 x | {ok(poll_rps / ceil_rps, 1.0, True)} |"
    )
    out.append(
        f"| join / ceiling throughput, same runs | **{join_rps / ceil_rps:.2f} x** ({join_rps:.0f} req/s) "
        f"| >= 0.9 x | {ok(join_rps / ceil_rps, 0.9, True)} |"
    )
    out.append(
        f"| polls at 1,000/s, open loop: p50 / p99, coalesced vs alone | **{low_p50:.3f}** / {low_p99:.3f} ms vs "
        f"{alone_p50:.3f} / {alone_p99:.3f} ms (p50 +{low_p50 - alone_p50:.3f} ms) | p50 <= alone + 0.2 ms "
        f"| {ok(low_p50 - alone_p50, 0.2)} |"
    )
    out.append(
        f"| three gateway processes polling one queue | **{three:.0f} polls/s**, {three_us:.2f} µs of Redis "
        f"per poll (mean batch {three_batch:.1f}); Redis's thread {redis_busy * 100:.0f} % busy, the machine "
        f"{machine_busy * 100:.0f} % busy: {saturated} | | |"
    )
    for cap, (rps, us, busy, batch) in sorted(saturation.items()):
        label = "every call alone" if cap == 1 else f"batches capped at {cap}"
        out.append(
            f"| Redis as the bottleneck (two drivers, no HTTP), {label} | {rps:,.0f} polls/s, **{us:.2f} µs** of "
            f"Redis per poll, Redis's thread {busy * 100:.0f} % busy, mean batch {batch:.1f} | | |"
        )
    join_rps, join_sat_us, join_busy, join_sat_batch = rows(f"{work}/saturate-join")[0]
    out.append(
        f"| Redis as the bottleneck (two drivers, no HTTP), joins of new users, batches capped at 64 | "
        f"{join_rps:,.0f} joins/s, **{join_sat_us:.2f} µs** of Redis per join, Redis's thread "
        f"{join_busy * 100:.0f} % busy, mean batch {join_sat_batch:.1f}: one core about "
        f"{1e6 / join_sat_us:,.0f} joins/s | | |"
    )
    out.append(
        f"| one Redis core, one queue, at {sat_us:.2f} µs per poll (the default cap, Redis busy) | **{core:,.0f} polls/s**: "
        f"{core * 5:,.0f} fans polling every 5 s; {fans_served(core):,} fans at the suggested intervals "
        "(admitting 100/s) | | |"
    )
    print("\n".join(out))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"measured": measured, "low": low, "saturated": saturated, "table": table}[command](*args)
