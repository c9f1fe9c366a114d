"""SNMPv3 walks reuse one session: one socket and one engine discovery for
every GETBULK, output identical to snmpbulkwalk, and wrong passwords still
refused. (Key derivation counts and same-user/two-password credentials are
asserted on the engine itself in tests/unit/test_engine_v3.c.)"""

import os
import re
import shutil
import subprocess

import pytest

from snmpd_fixture import client_env

SYSOR_TABLE = "1.3.6.1.2.1.1.9"     # ~40 varbinds; values fixed at agent start
AUTH, PRIV = "SHA-256", "AES"


@pytest.fixture(scope="module")
def v3dev():
    from snmpd_fixture import SnmpdFarm
    with SnmpdFarm() as farm:
        dev = farm.device(None, None, v3_user="walker", auth_proto=AUTH,
                          auth_pass="walk-auth-9", priv_proto=PRIV,
                          priv_pass="walk-priv-9")
        farm.start(dev)
        yield dev


def v3_flags(dev, auth_pass=None, priv_pass=None):
    return ["-v", "3", "-l", "authPriv", "-u", dev.v3_user,
            "-a", AUTH, "-A", auth_pass or dev.auth_pass,
            "-x", PRIV, "-X", priv_pass or dev.priv_pass]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, env=client_env(),
                          timeout=60, **kw)


def test_v3_walk_matches_snmpbulkwalk_with_small_repetitions(outpost, v3dev):
    r = run([outpost, "walk", *v3_flags(v3dev), "--max-repetitions", "3",
             v3dev.target, SYSOR_TABLE])
    assert r.returncode == 0, r.stderr
    ref = run(["snmpbulkwalk", *v3_flags(v3dev), "-On", "-Cr3", v3dev.target,
               SYSOR_TABLE])
    assert ref.returncode == 0, ref.stderr
    assert r.stdout == ref.stdout
    assert r.stdout.count("\n") > 20   # many GETBULKs of 3


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_v3_walk_of_many_getbulks_opens_one_socket(outpost, v3dev, tmp_path):
    trace = tmp_path / "trace"
    r = run(["strace", "-f", "-qq", "-e", "trace=socket,sendto,sendmsg",
             "-o", str(trace), outpost, "walk", *v3_flags(v3dev),
             "--max-repetitions", "2", v3dev.target, SYSOR_TABLE])
    if r.returncode != 0 and "ptrace" in r.stderr:
        pytest.skip(f"strace cannot trace here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    text = trace.read_text()
    udp = re.findall(r"socket\(AF_INET6?, SOCK_DGRAM[^)]*\)\s*=\s*(\d+)", text)
    assert len(udp) == 1, text
    sends = re.findall(rf"\b(?:sendto|sendmsg)\({udp[0]},", text)
    lines = r.stdout.count("\n")
    # engine discovery, then one GETBULK per 2 varbinds, all on that socket
    assert lines > 20
    assert len(sends) >= 1 + lines // 2, (len(sends), lines)


def test_v3_wrong_auth_password_is_refused_with_an_auth_error(outpost, v3dev):
    r = run([outpost, "walk", *v3_flags(v3dev, auth_pass="not-the-one-1"),
             "-t", "1", "-r", "0", v3dev.target, SYSOR_TABLE])
    assert r.returncode == 1
    assert r.stdout == ""
    assert "authentication failed" in r.stderr and v3dev.target in r.stderr
    assert "not-the-one-1" not in r.stderr


def test_v3_wrong_privacy_password_fails_like_net_snmp(outpost, v3dev):
    """The device cannot tell a wrong privacy key from garbage: it stays
    silent, so both tools time out."""
    flags = v3_flags(v3dev, priv_pass="not-the-one-2")
    r = run([outpost, "get", *flags, "-t", "0.3", "-r", "0", v3dev.target,
             "sysName.0"])
    ref = run(["snmpget", *flags, "-t", "0.3", "-r", "0", v3dev.target,
               "1.3.6.1.2.1.1.5.0"])
    assert ref.returncode != 0 and "Timeout" in ref.stdout + ref.stderr
    assert r.returncode == 1 and r.stdout == ""
    assert "timeout" in r.stderr
    assert "not-the-one-2" not in r.stderr


def test_v3_get_after_walk_in_one_poll_uses_the_cached_keys(outpost, v3dev):
    """outpost poll walks several tables per device over one credential:
    everything answers (keys localised once, sessions reused)."""
    r = run([outpost, "poll", *v3_flags(v3dev), "--profile", "system",
             "--profile", "interfaces", "--quiet", v3dev.target])
    assert r.returncode == 0, r.stderr
    assert re.search(r"1 devices, 0 failed, [1-9]\d* values", r.stderr), r.stderr


if __name__ == "__main__":
    raise SystemExit(pytest.main([os.path.abspath(__file__), "-v"]))
