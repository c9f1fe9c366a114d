"""The transport against a scripted fake hub (fakehub.py): faults on the
wire, and what a user relies on through them: every closed batch is
stored exactly once, no command from a broken poll runs, the agent backs
off instead of spinning, and the spool stays within its bound.

Driven through `outpost transport-selftest -c FILE --batches N --interval
MS --items N --timeout MS` (transport/selftest.c): it adds N batches of
synthetic samples, each sample with a global "seq", answers every command
it receives with a result, and exits 0 once everything was acknowledged,
printing its stats as JSON on the last stdout line.
"""

from __future__ import annotations

import json
import re
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

import relay
from fakehub import FakeHub, Reply, http_date
from outpost_cli import Result, assert_no_crash


# ---------------------------------------------------------------------------
# helpers

def _env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["no_proxy"] = "127.0.0.1,localhost,::1"
    return env


@pytest.fixture(scope="module")
def selftest_cmd(outpost):
    p = subprocess.run([outpost, "transport-selftest", "--help"], capture_output=True,
                       text=True, env=_env(), timeout=10)
    if p.returncode != 0:
        pytest.skip("this outpost has no transport-selftest command "
                    "(agent/ does not wire transport_selftest() yet)")
    return outpost


@pytest.fixture
def hub():
    h = FakeHub()
    h.start()
    yield h
    h.close()


@pytest.fixture
def idle_hub():
    """A hub whose port is reserved but refuses connections until start()."""
    h = FakeHub()
    yield h
    h.close()


class Agent:
    """One `outpost transport-selftest` run against a config in tmp_path."""

    def __init__(self, outpost: str, tmp_path: Path, url: str, **cfg):
        self.outpost = outpost
        self.dir = tmp_path
        self.state = tmp_path / "state"
        self.spool = self.state / "spool"
        self.config = tmp_path / "outpost.ini"
        token = tmp_path / "token"
        token.write_text(cfg.pop("token", "agent-token.1~x") + "\n")
        token.chmod(cfg.pop("token_mode", 0o600))
        server = {"url": url, "token_file": str(token), "poll_wait": "1s",
                  "backoff_base": "100ms", "backoff_cap": "1s"}
        upload = {"batch_max_bytes": "8MB", "batch_max_age": "1h",
                  "spool_max_bytes": "256MB", "spool_max_age": "7d"}
        for k, v in cfg.items():
            (upload if k in upload else server)[k] = v
        text = f"[agent]\nstate_dir = {self.state}\nlog_level = info\n\n[server]\n"
        text += "".join(f"{k} = {v}\n" for k, v in server.items())
        text += "\n[upload]\n" + "".join(f"{k} = {v}\n" for k, v in upload.items())
        self.config.write_text(text)
        self.config.chmod(0o600)
        self.proc = None
        self.t0 = 0.0

    def start(self, batches=3, interval=100, items=10, timeout_ms=30000, env=None):
        self.args = [self.outpost, "transport-selftest", "-c", str(self.config),
                     "--batches", str(batches), "--interval", str(interval),
                     "--items", str(items), "--timeout", str(timeout_ms)]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**_env(), **(env or {})},
                                     errors="replace")
        return self

    def wait(self, timeout=60) -> tuple[Result, dict]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail(f"transport-selftest still running after {timeout}s\n{err[-3000:]}")
        r = Result(self.args, self.proc.returncode, out, err,
                   time.monotonic() - self.t0)
        assert_no_crash(r)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        assert lines, f"no stats line on stdout\n{r}"
        return r, json.loads(lines[-1])

    def refused(self) -> str:
        """Start, expect a refusal within 20 s; its stderr."""
        self.start(batches=1)
        try:
            _, err = self.proc.communicate(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        return err

    def run(self, timeout=60, **kw) -> tuple[Result, dict]:
        return self.start(**kw).wait(timeout)

    def spool_bytes(self) -> int:
        try:
            return sum(p.stat().st_size for p in self.spool.glob("*.batch"))
        except FileNotFoundError:
            return 0

    def quarantined(self) -> list[str]:
        q = self.spool / "quarantine"
        return sorted(p.name for p in q.iterdir()) if q.is_dir() else []


def assert_stored_exactly_once(hub: FakeHub, r: Result, st: dict, items: int):
    seqs = hub.stored_samples()
    assert sorted(seqs) == list(range(1, items + 1)), \
        f"stored samples are not exactly 1..{items} once each\n{r}"
    # ids are never reused for other content: no id was stored twice
    ids = [u.batch_id for u in hub.uploads() if u.stored]
    assert len(ids) == len(set(ids))
    assert st["spool_files"] == 0 and st["spool_bytes"] == 0, r


def gaps_after(hub: FakeHub, status: int) -> list[float]:
    """Seconds from each upload answered `status` to the next upload."""
    ups = hub.uploads()
    return [ups[i + 1].t - ups[i].t for i in range(len(ups) - 1)
            if ups[i].answered == status]


# ---------------------------------------------------------------------------
# the happy path

def test_every_batch_reaches_the_hub_once_gzipped_with_the_token(selftest_cmd, hub, tmp_path):
    a = Agent(selftest_cmd, tmp_path, hub.url)
    r, st = a.run(batches=5, interval=50, items=20)
    assert r.returncode == 0, r
    assert st["acknowledged"] is True
    assert st["batches_sent"] == 5 and st["batches_closed"] == 5, st
    assert st["consecutive_failures"] == 0 and st["last_contact_ms"] > 0
    assert_stored_exactly_once(hub, r, st, 100)
    ids = hub.stored_ids()
    assert [u.batch_id for u in hub.uploads()] == ids, "not sent in batch_id order"
    for u in hub.uploads():
        assert u.headers["authorization"] == "Bearer agent-token.1~x"
        assert u.headers["content-encoding"] == "gzip"
        assert u.headers["content-type"] == "application/json"
        assert u.headers["user-agent"].startswith("outpost/")
        assert u.raw[:2] == b"\x1f\x8b"
        b = u.batch
        assert b["agent_version"] and b["created_ms"] > 0 and b["dropped_samples"] == 0
        assert {"results", "inventory", "samples", "counters"} <= b.keys()
        assert {"hub_polls", "spool_bytes", "batches_quarantined"} <= b["counters"].keys()
    assert hub.uploads()[-1].batch["counters"]["hub_polls"] >= 1
    polls = hub.polls()
    # the first poll asks for an answer at once (contact is known at
    # once), the next ones for poll_wait
    assert polls and polls[0].query["wait"] == "0"
    assert all(p.query["wait"] == "1" for p in polls[1:]), polls
    assert polls[0].headers["authorization"] == "Bearer agent-token.1~x"


def test_runs_of_5xx_are_retried_with_backoff_until_accepted(selftest_cmd, hub, tmp_path):
    hub.script_upload(*[Reply(status=s) for s in (500, 502, 503, 504, 500)])
    hub.script_poll(Reply(status=500), Reply(status=502))
    a = Agent(selftest_cmd, tmp_path, hub.url)
    r, st = a.run(batches=5, interval=300, items=6)
    assert r.returncode == 0, r
    assert_stored_exactly_once(hub, r, st, 30)
    # one retry per failure, no storm: 5 failures + 5 successes
    assert len(hub.uploads()) == 10, [u.answered for u in hub.uploads()]
    # The uploads may all be acknowledged before the poll, scripted to
    # fail twice, has had its first success (slow builds): at most those
    # two are still counted; the reset itself is unit-tested (test_backoff).
    assert st["poll_errors"] >= 2 and st["consecutive_failures"] <= 2, st
    # full jitter within [0, min(cap, base * 2^n)]: the five waits fit in
    # 0.1 + 0.2 + 0.4 + 0.8 + 1.0 s, plus slack for a loaded machine
    fails = [u for u in hub.uploads() if u.answered >= 500]
    assert fails[-1].t - fails[0].t < 2.5 + 2.0


# ---------------------------------------------------------------------------
# Retry-After: clamped to [1 s, backoff_cap] and spread up to half again
# (up to the cap at most); garbage means plain backoff

@pytest.mark.parametrize("status,value,lo,hi", [
    (429, "1", 0.95, 1.9),           # 1-1.5 s
    (503, "DATE+2", 0.95, 2.9),      # an HTTP date two seconds ahead
    (429, "0", 0.95, 1.9),           # the 1 s floor
    (429, "99999999999999999999999", 1.95, 3.0),   # huge: the 2 s cap
    (503, "soon", 0.0, 0.9),         # garbage: backoff, base 100 ms
    (429, "-3", 0.0, 0.9),           # negative: garbage
])
def test_retry_after_is_honoured_and_clamped(selftest_cmd, hub, tmp_path, status, value, lo, hi):
    if value == "DATE+2":
        value = http_date(time.time() + 2)
    hub.script_upload(Reply(status=status, headers={"Retry-After": value}))
    a = Agent(selftest_cmd, tmp_path, hub.url, backoff_cap="2s")
    r, st = a.run(batches=1, interval=50, items=5)
    assert r.returncode == 0, r
    gaps = gaps_after(hub, status)
    assert len(gaps) == 1, [u.answered for u in hub.uploads()]
    assert lo <= gaps[0] <= hi, f"waited {gaps[0]:.2f}s after Retry-After {value!r}"
    assert_stored_exactly_once(hub, r, st, 5)


def test_retry_after_on_a_poll_delays_the_next_poll(selftest_cmd, hub, tmp_path):
    hub.script_poll(Reply(status=503, headers={"Retry-After": "1"}))
    a = Agent(selftest_cmd, tmp_path, hub.url)
    r, st = a.run(batches=6, interval=300, items=1)
    assert r.returncode == 0, r
    polls = hub.polls()
    assert len(polls) >= 2 and polls[0].answered == 503
    assert polls[1].t - polls[0].t >= 0.95
    assert st["poll_errors"] >= 1


def test_401_is_logged_loudly_and_retried_at_the_cap(selftest_cmd, hub, tmp_path):
    hub.script_upload(Reply(status=401), Reply(status=403))
    a = Agent(selftest_cmd, tmp_path, hub.url, backoff_cap="1s")
    r, st = a.run(batches=1, interval=50, items=5)
    assert r.returncode == 0, r
    gaps = gaps_after(hub, 401) + gaps_after(hub, 403)
    assert len(gaps) == 2 and all(0.95 <= g <= 2.0 for g in gaps), gaps
    assert "token" in r.stderr and "401" in r.stderr, r
    # throttled: the 403 right after did not add a second line
    assert r.stderr.count("refuses this agent's token") == 1, r
    assert_stored_exactly_once(hub, r, st, 5)


# ---------------------------------------------------------------------------
# broken connections

@pytest.mark.slow
def test_a_hanging_poll_times_out_and_is_retried_while_uploads_go_on(selftest_cmd, hub, tmp_path):
    hub.script_poll(Reply(hang=True))
    a = Agent(selftest_cmd, tmp_path, hub.url)
    # runs ~19 s: the client timeout is wait + 15 s (the first poll asks
    # wait=0)
    r, st = a.run(batches=20, interval=1000, items=2, timeout=60)
    assert r.returncode == 0, r
    polls = hub.polls()
    assert len(polls) >= 2, r
    gap = polls[1].t - polls[0].t
    assert 14.5 <= gap <= 17.5, f"second poll {gap:.1f}s after the hung one"
    assert st["poll_errors"] >= 1
    # uploads did not wait for the poll
    during = [u for u in hub.uploads() if polls[0].t < u.t < polls[1].t and u.stored]
    assert len(during) >= 10
    assert_stored_exactly_once(hub, r, st, 40)


def test_a_reset_mid_body_is_retried_and_stored_once(selftest_cmd, hub, tmp_path):
    hub.script_poll(Reply(reset=True))
    # the hub stores the batch but the answer is lost: the agent must send
    # it again under the same id, and the hub's idempotency keeps one copy
    hub.script_upload(Reply(reset=True, store=True), Reply(reset=True))
    a = Agent(selftest_cmd, tmp_path, hub.url)
    r, st = a.run(batches=3, interval=50, items=10)
    assert r.returncode == 0, r
    ups = hub.uploads()
    assert ups[0].batch_id == ups[1].batch_id == ups[2].batch_id
    assert [u.answered for u in ups[:3]] == [0, 0, 200]
    assert ups[2].stored is False   # already stored by the first attempt
    assert st["poll_errors"] >= 1
    assert_stored_exactly_once(hub, r, st, 30)


# ---------------------------------------------------------------------------
# poll responses that break the protocol: nothing in them runs

def _deep(cmd_id: str, depth: int = 40) -> bytes:
    return (b'{"cursor": "d", "commands": [{"id": "%s", "type": "agent.info", "x": %s%s}]}'
            % (cmd_id.encode(), b"[" * depth, b"]" * depth))


def test_bad_poll_responses_are_refused_whole_and_retried(selftest_cmd, hub, tmp_path):
    many = {"cursor": "m", "commands": [{"id": f"many{i}", "type": "agent.info"}
                                        for i in range(1001)]}
    huge = {"cursor": "h", "commands": [{"id": "huge1", "type": "agent.info",
                                         "pad": "x" * (65 << 10)}]}
    bad = {
        "badjson": Reply.invalid_json("badjson"),
        "big1": Reply.oversized("big1"),
        "bigc1": Reply.oversized("bigc1", chunked=True),
        "bomb1": Reply.zip_bomb("bomb1"),
        "deep1": Reply(body=_deep("deep1")),
        "many0": Reply(body=many),
        "huge1": Reply(body=huge),
        "hdr1": Reply(body={"cursor": "x", "commands": [{"id": "hdr1", "type": "t"}]},
                      headers={"X-Big": "a" * (17 << 10)}),
        "hdrs1": Reply(body={"cursor": "x", "commands": [{"id": "hdrs1", "type": "t"}]},
                       headers={f"X-Pad-{i}": "b" * (15 << 10) for i in range(5)}),
    }
    hub.script_poll(*bad.values())
    hub.queue_command({"id": "good1", "type": "agent.info"})
    a = Agent(selftest_cmd, tmp_path, hub.url)
    a.start(batches=60, interval=200, items=1, timeout_ms=40000)
    assert hub.wait_for(lambda: "good1" in hub.stored_results(), 30), \
        [p.answered for p in hub.polls()]
    r, st = a.wait(60)
    assert r.returncode == 0, r
    ran = set(hub.stored_results())
    assert ran == {"good1"}, f"commands from refused polls ran: {ran - {'good1'}}"
    assert st["poll_errors"] == len(bad), st
    assert st["commands_received"] == 1
    # logged once (throttled), not once per refused response
    assert r.stderr.count("transport: poll of") == 1, r
    # refused responses were not acked: no poll carries their cursors
    acks = {p.query.get("ack") for p in hub.polls()}
    assert not acks & {"x", "big", "d", "m", "h"}


def test_duplicate_commands_run_once_and_cursors_are_acked(selftest_cmd, hub, tmp_path):
    c1 = {"id": "c1", "type": "agent.info"}
    c2 = {"id": "c2", "type": "agent.info"}
    hub.script_poll(Reply(body={"cursor": "a1", "commands": [c1]}),
                    Reply(body={"cursor": "a2", "commands": [c1, c2]}),
                    Reply(body={"cursor": "a3", "commands": [c2], "next_poll_ms": 300}))
    a = Agent(selftest_cmd, tmp_path, hub.url)
    r, st = a.run(batches=10, interval=300, items=1)
    assert r.returncode == 0, r
    assert sorted(hub.stored_results()) == ["c1", "c2"]
    assert st["commands_received"] == 2 and st["duplicate_commands"] == 2, st
    polls = hub.polls()
    assert [p.query.get("ack") for p in polls[:4]] == [None, "a1", "a2", "a3"]
    assert polls[3].t - polls[2].t >= 0.29   # next_poll_ms honoured


# ---------------------------------------------------------------------------
# the hub away: spool, bounds, restart

def test_the_hub_down_for_a_while_loses_nothing(selftest_cmd, hub, tmp_path):
    a = Agent(selftest_cmd, tmp_path, hub.url, spool_max_bytes="1MB",
              batch_max_bytes="256KB")
    a.start(batches=30, interval=100, items=20, timeout_ms=40000)
    assert hub.wait_for(lambda: len(hub.stored_ids()) >= 5, 20)
    hub.stop()   # connections cut, port refused
    peak = 0
    t_end = time.monotonic() + 2.0
    while time.monotonic() < t_end:
        peak = max(peak, a.spool_bytes())
        time.sleep(0.05)
    assert peak > 0, "nothing spooled while the hub was down"
    hub.start()
    r, st = a.wait(60)
    assert r.returncode == 0, r
    assert st["batches_closed"] == 30
    assert len(hub.stored_ids()) == 30
    assert st["dropped_samples"] == 0
    assert_stored_exactly_once(hub, r, st, 600)
    assert peak <= 1 << 20


def test_a_full_spool_drops_the_oldest_and_reports_the_count(selftest_cmd, idle_hub, tmp_path):
    hub = idle_hub   # refuses connections until started
    a = Agent(selftest_cmd, tmp_path, hub.url, spool_max_bytes="1MB",
              batch_max_bytes="256KB")
    a.start(batches=30, interval=50, items=800, timeout_ms=40000)
    peak, biggest = 0, 0
    t_end = time.monotonic() + 30 * 0.05 + 1.5
    while time.monotonic() < t_end:
        peak = max(peak, a.spool_bytes())
        for p in a.spool.glob("*.batch"):
            try:
                biggest = max(biggest, p.stat().st_size)
            except FileNotFoundError:
                pass
        time.sleep(0.02)
    hub.start()
    r, st = a.wait(60)
    assert r.returncode == 0, r
    # within the bound, give or take the one batch being sent
    assert peak <= (1 << 20) + biggest, (peak, biggest)
    total = st["items_added"]
    assert total == 30 * 800
    stored = hub.stored_samples()
    assert len(stored) == len(set(stored)), "a sample stored twice"
    dropped = st["dropped_samples"]
    assert dropped > 0, "the test did not fill the spool"
    assert len(stored) + dropped == total
    # the oldest went: what arrived is the newest run of samples
    assert min(stored) > 1 and max(stored) == total
    reported = sum(b.get("dropped_samples", 0) for b in hub.stored.values())
    assert reported == dropped, "dropped_samples not reported to the hub"
    assert "dropped" in r.stderr


def test_a_restart_sends_the_old_spool_first_in_id_order(selftest_cmd, idle_hub, tmp_path):
    hub = idle_hub
    a = Agent(selftest_cmd, tmp_path, hub.url)
    r, st = a.run(batches=3, interval=50, items=5, timeout_ms=1500)
    assert r.returncode == 1, r
    assert st["acknowledged"] is False and st["spool_files"] == 3, st
    old = sorted(int(p.name.split(".")[0]) for p in a.spool.glob("*.batch"))
    hub.start()
    r, st = a.run(batches=1, interval=50, items=5)
    assert r.returncode == 0, r
    sent = [u.batch_id for u in hub.uploads() if u.stored]
    assert sent[:3] == old, "the old spool was not sent first, in order"
    assert len(sent) == 4 and sent[3] > old[-1], "batch ids did not continue"
    # each run numbers its samples from 1
    assert sorted(hub.stored_samples()) == sorted([*range(1, 16), *range(1, 6)])
    assert st["spool_files"] == 0


def test_files_damaged_by_a_crash_are_quarantined_not_fatal(selftest_cmd, hub, tmp_path):
    a = Agent(selftest_cmd, tmp_path, hub.url)
    a.spool.mkdir(parents=True, mode=0o700)
    (a.spool / "00000000000000000007.batch").write_bytes(b"OPSPOOL\0" + b"\0" * 10)
    (a.spool / "00000000000000000008.batch").write_bytes(b"garbage" * 100)
    (a.spool / "00000000000000000009.batch.tmp").write_bytes(b"half a batch")
    (a.spool / "notes.txt").write_text("not ours")
    r, st = a.run(batches=2, interval=50, items=5)
    assert r.returncode == 0, r
    assert st["spool_corrupt"] == 3, st
    assert a.quarantined() == ["00000000000000000007.batch", "00000000000000000008.batch"]
    assert not (a.spool / "00000000000000000009.batch.tmp").exists()
    assert (a.spool / "notes.txt").exists()
    assert_stored_exactly_once(hub, r, st, 10)


# ---------------------------------------------------------------------------
# the hub says no

def test_413_splits_the_batch_until_the_hub_takes_it(selftest_cmd, hub, tmp_path):
    hub.max_json = 2500   # decoded bytes; a 20-sample batch is ~6 KB
    a = Agent(selftest_cmd, tmp_path, hub.url)
    r, st = a.run(batches=2, interval=50, items=20)
    assert r.returncode == 0, r
    assert any(u.answered == 413 for u in hub.uploads())
    assert st["batches_sent"] > 2 and st["batches_quarantined"] == 0, st
    assert_stored_exactly_once(hub, r, st, 40)
    rejected = {u.batch_id for u in hub.uploads() if u.answered == 413}
    assert not rejected & set(hub.stored_ids()), "a split reused its parent's id"


def test_a_single_item_too_large_for_the_hub_is_quarantined(selftest_cmd, hub, tmp_path):
    hub.max_json = 400    # smaller than any one sample's batch
    a = Agent(selftest_cmd, tmp_path, hub.url)
    r, st = a.run(batches=1, interval=50, items=2)
    assert r.returncode == 0, r
    assert st["batches_quarantined"] == 2, st
    assert len(a.quarantined()) == 2
    assert hub.stored_ids() == []


def test_other_4xx_quarantines_the_batch_and_the_rest_moves_on(selftest_cmd, hub, tmp_path):
    hub.script_upload(Reply(status=400, body={"error": "bad batch"}))
    a = Agent(selftest_cmd, tmp_path, hub.url)
    r, st = a.run(batches=3, interval=50, items=10)
    assert r.returncode == 0, r
    first = hub.uploads()[0].batch_id
    assert st["batches_quarantined"] == 1, st
    assert a.quarantined() == [f"{first:020d}.batch"]
    assert len(hub.stored_ids()) == 2 and first not in hub.stored_ids()
    assert sorted(hub.stored_samples()) == list(range(11, 31))


# ---------------------------------------------------------------------------
# proxies: [server] proxy, else the environment

def test_a_proxy_with_a_plain_http_url_is_refused_before_any_request(selftest_cmd, hub, tmp_path):
    # The proxy would read the bearer token: refused at load, naming it.
    a = Agent(selftest_cmd, tmp_path, "http://127.0.0.1:9", proxy=hub.url)
    err = a.refused()
    assert a.proc.returncode == 1, err
    assert "proxy" in err and "clear text" in err and "outpost.ini:" in err, err
    assert "agent-token" not in err
    assert hub.requests == []


def test_a_proxy_from_the_environment_is_not_used_for_plain_http(selftest_cmd, hub, tmp_path):
    proxy = FakeHub()
    try:
        a = Agent(selftest_cmd, tmp_path, hub.url)
        env = {"http_proxy": proxy.url, "HTTP_PROXY": proxy.url,
               "all_proxy": proxy.url, "no_proxy": ""}
        r, st = a.start(batches=2, interval=50, items=5, env=env).wait()
        assert r.returncode == 0, r
        assert proxy.requests == [], "the proxy saw a request with the token"
        assert_stored_exactly_once(hub, r, st, 10)
    finally:
        proxy.close()


# ---------------------------------------------------------------------------
# configuration the transport refuses

def test_a_token_file_others_can_read_is_refused_with_the_fix(selftest_cmd, hub, tmp_path):
    a = Agent(selftest_cmd, tmp_path, hub.url, token_mode=0o644)
    err = a.refused()
    assert a.proc.returncode == 1
    assert "chmod 600" in err and str(tmp_path / "token") in err
    assert "agent-token" not in err   # the secret is never echoed
    assert hub.requests == []


# ---------------------------------------------------------------------------
# TLS: verification is always on; ca_file and pinned_pubkey

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True,
                   timeout=30)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A CA; from it a hub certificate for IP 127.0.0.1 only, and an agent's."""
    import shutil
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=outpost test CA", cwd=d)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "hub.key", "-out", "hub.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName = IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "hub.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "hub.pem", "-days", "2", "-extfile", "ext.cnf",
             cwd=d)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "agent.key", "-out", "agent.csr", "-subj", "/CN=site-1", cwd=d)
    _openssl("x509", "-req", "-in", "agent.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "agent.pem", "-days", "2", cwd=d)
    (d / "agent.key").chmod(0o600)
    pub = subprocess.run(["openssl", "x509", "-in", d / "hub.pem", "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True).stdout
    import base64
    import hashlib
    pin = "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()
    return {"ca": str(d / "ca.pem"), "cert": str(d / "hub.pem"),
            "key": str(d / "hub.key"), "pin": pin,
            "agent_cert": str(d / "agent.pem"), "agent_key": str(d / "agent.key")}


@pytest.fixture
def tls_hub(tls_files):
    h = FakeHub(tls=(tls_files["cert"], tls_files["key"]))
    h.start()
    yield h
    h.close()


def test_https_with_the_hubs_ca_and_the_right_pin_works(selftest_cmd, tls_hub, tls_files,
                                                        tmp_path):
    a = Agent(selftest_cmd, tmp_path, tls_hub.url, ca_file=tls_files["ca"],
              pinned_pubkey=tls_files["pin"])
    r, st = a.run(batches=2, interval=50, items=5)
    assert r.returncode == 0, r
    assert_stored_exactly_once(tls_hub, r, st, 10)


@pytest.mark.parametrize("case", ["unknown CA", "wrong pin", "wrong host name"])
def test_https_that_fails_verification_sends_nothing(selftest_cmd, tls_hub, tls_files,
                                                     tmp_path, case):
    url, extra = tls_hub.url, {"ca_file": tls_files["ca"]}
    if case == "unknown CA":
        extra = {}
    elif case == "wrong pin":
        extra["pinned_pubkey"] = "sha256//" + "A" * 43 + "="
    else:
        url = url.replace("127.0.0.1", "localhost")   # not in the certificate
    a = Agent(selftest_cmd, tmp_path, url, **extra)
    r, st = a.run(batches=1, interval=50, items=5, timeout_ms=1500)
    assert r.returncode == 1, r
    assert st["batches_sent"] == 0 and st["spool_files"] == 1, st
    assert st["poll_errors"] >= 1
    assert tls_hub.requests == [], "a request got through an unverified connection"
    assert "failed" in r.stderr, r


@pytest.mark.parametrize("with_cert", [True, False])
def test_mutual_tls_sends_the_client_certificate(selftest_cmd, tls_files, tmp_path,
                                                  with_cert):
    hub = FakeHub(tls=(tls_files["cert"], tls_files["key"]), client_ca=tls_files["ca"])
    hub.start()
    try:
        extra = {"client_cert": tls_files["agent_cert"],
                 "client_key": tls_files["agent_key"]} if with_cert else {}
        a = Agent(selftest_cmd, tmp_path, hub.url, ca_file=tls_files["ca"], **extra)
        r, st = a.run(batches=1, interval=50, items=5, timeout_ms=1500)
    finally:
        hub.close()
    if with_cert:
        assert r.returncode == 0, r
        assert_stored_exactly_once(hub, r, st, 5)
    else:
        assert r.returncode == 1, r
        assert hub.requests == [] and st["batches_sent"] == 0


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_http2_multiplexes_the_poll_and_uploads(selftest_cmd, tls_files,
                                                             tmp_path):
    import shutil
    import socket
    if shutil.which("nghttpd") is None:
        pytest.skip("nghttpd (Debian nghttp2-server) is not installed")
    www = tmp_path / "www" / "v1" / "agent"
    www.mkdir(parents=True)
    (www / "commands").write_text('{"cursor": "1", "commands": []}')
    (www / "results").write_text('{"stored": true}')
    port = _free_port()
    log = open(tmp_path / "nghttpd.log", "w")
    srv = subprocess.Popen(["nghttpd", "-v", "-d", str(tmp_path / "www"), str(port),
                            tls_files["key"], tls_files["cert"]],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        a = Agent(selftest_cmd, tmp_path, f"https://127.0.0.1:{port}",
                  ca_file=tls_files["ca"])
        r, st = a.run(batches=3, interval=200, items=5)
    finally:
        srv.terminate()
        srv.wait(10)
        log.close()
    assert r.returncode == 0, r
    assert st["batches_sent"] == 3
    text = (tmp_path / "nghttpd.log").read_text()
    posts = text.count(":path: /v1/agent/results")
    assert posts == 3 and ":path: /v1/agent/commands?wait=0" in text
    # Uploads multiplex over a connection younger than half a poll wait;
    # every poll has a connection of its own, closed after it, so no
    # connection outlives one poll wait (docs/protocol.md, "Rules for
    # agents").
    conns: dict[str, list] = {}
    for cid, path in re.findall(r"^\[id=(\d+)\].*:path: (\S+)", text, re.M):
        conns.setdefault(cid, []).append(path.split("?")[0])
    polls = [c for c in conns.values() if "/v1/agent/commands" in c]
    uploads = [c for c in conns.values() if "/v1/agent/results" in c]
    assert all(c == ["/v1/agent/commands"] for c in polls), conns
    assert len(uploads) < 3, f"uploads never shared a connection: {conns}"


# ---------------------------------------------------------------------------
# connections end (docs/protocol.md, "Rules for agents"): behind a balancer
# in TCP mode an agent must reach another node within about a poll wait

class TcpProxy:
    """A TCP relay that logs each connection: its first bytes, when it
    opened and when it closed."""

    def __init__(self, upstream_port: int):
        import socket
        self.upstream = upstream_port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.conns: list[dict] = []
        self.lock = threading.Lock()
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            rec = {"opened": time.monotonic(), "closed": None, "first": b""}
            with self.lock:
                self.conns.append(rec)
            u = socket.create_connection(("127.0.0.1", self.upstream))
            left = [2]

            def pump(src, dst, first, rec=rec, left=left):
                def note(data):
                    if first and not rec["first"]:
                        rec["first"] = data[:64]
                relay.pump(src, dst, note)
                # the connection ends when either side ends it
                with self.lock:
                    left[0] -= 1
                    if rec["closed"] is None:
                        rec["closed"] = time.monotonic()
                    if left[0] == 0:
                        src.close()
                        dst.close()

            threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
            threading.Thread(target=pump, args=(u, c, False), daemon=True).start()

    def close(self):
        self.stopping = True
        self.lsock.close()


@pytest.mark.slow
def test_connections_last_about_one_poll_wait_and_uploads_go_on(selftest_cmd, tmp_path):
    hub = FakeHub(max_hold=5.0)    # holds each poll its full wait (2 s)
    hub.start()
    proxy = TcpProxy(hub.port)
    try:
        a = Agent(selftest_cmd, tmp_path, f"http://127.0.0.1:{proxy.port}",
                  poll_wait="2s", backoff_cap="2s")
        r, st = a.run(batches=15, interval=1000, items=3, timeout=60)
        assert r.returncode == 0, r
        assert_stored_exactly_once(hub, r, st, 45)
        # the run took ~15 s: each poll on a connection of its own
        with proxy.lock:
            conns = [dict(c) for c in proxy.conns]
        end = time.monotonic()
        life = [((c["closed"] or end) - c["opened"], c["first"][:24]) for c in conns]
        polls = [t for t, first in life if first.startswith(b"GET /v1/agent/commands")]
        assert len(polls) >= 5, life
        # a held poll is at most 2 s: its connection never outlives it much
        assert max(polls) < 2.2 + 1.5, life
        # upload connections: reused for at most half a poll wait, idle
        # ones closed at the next transfer; generous slack for the machine
        assert max(t for t, _ in life) < 3 * 2.0 + 2.0, life
    finally:
        proxy.close()
        hub.close()


# ---------------------------------------------------------------------------
# failure dynamics (docs/protocol.md, "Rules for agents"): a broken poll is
# retried within [0, R], R = min(poll_wait, backoff_cap), whatever
# backoff_base says, and within [R/2, R] after a failed poll, however many
# failed before

def test_a_broken_poll_is_retried_within_one_poll_wait(selftest_cmd, tmp_path):
    hub = FakeHub(max_hold=2.0)
    hub.script_poll(Reply(), *[Reply(reset=True) for _ in range(8)])
    hub.start()
    try:
        a = Agent(selftest_cmd, tmp_path, hub.url, poll_wait="2s",
                  backoff_base="100ms", backoff_cap="20s")
        # 24 s of running: 1 poll held 2 s, then 8 failed ones 1-2 s apart
        # (about 14 s) and room for a loaded machine
        r, st = a.run(batches=24, interval=1000, items=1, timeout=90)
        assert r.returncode == 0, r
        polls = hub.polls()
        assert len(polls) >= 10, [(p.t, p.answered) for p in polls]
        gaps = [polls[i + 1].t - polls[i].t for i in range(1, 9)]
        # each retry within the 2 s window (plus slack for a loaded
        # machine), however many failures came before it
        assert all(g <= 2.0 + 1.0 for g in gaps), gaps
        # the first retry anywhere in [0, 2 s]; every retry of a failed
        # retry at least half the window (1 s) later
        assert all(g >= 0.95 for g in gaps[1:]), gaps
        assert st["poll_errors"] >= 8
    finally:
        hub.close()


@pytest.mark.slow
def test_after_a_long_outage_polls_are_back_within_one_poll_wait(selftest_cmd, tmp_path):
    hub = FakeHub(max_hold=2.0)
    hub.start()
    try:
        a = Agent(selftest_cmd, tmp_path, hub.url, poll_wait="2s",
                  backoff_base="100ms", backoff_cap="20s")
        a.start(batches=24, interval=1000, items=1, timeout_ms=60000)
        assert hub.wait_for(lambda: len(hub.polls()) >= 2, 20)
        hub.stop()
        time.sleep(10)    # with doubling from 100 ms: retries 6-25 s apart by now
        back = time.monotonic()
        hub.start()
        assert hub.wait_for(lambda: any(p.t >= back for p in hub.polls()), 20)
        first = min(p.t for p in hub.polls() if p.t >= back)
        r, st = a.wait(60)
        assert r.returncode == 0, r
        # the cap: min(poll_wait, backoff_cap) = 2 s, plus slack
        assert first - back <= 2.0 + 1.5, f"first poll {first - back:.1f}s after the return"
    finally:
        hub.close()


def test_new_connections_resume_the_tls_session(selftest_cmd, tls_files, tmp_path):
    # Every poll opens a connection: where the server keeps tickets (here
    # Python's OpenSSL server, TLS 1.3), all but the first resume the
    # session instead of a full handshake.
    hub = FakeHub(tls=(tls_files["cert"], tls_files["key"]), max_hold=2.0)
    reused: list[bool] = []
    track = hub._track

    def spy(conn, add):
        if add:
            reused.append(conn.session_reused)
        track(conn, add)

    hub._track = spy
    hub.start()
    try:
        a = Agent(selftest_cmd, tmp_path, hub.url, ca_file=tls_files["ca"],
                  poll_wait="2s")
        r, st = a.run(batches=8, interval=1000, items=1, timeout=60)
        assert r.returncode == 0, r
    finally:
        hub.close()
    print(f"connections {len(reused)}, full handshakes {reused.count(False)}")
    assert len(reused) >= 4, reused
    # the first connection, and at most the upload racing it, are full
    assert reused.count(False) <= 2, reused


def test_a_proxy_carries_https_as_a_tunnel_and_never_sees_the_token(selftest_cmd, tls_files,
                                                                     tmp_path):
    # [server] proxy with an https:// url: CONNECT, then TLS end to end.
    import socket
    hub = FakeHub(tls=(tls_files["cert"], tls_files["key"]))
    hub.start()
    seen = bytearray()
    connects = []
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)

    def pump(src, dst):
        relay.pump(src, dst, seen.extend)

    def serve():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = c.recv(4096)
                if not chunk:
                    break
                head += chunk
            seen.extend(head)
            line = head.split(b"\r\n", 1)[0].decode(errors="replace")
            connects.append(line)
            host, port = line.split()[1].rsplit(":", 1)
            u = socket.create_connection((host, int(port)))
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pump, args=(c, u), daemon=True).start()
            threading.Thread(target=pump, args=(u, c), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        a = Agent(selftest_cmd, tmp_path, hub.url, ca_file=tls_files["ca"],
                  proxy=f"http://127.0.0.1:{lsock.getsockname()[1]}")
        r, st = a.run(batches=2, interval=50, items=5)
        assert r.returncode == 0, r
        assert_stored_exactly_once(hub, r, st, 10)
    finally:
        lsock.close()
        hub.close()
    assert connects and all(c.startswith(f"CONNECT 127.0.0.1:{hub.port} ") for c in connects)
    assert b"agent-token" not in bytes(seen)
