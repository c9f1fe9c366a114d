"""Real net-snmp snmpd instances on loopback, as test devices.

One SnmpdFarm owns a temp dir and every snmpd it starts. Each device gets its
own config, persistentDir, log and pid file, listens on one 127.x.y.z:port,
and answers v2c (community "public") and v3 (user testv3, SHA/AES, authPriv).

    farm = SnmpdFarm()
    dev = farm.start_one()                       # auto address, port 1161
    devs = farm.start_many(5, network=farm.free_network(29))
    odd = farm.start_one(community="private", port=1162)
    v3only = farm.start_one(community=None, v3_user="u", auth_proto="SHA-512", ...)
    dev.get("1.3.6.1.2.1.1.5.0")                 # -> 'dev-1' (via snmpget)
    dev.pause(); dev.resume(); dev.stop(); farm.start(dev)
    farm.close()                                 # kills exactly what it started

Readiness is checked with one UDP socket that sends a v2c GET of sysName.0
(when the device has a community) and a v3 engine-discovery request to every
device still starting, and counts any reply from that address:port as ready.
That checks 200 devices in one loop instead of spawning 200 snmpget processes.

Auto addresses come from 127.77.0.0/16, starting at a random /24 per process,
skipping any address whose port is busy, so concurrent test runs rarely meet.

Network rule: only 127.0.0.0/8 is ever used; addresses outside it are refused.
Only the processes started here are signalled, by their Popen handle.
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import grp
import ipaddress
import os
import pwd
import random
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

SNMPD = shutil.which("snmpd") or "/usr/sbin/snmpd"
DEFAULT_PORT = 1161
# Addresses handed out when a test does not ask for one. Each farm starts at a
# random /24 inside it so that two test runs on one machine rarely meet; an
# address whose port is already taken is skipped.
AUTO_POOL = ipaddress.ip_network("127.77.0.0/16")
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
SYSNAME_OID = "1.3.6.1.2.1.1.5.0"
SYSDESCR_OID = "1.3.6.1.2.1.1.1.0"

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class SnmpdError(RuntimeError):
    """An snmpd did not start or did not answer in time."""


# --------------------------------------------------------------------------
# Environment for net-snmp client tools (snmpget, snmpwalk, outpost itself)


_client_env_dir: str | None = None


def ensure_client_env() -> None:
    """Make net-snmp clients in this process and its children stay off
    /var/lib/snmp, /etc/snmp and ~/.snmp, and skip MIB loading.

    tests/run already exports these; this covers a bare `pytest` run."""
    global _client_env_dir
    os.environ["MIBS"] = ""
    if os.environ.get("SNMP_PERSISTENT_DIR") and os.environ.get("SNMPCONFPATH") is not None:
        return
    if _client_env_dir is None:
        _client_env_dir = tempfile.mkdtemp(prefix="outpost-snmpclient-")
        atexit.register(shutil.rmtree, _client_env_dir, True)
    persist = os.path.join(_client_env_dir, "persist")
    conf = os.path.join(_client_env_dir, "conf")
    os.makedirs(persist, exist_ok=True)
    os.makedirs(conf, exist_ok=True)
    os.environ.setdefault("SNMP_PERSISTENT_DIR", persist)
    os.environ.setdefault("SNMPCONFPATH", conf)


def client_env(extra: dict | None = None) -> dict:
    ensure_client_env()
    env = dict(os.environ)
    if extra:
        env.update(extra)
    return env


# --------------------------------------------------------------------------
# Minimal BER, only for the readiness probes


def _ber_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _ber_len(len(body)) + body


def _int(v: int) -> bytes:
    return _tlv(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def _oct(b: bytes) -> bytes:
    return _tlv(0x04, b)


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.strip(".").split(".")]
    out = bytearray([arcs[0] * 40 + arcs[1]])
    for a in arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _v2c_get(community: str, reqid: int) -> bytes:
    varbind = _seq(_oid(SYSNAME_OID), b"\x05\x00")
    pdu = _tlv(0xA0, _int(reqid) + _int(0) + _int(0) + _seq(varbind))
    return _seq(_int(1), _oct(community.encode()), pdu)


def _v3_discovery(msgid: int) -> bytes:
    # RFC 3414 4: noAuthNoPriv, reportable, empty engine ID and user name.
    header = _seq(_int(msgid), _int(65507), _oct(b"\x04"), _int(3))
    usm = _oct(_seq(_oct(b""), _int(0), _int(0), _oct(b""), _oct(b""), _oct(b"")))
    pdu = _tlv(0xA0, _int(msgid) + _int(0) + _int(0) + _seq())
    return _seq(_int(3), header, usm, _seq(_oct(b""), _oct(b""), pdu))


# --------------------------------------------------------------------------


def _is_root() -> bool:
    return os.geteuid() == 0


def _nobody_ids() -> tuple[int, int]:
    uid = pwd.getpwnam("nobody").pw_uid
    try:
        gid = grp.getgrnam("nogroup").gr_gid
    except KeyError:
        gid = pwd.getpwnam("nobody").pw_gid
    return uid, gid


def _die_with_parent() -> None:
    # Runs in the child between fork and exec (after the uid change, so it
    # survives). If the test process is killed outright, the kernel sends
    # SIGKILL to the snmpd: no strays even without our atexit handler.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _port_free(addr: str, port: int) -> bool:
    if port < 1024 and not _is_root():
        return True  # cannot test; let snmpd report it
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((addr, port))
        return True
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise
    finally:
        s.close()


def _check_loopback(addr: str) -> None:
    if ipaddress.ip_address(addr) not in LOOPBACK:
        raise ValueError(f"test devices must be on 127.0.0.0/8, not {addr}")


@dataclass(eq=False)
class SnmpdDevice:
    """One snmpd. Fields are the device's settings; None disables v2c
    (community) or v3 (v3_user). extra_config lines are appended verbatim
    to snmpd.conf (e.g. 'override 1.3.6.1.2.1.1.3.0 timeticks 0')."""

    addr: str | None = None
    port: int = DEFAULT_PORT
    community: str | None = "public"
    sys_name: str | None = None  # default dev-N, N = 1-based index in the farm
    sys_descr: str | None = None  # default "Test device ADDR"
    sys_location: str = "lab"
    sys_contact: str = "ops@example.invalid"
    v3_user: str | None = "testv3"
    auth_proto: str = "SHA"
    auth_pass: str = "authpass123"
    priv_proto: str = "AES"
    priv_pass: str = "privpass123"
    extra_config: list[str] = field(default_factory=list)

    # Filled in by the farm.
    index: int = 0
    auto_addr: bool = False
    dir: str = ""
    proc: subprocess.Popen | None = field(default=None, repr=False)
    paused: bool = False

    # -- paths ---------------------------------------------------------------
    @property
    def conf_path(self) -> str:
        return os.path.join(self.dir, "snmpd.conf")

    @property
    def log_path(self) -> str:
        return os.path.join(self.dir, "snmpd.log")

    @property
    def pid_path(self) -> str:
        return os.path.join(self.dir, "snmpd.pid")

    @property
    def state_dir(self) -> str:
        return os.path.join(self.dir, "state")

    # -- addressing ----------------------------------------------------------
    @property
    def target(self) -> str:
        """'ADDR:PORT', as net-snmp tools and outpost configs take it."""
        return f"{self.addr}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- net-snmp CLI ----------------------------------------------------------
    def v2c_args(self) -> list[str]:
        if self.community is None:
            raise ValueError(f"{self.target} has no v2c community")
        return ["-v2c", "-c", self.community]

    def v3_args(self, level: str = "authPriv") -> list[str]:
        if self.v3_user is None:
            raise ValueError(f"{self.target} has no v3 user")
        args = ["-v3", "-l", level, "-u", self.v3_user]
        if level in ("authNoPriv", "authPriv"):
            args += ["-a", self.auth_proto, "-A", self.auth_pass]
        if level == "authPriv":
            args += ["-x", self.priv_proto, "-X", self.priv_pass]
        return args

    def snmp(self, tool: str, *args: str, version: str = "2c",
             timeout: float = 1.0, retries: int = 1,
             check: bool = True) -> subprocess.CompletedProcess:
        """Run a net-snmp tool (snmpget, snmpwalk, snmpbulkwalk, ...) against
        this device: `tool [auth args] -t T -r R ADDR:PORT args...`."""
        auth = self.v2c_args() if version in ("2c", "v2c") else self.v3_args()
        cmd = [tool, *auth, "-t", str(timeout), "-r", str(retries), self.target, *args]
        return subprocess.run(cmd, env=client_env(), capture_output=True, text=True,
                              check=check, timeout=(timeout * (retries + 1)) * 4 + 10)

    def get(self, oid: str, version: str = "2c") -> str:
        """The value of one OID, as snmpget -Oqv prints it, quotes removed."""
        out = self.snmp("snmpget", "-Oqv", oid, version=version).stdout.strip()
        if len(out) >= 2 and out[0] == '"' and out[-1] == '"':
            out = out[1:-1]
        return out

    # -- faults ----------------------------------------------------------------
    def pause(self) -> None:
        """SIGSTOP: the socket stays bound and requests time out (no ICMP)."""
        if self.running():
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.running():
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate this snmpd (a stopped device answers with ICMP
        port-unreachable on loopback). farm.start(dev) brings it back."""
        _terminate([self], timeout)

    def log(self) -> str:
        parts = []
        for name in ("snmpd.log", "stderr"):
            p = os.path.join(self.dir, name)
            try:
                with open(p, errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            if text.strip():
                parts.append(f"--- {p}\n{text}")
        return "\n".join(parts) or "(no snmpd output)"

    # -- config ----------------------------------------------------------------
    def config_text(self) -> str:
        lines = [
            f"[snmp] persistentDir {self.state_dir}",
            "[snmp] mibs :",
            f"agentaddress udp:{self.addr}:{self.port}",
            f"sysDescr    {self.sys_descr}",
            f"sysName     {self.sys_name}",
            f"sysLocation {self.sys_location}",
            f"sysContact  {self.sys_contact}",
            "dontLogTCPWrappersConnects yes",
        ]
        if self.community is not None:
            lines.append(f"rocommunity {self.community} 127.0.0.0/8")
        if self.v3_user is not None:
            lines.append(f'createUser  {self.v3_user} {self.auth_proto} "{self.auth_pass}" '
                         f'{self.priv_proto} "{self.priv_pass}"')
            lines.append(f"rouser      {self.v3_user} authpriv")
        lines += list(self.extra_config)
        return "\n".join(lines) + "\n"


def _terminate(devs, timeout: float) -> None:
    live = [d for d in devs if d.running()]
    for d in live:
        try:
            if d.paused:
                d.proc.send_signal(signal.SIGCONT)
            d.proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for d in live:
        try:
            d.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait()
    for d in devs:
        d.paused = False


def _remove_orphan_dirs() -> None:
    """Remove farm dirs left by a test process that was SIGKILLed (its
    snmpd died with it through the parent-death signal)."""
    for name in os.listdir("/tmp"):
        if not name.startswith("outpost-snmpd-"):
            continue
        path = os.path.join("/tmp", name)
        try:
            with open(os.path.join(path, "owner.pid")) as f:
                owner = int(f.read())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (OSError, ValueError):
            pass  # not ours to judge (no owner file, other user's, ...)


_live_farms: "set[SnmpdFarm]" = set()


class _Cursor:
    """Next auto address, shared by every farm in this process so that two
    farms alive at once do not hand out the same address."""
    value = int(AUTO_POOL.network_address) + 256 * random.randrange(AUTO_POOL.num_addresses // 256)


@atexit.register
def _close_all_farms() -> None:
    for farm in list(_live_farms):
        farm.close()


class SnmpdFarm:
    """Starts snmpd devices and tears every one of them down on close()."""

    def __init__(self, start_timeout: float = 10.0, keep_dir: bool | None = None):
        self.start_timeout = start_timeout
        if keep_dir is None:
            keep_dir = bool(os.environ.get("OUTPOST_KEEP_TMP"))
        self.keep_dir = keep_dir
        _remove_orphan_dirs()
        # Under /tmp with mode 0755 so that nobody can reach the device dirs
        # (pytest's tmp_path is 0700 under root's basetemp).
        self.base = tempfile.mkdtemp(prefix="outpost-snmpd-", dir="/tmp")
        os.chmod(self.base, 0o755)
        with open(os.path.join(self.base, "owner.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")
        self.devices: list[SnmpdDevice] = []
        self._seq = 0
        self._reqid = random.randint(1, 1 << 30)
        self._closed = False
        _live_farms.add(self)

    # -- creating devices ---------------------------------------------------
    def device(self, addr: str | None = None, port: int | None = None, **kw) -> SnmpdDevice:
        """A device spec, registered with the farm but not started."""
        dev = SnmpdDevice(addr=addr, port=DEFAULT_PORT if port is None else port, **kw)
        self._register(dev)
        return dev

    def _register(self, dev: SnmpdDevice) -> None:
        if dev.index:
            return
        self._seq += 1
        dev.index = self._seq
        if dev.addr is None:
            dev.auto_addr = True
        else:
            _check_loopback(dev.addr)
        if dev.sys_name is None:
            dev.sys_name = f"dev-{dev.index}"
        self.devices.append(dev)

    def _next_auto_addr(self, port: int) -> str:
        top = int(AUTO_POOL.broadcast_address)
        for _ in range(AUTO_POOL.num_addresses):
            _Cursor.value += 1
            if _Cursor.value >= top:
                _Cursor.value = int(AUTO_POOL.network_address) + 1
            if _Cursor.value & 0xFF in (0, 255):
                continue
            addr = str(ipaddress.ip_address(_Cursor.value))
            if _port_free(addr, port):
                return addr
        raise SnmpdError(f"no free address in {AUTO_POOL} for port {port}")

    def free_address(self, port: int = DEFAULT_PORT) -> str:
        """An address in the auto pool where nothing listens on udp/port."""
        return self._next_auto_addr(port)

    def free_network(self, prefixlen: int = 29, port: int = DEFAULT_PORT) -> str:
        """A CIDR inside the auto pool (e.g. '127.77.41.8/29') where no host
        address has udp/port in use: for tests that scan a whole subnet."""
        size = 1 << (32 - prefixlen)
        if not 24 <= prefixlen <= 30:
            raise ValueError("prefixlen must be 24..30")
        base = int(AUTO_POOL.network_address)
        for _ in range(AUTO_POOL.num_addresses // size):
            start = ((_Cursor.value - base) // size + 1) * size + base
            if start + size > int(AUTO_POOL.broadcast_address):
                start = base
            _Cursor.value = start + size - 1
            net = ipaddress.ip_network(f"{ipaddress.ip_address(start)}/{prefixlen}")
            if all(_port_free(str(h), port) for h in net.hosts()):
                return str(net)
        raise SnmpdError(f"no free /{prefixlen} in {AUTO_POOL} for port {port}")

    def start_one(self, addr: str | None = None, port: int | None = None, **kw) -> SnmpdDevice:
        return self.start(self.device(addr, port, **kw))[0]

    def start_many(self, n: int, network: str | None = None, port: int | None = None,
                   timeout: float | None = None, **kw) -> list[SnmpdDevice]:
        """n devices: on the first n host addresses of `network` (e.g.
        '127.0.78.0/29'), or on free auto-assigned addresses when None."""
        if network is None:
            addrs = [None] * n
        else:
            hosts = list(ipaddress.ip_network(network).hosts())
            if len(hosts) < n:
                raise ValueError(f"{network} has only {len(hosts)} host addresses")
            addrs = [str(h) for h in hosts[:n]]
        devs = [self.device(a, port, **kw) for a in addrs]
        return self.start(*devs, timeout=timeout)

    # -- starting -------------------------------------------------------------
    def start(self, *devs, timeout: float | None = None) -> list[SnmpdDevice]:
        """Start the given devices (SnmpdDevice or dict of its fields; none
        given = every registered device not running) and wait until all of
        them answer. Raises SnmpdError with the snmpd log on failure."""
        if self._closed:
            raise SnmpdError("farm is closed")
        todo: list[SnmpdDevice] = []
        for d in devs or [d for d in self.devices if not d.running()]:
            if isinstance(d, dict):
                d = self.device(**d)
            self._register(d)
            if d.running():
                raise SnmpdError(f"{d.target} is already running")
            todo.append(d)
        if timeout is None:
            timeout = max(self.start_timeout, 0.1 * len(todo))
        for d in todo:
            self._launch(d)
        self._wait_ready(todo, timeout)
        return todo

    def _launch(self, dev: SnmpdDevice) -> None:
        if dev.addr is None:
            dev.addr = self._next_auto_addr(dev.port)
        if dev.sys_descr is None:
            dev.sys_descr = f"Test device {dev.addr}"
        if not dev.dir:
            dev.dir = os.path.join(self.base, f"d{dev.index}")
        os.makedirs(dev.state_dir, exist_ok=True)
        with open(dev.conf_path, "w") as f:
            f.write(dev.config_text())
        for p in (dev.log_path, dev.pid_path):
            if os.path.exists(p):
                os.unlink(p)

        cmd = [SNMPD, "-f", "-Lf", dev.log_path, "-C", "-c", dev.conf_path,
               "-p", dev.pid_path, "-I", "-smux"]
        popen_kw: dict = {}
        if _is_root():
            uid, gid = _nobody_ids()
            for root, dirs, files in os.walk(dev.dir):
                for name in [root] + [os.path.join(root, x) for x in dirs + files]:
                    os.chown(name, uid, gid)
            os.chmod(dev.dir, 0o755)
            if dev.port < 1024:
                # Bind as root, then snmpd drops to nobody itself.
                cmd += ["-u", str(uid), "-g", str(gid)]
            else:
                # Start as nobody: the parent-death signal then survives exec.
                popen_kw = dict(user=uid, group=gid, extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               "MIBS": "", "SNMP_PERSISTENT_DIR": dev.state_dir, "SNMPCONFPATH": dev.dir,
               "HOME": dev.dir}
        with open(os.path.join(dev.dir, "stderr"), "wb") as errf:
            dev.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=errf,
                                        stderr=subprocess.STDOUT, env=env, cwd=dev.dir,
                                        close_fds=True, preexec_fn=_die_with_parent,
                                        **popen_kw)
        dev.paused = False

    def _wait_ready(self, devs: list[SnmpdDevice], timeout: float) -> None:
        pending = {(d.addr, d.port): d for d in devs}
        retried: dict[int, int] = {}
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            deadline = time.monotonic() + timeout
            next_send = 0.0
            while pending:
                now = time.monotonic()
                if now >= next_send:
                    for key, d in list(pending.items()):
                        if d.proc.poll() is not None:
                            del pending[key]
                            self._handle_exit(d, retried)
                            pending[(d.addr, d.port)] = d
                            continue
                        self._probe(sock, d)
                    next_send = now + 0.1
                if now >= deadline:
                    d = next(iter(pending.values()))
                    raise SnmpdError(
                        f"{len(pending)} of {len(devs)} snmpd did not answer within "
                        f"{timeout:.1f}s, e.g. {d.target} (pid {d.pid}, conf {d.conf_path})"
                        f":\n{d.log()}")
                r, _, _ = select.select([sock], [], [], min(0.05, max(0.0, next_send - now)))
                if not r:
                    continue
                while True:
                    try:
                        _, src = sock.recvfrom(65535)
                    except BlockingIOError:
                        break
                    pending.pop(src, None)
        finally:
            sock.close()

    def _probe(self, sock: socket.socket, d: SnmpdDevice) -> None:
        self._reqid = (self._reqid % (1 << 30)) + 1
        dest = (d.addr, d.port)
        try:
            if d.community is not None:
                sock.sendto(_v2c_get(d.community, self._reqid), dest)
            sock.sendto(_v3_discovery(self._reqid), dest)
        except OSError:
            pass  # e.g. ECONNREFUSED from an earlier ICMP; try again next round

    def _handle_exit(self, d: SnmpdDevice, retried: dict[int, int]) -> None:
        log = d.log()
        in_use = "Error opening specified endpoint" in log
        if d.auto_addr and in_use and retried.get(d.index, 0) < 5:
            # Someone took the address between our check and snmpd's bind.
            retried[d.index] = retried.get(d.index, 0) + 1
            if d.sys_descr == f"Test device {d.addr}":
                d.sys_descr = None
            d.addr = self._next_auto_addr(d.port)
            self._launch(d)
            return
        raise SnmpdError(
            f"snmpd for {d.target} exited with status {d.proc.returncode}"
            + (" (address in use?)" if in_use else "")
            + f"; conf {d.conf_path}:\n{log}")

    # -- teardown -------------------------------------------------------------
    def stop_all(self, timeout: float = 5.0) -> None:
        _terminate(self.devices, timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.stop_all()
        finally:
            _live_farms.discard(self)
            if self.keep_dir:
                print(f"snmpd farm files kept in {self.base}")
            else:
                shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "SnmpdFarm":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
