"""outpost scan over a loopback subnet of real snmpd devices.

One /28 holds five devices on port 1161:
  .1 .2 .3  community public, v3 user testv3   sysName dev-1..3
  .5        v3 only (no community)             sysName v3-only
  .9        community s3cret-community + v3    sysName odd-comm
and one more on port 1163 (.11) for --port. Every other address in the
/28 has nothing listening, so loopback answers with port-unreachable.
"""

import ipaddress
import json
import os

import pytest

from outpost_cli import FAST, assert_one_clear_line, netsnmp, outpost_run
from snmpd_fixture import SnmpdFarm

JSON_KEYS = {"address", "port", "version", "credential", "sys_name", "sys_descr",
             "sys_object_id", "sys_uptime", "rtt_ms"}
SECRETS = ("s3cret-community", "authpass123", "privpass123")

CONFIG = """\
; credentials are tried in this order
[credential lab-v2c]
version = 2c
community = public

[credential odd-v2c]
version = 2c
community = s3cret-community

[credential ops-v3]
version = 3
user = testv3
level = authPriv
auth_protocol = SHA
auth_password = authpass123
priv_protocol = AES
priv_password = privpass123
"""


class Lab:
    def __init__(self, farm):
        self.net = farm.free_network(28)
        hosts = [str(h) for h in ipaddress.ip_network(self.net).hosts()]
        self.devs = farm.start_many(3, network=self.net)
        self.devs.append(farm.start_one(hosts[4], community=None, sys_name="v3-only"))
        self.devs.append(farm.start_one(hosts[8], community="s3cret-community",
                                        sys_name="odd-comm"))
        self.other_port = farm.start_one(hosts[10], port=1163, sys_name="port-1163")
        # credential each device answers first, in CONFIG's order
        self.expect = {d.addr: (d.sys_name, cred, ver) for d, cred, ver in zip(
            self.devs, ["lab-v2c"] * 3 + ["ops-v3", "odd-v2c"],
            ["2c"] * 3 + ["3", "2c"])}
        ref = netsnmp("snmpget", "-Oqv", "-v2c", "-c", "public", self.devs[0].target,
                      "1.3.6.1.2.1.1.2.0")
        assert ref.returncode == 0, ref
        self.sys_object_id = ref.stdout.strip()


@pytest.fixture(scope="module")
def lab():
    with SnmpdFarm() as farm:
        yield Lab(farm)


@pytest.fixture
def config(tmp_path):
    p = tmp_path / "outpost.ini"
    p.write_text(CONFIG)
    p.chmod(0o600)
    return str(p)


def scan(outpost, *args):
    return outpost_run(outpost, "scan", *FAST, *args, timeout=30)


def table_rows(stdout):
    lines = stdout.splitlines()
    assert lines and lines[0].split()[:6] == ["ADDRESS", "PORT", "VER", "CREDENTIAL",
                                              "SYS_NAME", "RTT_MS"], stdout
    return {ln.split()[0]: ln.split() for ln in lines[1:]}


def test_scan_table_with_config(outpost, lab, config):
    r = scan(outpost, "--config", config, "--port", "1161", lab.net)
    assert r.returncode == 0, r
    rows = table_rows(r.stdout)
    assert set(rows) == set(lab.expect), r
    for addr, (name, cred, ver) in lab.expect.items():
        row = rows[addr]
        assert row[1:5] == ["1161", ver, cred, name], row
    for s in SECRETS:
        assert s not in r.stdout + r.stderr, f"secret {s!r} printed\n{r}"
    assert "16 addresses probed, 5 devices found" in r.stderr, r


def test_scan_json_with_config(outpost, lab, config):
    r = scan(outpost, "--json", "--config", config, "--port", "1161", lab.net)
    assert r.returncode == 0, r
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(objs) == 5, r
    by_addr = {o["address"]: o for o in objs}
    assert set(by_addr) == set(lab.expect)
    for addr, (name, cred, ver) in lab.expect.items():
        o = by_addr[addr]
        assert set(o) == JSON_KEYS, o
        assert o["port"] == 1161 and isinstance(o["port"], int)
        assert (o["sys_name"], o["credential"], o["version"]) == (name, cred, ver), o
        assert o["sys_descr"] == f"Test device {addr}"
        assert o["sys_object_id"] == lab.sys_object_id
        assert isinstance(o["sys_uptime"], int) and 0 < o["sys_uptime"] < 360000, o
        assert isinstance(o["rtt_ms"], (int, float)) and 0 <= o["rtt_ms"] < 300, o
    for s in SECRETS:
        assert s not in r.stdout + r.stderr


def test_scan_uptime_is_sysuptime(outpost, lab):
    dev = lab.devs[0]
    ref = netsnmp("snmpget", "-Oqvt", "-v2c", "-c", "public", dev.target,
                  "1.3.6.1.2.1.1.3.0")
    r = scan(outpost, "--json", "-c", "public", "--port", "1161", dev.addr)
    (o,) = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert 0 <= o["sys_uptime"] - int(ref.stdout) < 500, (o, ref.stdout)


def test_scan_one_credential_from_config(outpost, lab, config):
    """--credential ops-v3: every device here also has the v3 user."""
    r = scan(outpost, "--json", "--config", config, "--credential", "ops-v3",
             "--port", "1161", lab.net)
    assert r.returncode == 0, r
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert sorted(o["address"] for o in objs) == sorted(lab.expect)
    assert {(o["credential"], o["version"]) for o in objs} == {("ops-v3", "3")}


def test_scan_communities_tried_in_order(outpost, lab):
    r = scan(outpost, "--json", "-c", "wrong", "-c", "public", "-c", "s3cret-community",
             "--port", "1161", lab.net)
    assert r.returncode == 0, r
    got = {o["address"]: (o["credential"], o["sys_name"])
           for o in map(json.loads, r.stdout.splitlines())}
    want = {d.addr: ("community#2", d.sys_name) for d in lab.devs[:3]}
    want[lab.devs[4].addr] = ("community#3", "odd-comm")
    assert got == want, r  # the v3-only device has no community: not found
    assert "s3cret-community" not in r.stdout + r.stderr

    r = scan(outpost, "--json", "-c", "public", "-c", "wrong", "--port", "1161",
             *[d.addr for d in lab.devs[:3]])
    creds = {json.loads(ln)["credential"] for ln in r.stdout.splitlines()}
    assert creds == {"community#1"}, r


def test_scan_v3_flags(outpost, lab):
    r = scan(outpost, "--json", "-u", "testv3", "-l", "authPriv", "-a", "SHA", "-A",
             "authpass123", "-x", "AES", "-X", "privpass123", "--port", "1161",
             lab.devs[3].addr)
    assert r.returncode == 0, r
    (o,) = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert (o["sys_name"], o["version"], o["credential"]) == ("v3-only", "3", "usm:testv3")
    assert "authpass123" not in r.stdout + r.stderr


def test_scan_other_port(outpost, lab):
    r = scan(outpost, "-c", "public", "--port", "1163", lab.net)
    assert r.returncode == 0, r
    rows = table_rows(r.stdout)
    assert set(rows) == {lab.other_port.addr}, r
    assert rows[lab.other_port.addr][1:5] == ["1163", "2c", "community#1", "port-1163"]

    r = outpost_run(outpost, "get", "-c", "public", lab.other_port.target,
                    "1.3.6.1.2.1.1.5.0")
    assert r.returncode == 0 and '"port-1163"' in r.stdout, r


def test_scan_ranges_and_several_targets(outpost, lab):
    """A single address and a short range in one scan; the table is sorted
    by address whatever the order of the targets."""
    a = [d.addr for d in lab.devs]
    r = scan(outpost, "-c", "public", "--port", "1161", a[2],
             f"{a[0]}-{a[1].rsplit('.', 1)[1]}")
    assert r.returncode == 0, r
    assert list(table_rows(r.stdout)) == [a[0], a[1], a[2]], r
    assert "3 addresses probed, 3 devices found" in r.stderr


def test_scan_finds_nothing(outpost, lab):
    with SnmpdFarm() as farm:
        empty = farm.free_network(29)
    r = scan(outpost, "-c", "public", "--port", "1161", empty)
    assert r.returncode == 0, r
    assert table_rows(r.stdout) == {}
    assert "8 addresses probed, 0 devices found" in r.stderr
    assert r.elapsed < 2.0, "port-unreachable ends every probe at once"

    r = scan(outpost, "--json", "-c", "public", "--port", "1161", empty)
    assert r.returncode == 0 and r.stdout == "", r


def test_scan_silent_devices_time_out(outpost, lab):
    """Wrong community everywhere: each probe times out, scan still exits 0."""
    r = scan(outpost, "--json", "-c", "nope", "--port", "1161", lab.net)
    assert r.returncode == 0, r
    assert r.stdout == ""
    assert "0 devices found" in r.stderr
    assert r.elapsed < 3.0, r


def test_scan_refuses_readable_secrets(outpost, lab, config):
    os.chmod(config, 0o644)
    r = scan(outpost, "--config", config, "--port", "1161", lab.net)
    assert r.returncode == 1, r
    assert r.stdout == ""
    line = assert_one_clear_line(r)
    assert config in line and "chmod 600" in line
