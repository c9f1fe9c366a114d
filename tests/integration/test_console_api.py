"""The operator API the console uses (docs/hub.md "Operator tokens"):
tokens with roles enforced by the API itself, who queued each command,
the command history, whoami, and token and agent management.

Every hub runs on 127.0.0.1 with its own database; after each test it
must still be alive, exit 0 on SIGTERM and have printed no sanitizer
report. With OUTPOST_TEST_HUB_DB=postgresql the same tests run on the
PostgreSQL store.
"""

import os
import time

import pytest

from hub_fixture import ADMIN_TOKEN, HubProcess, hub_binary

CMD = {"type": "snmp.get", "target": "10.1.0.5:161", "credential": "lab-v2c",
       "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}}
WALK = {"type": "snmp.walk", "target": "10.1.0.6", "credential": "lab-v2c",
        "args": {"oid": "1.3.6.1.2.1.2.2.1"}}


@pytest.fixture
def hub(tmp_path):
    binary = hub_binary()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"OUTPOST_HUB={binary} is not executable (run make first)",
                    pytrace=False)
    h = HubProcess(binary, str(tmp_path / "hub")).start()
    h.agent_token = h.add_agent("site-1")
    h.tokens = {role: h.cli("add-token", f"{role}-1", "--role", role).stdout.strip()
                for role in ("viewer", "operator", "admin")}
    yield h
    h.stop_checked()


def post(hub, path, body, token, expect):
    status, _, data = hub.request("POST", path, body, token)
    assert status == expect, (path, status, data[:300])
    return data


def test_cli_prints_the_token_once_and_lists_names_and_roles(hub):
    for role, tok in hub.tokens.items():
        assert len(tok) == 43 and tok.isascii(), tok
    listing = hub.cli("list-tokens").stdout
    rows = [line.split() for line in listing.splitlines()]
    assert [(r[0], r[1]) for r in rows] == [
        ("admin-1", "admin"), ("operator-1", "operator"), ("viewer-1", "viewer")]
    for tok in hub.tokens.values():
        assert tok not in listing
    # The name is taken; a role that is not one; the admin file's name.
    assert hub.cli("add-token", "viewer-1", "--role", "viewer",
                   check=False).returncode == 1
    bad = hub.cli("add-token", "x", "--role", "root", check=False)
    assert bad.returncode == 1 and "not viewer, operator or admin" in bad.stderr
    assert hub.cli("add-token", "admin", "--role", "admin", check=False).returncode == 1
    assert hub.cli("add-token", "x", check=False).returncode == 2


def test_whoami_names_the_token_and_its_role(hub):
    for role, tok in hub.tokens.items():
        assert hub.json("GET", "/v1/whoami", token=tok) == {"name": f"{role}-1",
                                                            "role": role}
    # The admin token file is the operator "admin".
    assert hub.json("GET", "/v1/whoami") == {"name": "admin", "role": "admin"}
    status, _, data = hub.request("GET", "/v1/whoami", token="not-a-known-token")
    assert status == 401, data
    # An agent's token is not an operator's.
    status, _, _ = hub.request("GET", "/v1/whoami", token=hub.agent_token)
    assert status == 401


def test_viewer_reads_but_the_api_refuses_its_commands(hub):
    viewer = hub.tokens["viewer"]
    assert [a["name"] for a in hub.json("GET", "/v1/agents", token=viewer)] == ["site-1"]
    hub.json("GET", "/v1/agents/site-1/devices", token=viewer)
    hub.json("GET", "/v1/agents/site-1/commands", token=viewer)
    data = post(hub, "/v1/agents/site-1/commands", CMD, viewer, 403)
    err = __import__("json").loads(data)["error"]
    assert "viewer" in err and "queue commands" in err, err
    # Nothing was queued by the refused request.
    assert hub.json("GET", "/v1/agents/site-1/commands") == []
    for path, body in (("/v1/tokens", {"name": "x", "role": "viewer"}),
                       ("/v1/agents", {"name": "site-2"})):
        post(hub, path, body, viewer, 403)
    status, _, _ = hub.request("DELETE", "/v1/agents/site-1", token=viewer)
    assert status == 403
    assert "viewer-1" in hub.log() and viewer not in hub.log()


def test_operator_queues_and_every_command_records_its_sender(hub):
    op = hub.tokens["operator"]
    cid = hub.json("POST", "/v1/agents/site-1/commands", CMD, token=op, expect=201)["id"]
    got = hub.json("GET", f"/v1/commands/{cid}", token=hub.tokens["viewer"])
    assert got["sender"] == "operator-1"
    assert got["status"] == "queued" and got["duration_ms"] is None
    assert got["target"] == "10.1.0.5:161" and got["args"] == CMD["args"]
    admin_cid = hub.queue("site-1", WALK)["id"]
    assert hub.json("GET", f"/v1/commands/{admin_cid}")["sender"] == "admin"
    # Operators do not manage tokens or agents.
    post(hub, "/v1/tokens", {"name": "x", "role": "viewer"}, op, 403)
    post(hub, "/v1/agents", {"name": "site-2"}, op, 403)


def test_history_is_newest_first_with_sender_status_and_duration(hub):
    op = hub.tokens["operator"]
    ids = []
    for i in range(3):
        body = dict(CMD, args={"oids": [f"1.3.6.1.2.1.1.{i + 1}.0"]})
        ids.append(hub.json("POST", "/v1/agents/site-1/commands", body, token=op,
                            expect=201)["id"])
        time.sleep(0.005)   # distinct created times
    ids.append(hub.queue("site-1", WALK)["id"])
    # The agent takes them and answers the walk.
    polled = hub.poll(hub.agent_token, wait=0)
    assert len(polled["commands"]) == 4
    hub.post_batch(hub.agent_token, {"batch_id": 1, "results": [
        {"command_id": ids[3], "status": "ok", "error": None,
         "data": {"varbinds": []}},
        {"command_id": ids[0], "status": "refused", "error": "not allowed"}]})
    hist = hub.json("GET", "/v1/agents/site-1/commands", token=hub.tokens["viewer"])
    assert [h["id"] for h in hist] == ids[::-1]
    assert [h["sender"] for h in hist] == ["admin", "operator-1", "operator-1",
                                           "operator-1"]
    assert [h["status"] for h in hist] == ["done", "delivered", "delivered", "failed"]
    assert [h["type"] for h in hist] == ["snmp.walk"] + ["snmp.get"] * 3
    assert hist[3]["args"] == {"oids": ["1.3.6.1.2.1.1.1.0"]}
    for h in hist:
        assert set(h) >= {"id", "type", "args", "target", "status", "sender",
                          "created", "updated", "duration_ms"}
        assert "result" not in h
        if h["status"] in ("done", "failed"):
            assert isinstance(h["duration_ms"], (int, float)) and h["duration_ms"] >= 0
        else:
            assert h["duration_ms"] is None
    assert [h["id"] for h in hub.json(
        "GET", "/v1/agents/site-1/commands?limit=2")] == ids[:1:-1]
    # since: in ms since the epoch, like the samples API
    assert hub.json("GET", f"/v1/agents/site-1/commands?since={2 ** 52}") == []
    for bad in ("limit=0", "limit=501", "since=x"):
        status, _, data = hub.request("GET", f"/v1/agents/site-1/commands?{bad}")
        assert status == 400 and b"error" in data, bad
    status, _, _ = hub.request("GET", "/v1/agents/nobody/commands")
    assert status == 404


def test_admin_manages_tokens_and_agents_through_the_api(hub):
    admin = hub.tokens["admin"]
    new = hub.json("POST", "/v1/tokens", {"name": "noc-2", "role": "operator"},
                   token=admin, expect=201)
    assert new["name"] == "noc-2" and new["role"] == "operator" and len(new["token"]) == 43
    assert hub.json("GET", "/v1/whoami", token=new["token"])["role"] == "operator"
    listed = hub.json("GET", "/v1/tokens", token=admin)
    assert [(t["name"], t["role"]) for t in listed] == [
        ("admin-1", "admin"), ("noc-2", "operator"), ("operator-1", "operator"),
        ("viewer-1", "viewer")]
    assert all("token" not in t for t in listed)
    post(hub, "/v1/tokens", {"name": "noc-2", "role": "viewer"}, admin, 409)
    post(hub, "/v1/tokens", {"name": "x", "role": "root"}, admin, 400)
    post(hub, "/v1/tokens", {"name": "bad name", "role": "viewer"}, admin, 400)
    status, _, _ = hub.request("DELETE", "/v1/tokens/noc-2", token=admin)
    assert status == 200
    status, _, _ = hub.request("GET", "/v1/whoami", token=new["token"])
    assert status == 401   # removed: at once
    status, _, _ = hub.request("DELETE", "/v1/tokens/noc-2", token=admin)
    assert status == 404
    # Agents: the token is shown once and works for the agent's poll.
    ag = hub.json("POST", "/v1/agents", {"name": "site-2"}, token=admin, expect=201)
    assert hub.poll(ag["token"], wait=0)["commands"] == []
    status, _, _ = hub.request("DELETE", "/v1/agents/site-2", token=admin)
    assert status == 200
    assert [a["name"] for a in hub.json("GET", "/v1/agents")] == ["site-1"]
    assert new["token"] not in hub.log() and ag["token"] not in hub.log()


def test_a_token_in_the_url_is_not_a_credential(hub):
    tok = hub.tokens["admin"]
    for q in (f"token={tok}", f"access_token={tok}"):
        status, _, _ = hub.request("GET", f"/v1/whoami?{q}", token=None)
        assert status == 401, q
    assert tok not in hub.log()


def test_agents_list_has_what_the_console_shows(hub):
    hub.post_batch(hub.agent_token, {
        "batch_id": 7, "agent_version": "0.9.1", "created_ms": 1764324000123,
        "dropped_samples": 3,
        "counters": {"polls": 12, "poll_errors": 1, "spool_bytes": 4096}},
        headers={"User-Agent": "outpost/0.9.1"})
    (a,) = hub.json("GET", "/v1/agents", token=hub.tokens["viewer"])
    assert a["name"] == "site-1" and a["version"] == "0.9.1"
    assert a["dropped_samples"] == 3
    assert a["counters"] == {"polls": 12, "poll_errors": 1, "spool_bytes": 4096}
    assert a["last_batch"].endswith("Z")
    assert a["online"] is True       # it just talked to the hub
    hub.add_agent("site-9")
    b = next(x for x in hub.json("GET", "/v1/agents") if x["name"] == "site-9")
    assert b["online"] is False and b["counters"] is None and b["last_batch"] is None


def test_samples_wait_holds_until_a_new_sample_arrives(hub):
    import threading
    dev = "10.0.0.7:161"
    now = int(time.time() * 1000)
    path = f"/v1/agents/site-1/samples?device={dev}&since={now}"
    out = {}

    def held():
        t0 = time.monotonic()
        out["got"] = hub.json("GET", path + "&wait=30", token=hub.tokens["viewer"],
                              timeout=60)
        out["took"] = time.monotonic() - t0

    t = threading.Thread(target=held)
    t.start()
    time.sleep(0.5)
    assert "got" not in out          # held: nothing newer than since yet
    hub.post_batch(hub.agent_token, {"batch_id": 1, "samples": [
        {"device": dev, "ts": now + 5, "profile": "system", "no_data": False,
         "scalars": {".1.3.6.1.2.1.1.3.0": 1}, "tables": {}}]})
    t.join(60)
    assert [s["ts"] for s in out["got"]] == [now + 5]
    assert out["took"] < 20          # woken by the batch, not by the 30 s wait
    # Nothing new: the wait runs out and the answer is empty.
    assert hub.json("GET", f"/v1/agents/site-1/samples?device={dev}&since={now + 6}"
                    "&wait=1") == []
    status, _, _ = hub.request("GET", path + "&wait=301")
    assert status == 400
