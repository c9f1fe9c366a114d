"""Helpers for the tests that drive the real outpost binary (test_cli.py,
test_walk.py, test_scan.py): running it and net-snmp's tools, judging
error output, and parsing `-On` walk output.

Every run has a wall-clock limit (a hang fails the test) and is checked for
crashes: a signal, or an AddressSanitizer/UBSan report when OUTPOST points
to build-asan/outpost (`make asan`).
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass

from snmpd_fixture import client_env

V3_FLAGS = ["-v3", "-l", "authPriv", "-u", "testv3", "-a", "SHA", "-A", "authpass123",
            "-x", "AES", "-X", "privpass123"]
# What a test waits for when it expects a timeout: one 300 ms try.
FAST = ["-t", "0.3", "-r", "0"]

SYSDESCR = "1.3.6.1.2.1.1.1.0"
SYSOBJECTID = "1.3.6.1.2.1.1.2.0"
SYSUPTIME = "1.3.6.1.2.1.1.3.0"
SYSNAME = "1.3.6.1.2.1.1.5.0"

_SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                    "runtime error", "stack smashing detected")


@dataclass
class Result:
    args: list
    returncode: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.stderr.splitlines() if ln.strip()]

    def __str__(self) -> str:  # shown in assertion messages
        return (f"$ {' '.join(map(str, self.args))}\n-> exit {self.returncode} "
                f"in {self.elapsed:.2f}s\n--- stdout\n{self.stdout[:3000]}"
                f"--- stderr\n{self.stderr[:3000]}")


def run(cmd: list, timeout: float = 60) -> Result:
    t0 = time.monotonic()
    p = subprocess.run([str(c) for c in cmd], env=client_env(), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, errors="replace", timeout=timeout)
    return Result(list(cmd), p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def outpost_run(outpost: str, *args, timeout: float = 60) -> Result:
    r = run([outpost, *args], timeout=timeout)
    assert_no_crash(r)
    return r


def assert_no_crash(r: Result) -> None:
    assert r.returncode >= 0, f"killed by signal {-r.returncode}\n{r}"
    assert r.returncode < 128, f"exit {r.returncode} looks like a signal\n{r}"
    for mark in _SANITIZER_MARKS:
        assert mark not in r.stderr, f"{mark!r} on stderr\n{r}"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def assert_one_clear_line(r: Result) -> str:
    """Exactly one non-empty stderr line, printable; returns it."""
    lines = r.err_lines
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}\n{r}"
    assert not _CONTROL.search(lines[0]), f"control characters on stderr\n{r}"
    return lines[0]


def assert_usage_error(r: Result) -> str:
    """Exit 2, nothing on stdout, one clear line on stderr (returned)."""
    assert_no_crash(r)
    assert r.returncode == 2, f"expected usage error (exit 2)\n{r}"
    assert r.stdout == "", f"usage error printed on stdout\n{r}"
    return assert_one_clear_line(r)


def netsnmp(tool: str, *args, timeout: float = 60) -> Result:
    """A net-snmp tool with -On (numeric OIDs), as outpost's output mimics."""
    r = run([tool, "-On", *args], timeout=timeout)
    return r


# ---------------------------------------------------------------------------
# `-On` output: ".1.3.6... = TYPE: value", values may span several lines.

_VB_LINE = re.compile(r"^(\.\d+(?:\.\d+)*) = (.*)$")
_TYPE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): ")

# Values that change between two reads of the same agent.
DYNAMIC_TYPES = {"Timeticks", "Counter32", "Counter64", "Gauge32"}


@dataclass(frozen=True)
class Varbind:
    oid: str
    text: str  # everything after " = ", continuation lines joined by "\n"

    @property
    def type(self) -> str:
        m = _TYPE.match(self.text)
        return m.group(1) if m else self.text

    @property
    def key(self) -> tuple:
        return tuple(int(a) for a in self.oid.strip(".").split("."))

    def masked(self) -> str:
        """The line with the value blanked if its type is one that moves."""
        if self.type in DYNAMIC_TYPES:
            return f"{self.oid} = {self.type}: <dynamic>"
        return f"{self.oid} = {self.text}"


def parse_varbinds(text: str) -> list[Varbind]:
    if text.endswith("\n"):
        text = text[:-1]
    out: list[list[str]] = []
    for line in text.split("\n") if text else []:
        m = _VB_LINE.match(line)
        if m:
            out.append([m.group(1), m.group(2)])
        elif out:
            out[-1][1] += "\n" + line
        else:
            raise AssertionError(f"output does not start with an OID line: {line!r}")
    return [Varbind(o, t) for o, t in out]


def is_exception(vb: Varbind) -> bool:
    return vb.text.startswith(("No Such Object", "No Such Instance", "No more variables"))
