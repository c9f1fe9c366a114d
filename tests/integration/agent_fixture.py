"""Start and drive a real `outpost run` agent for tests.

    agent = AgentProcess(outpost, workdir, hub_url, token, allow="127.0.0.0/8")
    agent.start(); ...; agent.write_config(allow=...); agent.reload(); agent.stop()

allow=None leaves [policy] allow_networks out (the agent then allows the
[scan] networks). extra maps section names to {key: value}, merged into the
base sections ([agent] [server] [upload] [policy]: its keys win) or added
as new ones ("scan", "poll", "profile NAME", ...). start() again after stop() restarts the agent; its
output is appended to the same log, and log(since_start=True) is the
output of the current run only.
"""

import os
import signal
import subprocess
import time

from snmpd_fixture import client_env


class AgentProcess:
    def __init__(self, binary, workdir, url, token, allow="", extra=None,
                 poll_wait="10s", credentials=None):
        self.binary = binary
        self.workdir = workdir
        self.url = url
        self.ini = os.path.join(workdir, "outpost.ini")
        self.token_file = os.path.join(workdir, "agent.token")
        self.state = os.path.join(workdir, "state")
        self.log_path = os.path.join(workdir, "agent.log")
        self.poll_wait = poll_wait
        self.proc = None
        self.log_offset = 0
        os.makedirs(workdir, exist_ok=True)
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        self.credentials = credentials or {
            "lab-v2c": {"version": "2c", "community": "public"},
            "lab": {"version": "2c", "community": "public"},
            "lab-v3": {"version": "3", "user": "testv3", "level": "authPriv",
                       "auth_protocol": "SHA", "auth_password": "authpass123",
                       "priv_protocol": "AES", "priv_password": "privpass123"},
        }
        self.write_config(allow=allow, extra=extra)

    def write_config(self, allow="", extra=None, raw=None):
        if raw is None:
            sections = {
                "agent": {"state_dir": self.state, "log_level": "debug"},
                "server": {"url": self.url, "token_file": self.token_file,
                           "poll_wait": self.poll_wait, "backoff_base": "200ms",
                           "backoff_cap": "2s"},
                "upload": {"batch_max_age": "200ms"},
                "policy": {} if allow is None else {"allow_networks": allow},
            }
            for sec, kv in (extra or {}).items():
                sections.setdefault(sec, {}).update(kv)
            lines = []
            for sec, kv in sections.items():
                lines += [f"[{sec}]"] + [f"{k} = {v}" for k, v in kv.items()]
            for name, kv in self.credentials.items():
                lines += [f"[credential {name}]"] + [f"{k} = {v}" for k, v in kv.items()]
            raw = "\n".join(lines) + "\n"
        fd = os.open(self.ini, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(raw)

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.log_offset = self.logf.tell()
        self.proc = subprocess.Popen([self.binary, "run", "-c", self.ini],
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=client_env())
        deadline = time.monotonic() + 10
        while "outpost 0." not in self.log(True) or "hub" not in self.log(True):
            if self.proc.poll() is not None:
                raise AssertionError(f"outpost run exited {self.proc.returncode}:\n"
                                     f"{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError("outpost run did not start:\n" + self.log())
            time.sleep(0.02)
        return self

    def log(self, since_start=False):
        with open(self.log_path, "rb") as f:
            if since_start:
                f.seek(self.log_offset)
            return f.read().decode(errors="replace")

    def wait_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not in the agent log:\n{self.log()}")
            time.sleep(0.05)

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("outpost run did not exit after SIGTERM")
        finally:
            self.logf.close()
