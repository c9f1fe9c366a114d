"""`outpost get` and `outpost walk` print byte for byte what net-snmp's tools
print, on recordings of real devices (Debian's snmpsim recordings: Cisco,
HP, Windows XP, Linux, Linksys, Solaris...), not only on snmpd.

    walk, v2c and v3:  snmpbulkwalk -On -Cr25  vs  outpost walk --max-repetitions 25
    walk, v1:          snmpwalk -On            vs  outpost walk
    get:               snmpget -On             vs  outpost get

stdout, stderr and the exit status must be equal. The only values masked are
those snmpsim itself varies with time (recording lines tagged with a
variation module, e.g. `65:numeric`): for them the OID and type must match.

Also here: the SNMPv3 context name end to end (-n, [credential] context, the
`context` of a hub command; served by snmpsim, and by net-snmp's snmpd as a
proxy context) and the hub's `snmp.get` partial result when a v1 agent
refuses an OID.
"""

import os
import re
import tempfile
import time

import pytest

from agent_fixture import AgentProcess
from hub_fixture import HubProcess, hub_binary, SANITIZER_MARKERS
from outpost_cli import V3_FLAGS, netsnmp, outpost_run
from snmpd_fixture import SnmpdFarm
from snmpsim_fixture import SIM_V3, _recording_name, shipped_recordings, snmpsim  # noqa: F401

RECORDINGS = sorted({_recording_name(p) for p in shipped_recordings()}) or ["(none)"]
REPS = "25"
# What is walked. snmpsim is slow on big responses (the 37,000 Cisco-private
# OIDs of cisco_16_switch take 30-140 s per tool) and on v1, one OID per
# GETNEXT (linux-full-walk: 25-50 s per tool): by default the big
# recordings are walked in part so that `make check` stays short; every
# recording is still walked in v1 and v2c. OUTPOST_PARITY_FULL=1 walks all
# of every recording (about 4 minutes on 2 loaded cores).
FULL = os.environ.get("OUTPOST_PARITY_FULL") == "1"
V2C_ROOT = {"cisco_16_switch": "1.3.6.1.2.1"}                  # mib-2: 7,000 OIDs
V1_ROOT = {"cisco_16_switch": "1.3.6.1.2.1.2", "linux-full-walk": "1.3.6.1.2.1.2",
           "winxp-full-walk": "1.3.6.1.2.1.2", "public": "1.3.6.1.2.1.2",
           "hp_perf": "1.3.6.1.2.1.1", "hp_perf2": "1.3.6.1.2.1.1"}


def walk_root(table, name):
    return "1.3.6" if FULL else table.get(name, "1.3.6")
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"

_VB = re.compile(r"^(\.[0-9.]+) = ([A-Za-z0-9-]+): .*$")


def masked(text, rec):
    """The output with the values snmpsim varies replaced by <moving>."""
    out = []
    for line in text.split("\n"):
        m = _VB.match(line)
        if m and m.group(1) in rec.moving:
            line = f"{m.group(1)} = {m.group(2)}: <moving>"
        out.append(line)
    return "\n".join(out)


def assert_same(mine, ref, rec):
    assert mine.returncode == ref.returncode, f"{mine}\n=== net-snmp:\n{ref}"
    assert mine.stderr == ref.stderr, f"{mine}\n=== net-snmp:\n{ref}"
    got, want = masked(mine.stdout, rec), masked(ref.stdout, rec)
    if got != want:
        a, b = got.split("\n"), want.split("\n")
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        pytest.fail(f"{len(a)} vs {len(b)} lines; first difference at line {first + 1}:\n"
                    f"  outpost:  {a[first] if first < len(a) else '<end>'}\n"
                    f"  net-snmp: {b[first] if first < len(b) else '<end>'}")


def get_oids(rec, n=6):
    """n OIDs spread over the recording, and one below its first leaf that
    no device has (v2c: noSuchInstance/Object; v1: the error, then a retry)."""
    step = max(1, len(rec.oids) // n)
    oids = [o[1:] for o in rec.oids[::step][:n]]
    oids.insert(min(2, len(oids)), rec.oids[0][1:] + ".4242")
    return oids


def rec_of(snmpsim, name):
    if name not in snmpsim.recordings:
        pytest.skip(f"no recording {name}")
    return snmpsim.recordings[name]


# ---- walk ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", RECORDINGS)
def test_walk_v2c_equals_snmpbulkwalk(outpost, snmpsim, name):
    rec = rec_of(snmpsim, name)
    cred = snmpsim.v2c_args(name)
    root = walk_root(V2C_ROOT, name)
    ref = netsnmp("snmpbulkwalk", f"-Cr{REPS}", *cred, snmpsim.target, root, timeout=300)
    mine = outpost_run(outpost, "walk", "--max-repetitions", REPS, *cred, snmpsim.target,
                       root, timeout=300)
    assert_same(mine, ref, rec)
    assert mine.stdout.count("\n") >= min(len(rec.oids), 100) // 2, mine


@pytest.mark.parametrize("root", ["1", ".1", "0"])
def test_walk_of_a_one_arc_root_equals_snmpbulkwalk(outpost, snmpsim, root):
    # `snmpbulkwalk HOST 1` walks everything under iso; so does outpost.
    name = "hp_perf"
    rec = rec_of(snmpsim, name)
    cred = snmpsim.v2c_args(name)
    ref = netsnmp("snmpbulkwalk", f"-Cr{REPS}", *cred, snmpsim.target, root, timeout=120)
    mine = outpost_run(outpost, "walk", "--max-repetitions", REPS, *cred, snmpsim.target,
                       root, timeout=120)
    assert_same(mine, ref, rec)
    if root != "0":   # the recording's first OIDs, under 1.3.6.1.2.1.1
        assert mine.stdout.startswith(rec.oids[0] + " = "), mine
        assert mine.stdout.count("\n") > 100, mine


@pytest.mark.slow
@pytest.mark.parametrize("name", RECORDINGS)
def test_walk_v1_equals_snmpwalk(outpost, snmpsim, name):
    rec = rec_of(snmpsim, name)
    cred = snmpsim.v2c_args(name, version="1")
    root = walk_root(V1_ROOT, name)
    ref = netsnmp("snmpwalk", *cred, snmpsim.target, root, timeout=300)
    mine = outpost_run(outpost, "walk", *cred, snmpsim.target, root, timeout=300)
    assert_same(mine, ref, rec)
    assert mine.stdout


def test_walk_v1_ends_with_end_of_mib_on_stdout(outpost, snmpsim):
    """The Linksys recording ends inside mib-2: a v1 agent says noSuchName
    after the last OID, and snmpwalk prints `End of MIB` there."""
    rec = rec_of(snmpsim, "linksys-system")
    mine = outpost_run(outpost, "walk", "-v1", "-c", rec.name, snmpsim.target)
    assert mine.returncode == 0 and mine.stderr == "", mine
    lines = mine.stdout.splitlines()
    assert lines[-1] == "End of MIB"
    assert len(lines) == len(rec.oids) + 1
    # Past the end: End of MIB, then the GET of the root finds nothing.
    mine = outpost_run(outpost, "walk", "-v1", "-c", rec.name, snmpsim.target, "1.3.6.1.4")
    assert (mine.returncode, mine.stdout, mine.stderr) == (0, "End of MIB\n", ""), mine


def test_walk_v2c_prints_every_end_of_mib_view(outpost, snmpsim):
    """A GETBULK past the end repeats endOfMibView for each repetition left:
    snmpbulkwalk prints every one of them, and so does outpost."""
    rec = rec_of(snmpsim, "linksys-system")
    mine = outpost_run(outpost, "walk", "--max-repetitions", "10", "-c", rec.name,
                       snmpsim.target)
    lines = mine.stdout.splitlines()
    assert len(rec.oids) == 7 and len(lines) == 10, mine
    assert all("No more variables left in this MIB View" in ln for ln in lines[7:]), mine


# ---- get -----------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2c"])
@pytest.mark.parametrize("name", RECORDINGS)
def test_get_equals_snmpget(outpost, snmpsim, name, version):
    rec = rec_of(snmpsim, name)
    cred = snmpsim.v2c_args(name, version=version)
    oids = get_oids(rec)
    ref = netsnmp("snmpget", *cred, snmpsim.target, *oids)
    mine = outpost_run(outpost, "get", *cred, snmpsim.target, *oids)
    assert_same(mine, ref, rec)
    if version == "1":
        # The OID no device has: its error block, then the others again.
        assert mine.returncode == 2, mine
        assert f"Failed object: .{oids[2]}\n" in mine.stderr, mine


def test_get_v1_partial_failure(outpost, snmpsim):
    rec = rec_of(snmpsim, "linksys-system")
    mine = outpost_run(outpost, "get", "-v1", "-c", rec.name, snmpsim.target,
                       SYS_NAME, "1.3.6.1.2.1.1.99.0", SYS_DESCR)
    assert mine.returncode == 2, mine
    assert mine.stdout == ('.1.3.6.1.2.1.1.5.0 = STRING: "isp-gw"\n'
                           '.1.3.6.1.2.1.1.1.0 = STRING: "BEFSX41"\n'), mine
    assert mine.stderr == ("Error in packet\n"
                           "Reason: (noSuchName) There is no such variable name in this MIB.\n"
                           "Failed object: .1.3.6.1.2.1.1.99.0\n\n"), mine


# ---- v3 context ----------------------------------------------------------


@pytest.mark.parametrize("name,root", [("linksys-system", "1.3.6"),
                                       ("mib2dev-udp-mib", "1.3.6"),
                                       ("winxp-full-walk", "1.3.6.1.2.1.2")])
def test_walk_v3_context_equals_snmpbulkwalk(outpost, snmpsim, name, root):
    rec = rec_of(snmpsim, name)
    cred = snmpsim.v3_args(name)
    ref = netsnmp("snmpbulkwalk", f"-Cr{REPS}", *cred, snmpsim.target, root, timeout=120)
    mine = outpost_run(outpost, "walk", *cred, snmpsim.target, root, timeout=120)
    assert_same(mine, ref, rec)
    want = [o for o in rec.oids if o.startswith("." + root + ".")]
    assert len(mine.stdout.splitlines()) >= len(want) > 0


@pytest.mark.parametrize("name", ["linksys-system", "solaris-system", "hp_perf"])
def test_get_v3_context_equals_snmpget(outpost, snmpsim, name):
    rec = rec_of(snmpsim, name)
    cred = snmpsim.v3_args(name)
    oids = get_oids(rec)
    ref = netsnmp("snmpget", *cred, snmpsim.target, *oids)
    mine = outpost_run(outpost, "get", *cred, snmpsim.target, *oids)
    assert_same(mine, ref, rec)


def test_context_selects_the_device(outpost, snmpsim):
    got = {}
    for name in ("linksys-system", "solaris-system"):
        rec_of(snmpsim, name)
        r = outpost_run(outpost, "get", *snmpsim.v3_args(name), snmpsim.target, SYS_DESCR)
        assert r.returncode == 0, r
        got[name] = r.stdout
    assert got["linksys-system"] == '.1.3.6.1.2.1.1.1.0 = STRING: "BEFSX41"\n'
    assert got["solaris-system"] != got["linksys-system"]


def test_context_on_snmpd(outpost, snmpsim):
    """net-snmp's own snmpd as the v3 agent with a context: it proxies
    context "linksys" to the simulator, the default context is its own."""
    rec = rec_of(snmpsim, "linksys-system")
    with SnmpdFarm() as farm:
        dev = farm.start_one(extra_config=[
            f"proxy -Cn linksys -v 2c -c linksys-system {snmpsim.target} .1.3",
            "view ctxall included .1",
            "rouser testv3 authpriv -V ctxall linksys",
        ])
        ctx = [*V3_FLAGS, "-n", "linksys"]
        for tool, mine in ((["snmpget"], ["get"]),
                           (["snmpbulkwalk", f"-Cr{REPS}"], ["walk"])):
            ref = netsnmp(*tool, *ctx, dev.target, "1.3.6.1.2.1.1.5.0")
            got = outpost_run(outpost, *mine, *ctx, dev.target, "1.3.6.1.2.1.1.5.0")
            assert_same(got, ref, rec)
            assert got.stdout.startswith('.1.3.6.1.2.1.1.5.0 = STRING: "isp-gw"\n'), got
        ref = netsnmp("snmpbulkwalk", f"-Cr{REPS}", *ctx, dev.target, "1.3.6.1.2.1.1")
        got = outpost_run(outpost, "walk", *ctx, dev.target, "1.3.6.1.2.1.1")
        assert_same(got, ref, rec)
        got = outpost_run(outpost, "get", *V3_FLAGS, dev.target, SYS_NAME)
        assert got.stdout == f'.1.3.6.1.2.1.1.5.0 = STRING: "{dev.sys_name}"\n', got


def test_context_is_refused_for_v2c(outpost, snmpsim):
    r = outpost_run(outpost, "get", "-c", "x", "-n", "linksys-system", snmpsim.target,
                    SYS_DESCR)
    assert r.returncode == 2 and r.stdout == "", r
    assert "context is for version 3 only" in r.stderr


def write_ini(path, creds):
    lines = []
    for name, kv in creds.items():
        lines += [f"[credential {name}]"] + [f"{k} = {v}" for k, v in kv.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")


def test_credential_context_in_poll(outpost, snmpsim, tmp_path):
    """`outpost poll --config`: the [credential] context picks the device
    whose system group comes back."""
    rec_of(snmpsim, "linksys-system")
    ini = str(tmp_path / "outpost.ini")
    write_ini(ini, {"sim": dict(SIM_V3, version="3", context="linksys-system")})
    r = outpost_run(outpost, "poll", "--config", ini, "--profile", "system", snmpsim.target)
    assert r.returncode == 0, r
    assert '"isp-gw"' in r.stdout and '"BEFSX41"' in r.stdout, r
    # A context longer than RFC 3411's 32 characters is a config error.
    write_ini(ini, {"sim": dict(SIM_V3, version="3", context="x" * 33)})
    r = outpost_run(outpost, "poll", "--config", ini, "--profile", "system", snmpsim.target)
    assert r.returncode == 1 and "context must be at most 32" in r.stderr, r


def test_cli_context_in_poll(outpost, snmpsim):
    rec_of(snmpsim, "solaris-system")
    r = outpost_run(outpost, "poll", *snmpsim.v3_args("linksys-system"), "--profile",
                    "system", snmpsim.target)
    assert r.returncode == 0 and '"isp-gw"' in r.stdout, r


# ---- through the hub -------------------------------------------------------


@pytest.fixture(scope="module")
def site(outpost, snmpsim):
    """The hub, and an agent allowed to reach the simulator, with a v3
    credential without context and a v1 one for the Linksys recording."""
    with tempfile.TemporaryDirectory(prefix="outpost-parity-") as tmp:
        hub = HubProcess(hub_binary(), os.path.join(tmp, "hub"), max_poll_wait="10s").start()
        token = hub.add_agent("sim")
        creds = {"sim-v3": dict(SIM_V3, version="3"),
                 "sim-v1": {"version": "1", "community": "linksys-system"},
                 "sim-v2c": {"version": "2c", "community": "linksys-system"}}
        agent = AgentProcess(outpost, os.path.join(tmp, "agent"),
                             f"http://127.0.0.1:{hub.port}", token,
                             allow=f"{snmpsim.addr}/32", poll_wait="10s", credentials=creds,
                             extra={"policy": {"allow_inline_credentials": "true"}})
        agent.start()
        deadline = time.monotonic() + 10
        while not hub.json("GET", "/v1/agents")[0].get("polling"):
            assert time.monotonic() < deadline, hub.log()
            time.sleep(0.1)
        yield hub
        rc = agent.stop()
        hub.stop()
        for text in (agent.log(), hub.log()):
            assert not any(m in text for m in SANITIZER_MARKERS), text
        assert rc == 0, agent.log()


def command(hub, cmd, wait=20):
    cid = hub.queue("sim", cmd)["id"]
    st = hub.json("GET", f"/v1/commands/{cid}?wait={wait}")
    assert st["status"] in ("done", "failed"), st
    return st


def test_hub_get_and_walk_with_context(site, snmpsim):
    rec_of(snmpsim, "linksys-system")
    base = {"target": snmpsim.target, "credential": "sim-v3"}
    st = command(site, dict(base, type="snmp.get", context="linksys-system",
                            args={"oids": [SYS_NAME]}))
    assert st["result"]["status"] == "ok", st
    assert st["result"]["data"]["varbinds"] == [
        {"oid": "." + SYS_NAME, "type": "STRING", "value": "isp-gw"}]
    st = command(site, dict(base, type="snmp.walk", context="linksys-system",
                            args={"oid": "1.3.6.1.2.1.1"}))
    assert st["result"]["status"] == "ok", st
    oids = [v["oid"] for v in st["result"]["data"]["varbinds"]]
    assert oids == snmpsim.recordings["linksys-system"].oids
    # The same credential in another context reads another device.
    st = command(site, dict(base, type="snmp.get", context="solaris-system",
                            args={"oids": [SYS_NAME]}))
    assert st["result"]["status"] == "ok", st
    assert st["result"]["data"]["varbinds"][0]["value"] != "isp-gw"


def test_hub_inline_credential_with_context(site, snmpsim):
    cred = dict(SIM_V3, version="3", context="linksys-system")
    st = command(site, {"type": "snmp.get", "target": snmpsim.target, "credential": cred,
                        "args": {"oids": [SYS_DESCR]}})
    assert st["result"]["status"] == "ok", st
    assert st["result"]["data"]["varbinds"][0]["value"] == "BEFSX41"


def test_hub_context_refused_for_v2c_and_checked_by_the_hub(site, snmpsim):
    st = command(site, {"type": "snmp.get", "target": snmpsim.target,
                        "credential": "sim-v2c", "context": "linksys-system",
                        "args": {"oids": [SYS_DESCR]}})
    assert st["result"]["status"] == "refused", st
    assert "context is for version 3 only" in st["result"]["error"], st
    for bad in (42, "x" * 33):
        site.queue("sim", {"type": "snmp.get", "target": snmpsim.target,
                           "credential": "sim-v3", "context": bad,
                           "args": {"oids": [SYS_DESCR]}}, expect=400)


def test_hub_get_v1_returns_partial_results(site, snmpsim):
    """A v1 agent refuses the whole GET for one unknown OID: the command
    still returns the others, and names the refused one."""
    rec_of(snmpsim, "linksys-system")
    st = command(site, {"type": "snmp.get", "target": snmpsim.target, "credential": "sim-v1",
                        "args": {"oids": [SYS_NAME, "1.3.6.1.2.1.1.99.0", SYS_DESCR]}})
    assert st["result"]["status"] == "ok", st
    data = st["result"]["data"]
    assert data["varbinds"] == [
        {"oid": "." + SYS_NAME, "type": "STRING", "value": "isp-gw"},
        {"oid": "." + SYS_DESCR, "type": "STRING", "value": "BEFSX41"}]
    assert data["errors"] == [{"oid": ".1.3.6.1.2.1.1.99.0", "error":
                               "(noSuchName) There is no such variable name in this MIB."}]
    # Nothing left: an error, still with the per-OID errors.
    st = command(site, {"type": "snmp.get", "target": snmpsim.target, "credential": "sim-v1",
                        "args": {"oids": ["1.3.6.1.2.1.1.99.0"]}})
    assert st["result"]["status"] == "error", st
    assert [e["oid"] for e in st["result"]["data"]["errors"]] == [".1.3.6.1.2.1.1.99.0"]
