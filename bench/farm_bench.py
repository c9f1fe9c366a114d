#!/usr/bin/python3
"""make bench, device-farm section: polling at the size of a real site.

All devices are virtual, served by one build/outpost-farm process on
loopback (tests/farm/README.md); only 127.0.0.0/8 is used.

  (a) one poll cycle of BENCH_FARM_DEVICES (default 10,000) devices, a mix
      that is mostly 48-port switches, profiles `interfaces` and `system`:
      `outpost poll --quiet` against prometheus-snmp-exporter 0.21 (module
      if_mib_outpost of bench/snmp_exporter.yml plus the system scalars)
      scraping BENCH_FARM_EXPORTER_DEVICES of the same devices (default
      2,000: the exporter needs about 25 µs of CPU per OID, a 10,000-device
      cycle would take it minutes; OIDs per CPU-second does not depend on
      how many devices are scraped). OIDs: outpost's summary line, the
      exporter's snmp_scrape_pdus_returned. The interval row: outpost's
      CPU for the whole cycle as a share of one core over a 60 s interval
      (target at most 25%), peak RSS (target at most 64 MiB).
  (b) a full SNMPv3 walk (SHA-256/AES, authPriv) of a farm 512-port
      switch: `outpost walk` against `snmpbulkwalk -Cr25` (the same
      max-repetitions), median wall and CPU of interleaved runs.
  (c) one device with a 16,000-row interface table: `outpost poll
      --profile interfaces` against `snmpbulkwalk -Cr25` of each column
      the profile reads, one after the other (target at most 1.5x).

    run(env, outpost) -> [(name, ours, peer, theirs, unit, fmt), ...]
    python3 bench/farm_bench.py [OUTPOST]     # prints the rows
"""

import asyncio
import ipaddress
import os
import re
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
from farm_fixture import Farm  # noqa: E402
from snmpd_fixture import client_env  # noqa: E402
import poll_bench  # noqa: E402  (its _run, exporter helpers)
import benchtable  # noqa: E402

DEVICES = int(os.environ.get("BENCH_FARM_DEVICES", "10000"))
EXPORTER_DEVICES = int(os.environ.get("BENCH_FARM_EXPORTER_DEVICES", "2000"))
TABLE_ROWS = int(os.environ.get("BENCH_FARM_TABLE_ROWS", "16000"))
RUNS = int(os.environ.get("BENCH_FARM_RUNS", "3"))
# Scrapes in flight at once, as a Prometheus server with many targets
# spreads them: thousands at once only measure the farm's socket buffer.
SCRAPES = int(os.environ.get("BENCH_FARM_SCRAPES", "64"))
BASE = ipaddress.ip_address("127.91.0.1")
# (share of the fleet, farm kind): most sites are access switches.
MIX = ((0.80, "switch48"), (0.10, "switch24"), (0.05, "router"), (0.05, "host"))
# The columns of the built-in `interfaces` profile (labels, values and the
# 32-bit fallbacks it walks on a device's first poll).
IF_COLUMNS = (
    "1.3.6.1.2.1.2.2.1.2", "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.31.1.1.1.18",
    "1.3.6.1.2.1.2.2.1.3", "1.3.6.1.2.1.2.2.1.5", "1.3.6.1.2.1.31.1.1.1.15",
    "1.3.6.1.2.1.2.2.1.7", "1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.31.1.1.1.6",
    "1.3.6.1.2.1.2.2.1.10", "1.3.6.1.2.1.31.1.1.1.10", "1.3.6.1.2.1.2.2.1.16",
    "1.3.6.1.2.1.31.1.1.1.7", "1.3.6.1.2.1.2.2.1.11", "1.3.6.1.2.1.31.1.1.1.11",
    "1.3.6.1.2.1.2.2.1.17", "1.3.6.1.2.1.2.2.1.13", "1.3.6.1.2.1.2.2.1.14",
    "1.3.6.1.2.1.2.2.1.19", "1.3.6.1.2.1.2.2.1.20")
SYSTEM_GETS = ("1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0",
               "1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0")
SUMMARY = re.compile(rb"(\d+) devices?, (\d+) failed, (\d+) values? in ([0-9.]+) s")


def fleet(n):
    """[(first, last, kind)] address ranges adding up to n devices."""
    out, start = [], int(BASE)
    for i, (share, kind) in enumerate(MIX):
        count = n - sum(c for _, _, c, _ in out) if i == len(MIX) - 1 else int(n * share)
        if count > 0:
            out.append((ipaddress.ip_address(start), ipaddress.ip_address(start + count - 1),
                        count, kind))
            start += count
    return [(str(a), str(b), kind) for a, b, _, kind in out]


def exporter_config(path):
    """bench/snmp_exporter.yml plus a module that also GETs the system
    scalars, so the exporter reads what outpost's two profiles read."""
    with open(poll_bench.EXPORTER_CONF) as f:
        base = f.read()
    extra = ["", "if_sys_outpost:"]
    for line in base.split("if_mib_outpost:", 1)[1].splitlines()[1:]:
        if line.startswith("  walk:"):
            extra.append("  get:")
            extra += [f"  - {o}" for o in SYSTEM_GETS]
        extra.append(line)
    extra += ["  - name: sysUpTime", "    oid: 1.3.6.1.2.1.1.3", "    type: gauge",
              "    help: sysUpTime"]
    with open(path, "w") as f:
        f.write(base + "\n".join(extra) + "\n")


async def _scrape_bounded(port, targets):
    sem = asyncio.Semaphore(SCRAPES)

    async def one(t):
        async with sem:
            return await poll_bench._http_get(port, f"/snmp?module={poll_bench.MODULE}&target={t}")
    return await asyncio.gather(*(one(t) for t in targets))


def outpost_cycle(outpost, targets, env, profiles, extra=()):
    cmd = [outpost, "poll", "-c", "public", "--quiet", *extra]
    for p in profiles:
        cmd += ["--profile", p]
    wall, cpu, rss, _, err, _ = poll_bench._run(cmd + targets, env)
    m = SUMMARY.search(err)
    if not m:
        raise SystemExit(f"bench: no summary line from outpost poll: {err[-300:]!r}")
    if int(m[2]):
        raise SystemExit(f"bench: outpost poll: {m[0].decode()}")
    return dict(wall=wall, cpu=cpu, rss=rss, oids=int(m[3]))


def bench_fleet(farm, env, outpost, rows):
    targets = [f"{a}:{farm.port}" for a in farm.addresses()][:DEVICES]
    outpost_cycle(outpost, targets, env, ("interfaces", "system"))     # warm-up
    ours = [outpost_cycle(outpost, targets, env, ("interfaces", "system"))
            for _ in range(RUNS)]
    o = {k: statistics.median(r[k] for r in ours) for k in ("wall", "cpu", "oids")}
    o["rss"] = max(r["rss"] for r in ours)

    logf = tempfile.TemporaryFile()
    conf = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
    conf.close()
    exporter_config(conf.name)
    saved = poll_bench.EXPORTER_CONF, poll_bench.MODULE, poll_bench._scrape_all
    poll_bench.EXPORTER_CONF, poll_bench.MODULE = conf.name, "if_sys_outpost"
    poll_bench._scrape_all = _scrape_bounded
    exporter = None
    try:
        port = poll_bench.free_port()
        exporter = poll_bench.start_exporter(port, logf)
        sub = targets[:EXPORTER_DEVICES]
        poll_bench.exporter_cycle(exporter.pid, port, sub)          # warm-up
        theirs = [poll_bench.exporter_cycle(exporter.pid, port, sub) for _ in range(RUNS)]
    finally:
        poll_bench.EXPORTER_CONF, poll_bench.MODULE, poll_bench._scrape_all = saved
        if exporter is not None:
            poll_bench.stop_exporter(exporter)
        logf.close()
        os.unlink(conf.name)
    e = {k: statistics.median(r[k] for r in theirs) for k in ("wall", "cpu", "oids")}
    e["rss"] = max(r["rss"] for r in theirs)

    peer = f"snmp-exporter 0.21, {len(sub)} dev"
    name = f"farm poll {len(targets)} devices (interfaces+system)"
    rows.append((f"{name}: OIDs per CPU-s (target >= 10x)", o["oids"] / o["cpu"], peer,
                 e["oids"] / e["cpu"], "OIDs/s", "{:.0f}"))
    rows.append((f"{name}: OIDs", o["oids"], peer, e["oids"], "OIDs", "{:.0f}"))
    rows.append((f"{name}: CPU (user+sys)", o["cpu"], peer, e["cpu"], "s", "{:.2f}"))
    rows.append((f"{name}: wall", o["wall"], peer, e["wall"], "s", "{:.2f}"))
    rows.append((f"{name}: peak RSS (target <= 64)", o["rss"] / 1024, peer, e["rss"] / 1024,
                 "MiB", "{:.1f}"))
    rows.append((f"{name}: share of one core, 60 s interval (target <= 25)",
                 100 * o["cpu"] / 60, "target", 25.0, "%", "{:.1f}"))


def bench_table(farm, env, outpost, rows):
    target = f"{farm.addresses()[0]}:{farm.port}"
    walks = [["snmpbulkwalk", "-v2c", "-c", "public", "-On", "-Cr25", target, c]
             for c in IF_COLUMNS]

    def bulkwalk_all():
        wall = cpu = lines = 0
        for cmd in walks:
            w, c, _, out, _, _ = poll_bench._run(cmd, env)
            wall, cpu, lines = wall + w, cpu + c, lines + out.count(b"\n")
        return dict(wall=wall, cpu=cpu, oids=lines)

    # The whole table: above [poll] max_rows's default of 10,000.
    rows_flag = ("--max-rows", str(TABLE_ROWS))
    outpost_cycle(outpost, [target], env, ("interfaces",), rows_flag)
    bulkwalk_all()
    ours, theirs = [], []
    for _ in range(RUNS):
        ours.append(outpost_cycle(outpost, [target], env, ("interfaces",), rows_flag))
        theirs.append(bulkwalk_all())
    o = {k: statistics.median(r[k] for r in ours) for k in ("wall", "cpu", "oids")}
    b = {k: statistics.median(r[k] for r in theirs) for k in ("wall", "cpu", "oids")}
    peer = f"snmpbulkwalk -Cr25 x{len(IF_COLUMNS)} columns"
    name = f"table of {TABLE_ROWS} rows, poll interfaces"
    rows.append((f"{name}: wall (target <= 1.5x)", o["wall"], peer, b["wall"], "s", "{:.3f}"))
    rows.append((f"{name}: CPU (user+sys)", o["cpu"], peer, b["cpu"], "s", "{:.3f}"))
    rows.append((f"{name}: values", o["oids"], peer, b["oids"], "OIDs", "{:.0f}"))


V3 = ("u1", "SHA-256", "farm-auth-pw", "AES", "farm-priv-pw")


def bench_v3(farm, env, outpost, rows):
    """A full v3 authPriv walk of a 512-port switch: the client's own cost,
    with a peer that is never the bottleneck."""
    user, auth, apw, priv, ppw = V3
    target = f"{farm.addresses()[0]}:{farm.port}"
    cred = ["-v3", "-l", "authPriv", "-u", user, "-a", auth, "-A", apw, "-x", priv, "-X", ppw]
    cmds = {"outpost": [outpost, "walk", *cred, target, "1.3.6.1"],
            "peer": ["snmpbulkwalk", "-On", "-Cr25", *cred, target, "1.3.6.1"]}
    res = {k: [] for k in cmds}
    for _ in range(RUNS * 3):            # interleaved, warm-up included
        for k, cmd in cmds.items():
            w, c, _, out, _, _ = poll_bench._run(cmd, env)
            res[k].append((w, c, out.count(b"\n")))
    med = {k: [statistics.median(r[i] for r in v[1:]) for i in range(3)]
           for k, v in res.items()}
    o, p = med["outpost"], med["peer"]
    name = f"farm v3 {auth}/{priv} full walk of switch512 ({o[2]:.0f} OIDs)"
    peer = "snmpbulkwalk -Cr25"
    rows.append((f"{name}: wall (target <= 1.0x)", o[0], peer, p[0], "s", "{:.3f}"))
    rows.append((f"{name}: CPU (target <= 1.0x)", o[1], peer, p[1], "s", "{:.3f}"))


def run(env, outpost):
    rows = []
    user, auth, apw, priv, ppw = V3
    farm = Farm(devices=[("127.92.1.1", "switch512",
                          {"v3": f"{user}:{auth}:{apw}:{priv}:{ppw}"})]).start()
    try:
        bench_v3(farm, env, outpost, rows)
    finally:
        farm.stop()
    farm = Farm(devices=[(f"{a}-{b}", kind, {}) for a, b, kind in fleet(DEVICES)]).start()
    try:
        t0 = time.monotonic()
        bench_fleet(farm, env, outpost, rows)
        print(f"bench: farm fleet section took {time.monotonic() - t0:.0f} s",
              file=sys.stderr)
    finally:
        farm.stop()
    farm = Farm(devices=[("127.92.0.1", f"table:{TABLE_ROWS}", {})]).start()
    try:
        bench_table(farm, env, outpost, rows)
    finally:
        farm.stop()
    return rows


def main():
    outpost = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("OUTPOST") \
        or os.path.join(HERE, "..", "build", "outpost")
    benchtable.print_table(run(client_env(), outpost))


if __name__ == "__main__":
    main()
