"""Correct data end to end (docs/protocol.md, "Values").

A real snmpd serves fixed edge values through a `pass_persist` script: binary and
Latin-1 OCTET STRINGs, a trailing NUL, overlong and surrogate UTF-8 bytes,
text, and integers at 0, 2^32-1, 2^53+1, 2^63 and 2^64-1. Every byte that
`outpost get/walk --json`, `outpost poll` and the hub emit is decoded with a
strict UTF-8 decoder before json.loads (which alone would accept lone
surrogates), and every value must be the one served: text as text, bytes
recoverable from their Hex-STRING, integers equal as Python ints.
"""

import gzip
import json
import os
import sqlite3
import stat
import subprocess
import tempfile
import time

import pytest

from agent_fixture import AgentProcess
from hub_fixture import SANITIZER_MARKERS, HubProcess, hub_binary
from snmpd_fixture import SnmpdFarm, client_env

BASE = "1.3.6.1.4.1.99999.1.1"   # one column; instance i is CASES[i - 1]
SYSDESCR = "1.3.6.1.2.1.1.1.0"
SYSDESCR_BYTES = b"\xb5Torrent box"   # Latin-1, as a real hrSWRunName

# (pass type, value served, JSON type expected). Octets are served as hex so
# snmpd sends exactly these bytes.
CASES = [
    ("octet", b"\x48\x5b\x39\x3a\xbb\x68", "Hex-STRING"),   # MAC 48:5B:39:3A:BB:68
    ("octet", b"\xb5Torrent", "Hex-STRING"),                 # Latin-1
    ("octet", b"eth0\x00", "Hex-STRING"),                    # trailing NUL
    ("octet", b"\xff\xfe\xff", "Hex-STRING"),
    ("octet", b"\xc0\xaf", "Hex-STRING"),                    # overlong '/'
    ("octet", b"\xed\xa0\x80", "Hex-STRING"),                # surrogate U+D800
    ("octet", b"a\x1bb", "Hex-STRING"),                      # control character
    ("octet", "café ✓ \U0001F600".encode(), "STRING"),
    ("octet", b"tab\there", "STRING"),
    ("string", b"", "STRING"),
    ("counter64", 0, "Counter64"),
    ("counter64", 2**32 - 1, "Counter64"),
    ("counter64", 2**53 + 1, "Counter64"),
    ("counter64", 2**63, "Counter64"),
    ("counter64", 2**64 - 1, "Counter64"),
    ("gauge", 2**32 - 1, "Gauge32"),
    ("counter", 2**32 - 1, "Counter32"),
    ("timeticks", 2**32 - 1, "Timeticks"),
    ("integer", -2**31, "INTEGER"),
]

PASS_SCRIPT = r'''#!/usr/bin/python3
# snmpd pass_persist script: one process for the device's life (a plain
# `pass` script starts Python per varbind: too slow under load).
import sys
ROWS = %(rows)r
def key(o):
    return tuple(int(x) for x in o.strip(".").split("."))
def reply(*lines):
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()
while True:
    cmd = sys.stdin.readline().strip()
    if not cmd:
        break
    if cmd == "PING":
        reply("PONG")
        continue
    k = key(sys.stdin.readline().strip())
    if cmd == "set":
        sys.stdin.readline()
        reply("not-writable")
        continue
    if cmd == "get":
        hit = next((r for r in ROWS if key(r[0]) == k), None)
    else:
        hit = next((r for r in ROWS if key(r[0]) > k), None)
    if hit:
        reply(*hit)
    else:
        reply("NONE")
'''


def served(value):
    return " ".join(f"{b:02X}" for b in value) if isinstance(value, bytes) else str(value)


def oid_of(i):
    return f"{BASE}.{i + 1}"


@pytest.fixture(scope="module")
def device():
    with tempfile.TemporaryDirectory(prefix="outpost-fidelity-") as tmp, SnmpdFarm() as farm:
        # snmpd may run as nobody: the script must be readable and executable.
        os.chmod(tmp, 0o755)
        rows = [("." + oid_of(i), t, served(v)) for i, (t, v, _) in enumerate(CASES)]
        script = os.path.join(tmp, "pass.py")
        with open(script, "w") as f:
            f.write(PASS_SCRIPT % {"rows": rows})
        os.chmod(script, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH |
                 stat.S_IXOTH)
        sysdescr = "0x" + SYSDESCR_BYTES.hex()   # octet_str takes hex after 0x
        dev = farm.start_one(extra_config=[f"pass_persist .1.3.6.1.4.1.99999 {script}",
                                           f"override .{SYSDESCR} octet_str {sysdescr}"])
        yield dev


def strict_lines(data: bytes):
    """Each line of output as JSON, after a strict UTF-8 decode."""
    text = data.decode("utf-8")   # raises on any invalid byte or surrogate
    return [json.loads(ln) for ln in text.splitlines() if ln.strip()]


def strict_json(data: bytes):
    return json.loads(data.decode("utf-8"))


def run(outpost, *args):
    p = subprocess.run([outpost, *args], capture_output=True, timeout=60, env=client_env())
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return p.stdout


def check_varbind(i, typ, value):
    _, want, want_type = CASES[i]
    assert typ == want_type, (i, typ, value)
    if want_type == "Hex-STRING":
        assert isinstance(value, str) and bytes.fromhex(value) == want, (i, value)
        assert value == value.upper() and "  " not in value
    elif want_type == "STRING":
        assert value.encode("utf-8") == want, (i, value)
    else:
        # A JSON number, exact: json.loads keeps big integers as ints.
        assert type(value) is int and value == want, (i, value)


def test_get_json_is_strict_utf8_and_exact(outpost, device):
    out = run(outpost, "get", "--json", "-c", "public", device.target,
              *[oid_of(i) for i in range(len(CASES))])
    objs = strict_lines(out)
    assert [o["oid"] for o in objs] == ["." + oid_of(i) for i in range(len(CASES))]
    for i, o in enumerate(objs):
        check_varbind(i, o["type"], o["value"])


def test_walk_json_is_strict_utf8_and_exact(outpost, device):
    out = run(outpost, "walk", "--json", "-c", "public", device.target, BASE)
    objs = strict_lines(out)
    assert len(objs) == len(CASES)
    for i, o in enumerate(objs):
        assert o["oid"] == "." + oid_of(i)
        check_varbind(i, o["type"], o["value"])


def check_cells(sample):
    """A poll sample's cells: bare numbers and text, typed objects for bytes.
    A [profile NAME]'s columns are one table called NAME."""
    table = sample["tables"]["fidelity"]
    assert table["columns"] == ["." + BASE]
    rows = table["rows"]
    assert sorted(rows, key=int) == [str(i + 1) for i in range(len(CASES))]
    for inst, (cell,) in rows.items():
        i = int(inst) - 1
        if CASES[i][2] == "Hex-STRING":
            assert set(cell) == {"type", "value"}, cell
            check_varbind(i, cell["type"], cell["value"])
        elif CASES[i][2] == "STRING":
            check_varbind(i, "STRING", cell)
        else:
            check_varbind(i, CASES[i][2], cell)


def test_poll_samples_are_strict_utf8_and_exact(outpost, device, tmp_path):
    ini = tmp_path / "outpost.ini"
    ini.touch(0o600)
    ini.write_text(f"[profile fidelity]\ncolumns = {BASE}\n\n"
                   "[credential lab]\nversion = 2c\ncommunity = public\n")
    out = run(outpost, "poll", "--config", str(ini), "--profile", "fidelity",
              "--profile", "system", device.target)
    samples = {s["profile"]: s for s in strict_lines(out)}
    check_cells(samples["fidelity"])
    # sysDescr is Latin-1 bytes: a Hex-STRING cell, recoverable.
    sysdescr = samples["system"]["scalars"]["." + SYSDESCR]
    assert sysdescr == {"type": "Hex-STRING", "value": served(SYSDESCR_BYTES)}


# ---- through the hub ----

@pytest.fixture(scope="module")
def site(outpost, device):
    with tempfile.TemporaryDirectory(prefix="outpost-fidelity-site-") as tmp:
        hub = HubProcess(hub_binary(), os.path.join(tmp, "hub"), max_poll_wait="5s").start()
        token = hub.add_agent("site-1")
        agent = AgentProcess(outpost, os.path.join(tmp, "agent"),
                             f"http://127.0.0.1:{hub.port}", token, allow=f"{device.addr}/32",
                             poll_wait="5s", extra={
                                 "scan": {"networks": f"{device.addr}/32",
                                          "port": device.port, "credentials": "lab"},
                                 "poll": {"interval": "10s",
                                          "profiles": "system fidelity"},
                                 "profile fidelity": {"columns": BASE}})
        agent.start()
        yield {"hub": hub, "agent": agent, "token": token}
        rc = agent.stop()
        hub.stop()
        for text in (agent.log(), hub.log()):
            assert not any(m in text for m in SANITIZER_MARKERS), text
        assert rc == 0, agent.log()


def hub_get(hub, path):
    status, _, data = hub.request("GET", path)
    assert status == 200, (path, status, data[:300])
    return strict_json(data)


def wait_for(what, fn, timeout=40):
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        assert time.monotonic() < deadline, f"no {what} after {timeout}s"
        time.sleep(0.2)


def test_samples_are_exact_through_the_hub(site, device):
    hub = site["hub"]
    path = f"/v1/agents/site-1/samples?device={device.target}"

    def fidelity_sample():
        return next((s for s in hub_get(hub, path) if s["profile"] == "fidelity"), None)

    check_cells(wait_for("fidelity sample at the hub", fidelity_sample))


def test_inventory_text_is_valid_utf8_at_the_hub(site, device):
    hub = site["hub"]
    devs = wait_for("inventory at the hub",
                    lambda: hub_get(hub, "/v1/agents/site-1/devices"))
    (entry,) = [d for d in devs if d["address"] == device.addr]
    # Display text: each invalid byte is U+FFFD (docs/protocol.md).
    assert entry["sys_descr"] == SYSDESCR_BYTES.decode("latin-1").replace("µ", "\ufffd")


def test_command_results_are_exact_through_the_hub(site, device):
    hub = site["hub"]
    cid = hub.queue("site-1", {"type": "snmp.walk", "target": device.target,
                               "credential": "lab", "args": {"oid": BASE}})["id"]
    st = wait_for("the walk's result",
                  lambda: (lambda s: s if s["status"] in ("done", "failed") else None)(
                      hub_get(hub, f"/v1/commands/{cid}?wait=5")))
    assert st["status"] == "done", st
    vbs = st["result"]["data"]["varbinds"]
    assert [v["oid"] for v in vbs] == ["." + oid_of(i) for i in range(len(CASES))]
    for i, v in enumerate(vbs):
        check_varbind(i, v["type"], v["value"])


def test_hub_refuses_invalid_utf8_and_echoes_batch_ids_exactly(site, device):
    hub, token = site["hub"], site["token"]
    bad = (b'{"batch_id": 9007199254740990, "inventory": [{"address": "10.9.9.9",'
           b' "port": 161, "sys_descr": "\xb5Torrent"}]}')
    status, _, data = hub.request("POST", "/v1/agent/results", gzip.compress(bad), token,
                                  {"Content-Encoding": "gzip",
                                   "Content-Type": "application/json"})
    assert status == 400, (status, data)
    err = strict_json(data)["error"]
    assert "batch 9007199254740990" in err and "invalid UTF-8" in err, err
    assert "inventory[0].sys_descr" in err, err
    assert "invalid UTF-8" in hub.log()
    # An escaped lone surrogate is refused the same way.
    bad = b'{"batch_id": 9007199254740989, "results": [{"error": "\\ud800"}]}'
    status, _, data = hub.request("POST", "/v1/agent/results", gzip.compress(bad), token,
                                  {"Content-Encoding": "gzip"})
    err = strict_json(data)["error"]
    assert status == 400 and "surrogate" in err, data
    assert err.startswith("batch 9007199254740989: ") and "results[0].error" in err, err
    assert all(d["address"] != "10.9.9.9"
               for d in hub_get(hub, "/v1/agents/site-1/devices"))
    # The largest batch id the protocol allows comes back digit for digit.
    good = (b'{"batch_id": 9007199254740991, "samples": [{"device": "10.9.9.8",'
            b' "ts": 1764324000000, "profile": "p", "columns": [".1.3"],'
            b' "rows": {"1": [18446744073709551615, 9223372036854775808]}}]}')
    status, _, data = hub.request("POST", "/v1/agent/results", gzip.compress(good), token,
                                  {"Content-Encoding": "gzip"})
    assert status == 200, data
    assert b'"batch_id":9007199254740991' in data
    assert strict_json(data)["batch_id"] == 2**53 - 1
    (s,) = hub_get(hub, "/v1/agents/site-1/samples?device=10.9.9.8")
    assert s["rows"]["1"] == [2**64 - 1, 2**63]


def test_rows_stored_before_the_check_are_served_repaired(tmp_path):
    """A database written by a hub that did not check UTF-8: what it holds
    is served with U+FFFD, never as invalid UTF-8."""
    hub = HubProcess(hub_binary(), str(tmp_path / "hub"))
    hub.add_agent("old")   # creates the database
    db = sqlite3.connect(hub.db)
    (agent_id,) = db.execute("SELECT id FROM agents WHERE name = 'old'").fetchone()
    entry = b'{"address":"10.7.7.7","port":161,"sys_descr":"\xb5Torrent \xff"}'
    # The bytes as SQLite TEXT, as the old hub stored them (no re-encoding).
    db.execute("INSERT INTO inventory(agent_id, address, port, entry, updated_ms) "
               "VALUES (?, '10.7.7.7', 161, CAST(? AS TEXT), ?)",
               (agent_id, entry, int(time.time() * 1000)))
    db.commit()
    db.close()
    hub.start()
    try:
        status, _, data = hub.request("GET", "/v1/agents/old/devices")
        assert status == 200
        (dev,) = strict_json(data)
        assert dev["sys_descr"] == "\ufffdTorrent \ufffd"
        assert "invalid UTF-8" in hub.log()
    finally:
        hub.stop()


def test_an_error_quoting_cut_text_still_reaches_the_hub(site, device):
    """The agent's refusal quotes the network cut to 64 bytes, mid-character:
    it must still be valid UTF-8, or the hub would refuse the whole batch.
    (The hub queues it: a network's syntax is the agent's to judge.)"""
    hub = site["hub"]
    cid = hub.queue("site-1", {"type": "scan", "args": {"networks": ["1" + "é" * 40]}})["id"]
    st = wait_for("refusal",
                  lambda: (lambda s: s if s["status"] in ("done", "failed") else None)(
                      hub_get(hub, f"/v1/commands/{cid}?wait=5")), timeout=30)
    assert st["result"]["status"] == "refused", st
    assert "bad target '1é" in st["result"]["error"], st
