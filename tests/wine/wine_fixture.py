"""Running Windows programs under Wine for tests/wine (conftest.py makes the
session's WINEPREFIX; these helpers run programs in it).

    wine(ARGS...)    `wine ARGS...`; a crash fails the test; stdout/stderr bytes
    native(ARGS...)  the same for a Linux program (the reference build)
    winpath(PATH)    a Linux path as the Windows program sees it (Z:...)
"""

import os
import subprocess
import time
from dataclasses import dataclass

from snmpd_fixture import client_env

# What every Wine process gets: no debug channels, no Mono/Gecko installer
# prompts (nothing here needs .NET or HTML), 64-bit only.
WINE_ENV = {"WINEDEBUG": "-all", "WINEDLLOVERRIDES": "mscoree,mshtml=",
            "WINEARCH": "win64"}


def winpath(path: str) -> str:
    """A Linux path as the Windows program sees it (Wine maps / to Z:)."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


@dataclass(repr=False)
class WineResult:
    args: list
    returncode: int
    stdout: bytes
    stderr: bytes
    elapsed: float

    @property
    def out(self) -> str:
        return self.stdout.decode(errors="replace")

    @property
    def err(self) -> str:
        return self.stderr.decode(errors="replace")

    def __repr__(self) -> str:
        return (f"$ wine {' '.join(map(str, self.args))}\n-> exit {self.returncode} in "
                f"{self.elapsed:.2f}s\n--- stdout\n{self.out[:3000]}--- stderr\n"
                f"{self.err[:3000]}")


# What Wine (or its debugger) prints when a program crashes or cannot start.
CRASH_MARKS = ("Unhandled exception", "Unhandled page fault", "Backtrace:",
               "wine: cannot find", "could not load")


def assert_no_crash(r: "WineResult") -> None:
    assert r.returncode >= 0, f"killed by signal {-r.returncode}\n{r}"
    for mark in CRASH_MARKS:
        assert mark not in r.err, f"{mark!r} on stderr\n{r}"


def wine(*args, timeout: float = 60, env: dict | None = None) -> WineResult:
    """Run `wine ARGS...` in the session's prefix; a crash fails the test."""
    t0 = time.monotonic()
    p = subprocess.run(["wine", *map(str, args)], env=client_env(env),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    r = WineResult(list(args), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
    assert_no_crash(r)
    return r


def native(*args, timeout: float = 60) -> WineResult:
    """The same for a Linux program (the Linux build, net-snmp's tools)."""
    t0 = time.monotonic()
    p = subprocess.run(list(map(str, args)), env=client_env(), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    return WineResult(list(args), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)
