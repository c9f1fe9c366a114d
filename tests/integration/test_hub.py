"""outpost-hub against docs/protocol.md: long polls, delivery, acks and
leases, idempotent ingest, limits, auth, the operator API, drain and TLS.

Every hub runs on 127.0.0.1 (free port) with its own database in the
test's tmp_path; after each test it must still be alive, exit 0 on
SIGTERM and have printed no sanitizer report (OUTPOST_HUB may be the ASan
build).
"""

import gzip
import json
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from hub_fixture import ADMIN_TOKEN, HubProcess, hub_binary

CMD = {"type": "snmp.get", "target": "10.1.0.5:161", "credential": "lab-v2c",
       "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}, "timeout_ms": 10000}


@pytest.fixture
def hub_factory(tmp_path):
    binary = hub_binary()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"OUTPOST_HUB={binary} is not executable (run make first)",
                    pytrace=False)
    hubs = []

    def make(name="hub", start=True, **cfg):
        h = HubProcess(binary, str(tmp_path / name), **cfg)
        hubs.append(h)
        return h.start() if start else h

    yield make
    for h in hubs:
        h.stop_checked()


@pytest.fixture
def hub(hub_factory):
    return hub_factory(command_lease="1s")


@pytest.fixture
def agent(hub):
    return hub.add_agent("site-1")


def in_thread(fn, *args, **kw):
    out = {}

    def run():
        try:
            out["value"] = fn(*args, **kw)
        except BaseException as e:  # reported by the caller
            out["error"] = e
        out["t"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def joined(t, out, timeout=30):
    t.join(timeout)
    assert not t.is_alive(), "request did not finish"
    if "error" in out:
        raise out["error"]
    return out["value"]


def result_batch(batch_id, command_id=None, status="ok", **extra):
    b = {"batch_id": batch_id, "agent_version": "0.1.0",
         "created_ms": int(time.time() * 1000), "dropped_samples": 0,
         "results": [], "inventory": [], "samples": [],
         "counters": {"polls": 1}}
    if command_id:
        b["results"].append({
            "command_id": command_id, "status": status,
            "error": None if status == "ok" else "timeout",
            "started_ms": 1764324000100, "duration_ms": 12,
            "data": {"varbinds": [{"oid": ".1.3.6.1.2.1.1.5.0", "type": "STRING",
                                   "value": "sw-01"}]}})
    b.update(extra)
    return b


# ---- command line ----

def test_cli_add_agent_prints_a_token_once_and_refuses_duplicates(hub_factory):
    h = hub_factory(start=False)
    p = h.cli("add-agent", "site-1")
    token = p.stdout.strip()
    assert len(token) == 43 and p.stdout.count("\n") == 1
    assert all(c.isalnum() or c in "-_" for c in token)
    dup = h.cli("add-agent", "site-1", check=False)
    assert dup.returncode == 1 and "exists" in dup.stderr and dup.stdout == ""
    bad = h.cli("add-agent", "bad name!", check=False)
    assert bad.returncode == 1 and "invalid" in bad.stderr
    assert "site-1" in h.cli("list-agents").stdout
    assert h.cli("check-config").stdout.strip() == "configuration OK"
    assert h.cli("version").stdout.startswith("outpost-hub ")
    usage = subprocess.run([h.binary, "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "add-agent NAME" in usage.stdout
    unknown = subprocess.run([h.binary, "frobnicate"], capture_output=True, text=True)
    assert unknown.returncode == 2


def test_admin_token_file_readable_by_others_is_refused(hub_factory):
    h = hub_factory(start=False)
    os.chmod(h.token_file, 0o644)
    p = h.cli("check-config", check=False)
    assert p.returncode == 1 and "chmod 600" in p.stderr
    serve = subprocess.run([h.binary, "-c", h.ini], capture_output=True, text=True,
                           timeout=10)
    assert serve.returncode == 1 and "group/others" in serve.stderr


# ---- auth ----

def test_401_for_missing_bad_and_wrong_kind_of_token(hub, agent):
    assert hub.request("GET", "/healthz", token=None)[0] == 200
    cases = [
        ("GET", "/v1/agents", None),
        ("GET", "/v1/agents", "wrong-token"),
        ("GET", "/v1/agents", agent),                 # agent token, operator API
        ("GET", "/v1/agent/commands?wait=0", None),
        ("GET", "/v1/agent/commands?wait=0", "nope"),
        ("GET", "/v1/agent/commands?wait=0", ADMIN_TOKEN),   # admin is no agent
        ("GET", "/v1/agent/commands?wait=0", "bad token with spaces"),
        ("POST", "/v1/agent/results", None),
    ]
    for method, path, token in cases:
        status, headers, body = hub.request(method, path, token=token)
        assert status == 401, (method, path, token, status)
        assert headers.get("www-authenticate") == "Bearer"
    s, _, _ = hub.request("GET", "/v1/agents", token=None,
                          headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert s == 401


def test_rotated_or_removed_agent_token_stops_working_at_once(hub, agent):
    hub.poll(agent)
    new = hub.cli("rotate-token", "site-1").stdout.strip()
    assert hub.request("GET", "/v1/agent/commands", token=agent)[0] == 401
    hub.poll(new)
    hub.cli("remove-agent", "site-1")
    assert hub.request("GET", "/v1/agent/commands", token=new)[0] == 401


# ---- long poll and delivery ----

def test_long_poll_is_held_for_wait_then_answered_empty(hub, agent):
    t0 = time.monotonic()
    r = hub.poll(agent, wait=2)
    took = time.monotonic() - t0
    assert 1.9 <= took < 3.0, took
    assert r["commands"] == [] and isinstance(r["cursor"], str)
    t0 = time.monotonic()
    assert hub.poll(agent, wait=0)["commands"] == []
    assert time.monotonic() - t0 < 0.5


def test_a_long_poll_ends_just_before_its_wait(hub, agent):
    # 4 s or more: held to a 100 ms boundary 200-300 ms before the
    # wait's end, so the connection ends within the wait it asked for
    t0 = time.monotonic()
    assert hub.poll(agent, wait=4)["commands"] == []
    assert 3.65 <= time.monotonic() - t0 < 4.0


def test_wait_is_capped_by_max_poll_wait(hub_factory):
    hub = hub_factory(max_poll_wait="1s")
    token = hub.add_agent("a")
    t0 = time.monotonic()
    hub.poll(token, wait=30)
    assert 0.9 <= time.monotonic() - t0 < 2.0


def test_command_queued_while_poll_is_held_is_delivered_at_once(hub, agent):
    t, out = in_thread(hub.poll, agent, wait=20)
    time.sleep(0.5)    # the poll is held now
    t_post = time.monotonic()
    cid = hub.queue("site-1", CMD)["id"]
    r = joined(t, out)
    latency = out["t"] - t_post
    assert latency < 1.0, latency
    assert [c["id"] for c in r["commands"]] == [cid]
    c = r["commands"][0]
    assert c["type"] == "snmp.get" and c["target"] == "10.1.0.5:161"
    assert c["args"] == CMD["args"] and c["created"].endswith("Z")
    assert r["cursor"] != "0" and r["next_poll_ms"] == 0
    st = hub.json("GET", f"/v1/commands/{cid}")
    assert st["status"] == "delivered" and st["agent"] == "site-1"


def test_pending_commands_are_answered_at_once_in_order(hub, agent):
    ids = [hub.queue("site-1", dict(CMD, timeout_ms=1000 + i))["id"] for i in range(5)]
    t0 = time.monotonic()
    r = hub.poll(agent, wait=10)
    assert time.monotonic() - t0 < 1.0
    assert [c["id"] for c in r["commands"]] == ids


def test_ack_stops_redelivery_and_lease_redelivers_unacked(hub, agent):
    cid = hub.queue("site-1", CMD)["id"]
    first = hub.poll(agent)
    assert [c["id"] for c in first["commands"]] == [cid]
    # Not acked: after the 1 s lease the held poll gets it again.
    t0 = time.monotonic()
    again = hub.poll(agent, wait=5)
    assert [c["id"] for c in again["commands"]] == [cid]
    assert time.monotonic() - t0 < 2.5
    assert again["cursor"] != first["cursor"]
    # Acking the older cursor does not ack the newer delivery...
    assert hub.poll(agent, ack=first["cursor"])["commands"] == []
    # ...acking the latest one does: no more redelivery past the lease.
    assert hub.poll(agent, ack=again["cursor"])["commands"] == []
    t0 = time.monotonic()
    assert hub.poll(agent, wait=2)["commands"] == []
    assert time.monotonic() - t0 >= 1.9
    assert hub.json("GET", f"/v1/commands/{cid}")["status"] == "delivered"


def test_a_newer_poll_of_the_same_agent_releases_the_older(hub, agent):
    t, out = in_thread(hub.poll, agent, wait=20)
    time.sleep(0.3)
    t1 = time.monotonic()
    t2, out2 = in_thread(hub.poll, agent, wait=20)
    assert joined(t, out)["commands"] == []
    assert out["t"] - t1 < 1.0
    cid = hub.queue("site-1", CMD)["id"]
    assert [c["id"] for c in joined(t2, out2)["commands"]] == [cid]


def test_polls_past_the_shedding_mark_are_answered_at_once(hub_factory):
    hub = hub_factory(max_connections="20")      # holds at most 18 polls
    tokens = [hub.add_agent(f"a{i}") for i in range(19)]
    held = [in_thread(hub.poll, t, wait=3) for t in tokens[:18]]
    time.sleep(0.5)
    t0 = time.monotonic()
    r = hub.poll(tokens[18], wait=3)
    assert time.monotonic() - t0 < 1.0
    assert r["commands"] == [] and 10000 <= r["next_poll_ms"] <= 30000
    for t, out in held:
        assert joined(t, out)["next_poll_ms"] == 0


def test_queued_command_expires_after_ttl(hub_factory):
    hub = hub_factory(command_ttl="1s")
    hub.add_agent("site-1")
    cid = hub.queue("site-1", CMD)["id"]
    t0 = time.monotonic()
    r = hub.json("GET", f"/v1/commands/{cid}?wait=10")
    assert r["status"] == "expired" and r["result"] is None
    assert time.monotonic() - t0 < 3.0


# ---- results ----

def test_batch_is_stored_once_and_finishes_its_command(hub, agent):
    cid = hub.queue("site-1", CMD)["id"]
    hub.poll(agent)
    inv = {"address": "10.1.0.5", "port": 161, "version": "2c", "credential": "lab-v2c",
           "sys_name": "sw-01", "sys_descr": "x", "sys_object_id": ".1.3.6.1.4.1.9.1.1",
           "sys_uptime": 1, "first_seen_ms": 1, "last_seen_ms": 2}
    samples = [{"device": "10.1.0.5:161", "ts": 1764324000000 + i, "profile": "interfaces",
                "no_data": False, "scalars": {},
                "tables": {"interfaces": {"columns": [".1.3.6.1.2.1.31.1.1.1.6"],
                                          "rows": {"1": [i]}, "truncated": False}}}
               for i in range(3)]
    b = result_batch(42, cid, inventory=[inv], samples=samples)
    assert hub.post_batch(agent, b) == {"batch_id": 42, "stored": True}
    assert hub.post_batch(agent, b) == {"batch_id": 42, "stored": False}
    c = hub.json("GET", f"/v1/commands/{cid}")
    assert c["status"] == "done" and c["type"] == "snmp.get"
    assert c["result"]["status"] == "ok" and c["result"]["duration_ms"] == 12
    assert c["result"]["data"]["varbinds"][0]["value"] == "sw-01"
    assert "command_id" not in c["result"]
    assert hub.json("GET", "/v1/agents/site-1/devices") == [inv]
    got = hub.json("GET", "/v1/agents/site-1/samples?device=10.1.0.5")
    assert [s["ts"] for s in got] == [1764324000002, 1764324000001, 1764324000000]
    assert got[-1] == samples[0]   # stored and served as sent
    assert hub.json("GET", "/v1/agents/site-1/samples?device=10.9.9.9:161") == []
    # The duplicate stored nothing twice.
    assert len(hub.json("GET", "/v1/agents/site-1/samples?device=10.1.0.5:161")) == 3


def test_samples_are_paged_by_time_limit_and_cursor(hub, agent):
    t0 = 1764324000000
    # 250 samples over two batches, two of them with the same ts (the
    # cursor must not lose or repeat either)
    ts = [t0 + i for i in range(249)] + [t0 + 100]
    for n, part in enumerate((ts[:130], ts[130:])):
        samples = [{"device": "10.1.0.7:161", "ts": t, "profile": "p", "columns": [],
                    "rows": {"1": [i]}} for i, t in enumerate(part)]
        assert hub.post_batch(agent, result_batch(500 + n, samples=samples))["stored"]
    path = "/v1/agents/site-1/samples?device=10.1.0.7"
    # no parameters: the newest 100, and a cursor to the rest
    s, h, data = hub.request("GET", path)
    first = json.loads(data)
    assert s == 200 and len(first) == 100 and first[0]["ts"] == t0 + 248
    assert "next-cursor" in h
    # walking the cursor yields every sample once, newest first
    seen, cursor, pages = [], None, 0
    while True:
        q = path + "&limit=64" + (f"&cursor={cursor}" if cursor else "")
        s, h, data = hub.request("GET", q)
        assert s == 200, data
        page = json.loads(data)
        assert len(page) <= 64
        seen += [x["ts"] for x in page]
        pages += 1
        cursor = h.get("next-cursor")
        if cursor is None:
            break
        assert pages < 10
    assert sorted(seen) == sorted(ts) and seen == sorted(seen, reverse=True)
    assert pages == 4
    # since (inclusive) and until (exclusive), on the samples' ts
    got = hub.json("GET", path + f"&since={t0 + 10}&until={t0 + 20}")
    assert [x["ts"] for x in got] == list(range(t0 + 19, t0 + 9, -1))
    s, h, data = hub.request("GET", path + f"&since={t0 + 10}&until={t0 + 20}&limit=10")
    assert len(json.loads(data)) == 10 and "next-cursor" not in h
    # bounded, and nonsense is refused with the reason
    for bad, why in (("limit=0", b"limit"), ("limit=1001", b"limit"),
                     ("since=yesterday", b"since"), ("until=-5", b"until"),
                     ("cursor=12", b"cursor"), ("cursor=a.b", b"cursor")):
        s, _, data = hub.request("GET", path + "&" + bad)
        assert s == 400 and why in data, (bad, data)
    assert len(hub.json("GET", path + "&limit=1000")) == 250


def test_a_connection_that_has_lived_its_poll_wait_is_closed(hub_factory):
    hub = hub_factory(max_poll_wait="5s")
    tok = hub.add_agent("site-1")
    c = hub.connection()
    try:
        # a quick poll on a young connection keeps it
        s, h, _ = hub.request("GET", "/v1/agent/commands?wait=0", token=tok, conn=c)
        assert s == 200 and h.get("connection") != "close"
        # a held poll that ran its wait (1 s) ends its connection: behind
        # a balancer in TCP mode the agent comes back through it
        s, h, _ = hub.request("GET", "/v1/agent/commands?wait=1", token=tok, conn=c)
        assert s == 200 and h.get("connection") == "close"
    finally:
        c.close()


def test_error_result_marks_command_failed(hub, agent):
    cid = hub.queue("site-1", CMD)["id"]
    hub.post_batch(agent, result_batch(1, cid, status="error"))
    c = hub.json("GET", f"/v1/commands/{cid}")
    assert c["status"] == "failed" and c["result"]["error"] == "timeout"


def test_command_wait_returns_when_the_result_arrives(hub, agent):
    cid = hub.queue("site-1", CMD)["id"]
    t, out = in_thread(hub.json, "GET", f"/v1/commands/{cid}?wait=20")
    time.sleep(0.5)
    t_post = time.monotonic()
    hub.post_batch(agent, result_batch(7, cid))
    r = joined(t, out)
    assert r["status"] == "done" and out["t"] - t_post < 1.0
    # Without an event the wait runs out with the current status.
    cid2 = hub.queue("site-1", CMD)["id"]
    t0 = time.monotonic()
    assert hub.json("GET", f"/v1/commands/{cid2}?wait=1")["status"] == "queued"
    assert 0.9 <= time.monotonic() - t0 < 2.0


def test_other_agents_commands_and_unknown_ids_are_ignored(hub, agent):
    other = hub.add_agent("site-2")
    cid = hub.queue("site-1", CMD)["id"]
    hub.post_batch(other, result_batch(1, cid))
    hub.post_batch(other, result_batch(2, "no-such-command"))
    assert hub.json("GET", f"/v1/commands/{cid}")["status"] == "queued"
    # Batch ids are per agent.
    assert hub.post_batch(agent, result_batch(1))["stored"] is True


# ---- limits and bad input ----

def test_413_for_oversize_bodies_and_zip_bombs(hub, agent):
    # Refused on the headers: the body is never read.
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as s:
        s.sendall(b"POST /v1/agent/results HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + agent.encode() + b"\r\n"
                  b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                  % (8 * 1024 * 1024 + 1))
        assert s.recv(65536).startswith(b"HTTP/1.1 413 ")
    bomb = gzip.compress(b" " * (65 * 1024 * 1024), 9)
    assert len(bomb) < 1024 * 1024
    assert hub.post_batch(agent, None, raw=bomb, expect=413)[0] == 413
    # A zip bomb that is valid JSON all the way down: still 413.
    doc = b'{"batch_id": 5, "results": [], "pad": "' + b"a" * (65 * 1024 * 1024) + b'"}'
    assert hub.post_batch(agent, None, raw=gzip.compress(doc, 1), expect=413)[0] == 413
    huge = dict(CMD, args={"oids": ["1.3.6.1"], "pad": "x" * (70 * 1024)})
    assert hub.request("POST", "/v1/agents/site-1/commands", huge)[0] == 413
    assert hub.request("GET", "/healthz", token=None)[0] == 200


def test_400_for_invalid_batches(hub, agent):
    bad = [
        (gzip.compress(b"{not json"), 400),
        (gzip.compress(b'{"batch_id": 1} trailing'), 400),
        (gzip.compress(b"[]"), 400),
        (gzip.compress(b'{"results": []}'), 400),
        (gzip.compress(b'{"batch_id": 0}'), 400),
        (gzip.compress(b'{"batch_id": 1.5}'), 400),
        (gzip.compress(b'{"batch_id": 9007199254740992}'), 400),
        (gzip.compress(b'{"batch_id": 3, "results": {}}'), 400),
        (gzip.compress(b'{"batch_id": 3, "x": ' + b"[" * 40 + b"]" * 40 + b"}"), 400),
        (b"this is not gzip", 400),
        (gzip.compress(b'{"batch_id": 1}')[:-6], 400),
        (b"", 400),
    ]
    for raw, want in bad:
        assert hub.post_batch(agent, None, raw=raw, expect=want)[0] == want, raw[:40]
    s, _, _ = hub.request("POST", "/v1/agent/results", b'{"batch_id": 1}', agent,
                          {"Content-Type": "application/json"})
    assert s == 415
    # Still serving, and entries it cannot use are skipped, not fatal.
    odd = result_batch(9, None, results=[{"command_id": 5}, "x", {}],
                       inventory=[{"port": "x"}, 3], samples=[{"device": 7}, None])
    assert hub.post_batch(agent, odd)["stored"] is True


def test_400_404_405_on_the_operator_api(hub, agent):
    for body, want in [
        ({"type": "rm -rf"}, 400),
        ({"type": "snmp.get", "args": {"oids": ["1.3"]}}, 400),       # no target
        (dict(CMD, args={"oids": []}), 400),
        (dict(CMD, timeout_ms=-1), 400),
        (dict(CMD, credential="bad name"), 400),
        ({"type": "snmp.walk", "target": "h", "args": {}}, 400),
        ({"type": "snmp.set", "target": "h",
          "args": {"varbinds": [{"oid": "1.3", "type": "q", "value": 1}]}}, 400),
        ([1, 2], 400),
        ({"type": "agent.info"}, 201),
        ({"type": "scan", "args": {"networks": ["10.0.0.0/24"]}}, 201),
        ({"type": "poll.now"}, 201),
    ]:
        s, _, data = hub.request("POST", "/v1/agents/site-1/commands", body)
        assert s == want, (body, s, data)
    assert hub.request("POST", "/v1/agents/site-1/commands", b"{oops")[0] == 400
    assert hub.request("POST", "/v1/agents/nobody/commands", CMD)[0] == 404
    assert hub.request("GET", "/v1/commands/nonexistent")[0] == 404
    assert hub.request("GET", "/v1/agents/nobody/devices")[0] == 404
    assert hub.request("GET", "/v1/agents/site-1/samples")[0] == 400
    assert hub.request("GET", "/v1/nothing")[0] == 404
    assert hub.request("GET", "/v1/agents/bad%20name/devices")[0] == 404
    s, h, _ = hub.request("DELETE", "/v1/agents")
    assert s == 405 and h["allow"] == "GET"
    assert hub.request("GET", "/v1/agent/results", token=agent)[0] == 405
    assert hub.request("GET", "/v1/agent/commands?wait=99999", token=agent)[0] == 400
    assert hub.request("GET", "/v1/agent/commands?wait=-1", token=agent)[0] == 400
    assert hub.request("GET", "/v1/agent/commands?ack=" + "a" * 129, token=agent)[0] == 400
    assert hub.request("GET", "/v1/agent/commands?ack=bad!", token=agent)[0] == 400
    assert hub.request("GET", "/v1/commands/x?wait=301")[0] == 400


def test_queue_time_refuses_what_the_agent_would_refuse_with_the_reason(hub, agent):
    """The hub runs the agent's own command check (protocol/) when a command
    is queued: 400 naming the problem, never a command the agent refuses by
    its shape."""
    walk = {"type": "snmp.walk", "target": "10.1.0.5", "credential": "lab-v2c"}
    vb = {"oid": "1.3.6.1.2.1.1.6.0", "type": "s", "value": "x"}
    for body, needle in [
        (dict(CMD, community="x"), '"community" at the top level'),
        (dict(CMD, auth_password="x"), '"auth_password" at the top level'),
        (dict(CMD, args={"oids": ["not an oid"]}), "oid 0: bad OID 'not an oid'"),
        (dict(CMD, args={"oids": ["1.3", "1..3"]}), "oid 1: bad OID '1..3'"),
        (dict(CMD, args={"oids": ["1.3"] * 129}), "1-128 OIDs"),
        ({k: v for k, v in CMD.items() if k != "credential"}, "missing credential"),
        (dict(walk, args={"oid": "3.1"}), "args.oid: bad OID '3.1'"),
        (dict(walk, args={"oid": "1.3", "max_varbinds": 100001}),
         "max_varbinds must be an integer, 1-100000"),
        (dict(CMD, type="snmp.set", args={"varbinds": [dict(vb, type="b")]}),
         "type (one of i u c s x d n o t a)"),
        (dict(CMD, type="snmp.set", args={"varbinds": [dict(vb, value=7)]}),
         "all strings"),
        ({"type": "scan", "args": {"networks": [f"10.0.{i}.0/24" for i in range(65)]}},
         "1-64 networks"),
        ({"type": "scan", "args": {"networks": ["10.0.0.0/24"],
                                   "credentials": ["a b"]}}, "credential name"),
        ({"type": "poll.now", "args": {"device": "h:99999"}}, "args.device"),
        ({"type": "agent.info", "timeout_ms": 1.5}, "timeout_ms"),
    ]:
        s, _, data = hub.request("POST", "/v1/agents/site-1/commands", body)
        assert s == 400, (body, s, data)
        assert needle in json.loads(data)["error"], (body, data)
    # Nothing of it was queued.
    assert hub.json("GET", "/v1/agent/commands?wait=0", token=agent)["commands"] == []


def test_every_command_the_agent_runs_in_test_service_is_queued(hub, agent):
    """The shapes tests/integration/test_service.py runs on a real agent
    (and the OID forms the agent accepts: numeric, leading dot, names)."""
    dev = "127.77.0.2:1161"
    vb = {"oid": "1.3.6.1.2.1.1.6.0", "type": "s", "value": "x"}
    for body in [
        {"type": "scan", "args": {"networks": ["127.77.0.0/29"]}},
        {"type": "scan", "args": {"networks": ["127.77.0.0/29"],
                                  "credentials": ["lab", "nope"]}},
        {"type": "snmp.get", "target": dev, "credential": "lab",
         "args": {"oids": ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.1.0"]}},
        {"type": "snmp.get", "target": dev, "credential": "lab",
         "args": {"oids": [".1.3.6.1.2.1.1.5.0", "sysName.0", "ifDescr"]}},
        {"type": "snmp.walk", "target": dev, "credential": "lab-v3",
         "args": {"oid": "1.3.6.1.2.1.2.2.1.3"}},
        {"type": "snmp.walk", "target": "[::1]:161", "credential": "lab",
         "context": "ctx", "args": {"oid": "1.3.6.1.2.1.2", "max_varbinds": 100000}},
        {"type": "snmp.set", "target": dev, "credential": "rw",
         "args": {"varbinds": [vb, dict(vb, oid="1.3.6.1.2.1.1.4.0")]}},
        {"type": "snmp.get", "target": dev, "credential":
         {"version": "2c", "community": "public"}, "args": {"oids": ["sysName.0"]}},
        {"type": "poll.now", "args": {"device": dev, "profile": "system"}},
        {"type": "poll.now", "args": {"device": dev}},
        {"type": "poll.now"},
        {"type": "agent.info", "timeout_ms": 5000},
    ]:
        s, _, data = hub.request("POST", "/v1/agents/site-1/commands", body)
        assert s == 201, (body, s, data)


def test_garbage_on_the_wire_never_crashes_the_hub(hub, agent):
    payloads = [
        b"\x00\xff" * 512 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"POST /v1/agent/results HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
        agent.encode() + b"\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked"
        b"\r\n\r\nzz\r\n",
        b"POST /v1/agent/results HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET /v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"b" * 300 +
        b"\r\n\r\n",
        b"GET /healthz HTTP/9.9\r\n\r\n",
        b"\r\n\r\n\r\n",
    ]
    for p in payloads:
        # Most get an error status at once; libmicrohttpd leaves a binary
        # request line to the idle timeout, so do not wait for every close.
        with socket.create_connection(("127.0.0.1", hub.port), timeout=1) as s:
            try:
                s.sendall(p)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except OSError:
                pass
    # A chunked upload over the limit is cut off, not buffered forever.
    with socket.create_connection(("127.0.0.1", hub.port), timeout=10) as s:
        s.sendall(b"POST /v1/agent/results HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  agent.encode() + b"\r\nContent-Encoding: gzip\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + b"z" * 65536 + b"\r\n"
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:
                s.sendall(chunk)
                sent += 65536
        except OSError:
            pass
        assert sent < 64 * 1024 * 1024
    assert hub.request("GET", "/healthz", token=None)[0] == 200
    assert hub.poll(agent)["commands"] == []


# ---- operator views ----

def test_agents_list_shows_polling_version_and_address(hub, agent):
    hub.add_agent("site-2")
    t, out = in_thread(hub.poll, agent, wait=3, headers={"User-Agent": "outpost/0.1.0"})
    time.sleep(0.3)
    agents = {a["name"]: a for a in hub.json("GET", "/v1/agents")}
    assert set(agents) == {"site-1", "site-2"}
    a = agents["site-1"]
    assert a["polling"] is True and a["version"] == "0.1.0"
    assert a["address"] == "127.0.0.1" and a["last_seen"].endswith("Z")
    assert agents["site-2"] == {"name": "site-2", "last_seen": None, "version": None,
                                "address": None, "polling": False, "online": False,
                                "last_batch": None, "dropped_samples": None,
                                "counters": None}
    joined(t, out)


# ---- drain ----

def test_sigterm_drains_held_polls_and_keeps_acknowledged_batches(hub_factory):
    hub = hub_factory(drain_grace="8s")
    tokens = [hub.add_agent(f"site-{i}") for i in range(3)]
    polls = [in_thread(hub.poll, tok, wait=30, timeout=40) for tok in tokens]
    time.sleep(0.5)
    # An upload in flight: headers and half the body sent.
    body = gzip.compress(json.dumps(result_batch(77)).encode())
    up = socket.create_connection(("127.0.0.1", hub.port), timeout=10)
    up.sendall(b"POST /v1/agent/results HTTP/1.1\r\nHost: x\r\n"
               b"Authorization: Bearer " + tokens[0].encode() + b"\r\n"
               b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) +
               body[:10])
    time.sleep(0.3)
    t_term = time.monotonic()
    hub.signal()
    for t, out in polls:
        r = joined(t, out)
        # the hint spreads the return over the poll's wait (30 s)
        assert r["commands"] == [] and 0 <= r["next_poll_ms"] <= 30000
        assert out["t"] - t_term < 1.0
    s, h, body503 = hub.request("GET", "/healthz", token=None)
    assert s == 503 and body503.strip() == b"draining" and h["connection"] == "close"
    s, h, data = hub.request("GET", "/v1/agent/commands?wait=30", token=tokens[1])
    assert s == 200 and h["connection"] == "close"
    assert 0 <= json.loads(data)["next_poll_ms"] <= 30000
    # Spread over the wait each agent asked for, not bunched in a few
    # seconds (the chance 20 uniform draws all fall in one third of the
    # range is 3^-19).
    for wait, hi in ((30, 30000), (4, 4000)):
        hints = []
        for _ in range(20):
            s, h, data = hub.request("GET", f"/v1/agent/commands?wait={wait}",
                                     token=tokens[1])
            assert s == 200 and h["connection"] == "close"
            hints.append(json.loads(data)["next_poll_ms"])
        assert all(0 <= x <= hi for x in hints), hints
        assert max(hints) - min(hints) > hi / 3, hints
    assert hub.request("POST", "/v1/agents/site-1/commands", CMD)[0] == 503
    # The upload in flight completes and is stored; then the hub exits.
    up.sendall(body[10:])
    resp = up.recv(65536)
    up.close()
    assert resp.startswith(b"HTTP/1.1 200") and b'"stored":true' in resp
    assert hub.wait(8) == 0
    assert time.monotonic() - t_term < 8
    assert "draining" in hub.log()
    # After a restart the acknowledged batch is there.
    hub.start()
    assert hub.post_batch(tokens[0], result_batch(77)) == {"batch_id": 77, "stored": False}


def test_drain_exits_at_once_when_idle_and_grace_bounds_slow_uploads(hub_factory):
    hub = hub_factory(drain_grace="1s")
    token = hub.add_agent("a")
    t0 = time.monotonic()
    hub.signal()
    assert hub.wait(5) == 0 and time.monotonic() - t0 < 0.5
    hub.start()
    up = socket.create_connection(("127.0.0.1", hub.port), timeout=10)
    up.sendall(b"POST /v1/agent/results HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               token.encode() + b"\r\nContent-Encoding: gzip\r\nContent-Length: 100\r\n"
               b"\r\nabc")
    time.sleep(0.2)
    t0 = time.monotonic()
    hub.signal()
    assert hub.wait(5) == 0
    assert 0.9 <= time.monotonic() - t0 < 2.0
    up.close()


# ---- TLS ----

def test_tls_with_a_self_signed_certificate(hub_factory, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    hub = hub_factory(tls_cert=str(cert), tls_key=str(key))
    assert hub.scheme == "https"
    hub.ssl_context = ssl.create_default_context(cafile=str(cert))
    token = hub.add_agent("site-1")
    assert hub.request("GET", "/healthz", token=None)[0] == 200
    cid = hub.queue("site-1", CMD)["id"]
    assert [c["id"] for c in hub.poll(token, wait=5)["commands"]] == [cid]
    assert hub.post_batch(token, result_batch(1, cid))["stored"] is True
    curl = subprocess.run(["curl", "-sS", "--cacert", str(cert),
                           f"https://127.0.0.1:{hub.port}/healthz"],
                          capture_output=True, text=True, timeout=10)
    assert curl.returncode == 0 and curl.stdout.strip() == "ok", curl.stderr
    # Plain HTTP to the TLS port gets nothing useful, and the hub lives on.
    plain = subprocess.run(["curl", "-sS", "-m", "5",
                            f"http://127.0.0.1:{hub.port}/healthz"],
                           capture_output=True, text=True, timeout=10)
    assert plain.stdout.strip() != "ok"
    assert hub.request("GET", "/healthz", token=None)[0] == 200
