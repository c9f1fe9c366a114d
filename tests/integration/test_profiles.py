"""Profiles and samples, through `outpost poll` against real snmpd:

- every profile gives exactly one sample per device and poll, all of one
  shape (docs/protocol.md), `host` included (two tables, one sample);
- a device with nothing for a profile gives one sample marked no_data;
- big tables come out whole; an endless one stops at the row cap, and the
  cap is reported in the sample and on stderr;
- profile names: built-in ones come from one table (config/profiles.c):
  `poll --help` lists them, an unknown name is refused by `poll` and by
  `check-config` with FILE:LINE.

Big tables are served by snmpd's pass_persist with bigtable_persist.py.
"""

import os
import re
import stat

import pytest

from outpost_cli import assert_usage_error, netsnmp, outpost_run, parse_varbinds
from snmpd_fixture import SnmpdFarm

HERE = os.path.dirname(os.path.abspath(__file__))
PERSIST = os.path.join(HERE, "bigtable_persist.py")
BIG_BASE = "1.3.6.1.4.1.99999.1.1.1"
BIG_COLS = [f"{BIG_BASE}.{c}" for c in (2, 3, 4)]
BIG_ROWS = 3000

HR_STORAGE_DESCR = "1.3.6.1.2.1.25.2.3.1.3"
HR_SYSTEM_UPTIME = "1.3.6.1.2.1.25.1.1.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
SAMPLE_KEYS = {"device", "ts", "profile", "no_data", "scalars", "tables"}

# A community that sees nothing of IF-MIB and HOST-RESOURCES-MIB.
NOIF_VIEW = [
    "view noif included .1",
    "view noif excluded .1.3.6.1.2.1.2",
    "view noif excluded .1.3.6.1.2.1.31",
    "view noif excluded .1.3.6.1.2.1.25",
    "rocommunity noif 127.0.0.0/8 -V noif",
]


def builtin_profiles():
    """The built-in profile names as docs/config.md lists them (generated
    from config/profiles.c by `make docs`)."""
    with open(os.path.join(HERE, "..", "..", "docs", "config.md")) as f:
        text = f.read()
    section = text.split("## Built-in profiles", 1)[1].split("\n## ", 1)[0]
    names = re.findall(r"^### (\S+)$", section, re.M)
    assert len(names) >= 3, section
    return names


@pytest.fixture(scope="module")
def lab():
    persist = "pass_persist .1.3.6.1.4.1.99999.1 /usr/bin/python3 " + PERSIST
    assert os.stat(PERSIST).st_mode & stat.S_IROTH, "snmpd (nobody) must read it"
    with SnmpdFarm() as farm:
        class Lab:
            plain = farm.start_one(extra_config=NOIF_VIEW + [f"{persist} {BIG_ROWS}"])
            endless = farm.start_one(extra_config=[f"{persist} 0"])
        yield Lab


def poll(outpost, dev, *args, community="public", timeout=120):
    return outpost_run(outpost, "poll", "-c", community, *args, dev.target,
                       timeout=timeout)


def samples_of(r):
    import json
    out = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    for s in out:
        assert set(s) == SAMPLE_KEYS, s
        assert isinstance(s["no_data"], bool) and isinstance(s["scalars"], dict), s
        for t in s["tables"].values():
            assert isinstance(t["truncated"], bool), s
            for vals in t["rows"].values():
                assert len(vals) == len(t["columns"]), s
    return out


def user_profile_config(tmp_path, text, community="public", version="2c"):
    path = tmp_path / "outpost.ini"
    path.write_text(f"[credential lab]\nversion = {version}\ncommunity = {community}\n\n"
                    + text)
    path.chmod(0o600)
    return str(path)


# ---------------------------------------------------------------------------
# one sample per device, profile and poll


def test_every_builtin_profile_gives_one_sample_per_poll(outpost, lab):
    names = builtin_profiles()
    args = [a for n in names for a in ("--profile", n)]
    r = poll(outpost, lab.plain, *args)
    assert r.returncode == 0, r
    got = samples_of(r)
    assert [s["profile"] for s in got] == names, r
    for s in got:
        assert s["device"] == lab.plain.target and not s["no_data"], s
    by = {s["profile"]: s for s in got}
    assert by["system"]["scalars"]["." + SYS_NAME] == lab.plain.sys_name


def test_host_profile_is_one_sample_with_a_table_per_hr_table(outpost, lab):
    r = poll(outpost, lab.plain, "--profile", "host")
    assert r.returncode == 0, r
    (s,) = samples_of(r)
    assert "." + HR_SYSTEM_UPTIME in s["scalars"], s
    # Each HOST-RESOURCES table under its own name, never merged by index.
    assert set(s["tables"]) <= {"hrStorage", "hrProcessor"}, s
    storage = s["tables"]["hrStorage"]
    assert all(c.startswith(".1.3.6.1.2.1.25.2.3.1.") for c in storage["columns"]), s
    want = {vb.oid.rsplit(".", 1)[1]: vb.text.split(": ", 1)[1].strip('"') for vb in
            parse_varbinds(netsnmp("snmpbulkwalk", "-v2c", "-c", "public",
                                   lab.plain.target, HR_STORAGE_DESCR).stdout)}
    descr = storage["columns"].index("." + HR_STORAGE_DESCR)
    assert {inst: row[descr] for inst, row in storage["rows"].items()} == want
    for t in s["tables"].values():
        assert all(v is not None for row in t["rows"].values() for v in row), s


def test_two_devices_two_profiles_four_samples(outpost, lab):
    r = outpost_run(outpost, "poll", "-c", "public", "--profile", "system",
                    "--profile", "interfaces", lab.plain.target, lab.endless.target)
    assert r.returncode == 0, r
    got = samples_of(r)
    assert sorted((s["device"], s["profile"]) for s in got) == sorted(
        (d.target, p) for d in (lab.plain, lab.endless) for p in ("system", "interfaces"))


# ---------------------------------------------------------------------------
# no data


def test_no_data_is_one_marked_sample_for_every_profile(outpost, lab):
    names = builtin_profiles()
    args = [a for n in names for a in ("--profile", n)]
    r = poll(outpost, lab.plain, *args, community="noif")
    assert r.returncode == 0, r
    got = {s["profile"]: s for s in samples_of(r)}
    assert sorted(got) == sorted(names), r
    for name in ("interfaces", "host"):
        assert got[name]["no_data"] is True, got[name]
        assert got[name]["scalars"] == {} and got[name]["tables"] == {}, got[name]
    assert got["system"]["no_data"] is False


@pytest.mark.parametrize("version", ["1", "2c"])
def test_user_profile_missing_objects_left_out_or_no_data(outpost, lab, tmp_path, version):
    cfg = user_profile_config(tmp_path, (
        "[profile some]\n"
        f"scalars = 1.3.6.1.4.1.99998.1.0 {SYS_NAME} 1.3.6.1.4.1.99998.2.0\n"
        f"columns = 1.3.6.1.4.1.99998.3.1.2 {IF_DESCR}\n\n"
        "[profile none]\n"
        "scalars = 1.3.6.1.4.1.99998.1.0\n"
        "columns = 1.3.6.1.4.1.99998.3.1.2\n"), version=version)
    r = outpost_run(outpost, "poll", "--config", cfg, "--profile", "some",
                    "--profile", "none", lab.plain.target)
    assert r.returncode == 0, r
    some, none = samples_of(r)
    # v1 refuses a GET with a missing OID as a whole: the agent asks again
    # without it, so the objects the device has still arrive.
    assert some["scalars"] == {"." + SYS_NAME: lab.plain.sys_name}, some
    assert some["no_data"] is False
    assert some["tables"]["some"]["columns"] == ["." + IF_DESCR], some
    assert none["no_data"] is True and none["scalars"] == {} and none["tables"] == {}


# ---------------------------------------------------------------------------
# big tables and the row cap


def test_big_table_comes_out_whole(outpost, lab, tmp_path):
    cfg = user_profile_config(tmp_path, "[profile big]\ncolumns = " + " ".join(BIG_COLS) + "\n")
    r = outpost_run(outpost, "poll", "--config", cfg, "--profile", "big",
                    lab.plain.target, timeout=300)
    assert r.returncode == 0 and "warning" not in r.stderr, r
    (s,) = samples_of(r)
    t = s["tables"]["big"]
    assert t["truncated"] is False and "rows_max" not in t
    assert t["columns"] == ["." + c for c in BIG_COLS]
    assert list(t["rows"]) == [str(i) for i in range(1, BIG_ROWS + 1)]
    for i in (1, 2, BIG_ROWS // 2, BIG_ROWS):
        assert t["rows"][str(i)] == [f"row-{i}", 2 ** 64 - 1 - i, i % 7], i


def test_endless_table_stops_at_the_cap_and_says_so(outpost, lab, tmp_path):
    cfg = user_profile_config(tmp_path, "[profile big]\ncolumns = " + " ".join(BIG_COLS) + "\n")
    r = outpost_run(outpost, "poll", "--config", cfg, "--profile", "big",
                    "--max-rows", "500", lab.endless.target, timeout=120)
    assert r.returncode == 0, r
    (s,) = samples_of(r)
    t = s["tables"]["big"]
    assert t["truncated"] is True and t["rows_max"] == 500, {k: t[k] for k in t if k != "rows"}
    assert list(t["rows"]) == [str(i) for i in range(1, 501)]
    assert t["rows"]["500"] == ["row-500", 2 ** 64 - 1 - 500, 500 % 7]
    warn = [ln for ln in r.err_lines if "warning" in ln]
    assert len(warn) == 1 and "big" in warn[0] and "500" in warn[0], r


def test_max_rows_is_checked_like_the_config_key(outpost, lab):
    line = assert_usage_error(poll(outpost, lab.plain, "--max-rows", "0"))
    assert "max_rows" in line and "1..100000" in line, line


# ---------------------------------------------------------------------------
# profile names


def test_poll_help_lists_every_builtin_profile(outpost):
    r = outpost_run(outpost, "poll", "--help")
    assert r.returncode == 0, r
    listed = r.stdout.split("Built-in profiles:", 1)[1].split("\n\n", 1)[0]
    assert re.findall(r"^  (\S+) ", listed, re.M) == builtin_profiles(), r


def test_poll_refuses_an_unknown_profile_naming_the_known_ones(outpost, lab):
    line = assert_usage_error(poll(outpost, lab.plain, "--profile", "interfacez"))
    assert "unknown profile 'interfacez'" in line, line
    for name in builtin_profiles():
        assert name in line, line


def test_check_config_refuses_unknown_and_shadowing_profiles(outpost, tmp_path):
    path = tmp_path / "outpost.ini"
    path.write_text("[agent]\nstate_dir = /tmp\n\n[poll]\ninterval = 1m\n"
                    "profiles = system nosuch\n")
    r = outpost_run(outpost, "check-config", "-c", str(path))
    assert r.returncode == 1, r
    assert re.search(rf"^{re.escape(str(path))}:6: \[poll\] profiles names 'nosuch'",
                     r.stderr, re.M), r
    for name in builtin_profiles():
        path.write_text(f"[poll]\nprofiles = {name}\n\n[profile {name}]\n"
                        f"scalars = {SYS_NAME}\n")
        r = outpost_run(outpost, "check-config", "-c", str(path))
        assert r.returncode == 1, r
        assert f"{path}:4: [profile {name}] '{name}' is a built-in profile" in r.stderr, r


# ---------------------------------------------------------------------------
# the service: the cap is in the sample and logged once per device


def test_agent_reports_the_cap_in_samples_and_logs_it_once(outpost, lab, tmp_path):
    from agent_fixture import AgentProcess
    from hub_fixture import HubProcess, hub_binary
    from test_service import run_ok, wait_for, wait_polling

    dev = lab.endless
    hub = HubProcess(hub_binary(), str(tmp_path / "hub"), max_poll_wait="5s").start()
    agent = AgentProcess(outpost, str(tmp_path / "agent"), f"http://127.0.0.1:{hub.port}",
                         hub.add_agent("caps"), allow=None, poll_wait="5s",
                         credentials={"lab": {"version": "2c", "community": "public"}},
                         extra={"scan": {"networks": dev.addr, "port": str(dev.port),
                                         "interval": "1h", "timeout": "300ms"},
                                "poll": {"interval": "1d", "profiles": "system big",
                                         "max_rows": "100"},
                                "profile big": {"columns": " ".join(BIG_COLS)}})
    try:
        agent.start()
        wait_polling(hub, "caps")
        wait_for("the device in the inventory",
                 lambda: hub.json("GET", "/v1/agents/caps/devices"), 15)
        for _ in range(2):
            data = run_ok(hub, "caps", {"type": "poll.now",
                                        "args": {"device": dev.target, "profile": "big"}})
            (s,) = data["samples"]
            t = s["tables"]["big"]
            assert t["truncated"] is True and t["rows_max"] == 100, s["profile"]
            assert len(t["rows"]) == 100
        lines = [ln for ln in agent.log(True).splitlines() if "max_rows" in ln]
        assert len(lines) == 1, agent.log(True)
        assert dev.target in lines[0] and "table big has more than 100 rows" in lines[0]
        assert agent.stop() == 0, agent.log()
    finally:
        agent.stop()
        hub.stop()
