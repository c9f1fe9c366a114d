"""Every recording Debian's snmpsim ships, served by outpost-farm (fast,
unlike snmpsim: the whole tree of each one, v1 and v2c), plus the farm's
`edge` device (binary and Latin-1 strings, Counter64 at its limits).

a. Byte equality with net-snmp: `outpost walk` vs `snmpbulkwalk -On -Cr25`
   (`snmpwalk -On` for v1) of the whole tree, `outpost get` vs `snmpget -On`
   of 20 OIDs spread over each recording plus one no device has: stdout,
   stderr and exit status equal.
b. Strict JSON: every byte of `outpost walk --json`, `get --json` and `poll`
   (profiles system, interfaces, host) decoded as strict UTF-8, each line
   parsed, and every value checked against the recording file itself: text
   re-encodes to the recorded bytes, Hex-STRING is exactly them, integers
   are equal as Python ints.
c. Through the hub: an agent polls the edge device, winxp (ifDescr with a
   trailing NUL) and the Cisco 3750 recording; samples, inventory and a
   command's result decode strictly and Counter64 0, 2^32-1, 2^53+1, 2^63
   and 2^64-1 come back exact.

What moves: the farm computes sysUpTime, generated counters and snmprec
`:numeric` variations from its clock, every one a non-decreasing function
of time (wrapping counters wrap in 2^32 or 2^64 steps, never within a
test). Each outpost run sits between two net-snmp reads; a value both reads
agree on cannot have moved in between, so it must match exactly. Only
where the two net-snmp reads themselves differ are values masked (OID and
type must still match).
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import tempfile

import pytest

from agent_fixture import AgentProcess
from farm_fixture import Farm, farm_block, shipped_recordings
from hub_fixture import SANITIZER_MARKERS, HubProcess, hub_binary
from snmpd_fixture import client_env
from test_farm import EDGE, expected_walk, parse_walk
from test_fidelity import hub_get, strict_lines, wait_for

RECORDINGS = shipped_recordings()
DATA = "/usr/share/doc/snmpsim/examples/data/"
NAMES = [p.split(DATA, 1)[-1] for p in RECORDINGS]
DEVICES = NAMES + ["edge"]
REPS = "25"
ROOT = "1.3.6"   # the whole tree (outpost refuses a one-part OID such as .1; net-snmp not)
COUNTER64_EDGES = [0, 2**32 - 1, 2**53 + 1, 2**63, 2**64 - 1]
PROFILES = ["--profile", "system", "--profile", "interfaces", "--profile", "host"]


@pytest.fixture(scope="module")
def farm():
    if len(RECORDINGS) < 30:
        pytest.fail("snmpsim's recordings are missing: packaging/deps.sh installs snmpsim",
                    pytrace=False)
    block = [str(a) for a in ipaddress.ip_network(farm_block(1))]
    addr = {name: block[1 + i] for i, name in enumerate(DEVICES)}
    devices = [(addr[n], p, {}) for n, p in zip(NAMES, RECORDINGS)]
    devices.append((addr["edge"], "edge", {}))
    f = Farm(devices=devices).start()
    f.addr = addr
    # The first net-snmp run in a fresh persistent dir says "Created
    # directory" on stderr; have that happen here, not in a comparison.
    f.run(["snmpget", "-v2c", "-c", "public", "-t", "1", "-r", "0",
           f.target(addr["edge"]), "1.3.6.1.2.1.1.5.0"])
    yield f
    log = f.stop()
    assert "Sanitizer" not in log and "runtime error" not in log, log


def run(cmd, timeout=120):
    """(exit, stdout bytes, stderr bytes): bytes, so that nothing is
    decoded before it is compared or strictly checked."""
    p = subprocess.run([str(c) for c in cmd], capture_output=True, env=client_env(),
                       stdin=subprocess.DEVNULL, timeout=timeout)
    assert p.returncode >= 0, f"{cmd} killed by signal {-p.returncode}"
    assert not any(m.encode() in p.stderr for m in SANITIZER_MARKERS), p.stderr
    return p.returncode, p.stdout, p.stderr


def rec_path(name):
    return RECORDINGS[NAMES.index(name)]


# ---- a: byte equality ------------------------------------------------------

_VB = re.compile(rb"^(\.[0-9.]+) = ([A-Za-z0-9-]+): ")


def _mask(lines, at):
    out = list(lines)
    for i in at:
        m = _VB.match(lines[i])
        out[i] = m.group(1) + b" = " + m.group(2) + b": <moving>" if m else lines[i]
    return out


def assert_sandwiched(before, mine, after, what):
    """mine (outpost) equals before (net-snmp) byte for byte, except values
    the two net-snmp runs around it disagree on, for which OID and type."""
    for ref in (before, after):
        assert ref[0] == mine[0] and ref[2] == mine[2], (
            f"{what}: exit/stderr differ\noutpost: {mine[0]} {mine[2]!r}\n"
            f"net-snmp: {ref[0]} {ref[2]!r}")
    b, m, a = (x[1].split(b"\n") for x in (before, mine, after))
    assert len(b) == len(a), f"{what}: two net-snmp runs differ in length"
    moving = [i for i, (x, y) in enumerate(zip(b, a)) if x != y]
    assert len(m) == len(b), (f"{what}: {len(m)} lines, net-snmp {len(b)}\n"
                              f"outpost tail: {m[-3:]}\nnet-snmp tail: {b[-3:]}")
    mb, mm = _mask(b, moving), _mask(m, moving)
    assert _mask(a, moving) == mb, f"{what}: net-snmp runs differ beyond values"
    bad = [(i, mm[i], mb[i]) for i in range(len(mb)) if mm[i] != mb[i]]
    assert not bad, (f"{what}: {len(bad)} lines differ, first at line {bad[0][0] + 1}:\n"
                     f"  outpost:  {bad[0][1]!r}\n  net-snmp: {bad[0][2]!r}")
    return len(m), len(moving)


def walk_cmds(outpost, farm, name, version):
    cred = [f"-v{version}", "-c", "public"]
    target = farm.target(farm.addr[name])
    if version == "1":
        ref = ["snmpwalk", "-On", *cred, target, ROOT]
    else:
        ref = ["snmpbulkwalk", "-On", f"-Cr{REPS}", *cred, target, ROOT]
    mine = [outpost, "walk", "--max-repetitions", REPS, *cred, target, ROOT]
    return ref, mine


@pytest.mark.parametrize("version", ["2c", "1"])
@pytest.mark.parametrize("name", DEVICES)
def test_walk_equals_net_snmp(outpost, farm, name, version):
    ref, mine = walk_cmds(outpost, farm, name, version)
    n, moving = assert_sandwiched(run(ref), run(mine), run(ref), f"{name} v{version} walk")
    assert n > 1 and moving <= n // 2 + 8, (n, moving)


def sample_oids(name, n=20):
    """n OIDs evenly spread over the recording, and one no device has."""
    if name == "edge":
        oids = [f".{EDGE}.1.{i}" for i in range(1, 6)] + \
               [f".{EDGE}.3.{i}" for i in range(1, 8)] + [".1.3.6.1.2.1.1.3.0"]
    else:
        oids = [o for o, _ in expected_walk(rec_path(name))] or [".1.3.6.1.2.1.1.1.0"]
        oids = oids[::max(1, len(oids) // n)][:n]
    oids = [o[1:] for o in oids]
    oids.insert(min(2, len(oids)), missing_oid(oids))
    return oids


def missing_oid(oids):
    return oids[0] + ".4242"


@pytest.mark.parametrize("version", ["2c", "1"])
@pytest.mark.parametrize("name", DEVICES)
def test_get_equals_snmpget(outpost, farm, name, version):
    cred = [f"-v{version}", "-c", "public"]
    target = farm.target(farm.addr[name])
    oids = sample_oids(name)
    ref = ["snmpget", "-On", *cred, target, *oids]
    before = run(ref)
    got = run([outpost, "get", *cred, target, *oids])   # between the two net-snmp runs
    assert_sandwiched(before, got, run(ref), f"{name} v{version} get")
    if version == "1":   # the missing OID: its error, then the rest again
        failed = b"Failed object: ." + missing_oid(oids).encode() + b"\n"
        assert got[0] == 2 and failed in got[2], got


# ---- b: strict JSON, values as recorded ------------------------------------

INT_TYPES = {"INTEGER", "Counter32", "Gauge32", "Counter64", "Timeticks"}
OPAQUE_TYPES = {"Opaque", "Float", "Double", "Integer64", "Unsigned64"}
_C0_C1 = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def is_text(data: bytes) -> bool:
    """docs/protocol.md: strict UTF-8 without control characters but TAB,
    LF and CR is a STRING; anything else is a Hex-STRING."""
    try:
        return not _C0_C1.search(data.decode("utf-8"))
    except UnicodeDecodeError:
        return False


def as_value(text: str):
    """(type, value) from a value as test_farm's expected_walk and
    parse_walk write it (`-Ox -Ot` style: every string as hex)."""
    if text == '""':
        return "bytes", b""
    if text.isdigit():
        return "Timeticks", int(text)
    typ, _, rest = text.partition(": ")
    if typ == "Hex-STRING":
        return "bytes", bytes.fromhex(rest)
    if typ in INT_TYPES:
        return typ, int(rest)
    if typ in ("OID", "IpAddress"):
        return typ, rest.strip()
    return typ.rstrip(":"), None   # Opaque: not compared


def check_value(oid, typ, value, want):
    kind, exp = want
    if kind == "bytes":
        assert typ in ("STRING", "Hex-STRING"), (oid, typ, value)
        got = value.encode("utf-8") if typ == "STRING" else bytes.fromhex(value)
        assert got == exp, (oid, typ, value, exp)
        assert (typ == "STRING") == is_text(exp), (oid, typ, value)
        assert typ == "STRING" or value == " ".join(f"{b:02X}" for b in exp), (oid, value)
    elif kind in INT_TYPES:
        assert typ == kind and type(value) is int and value == exp, (oid, typ, value, exp)
    elif kind == "Opaque":
        assert typ in OPAQUE_TYPES, (oid, typ, value)
    else:
        assert (typ, value) == (kind, exp), (oid, typ, value, exp)


def check_cell(oid, cell, want):
    """A sample cell: a bare number or text, or a typed object for bytes."""
    kind = want[0]
    if isinstance(cell, dict):
        assert set(cell) == {"type", "value"}, (oid, cell)
        check_value(oid, cell["type"], cell["value"], want)
    elif isinstance(cell, str):
        typ = {"bytes": "STRING", "OID": "OID", "IpAddress": "IpAddress"}.get(kind, "?")
        check_value(oid, typ, cell, want)
    else:
        check_value(oid, kind, cell, want)


def check_sample(sample, expected):
    """Every cell of a poll sample whose OID has a known value; the count."""
    n = 0
    for oid, cell in sample["scalars"].items():
        if oid in expected:
            check_cell(oid, cell, expected[oid])
            n += 1
    for table in sample["tables"].values():
        for inst, cells in table["rows"].items():
            assert len(cells) == len(table["columns"]), (sample["profile"], inst)
            for col, cell in zip(table["columns"], cells):
                oid = f"{col}.{inst}"
                if oid in expected:
                    check_cell(oid, cell, expected[oid])
                    n += 1
                elif cell is not None:
                    assert isinstance(cell, (int, str, dict)), (oid, cell)
    return n


def oracle_walk(farm, name):
    """The edge device has no file: two `snmpbulkwalk -Ox -Ot` around the
    outpost runs, the values they agree on."""
    r = farm.run(["snmpbulkwalk", "-On", "-Ox", "-Ot", "-Cr50", "-v2c", "-c", "public",
                  farm.target(farm.addr[name]), ROOT])
    assert r.returncode == 0, r.stderr
    return dict(parse_walk(r.stdout))


def outpost_json_runs(outpost, farm, name):
    target = farm.target(farm.addr[name])
    oids = sample_oids(name)
    walk = run([outpost, "walk", "--json", "-c", "public", target, ROOT])
    get = run([outpost, "get", "--json", "-c", "public", target, *oids])
    # poll's default is one retry after 2 s; a loaded 2-core host needs more
    poll = run([outpost, "poll", "-c", "public", "-t", "2", "-r", "4", *PROFILES, target])
    return walk, get, poll, oids


@pytest.mark.parametrize("name", DEVICES)
def test_json_is_strict_and_values_are_recorded(outpost, farm, name):
    if name == "edge":
        before = oracle_walk(farm, name)
        walk, get, poll, oids = outpost_json_runs(outpost, farm, name)
        after = oracle_walk(farm, name)
        texts = {o: t for o, t in before.items() if after.get(o) == t}
    else:
        walk, get, poll, oids = outpost_json_runs(outpost, farm, name)
        texts = dict(expected_walk(rec_path(name)))
    expected = {o: as_value(t) for o, t in texts.items()}
    for what, r in (("walk", walk), ("get", get), ("poll", poll)):
        assert r[0] == 0, (what, r[0], r[2][-2000:])
        for line in r[2].splitlines():     # messages too are UTF-8
            line.decode("utf-8")
    # walk: every OID of the recording, each value exact
    objs = strict_lines(walk[1])
    seen = {}
    for o in objs:
        assert set(o) >= {"oid", "type", "value"}, o
        if o["oid"] in expected and o["type"] != "endOfMibView":
            check_value(o["oid"], o["type"], o["value"], expected[o["oid"]])
            seen[o["oid"]] = True
    missing = sorted(set(expected) - set(seen))
    assert not missing, f"{len(missing)} recorded OIDs not walked, e.g. {missing[:5]}"
    # get: the sample, the missing one as an exception
    got = {o["oid"]: o for o in strict_lines(get[1])}
    assert set(got) == {"." + o for o in oids}, get
    for oid, o in got.items():
        if oid in expected:
            check_value(oid, o["type"], o["value"], expected[oid])
    gone = got["." + missing_oid(oids)]
    assert gone["type"] in ("noSuchObject", "noSuchInstance") and gone["value"] is None, gone
    # poll: three profiles, every known cell exact
    samples = strict_lines(poll[1])
    assert sorted(s["profile"] for s in samples) == ["host", "interfaces", "system"], samples
    cells = sum(check_sample(s, expected) for s in samples)
    if "." + "1.3.6.1.2.1.1.1.0" in expected:
        assert cells >= 1, samples


# ---- c: through the hub ------------------------------------------------------

HUB_DEVICES = ["edge", "recorded/winxp-full-walk.snmprec.gz", "cisco_16_switch.snmprec.gz"]
EDGE_SCALARS = [f"{EDGE}.1.{i}" for i in range(1, 6)]


@pytest.fixture(scope="module")
def site(outpost, farm):
    addrs = [farm.addr[n] for n in HUB_DEVICES]
    with tempfile.TemporaryDirectory(prefix="outpost-recordings-") as tmp:
        hub = HubProcess(hub_binary(), os.path.join(tmp, "hub"), max_poll_wait="5s").start()
        token = hub.add_agent("farm")
        agent = AgentProcess(outpost, os.path.join(tmp, "agent"),
                             f"http://127.0.0.1:{hub.port}", token,
                             allow=" ".join(f"{a}/32" for a in addrs), poll_wait="5s", extra={
                                 "scan": {"networks": " ".join(f"{a}/32" for a in addrs),
                                          "port": farm.port, "credentials": "lab"},
                                 "poll": {"interval": "10s",
                                          "profiles": "system interfaces host edge"},
                                 "profile edge": {"scalars": " ".join(EDGE_SCALARS)}})
        agent.start()
        yield hub
        rc = agent.stop()
        hub.stop()
        logs = agent.log() + hub.log()
        assert not any(m in logs for m in SANITIZER_MARKERS), logs[-4000:]
        assert rc == 0, agent.log()


def hub_samples(hub, farm, name, profiles):
    path = f"/v1/agents/farm/samples?device={farm.target(farm.addr[name])}"

    def ready():
        got = {s["profile"]: s for s in hub_get(hub, path)}
        return got if profiles <= set(got) else None
    return wait_for(f"{sorted(profiles)} samples of {name}", ready, timeout=90)


def test_hub_serves_counter64_edges_exactly(site, farm):
    samples = hub_samples(site, farm, "edge", {"edge", "system"})
    got = [samples["edge"]["scalars"]["." + o] for o in EDGE_SCALARS]
    assert got == COUNTER64_EDGES and all(type(v) is int for v in got), got


@pytest.mark.parametrize("name", HUB_DEVICES[1:])
def test_hub_samples_of_recordings_are_exact(site, farm, name):
    samples = hub_samples(site, farm, name, {"system", "interfaces"})
    expected = {o: as_value(t) for o, t in expected_walk(rec_path(name))}
    cells = sum(check_sample(s, expected) for s in samples.values())
    assert cells >= 10, samples
    if "winxp" in name:   # ifDescr ends in NUL: bytes, exactly as recorded
        descr = samples["interfaces"]["tables"]["interfaces"]["rows"]["1"][0]
        assert descr["type"] == "Hex-STRING" and descr["value"].endswith(" 00"), descr


def test_hub_inventory_and_agents_decode_strictly(site, farm):
    def all_three():
        devs = hub_get(site, "/v1/agents/farm/devices")
        return devs if {d["address"] for d in devs} >= {farm.addr[n] for n in HUB_DEVICES} \
            else None
    devs = {d["address"]: d for d in wait_for("inventory", all_three, timeout=90)}
    edge = devs[farm.addr["edge"]]
    assert edge["sys_name"] == "edge-" + farm.addr["edge"].replace(".", "-"), edge
    hub_get(site, "/v1/agents")


def test_hub_command_result_is_exact(site, farm):
    cid = site.queue("farm", {"type": "snmp.walk", "credential": "lab", "args": {"oid": EDGE},
                              "target": farm.target(farm.addr["edge"])})["id"]

    def finished():
        st = hub_get(site, f"/v1/commands/{cid}?wait=5")
        return st if st["status"] in ("done", "failed") else None
    st = wait_for("walk result", finished, timeout=60)
    assert st["status"] == "done", st
    vbs = {v["oid"]: v for v in st["result"]["data"]["varbinds"]}
    assert [vbs["." + o]["value"] for o in EDGE_SCALARS] == COUNTER64_EDGES
    assert all(type(vbs["." + o]["value"]) is int for o in EDGE_SCALARS)
    # the binary and text strings of .3: recoverable bytes or text
    for oid, v in vbs.items():
        if oid.startswith(f".{EDGE}.3."):
            got = v["value"].encode() if v["type"] == "STRING" else bytes.fromhex(v["value"])
            assert (v["type"] == "STRING") == is_text(got), v
