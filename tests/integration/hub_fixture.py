"""Start and drive a real outpost-hub for tests and benchmarks.

    hub = HubProcess(binary, workdir, max_poll_wait="5s")
    hub.start(); token = hub.add_agent("site-1")
    status, headers, body = hub.request("GET", "/healthz")
    hub.stop()          # SIGTERM; returns the exit status

The hub listens on 127.0.0.1 port 0 (a free port, read back from its log),
keeps its database in workdir and reads an admin token file made 0600.
Only loopback is ever used.

db= names the store ([hub] db: a path or a postgresql:// URI). With
OUTPOST_TEST_HUB_DB=postgresql in the environment, a hub given no db gets
a fresh database on the session's PostgreSQL (pg_fixture.py), so the
existing hub tests run against that backend unchanged.
"""

import gzip
import http.client
import json
import os
import re
import signal
import subprocess
import time

ADMIN_TOKEN = "test-admin-token.0123456789"
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                     "runtime error:")


def hub_binary():
    path = os.environ.get("OUTPOST_HUB")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "outpost-hub")
    return os.path.abspath(path)


class HubProcess:
    def __init__(self, binary, workdir, listen="127.0.0.1:0", db=None, **cfg):
        self.binary = binary
        self.workdir = workdir
        self.listen = listen
        os.makedirs(workdir, exist_ok=True)
        if db is None and os.environ.get("OUTPOST_TEST_HUB_DB") == "postgresql":
            from pg_fixture import shared_cluster
            db = shared_cluster().new_database()
        self.db = db or os.path.join(workdir, "hub.db")
        self.token_file = os.path.join(workdir, "admin.token")
        self.log_path = os.path.join(workdir, "hub.log")
        self.ini = os.path.join(workdir, "hub.ini")
        self.cfg = {"max_poll_wait": "60s", "drain_grace": "10s",
                    "max_connections": "1000", "log_level": "debug"}
        self.cfg.update(cfg)
        self.proc = None
        self.port = None
        self.scheme = "http"
        self.ssl_context = None
        self.write_config()

    def write_config(self):
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        os.chmod(self.token_file, 0o600)
        lines = ["[hub]", f"listen = {self.listen}", f"db = {self.db}",
                 f"admin_token_file = {self.token_file}"]
        lines += [f"{k} = {v}" for k, v in self.cfg.items()]
        with open(self.ini, "w") as f:
            f.write("\n".join(lines) + "\n")

    # ---- process ----

    def cli(self, *args, check=True):
        p = subprocess.run([self.binary, "-c", self.ini, *args], capture_output=True,
                           text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"outpost-hub {' '.join(args)}: exit {p.returncode}: "
                                 f"{p.stderr}")
        return p

    def add_agent(self, name):
        return self.cli("add-agent", name).stdout.strip()

    def start(self, timeout=10):
        self.logf = open(self.log_path, "ab")
        self.log_offset = self.logf.tell()
        self.proc = subprocess.Popen([self.binary, "-c", self.ini], stdout=self.logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"listening on \S+ port (\d+) \((https?),", self.log())
            if m:
                self.port = int(m.group(1))
                self.scheme = m.group(2)
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"outpost-hub exited {self.proc.returncode}:\n"
                                     f"{self.log()}")
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError("outpost-hub did not start:\n" + self.log())

    def log(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode(errors="replace")

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is not None:
                self.logf.close()

    def stop(self, timeout=15):
        """SIGTERM, wait; the exit status (kills after timeout)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("outpost-hub did not exit after SIGTERM")

    def stop_checked(self):
        """At a test's end: stop a hub that ran; it must have left no
        sanitizer report and, if it was still alive, exited 0 on SIGTERM."""
        if self.proc is None:
            return
        alive = self.proc.poll() is None
        rc = self.stop()
        report = self.sanitizer_report()
        assert not report, f"sanitizer report:\n{report}"
        if alive:
            assert rc == 0, f"hub exited {rc} on SIGTERM:\n{self.log()[-3000:]}"

    def sanitizer_report(self):
        text = self.log()
        return next((m for m in SANITIZER_MARKERS if m in text), None) and text

    # ---- HTTP ----

    def connection(self, timeout=30):
        if self.scheme == "https":
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=self.ssl_context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, token=ADMIN_TOKEN, headers=None,
                timeout=30, conn=None):
        """One request on a fresh connection (or conn); (status, headers, body)."""
        h = {}
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        own = conn is None
        c = conn or self.connection(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            if own:
                c.close()

    def json(self, method, path, body=None, token=ADMIN_TOKEN, expect=200, **kw):
        status, headers, data = self.request(method, path, body, token, **kw)
        assert status == expect, f"{method} {path}: {status} {data[:300]!r}"
        return json.loads(data) if data else None

    def poll(self, token, wait=0, ack=None, timeout=None, **kw):
        q = f"/v1/agent/commands?wait={wait}"
        if ack is not None:
            q += f"&ack={ack}"
        return self.json("GET", q, token=token, timeout=timeout or wait + 15, **kw)

    def post_batch(self, token, batch, raw=None, headers=None, expect=200):
        body = raw if raw is not None else gzip.compress(json.dumps(batch).encode())
        h = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        h.update(headers or {})
        status, _, data = self.request("POST", "/v1/agent/results", body, token, h)
        assert status == expect, f"POST results: {status} {data[:300]!r}"
        return json.loads(data) if data and status < 300 else (status, data)

    def queue(self, agent, command, expect=201):
        return self.json("POST", f"/v1/agents/{agent}/commands", command, expect=expect)
