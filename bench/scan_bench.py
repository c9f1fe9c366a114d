#!/usr/bin/python3
"""Discovery of a /16 where 1% answers: outpost scan against
onesixtyone -w 0, both measured in the same run, same namespace, same
responders.

65,536 addresses (127.62.0.0/16) inside a network namespace this bench
creates, whose ICMP port-unreachables are dropped (tests/integration/
scan_netns.py): 655 addresses answer SNMP v2c for community "public",
every other one is silent like a dead host on a real network. The
responders are the device farm (FARM=path to outpost-farm, default
build/outpost-farm if it exists; 48-port switches) or, without it,
tests/integration/scan_responder.py (one socket per answering address).

Printed per tool: wall time, CPU time (user+sys), max RSS (/usr/bin/time
-v), devices found (recall), each the median of BENCH_SCAN_RUNS runs
(default 3, interleaved), with ratios outpost / onesixtyone. outpost is
run twice over: "--rate 0 -t 1 -r 0" (one try, as onesixtyone sends) and
"--rate 0 -t 1 -r 1" (a retry for every silent address). BENCH_SCAN_DEFAULTS=1
adds a run with no flags at all (default rate and retries: minutes).

A benchmark, not a test: it prints figures and fails only if a tool does
not run; without root (ip netns, nft) it says it is skipped.
"""

import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import scan_netns  # noqa: E402
sys.path.insert(0, HERE)
import benchtable  # noqa: E402

OUTPOST = os.environ.get("OUTPOST") or os.path.join(ROOT, "build", "outpost")
FARM = os.environ.get("FARM") or os.path.join(ROOT, os.environ.get("BUILD", "build"),
                                              "outpost-farm")
RUNS = int(os.environ.get("BENCH_SCAN_RUNS", "3"))
NET = "127.62.0.0/16"
RESPONDERS = 655
PEER = "onesixtyone -w 0"


def responders():
    rnd = random.Random(1601)   # the same addresses every run
    picks = sorted(rnd.sample(range(1, 65535), RESPONDERS))
    return [f"127.62.{i >> 8}.{i & 255}" for i in picks]


def start_devices(ns, addrs):
    if os.access(FARM, os.X_OK):
        ready = os.path.join(ns.tmp, "farm.ready")
        argv = [FARM, "--listen", "0.0.0.0:161", "--ready-file", ready]
        for a in addrs:
            argv += ["--device", f"{a}=switch48"]
        ns.start(argv, ready_check=lambda: os.path.exists(ready), timeout=120)
        return f"outpost-farm ({FARM})"
    ns.responder(addrs)
    return "scan_responder.py"


def measure(ns, argv):
    """(wall s, cpu s, max RSS KiB, stdout) of argv inside the namespace."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.run(ns.cmd(["/usr/bin/time", "-v", *argv]), stdout=out,
                           stderr=err)
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        data, errs = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if p.returncode != 0:
        raise SystemExit(f"scan_bench: {' '.join(argv)} exited {p.returncode}: {errs[-800:]}")

    def field(name):
        m = re.search(rf"^\s*{re.escape(name)}: (.*)$", errs, re.M)
        if m is None:
            raise SystemExit(f"scan_bench: no '{name}' from /usr/bin/time: {errs[-800:]}")
        return m.group(1)
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return wall, cpu, int(field("Maximum resident set size (kbytes)")), data


def found_outpost(out):
    return set(re.findall(r'"address":\s*"([^"]+)"', out))


def found_peer(out):
    return {ln.split()[0] for ln in out.splitlines() if "[public]" in ln}


def run():
    why = scan_netns.available()
    if why is not None:
        raise SystemExit(f"scan_bench: {why}")
    for tool in ("onesixtyone", "/usr/bin/time"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            raise SystemExit(f"scan_bench: {tool} is not installed")
    addrs = responders()
    want = set(addrs)
    rows = []
    with scan_netns.Netns("outpost-scanbench") as ns:
        peer_kind = start_devices(ns, addrs)
        comm = os.path.join(ns.tmp, "communities")
        with open(comm, "w") as f:
            f.write("public\n")
        tools = {
            "-r 0": [OUTPOST, "scan", "--json", "-c", "public", "--rate", "0",
                     "-t", "1", "-r", "0", NET],
            "-r 1": [OUTPOST, "scan", "--json", "-c", "public", "--rate", "0",
                     "-t", "1", "-r", "1", NET],
            PEER: ["onesixtyone", "-w", "0", "-c", comm, NET],
        }
        if os.environ.get("BENCH_SCAN_DEFAULTS") == "1":
            tools["defaults"] = [OUTPOST, "scan", "--json", "-c", "public", NET]
        res = {k: [] for k in tools}
        for _ in range(RUNS):   # interleaved, so drift hits all alike
            for k, argv in tools.items():
                w, c, rss, out = measure(ns, argv)
                got = found_peer(out) if k == PEER else found_outpost(out)
                res[k].append((w, c, rss, len(got & want), len(got - want)))
    med = {k: tuple(statistics.median(r[i] for r in v) for i in range(5))
           for k, v in res.items()}
    p = med[PEER]
    for k in tools:
        if k == PEER:
            continue
        o = med[k]
        name = f"scan /16, 1% answer, outpost {'(defaults)' if k == 'defaults' else '--rate 0 -t 1 ' + k}"
        rows.append((f"{name}: wall", o[0], PEER, p[0], "s", "{:.2f}"))
        rows.append((f"{name}: CPU", o[1], PEER, p[1], "s", "{:.2f}"))
        rows.append((f"{name}: max RSS", o[2] / 1024, PEER, p[2] / 1024, "MB", "{:.1f}"))
        rows.append((f"{name}: found of {RESPONDERS}", o[3], PEER, p[3], "devices",
                     "{:.0f}"))
        if o[4]:
            rows.append((f"{name}: found that do not exist", o[4], PEER, p[4],
                         "devices", "{:.0f}"))
    return rows, peer_kind


def main():
    why = scan_netns.available()
    if why is not None:   # not a failure: other benchmarks still run
        print(f"scan_bench: skipped: {why}")
        return
    rows, peer_kind = run()
    print(f"scan_bench: {NET}, {RESPONDERS} responders ({peer_kind}), the rest "
          f"silent (namespace, ICMP dropped); median of {RUNS} runs")
    benchtable.print_table(rows)


if __name__ == "__main__":
    main()
