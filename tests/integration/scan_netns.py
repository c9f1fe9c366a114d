"""A network namespace where unused addresses are silent, for scan tests
and bench/scan_bench.py.

Inside a fresh namespace all of 127.0.0.0/8 is on `lo`; an address with
no socket would answer with ICMP port-unreachable at once, which a real
network does not do. nftables drops those ICMP messages, so such an
address simply never answers, like a dead host. Needs root (ip netns).
"""

import os
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESPONDER = os.path.join(HERE, "scan_responder.py")


def available():
    """None if namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "needs root (ip netns)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    return None


class Netns:
    def __init__(self, prefix="outpost-scan"):
        self.name = f"{prefix}-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix="outpost-netns-")
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            self.run(["ip", "link", "set", "lo", "up"])
            self.run(["nft", "add table inet scanquiet"])
            self.run(["nft", "add chain inet scanquiet out "
                      "{ type filter hook output priority 0 ; }"])
            self.run(["nft", "add rule inet scanquiet out icmp type "
                      "destination-unreachable drop"])
            self.run(["nft", "add rule inet scanquiet out icmpv6 type "
                      "destination-unreachable drop"])
            self.run(["sysctl", "-q", "-w", "net.ipv4.ip_unprivileged_port_start=0"])
        except BaseException:
            self.close()
            raise

    def cmd(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, argv, **kw):
        kw.setdefault("check", True)
        kw.setdefault("capture_output", True)
        return subprocess.run(self.cmd(argv), **kw)

    def responder(self, addrs, port=161, community="public", timeout=30, pad=0):
        """Start scan_responder.py answering for addrs ("ADDR" or
        "ADDR=MODE"); returns once every socket is bound."""
        n = len(self.procs)
        path = os.path.join(self.tmp, f"addrs{n}")
        ready = os.path.join(self.tmp, f"ready{n}")
        with open(path, "w") as f:
            f.write("".join(a + "\n" for a in addrs))
        p = subprocess.Popen(self.cmd(["/usr/bin/python3", RESPONDER, "--port", str(port),
                                       "--community", community, "--addrs", path,
                                       "--ready", ready, "--pad", str(pad)]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(p)
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):
            if p.poll() is not None:
                raise RuntimeError(f"responder exited {p.returncode}: "
                                   f"{p.stderr.read().decode(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError("responder did not start")
            time.sleep(0.05)
        return p

    def start(self, argv, ready_check=None, timeout=30):
        """Start another server (the device farm) inside the namespace."""
        p = subprocess.Popen(self.cmd(argv), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        deadline = time.monotonic() + timeout
        while ready_check is not None and not ready_check():
            if p.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited {p.returncode}: "
                                   f"{p.stderr.read().decode(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not start")
            time.sleep(0.1)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            if p.stderr:
                p.stderr.close()
        self.procs = []
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
