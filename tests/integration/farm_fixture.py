"""outpost-farm (tests/farm/) as a test and benchmark device farm.

    farm = Farm(devices=[("127.88.0.0/24", "switch48", {"community": "public"}),
                         (farm_block(1), RECORDINGS + "/recorded/linksys-system.snmprec", {})],
                netns=False, port=None).start()
    farm.port, farm.addresses(), farm.target("127.88.0.5") -> "127.88.0.5:PORT"
    farm.run(["snmpget", ...])   # subprocess.run, inside the netns if any
    farm.stats()                 # {"requests": N, "replies": N, "drops": N, "req/s": X}
    farm.stop()                  # also at exit

Device keys (see tests/farm/README.md): community, v3, context (str or list,
joined with '+'), latency_ms, loss, max_size, bad, every (sparse blocks;
addresses() lists only the addresses that answer).

Modes:
- netns=False: the farm listens on 0.0.0.0:PORT of this host's loopback; an
  address it does not serve answers ICMP port-unreachable at once.
- netns=True (root only): the farm runs in a network namespace created here
  (outpost-farm-<pid>-<n>) whose ICMP destination-unreachables are dropped
  by nftables, so unserved addresses are silent like a real network. Run
  clients with farm.run(); the namespace is deleted by stop().

Addresses: farm_block() hands out /24s from a random /20 of 127.88.0.0/16
per process, so concurrent runs rarely meet; on loopback the farm binds a
free port (farm.port), in a namespace 1161 unless port= says otherwise.
Network rule: only 127.0.0.0/8 is ever served or queried here.
"""

from __future__ import annotations

import atexit
import ipaddress
import itertools
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time

from snmpd_fixture import _die_with_parent, client_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORDINGS = "/usr/share/doc/snmpsim/examples/data"
POOL = ipaddress.ip_network("127.88.0.0/16")
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")

_block_base = POOL.network_address + random.randrange(16) * 4096
_next24 = 0
_netns_seq = itertools.count()
_live: list["Farm"] = []


class FarmError(RuntimeError):
    """The farm did not start, or the namespace could not be made."""


def farm_binary() -> str:
    path = os.environ.get("OUTPOST_FARM") or os.path.join(
        ROOT, os.environ.get("BUILD", "build"), "outpost-farm")
    if not os.access(path, os.X_OK):
        raise FarmError(f"{path} missing: run `make farm` (or set OUTPOST_FARM)")
    return path


def farm_block(n24: int = 1) -> str:
    """A fresh CIDR of n24 consecutive /24s (1, 2, 4, 8 or 16) from this
    process's /20 of 127.88.0.0/16 (reused from the start once exhausted)."""
    global _next24
    if n24 not in (1, 2, 4, 8, 16):
        raise ValueError("n24 must be 1, 2, 4, 8 or 16")
    start = (_next24 + n24 - 1) // n24 * n24
    if start + n24 > 16:
        start = 0
    _next24 = start + n24
    prefix = 24 - (n24.bit_length() - 1)
    return str(ipaddress.ip_network(f"{_block_base + start * 256}/{prefix}"))


def shipped_recordings() -> list[str]:
    """Every .snmprec[.gz] Debian's snmpsim package ships (`dpkg -L`), the
    variation demos and address-selected ones included: the farm loads
    them all. Empty when snmpsim is not installed."""
    try:
        out = subprocess.run(["dpkg", "-L", "snmpsim"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(p for p in out.split() if p.endswith((".snmprec", ".snmprec.gz")))


def netns_available() -> tuple[bool, str]:
    """(True, "") when this process may create network namespaces with
    nftables rules, else (False, reason) for pytest.skip."""
    if os.geteuid() != 0:
        return False, "network namespaces need root (the CI runs the tests as root)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return False, f"`{tool}` is not installed (packaging/deps.sh installs it)"
    return True, ""


def _expand(target: str) -> list[str]:
    if "/" in target:
        return [str(a) for a in ipaddress.ip_network(target, strict=False)]
    if "-" in target:
        lo, hi = (int(ipaddress.ip_address(x)) for x in target.split("-"))
        return [str(ipaddress.ip_address(a)) for a in range(lo, hi + 1)]
    return [target]


def _check_loopback(target: str) -> None:
    for part in re.split(r"[-/]", target)[:2]:
        if "." in part and ipaddress.ip_address(part) not in LOOPBACK:
            raise ValueError(f"farm devices must be on 127.0.0.0/8, not {target}")


class Farm:
    def __init__(self, devices, netns: bool = False, port: int | None = None,
                 start_timeout: float = 60.0, extra_args: list[str] | None = None):
        self.devices = list(devices)
        self.want_netns = netns
        self.port = port
        self.netns: str | None = None
        self.start_timeout = start_timeout
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.dir = tempfile.mkdtemp(prefix="outpost-farm-")
        self.log_path = os.path.join(self.dir, "farm.log")
        for target, _kind, _keys in self.devices:
            _check_loopback(target)

    # ---------------------------------------------------------------- setup
    def _ns(self, *cmd: str) -> None:
        r = subprocess.run(["ip", "netns", "exec", self.netns, *cmd],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise FarmError(f"{' '.join(cmd)} in {self.netns}: {r.stderr.strip()}")

    @staticmethod
    def _remove_orphan_netns() -> None:
        # A test process killed outright leaves its namespaces behind; their
        # names carry its pid, so a namespace whose creator is gone is ours
        # to delete.
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
        for m in re.finditer(r"^(outpost-farm-(\d+)-\d+)", r.stdout, re.M):
            if int(m[2]) != os.getpid() and not os.path.exists(f"/proc/{m[2]}"):
                subprocess.run(["ip", "netns", "delete", m[1]], capture_output=True)

    def _make_netns(self) -> None:
        ok, why = netns_available()
        if not ok:
            raise FarmError(why)
        self._remove_orphan_netns()
        name = f"outpost-farm-{os.getpid()}-{next(_netns_seq)}"
        r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
        if r.returncode != 0:
            raise FarmError(f"ip netns add {name}: {r.stderr.strip()}")
        self.netns = name
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        # Silent addresses, like a real network: no ICMP unreachables.
        self._ns("nft", "add", "table", "inet", "outpost_farm")
        self._ns("nft", "add", "chain", "inet", "outpost_farm", "out",
                 "{ type filter hook output priority 0; }")
        self._ns("nft", "add", "rule", "inet", "outpost_farm", "out",
                 "icmp", "type", "destination-unreachable", "drop")

    def _spec(self, target: str, kind: str, keys: dict) -> str:
        parts = [f"{target}={kind}"]
        for k, v in keys.items():
            if isinstance(v, (list, tuple)):
                v = "+".join(str(x) for x in v)
            parts.append(f"{k}={v}")
        return ",".join(parts)

    def start(self) -> "Farm":
        if self.want_netns:
            self._make_netns()
        if self.port is None:
            # loopback: the farm binds a free port itself (no race) and
            # names it in the ready file
            self.port = 1161 if self.netns else 0
        ready = os.path.join(self.dir, "ready")
        cmd = [farm_binary(), "--listen", f"0.0.0.0:{self.port}",
               "--ready-file", ready, *self.extra_args]
        for target, kind, keys in self.devices:
            cmd += ["--device", self._spec(target, kind, keys or {})]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        _live.append(self)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.start_timeout
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                text = self.log_text()
                self.stop()
                raise FarmError(f"outpost-farm exited {self.proc.returncode}: {text[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise FarmError("outpost-farm not ready in time")
            time.sleep(0.02)
        with open(ready) as fh:
            self.port = int(fh.read().strip().rsplit(":", 1)[1])
        return self

    # ------------------------------------------------------------------ use
    def addresses(self) -> list[str]:
        out: list[str] = []
        for target, _kind, keys in self.devices:
            out += _expand(target)[::int((keys or {}).get("every", 1))]
        return out

    def target(self, addr: str) -> str:
        return f"{addr}:{self.port}"

    def run(self, cmd: list[str], timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        """cmd in the farm's namespace (if any) with the net-snmp client
        environment (MIBS empty, private persistent dir)."""
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("env", client_env())
        return subprocess.run(cmd, timeout=timeout, **kw)

    def log_text(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stats(self, timeout: float = 5.0) -> dict:
        """SIGUSR1, then the counters of the line the farm prints."""
        before = self.log_text().count("outpost-farm: requests")
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_text()
            if text.count("outpost-farm: requests") > before:
                return self._parse_stats(text)
            time.sleep(0.02)
        raise FarmError("no stats line after SIGUSR1")

    @staticmethod
    def _parse_stats(text: str) -> dict:
        line = [l for l in text.splitlines() if l.startswith("outpost-farm: requests")][-1]
        m = re.search(r"requests (\d+) replies (\d+) drops (\d+) req/s (\d+)", line)
        return {"requests": int(m[1]), "replies": int(m[2]), "drops": int(m[3]),
                "req/s": int(m[4]), "line": line}

    def stop(self) -> str:
        """Stops the farm and returns its log (stats line, sanitizer reports)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
            self.log = None
        if self.netns:
            subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)
            self.netns = None
        if self in _live:
            _live.remove(self)
        text = self.log_text()
        if os.environ.get("OUTPOST_KEEP_FARM_DIR") is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return text


@atexit.register
def _stop_all() -> None:
    for f in list(_live):
        f.stop()
