"""The processes of the fleet benchmark (bench/fleet_bench.py) that it
drives as groups: the HAProxy processes of each mode, the swarm processes,
and the sampler that reads HAProxy's counters, the load and the CPU of
every process started, once a second."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from haproxy_fixture import HAProxy  # noqa: E402

BUILD = os.environ.get("BUILD") or os.path.join(HERE, "..", "build")
SWARM = os.path.join(BUILD, "outpost-swarm")
NODES = 5


class Balancers:
    """The HAProxy processes, driven together: one TCP-mode and one
    HTTP-mode instance per group of at most PER_PROC agents (two
    descriptors per held connection, under a process's open file
    limit). A drain or a state change goes to every instance; held
    connections and arrivals are summed over them."""

    def __init__(self, workdir, ports, active, tcp_counts, http_counts):
        # Loaded nodes answer /healthz late (store calls on the loop):
        # checks that tolerate it. A dead node refuses connections, and
        # HAProxy redispatches those at once anyway.
        # A node that is down is checked every 500 ms: back in the
        # group about 1 s after it listens again, so agents whose retry
        # comes just after an outage find it (docs/group.md, HAProxy).
        kw = dict(check="inter 2s fastinter 500ms downinter 500ms fall 5 rise 2",
                  check_timeout="10s")
        self.tcp = [HAProxy(workdir, "tcp", ports, active, int(1.1 * n) + 200,
                            name=f"tcp{i}", **kw) for i, n in enumerate(tcp_counts)]
        self.http = [HAProxy(workdir, "http", ports, active, int(1.1 * n) + 200,
                             name=f"http{i}", **kw) for i, n in enumerate(http_counts)]

    @property
    def all(self):
        return self.tcp + self.http

    def set_state(self, server, state):
        for h in self.all:
            h.set_state(server, state)

    def held(self, server, mode="tcp"):
        """Connections (TCP) or requests (HTTP) on server, now."""
        return sum(h.held(server) for h in (self.tcp if mode == "tcp" else self.http))

    def pids(self):
        return [h.proc.pid for h in self.all]

    def stop(self):
        for h in self.all:
            h.stop()


def cpu_seconds(pid):
    """User + system CPU seconds of a live process (None if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runq_seconds(pid):
    """Seconds a live process was runnable but waited for a CPU (None if
    gone or unknown): /proc/PID/schedstat's second field."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class Sampler(threading.Thread):
    """HAProxy's counters once a second: arrivals and held per server;
    the load average and the CPU of the bench's own agent processes."""

    def __init__(self, hap):
        super().__init__(daemon=True)
        self.hap = hap
        self.samples = []      # (monotonic, arrivals total, {server: (tcp, http, status)})
        self.cpu = []          # (monotonic, {pid: cpu s}, load1)
        self.runq = []         # (monotonic, {pid: s waited for a CPU})
        self.watch = {}        # pid -> label, read each second
        self.stop_flag = False
        self.pg_root = None    # the postmaster: it and its backends

    def watch_children(self, root, label):
        """Watch root and its child processes (PostgreSQL's backends,
        which come with the nodes' connections) under one label."""
        self.watch.setdefault(root, label)
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in self.watch:
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == root:
                self.watch[int(d)] = label

    def run(self):
        while not self.stop_flag:
            t = time.monotonic()
            try:
                tcp = [h.stat() for h in self.hap.tcp]
                http = [h.stat() for h in self.hap.http]
            except (OSError, KeyError, IndexError):
                time.sleep(1)
                continue
            # arrivals: new TCP connections (one per poll or upload), and
            # HTTP requests
            arr = sum(int(x["FRONTEND"]["stot"] or 0) for x in tcp) + \
                sum(int(x["FRONTEND"]["req_tot"] or 0) for x in http)
            held = {}
            for i in range(NODES):
                n = f"n{i + 1}"
                held[n] = (sum(int(x[n]["scur"] or 0) for x in tcp),
                           sum(int(x[n]["scur"] or 0) for x in http),
                           tcp[0][n]["status"])
            self.samples.append((t, arr, held))
            with open("/proc/loadavg") as f:
                load1 = float(f.read().split()[0])
            if self.pg_root is not None and len(self.cpu) % 5 == 0:
                self.watch_children(self.pg_root, "postgresql")
            pids = list(self.watch)
            self.cpu.append((t, {p: cpu_seconds(p) for p in pids}, load1))
            self.runq.append((t, {p: runq_seconds(p) for p in pids}))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))

    def held(self):
        return self.samples[-1][2] if self.samples else {}

    def rates(self, t0, t1):
        """Arrivals per second over each sampled second in [t0, t1]."""
        s = [x for x in self.samples if t0 <= x[0] <= t1]
        return [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(s, s[1:]) if b[0] > a[0]]

    def cpu_report(self, window=10.0):
        """{label: (mean %, peak %)} of one core per watched label (the
        sum over its processes; the peak is the busiest window-second
        span of any one of them: a node's runs one after another, not
        the 100 outpost run), and (mean, max) of the 1-minute load."""
        used, spans, peaks = {}, {}, {}
        for pid, label in list(self.watch.items()):
            pts = [(t, c[pid]) for t, c, _ in self.cpu if c.get(pid) is not None]
            if len(pts) < 2:
                continue
            used[label] = used.get(label, 0.0) + pts[-1][1] - pts[0][1]
            lo, hi = spans.get(label, (pts[0][0], pts[-1][0]))
            spans[label] = (min(lo, pts[0][0]), max(hi, pts[-1][0]))
            j = 0
            for i in range(len(pts)):
                while pts[i][0] - pts[j][0] > window:
                    j += 1
                if pts[i][0] - pts[j][0] >= window / 2:
                    peaks[label] = max(peaks.get(label, 0.0), 100 * (
                        pts[i][1] - pts[j][1]) / (pts[i][0] - pts[j][0]))
        many = {k for k in used if k.startswith("outpost run")}
        out = {k: (100 * used[k] / max(1e-9, spans[k][1] - spans[k][0]),
                   float("nan") if k in many else peaks.get(k, float("nan")))
               for k in used}
        loads = [x[2] for x in self.cpu]
        return out, (sum(loads) / len(loads) if loads else float("nan"),
                     max(loads, default=float("nan"))), self.runq_report()

    def runq_report(self):
        """{label: % of the time its processes were runnable and waited
        for a CPU}: a starved process waits, whatever CPU it got."""
        waited, spans = {}, {}
        for pid, label in list(self.watch.items()):
            pts = [(t, w[pid]) for t, w in self.runq if w.get(pid) is not None]
            if len(pts) < 2:
                continue
            waited[label] = waited.get(label, 0.0) + pts[-1][1] - pts[0][1]
            spans[label] = spans.get(label, 0.0) + pts[-1][0] - pts[0][0]
        return {k: 100 * waited[k] / max(1e-9, spans[k]) for k in waited}

class Swarm:
    def __init__(self, workdir, name, url, tokens, poll_wait, persistent=False):
        self.stats = os.path.join(workdir, f"{name}.stats")
        tok = os.path.join(workdir, f"{name}.tokens")
        with open(tok, "w") as f:
            f.write("\n".join(tokens) + "\n")
        self.spool = tempfile.mkdtemp(prefix=f"outpost-fleet-{name}-", dir="/dev/shm")
        self.logf = open(os.path.join(workdir, f"{name}.log"), "ab")
        args = [SWARM, "--url", url, "--tokens", tok, "--spool", self.spool,
                "--stats", self.stats, "--poll-wait", str(poll_wait),
                "--start-spread", str(poll_wait)]
        if persistent:
            args.append("--persistent")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT)

    def read(self):
        """Per instance: [polls, errors, commands, duplicates, results,
        batches_sent, spool_files, connects, closes, last_contact_ms,
        held_from_ms, fail_code, fail_ms] (bench/swarm.c)."""
        try:
            with open(self.stats) as f:
                return [list(map(int, ln.split()[1:])) for ln in f if ln.strip()]
        except OSError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        shutil.rmtree(self.spool, ignore_errors=True)
