#!/usr/bin/python3
"""A tiny SNMP v1/v2c responder for scan tests and bench/scan_bench.py.

One UDP socket per answering address (so every other address of the
block has no socket and stays silent inside a namespace that drops ICMP
unreachables), all in one process on one epoll. It answers GETs of
sysDescr.0, sysObjectID.0, sysUpTime.0 and sysName.0 for one community.

Some addresses can be told to misbehave, for tests of a scanner's input
checks (MODE after '=' in the address file):
  ok           a correct answer
  wrong-reqid  the answer carries another request id
  other-src    the answer comes from ANOTHER address (the next one + 1)
  truncated    the answer is cut in the middle
  huge-len     the outer SEQUENCE claims 2^31 bytes
  garbage      random bytes
  bad-community  the answer carries another community
  duplicate    a correct answer, sent twice
  notresponse  a GetRequest (tag 0xa0) sent back instead of a Response

Usage: scan_responder.py --port N --community C --addrs FILE [--ready FILE]
                         [--pad BYTES]
FILE: one "ADDRESS[=MODE]" a line. --ready is written once every socket is
bound. Runs until SIGTERM. Standard library only.
"""

import argparse
import os
import random
import resource
import selectors
import signal
import socket
import sys
import time

SYS = "1.3.6.1.2.1.1."
OIDS = {SYS + "1.0": "descr", SYS + "2.0": "objid", SYS + "3.0": "uptime",
        SYS + "5.0": "name"}
OBJECT_ID = "1.3.6.1.4.1.8072.3.2.10"
START = time.monotonic()


def enc_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + enc_len(len(content)) + content


def enc_int(v, tag=0x02):
    n = 1
    while not -(1 << (8 * n - 1)) <= v < (1 << (8 * n - 1)):
        n += 1
    return tlv(tag, v.to_bytes(n, "big", signed=True))


def enc_uint(v, tag):
    b = v.to_bytes((v.bit_length() + 8) // 8, "big")   # room for a 0 sign bit
    return tlv(tag, b)


def enc_oid(s):
    parts = [int(x) for x in s.strip(".").split(".")]
    out = bytearray([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def dec_tlv(buf, i):
    """(tag, content start, content end) of the TLV at i; ValueError if bad."""
    if i + 2 > len(buf):
        raise ValueError("short")
    tag, n = buf[i], buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or i + k > len(buf):
            raise ValueError("length")
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    if i + n > len(buf):
        raise ValueError("overrun")
    return tag, i, i + n


def dec_oid(b):
    out = [b[0] // 40, b[0] % 40]
    v = 0
    for c in b[1:]:
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            out.append(v)
            v = 0
    return ".".join(map(str, out))


def parse_get(buf):
    """(version, community, reqid, [oid...]) of a v1/v2c GetRequest."""
    tag, s, e = dec_tlv(buf, 0)
    if tag != 0x30:
        raise ValueError("not a sequence")
    tag, vs, ve = dec_tlv(buf, s)
    version = int.from_bytes(buf[vs:ve], "big", signed=True)
    tag, cs, ce = dec_tlv(buf, ve)
    community = bytes(buf[cs:ce])
    tag, ps, pe = dec_tlv(buf, ce)
    if tag != 0xA0:
        raise ValueError("not a GET")
    tag, rs, re_ = dec_tlv(buf, ps)
    reqid = int.from_bytes(buf[rs:re_], "big", signed=True)
    _, _, e1 = dec_tlv(buf, re_)
    _, _, e2 = dec_tlv(buf, e1)
    tag, ls, le = dec_tlv(buf, e2)
    oids, i = [], ls
    while i < le:
        _, bs, be = dec_tlv(buf, i)
        _, os_, oe = dec_tlv(buf, bs)
        oids.append(dec_oid(buf[os_:oe]))
        i = be
    return version, community, reqid, oids


PAD = 0


def value(kind, addr):
    if kind == "descr":
        return tlv(0x04, f"Scan responder {addr}".encode() + b"." * PAD)
    if kind == "objid":
        return enc_oid(OBJECT_ID)
    if kind == "uptime":
        return enc_uint(int((time.monotonic() - START) * 100) & 0xFFFFFFFF, 0x43)
    return tlv(0x04, f"resp-{addr}".encode())


def response(version, community, reqid, oids, addr, tag=0xA2):
    vbs, err, idx = b"", 0, 0
    for n, o in enumerate(oids, 1):
        kind = OIDS.get(o)
        if kind is None:
            if version == 0:
                err, idx = err or 2, idx or n
                val = tlv(0x05, b"")
            else:
                val = tlv(0x80, b"")
        else:
            val = value(kind, addr)
        vbs += tlv(0x30, enc_oid(o) + val)
    pdu = tlv(tag, enc_int(reqid) + enc_int(err) + enc_int(idx) + tlv(0x30, vbs))
    return tlv(0x30, enc_int(version) + tlv(0x04, community) + pdu)


def next_addr(addr, step):
    n = int.from_bytes(socket.inet_aton(addr), "big") + step
    return socket.inet_ntoa(n.to_bytes(4, "big"))


def answer(sock, data, peer, addr, mode, community):
    try:
        version, comm, reqid, oids = parse_get(data)
    except (ValueError, IndexError):
        return
    if comm != community:
        return                       # as snmpd does: silently dropped
    out = response(version, comm, reqid, oids, addr)
    if mode == "wrong-reqid":
        out = response(version, comm, reqid ^ 0x5A5A, oids, addr)
    elif mode == "truncated":
        out = out[: len(out) // 2]
    elif mode == "huge-len":
        out = b"\x30\x84\x7f\xff\xff\xff" + out[2:]
    elif mode == "garbage":
        out = bytes(random.getrandbits(8) for _ in range(60))
    elif mode == "bad-community":
        out = response(version, comm + b"x", reqid, oids, addr)
    elif mode == "notresponse":
        out = response(version, comm, reqid, oids, addr, tag=0xA0)
    elif mode == "other-src":
        # From a neighbour address the test leaves silent.
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            other.bind((next_addr(addr, 1), 0))
            other.sendto(out, peer)
        finally:
            other.close()
        return
    sock.sendto(out, peer)
    if mode == "duplicate":
        sock.sendto(out, peer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=161)
    ap.add_argument("--community", default="public")
    ap.add_argument("--addrs", required=True)
    ap.add_argument("--ready")
    ap.add_argument("--pad", type=int, default=0,
                    help="bytes added to sysDescr (large replies)")
    a = ap.parse_args()
    global PAD
    PAD = a.pad
    entries = []
    with open(a.addrs) as f:
        for line in f:
            line = line.strip()
            if line:
                addr, _, mode = line.partition("=")
                entries.append((addr, mode or "ok"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, len(entries) + 64)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sel = selectors.DefaultSelector()
    for addr, mode in entries:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.bind((addr, a.port))
        sel.register(s, selectors.EVENT_READ, (addr, mode))
    community = a.community.encode()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    if a.ready:
        with open(a.ready + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(a.ready + ".tmp", a.ready)
    while not stop:
        for key, _ in sel.select(0.2):
            addr, mode = key.data
            while True:
                try:
                    data, peer = key.fileobj.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                answer(key.fileobj, data, peer, addr, mode, community)
    return 0


if __name__ == "__main__":
    sys.exit(main())
