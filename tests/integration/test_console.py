"""The operator console in a real headless Chromium (docs/console.md).

A real hub serves the console, a real `outpost run` agent discovers and
polls devices of the farm (three switches and one whose sysDescr is
markup), and the browser signs in and uses every page as a person would.
The screenshots in docs/img/console-*.png are taken here (make screenshots).
"""

import ipaddress
import json
import os
import socket
import subprocess
import tempfile
import time

import pytest

from agent_fixture import AgentProcess
from console_browser import Browser, browser_missing
from farm_fixture import Farm, farm_block
from hub_fixture import SANITIZER_MARKERS, HubProcess, hub_binary
from snmpd_fixture import client_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The screenshots go to $BUILD/screenshots; `make screenshots` runs these
# tests with OUTPOST_SCREENSHOTS=docs/img to refresh the ones in docs/.
SHOTS = os.path.join(ROOT, os.environ.get("OUTPOST_SCREENSHOTS") or
                     os.path.join(os.environ.get("BUILD", "build"), "screenshots"))
os.makedirs(SHOTS, exist_ok=True)
HOSTILE = "<img src=x onerror=alert(1)>"
IFDESCR = "1.3.6.1.2.1.2.2.1.2"

pytestmark = pytest.mark.skipif(browser_missing() is not None,
                                reason=browser_missing() or "")


def hostile_recording(path):
    with open(path, "w") as f:
        f.write("1.3.6.1.2.1.1.1.0|4|" + HOSTILE + "\n"
                "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10\n"
                "1.3.6.1.2.1.1.3.0|67|123456\n"
                "1.3.6.1.2.1.1.5.0|4|hostile\n")


@pytest.fixture(scope="module")
def site(outpost):
    with tempfile.TemporaryDirectory(prefix="outpost-console-") as tmp:
        net = ipaddress.ip_network(farm_block(1))
        base = net.network_address
        switches = [str(base + i) for i in (1, 2, 3)]
        hostile = str(base + 9)
        edge = str(base + 5)      # Counter64 0, 2^32-1, 2^53+1, 2^63, 2^64-1
        rec = os.path.join(tmp, "hostile.snmprec")
        hostile_recording(rec)
        farm = Farm(devices=[(f"{switches[0]}-{switches[-1]}", "switch8", {}),
                             (edge, "edge", {}), (hostile, rec, {})]).start()
        hub = HubProcess(hub_binary(), os.path.join(tmp, "hub"), max_poll_wait="20s").start()
        token = hub.add_agent("site-1")
        # operator tokens with roles (outpost-hub add-token NAME --role ROLE)
        tokens = {role: hub.cli("add-token", name, "--role", role).stdout.strip()
                  for name, role in (("alice", "operator"), ("victor", "viewer"))}
        scan = f"{base}/28"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            trap_port = u.getsockname()[1]
        agent = AgentProcess(outpost, os.path.join(tmp, "agent"),
                             f"http://127.0.0.1:{hub.port}", token, allow=scan,
                             poll_wait="20s",
                             extra={"scan": {"networks": scan, "port": farm.port,
                                             "interval": "1h"},
                                    "poll": {"interval": "10s",
                                             "profiles": "system interfaces"},
                                    "traps": {"listen": f"udp:127.0.0.1:{trap_port}",
                                              "communities": "public"}})
        agent.start()
        browser = Browser()
        try:
            yield {"hub": hub, "agent": agent, "farm": farm, "browser": browser,
                   "url": f"http://127.0.0.1:{hub.port}/", "switches": switches,
                   "hostile": hostile, "edge": edge, "tmp": tmp, "tokens": tokens,
                   "trap_port": trap_port}
        finally:
            browser.close()
            rc = agent.stop()
            hub.stop()
            farm.stop()
        for text in (agent.log(), hub.log()):
            assert not any(m in text for m in SANITIZER_MARKERS), text
        assert rc == 0, agent.log()


def dev_id(site, addr):
    return site["farm"].target(addr)


def inventory(site):
    return site["hub"].json("GET", "/v1/agents/site-1/devices")


def test_serves_the_console_with_a_strict_policy(site):
    hub = site["hub"]
    status, h, body = hub.request("GET", "/", token=None)
    assert status == 200 and b'<div id="app">' in body
    csp = h["content-security-policy"]
    for part in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
                 "frame-ancestors 'none'"):
        assert part in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"
    assert b"<script>" not in body and b"style=" not in body
    # the bundle: gzip as sent when asked for, plain otherwise, cached for good
    js = body.split(b'src="')[1].split(b'"')[0].decode()
    status, h, gz = hub.request("GET", js, token=None, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and h["content-encoding"] == "gzip"
    assert "immutable" in h["cache-control"]
    status, h2, plain = hub.request("GET", js, token=None)
    assert status == 200 and "content-encoding" not in h2
    import gzip as gz_mod
    assert gz_mod.decompress(gz) == plain
    status, h3, plain2 = hub.request("GET", js, token=None,
                                     headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in h3 and plain2 == plain
    status, _, _ = hub.request("GET", js, token=None, headers={"If-None-Match": h["etag"]})
    assert status == 304
    # the API is not the console's: unknown paths stay 404
    assert hub.request("GET", "/assets/nope.js", token=None)[0] == 404


def test_sign_in_and_the_agents_page(site):
    b = site["browser"]
    b.get(site["url"])
    b.wait_css("#token")
    b.css("#token")[0].send_keys(site["tokens"]["operator"])
    b.css("#signin button")[0].click()
    assert b.wait_css("#me")[0].text == "alice (operator)"
    row = b.wait("the agent online", lambda: [r for r in b.css("#agents tbody tr")
                                             if "site-1" in r.text and "online" in r.text])
    assert "0." in row[0].text            # its version, from User-Agent
    # the token is in no URL the page went to
    assert site["tokens"]["operator"] not in b.driver.current_url
    b.screenshot(os.path.join(SHOTS, "console-agents.png"))


def test_inventory_lists_every_device_and_filters(site):
    b = site["browser"]
    want = {dev_id(site, a) for a in site["switches"] + [site["hostile"], site["edge"]]}
    b.wait("the inventory at the hub", lambda: want <= {f"{d['address']}:{d['port']}"
                                                      for d in inventory(site)}, 60)
    b.get(site["url"] + "#/agents/site-1")
    b.wait("every device listed", lambda: want <= {r.get_attribute("data-device")
                                                  for r in b.css("#devices tbody tr")})
    assert len(b.css("#devices tbody tr")) == len(want)
    b.screenshot(os.path.join(SHOTS, "console-devices.png"))
    f = b.css("#filter")[0]
    f.send_keys(site["switches"][1])
    b.wait("one row", lambda: [r.get_attribute("data-device") for r in
                               b.css("#devices tbody tr")] == [dev_id(site, site["switches"][1])])
    f.clear()
    f.send_keys("onerror")
    b.wait("the hostile row", lambda: [r.get_attribute("data-device") for r in
                                       b.css("#devices tbody tr")] == [dev_id(site, site["hostile"])])
    # the markup is shown as its text, and no element came of it
    cell = b.css("#devices tbody tr td.descr")[0]
    assert cell.text == HOSTILE
    assert b.css("#devices img") == []
    # sorting by sysName: "edge-...", "hostile", then the switches' "sw-..."
    f.clear()
    f.send_keys(" ")
    b.css('button[data-sort="sys_name"]')[0].click()
    order = [dev_id(site, a) for a in [site["edge"], site["hostile"]] + site["switches"]]
    b.wait("sorted", lambda: [r.get_attribute("data-device")
                              for r in b.css("#devices tbody tr")] == order)


def test_thousands_of_devices_come_a_page_at_a_time(site):
    """An agent with 5,000 devices (one batch of inventory): the page holds
    one page of rows, and the filter and the pager reach all of them."""
    hub, b = site["hub"], site["browser"]
    token = hub.add_agent("big-site")
    now = int(time.time() * 1000)
    inv = [{"address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "port": 161,
            "version": "2c", "credential": "lab", "sys_name": f"edge-{i:05d}",
            "sys_descr": "synthetic", "sys_object_id": ".1.3.6.1.4.1.8072.3.2.10",
            "sys_uptime": 100, "first_seen_ms": now, "last_seen_ms": now}
           for i in range(5000)]
    hub.post_batch(token, {"batch_id": 1, "agent_version": "0.1.0", "created_ms": now,
                           "results": [], "inventory": inv, "samples": []})
    b.get(site["url"] + "#/agents/big-site")
    b.wait("5000 devices", lambda: b.css("#count")[0].text == "5000 of 5000 devices")
    assert len(b.css("#devices tbody tr")) == 100
    b.css("#filter")[0].send_keys("edge-04321")
    b.wait("one row", lambda: [r.get_attribute("data-device") for r in
                               b.css("#devices tbody tr")] == ["10.0.16.225:161"])


def test_device_page_charts_rates_live(site):
    b, hub = site["browser"], site["hub"]
    dev = dev_id(site, site["switches"][0])
    b.get(site["url"] + f"#/agents/site-1/devices/{dev}")
    b.wait_css("#sysinfo")
    # Samples every 10 s by schedule; poll-now commands add more sooner.
    for _ in range(3):
        cid = hub.queue("site-1", {"type": "poll.now"})["id"]
        hub.json("GET", f"/v1/commands/{cid}?wait=20")
        time.sleep(1.2)
    chart = b.wait("a chart with two rate points", lambda: (lambda c: c if c and int(
        c[0].get_attribute("data-points") or 0) >= 2 else None)(b.css("#chart")), 60)
    assert chart[0].find_elements("css selector", "canvas")
    rows = b.css("#interfaces tbody tr")
    assert len(rows) == 8
    # the rates are bits per second, and a switch port moves traffic
    assert any("bit/s" in c.text for c in b.css("#interfaces td.num"))
    assert b.css('#sysinfo dd[data-key="sysName"]')[0].text.startswith("sw-")
    b.screenshot(os.path.join(SHOTS, "console-device.png"))


def test_hostile_sysdescr_is_text_on_the_device_page(site):
    b = site["browser"]
    b.get(site["url"] + f"#/agents/site-1/devices/{dev_id(site, site['hostile'])}")
    dd = b.wait_css('#sysinfo dd[data-key="sysDescr"]')[0]
    b.wait("the sysDescr", lambda: dd.text == HOSTILE)
    assert b.css("#sysinfo img") == []


def test_a_devices_traps_appear_live_on_its_page_as_text(site):
    # A linkDown trap from the device's own address, with markup in a
    # varbind: the page, already open, shows it without a reload.
    b = site["browser"]
    addr = site["switches"][2]
    b.get(site["url"] + f"#/agents/site-1/devices/{dev_id(site, addr)}")
    b.wait_css("#no-events")
    out = subprocess.run(["snmptrap", "-v", "2c", "-c", "public", f"--clientaddr={addr}",
                          f"127.0.0.1:{site['trap_port']}", "", "1.3.6.1.6.3.1.1.5.3",
                          "1.3.6.1.2.1.2.2.1.1.3", "i", "3",
                          "1.3.6.1.2.1.2.2.1.2.3", "s", HOSTILE],
                         capture_output=True, text=True, env=client_env(), timeout=30)
    assert out.returncode == 0, out.stderr
    row = b.wait("the trap on the device page", lambda: b.css("#events tbody tr"), 60)
    assert "linkDown" in row[0].text and addr in row[0].text, row[0].text
    assert f"= STRING: {HOSTILE}" in row[0].text
    assert b.css("#events img") == []
    assert site["hub"].json("GET", "/v1/agents/site-1/events?device="
                            f"{dev_id(site, addr)}")[0]["trap_oid"] == ".1.3.6.1.6.3.1.1.5.3"


def console_walk(site, outpost, dev, subtree, rows):
    """A walk from the console page of dev: (the table's rows, outpost walk's)."""
    from selenium.webdriver.support.ui import Select
    b = site["browser"]
    b.get(site["url"] + f"#/agents/site-1/devices/{dev}/console")
    b.wait("the credential from the inventory",
           lambda: b.css("#credential")[0].get_attribute("value") == "lab-v2c")
    Select(b.css("#type")[0]).select_by_value("snmp.walk")
    oid = b.wait_css("#oid")[0]
    oid.clear()
    oid.send_keys(subtree)
    b.css("#send")[0].click()
    b.wait("the walk done", lambda: b.css('#result[data-status="done"]'), 40)
    table = b.wait_css("#varbinds tbody tr", rows)
    got = [[td.text for td in tr.find_elements("css selector", "td")] for tr in table]
    out = subprocess.run([outpost, "walk", "--json", "-c", "public", dev, subtree],
                         capture_output=True, text=True, env=client_env(), timeout=30)
    assert out.returncode == 0, out.stderr
    want = [[v["oid"], v["type"], str(v["value"])]
            for v in map(json.loads, out.stdout.splitlines())]
    return got, want


def test_walk_from_the_console_matches_outpost_walk(site, outpost):
    b = site["browser"]
    got, want = console_walk(site, outpost, dev_id(site, site["switches"][1]), IFDESCR, 8)
    assert got == want and len(want) == 8
    # the history, from the hub: who sent it, and how long it took
    row = b.wait("the history row", lambda: [r for r in b.css("#history tbody tr")
                                             if "snmp.walk" in r.text and "done" in r.text])
    assert "alice" in row[0].text and " ms" in row[0].text
    b.screenshot(os.path.join(SHOTS, "console-console.png"))


def test_a_refusal_shows_the_agents_reason(site):
    b = site["browser"]
    from selenium.webdriver.support.ui import Select
    Select(b.css("#type")[0]).select_by_value("snmp.set")
    oid = b.wait_css("#oid")[0]
    oid.clear()
    oid.send_keys("1.3.6.1.2.1.1.6.0")
    b.css("#value")[0].send_keys("lab")
    b.css("#send")[0].click()
    b.wait("refused", lambda: b.css('#result[data-status="failed"]'), 40)
    reason = b.wait_css("#reason")[0].text
    assert "set" in reason.lower()


def test_poll_now_from_the_console(site):
    from selenium.webdriver.support.ui import Select
    b = site["browser"]
    Select(b.css("#type")[0]).select_by_value("poll.now")
    b.css("#send")[0].click()
    b.wait("polled", lambda: b.css('#result[data-status="done"]'), 40)
    rows = [r.text for r in b.wait_css("#samples tbody tr", 2)]
    assert rows[0].startswith("system") and rows[1].startswith("interfaces")
    assert "interfaces: 8" in rows[1]


def test_counter64_values_keep_every_digit(site, outpost):
    """2^53+1 and 2^64-1 as the device has them, not as a double rounds them."""
    got, want = console_walk(site, outpost, dev_id(site, site["edge"]),
                             "1.3.6.1.4.1.8072.9999.9999.1.1", 5)
    assert got == want
    assert [r[2] for r in got] == ["0", "4294967295", "9007199254740993",
                                   "9223372036854775808", "18446744073709551615"]


def test_no_errors_in_the_browser_log(site):
    errs = site["browser"].errors()
    assert errs == [], errs


def test_a_viewer_cannot_send_a_command(site):
    """Refused by the API itself (403), whatever the page does."""
    b, hub = site["browser"], site["hub"]
    viewer = site["tokens"]["viewer"]
    dev = dev_id(site, site["switches"][0])
    cmd = {"type": "snmp.get", "target": dev, "credential": "lab-v2c",
           "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}}
    status, _, body = hub.request("POST", "/v1/agents/site-1/commands", cmd, token=viewer)
    assert status == 403, body
    b.css("#signout")[0].click()
    b.wait_css("#token")[0].send_keys(viewer)
    b.css("#signin button")[0].click()
    assert b.wait_css("#me")[0].text == "victor (viewer)"
    b.get(site["url"] + f"#/agents/site-1/devices/{dev}/console")
    b.wait_css("#send")[0].click()
    err = b.wait_css("p.error")[0].text
    assert "viewer" in err, err
    assert b.css("#result") == []
    # the only error logged is that 403
    errs = b.errors(allow=("/v1/agents/site-1/commands - Failed to load resource: "
                           "the server responded with a status of 403",))
    assert errs == [], errs

