"""The Windows agent (outpost.exe, `make windows`) under Wine, against the
same loopback devices (tests/integration/snmpd_fixture.py) and the Linux
hub (hub_fixture.py) as the Linux tests.

    wine_prefix   a WINEPREFIX made once per session in a temp dir (its
                  first start takes a few seconds), removed at the end
    outpost_exe   path of outpost.exe (env OUTPOST_EXE)
    outpost       the Linux build (env OUTPOST): what outpost.exe must match
    (wine_fixture.py: wine(...), native(...), winpath(...))

Run through `make windows-check` (or `make check` when the cross compiler
and Wine are installed), or
`OUTPOST_EXE=$PWD/build-win/outpost.exe OUTPOST=$PWD/build/outpost tests/run wine`.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from snmpd_fixture import SnmpdFarm, ensure_client_env  # noqa: E402
from wine_fixture import WINE_ENV  # noqa: E402

ensure_client_env()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "scanner: needs scan-based discovery on Windows (snmp/scan_win.c); "
        "fails, not skipped, while outpost.exe cannot scan")


@pytest.fixture(scope="session", autouse=True)
def wine_prefix():
    """One prefix for the whole session; every process started by a test
    (wine, and through client_env() the agent fixtures) uses it."""
    if shutil.which("wine") is None:
        pytest.fail("wine is not installed (packaging/deps.sh --windows)", pytrace=False)
    tmp = tempfile.mkdtemp(prefix="outpost-wine-")
    prefix = os.path.join(tmp, "prefix")
    saved = {k: os.environ.get(k) for k in (*WINE_ENV, "WINEPREFIX")}
    os.environ.update(WINE_ENV)
    os.environ["WINEPREFIX"] = prefix
    t0 = time.monotonic()
    p = subprocess.run(["wine", "wineboot", "--init"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=300)
    if p.returncode != 0:
        pytest.fail(f"wineboot --init: exit {p.returncode}\n{p.stderr.decode()[-2000:]}",
                    pytrace=False)
    # wineboot returns before the prefix's services settle; wait for them.
    subprocess.run(["wineserver", "-w"], timeout=300)
    # Then one wineserver for the whole session, as a Windows machine stays
    # up between two commands: without -p it exits a few seconds after the
    # last program, taking the service manager with it, and the next
    # `wine ...` boots the prefix again, which starts every auto-start
    # service (an installed Outpost would be started behind the test's back).
    subprocess.run(["wineserver", "-p"], timeout=60, check=True)
    # The first program starts the prefix's system processes (services.exe,
    # explorer.exe, ...), which inherit its stdout and stderr and now never
    # exit: start them with /dev/null, or a test reading a program's output
    # through a pipe would wait for an end of file that never comes.
    subprocess.run(["wine", "cmd", "/c", "exit"], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    print(f"\nwine prefix {prefix} ready in {time.monotonic() - t0:.1f}s")
    try:
        yield prefix
    finally:
        subprocess.run(["wineserver", "-k"], timeout=60)
        subprocess.run(["wineserver", "-w"], timeout=60)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


def _executable(var: str, hint: str) -> str:
    path = os.environ.get(var)
    if not path:
        pytest.fail(f"{var} is not set: run `make windows-check` ({hint})", pytrace=False)
    if not os.path.isfile(path):
        pytest.fail(f"{var}={path} does not exist (run `make windows` first?)", pytrace=False)
    return os.path.abspath(path)


@pytest.fixture(scope="session")
def outpost_exe():
    return _executable("OUTPOST_EXE", "build-win/outpost.exe")


@pytest.fixture(scope="session")
def outpost():
    """The Linux build, the reference outpost.exe must match."""
    return _executable("OUTPOST", "build/outpost")


@pytest.fixture(scope="session")
def outpost_wine(outpost_exe):
    """A one-line launcher, so fixtures that start an `outpost` binary
    (agent_fixture.AgentProcess) start outpost.exe under Wine. exec keeps
    the PID: signals reach the Wine process (SIGINT is Ctrl+C)."""
    d = tempfile.mkdtemp(prefix="outpost-wine-bin-")
    path = os.path.join(d, "outpost")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nexec wine "{outpost_exe}" "$@"\n')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def farm():
    with SnmpdFarm() as f:
        yield f


@pytest.fixture(scope="module")
def dev(farm):
    return farm.start_one()
