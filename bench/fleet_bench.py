#!/usr/bin/python3
"""make bench-fleet: a hub group behind HAProxy, measured against the
promise of the long poll (issue 8; docs/operations.md, "A group of hub
nodes"). Everything runs on loopback and is started here:

  PostgreSQL 15 (a throw-away cluster, tests/integration/pg_fixture.py),
  5 outpost-hub nodes on it (4 serving at first, the 5th in maintenance),
  HAProxy 2.6 processes in TCP mode and in HTTP mode over the same nodes
  (one per --per-proc agents and mode, each under the open file limit;
  every drain and state change goes to all of them), build/outpost-swarm
  processes (one per HAProxy process) running --agents instances of the
  real transport through the TCP-mode ones and --http-agents through the
  HTTP-mode ones, and --real real `outpost run` processes (half through
  each mode, spread over the HAProxy processes).

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
              until every swarm instance is back (a node holds its poll,
              so a command reaches it at once: the poll's send time, or
              when it left a queue, from bench/swarm.c), peak arrivals
              after the return; the first answers come one held wait
              after that, printed too;
  commands    every command queued got its result (none lost), how many
              were delivered again (agents' duplicate counters), none ran
              twice; every batch was acknowledged (no spool left);
  baseline    the same hub nodes with connections kept
              (OUTPOST_HUB_BENCH_KEEP_CONNECTIONS) and the swarm in
              --persistent mode: one connection per agent for all its
              polls, like a WebSocket tunnel. Its add-node and drain
              figures, in the same run.

Arrivals are HAProxy's own counters (`show stat`: the TCP frontends'
sessions plus the HTTP frontends' requests, per second, summed over the
processes); held connections per node their `scur`. The CPU of every
process the bench started (swarm, HAProxy, nodes, outpost run) and the
load average are printed after the table: a swarm process near a whole
core is starved and its agents' timing late, which the table then shows
rather than the design. A benchmark, not a test: it prints figures and
never fails on them. Needs root (PostgreSQL runs as the postgres user).

  bench/fleet_bench.py [--agents 8000] [--http-agents 2000] [--real 100]
                       [--poll-wait 20] [--outage 60] [--per-proc 4000]
                       [--phases add,drain,crash,rolling,outage,baseline]
                       [--no-baseline] [--keep]

The defaults are the issue's 10,100 agents. A process may hold only
20,000 descriptors on the development VM (no CAP_SYS_RESOURCE), about
two per agent in a swarm or an HAProxy process: hence processes of at
most --per-proc agents. docs/group.md, "Figures", has the runs.
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
from haproxy_fixture import free_port  # noqa: E402
from hub_fixture import HubProcess, hub_binary  # noqa: E402
from pg_fixture import PgCluster, unavailable  # noqa: E402
import benchtable  # noqa: E402
from fleet_procs import NODES, SWARM, Balancers, Sampler, Swarm  # noqa: E402

BUILD = os.environ.get("BUILD") or os.path.join(HERE, "..", "build")
OUTPOST = os.environ.get("OUTPOST") or os.path.join(BUILD, "outpost")
CMD = {"type": "snmp.get", "target": "127.0.0.1:9", "credential": "lab-v2c",
       "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}, "timeout_ms": 1000}
# Agents per swarm process and per HAProxy process: each holds about two
# descriptors per agent (a swarm: the poll's connection and the spool
# directory; HAProxy: both sides of a connection) and a process may hold
# at most 20,000 on the development VM.
PER_PROC = 4000
PHASES = ("add", "drain", "crash", "rolling", "outage", "baseline")


def split(names, parts):
    """names in `parts` nearly equal consecutive groups."""
    q, r = divmod(len(names), parts)
    out, k = [], 0
    for i in range(parts):
        n = q + (1 if i < r else 0)
        out.append(names[k:k + n])
        k += n
    return out


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


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

    def watch_node(self, h):
        self.sampler.watch[h.proc.pid] = f"hub n{self.nodes.index(h) + 1}"

    def start_node(self, h):
        h.start()
        if hasattr(self, "sampler"):
            self.watch_node(h)

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
        # one HAProxy process (per mode) for every --per-proc agents
        real = [f"real-{i}" for i in range(a.real)]
        self.layout = {}       # mode -> [(swarm names, real names)] per instance
        for mode, swarm, reals in (("tcp", names[:a.agents], real[0::2]),
                                   ("http", names[a.agents:a.agents + a.http_agents],
                                    real[1::2])):
            k = max(1, -(-(len(swarm) + len(reals)) // a.per_proc))
            self.layout[mode] = list(zip(split(swarm, k), split(reals, k)))
        self.hap = Balancers(self.dir, self.ports, 4,
                             [len(x) + len(y) for x, y in self.layout["tcp"]],
                             [len(x) + len(y) for x, y in self.layout["http"]])
        log(f"HAProxy: {len(self.hap.tcp)} TCP-mode and {len(self.hap.http)} "
            f"HTTP-mode processes")
        self.sampler = Sampler(self.hap)
        try:
            with open(os.path.join(self.pg.data, "postmaster.pid")) as f:
                self.sampler.pg_root = int(f.readline())
        except (OSError, ValueError):
            pass
        for h in self.nodes:
            if h.proc is not None:
                self.watch_node(h)
        for i, h in enumerate(self.hap.all):
            self.sampler.watch[h.proc.pid] = f"haproxy {h.name}"
        self.sampler.start()
        self.names = names

    def start_agents(self, persistent=False):
        W = self.W
        # one swarm process per HAProxy process, --per-proc agents at most
        self.swarms = []
        for mode in ("tcp",) if persistent else ("tcp", "http"):
            for k, (swarm, reals) in enumerate(self.layout[mode]):
                if not swarm:
                    continue
                hap = (self.hap.tcp if mode == "tcp" else self.hap.http)[k]
                sw = Swarm(self.dir, f"{hap.name}" + ("-persistent" if persistent else ""),
                           hap.url, [self.tokens[n] for n in swarm], W, persistent)
                self.sampler.watch[sw.proc.pid] = f"swarm {hap.name}" + \
                    (" persistent" if persistent else "")
                self.swarms.append(sw)
        self.real = []
        if persistent:
            return
        for mode in ("tcp", "http"):
            for k, (_, reals) in enumerate(self.layout[mode]):
                hap = (self.hap.tcp if mode == "tcp" else self.hap.http)[k]
                for n in reals:
                    ag = AgentProcess(OUTPOST, os.path.join(self.dir, n), hap.url,
                                      self.tokens[n], allow="127.0.0.1", poll_wait=f"{W}s",
                                      extra={"server": {"backoff_base": "1s",
                                                        "backoff_cap": "5m"},
                                             "agent": {"log_level": "info"}})
                    ag.start()
                    self.real.append(ag)
        for ag in self.real:
            self.sampler.watch[ag.proc.pid] = f"outpost run x{len(self.real)}"

    def stop_agents(self):
        for s in self.swarms:
            s.stop()
        for ag in self.real:
            ag.stop()

    def swarm_totals(self):
        tot = [0] * 9
        for s in self.swarms:
            for row in s.read():
                for i, v in enumerate(row[:9]):
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
            self.start_node(self.nodes[4])
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
        t_tcp = wait_until(lambda: self.hap.held("n1", "tcp") == 0, 3 * W, step=0.2)
        self.fig[f"drain_tcp{tag}"] = t_tcp
        self.fig[f"drain_left{tag}"] = self.sampler.held()["n1"][0]
        if not tag:
            left = max(0.0, 1.5 * W - (time.monotonic() - t0))
            t_http = wait_until(lambda: self.hap.held("n1", "http") == 0, left, step=0.2)
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
        self.start_node(h)
        self.fig["crash_back"] = (self.peak(t0, W), base)
        base = self.steady(W)
        h = self.nodes[2]
        t0 = time.monotonic()
        h.stop(30)
        self.start_node(h)
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
            self.start_node(h)
            wait_healthy(h)
            self.hap.set_state(n, "ready")
            log(f"rolling: {n} done at {time.monotonic() - t0:.1f} s")
        dur = time.monotonic() - t0
        self.fig["rolling"] = (self.peak(t0, dur + W), base, dur)

    def outage(self):
        W = self.W
        base = self.steady(W)
        t_kill = time.time() * 1000
        up = [h for h in self.nodes if h.proc is not None and h.proc.poll() is None]
        for h in up:
            h.signal(signal.SIGKILL)
        for h in up:
            h.wait(10)
        log(f"outage: all nodes down for {self.a.outage} s")
        time.sleep(self.a.outage)
        t_back = time.time() * 1000      # before the first node starts
        t0 = time.monotonic()
        for h in up:
            self.start_node(h)

        # Held: HAProxy's scur over the servers (a connection waiting in
        # HAProxy's queue is not held), for the fleet as a whole.
        def held_total():
            return sum(v[0] + v[1] for v in self.sampler.held().values())

        # Back, per agent: the swarm instance's first poll after the
        # return that a node held (and then answered 2xx): from then on a
        # command queued for it is delivered at once. Its time is the
        # hub's, not the answer's (bench/swarm.c, held_from_ms); the
        # answer comes one held wait later.
        back, answered, fails = {}, {}, {}
        total = sum(len(x) for x, _ in self.layout["tcp"] + self.layout["http"])
        t_held = None
        while time.monotonic() - t0 < 3 * W:
            for k, sw in enumerate(self.swarms):
                for i, r in enumerate(sw.read()):
                    key = (k, i)
                    if key not in back and r[10] > t_kill:
                        back[key] = (r[10] - t_back) / 1000
                        # its last failure, if it came after the return
                        fails[key] = (r[11], (r[12] - t_back) / 1000) \
                            if r[12] > t_back else None
                    if key not in answered and r[9] > t_back:
                        answered[key] = time.monotonic() - t0
            if t_held is None and held_total() >= 0.999 * self.total:
                t_held = time.monotonic() - t0
            if len(answered) >= total and t_held is not None:
                break
            time.sleep(1.0)
        self.fig["outage"] = t_held
        self.fig["outage_peak"] = (self.peak(t0, 1.5 * W), base)
        self.fig["outage_held"] = held_total()
        b = sorted(back.values())
        self.fig["outage_back"] = dict(
            n=len(b), total=total,
            p50=b[len(b) // 2] if b else None, p99=b[int(0.99 * (len(b) - 1))] if b else None,
            max=b[-1] if len(b) == total else None,
            within=sum(1 for x in b if x <= 1.5 * W))
        self.fig["outage_answered"] = max(answered.values()) if len(answered) == total else None
        self.fig["outage_left"] = total - len(answered)
        # The late ones: what their last failure after the return was.
        late = {}
        for key, t in back.items():
            if t > W:
                code, when = fails.get(key) or ("none after the return", 0.0)
                late.setdefault(code, []).append(when)
        self.fig["outage_late"] = {c: (len(v), min(v), max(v)) for c, v in late.items()}
        # The three last back, each with its swarm stats row at the end
        for key in sorted(back, key=back.get)[-3:]:
            k, i = key
            row = self.swarms[k].read()[i]
            log(f"outage: late agent {os.path.basename(self.swarms[k].stats)}#{i}: back {back[key]:.1f} s, "
                f"answered {answered.get(key)}, row {row}")
        log(f"outage: held in {t_held} s, back {self.fig['outage_back']}, answered in "
            f"{self.fig['outage_answered']} s; late agents' last failures "
            f"(code: n, first s, last s): {self.fig['outage_late']}")

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
        # every command the hub took for a swarm agent, with those whose
        # 201 the feeder did not see in time (a slow node)
        to_swarm = int(self.pg.psql(
            "SELECT count(*) FROM commands c JOIN agents a ON a.id = c.agent_id "
            "WHERE a.name NOT LIKE 'real-%'", db=self.db.rsplit("/", 1)[1]).strip())
        self.fig["commands"] = dict(queued=len(ids), lost=len(lost),
                                    to_swarm=to_swarm, received=tot[2],
                                    duplicates=tot[3], spool=tot[6],
                                    redelivered=sum(max(0, v[2] - 1) for c, v in st.items()
                                                    if c in ids),
                                    refused=self.feeder.refused)
        log(f"commands: {self.fig['commands']}")

    def run(self):
        a, W = self.a, self.W
        ph = set(a.phases.split(","))
        t_start = time.monotonic()
        try:
            self.setup()
            log(f"{a.agents} swarm agents (TCP), {a.http_agents} (HTTP), "
                f"{a.real} outpost run, poll wait {W} s; phases {a.phases}")
            self.start_agents()
            time.sleep(2 * W)
            self.feeder = Feeder(self.nodes, self.names)
            self.feeder.start()
            self.fig["steady"] = self.steady(W)
            log(f"steady {self.fig['steady']:.1f}/s; held {self.sampler.held()}")
            if "add" in ph:
                self.add_node("")
            if "drain" in ph:
                self.drain("")
                self.hap.set_state("n1", "ready")
                time.sleep(W)
            if "crash" in ph:
                self.crash_and_restart()
            if "rolling" in ph:
                self.rolling()
                time.sleep(W)
            if "outage" in ph:
                self.outage()
                time.sleep(W)
            self.check_commands()
            self.cpu = self.sampler.cpu_report()
            self.stop_agents()
            if "baseline" in ph:
                self.baseline()
        finally:
            self.teardown()
        self.fig["duration"] = time.monotonic() - t_start
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
                self.start_node(h)
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
        if "rebalance_tcp" in f:
            base_add = "-" if "rebalance_tcp_base" not in f else (
                secs(f["rebalance_tcp_base"], 3 * W) +
                f", n5 holds {100 * f['share_n5_base']:.0f} %")
            rows.append(("rebalance after adding node 5, TCP",
                         secs(f["rebalance_tcp"], 3 * W), "<= 1.0 W", base_add, pw,
                         met(f["rebalance_tcp"] is not None and f["rebalance_tcp"] <= W)))
            rows.append(("rebalance after adding node 5, HTTP",
                         secs(f.get("rebalance_http"), 4 * W), "-", "-", pw, "-"))
        if "drain_tcp" in f:
            base_drain = "-" if "drain_tcp_base" not in f else (
                secs(f["drain_tcp_base"], 3 * W) + f", {f['drain_left_base']} left")
            rows.append(("drain a node (runtime API), TCP", secs(f["drain_tcp"], 3 * W),
                         "<= 1.0 W", base_drain, pw,
                         met(f["drain_tcp"] is not None and f["drain_tcp"] <= W)))
            rows.append(("drain a node (runtime API), HTTP",
                         secs(f.get("drain_http"), 1.5 * W), "-", "-", pw, "-"))
        for key, name in (("crash", "kill -9 of a node: peak arrivals"),
                          ("crash_back", "the killed node back: peak arrivals"),
                          ("restart", "restart (SIGTERM, start): peak arrivals"),
                          ("rolling", "rolling deploy of 5 nodes: peak arrivals"),
                          ("outage_peak", f"{self.a.outage} s outage, the return: "
                                          "peak arrivals")):
            if key in f:
                # beside N/W too: a starved group serves less than its
                # agents want, and its measured steady rate drops with it
                r = ratio(key)
                rows.append((name, f"{f[key][0]:.0f}/s = {r:.2f}x steady "
                                   f"({f[key][0] * W / self.total:.2f}x N/W)",
                             "<= 2x", "-", pw, met(r <= 2.0)))
        if "rolling" in f:
            rows.append(("rolling deploy of 5 nodes: duration", secs(f["rolling"][2]),
                         "~ 5 x (W + restart)", "-", pw, "-"))
        c = f["commands"]
        rows.append(("commands queued / lost", f"{c['queued']} / {c['lost']}", "0 lost",
                     "-", pw, met(c["lost"] == 0)))
        rows.append(("commands delivered again (hub deliveries > 1; agents' duplicates)",
                     f"{c['redelivered']} ({c['duplicates']})", "-", "-", pw, "-"))
        ran_twice = max(0, c["received"] - c["to_swarm"])
        rows.append(("swarm commands run / queued to swarm (run twice)",
                     f"{c['received']} / {c['to_swarm']} ({ran_twice})", "0 twice",
                     "-", pw, met(ran_twice == 0)))
        rows.append(("batches left unacknowledged in spools", str(c["spool"]), "0", "-", pw,
                     met(c["spool"] == 0)))
        if "outage_back" in f:
            b, o = f["outage_back"], self.a.outage
            mx = b["max"]
            rows.append((f"{o} s outage: every swarm agent back (its poll held by a node)",
                         secs(mx, 3 * W) + ("" if mx is not None else
                                            f", {b['total'] - b['n']} not yet"),
                         "<= 1.5 W", "-", pw, met(mx is not None and mx <= 1.5 * W)))
            rows.append(("  ... agents back: median / p99",
                         f"{b['p50']:.1f} s / {b['p99']:.1f} s" if b["n"] else "-",
                         "-", "-", pw, "-"))
            out = f["outage"]
            rows.append(("  ... 99.9 % of polls held (HAProxy scur)",
                         secs(out, 3 * W) + ("" if out is not None else
                                             f", {f['outage_held']} held"),
                         "-", "-", pw, "-"))
            ans = f["outage_answered"]
            rows.append(("  ... every swarm agent's first poll answered",
                         secs(ans, 3 * W) + ("" if ans is not None else
                                             f", {f['outage_left']} not yet"),
                         "back + its held wait", "-", pw, "-"))
        print()
        benchtable.print_targets(rows, note=(
            f"N = {self.a.agents} swarm agents through {len(self.layout['tcp'])} HAProxy "
            f"processes in TCP mode, {self.a.http_agents} through "
            f"{len(self.layout['http'])} in HTTP mode, {self.a.real} outpost run (half "
            "each); 5 outpost-hub nodes on PostgreSQL 15; all on loopback. W = poll "
            "wait. Baseline: the same swarm with --persistent and nodes that keep "
            f"connections. Run took {f['duration'] / 60:.1f} min."))
        self.report_cpu()

    def report_cpu(self):
        """The bench's own processes: a swarm process that waits for a CPU
        a large share of the time (or runs near a whole core) is starved,
        and its agents' timing late: the figures are then the machine's,
        not the design's. So is a group that serves far less than N/W."""
        procs, (load_mean, load_max), runq = self.cpu
        print()
        print(f"CPU, % of one core (mean over the run / busiest 10 s), and % of the "
              f"time runnable but waiting for a CPU; load average (1 min) mean "
              f"{load_mean:.1f}, max {load_max:.1f} on {os.cpu_count()} cores")
        for label in sorted(procs):
            mean, peak = procs[label]
            print(f"  {label:<24} {mean:5.0f} % / " +
                  ("    -" if peak != peak else f"{peak:5.0f} %") +
                  f"   waited {runq.get(label, float('nan')):5.0f} %")
        starved = [k for k, (m, p) in procs.items() if k.startswith("swarm") and
                   (p >= 85 or runq.get(k, 0) >= 10)]
        served = self.fig["steady"] * self.W / self.total
        if starved or served < 0.8:
            print(f"  STARVED: the group served {100 * served:.0f} % of N/W; "
                  f"{', '.join(starved) or 'no swarm process'} waited for a CPU "
                  "10 % of the time or more, or ran near a whole core: the "
                  "figures above are the machine's, not the design's")

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
    p.add_argument("--per-proc", type=int, default=PER_PROC,
                   help="agents per swarm and per HAProxy process (descriptors)")
    p.add_argument("--phases", default=",".join(PHASES),
                   help="which phases run, of " + ",".join(PHASES))
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args()
    if a.no_baseline:
        a.phases = ",".join(x for x in a.phases.split(",") if x != "baseline")
    bad = set(a.phases.split(",")) - set(PHASES)
    if bad:
        sys.exit(f"fleet_bench: unknown phase {', '.join(sorted(bad))} "
                 f"(phases: {', '.join(PHASES)})")
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
