"""The MSI `make windows` builds (packaging/windows/outpost.wxs + msi-acl.sh):
its tables say what an install does, and Wine's msiexec installs it into
the session's prefix (program files, the service registered and stopped,
the sample configuration) and uninstalls it without leftovers in Program
Files or the service manager. Wine's msiexec ignores MsiLockPermissionsEx,
so the configuration's ACL is checked in the table, not on the disk."""

import glob
import os
import subprocess

import pytest

from wine_fixture import wine
from test_wine_run import sc_state

WIN_BUILD = os.environ.get("WIN_BUILD", os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "build-win"))


@pytest.fixture(scope="module")
def msi():
    found = sorted(glob.glob(os.path.join(WIN_BUILD, "outpost-*-x64.msi")))
    assert found, f"no MSI in {WIN_BUILD}: `make windows` builds it"
    return found[-1]


def table(msi, name):
    """The rows of one table as dicts (msiinfo export: names, types, keys, rows)."""
    out = subprocess.run(["msiinfo", "export", msi, name], capture_output=True, text=True,
                         check=True).stdout
    lines = out.replace("\r\n", "\n").split("\n")
    cols = lines[0].split("\t")
    return [dict(zip(cols, ln.split("\t"))) for ln in lines[3:] if ln]


def test_msi_installs_the_program_the_dll_and_the_sample_config(msi):
    files = {r["FileName"].split("|")[-1]: r for r in table(msi, "File")}
    assert set(files) == {"outpost.exe", "libcurl-4.dll", "outpost.ini"}, files
    comps = {r["Component"]: r for r in table(msi, "Component")}
    dirs = {r["Directory"]: r for r in table(msi, "Directory")}
    assert dirs[comps["OutpostExe"]["Directory_"]]["Directory_Parent"] == "ProgramFiles64Folder"
    assert dirs[comps["SampleConfig"]["Directory_"]]["Directory_Parent"] == \
        "CommonAppDataFolder"
    # 64-bit (256), Permanent (16), NeverOverwrite (128): the user's file.
    assert int(comps["SampleConfig"]["Attributes"]) & (256 | 16 | 128) == 256 | 16 | 128


def test_msi_registers_the_service_without_starting_it(msi):
    (svc,) = table(msi, "ServiceInstall")
    assert (svc["Name"], svc["StartName"], svc["Arguments"]) == \
        ("Outpost", "LocalSystem", "service run"), svc
    assert int(svc["StartType"]) == 2 and int(svc["ServiceType"]) == 16, svc
    (ctl,) = table(msi, "ServiceControl")
    event = int(ctl["Event"])
    # Stop on install (upgrade) and uninstall, delete on uninstall; never start.
    assert event & (2 | 32 | 128) == 2 | 32 | 128, ctl
    assert event & (1 | 16) == 0, f"the MSI starts the service: {ctl}"


def test_msi_locks_the_sample_config_to_administrators_and_system(msi):
    (row,) = table(msi, "MsiLockPermissionsEx")
    assert (row["LockObject"], row["Table"]) == ("SampleConfigFile", "File"), row
    assert row["SDDL"] == "D:P(A;;FA;;;BA)(A;;FA;;;SY)", row


def test_msi_install_and_uninstall_under_wine(msi, wine_prefix):
    pf = os.path.join(wine_prefix, "drive_c", "Program Files", "Outpost")
    ini = os.path.join(wine_prefix, "drive_c", "ProgramData", "Outpost", "outpost.ini")
    built = os.path.join(os.path.dirname(msi), "outpost.exe")
    assert not os.path.exists(pf)
    r = wine("msiexec", "/i", msi, "/qn", timeout=180)
    try:
        assert r.returncode == 0, r
        with open(os.path.join(pf, "outpost.exe"), "rb") as a, open(built, "rb") as b:
            assert a.read() == b.read()
        assert os.path.isfile(os.path.join(pf, "libcurl-4.dll"))
        with open(ini, "rb") as f:
            text = f.read()
        # The default state_dir, expanded where ProgramData really is.
        assert b"#state_dir = %ProgramData%\\Outpost\\state\r\n" in text
        assert sc_state() == "STOPPED", "the MSI must register the service, not start it"
        v = wine(os.path.join(pf, "outpost.exe"), "version")
        assert v.returncode == 0 and v.out.startswith("outpost "), v
    finally:
        u = wine("msiexec", "/x", msi, "/qn", timeout=180)
    assert u.returncode == 0, u
    assert not os.path.exists(os.path.join(pf, "outpost.exe"))
    assert not os.path.exists(os.path.join(pf, "libcurl-4.dll"))
    assert sc_state() is None, "the service is still registered after uninstall"
    # The configuration is the user's: it stays (docs/windows.md).
    assert os.path.isfile(ini)
    os.remove(ini)
