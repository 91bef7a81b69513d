#!/usr/bin/env python3
"""The chaos soak (run through loadtest/chaos.sh): a sale on several gateways
over a Redis Cluster and a Postgres of its own, while faults drawn from a seed
come one after another, then a verdict on the history it left.

Everything runs on loopback ports of its own (7401-7443) and is removed at
the end: six Redis nodes (7401-7406) each reached through a fault-injecting
proxy (7411-7416; the nodes announce the proxy's port, so clients and
replicas go through it), a Postgres cluster (7430) behind a proxy (7431), the
proxies' control (7420), and the gateways (7441...).

Environment: CHAOS_SEED (random when unset; printed), DURATION (600s), RATE
(arrivals a second, 8), GATEWAYS (3), RESULTS (a markdown file to write the
verdict into, between `chaos-<duration>:start` and `:end` markers),
BOXOFFICE_BIN, CHAOS_PROXY_BIN, K6, CHAOS_KEEP (1: keep the work directory).

Exit status: 0 when every promised zero is zero, 1 when one is not, 2 when the
run itself could not be made.
"""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos_verdict  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_BASE = 7401
ANNOUNCE_OFFSET = 10
CONTROL = 7420
PG_PORT = 7430
PG_PROXY = 7431
GATEWAY_BASE = 7441
ADMIN_TOKEN = "chaos-admin"
# Postgres gives up on a statement after this long (the gateways' setting);
# a freeze outlasts it.
STATEMENT_TIMEOUT_MS = 2000
ARENA_SCHEDULES = 12
ARENA_SEATS = 1000
QUIET_TAIL_S = 30


def log(message):
    print(f"chaos: {message}", file=sys.stderr, flush=True)


def run(*args, check=True, **kwargs):
    return subprocess.run(args, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def seconds(text):
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600}
    if text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def http(url, method="GET", body=None, headers=None, timeout=10):
    request = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except Exception as error:  # the gateway or proxy is not there (yet)
        return 0, str(error)


# ------------------------------------------------------------------ the schedule

NETWORK = ["latency", "thin", "silent", "cut", "slow_close"]
KINDS = ["redis_kill", "redis_freeze", "pg_restart", "pg_freeze", "gateway_kill"] + NETWORK


def draw_schedule(seed, duration, gateways):
    """Faults one after another: every kind once in a shuffled order, then
    again, each with its target and length, 10-20 s apart, the first at 20 s
    and the last over QUIET_TAIL_S before the end."""
    rng = random.Random(seed)
    # A short run (the one in CI) packs its faults closer and shorter.
    short = duration < 300
    schedule = []
    at = 20.0
    kinds = []
    while True:
        if not kinds:
            kinds = KINDS[:]
            rng.shuffle(kinds)
        kind = kinds.pop()
        fault = {"kind": kind, "at": at}
        if kind in NETWORK:
            fault["link"] = rng.choice(["pg", "redis"])
            fault["hold"] = float(rng.randint(10, 15 if short else 30))
        elif kind in ("redis_kill", "redis_freeze"):
            fault["hold"] = 10.0 if kind == "redis_kill" else 5.0
        elif kind == "pg_freeze":
            fault["hold"] = STATEMENT_TIMEOUT_MS / 1000 + 3
        elif kind == "gateway_kill":
            fault["gateway"] = rng.randrange(gateways)
            fault["hold"] = 3.0
        else:
            fault["hold"] = 0.0
        fault["pick"] = rng.random()
        if at + fault["hold"] + 5 > duration - QUIET_TAIL_S:
            break
        schedule.append(fault)
        at += fault["hold"] + (rng.randint(5, 10) if short else rng.randint(10, 20))
    return schedule


# ------------------------------------------------------------------ the parts


class Stack:
    def __init__(self, work, gateways, bin_path, proxy_bin):
        self.work = work
        self.gateway_count = gateways
        self.bin = bin_path
        self.proxy_bin = proxy_bin
        self.pg_version = sorted(os.listdir("/etc/postgresql"))[-1]
        self.pg_name = f"bo_chaos_{PG_PORT}"
        self.gateways = {}
        self.proxy = None
        self.cluster_dir = os.path.join(work, "cluster")
        self.env = dict(os.environ)

    # -- stores

    def start_postgres(self):
        run("pg_dropcluster", self.pg_version, self.pg_name, "--stop", check=False)
        run("pg_createcluster", self.pg_version, self.pg_name, "-p", str(PG_PORT), "--", "--auth=trust")
        conf = f"/etc/postgresql/{self.pg_version}/{self.pg_name}/conf.d/chaos.conf"
        with open(conf, "w") as out:
            out.write("fsync = off\nfull_page_writes = off\nmax_connections = 200\n")
        self.pg_ctl("start")

    def pg_ctl(self, action, *extra):
        run("pg_ctlcluster", "--skip-systemctl-redirect", self.pg_version, self.pg_name, action, *extra)
        for _ in range(100):
            if action == "stop" or run("pg_isready", "-h", "127.0.0.1", "-p", str(PG_PORT), check=False).returncode == 0:
                return
            time.sleep(0.1)

    def pg_pids(self):
        pidfile = f"/var/run/postgresql/{self.pg_version}-{self.pg_name}.pid"
        with open(pidfile) as f:
            postmaster = f.readline().strip()
        children = run("pgrep", "-P", postmaster, check=False).stdout.split()
        return [postmaster] + children

    def psql(self, sql):
        out = run("psql", "-X", "-At", "-F", "\t", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres",
                  "-d", "boxoffice", "-c", sql)
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def start_proxy(self):
        links = ["--link", f"pg={PG_PROXY}:{PG_PORT}"]
        for i in range(6):
            links += ["--link", f"r{i + 1}={REDIS_BASE + ANNOUNCE_OFFSET + i}:{REDIS_BASE + i}"]
        self.proxy = subprocess.Popen([self.proxy_bin, "--control", f"127.0.0.1:{CONTROL}"] + links,
                                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "proxy.log"), "w"))
        for _ in range(100):
            if http(f"http://127.0.0.1:{CONTROL}/links")[0] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("the proxies did not start")

    def cluster_env(self):
        return dict(self.env, CLUSTER_BASE_PORT=str(REDIS_BASE), CLUSTER_ANNOUNCE_OFFSET=str(ANNOUNCE_OFFSET),
                    CLUSTER_NODE_TIMEOUT_MS="2000", CLUSTER_DIR=self.cluster_dir)

    def start_cluster(self):
        # Nodes an interrupted run left behind would be taken for this run's.
        subprocess.run(["bash", os.path.join(ROOT, "scripts/redis-cluster.sh"), "stop"], env=self.cluster_env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["bash", os.path.join(ROOT, "scripts/redis-cluster.sh"), "start"], env=self.cluster_env(),
                       check=True, stdout=subprocess.DEVNULL)

    def redis_masters(self):
        """Real ports of the masters, as a node that answers sees them."""
        for i in range(6):
            out = run("redis-cli", "-p", str(REDIS_BASE + i), "cluster", "nodes", check=False)
            if out.returncode != 0 or not out.stdout.strip():
                continue
            masters = []
            for line in out.stdout.splitlines():
                fields = line.split()
                if "master" in fields[2] and "fail" not in fields[2] and len(fields) > 8:
                    masters.append(int(fields[1].split("@")[0].split(":")[1]) - ANNOUNCE_OFFSET)
            if masters:
                return sorted(masters)
        return []

    def redis_pid(self, port):
        with open(os.path.join(self.cluster_dir, f"{port}.pid")) as f:
            return int(f.read().strip())

    def redis_memory(self):
        total = 0
        for i in range(6):
            out = run("redis-cli", "-p", str(REDIS_BASE + i), "info", "memory", check=False).stdout
            match = re.search(r"^used_memory:(\d+)", out, re.M)
            if match and "master" in run("redis-cli", "-p", str(REDIS_BASE + i), "role", check=False).stdout[:10]:
                total += int(match.group(1))
        return total

    # -- gateways

    def gateway_env(self, index):
        nodes = ",".join(f"127.0.0.1:{REDIS_BASE + ANNOUNCE_OFFSET + i}" for i in range(6))
        return dict(
            self.env,
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{PG_PROXY}/boxoffice",
            BOXOFFICE_REDIS_CLUSTER=nodes,
            BOXOFFICE_ADDR=f"127.0.0.1:{GATEWAY_BASE + index}",
            BOXOFFICE_TOKEN_SECRET="chaos-token-secret",
            BOXOFFICE_ADMIN_TOKEN=ADMIN_TOKEN,
            BOXOFFICE_REDIS_PREFIX="chaos",
            BOXOFFICE_JOIN_RATE_LIMIT="0",
            BOXOFFICE_POLL_RATE_LIMIT="0",
            BOXOFFICE_READ_RATE_LIMIT="0",
            BOXOFFICE_MAX_CONNECTIONS_PER_IP="0",
            BOXOFFICE_ADMIT_RATE="30",
            BOXOFFICE_MAX_ACTIVE="400",
            BOXOFFICE_HOLD_TTL_S="30",
            BOXOFFICE_IDLE_TIMEOUT_S="30",
            BOXOFFICE_ACTIVE_TTL_S="120",
            BOXOFFICE_DB_STATEMENT_TIMEOUT_MS=str(STATEMENT_TIMEOUT_MS),
            RUST_LOG="warn",
        )

    def start_gateway(self, index):
        out = open(os.path.join(self.work, f"gateway-{index}.log"), "a")
        process = subprocess.Popen([self.bin], env=self.gateway_env(index), stdout=out, stderr=subprocess.STDOUT)
        self.gateways[index] = process
        return process

    def wait_ready(self, index, limit=60):
        deadline = time.time() + limit
        while time.time() < deadline:
            if http(f"http://127.0.0.1:{GATEWAY_BASE + index}/ready", timeout=2)[0] == 200:
                return True
            if self.gateways[index].poll() is not None:
                return False
            time.sleep(0.2)
        return False

    def base_urls(self):
        return ",".join(f"http://127.0.0.1:{GATEWAY_BASE + i}" for i in range(self.gateway_count))

    def stop(self):
        for process in list(self.gateways.values()) + ([self.proxy] if self.proxy else []):
            if process.poll() is None:
                process.terminate()
        for process in list(self.gateways.values()) + ([self.proxy] if self.proxy else []):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        # A frozen store would not stop: let everything run again first.
        for pid in self.frozen_pids():
            os.kill(pid, signal.SIGCONT)
        subprocess.run(["bash", os.path.join(ROOT, "scripts/redis-cluster.sh"), "stop"], env=self.cluster_env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run("pg_dropcluster", self.pg_version, self.pg_name, "--stop", check=False)

    def frozen_pids(self):
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state == "T":
                pids.append(int(name))
        return pids


# ------------------------------------------------------------------ the faults


def toxic(link, body):
    status, text = http(f"http://127.0.0.1:{CONTROL}/links/{link}/toxics", "POST", json.dumps(body).encode(),
                        {"content-type": "application/json"})
    if status != 204:
        raise RuntimeError(f"toxic on {link}: {status} {text}")


def heal(link):
    status, text = http(f"http://127.0.0.1:{CONTROL}/links/{link}/heal", "POST", b"")
    if status != 204:
        raise RuntimeError(f"heal {link}: {status} {text}")


TOXICS = {
    # Every reply 300 ms late.
    "latency": [{"name": "late", "type": "latency", "stream": "downstream", "attributes": {"latency": 300}}],
    # A thin link: replies in 64-byte pieces, 2 ms apart (noxious's bandwidth
    # toxic panics on a busy link; slicing slows it just as well).
    "thin": [{"name": "thin", "type": "slicer", "stream": "downstream",
              "attributes": {"average_size": 64, "size_variation": 32, "delay": 2000}}],
    # Connections accepted, nothing ever answered, none closed.
    "silent": [{"name": "silent", "type": "timeout", "stream": "downstream", "attributes": {"timeout": 0}}],
    # Every connection cut after 2 KB of replies, mid-reply.
    "cut": [{"name": "cut", "type": "limit_data", "stream": "downstream", "attributes": {"bytes": 2048}}],
    # Closing a connection takes 3 s.
    "slow_close": [{"name": "close", "type": "slow_close", "stream": "downstream", "attributes": {"delay": 3000}}],
}


def apply_fault(stack, fault, record):
    """Starts the fault; returns what ends it."""
    kind = fault["kind"]
    if kind in NETWORK:
        if fault["link"] == "pg":
            link = "pg"
        else:
            masters = stack.redis_masters()
            port = masters[int(fault["pick"] * len(masters))]
            link = f"r{port - REDIS_BASE + 1}"
        record["target"] = link
        for body in TOXICS[kind]:
            toxic(link, body)
        return lambda: heal(link)
    if kind in ("redis_kill", "redis_freeze"):
        masters = stack.redis_masters()
        port = masters[int(fault["pick"] * len(masters))]
        pid = stack.redis_pid(port)
        record["target"] = f"redis {port}"
        if kind == "redis_freeze":
            os.kill(pid, signal.SIGSTOP)
            return lambda: os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGKILL)
        # The killed node comes back with its config file and rejoins as a
        # replica of the one that took over.
        return lambda: restart_redis(stack, port)
    if kind == "pg_restart":
        record["target"] = "postgres"
        stack.pg_ctl("restart", "-m", "fast")
        return lambda: None
    if kind == "pg_freeze":
        record["target"] = "postgres"
        pids = stack.pg_pids()
        for pid in pids:
            os.kill(int(pid), signal.SIGSTOP)

        def thaw():
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGCONT)
                except ProcessLookupError:
                    pass
        return thaw
    if kind == "gateway_kill":
        index = fault["gateway"]
        record["target"] = f"gateway {index}"
        stack.gateways[index].kill()
        stack.gateways[index].wait()

        def restart():
            stack.start_gateway(index)
            if not stack.wait_ready(index):
                raise RuntimeError(f"gateway {index} did not come back")
        return restart
    raise ValueError(kind)


def restart_redis(stack, port):
    directory = stack.cluster_dir
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
            "--cluster-config-file", f"{directory}/nodes-{port}.conf", "--cluster-node-timeout", "2000",
            "--cluster-replica-validity-factor", "0", "--cluster-announce-ip", "127.0.0.1",
            "--cluster-announce-port", str(port + ANNOUNCE_OFFSET), "--cluster-announce-bus-port", str(port + 10000),
            "--save", "", "--appendonly", "no", "--dir", directory, "--daemonize", "yes",
            "--logfile", f"{directory}/{port}.log", "--pidfile", f"{directory}/{port}.pid"]
    run(*args)


def run_schedule(stack, schedule, started, faults, stop_event):
    for fault in schedule:
        delay = started + fault["at"] - time.time()
        if delay > 0 and stop_event.wait(delay):
            return
        record = {"kind": fault["kind"], "start": time.time()}
        if "link" in fault:
            record["link"] = fault["link"]
        try:
            end = apply_fault(stack, fault, record)
            log(f"t={record['start'] - started:6.1f}s {fault['kind']} on {record.get('target')} for {fault['hold']:.0f}s")
            stop_event.wait(fault["hold"])
            end()
        except Exception as error:  # noqa: BLE001 - recorded, the run goes on
            record["error"] = str(error)
            log(f"fault {fault['kind']} failed: {error}")
        record["end"] = time.time()
        faults.append(record)


# ------------------------------------------------------------------ sampling


def client_connections(port):
    out = run("ss", "-Htn", "state", "established", f"( sport = :{port} )", check=False).stdout
    return len(out.splitlines())


def sample(stack, samples, stop_event, started):
    while not stop_event.wait(10):
        row = {"t": time.time() - started, "gateways": {}, "redis_bytes": stack.redis_memory()}
        for index, process in stack.gateways.items():
            try:
                with open(f"/proc/{process.pid}/status") as f:
                    rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
                # Open files apart from the fans' connections, whose number
                # follows the load, not a leak.
                fds = len(os.listdir(f"/proc/{process.pid}/fd")) - client_connections(GATEWAY_BASE + index)
                row["gateways"][index] = {"pid": process.pid, "rss_kb": rss, "fds": fds}
            except (OSError, AttributeError):
                pass
        samples.append(row)


# ------------------------------------------------------------------ main


def main():
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 10**9))
    duration = seconds(os.environ.get("DURATION", "600s"))
    rate = int(os.environ.get("RATE", "8"))
    gateways = int(os.environ.get("GATEWAYS", "3"))
    bin_path = os.environ.get("BOXOFFICE_BIN", os.path.join(ROOT, "target/release/boxoffice"))
    proxy_bin = os.environ.get("CHAOS_PROXY_BIN", os.path.join(ROOT, "target/release/examples/chaos_proxy"))
    k6 = os.environ.get("K6", "k6")
    schedule = draw_schedule(seed, duration, gateways)
    log(f"CHAOS_SEED={seed} DURATION={duration}s RATE={rate}/s GATEWAYS={gateways}: {len(schedule)} faults")
    for fault in schedule:
        log(f"  at {fault['at']:5.0f}s {fault['kind']}" + (f" ({fault['link']})" if "link" in fault else "")
            + f" for {fault['hold']:.0f}s")

    work = tempfile.mkdtemp(prefix="boxoffice-chaos.")
    stack = Stack(work, gateways, bin_path, proxy_bin)
    users = rate * duration + 1000
    status = 2
    try:
        stack.start_postgres()
        stack.start_proxy()
        stack.start_cluster()
        log(f"seeding {users} users and {ARENA_SCHEDULES} x {ARENA_SEATS} seats")
        seed_env = dict(stack.gateway_env(0), DATABASE_URL=f"postgres://postgres@127.0.0.1:{PG_PORT}/boxoffice")
        subprocess.run([bin_path, "seed", "--users", str(users - 1000), "--arena-schedules", str(ARENA_SCHEDULES),
                        "--arena-seats", str(ARENA_SEATS)], env=seed_env, check=True,
                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "seed.log"), "w"))
        concert = stack.psql("SELECT id FROM concerts WHERE code = 'bench-arena'")[0][0]
        schedules = [row[0] for row in stack.psql(f"SELECT id FROM concert_schedules WHERE concert_id = {concert} ORDER BY id")]
        for index in range(gateways):
            stack.start_gateway(index)
        for index in range(gateways):
            if not stack.wait_ready(index):
                raise RuntimeError(f"gateway {index} did not start (see {work}/gateway-{index}.log)")
        log(f"{gateways} gateways ready; the sale opens")

        k6_log = os.path.join(work, "k6.log")
        k6_env = dict(os.environ, BASE_URLS=stack.base_urls(), RATE=str(rate), DURATION=f"{duration}s",
                      CONCERT_ID=concert, SCHEDULES=",".join(schedules), SEATS_PER_SCHEDULE=str(ARENA_SEATS),
                      USERS=str(users), RUN=f"c{seed}")
        started = time.time()
        load = subprocess.Popen([k6, "run", "--quiet", "--no-color", "--no-summary", f"--console-output={k6_log}",
                                 os.path.join(ROOT, "loadtest/chaos.js")], env=k6_env,
                                stdout=open(os.path.join(work, "k6.out"), "w"), stderr=subprocess.STDOUT)
        stop_event = threading.Event()
        faults, samples = [], []
        sampler = threading.Thread(target=sample, args=(stack, samples, stop_event, started), daemon=True)
        sampler.start()
        run_schedule(stack, schedule, started, faults, stop_event)
        load.wait()
        last = max([f["end"] for f in faults], default=started)
        quiet = last + 10 - time.time()
        if quiet > 0:
            time.sleep(quiet)
        stop_event.set()
        audit_status, audit = http(f"http://127.0.0.1:{GATEWAY_BASE}/admin/invariants",
                                   headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60)
        verdict = chaos_verdict.Verdict(
            seed=seed, duration=duration, rate=rate, gateways=gateways, started=started, faults=faults,
            samples=samples, k6_log=k6_log, psql=stack.psql, audit=(audit_status, audit))
        report = verdict.compute()
        print(report.text())
        if os.environ.get("RESULTS"):
            report.write(os.environ["RESULTS"], os.path.join(ROOT, "loadtest/write_table.py"), work)
        status = 0 if report.passed() else 1
    except Exception as error:  # noqa: BLE001 - the run could not be made
        log(f"ERROR: {error}")
        status = 2
    finally:
        stack.stop()
        if status == 0 and os.environ.get("CHAOS_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")
    sys.exit(status)


if __name__ == "__main__":
    main()
