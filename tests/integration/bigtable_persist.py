#!/usr/bin/python3
"""An snmpd pass_persist handler serving one table of ROWS rows (0:
endless) for tests and timings of big tables:

    pass_persist .1.3.6.1.4.1.99999.1 /usr/bin/python3 bigtable_persist.py ROWS [BASE COLS]

BASE (default .1.3.6.1.4.1.99999.1.1.1) is the table's entry OID and COLS
its column numbers, comma-separated (default 2,3,4); instance i = 1..ROWS,
one arc. A column's type follows its number:
    col % 3 == 2  STRING    "row-i"
    col % 3 == 0  Counter64 2^64-1-i
    col % 3 == 1  INTEGER   i % 7
Protocol (snmpd.conf(5), pass_persist): PING -> PONG; "get"/"getnext"
then an OID -> OID, TYPE, VALUE lines, or NONE.
"""

import sys

BASE = (1, 3, 6, 1, 4, 1, 99999, 1, 1, 1)
COLS = (2, 3, 4)
ENDLESS = 2 ** 31 - 1


def value(col, i):
    if col % 3 == 2:
        return "string", f"row-{i}"
    if col % 3 == 0:
        return "counter64", str(2 ** 64 - 1 - i)
    return "integer", str(i % 7)


def parse(text):
    return tuple(int(x) for x in text.strip().strip(".").split(".") if x)


def get(oid, rows):
    n = len(BASE)
    if len(oid) != n + 2 or oid[:n] != BASE or oid[n] not in COLS:
        return None
    i = oid[n + 1]
    return (oid[n], i) if 1 <= i <= rows else None


def getnext(oid, rows):
    n = len(BASE)
    for col in COLS:
        prefix = BASE + (col,)
        if oid < prefix:
            i = 1
        elif oid[:n + 1] == prefix:
            i = oid[n + 1] + 1 if len(oid) > n + 1 else 1
        else:
            continue
        if i <= rows:
            return col, i
    return None


def main():
    global BASE, COLS
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rows = rows or ENDLESS
    if len(sys.argv) > 3:
        BASE = parse(sys.argv[2])
        COLS = tuple(sorted(int(c) for c in sys.argv[3].split(",")))
    out = sys.stdout
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "PING":
            out.write("PONG\n")
        elif cmd in ("get", "getnext"):
            oid = parse(sys.stdin.readline())
            found = get(oid, rows) if cmd == "get" else getnext(oid, rows)
            if found is None:
                out.write("NONE\n")
            else:
                col, i = found
                t, v = value(col, i)
                out.write(".%s\n%s\n%s\n" % (".".join(map(str, BASE + (col, i))), t, v))
        elif cmd == "":
            break
        else:   # set: read-only
            sys.stdin.readline()
            sys.stdin.readline()
            out.write("not-writable\n")
        out.flush()


if __name__ == "__main__":
    main()
