"""A hub group behind HAProxy with real agents (issue 8's acceptance,
docs/operations.md "A group of hub nodes"): hub nodes on one PostgreSQL,
HAProxy (TCP mode) in front, `outpost run` agents polling through it.

- a command queued on node A reaches the agent whose poll is held by B;
- B dies mid-lease (its answer never reached the agent): the command is
  delivered again once, by A, and runs once;
- a batch stored by B whose answer was lost is sent again and lands on A:
  stored once;
- a node drained on HAProxy's runtime API loses all its agent
  connections within about one poll wait.

HAProxy and PostgreSQL are started here, like snmpd. Poll wait 2 s;
bounds are generous multiples of it.
"""

import os
import signal
import socket
import threading
import time

import pytest

from agent_fixture import AgentProcess
from haproxy_fixture import HAProxy, free_port, unavailable as haproxy_unavailable
from hub_fixture import HubProcess, hub_binary
from pg_fixture import pg_cluster  # noqa: F401

W = 2.0          # the agents' poll wait, seconds
CMD = {"type": "snmp.get", "target": "127.0.0.1:9", "credential": "lab-v2c",
       "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}, "timeout_ms": 1000}


def outpost_binary():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.abspath(os.environ.get("OUTPOST") or
                           os.path.join(here, "..", "..", "build", "outpost"))


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.05)


class LossyRelay:
    """A TCP relay in front of one node. While `lose` is set (b"GET ",
    b"POST "), what the node sends on a connection whose first request
    starts with it is dropped: the node did the work and the agent never
    hears of it. cut() closes every connection."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.lose = None
        self.conns = []
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            state = {"first": b""}
            with self.lock:
                self.conns += [c, u]
            threading.Thread(target=self._pump, args=(c, u, state, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, state, False),
                             daemon=True).start()

    def _pump(self, src, dst, state, upstream):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream and not state["first"]:
                    state["first"] = data[:8]
                lose = self.lose
                if not upstream and lose is not None and state["first"].startswith(lose):
                    continue
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self):
        self.lsock.close()
        self.cut()


@pytest.fixture
def lb_group(tmp_path, pg_cluster):  # noqa: F811
    """make(n, active, relay_first): n hub nodes on one fresh database
    (fixed ports, so a node restarts where HAProxy expects it) behind
    HAProxy in TCP mode, servers n1..nn, the first `active` in service;
    with relay_first, n1 is a LossyRelay in front of the first node.
    agent(name): an `outpost run` polling through HAProxy."""
    why = haproxy_unavailable()
    if why:
        pytest.skip(why)
    made = {"nodes": [], "agents": [], "hap": None, "relay": None}

    def make(n=2, active=None, relay_first=False):
        uri = pg_cluster.new_database()
        nodes = [HubProcess(hub_binary(), str(tmp_path / f"node{i}"), db=uri,
                            listen=f"127.0.0.1:{free_port()}", command_lease="2s",
                            max_poll_wait="10s").start() for i in range(n)]
        made["nodes"] += nodes
        ports = [h.port for h in nodes]
        if relay_first:
            made["relay"] = LossyRelay(ports[0])
            ports[0] = made["relay"].port
        hap = HAProxy(str(tmp_path / "haproxy"), "tcp", ports, active)
        made["hap"] = hap
        wait_for(lambda: all(hap.stat()[f"n{i + 1}"]["status"] in ("UP", "MAINT")
                             for i in range(n)), 15, "HAProxy sees the nodes up")
        return nodes, hap, made["relay"]

    def agent(name, node):
        token = node.add_agent(name)
        a = AgentProcess(outpost_binary(), str(tmp_path / name), made["hap"].url, token,
                         allow="127.0.0.1", poll_wait=f"{W:.0f}s")
        made["agents"].append(a)
        return a.start()

    make.agent = agent
    make.db = lambda: made["nodes"][0].db.rsplit("/", 1)[1]
    yield make
    for a in made["agents"]:
        a.stop()
    if made["hap"]:
        made["hap"].stop()
    if made["relay"]:
        made["relay"].close()
    for h in made["nodes"]:
        h.stop_checked()


def finished(node, cid):
    st = node.json("GET", f"/v1/commands/{cid}?wait=20", timeout=30)
    assert st["status"] in ("done", "failed"), st
    assert st["result"] is not None, st
    return st


def runs(agent, cid):
    """How many times the agent ran the command (its audit log line)."""
    return agent.log().count(f"audit: command {cid} ")


def test_a_command_queued_on_node_a_reaches_the_agent_polling_node_b(lb_group):
    # n1 = B in service, n2 = A in maintenance: the agent can only poll B.
    (b, a), hap, _ = lb_group(2, active=1)
    agent = lb_group.agent("site-1", a)
    wait_for(lambda: hap.held("n1") >= 1, 10 * W, "the agent's poll held on B")
    cid = a.queue("site-1", CMD)["id"]
    finished(a, cid)
    assert runs(agent, cid) == 1
    stat = hap.stat()
    assert int(stat["n1"]["stot"]) >= 2 and int(stat["n2"]["stot"]) == 0, stat


def test_a_node_killed_mid_lease_the_command_is_delivered_again_once_and_runs_once(
        lb_group, pg_cluster):  # noqa: F811
    # n1 = a relay in front of B (it loses B's poll answers), n2 = A.
    (b, a), hap, relay = lb_group(2, active=1, relay_first=True)
    agent = lb_group.agent("site-1", a)
    wait_for(lambda: hap.held("n1") >= 1, 10 * W, "the agent's poll held on B")
    relay.lose = b"GET "
    cid = a.queue("site-1", CMD)["id"]

    def deliveries():
        out = pg_cluster.psql(f"SELECT deliveries FROM commands WHERE id = '{cid}'",
                              db=lb_group.db())
        return int(out or 0)
    # B leased it to the agent; its answer is lost on the way.
    wait_for(lambda: deliveries() == 1, 10 * W, "B delivered the command")
    hap.set_state("n2", "ready")
    hap.set_state("n1", "maint")
    b.signal(signal.SIGKILL)
    b.wait(10)
    relay.cut()
    # The agent's poll broke; it comes back through A, which delivers the
    # command again when B's lease ends, and the agent runs it.
    finished(a, cid)
    assert runs(agent, cid) == 1
    time.sleep(3 * W)   # more polls and a lease later: no third delivery
    assert deliveries() == 2
    assert runs(agent, cid) == 1


def test_a_batch_stored_by_one_node_whose_answer_was_lost_is_stored_once(
        lb_group, pg_cluster):  # noqa: F811
    # The agent's uploads reach B through a relay that loses B's answer.
    (b, a), hap, relay = lb_group(2, active=1, relay_first=True)
    agent = lb_group.agent("site-1", a)
    wait_for(lambda: hap.held("n1") >= 1, 10 * W, "the agent's poll held on B")
    relay.lose = b"POST "
    cid = a.queue("site-1", CMD)["id"]

    def stored():
        out = pg_cluster.psql("SELECT count(*) FROM batches b JOIN agents a ON "
                              "a.id = b.agent_id WHERE a.name = 'site-1'",
                              db=lb_group.db())
        return int(out)
    # B stored the result's batch; the agent never got the 200.
    wait_for(lambda: stored() == 1, 10 * W, "B stored the batch")
    st = a.json("GET", f"/v1/commands/{cid}")
    assert st["status"] in ("done", "failed")
    # B leaves the balancer; the upload breaks and is sent again, to A.
    hap.set_state("n2", "ready")
    hap.set_state("n1", "maint")
    relay.cut()
    wait_for(lambda: agent_spool_empty(agent), 20 * W, "the agent's spool emptied")
    assert stored() == 1
    assert runs(agent, cid) == 1
    assert a.json("GET", f"/v1/commands/{cid}") == st


def agent_spool_empty(agent):
    spool = os.path.join(agent.state, "spool")
    return os.path.isdir(spool) and not [f for f in os.listdir(spool)
                                         if f.endswith(".batch")]


def test_a_node_drained_on_haproxy_loses_every_agent_connection_within_a_poll_wait(
        lb_group):
    nodes, hap, _ = lb_group(2)
    agents = [lb_group.agent(f"site-{i}", nodes[0]) for i in range(6)]
    wait_for(lambda: hap.held("n1") >= 1 and hap.held("n2") >= 1 and
             hap.held("n1") + hap.held("n2") >= len(agents), 15 * W,
             "both nodes hold polls")
    t0 = time.monotonic()
    hap.set_state("n1", "drain")
    # Each agent's poll ends within W and its next connection goes to n2.
    wait_for(lambda: hap.held("n1") == 0, 5 * W, "n1 empty")
    drained = time.monotonic() - t0
    wait_for(lambda: hap.held("n2") >= len(agents), 5 * W, "every agent on n2")
    assert drained < 5 * W
    # Nothing reconnects to a draining node.
    time.sleep(2 * W)
    assert hap.held("n1") == 0
    assert all(a.proc.poll() is None for a in agents)
