"""The unit tests (tests/unit/test_*.c but the hub's), cross-built by
`make windows` into build-win/tests/*.exe, run under Wine: each binary must
exit 0 with cmocka reporting passes and no failure."""

import glob
import os
import re

import pytest

from wine_fixture import wine

WIN_BUILD = os.environ.get("WIN_BUILD", os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "build-win"))
SRC = os.path.join(os.path.dirname(__file__), "..", "unit")
# The agent's unit tests; the hub's are Linux-only (so is the hub), and so
# is test_engine_v3, which runs real snmpd daemons, and test_ini_compat,
# which compares with Linux's libinih (WIN_UNIT_LINUX_ONLY in
# packaging/windows/windows.mk says why).
LINUX_ONLY = ("test_hub_", "test_engine_v3", "test_ini_compat")
NAMES = sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(SRC, "test_*.c"))
               if not os.path.basename(p).startswith(LINUX_ONLY))


def counts(out: str, word: str) -> int:
    return sum(int(n) for n in re.findall(rf"^\[  {word} *\] (\d+) test", out, re.M))


@pytest.mark.parametrize("name", NAMES)
def test_unit_binary_passes_under_wine(name):
    exe = os.path.join(WIN_BUILD, "tests", name + ".exe")
    assert os.path.isfile(exe), f"{exe} missing: `make windows` builds every unit test"
    r = wine(exe, timeout=300, env={"CMOCKA_MESSAGE_OUTPUT": "stdout"})
    # cmocka prints its summary ([  PASSED  ] N test(s).) on stderr, and
    # the Windows C runtime writes \r\n: read both, lines as on Linux.
    out = (r.out + r.err).replace("\r\n", "\n")
    assert r.returncode == 0, r
    assert counts(out, "PASSED") > 0, r
    assert counts(out, "FAILED") == 0, r
