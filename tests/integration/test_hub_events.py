"""Events (SNMP notifications an agent forwards, docs/protocol.md) on the
hub: stored from batches once per agent and event id, served by
GET /v1/agents/{agent}/events with the samples' paging, a long poll
that a new event answers, and retention. Batches are posted directly (no
agent needed); test_hub_group.py has the same across two nodes."""

import gzip
import json
import os
import resource
import socket
import sqlite3
import time

import pytest

from hub_fixture import ADMIN_TOKEN
from pg_fixture import pg_cluster  # noqa: F401
from test_hub import agent, hub, hub_factory, in_thread, joined, result_batch  # noqa: F401
from test_hub_group import group  # noqa: F401

T0 = 1764640000000


def event(n, received=None, device=None, **extra):
    """An event of the shape the agent sends (v2c trap, linkDown)."""
    e = {"id": f"{n:016x}", "received": received if received is not None else T0 + n,
         "source": "10.1.0.5", "port": 50000 + n, "version": "2c", "pdu": "trap",
         "community": "public", "trap_oid": ".1.3.6.1.6.3.1.1.5.3", "uptime": 1000 + n,
         "varbinds": [{"oid": ".1.3.6.1.2.1.2.2.1.1.2", "type": "INTEGER", "value": n}]}
    if device is not None:
        e["device"] = device
    e.update(extra)
    return e


def batch(batch_id, events, **extra):
    return result_batch(batch_id, events=events, **extra)


def events_of(hub, query="", agent_name="site-1", **kw):
    return hub.json("GET", f"/v1/agents/{agent_name}/events" +
                    (f"?{query}" if query else ""), **kw)


def test_events_are_stored_once_and_served_as_sent(hub, agent):
    v1 = event(1, version="1", enterprise=".1.3.6.1.4.1.8072.3.2.10",
               agent_addr="10.1.0.5", generic=6, specific=17,
               trap_oid=".1.3.6.1.4.1.8072.3.2.10.0.17", varbinds=[])
    v1.pop("device", None)
    v2 = event(2, device="10.1.0.5:161")
    v3 = event(3, device="10.1.0.6", version="3", pdu="inform", user="trapuser",
               context="")
    del v3["community"]
    # integers past 2^53 and text beyond ASCII come back exactly
    v3["varbinds"] = [{"oid": ".1.3.6.1.2.1.31.1.1.1.6.1", "type": "Counter64",
                       "value": 18446744073709551615},
                      {"oid": ".1.3.6.1.2.1.1.5.0", "type": "STRING", "value": "Zürich ☃"}]
    bad = [{"received": T0, "version": "2c"},            # no id
           event(7, received="soon"),                     # received not an integer
           event(8, device="10.1.0.5:99999"),          # device not ADDR[:PORT]
           "a string"]
    r = hub.post_batch(agent, batch(10, [v1, v2, v3] + bad))
    assert r["stored"] is True
    got = events_of(hub)
    # newest first by the agent's received time, each as the agent sent it
    assert got == [v3, v2, v1]
    # the same events again in a later batch (a respooled copy): stored once
    assert hub.post_batch(agent, batch(11, [v2, v1, event(4)]))["stored"] is True
    got = events_of(hub)
    assert [e["id"] for e in got] == [event(4)["id"], v3["id"], v2["id"], v1["id"]]
    # a batch without events (an older agent) is fine
    assert hub.post_batch(agent, result_batch(12))["stored"] is True
    assert len(events_of(hub)) == 4
    # events must be an array
    status, data = hub.post_batch(agent, batch(13, {"id": "x"}), expect=400)
    assert b"events" in data
    assert len(events_of(hub)) == 4
    # another agent's events are its own
    other = hub.add_agent("site-2")
    assert hub.post_batch(other, batch(1, [event(5)]))["stored"] is True
    assert [e["id"] for e in events_of(hub, agent_name="site-2")] == [event(5)["id"]]
    assert len(events_of(hub)) == 4
    s, _, data = hub.request("GET", "/v1/agents/nobody/events")
    assert s == 404


def test_events_filter_by_device_and_page_by_received(hub, agent):
    evs = [event(i, device="10.1.0.5" if i % 2 else "10.1.0.6:1161") for i in range(25)]
    evs.append(event(25, received=T0 + 10))        # same received as event 10
    assert hub.post_batch(agent, batch(1, evs[:13]))["stored"] is True
    assert hub.post_batch(agent, batch(2, evs[13:]))["stored"] is True
    # device= normalized as samples' (port 161 by default)
    odd = events_of(hub, "device=10.1.0.5")
    assert [e["id"] for e in odd] == [event(i)["id"] for i in range(23, 0, -2)]
    assert [e["id"] for e in events_of(hub, "device=10.1.0.6:1161&limit=1")] == \
        [event(24)["id"]]
    assert events_of(hub, "device=10.9.9.9") == []
    # since (inclusive), until (exclusive) on received
    got = events_of(hub, f"since={T0 + 20}&until={T0 + 23}")
    assert [e["received"] for e in got] == [T0 + 22, T0 + 21, T0 + 20]
    # pages of 7 with Next-Cursor: every event once, newest first
    seen, cursor, pages = [], None, 0
    while True:
        s, h, data = hub.request("GET", "/v1/agents/site-1/events?limit=7" +
                                 (f"&cursor={cursor}" if cursor else ""))
        assert s == 200, data
        page = json.loads(data)
        assert 0 < len(page) <= 7
        seen += page
        pages += 1
        cursor = h.get("next-cursor")
        if cursor is None:
            break
        assert pages < 10
    assert pages == 4
    assert sorted(e["id"] for e in seen) == sorted(e["id"] for e in evs)
    assert [e["received"] for e in seen] == sorted((e["received"] for e in seen),
                                                   reverse=True)
    for bad, why in (("limit=0", b"limit"), ("since=x", b"since"), ("cursor=1", b"cursor"),
                     ("device=10.1.0.5:99999", b"device"), ("wait=301", b"wait"),
                     ("wait=-1", b"wait")):
        s, _, data = hub.request("GET", "/v1/agents/site-1/events?" + bad)
        assert s == 400 and why in data, (bad, data)


def test_long_poll_is_answered_by_a_new_event(hub, agent):
    assert hub.post_batch(agent, batch(1, [event(1)]))["stored"] is True
    # events already there: answered at once, whatever the wait
    t0 = time.monotonic()
    assert len(events_of(hub, "wait=30")) == 1
    assert time.monotonic() - t0 < 10
    # tailing: nothing since the newest one seen, so it is held ...
    tail = f"since={T0 + 2}&wait=30"
    t, out = in_thread(events_of, hub, tail, timeout=60)
    # ... and one for another device is held past the new event
    t2, out2 = in_thread(events_of, hub, f"since={T0 + 2}&device=10.9.9.9&wait=4",
                         timeout=60)
    time.sleep(1.0)
    assert t.is_alive() and t2.is_alive()
    t_post = time.monotonic()
    new = event(2, received=T0 + 5, device="10.1.0.5:161")
    assert hub.post_batch(agent, batch(2, [new]))["stored"] is True
    assert joined(t, out) == [new]
    assert out["t"] - t_post < 10     # far inside its 30 s wait
    # the other one's wait ends with an empty page
    assert joined(t2, out2) == []
    assert out2["t"] - t_post >= 2.0


def test_wait_ends_with_an_empty_array(hub, agent):
    t0 = time.monotonic()
    assert events_of(hub, "wait=1") == []
    assert time.monotonic() - t0 >= 0.9
    assert events_of(hub) == []      # no wait: at once


def test_held_event_waits_are_bounded(hub_factory):
    held = 1024     # HUB_EVENT_WAITERS_MAX
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < held + 200:
        pytest.skip(f"open file limit {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, held + 200), hard))
    hub = hub_factory(max_connections=str(held + 100))
    hub.add_agent("site-1")
    req = (f"GET /v1/agents/site-1/events?wait=60 HTTP/1.1\r\nHost: hub\r\n"
           f"Authorization: Bearer {ADMIN_TOKEN}\r\n\r\n").encode()
    socks = []
    try:
        for _ in range(held):
            c = socket.create_connection(("127.0.0.1", hub.port), timeout=10)
            c.sendall(req)
            socks.append(c)
        # once all are held, one more is refused at once with a hint
        deadline = time.monotonic() + 30
        while True:
            s, h, data = hub.request("GET", "/v1/agents/site-1/events?wait=1")
            if s != 200 or time.monotonic() > deadline:
                break
            assert json.loads(data) == []
        assert s == 503 and h.get("retry-after") == "5", (s, data)
        assert b"too many held event requests" in data
        # a page with events is still answered (nothing to hold)
        token = hub.cli("rotate-token", "site-1").stdout.strip()
        assert hub.post_batch(token, batch(1, [event(1)]))["stored"] is True
    finally:
        for c in socks:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    # ... and the event answered the held ones (closed by now: no harm)
    assert [e["id"] for e in events_of(hub, "wait=1")] == [event(1)["id"]]


def test_retention_removes_old_events(hub_factory):
    if os.environ.get("OUTPOST_TEST_HUB_DB") == "postgresql":
        pytest.skip("edits the SQLite file; test_group_* covers PostgreSQL")
    hub = hub_factory(retention="1h")
    token = hub.add_agent("site-1")
    assert hub.post_batch(token, batch(1, [event(1), event(2)]))["stored"] is True
    assert len(events_of(hub)) == 2
    assert hub.stop() == 0
    # one of them stored two hours ago (as the hub keeps time: its receipt)
    db = sqlite3.connect(os.path.join(hub.workdir, "hub.db"))
    with db:
        n = db.execute("UPDATE events SET received_ms = received_ms - 7200000 "
                       "WHERE event_id = ?", (event(1)["id"],)).rowcount
    db.close()
    assert n == 1
    # the first retention pass runs at start
    hub.start()
    deadline = time.monotonic() + 10
    while len(events_of(hub)) != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [e["id"] for e in events_of(hub)] == [event(2)["id"]]
    assert "old rows deleted" in hub.log()


# ---- a group of hubs on PostgreSQL ----

def test_group_an_event_stored_on_one_node_answers_a_wait_on_another(group):  # noqa: F811
    a, b = group(2)
    token = a.add_agent("site-1")
    t, out = in_thread(events_of, b, "device=10.1.0.5&wait=30", timeout=60)
    time.sleep(1.0)    # held on B now
    assert t.is_alive()
    t_post = time.monotonic()
    new = event(1, device="10.1.0.5:161")
    assert a.post_batch(token, batch(1, [new, event(2)]))["stored"] is True
    assert joined(t, out) == [new]
    assert out["t"] - t_post < 10     # far inside its 30 s wait


def test_group_the_same_events_posted_to_two_nodes_are_stored_once(group, pg_cluster):  # noqa: F811
    a, b = group(2, retention="1h")
    token = a.add_agent("site-1")
    evs = [event(i, device="10.1.0.5" if i % 2 else None) for i in range(30)]
    # the same events in different batches (a respooled copy), at once
    bodies = [gzip.compress(json.dumps(batch(n, evs)).encode()) for n in (1, 2, 3, 4)]
    runs = [in_thread(h.post_batch, token, None, raw=body)
            for h, body in zip((a, b, a, b), bodies)]
    assert all(joined(t, out)["stored"] for t, out in runs)
    for h in (a, b):
        got = events_of(h, "limit=1000")
        assert got == sorted(evs, key=lambda e: e["received"], reverse=True)
        assert events_of(h, "device=10.1.0.5:161&limit=1000") == \
            [e for e in got if "device" in e]
    # retention: one of them stored two hours ago, by the hub's clock
    db = a.db.rsplit("/", 1)[1]
    a.stop()
    assert pg_cluster.psql("UPDATE events SET received_ms = received_ms - 7200000 "
                           f"WHERE event_id = '{evs[0]['id']}' RETURNING 1", db=db) == "1"
    a.start()      # its first retention pass runs at start
    deadline = time.monotonic() + 10
    while len(events_of(b, "limit=1000")) != 29 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert evs[0]["id"] not in [e["id"] for e in events_of(b, "limit=1000")]
    assert len(events_of(b, "limit=1000")) == 29
