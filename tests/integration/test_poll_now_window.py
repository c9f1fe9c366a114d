"""poll.now for every device starts its polls a window at a time.

An agent with 1,000 devices that gets `poll.now` must not open 1,000
sockets and send 1,000 requests in one pass (the fd limit, the devices'
rate limits, the agent's own loop): at most 256 polls run at once and the
next starts as one ends (agent/poll.c). Every device is still polled, and
its samples reach the hub.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time

import pytest

from agent_fixture import AgentProcess
from farm_fixture import Farm, farm_block
from hub_fixture import SANITIZER_MARKERS, HubProcess, hub_binary
from test_fidelity import hub_get, wait_for

WINDOW = 256          # POLL_NOW_WINDOW in agent/poll.c
LATENCY_MS = 400      # each device answers late: polls overlap if started together


def sockets_of(pid: int) -> int:
    n = 0
    fd_dir = f"/proc/{pid}/fd"
    try:
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, fd)).startswith("socket:"):
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


class PeakSockets:
    """The most sockets the process held at any sample (every 20 ms)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, sockets_of(self.pid))
            time.sleep(0.02)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


@pytest.fixture(scope="module")
def site(outpost):
    net = farm_block(4)
    farm = Farm(devices=[(net, "host", {"community": "public",
                                       "latency_ms": LATENCY_MS})]).start()
    addrs = farm.addresses()
    with tempfile.TemporaryDirectory(prefix="outpost-pollnow-") as tmp:
        hub = HubProcess(hub_binary(), os.path.join(tmp, "hub"), max_poll_wait="5s").start()
        token = hub.add_agent("many")
        agent = AgentProcess(outpost, os.path.join(tmp, "agent"),
                             f"http://127.0.0.1:{hub.port}", token, allow=net,
                             poll_wait="5s", extra={
                                 "scan": {"networks": net, "port": farm.port,
                                          "credentials": "lab", "rate": "5000"},
                                 # a day: no scheduled poll during the test
                                 "poll": {"interval": "1d", "profiles": "system"}})
        agent.start()
        try:
            wait_for("the inventory at the hub", lambda: len(
                hub_get(hub, "/v1/agents/many/devices")) == len(addrs) or None,
                timeout=120)
            yield hub, agent, farm, addrs
        finally:
            rc = agent.stop()
            hub.stop()
            farm.stop()
        logs = agent.log() + hub.log()
        assert not any(m in logs for m in SANITIZER_MARKERS), logs[-4000:]
        assert rc == 0, agent.log()


def test_poll_now_for_every_device_runs_a_window_at_a_time(site):
    hub, agent, farm, addrs = site
    assert len(addrs) > 3 * WINDOW
    idle = sockets_of(agent.proc.pid)
    with PeakSockets(agent.proc.pid) as peak:
        cid = hub.json("POST", "/v1/agents/many/commands", {"type": "poll.now"}, expect=201)["id"]
        st = hub.json("GET", f"/v1/commands/{cid}?wait=20")
        assert st["status"] == "done", st
        assert st["result"]["data"]["devices_polled"] == len(addrs), st

        def all_sampled():
            missing = [a for a in addrs if not hub_get(
                hub, f"/v1/agents/many/samples?device={farm.target(a)}&limit=1")]
            return not missing or None
        wait_for("a sample of every device", all_sampled, timeout=120)
    # In flight: at most the window (plus the idle sessions the engine
    # keeps for reuse, at most 256). All at once would be 1,000 and more.
    assert peak.peak - idle <= 2 * WINDOW + 16, (peak.peak, idle)
