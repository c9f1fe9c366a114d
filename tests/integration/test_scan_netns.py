"""outpost scan where silent addresses are silent: inside a network
namespace (scan_netns.py) whose ICMP unreachables are dropped, as on a
real network, with scan_responder.py answering for chosen addresses.

Checks what a user relies on at scale: every responder is found even at
an unlimited rate with no retries; HOST:PORT targets; duplicate and
overlapping targets probed once; replies that are not answers to our
probes (hostile or broken) ignored without a crash. Needs root.
"""

import ipaddress
import json
import os
import shutil

import pytest

from outpost_cli import assert_no_crash, run
import scan_netns

pytestmark = pytest.mark.skipif(scan_netns.available() is not None,
                                reason=scan_netns.available() or "")

NET = ipaddress.ip_network("127.61.0.0/22")


def hosts(step, start=3, count=None):
    out = [str(NET[i]) for i in range(start, NET.num_addresses, step)]
    return out[:count] if count else out


@pytest.fixture(scope="module")
def ns():
    with scan_netns.Netns("outpost-scantest") as n:
        yield n


@pytest.fixture(scope="module")
def responders(ns):
    """20 responders spread over the /22 on port 161; the rest is silent."""
    addrs = hosts(51, count=20)
    ns.responder(addrs)
    return addrs


def scan(ns, outpost, *args, timeout=60):
    r = run(ns.cmd([outpost, "scan", *args]), timeout=timeout)
    assert_no_crash(r)
    return r


def found(r):
    return [json.loads(ln) for ln in r.stdout.splitlines()]


def test_every_responder_found_at_unlimited_rate(ns, outpost, responders):
    # No retries: every answer must come back to the first probe. The
    # timeout is generous so a loaded machine does not make it flaky.
    r = scan(ns, outpost, "--json", "-c", "public", "--rate", "0", "-r", "0",
             "-t", "3", str(NET))
    assert r.returncode == 0, r
    objs = found(r)
    assert sorted(o["address"] for o in objs) == sorted(responders), r
    for o in objs:
        assert o["port"] == 161 and o["version"] == "2c", o
        assert o["sys_name"] == f"resp-{o['address']}", o
        assert o["sys_descr"] == f"Scan responder {o['address']}", o
        assert o["sys_object_id"] == ".1.3.6.1.4.1.8072.3.2.10", o
    assert f"{NET.num_addresses} addresses probed, 20 devices found" in r.stderr, r


def test_v1_and_wrong_community_first(ns, outpost, responders):
    """Credentials in order: the wrong one times out everywhere, then v1."""
    r = scan(ns, outpost, "--json", "-c", "nope", "-v1", "-c", "public", "--rate", "0",
             "-r", "1", "-t", "0.5", f"{NET[0]}-{NET[255]}")
    assert r.returncode == 0, r
    want = sorted(a for a in responders if ipaddress.ip_address(a) <= NET[255])
    objs = found(r)
    assert sorted(o["address"] for o in objs) == want, r
    assert {(o["version"], o["credential"]) for o in objs} == {("1", "community#2")}


def test_one_address_singular(ns, outpost, responders):
    r = scan(ns, outpost, "-c", "public", "-t", "0.5", "-r", "2", responders[0])
    assert r.returncode == 0, r
    assert "1 address probed, 1 device found" in r.stderr, r
    rows = [ln.split() for ln in r.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == [responders[0]], r


def test_host_port_targets(ns, outpost, responders):
    """ADDRESS:PORT and RANGE:PORT, next to targets on --port."""
    other = [str(NET[1000]), str(NET[1001])]
    ns.responder(other, port=1161, community="public")
    r = scan(ns, outpost, "--json", "-c", "public", "-t", "0.5", "-r", "2",
             f"{other[0]}:1161", f"{NET[1000]}-{NET[1003].packed[-1]}:1161",
             responders[0], "--port", "161")
    assert r.returncode == 0, r
    got = sorted((o["address"], o["port"]) for o in found(r))
    assert got == sorted([(other[0], 1161), (other[1], 1161), (responders[0], 161)]), r
    # the same addresses on the wrong port: nothing answers
    r = scan(ns, outpost, "--json", "-c", "public", "-t", "0.3", "-r", "0",
             f"{other[0]}:161")
    assert r.returncode == 0 and r.stdout == "", r


@pytest.fixture(scope="module")
def snmpd6(ns):
    """net-snmp's snmpd on [::1]:1161 inside the namespace."""
    d = os.path.join(ns.tmp, "snmpd6")
    os.makedirs(os.path.join(d, "state"))
    conf, log = os.path.join(d, "snmpd.conf"), os.path.join(d, "log")
    with open(conf, "w") as f:
        f.write(f"[snmp] persistentDir {d}/state\n[snmp] mibs :\n"
                "agentaddress udp6:[::1]:1161\nsysName v6-device\n"
                "rocommunity6 public ::1/128\ndontLogTCPWrappersConnects yes\n")
    shutil.chown(d, "nobody", "nogroup")
    shutil.chown(os.path.join(d, "state"), "nobody", "nogroup")
    ns.start(["snmpd", "-f", "-Lf", log, "-C", "-c", conf, "-I", "-smux",
              "-u", "nobody", "-g", "nogroup"],
             ready_check=lambda: os.path.exists(log) and "NET-SNMP" in open(log).read())


def test_ipv6_target_with_port(ns, outpost, snmpd6):
    """[v6]:PORT and a bare IPv6 address (port 161: nothing there)."""
    r = scan(ns, outpost, "--json", "-c", "public", "-t", "0.5", "-r", "2",
             "[::1]:1161", "::1")
    assert r.returncode == 0, r
    (o,) = found(r)
    assert (o["address"], o["port"], o["sys_name"]) == ("::1", 1161, "v6-device"), r
    assert "2 addresses probed, 1 device found" in r.stderr, r


def test_duplicates_and_overlaps_probed_once(ns, outpost, responders):
    a = responders[0]
    base = ipaddress.ip_address(a)
    net = ipaddress.ip_network(f"{base}/30", strict=False)
    r = scan(ns, outpost, "--json", "-c", "public", "-t", "0.5", "-r", "2",
             a, a, f"{a}:161", str(net), f"{net[0]}-{net[1]}", f"{net[2]}-{net[3]}")
    assert r.returncode == 0, r
    assert [o["address"] for o in found(r)] == [a], r
    assert "4 addresses probed, 1 device found" in r.stderr, r
    # a different port is a different target
    r = scan(ns, outpost, "--json", "-c", "public", "-t", "0.5", "-r", "2",
             a, f"{a}:1161")
    assert "2 addresses probed, 1 device found" in r.stderr, r


HOSTILE = ["wrong-reqid", "other-src", "truncated", "huge-len", "garbage",
           "bad-community", "notresponse"]


def test_hostile_replies_ignored(ns, outpost, responders):
    """Answers with another request id, from another address, cut short,
    with absurd lengths, garbage, another community or the wrong PDU type
    find nothing and break nothing; a device answering twice is one device."""
    block = ipaddress.ip_network("127.61.8.0/24")
    modes = {str(block[10 + 4 * i]): m for i, m in enumerate(HOSTILE)}
    good = {str(block[100]): "ok", str(block[104]): "duplicate"}
    ns.responder([f"{a}={m}" for a, m in {**modes, **good}.items()])
    for extra in ([], ["-v1"]):
        r = scan(ns, outpost, "--json", *extra, "-c", "public", "--rate", "0",
                 "-t", "0.5", "-r", "2", str(block))
        assert r.returncode == 0, r
        got = [o["address"] for o in found(r)]
        assert sorted(got) == sorted(good), r
        assert "256 addresses probed, 2 devices found" in r.stderr, r


def test_progress_line(ns, outpost, responders):
    """--progress without a terminal: whole lines, at least one while a
    paced scan runs (512 probes at 400/s take over a second)."""
    r = scan(ns, outpost, "--json", "--progress", "-c", "public", "--rate", "400",
             "-t", "0.3", "-r", "0", f"{NET[0]}-{NET[511]}")
    assert r.returncode == 0, r
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("scanned ")]
    assert lines, r
    assert all("/512 addresses" in ln and "found" in ln for ln in lines), r
    assert "\r" not in r.stderr and "\033" not in r.stderr, r
