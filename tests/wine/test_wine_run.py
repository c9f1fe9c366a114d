"""outpost.exe as the agent under Wine, delivering to the Linux hub on
loopback: the inventory reaches the hub, scheduled polls deliver samples,
commands (get, walk; v2c and v3) make the round trip, and a stop (Ctrl+C
when run by hand, the Service Control Manager's stop when run as the
Windows service) closes the open batch into the spool, which the next
start delivers: nothing the agent accepted is lost.

Most tests need no discovery: the devices are the agent's inventory from
an earlier run (state_dir/inventory.json, as the Linux agent saves it) and
the configuration has no [scan] networks. The tests marked `scanner` use
scan-based discovery ([scan] networks) and need snmp/scan_win.c's scanner:
until it lands they fail (the agent logs that scanning is not available).

The service test goes through Wine's own service manager: `outpost service
install | start | stop | uninstall`, the configuration at
%ProgramData%\\Outpost\\outpost.ini inside the session's WINEPREFIX, whose
wineserver stays up between commands (conftest.py) as a Windows machine
does between two commands.
"""

import ipaddress
import json
import os
import signal
import subprocess
import tempfile
import time
from types import SimpleNamespace

import pytest

from agent_fixture import AgentProcess
from wine_fixture import wine, winpath
from hub_fixture import HubProcess, hub_binary
from snmpd_fixture import SnmpdFarm
from test_service import (kill_left, queue, result, run_ok, wait_for,
                          wait_polling)

PORT = 1161
POLL_WAIT = 10
SYSTEM = "1.3.6.1.2.1.1"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
CREDENTIALS = {
    "lab": {"version": "2c", "community": "public"},
    "lab-v3": {"version": "3", "user": "testv3", "level": "authPriv",
               "auth_protocol": "SHA", "auth_password": "authpass123",
               "priv_protocol": "AES", "priv_password": "privpass123"},
}


class WineAgent(AgentProcess):
    """`outpost run` of outpost.exe (through the launcher in conftest). A
    SIGTERM would make Wine kill the process outright; SIGINT is Ctrl+C,
    which the agent handles as a stop, as the SCM's stop."""

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("outpost.exe run did not exit after Ctrl+C")
        finally:
            self.logf.close()


@pytest.fixture(scope="module")
def lab():
    """Two devices in a /29 (one answers v3 only), nothing else there."""
    with SnmpdFarm() as farm, tempfile.TemporaryDirectory(prefix="outpost-wine-run-") as tmp:
        net = farm.free_network(29)
        hosts = [str(h) for h in ipaddress.ip_network(net).hosts()]
        plain = farm.device(hosts[0], PORT)
        v3only = farm.device(hosts[1], PORT, community=None)
        farm.start(plain, v3only)
        yield SimpleNamespace(tmp=tmp, net=net, plain=plain, v3only=v3only,
                              devs=[plain, v3only])


def known_devices(lab, state_dir):
    """The lab's devices as the agent's inventory from an earlier run: the
    entries discovery writes to state_dir/inventory.json."""
    os.makedirs(state_dir, exist_ok=True)
    inv = [{"address": d.addr, "port": d.port, "version": v, "credential": c,
            "sys_name": d.sys_name}
           for d, v, c in ((lab.plain, "2c", "lab"), (lab.v3only, "3", "lab-v3"))]
    with open(os.path.join(state_dir, "inventory.json"), "w") as f:
        json.dump(inv, f)


def static_sections(batch_max_age="200ms", poll_interval="10s"):
    """No [scan] networks: the agent polls the devices it knows."""
    return {"upload": {"batch_max_age": batch_max_age},
            "poll": {"interval": poll_interval, "profiles": "system"}}


def scan_sections(lab):
    return {"scan": {"networks": lab.net, "port": PORT, "credentials": "lab lab-v3",
                     "interval": "1h", "timeout": "300ms", "retries": "0"},
            "poll": {"interval": "10s", "profiles": "system"}}


def hub_devices(hub, name, n, timeout=30):
    return wait_for(f"{n} devices at the hub", lambda: (
        lambda d: d if len(d) >= n else None)(
        hub.json("GET", f"/v1/agents/{name}/devices")), timeout)


def hub_samples(hub, name, devs):
    return {d.target: hub.json("GET", f"/v1/agents/{name}/samples?device={d.target}")
            for d in devs}


def running_site(outpost_wine, lab, name, extra, inventory):
    """Its own hub and agent NAME, started; stopped (exit 0) at the end."""
    hub = HubProcess(hub_binary(), os.path.join(lab.tmp, f"{name}-hub"),
                     max_poll_wait=f"{POLL_WAIT}s").start()
    token = hub.add_agent(name)
    agent = WineAgent(outpost_wine, os.path.join(lab.tmp, name),
                      f"http://127.0.0.1:{hub.port}", token, allow=lab.net,
                      extra=extra, poll_wait=f"{POLL_WAIT}s", credentials=CREDENTIALS)
    if inventory:
        known_devices(lab, agent.state)
    try:
        agent.start()
        wait_polling(hub, name, timeout=30)
        yield SimpleNamespace(hub=hub, agent=agent, lab=lab)
        assert agent.stop() == 0, agent.log()
        assert hub.stop() == 0, hub.log()
    finally:
        kill_left(agent.proc, hub.proc)


@pytest.fixture(scope="module")
def site(outpost_wine, lab):
    """Agent "win" that knows the lab's devices and never scans."""
    yield from running_site(outpost_wine, lab, "win", static_sections(), True)


def test_run_sends_the_inventory_it_knows(site):
    devices = hub_devices(site.hub, "win", 2)
    by_addr = {d["address"]: d for d in devices}
    assert sorted(by_addr) == sorted(d.addr for d in site.lab.devs), devices
    assert by_addr[site.lab.plain.addr]["credential"] == "lab"
    assert by_addr[site.lab.v3only.addr]["credential"] == "lab-v3"
    assert by_addr[site.lab.v3only.addr]["version"] == "3"


def test_run_polls_and_delivers_samples(site):
    samples = wait_for("a sample of each device", lambda: (
        lambda s: s if all(s.values()) else None)(
        hub_samples(site.hub, "win", site.lab.devs)), 45, 0.5)
    for dev in site.lab.devs:
        s = samples[dev.target][0]
        assert s["profile"] == "system" and not s["no_data"], s
        assert s["scalars"]["." + SYS_NAME] == dev.sys_name, s


@pytest.mark.parametrize("cred", ["lab", "lab-v3"])
def test_get_command_round_trip(site, cred):
    dev = site.lab.plain if cred == "lab" else site.lab.v3only
    data = run_ok(site.hub, "win", {"type": "snmp.get", "target": dev.target,
                                    "credential": cred, "args": {"oids": [SYS_NAME]}})
    assert data["varbinds"] == [{"oid": "." + SYS_NAME, "type": "STRING",
                                 "value": dev.sys_name}]


def test_walk_command_round_trip(site):
    dev = site.lab.v3only
    data = run_ok(site.hub, "win", {"type": "snmp.walk", "target": dev.target,
                                    "credential": "lab-v3", "args": {"oid": SYSTEM}})
    # The OIDs net-snmp's own walk reads from the device, in its order.
    ref = dev.snmp("snmpbulkwalk", "-On", "-Oq", SYSTEM, version="3").stdout
    want = [line.split(" ", 1)[0] for line in ref.splitlines()]
    assert [vb["oid"] for vb in data["varbinds"]] == want, data
    by_oid = {vb["oid"]: vb for vb in data["varbinds"]}
    assert by_oid["." + SYS_NAME]["value"] == dev.sys_name, data


def accepted_and_spooled(state_dir):
    with open(os.path.join(state_dir, "status.json")) as f:
        accepted = json.load(f)["samples"]
    return accepted, sorted(n for n in os.listdir(os.path.join(state_dir, "spool"))
                            if n.endswith(".batch"))


def drain_check(hub, name, devs, state_dir, stop, start):
    """poll.now into an open batch that closes only after 30 s; the hub
    goes away and the agent is stopped: the batch is in the spool (it could
    not be sent during the stop); the hub comes back on the same port and
    the agent starts: the spool empties into the hub and every accepted
    sample is there once. Returns the number of samples accepted."""
    before = sum(len(s) for s in hub_samples(hub, name, devs).values())
    cid = queue(hub, name, {"type": "poll.now"})
    assert result(hub, cid)["result"]["data"]["devices_polled"] == len(devs)
    time.sleep(1.5)    # the polls it started finish (loopback: ms)
    assert sum(len(s) for s in hub_samples(hub, name, devs).values()) == before
    assert hub.stop() == 0, hub.log()
    stop()
    accepted, spooled = accepted_and_spooled(state_dir)
    assert spooled, "the open batch was not spooled at stop"
    hub.listen = f"127.0.0.1:{hub.port}"
    hub.write_config()
    hub.start()
    start()
    wait_for("an empty spool", lambda: not accepted_and_spooled(state_dir)[1], 30)
    after = hub_samples(hub, name, devs)
    assert sum(len(s) for s in after.values()) == before + accepted, after
    return accepted


def test_ctrl_c_spools_the_open_batch_and_the_restart_delivers_it(site, lab):
    agent = site.agent
    assert agent.stop() == 0, agent.log(True)
    # Samples of the scheduled polls so far are at the hub; from here on
    # only poll.now polls, into batches that stay open for 30 s.
    agent.write_config(allow=lab.net, extra=static_sections(batch_max_age="30s",
                                                            poll_interval="1d"))
    agent.start()
    wait_polling(site.hub, "win", timeout=30)

    def stop():
        t0 = time.monotonic()
        assert agent.stop() == 0, agent.log(True)
        assert time.monotonic() - t0 < 10

    def start():
        agent.start()
        wait_polling(site.hub, "win", timeout=30)

    accepted = drain_check(site.hub, "win", lab.devs, agent.state, stop, start)
    assert accepted == 2, "2 devices x the system profile"


# --------------------------------------------------------------------------
# Discovery: needs the Windows scanner (snmp/scan_win.c)


@pytest.fixture(scope="module")
def scanning(outpost_wine, lab):
    """Agent "winscan" with [scan] networks and an empty inventory."""
    yield from running_site(outpost_wine, lab, "winscan", scan_sections(lab), False)


@pytest.mark.scanner
def test_run_discovers_the_devices_and_polls_them(scanning):
    lab = scanning.lab
    try:
        devices = hub_devices(scanning.hub, "winscan", 2)
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- agent log\n{scanning.agent.log()}") from None
    by_addr = {d["address"]: d for d in devices}
    assert sorted(by_addr) == sorted(d.addr for d in lab.devs), devices
    assert by_addr[lab.plain.addr]["credential"] == "lab"
    assert by_addr[lab.v3only.addr]["credential"] == "lab-v3"
    assert by_addr[lab.v3only.addr]["sys_name"] == lab.v3only.sys_name
    samples = wait_for("a sample of each device", lambda: (
        lambda s: s if all(s.values()) else None)(
        hub_samples(scanning.hub, "winscan", lab.devs)), 45, 0.5)
    for dev in lab.devs:
        assert samples[dev.target][0]["scalars"]["." + SYS_NAME] == dev.sys_name


# --------------------------------------------------------------------------
# As the Windows service, through Wine's service manager


def service(outpost_exe, *args, timeout=60):
    return wine(outpost_exe, "service", *args, timeout=timeout)


def sc_state(name="Outpost"):
    r = wine("sc", "query", name)
    for line in r.out.splitlines():
        if "STATE" in line:
            return line.split()[-1]
    return None


@pytest.fixture
def win_service(outpost_exe, wine_prefix, lab):
    """The service installed in the prefix, its configuration at
    %ProgramData%\\Outpost\\outpost.ini (owner-only: the ACL check), its
    own hub, the lab's devices in its inventory. Uninstalled afterwards."""
    hub = HubProcess(hub_binary(), os.path.join(lab.tmp, "svc-hub"),
                     max_poll_wait=f"{POLL_WAIT}s").start()
    token = hub.add_agent("winsvc")
    data = os.path.join(wine_prefix, "drive_c", "ProgramData", "Outpost")
    # The fixture writes the config; the service reads it from ProgramData.
    cfg = AgentProcess("unused", os.path.join(lab.tmp, "svc"), f"http://127.0.0.1:{hub.port}",
                       token, allow=lab.net, poll_wait=f"{POLL_WAIT}s", credentials=CREDENTIALS,
                       extra=static_sections(batch_max_age="30s", poll_interval="1d"))
    known_devices(lab, cfg.state)
    os.makedirs(data, exist_ok=True)
    text = open(cfg.ini).read().replace(cfg.state, winpath(cfg.state)) \
                               .replace(cfg.token_file, winpath(cfg.token_file))
    ini = os.path.join(data, "outpost.ini")
    # A new file, not one left by the MSI test (Wine keeps a file's ACL
    # in an extended attribute that a truncating write would keep).
    if os.path.exists(ini):
        os.remove(ini)
    fd = os.open(ini, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    log = os.path.join(lab.tmp, "svc", "service.log")
    # The default config path (what the MSI's service uses); the log to a
    # file rather than the Event Log, to show it when a test fails.
    r = service(outpost_exe, "install", "--log", winpath(log))
    try:
        assert r.returncode == 0, r
        yield SimpleNamespace(hub=hub, state=cfg.state, exe=outpost_exe, log_path=log)
    finally:
        service(outpost_exe, "stop")
        u = service(outpost_exe, "uninstall")
        hub.stop()
        kill_left(hub.proc)
        assert u.returncode == 0, u
        assert sc_state() is None, "the service is still registered after uninstall"


def service_log(svc):
    try:
        with open(svc.log_path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return "(no service log)"


def test_service_stop_spools_the_open_batch_and_loses_nothing(win_service, lab):
    svc = win_service
    assert sc_state() == "STOPPED", "install must not start the service"

    def start():
        r = service(svc.exe, "start")
        assert r.returncode == 0, f"{r}\n{service_log(svc)}"
        assert sc_state() == "RUNNING", service_log(svc)
        wait_polling(svc.hub, "winsvc", timeout=30)

    def stop():
        t0 = time.monotonic()
        r = service(svc.exe, "stop")
        assert r.returncode == 0, f"{r}\n{service_log(svc)}"
        assert sc_state() == "STOPPED", service_log(svc)
        assert time.monotonic() - t0 < 20

    try:
        start()
        accepted = drain_check(svc.hub, "winsvc", lab.devs, svc.state, stop, start)
        assert accepted == 2, "2 devices x the system profile"
        # The inventory the service knew reached the hub too.
        assert len(hub_devices(svc.hub, "winsvc", 2)) == 2
        stop()
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- service log\n{service_log(svc)}") from None
    # The service's run logged its stop as the SCM's: the drain, then "stopped".
    assert service_log(svc).count("stop request: stopping") == 2, service_log(svc)
