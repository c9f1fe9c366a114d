#!/usr/bin/python3
"""make bench: bytes on the wire per poll sample, from real agent output.

`outpost run` discovers 200 devices, polls the built-in `interfaces`
profile every 10 s and uploads its batches to a small recording hub in
this file (127.0.0.1, free port, plain HTTP/1.1):

  GET  /v1/agent/commands  held min(wait, 1 s), then 200 an empty batch
  POST /v1/agent/results   the request's bytes are kept exactly as read
                           from the socket (request line, headers, blank
                           line, gzip body), then gunzipped, parsed and
                           answered 200 {"batch_id": N, "stored": true}

[upload] batch_max_bytes 1MB, batch_max_age 5s. The agent runs until every
device has been polled at least once and at least BENCH_TRANSPORT_SECONDS
(default 25 s) have passed, then gets SIGTERM (its own PID only). This is
done twice, against two sets of 200 devices:

  switches    simulated access switches on 127.0.89.1-200 port 1161 (one
              Python process, SimSwitches below): 12, 24 or 48 ports
              each, names and aliases, a third of the ports down, 64-bit
              counters of their own that grow between polls. Every device
              differs, as on a real network: the figure for the target.
  snmpd       the poll benchmark's snmpd farm (127.0.88.1-200 port 1161,
              poll_bench.NET/PORT/DEVICES). Every one of them reports the
              4 interfaces of this machine (lo, eth0, two idle ifb), the
              same counters on all 200 within a few bytes, so gzip finds
              most of a batch twice: a lower bound, not a realistic batch.

A "value" (poll sample) is one non-null value in the rows of an
`interfaces` sample: one counter, gauge, status or label read from a
device. Label columns (ifDescr, ifName, ifAlias) are only read every
[poll] label_interval, so the first poll of each device carries them.

  batch       all POST requests that carried interfaces samples: request
              line + headers + gzip body, as received (inventory and agent
              counters sharing those batches are included); / values.
              Also the gzip body alone.
  peer        the same values, each as its own message: the compact JSON
              {"device","ts","oid","instance","value"} gzip'd (level 9,
              no name, the protocol requires gzip), sent with the header
              block the agent used (its Content-Length set to that body).

Bytes are HTTP request bytes (agent to hub); responses and TCP/IP headers
are not counted, nor are the command polls. Only 127.0.0.0/8 is used.

    run(farm, env, outpost) -> [(name, ours, peer, theirs, unit, fmt), ...]
    python3 bench/transport_bench.py [OUTPOST]     # prints the rows
"""

import bisect
import gzip
import ipaddress
import json
import os
import random
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from snmpd_fixture import SnmpdFarm, client_env  # noqa: E402
import poll_bench  # noqa: E402  (the snmpd farm's addresses)

RUN_S = float(os.environ.get("BENCH_TRANSPORT_SECONDS", "25"))
MAX_RUN_S = 90          # give up waiting for every device after this
HOLD_S = 1.0            # how long the recording hub holds a command poll
TARGET = 10             # bytes per value, from the issue
PROFILE = "interfaces"
SIM_NET = os.environ.get("BENCH_TRANSPORT_NET", "127.0.89.0/24")
SIM_PORT = 1161
SIM_DEVICES = poll_bench.DEVICES
SIM_MAX_RESPONSE = 8192  # a GETBULK answer keeps whole repetitions under this


# ------------------------------------------------------------------ BER

def _len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag, body):
    return bytes([tag]) + _len(len(body)) + body


def _uint(tag, n):
    """INTEGER (non-negative), Counter32/64, Gauge32, TimeTicks."""
    return _tlv(tag, n.to_bytes((n.bit_length() + 8) // 8, "big"))


def _oid_body(arcs):
    out = bytearray([arcs[0] * 40 + arcs[1]])
    for a in arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def _parse(buf, i):
    """(tag, content, next index) of the TLV at buf[i]."""
    tag, n = buf[i], buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    if i + n > len(buf):
        raise ValueError("truncated")
    return tag, buf[i:i + n], i + n


def _items(buf):
    i, out = 0, []
    while i < len(buf):
        tag, body, i = _parse(buf, i)
        out.append((tag, body))
    return out


def _parse_oid(body):
    arcs = list(divmod(body[0], 40)) if body[0] < 80 else [2, body[0] - 80]
    a = 0
    for b in body[1:]:
        a = (a << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(a)
            a = 0
    return tuple(arcs)


INTEGER, OCTETS, OID, COUNTER32, GAUGE32, TICKS, COUNTER64 = \
    0x02, 0x04, 0x06, 0x41, 0x42, 0x43, 0x46
NO_SUCH_OBJECT, END_OF_MIB = 0x80, 0x82
GET, GETNEXT, RESPONSE, GETBULK = 0xA0, 0xA1, 0xA2, 0xA5


# ----------------------------------------------------- simulated switches

def _oid(dotted):
    return tuple(int(a) for a in dotted.split("."))


IF = _oid("1.3.6.1.2.1.2.2.1")         # ifEntry
IFX = _oid("1.3.6.1.2.1.31.1.1.1")     # ifXEntry


class _Device:
    """One switch: a sorted MIB of (OID, value) where a value is fixed
    bytes or a function of the time (counters grow, uptime ticks)."""

    def __init__(self, index, rng, t0):
        self.oids, self.vals = [], {}
        nports = rng.choice((12, 24, 24, 48))
        up_s = rng.randrange(86400, 400 * 86400)
        sys_entries = [
            ("1.3.6.1.2.1.1.1.0", OCTETS,
             f"Simulated access switch, {nports} ports, software 15.2({rng.randrange(1, 9)})E".encode()),
            ("1.3.6.1.2.1.1.2.0", OID, _oid_body(_oid("1.3.6.1.4.1.8072.3.2.10"))),
            ("1.3.6.1.2.1.1.3.0", TICKS, lambda t: int((up_s + t - t0) * 100) % (1 << 32)),
            ("1.3.6.1.2.1.1.4.0", OCTETS, b"noc@example.invalid"),
            ("1.3.6.1.2.1.1.5.0", OCTETS, f"sw-{index:03d}".encode()),
            ("1.3.6.1.2.1.1.6.0", OCTETS, f"building {index // 20 + 1}, floor {index % 5}".encode()),
            ("1.3.6.1.2.1.1.7.0", INTEGER, 6),
        ]
        for o, tag, v in sys_entries:
            self._add(_oid(o), tag, v)
        ports = list(range(1, nports + 1)) + [nports + 1, nports + 2]   # 2 uplinks
        for p in ports:
            uplink = p > nports
            ifindex = 10100 + p if not uplink else 10200 + p - nports
            name = (f"Gi1/0/{p}" if not uplink else f"Te1/1/{p - nports}")
            descr = (f"GigabitEthernet1/0/{p}" if not uplink
                     else f"TenGigabitEthernet1/1/{p - nports}")
            alias = (f"uplink to core-{p - nports}" if uplink else
                     rng.choice(("", "", "", f"desk {rng.randrange(1, 9)}-{rng.randrange(1, 60)}",
                                 "printer", "ap-" + str(rng.randrange(1, 40)), "camera")))
            up = uplink or rng.random() < 0.65
            admin = 1 if up or rng.random() < 0.8 else 2
            used = up or rng.random() < 0.5
            speed_m = 10000 if uplink else (1000 if up or rng.random() < 0.7 else 100)
            # Bytes per second over the device's uptime, then growing at a
            # rate of the same order while we poll.
            in_rate = rng.lognormvariate(10 if not uplink else 15, 2) if used else 0.0
            out_rate = rng.lognormvariate(11 if not uplink else 15, 2) if used else 0.0
            in_rate, out_rate = (min(r, speed_m * 125000 * 0.5) for r in (in_rate, out_rate))
            in_pkt, out_pkt = rng.uniform(200, 1200), rng.uniform(200, 1200)
            disc = rng.random() < 0.15
            errs = rng.random() < 0.05
            base = dict(
                in_o=int(in_rate * up_s), out_o=int(out_rate * up_s),
                in_p=int(in_rate * up_s / in_pkt), out_p=int(out_rate * up_s / out_pkt),
                in_d=rng.randrange(1, 50000) if disc else 0,
                out_d=rng.randrange(1, 500000) if disc else 0,
                in_e=rng.randrange(1, 2000) if errs else 0)
            rates = dict(in_o=in_rate if up else 0, out_o=out_rate if up else 0,
                         in_p=in_rate / in_pkt if up else 0, out_p=out_rate / out_pkt if up else 0,
                         in_d=0.01 if disc and up else 0, out_d=0.2 if disc and up else 0,
                         in_e=0.001 if errs and up else 0)

            def grow(key, bits, base=base, rates=rates):
                return lambda t: int(base[key] + rates[key] * (t - t0)) % (1 << bits)

            mac = bytes([0x00, 0x1B, 0x54, index & 0xFF, p >> 8, p & 0xFF])
            last_change = rng.randrange(0, up_s * 100) % (1 << 32)
            cols = [
                (IF + (1,), INTEGER, ifindex), (IF + (2,), OCTETS, descr.encode()),
                (IF + (3,), INTEGER, 6), (IF + (4,), INTEGER, 1500 if not uplink else 9198),
                (IF + (5,), GAUGE32, min(speed_m * 1000000, 4294967295)),
                (IF + (6,), OCTETS, mac), (IF + (7,), INTEGER, admin),
                (IF + (8,), INTEGER, 1 if up else 2), (IF + (9,), TICKS, last_change),
                (IF + (10,), COUNTER32, grow("in_o", 32)),
                (IF + (11,), COUNTER32, grow("in_p", 32)),
                (IF + (13,), COUNTER32, grow("in_d", 32)),
                (IF + (14,), COUNTER32, grow("in_e", 32)),
                (IF + (16,), COUNTER32, grow("out_o", 32)),
                (IF + (17,), COUNTER32, grow("out_p", 32)),
                (IF + (19,), COUNTER32, grow("out_d", 32)),
                (IF + (20,), COUNTER32, lambda t: 0),
                (IFX + (1,), OCTETS, name.encode()),
                (IFX + (6,), COUNTER64, grow("in_o", 64)),
                (IFX + (7,), COUNTER64, grow("in_p", 64)),
                (IFX + (10,), COUNTER64, grow("out_o", 64)),
                (IFX + (11,), COUNTER64, grow("out_p", 64)),
                (IFX + (15,), GAUGE32, speed_m),
                (IFX + (18,), OCTETS, alias.encode()),
            ]
            for col, tag, v in cols:
                self._add(col + (ifindex,), tag, v)
        self.oids.sort()

    def _add(self, oid, tag, value):
        self.oids.append(oid)
        self.vals[oid] = (tag, value)

    def value(self, oid, t):
        tag, v = self.vals[oid]
        if callable(v):
            v = v(t)
        return _uint(tag, v) if isinstance(v, int) else _tlv(tag, v)

    def next(self, oid):
        i = bisect.bisect_right(self.oids, oid)
        return self.oids[i] if i < len(self.oids) else None


def _varbind(oid, value):
    return _tlv(0x30, _tlv(OID, _oid_body(oid)) + value)


class SimSwitches:
    """SNMPv2c (community public) GET, GETNEXT and GETBULK for n simulated
    switches, one UDP socket each, served by one thread."""

    def __init__(self, addrs, port, seed=1):
        rng = random.Random(seed)
        t0 = time.time()
        self.devs = {}
        self.socks = []
        self.sel = selectors.DefaultSelector()
        self.stopping = threading.Event()
        self.requests = 0
        try:
            for i, a in enumerate(addrs):
                ipaddress.ip_address(a) in ipaddress.ip_network("127.0.0.0/8") or \
                    sys.exit(f"transport_bench: {a} is not loopback")
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.socks.append(s)
                s.bind((a, port))
                s.setblocking(False)
                self.sel.register(s, selectors.EVENT_READ, _Device(i + 1, rng, t0))
        except BaseException:
            self.close()
            raise
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def close(self):
        self.stopping.set()
        if getattr(self, "thread", None) is not None and self.thread.is_alive():
            self.thread.join(5)
        for s in self.socks:
            s.close()
        self.sel.close()

    def _serve(self):
        while not self.stopping.is_set():
            for key, _ in self.sel.select(0.2):
                while True:
                    try:
                        data, src = key.fileobj.recvfrom(65535)
                    except (BlockingIOError, ConnectionError):
                        break
                    try:
                        reply = self._answer(key.data, data)
                    except (ValueError, IndexError):
                        reply = None
                    if reply:
                        self.requests += 1
                        try:
                            key.fileobj.sendto(reply, src)
                        except OSError:
                            pass

    def _answer(self, dev, data):
        tag, msg, _ = _parse(data, 0)
        if tag != 0x30:
            return None
        (_, ver), (_, community), (ptype, pdu) = _items(msg)[:3]
        if int.from_bytes(ver, "big") != 1 or community != b"public" or \
                ptype not in (GET, GETNEXT, GETBULK):
            return None
        (_, reqid), (_, a), (_, b), (_, vbl) = _items(pdu)[:4]
        names = [_parse_oid(_items(vb)[0][1]) for _, vb in _items(vbl)]
        t = time.time()
        out = []
        if ptype == GET:
            for o in names:
                out.append(_varbind(o, dev.value(o, t) if o in dev.vals
                                    else _tlv(NO_SUCH_OBJECT, b"")))
        elif ptype == GETNEXT:
            for o in names:
                n = dev.next(o)
                out.append(_varbind(n, dev.value(n, t)) if n else _varbind(o, _tlv(END_OF_MIB, b"")))
        else:
            nonrep = max(0, int.from_bytes(a, "big", signed=True))
            maxrep = max(0, int.from_bytes(b, "big", signed=True))
            for o in names[:nonrep]:
                n = dev.next(o)
                out.append(_varbind(n, dev.value(n, t)) if n else _varbind(o, _tlv(END_OF_MIB, b"")))
            cur = names[nonrep:]
            size = sum(map(len, out))
            for _ in range(maxrep if cur else 0):
                rep = []
                for j, o in enumerate(cur):
                    n = dev.next(o)
                    if n is None:
                        rep.append(_varbind(o, _tlv(END_OF_MIB, b"")))
                    else:
                        rep.append(_varbind(n, dev.value(n, t)))
                        cur[j] = n
                rsize = sum(map(len, rep))
                if out and size + rsize > SIM_MAX_RESPONSE:
                    break
                out += rep
                size += rsize
                if all(dev.next(o) is None for o in cur):
                    break
        pdu = _tlv(RESPONSE, _tlv(INTEGER, reqid) + _uint(INTEGER, 0) + _uint(INTEGER, 0)
                   + _tlv(0x30, b"".join(out)))
        return _tlv(0x30, _uint(INTEGER, 1) + _tlv(OCTETS, community) + pdu)


# ------------------------------------------------------------ recording hub

class _Tee:
    """The handler's rfile, keeping every byte the handler consumes: the
    exact request as it came off the socket (readline/read only return
    what the parser asked for, whatever the buffer read ahead)."""

    def __init__(self, f):
        self._f = f
        self.buf = bytearray()

    def readline(self, *a):
        b = self._f.readline(*a)
        self.buf += b
        return b

    def read(self, *a):
        b = self._f.read(*a)
        self.buf += b
        return b

    def __getattr__(self, name):
        return getattr(self._f, name)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "transport-bench"

    def setup(self):
        super().setup()
        self.rfile = _Tee(self.rfile)

    def handle_one_request(self):
        self.rfile.buf.clear()
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True    # the agent went away (SIGTERM)

    def log_message(self, *a):
        pass

    def _reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self):
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            self._reply(401, {"error": "bad token"})
            return False
        return True

    def do_GET(self):
        u = urlsplit(self.path)
        if u.path != "/v1/agent/commands":
            return self._reply(404, {"error": "not found"})
        if not self._authorized():
            return
        try:
            wait = float(parse_qs(u.query).get("wait", ["0"])[0])
        except ValueError:
            wait = 0.0
        self.server.stopping.wait(max(0.0, min(wait, HOLD_S)))
        self._reply(200, {"cursor": "0", "commands": []})

    def do_POST(self):
        if urlsplit(self.path).path != "/v1/agent/results":
            return self._reply(404, {"error": "not found"})
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        raw = bytes(self.rfile.buf)
        if not self._authorized():
            return
        if self.headers.get("Content-Encoding", "").lower() != "gzip":
            return self._reply(400, {"error": "gzip required"})
        try:
            batch = json.loads(gzip.decompress(body))
        except (OSError, EOFError, ValueError) as e:
            return self._reply(400, {"error": f"bad batch: {e}"})
        with self.server.lock:
            self.server.uploads.append(dict(raw=raw, head=raw[:len(raw) - len(body)],
                                            body=body, batch=batch))
        self._reply(200, {"batch_id": batch.get("batch_id"), "stored": True})


class RecordingHub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = secrets.token_urlsafe(32)       # 43 characters
        self.lock = threading.Lock()
        self.uploads = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        if self.thread.is_alive():
            self.shutdown()
        self.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.uploads)


# ------------------------------------------------------------------- agent

def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def agent_config(tmp, hub, networks, port):
    token_file = os.path.join(tmp, "agent.token")
    write_private(token_file, hub.token + "\n")
    ini = os.path.join(tmp, "outpost.ini")
    write_private(ini, f"""\
[agent]
state_dir = {os.path.join(tmp, "state")}
log_level = info
[server]
url = {hub.url}
token_file = {token_file}
poll_wait = 1s
backoff_base = 200ms
backoff_cap = 2s
[upload]
batch_max_bytes = 1MB
batch_max_age = 5s
[scan]
networks = {networks}
port = {port}
interval = 1h
rate = 2000
credentials = public
[poll]
interval = 10s
profiles = {PROFILE}
[credential public]
version = 2c
community = public
""")
    return ini


def sample_devices(uploads):
    return {s["device"] for u in uploads for s in u["batch"].get("samples") or []
            if s.get("profile") == PROFILE}


def stop_agent(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None
    return proc.returncode


def record(outpost, env, hosts, port, label):
    """Run the agent against a recording hub until every host was polled;
    return the hub's uploads."""
    hub = RecordingHub()
    agent = None
    tmp = tempfile.mkdtemp(prefix="transport-bench-")
    logf = open(os.path.join(tmp, "agent.log"), "w+b")
    try:
        hub.start()
        ini = agent_config(tmp, hub, f"{hosts[0]}-{hosts[-1]}", port)
        t0 = time.monotonic()
        agent = subprocess.Popen([outpost, "run", "-c", ini], stdin=subprocess.DEVNULL,
                                 stdout=logf, stderr=subprocess.STDOUT, env=env)
        while True:
            time.sleep(0.5)
            el = time.monotonic() - t0
            if agent.poll() is not None:
                raise SystemExit(f"transport_bench: outpost run exited {agent.returncode}")
            if el >= RUN_S and len(sample_devices(hub.snapshot())) >= len(hosts):
                break
            if el >= MAX_RUN_S:
                print(f"transport_bench: {label}: after {el:.0f} s only "
                      f"{len(sample_devices(hub.snapshot()))} of {len(hosts)} devices "
                      "were polled", file=sys.stderr)
                break
        rc = stop_agent(agent)
        if rc != 0:
            print(f"transport_bench: {label}: outpost run exited {rc} after SIGTERM",
                  file=sys.stderr)
        elapsed = time.monotonic() - t0
        logf.seek(0)
        bad = [ln for ln in logf.read().decode(errors="replace").splitlines()
               if re.search(r"\b(warn|warning|error|fatal)\b", ln, re.I)]
        if bad:
            print(f"transport_bench: {label}: {len(bad)} warnings/errors in the agent "
                  "log, e.g.:\n  " + "\n  ".join(bad[:3]), file=sys.stderr)
    except BaseException:
        logf.seek(0)
        tail = logf.read()[-1500:].decode(errors="replace")
        print(f"transport_bench: {label}: agent log tail:\n{tail}", file=sys.stderr)
        raise
    finally:
        if agent is not None and agent.poll() is None:
            stop_agent(agent)
        hub.stop()
        logf.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return hub.snapshot(), elapsed


# ------------------------------------------------------------------ figures

def one_message(head, device, ts, oid, instance, value):
    """(wire bytes, gzip body bytes, JSON bytes) of one value on its own."""
    msg = json.dumps({"device": device, "ts": ts, "oid": oid, "instance": instance,
                      "value": value}, separators=(",", ":")).encode()
    body = gzip.compress(msg, compresslevel=9, mtime=0)
    hdr = re.sub(rb"(?im)^(content-length:[ \t]*)\d+",
                 lambda m: m[1] + str(len(body)).encode(), head, count=1)
    return len(hdr) + len(body), len(body), len(msg)


def figures(uploads):
    seen, batches = set(), []
    for u in uploads:                     # the agent resends only after a
        bid = u["batch"].get("batch_id")  # failure; a batch id counts once
        if bid in seen:
            continue
        seen.add(bid)
        if any(s.get("profile") == PROFILE for s in u["batch"].get("samples") or []):
            batches.append(u)
    if not batches:
        raise SystemExit("transport_bench: the agent uploaded no interfaces samples")
    f = dict(batches=len(batches), posts=len(uploads), wire=0, body=0, json=0, values=0,
             labels=0, samples=0, one_wire=0, one_body=0, one_plain=0, mixed=0,
             polls={}, head=len(batches[0]["head"]))
    for u in batches:
        b = u["batch"]
        for s in b["samples"]:
            if s.get("profile") != PROFILE:
                continue
            f["samples"] += 1
            f["polls"][s["device"]] = f["polls"].get(s["device"], 0) + 1
            rows = [(inst, t["columns"], vals) for t in s["tables"].values()
                    for inst, vals in t["rows"].items()]
            for inst, cols, vals in rows:
                for oid, v in zip(cols, vals):
                    if v is None:
                        continue
                    f["values"] += 1
                    f["labels"] += isinstance(v, str)
                    w, bd, pl = one_message(u["head"], s["device"], s["ts"], oid, inst, v)
                    f["one_wire"] += w
                    f["one_body"] += bd
                    f["one_plain"] += pl
        f["wire"] += len(u["raw"])
        f["body"] += len(u["body"])
        f["json"] += len(gzip.decompress(u["body"]))
        f["mixed"] += bool(b.get("inventory") or b.get("results"))
    return f


def report(label, f, nhosts, elapsed):
    v = f["values"]
    polls = sorted(f["polls"].values())
    print(f"bench: transport, {label}: {len(polls)}/{nhosts} devices polled "
          f"({polls[0]}-{polls[-1]} polls each), {f['samples']} samples, {v} values "
          f"({f['labels']} label strings), {f['batches']} batches with samples of "
          f"{f['posts']} POSTs ({f['mixed']} with inventory too); {f['wire']} wire bytes "
          f"= {f['wire'] / v:.2f}/value, gzip bodies {f['body']} ({f['body'] / v:.2f}/value) "
          f"of {f['json']} JSON ({f['json'] / v:.1f}/value), header block {f['head']} bytes; "
          f"one message per value: {f['one_wire']} wire bytes, {f['one_body']} gzip, "
          f"{f['one_plain']} plain JSON; agent ran {elapsed:.0f} s", file=sys.stderr)


def run(farm, env, outpost):
    rows = []
    peer = "one message per value"

    # (1) simulated switches: distinct devices, the figure for the target.
    sim_hosts = [str(h) for h in list(ipaddress.ip_network(SIM_NET).hosts())[:SIM_DEVICES]]
    sim = SimSwitches(sim_hosts, SIM_PORT).start()
    try:
        uploads, elapsed = record(outpost, env, sim_hosts, SIM_PORT, "switches")
    finally:
        sim.close()
    f = figures(uploads)
    report(f"{len(sim_hosts)} simulated switches", f, len(sim_hosts), elapsed)
    v, n = f["values"], len(f["polls"])
    name = f"transport: {n} sim. switches (14-50 ifs)"
    rows += [
        (f"{name}: wire bytes/value (target <= {TARGET})", f["wire"] / v, peer,
         f["one_wire"] / v, "bytes", "{:.2f}"),
        (f"{name}: gzip body bytes/value", f["body"] / v, peer, f["one_body"] / v,
         "bytes", "{:.2f}"),
        (f"{name}: {f['batches']} batches, {v} values", f["wire"], peer, f["one_wire"],
         "bytes", "{:.0f}"),
    ]

    # (2) the poll benchmark's snmpd farm, restarted if it was stopped.
    hosts = [str(h) for h in list(ipaddress.ip_network(poll_bench.NET).hosts())
             [:poll_bench.DEVICES]]
    have = {(d.addr, d.port): d for d in farm.devices}
    devs = [have.get((h, poll_bench.PORT)) or farm.device(h, poll_bench.PORT) for h in hosts]
    started = [d for d in devs if not d.running()]
    try:
        if started:
            farm.start(*started, timeout=60)
        uploads, elapsed = record(outpost, env, hosts, poll_bench.PORT, "snmpd")
    finally:
        for d in started:
            d.stop()
    f = figures(uploads)
    report(f"{len(hosts)} snmpd (identical counters)", f, len(hosts), elapsed)
    v, n = f["values"], len(f["polls"])
    rows.append((f"transport: {n} snmpd clones (4 ifs, same counters): wire bytes/value",
                 f["wire"] / v, peer, f["one_wire"] / v, "bytes", "{:.2f}"))
    return rows


def main():
    outpost = (sys.argv[1] if len(sys.argv) > 1 else None) or os.environ.get("OUTPOST") \
        or os.path.join(HERE, "..", "build", "outpost")
    env = client_env()
    with SnmpdFarm(start_timeout=60) as farm:
        rows = run(farm, env, outpost)
    for name, ours, peer, theirs, unit, fmt in rows:
        ratio = ours / theirs if theirs else float("nan")
        print(f"{name:70} {fmt.format(ours):>10}  {peer:22} {fmt.format(theirs):>10} "
              f"{unit:6} {ratio:.2g}")


if __name__ == "__main__":
    main()
