"""`outpost.exe scan` under Wine (snmp/scan_win.c: Winsock sendto/recvfrom on
the WSAPoll loop) finds what the Linux build finds on the same loopback
devices: tests/integration/test_scan.py's lab (a /28 with v2c, v3-only, an
odd community and another port), compared object by object with the Linux
build's output; and it keeps the scanner's limits: --rate, retries and the
per-try timeout, measured on the probes themselves by a UDP socket that
counts them and never answers.

Winsock reports no ICMP port unreachable for a probe (docs/windows.md), so
under Wine an address where nothing listens ends at its timeout: the tests
use one 300 ms try (FAST) where Linux would end at once.
"""

import ipaddress
import json
import socket
import threading
import time

from outpost_cli import FAST
from snmpd_fixture import SnmpdFarm
# The lab and its configuration file, as fixtures (module scope: one lab).
from test_scan import JSON_KEYS, SECRETS, config, lab  # noqa: F401
from wine_fixture import native, wine, winpath

# Linux's IP_PKTINFO (Python 3.11's socket module does not name it).
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
# What moves between two scans of the same device.
MOVING = ("rtt_ms", "sys_uptime")


def both(outpost_exe, outpost, *args, config=None):
    """The same scan by outpost.exe under Wine and by the Linux build."""
    win_args, lin_args = list(args), list(args)
    if config is not None:
        win_args = ["--config", winpath(config), *args]
        lin_args = ["--config", config, *args]
    r = wine(outpost_exe, "scan", *FAST, *win_args, timeout=60)
    ref = native(outpost, "scan", *FAST, *lin_args, timeout=60)
    assert ref.returncode == 0, ref
    assert r.returncode == 0, r
    assert b"\r" not in r.stdout + r.stderr, r
    return r, ref


def by_address(stdout: bytes) -> dict:
    objs = [json.loads(ln) for ln in stdout.decode().splitlines()]
    out = {o["address"]: o for o in objs}
    assert len(out) == len(objs), stdout
    return out


def steady(o: dict) -> dict:
    return {k: v for k, v in o.items() if k not in MOVING}


def test_scan_json_with_config_equals_linux(outpost_exe, outpost, lab, config):
    """Three credentials in order (v2c, another community, v3 through the
    engine): every device found with the credential Linux finds it with."""
    r, ref = both(outpost_exe, outpost, "--json", "--port", "1161", lab.net,
                  config=config)
    got, want = by_address(r.stdout), by_address(ref.stdout)
    assert set(want) == set(lab.expect), ref
    assert set(got) == set(want), (r, ref)
    for addr, (name, cred, ver) in lab.expect.items():
        assert set(got[addr]) == JSON_KEYS, got[addr]
        assert (got[addr]["sys_name"], got[addr]["credential"],
                got[addr]["version"]) == (name, cred, ver), r
        assert steady(got[addr]) == steady(want[addr]), (r, ref)
        assert isinstance(got[addr]["sys_uptime"], int) and got[addr]["sys_uptime"] > 0
    assert r.stderr == ref.stderr == b"outpost scan: 16 addresses probed, 5 devices found\n", r
    for s in SECRETS:
        assert s.encode() not in r.stdout + r.stderr


def test_scan_table_equals_linux(outpost_exe, outpost, lab):
    """The table, column for column but the RTT."""
    r, ref = both(outpost_exe, outpost, "-c", "wrong", "-c", "public",
                  "-c", "s3cret-community", "--port", "1161", lab.net)

    def rows(stdout: bytes) -> list:
        lines = stdout.decode().splitlines()
        assert lines[0].split()[5] == "RTT_MS", stdout
        return [ln.split()[:5] + ln.split()[6:] for ln in lines]

    assert rows(r.stdout) == rows(ref.stdout), (r, ref)
    # the v3-only device has no community: 4 of the 5
    assert len(rows(r.stdout)) == 1 + 4, r
    assert r.stderr == ref.stderr, (r, ref)


def test_scan_v3_and_other_port_equal_linux(outpost_exe, outpost, lab):
    """A v3 user (discovery probe, then the authenticated GET through the
    engine), and a target with its own port."""
    v3 = ["-u", "testv3", "-l", "authPriv", "-a", "SHA", "-A", "authpass123",
          "-x", "AES", "-X", "privpass123"]
    r, ref = both(outpost_exe, outpost, "--json", *v3, "--port", "1161",
                  lab.devs[3].addr, f"{lab.other_port.addr}:1163")
    got, want = by_address(r.stdout), by_address(ref.stdout)
    assert set(got) == set(want) == {lab.devs[3].addr, lab.other_port.addr}, (r, ref)
    for addr in got:
        assert steady(got[addr]) == steady(want[addr]), (r, ref)
    assert got[lab.devs[3].addr]["credential"] == "usm:testv3"
    assert got[lab.other_port.addr]["port"] == 1163


class Counter:
    """A UDP socket on 0.0.0.0:PORT: every probe sent to any 127.x address
    on PORT arrives here (one socket for the whole of 127.0.0.0/8) and is
    never answered. A thread records (arrival time, destination address)
    per probe while the scan runs."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("0.0.0.0", 0))
        # IP_PKTINFO: the address each probe was sent to.
        self.sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.probes = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                _data, anc, _flags, _src = self.sock.recvmsg(4096, 256)
            except socket.timeout:
                continue
            t = time.monotonic()
            dst = None
            for level, kind, payload in anc:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    dst = socket.inet_ntoa(payload[8:12])   # ipi_addr
            self.probes.append((t, dst))

    def close(self):
        time.sleep(0.3)   # the last probes' way through loopback
        self.stop.set()
        self.thread.join()
        self.sock.close()


def test_scan_keeps_rate_retries_and_timeout(outpost_exe):
    """A /25 where nothing answers, --rate 100, -r 1, -t 0.5: every address
    gets exactly two probes, half a second apart or more, and 256 probes at
    100/s cannot take less than about 2.5 s from first to last."""
    with SnmpdFarm() as farm:
        net = ipaddress.ip_network(farm.free_network(25))
    counter = Counter()
    try:
        r = wine(outpost_exe, "scan", "--json", "-c", "public", "--rate", "100",
                 "-t", "0.5", "-r", "1", "--port", str(counter.port), str(net),
                 timeout=120)
    finally:
        counter.close()
    assert r.returncode == 0 and r.stdout == b"", r
    assert r.stderr == b"outpost scan: 128 addresses probed, 0 devices found\n", r
    per_addr = {}
    for t, dst in counter.probes:
        per_addr.setdefault(dst, []).append(t)
    assert set(per_addr) == {str(a) for a in net}, sorted(per_addr)
    tries = {a: len(ts) for a, ts in per_addr.items()}
    assert set(tries.values()) == {2}, tries
    gaps = [ts[1] - ts[0] for ts in per_addr.values()]
    assert min(gaps) >= 0.45, min(gaps)
    times = sorted(t for t, _ in counter.probes)
    # Two ticks of tokens may go at once (scan_set_rate's burst).
    assert times[-1] - times[0] >= (len(times) - 2) / 100 * 0.9, times[-1] - times[0]
