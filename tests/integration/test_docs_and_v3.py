"""Generated docs are current; every v3 auth/priv family works end to end."""

import os
import subprocess

import pytest

from snmpd_fixture import client_env

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


@pytest.mark.parametrize("fmt,path", [("markdown", "docs/config.md"),
                                      ("ini", "packaging/outpost.ini"),
                                      ("hub-markdown", "docs/hub-config.md"),
                                      ("hub-ini", "packaging/outpost-hub.ini")])
def test_generated_config_docs_are_current(outpost, fmt, path):
    """docs/config.md and the sample INI come from the config tables:
    a key added without `make docs` would leave users a wrong reference."""
    out = subprocess.run([outpost, "config-docs", fmt], capture_output=True,
                         text=True, check=True).stdout
    with open(os.path.join(ROOT, path)) as f:
        assert f.read() == out, f"{path} is stale: run `make docs`"


def test_shipped_sample_config_is_accepted(outpost, tmp_path):
    sample = tmp_path / "outpost.ini"
    sample.write_text(open(os.path.join(ROOT, "packaging/outpost.ini")).read())
    sample.chmod(0o600)
    r = subprocess.run([outpost, "check-config", "-c", str(sample)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "configuration OK"


# (snmpd createUser names, outpost -a/-x names)
V3_MATRIX = [
    ("MD5", "DES", "MD5", "DES"),
    ("SHA", "AES", "SHA", "AES"),
    ("SHA-224", "AES-256-C", "SHA-224", "AES-256-C"),
    ("SHA-256", "AES-192", "SHA-256", "AES-192"),
    ("SHA-384", "AES-192-C", "SHA-384", "AES-192-C"),
    ("SHA-512", "AES-256", "SHA-512", "AES-256"),
]


@pytest.fixture(scope="module")
def v3_devices():
    from snmpd_fixture import SnmpdFarm
    with SnmpdFarm() as farm:
        devs = [farm.device(None, None, v3_user=f"u{i}", auth_proto=a, priv_proto=p,
                            sys_name=f"v3-{i}")
                for i, (a, p, _, _) in enumerate(V3_MATRIX)]
        farm.start(*devs)
        yield devs


@pytest.mark.parametrize("i", range(len(V3_MATRIX)))
def test_every_v3_protocol_pair_reads_sysname(outpost, v3_devices, i):
    dev = v3_devices[i]
    _, _, auth, priv = V3_MATRIX[i]
    r = subprocess.run([outpost, "get", "-v", "3", "-u", dev.v3_user, "-l", "authPriv",
                        "-a", auth, "-A", dev.auth_pass, "-x", priv, "-X", dev.priv_pass,
                        "-t", "1", "-r", "1", dev.target, "sysName.0"],
                       capture_output=True, text=True, env=client_env(), timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f'.1.3.6.1.2.1.1.5.0 = STRING: "v3-{i}"'
