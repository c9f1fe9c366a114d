#!/usr/bin/python3
"""outpost-hub benchmarks (make bench). Figures, never pass/fail.

  (a) 10,000 long polls held at once: hub RSS and CPU while they are held
      (VmRSS and utime+stime from /proc over ~10 s), threads, then SIGTERM:
      how fast every held poll is answered and the hub has exited.
  (b) command delivery latency with 1,000 agents long-polling: 500
      commands POSTed to random agents; latency from the start of the
      operator's POST to the agent's receipt of the response (p50, p99).
  (c) batch ingest: small gzip batches posted one after another (each one
      a committed transaction with synchronous=FULL before its 200), and
      the fsync cost of the filesystem holding the database.

Everything runs on 127.0.0.1. The benchmark raises its own fd limit; the
10,000 agents are inserted straight into the hub's database (the CLI would
take a process per agent).

    run(hub_path) -> [(name, value, unit), ...]
    python3 bench/hub_bench.py [HUB]        # prints the rows
"""

import asyncio
import gzip
import hashlib
import json
import os
import random
import resource
import signal
import sqlite3
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from hub_fixture import ADMIN_TOKEN, HubProcess  # noqa: E402

HELD = int(os.environ.get("BENCH_HUB_HELD", "10000"))
AGENTS = int(os.environ.get("BENCH_HUB_AGENTS", "1000"))
COMMANDS = int(os.environ.get("BENCH_HUB_COMMANDS", "500"))
CPU_WINDOW = float(os.environ.get("BENCH_HUB_CPU_WINDOW", "10"))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime + stime


def add_agents(db, n, prefix):
    """n agents with tokens prefix-i, straight into the hub's store."""
    tokens = [f"{prefix}-{i:05d}-bench-token" for i in range(n)]
    con = sqlite3.connect(db, timeout=30)
    now = int(time.time() * 1000)
    con.executemany("INSERT INTO agents(name, token_hash, created_ms) VALUES (?, ?, ?)",
                    [(f"{prefix}-{i}", hashlib.sha256(t.encode()).digest(), now)
                     for i, t in enumerate(tokens)])
    con.commit()
    con.close()
    return tokens


# ---- a minimal HTTP/1.1 client on asyncio streams ----

async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


def request_bytes(method, path, token, body=b"", extra=""):
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nUser-Agent: outpost/bench\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


# ---- (a) held polls ----

async def hold_polls(port, tokens, wait_s):
    conns = []
    sem = asyncio.Semaphore(400)

    async def one(tok):
        async with sem:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(request_bytes("GET", f"/v1/agent/commands?wait={wait_s}", tok))
            await w.drain()
            conns.append((r, w))

    await asyncio.gather(*(one(t) for t in tokens))
    return conns


async def bench_held(hub, rows):
    tokens = add_agents(hub.db, HELD, "held")
    pid = hub.proc.pid
    rss0 = proc_status(pid, "VmRSS")
    t0 = time.monotonic()
    conns = await hold_polls(hub.port, tokens, 110)
    opened = time.monotonic() - t0
    await asyncio.sleep(2)   # let the hub take every request
    rss1 = proc_status(pid, "VmRSS")
    cpu0, w0 = proc_cpu_s(pid), time.monotonic()
    await asyncio.sleep(CPU_WINDOW)
    cpu1, w1 = proc_cpu_s(pid), time.monotonic()
    rss2 = proc_status(pid, "VmRSS")
    rows += [
        ("held polls", len(conns), "connections"),
        ("open and send them", round(opened, 2), "s"),
        ("hub RSS idle", round(rss0 / 1024, 1), "MiB"),
        ("hub RSS with polls held", round(max(rss1, rss2) / 1024, 1), "MiB"),
        ("RSS per held poll", round((max(rss1, rss2) - rss0) / len(conns), 2), "KiB"),
        ("hub CPU while held", round(100 * (cpu1 - cpu0) / (w1 - w0), 2), "% of a core"),
        ("hub threads", proc_status(pid, "Threads"), "threads"),
    ]
    # Drain: every held poll answered, then the process exits.
    t0 = time.monotonic()
    hub.signal(signal.SIGTERM)
    answered = 0

    async def answer(r):
        nonlocal answered
        try:
            status, body = await asyncio.wait_for(read_response(r), 30)
            # The drain hint is 1-5 s; a poll shed earlier says 10-30 s.
            if status == 200 and 1000 <= json.loads(body)["next_poll_ms"] <= 5000:
                answered += 1
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass

    await asyncio.gather(*(answer(r) for r, _ in conns))
    t_answered = time.monotonic() - t0
    rc = await asyncio.get_running_loop().run_in_executor(None, hub.wait, 30)
    t_exit = time.monotonic() - t0
    for _, w in conns:
        w.close()
    rows += [
        ("SIGTERM: held polls answered", answered, "polls"),
        ("SIGTERM: all answered after", round(t_answered * 1000), "ms"),
        ("SIGTERM: hub exited after", round(t_exit * 1000), "ms"),
    ]
    if rc != 0:
        raise SystemExit(f"hub_bench: hub exited {rc} after SIGTERM")


# ---- (b) delivery latency ----

async def agent_loop(port, token, received, stop):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    ack = None
    try:
        while not stop.is_set():
            path = "/v1/agent/commands?wait=60" + (f"&ack={ack}" if ack else "")
            w.write(request_bytes("GET", path, token))
            await w.drain()
            status, body = await read_response(r)
            t = time.monotonic()
            if status != 200:
                await asyncio.sleep(0.5)
                continue
            resp = json.loads(body)
            for c in resp["commands"]:
                received.setdefault(c["id"], t)
            ack = resp["cursor"] if resp["commands"] else None
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        w.close()


async def bench_latency(hub, rows):
    tokens = add_agents(hub.db, AGENTS, "lat")
    received, stop = {}, asyncio.Event()
    tasks = [asyncio.create_task(agent_loop(hub.port, t, received, stop)) for t in tokens]
    await asyncio.sleep(2)   # every agent is holding a poll
    r, w = await asyncio.open_connection("127.0.0.1", hub.port)
    posted = {}
    rng = random.Random(7)
    cmd = {"type": "snmp.get", "target": "10.1.0.5", "credential": "lab",
           "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}}
    post_ms = []
    for _ in range(COMMANDS):
        agent = f"lat-{rng.randrange(AGENTS)}"
        body = json.dumps(cmd).encode()
        t = time.monotonic()
        w.write(request_bytes("POST", f"/v1/agents/{agent}/commands", ADMIN_TOKEN, body,
                              "Content-Type: application/json\r\n"))
        await w.drain()
        status, data = await read_response(r)
        post_ms.append((time.monotonic() - t) * 1000)
        if status != 201:
            raise SystemExit(f"hub_bench: POST command: {status} {data[:200]!r}")
        posted[json.loads(data)["id"]] = t
        await asyncio.sleep(0.01)
    deadline = time.monotonic() + 10
    while len(received.keys() & posted.keys()) < len(posted) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    w.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = sorted((received[i] - t) * 1000 for i, t in posted.items() if i in received)
    if not lat:
        raise SystemExit("hub_bench: no command was delivered")
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    rows += [
        ("agents long-polling", AGENTS, "agents"),
        ("commands delivered", f"{len(lat)}/{len(posted)}", "commands"),
        ("delivery latency p50", round(p(0.50), 2), "ms"),
        ("delivery latency p99", round(p(0.99), 2), "ms"),
        ("delivery latency max", round(lat[-1], 2), "ms"),
        ("operator POST p50 (committed)", round(statistics.median(post_ms), 2), "ms"),
    ]


# ---- (c) ingest ----

async def bench_ingest(hub, rows, n=300):
    token = add_agents(hub.db, 1, "ingest")[0]
    r, w = await asyncio.open_connection("127.0.0.1", hub.port)
    samples = [{"device": f"10.1.0.{i}:161", "ts": 1764324000000, "profile": "interfaces",
                "columns": [".1.3.6.1.2.1.31.1.1.1.6", ".1.3.6.1.2.1.31.1.1.1.10"],
                "rows": {str(k): [123456789 + k, 98765 + k] for k in range(1, 25)}}
               for i in range(10)]
    took = []
    for b in range(1, n + 1):
        body = gzip.compress(json.dumps({"batch_id": b, "samples": samples}).encode())
        t = time.monotonic()
        w.write(request_bytes("POST", "/v1/agent/results", token, body,
                              "Content-Encoding: gzip\r\n"))
        await w.drain()
        status, _ = await read_response(r)
        took.append((time.monotonic() - t) * 1000)
        if status != 200:
            raise SystemExit(f"hub_bench: batch: {status}")
    w.close()
    fs = []
    path = os.path.join(os.path.dirname(hub.db), "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    for _ in range(100):
        os.write(fd, b"x" * 4096)
        t = time.monotonic()
        os.fsync(fd)
        fs.append((time.monotonic() - t) * 1000)
    os.close(fd)
    os.unlink(path)
    rows += [
        ("ingest: batch of 10 devices x 24 rows", len(body), "bytes gzip"),
        ("ingest: POST to 200 (committed, FULL)", round(statistics.median(took), 2),
         "ms p50"),
        ("ingest: batches per second, one client", round(1000 / statistics.mean(took)),
         "batches/s"),
        ("fsync on the database's filesystem", round(statistics.median(fs), 3), "ms p50"),
    ]


def run(hub_path):
    rows = []
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        hub = HubProcess(hub_path, tmp, max_connections=str(HELD * 6 // 5 + 1000),
                         max_poll_wait="120s", drain_grace="20s", log_level="info")
        hub.start()
        try:
            asyncio.run(bench_held(hub, rows))
            hub.start()
            asyncio.run(bench_latency(hub, rows))
            asyncio.run(bench_ingest(hub, rows))
        finally:
            hub.stop(30)
    return rows


def main():
    hub = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUTPOST_HUB") or \
        os.path.join(HERE, "..", "build", "outpost-hub")
    rows = run(os.path.abspath(hub))
    width = max(len(r[0]) for r in rows)
    print(f"{'outpost-hub':<{width}}  {'value':>10}  unit")
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value!s:>10}  {unit}")


if __name__ == "__main__":
    main()
