#!/usr/bin/python3
"""make bench-fleet: a hub group behind HAProxy, measured against the
promise of the long poll (issue 8; docs/operations.md, "A group of hub
nodes"). Everything runs on loopback and is started here:

  PostgreSQL 15 (a throw-away cluster, tests/integration/pg_fixture.py),
  5 outpost-hub nodes on it (4 serving at first, the 5th in maintenance),
  HAProxy 2.6 with a TCP-mode and an HTTP-mode frontend over the same
  nodes, build/outpost-swarm running --agents instances of the real
  transport through the TCP frontend and --http-agents through the HTTP
  one, and --real real `outpost run` processes (half through each).

Then, with an operator feeder queueing commands to random agents on
random nodes throughout:

  add node    the 5th node is made ready: time until every node holds
              within +-10 % of the mean share of held connections (TCP
              scur; HTTP: held requests);
  drain       `set server BE/n1 state drain` on the runtime API: time
              until n1 holds 0 connections; then maint, then ready again;
  crash       kill -9 of a node: peak arrivals per second in the next 2
              poll waits vs the steady rate just before; restarted after;
  restart     SIGTERM (the hub's own drain) and start again of a node;
  rolling     all 5 nodes, one after another: drain on HAProxy, wait for
              0 connections, SIGTERM, start, ready;
  outage      every node killed for --outage seconds, then started: time
              until every swarm instance has polled successfully again;
  commands    every command queued got its result (none lost), how many
              were delivered again (agents' duplicate counters), none ran
              twice; every batch was acknowledged (no spool left);
  baseline    the same hub nodes with connections kept
              (OUTPOST_HUB_BENCH_KEEP_CONNECTIONS) and the swarm in
              --persistent mode: one connection per agent for all its
              polls, like a WebSocket tunnel. Its add-node and drain
              figures, in the same run.

Arrivals are HAProxy's own counters (`show stat`: the TCP frontend's
sessions plus the HTTP frontend's requests, per second); held
connections per node its `scur`. A benchmark, not a test: it prints
figures and never fails on them. Needs root (PostgreSQL runs as the
postgres user).

  bench/fleet_bench.py [--agents 8000] [--http-agents 2000] [--real 100]
                       [--poll-wait 20] [--outage 60] [--no-baseline] [--keep]

The defaults are the issue's 10,100 agents. A process may hold only
20,000 descriptors on the development VM (no CAP_SYS_RESOURCE): each
HAProxy mode runs in its own process and the swarm in processes of 5,000
instances. On that VM, shared with other work, the nodes kept up with
3,100 agents (`make bench-fleet FLEET_ARGS="--agents 2400
--http-agents 600"`), not with 4,100 (docs/group.md, "Figures").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from agent_fixture import AgentProcess  # noqa: E402
from haproxy_fixture import HAProxy, free_port  # noqa: E402
from hub_fixture import HubProcess, hub_binary  # noqa: E402
from pg_fixture import PgCluster, unavailable  # noqa: E402
import benchtable  # noqa: E402

BUILD = os.environ.get("BUILD") or os.path.join(HERE, "..", "build")
OUTPOST = os.environ.get("OUTPOST") or os.path.join(BUILD, "outpost")
SWARM = os.path.join(BUILD, "outpost-swarm")
CMD = {"type": "snmp.get", "target": "127.0.0.1:9", "credential": "lab-v2c",
       "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}, "timeout_ms": 1000}
NODES = 5
SWARM_CHUNK = 5000


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Balancers:
    """The TCP-mode and the HTTP-mode HAProxy, driven together."""

    def __init__(self, workdir, ports, active, tcp_conns, http_conns):
        # Loaded nodes answer /healthz late (store calls on the loop):
        # checks that tolerate it. A dead node refuses connections, and
        # HAProxy redispatches those at once anyway.
        kw = dict(check="inter 2s fall 5 rise 2", check_timeout="10s")
        self.tcp = HAProxy(workdir, "tcp", ports, active, tcp_conns, **kw)
        self.http = HAProxy(workdir, "http", ports, active, http_conns, **kw)

    def set_state(self, server, state):
        self.tcp.set_state(server, state)
        self.http.set_state(server, state)

    def stop(self):
        self.tcp.stop()
        self.http.stop()


class Sampler(threading.Thread):
    """HAProxy's counters once a second: arrivals and held per server."""

    def __init__(self, hap):
        super().__init__(daemon=True)
        self.hap = hap
        self.samples = []      # (monotonic, arrivals total, {server: (tcp, http)})
        self.stop_flag = False

    def run(self):
        while not self.stop_flag:
            t = time.monotonic()
            try:
                tcp, http = self.hap.tcp.stat(), self.hap.http.stat()
            except OSError:
                time.sleep(1)
                continue
            # arrivals: new TCP connections (one per poll or upload), and
            # HTTP requests
            arr = int(tcp["FRONTEND"]["stot"] or 0) + int(http["FRONTEND"]["req_tot"] or 0)
            held = {}
            for i in range(NODES):
                n = f"n{i + 1}"
                held[n] = (int(tcp[n]["scur"] or 0), int(http[n]["scur"] or 0),
                           tcp[n]["status"])
            self.samples.append((t, arr, held))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))

    def held(self):
        return self.samples[-1][2] if self.samples else {}

    def rates(self, t0, t1):
        """Arrivals per second over each sampled second in [t0, t1]."""
        s = [x for x in self.samples if t0 <= x[0] <= t1]
        return [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(s, s[1:]) if b[0] > a[0]]


class Feeder(threading.Thread):
    """An operator queueing commands to random agents on random nodes."""

    def __init__(self, nodes, agents, per_s=5.0):
        super().__init__(daemon=True)
        self.nodes, self.agents, self.per_s = nodes, agents, per_s
        self.queued = {}       # id -> agent
        self.refused = 0
        self.stop_flag = False

    def run(self):
        while not self.stop_flag:
            agent = random.choice(self.agents)
            alive = [h for h in self.nodes if h.proc and h.proc.poll() is None]
            random.shuffle(alive)
            for h in alive[:2]:
                try:
                    status, _, body = h.request("POST", f"/v1/agents/{agent}/commands",
                                                CMD, timeout=5)
                except OSError:
                    continue
                if status == 201:
                    self.queued[json.loads(body)["id"]] = agent
                    break
                self.refused += 1
            time.sleep(1.0 / self.per_s)


class Swarm:
    def __init__(self, workdir, name, url, tokens, poll_wait, persistent=False):
        self.stats = os.path.join(workdir, f"{name}.stats")
        tok = os.path.join(workdir, f"{name}.tokens")
        with open(tok, "w") as f:
            f.write("\n".join(tokens) + "\n")
        self.spool = tempfile.mkdtemp(prefix=f"outpost-fleet-{name}-", dir="/dev/shm")
        self.logf = open(os.path.join(workdir, f"{name}.log"), "ab")
        args = [SWARM, "--url", url, "--tokens", tok, "--spool", self.spool,
                "--stats", self.stats, "--poll-wait", str(poll_wait),
                "--start-spread", str(poll_wait)]
        if persistent:
            args.append("--persistent")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT)

    def read(self):
        """Per instance: [polls, errors, commands, duplicates, results,
        batches_sent, spool_files, connects, closes, last_contact_ms]."""
        try:
            with open(self.stats) as f:
                return [list(map(int, ln.split()[1:])) for ln in f if ln.strip()]
        except OSError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        shutil.rmtree(self.spool, ignore_errors=True)


def balanced(held, names, col):
    vals = [held[n][col] for n in names]
    mean = sum(vals) / len(vals)
    return mean > 0 and all(abs(v - mean) <= 0.1 * mean for v in vals)


def wait_until(pred, timeout, step=0.5):
    """Seconds until pred() held, or None after timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def wait_healthy(h, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if h.request("GET", "/healthz", token=None, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)


class Bench:
    def __init__(self, a):
        self.a = a
        self.W = a.poll_wait
        self.dir = tempfile.mkdtemp(prefix="outpost-fleet-")
        self.fig = {}
        self.procs = []

    # ---- setup ----

    def start_group(self, keep_connections=False, db=None):
        if keep_connections:
            os.environ["OUTPOST_HUB_BENCH_KEEP_CONNECTIONS"] = "1"
        else:
            os.environ.pop("OUTPOST_HUB_BENCH_KEEP_CONNECTIONS", None)
        for h in self.nodes:
            h.start()

    def setup(self):
        a = self.a
        log(f"PostgreSQL, {NODES} hub nodes, HAProxy in {self.dir}")
        self.pg = PgCluster()
        self.pg.start()
        self.db = self.pg.new_database()
        self.ports = [free_port() for _ in range(NODES)]
        cfg = dict(max_poll_wait="60s", drain_grace="10s", max_connections="0",
                   command_lease=f"{2 * self.W}s", command_ttl="1h", log_level="info")
        self.nodes = [HubProcess(hub_binary(), os.path.join(self.dir, f"n{i + 1}"),
                                 listen=f"127.0.0.1:{p}", db=self.db, **cfg)
                      for i, p in enumerate(self.ports)]
        self.nodes[0].start()       # migrations, then the agents in one COPY
        self.tokens = {}
        names = [f"swarm-{i}" for i in range(a.agents)] + \
                [f"http-{i}" for i in range(a.http_agents)] + \
                [f"real-{i}" for i in range(a.real)]
        rows = []
        now = int(time.time() * 1000)
        for n in names:
            tok = secrets.token_urlsafe(24)
            self.tokens[n] = tok
            rows.append(f"{n}\t\\\\x{hashlib.sha256(tok.encode()).hexdigest()}\t{now}")
        p = subprocess.run([os.path.join(self.pg.bindir, "psql"), "-X", "-q",
                            "-v", "ON_ERROR_STOP=1", "-d", self.db, "-c",
                            "COPY agents(name, token_hash, created_ms) FROM STDIN"],
                           input="\n".join(rows) + "\n", text=True, capture_output=True)
        if p.returncode != 0:
            raise RuntimeError("COPY agents: " + p.stderr)
        for h in self.nodes[1:4]:
            h.start()
        self.hap = Balancers(self.dir, self.ports, 4,
                             int(1.1 * (a.agents + a.real // 2)) + 200,
                             int(1.1 * (a.http_agents + a.real // 2)) + 200)
        self.sampler = Sampler(self.hap)
        self.sampler.start()
        self.names = names

    def start_agents(self, persistent=False):
        a, W = self.a, self.W
        tcp = f"http://127.0.0.1:{self.hap.tcp.port}"
        http = f"http://127.0.0.1:{self.hap.http.port}"
        # one swarm process per SWARM_CHUNK instances: two descriptors
        # each (spool directory, connection) under the 20,000 limit
        self.swarms = []
        groups = [("tcp", tcp, [f"swarm-{i}" for i in range(a.agents)])]
        if not persistent:
            groups.append(("http", http, [f"http-{i}" for i in range(a.http_agents)]))
        for tag, url, names in groups:
            for k in range(0, len(names), SWARM_CHUNK):
                self.swarms.append(Swarm(
                    self.dir, f"{tag}{k}" + ("-persistent" if persistent else ""), url,
                    [self.tokens[n] for n in names[k:k + SWARM_CHUNK]], W, persistent))
        self.real = []
        if persistent:
            return
        for i in range(a.real):
            ag = AgentProcess(OUTPOST, os.path.join(self.dir, f"real-{i}"),
                              tcp if i % 2 == 0 else http, self.tokens[f"real-{i}"],
                              allow="127.0.0.1", poll_wait=f"{W}s",
                              extra={"server": {"backoff_base": "1s",
                                                "backoff_cap": "5m"},
                                     "agent": {"log_level": "info"}})
            ag.start()
            self.real.append(ag)

    def stop_agents(self):
        for s in self.swarms:
            s.stop()
        for ag in self.real:
            ag.stop()

    def swarm_totals(self):
        tot = [0] * 10
        for s in self.swarms:
            for row in s.read():
                for i, v in enumerate(row):
                    tot[i] += v
        return tot

    # ---- phases ----

    def steady(self, secs):
        t1 = time.monotonic()
        time.sleep(secs)
        r = self.sampler.rates(t1, time.monotonic())
        return sum(r) / len(r) if r else float("nan")

    def peak(self, t0, secs):
        time.sleep(max(0.0, t0 + secs - time.monotonic()))
        r = self.sampler.rates(t0, t0 + secs + 1)
        return max(r) if r else float("nan")

    def add_node(self, tag):
        W = self.W
        if self.nodes[4].proc is None or self.nodes[4].proc.poll() is not None:
            self.nodes[4].start()
        wait_healthy(self.nodes[4])
        self.hap.set_state("n5", "ready")
        names = [f"n{i + 1}" for i in range(NODES)]
        t_tcp = wait_until(lambda: balanced(self.sampler.held(), names, 0), 3 * W)
        self.fig[f"rebalance_tcp{tag}"] = t_tcp
        self.fig[f"share_n5{tag}"] = self.share("n5", names)
        if not tag:
            t_http = wait_until(lambda: balanced(self.sampler.held(), names, 1), W)
            self.fig["rebalance_http"] = None if t_http is None else \
                (t_tcp or 3 * W) + t_http
        log(f"add node{tag}: tcp {t_tcp}; held {self.sampler.held()}")

    def share(self, node, names):
        held = self.sampler.held()
        total = sum(held[n][0] for n in names)
        return held[node][0] / total if total else float("nan")

    def drain(self, tag):
        W = self.W
        self.hap.set_state("n1", "drain")
        t0 = time.monotonic()
        # read at once, not from the sampler's last second
        t_tcp = wait_until(lambda: self.hap.tcp.held("n1") == 0, 3 * W, step=0.2)
        self.fig[f"drain_tcp{tag}"] = t_tcp
        self.fig[f"drain_left{tag}"] = self.sampler.held()["n1"][0]
        if not tag:
            left = max(0.0, 1.5 * W - (time.monotonic() - t0))
            t_http = wait_until(lambda: self.hap.http.held("n1") == 0, left, step=0.2)
            self.fig["drain_http"] = None if t_http is None else time.monotonic() - t0
        log(f"drain{tag}: tcp {t_tcp}; held {self.sampler.held()}")
        self.hap.set_state("n1", "maint")

    def crash_and_restart(self):
        W = self.W
        base = self.steady(W)
        h = self.nodes[1]
        t0 = time.monotonic()
        h.signal(signal.SIGKILL)
        h.wait(10)
        self.fig["crash"] = (self.peak(t0, 2 * W), base)
        log(f"crash: peak {self.fig['crash']}")
        t0 = time.monotonic()
        h.start()
        self.fig["crash_back"] = (self.peak(t0, W), base)
        base = self.steady(W)
        h = self.nodes[2]
        t0 = time.monotonic()
        h.stop(30)
        h.start()
        self.fig["restart"] = (self.peak(t0, 2 * W), base)
        log(f"restart: peak {self.fig['restart']}")

    def rolling(self):
        W = self.W
        base = self.steady(W)
        t0 = time.monotonic()
        for i, h in enumerate(self.nodes):
            n = f"n{i + 1}"
            self.hap.set_state(n, "drain")
            wait_until(lambda: self.sampler.held()[n][0] == 0 and
                       self.sampler.held()[n][1] == 0, 2 * W)
            h.stop(30)
            h.start()
            wait_healthy(h)
            self.hap.set_state(n, "ready")
            log(f"rolling: {n} done at {time.monotonic() - t0:.1f} s")
        dur = time.monotonic() - t0
        self.fig["rolling"] = (self.peak(t0, dur + W), base, dur)

    def outage(self):
        W = self.W
        for h in self.nodes:
            h.signal(signal.SIGKILL)
        for h in self.nodes:
            h.wait(10)
        log(f"outage: all nodes down for {self.a.outage} s")
        time.sleep(self.a.outage)
        for h in self.nodes:
            h.start()
        t_back = time.time() * 1000
        t0 = time.monotonic()

        # Back: the agent's poll is held by a node (HAProxy's scur over
        # the servers; a connection waiting in HAProxy's queue is not).
        def held_total():
            return sum(v[0] + v[1] for v in self.sampler.held().values())
        t = wait_until(lambda: held_total() >= 0.999 * self.total, 3 * W)
        self.fig["outage"] = t
        self.fig["outage_held"] = held_total()

        # Answered: the first poll after the return has been answered
        # (its 2xx), which takes up to one more held wait.
        def not_answered():
            rows = [r for s in self.swarms for r in s.read()]
            return sum(1 for r in rows if r[9] < t_back) if rows else -1
        left = max(0.0, 3 * W - (time.monotonic() - t0))
        t2 = wait_until(lambda: not_answered() == 0, left, step=1.0)
        self.fig["outage_answered"] = None if t2 is None else time.monotonic() - t0
        self.fig["outage_left"] = not_answered()
        log(f"outage: held in {t} s, answered in {self.fig['outage_answered']} s")

    def check_commands(self):
        W = self.W
        self.feeder.stop_flag = True
        self.feeder.join()
        ids = self.feeder.queued
        deadline = time.monotonic() + 3 * W + 2 * W   # a lease and a poll
        while True:
            out = self.pg.psql("SELECT id, status, result IS NOT NULL, deliveries "
                               "FROM commands", db=self.db.rsplit("/", 1)[1])
            st = {}
            for ln in out.splitlines():
                cid, status, has, n = ln.split("|")
                st[cid] = (status, has == "t", int(n))
            lost = [c for c in ids if not st.get(c, ("", False))[1]]
            if (not lost and self.swarm_totals()[6] == 0) or time.monotonic() > deadline:
                break
            time.sleep(2)
        tot = self.swarm_totals()
        to_swarm = sum(1 for c, ag in ids.items() if not ag.startswith("real-"))
        self.fig["commands"] = dict(queued=len(ids), lost=len(lost),
                                    to_swarm=to_swarm, received=tot[2],
                                    duplicates=tot[3], spool=tot[6],
                                    redelivered=sum(max(0, v[2] - 1) for c, v in st.items()
                                                    if c in ids),
                                    refused=self.feeder.refused)
        log(f"commands: {self.fig['commands']}")

    def run(self):
        a, W = self.a, self.W
        try:
            self.setup()
            log(f"{a.agents} swarm agents (TCP), {a.http_agents} (HTTP), "
                f"{a.real} outpost run, poll wait {W} s")
            self.start_agents()
            time.sleep(2 * W)
            self.feeder = Feeder(self.nodes, self.names)
            self.feeder.start()
            self.fig["steady"] = self.steady(W)
            log(f"steady {self.fig['steady']:.1f}/s; held {self.sampler.held()}")
            self.add_node("")
            self.drain("")
            self.hap.set_state("n1", "ready")
            time.sleep(W)
            self.crash_and_restart()
            self.rolling()
            time.sleep(W)
            self.outage()
            time.sleep(W)
            self.check_commands()
            self.stop_agents()
            if not a.no_baseline:
                self.baseline()
        finally:
            self.teardown()
        self.report()

    def baseline(self):
        W = self.W
        log("baseline: persistent connections")
        for h in self.nodes:
            h.stop(30)
        self.hap.set_state("n5", "maint")
        os.environ["OUTPOST_HUB_BENCH_KEEP_CONNECTIONS"] = "1"
        try:
            for h in self.nodes[:4]:
                h.start()
            self.hap.set_state("n1", "ready")
            wait_until(lambda: all(self.sampler.held()[f"n{i}"][2] == "UP"
                                   for i in range(1, 5)), 10)
            self.start_agents(persistent=True)
            time.sleep(2 * W)
            self.add_node("_base")
            self.drain("_base")
            self.stop_agents()
        finally:
            os.environ.pop("OUTPOST_HUB_BENCH_KEEP_CONNECTIONS", None)

    def teardown(self):
        for s in getattr(self, "swarms", []):
            s.stop()
        for ag in getattr(self, "real", []):
            try:
                ag.stop()
            except AssertionError:
                pass
        if hasattr(self, "sampler"):
            self.sampler.stop_flag = True
        if hasattr(self, "hap"):
            self.hap.stop()
        for h in getattr(self, "nodes", []):
            try:
                h.stop()
            except AssertionError:
                pass
        if hasattr(self, "pg"):
            self.pg.stop()
        if not self.a.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the table ----

    def report(self):
        W, f = self.W, self.fig
        pw = f"{W} s"

        def secs(t, limit=None):
            return f"> {limit:.0f} s" if t is None else f"{t:.1f} s ({t / W:.2f} W)"

        def met(ok):
            return "yes" if ok else "NO"

        def ratio(key):
            peak, base = f[key][0], f[key][1]
            return peak / base if base else float("nan")

        rows = [("steady arrivals (HAProxy)", f"{f['steady']:.0f}/s",
                 f"N/W = {self.total / W:.0f}/s", "-", pw, "-")]
        base_add = "-" if "rebalance_tcp_base" not in f else (
            secs(f["rebalance_tcp_base"], 3 * W) +
            f", n5 holds {100 * f['share_n5_base']:.0f} %")
        rows.append(("rebalance after adding node 5, TCP", secs(f["rebalance_tcp"], 3 * W),
                     "<= 1.0 W", base_add, pw,
                     met(f["rebalance_tcp"] is not None and f["rebalance_tcp"] <= W)))
        rows.append(("rebalance after adding node 5, HTTP", secs(f.get("rebalance_http"), 4 * W),
                     "-", "-", pw, "-"))
        base_drain = "-" if "drain_tcp_base" not in f else (
            secs(f["drain_tcp_base"], 3 * W) + f", {f['drain_left_base']} left")
        rows.append(("drain a node (runtime API), TCP", secs(f["drain_tcp"], 3 * W),
                     "<= 1.0 W", base_drain, pw,
                     met(f["drain_tcp"] is not None and f["drain_tcp"] <= W)))
        rows.append(("drain a node (runtime API), HTTP", secs(f.get("drain_http"), 1.5 * W),
                     "-", "-", pw, "-"))
        for key, name in (("crash", "kill -9 of a node: peak arrivals"),
                          ("crash_back", "the killed node back: peak arrivals"),
                          ("restart", "restart (SIGTERM, start): peak arrivals"),
                          ("rolling", "rolling deploy of 5 nodes: peak arrivals")):
            r = ratio(key)
            rows.append((name, f"{f[key][0]:.0f}/s = {r:.2f}x steady", "<= 2x", "-", pw,
                         met(r <= 2.0)))
        rows.append(("rolling deploy of 5 nodes: duration", secs(f["rolling"][2]),
                     "~ 5 x (W + restart)", "-", pw, "-"))
        c = f["commands"]
        rows.append(("commands queued / lost", f"{c['queued']} / {c['lost']}", "0 lost",
                     "-", pw, met(c["lost"] == 0)))
        rows.append(("commands delivered again (hub deliveries > 1; agents' duplicates)",
                     f"{c['redelivered']} ({c['duplicates']})",
                     "-", "-", pw, "-"))
        ran_twice = max(0, c["received"] - c["to_swarm"])
        rows.append(("swarm commands run / queued to swarm (run twice)",
                     f"{c['received']} / {c['to_swarm']} ({ran_twice})", "0 twice",
                     "-", pw, met(ran_twice == 0)))
        rows.append(("batches left unacknowledged in spools", str(c["spool"]), "0", "-", pw,
                     met(c["spool"] == 0)))
        out = f["outage"]
        rows.append((f"back after a {self.a.outage} s outage (99.9 % of polls held)",
                     secs(out, 3 * W) + ("" if out is not None else
                                         f", {f['outage_held']} held"),
                     "<= 1.5 W", "-", pw, met(out is not None and out <= 1.5 * W)))
        ans = f["outage_answered"]
        rows.append(("  ... and every swarm agent's poll answered",
                     secs(ans, 3 * W) + ("" if ans is not None else
                                         f", {f['outage_left']} not yet"),
                     "<= 2.5 W (+ one held wait)", "-", pw,
                     met(ans is not None and ans <= 2.5 * W)))
        print()
        benchtable.print_targets(rows, note=(
            f"N = {self.a.agents} swarm agents through HAProxy in TCP mode, "
            f"{self.a.http_agents} through another HAProxy in HTTP mode, {self.a.real} outpost run "
            "(half each); 5 outpost-hub nodes on PostgreSQL 15; all on loopback. "
            "W = poll wait. Baseline: the same swarm with --persistent and nodes "
            "that keep connections."))

    @property
    def total(self):
        return self.a.agents + self.a.http_agents + self.a.real


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=8000)
    p.add_argument("--http-agents", type=int, default=2000)
    p.add_argument("--real", type=int, default=100)
    p.add_argument("--poll-wait", type=int, default=20)
    p.add_argument("--outage", type=int, default=60)
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args()
    why = unavailable()
    if why:
        sys.exit(f"fleet_bench: {why}")
    for tool in ("haproxy",):
        if shutil.which(tool) is None:
            sys.exit(f"fleet_bench: {tool} is not installed (packaging/deps.sh)")
    if not os.access(SWARM, os.X_OK):
        sys.exit(f"fleet_bench: {SWARM} is missing: make swarm")
    Bench(a).run()


if __name__ == "__main__":
    main()
