#!/usr/bin/python3
"""make demo: Outpost on loopback, end to end, then everything stopped.

Starts 20 real snmpd devices on 127.0.90.0/27 (five of them answer only
SNMPv3), writes an outpost.ini with one v2c and one v3 credential, checks
it, scans the range with both credentials, walks one device's interface
table and reads a few objects as JSON. Only loopback addresses are used.
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from snmpd_fixture import SnmpdFarm, client_env  # noqa: E402

OUTPOST = os.environ.get("OUTPOST") or os.path.join(HERE, "..", "build", "outpost")
NET = "127.0.90.0/27"
PORT = 1161

CONFIG = """\
# Written by the Outpost demo. Secrets: keep this file mode 0600.
[agent]
log_level = info

[credential lab-v2c]
version = 2c
community = public

[credential lab-v3]
version = 3
user = testv3
level = authPriv
auth_protocol = SHA
auth_password = authpass123
priv_protocol = AES
priv_password = privpass123
"""


def run(title, args):
    print(f"\n$ outpost {' '.join(args)}    # {title}", flush=True)
    rc = subprocess.call([OUTPOST] + args, env=client_env())
    if rc != 0:
        raise SystemExit(f"demo: outpost {args[0]} exited {rc}")


def main():
    if not os.access(OUTPOST, os.X_OK):
        raise SystemExit(f"demo: no outpost binary at {OUTPOST} (run make)")
    with tempfile.TemporaryDirectory(prefix="outpost-demo-") as tmp, \
            SnmpdFarm(start_timeout=30) as farm:
        cfg = os.path.join(tmp, "outpost.ini")
        fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(CONFIG)
        devs = []
        for i in range(20):
            addr = f"127.0.90.{i + 2}"
            kw = {"sys_name": f"sw-{i + 1:02d}"}
            if i % 4 == 3:
                kw["community"] = None      # this one answers only SNMPv3
            devs.append(farm.device(addr, PORT, **kw))
        print(f"demo: starting {len(devs)} snmpd devices on {NET} port {PORT} ...",
              flush=True)
        farm.start(*devs)
        run("validate the configuration", ["check-config", "-c", cfg])
        run("discover devices with the config's credentials, in order",
            ["scan", "--config", cfg, "--port", str(PORT), NET])
        run("the same scan as JSON lines, for machines",
            ["scan", "--config", cfg, "--port", str(PORT), "--json", NET])
        run("walk one device's interface names (ifDescr), like snmpbulkwalk -On",
            ["walk", "-c", "public", devs[0].target, "1.3.6.1.2.1.2.2.1.2"])
        run("read system objects over SNMPv3 authPriv, as JSON",
            ["get", "--config", cfg, "--credential", "lab-v3", "--json",
             devs[3].target, "sysName.0", "sysDescr.0", "sysUpTime.0"])
        print("\ndemo: stopping the devices", flush=True)
    print("demo: done; everything it started has been stopped")


if __name__ == "__main__":
    main()
