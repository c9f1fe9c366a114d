"""outpost-farm against net-snmp's tools: recordings served exactly, v1/v2c/v3
semantics, misbehaving devices, netns silence, and malformed input."""

from __future__ import annotations

import gzip
import ipaddress
import os
import random
import socket
import subprocess
import time

import pytest

from farm_fixture import (RECORDINGS, Farm, FarmError, farm_block, netns_available,
                          shipped_recordings)

# Recordings with plain values only (no snmpsim variations), as Debian ships them.
PLAIN_RECORDINGS = [
    "recorded/linksys-system.snmprec",
    "recorded/solaris-system.snmprec",
    "recorded/winxp-full-walk.snmprec.gz",
    "recorded/linux-full-walk.snmprec.gz",
    "cisco_16_switch.snmprec.gz",
    "hp_perf.snmprec.gz",
]
V3_SHA256_AES = "u256:SHA-256:authpass256:AES:privpass256"
V3_MD5_DES = "umd5:MD5:authpassmd5:DES:privpassmd5"
# Every auth protocol and every priv protocol at least once, including the
# AES-192/256 key extensions (Blumenthal; Reeder for the -C variants), which
# only matter when the hash is shorter than the key.
V3_MATRIX = ["pa:SHA:authpass1:AES-256-C:privpass1", "pb:MD5:authpass1:AES-192-C:privpass1",
             "pc:MD5:authpass1:AES-256:privpass1", "pd:SHA-224:authpass1:AES-192:privpass1",
             "pe:SHA-384:authpass1:AES:privpass1", "pf:SHA-512:authpass1:DES:privpass1",
             "pg:SHA:authpass1:none:x", "ph:none:x:none:x"]
SYSNAME = "1.3.6.1.2.1.1.5.0"
EDGE = "1.3.6.1.4.1.8072.9999.9999.1"

def _rec_path(name: str) -> str:
    if not os.path.isdir(RECORDINGS):
        pytest.fail(f"{RECORDINGS} missing: packaging/deps.sh installs snmpsim",
                    pytrace=False)
    return os.path.join(RECORDINGS, name)


@pytest.fixture(scope="module")
def farm():
    block = ipaddress.ip_network(farm_block(2))
    addrs = [str(a) for a in block]
    devices = []
    # .1.. : one recording each
    for i, rec in enumerate(PLAIN_RECORDINGS):
        devices.append((addrs[1 + i], _rec_path(rec), {}))
    devices += [
        (f"{addrs[20]}-{addrs[29]}", "switch48",
         {"v3": [V3_SHA256_AES, V3_MD5_DES], "context": ["hostctx:host"]}),
        (addrs[30], "edge", {"community": ["public", "other"],
                             "v3": "plain:none:x:none:x"}),
        (addrs[31], "switch8", {"bad": "dup"}),
        (addrs[32], "switch8", {"bad": "toobig"}),
        (addrs[33], "switch8", {"bad": "nonincreasing"}),
        (addrs[34], "switch8", {"bad": "silent"}),
        (addrs[35], "switch8", {"bad": "slow"}),
        (addrs[36], "switch48", {"max_size": 484}),
        (addrs[37], "router", {}),
        (addrs[38], "table:3000", {}),
        (addrs[39], "switch8", {"v3": V3_MATRIX}),
        (addrs[40], "switch8", {"latency_ms": 300}),
        (addrs[41], "switch8", {"loss": 100}),
        (addrs[42], "switch8", {"bad": "endless"}),
    ]
    f = Farm(devices=devices).start()
    f.a = addrs
    yield f
    log = f.stop()
    assert "Sanitizer" not in log and "runtime error" not in log, log


def snmp(farm, tool, addr, *oids, opts=(), v3=None, ctx=None, version="2c",
         community="public", timeout=30):
    cmd = [tool, "-On", "-t", "2", "-r", "1", *opts]
    if v3:
        user, auth, apass, priv, ppass = v3.split(":")
        cmd += ["-v", "3", "-l", "authPriv", "-u", user, "-a", auth, "-A", apass,
                "-x", priv, "-X", ppass]
        if ctx:
            cmd += ["-n", ctx]
    else:
        cmd += ["-v", version, "-c", community]
    return farm.run([*cmd, farm.target(addr), *oids], timeout=timeout)


# ---------------------------------------------------------------- recordings


def _oid_key(oid: str) -> tuple:
    return tuple(int(x) for x in oid.strip(".").split("."))


def expected_walk(path: str) -> list[tuple[str, str]]:
    """The recording as `snmpbulkwalk -On -Ox -Ot` prints it: sorted
    numerically, first of duplicate OIDs kept."""
    opener = gzip.open if path.endswith(".gz") else open
    seen: dict[tuple, tuple[str, str]] = {}
    with opener(path, "rb") as f:
        for raw in f:
            raw = raw.rstrip(b"\r\n")
            parts = raw.split(b"|", 2)
            if len(parts) != 3 or raw.startswith(b"#"):
                continue
            oid, tag, val = parts[0].decode(), parts[1].decode(), parts[2]
            if ":" in tag:
                continue  # a variation (`65:numeric`): the farm computes it
            hexed = tag.endswith("x")
            tag = tag.rstrip("x")
            data = bytes.fromhex(val.decode()) if hexed else val
            if tag in ("2", "65", "66", "67", "70") and not data.lstrip(b"-").isdigit():
                continue  # hp_perf has INTEGERs recorded as text: the farm skips them
            if tag == "4":
                text = ("Hex-STRING: " + " ".join(f"{b:02X}" for b in data) + " ") if data else '""'
            elif tag == "2":
                text = f"INTEGER: {int(data)}"
            elif tag == "6":
                text = "OID: ." + data.decode().strip(".")
            elif tag == "64":
                raw = hexed or data.count(b".") != 3  # 4 raw bytes, as snmpsim allows
                text = "IpAddress: " + (".".join(str(b) for b in data) if raw else data.decode())
            elif tag in ("65", "66", "70"):
                text = {"65": "Counter32", "66": "Gauge32", "70": "Counter64"}[tag] + f": {int(data)}"
            elif tag == "67":
                text = str(int(data))
            elif tag == "68":
                text = "Opaque:"
            else:
                continue
            key = _oid_key(oid)
            seen.setdefault(key, ("." + ".".join(map(str, key)), text))
    return [seen[k] for k in sorted(seen)]


def parse_walk(out: str) -> list[tuple[str, str]]:
    rows: list[list[str]] = []
    for line in out.splitlines():
        if line.startswith(".") and " = " in line:
            oid, val = line.split(" = ", 1)
            rows.append([oid, val])
        elif rows:
            rows[-1][1] += line  # wrapped hex
    out_rows = []
    for oid, val in rows:
        if val.startswith("No more variables"):
            continue
        if val.startswith("Hex-STRING:"):
            val = "Hex-STRING: " + " ".join(val[11:].split()) + " "
        if val.startswith("Opaque:"):
            val = "Opaque:"
        out_rows.append((oid, val))
    return out_rows


@pytest.mark.parametrize("rec", PLAIN_RECORDINGS)
def test_walk_of_recording_returns_its_values(farm, rec):
    addr = farm.a[1 + PLAIN_RECORDINGS.index(rec)]
    r = snmp(farm, "snmpbulkwalk", addr, ".1", opts=["-Ox", "-Ot", "-Cr50"])
    assert r.returncode == 0, r.stderr
    got = parse_walk(r.stdout)
    want = expected_walk(_rec_path(rec))
    assert len(got) == len(want)
    assert got == want


def test_every_shipped_recording_loads_and_answers():
    _rec_path("")
    recs = shipped_recordings()
    assert len(recs) >= 30
    block = list(ipaddress.ip_network(farm_block(1)))
    f = Farm(devices=[(str(block[1 + i]), r, {}) for i, r in enumerate(recs)]).start()
    try:
        for i, rec in enumerate(recs):
            r = f.run(["snmpgetnext", "-v2c", "-c", "public", "-On", "-t", "2", "-r", "1",
                       f.target(str(block[1 + i])), ".1"])
            assert r.returncode == 0, (rec, r.stderr)
            assert r.stdout.startswith("."), rec
    finally:
        log = f.stop()
    assert "linux-full-walk.snmprec.gz: 3882 OIDs" in log


def test_v1_walk_ends_with_end_of_mib_and_skips_counter64(farm):
    r = snmp(farm, "snmpwalk", farm.a[1], ".1", version="1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("End of MIB")
    assert "isp-gw" in r.stdout
    r = snmp(farm, "snmpwalk", farm.a[30], EDGE, version="1")
    assert "Counter32: 4294967295" in r.stdout
    assert "Counter64" not in r.stdout


def test_v1_get_of_missing_object_is_nosuchname(farm):
    r = snmp(farm, "snmpget", farm.a[1], SYSNAME, "1.3.6.1.2.1.1.9.0", version="1")
    assert r.returncode != 0
    assert "noSuchName" in r.stderr
    assert "Failed object: .1.3.6.1.2.1.1.9.0" in r.stderr
    assert '"isp-gw"' in r.stdout  # net-snmp retried without the bad one


def test_v2c_exceptions(farm):
    r = snmp(farm, "snmpget", farm.a[1], "1.3.6.1.2.1.1.5.1", "1.3.6.1.2.1.99.0",
             "1.3.6.1.2.1.1.5")
    lines = r.stdout.splitlines()
    assert "No Such Instance" in lines[0]
    assert "No Such Object" in lines[1]
    assert "No Such Object" in lines[2]
    r = snmp(farm, "snmpgetnext", farm.a[1], "1.3.6.1.2.1.1.8.0")
    assert "No more variables" in r.stdout


def test_set_is_refused(farm):
    r = snmp(farm, "snmpset", farm.a[1], SYSNAME, "s", "x")
    assert r.returncode != 0
    assert "notWritable" in r.stderr


# ---------------------------------------------------------------- generated


def test_generated_sysname_is_unique_per_address(farm):
    names = set()
    for addr in farm.a[20:23]:
        r = snmp(farm, "snmpget", addr, SYSNAME, opts=["-Oqv"])
        assert r.returncode == 0, r.stderr
        names.add(r.stdout.strip().strip('"'))
    assert names == {"sw-" + a.replace(".", "-") for a in farm.a[20:23]}


def test_edge_values_are_exact(farm):
    r = snmp(farm, "snmpget", farm.a[30], *[f"{EDGE}.1.{i}" for i in range(1, 6)],
             opts=["-Oqv"], community="other")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "4294967295", "9007199254740993",
                                "9223372036854775808", "18446744073709551615"]


def test_switch_walk_has_48_ports(farm):
    r = snmp(farm, "snmpbulkwalk", farm.a[20], "1.3.6.1.2.1.31.1.1.1.6")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 48
    assert "Counter64" in r.stdout


def test_big_table_walk_is_complete(farm):
    r = snmp(farm, "snmpbulkwalk", farm.a[38], "1.3.6.1.2.1.2.2.1.1", opts=["-Cr50"])
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 3000


def test_small_max_size_truncates_bulk_and_refuses_big_get(farm):
    r = snmp(farm, "snmpbulkwalk", farm.a[36], "1.3.6.1.2.1.2.2.1.2", opts=["-Cr100"])
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 48
    oids = [f"1.3.6.1.2.1.2.2.1.2.{i}" for i in range(1, 48)]
    r = snmp(farm, "snmpget", farm.a[36], *oids)
    assert "tooBig" in r.stderr


# ---------------------------------------------------------------- v3


@pytest.mark.parametrize("user", [V3_SHA256_AES, V3_MD5_DES])
def test_v3_authpriv_get(farm, user):
    r = snmp(farm, "snmpget", farm.a[21], SYSNAME, v3=user)
    assert r.returncode == 0, r.stderr
    assert "sw-" + farm.a[21].replace(".", "-") in r.stdout


@pytest.mark.parametrize("user", V3_MATRIX)
def test_v3_every_protocol_matches_net_snmp(farm, user):
    name, auth, apass, priv, ppass = user.split(":")
    if priv != "none":
        r = snmp(farm, "snmpget", farm.a[39], SYSNAME, v3=user)
    else:
        level = ["-l", "authNoPriv", "-a", auth, "-A", apass] if auth != "none" \
            else ["-l", "noAuthNoPriv"]
        r = farm.run(["snmpget", "-On", "-t", "2", "-r", "1", "-v", "3", "-u", name, *level,
                      farm.target(farm.a[39]), SYSNAME])
    assert r.returncode == 0, r.stderr
    assert "sw-" + farm.a[39].replace(".", "-") in r.stdout


def test_v3_context_serves_other_data(farm):
    r = snmp(farm, "snmpbulkwalk", farm.a[22], "1.3.6.1.2.1.25.4.2.1.2",
             v3=V3_SHA256_AES, ctx="hostctx")
    assert r.returncode == 0, r.stderr
    assert "B5 54 6F 72 72 65 6E 74" in r.stdout  # Latin-1 "\xb5Torrent"
    r = snmp(farm, "snmpget", farm.a[22], SYSNAME, v3=V3_SHA256_AES, ctx="nosuch")
    assert r.returncode != 0


def test_v3_wrong_password_is_an_auth_error(farm):
    bad = V3_SHA256_AES.replace("authpass256", "wrongpass256")
    r = snmp(farm, "snmpget", farm.a[23], SYSNAME, v3=bad)
    assert r.returncode != 0
    assert "Authentication failure" in r.stderr
    r = snmp(farm, "snmpget", farm.a[23], SYSNAME, v3="nouser:SHA:abcdefgh:AES:abcdefgh")
    assert "Unknown user name" in r.stderr


# ---------------------------------------------------------------- bad devices


def test_bad_dup_answers_and_farm_survives(farm):
    r = snmp(farm, "snmpget", farm.a[31], SYSNAME)
    assert r.returncode == 0, r.stderr
    assert farm.alive()


def _exchange(farm, addr, wait=3.0, count=1) -> list[bytes]:
    """Sends one v2c GETBULK and collects replies until `wait` passes."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(_seeds(addr)[0], (addr, farm.port))
        s.settimeout(wait)
        try:
            while len(out) < count:
                out.append(s.recv(65535))
        except socket.timeout:
            pass
    return out


def test_bad_dup_sends_every_reply_twice(farm):
    replies = _exchange(farm, farm.a[31], wait=2, count=2)
    assert len(replies) == 2 and replies[0] == replies[1]


def test_latency_delays_and_loss_drops(farm):
    t = time.monotonic()
    assert len(_exchange(farm, farm.a[40])) == 1
    assert time.monotonic() - t >= 0.29  # never sooner than latency_ms=300
    assert _exchange(farm, farm.a[41], wait=1) == []


def test_bad_toobig(farm):
    r = snmp(farm, "snmpget", farm.a[32], SYSNAME)
    assert r.returncode != 0
    assert "tooBig" in r.stderr


def test_bad_nonincreasing(farm):
    r = snmp(farm, "snmpbulkwalk", farm.a[33], "1.3.6.1.2.1.2")
    assert r.returncode != 0
    assert "OID not increasing" in r.stderr


def test_bad_endless_table_keeps_growing(farm):
    r = snmp(farm, "snmpbulkget", farm.a[42], "1.3.6.1.2.1.2.2.1.1.6", opts=["-Cr100"])
    assert r.returncode == 0, r.stderr
    rows = [int(l.split(" = ")[0].rsplit(".", 1)[1]) for l in r.stdout.splitlines()]
    assert rows == list(range(7, 107))  # 8 real rows, then made up forever


def test_bad_silent_and_slow(farm):
    r = farm.run(["snmpget", "-v2c", "-c", "public", "-t", "1", "-r", "0",
                  farm.target(farm.a[34]), SYSNAME])
    assert r.returncode != 0 and "Timeout" in r.stderr
    r = farm.run(["snmpget", "-v2c", "-c", "public", "-t", "1", "-r", "0",
                  farm.target(farm.a[35]), SYSNAME])
    assert r.returncode != 0 and "Timeout" in r.stderr
    r = farm.run(["snmpget", "-v2c", "-c", "public", "-t", "5", "-r", "0",
                  farm.target(farm.a[35]), SYSNAME])
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- robustness


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    ln = bytes([n]) if n < 128 else bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + ln + body


def _int(v: int) -> bytes:
    return _tlv(2, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def _seeds(addr: str) -> list[bytes]:
    """Valid requests to mutate: v2c GETBULK, and a v3 noAuthNoPriv GETBULK
    for user "plain" with the device's engine ID (so mutations reach the
    PDU code through USM)."""
    vbl = _tlv(0x30, _tlv(0x30, _tlv(6, bytes([0x2B, 6, 1, 2, 1, 2])) + b"\x05\x00") * 2)
    bulk = _tlv(0xA5, _int(0x11223344) + _int(1) + _int(10) + vbl)
    v2 = _tlv(0x30, _int(1) + _tlv(4, b"public") + bulk)
    eid = bytes.fromhex("80001f8801") + socket.inet_aton(addr)
    usm = _tlv(4, _tlv(0x30, _tlv(4, eid) + _int(1) + _int(1) + _tlv(4, b"plain")
                       + _tlv(4, b"") + _tlv(4, b"")))
    head = _tlv(0x30, _int(7) + _int(65507) + _tlv(4, b"\x04") + _int(3))
    v3 = _tlv(0x30, _int(3) + head + usm + _tlv(0x30, _tlv(4, eid) + _tlv(4, b"") + bulk))
    return [v2, v3]


def test_v3_noauth_user_answers(farm):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(_seeds(farm.a[30])[1], (farm.a[30], farm.port))
        reply = s.recv(65535)
    assert reply[:1] == b"\x30"
    assert b"port1" in reply  # ifDescr.1 of the edge kind, in the GETBULK's rows


def _fuzz_packets(rng: random.Random, n: int, addr: str) -> list[bytes]:
    seeds = _seeds(addr)
    out = []
    for i in range(n):
        kind = i % 4
        seed = seeds[i // 4 % 2]
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(1, 200)))
        elif kind == 1:
            out.append(seed[:rng.randrange(1, len(seed))])
        elif kind == 2:
            b = bytearray(seed)
            for _ in range(rng.randrange(1, 6)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            out.append(bytes(b))
        else:  # huge or indefinite lengths, and v3 garbage
            out.append(bytes([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 2, 1, 3])
                       + rng.randbytes(rng.randrange(0, 100)))
    return out


def test_malformed_packets_do_not_crash_the_farm(farm):
    rng = random.Random(7)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for addr in (farm.a[1], farm.a[20], farm.a[30]):
            for pkt in _fuzz_packets(rng, 4000, addr):
                s.sendto(pkt, (addr, farm.port))
    r = snmp(farm, "snmpget", farm.a[20], SYSNAME)
    assert r.returncode == 0, r.stderr
    assert farm.alive()
    st = farm.stats()
    assert st["requests"] >= 12000


def test_load_generator_measures_replies(farm):
    load = os.path.join(os.path.dirname(farm.proc.args[0]), "outpost-farm-load")
    r = subprocess.run([load, "--target", farm.target(farm.a[20]), "--count", "10",
                        "--duration", "0.5", "--bulk", "10"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert "lost 0 bad 0" in r.stdout


# ---------------------------------------------------------------- netns


def test_netns_unserved_address_is_silent():
    ok, why = netns_available()
    if not ok:
        pytest.skip(why)
    f = Farm(devices=[("127.88.0.0/24", "switch8", {}),
                      ("127.88.2.0/24", "switch8", {"every": 10})], netns=True).start()
    try:
        assert "127.88.2.10" in f.addresses() and "127.88.2.11" not in f.addresses()
        r = f.run(["snmpget", "-v2c", "-c", "public", "-t", "2", "-r", "0", "-On",
                   f.target("127.88.2.10"), SYSNAME])
        assert r.returncode == 0, r.stderr
        r = f.run(["snmpget", "-v2c", "-c", "public", "-t", "1", "-r", "0",
                   f.target("127.88.2.11"), SYSNAME])
        assert r.returncode != 0 and "Timeout" in r.stderr
        r = f.run(["snmpget", "-v2c", "-c", "public", "-t", "2", "-r", "0", "-On",
                   f.target("127.88.0.9"), SYSNAME])
        assert r.returncode == 0, r.stderr
        assert "sw-127-88-0-9" in r.stdout
        r = f.run(["snmpget", "-v2c", "-c", "public", "-t", "1", "-r", "0",
                   f.target("127.88.1.9"), SYSNAME])
        assert r.returncode != 0
        assert "Timeout" in r.stderr
        ns = f.netns
    finally:
        f.stop()
    assert ns not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                    text=True).stdout


def test_selftest_key_vectors_oid_order_and_integers():
    from farm_fixture import farm_binary
    r = subprocess.run([farm_binary(), "--selftest"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "selftest: ok" in r.stderr


def test_bad_spec_is_refused_with_a_message():
    with pytest.raises(FarmError, match="unknown kind"):
        Farm(devices=[("127.88.0.1", "toaster", {})]).start()
