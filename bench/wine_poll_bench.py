#!/usr/bin/python3
"""make bench: what Wine costs. The Windows build (outpost.exe, `make
windows`) under Wine against the Linux build, polling the same 200 snmpd
devices on loopback in the same run. No target: the ratio shows the cost.

  sweep       `outpost poll -c public --profile interfaces --quiet` over
              the 200 targets (one multi-column GETBULK walk per device,
              as bench/poll_bench.py runs it), process start included.
              Wall from the start to the exit; CPU (user+sys) of the
              process from os.wait4; peak RSS from GNU time (poll_bench._run).
              Under Wine the process is `wine outpost.exe` (Debian's wine
              script execs the loader: one process) and much of its work
              happens in wineserver (every socket wait and Winsock call is
              a request to it): the CPU row adds the wineserver's CPU over
              the sweep (/proc/PID/stat of the one this benchmark started),
              which the "of it wineserver" row shows alone.
  start       `outpost version`: the cost of starting the process alone,
              to read the sweep without it.

Both builds must report the same number of values (else the run stops).
Wine gets a prefix of its own in a temporary directory and one persistent
wineserver started here (so no sweep pays for booting the prefix); both
are removed at the end. Every device is warmed up once by each build, then
BENCH_WINE_RUNS sweeps each (default 3), interleaved; figures are medians,
peak RSS the largest of the runs. Only 127.0.0.0/8 is used (poll_bench's
devices: BENCH_POLL_NET, BENCH_POLL_PORT). Only processes started here
are signalled, by PID.

Skipped with a message when Wine or outpost.exe (OUTPOST_EXE, default
build-win/outpost.exe) is missing.

    run(farm, env, outpost) -> [(name, ours, peer, theirs, unit, fmt), ...]
    python3 bench/wine_poll_bench.py [OUTPOST [OUTPOST_EXE]]   # prints the rows
"""

import ipaddress
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from snmpd_fixture import SnmpdFarm, client_env  # noqa: E402
import poll_bench  # noqa: E402  (its device farm, _run and outpost_cycle)

RUNS = int(os.environ.get("BENCH_WINE_RUNS", "3"))
OUTPOST_EXE = os.environ.get("OUTPOST_EXE") or os.path.join(HERE, "..", "build-win",
                                                            "outpost.exe")
# No debug channels, no Mono/Gecko installer prompts, 64-bit only (as tests/wine).
WINE_ENV = {"WINEDEBUG": "-all", "WINEDLLOVERRIDES": "mscoree,mshtml=",
            "WINEARCH": "win64"}


def unavailable(exe=OUTPOST_EXE):
    """Why the benchmark cannot run here, or None."""
    for tool in ("wine", "wineserver"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (packaging/deps.sh --windows)"
    if not os.path.isfile(exe):
        return f"no {exe} (make windows)"
    return None


class WinePrefix:
    """A private WINEPREFIX with one persistent wineserver, started here in
    the foreground (-f) so its PID is ours to read and to stop."""

    def __init__(self, env):
        self.tmp = tempfile.mkdtemp(prefix="outpost-bench-wine-")
        self.env = dict(env, **WINE_ENV, WINEPREFIX=os.path.join(self.tmp, "prefix"))
        self.server = None

    def __enter__(self):
        t0 = time.monotonic()
        p = subprocess.run(["wine", "wineboot", "--init"], env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=300)
        if p.returncode != 0:
            self.__exit__()
            raise SystemExit(f"bench: wineboot --init: exit {p.returncode}: "
                             f"{p.stderr.decode(errors='replace')[-500:]}")
        # The wineserver wineboot started exits once the prefix settles;
        # then ours, for the whole benchmark.
        subprocess.run(["wineserver", "-w"], env=self.env, timeout=300)
        self.server = subprocess.Popen(["wineserver", "-f", "-p"], env=self.env,
                                       stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Its system processes (services.exe, ...) start with the first
        # program and inherit its output: give them /dev/null.
        subprocess.run(["wine", "cmd", "/c", "exit"], env=self.env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        if self.server.poll() is not None:
            self.__exit__()
            raise SystemExit(f"bench: wineserver -f -p exited {self.server.returncode}")
        print(f"bench: wine prefix ready in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        return self

    def cpu(self):
        """The wineserver's CPU seconds so far."""
        return poll_bench.proc_cpu(self.server.pid)

    def rss_peak_kib(self):
        return poll_bench.proc_status_kib(self.server.pid, "VmHWM")

    def __exit__(self, *exc):
        if self.server is not None and self.server.poll() is None:
            subprocess.run(["wineserver", "-k"], env=self.env, timeout=60)
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def wine_cycle(prefix, exe, targets):
    cpu0 = prefix.cpu()
    r = poll_bench.outpost_cycle(exe, targets, prefix.env, launcher=["wine"])
    r["server_cpu"] = prefix.cpu() - cpu0
    r["cpu"] += r["server_cpu"]
    return r


def start_cycle(cmd, env):
    wall, cpu, rss, out, _, _ = poll_bench._run(cmd + ["version"], env)
    if not out.startswith(b"outpost "):
        raise SystemExit(f"bench: {cmd[-1]} version printed {out[:200]!r}")
    return dict(wall=wall, cpu=cpu, rss=rss)


def _median(runs, key):
    return statistics.median(r[key] for r in runs)


def run(farm, env, outpost, exe=OUTPOST_EXE):
    why = unavailable(exe)
    if why is not None:
        print(f"bench: Wine poll sweep skipped: {why}", file=sys.stderr)
        return []
    exe = os.path.abspath(exe)
    hosts = list(ipaddress.ip_network(poll_bench.NET).hosts())[:poll_bench.DEVICES]
    devs = [farm.device(str(h), poll_bench.PORT) for h in hosts]
    try:
        t_start = time.monotonic()
        farm.start(*devs, timeout=60)
        targets = [d.target for d in devs]
        with WinePrefix(env) as prefix:
            # Warm-up of the devices, of Wine (its DLLs in the page cache),
            # and the values check: both builds read the same.
            lin = poll_bench.outpost_cycle(outpost, targets, env)
            win = wine_cycle(prefix, exe, targets)
            if lin["oids"] != win["oids"]:
                raise SystemExit(f"bench: outpost.exe under Wine read {win['oids']} "
                                 f"values, the Linux build {lin['oids']}")
            res = {"linux": [], "wine": [], "linux_start": [], "wine_start": []}
            for _ in range(RUNS):                       # interleaved
                res["linux"].append(poll_bench.outpost_cycle(outpost, targets, env))
                res["wine"].append(wine_cycle(prefix, exe, targets))
                res["linux_start"].append(start_cycle([outpost], env))
                res["wine_start"].append(start_cycle(["wine", exe], prefix.env))
            server_rss = prefix.rss_peak_kib()
        elapsed = time.monotonic() - t_start
    finally:
        farm.stop_all()      # every device of the farm, as bench.py's benchmarks do

    med = {k: {key: _median(v, key) for key in ("wall", "cpu")} for k, v in res.items()}
    for k, v in res.items():
        med[k]["rss"] = max(r["rss"] for r in v)
    w, lx = med["wine"], med["linux"]
    server_cpu = _median(res["wine"], "server_cpu")
    print(f"bench: Wine: {poll_bench.DEVICES} devices, {lin['oids']} values a sweep "
          f"(both builds); wineserver peak RSS {server_rss / 1024:.1f} MiB; "
          f"{elapsed:.0f} s", file=sys.stderr)

    peer = "outpost (Linux build)"
    name = f"Wine: poll sweep, {poll_bench.DEVICES} devices"
    return [
        (f"{name}: wall", w["wall"], peer, lx["wall"], "s", "{:.3f}"),
        (f"{name}: CPU (user+sys, with wineserver)", w["cpu"], peer, lx["cpu"], "s",
         "{:.3f}"),
        (f"{name}: CPU, of it wineserver", f"{server_cpu:.3f}", "-", "-", "s"),
        (f"{name}: peak RSS (process)", w["rss"] / 1024, peer, lx["rss"] / 1024, "MiB",
         "{:.1f}"),
        ("Wine: process start (outpost version): wall", med["wine_start"]["wall"], peer,
         med["linux_start"]["wall"], "s", "{:.3f}"),
        ("Wine: process start (outpost version): CPU", med["wine_start"]["cpu"], peer,
         med["linux_start"]["cpu"], "s", "{:.3f}"),
    ]


def main():
    outpost = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("OUTPOST") \
        or os.path.join(HERE, "..", "build", "outpost")
    exe = (sys.argv[2] if len(sys.argv) > 2 else None) or OUTPOST_EXE
    env = client_env()
    with SnmpdFarm(start_timeout=60) as farm:
        rows = run(farm, env, outpost, exe)
    import benchtable
    benchtable.print_table(rows, "outpost = outpost.exe under Wine, peer = the Linux "
                           "build, same devices, same run")


if __name__ == "__main__":
    main()
