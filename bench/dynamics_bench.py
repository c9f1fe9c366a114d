#!/usr/bin/python3
"""Failure dynamics of the long poll with real agents (docs/protocol.md,
"Rules for agents"): N real `outpost run` processes on loopback poll the
real outpost-hub through a TCP relay that this script controls, and that
counts every poll request (and the agent that sent it) per second.

  node death   the relay cuts every agent connection at once and keeps
               accepting (what the agents see when a node behind a
               balancer dies and the others take the retries): the peak
               polls per second in the next 2 poll waits vs the steady rate
               measured just before, and the per-second series.
  outage       the relay cuts everything and refuses connections for
               OUTAGE seconds (the whole group down), then accepts again:
               the time until every agent has polled again, in poll waits.
  connections  connections opened per agent per poll wait, and the
               longest connection seen, in steady state.

Run it for the agent under test and, with --baseline PATH, for another
outpost binary in the same run (e.g. one built from an older commit):
figures are printed side by side. A benchmark, not a test: it never fails
on figures.

  bench/dynamics_bench.py [--agents 100] [--poll-wait 10] [--outage 20]
                          [--baseline /path/to/old/outpost]

Agents have no SNMP credentials or networks (cheap); the hub is
build/outpost-hub (OUTPOST_HUB). Only 127.0.0.1 is used; only processes
started here are signalled, by PID.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import relay  # noqa: E402
from hub_fixture import HubProcess  # noqa: E402

POLL = re.compile(rb"GET /v1/agent/commands[^\r\n]*\r\n(?:[^\r\n]+\r\n)*?"
                  rb"[Aa]uthorization: Bearer ([A-Za-z0-9._~-]+)")


class Relay:
    """TCP relay 127.0.0.1:port -> hub, counting poll requests."""

    def __init__(self, upstream: int):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.events: list[tuple[float, str]] = []     # (time, token) per poll
        self.conns: list[list] = []                   # [opened, closed]
        self.live: set = set()
        self.lsock = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.listen()

    def listen(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(1024)
        self.lsock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def refuse(self):
        s, self.lsock = self.lsock, None
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self):
        with self.lock:
            live = list(self.live)
        for c in live:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream), 5)
                u.settimeout(None)    # a held poll is silent for a poll wait
            except OSError:
                c.close()
                continue
            rec = [time.monotonic(), None]
            with self.lock:
                self.conns.append(rec)
                self.live.add(c)
            left = [2]
            threading.Thread(target=self._pump, args=(c, u, True, rec, left),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False, rec, left),
                             daemon=True).start()

    def _pump(self, src, dst, upstream, rec, left):
        buf = [b""]

        def count(data):
            if not upstream:
                return
            buf[0] = (buf[0] + data)[-8192:]
            found = list(POLL.finditer(buf[0]))
            with self.lock:
                self.events += [(time.monotonic(), m.group(1).decode())
                                for m in found]
            if found:
                buf[0] = buf[0][buf[0].rfind(b"\r\n\r\n") + 4:]

        relay.pump(src, dst, count)
        with self.lock:
            if rec[1] is None:
                rec[1] = time.monotonic()
            left[0] -= 1
            if left[0] == 0:
                self.live.discard(src if upstream else dst)
                src.close()
                dst.close()

    def polls_between(self, t0, t1):
        with self.lock:
            return [e for e in self.events if t0 <= e[0] < t1]


def per_second(events, t0, seconds):
    bins = [0] * seconds
    for t, _ in events:
        i = int(t - t0)
        if 0 <= i < seconds:
            bins[i] += 1
    return bins


def run_variant(name, outpost, hub, tokens, args, work):
    w = args.poll_wait
    relay = Relay(hub.port)
    procs = []
    try:
        for i, tok in enumerate(tokens):
            d = os.path.join(work, name, f"a{i}")
            os.makedirs(os.path.join(d, "state"), exist_ok=True)
            tf = os.path.join(d, "token")
            with open(os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(tok + "\n")
            ini = os.path.join(d, "outpost.ini")
            with open(os.open(ini, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(f"[agent]\nstate_dir = {d}/state\nlog_level = error\n"
                        f"[server]\nurl = http://127.0.0.1:{relay.port}\n"
                        f"token_file = {tf}\npoll_wait = {w}s\n")
            procs.append(subprocess.Popen([outpost, "run", "-c", ini],
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        # steady state: every agent has polled, then one measured window
        time.sleep(2 * w + 6)
        t0 = time.monotonic()
        time.sleep(2 * w)
        steady_ev = relay.polls_between(t0, t0 + 2 * w)
        steady = len(steady_ev) / (2 * w)
        with relay.lock:
            conns = [c for c in relay.conns if c[0] >= t0 and c[0] < t0 + 2 * w]
            all_conns = list(relay.conns)
        now = time.monotonic()
        longest = max(((c[1] or now) - c[0]) for c in all_conns)
        conn_per_agent_w = len(conns) / len(tokens) / 2

        # node death: cut all, keep accepting
        t_cut = time.monotonic()
        relay.cut()
        time.sleep(2 * w)
        series = per_second(relay.polls_between(t_cut, t_cut + 2 * w), t_cut, 2 * w)
        peak = max(series)
        time.sleep(w)

        # outage: cut all, refuse for OUTAGE s, accept again
        relay.refuse()
        relay.cut()
        time.sleep(args.outage)
        t_back = time.monotonic()
        relay.listen()
        want = set(tokens)
        deadline = t_back + max(10 * w, 120)
        back_at = None
        while time.monotonic() < deadline:
            seen = {tok for _, tok in relay.polls_between(t_back, time.monotonic() + 1)}
            if want <= seen:
                first = {}
                for t, tok in relay.polls_between(t_back, time.monotonic() + 1):
                    first.setdefault(tok, t)
                back_at = max(first.values()) - t_back
                break
            time.sleep(0.2)
        if back_at is None:
            seen = {tok for _, tok in relay.polls_between(t_back, time.monotonic())}
        return {"steady": steady, "peak": peak, "series": series,
                "back": back_at, "missing": 0 if back_at is not None else len(want - seen),
                "conn_per_agent_w": conn_per_agent_w, "longest_conn": longest}
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        relay.refuse()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--poll-wait", type=int, default=10)
    ap.add_argument("--outage", type=int, default=20)
    ap.add_argument("--outpost", default=os.environ.get("OUTPOST", os.path.join(
        HERE, "..", "build", "outpost")))
    ap.add_argument("--hub", default=os.environ.get("OUTPOST_HUB", os.path.join(
        HERE, "..", "build", "outpost-hub")))
    ap.add_argument("--baseline", help="another outpost binary, run the same way")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="outpost-dynamics-")
    hub = HubProcess(args.hub, os.path.join(work, "hub"),
                     max_poll_wait=f"{args.poll_wait}s", log_level="info",
                     max_connections="4000")
    try:
        hub.start()
        tokens = [hub.add_agent(f"dyn-{i}") for i in range(args.agents)]
        variants = [("this", args.outpost)]
        if args.baseline:
            variants.append(("baseline", args.baseline))
        res = {}
        for name, binary in variants:
            print(f"== {name}: {binary}, {args.agents} agents, poll wait "
                  f"{args.poll_wait} s", flush=True)
            res[name] = run_variant(name, binary, hub, tokens, args, work)
            r = res[name]
            print(f"   polls/s per second after the cut: {r['series']}", flush=True)
        w = args.poll_wait
        print()
        print(f"{'figure':44} " + " ".join(f"{n:>12}" for n in res) + "   target")
        rows = [
            ("steady polls/s", lambda r: f"{r['steady']:.1f}", ""),
            ("node death: peak polls/s", lambda r: f"{r['peak']}", ""),
            ("node death: peak / steady", lambda r: f"{r['peak'] / r['steady']:.1f}x",
             "<= 2x"),
            (f"outage {args.outage} s: all back after (s)",
             lambda r: f"{r['back']:.1f}" if r["back"] is not None
             else f"{r['missing']} missing", ""),
            ("outage: all back after (poll waits)",
             lambda r: f"{r['back'] / w:.2f}" if r["back"] is not None else "-",
             "<= 1.5"),
            ("connections per agent per poll wait", lambda r: f"{r['conn_per_agent_w']:.2f}",
             ">= ~1"),
            ("longest connection (poll waits)", lambda r: f"{r['longest_conn'] / w:.1f}",
             "~1"),
        ]
        for label, f, target in rows:
            print(f"{label:44} " + " ".join(f"{f(r):>12}" for r in res.values())
                  + f"   {target}")
    finally:
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
