"""Fixtures for Outpost's integration tests.

    snmpd_one       one running snmpd device (SnmpdDevice), fresh per test
    snmpd_factory   an SnmpdFarm: start any set of devices, all torn down after the test
    outpost         path of the outpost binary under test (env OUTPOST)

See snmpd_fixture.py for the device API. Run through `make check` or
`OUTPOST=$PWD/build/outpost tests/run integration`.
"""

import os
import signal

import pytest

from snmpd_fixture import SnmpdFarm, ensure_client_env

ensure_client_env()


def _terminate_as_interrupt(signum, frame):
    # `timeout` or CI sends SIGTERM: unwind like Ctrl-C so fixture
    # finalizers stop every snmpd they started.
    raise KeyboardInterrupt(f"signal {signum}")


signal.signal(signal.SIGTERM, _terminate_as_interrupt)
signal.signal(signal.SIGHUP, _terminate_as_interrupt)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture
def snmpd_factory():
    """An SnmpdFarm. farm.start_one(**kw), farm.start_many(n, network=..., **kw),
    farm.start(farm.device(...), {...}); every device is stopped after the test."""
    farm = SnmpdFarm()
    try:
        yield farm
    finally:
        farm.close()


@pytest.fixture
def snmpd_one(snmpd_factory):
    """One device: auto address in 127.77.0.0/16, port 1161, sysName dev-1,
    community public, v3 user testv3 SHA/AES authpass123/privpass123."""
    return snmpd_factory.start_one()


@pytest.fixture(scope="session")
def outpost():
    """Path of the outpost binary under test, from $OUTPOST."""
    path = os.environ.get("OUTPOST")
    if not path:
        pytest.fail("OUTPOST is not set: run `make check`, or "
                    "`OUTPOST=$PWD/build/outpost tests/run integration`", pytrace=False)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"OUTPOST={path} is not an executable file (run `make` first?)",
                    pytrace=False)
    return os.path.abspath(path)
