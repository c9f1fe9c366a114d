#!/usr/bin/python3
"""make demo: the whole system on loopback, then everything stopped.

20 real snmpd devices on 127.0.90.0/27 (five answer only SNMPv3), the
reference hub (outpost-hub) and the agent (outpost run). The agent
discovers the devices, polls them and long-polls the hub for commands;
we read the inventory and live samples from the hub's operator API, send
commands through it and print their results, then print the console's
URL and a token (KEEP=1: and keep running until Ctrl-C). Only loopback
is used.
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from agent_fixture import AgentProcess  # noqa: E402
from hub_fixture import HubProcess  # noqa: E402
from snmpd_fixture import SnmpdFarm, client_env  # noqa: E402

BUILD = os.path.join(HERE, "..", "build")
OUTPOST = os.environ.get("OUTPOST") or os.path.join(BUILD, "outpost")
HUB = os.environ.get("OUTPOST_HUB") or os.path.join(BUILD, "outpost-hub")
NET, PORT, NDEV = "127.0.90.0/27", 1161, 20
# make demo KEEP=1: leave it all running for the console until Ctrl-C
KEEP = os.environ.get("KEEP", "") not in ("", "0")


def when(ms):
    """Epoch milliseconds as ISO 8601 UTC and how long ago."""
    t = ms / 1000.0
    ago = max(0.0, time.time() - t)
    return (datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z")
            + f" ({ago:.0f} s ago)")


def readable(obj):
    """A copy of a JSON document with epoch-ms times (ts, *_ms) in words."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if (k == "ts" or k.endswith("_ms")) and isinstance(v, (int, float)) \
                    and v > 1e12:
                out[k[:-3] if k.endswith("_ms") else k] = when(v)
            else:
                out[k] = readable(v)
        return out
    if isinstance(obj, list):
        return [readable(v) for v in obj]
    return obj


def fresh_status(agent, since_ms, timeout=15):
    """Wait until the agent has rewritten status.json (every 5 s) after
    since_ms, so `outpost status` shows what the demo just did."""
    path = os.path.join(agent.state, "status.json")

    def written():
        try:
            with open(path) as f:
                return json.load(f).get("written_ms", 0) >= since_ms
        except (OSError, ValueError):
            return False
    wait_for("a fresh status.json", written, timeout)


def step(text):
    print(f"\n== {text}", flush=True)


def wait_for(what, fn, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.5)
    raise SystemExit(f"demo: timed out waiting for {what}")


def main():
    for b in (OUTPOST, HUB):
        if not os.access(b, os.X_OK):
            raise SystemExit(f"demo: no binary at {b} (run make)")
    with tempfile.TemporaryDirectory(prefix="outpost-demo-") as tmp, \
            SnmpdFarm(start_timeout=30) as farm:
        step(f"starting {NDEV} snmpd devices on {NET} port {PORT}")
        devs = [farm.device(f"127.0.90.{i + 2}", PORT, sys_name=f"sw-{i + 1:02d}",
                            **({"community": None} if i % 4 == 3 else {}))
                for i in range(NDEV)]
        farm.start(*devs)

        step("starting outpost-hub (SQLite store, long polls held without threads)")
        hub = HubProcess(HUB, os.path.join(tmp, "hub"), max_poll_wait="30s",
                         log_level="info").start()
        token = hub.add_agent("site-1")
        print(f"hub on http://127.0.0.1:{hub.port}; agent 'site-1' added")
        # A token for the console with the operator role (outpost-hub
        # add-token): it may look and send commands, not manage the hub.
        operator = hub.cli("add-token", "demo", "--role", "operator").stdout.strip()
        console = (f"console: http://127.0.0.1:{hub.port}/  sign in with the "
                   f"operator token: {operator}")
        print(console)

        step("starting the agent: outpost run -c outpost.ini")
        agent = AgentProcess(OUTPOST, os.path.join(tmp, "agent"),
                             f"http://127.0.0.1:{hub.port}", token, allow="",
                             poll_wait="30s",
                             extra={"scan": {"networks": NET, "port": PORT,
                                             "interval": "1h"},
                                    "poll": {"interval": "10s",
                                             "profiles": "system interfaces"}})
        print(open(agent.ini).read().replace("authpass123", "********")
              .replace("privpass123", "********"))
        agent.start()
        try:
            step("discovered inventory, as the hub has it (GET /v1/agents/site-1/devices)")
            inv = wait_for("the inventory", lambda: (
                lambda d: d if len(d) >= NDEV else None)(
                hub.json("GET", "/v1/agents/site-1/devices")))
            for d in sorted(inv, key=lambda d: tuple(map(int, d["address"].split(".")))):
                print(f"  {d['address']:<13} {d['version']:<3} {d['credential']:<8} "
                      f"{d['sys_name']:<6} {d['sys_descr']}")

            dev = devs[0]
            step(f"live samples of {dev.target} (GET /v1/agents/site-1/samples)")
            samples = wait_for("samples", lambda: [
                s for s in hub.json("GET", f"/v1/agents/site-1/samples?device={dev.target}")
                if s.get("profile") == "interfaces"])
            s = samples[0]
            table = s["tables"].get("interfaces", {"columns": [], "rows": {}})
            cols = table["columns"]
            print(f"  profile {s['profile']}, taken {when(s['ts'])}, "
                  f"columns: {len(cols)}")
            want = {".1.3.6.1.2.1.31.1.1.1.6": "ifHCInOctets",
                    ".1.3.6.1.2.1.31.1.1.1.10": "ifHCOutOctets",
                    ".1.3.6.1.2.1.2.2.1.8": "ifOperStatus"}
            for idx, row in sorted(table["rows"].items(), key=lambda kv: int(kv[0])):
                vals = {name: row[cols.index(o)] for o, name in want.items() if o in cols}
                print(f"  ifIndex {idx}: {vals}")

            step("a command through the operator API: snmp.get of a v3-only device")
            cid = hub.queue("site-1", {"type": "snmp.get", "target": devs[3].target,
                                       "credential": "lab-v3",
                                       "args": {"oids": ["1.3.6.1.2.1.1.5.0",
                                                         "1.3.6.1.2.1.1.1.0"]}})["id"]
            print(json.dumps(readable(hub.json("GET", f"/v1/commands/{cid}?wait=20")),
                             indent=2))

            step("and one the agent's local policy refuses (outside the scan networks)")
            cid = hub.queue("site-1", {"type": "snmp.get", "target": "127.0.55.1",
                                       "credential": "lab-v2c",
                                       "args": {"oids": ["1.3.6.1.2.1.1.5.0"]}})["id"]
            r = hub.json("GET", f"/v1/commands/{cid}?wait=20")
            print(f"  status {r['status']}: {r['result']['status']}: {r['result']['error']}")

            step("outpost status -c outpost.ini")
            fresh_status(agent, int(time.time() * 1000))
            subprocess.run([OUTPOST, "status", "-c", agent.ini], env=client_env())

            step("the operator console (docs/console.md)")
            print(console)
            if KEEP:
                print("running until Ctrl-C (KEEP=1)", flush=True)
                # Ctrl-C (or SIGTERM) ends the wait even when started from
                # a shell that set SIGINT to be ignored (a background job).
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.default_int_handler)
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    print()
            else:
                print("(make demo KEEP=1 keeps everything running for it)")
        finally:
            step("stopping the agent, the hub and the devices")
            agent.stop()
            hub.stop()
    print("demo: done; everything it started has been stopped")


if __name__ == "__main__":
    main()
