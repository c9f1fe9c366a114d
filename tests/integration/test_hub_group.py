"""Several outpost-hub nodes on one PostgreSQL (a hub group behind a
balancer): a command queued on any node reaches the agent's poll held on
another at once; a node killed mid-lease costs one redelivery, no loss
and no third delivery; a batch posted to two nodes at once is stored
once; a database newer than the hub is refused."""

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from hub_fixture import HubProcess, hub_binary
from pg_fixture import PgCluster, pg_cluster, unavailable  # noqa: F401
from test_hub import in_thread, joined

CMD = {"type": "snmp.get", "target": "10.1.0.5:161", "credential": "lab-v2c",
       "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}, "timeout_ms": 10000}


@pytest.fixture
def group(tmp_path, pg_cluster):  # noqa: F811
    """make(n, **cfg): n started nodes sharing one fresh database."""
    binary = hub_binary()
    hubs = []

    def make(n=2, **cfg):
        uri = pg_cluster.new_database()
        nodes = [HubProcess(binary, str(tmp_path / f"node{i}"), db=uri, **cfg)
                 for i in range(n)]
        hubs.extend(nodes)
        return [h.start() for h in nodes]

    yield make
    for h in hubs:
        h.stop_checked()


def test_command_queued_on_one_node_reaches_the_poll_held_on_another(group):
    a, b = group(2)
    token = a.add_agent("site-1")
    t, out = in_thread(b.poll, token, wait=20)
    time.sleep(1.0)    # the poll is held on B now
    t_post = time.monotonic()
    cid = a.queue("site-1", CMD)["id"]
    r = joined(t, out)
    # Delivered during the held poll (20 s), not when it timed out.
    assert [c["id"] for c in r["commands"]] == [cid]
    assert out["t"] - t_post < 5.0, out["t"] - t_post
    assert a.json("GET", f"/v1/commands/{cid}")["status"] == "delivered"
    assert b.json("GET", f"/v1/commands/{cid}")["status"] == "delivered"


def test_node_killed_mid_lease_the_command_is_redelivered_once(group):
    a, b = group(2, command_lease="2s")
    token = a.add_agent("site-1")
    cid = a.queue("site-1", CMD)["id"]
    # B delivers it, then dies before the agent acks (its response lost).
    first = b.poll(token)
    assert [c["id"] for c in first["commands"]] == [cid]
    b.signal(signal.SIGKILL)
    b.wait(10)
    # The agent comes back through A: after the lease it gets it again,
    # during its held poll.
    t0 = time.monotonic()
    again = a.poll(token, wait=20)
    assert [c["id"] for c in again["commands"]] == [cid]
    assert time.monotonic() - t0 < 15.0
    assert again["cursor"] != first["cursor"]
    # It runs it once: ack, then the result.
    assert a.poll(token, ack=again["cursor"])["commands"] == []
    batch = {"batch_id": 1, "agent_version": "0.1.0", "results": [
        {"command_id": cid, "status": "ok", "data": {"ran": 1}}]}
    assert a.post_batch(token, batch)["stored"] is True
    # Past another lease: no third delivery.
    time.sleep(2.5)
    assert a.poll(token, wait=1)["commands"] == []
    st = a.json("GET", f"/v1/commands/{cid}")
    assert st["status"] == "done" and st["result"]["data"] == {"ran": 1}


def test_the_same_batch_posted_to_two_nodes_at_once_is_stored_once(group):
    a, b = group(2)
    token = a.add_agent("site-1")
    samples = [{"device": "10.1.0.5:161", "ts": 1764324000000 + i, "profile": "if",
                "values": {"n": i}} for i in range(40)]
    batch = {"batch_id": 77, "agent_version": "0.1.0", "samples": samples}
    body = gzip.compress(json.dumps(batch).encode())
    runs = [in_thread(h.post_batch, token, None, raw=body) for h in (a, b, a, b)]
    stored = [joined(t, out)["stored"] for t, out in runs]
    assert sorted(stored) == [False, False, False, True]
    for h in (a, b):
        got = h.json("GET", "/v1/agents/site-1/samples?device=10.1.0.5:161")
        assert len(got) == len(samples)
        assert sorted(s["ts"] for s in got) == [s["ts"] for s in samples]


def test_a_result_on_one_node_answers_an_operator_waiting_on_another(group):
    a, b = group(2)
    token = a.add_agent("site-1")
    cid = a.queue("site-1", CMD)["id"]
    assert [c["id"] for c in b.poll(token)["commands"]] == [cid]
    t, out = in_thread(a.json, "GET", f"/v1/commands/{cid}?wait=20")
    time.sleep(1.0)
    t_post = time.monotonic()
    b.post_batch(token, {"batch_id": 3, "results": [
        {"command_id": cid, "status": "ok", "data": {}}]})
    st = joined(t, out)
    assert st["status"] == "done"
    assert out["t"] - t_post < 5.0


def test_a_database_newer_than_the_hub_is_refused(group, pg_cluster):  # noqa: F811
    (a,) = group(1)
    db = a.db.rsplit("/", 1)[1]
    a.stop()
    pg_cluster.psql("INSERT INTO schema_version VALUES (999, 0)", db=db)
    p = a.cli("list-agents", check=False)
    assert p.returncode != 0
    assert "schema is version 999" in p.stderr and "upgrade" in p.stderr


def test_a_poll_response_stays_under_its_size_cap_and_the_rest_follows(group):
    (a,) = group(1)
    token = a.add_agent("site-1")
    oid = "1.3.6.1" + ".1000" * 90
    big = dict(CMD, args={"oids": [oid] * 128})
    ids = [a.queue("site-1", big)["id"] for _ in range(60)]
    status, _, body = a.request("GET", "/v1/agent/commands?wait=0", token=token)
    assert status == 200
    first = json.loads(body)
    assert len(body) <= (3 << 20) + 256
    assert 0 < len(first["commands"]) < len(ids)
    rest = a.poll(token, ack=first["cursor"])
    got = [c["id"] for c in first["commands"]] + [c["id"] for c in rest["commands"]]
    assert got == ids


def test_while_postgresql_is_away_requests_get_503_then_work_again(tmp_path):
    why = unavailable()
    if why:
        pytest.skip(why)
    cluster = PgCluster().start()   # its own: this test stops it
    try:
        h = HubProcess(hub_binary(), str(tmp_path / "node"), db=cluster.new_database())
        token = h.add_agent("site-1")
        h.start()
        try:
            assert h.poll(token)["commands"] == []
            cluster.pause()
            t0 = time.monotonic()
            status, headers, _ = h.request("GET", "/v1/agent/commands?wait=0",
                                           token=token)
            assert status == 503 and int(headers["retry-after"]) > 0
            status, _, _ = h.request("GET", "/v1/agents")
            assert status >= 500
            assert time.monotonic() - t0 < 10.0      # failing, not hanging
            assert h.request("GET", "/healthz", token=None)[0] == 200
            # A server that takes connections and never answers: the hub
            # keeps serving while its reconnects wait (on the loop, not in
            # a request), and each request fails fast.
            silent = socket.socket()
            silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            silent.bind(("127.0.0.1", cluster.port))
            silent.listen(64)
            try:
                end = time.monotonic() + 8
                while time.monotonic() < end:
                    t1 = time.monotonic()
                    status = h.request("GET", "/v1/agent/commands?wait=0",
                                       token=token)[0]
                    assert status == 503
                    assert h.request("GET", "/healthz", token=None)[0] == 200
                    assert time.monotonic() - t1 < 2.0
                    time.sleep(0.3)
            finally:
                silent.close()
            cluster.resume()
            # Back within the retry backoff (1 s doubling, at most 30 s).
            deadline = time.monotonic() + 45
            while True:
                status, _, body = h.request("GET", "/v1/agent/commands?wait=0",
                                            token=token)
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert status == 200, body
            cid = h.queue("site-1", CMD)["id"]
            assert [c["id"] for c in h.poll(token)["commands"]] == [cid]
            assert "connected to PostgreSQL again" in h.log()
        finally:
            assert h.stop() == 0
            report = h.sanitizer_report()
            assert not report, report
    finally:
        cluster.stop()


@pytest.mark.slow
def test_the_hub_and_end_to_end_tests_pass_on_postgresql():
    """test_hub.py and test_e2e.py again, every hub on a fresh PostgreSQL
    database (hub_fixture's OUTPOST_TEST_HUB_DB); they run on SQLite in
    the same session."""
    why = unavailable()
    if why:
        pytest.skip(why)
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, OUTPOST_TEST_HUB_DB="postgresql")
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        os.path.join(here, "test_hub.py"), os.path.join(here, "test_e2e.py")],
                       cwd=os.path.join(here, "..", ".."), env=env, capture_output=True,
                       text=True, timeout=1200)
    tail = (p.stdout + p.stderr)[-4000:]
    assert p.returncode == 0, tail
    m = re.search(r"(\d+) passed", tail)
    assert m and int(m.group(1)) >= 30 and " failed" not in tail, tail
