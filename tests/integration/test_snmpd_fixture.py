"""The test harness itself: snmpd devices answer net-snmp's own tools."""

import ipaddress
import os
import re
import socket
import subprocess
import time

import pytest

from snmpd_fixture import SYSDESCR_OID, SYSNAME_OID, SnmpdError, SnmpdFarm, client_env

V3 = ["-v3", "-l", "authPriv", "-u", "testv3", "-a", "SHA", "-A", "authpass123",
      "-x", "AES", "-X", "privpass123"]


def snmpget(*args):
    return subprocess.run(["snmpget", "-On", "-t", "1", "-r", "1", *args],
                          env=client_env(), capture_output=True, text=True, timeout=20)


def test_one_device_v2c_and_v3(snmpd_one):
    dev = snmpd_one
    r = snmpget("-v2c", "-c", "public", dev.target, SYSNAME_OID, SYSDESCR_OID)
    assert r.returncode == 0, r.stderr
    assert f'.{SYSNAME_OID} = STRING: "dev-1"' in r.stdout
    assert f'.{SYSDESCR_OID} = STRING: "Test device {dev.addr}"' in r.stdout

    r = snmpget(*V3, dev.target, SYSNAME_OID)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f'.{SYSNAME_OID} = STRING: "dev-1"'

    assert dev.get(SYSNAME_OID, version="3") == "dev-1"


def test_factory_mixed_set(snmpd_factory):
    net = snmpd_factory.free_network(29)  # e.g. 127.77.x.y/29, nothing on :1161
    hosts = [str(h) for h in ipaddress.ip_network(net).hosts()]
    devs = snmpd_factory.start_many(3, network=net)
    secret = snmpd_factory.start_one(hosts[3], community="private", sys_name="odd-one")
    other_port = snmpd_factory.start_one(hosts[4], port=1162)
    sha512 = snmpd_factory.start_one(v3_user="u512", auth_proto="SHA-512",
                                     priv_proto="AES-256", auth_pass="a" * 12,
                                     priv_pass="p" * 12)

    for i, d in enumerate(devs, 1):
        assert d.target == f"{hosts[i - 1]}:1161"
        r = snmpget("-v2c", "-c", "public", d.target, SYSNAME_OID)
        assert r.returncode == 0, r.stderr
        assert f'STRING: "dev-{i}"' in r.stdout
        r = snmpget(*V3, d.target, SYSNAME_OID)
        assert f'STRING: "dev-{i}"' in r.stdout, r.stderr

    # Wrong community: snmpd stays silent, the client times out.
    r = snmpget("-v2c", "-c", "public", "-t", "0.3", "-r", "0", secret.target, SYSNAME_OID)
    assert r.returncode != 0 and "Timeout" in r.stderr
    assert secret.get(SYSNAME_OID) == "odd-one"

    assert other_port.target == f"{hosts[4]}:1162"
    assert other_port.get(SYSNAME_OID) == "dev-5"

    r = snmpget("-v3", "-l", "authPriv", "-u", "u512", "-a", "SHA-512", "-A", "a" * 12,
                "-x", "AES-256", "-X", "p" * 12, sha512.target, SYSNAME_OID)
    assert r.returncode == 0, r.stderr
    assert 'STRING: "dev-6"' in r.stdout


def test_faults_and_teardown(snmpd_factory):
    dev = snmpd_factory.start_one()
    pid = dev.pid

    dev.pause()  # bound but silent: a real timeout, no ICMP
    t0 = time.monotonic()
    r = snmpget("-v2c", "-c", "public", "-t", "0.3", "-r", "0", dev.target, SYSNAME_OID)
    assert "Timeout" in r.stderr and time.monotonic() - t0 >= 0.25
    dev.resume()
    assert dev.get(SYSNAME_OID) == "dev-1"

    dev.stop()  # gone: loopback answers with ICMP port-unreachable at once
    assert not dev.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    snmpd_factory.start(dev)  # same address and port again
    assert dev.pid != pid and dev.get(SYSNAME_OID) == "dev-1"

    base = snmpd_factory.base
    snmpd_factory.close()
    assert not dev.running() and not os.path.exists(base)


def test_address_in_use_fails_clearly():
    with SnmpdFarm(start_timeout=5) as farm, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        addr = farm.free_address()
        squatter.bind((addr, 1161))
        with pytest.raises(SnmpdError, match=re.escape(addr) + r":1161 exited .*address in use"):
            farm.start_one(addr)


@pytest.mark.slow
def test_many_devices(snmpd_factory):
    n = int(os.environ.get("OUTPOST_TEST_MANY", "200"))
    t0 = time.monotonic()
    devs = snmpd_factory.start_many(n)
    elapsed = time.monotonic() - t0
    print(f"{n} snmpd ready in {elapsed:.2f}s")
    assert len({d.target for d in devs}) == n
    # Spot-check a few with the real client.
    for d in (devs[0], devs[n // 2], devs[-1]):
        assert d.get(SYSNAME_OID) == d.sys_name
    pids = [d.pid for d in devs]
    snmpd_factory.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
