"""The agent service (`outpost run`) end to end: real snmpd devices, the real
hub and the real agent, all on loopback.

What a user relies on: discovery fills the inventory at the hub (and it
survives a restart), polled samples are what the device says, every command
type works, [policy] refuses what it must before any packet leaves, SIGTERM
loses nothing the agent accepted (the spool is replayed), SIGHUP applies a
good configuration and keeps the running one on a bad one, and
`outpost status` tells a running agent from a stopped one.

Layout: one farm of devices; a /29 holding three of them (one answers only
v3, one has a writable sysLocation) plus one device outside the /29. Hub
"hub" serves agent "svc" (the service under test, [scan] over the /29,
allow_networks unset so it defaults to the [scan] networks). The SIGTERM
tests use their own hub and agent, because they stop and restart both.
"""

import ipaddress
import json
import os
import random
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time
from types import SimpleNamespace

import pytest

from agent_fixture import AgentProcess
from hub_fixture import HubProcess, hub_binary, SANITIZER_MARKERS
from snmpd_fixture import SnmpdDevice, SnmpdFarm, client_env

POLL_WAIT = 10          # seconds the hub may hold a poll
PORT = 1161             # every device's UDP port

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_CONTACT = "1.3.6.1.2.1.1.4.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_TYPE = "1.3.6.1.2.1.2.2.1.3"
IF_SPEED = "1.3.6.1.2.1.2.2.1.5"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_IN_OCTETS = "1.3.6.1.2.1.2.2.1.10"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
SNMP_ENGINE_ID = "1.3.6.1.6.3.10.2.1.1.0"

CREDENTIALS = {
    "lab": {"version": "2c", "community": "public"},
    "lab-v3": {"version": "3", "user": "testv3", "level": "authPriv",
               "auth_protocol": "SHA", "auth_password": "authpass123",
               "priv_protocol": "AES", "priv_password": "privpass123"},
    "rw": {"version": "2c", "community": "private"},
}


class WritableDevice(SnmpdDevice):
    """An snmpd whose sysLocation is writable: snmpd makes sysLocation
    read-only when snmpd.conf sets it, and SnmpdDevice always writes
    `sysLocation` (sys_location cannot be None), so leave that line out."""

    def config_text(self):
        return "".join(line + "\n" for line in super().config_text().splitlines()
                       if not line.startswith("sysLocation"))


# --------------------------------------------------------------------------
# helpers


def now_ms():
    return int(time.time() * 1000)


def wait_for(what, fn, timeout, interval=0.1):
    """fn() until it returns something true; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def queue(hub, agent, command):
    return hub.queue(agent, command)["id"]


def result(hub, cid, wait=20):
    """The command's hub record once it is finished (done/failed)."""
    st = hub.json("GET", f"/v1/commands/{cid}?wait={wait}")
    assert st["status"] in ("done", "failed"), f"command not finished: {st}"
    return st


def run(hub, agent, command, wait=20):
    return result(hub, queue(hub, agent, command), wait)


def run_ok(hub, agent, command, wait=20):
    st = run(hub, agent, command, wait)
    assert st["status"] == "done" and st["result"]["status"] == "ok", st
    assert st["result"]["error"] is None, st
    return st["result"]["data"]


def run_refused(hub, agent, command, needle):
    st = run(hub, agent, command)
    assert st["status"] == "failed", st
    assert st["result"]["status"] == "refused", st
    assert needle in st["result"]["error"], st
    return st


def wait_polling(hub, name, timeout=10):
    """Until the hub sees the agent's long poll (the first one starts after
    a random delay of up to 5 s)."""
    def polling():
        return any(a["name"] == name and a.get("polling")
                   for a in hub.json("GET", "/v1/agents"))
    wait_for(f"agent {name} to poll", polling, timeout)


def reload(agent, timeout=10):
    """SIGHUP; the log of this reload once the agent has handled it."""
    done = re.compile(r"reload: .* (loaded \(|has errors; keeping the running)")
    before = len(done.findall(agent.log(True)))
    mark = len(agent.log(True))
    agent.reload()
    wait_for("the reload to be logged",
             lambda: len(done.findall(agent.log(True))) > before, timeout, 0.05)
    return agent.log(True)[mark:]


def sample_shape(sample):
    """Every sample has the same keys (docs/protocol.md)."""
    assert set(sample) == {"device", "ts", "profile", "no_data", "scalars", "tables"}, sample
    for t in sample["tables"].values():
        assert {"columns", "rows", "truncated"} <= set(t), sample
    return sample


def scalar_map(sample):
    """{scalar OID without the leading dot: value}."""
    return {k.lstrip("."): v for k, v in sample_shape(sample)["scalars"].items()}


def sample_map(sample, table=None):
    """{instance: {column OID without the leading dot: value}} of one
    table of the sample (the profile's name by default)."""
    t = sample_shape(sample)["tables"][table or sample["profile"]]
    cols = [c.lstrip(".") for c in t["columns"]]
    out = {}
    for inst, vals in t["rows"].items():
        assert len(vals) == len(cols), sample
        out[inst] = dict(zip(cols, vals))
    return out


def by_profile(samples):
    got = {}
    for s in samples:
        assert s["profile"] not in got, f"two {s['profile']} samples: {samples}"
        got[s["profile"]] = s
    return got


def snmp_value(text):
    """One value as `snmpget/snmpbulkwalk -Oq -Ot -Oe` print it (no MIBs)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def snmpget(dev, oid, version="2c"):
    out = dev.snmp("snmpget", "-On", "-Oq", "-Ot", "-Oe", oid, version=version).stdout
    name, _, value = out.strip().partition(" ")
    assert name == "." + oid.lstrip("."), out
    return snmp_value(value)


def snmpwalk(dev, column, version="2c"):
    """{instance: value} of one table column, as snmpbulkwalk reads it."""
    out = dev.snmp("snmpbulkwalk", "-On", "-Oq", "-Ot", "-Oe", column,
                   version=version).stdout
    prefix = "." + column.lstrip(".") + "."
    got = {}
    for line in out.splitlines():
        name, _, value = line.partition(" ")
        assert name.startswith(prefix), line
        got[name[len(prefix):]] = snmp_value(value)
    return got


class UdpTrap:
    """A UDP socket bound where a refused command would send: proves that
    no packet left the agent."""

    def __init__(self, addr, port=PORT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, port))
        self.addr = addr

    def receive(self, seconds=3.0):
        r, _, _ = select.select([self.sock], [], [], seconds)
        assert r, f"no packet reached {self.addr}:{PORT} within {seconds}s"
        return self.sock.recvfrom(65535)[0]

    def assert_silent(self, seconds=1.0):
        r, _, _ = select.select([self.sock], [], [], seconds)
        if r:
            data, src = self.sock.recvfrom(65535)
            raise AssertionError(f"a packet reached {self.addr}:{PORT} from {src}: "
                                 f"{data[:40]!r}")

    def close(self):
        self.sock.close()


def spool_batches(agent):
    d = os.path.join(agent.state, "spool")
    return sorted(n for n in os.listdir(d) if n.endswith(".batch"))


def status(outpost, agent):
    return subprocess.run([outpost, "status", "-c", agent.ini], capture_output=True,
                          text=True, env=client_env(), timeout=10)


def sigterm(agent):
    """SIGTERM; (exit status, seconds it took)."""
    t0 = time.monotonic()
    rc = agent.stop(timeout=15)
    return rc, time.monotonic() - t0


def kill_left(*procs):
    """After a failed test: kill what it started and left running."""
    for p in procs:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()


def no_sanitizer_reports(*texts):
    for text in texts:
        assert not any(m in text for m in SANITIZER_MARKERS), text


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def lab():
    """The devices: plain, writable and v3only in a /29, outside beyond it,
    and quiet: an address outside the /29 where nothing listens."""
    with SnmpdFarm() as farm, tempfile.TemporaryDirectory(prefix="outpost-svc-") as tmp:
        net = farm.free_network(29)
        hosts = [str(h) for h in ipaddress.ip_network(net).hosts()]
        plain = farm.device(hosts[0], PORT)
        writable = WritableDevice(addr=hosts[1], port=PORT,
                                  extra_config=["rwcommunity private 127.0.0.0/8"])
        v3only = farm.device(hosts[2], PORT, community=None)
        outside = farm.device(farm.free_address(PORT), PORT)
        farm.start(plain, writable, v3only, outside)
        quiet = farm.free_address(PORT)
        for addr in (outside.addr, quiet):
            assert ipaddress.ip_address(addr) not in ipaddress.ip_network(net)
        yield SimpleNamespace(farm=farm, tmp=tmp, net=net, plain=plain,
                              writable=writable, v3only=v3only, outside=outside,
                              quiet=quiet, in_net=[plain, writable, v3only])


def svc_extra(lab, poll_interval="1d", policy=None):
    """The service's [scan] [poll] [policy]. Polling is daily unless a test
    asks for more, so that no scheduled poll races a test's poll.now."""
    pol = {"allow_set": "true", "set_oids": "1.3.6.1.2.1.1.6"}
    pol.update(policy or {})
    return {
        "policy": pol,
        "scan": {"networks": lab.net, "port": PORT, "credentials": "lab lab-v3",
                 "interval": "1h", "timeout": "300ms", "retries": "0"},
        "poll": {"interval": poll_interval, "profiles": "system interfaces"},
    }


@pytest.fixture(scope="module")
def svc(outpost, lab):
    hub = HubProcess(hub_binary(), os.path.join(lab.tmp, "hub"),
                     max_poll_wait=f"{POLL_WAIT}s").start()
    token = hub.add_agent("svc")
    agent = AgentProcess(outpost, os.path.join(lab.tmp, "svc"),
                         f"http://127.0.0.1:{hub.port}", token, allow=None,
                         extra=svc_extra(lab), poll_wait=f"{POLL_WAIT}s",
                         credentials=CREDENTIALS)
    try:
        agent.start()
        wait_polling(hub, "svc")
        yield SimpleNamespace(hub=hub, agent=agent, name="svc", lab=lab)
        rc = agent.stop()
        assert rc == 0, agent.log()
        assert hub.stop() == 0, hub.log()
        no_sanitizer_reports(agent.log(), hub.log())
    finally:
        if agent.proc is not None and agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait()
        if hub.proc is not None and hub.proc.poll() is None:
            hub.proc.kill()
            hub.proc.wait()


@pytest.fixture
def restore_config(svc):
    """Whatever a test reloads, the service gets its own config back."""
    yield
    svc.agent.write_config(allow=None, extra=svc_extra(svc.lab))
    assert "loaded (" in reload(svc.agent)


@pytest.fixture(scope="module")
def scanned(svc):
    """The scan command over the /29 ([scan] credentials: lab, lab-v3)."""
    t0 = time.monotonic()
    st = run(svc.hub, "svc", {"type": "scan", "args": {"networks": [svc.lab.net]}},
             wait=30)
    return SimpleNamespace(st=st, took=time.monotonic() - t0)


def cmd_get(dev, cred="lab", oids=(SYS_NAME,)):
    return {"type": "snmp.get", "target": dev.target, "credential": cred,
            "args": {"oids": list(oids)}}


# --------------------------------------------------------------------------
# 1. discovery and the inventory


def check_inventory_entries(lab, entries, what):
    by_addr = {e["address"]: e for e in entries}
    assert sorted(by_addr) == sorted(d.addr for d in lab.in_net), f"{what}: {entries}"
    want = {lab.plain: ("lab", "2c"), lab.writable: ("lab", "2c"),
            lab.v3only: ("lab-v3", "3")}
    for dev, (cred, version) in want.items():
        e = by_addr[dev.addr]
        assert (e["port"], e["sys_name"], e["sys_descr"], e["credential"], e["version"]) \
            == (PORT, dev.sys_name, dev.sys_descr, cred, version), f"{what}: {e}"
        assert e["sys_object_id"] == snmpget(dev, SYS_OBJECT_ID, "3"), f"{what}: {e}"
    return by_addr


def test_scan_command_reports_every_device_with_the_credential_that_answers(svc, scanned):
    st, lab = scanned.st, svc.lab
    assert st["status"] == "done" and st["result"]["status"] == "ok", st
    devices = st["result"]["data"]["devices"]
    assert len(devices) == 3, devices
    by_addr = check_inventory_entries(lab, devices, "scan result")
    # The v3 device is known by its engine ID: what snmpd reports.
    engine = re.sub(r"\s", "", str(snmpget(lab.v3only, SNMP_ENGINE_ID, "3"))).lower()
    assert re.fullmatch(r"[0-9a-f]{10,64}", engine), engine
    assert by_addr[lab.v3only.addr]["engine_id"].lower() == engine


def test_discovered_inventory_reaches_the_hub_and_the_state_dir(svc, scanned):
    lab = svc.lab
    devices = wait_for("the inventory at the hub", lambda: (
        lambda d: d if len(d) >= 3 else None)(
        svc.hub.json("GET", "/v1/agents/svc/devices")), 10)
    check_inventory_entries(lab, devices, "hub inventory")
    with open(os.path.join(svc.agent.state, "inventory.json")) as f:
        check_inventory_entries(lab, json.load(f), "inventory.json")


BATCH_LINE = re.compile(r"transport: batch \d+ closed: (\d+) results, (\d+) inventory, "
                        r"(\d+) samples")


def test_inventory_is_sent_again_only_when_it_changes(svc, scanned):
    # Discovery sent the three devices once; a rescan that finds nothing new
    # sends results, not the inventory again.
    log = svc.agent.log()
    assert sum(int(m.group(2)) for m in BATCH_LINE.finditer(log)) >= 3, log
    mark = len(log)
    data = run_ok(svc.hub, "svc", {"type": "scan", "args": {"networks": [svc.lab.net]}})
    assert len(data["devices"]) == 3
    lines = list(BATCH_LINE.finditer(svc.agent.log()[mark:]))
    assert sum(int(m.group(1)) for m in lines) >= 1, svc.agent.log()[mark:]
    assert sum(int(m.group(2)) for m in lines) == 0, svc.agent.log()[mark:]


def test_scheduled_discovery_runs_soon_after_start(svc):
    # [scan] interval is at least 1m, but the first scan comes after a
    # random delay (0-5 s), and finds the same three devices.
    line = re.compile(r"discovery: (\d+) addresses probed, (\d+) devices answered, "
                      r"(\d+) in the inventory")
    m = wait_for("the first scheduled scan", lambda: line.search(svc.agent.log()), 15)
    assert m.group(2) == "3" and m.group(3) == "3", m.group(0)


def test_inventory_survives_a_restart(svc, scanned):
    agent, lab = svc.agent, svc.lab
    rc, took = sigterm(agent)
    assert rc == 0, agent.log()
    agent.start()
    # Loaded from state_dir at start-up, before any scan could add them.
    assert re.search(r"inventory: 3 devices from \S+/inventory\.json", agent.log(True)), \
        agent.log(True)
    # poll.now needs the device in the inventory: the v3-only one, polled
    # with the v3 credential discovery found.
    data = run_ok(svc.hub, "svc", {"type": "poll.now",
                                   "args": {"device": lab.v3only.target, "profile": "system"}})
    (sample,) = data["samples"]
    assert sample["device"] == lab.v3only.target and sample["profile"] == "system"
    row = scalar_map(sample)
    assert row[SYS_NAME] == lab.v3only.sys_name and row[SYS_DESCR] == lab.v3only.sys_descr
    assert "discovery: new device" not in agent.log(True)


# --------------------------------------------------------------------------
# 2. poll samples equal what the device says


def test_poll_now_samples_equal_what_snmpget_reads(svc, scanned):
    dev = svc.lab.plain
    t0 = now_ms()
    up0 = snmpget(dev, SYS_UPTIME)
    hc0 = snmpwalk(dev, IF_HC_IN_OCTETS)
    data = run_ok(svc.hub, "svc", {"type": "poll.now", "args": {"device": dev.target}})
    hc1 = snmpwalk(dev, IF_HC_IN_OCTETS)
    up1 = snmpget(dev, SYS_UPTIME)
    t1 = now_ms()

    got = by_profile(data["samples"])
    assert sorted(got) == ["interfaces", "system"], data
    for s in got.values():
        assert s["device"] == dev.target and t0 <= s["ts"] <= t1, s

    assert got["system"]["tables"] == {} and not got["system"]["no_data"], got["system"]
    row = scalar_map(got["system"])
    assert row[SYS_NAME] == snmpget(dev, SYS_NAME) == dev.sys_name
    assert row[SYS_DESCR] == snmpget(dev, SYS_DESCR) == dev.sys_descr
    assert row[SYS_CONTACT] == snmpget(dev, SYS_CONTACT)
    assert row[SYS_LOCATION] == snmpget(dev, SYS_LOCATION) == dev.sys_location
    assert row[SYS_OBJECT_ID] == snmpget(dev, SYS_OBJECT_ID)
    assert up0 <= row[SYS_UPTIME] <= up1

    ifs = sample_map(got["interfaces"])
    cols = [c.lstrip(".") for c in got["interfaces"]["tables"]["interfaces"]["columns"]]
    # The first poll of a device reads the label columns too; a 32-bit
    # counter is left out where its 64-bit column answered.
    for col in (IF_DESCR, IF_TYPE, IF_SPEED, IF_OPER_STATUS, IF_HC_IN_OCTETS):
        assert col in cols, cols
    assert IF_IN_OCTETS not in cols, cols
    for col in (IF_DESCR, IF_TYPE, IF_SPEED, IF_OPER_STATUS):
        want = snmpwalk(dev, col)
        assert want, col
        assert {inst: r[col] for inst, r in ifs.items()} == want, col
    assert sorted(ifs) == sorted(hc0) == sorted(hc1)
    for inst in ifs:
        v = ifs[inst][IF_HC_IN_OCTETS]
        assert isinstance(v, int) and hc0[inst] <= v <= hc1[inst], (inst, hc0, v, hc1)

    # A second poll: counters never go back.
    again = by_profile(run_ok(svc.hub, "svc", {
        "type": "poll.now", "args": {"device": dev.target, "profile": "interfaces"}})
        ["samples"])
    assert list(again) == ["interfaces"]
    ifs2 = sample_map(again["interfaces"])
    for inst in ifs:
        assert ifs2[inst][IF_HC_IN_OCTETS] >= ifs[inst][IF_HC_IN_OCTETS]
        assert ifs2[inst][IF_HC_IN_OCTETS] <= snmpwalk(dev, IF_HC_IN_OCTETS)[inst]


def hub_samples(hub, dev, since_ms=0):
    return [s for s in hub.json("GET", f"/v1/agents/svc/samples?device={dev.target}")
            if s["ts"] >= since_ms]


def test_polled_samples_stream_to_the_hub(svc, scanned, restore_config):
    hub, lab = svc.hub, svc.lab
    # poll.now without a device: every device, samples in the normal stream
    # (polling is daily here, so nothing else produces samples now).
    t0 = now_ms()
    data = run_ok(hub, "svc", {"type": "poll.now"})
    assert data["devices_polled"] == 3, data
    for dev in lab.in_net:
        samples = wait_for(f"samples of {dev.target}", lambda: (
            lambda s: s if {x["profile"] for x in s} == {"system", "interfaces"} else None)(
            hub_samples(hub, dev, t0)), 10)
        system = [s for s in samples if s["profile"] == "system"][0]
        assert scalar_map(system)[SYS_NAME] == dev.sys_name, system
        assert system["device"] == dev.target

    # Scheduled polling every 10 s (set by SIGHUP): new samples for every
    # device within an interval.
    svc.agent.write_config(allow=None, extra=svc_extra(lab, poll_interval="10s"))
    assert "loaded (" in reload(svc.agent)
    t1 = now_ms()
    for dev in lab.in_net:
        samples = wait_for(f"scheduled samples of {dev.target}", lambda: (
            lambda s: s if {x["profile"] for x in s} == {"system", "interfaces"} else None)(
            hub_samples(hub, dev, t1)), 25)
        system = [s for s in samples if s["profile"] == "system"][0]
        assert scalar_map(system)[SYS_NAME] == dev.sys_name, system


# --------------------------------------------------------------------------
# 3. every command type, and every [policy] refusal


def test_snmp_get_over_v2c_and_v3(svc, scanned):
    lab = svc.lab
    data = run_ok(svc.hub, "svc", cmd_get(lab.plain, "lab", (SYS_NAME, SYS_DESCR)))
    assert data["varbinds"] == [
        {"oid": "." + SYS_NAME, "type": "STRING", "value": lab.plain.sys_name},
        {"oid": "." + SYS_DESCR, "type": "STRING", "value": lab.plain.sys_descr}]
    data = run_ok(svc.hub, "svc", cmd_get(lab.v3only, "lab-v3"))
    assert data["varbinds"] == [
        {"oid": "." + SYS_NAME, "type": "STRING", "value": lab.v3only.sys_name}]


def test_snmp_walk_returns_what_snmpbulkwalk_reads(svc, scanned):
    dev = svc.lab.v3only
    data = run_ok(svc.hub, "svc", {"type": "snmp.walk", "target": dev.target,
                                   "credential": "lab-v3", "args": {"oid": IF_TYPE}})
    want = snmpwalk(dev, IF_TYPE, version="3")
    assert want
    got = {v["oid"][len(IF_TYPE) + 2:]: int(v["value"]) for v in data["varbinds"]}
    assert got == want
    assert all(v["oid"].startswith("." + IF_TYPE + ".") for v in data["varbinds"])


def test_snmp_set_inside_set_oids_writes_the_device(svc, scanned):
    dev = svc.lab.writable
    value = f"rack-{random.randrange(10**6)}"
    data = run_ok(svc.hub, "svc", {
        "type": "snmp.set", "target": dev.target, "credential": "rw",
        "args": {"varbinds": [{"oid": SYS_LOCATION, "type": "s", "value": value}]}})
    assert data["varbinds"] == [{"oid": "." + SYS_LOCATION, "type": "STRING",
                                 "value": value}]
    assert dev.get(SYS_LOCATION) == value
    # Allowed by policy, refused by the device (read-only community): the
    # command ran and failed.
    st = run(svc.hub, "svc", {
        "type": "snmp.set", "target": dev.target, "credential": "lab",
        "args": {"varbinds": [{"oid": SYS_LOCATION, "type": "s", "value": "nope"}]}})
    assert st["status"] == "failed" and st["result"]["status"] == "error", st
    assert dev.get(SYS_LOCATION) == value


@pytest.mark.parametrize("varbinds", [
    [{"oid": SYS_CONTACT, "type": "s", "value": "mallory"}],
    # a prefix is a whole arc: 1.3.6.1.2.1.1.6 does not allow 1.3.6.1.2.1.1.60
    [{"oid": "1.3.6.1.2.1.1.60.0", "type": "s", "value": "x"}],
    # one varbind outside refuses the whole set
    [{"oid": SYS_LOCATION, "type": "s", "value": "x"},
     {"oid": SYS_CONTACT, "type": "s", "value": "mallory"}],
], ids=["sysContact", "arc-prefix", "mixed"])
def test_snmp_set_outside_set_oids_is_refused(svc, scanned, varbinds):
    dev = svc.lab.writable
    location, contact = dev.get(SYS_LOCATION), dev.get(SYS_CONTACT)
    run_refused(svc.hub, "svc", {"type": "snmp.set", "target": dev.target,
                                 "credential": "rw", "args": {"varbinds": varbinds}},
                "outside [policy] set_oids")
    assert (dev.get(SYS_LOCATION), dev.get(SYS_CONTACT)) == (location, contact)


def test_agent_info(svc, scanned, outpost):
    version = subprocess.run([outpost, "--version"], capture_output=True, text=True,
                             env=client_env(), timeout=10).stdout
    data = run_ok(svc.hub, "svc", {"type": "agent.info"})
    assert data["version"] in version, (data, version)
    assert data["devices"] == 3
    assert isinstance(data["uptime_s"], int) and data["uptime_s"] >= 0
    assert isinstance(data["spool_bytes"], int)
    assert data["counters"]["commands_ok"] >= 1, data


def test_allow_networks_defaults_to_the_scan_networks(svc, scanned):
    lab = svc.lab
    # Inside [scan] networks: allowed with allow_networks unset.
    assert run_ok(svc.hub, "svc", cmd_get(lab.writable))["varbinds"][0]["value"] \
        == lab.writable.sys_name
    # A real device just outside: refused, though it would answer.
    run_refused(svc.hub, "svc", cmd_get(lab.outside), "outside [policy] allow_networks")
    assert lab.outside.get(SYS_NAME) == lab.outside.sys_name


@pytest.mark.parametrize("kind", ["snmp.get", "snmp.walk", "snmp.set"])
def test_target_outside_allow_networks_is_refused_and_no_packet_is_sent(svc, scanned,
                                                                      kind):
    lab = svc.lab
    trap = UdpTrap(lab.quiet)
    try:
        target = f"{lab.quiet}:{PORT}"
        args = {"snmp.get": {"oids": [SYS_NAME]}, "snmp.walk": {"oid": IF_DESCR},
                "snmp.set": {"varbinds": [{"oid": SYS_LOCATION, "type": "s",
                                           "value": "x"}]}}[kind]
        run_refused(svc.hub, "svc", {"type": kind, "target": target, "credential": "lab",
                                     "args": args}, "outside [policy] allow_networks")
        trap.assert_silent()
    finally:
        trap.close()


@pytest.mark.parametrize("networks", [
    "quiet/32",          # outside
    "net/28",            # holds the /29 but is larger
    "net,quiet",         # one range outside refuses the whole scan
])
def test_scan_outside_allow_networks_is_refused_and_no_packet_is_sent(svc, scanned,
                                                                    networks):
    lab = svc.lab
    net28 = str(ipaddress.ip_network(lab.net).supernet(new_prefix=28))
    nets = [{"quiet/32": f"{lab.quiet}/32", "net/28": net28,
             "net": lab.net, "quiet": lab.quiet}[n] for n in networks.split(",")]
    trap = UdpTrap(lab.quiet)
    try:
        run_refused(svc.hub, "svc", {"type": "scan", "args": {"networks": nets}},
                    "outside [policy] allow_networks")
        trap.assert_silent()
    finally:
        trap.close()


@pytest.mark.parametrize("extra", [
    {"community": "public"},
    {"auth_password": "authpass123"},
    {"priv_password": "privpass123"},
], ids=["community", "auth_password", "priv_password"])
def test_inline_credentials_are_refused(svc, scanned, extra):
    # At the top level: the hub refuses them when queued, with the agent's
    # own check (protocol/), so they never travel.
    command = cmd_get(svc.lab.plain)
    command.update(extra)
    s, _, data = svc.hub.request("POST", "/v1/agents/svc/commands", command)
    assert s == 400 and "at the top level" in json.loads(data)["error"], (s, data)
    # In a "credential" object: the agent refuses them ([policy]
    # allow_inline_credentials is off).
    command = cmd_get(svc.lab.plain)
    command["credential"] = {"version": "2c", **extra}
    run_refused(svc.hub, "svc", command, "inline credentials are refused")


def test_unknown_credential_is_refused(svc, scanned):
    lab = svc.lab
    run_refused(svc.hub, "svc", cmd_get(lab.plain, "nope"), "unknown credential 'nope'")
    run_refused(svc.hub, "svc", {"type": "snmp.set", "target": lab.writable.target,
                                 "credential": "nope", "args": {"varbinds": [
                                     {"oid": SYS_LOCATION, "type": "s", "value": "x"}]}},
                "unknown credential 'nope'")
    run_refused(svc.hub, "svc", {"type": "scan", "args": {
        "networks": [lab.net], "credentials": ["lab", "nope"]}}, "unknown credential 'nope'")


# --------------------------------------------------------------------------
# 5. SIGHUP


def test_sighup_applies_a_good_config(svc, scanned, restore_config):
    lab, agent = svc.lab, svc.agent
    run_refused(svc.hub, "svc", cmd_get(lab.outside), "allow_networks")
    agent.write_config(allow=f"{lab.net}, {lab.outside.addr}, {lab.quiet}",
                       extra=svc_extra(lab))
    assert "3 allowed networks" in reload(agent)
    assert run_ok(svc.hub, "svc", cmd_get(lab.outside))["varbinds"][0]["value"] \
        == lab.outside.sys_name
    assert run_ok(svc.hub, "svc", cmd_get(lab.plain))["varbinds"][0]["value"] \
        == lab.plain.sys_name
    # Allowed now, the quiet address gets the agent's packet: the UdpTrap
    # of the refusal tests would have seen one.
    trap = UdpTrap(lab.quiet)
    try:
        command = cmd_get(SimpleNamespace(target=f"{lab.quiet}:{PORT}"))
        command["timeout_ms"] = 1000
        st = run(svc.hub, "svc", command)
        assert st["result"]["status"] == "error", st
        assert trap.receive()[:1] == b"\x30"     # a BER SEQUENCE: an SNMP message
    finally:
        trap.close()


def test_sighup_with_a_bad_config_reports_it_and_keeps_the_running_one(
        svc, scanned, restore_config):
    lab, agent = svc.lab, svc.agent
    agent.write_config(allow=f"{lab.net}, {lab.outside.addr}", extra=svc_extra(lab))
    assert "2 allowed networks" in reload(agent)
    # The same file with one unknown key: rejected as a whole.
    good = open(agent.ini).read()
    bad = good.replace("[policy]\n", "[policy]\nallow_everything = true\n", 1)
    assert bad != good
    lineno = bad.splitlines().index("allow_everything = true") + 1
    agent.write_config(raw=bad)
    out = reload(agent)
    assert f"{agent.ini}:{lineno}: unknown key 'allow_everything' in [policy]" in out, out
    assert "keeping the running configuration" in out
    assert agent.proc.poll() is None
    # The running config (outside allowed) still applies.
    assert run_ok(svc.hub, "svc", cmd_get(lab.outside))["varbinds"][0]["value"] \
        == lab.outside.sys_name


def test_sighup_allow_set_false_refuses_sets(svc, scanned, restore_config):
    dev, agent = svc.lab.writable, svc.agent
    agent.write_config(allow=None, extra=svc_extra(svc.lab, policy={"allow_set": "false"}))
    assert "loaded (" in reload(agent)
    before = dev.get(SYS_LOCATION)
    run_refused(svc.hub, "svc", {"type": "snmp.set", "target": dev.target,
                                 "credential": "rw", "args": {"varbinds": [
                                     {"oid": SYS_LOCATION, "type": "s", "value": "x"}]}},
                "allow_set")
    assert dev.get(SYS_LOCATION) == before


def narrow_to_plain(svc):
    """Reload with allow_networks = the plain device only: the inventory
    still holds all three."""
    svc.agent.write_config(allow=f"{svc.lab.plain.addr}/32", extra=svc_extra(svc.lab))
    assert "1 allowed networks" in reload(svc.agent)
    run_refused(svc.hub, "svc", cmd_get(svc.lab.v3only, "lab-v3"), "allow_networks")


def test_poll_now_of_a_device_outside_allow_networks_is_refused(svc, scanned,
                                                                restore_config):
    # poll.now names its target like snmp.get does: a hub command must not
    # reach a device [policy] does not allow (docs/config.md: "anything
    # else is refused before a packet is sent"), inventory or not.
    narrow_to_plain(svc)
    run_refused(svc.hub, "svc", {"type": "poll.now",
                                 "args": {"device": svc.lab.v3only.target}},
                "allow_networks")


def test_poll_now_of_all_devices_polls_only_allowed_ones(svc, scanned, restore_config):
    hub, lab = svc.hub, svc.lab
    narrow_to_plain(svc)
    t0 = now_ms()
    data = run_ok(hub, "svc", {"type": "poll.now"})
    assert data["devices_polled"] == 1, data
    wait_for("samples of the allowed device", lambda: hub_samples(hub, lab.plain, t0), 10)
    time.sleep(0.5)
    for dev in (lab.writable, lab.v3only):
        got = hub_samples(hub, dev, t0)
        assert not got, f"{dev.target} is outside allow_networks but was polled: {got}"


# --------------------------------------------------------------------------
# 6. outpost status while running


def test_status_shows_devices_and_last_contact_while_running(svc, scanned, outpost):
    def shown():
        r = status(outpost, svc.agent)
        return r if re.search(r"^devices: +3$", r.stdout, re.M) else None
    r = wait_for("outpost status to show 3 devices", shown, 8, 0.5)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^agent: +running \(pid %d," % svc.agent.proc.pid, r.stdout, re.M), \
        r.stdout
    m = re.search(r"^last contact: +(\d+) s ago$", r.stdout, re.M)
    assert m and int(m.group(1)) <= POLL_WAIT + 10, r.stdout


def status_json(agent):
    with open(os.path.join(agent.state, "status.json")) as f:
        return json.load(f)


def reload_and_status(agent):
    """SIGHUP; (the reload's log, status.json as written right after it)."""
    before = status_json(agent)["reloads"]
    out = reload(agent)
    st = wait_for("status.json after the reload",
                  lambda: (lambda j: j if j["reloads"] > before else None)(
                      status_json(agent)), 10, 0.05)
    return out, st["schedule"]


def same_phase(before, after, interval_ms):
    """A device's next poll is where it was, or exactly one interval on
    (the poll came due in between; a late timer adds a few ms)."""
    return after == before or 0 <= after - before - interval_ms < 1000


def test_sighup_with_an_unchanged_config_moves_no_poll_and_scans_nothing(
        svc, scanned, restore_config, outpost):
    agent, day = svc.agent, 86400000
    targets = sorted(d.target for d in svc.lab.in_net)
    wait_for("3 scheduled device polls in status.json",
             lambda: sorted(status_json(agent)["schedule"]["polls"]) == targets, 10)
    agent.write_config(allow=None, extra=svc_extra(svc.lab))   # the same file
    # Twice: one reload is enough to move everything in the old code; the
    # schedule must be the same after each.
    _, s0 = reload_and_status(agent)
    out, s1 = reload_and_status(agent)
    assert "device polls keep their schedule; discovery keeps its schedule" in out, out
    assert s1["scan_ms"] == s0["scan_ms"] or s0["scan_running"] or s1["scan_running"], \
        (s0, s1)
    assert not s1["scan_running"] or s0["scan_running"], "the reload started a scan"
    for t in targets:
        assert same_phase(s0["polls"][t], s1["polls"][t], day), (t, s0, s1)
    # outpost status shows the schedule in words
    r = status(outpost, agent)
    assert re.search(r"^next device poll: in \d+(\.\d)? (s|min|h) \((%s)\)$"
                     % "|".join(re.escape(t) for t in targets), r.stdout, re.M), r.stdout
    assert re.search(r"^next discovery: +(in \d|running now)", r.stdout, re.M), r.stdout

    # Changed [scan] and [poll] interval: discovery restarts within 5 s and
    # every device gets a new phase in the new interval.
    extra = svc_extra(svc.lab, poll_interval="12h")
    extra["scan"]["timeout"] = "400ms"
    agent.write_config(allow=None, extra=extra)
    out, s2 = reload_and_status(agent)
    assert "device polls rescheduled; discovery restarts" in out, out
    assert s2["scan_running"] or s2["scan_ms"] - s2["clock_ms"] <= 5000, s2
    for t in targets:
        assert s2["polls"][t] - s2["clock_ms"] <= day // 2, s2
        assert not same_phase(s1["polls"][t], s2["polls"][t], day), (t, s1, s2)


def test_a_restart_only_change_is_named_by_sighup(svc, scanned, restore_config):
    extra = svc_extra(svc.lab)
    extra["upload"] = {"batch_max_bytes": "2MB"}
    svc.agent.write_config(allow=None, extra=extra)
    out, _ = reload_and_status(svc.agent)
    assert "reload: [upload] batch_max_bytes changed: takes effect on restart" in out, out


def test_status_shows_contact_while_the_hub_holds_the_poll(outpost, lab):
    """No devices, nothing to upload, the hub holds every poll for a
    minute: status still knows the hub answered (the first poll asks for
    an answer at once)."""
    hub = HubProcess(hub_binary(), os.path.join(lab.tmp, "hub-held"),
                     max_poll_wait="60s").start()
    token = hub.add_agent("held")
    agent = AgentProcess(outpost, os.path.join(lab.tmp, "held"),
                         f"http://127.0.0.1:{hub.port}", token, allow=lab.net,
                         extra={"upload": {"batch_max_age": "1h"}},
                         poll_wait="60s", credentials=CREDENTIALS)
    try:
        agent.start()
        wait_polling(hub, "held", timeout=15)

        def contact():
            r = status(outpost, agent)
            m = re.search(r"^last contact: +(.*)$", r.stdout, re.M)
            return m.group(1) if m and m.group(1) != "never" else None
        got = wait_for("status to show the hub's answer", contact, 15, 0.5)
        assert re.fullmatch(r"\d+ s ago", got), got
        assert agent.stop() == 0, agent.log()
        assert hub.stop() == 0, hub.log()
        no_sanitizer_reports(agent.log(), hub.log())
    finally:
        kill_left(agent.proc, hub.proc)


def limited_hub(tmp, name, nofile, **cfg):
    """A hub whose open file limit (soft and hard) is nofile."""
    wrapper = os.path.join(tmp, f"{name}-limited.sh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nulimit -n {nofile} || exit 99\nexec {hub_binary()} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    hub = HubProcess(wrapper, os.path.join(tmp, name), **cfg)
    if "max_connections" not in cfg:
        del hub.cfg["max_connections"]      # the fixture's: use the default
        hub.write_config()
    return hub


@pytest.mark.parametrize("max_connections,warns", [(None, False), ("20000", True)])
def test_hub_default_max_connections_starts_silently(lab, max_connections, warns):
    cfg = {"log_level": "info"}
    if max_connections:
        cfg["max_connections"] = max_connections
    hub = limited_hub(lab.tmp, f"hub-nofile-{warns}", 1024, **cfg)
    try:
        hub.start()
        assert hub.request("GET", "/healthz")[0] == 200
        warned = [ln for ln in hub.log().splitlines() if "max_connections" in ln]
        assert bool(warned) == warns, hub.log()
        assert hub.stop() == 0, hub.log()
    finally:
        kill_left(hub.proc)


# --------------------------------------------------------------------------
# 4. SIGTERM loses nothing: its own hub and agent ("edge"), since both stop


@pytest.fixture(scope="module")
def edge(outpost, svc, scanned):
    """Agent "edge" on its own hub. Its inventory is the one svc saved
    (state_dir/inventory.json); no [scan] networks, so it never scans on
    its own. Batches close after 30 s only: what it accepted is still in
    the open batch when a test stops it."""
    lab = svc.lab
    hub = HubProcess(hub_binary(), os.path.join(lab.tmp, "hub2"),
                     max_poll_wait=f"{POLL_WAIT}s").start()
    token = hub.add_agent("edge")
    agent = AgentProcess(outpost, os.path.join(lab.tmp, "edge"),
                         f"http://127.0.0.1:{hub.port}", token, allow=lab.net,
                         extra={"upload": {"batch_max_age": "30s"},
                                "poll": {"interval": "1d",
                                         "profiles": "system interfaces"},
                                # no networks: no scheduled scan; a scan
                                # command probes 1 address a second
                                "scan": {"port": PORT, "rate": "1"}},
                         poll_wait=f"{POLL_WAIT}s", credentials=CREDENTIALS)
    os.makedirs(agent.state, exist_ok=True)
    shutil.copy(os.path.join(svc.agent.state, "inventory.json"), agent.state)
    try:
        agent.start()
        wait_polling(hub, "edge")
        yield SimpleNamespace(hub=hub, agent=agent, lab=lab)
        rc = agent.stop()
        assert rc in (0, None), agent.log(True)
        assert hub.stop() in (0, None), hub.log()
        no_sanitizer_reports(agent.log(), hub.log())
    finally:
        kill_left(agent.proc, hub.proc)


def edge_samples(edge):
    return {dev.target: edge.hub.json("GET", f"/v1/agents/edge/samples?device={dev.target}")
            for dev in edge.lab.in_net}


def test_sigterm_exits_promptly_and_what_was_accepted_reaches_the_hub(edge):
    hub, agent, lab = edge.hub, edge.agent, edge.lab
    assert all(not s for s in edge_samples(edge).values())
    # Several commands: their results leave at once.
    ids = [queue(hub, "edge", cmd_get(d, "lab-v3")) for d in lab.in_net]
    ids.append(queue(hub, "edge", {"type": "agent.info"}))
    sts = [result(hub, cid) for cid in ids]
    assert all(s["status"] == "done" for s in sts), sts
    for st, dev in zip(sts, lab.in_net):
        assert st["result"]["data"]["varbinds"][0]["value"] == dev.sys_name
    assert sts[3]["result"]["data"]["devices"] == 3
    # poll.now for every device: its samples join the open batch, which
    # closes only after batch_max_age (30 s) ...
    cid = queue(hub, "edge", {"type": "poll.now"})
    assert result(hub, cid)["result"]["data"]["devices_polled"] == 3
    time.sleep(1.5)    # the polls it started finish (loopback: ms)
    assert all(not s for s in edge_samples(edge).values())

    # ... or at SIGTERM, into the spool.
    rc, took = sigterm(agent)
    assert rc == 0, agent.log(True)
    assert took < 8, f"SIGTERM took {took:.1f}s"
    with open(os.path.join(agent.state, "status.json")) as f:
        accepted = json.load(f)["samples"]
    assert accepted == 6, f"3 devices x 2 profiles, agent accepted {accepted}"
    assert re.search(r"transport: batch \d+ closed: 0 results, 0 inventory, 6 samples",
                     agent.log(True)), agent.log(True)

    # Whatever did not get out before the exit goes out after a restart.
    agent.start()
    wait_for("an empty spool", lambda: not spool_batches(agent), 10)
    samples = edge_samples(edge)
    # Every accepted sample, once (ingest is idempotent by batch_id).
    assert sum(len(s) for s in samples.values()) == accepted, samples
    for dev in lab.in_net:
        assert sorted(s["profile"] for s in samples[dev.target]) == \
            ["interfaces", "system"], samples[dev.target]


def test_sigterm_with_the_hub_down_spools_and_replays(edge, outpost):
    hub, agent, lab = edge.hub, edge.agent, edge.lab
    dev = lab.writable
    if agent.proc is None or agent.proc.poll() is not None:
        agent.start()
    wait_polling(hub, "edge", timeout=15)
    # A get the paused device holds up (the agent tries 3 times, 1 s each)
    # while the hub goes away; then the device answers.
    dev.pause()
    try:
        cid = queue(hub, "edge", cmd_get(dev, "lab"))
        wait_for("the get to be delivered", lambda: hub.json(
            "GET", f"/v1/commands/{cid}")["status"] == "delivered", 15)
        t0 = time.monotonic()
        assert hub.stop() == 0, hub.log()
        assert time.monotonic() - t0 < 2, "the hub took too long to stop for this test"
    finally:
        dev.resume()
    wait_for("the result", lambda: f"audit: command {cid} " in agent.log(True), 5)
    assert f"audit: command {cid} type snmp.get target {dev.target}: ok" in agent.log(True)

    rc, took = sigterm(agent)
    assert rc == 0, agent.log(True)
    assert took < 8, f"SIGTERM took {took:.1f}s"
    # The result could not be sent: it waits in the spool.
    assert len(spool_batches(agent)) == 1, os.listdir(os.path.join(agent.state, "spool"))
    assert re.search(r"transport: batch \d+ closed: 1 results", agent.log(True))

    # outpost status: a stopped agent, with its spool.
    r = status(outpost, agent)
    assert r.returncode != 0, r.stdout
    assert "NOT RUNNING" in r.stdout
    assert re.search(r"^spool: +1 batches", r.stdout, re.M), r.stdout

    # The hub again on the same port (the agent's url), then the agent.
    hub.listen = f"127.0.0.1:{hub.port}"
    hub.write_config()
    hub.start()
    agent.start()
    st = result(hub, cid, wait=25)
    assert st["status"] == "done", st
    assert st["result"]["data"]["varbinds"][0]["value"] == dev.sys_name
    wait_for("an empty spool", lambda: not spool_batches(agent), 10)


def test_a_command_still_running_at_sigterm_gets_a_result(edge):
    # SIGTERM lets running commands finish for 3 s. A scan at 1 probe/s
    # takes longer: the agent must still exit promptly, and the hub must
    # learn what became of the command (it was acked, so the hub never
    # delivers it again): an error result such as "agent stopped".
    hub, agent, lab = edge.hub, edge.agent, edge.lab
    if agent.proc is None or agent.proc.poll() is not None:
        agent.start()
    wait_polling(hub, "edge", timeout=15)
    cid = queue(hub, "edge", {"type": "scan", "args": {"networks": [lab.net]}})
    wait_for("the scan to be delivered", lambda: hub.json(
        "GET", f"/v1/commands/{cid}")["status"] == "delivered", 15)
    time.sleep(0.5)
    rc, took = sigterm(agent)
    assert rc == 0, agent.log(True)
    assert took < 8, f"SIGTERM took {took:.1f}s"
    agent.start()
    st = hub.json("GET", f"/v1/commands/{cid}?wait=10")
    assert st["status"] in ("done", "failed") and st.get("result"), \
        f"the scan cut short by SIGTERM never got a result: {st}\n" + \
        agent.log()[-4000:]
    # Cut short is not success: the scan did not cover the range.
    assert st["status"] == "failed" and st["result"]["status"] == "error", st


def test_sighup_upload_changes_apply_or_are_reported(edge):
    # [upload] batch_max_age 30 s -> 200 ms by SIGHUP: a result then reaches
    # the hub at once, or the agent says the change needs a restart (as it
    # does for [server] url and state_dir). Not silently ignored.
    hub, agent, lab = edge.hub, edge.agent, edge.lab
    if agent.proc is None or agent.proc.poll() is not None:
        agent.start()
    wait_polling(hub, "edge", timeout=15)
    agent.write_config(allow=lab.net, extra={
        "poll": {"interval": "1d", "profiles": "system interfaces"},
        "scan": {"port": PORT, "rate": "1"}})
    out = reload(agent)
    assert "loaded (" in out, out
    if re.search(r"\[upload\].*restart", out):
        return      # reported: the running batch_max_age stays until a restart
    st = hub.json("GET", "/v1/commands/%s?wait=5" % queue(hub, "edge", cmd_get(lab.plain)))
    assert st["status"] == "done", \
        f"batch_max_age change neither applied nor reported: {st}\n{out}"
