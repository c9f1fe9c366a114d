"""End to end on loopback: real snmpd devices, the real hub, the real agent.

A command posted through the operator API reaches the agent within one
poll, runs against the device within [policy], and its result comes back.
"""

import os
import socket
import subprocess
import tempfile
import time

import pytest

from agent_fixture import AgentProcess
from hub_fixture import HubProcess, hub_binary
from hub_fixture import SANITIZER_MARKERS
from snmpd_fixture import SnmpdFarm, client_env

POLL_WAIT = 10   # seconds the hub may hold a poll


@pytest.fixture(scope="module")
def site(outpost):
    """Two devices, one hub, one agent allowed to reach only the first."""
    with SnmpdFarm() as farm, tempfile.TemporaryDirectory(prefix="outpost-e2e-") as tmp:
        devs = farm.start_many(2)
        hub = HubProcess(hub_binary(), os.path.join(tmp, "hub"),
                         max_poll_wait=f"{POLL_WAIT}s").start()
        token = hub.add_agent("site-1")
        agent = AgentProcess(outpost, os.path.join(tmp, "agent"),
                             f"http://127.0.0.1:{hub.port}", token,
                             allow=f"{devs[0].addr}/32", poll_wait=f"{POLL_WAIT}s")
        agent.start()
        # The first poll starts after a random delay of up to 5 s.
        deadline = time.monotonic() + 10
        while not hub.json("GET", "/v1/agents")[0].get("polling"):
            assert time.monotonic() < deadline, hub.log()
            time.sleep(0.1)
        yield {"hub": hub, "agent": agent, "devs": devs}
        rc = agent.stop()
        hub.stop()
        for text in (agent.log(), hub.log()):
            assert not any(m in text for m in SANITIZER_MARKERS), text
        assert rc == 0, agent.log()


def run_command(site, command, wait=15):
    hub = site["hub"]
    t0 = time.monotonic()
    cid = hub.queue("site-1", command)["id"]
    st = hub.json("GET", f"/v1/commands/{cid}?wait={wait}")
    return st, time.monotonic() - t0


def test_get_reaches_the_agent_within_one_poll_and_returns_the_value(site):
    dev = site["devs"][0]
    st, took = run_command(site, {"type": "snmp.get", "target": dev.target,
                                  "credential": "lab",
                                  "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}})
    assert st["status"] == "done", st
    assert st["result"]["status"] == "ok"
    vb = st["result"]["data"]["varbinds"]
    assert vb == [{"oid": ".1.3.6.1.2.1.1.5.0", "type": "STRING", "value": dev.sys_name}]
    # The poll was already held: delivery is immediate, not at the next poll.
    assert took < POLL_WAIT / 2, f"took {took:.1f}s"


def test_walk_over_v3_returns_what_snmpbulkwalk_sees(site):
    dev = site["devs"][0]
    st, _ = run_command(site, {"type": "snmp.walk", "target": dev.target,
                               "credential": "lab-v3", "args": {"oid": "1.3.6.1.2.1.2.2.1.2"}})
    assert st["status"] == "done", st
    got = [v["oid"] for v in st["result"]["data"]["varbinds"]]
    ref = dev.snmp("snmpbulkwalk", "-On", "-Oq", "1.3.6.1.2.1.2.2.1.2").stdout
    want = [line.split()[0] for line in ref.splitlines() if line.strip()]
    assert got == want and got


def test_agent_info_reports_version_and_counters(site):
    st, _ = run_command(site, {"type": "agent.info"})
    data = st["result"]["data"]
    assert st["status"] == "done" and data["version"].startswith("0.")
    assert data["counters"]["commands_ok"] >= 0


def listen_udp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 1161))
    s.settimeout(1.0)
    return s


def test_target_outside_allow_networks_is_refused_and_no_packet_is_sent(site):
    trap = listen_udp("127.0.98.7")   # not in allow_networks
    try:
        st, _ = run_command(site, {"type": "snmp.get", "target": "127.0.98.7:1161",
                                   "credential": "lab",
                                   "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}})
        assert st["status"] == "failed"
        assert st["result"]["status"] == "refused"
        assert "allow_networks" in st["result"]["error"]
        with pytest.raises(socket.timeout):
            trap.recvfrom(2048)
    finally:
        trap.close()
    assert "outside [policy] allow_networks" in site["agent"].log()


def test_second_device_is_refused_until_policy_allows_it(site):
    dev = site["devs"][1]
    st, _ = run_command(site, {"type": "snmp.get", "target": dev.target,
                               "credential": "lab", "args": {"oids": ["sysName.0"]}})
    assert st["result"]["status"] == "refused"


def test_snmp_set_is_refused_by_default(site):
    dev = site["devs"][0]
    st, _ = run_command(site, {"type": "snmp.set", "target": dev.target, "credential": "lab",
                               "args": {"varbinds": [{"oid": "1.3.6.1.2.1.1.6.0",
                                                      "type": "s", "value": "x"}]}})
    assert st["result"]["status"] == "refused"
    assert "allow_set" in st["result"]["error"]


@pytest.mark.parametrize("command,needle", [
    ({"type": "snmp.get", "credential": "nope", "args": {"oids": ["sysName.0"]}},
     "unknown credential"),
    ({"type": "snmp.get", "credential": {"version": "2c", "community": "public"},
      "args": {"oids": ["sysName.0"]}}, "inline credentials"),
    # The hub checks a name's syntax; only the agent knows which names exist.
    ({"type": "snmp.get", "credential": "lab", "args": {"oids": ["sysNope.0"]}}, "oid 0"),
    ({"type": "snmp.get", "credential": "lab", "args": {"oids": ["sysName.0"]},
      "target": "router.example"}, "IP address"),
])
def test_bad_commands_are_refused_with_a_reason(site, command, needle):
    command = dict(command)
    command.setdefault("target", site["devs"][0].target)
    st, _ = run_command(site, command)
    assert st["result"]["status"] == "refused", st
    assert needle in st["result"]["error"]


def test_sighup_with_a_bad_config_keeps_the_running_one(site):
    agent, dev = site["agent"], site["devs"][0]
    good = open(agent.ini).read()
    agent.write_config(raw=good + "[bogus]\nkey = 1\n")
    agent.reload()
    agent.wait_log("keeping the running configuration")
    st, _ = run_command(site, {"type": "snmp.get", "target": dev.target,
                               "credential": "lab", "args": {"oids": ["sysName.0"]}})
    assert st["result"]["status"] == "ok"
    agent.write_config(raw=good)


def test_sighup_with_a_good_config_applies_it(site):
    agent, devs = site["agent"], site["devs"]
    good = open(agent.ini).read()
    agent.write_config(allow=f"{devs[0].addr}/32, {devs[1].addr}")
    agent.reload()
    agent.wait_log("2 allowed networks")
    st, _ = run_command(site, {"type": "snmp.get", "target": devs[1].target,
                               "credential": "lab", "args": {"oids": ["sysName.0"]}})
    assert st["result"]["status"] == "ok", st
    assert st["result"]["data"]["varbinds"][0]["value"] == devs[1].sys_name
    agent.write_config(raw=good)
    agent.reload()


def test_inline_credentials_work_only_when_policy_allows_them(site):
    agent, dev = site["agent"], site["devs"][0]
    inline = {"type": "snmp.get", "target": dev.target,
              "credential": {"version": "3", "user": "testv3", "level": "authPriv",
                             "auth_protocol": "SHA", "auth_password": "authpass123",
                             "priv_protocol": "AES", "priv_password": "privpass123"},
              "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}}
    st, _ = run_command(site, inline)
    assert st["result"]["status"] == "refused"
    assert "allow_inline_credentials" in st["result"]["error"]
    good = open(agent.ini).read()
    agent.write_config(raw=good.replace("[policy]\n",
                                        "[policy]\nallow_inline_credentials = true\n"))
    loaded = agent.log().count("loaded (")
    agent.reload()
    deadline = time.monotonic() + 10
    while agent.log().count("loaded (") <= loaded:
        assert time.monotonic() < deadline, agent.log()
        time.sleep(0.05)
    try:
        st, _ = run_command(site, inline)
        assert st["result"]["status"] == "ok", st
        assert st["result"]["data"]["varbinds"][0]["value"] == dev.sys_name
        bad = dict(inline, credential={"version": "3", "user": "testv3",
                                       "level": "authPriv", "auth_password": "short"})
        st, _ = run_command(site, bad)
        assert st["result"]["status"] == "refused"
        assert "at least 8" in st["result"]["error"]
    finally:
        agent.write_config(raw=good)
        agent.reload()


def test_status_shows_the_running_agent(site, outpost):
    agent = site["agent"]
    time.sleep(0.2)
    r = subprocess.run([outpost, "status", "-c", agent.ini], capture_output=True,
                       text=True, env=client_env(), timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "running" in r.stdout and "last contact" in r.stdout
