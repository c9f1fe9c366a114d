"""HAProxy (Debian's haproxy 2.6) in front of hub nodes, for tests and
benchmarks, like snmpd: started here on a free loopback port, driven
through its runtime API (the stats socket), stopped at the end.

    hap = HAProxy(workdir, "tcp", [port_a, port_b], active=1)
    hap.set_state("n2", "ready")          # n1, n2, ... in [hub] order
    hap.stat()["n1"]["scur"]              # connections held on n1

Servers are n1..nK; those past `active` start in maintenance. Every
server is health-checked with GET /healthz once a second (down after 3
failures of 5 s each, up after 2 successes), balanced by least
connections. check= replaces those settings (a benchmark that loads
the nodes gives them more time).
"""

import os
import shutil
import socket
import subprocess
import time


def unavailable():
    """None, or why HAProxy cannot run here."""
    if shutil.which("haproxy") is None:
        return "haproxy is not installed (packaging/deps.sh)"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HAProxy:
    """One HAProxy process in `mode` (tcp or http): frontend fe on
    127.0.0.1:self.port, backend be over the servers. A process holds two
    descriptors per proxied connection, within its open file limit."""

    def __init__(self, workdir, mode, ports, active=None, maxconn=1000,
                 check="inter 1s fall 3 rise 2", check_timeout="5s", name=None):
        self.mode = mode
        self.name = name or mode     # names its files: several per workdir
        os.makedirs(workdir, exist_ok=True)
        self.sock = os.path.join(workdir, f"haproxy-{self.name}.sock")
        self.port = free_port()
        active = len(ports) if active is None else active
        servers = "\n".join(
            f"  server n{i + 1} 127.0.0.1:{p}" + ("" if i < active else " disabled")
            for i, p in enumerate(ports))
        # One thread: the fleet bench runs several HAProxy processes
        # (descriptor limits) on a few cores; threads only add contention.
        conf = f"""global
  maxconn {maxconn}
  nbthread 1
  stats socket {self.sock} level admin
defaults
  mode {mode}
  timeout connect 5s
  timeout client 5m
  timeout server 5m
  timeout check {check_timeout}
  maxconn {maxconn}
  retries 3
  option redispatch
  default-server check {check}
frontend fe
  bind 127.0.0.1:{self.port}
  default_backend be
backend be
  balance leastconn
  option httpchk GET /healthz
{servers}
"""
        self.conf = os.path.join(workdir, f"haproxy-{self.name}.cfg")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.log_path = os.path.join(workdir, f"haproxy-{self.name}.log")
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["haproxy", "-f", self.conf, "-db"],
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(self.log_path, errors="replace") as f:
                    raise AssertionError("haproxy did not start:\n" + f.read())
            time.sleep(0.05)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def cmd(self, line):
        """One runtime API command; its answer."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    return out.decode()
                out += b

    def stat(self):
        """{server name or FRONTEND/BACKEND: {field: value}} (`show stat`)."""
        lines = self.cmd("show stat").splitlines()
        head = lines[0].lstrip("# ").split(",")
        out = {}
        for ln in lines[1:]:
            if ln:
                row = dict(zip(head, ln.split(",")))
                out[row["svname"]] = row
        return out

    def held(self, server):
        """Connections (TCP mode) or requests (HTTP mode) on server now."""
        return int(self.stat()[server]["scur"] or 0)

    def set_state(self, server, state):
        """ready, drain or maint (`set server be/SERVER state STATE`)."""
        out = self.cmd(f"set server be/{server} state {state}")
        if out.strip():
            raise AssertionError(f"haproxy: set server {server} state {state}: {out}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.logf.close()
