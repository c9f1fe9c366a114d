"""A scripted stand-in for the hub's agent API (docs/protocol.md), for
fault injection in the transport's integration tests.

    hub = FakeHub()                      # bound to 127.0.0.1, free port
    hub.start()                          # or start later: refused until then
    hub.script_poll(Reply(status=503, headers={"Retry-After": "1"}))
    hub.script_upload(Reply(reset=True, store=True))
    ... run the agent against hub.url ...
    hub.stop()                           # port refused, connections cut
    hub.start()                          # back, same port
    hub.close()

Each request takes the next scripted Reply for its route, or the default
behaviour when the script is empty:

    poll   GET  /v1/agent/commands  pending commands at once, else held for
                                    min(wait, max_hold) and answered empty;
                                    the cursor counts responses
    upload POST /v1/agent/results   gunzipped, stored by batch_id (idempotent
                                    like the real hub), 413 above max_json

Every request is recorded (hub.requests, hub.uploads(), hub.polls()) with
its arrival time, and uploads with the decoded batch.
"""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import struct
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

POLL_PATH = "/v1/agent/commands"
UPLOAD_PATH = "/v1/agent/results"


@dataclass
class Reply:
    """One scripted answer. Without a body, a poll gets a valid empty
    batch and an upload {"stored": ...}."""
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes | str | dict | None = None
    delay: float = 0.0          # seconds before answering
    hang: bool = False          # never answer (until the hub stops)
    reset: bool = False         # send headers and half the body, then RST
    chunked: bool = False       # no Content-Length: chunked encoding
    gzip: bool = False          # Content-Encoding: gzip
    store: bool = False         # upload: store the batch anyway (then fail)
    close: bool = False         # Connection: close

    # ---- bodies that break the protocol's limits ----
    @staticmethod
    def invalid_json(cmd_id: str = "badjson") -> "Reply":
        return Reply(body=b'{"cursor": "x", "commands": [{"id": "%s", "type": "agent.info"}'
                     % cmd_id.encode())

    @staticmethod
    def oversized(cmd_id: str, size: int = 5 << 20, chunked: bool = False) -> "Reply":
        """A valid poll body over 4 MiB carrying one command."""
        return Reply(body=_padded_poll(cmd_id, size), chunked=chunked)

    @staticmethod
    def zip_bomb(cmd_id: str, size: int = 24 << 20) -> "Reply":
        """A small gzip body that inflates past 16 MiB."""
        return Reply(body=_padded_poll(cmd_id, size), gzip=True)


def _padded_poll(cmd_id: str, size: int) -> bytes:
    head = b'{"cursor": "big", "commands": [{"id": "%s", "type": "agent.info"}], "pad": "' \
        % cmd_id.encode()
    tail = b'"}'
    return head + b"a" * max(0, size - len(head) - len(tail)) + tail


def http_date(t: float) -> str:
    return formatdate(t, usegmt=True)


@dataclass
class Request:
    t: float                    # time.monotonic() at arrival
    method: str
    path: str
    query: dict
    headers: dict
    raw: bytes = b""
    batch: dict | None = None   # uploads: the decoded batch
    target: str = ""            # the request line's target, as sent
    answered: int = 0           # status sent (0: none: hang, reset)
    stored: bool = False        # uploads: newly stored by this request

    @property
    def batch_id(self):
        return None if self.batch is None else self.batch.get("batch_id")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, hub, addr):
        self.hub = hub
        super().__init__(addr, _Handler, bind_and_activate=False)

    def handle_error(self, request, client_address):
        # An agent that hangs up on a response over a limit is the point
        # of many tests, not an error of the fake hub.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.server.hub._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.hub._track(self.connection, False)

    def do_GET(self):
        self.server.hub._handle(self)

    def do_POST(self):
        self.server.hub._handle(self)


class FakeHub:
    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 max_hold: float = 1.0, max_json: int = 64 << 20,
                 tls: tuple[str, str] | None = None, client_ca: str | None = None):
        self.host = host
        self.tls = tls                 # (certfile, keyfile): serve HTTPS
        self.client_ca = client_ca     # require client certificates from it
        self.max_hold = max_hold
        self.max_json = max_json       # decoded upload size; larger: 413
        self.lock = threading.Condition()
        self.requests: list[Request] = []
        self.stored: dict[int, dict] = {}
        self.commands: deque = deque()  # pending for the next poll
        self.cursor = 0
        self._poll_script: deque = deque()
        self._upload_script: deque = deque()
        self._conns: set = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # Reserve the port now: connections are refused until start().
        self._server = _Server(self, (host, port))
        self._server.server_bind()
        self.port = self._server.server_address[1]

    # ---- control ----
    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def start(self) -> None:
        if self._thread is not None:
            return
        if self._server is None:
            self._server = _Server(self, (self.host, self.port))
            self._server.server_bind()
        self._stopping = threading.Event()
        self._server.server_activate()
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            if self.client_ca:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(self.client_ca)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Refuse connections and cut the open ones (the hub is down)."""
        self._stopping.set()
        with self.lock:
            self.lock.notify_all()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        if self._server is not None:
            self._server.server_close()
            self._server = None
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self.stop()

    def script_poll(self, *replies: Reply) -> None:
        with self.lock:
            self._poll_script.extend(replies)

    def script_upload(self, *replies: Reply) -> None:
        with self.lock:
            self._upload_script.extend(replies)

    def queue_command(self, cmd: dict) -> None:
        with self.lock:
            self.commands.append(cmd)
            self.lock.notify_all()

    # ---- what happened ----
    def polls(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == POLL_PATH]

    def uploads(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == UPLOAD_PATH]

    def stored_ids(self) -> list[int]:
        with self.lock:
            return sorted(self.stored)

    def stored_samples(self) -> list[int]:
        """Every sample's seq over the stored batches (with repeats, if any)."""
        with self.lock:
            return [s.get("seq") for b in self.stored.values() for s in b.get("samples", [])]

    def stored_results(self) -> list[str]:
        with self.lock:
            return [r.get("command_id") for b in self.stored.values()
                    for r in b.get("results", [])]

    def wait_for(self, pred, timeout: float = 20.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.02)
        return pred()

    # ---- serving ----
    def _track(self, conn, add: bool) -> None:
        with self.lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _handle(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length > 0 else b""
        req = Request(time.monotonic(), h.command, parts.path,
                      {k: v[-1] for k, v in parse_qs(parts.query).items()},
                      {k.lower(): v for k, v in h.headers.items()}, raw, target=h.path)
        with self.lock:
            self.requests.append(req)
            script = (self._poll_script if req.path == POLL_PATH else
                      self._upload_script if req.path == UPLOAD_PATH else None)
            reply = script.popleft() if script else None
        if req.path == POLL_PATH and h.command == "GET":
            self._poll(h, req, reply)
        elif req.path == UPLOAD_PATH and h.command == "POST":
            self._upload(h, req, reply)
        else:
            self._send(h, req, Reply(status=404, body={"error": "not found"}))

    def _poll(self, h, req: Request, reply: Reply | None) -> None:
        if reply is not None and (reply.body is not None or reply.status != 200
                                  or reply.hang or reply.reset):
            self._send(h, req, reply)
            return
        try:
            wait = min(float(req.query.get("wait", "0")), self.max_hold)
        except ValueError:
            wait = 0.0
        end = time.monotonic() + wait
        with self.lock:
            while not self.commands and not self._stopping.is_set():
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)
            cmds = list(self.commands)
            self.commands.clear()
            self.cursor += 1
            body = {"cursor": str(self.cursor), "commands": cmds}
        out = reply or Reply()
        out.body = body
        self._send(h, req, out)

    def _upload(self, h, req: Request, reply: Reply | None) -> None:
        batch = None
        try:
            data = zlib.decompress(req.raw, 16 + zlib.MAX_WBITS) \
                if req.headers.get("content-encoding") == "gzip" else req.raw
            if len(data) > self.max_json:
                reply = reply or Reply(status=413, body={"error": "too large"})
            batch = json.loads(data)
            req.batch = batch
        except (zlib.error, ValueError) as e:
            reply = reply or Reply(status=400, body={"error": f"bad batch: {e}"})
        store = reply is None or reply.store
        stored = False
        bid = batch.get("batch_id") if isinstance(batch, dict) else None
        if store and bid is not None:
            with self.lock:
                if bid not in self.stored:
                    self.stored[bid] = batch
                    stored = req.stored = True
        if reply is None:
            reply = Reply(body={"batch_id": bid, "stored": stored})
        self._send(h, req, reply)

    def _send(self, h, req: Request, r: Reply) -> None:
        if r.delay:
            self._stopping.wait(r.delay)
        if r.hang:
            self._stopping.wait(300)
            h.close_connection = True
            return
        body = r.body
        if body is None:
            body = {"cursor": "0", "commands": []} if req.path == POLL_PATH else {}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        if r.gzip:
            body = gzip.compress(body, 1)
        try:
            h.send_response(r.status)
            h.send_header("Content-Type", "application/json")
            if r.gzip:
                h.send_header("Content-Encoding", "gzip")
            for k, v in r.headers.items():
                h.send_header(k, v)
            if r.close:
                h.send_header("Connection", "close")
                h.close_connection = True
            if r.chunked:
                h.send_header("Transfer-Encoding", "chunked")
            else:
                h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            req.answered = r.status
            if r.reset:
                h.wfile.write(body[: len(body) // 2])
                h.wfile.flush()
                # SO_LINGER 0: close() sends RST, not FIN.
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                h.connection.close()
                h.close_connection = True
                req.answered = 0
                return
            if r.chunked:
                step = 64 << 10
                for i in range(0, len(body), step):
                    piece = body[i:i + step]
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                h.wfile.write(b"0\r\n\r\n")
            else:
                h.wfile.write(body)
        except OSError:
            # The agent gave up first (a limit, a timeout): expected.
            h.close_connection = True
