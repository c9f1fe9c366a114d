#!/usr/bin/python3
"""make bench: a full SNMPv3 walk (SHA-256 / AES-128, authPriv) of one snmpd
on loopback, outpost against snmpbulkwalk with the same max-repetitions,
v2c alongside for reference; all measured in the same run.

  outpost       `outpost walk -v 3 ... ADDR:PORT 1.3.6.1` (max-repetitions
                25, its default)
  snmpbulkwalk  `snmpbulkwalk -v3 ... -On -Cr25 ADDR:PORT 1.3.6.1`

Each tool is one process per walk: wall from fork to exit, CPU = user+sys
from os.wait4 (the child and anything it reaped), OIDs = output lines.
The device is warmed up first (the first walk makes snmpd fill its caches),
then BENCH_V3_RUNS rounds (default 5) run the four walks interleaved, so
drift hits all alike; figures are medians. The walks return ~7,500 OIDs,
most of them the host's package list, so counts vary by host and may
differ by a few between tools as the process table moves.

Only 127.0.0.0/8 is used (BENCH_V3_ADDR, default 127.0.85.2, port 1161);
only the snmpd started here is signalled.

    run(farm, env, outpost) -> [(name, ours, peer, theirs, unit, fmt), ...]
    python3 bench/v3_bench.py [OUTPOST]     # prints the rows
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
sys.path.insert(0, HERE)
import benchtable  # noqa: E402

ADDR = os.environ.get("BENCH_V3_ADDR", "127.0.85.2")
PORT = int(os.environ.get("BENCH_V3_PORT", "1161"))
RUNS = int(os.environ.get("BENCH_V3_RUNS", "5"))
REPS = 25
ROOT = "1.3.6.1"
USER, AUTH, AUTH_PASS, PRIV, PRIV_PASS = ("benchv3", "SHA-256", "bench-auth-pw",
                                          "AES", "bench-priv-pw")


def measure(cmd, env):
    """Run cmd; return (wall s, cpu s, output lines)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        data, errs = out.read(), err.read()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:3])} ... exited {rc}: "
                         f"{errs.decode(errors='replace')[-500:]}")
    return wall, ru.ru_utime + ru.ru_stime, data.count(b"\n")


def tools(outpost, target):
    v3 = ["-l", "authPriv", "-u", USER, "-a", AUTH, "-A", AUTH_PASS,
          "-x", PRIV, "-X", PRIV_PASS]
    return {
        "outpost v3": [outpost, "walk", "-v", "3", *v3, target, ROOT],
        "snmpbulkwalk v3": ["snmpbulkwalk", "-v3", *v3, "-On", f"-Cr{REPS}",
                            target, ROOT],
        "outpost v2c": [outpost, "walk", "-c", "public", target, ROOT],
        "snmpbulkwalk v2c": ["snmpbulkwalk", "-v2c", "-c", "public", "-On",
                             f"-Cr{REPS}", target, ROOT],
    }


def run(farm, env, outpost):
    dev = farm.device(ADDR, PORT, v3_user=USER, auth_proto=AUTH, auth_pass=AUTH_PASS,
                      priv_proto=PRIV, priv_pass=PRIV_PASS)
    try:
        farm.start(dev, timeout=30)
        cmds = tools(outpost, dev.target)
        for cmd in cmds.values():          # warm-up
            measure(cmd, env)
        res = {k: [] for k in cmds}
        for _ in range(RUNS):
            for k, cmd in cmds.items():
                res[k].append(measure(cmd, env))
    finally:
        dev.stop()
    med = {k: [statistics.median(r[i] for r in v) for i in range(3)]
           for k, v in res.items()}
    rows = []
    for ver, label in (("v3", f"v3 {AUTH}/{PRIV} full walk"), ("v2c", "v2c full walk")):
        o, p = med[f"outpost {ver}"], med[f"snmpbulkwalk {ver}"]
        peer = f"snmpbulkwalk -Cr{REPS}"
        rows.append((f"{label}: OIDs", o[2], peer, p[2], "OIDs", "{:.0f}"))
        rows.append((f"{label}: wall", o[0], peer, p[0], "s", "{:.3f}"))
        rows.append((f"{label}: CPU (user+sys)", o[1], peer, p[1], "s", "{:.3f}"))
    return rows


def main():
    outpost = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("OUTPOST") \
        or os.path.join(HERE, "..", "build", "outpost")
    if not os.access(outpost, os.X_OK):
        raise SystemExit(f"bench: no binary at {outpost} (run make)")
    env = client_env()
    with SnmpdFarm(start_timeout=30) as farm:
        rows = run(farm, env, outpost)
    print(f"v3 bench: median of {RUNS} runs each, interleaved")
    benchtable.print_table(rows)


if __name__ == "__main__":
    main()
