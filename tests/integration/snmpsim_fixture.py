"""snmpsim serving the recordings of real devices that Debian's snmpsim
package ships (a Cisco 3750, HP ProCurve, Windows XP, Linux, Linksys,
Solaris, ...), as test devices.

    sim = SnmpsimServer()          # every shipped recording, or some by name
    sim.start()                    # raises SnmpsimMissing if not installed
    sim.target                     # "127.x.y.z:PORT"
    sim.recordings                 # {name: Recording}; community = name
    sim.v3_args(name)              # net-snmp flags for v3 with context = name
    sim.stop()

or the module-scoped pytest fixture `snmpsim` (skips the module when snmpsim
is not installed). One process serves every recording: community NAME (v1,
v2c) or v3 user SIM_USER with context NAME.

The recordings are copied (gunzipped: snmpsim reads only plain .snmprec)
into a temp dir readable by nobody, who snmpsim runs as when we are root.
Recordings that select by transport address and the variation-module demos
(examples/data/variation, the OID-named directories) are not devices and are
left out. Lines whose tag names a variation module (`65:numeric|rate=...`)
answer a value that changes with time: Recording.moving lists their OIDs.

snmpsim answers ~1.5k requests/s (less for big responses): walk each
recording once per test run. The process is started and stopped by its own
PID (Popen handle); its log is in sim.log_path.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import pytest

from snmpd_fixture import _die_with_parent, _is_root, _nobody_ids, _port_free, client_env

SNMPSIMD = shutil.which("snmpsimd") or "/usr/bin/snmpsimd"
# Addresses for the simulator: next to snmpd_fixture's 127.77.0.0/16.
POOL_FIRST = (127 << 24) | (78 << 16)
PORT = 1161
SIM_USER = "outpost-sim"
SIM_AUTH = "sim-auth-pass"
SIM_PRIV = "sim-priv-pass"
# SHA/AES as the v3 of most real devices.
SIM_V3 = {"user": SIM_USER, "level": "authPriv", "auth_protocol": "SHA",
          "auth_password": SIM_AUTH, "priv_protocol": "AES", "priv_password": SIM_PRIV}


class SnmpsimMissing(RuntimeError):
    """snmpsim (or its recordings) is not installed here."""


@dataclass
class Recording:
    name: str            # community and v3 context
    source: str          # the file the package ships
    oids: list = field(default_factory=list)     # every OID, file order
    moving: set = field(default_factory=set)     # OIDs snmpsim varies


def shipped_recordings() -> list[str]:
    """Paths of the device recordings `dpkg -L snmpsim` lists."""
    try:
        out = subprocess.run(["dpkg", "-L", "snmpsim"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = []
    for p in out.splitlines():
        if not p.endswith((".snmprec", ".snmprec.gz")) or "/examples/data/" not in p:
            continue
        rel = p.split("/examples/data/", 1)[1]
        parts = rel.split("/")
        # variation/: module demos (delay, sql, subprocess). Directories
        # named by an OID or a community select by transport address.
        if parts[0] == "variation" or any(c[0].isdigit() for c in parts[:-1]) \
                or parts[0] == "public" and len(parts) > 1:
            continue
        paths.append(p)
    return sorted(paths)


def _recording_name(path: str) -> str:
    rel = path.split("/examples/data/", 1)[1]
    for ext in (".snmprec.gz", ".snmprec"):
        if rel.endswith(ext):
            rel = rel[: -len(ext)]
    parts = rel.split("/")
    # recorded/linksys-system -> linksys-system; mib2dev/ip-mib -> mib2dev-ip-mib
    return parts[-1] if parts[0] == "recorded" else "-".join(parts)


def _parse(rec: Recording, text: str) -> None:
    for line in text.splitlines():
        parts = line.split("|", 2)
        if len(parts) != 3 or not parts[0][:1].isdigit():
            continue   # comments and blank lines
        oid, tag = "." + parts[0], parts[1]
        rec.oids.append(oid)
        if ":" in tag:
            rec.moving.add(oid)


class SnmpsimServer:
    def __init__(self, names: list[str] | None = None, start_timeout: float = 90.0):
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.addr = self.port = None
        self.recordings: dict[str, Recording] = {}
        paths = shipped_recordings()
        if not os.path.exists(SNMPSIMD) or not paths:
            raise SnmpsimMissing("snmpsim is not installed (Debian package snmpsim: "
                                 "snmpsimd and its example recordings)")
        for p in paths:
            name = _recording_name(p)
            if names is None or name in names:
                self.recordings[name] = Recording(name, p)
        self.base = tempfile.mkdtemp(prefix="outpost-snmpsim-")
        self.data = os.path.join(self.base, "data")
        self.cache = os.path.join(self.base, "cache")
        self.log_path = os.path.join(self.base, "snmpsim.log")

    @property
    def target(self) -> str:
        return f"{self.addr}:{self.port}"

    def v2c_args(self, name: str, version: str = "2c") -> list[str]:
        return [f"-v{version}", "-c", name]

    def v3_args(self, name: str) -> list[str]:
        """net-snmp/outpost flags for the recording `name` over v3."""
        return ["-v3", "-u", SIM_USER, "-l", "authPriv", "-a", "SHA", "-A", SIM_AUTH,
                "-x", "AES", "-X", SIM_PRIV, "-n", name]

    # ---- process ----

    def _prepare(self) -> None:
        os.makedirs(self.data)
        os.makedirs(self.cache)
        for rec in self.recordings.values():
            if rec.source.endswith(".gz"):
                with gzip.open(rec.source, "rt", errors="surrogateescape") as f:
                    text = f.read()
            else:
                with open(rec.source, errors="surrogateescape") as f:
                    text = f.read()
            _parse(rec, text)
            dst = os.path.join(self.data, rec.name + ".snmprec")
            with open(dst, "w", errors="surrogateescape") as f:
                f.write(text)
            os.chmod(dst, 0o644)
        for d in (self.base, self.data):
            os.chmod(d, 0o755)
        if _is_root():
            os.chown(self.cache, *_nobody_ids())

    def _free_address(self) -> str:
        start = random.randrange(1, 65000)
        for i in range(65000):
            n = POOL_FIRST + 1 + (start + i) % 65000
            addr = socket.inet_ntoa(n.to_bytes(4, "big"))
            if _port_free(addr, PORT):
                return addr
        raise RuntimeError("no free address for snmpsim in 127.78.0.0/16")

    def start(self) -> "SnmpsimServer":
        self._prepare()
        self.addr, self.port = self._free_address(), PORT
        cmd = [SNMPSIMD, f"--data-dir={self.data}", f"--cache-dir={self.cache}",
               f"--agent-udpv4-endpoint={self.target}",
               f"--v3-user={SIM_USER}", f"--v3-auth-key={SIM_AUTH}", "--v3-auth-proto=SHA",
               f"--v3-priv-key={SIM_PRIV}", "--v3-priv-proto=AES"]
        if _is_root():
            cmd += ["--process-user=nobody", "--process-group=nogroup"]
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.base,
                                     preexec_fn=_die_with_parent)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        # snmpsim indexes every recording before it answers at all: ready
        # once one GET is answered.
        first = min(self.recordings.values(), key=lambda r: len(r.oids))
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"snmpsimd exited {self.proc.returncode}:\n{self.log()}")
            r = subprocess.run(["snmpget", "-On", "-t", "0.5", "-r", "0",
                                *self.v2c_args(first.name), self.target, first.oids[0][1:]],
                               capture_output=True, text=True, env=client_env(), timeout=30)
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"snmpsimd did not answer within "
                                   f"{self.start_timeout}s:\n{self.log()}")
            time.sleep(0.3)

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def snmpsim():
    """A running SnmpsimServer with every shipped recording (module scope:
    snmpsim takes seconds to index the big ones)."""
    try:
        sim = SnmpsimServer()
    except SnmpsimMissing as e:
        pytest.skip(str(e))
    try:
        sim.start()
        yield sim
    finally:
        sim.close()
