#!/usr/bin/python3
"""The amplification upload (issue 8, hub hardening): an authenticated
61 KB gzip body that inflates to 60 MiB of {"batch_id":1,"samples":[0,0,...]}.

For each store (SQLite, and PostgreSQL when it can run here) one hub is
started, a 10 Hz prober asks /healthz on its own connection the whole
time, and the upload is posted once. Printed: the hub's peak RSS (VmHWM)
and its RSS 2 s after the answer, the upload's status and time, and the
/healthz latency (p50, max) while the upload was being processed.
Figures, never pass/fail. Compare two builds by running it with each:

    python3 bench/hub_amplify.py [HUB ...]     # prints a table per hub
    run(hub_path) -> [(name, value, unit), ...]  (bench.py's hub rows)
"""

import gzip
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from hub_fixture import HubProcess  # noqa: E402
import pg_fixture  # noqa: E402
sys.path.insert(0, HERE)
from hub_bench import proc_status  # noqa: E402

INFLATED_MIB = int(os.environ.get("BENCH_AMPLIFY_MIB", "60"))


def amplified_body(mib=INFLATED_MIB):
    """A valid batch whose samples are mib MiB of 0 entries; gzip'd."""
    head, tail = b'{"batch_id":1,"samples":[', b"0]}"
    n = (mib << 20) - len(head) - len(tail)
    return gzip.compress(head + b"0," * (n // 2) + tail, 9), (mib << 20)


def rss_kib(pid, key="VmRSS"):
    return proc_status(pid, key)


class Prober(threading.Thread):
    """GET path every 100 ms on one connection; latencies in ms with
    the time each was sent."""

    def __init__(self, port, path="/healthz", token=None):
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.stop = threading.Event()
        self.samples = []
        self.errors = 0

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                conn.request("GET", self.path, headers=self.headers)
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            t1 = time.monotonic()
            if ok:
                self.samples.append((t0, (t1 - t0) * 1000))
            else:
                self.errors += 1
            self.stop.wait(max(0.0, 0.1 - (t1 - t0)))
        conn.close()


def measure(hub_path, db=None, label="sqlite"):
    body, inflated = amplified_body()
    with tempfile.TemporaryDirectory(prefix="outpost-amplify-") as d:
        hub = HubProcess(hub_path, d, db=db)
        hub.start()
        try:
            token = hub.add_agent("amp")
            other = hub.add_agent("other")
            pid = hub.proc.pid
            base = rss_kib(pid)
            prober = Prober(hub.port)
            poller = Prober(hub.port, "/v1/agent/commands?wait=0", other)
            prober.start()
            poller.start()
            time.sleep(1.0)
            t0 = time.monotonic()
            status, _, _ = hub.request(
                "POST", "/v1/agent/results", body, token,
                {"Content-Encoding": "gzip", "Content-Type": "application/json"},
                timeout=300)
            t1 = time.monotonic()
            time.sleep(2.0)
            for p in (prober, poller):
                p.stop.set()
                p.join()
            peak = rss_kib(pid, "VmHWM")
            after = rss_kib(pid)
        finally:
            hub.stop()
    def spread(p):
        during = [ms for t, ms in p.samples if t0 - 0.1 <= t <= t1]
        if not during:
            return "- / -", 0
        return (f"{statistics.median(during):.1f} / {max(during):.1f}",
                len(during))

    hz, nhz = spread(prober)
    po, npo = spread(poller)
    return [
        (f"amplify {label}: upload status", str(status), "HTTP"),
        (f"amplify {label}: upload answered in", f"{t1 - t0:.2f}", "s"),
        (f"amplify {label}: body / inflated", f"{len(body) / 1024:.0f} KiB / "
         f"{inflated >> 20} MiB", "-"),
        (f"amplify {label}: hub RSS before / peak / 2 s after",
         f"{base / 1024:.0f} / {peak / 1024:.0f} / {after / 1024:.0f}", "MiB"),
        (f"amplify {label}: peak growth / inflated size",
         f"{(peak - base) / 1024 / (inflated >> 20):.2f}", "x"),
        (f"amplify {label}: /healthz during upload p50 / max (n={nhz})",
         hz, "ms"),
        (f"amplify {label}: another agent's poll (wait=0) p50 / max (n={npo})",
         po, "ms"),
        (f"amplify {label}: /healthz, poll failures",
         f"{prober.errors}, {poller.errors}", "-"),
    ]


def run(hub_path):
    rows = measure(hub_path)
    why = pg_fixture.unavailable()
    if why:
        rows.append(("amplify postgresql", f"skipped: {why}", "-"))
        return rows
    cluster = pg_fixture.PgCluster()
    try:
        cluster.start()
        rows += measure(hub_path, cluster.new_database(), "postgresql")
    finally:
        cluster.stop()
    return rows


def main():
    hubs = sys.argv[1:] or [os.environ.get("OUTPOST_HUB",
                                           os.path.join(HERE, "..", "build",
                                                        "outpost-hub"))]
    for h in hubs:
        print(f"# {h}")
        for name, value, unit in run(os.path.abspath(h)):
            print(f"{name:62} {value:>24} {unit}")


if __name__ == "__main__":
    main()
