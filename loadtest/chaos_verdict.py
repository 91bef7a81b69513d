"""The chaos soak's verdict (loadtest/chaos.py): what the history of a run
says, computed after it from the k6 log (every answer and every promise the
server made to a user), Postgres (what was decided) and the audit (whether
Redis agrees with Postgres).

The promised zeros fail the run when they are not zero; the other figures
(per fault, resources) are reported for the reader.
"""

import json
import os
import platform
import subprocess
import time
from collections import Counter, defaultdict

# The commit checked out when the soak started (this module is imported then):
# an hour later the checkout may have moved on, the binaries under test not.
COMMIT = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()

GRACE_S = 10  # after a fault ends, errors and slow answers are still its own


def read_log(path):
    """The `CHAOS {json}` records of the k6 console log."""
    records = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            start = line.find('msg="CHAOS ')
            if start < 0:
                continue
            inner = line[start + len('msg="CHAOS '):line.rstrip().rfind('"')]
            try:
                records.append(json.loads(json.loads(f'"{inner}"')))
            except ValueError:
                continue
    return records


def slope_per_10min(points):
    """Least-squares slope of (seconds, value) points, per 10 minutes."""
    if len(points) < 3:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var * 600


class Report:
    def __init__(self, name, header, zeros, figures, faults, resources):
        self.name = name
        self.header = header
        self.zeros = zeros
        self.figures = figures
        self.faults = faults
        self.resources = resources

    def passed(self):
        return all(value == 0 for _, value in self.zeros)

    def text(self):
        lines = [self.header, ""]
        lines += [f"{name}: {value}" for name, value in self.zeros]
        lines += [f"{name}: {value}" for name, value in self.figures]
        lines.append("")
        lines.append("per fault: kind, target, length; errors (window after the start); worst answer; "
                     "full service again after the fault ended; places lost by fans who came back")
        for row in self.faults:
            lines.append("  " + " | ".join(str(cell) for cell in row))
        lines.append("resources per gateway (first -> last sample, slope per 10 min):")
        for row in self.resources:
            lines.append("  " + " | ".join(str(cell) for cell in row))
        lines.append("verdict: " + ("PASS, every promised zero is zero" if self.passed() else "FAIL"))
        return "\n".join(lines)

    def markdown(self):
        out = [self.header, "", "| promised zero | found |", "|---|---|"]
        out += [f"| {name} | {value} |" for name, value in self.zeros]
        out += ["", "| figure | value |", "|---|---|"]
        out += [f"| {name} | {value} |" for name, value in self.figures]
        out += ["", "| fault | target | length | errors (window) | worst answer | full service again | places lost / fans back |",
                "|---|---|---|---|---|---|---|"]
        out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in self.faults]
        out += ["", "| process | RSS | open files | slope per 10 min |", "|---|---|---|---|"]
        out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in self.resources]
        out.append("")
        out.append("Verdict: " + ("**pass**, every promised zero is zero." if self.passed() else "**FAIL**."))
        return "\n".join(out) + "\n"

    def write(self, results, writer, work):
        name = self.name
        path = os.path.join(work, "verdict.md")
        with open(path, "w") as f:
            f.write(self.markdown())
        subprocess.run(["python3", writer, results, path, name], check=True)


class Verdict:
    def __init__(self, seed, duration, rate, gateways, started, faults, samples, k6_log, psql, audit):
        self.seed = seed
        self.duration = duration
        self.rate = rate
        self.gateways = gateways
        self.started = started
        self.faults = faults
        self.samples = samples
        self.records = read_log(k6_log)
        self.psql = psql
        self.audit = audit

    def ledger(self):
        """(user, key, reason) -> [deltas] of every keyed ledger row."""
        rows = defaultdict(list)
        for user, key, reason, delta in self.psql(
                "SELECT user_id, idempotency_key, reason, delta FROM balance_ledger WHERE idempotency_key IS NOT NULL"):
            rows[(int(user), key, reason)].append(int(delta))
        return rows

    def compute(self):
        records = self.records
        requests = [r for r in records if r.get("k") == "r"]
        by_kind = defaultdict(list)
        for record in records:
            by_kind[record.get("k")].append(record)
        ledger = self.ledger()
        owners = {(int(s), int(n)): int(u) for s, n, u in self.psql(
            "SELECT s.schedule_id, s.seat_number, r.user_id FROM reservations r JOIN seats s ON s.id = r.seat_id")}
        reason_of = {"charge": "charge", "pay": "payment"}

        # Seats sold twice: two rows for a seat (the UNIQUE forbids it), or a
        # seat a user was told they bought that Postgres gives to another.
        doubled_rows = int(self.psql(
            "SELECT count(*) FROM (SELECT seat_id FROM reservations GROUP BY seat_id HAVING count(*) > 1) d")[0][0])
        sold_to_other, payments_missing, money = 0, 0, 0
        acked_pays = [a for a in by_kind["ack"] if a["op"] == "pay"]
        for ack in acked_pays:
            rows = ledger.get((ack["u"], ack["key"], "payment"), [])
            seats_there = all(owners.get((ack["schedule"], seat)) == ack["u"] for seat in ack["seats"])
            if any(owners.get((ack["schedule"], seat)) not in (None, ack["u"]) for seat in ack["seats"]):
                sold_to_other += 1
            if not rows or not seats_there:
                payments_missing += 1
            money += abs(-sum(rows) - ack["amount"])
        for ack in by_kind["ack"]:
            if ack["op"] == "charge":
                money += abs(sum(ledger.get((ack["u"], ack["key"], "charge"), [])) - ack["amount"])

        # The stores against themselves: balances are their ledgers' sums, a
        # payment's amount is its seats' prices and its ledger debit.
        money += sum(abs(int(d)) for (d,) in self.psql(
            "SELECT coalesce(b.amount, 0) - coalesce(l.total, 0) FROM balances b "
            "FULL JOIN (SELECT user_id, sum(delta) AS total FROM balance_ledger GROUP BY user_id) l "
            "ON l.user_id = b.user_id WHERE coalesce(b.amount, 0) <> coalesce(l.total, 0)"))
        money += sum(abs(int(d)) for (d,) in self.psql(
            "SELECT p.amount - coalesce((SELECT sum(r.price) FROM reservations r WHERE r.payment_id = p.id), 0) "
            "FROM payments p WHERE p.amount <> coalesce((SELECT sum(r.price) FROM reservations r "
            "WHERE r.payment_id = p.id), 0)"))
        money += sum(abs(int(d)) for (d,) in self.psql(
            "SELECT p.amount + coalesce((SELECT sum(l.delta) FROM balance_ledger l WHERE l.payment_id = p.id), 0) "
            "FROM payments p WHERE p.method = 'balance' AND p.amount + coalesce((SELECT sum(l.delta) "
            "FROM balance_ledger l WHERE l.payment_id = p.id), 0) <> 0"))

        # A key's effect is made once: never two ledger rows under one key.
        doubled_keys = sum(1 for rows in ledger.values() if len(rows) > 1)
        unknown_wrong = 0
        for settled in by_kind["settled"]:
            rows = ledger.get((settled["u"], settled["key"], reason_of[settled["op"]]), [])
            if len(rows) != (1 if settled["s"] == 200 else 0):
                unknown_wrong += 1
        unknown_wrong += doubled_keys
        nothing_committed = sum(
            1 for n in by_kind["nothing"] if ledger.get((n["u"], n["key"], reason_of[n["op"]])))
        replays_wrong = sum(1 for r in by_kind["replay"] if r["s"] == 200 and not r["same"])

        audit_status, audit_body = self.audit
        try:
            audit = json.loads(audit_body)
            disagreements = len(audit.get("violations") or audit.get("report", {}).get("violations", [])) \
                if not audit.get("ok", False) else 0
            if audit_status != 200 and disagreements == 0:
                disagreements = 1
        except ValueError:
            audit = None
            disagreements = 1
        internal = sum(1 for r in requests if r["s"] == 500)
        hangs = sum(1 for r in requests if r["s"] == 0 and r["d"] >= 19000)
        broken = sum(1 for f in self.faults if "error" in f)

        zeros = [
            ("sold twice", doubled_rows + sold_to_other),
            ("money created or lost (won)", money),
            ("acknowledged payments missing from Postgres", payments_missing),
            ("OUTCOME_UNKNOWN not settled exactly once by its key", unknown_wrong),
            ("'nothing happened' answers whose work committed", nothing_committed),
            ("replays of a paid key with another receipt", replays_wrong),
            ("Redis disagreeing with Postgres 10 s after the last fault", disagreements),
            ("500 answers", internal),
            ("answers that never came (20 s)", hangs),
            ("faults that could not be made", broken),
        ]

        statuses = Counter()
        for r in requests:
            if r["s"] >= 500 or r["s"] == 0:
                statuses[f"{r['s']} {r.get('c', '')}".strip()] += 1
        sold = int(self.psql("SELECT count(*) FROM reservations")[0][0])
        revenue = int(self.psql("SELECT coalesce(sum(amount), 0) FROM payments")[0][0])
        reloads = by_kind["reload"]
        figures = [
            ("requests", len(requests)),
            ("fans", len({r["u"] for r in requests})),
            ("charges acknowledged", sum(1 for a in by_kind["ack"] if a["op"] == "charge")),
            ("payments acknowledged", len(acked_pays)),
            ("seats sold / revenue (won)", f"{sold} / {revenue}"),
            ("OUTCOME_UNKNOWN or lost answers settled by a retry", len(by_kind["settled"])),
            ("keys given up on while unknown (their effect checked above)", len(by_kind["unsettled"])),
            ("'nothing happened' answers to charges and payments", len(by_kind["nothing"])),
            ("payments refused (no hold left, ...)", len(by_kind["payrefused"])),
            ("fans who came back after a reload / places lost / no answer within their patience",
             f"{len(reloads)} / {sum(1 for r in reloads if r['kept'] is False)} / {sum(1 for r in reloads if r['kept'] is None)}"),
            ("errors by status and code", ", ".join(f"{k}: {v}" for k, v in statuses.most_common()) or "none"),
            ("slowest answer (ms)", max((r["d"] for r in requests), default=0)),
        ]
        if audit and isinstance(audit, dict) and audit.get("violations"):
            figures.append(("audit violations", "; ".join(audit["violations"])[:500]))
        return Report(f"chaos-{self.duration}s", self.header(), zeros, figures, self.per_fault(requests, reloads), self.resources())

    def per_fault(self, requests, reloads):
        rows = []
        faults = sorted(self.faults, key=lambda f: f["start"])
        for i, fault in enumerate(faults):
            start, end = fault["start"] * 1000, fault["end"] * 1000
            until = faults[i + 1]["start"] * 1000 if i + 1 < len(faults) else end + 60000
            mine = [r for r in requests if start <= r["t"] < until]
            errors = [r for r in mine if r["s"] == 0 or r["s"] >= 500]
            worst = max((r["d"] for r in mine if r["t"] <= end + GRACE_S * 1000), default=0)
            if errors:
                window = f"{len(errors)} ({(errors[0]['t'] - start) / 1000:.1f}-{(max(r['t'] + r['d'] for r in errors) - start) / 1000:.1f} s)"
                recovered = max(0.0, (max(r["t"] + r["d"] for r in errors) - end) / 1000)
            else:
                window, recovered = "0", 0.0
            # Each reload goes to the fault last begun before it: a place lost
            # to a fault is found when its fan comes back, often after it ended.
            back = [r for r in reloads if start <= r["t0"] < until]
            lost = sum(1 for r in back if r["kept"] is False)
            kind = fault["kind"] + (f" ({fault['link']})" if "link" in fault else "")
            rows.append([kind, fault.get("target", "?"), f"{(fault['end'] - fault['start']):.0f} s", window,
                         f"{worst} ms", f"{recovered:.1f} s", f"{lost} / {len(back)}"])
        return rows

    def resources(self):
        rows = []
        for index in range(self.gateways):
            runs = defaultdict(list)
            for sample in self.samples:
                entry = sample["gateways"].get(index)
                if entry:
                    runs[entry["pid"]].append((sample["t"], entry))
            if not runs:
                continue
            longest = max(runs.values(), key=len)
            rss = [(t, e["rss_kb"] / 1024) for t, e in longest]
            fds = [(t, e["fds"]) for t, e in longest]
            rows.append([f"gateway {index} ({len(runs)} process{'es' if len(runs) > 1 else ''})",
                         f"{rss[0][1]:.0f} -> {rss[-1][1]:.0f} MB", f"{fds[0][1]} -> {fds[-1][1]}",
                         f"{slope_per_10min(rss):+.1f} MB, {slope_per_10min(fds):+.1f} files"])
        memory = [(s["t"], s["redis_bytes"] / 2**20) for s in self.samples if s["redis_bytes"]]
        if memory:
            rows.append(["Redis masters (sum of used_memory)", f"{memory[0][1]:.1f} -> {memory[-1][1]:.1f} MB", "",
                         f"{slope_per_10min(memory):+.2f} MB"])
        return rows

    def header(self):
        commit = COMMIT
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.started))
        return (f"Chaos soak: {stamp}, commit `{commit}`, {os.cpu_count()} cores ({platform.machine()}), "
                f"`CHAOS_SEED={self.seed} DURATION={self.duration}s loadtest/chaos.sh`: {self.gateways} gateways, "
                f"{self.rate} fans a second, a Redis Cluster of 3 masters and 3 replicas (node timeout 2 s), "
                f"{len(self.faults)} faults.")

