#!/usr/bin/python3
"""make bench: one poll cycle of the `interfaces` profile over 200 snmpd
devices on loopback, against its peers, all measured in the same run.

  outpost     `outpost poll -c public --profile interfaces --quiet` over
              the 200 targets: one process, one multi-column GETBULK walk
              per device (20 columns: the 16 of the profile plus 4 32-bit
              fallbacks it drops where the 64-bit column answered). CPU
              (user+sys) from os.wait4, peak RSS from GNU time (see _run).
              OIDs = the values count of its summary line (the 16 columns,
              labels included; cross-checked against its JSON once). Wall
              includes process start; the exporter is a warm daemon.
  exporter    prometheus-snmp-exporter 0.21 (Debian) as a daemon on
              127.0.0.1, module if_mib_outpost of bench/snmp_exporter.yml
              (the same 16 columns, one GETBULK walk per column, as the
              exporter does), all 200 targets scraped at once over HTTP.
              CPU = utime+stime delta of the exporter in /proc/PID/stat over
              the cycle, peak RSS = its VmHWM (over its whole life, warm-up
              cycle included), OIDs = the sum of snmp_scrape_pdus_returned
              (varbinds the exporter got back from its walks); the sample
              lines (13 metrics per interface, the 3 label columns become
              labels) are counted as a cross-check. The exporter also
              renders Prometheus text; outpost --quiet renders nothing.
  snmpbulkwalk  `snmpbulkwalk -v2c -c public -On -Cr25 ADDR:PORT OID` for
              ifTable and ifXTable of every device (whole tables: more
              columns than the profile), 400 processes run by `xargs -P 8`.
              CPU from os.wait4 on xargs, which on Linux includes every
              child xargs has reaped (checked against the RUSAGE_CHILDREN
              delta); peak RSS (GNU time) is the largest single process,
              with up to 8 running at once. OIDs = output lines.

Every device is warmed up once (the first query makes snmpd load its
tables), the exporter gets a warm-up cycle of its own, then each tool runs
BENCH_POLL_RUNS cycles (default 3), interleaved; figures are medians, peak
RSS the largest of the runs. Both outpost and the exporter poll all 200
devices at once here (outpost run and Prometheus would spread them over
the interval), which is the worst case for the RSS of both.
Only 127.0.0.0/8 is used: devices on 127.0.88.1-200 port 1161 (BENCH_POLL_NET,
BENCH_POLL_PORT), the exporter on 127.0.0.1:(free port). Only processes
started here are signalled, by PID.

    run(farm, env, outpost) -> [(name, ours, peer, theirs, unit, fmt), ...]
    python3 bench/poll_bench.py [OUTPOST]     # prints the rows
"""

import asyncio
import ipaddress
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from snmpd_fixture import SnmpdFarm, client_env  # noqa: E402

DEVICES = int(os.environ.get("BENCH_POLL_DEVICES", "200"))
NET = os.environ.get("BENCH_POLL_NET", "127.0.88.0/24")
PORT = int(os.environ.get("BENCH_POLL_PORT", "1161"))
RUNS = int(os.environ.get("BENCH_POLL_RUNS", "3"))
XARGS_P = 8
EXPORTER = shutil.which("prometheus-snmp-exporter") or "/usr/bin/prometheus-snmp-exporter"
EXPORTER_CONF = os.path.join(HERE, "snmp_exporter.yml")
MODULE = "if_mib_outpost"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TIME = "/usr/bin/time"     # GNU time (Debian package time)
TABLES = ("1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1")   # ifTable, ifXTable

SUMMARY = re.compile(rb"(\d+) devices, (\d+) failed, (\d+) values in ([0-9.]+) s")


def _run(cmd, env, stdin=None):
    """Run cmd under /usr/bin/time; return (wall s, cpu s incl. reaped
    descendants, max RSS KiB, stdout, stderr, RUSAGE_CHILDREN cpu delta).

    The peak RSS comes from GNU time, not from our own wait4: Python starts
    children with vfork, and Linux keeps the high-water RSS of the mm a
    process exec()s away from, so wait4's ru_maxrss is never below this
    Python process's own peak. time forks from a ~1 MiB process instead."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.monotonic()
        p = subprocess.Popen([TIME, "-o", tf.name, "-f", "%M"] + cmd,
                             stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                             stdout=out, stderr=err, env=env)
        if stdin:
            p.stdin.write(stdin)
            p.stdin.close()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        data, errs = out.read(), err.read()
        lines = tf.read().split()
        rss = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:6])} ... exited {p.returncode}: "
                         f"{errs.decode(errors='replace')[-500:]}")
    cdelta = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, ru.ru_utime + ru.ru_stime, rss, data, errs, cdelta


# -------------------------------------------------------------------- outpost

def outpost_cycle(outpost, targets, env, quiet=True, launcher=()):
    """launcher: what runs outpost (["wine"] for outpost.exe: wine_poll_bench)."""
    cmd = [*launcher, outpost, "poll", "-c", "public", "--profile", "interfaces"]
    if quiet:
        cmd.append("--quiet")
    wall, cpu, rss, out, err, _ = _run(cmd + targets, env)
    m = SUMMARY.search(err)
    if not m:
        raise SystemExit(f"bench: no summary line from outpost poll: {err[-300:]!r}")
    ndev, failed, values = int(m[1]), int(m[2]), int(m[3])
    if ndev != len(targets) or failed:
        raise SystemExit(f"bench: outpost poll: {m[0].decode()}")
    return dict(wall=wall, cpu=cpu, rss=rss, oids=values, out=out)


def count_json_values(out):
    """Non-null values in outpost poll's JSON samples (cross-check)."""
    import json
    n = 0
    for line in out.splitlines():
        s = json.loads(line)
        n += len(s["scalars"])
        for t in s["tables"].values():
            for row in t["rows"].values():
                n += sum(v is not None for v in row)
    return n


# ------------------------------------------------------------------- exporter

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime, stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


async def _http_get(port, path):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        await w.drain()
        data = await r.read()
    finally:
        w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(None, 2)[1]) if head else 0
    return status, body


async def _scrape_all(port, targets):
    return await asyncio.gather(*(
        _http_get(port, f"/snmp?module={MODULE}&target={t}") for t in targets))


PDUS = re.compile(rb"^snmp_scrape_pdus_returned(?:\{[^}]*\})? ([0-9.e+]+)$", re.M)


def exporter_cycle(pid, port, targets):
    cpu0 = proc_cpu(pid)
    t0 = time.monotonic()
    replies = asyncio.run(_scrape_all(port, targets))
    wall = time.monotonic() - t0
    time.sleep(0.2)      # let a GC cycle the scrapes started finish
    cpu = proc_cpu(pid) - cpu0
    pdus = samples = 0
    for t, (status, body) in zip(targets, replies):
        m = PDUS.search(body)
        if status != 200 or not m:
            raise SystemExit(f"bench: exporter scrape of {t}: HTTP {status}: "
                             f"{body[-300:].decode(errors='replace')}")
        pdus += int(float(m[1]))
        samples += sum(1 for line in body.splitlines()
                       if line and not line.startswith((b"#", b"snmp_scrape_")))
    return dict(wall=wall, cpu=cpu, rss=proc_status_kib(pid, "VmHWM"),
                oids=pdus, samples=samples)


def start_exporter(port, logf):
    cmd = [EXPORTER, f"--config.file={EXPORTER_CONF}",
           f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                         stderr=subprocess.STDOUT, env={"PATH": os.environ.get("PATH", "")})
    deadline = time.monotonic() + 15
    while True:
        if p.poll() is not None:
            logf.seek(0)
            raise SystemExit(f"bench: {EXPORTER} exited {p.returncode}: "
                             f"{logf.read()[-500:].decode(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {EXPORTER} did not listen on 127.0.0.1:{port}")
            time.sleep(0.05)


def stop_exporter(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# --------------------------------------------------------------- snmpbulkwalk

def bulkwalk_cycle(targets, env):
    lines = "".join(f"{t} {oid}\n" for t in targets for oid in TABLES).encode()
    cmd = ["xargs", "-P", str(XARGS_P), "-n", "2",
           "snmpbulkwalk", "-v2c", "-c", "public", "-On", "-Cr25"]
    wall, cpu, rss, out, _, cdelta = _run(cmd, env, stdin=lines)
    if abs(cpu - cdelta) > 0.05 + 0.05 * cpu:
        print(f"bench: snmpbulkwalk CPU from wait4 {cpu:.3f} s != RUSAGE_CHILDREN "
              f"delta {cdelta:.3f} s", file=sys.stderr)
    return dict(wall=wall, cpu=cpu, rss=rss, oids=out.count(b"\n"))


# ------------------------------------------------------------------------ run

def _median(runs, key):
    return statistics.median(r[key] for r in runs)


def run(farm, env, outpost):
    for tool, pkg in ((EXPORTER, "prometheus-snmp-exporter"), (TIME, "time")):
        if not os.access(tool, os.X_OK):
            raise SystemExit(f"bench: {tool} missing (make deps installs {pkg})")
    hosts = list(ipaddress.ip_network(NET).hosts())[:DEVICES]
    if len(hosts) < DEVICES:
        raise SystemExit(f"bench: {NET} is too small for {DEVICES} devices")
    devs = [farm.device(str(h), PORT) for h in hosts]
    exporter = None
    logf = tempfile.TemporaryFile()
    try:
        t_start = time.monotonic()
        farm.start(*devs, timeout=60)
        targets = [d.target for d in devs]

        # Warm-up: the first query makes every snmpd load its tables. The
        # JSON run also cross-checks the summary's values count.
        warm = outpost_cycle(outpost, targets, env, quiet=False)
        json_values = count_json_values(warm["out"])
        if json_values != warm["oids"]:
            print(f"bench: outpost poll summary says {warm['oids']} values, its "
                  f"JSON holds {json_values}", file=sys.stderr)

        port = free_port()
        exporter = start_exporter(port, logf)
        idle_rss = proc_status_kib(exporter.pid, "VmRSS")
        exporter_cycle(exporter.pid, port, targets)      # Go runtime warm-up

        res = {"outpost": [], "exporter": [], "bulkwalk": []}
        for _ in range(RUNS):                             # interleaved
            res["outpost"].append(outpost_cycle(outpost, targets, env))
            res["exporter"].append(exporter_cycle(exporter.pid, port, targets))
            res["bulkwalk"].append(bulkwalk_cycle(targets, env))
        stop_exporter(exporter)
        elapsed = time.monotonic() - t_start
    finally:
        if exporter is not None:
            stop_exporter(exporter)
        logf.close()
        farm.stop_all()      # every device of the farm, as bench.py's benchmarks do

    med = {k: {key: _median(v, key) for key in ("wall", "cpu", "rss", "oids")}
           for k, v in res.items()}
    # RSS: the peak of the whole series, not a median.
    for k, v in res.items():
        med[k]["rss"] = max(r["rss"] for r in v)
    samples = _median(res["exporter"], "samples")
    o, e, b = med["outpost"], med["exporter"], med["bulkwalk"]
    print(f"bench: poll: {DEVICES} devices; outpost {o['oids']:.0f} values "
          f"(JSON {json_values}), exporter {e['oids']:.0f} varbinds / "
          f"{samples:.0f} samples, snmpbulkwalk {b['oids']:.0f} lines; exporter "
          f"idle RSS {idle_rss / 1024:.1f} MiB; {elapsed:.0f} s", file=sys.stderr)

    def per_cpu(m):
        return m["oids"] / m["cpu"] if m["cpu"] > 0 else float("inf")

    rows = []
    name = f"poll interfaces, {DEVICES} devices"
    for peer, m in (("snmp-exporter 0.21", e), (f"snmpbulkwalk, xargs -P {XARGS_P}", b)):
        rows.append((f"{name}: OIDs", o["oids"], peer, m["oids"], "OIDs", "{:.0f}"))
        rows.append((f"{name}: OIDs per CPU-s (higher better)", per_cpu(o), peer,
                     per_cpu(m), "OIDs/s", "{:.0f}"))
        rows.append((f"{name}: CPU (user+sys)", o["cpu"], peer, m["cpu"], "s", "{:.3f}"))
        rows.append((f"{name}: wall", o["wall"], peer, m["wall"], "s", "{:.3f}"))
        rss_name = "peak RSS" if m is e else "peak RSS (peer: largest process)"
        rows.append((f"{name}: {rss_name}", o["rss"] / 1024, peer, m["rss"] / 1024,
                     "MiB", "{:.1f}"))
    return rows


def main():
    outpost = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("OUTPOST") \
        or os.path.join(HERE, "..", "build", "outpost")
    env = client_env()
    with SnmpdFarm(start_timeout=60) as farm:
        rows = run(farm, env, outpost)
    for name, ours, peer, theirs, unit, fmt in rows:
        ratio = ours / theirs if theirs else float("nan")
        print(f"{name:55} {fmt.format(ours):>10}  {peer:24} {fmt.format(theirs):>10} "
              f"{unit:7} {ratio:.2f}")


if __name__ == "__main__":
    main()
