"""outpost.exe's one-shot commands under Wine print exactly what the Linux
build prints against the same snmpd: version, get, walk (v2c and v3), scan;
and a configuration file with a secret that other users can read is
refused, as on Linux, with the Windows fix named.

Byte-equal means bytes: a "\\r\\n" where Linux prints "\\n" fails. Values that
move between two reads (Timeticks, counters, gauges) are compared by type
only, as tests/integration/test_walk.py does.
"""

import json
import os
import re

import pytest

from wine_fixture import native, wine, winpath
from outpost_cli import DYNAMIC_TYPES, V3_FLAGS, parse_varbinds

V2C = ["-c", "public"]
FAST = ["-t", "0.3", "-r", "0"]
SYSTEM = "1.3.6.1.2.1.1"
IF_TABLE = "1.3.6.1.2.1.2.2"
GET_OIDS = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.2.0",
            "1.3.6.1.2.1.1.99.0", "1.3.6.1.2.1.1.1.0.1"]


def masked(stdout: bytes) -> list[str]:
    text = stdout.decode()
    return [vb.masked() for vb in parse_varbinds(text)]


def test_version_prints_the_version(outpost_exe, outpost):
    r = wine(outpost_exe, "version")
    assert r.returncode == 0, r
    version = re.search(r'#define OUTPOST_VERSION "([^"]+)"',
                        open(os.path.join(os.path.dirname(__file__), "..", "..",
                                          "core", "core.h")).read()).group(1)
    assert r.out.startswith(f"outpost {version}"), r
    assert "net-snmp 5.9" in r.out, r
    # The same version and net-snmp as Linux (libcurl's build differs:
    # Schannel, HTTP only), and no carriage returns.
    ref = native(outpost, "version")
    head = ref.out.split(", libcurl/")[0]
    assert head.startswith(f"outpost {version} (net-snmp ") and r.out.startswith(head), (r, ref)
    assert b"\r" not in r.stdout, r


def test_get_is_byte_equal_to_linux(outpost_exe, outpost, dev):
    r = wine(outpost_exe, "get", *V2C, dev.target, *GET_OIDS)
    ref = native(outpost, "get", *V2C, dev.target, *GET_OIDS)
    assert ref.returncode == 0 and "No Such Object" in ref.out, ref
    assert (r.returncode, r.stdout, r.stderr) == (ref.returncode, ref.stdout, ref.stderr), r


def test_get_json_v3_is_byte_equal_to_linux(outpost_exe, outpost, dev):
    args = ["get", "--json", *V3_FLAGS, dev.target, *GET_OIDS[:3]]
    r = wine(outpost_exe, *args)
    ref = native(outpost, *args)
    assert ref.returncode == 0, ref
    assert r.returncode == 0 and r.stdout == ref.stdout, (r, ref)
    assert json.loads(r.out.splitlines()[1])["value"] == dev.sys_name


@pytest.mark.parametrize("cred,subtree", [(V2C, SYSTEM), (V2C, IF_TABLE),
                                          (V3_FLAGS, SYSTEM)],
                         ids=["v2c-system", "v2c-ifTable", "v3-system"])
def test_walk_is_byte_equal_to_linux(outpost_exe, outpost, dev, cred, subtree):
    r = wine(outpost_exe, "walk", *cred, dev.target, subtree)
    ref = native(outpost, "walk", *cred, dev.target, subtree)
    assert ref.returncode == 0 and ref.stdout, ref
    assert r.returncode == 0 and r.stderr == ref.stderr, r
    assert b"\r" not in r.stdout, r
    got, want = masked(r.stdout), masked(ref.stdout)
    assert got == want, r
    # Same bytes once the moving values are set aside: line by line, every
    # line whose type cannot move is identical.
    static = [ln for ln in want if not any(f"= {t}:" in ln for t in DYNAMIC_TYPES)]
    assert len(static) >= 3, ref


def test_walk_timeout_matches_linux(outpost_exe, outpost, dev):
    args = ["walk", "-c", "wrong", *FAST, dev.target, SYSTEM]
    r = wine(outpost_exe, *args)
    ref = native(outpost, *args)
    assert ref.returncode != 0, ref
    assert (r.returncode, r.stdout, r.stderr) == (ref.returncode, ref.stdout, ref.stderr), r


def test_scan_finds_the_same_devices_as_linux(outpost_exe, outpost, farm):
    devs = farm.start_many(2)
    addrs = [d.addr for d in devs]
    args = ["scan", "--json", *V2C, *FAST, "--port", str(devs[0].port), *addrs]
    r = wine(outpost_exe, *args, timeout=60)
    ref = native(outpost, *args)
    assert ref.returncode == 0, ref
    assert r.returncode == 0, r
    got = {o["address"]: o for o in map(json.loads, r.out.splitlines())}
    want = {o["address"]: o for o in map(json.loads, ref.out.splitlines())}
    assert sorted(got) == sorted(want) == sorted(addrs), (r, ref)
    for addr in addrs:
        # rtt_ms and sys_uptime move; the rest is what the device is.
        for o in (got[addr], want[addr]):
            o.pop("rtt_ms"), o.pop("sys_uptime")
        assert got[addr] == want[addr]


SECRET = "s3cret-community"
CRED_V2C = f"[credential lab]\nversion = 2c\ncommunity = {SECRET}\n"


@pytest.mark.parametrize("mode", [0o644, 0o604])
def test_config_readable_by_others_is_refused(outpost_exe, tmp_path, mode):
    """Wine gives a file world-readable on Linux an "Everyone: read" ACE:
    the ACL check must refuse it and name the Windows fix (icacls)."""
    p = tmp_path / "outpost.ini"
    p.write_text(CRED_V2C)
    p.chmod(mode)
    r = wine(outpost_exe, "check-config", "-c", winpath(str(p)))
    assert r.returncode == 1, r
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert len(lines) == 1, r
    assert "outpost.ini" in lines[0] and "icacls" in lines[0], r
    assert "chmod" not in lines[0], r
    assert SECRET not in r.out + r.err
    assert "configuration OK" not in r.out


def test_config_readable_by_owner_only_is_accepted(outpost_exe, tmp_path):
    p = tmp_path / "outpost.ini"
    p.write_text(CRED_V2C)
    p.chmod(0o600)
    r = wine(outpost_exe, "check-config", "-c", winpath(str(p)))
    assert r.returncode == 0 and r.out == "configuration OK\n", r
