"""Checks the queues' reports after the smoke's k6 sale against what k6 saw and
what Postgres holds (loadtest/smoke.sh runs it):

- the default queue's report (queue.js and rush.js went through it): joins,
  admissions, payments, seats and revenue equal the k6 runs' own counters;
- the concert queues' reports (v1.js): payments, seats and revenue equal v1.js's;
- every queue's report together: payments, seats and revenue equal the
  payments and reservations tables.

    python3 report_check.py BASE_URL ADMIN_TOKEN DATABASE_URL DEFAULT_SUMMARY... -- CONCERT_SUMMARY...

The summaries are k6's --summary-export files; DEFAULT_QUEUE names the
default queue (default: default). Events reach Postgres within a
second or two (the drain and the counts are written once a second), so the
reports are read again until they agree or 30 s have passed. Exits 1 when a
figure differs, printing every figure either way.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request


def counter(summaries, name):
    """The sum of counter `name` over k6 summaries (absent: never counted)."""
    return sum(int(s.get("metrics", {}).get(name, {}).get("count", 0)) for s in summaries)


def get(base, token, path):
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def sales(report):
    payments = sum(minute["payments"] for minute in report["perMinute"])
    return payments, report["seatsSold"], report["revenue"]


def postgres(database_url):
    query = (
        "SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM reservations), "
        "(SELECT COALESCE(sum(amount), 0) FROM payments)"
    )
    out = subprocess.run(
        ["psql", database_url, "-XAtF,", "-c", query], check=True, capture_output=True, text=True
    ).stdout
    return tuple(int(field) for field in out.strip().split(","))


def figures(base, token, database_url, default_runs, concert_runs):
    """(name, report's, expected) for every figure compared."""
    names = [queue["name"] for queue in get(base, token, "/admin/queues")]
    reports = {name: get(base, token, f"/admin/queues/{name}/report") for name in names}
    default = os.environ.get("DEFAULT_QUEUE", "default")
    report = reports[default]
    concerts = [reports[name] for name in names if name != default]
    every = [sales(r) for r in reports.values()]
    rows = [
        (f"{default}: joins", report["outcomes"]["joins"], counter(default_runs, "joins_ok")),
        (f"{default}: admitted", report["outcomes"]["admitted"], counter(default_runs, "admitted_users")),
        (f"{default}: payments", sales(report)[0], counter(default_runs, "payments_ok")),
        (f"{default}: seats sold", sales(report)[1], counter(default_runs, "seats_paid")),
        (f"{default}: revenue", sales(report)[2], counter(default_runs, "won_paid")),
        ("concert queues: payments", sum(sales(r)[0] for r in concerts), counter(concert_runs, "payments_ok")),
        ("concert queues: seats sold", sum(sales(r)[1] for r in concerts), counter(concert_runs, "seats_paid")),
        ("concert queues: revenue", sum(sales(r)[2] for r in concerts), counter(concert_runs, "won_paid")),
    ]
    paid, seats, revenue = postgres(database_url)
    rows += [
        ("all queues: payments (Postgres)", sum(s[0] for s in every), paid),
        ("all queues: seats sold (Postgres)", sum(s[1] for s in every), seats),
        ("all queues: revenue (Postgres)", sum(s[2] for s in every), revenue),
    ]
    return rows, counter(default_runs, "abandoned_with_seats")


def main():
    base, token, database_url = sys.argv[1:4]
    rest = sys.argv[4:]
    split = rest.index("--")
    load = lambda paths: [json.load(open(path)) for path in paths]  # noqa: E731
    default_runs, concert_runs = load(rest[:split]), load(rest[split + 1 :])
    deadline = time.monotonic() + 30
    while True:
        rows, abandoned = figures(base, token, database_url, default_runs, concert_runs)
        if all(got == expected for _, got, expected in rows) or time.monotonic() > deadline:
            break
        time.sleep(1)
    width = max(len(name) for name, _, _ in rows)
    for name, got, expected in rows:
        mark = "ok" if got == expected else "DIFFERS"
        print(f"report check: {name:<{width}}  report {got:>10}  expected {expected:>10}  {mark}")
    print(f"report check: ({abandoned} rush users held seats and walked away without paying)")
    if any(got != expected for _, got, expected in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
