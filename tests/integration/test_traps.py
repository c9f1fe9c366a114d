"""Notifications: `outpost run` with [traps] receives traps and informs
from net-snmp's snmptrap/snmpinform on loopback and sends them to the hub
(a FakeHub capturing the batches) as "events" (docs/protocol.md); what it
refuses is dropped and counted; malformed datagrams leave it alive."""

import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from agent_fixture import AgentProcess
from fakehub import FakeHub
from snmpd_fixture import client_env

pytestmark = pytest.mark.skipif(shutil.which("snmptrap") is None or
                                shutil.which("snmpinform") is None,
                                reason="net-snmp's snmptrap/snmpinform (package snmp)")

AUTH = ["-l", "authPriv", "-a", "SHA-256", "-A", "trapauth123", "-x", "AES",
        "-X", "trappriv123"]
CREDS = {
    "lab-v2c": {"version": "2c", "community": "public"},
    "trapper": {"version": "3", "user": "trapper", "level": "authPriv",
                "auth_protocol": "SHA-256", "auth_password": "trapauth123",
                "priv_protocol": "AES", "priv_password": "trappriv123"},
}
LINKDOWN = "1.3.6.1.6.3.1.1.5.3"
IFINDEX2 = "1.3.6.1.2.1.2.2.1.1.2"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, timeout=10):
    return subprocess.run(cmd, env=client_env(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def trap_agent(outpost, tmp_path):
    hub = FakeHub()
    hub.start()
    port = free_udp_port()
    agent = AgentProcess(outpost, str(tmp_path / "agent"), hub.url, "tok-traps",
                         credentials=CREDS,
                         extra={"traps": {"listen": f"udp:127.0.0.1:{port}",
                                          "communities": "public trapcomm",
                                          "credentials": "trapper"}})
    agent.start()
    agent.wait_log("traps: listening")
    yield agent, hub, f"127.0.0.1:{port}"
    assert agent.stop() == 0
    hub.close()


def events(hub):
    with hub.lock:
        return [e for b in hub.stored.values() for e in b.get("events", [])]


def wait_events(hub, n, timeout=10):
    assert hub.wait_for(lambda: len(events(hub)) >= n, timeout), events(hub)
    return events(hub)


def by_value(evs, value):
    found = [e for e in evs if any(v.get("value") == value for v in e["varbinds"])]
    assert len(found) == 1, (value, evs)
    return found[0]


def status(agent):
    with open(os.path.join(agent.state, "status.json")) as f:
        return json.load(f)


def wait_status(agent, pred, timeout=12):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            st = status(agent)
            if pred(st):
                return st
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"status never matched: {status(agent)}")


def test_each_version_becomes_an_event(trap_agent):
    agent, hub, target = trap_agent
    assert run(["snmptrap", "-v", "1", "-c", "public", target,
                "1.3.6.1.4.1.8072.3.2.10", "127.0.0.9", "6", "17", "4242",
                IFINDEX2, "s", "v1-trap"]).returncode == 0
    assert run(["snmptrap", "-v", "2c", "-c", "trapcomm", target, "4343", LINKDOWN,
                IFINDEX2, "i", "2", "1.3.6.1.2.1.2.2.1.2.2", "s", "v2c-trap"]).returncode == 0
    assert run(["snmptrap", "-v", "3", "-e", "0x80001f8880c0ffee", "-u", "trapper",
                *AUTH, "-n", "ctx1", target, "", LINKDOWN,
                "1.3.6.1.2.1.1.5.0", "s", "v3-trap"]).returncode == 0
    r = run(["snmpinform", "-v", "3", "-u", "trapper", *AUTH, "-t", "2", "-r", "1",
             target, "", "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.2.1.1.5.0", "s", "v3-inform"])
    assert r.returncode == 0, r.stderr            # acknowledged
    r = run(["snmpinform", "-v", "2c", "-c", "public", "-t", "2", "-r", "1", target,
             "", "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.2.1.1.5.0", "x", "00FF"])
    assert r.returncode == 0, r.stderr

    evs = wait_events(hub, 5)
    assert len({e["id"] for e in evs}) == 5
    for e in evs:
        assert e["source"] == "127.0.0.1" and 0 < e["port"] < 65536
        assert isinstance(e["received"], int) and "device" not in e

    v1 = by_value(evs, "v1-trap")
    assert (v1["version"], v1["pdu"], v1["community"]) == ("1", "trap", "public")
    assert (v1["enterprise"], v1["agent_addr"], v1["generic"], v1["specific"]) == \
        (".1.3.6.1.4.1.8072.3.2.10", "127.0.0.9", 6, 17)
    assert v1["trap_oid"] == ".1.3.6.1.4.1.8072.3.2.10.0.17"   # RFC 3584 3.1
    assert v1["uptime"] == 4242
    assert v1["varbinds"] == [{"oid": "." + IFINDEX2, "type": "STRING", "value": "v1-trap"}]

    v2 = by_value(evs, "v2c-trap")
    assert (v2["version"], v2["pdu"], v2["community"]) == ("2c", "trap", "trapcomm")
    assert v2["trap_oid"] == "." + LINKDOWN and v2["uptime"] == 4343
    assert "enterprise" not in v2 and "user" not in v2
    assert v2["varbinds"][0] == {"oid": "." + IFINDEX2, "type": "INTEGER", "value": 2}

    v3 = by_value(evs, "v3-trap")
    assert (v3["version"], v3["pdu"], v3["user"], v3["context"]) == \
        ("3", "trap", "trapper", "ctx1")
    assert "community" not in v3 and "trappriv123" not in json.dumps(v3)

    inf = by_value(evs, "v3-inform")
    assert (inf["version"], inf["pdu"], inf["user"]) == ("3", "inform", "trapper")
    hexinf = by_value(evs, "00 FF")
    assert hexinf["pdu"] == "inform" and hexinf["varbinds"][0]["type"] == "Hex-STRING"


def test_refused_and_malformed_are_counted(trap_agent):
    agent, hub, target = trap_agent
    host, port = target.split(":")
    assert run(["snmptrap", "-v", "2c", "-c", "wrong", target, "", LINKDOWN]).returncode == 0
    bad = AUTH.copy()
    bad[5] = "not-the-password"
    r = run(["snmpinform", "-v", "3", "-u", "trapper", *bad, "-t", "0.5", "-r", "0",
             target, "", "1.3.6.1.6.3.1.1.5.4"])
    assert r.returncode != 0                      # never acknowledged
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"\x30\x84\xff\xff\xff\xff\x02\x01", b"garbage",
                     # a v2c trap whose varbind list claims more than it has
                     bytes.fromhex("302602010104067075626c6963a719020101020100020100"
                                   "300e300c06082b06010201010300")):
            s.sendto(junk, (host, int(port)))
    assert run(["snmptrap", "-v", "2c", "-c", "public", target, "", LINKDOWN,
                "1.3.6.1.2.1.1.5.0", "s", "still-alive"]).returncode == 0
    evs = wait_events(hub, 1)
    assert [by_value(evs, "still-alive")["community"]] == ["public"]
    st = wait_status(agent, lambda st: st.get("traps", {}).get("malformed") == 3)
    t = st["traps"]
    assert (t["dropped_community"], t["dropped_auth"], t["received"]) == (1, 1, 1)
    assert st["events"] == 1
    out = subprocess.run([agent.binary, "status", "-c", agent.ini], capture_output=True,
                         text=True).stdout
    assert "1 community, 1 auth, 0 time window, 0 rate, 3 malformed" in out, out
    # the same counters travel in the batches
    assert run(["snmptrap", "-v", "2c", "-c", "public", target, "", LINKDOWN,
                "1.3.6.1.2.1.1.5.0", "s", "after"]).returncode == 0

    def counted():
        with hub.lock:
            return any(b.get("counters", {}).get("traps_malformed") == 3 and
                       b["counters"].get("traps_dropped_community") == 1
                       for b in hub.stored.values())
    assert hub.wait_for(counted, 10)
    assert agent.proc.poll() is None


def test_v3_inform_after_restart(trap_agent):
    """The engine ID is kept in state_dir: a sender that knows it (-e)
    still authenticates after a restart, and learns the new boots."""
    agent, hub, target = trap_agent
    before = wait_status(agent, lambda st: "engine_id" in st.get("traps", {}))["traps"]
    assert agent.stop() == 0
    agent.start()
    agent.wait_log("traps: listening")
    r = run(["snmpinform", "-v", "3", "-e", "0x" + before["engine_id"], "-u", "trapper",
             *AUTH, "-t", "2", "-r", "2", target, "", "1.3.6.1.6.3.1.1.5.4",
             "1.3.6.1.2.1.1.5.0", "s", "after-restart"])
    assert r.returncode == 0, r.stderr
    assert by_value(wait_events(hub, 1), "after-restart")["pdu"] == "inform"
    after = wait_status(agent, lambda st: "engine_id" in st.get("traps", {}))["traps"]
    assert after["engine_id"] == before["engine_id"]
    assert after["engine_boots"] == before["engine_boots"] + 1


def test_traps_command_prints(outpost, tmp_path):
    port = free_udp_port()
    p = subprocess.Popen([outpost, "traps", "--listen", f"udp:127.0.0.1:{port}",
                          "--community", "public", "--count", "1", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=client_env())
    try:
        deadline = time.monotonic() + 10
        while p.poll() is None and time.monotonic() < deadline:
            run(["snmptrap", "-v", "2c", "-c", "public", f"127.0.0.1:{port}", "", LINKDOWN,
                 "1.3.6.1.2.1.1.5.0", "s", "cli"])
            try:
                p.wait(0.3)
            except subprocess.TimeoutExpired:
                pass
        out, err = p.communicate(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    ev = json.loads(out.splitlines()[0])
    assert ev["trap_oid"] == "." + LINKDOWN and ev["varbinds"][0]["value"] == "cli"


def test_bad_traps_config_is_refused(outpost, tmp_path):
    ini = tmp_path / "o.ini"
    for text, why in (("listen = udp:127.0.0.1\ncommunities = x\n", "has no :PORT"),
                      ("listen = udp6:[::1]:162\ncredentials = nope\n",
                       "no [credential nope] section"),
                      ("listen = udp:127.0.0.1:162\n", "neither communities nor")):
        ini.write_text("[traps]\n" + text)
        ini.chmod(0o600)
        r = subprocess.run([outpost, "check-config", "-c", str(ini)],
                           capture_output=True, text=True)
        assert r.returncode == 1 and why in r.stderr, r.stderr


def test_reload_applies_new_communities(trap_agent):
    agent, hub, target = trap_agent
    agent.write_config(extra={"traps": {"listen": f"udp:{target}",
                                        "communities": "rotated",
                                        "credentials": "trapper"}})
    agent.reload()
    agent.wait_log("reload: [traps] changed")
    agent.wait_log("traps: listening on 1 address (1 communities")
    for comm, value in (("public", "old-comm"), ("rotated", "new-comm")):
        assert run(["snmptrap", "-v", "2c", "-c", comm, target, "", LINKDOWN,
                    "1.3.6.1.2.1.1.5.0", "s", value]).returncode == 0
    evs = wait_events(hub, 1)
    assert by_value(evs, "new-comm")["community"] == "rotated"
    st = wait_status(agent, lambda st: st.get("traps", {}).get("dropped_community") == 1)
    assert not [e for e in events(hub) if e["varbinds"][0]["value"] == "old-comm"]


PROTOCOLS = [("MD5", "DES"), ("SHA", "AES"), ("SHA-224", "AES-192"), ("SHA-384", "AES-256"),
             ("SHA-512", "AES-192-C"), ("SHA-256", "AES-256-C"), ("SHA", None)]


def test_every_v3_protocol(outpost, tmp_path):
    """Each auth and privacy protocol a [credential] takes authenticates
    an inform (acknowledged) and a trap (its sender's engine ID)."""
    port = free_udp_port()
    lines = ["[traps]", f"listen = udp:127.0.0.1:{port}",
             "credentials = " + " ".join(f"u{i}" for i in range(len(PROTOCOLS)))]
    for i, (auth, priv) in enumerate(PROTOCOLS):
        lines += [f"[credential u{i}]", "version = 3", f"user = user{i}",
                  f"auth_protocol = {auth}", f"auth_password = authpass{i}{i}{i}"]
        lines += ([f"priv_protocol = {priv}", f"priv_password = privpass{i}{i}{i}"]
                  if priv else ["level = authNoPriv"])
    ini = tmp_path / "o.ini"
    ini.write_text("\n".join(lines) + "\n")
    ini.chmod(0o600)
    p = subprocess.Popen([outpost, "traps", "-c", str(ini), "--json",
                          "--count", str(2 * len(PROTOCOLS))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=client_env())
    try:
        time.sleep(0.5)
        for i, (auth, priv) in enumerate(PROTOCOLS):
            sec = (["-l", "authPriv", "-x", priv, "-X", f"privpass{i}{i}{i}"] if priv
                   else ["-l", "authNoPriv"])
            flags = ["-v", "3", "-u", f"user{i}", "-a", auth, "-A", f"authpass{i}{i}{i}", *sec]
            r = run(["snmpinform", *flags, "-t", "2", "-r", "1", f"127.0.0.1:{port}", "",
                     "1.3.6.1.6.3.1.1.5.4", "1.3.6.1.2.1.1.5.0", "s", f"inform-{i}"])
            assert r.returncode == 0, (auth, priv, r.stderr)
            assert run(["snmptrap", *flags, "-e", f"0x80001f88800000000{i}",
                        f"127.0.0.1:{port}", "", LINKDOWN, "1.3.6.1.2.1.1.5.0", "s",
                        f"trap-{i}"]).returncode == 0
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    got = sorted(json.loads(line)["varbinds"][0]["value"] for line in out.splitlines())
    assert got == sorted([f"inform-{i}" for i in range(len(PROTOCOLS))] +
                         [f"trap-{i}" for i in range(len(PROTOCOLS))])


def test_event_names_its_inventory_device(outpost, tmp_path):
    """A notification from an address the inventory holds carries that
    device's ADDRESS:PORT, like its samples; others carry none."""
    from farm_fixture import Farm
    farm = Farm(devices=[("127.94.0.7", "host", {})]).start()
    hub = FakeHub()
    hub.start()
    port = free_udp_port()
    agent = AgentProcess(outpost, str(tmp_path / "agent"), hub.url, "tok-traps",
                         credentials={"lab": {"version": "2c", "community": "public"}},
                         extra={"scan": {"networks": "127.94.0.7", "port": str(farm.port),
                                         "timeout": "500ms"},
                                "traps": {"listen": f"udp:127.0.0.1:{port}",
                                          "communities": "public"}})
    try:
        agent.start()

        def inventoried():
            with hub.lock:
                return any(i.get("address") == "127.94.0.7"
                           for b in hub.stored.values() for i in b.get("inventory", []))
        assert hub.wait_for(inventoried, 20)
        for src, value in (("127.94.0.7", "from-device"), ("127.94.0.8", "from-stranger")):
            assert run(["snmptrap", "-v", "2c", "-c", "public", f"--clientaddr={src}",
                        f"127.0.0.1:{port}", "", LINKDOWN, "1.3.6.1.2.1.1.5.0", "s",
                        value]).returncode == 0
        evs = wait_events(hub, 2)
        assert by_value(evs, "from-device")["device"] == f"127.94.0.7:{farm.port}"
        stranger = by_value(evs, "from-stranger")
        assert stranger["source"] == "127.94.0.8" and "device" not in stranger
    finally:
        assert agent.stop() == 0
        hub.close()
        farm.stop()
