"""Notifications received per second with 0 loss: `outpost traps --json`
(decode, check, the event JSON the agent sends) against `snmptrapd -f -Lf
FILE` (Debian snmptrapd), both fed by the same sender (bench/trap_send.c:
pre-encoded v2c traps at a fixed rate) on loopback; and CPU per 10,000
traps. Rates double until a receiver loses one; each is measured in the
same run."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RATES = [2500, 5000, 10000, 20000, 40000, 80000, 160000]
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
    time.sleep(0.5)
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
            if got < sent:
                break
            best[kind] = rate
            cpu10k[kind] = cpu / sent * 10000
    shutil.rmtree(tmp, True)
    return [
        ("traps/s received, 0 loss (v2c)", float(best["outpost"]), "snmptrapd -Lf",
         float(best["snmptrapd"]), "traps/s", "{:.0f}"),
        ("CPU per 10,000 traps", cpu10k.get("outpost", 0.0), "snmptrapd -Lf",
         cpu10k.get("snmptrapd", 0.0), "CPU-s"),
    ]


if __name__ == "__main__":
    import sys
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
    from snmpd_fixture import client_env
    import benchtable
    rows = run(client_env(), os.environ.get("OUTPOST", os.path.join(HERE, "..", "build", "outpost")))
    benchtable.print_table(rows)
