"""Notifications, bench/bench.py section (g).

  (a) notifications received per second with 0 loss: `outpost traps
      --json` (decode, check, the event JSON the agent sends) against
      `snmptrapd -f -Lf FILE` (Debian snmptrapd), both fed by the same
      sender (bench/trap_send.c: pre-encoded v2c traps at a fixed rate)
      on loopback; and CPU per 10,000 traps. Rates double until a
      receiver loses one; both are measured in the same run.
  (b) polling under a flood: `outpost run` polls FLOOD_DEVICES farm
      devices every 10 s (the shortest [poll] interval) while one source
      sends FLOOD_RATE traps/s ([traps] rate 1000 per source). The row
      compares the longest gap between two samples of one device during
      the flood with the same figure just before it, in the same run;
      the traps accepted and the drops counted come from the batches.
"""

import os
import sys
import shutil
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
RATES = [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000]
SECONDS = 1.5


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def one(kind, outpost, sender, tmp, env, rate):
    port = free_port()
    out = os.path.join(tmp, f"{kind}-{rate}.log")
    if kind == "outpost":
        cmd = [outpost, "traps", "--listen", f"udp:127.0.0.1:{port}", "--json"]
        stdout = open(out, "w")
    else:
        conf = os.path.join(tmp, "snmptrapd.conf")
        with open(conf, "w") as f:
            f.write("authCommunity log public\n")
        cmd = ["snmptrapd", "-f", "-Lf", out, "-C", "-c", conf, "-n",
               "--persistentDir=" + tmp, f"udp:127.0.0.1:{port}"]
        stdout = subprocess.DEVNULL
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
    time.sleep(1.5)   # snmptrapd reads its configuration and MIBs first
    count = int(rate * SECONDS)
    subprocess.run([sender, "127.0.0.1", str(port), str(count), str(rate)],
                   check=True, capture_output=True)
    time.sleep(0.7)
    cpu = cpu_s(p.pid)
    p.terminate()
    p.wait(10)
    if stdout is not subprocess.DEVNULL:
        stdout.close()
    with open(out, errors="replace") as f:
        got = f.read().count("eth1")
    return count, got, cpu


FLOOD_DEVICES = int(os.environ.get("BENCH_FLOOD_DEVICES", "1000"))
FLOOD_RATE = int(os.environ.get("BENCH_FLOOD_RATE", "10000"))
PHASE_S = 25


def max_gaps(samples, t0, t1):
    """Longest gap between consecutive samples of one device with both
    samples' ts in [t0, t1) (ms), over all devices; and the median gap."""
    by = {}
    for dev, ts in samples:
        if t0 <= ts < t1:
            by.setdefault(dev, set()).add(ts)   # one ts per poll, all profiles
    gaps = []
    for tset in by.values():
        ts = sorted(tset)
        gaps += [b - a for a, b in zip(ts, ts[1:])]
    if not gaps:
        return float("nan"), float("nan")
    gaps.sort()
    return gaps[-1] / 1000, gaps[len(gaps) // 2] / 1000


def bench_flood(env, outpost, sender, tmp):
    from agent_fixture import AgentProcess
    from fakehub import FakeHub
    from farm_fixture import Farm
    farm = Farm(devices=[(f"127.93.0.1-127.93.{(FLOOD_DEVICES - 1) // 256}."
                          f"{(FLOOD_DEVICES - 1) % 256 + 1}", "switch24", {})]).start()
    hub = FakeHub()
    hub.start()
    port = free_port()
    first, last = farm.devices[0][0].split("-")
    agent = AgentProcess(outpost, os.path.join(tmp, "agent"), hub.url, "tok-flood",
                         credentials={"farm": {"version": "2c", "community": "public"}},
                         extra={"agent": {"log_level": "info"},
                                "scan": {"networks": f"{first}-{last}",
                                         "port": str(farm.port), "rate": "5000",
                                         "timeout": "500ms"},
                                "poll": {"interval": "10s", "profiles": "system interfaces"},
                                "upload": {"batch_max_age": "1s"},
                                "traps": {"listen": f"udp:127.0.0.1:{port}",
                                          "communities": "public", "rate": "1000"}})
    try:
        agent.start()
        # discovery, then every device's first poll
        start = time.monotonic()
        while time.monotonic() - start < 60:
            with hub.lock:
                devs = {s["device"] for b in hub.stored.values() for s in b.get("samples", [])}
            if len(devs) >= FLOOD_DEVICES:
                break
            time.sleep(0.5)
        calm0 = int(time.time() * 1000)
        time.sleep(PHASE_S)
        flood0 = int(time.time() * 1000)
        subprocess.run([sender, "127.0.0.1", str(port), str(FLOOD_RATE * PHASE_S),
                        str(FLOOD_RATE)], check=True, capture_output=True)
        flood1 = int(time.time() * 1000)
        time.sleep(3)
        with hub.lock:
            samples = [(s["device"], s["ts"]) for b in hub.stored.values()
                       for s in b.get("samples", [])]
            counters = max((b.get("counters", {}) for b in hub.stored.values()),
                           key=lambda c: c.get("traps_dropped_rate", 0), default={})
            events = sum(len(b.get("events", [])) for b in hub.stored.values())
    finally:
        agent.stop()
        hub.close()
        farm.stop()
    calm_max, calm_med = max_gaps(samples, calm0, flood0)
    flood_max, flood_med = max_gaps(samples, flood0, flood1)
    print(f"bench: flood: {len(set(d for d, _ in samples))} devices polled; gaps "
          f"calm max {calm_max:.1f} s median {calm_med:.1f} s, flood max "
          f"{flood_max:.1f} s median {flood_med:.1f} s; {events} events, "
          f"{counters.get('traps_dropped_rate', 0)} dropped by rate, "
          f"{counters.get('traps_queue_full', 0)} by the queue", file=sys.stderr)
    return [
        (f"poll gap max, {FLOOD_DEVICES} devices, {FLOOD_RATE} traps/s flood",
         flood_max, "same, no flood", calm_max, "s"),
        ("traps accepted during the flood (rate 1000/s)", float(events), "sent",
         float(FLOOD_RATE * PHASE_S), "events", "{:.0f}"),
        ("traps dropped by [traps] rate (counted)",
         float(counters.get("traps_dropped_rate", 0)), "sent",
         float(FLOOD_RATE * PHASE_S), "traps", "{:.0f}"),
    ]


def run(env, outpost):
    if shutil.which("snmptrapd") is None:
        return []
    tmp = tempfile.mkdtemp(prefix="outpost-trapbench-")
    sender = os.path.join(tmp, "trap_send")
    subprocess.run(["cc", "-O2", "-o", sender, os.path.join(HERE, "trap_send.c")],
                   check=True)
    best = {"outpost": 0, "snmptrapd": 0}
    cpu10k = {}
    for kind in best:
        for rate in RATES:
            sent, got, cpu = one(kind, outpost, sender, tmp, env, rate)
            print(f"bench: {kind} at {rate}/s: {got} of {sent} received, "
                  f"{cpu:.2f} CPU-s", file=sys.stderr)
            if got < sent:
                break
            best[kind] = rate
            cpu10k[kind] = cpu / sent * 10000
    flood = bench_flood(env, outpost, sender, tmp)
    shutil.rmtree(tmp, True)
    return flood + [
        ("traps/s received, 0 loss (v2c)", float(best["outpost"]), "snmptrapd -Lf",
         float(best["snmptrapd"]), "traps/s", "{:.0f}"),
        ("CPU per 10,000 traps", cpu10k.get("outpost", 0.0), "snmptrapd -Lf",
         cpu10k.get("snmptrapd", 0.0), "CPU-s"),
    ]


if __name__ == "__main__":
    from snmpd_fixture import client_env
    import benchtable
    rows = run(client_env(), os.environ.get("OUTPOST", os.path.join(HERE, "..", "build", "outpost")))
    benchtable.print_table(rows)
