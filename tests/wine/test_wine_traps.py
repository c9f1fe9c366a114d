"""Notifications under Wine (snmp/trap_win.c: Winsock recvfrom on the WSAPoll
loop, the decoder and USM shared with Linux): `outpost.exe traps` receives
v1, v2c and v3 traps and v2c and v3 informs sent by net-snmp's snmptrap and
snmpinform on Linux, acknowledges the informs (snmpinform exits 0 only
then), and prints what the Linux build prints for the same notifications.

tests/integration/test_traps.py's senders and checks are reused: the same
five notifications must come out as the same events.
"""

import json
import os
import select
import socket
import subprocess
import time

from snmpd_fixture import client_env
from test_traps import (AUTH, LINKDOWN, check_each_version, free_udp_port, run,
                        send_each_version)
from wine_fixture import WINE_ENV, winpath

# Differ between two receptions of the same notification (uptime: the
# sender's own, for the ones sent without one).
MOVING = ("id", "received", "port", "uptime")


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag, len(body)]) + body


# A v3 engine-discovery request (RFC 3414 4: reportable, empty engine ID
# and user; what snmp/scan_ber.c sends): the receiver answers it with a
# Report, which tells a test that outpost listens without making an event.
_ID = _tlv(0x02, b"Joke")
DISCOVERY = _tlv(0x30, _tlv(0x02, b"\x03") +
                 _tlv(0x30, _ID + _tlv(0x02, b"\x00\xff\xe3") + _tlv(0x04, b"\x04") +
                      _tlv(0x02, b"\x03")) +
                 _tlv(0x04, _tlv(0x30, bytes.fromhex("0400020100020100040004000400"))) +
                 _tlv(0x30, bytes.fromhex("04000400") +
                      _tlv(0xa0, _ID + bytes.fromhex("0201000201003000"))))


def config(tmp_path, port, state_dir):
    lines = ["[agent]", f"state_dir = {state_dir}",
             "[traps]", f"listen = udp:127.0.0.1:{port}",
             "communities = public trapcomm", "credentials = trapper",
             "[credential trapper]", "version = 3", "user = trapper",
             "level = authPriv", "auth_protocol = SHA-256",
             "auth_password = trapauth123", "priv_protocol = AES",
             "priv_password = trappriv123"]
    p = tmp_path / f"traps-{port}.ini"
    p.write_text("\n".join(lines) + "\n")
    p.chmod(0o600)
    return str(p)


def wait_listening(port, proc, timeout=60):
    """Discovery requests until a Report comes back from 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert proc.poll() is None, proc.communicate()
            s.sendto(DISCOVERY, ("127.0.0.1", port))
            if select.select([s], [], [], 0.3)[0]:
                _data, src = s.recvfrom(4096)
                if src == ("127.0.0.1", port):
                    return
        raise AssertionError(f"nothing answered on 127.0.0.1:{port}")


def receive(cmd, port, count, send, json_out=True):
    """Start a receiver (outpost traps ...), wait until it listens, send
    the notifications, and return its stdout lines."""
    args = [*cmd, "--count", str(count)] + (["--json"] if json_out else [])
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=client_env())
    try:
        wait_listening(port, p)
        send(f"127.0.0.1:{port}")
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err.decode(errors="replace")
    assert b"\r" not in out, out
    return out.decode().splitlines()


def receivers(outpost_exe, outpost, tmp_path):
    """(Wine command and port, Linux command and port), each with its own
    configuration and state directory."""
    wport, lport = free_udp_port(), free_udp_port()
    wstate, lstate = tmp_path / "wstate", tmp_path / "lstate"
    wstate.mkdir()
    lstate.mkdir()
    wine_cmd = ["wine", outpost_exe, "traps", "-c",
                winpath(config(tmp_path, wport, winpath(str(wstate))))]
    linux_cmd = [outpost, "traps", "-c", config(tmp_path, lport, str(lstate))]
    return (wine_cmd, wport, wstate), (linux_cmd, lport, lstate)


def steady(ev: dict) -> dict:
    return {k: v for k, v in ev.items() if k not in MOVING}


def key(ev: dict) -> str:
    return json.dumps(ev["varbinds"], sort_keys=True)


def test_each_version_received_and_informs_acknowledged(outpost_exe, outpost, tmp_path):
    assert os.environ.get("WINEPREFIX") and WINE_ENV["WINEDEBUG"] == "-all"
    (wcmd, wport, wstate), (lcmd, lport, _) = receivers(outpost_exe, outpost, tmp_path)
    got = [json.loads(ln) for ln in receive(wcmd, wport, 5, send_each_version)]
    check_each_version(got)
    want = [json.loads(ln) for ln in receive(lcmd, lport, 5, send_each_version)]
    assert sorted(map(steady, got), key=key) == sorted(map(steady, want), key=key)
    # The v3 engine (ID, boots) is kept in state_dir, written on Windows
    # by platform_replace_file.
    assert (wstate / "snmp_engine").is_file(), os.listdir(wstate)


def send_text_mix(target):
    """A v2c trap with a MAC address (bytes above 0x7f: Hex-STRING on both)
    and text, and a v3 inform."""
    assert run(["snmptrap", "-v", "2c", "-c", "public", target, "777", LINKDOWN,
                "1.3.6.1.2.1.2.2.1.6.2", "x", "52B2E941C7A0",
                "1.3.6.1.2.1.2.2.1.2.2", "s", "eth0 \"uplink\"",
                "1.3.6.1.2.1.2.2.1.1.2", "i", "2"]).returncode == 0
    r = run(["snmpinform", "-v", "3", "-u", "trapper", *AUTH, "-n", "ctx9", "-t", "2",
             "-r", "1", target, "888", "1.3.6.1.6.3.1.1.5.4",
             "1.3.6.1.2.1.1.5.0", "s", "text-inform"])
    assert r.returncode == 0, r.stderr


def test_text_output_equals_linux(outpost_exe, outpost, tmp_path):
    """`outpost traps` without --json: the lines of both builds, but the
    time and the sender's port."""
    (wcmd, wport, _), (lcmd, lport, _) = receivers(outpost_exe, outpost, tmp_path)

    def masked(lines):
        out, block = [], []
        for ln in lines:
            if not ln.startswith("  "):
                block = []
                out.append(block)
                f = ln.split(" ")
                ln = " ".join(["TIME", "TIME", f[2].rsplit(":", 1)[0] + ":PORT", *f[3:]])
            block.append(ln)
        return sorted(out)

    got = masked(receive(wcmd, wport, 2, send_text_mix, json_out=False))
    want = masked(receive(lcmd, lport, 2, send_text_mix, json_out=False))
    assert got == want, (got, want)
    text = "\n".join(ln for block in got for ln in block)
    assert "= Hex-STRING: 52 B2 E9 41 C7 A0" in text, text
    assert 'v3 inform user trapper uptime 888' in text, text


def test_a_port_in_use_is_one_clear_error(outpost_exe, outpost):
    """Another program holds the port: exit 1 as on Linux, one stderr line
    naming the address and why, not a Winsock number alone."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        listen = f"udp:127.0.0.1:{held.getsockname()[1]}"
        r = subprocess.run(["wine", outpost_exe, "traps", "--listen", listen],
                           capture_output=True, stdin=subprocess.DEVNULL,
                           env=client_env(), timeout=60)
        ref = subprocess.run([outpost, "traps", "--listen", listen],
                             capture_output=True, stdin=subprocess.DEVNULL,
                             env=client_env(), timeout=60)
    assert r.returncode == ref.returncode == 1, (r, ref)
    assert r.stdout == b"", r
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"outpost traps: {listen}: "), r
    assert "in use" in lines[0], r


def test_run_delivers_each_version_to_the_hub(outpost_wine, tmp_path):
    """`outpost.exe run` with [traps]: the five notifications reach the
    Linux hub as events, as test_traps.py checks them for the Linux agent."""
    from hub_fixture import HubProcess, hub_binary
    from test_service import kill_left
    from test_traps import CREDS
    from test_wine_run import WineAgent

    hub = HubProcess(hub_binary(), str(tmp_path / "hub"), max_poll_wait="5s").start()
    token = hub.add_agent("wintraps")
    port = free_udp_port()
    agent = WineAgent(outpost_wine, str(tmp_path / "agent"), f"http://127.0.0.1:{hub.port}",
                      token, credentials=CREDS, poll_wait="5s",
                      extra={"upload": {"batch_max_age": "200ms"},
                             "traps": {"listen": f"udp:127.0.0.1:{port}",
                                       "communities": "public trapcomm",
                                       "credentials": "trapper"}})
    rc = None
    try:
        agent.start()
        wait_listening(port, agent.proc)
        send_each_version(f"127.0.0.1:{port}")
        end = time.monotonic() + 30
        while True:
            evs = hub.json("GET", "/v1/agents/wintraps/events?wait=5")
            if len(evs) >= 5 or time.monotonic() > end:
                break
            time.sleep(0.2)
        check_each_version(evs)
    finally:
        rc = agent.stop()
        hub.stop()
        kill_left(agent.proc, hub.proc)
    assert rc == 0, agent.log()
