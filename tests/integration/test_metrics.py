"""GET /metrics (docs/metrics.md): the Prometheus text format, checked by
`promtool check metrics`, and scraped by a real Prometheus (Debian's
`prometheus`, started here on loopback with a temporary storage dir) while
an agent polls a device of the farm; a PromQL rate() over an interface
counter must give the traffic the farm's device produces.

The farm's switches move ifHCInOctets of port p at 12,500 * (p % 10 + 1)
bytes/s, 0 on every 7th port (down) (tests/farm/README.md): the rate is
known without reading the device.
"""

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

from agent_fixture import AgentProcess
from farm_fixture import Farm, farm_block
from hub_fixture import SANITIZER_MARKERS, HubProcess, hub_binary

IF_HC_IN = ".1.3.6.1.2.1.31.1.1.1.6"
IF_NAME = ".1.3.6.1.2.1.31.1.1.1.1"


def promtool_check(text: bytes):
    if not shutil.which("promtool"):
        pytest.fail("promtool missing: run `make deps` (Debian package prometheus)",
                    pytrace=False)
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, timeout=30)
    return p.returncode, (p.stdout + p.stderr).decode()


def series(text: str, name: str) -> dict:
    """{label text: (value, timestamp or None)} of one family."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, _, rest = line.rpartition("}") if "{" in line else ("", "", line[len(name):])
            parts = rest.split()
            out[head[len(name) + 1:] if head else ""] = (
                parts[0], parts[1] if len(parts) > 1 else None)
    return out


@pytest.fixture
def hub(tmp_path):
    h = HubProcess(hub_binary(), str(tmp_path / "hub")).start()
    yield h
    h.stop_checked()


def test_metrics_pass_promtool_with_exact_counters_and_escaped_labels(hub):
    agent = hub.add_agent("site-1")
    viewer = hub.cli("add-token", "prom", "--role", "viewer").stdout.strip()
    ts = int(time.time() * 1000)
    hostile = 'Gi0/1 "uplink"\\ \n<img src=x>'
    hub.post_batch(agent, {
        "batch_id": 1, "agent_version": "0.1.0", "dropped_samples": 2,
        "counters": {"polls": 7, "spool_bytes": 1024},
        "samples": [
            {"device": "10.0.0.1:161", "ts": ts, "profile": "interfaces",
             "no_data": False, "scalars": {},
             "tables": {"interfaces": {
                 "columns": [IF_HC_IN, IF_NAME, ".1.3.6.1.2.1.2.2.1.8",
                             ".1.3.6.1.2.1.31.1.1.1.15"],
                 "rows": {"1": [18446744073709551615, hostile, 1, 1000],
                          "2": [5, {"type": "Hex-STRING", "value": "41 00"}, 2, None]},
                 "truncated": False}}},
            {"device": "10.0.0.1:161", "ts": ts, "profile": "system", "no_data": False,
             "scalars": {".1.3.6.1.2.1.1.3.0": 12345}, "tables": {}}]})
    status, headers, body = hub.request("GET", "/metrics", token=viewer)
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    rc, out = promtool_check(body)
    assert rc == 0, out
    text = body.decode()
    got = series(text, "outpost_if_hc_in_octets_total")
    dev = 'agent="site-1",device="10.0.0.1:161"'
    # 2^64-1 digit for digit; the poll's time as the sample's timestamp
    assert got[f'{dev},if_index="1"'] == ("18446744073709551615", str(ts))
    assert got[f'{dev},if_index="2"'] == ("5", str(ts))
    assert "# TYPE outpost_if_hc_in_octets_total counter" in text
    assert series(text, "outpost_if_high_speed_bytes_per_second")[
        f'{dev},if_index="1"'][0] == "125000000"
    info = series(text, "outpost_if_info")
    assert (f'{dev},if_index="1",if_name="Gi0/1 \\"uplink\\"\\\\ \\n<img src=x>",'
            'if_descr="",if_alias=""') in info
    assert series(text, "outpost_device_uptime_seconds")[dev][0] == "123.45"
    assert series(text, "outpost_agent_polls_total") == {'agent="site-1"': ("7", None)}
    assert series(text, "outpost_agent_spool_bytes") == {'agent="site-1"': ("1024", None)}
    assert series(text, "outpost_agent_last_batch_dropped_samples") == {
        'agent="site-1"': ("2", None)}
    assert series(text, "outpost_hub_ingest_batches_total") == {"": ("1", None)}
    assert series(text, "outpost_hub_agents") == {"": ("1", None)}
    # No token, an agent's token: not a viewer.
    assert hub.request("GET", "/metrics", token=None)[0] == 401
    assert hub.request("GET", "/metrics", token=agent)[0] == 401


def test_metrics_count_commands_by_status_and_time_the_store(hub):
    hub.add_agent("site-1")
    for _ in range(3):
        hub.queue("site-1", {"type": "agent.info"})
    status, _, body = hub.request("GET", "/metrics")
    assert status == 200
    rc, out = promtool_check(body)
    assert rc == 0, out
    text = body.decode()
    assert series(text, "outpost_hub_commands") == {'status="queued"': ("3", None)}
    assert series(text, "outpost_hub_commands_queued_total") == {"": ("3", None)}
    count = series(text, "outpost_hub_store_duration_seconds_count")
    assert count['op="command_add"'][0] == "3"
    inf = series(text, "outpost_hub_store_duration_seconds_bucket")
    assert inf['op="command_add",le="+Inf"'][0] == "3"


def test_interface_names_stay_between_label_reads(hub):
    """The agent reads ifName only every label_interval: samples after
    that one have no names, and outpost_if_info must not lose them, on
    any scrape, for every device (more than the hub looks back per scrape)."""
    agent = hub.add_agent("site-1")
    now = int(time.time() * 1000)

    def batch(bid, ts, names):
        cols = [IF_HC_IN] + ([IF_NAME] if names else [])
        hub.post_batch(agent, {"batch_id": bid, "samples": [
            {"device": f"10.0.1.{d}:161", "ts": ts, "profile": "interfaces",
             "no_data": False, "scalars": {}, "tables": {"interfaces": {
                 "columns": cols, "truncated": False,
                 "rows": {"1": [bid] + ([f"port-{d}"] if names else [])}}}}
            for d in range(30)]})

    def names():
        status, _, body = hub.request("GET", "/metrics")
        assert status == 200
        return {k.split('device="')[1].split('"')[0]: k.split('if_name="')[1].split('"')[0]
                for k in series(body.decode(), "outpost_if_info")}

    want = {f"10.0.1.{d}:161": f"port-{d}" for d in range(30)}
    batch(1, now - 2000, True)
    assert names() == want
    batch(2, now - 1000, False)     # newer, without names
    for _ in range(3):
        assert names() == want
    # The counters are the newer sample's.
    status, _, body = hub.request("GET", "/metrics")
    assert set(series(body.decode(), "outpost_if_hc_in_octets_total").values()) == {
        ("2", str(now - 1000))}


# ---- a real Prometheus ----

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, workdir, target_port, token):
        self.dir = workdir
        self.port = free_port()
        tok = os.path.join(workdir, "scrape.token")
        fd = os.open(tok, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        self.conf = os.path.join(workdir, "prometheus.yml")
        with open(self.conf, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: outpost-hub
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: {tok}
    static_configs:
      - targets: ["127.0.0.1:{target_port}"]
""")
        self.log = open(os.path.join(workdir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={self.conf}",
             f"--storage.tsdb.path={os.path.join(workdir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def query(self, q, at=None):
        args = {"query": q}
        if at is not None:
            args["time"] = f"{at:.3f}"
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(args)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def wait(self, what, q, ok, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "prometheus exited:\n" + self.logtext()
            try:
                last = self.query(q)
                if ok(last):
                    return last
            except OSError:
                pass   # not listening yet
            time.sleep(0.5)
        raise AssertionError(f"{what}: {q} -> {last}\n{self.logtext()}")

    def logtext(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def farm_rate(port: int) -> float:
    """ifHCInOctets bytes/s of a farm switch's port (tests/farm/README.md)."""
    return 0.0 if port % 7 == 0 else 12500.0 * (port % 10 + 1)


@pytest.mark.slow
def test_prometheus_rate_of_an_interface_counter_is_the_farm_traffic(outpost):
    if not shutil.which("prometheus"):
        pytest.fail("prometheus missing: run `make deps`", pytrace=False)
    block = farm_block(1)
    addr = str(ipaddress.ip_network(block)[9])   # one address of the block
    farm = Farm(devices=[(f"{addr}/32", "switch8", {})]).start()
    with tempfile.TemporaryDirectory(prefix="outpost-metrics-") as tmp:
        hub = HubProcess(hub_binary(), os.path.join(tmp, "hub"), max_poll_wait="5s").start()
        prom = agent = None
        try:
            token = hub.add_agent("site-1")
            viewer = hub.cli("add-token", "prometheus", "--role", "viewer").stdout.strip()
            agent = AgentProcess(outpost, os.path.join(tmp, "agent"),
                                 f"http://127.0.0.1:{hub.port}", token,
                                 allow=f"{addr}/32", poll_wait="5s", extra={
                                     "scan": {"networks": f"{addr}/32", "port": farm.port,
                                              "credentials": "lab"},
                                     "poll": {"interval": "10s"}})
            agent.start()
            os.makedirs(os.path.join(tmp, "prom"))
            prom = Prometheus(os.path.join(tmp, "prom"), hub.port, viewer)
            prom.wait("the hub scraped with the viewer token", 'up{job="outpost-hub"}',
                      lambda r: r and r[0]["value"][1] == "1", 30)
            sel = f'outpost_if_hc_in_octets_total{{device="{addr}:{farm.port}"}}'
            # three device polls (10 s apart) seen
            prom.wait("three polls of the device", f"count_over_time({sel}[60s])",
                      lambda r: len(r) == 8 and all(float(x["value"][1]) >= 3 for x in r),
                      60)
            # Evaluated at the newest poll, over a window that starts half
            # a poll interval before the third-newest poll: rate() then
            # extrapolates to the whole window (its start is within 1.1
            # intervals), so a linear counter gives its exact rate, however
            # the agent spaced its polls.
            at = float(prom.query(f"max(timestamp({sel}))")[0]["value"][1])
            raw = prom.query(f'{sel[:-1]},if_index="1"}}[90s]', at)
            ts = sorted(float(t) for t, _ in raw[0]["values"])[-3:]
            assert len(ts) == 3, raw
            span = ts[-1] - ts[0]
            window = f"{int((span + span / 4) * 1000)}ms"
            rates = {int(x["metric"]["if_index"]): float(x["value"][1])
                     for x in prom.query(f"rate({sel}[{window}])", at)}
            assert sorted(rates) == list(range(1, 9)), rates
            for port, got in rates.items():
                want = farm_rate(port)
                # The counter is read a few ms after the poll's ts; over
                # >= 20 s between the first and last poll that is far
                # inside 10 %.
                if want == 0:
                    assert got == 0, (port, got)
                else:
                    assert abs(got / want - 1) < 0.10, (port, got, want)
            # The same through the info join a dashboard uses.
            joined = prom.query(f"rate({sel}[{window}]) * on(agent, device, if_index) "
                                "group_left(if_name) outpost_if_info", at)
            assert {x["metric"]["if_name"] for x in joined} == {
                f"Gi1/0/{p}" for p in range(1, 9)}
        finally:
            if prom is not None:
                prom.stop()
            rc = agent.stop() if agent is not None else 0
            hub.stop()
            farm.stop()
        for text in ((agent.log() if agent else ""), hub.log()):
            assert not any(m in text for m in SANITIZER_MARKERS), text
        assert rc == 0
