#!/usr/bin/python3
"""make bench: Outpost against its peers, each measured in the same run.

Benchmarks are not tests: they print figures and ratios, and only fail
when a tool does not run. Devices are real snmpd instances on loopback.

  (a) scan of a loopback /22 holding 200 snmpd devices: outpost scan
      --rate 0 against onesixtyone -w 0 (devices found, wall time).
      Addresses without a device answer at once with ICMP port
      unreachable on loopback; a real network would only time out.
  (b) full walk (1.3.6.1) of one snmpd: outpost walk against
      snmpbulkwalk (wall and CPU time, median of several runs).
  (c) one poll cycle of 200 devices: bench/poll_bench.py.
  (d) bytes on the wire per poll sample, from outpost run's own uploads,
      against one message per value: bench/transport_bench.py.
  (f) the device farm (build/outpost-farm): one poll cycle of 10,000
      simulated devices against prometheus-snmp-exporter, and a
      16,000-row table against snmpbulkwalk: bench/farm_bench.py.
  (g) notifications received per second with 0 loss, outpost traps
      against snmptrapd -f -Lf, same sender: bench/trap_bench.py.
  (h) what Wine costs: the poll sweep of (c)'s 200 devices by outpost.exe
      (make windows) under Wine against the Linux build:
      bench/wine_poll_bench.py; skipped, with a message, without Wine or
      build-win/outpost.exe (OUTPOST_EXE).
  (e) outpost-hub (OUTPOST_HUB): held polls, delivery latency, ingest:
      bench/hub_bench.py. No peer: peer and ratio are "-".
  (g) with BENCH_FLEET=1 only (about 15 minutes): a hub group on
      PostgreSQL behind HAProxy, its own table (bench/fleet_bench.py,
      also `make bench-fleet`; BENCH_FLEET_ARGS passes its options).
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from snmpd_fixture import SnmpdFarm, client_env  # noqa: E402
import poll_bench  # noqa: E402  (bench/: poll cycle vs snmp-exporter, snmpbulkwalk)
import transport_bench  # noqa: E402  (bench/: bytes per sample vs one message each)
import hub_bench  # noqa: E402  (bench/: outpost-hub figures, no peer)
import hub_amplify  # noqa: E402  (bench/: a 60 MiB amplification upload)
import farm_bench  # noqa: E402  (bench/: 10,000 farm devices, a 16,000-row table)
import v3_bench  # noqa: E402  (bench/: a full v3 walk of snmpd)
import scan_bench  # noqa: E402  (bench/: a /16 in a silent namespace)
import trap_bench  # noqa: E402  (bench/: notifications vs snmptrapd)
import wine_poll_bench  # noqa: E402  (bench/: outpost.exe under Wine vs Linux)
import benchtable  # noqa: E402

OUTPOST = os.environ.get("OUTPOST") or os.path.join(HERE, "..", "build", "outpost")
HUB = os.environ.get("OUTPOST_HUB") or os.path.join(HERE, "..", "build", "outpost-hub")
SCAN_NET = "127.0.80.0/22"
SCAN_PORT = 1161
SCAN_DEVICES = 200
WALK_RUNS = int(os.environ.get("BENCH_WALK_RUNS", "7"))

rows = []


def measure(cmd, env):
    """Run cmd; return (wall s, cpu s, max RSS KiB, stdout bytes)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        data, errs = out.read(), err.read()
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} exited {p.returncode}: "
                         f"{errs.decode(errors='replace')[-500:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, data


def row(name, ours, peer_name, theirs, unit, fmt="{:.3f}"):
    rows.append((name, ours, peer_name, theirs, unit, fmt))


def bench_scan(farm, env):
    # 200 devices spread over the /22 (every 5th address), 1024 addresses.
    base = 80 << 8
    addrs = [f"127.0.{(base + 5 * i + 1) >> 8}.{(base + 5 * i + 1) & 255}"
             for i in range(SCAN_DEVICES)]
    devs = [farm.device(a, SCAN_PORT) for a in addrs]
    farm.start(*devs, timeout=60)
    want = set(addrs)

    ours = [OUTPOST, "scan", "--rate", "0", "--json", "-c", "public",
            "-t", "1", "-r", "1", "--port", str(SCAN_PORT), SCAN_NET]
    peer = ["onesixtyone", "-w", "0", "-p", str(SCAN_PORT), SCAN_NET, "public"]
    # One warm-up each: the first query makes every snmpd load its tables.
    measure(ours, env)
    measure(peer, env)
    w_o, c_o, r_o, out_o = measure(ours, env)
    w_p, c_p, r_p, out_p = measure(peer, env)
    found_o = {line.split('"address":"')[1].split('"')[0]
               for line in out_o.decode().splitlines() if '"address"' in line}
    found_p = {line.split()[0] for line in out_p.decode().splitlines()
               if line.startswith("127.") and "[public]" in line}
    row("scan /22, 200 devices: found", len(found_o & want), "onesixtyone -w 0",
        len(found_p & want), "devices", "{:.0f}")
    row("scan /22, 200 devices: wall", w_o, "onesixtyone -w 0", w_p, "s")
    row("scan /22, 200 devices: CPU", c_o, "onesixtyone -w 0", c_p, "s")
    missing = (found_p & want) - found_o
    if missing:
        print(f"bench: outpost missed {len(missing)} devices onesixtyone found: "
              f"{sorted(missing)[:10]}", file=sys.stderr)
    farm.stop_all()


def bench_walk(farm, env):
    dev = farm.start_one(addr="127.0.84.2", port=SCAN_PORT)
    target = dev.target
    tools = {
        "outpost": [OUTPOST, "walk", "-c", "public", target, "1.3.6.1"],
        "snmpbulkwalk": ["snmpbulkwalk", "-v2c", "-c", "public", "-On", target, "1.3.6.1"],
        "snmpbulkwalk -Cr25": ["snmpbulkwalk", "-v2c", "-c", "public", "-On",
                               "-Cr25", target, "1.3.6.1"],
    }
    for cmd in tools.values():          # warm-up: snmpd fills its caches
        measure(cmd, env)
    res = {k: ([], [], []) for k in tools}
    for _ in range(WALK_RUNS):          # interleaved, so drift hits all alike
        for k, cmd in tools.items():
            w, c, r, out = measure(cmd, env)
            res[k][0].append(w)
            res[k][1].append(c)
            res[k][2].append(out.count(b"\n"))
    med = {k: (statistics.median(v[0]), statistics.median(v[1]),
               statistics.median(v[2])) for k, v in res.items()}
    o = med["outpost"]
    for peer in ("snmpbulkwalk", "snmpbulkwalk -Cr25"):
        p = med[peer]
        row(f"full walk ({o[2]:.0f} vs {p[2]:.0f} OIDs): wall", o[0], peer, p[0], "s")
        row("full walk: CPU (user+sys)", o[1], peer, p[1], "s")
    farm.stop_all()


def main():
    for binary in (OUTPOST, HUB):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"bench: no binary at {binary} (run make)")
    env = client_env()
    with SnmpdFarm(start_timeout=60) as farm:
        bench_scan(farm, env)
        bench_walk(farm, env)
        for r in poll_bench.run(farm, env, OUTPOST):
            row(*r)
        for r in wine_poll_bench.run(farm, env, OUTPOST):
            row(*r)
        for r in transport_bench.run(farm, env, OUTPOST):
            row(*r)
        for r in v3_bench.run(farm, env, OUTPOST):
            row(*r)
    if scan_bench.scan_netns.available() is None:
        scan, peer_kind = scan_bench.run()
        for r in scan:
            row(*r)
    else:
        print(f"bench: /16 scan skipped: {scan_bench.scan_netns.available()}",
              file=sys.stderr)
    for r in farm_bench.run(env, OUTPOST):
        row(*r)
    for r in trap_bench.run(env, OUTPOST):
        row(*r)
    for name, value, unit in (hub_bench.run(os.path.abspath(HUB)) +
                              hub_amplify.run(os.path.abspath(HUB))):
        name = name[4:] if name.startswith("hub ") else name
        rows.append((f"hub: {name}", str(value), "-", "-", unit))
    benchtable.print_table(rows, "hub rows have no peer")
    if os.environ.get("BENCH_FLEET") == "1":
        fleet = [sys.executable, os.path.join(HERE, "fleet_bench.py")]
        subprocess.run(fleet + os.environ.get("BENCH_FLEET_ARGS", "").split(), check=True)


if __name__ == "__main__":
    main()
