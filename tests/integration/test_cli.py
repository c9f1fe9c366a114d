"""outpost get, the command dispatcher, and what every command does with bad
input: real binary, real snmpd on loopback.

Usage errors exit 2 with exactly one line on stderr; configuration and
runtime errors exit 1 with a message; nothing ever crashes (the same tests
run under ASan+UBSan with `make asan`).
"""

import json
import os
import re

import pytest

from outpost_cli import (FAST, SYSDESCR, SYSNAME, SYSOBJECTID, V3_FLAGS, run,
                         assert_one_clear_line, assert_usage_error,
                         netsnmp, outpost_run)
from snmpd_fixture import SnmpdFarm

# Nothing listens here (discard port); used where outpost must refuse the
# input before it sends anything. Loopback, so a bug that sends anyway
# stays on this machine.
NOWHERE = "127.0.0.1:9"


@pytest.fixture(scope="module")
def farm():
    with SnmpdFarm() as f:
        yield f


@pytest.fixture(scope="module")
def dev(farm):
    """One device on 127.77.x.y:1161, community public, v3 testv3."""
    return farm.start_one()


@pytest.fixture(scope="module")
def dev_port(farm):
    """A device on a non-default port."""
    return farm.start_one(port=1163, sys_name="on-1163")


# ---------------------------------------------------------------------------
# version, help, dispatcher


def test_version(outpost):
    r = outpost_run(outpost, "version")
    assert r.returncode == 0, r
    assert re.match(r"^outpost \d+\.\d+\.\d+\b", r.stdout), r
    assert "net-snmp" in r.stdout
    assert r.stderr == ""
    r2 = outpost_run(outpost, "--version")
    assert r2.returncode == 0 and r2.stdout == r.stdout, r2


def test_help(outpost):
    r = outpost_run(outpost, "--help")
    assert r.returncode == 0, r
    assert r.stdout.startswith("usage: outpost COMMAND")
    for cmd in ("scan", "get", "walk", "check-config", "version"):
        assert re.search(rf"^  {cmd}\b", r.stdout, re.M), f"{cmd} missing from --help\n{r}"


@pytest.mark.parametrize("cmd", ["scan", "get", "walk", "check-config"])
def test_command_help(outpost, cmd):
    r = outpost_run(outpost, cmd, "--help")
    assert r.returncode == 0, r
    assert r.stdout.startswith(f"usage: outpost {cmd}"), r
    assert r.stderr == ""


def test_unknown_command_is_usage_error(outpost):
    line = assert_usage_error(outpost_run(outpost, "nosuchcmd"))
    assert "nosuchcmd" in line


def test_no_command_is_usage_error(outpost):
    r = outpost_run(outpost)
    assert r.returncode == 2, r
    assert "usage: outpost" in r.stderr and r.stdout == ""


# ---------------------------------------------------------------------------
# get


def test_get_v2c_matches_snmpget(outpost, dev):
    oids = [SYSDESCR, SYSNAME, SYSOBJECTID]
    r = outpost_run(outpost, "get", "-c", "public", dev.target, *oids)
    assert r.returncode == 0 and r.stderr == "", r
    ref = netsnmp("snmpget", "-v2c", "-c", "public", dev.target, *oids)
    assert ref.returncode == 0, ref
    assert r.stdout == ref.stdout
    assert f'.{SYSNAME} = STRING: "{dev.sys_name}"' in r.stdout.splitlines()


def test_get_missing_objects_match_snmpget(outpost, dev):
    """noSuchObject / noSuchInstance are printed like snmpget, exit 0."""
    oids = [SYSNAME, "1.3.6.1.2.1.1.99.0", SYSDESCR + ".1"]
    r = outpost_run(outpost, "get", "-c", "public", dev.target, *oids)
    ref = netsnmp("snmpget", "-v2c", "-c", "public", dev.target, *oids)
    assert r.returncode == ref.returncode == 0, r
    assert r.stdout == ref.stdout
    assert "No Such Object" in r.stdout and "No Such Instance" in r.stdout


def test_get_builtin_name(outpost, dev):
    r = outpost_run(outpost, "get", "-c", "public", dev.target, "sysName.0")
    assert r.returncode == 0, r
    assert r.stdout == f'.{SYSNAME} = STRING: "{dev.sys_name}"\n'


def test_get_json(outpost, dev):
    oids = [SYSDESCR, SYSNAME, SYSOBJECTID]
    r = outpost_run(outpost, "get", "--json", "-c", "public", dev.target, *oids)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert len(lines) == 3, r
    objs = [json.loads(ln) for ln in lines]
    for o, oid in zip(objs, oids):
        assert {"oid", "type", "value"} <= set(o) <= {"oid", "type", "value", "name"}, o
        assert o["oid"] == "." + oid
        assert all(isinstance(v, str) for v in o.values()), o
    assert objs[1]["value"] == dev.sys_name
    assert objs[1]["type"] == "STRING" and objs[1]["name"] == "sysName.0"
    assert objs[0]["value"] == f"Test device {dev.addr}"
    assert objs[0]["name"] == "sysDescr.0"
    ref = netsnmp("snmpget", "-Oqv", "-v2c", "-c", "public", dev.target, SYSOBJECTID)
    assert objs[2]["type"] == "OID" and objs[2]["value"] == ref.stdout.strip()


def test_get_v3_authpriv(outpost, dev):
    r = outpost_run(outpost, "get", *V3_FLAGS, dev.target, SYSNAME, SYSDESCR)
    assert r.returncode == 0 and r.stderr == "", r
    ref = netsnmp("snmpget", *V3_FLAGS, dev.target, SYSNAME, SYSDESCR)
    assert r.stdout == ref.stdout
    assert r.stdout.startswith(f'.{SYSNAME} = STRING: "{dev.sys_name}"\n')


def test_get_v3_wrong_auth_password(outpost, dev):
    flags = list(V3_FLAGS)
    flags[flags.index("authpass123")] = "wrongpass123"
    r = outpost_run(outpost, "get", *flags, *FAST, dev.target, SYSNAME)
    assert r.returncode == 1, r
    assert r.stdout == ""
    line = assert_one_clear_line(r)
    assert "authentication" in line.lower() and dev.target in line
    assert "wrongpass123" not in r.stderr
    assert r.elapsed < 2.0, "a REPORT answers at once; no need to wait for a timeout"


def test_get_v3_unknown_user(outpost, dev):
    flags = list(V3_FLAGS)
    flags[flags.index("testv3")] = "nosuchuser"
    r = outpost_run(outpost, "get", *flags, *FAST, dev.target, SYSNAME)
    assert r.returncode == 1, r
    assert r.stdout == ""
    line = assert_one_clear_line(r)
    assert "user" in line.lower() and dev.target in line
    assert r.elapsed < 2.0


def test_get_wrong_community_times_out(outpost, dev):
    r = outpost_run(outpost, "get", "-c", "wrong", *FAST, dev.target, SYSNAME)
    assert r.returncode == 1, r
    assert r.stdout == ""
    line = assert_one_clear_line(r)
    assert "timeout" in line.lower() and dev.target in line
    assert 0.25 <= r.elapsed < 2.0, r


def test_get_timeout_honours_retries(outpost, dev):
    """-t 200ms -r 2: three tries, about 0.6 s."""
    r = outpost_run(outpost, "get", "-c", "wrong", "-t", "200ms", "-r", "2",
                    dev.target, SYSNAME)
    assert r.returncode == 1 and "timeout" in r.stderr.lower(), r
    assert 0.55 <= r.elapsed < 2.5, r


def test_get_no_agent_is_port_unreachable(outpost, farm):
    target = f"{farm.free_address()}:1161"
    r = outpost_run(outpost, "get", "-c", "public", "-t", "2", "-r", "1", target, SYSNAME)
    assert r.returncode == 1, r
    line = assert_one_clear_line(r)
    assert "port unreachable" in line and target in line
    assert r.elapsed < 1.5, "ICMP port-unreachable must end the request at once"


def test_get_non_default_port(outpost, dev_port):
    r = outpost_run(outpost, "get", "-c", "public", dev_port.target, SYSNAME)
    assert r.returncode == 0, r
    assert r.stdout == f'.{SYSNAME} = STRING: "on-1163"\n'


def test_get_v1(outpost, dev):
    r = outpost_run(outpost, "get", "-v1", "-c", "public", dev.target, SYSNAME, SYSDESCR)
    ref = netsnmp("snmpget", "-v1", "-c", "public", dev.target, SYSNAME, SYSDESCR)
    assert r.returncode == 0, r
    assert r.stdout == ref.stdout


def test_get_v1_no_such_name(outpost, dev):
    """v1 has no exceptions: the agent answers noSuchName, an error; as
    snmpget, outpost prints its block, GETs the other OIDs again, exits 2."""
    args = ["-v1", "-c", "public", *FAST, dev.target, SYSNAME, "1.3.6.1.2.1.1.99.0"]
    r = outpost_run(outpost, "get", *args)
    ref = netsnmp("snmpget", *args)
    assert r.returncode == ref.returncode == 2, r
    assert r.stdout == ref.stdout == f'.1.3.6.1.2.1.1.5.0 = STRING: "{dev.sys_name}"\n'
    assert r.stderr == ref.stderr, r
    assert "noSuchName" in r.stderr and "Failed object: .1.3.6.1.2.1.1.99.0\n" in r.stderr


# ---------------------------------------------------------------------------
# Malformed input: exit 2 and one line that names what is wrong.

T = ["-c", "public", *FAST]

# (argv, text the single stderr line must contain)
USAGE_ERRORS = [
    # scan targets (all on 127/8: a parser bug must not send traffic elsewhere)
    (["scan", *T, "127.0.0.0/33"], "127.0.0.0/33"),
    (["scan", *T, "127.0.1"], "127.0.1"),
    (["scan", *T, "127.0.0.5-3"], "127.0.0.5-3"),
    (["scan", *T, "127.0.0.256"], "127.0.0.256"),
    (["scan", *T, "127.256.0.1"], "127.256.0.1"),
    (["scan", *T, "127.0.0.0/8"], "127.0.0.0/8"),
    (["scan", *T, "127.0.0.0/11"], "127.0.0.0/11"),
    (["scan", *T, "127.0.0.1-"], "127.0.0.1-"),
    (["scan", *T, "127.0.0.9-127.0.0.1"], "127.0.0.9-127.0.0.1"),
    (["scan", *T, "127.0.0.1:0"], "127.0.0.1:0"),
    (["scan", *T, "127.0.0.0/33:161"], "127.0.0.0/33"),
    (["scan", *T, "abc"], "abc"),
    (["scan", *T, ""], "empty"),
    (["scan", *T, "127.0.0.1", "127.0.0.0/33"], "127.0.0.0/33"),
    # OIDs
    (["get", *T, NOWHERE, "1..3"], "1..3"),
    (["get", *T, NOWHERE, "abc"], "abc"),
    (["get", *T, NOWHERE, "1.3.x"], "1.3.x"),
    (["get", *T, NOWHERE, "1.3."], "1.3."),
    (["get", *T, NOWHERE, ""], "OID"),
    (["get", *T, NOWHERE, "1.3.6.1.4294967296"], "1.3.6.1.4294967296"),
    (["get", *T, NOWHERE, ".".join(["1"] * 129)], "1.1.1"),
    (["get", *T, NOWHERE, SYSNAME, "1.3.x"], "1.3.x"),
    # An OID's first arc is 0, 1 or 2 (X.660); others cannot be encoded.
    (["get", *T, NOWHERE, "3.1"], "3.1"),
    (["get", *T, NOWHERE, "4294967295.1"], "4294967295.1"),
    (["walk", *T, NOWHERE, "1..3"], "1..3"),
    (["walk", *T, NOWHERE, "abc"], "abc"),
    (["walk", *T, NOWHERE, "1.3.x"], "1.3.x"),
    (["walk", *T, NOWHERE, "3.0"], "3.0"),
    (["walk", *T, NOWHERE, "1.3", "1.4"], "one OID"),
    # flags
    (["get", "--bogus", *T, NOWHERE, SYSNAME], "--bogus"),
    (["get", *T, NOWHERE, SYSNAME, "-Z"], "-Z"),
    (["get", *T, "-Zq", NOWHERE, SYSNAME], "-Z"),
    (["get", "-v", "4", "-c", "public", NOWHERE, SYSNAME], "'4'"),
    (["get", "-u", "testv3", "-l", "badlevel", NOWHERE, SYSNAME], "badlevel"),
    (["get", "-t", "abc", "-c", "public", NOWHERE, SYSNAME], "'-t'"),
    (["get", "-t", "0", "-c", "public", NOWHERE, SYSNAME], "'-t'"),
    (["get", "-r", "-1", "-c", "public", NOWHERE, SYSNAME], "'-r'"),
    (["get", "-r", "99", "-c", "public", NOWHERE, SYSNAME], "'-r'"),
    (["get", "-c", "public", NOWHERE, SYSNAME, "-t"], "-t"),
    (["get", "-c"], "-c"),
    (["get", "-c", "a", "-c", "b", NOWHERE, SYSNAME], "-c"),
    (["get", NOWHERE, SYSNAME], "credential"),
    (["get", "--credential", "x", NOWHERE, SYSNAME], "--config"),
    (["walk", *T, "--max-repetitions", "0", NOWHERE], "--max-repetitions"),
    (["walk", *T, "--max-varbinds", "x", NOWHERE], "--max-varbinds"),
    (["scan", *T, "--rate", "-1", "127.0.0.1"], "--rate"),
    (["scan", *T, "--rate", "abc", "127.0.0.1"], "--rate"),
    (["scan", *T, "--port", "0", "127.0.0.1"], "--port"),
    (["scan", *T, "--port", "65536", "127.0.0.1"], "--port"),
    (["scan", *T, "--concurrency", "0", "127.0.0.1"], "--concurrency"),
    (["scan", "-c", "public", "-t", "abc", "127.0.0.1"], "'-t'"),
    (["scan", "-c", "public", "-v", "4", "127.0.0.1"], "'4'"),
    (["scan", "--json", "-u", "testv3", "-l", "badlevel", "127.0.0.1"], "badlevel"),
    (["scan", *T, "127.0.0.1", "--port"], "--port"),
    (["check-config", "-x"], "-x"),
    (["check-config", "-c"], "-c"),
    # missing operands, bad ports
    (["get", *T], "HOST"),
    (["get", *T, NOWHERE], "OID"),
    (["walk", *T], "HOST"),
    (["scan", *T], "TARGET"),
    (["scan"], "TARGET"),
    (["check-config"], "-c FILE"),
    (["get", *T, "127.0.0.1:99999", SYSNAME], "127.0.0.1:99999"),
    (["get", *T, "127.0.0.1:0", SYSNAME], "127.0.0.1:0"),
    (["get", *T, "127.0.0.1:abc", SYSNAME], "127.0.0.1:abc"),
    (["get", *T, "127.0.0.1:", SYSNAME], "127.0.0.1:"),
    (["walk", *T, "127.0.0.1:99999"], "127.0.0.1:99999"),
    (["get", *T, "", SYSNAME], "address"),
    (["get", *T, ":1161", SYSNAME], ":1161"),
]


@pytest.mark.parametrize("argv,needle", USAGE_ERRORS,
                         ids=[" ".join(a) or "-" for a, _ in USAGE_ERRORS])
def test_usage_error(outpost, argv, needle):
    r = outpost_run(outpost, *argv, timeout=15)
    line = assert_usage_error(r)
    assert needle in line, f"the message should name {needle!r}\n{r}"


def test_config_with_flags_is_usage_error(outpost, tmp_path):
    cfg = tmp_path / "c.ini"
    cfg.write_text("[credential a]\ncommunity = public\n")
    cfg.chmod(0o600)
    r = outpost_run(outpost, "get", "--config", str(cfg), "-c", "public", NOWHERE, SYSNAME)
    line = assert_usage_error(r)
    assert "--config" in line


def test_many_communities_refused_cleanly(outpost):
    """More -c than outpost keeps: a usage error, not an overflow."""
    comms = [x for i in range(40) for x in ("-c", f"c{i}")]
    r = outpost_run(outpost, "scan", *comms, *FAST, "127.0.0.1")
    line = assert_usage_error(r)
    assert "-c" in line


# ---------------------------------------------------------------------------
# Configuration files: check-config, and --config on get/scan


CRED_V2C = "[credential lab]\nversion = 2c\ncommunity = s3cret-community\n"


def write_cfg(tmp_path, text, mode=0o600, name="outpost.ini"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    p.chmod(mode)
    return str(p)


def test_check_config_ok(outpost, tmp_path):
    """A file without [server] is fine for the one-shot commands, and
    check-config says that this is all it checked."""
    path = write_cfg(tmp_path, CRED_V2C + "\n[agent]\nlog_level = debug\n")
    r = outpost_run(outpost, "check-config", "-c", path)
    assert r.returncode == 0, r
    assert r.stdout == "configuration OK\n"
    line = assert_one_clear_line(r)
    assert line.startswith("outpost check-config: ") and "outpost run" in line, r


def run_ready_cfg(tmp_path, state=None, token="agent.tok-en_1", token_mode=0o600,
                  extra=""):
    """A file for `outpost run`: [server] on a loopback port nothing
    listens on, its token file, state_dir in tmp_path."""
    tok = tmp_path / "agent.token"
    tok.write_text(token + "\n")
    tok.chmod(token_mode)
    state = state or str(tmp_path / "state")
    return write_cfg(tmp_path, f"[agent]\nstate_dir = {state}\n"
                     f"[server]\nurl = http://{NOWHERE}\ntoken_file = {tok}\n"
                     + extra + CRED_V2C)


def test_check_config_of_a_service_file_checks_what_run_needs(outpost, tmp_path):
    path = run_ready_cfg(tmp_path)
    r = outpost_run(outpost, "check-config", "-c", path)
    assert r.returncode == 0 and r.stdout == "configuration OK\n", r
    assert r.stderr == "", r
    assert not (tmp_path / "state").exists(), "check-config must not create state_dir"


# What `outpost run` refuses although the file parses: check-config must
# refuse it too, naming the same problem.
def _not_a_dir(tmp_path):
    (tmp_path / "plain-file").write_text("")
    return {"state": str(tmp_path / "plain-file" / "state")}


RUN_REFUSALS = [
    ("token-readable", lambda p: {"token_mode": 0o644}, "chmod 600"),
    ("token-bad-chars", lambda p: {"token": "two words"}, "A-Za-z0-9"),
    ("token-missing", lambda p: {"extra": ""}, "agent.token"),
    ("state-under-a-file", _not_a_dir, "state_dir"),
]


# [server] files and values the transport would only trip over at its
# first connection: refused at load, FILE:LINE first, by every command.
def _key_file(p, mode):
    for name in ("agent.crt", "agent.key"):
        (p / name).write_text("-----BEGIN X-----\n")
    (p / "agent.key").chmod(mode)
    return {"extra": f"client_cert = {p}/agent.crt\nclient_key = {p}/agent.key\n"}


LOAD_REFUSALS = [
    ("ca-file-missing", lambda p: {"extra": f"ca_file = {p}/no-ca.pem\n"},
     "ca_file", "No such file"),
    ("ca-file-a-directory", lambda p: {"extra": f"ca_file = {p}\n"},
     "ca_file", "not a regular file"),
    ("pin-malformed", lambda p: {"extra": "pinned_pubkey = sha256//abc\n"},
     "pinned_pubkey", "sha256//BASE64"),
    ("pin-second-malformed", lambda p: {"extra": "pinned_pubkey = sha256//" + "A" * 43
                                        + "=;sha256//" + "B" * 44 + "\n"},
     "pinned_pubkey", "sha256//BASE64"),
    ("pin-file-missing", lambda p: {"extra": f"pinned_pubkey = {p}/no.pem\n"},
     "pinned_pubkey", "No such file"),
    ("client-key-world-readable", lambda p: _key_file(p, 0o644), "client_key", "chmod 600"),
    ("client-key-group-readable", lambda p: _key_file(p, 0o640), "client_key", "chmod 600"),
    ("proxy-with-plain-http", lambda p: {"extra": "proxy = http://127.0.0.1:3128\n"},
     "proxy", "clear text"),
]


@pytest.mark.parametrize("case,kw,key,needle", LOAD_REFUSALS,
                         ids=[c for c, _, _, _ in LOAD_REFUSALS])
def test_server_files_and_values_are_checked_at_load(outpost, tmp_path, case, kw, key, needle):
    path = run_ready_cfg(tmp_path, **kw(tmp_path))
    lines = open(path).read().splitlines()
    lineno = next(i + 1 for i, ln in enumerate(lines) if ln.startswith(key + " "))
    for cmd in ("check-config", "run"):
        r = outpost_run(outpost, cmd, "-c", path, timeout=15)
        assert r.returncode == 1, r
        assert "configuration OK" not in r.stdout, r
        line = assert_one_clear_line(r)
        assert line.startswith(f"{path}:{lineno}: ") and key in line and needle in line, r
        assert "BEGIN" not in line


def test_a_good_pin_and_an_owner_only_client_key_pass(outpost, tmp_path):
    extra = _key_file(tmp_path, 0o600)["extra"]
    extra += "pinned_pubkey = sha256//" + "A" * 43 + "=;sha256//" + "b+/9" * 10 + "xyz=\n"
    path = run_ready_cfg(tmp_path, extra=extra)
    r = outpost_run(outpost, "check-config", "-c", path)
    assert r.returncode == 0 and r.stdout == "configuration OK\n", r


@pytest.mark.parametrize("case,kw,needle", RUN_REFUSALS,
                         ids=[c for c, _, _ in RUN_REFUSALS])
def test_check_config_refuses_what_run_refuses(outpost, tmp_path, case, kw, needle):
    path = run_ready_cfg(tmp_path, **kw(tmp_path))
    if case == "token-missing":
        (tmp_path / "agent.token").unlink()
    checked = outpost_run(outpost, "check-config", "-c", path)
    ran = outpost_run(outpost, "run", "-c", path, timeout=15)
    for r, cmd in ((checked, "check-config"), (ran, "run")):
        assert r.returncode == 1, r
        assert "configuration OK" not in r.stdout, r
        line = assert_one_clear_line(r)
        assert line.startswith(f"outpost {cmd}: ") and needle in line, r


def test_check_config_run_flag_needs_server(outpost, tmp_path):
    path = write_cfg(tmp_path, CRED_V2C)
    r = outpost_run(outpost, "check-config", "--run", "-c", path)
    assert r.returncode == 1, r
    line = assert_one_clear_line(r)
    assert line.startswith("outpost check-config: ") and "url and token_file" in line
    r = outpost_run(outpost, "run", "-c", path, timeout=15)
    assert r.returncode == 1 and "url and token_file" in assert_one_clear_line(r), r


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_world_or_group_readable_secrets_refused(outpost, tmp_path, mode):
    path = write_cfg(tmp_path, CRED_V2C, mode=mode)
    r = outpost_run(outpost, "check-config", "-c", path)
    assert r.returncode == 1, r
    line = assert_one_clear_line(r)
    assert path in line and "chmod 600" in line
    assert "s3cret-community" not in r.stdout + r.stderr
    assert "configuration OK" not in r.stdout

    r = outpost_run(outpost, "scan", "--config", path, "--port", "1", *FAST, "127.0.0.1")
    assert r.returncode == 1, r
    assert r.stdout == ""
    line = assert_one_clear_line(r)
    assert path in line and "chmod 600" in line
    assert "s3cret-community" not in r.stderr

    r = outpost_run(outpost, "get", "--config", path, *FAST, NOWHERE, SYSNAME)
    assert r.returncode == 1 and "chmod 600" in r.stderr, r


def test_readable_config_without_secrets_accepted(outpost, tmp_path):
    path = write_cfg(tmp_path, "[agent]\nlog_level = warn\n", mode=0o644)
    r = outpost_run(outpost, "check-config", "-c", path)
    assert r.returncode == 0 and r.stdout == "configuration OK\n", r


# (file text, text the single error line must contain after "PATH:LINE:")
CONFIG_ERRORS = [
    (CRED_V2C + "color = blue\n", ":4:", "color"),
    ("[credential a]\nversion = 4\ncommunity = x\n", ":2:", "version"),
    ("[credential a]\nversion = 2c\n", ":1:", "community"),
    ("[credential a]\nversion = 3\nauth_password = authpass123\n"
     "priv_password = privpass123\n", ":1:", "user"),
    ("[credential a]\nversion = 3\nuser = u\nauth_password = short\n"
     "priv_password = privpass123\n", ":4:", "8"),
    (CRED_V2C + "community = other\n", ":4:", "duplicate"),
    (CRED_V2C + "[credential lab]\ncommunity = x\n", ":4:", "duplicate"),
    ("[credential a b!]\ncommunity = x\n", ":1:", "a b!"),
    ("[credential]\ncommunity = x\n", ":1:", "NAME"),
    ("[bogus]\nx = 1\n", ":1:", "bogus"),
    ("[credential a\ncommunity = x\n", ":1:", "]"),
    ("[agent]\nlog_level = loud\n", ":2:", "loud"),
    ("[credential a]\nversion = 3\nuser = u\nauth_protocol = SHA-1024\n"
     "auth_password = authpass123\npriv_password = privpass123\n", ":4:", "SHA-1024"),
    ("[credential a]\nversion = 3\nuser = u\nlevel = authPriv\n"
     "auth_password = authpass123\n", ":1:", "priv_password"),
]


@pytest.mark.parametrize("text,where,needle", CONFIG_ERRORS,
                         ids=[f"cfg{i}" for i in range(len(CONFIG_ERRORS))])
def test_config_error(outpost, tmp_path, text, where, needle):
    path = write_cfg(tmp_path, text)
    for argv in (["check-config", "-c", path],
                 ["scan", "--config", path, "--port", "1", *FAST, "127.0.0.1"]):
        r = outpost_run(outpost, *argv)
        assert r.returncode == 1, r
        assert "configuration OK" not in r.stdout and "ADDRESS" not in r.stdout
        line = assert_one_clear_line(r)
        assert line.startswith(path + where), r
        assert needle in line, r


@pytest.mark.parametrize("text", [
    "[credential a]\n  community = public\n",            # indented
    "[credential a]\ncommunity public\n",                # no '='
    "[credential a]\ncommunity = " + "x" * 300 + "\n",   # line too long
    b"[credential a]\ncommunity = pub\0lic\n",           # NUL byte
    b"\x7fELF\x02\x01\x01\x00\x1b[31m\xff\xfe\n\x1b]0;title\x07 = 1\n",  # binary junk
    "[credential a]\n\x1b]0;pwned\x07 = 1\n",             # terminal escapes
], ids=["indented", "no-equals", "long-line", "nul", "binary", "escapes"])
def test_config_garbage_is_reported_not_echoed(outpost, tmp_path, text):
    """Every line of the report names the file; bytes from the file that
    would drive a terminal (ESC, BEL, NUL) are not copied to stderr."""
    path = write_cfg(tmp_path, text)
    r = outpost_run(outpost, "check-config", "-c", path)
    assert r.returncode == 1, r
    assert r.err_lines, r
    for ln in r.err_lines:
        assert ln.startswith(path + ":"), r
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", ln), f"control bytes echoed\n{r!r}"


@pytest.mark.parametrize("which", ["missing", "directory", "empty"])
def test_config_file_problems(outpost, tmp_path, which):
    if which == "missing":
        path = str(tmp_path / "nope.ini")
    elif which == "directory":
        path = str(tmp_path)
    else:
        path = write_cfg(tmp_path, "")
    r = outpost_run(outpost, "scan", "--config", path, "--port", "1", *FAST, "127.0.0.1")
    assert r.returncode == 1, r
    line = assert_one_clear_line(r)
    assert path in line
    if which == "empty":
        assert "credential" in line
        assert outpost_run(outpost, "check-config", "-c", path).returncode == 0
    else:
        r = outpost_run(outpost, "check-config", "-c", path)
        assert r.returncode == 1 and path in assert_one_clear_line(r), r


def test_credential_not_in_config(outpost, tmp_path):
    path = write_cfg(tmp_path, CRED_V2C)
    r = outpost_run(outpost, "get", "--config", path, "--credential", "nosuch",
                    *FAST, NOWHERE, SYSNAME)
    assert r.returncode == 1, r
    line = assert_one_clear_line(r)
    assert "nosuch" in line and path in line


def test_get_with_config_credentials(outpost, dev, tmp_path):
    path = write_cfg(tmp_path, "[credential v3]\nversion = 3\nuser = testv3\n"
                     "auth_password = authpass123\npriv_password = privpass123\n")
    r = outpost_run(outpost, "get", "--config", path, dev.target, SYSNAME)
    assert r.returncode == 0, r
    assert r.stdout == f'.{SYSNAME} = STRING: "{dev.sys_name}"\n'


# ---------------------------------------------------------------------------
# Every error names its command ("outpost CMD: ..."), as usage errors do;
# only the configuration file's own FILE:LINE diagnostics do not.


def error_cases(tmp_path):
    empty = write_cfg(tmp_path, "", name="empty.ini")
    creds = write_cfg(tmp_path, CRED_V2C, name="creds.ini")
    return [
        (["get", "-v", "9", "-c", "x", NOWHERE, SYSNAME], "get", "'9'"),
        (["get", "--config", creds, "--credential", "nosuch", NOWHERE, SYSNAME],
         "get", "nosuch"),
        (["walk", "-c", "a", "-c", "b", NOWHERE], "walk", "-c"),
        (["walk", "-u", "u", "-A", "short", NOWHERE], "walk", "8"),
        (["scan", "--config", empty, *FAST, "127.0.0.1"], "scan", "credential"),
        (["scan", "--config", creds, "-c", "public", "127.0.0.1"], "scan", "--config"),
        (["poll", "-c", "public", *FAST, "127.0.0.1:9"], "poll", "127.0.0.1:9"),
        (["poll", "--credential", "x", NOWHERE], "poll", "--config"),
        (["run", "-c", creds], "run", "token_file"),
        (["status", "-c", creds], "status", "status.json"),
        (["check-config", "--run", "-c", creds], "check-config", "url"),
    ]


def test_errors_name_their_command(outpost, tmp_path):
    for argv, cmd, needle in error_cases(tmp_path):
        r = outpost_run(outpost, *argv, timeout=20)
        assert r.returncode != 0, r
        assert r.err_lines, r
        for line in r.err_lines:
            assert line.startswith(f"outpost {cmd}: "), r
        assert needle in r.stderr, r


def test_poll_prints_a_device_error_once(outpost, farm):
    target = f"{farm.free_address()}:1161"
    r = outpost_run(outpost, "poll", "-c", "public", *FAST, target)
    assert r.returncode == 1 and r.stdout == "", r
    errors = [ln for ln in r.err_lines if target in ln]
    assert len(errors) == 1, f"the error should be printed once\n{r}"
    assert errors[0].startswith("outpost poll: ") and "port unreachable" in errors[0]
    assert r.err_lines[-1].startswith("outpost poll: 1 devices, 1 failed"), r


# ---------------------------------------------------------------------------
# make demo / make deps / make bench install only what each needs: the
# benchmarks' peers (and their services) never come with a demo or a test run.

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BENCH_PEERS = {"onesixtyone", "prometheus-snmp-exporter"}


def deps_set(*opts):
    r = run(["bash", f"{REPO}/packaging/deps.sh", *opts, "--list"])
    assert r.returncode == 0 and r.stderr == "", r
    return set(r.stdout.split())


def make_dry_run(target):
    r = run(["make", "-n", "-C", REPO, target])
    assert r.returncode == 0, r
    return [ln for ln in r.stdout.splitlines() if "packaging/deps.sh" in ln]


def test_demo_and_tests_do_not_install_benchmark_peers():
    demo, test, bench = deps_set("--demo"), deps_set(), deps_set("--bench")
    assert {"snmpd", "python3", "libsnmp-dev"} <= demo, demo
    assert demo < test < bench
    assert not (BENCH_PEERS & test), test
    assert BENCH_PEERS <= bench, bench
    assert make_dry_run("demo") == ["bash packaging/deps.sh --demo"]
    assert make_dry_run("deps") == ["bash packaging/deps.sh"]
    assert make_dry_run("bench") == ["bash packaging/deps.sh --bench"]


def test_deps_refuses_an_unknown_option():
    r = run(["bash", f"{REPO}/packaging/deps.sh", "--everything"])
    assert r.returncode == 2 and "--everything" in r.stderr, r


def test_readme_examples_say_how_to_run_outpost():
    """The README's examples call `outpost`: they say where it comes from."""
    text = open(os.path.join(REPO, "README.md")).read()
    using = text.split("## Using it", 1)[1].split("```", 1)[0]
    assert "make install" in using and "./outpost" in using, using
