#!/usr/bin/python3
"""Big tables: `outpost poll` of one table of K rows against snmpbulkwalk
of the same columns, both measured in the same run (wall and CPU time;
not RSS: measure()'s includes the forked Python before exec).

    OUTPOST=build/outpost bench/table_bench.py [K...]    (default 2000 4000 8000 16000)

The device is a real snmpd serving the table through pass_persist
(tests/integration/bigtable_persist.py: STRING, Counter64 and INTEGER
columns), so snmpd and that script set the wall time of both; outpost's
own CPU time is what shows whether its cost is linear in rows. A
benchmark, not a test: it prints figures and ratios and fails only when
a tool does not run.
"""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
from snmpd_fixture import SnmpdFarm, client_env  # noqa: E402
from bench import measure  # noqa: E402

OUTPOST = os.environ.get("OUTPOST") or os.path.join(HERE, "..", "build", "outpost")
PERSIST = os.path.join(HERE, "..", "tests", "integration", "bigtable_persist.py")
ENTRY = "1.3.6.1.4.1.99999.1.1.1"
COLUMNS = [f"{ENTRY}.{c}" for c in (2, 3, 4)]


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [2000, 4000, 8000, 16000]
    env = client_env()
    with SnmpdFarm() as farm, tempfile.TemporaryDirectory() as tmp:
        ini = os.path.join(tmp, "outpost.ini")
        fd = os.open(ini, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[credential lab]\ncommunity = public\n\n[poll]\nmax_rows = 100000\n\n"
                    "[profile big]\ncolumns = " + " ".join(COLUMNS) + "\n")
        for k in sizes:
            dev = farm.start_one(extra_config=[
                f"pass_persist .1.3.6.1.4.1.99999.1 /usr/bin/python3 {PERSIST} {k}"])
            ours = measure([OUTPOST, "poll", "--config", ini, "--profile", "big",
                            "--quiet", "-t", "30", dev.target], env)
            theirs = measure(["snmpbulkwalk", "-On", "-v2c", "-c", "public", "-Cr25",
                              "-t", "30", dev.target, ENTRY], env)
            lines = theirs[3].count(b"\n")
            if lines != k * len(COLUMNS):
                raise SystemExit(f"table_bench: snmpbulkwalk read {lines} values, "
                                 f"not {k * len(COLUMNS)}")
            print(f"table {k:6d} rows x {len(COLUMNS)}: outpost poll wall {ours[0]:6.2f} s "
                  f"cpu {ours[1]:5.2f} s | snmpbulkwalk "
                  f"wall {theirs[0]:6.2f} s cpu {theirs[1]:5.2f} s | ratio wall "
                  f"{ours[0] / theirs[0]:.2f} cpu {ours[1] / max(theirs[1], 0.001):.2f}",
                  flush=True)
            dev.stop()


if __name__ == "__main__":
    main()
