"""outpost walk against snmpbulkwalk/snmpwalk on the same real snmpd.

`outpost walk` promises to print what `snmpbulkwalk -On` prints, so the
tests diff the two. Values that move between two reads are masked by type
(Timeticks, Counter32/64, Gauge32). For the whole tree, where tables of
processes and sockets also change, one outpost walk is sandwiched between
two snmpbulkwalks: every OID both of them saw must be in outpost's output,
every OID outpost printed must be in one of them, every type must be one
they read, and every value that cannot move must equal theirs. A value can
move if its type says so (counters, gauges, time), if it is a live
measurement of this host (LIVE_VALUES: memory, disk, load), or if the two
snmpbulkwalks already read it differently: such values are compared by
type only, so a busy machine cannot fail the test.
"""

import json

import pytest

from outpost_cli import (DYNAMIC_TYPES, FAST, V3_FLAGS, assert_one_clear_line,
                         is_exception, netsnmp, outpost_run, parse_varbinds)
from snmpd_fixture import SnmpdFarm

V2C = ["-v2c", "-c", "public"]

# Subtrees whose *rows* come and go with processes and sockets on this
# machine (including the walkers themselves and other tests' snmpd).
VOLATILE_ROWS = (
    ".1.3.6.1.2.1.25.4.",   # hrSWRunTable
    ".1.3.6.1.2.1.25.5.",   # hrSWRunPerfTable
    ".1.3.6.1.2.1.6.13.",   # tcpConnTable
    ".1.3.6.1.2.1.6.19.",   # tcpConnectionTable
    ".1.3.6.1.2.1.6.20.",   # tcpListenerTable
    ".1.3.6.1.2.1.7.5.",    # udpTable
    ".1.3.6.1.2.1.7.7.",    # udpEndpointTable
    ".1.3.6.1.2.1.4.22.",   # ipNetToMediaTable (neighbour cache)
    ".1.3.6.1.2.1.4.35.",   # ipNetToPhysicalTable
)
# Static-typed values that measure this host, live: they can move and come
# back between reads (load 0.72 -> 0.73 -> 0.72), so agreeing before and
# after does not make them static.
LIVE_VALUES = (
    ".1.3.6.1.2.1.25.1.2.",         # hrSystemDate
    ".1.3.6.1.2.1.25.2.3.1.5.",     # hrStorageSize (tmpfs grows)
    ".1.3.6.1.2.1.25.2.3.1.6.",     # hrStorageUsed
    ".1.3.6.1.2.1.25.3.3.1.2.",     # hrProcessorLoad
    ".1.3.6.1.4.1.2021.4.",         # UCD memory
    ".1.3.6.1.4.1.2021.9.1.",       # UCD dskTable
    ".1.3.6.1.4.1.2021.10.1.",      # UCD laTable (load averages)
    ".1.3.6.1.4.1.2021.11.",        # UCD systemStats (CPU %)
    ".1.3.6.1.4.1.2021.100.4.",     # versionCDate: the current time
    ".1.3.6.1.6.3.10.2.1.3.",       # snmpEngineTime (INTEGER seconds)
)


@pytest.fixture(scope="module")
def dev():
    with SnmpdFarm() as farm:
        yield farm.start_one()


def outpost_walk(outpost, dev, *args, cred=("-c", "public")):
    r = outpost_run(outpost, "walk", *cred, dev.target, *args)
    assert r.returncode == 0, r
    return r


def bulkwalk(dev, *args, cred=V2C, tool="snmpbulkwalk"):
    r = netsnmp(tool, *cred, "-t", "2", "-r", "1", dev.target, *args)
    assert r.returncode == 0, r
    return r


def masked(text):
    return [vb.masked() for vb in parse_varbinds(text)]


@pytest.mark.parametrize("subtree,min_lines", [
    ("1.3.6.1.2.1.1", 8),            # system
    ("1.3.6.1.2.1.2.2.1", 22),       # ifTable: 22 columns, >= 1 interface
    ("1.3.6.1.2.1.1.5.0", 1),        # a leaf: GETBULK leaves it, GET fallback
    ("1.3.6.1.2.1.1.99", 1),         # nothing there: noSuchObject from the GET
    ("1.3.6.1.2.1.1.1.0.5", 1),      # below a leaf: noSuchInstance
    ("1.4", 1),                      # past the end of the MIB view
])
def test_walk_matches_snmpbulkwalk(outpost, dev, subtree, min_lines):
    r = outpost_walk(outpost, dev, subtree)
    ref = bulkwalk(dev, subtree)
    assert r.stderr == "", r
    got, want = masked(r.stdout), masked(ref.stdout)
    assert got == want
    assert len(got) >= min_lines
    if subtree == "1.3.6.1.2.1.1.5.0":
        assert r.stdout == f'.1.3.6.1.2.1.1.5.0 = STRING: "{dev.sys_name}"\n'


def test_walk_system_values(outpost, dev):
    """Not only equal to net-snmp: the values the device was configured with."""
    vbs = {vb.oid: vb.text for vb in parse_varbinds(outpost_walk(outpost, dev,
                                                                 "1.3.6.1.2.1.1").stdout)}
    assert vbs[".1.3.6.1.2.1.1.1.0"] == f'STRING: "Test device {dev.addr}"'
    assert vbs[".1.3.6.1.2.1.1.5.0"] == f'STRING: "{dev.sys_name}"'
    assert vbs[".1.3.6.1.2.1.1.6.0"] == 'STRING: "lab"'
    assert vbs[".1.3.6.1.2.1.1.3.0"].startswith("Timeticks: (")


def _sandwich(outpost, dev, root, outpost_args):
    """(missing, extra, wrong_values, order_errors, n) for one outpost walk
    between two snmpbulkwalks of root."""
    before = parse_varbinds(bulkwalk(dev, root).stdout)
    mine = parse_varbinds(outpost_walk(outpost, dev, *outpost_args).stdout)
    after = parse_varbinds(bulkwalk(dev, root).stdout)

    def stable(oid):
        return not (oid + ".").startswith(VOLATILE_ROWS)

    def table(vbs):
        return {vb.oid: vb for vb in vbs if not is_exception(vb) and stable(vb.oid)}

    b, a = table(before), table(after)
    m_list = [vb for vb in mine if not is_exception(vb)]
    m = table(mine)

    order = [f"{p.oid} then {q.oid}" for p, q in zip(m_list, m_list[1:]) if q.key <= p.key]
    missing = sorted(set(b) & set(a) - set(m))
    extra = sorted(set(m) - (set(b) | set(a)))
    wrong = []
    for oid, vb in m.items():
        seen = [x for x in (b.get(oid), a.get(oid)) if x is not None]
        if not seen:
            continue
        can_move = (vb.type in DYNAMIC_TYPES or (oid + ".").startswith(LIVE_VALUES)
                    or len({x.text for x in seen}) > 1)
        if vb.type not in {x.type for x in seen}:
            wrong.append(f"{oid}: type {vb.text!r} vs {[x.text for x in seen]}")
        elif not can_move and vb.text != seen[0].text:
            wrong.append(f"{oid}: {vb.text!r} vs {seen[0].text!r}")
    # The end: net-snmp prints the endOfMibView exception; so must we.
    if before and is_exception(before[-1]):
        if not (mine and mine[-1].text == before[-1].text):
            wrong.append(f"last line {mine[-1] if mine else None} vs {before[-1]}")
    return missing, extra, wrong, order, len(mine)


@pytest.mark.parametrize("root,args", [
    ("1.3.6.1", ["1.3.6.1"]),
    ("1.3.6.1.2.1", []),          # outpost's default root is mib-2
], ids=["1.3.6.1", "default-root"])
def test_walk_whole_tree(outpost, dev, root, args):
    """~7,500 varbinds of every type snmpd has (Hex-STRING, Opaque,
    IpAddress, Counter64, multi-line strings...)."""
    for attempt in range(2):  # a second try only if the host moved under us
        missing, extra, wrong, order, n = _sandwich(outpost, dev, root, args)
        if not (missing or extra or wrong or order):
            break
    assert not order, f"OIDs not increasing: {order[:10]}"
    assert not missing, f"{len(missing)} OIDs missing, e.g. {missing[:10]}"
    assert not extra, f"{len(extra)} OIDs net-snmp never saw, e.g. {extra[:10]}"
    assert not wrong, f"{len(wrong)} values differ, e.g. {wrong[:10]}"
    assert n > 1000


def test_walk_v1_same_oids_as_snmpwalk(outpost, dev):
    r = outpost_walk(outpost, dev, "1.3.6.1.2.1.1", cred=("-v1", "-c", "public"))
    ref = bulkwalk(dev, "1.3.6.1.2.1.1", cred=["-v1", "-c", "public"], tool="snmpwalk")
    got, want = parse_varbinds(r.stdout), parse_varbinds(ref.stdout)
    assert [vb.oid for vb in got] == [vb.oid for vb in want]
    assert masked(r.stdout) == masked(ref.stdout)
    assert len(got) >= 8


def test_walk_v1_leaf_and_nothing(outpost, dev):
    for subtree in ("1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.99"):
        r = outpost_walk(outpost, dev, subtree, cred=("-v1", "-c", "public"))
        ref = bulkwalk(dev, subtree, cred=["-v1", "-c", "public"], tool="snmpwalk")
        assert r.stdout == ref.stdout, subtree


def test_walk_v3(outpost, dev):
    r = outpost_walk(outpost, dev, "1.3.6.1.2.1.1", cred=V3_FLAGS)
    ref = bulkwalk(dev, "1.3.6.1.2.1.1", cred=V3_FLAGS)
    assert masked(r.stdout) == masked(ref.stdout)
    assert f'STRING: "{dev.sys_name}"' in r.stdout


def test_walk_small_repetitions_same_result(outpost, dev):
    a = outpost_walk(outpost, dev, "--max-repetitions", "1", "1.3.6.1.2.1.2.2.1")
    b = outpost_walk(outpost, dev, "--max-repetitions", "200", "1.3.6.1.2.1.2.2.1")
    assert masked(a.stdout) == masked(b.stdout)
    assert len(masked(a.stdout)) >= 22


def test_walk_max_varbinds(outpost, dev):
    r = outpost_run(outpost, "walk", "-c", "public", "--max-varbinds", "5", dev.target,
                    "1.3.6.1.2.1.1")
    assert r.returncode == 0, r
    vbs = parse_varbinds(r.stdout)
    assert len(vbs) == 5
    assert vbs[0].oid == ".1.3.6.1.2.1.1.1.0"
    assert "limit" in assert_one_clear_line(r)


def test_walk_json(outpost, dev):
    text = outpost_walk(outpost, dev, "1.3.6.1.2.1.1").stdout
    r = outpost_walk(outpost, dev, "--json", "1.3.6.1.2.1.1")
    objs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [o["oid"] for o in objs] == [vb.oid for vb in parse_varbinds(text)]
    for o in objs:
        assert {"oid", "type", "value"} <= set(o) <= {"oid", "type", "value", "name"}, o
    by_oid = {o["oid"]: o for o in objs}
    assert by_oid[".1.3.6.1.2.1.1.5.0"]["value"] == dev.sys_name
    assert by_oid[".1.3.6.1.2.1.1.3.0"]["type"] == "Timeticks"


def test_walk_wrong_community_times_out_fast(outpost, dev):
    """A silent agent costs one request's -t/-r budget, not one per
    max-repetitions step."""
    r = outpost_run(outpost, "walk", "-c", "wrong", *FAST, dev.target, "1.3.6.1.2.1.1")
    assert r.returncode == 1, r
    assert r.stdout == ""
    line = assert_one_clear_line(r)
    assert "timeout" in line.lower() and dev.target in line
    assert 0.25 <= r.elapsed < 1.0, r


def test_walk_wrong_v3_password(outpost, dev):
    flags = list(V3_FLAGS)
    flags[flags.index("authpass123")] = "wrongpass123"
    r = outpost_run(outpost, "walk", *flags, *FAST, dev.target, "1.3.6.1.2.1.1")
    assert r.returncode == 1, r
    assert "authentication" in assert_one_clear_line(r).lower()


def test_walk_no_agent(outpost):
    with SnmpdFarm() as farm:
        target = f"{farm.free_address()}:1161"
    r = outpost_run(outpost, "walk", "-c", "public", target, "1.3.6.1.2.1.1")
    assert r.returncode == 1, r
    line = assert_one_clear_line(r)
    assert "port unreachable" in line and target in line
    assert r.elapsed < 1.5
