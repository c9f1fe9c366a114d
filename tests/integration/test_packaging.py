"""Packaging: the systemd units' sandbox, the man pages, `make install`, and
the .deb packages, down to a real `dpkg -i` of them.

The `dpkg -i` test changes the machine (packages, users outpost and
outpost-hub, /etc/outpost, /var/lib/outpost*) and puts everything back. It
runs only as root and only when asked: OUTPOST_TEST_DPKG=1, or CI=true (CI
machines are throwaway). It never runs where an outpost package or
/etc/outpost already exists.
"""

import gzip
import os
import pwd
import re
import shutil
import stat
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
UNITS = ["outpost.service", "outpost-hub.service"]
MAX_EXPOSURE = 1.5
GENERATED_MAN = [("man", "packaging/man/outpost.ini.5"),
                 ("hub-man", "packaging/man/outpost-hub.ini.5")]
HAND_MAN = ["packaging/man/outpost.8", "packaging/man/outpost-hub.8"]


def run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(args, **kw)


def version():
    with open(os.path.join(ROOT, "core/core.h")) as f:
        return re.search(r'#define OUTPOST_VERSION "([^"]+)"', f.read()).group(1)


@pytest.fixture(scope="module")
def hub_binary():
    path = os.environ.get("OUTPOST_HUB") or os.path.join(
        os.path.dirname(os.environ.get("OUTPOST", "build/outpost")), "outpost-hub")
    if not os.access(path, os.X_OK):
        pytest.fail(f"outpost-hub binary {path} missing (OUTPOST_HUB; run make)",
                    pytrace=False)
    return os.path.abspath(path)


# ---- systemd units ------------------------------------------------------

def unit_keys(name):
    keys = {}
    with open(os.path.join(ROOT, "packaging", name)) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.rstrip("\n").split("=", 1)
                keys.setdefault(k, []).append(v)
    return keys


@pytest.mark.parametrize("unit", UNITS)
def test_unit_sandbox_exposure_is_at_most_1_5(unit):
    """`systemd-analyze security` scores the unit file without systemd
    running; every sandboxing option removed raises the score."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (package systemd)")
    r = run(["systemd-analyze", "security", "--offline=true",
             os.path.join(ROOT, "packaging", unit)], errors="replace")
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", r.stdout)
    assert m, f"no score in:\n{r.stdout}\n{r.stderr}"
    score = float(m.group(1))
    failed = [line for line in r.stdout.splitlines() if line.startswith("✗")]
    assert score <= MAX_EXPOSURE, f"{unit} scores {score}:\n" + "\n".join(failed)


@pytest.mark.parametrize("unit", UNITS)
def test_unit_has_no_unknown_or_invalid_settings(unit):
    """A misspelt hardening option is ignored by systemd with a warning, and
    silently missing from the score."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (package systemd)")
    r = run(["systemd-analyze", "verify", "--man=no",
             os.path.join(ROOT, "packaging", unit)], errors="replace")
    bad = [line for line in (r.stdout + r.stderr).splitlines()
           if re.search(r"unknown|invalid|failed to parse|ignoring", line, re.I)]
    assert not bad, "\n".join(bad)


def test_agent_unit_runs_the_service_as_its_own_user():
    k = unit_keys("outpost.service")
    assert k["ExecStart"] == ["/usr/bin/outpost run -c /etc/outpost/outpost.ini"]
    assert k["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert k["User"] == ["outpost"] and k["Type"] == ["simple"]
    assert k["StateDirectory"] == ["outpost"]   # state_dir's default
    assert k["Restart"] == ["on-failure"]
    # Only what [traps] listen on port 162 needs; never root.
    assert k["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert k["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]


def test_hub_unit_outlasts_the_longest_default_drain():
    k = unit_keys("outpost-hub.service")
    assert k["ExecStart"] == ["/usr/bin/outpost-hub -c /etc/outpost/hub.ini"]
    assert k["User"] == ["outpost-hub"]
    assert k["StateDirectory"] == ["outpost-hub"]   # db's default directory
    assert k["TimeoutStopSec"] == ["90s"]   # > drain_grace's default 10s


# ---- man pages ----------------------------------------------------------

@pytest.mark.parametrize("fmt,path", GENERATED_MAN)
def test_generated_man_pages_are_current(outpost, fmt, path):
    """outpost.ini(5) comes from the config tables like docs/config.md."""
    out = run([outpost, "config-docs", fmt], check=True).stdout
    with open(os.path.join(ROOT, path)) as f:
        assert f.read() == out, f"{path} is stale: run `make docs`"


@pytest.mark.parametrize("path", HAND_MAN + [p for _, p in GENERATED_MAN])
def test_man_page_renders_without_warnings(path):
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed (package groff-base)")
    r = run(["groff", "-man", "-Tutf8", "-ww", "-z", os.path.join(ROOT, path)])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    with open(os.path.join(ROOT, path)) as f:
        th = next(line for line in f if line.startswith(".TH "))
    assert f'"Outpost {version()}"' in th, f"{path}: old version: run `make docs`"


def test_config_man_page_documents_every_section(outpost):
    page = run([outpost, "config-docs", "man"], check=True).stdout
    for sec in ("[agent]", "[server]", "[upload]", "[policy]", "[credential NAME]"):
        assert f".SS {sec}\n" in page
    assert "\\fBstate_dir\\fR" in page and "Default: \\fB/var/lib/outpost\\fR." in page
    assert page.count("\n.TP\n.I ") >= 8   # the value syntax of every type


# ---- make install -------------------------------------------------------

def make(*args):
    build = os.environ.get("BUILD", "build")
    # -o: never rebuild here; the binaries under test are already built.
    return run(["make", "-s", "-C", ROOT, f"BUILD={build}",
                "-o", f"{build}/outpost", "-o", f"{build}/outpost-hub", *args])


def test_make_install_honours_destdir_and_keeps_configs(tmp_path):
    dest = tmp_path / "root"
    r = make("install", f"DESTDIR={dest}", "PREFIX=/usr")
    assert r.returncode == 0, r.stdout + r.stderr
    expect = {
        "usr/bin/outpost": 0o755, "usr/bin/outpost-hub": 0o755,
        "usr/share/man/man8/outpost.8": 0o644,
        "usr/share/man/man8/outpost-hub.8": 0o644,
        "usr/share/man/man5/outpost.ini.5": 0o644,
        "usr/share/man/man5/outpost-hub.ini.5": 0o644,
        "usr/lib/systemd/system/outpost.service": 0o644,
        "usr/lib/systemd/system/outpost-hub.service": 0o644,
        "usr/lib/sysusers.d/outpost.conf": 0o644,
        "etc/outpost/outpost.ini": 0o600, "etc/outpost/hub.ini": 0o600,
    }
    for rel, mode in expect.items():
        assert stat.S_IMODE(os.stat(dest / rel).st_mode) == mode, rel

    # PREFIX moves the binaries, and the units follow.
    r = make("install", f"DESTDIR={dest}", "PREFIX=/opt/op")
    assert r.returncode == 0, r.stderr
    unit = (dest / "opt/op/lib/systemd/system/outpost.service").read_text()
    assert "ExecStart=/opt/op/bin/outpost run -c /etc/outpost/outpost.ini" in unit

    # A second install never overwrites a configuration.
    conf = dest / "etc/outpost/outpost.ini"
    conf.write_text("[agent]\nlog_level = debug\n")
    assert make("install", f"DESTDIR={dest}", "PREFIX=/usr").returncode == 0
    assert conf.read_text() == "[agent]\nlog_level = debug\n"

    r = make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")
    assert r.returncode == 0, r.stderr
    left = sorted(str(p.relative_to(dest)) for p in dest.rglob("*")
                  if p.is_file() and not str(p.relative_to(dest)).startswith("opt/"))
    assert left == ["etc/outpost/hub.ini", "etc/outpost/outpost.ini"]


# ---- .deb packages ------------------------------------------------------

@pytest.fixture(scope="module")
def debs(outpost_module, hub_binary, tmp_path_factory):
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    out = tmp_path_factory.mktemp("deb")
    r = run(["bash", os.path.join(ROOT, "packaging/build-deb.sh"),
             "--outpost", outpost_module, "--hub", hub_binary, "--out", str(out)])
    assert r.returncode == 0, r.stderr
    arch = run(["dpkg", "--print-architecture"], check=True).stdout.strip()
    paths = {p: out / f"{p}_{version()}_{arch}.deb" for p in ("outpost", "outpost-hub")}
    for p in paths.values():
        assert p.is_file(), f"{p} not built: {r.stdout}"
    return paths


@pytest.fixture(scope="module")
def outpost_module():
    path = os.environ.get("OUTPOST")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("OUTPOST is not set to the outpost binary", pytrace=False)
    return os.path.abspath(path)


def deb_field(deb, field):
    return run(["dpkg-deb", "-f", str(deb), field], check=True).stdout.strip()


def deb_files(deb):
    """{path: (mode string, owner/group)} of the package's data."""
    files = {}
    for line in run(["dpkg-deb", "-c", str(deb)], check=True).stdout.splitlines():
        parts = line.split()
        files[parts[5].lstrip(".")] = (parts[0], parts[1])
    return files


def deb_control_file(deb, name):
    return run(["dpkg-deb", "-I", str(deb), name], check=True).stdout


@pytest.mark.parametrize("pkg,conf,libs", [
    ("outpost", "/etc/outpost/outpost.ini",
     ["libc6", "libsnmp40", "libcurl4", "libcjson1", "zlib1g", "libinih1"]),
    ("outpost-hub", "/etc/outpost/hub.ini", ["libc6"]),
])
def test_deb_holds_binary_unit_man_pages_and_conffile(debs, pkg, conf, libs):
    deb = debs[pkg]
    assert deb_field(deb, "Package") == pkg
    assert deb_field(deb, "Version") == version()
    depends = [d.split()[0] for d in deb_field(deb, "Depends").split(", ")]
    for lib in libs + ["adduser"]:
        assert lib in depends, f"{pkg} Depends lacks {lib}: {depends}"
    files = deb_files(deb)
    man5 = "outpost.ini.5" if pkg == "outpost" else "outpost-hub.ini.5"
    for path in (f"/usr/bin/{pkg}", f"/lib/systemd/system/{pkg}.service",
                 f"/usr/share/man/man8/{pkg}.8.gz", f"/usr/share/man/man5/{man5}.gz",
                 f"/usr/share/doc/{pkg}/copyright", conf):
        assert path in files, f"{pkg} lacks {path}"
    assert files[f"/usr/bin/{pkg}"] == ("-rwxr-xr-x", "root/root")
    assert files[conf] == ("-rw-------", "root/root")   # postinst hands it over
    assert deb_control_file(deb, "conffiles").split() == [conf]


@pytest.mark.parametrize("pkg", ["outpost", "outpost-hub"])
def test_deb_maintainer_scripts_never_start_the_service(debs, pkg):
    """Installed but not started until configured: nothing may enable or
    start the unit (echo lines only tell the admin how to)."""
    for script in ("postinst", "prerm", "postrm"):
        text = deb_control_file(debs[pkg], script)
        assert run(["sh", "-n"], input=text).returncode == 0, script
        for line in text.splitlines():
            code = line.strip()
            if code.startswith(("#", "echo")):
                continue
            assert not re.search(r"systemctl\s+(\S+\s+)*(enable|start)\b", code), line
            assert "deb-systemd-helper enable" not in code, line


def test_deb_man_pages_are_the_repository_pages(debs, tmp_path):
    run(["dpkg-deb", "-x", str(debs["outpost"]), str(tmp_path)], check=True)
    with gzip.open(tmp_path / "usr/share/man/man5/outpost.ini.5.gz", "rt") as f:
        with open(os.path.join(ROOT, "packaging/man/outpost.ini.5")) as g:
            assert f.read() == g.read()


def dpkg_test_allowed():
    if os.geteuid() != 0:
        return "needs root"
    if os.environ.get("OUTPOST_TEST_DPKG") != "1" and os.environ.get("CI") != "true":
        return "changes the machine: set OUTPOST_TEST_DPKG=1 (CI=true does)"
    for pkg in ("outpost", "outpost-hub"):
        st = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", pkg]).stdout
        if st.strip() not in ("", "un"):
            return f"package {pkg} is already on this machine ({st.strip()})"
    if os.path.exists("/etc/outpost"):
        return "/etc/outpost already exists"
    if run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", "adduser"]).stdout[:2] != "ii":
        return "adduser is not installed (packaging/deps.sh should install it)"
    return None


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def test_dpkg_installs_and_the_installed_agent_accepts_its_config(debs):
    """The issue's check: a real `dpkg -i`, then the installed outpost
    accepts the installed sample config, as root and as the service user;
    an upgrade keeps an edited config and the spool; purge cleans up."""
    why = dpkg_test_allowed()
    if why:
        pytest.skip(why)
    had_users = {u: user_exists(u) for u in ("outpost", "outpost-hub")}
    dpkg = ["dpkg", "--force-confold", "--force-confdef"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        r = run(dpkg + ["-i", str(debs["outpost"]), str(debs["outpost-hub"])],
                env=env, stdin=subprocess.DEVNULL, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "installed, not started" in r.stdout

        st = os.stat("/etc/outpost/outpost.ini")
        assert stat.S_IMODE(st.st_mode) == 0o600
        assert pwd.getpwuid(st.st_uid).pw_name == "outpost"
        st = os.stat("/var/lib/outpost")
        assert stat.S_IMODE(st.st_mode) == 0o700
        assert pwd.getpwuid(st.st_uid).pw_name == "outpost"
        assert pwd.getpwuid(os.stat("/etc/outpost/hub.ini").st_uid).pw_name == "outpost-hub"
        assert not os.path.lexists(
            "/etc/systemd/system/multi-user.target.wants/outpost.service")

        for prefix in ([], ["runuser", "-u", "outpost", "--"]):
            r = run(prefix + ["/usr/bin/outpost", "check-config",
                              "-c", "/etc/outpost/outpost.ini"])
            assert r.returncode == 0, r.stderr
            assert r.stdout.strip() == "configuration OK"
        if shutil.which("man"):
            r = run(["man", "-w", "outpost.ini"])
            assert r.stdout.strip() == "/usr/share/man/man5/outpost.ini.5.gz"

        # Upgrade (a reinstall runs the same scripts): edits and spool stay.
        with open("/etc/outpost/outpost.ini") as f:
            text = f.read()
        assert "\n#log_level = info\n" in text
        with open("/etc/outpost/outpost.ini", "w") as f:
            f.write(text.replace("\n#log_level = info\n", "\nlog_level = debug\n", 1))
        spooled = "/var/lib/outpost/test-spool-file"
        open(spooled, "w").close()
        r = run(dpkg + ["-i", str(debs["outpost"])], env=env,
                stdin=subprocess.DEVNULL, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        with open("/etc/outpost/outpost.ini") as f:
            assert "\nlog_level = debug\n" in f.read()
        assert os.path.exists(spooled)
        r = run(["/usr/bin/outpost", "check-config", "-c", "/etc/outpost/outpost.ini"])
        assert r.returncode == 0, r.stderr
    finally:
        r = run(["dpkg", "--purge", "outpost", "outpost-hub"], env=env,
                stdin=subprocess.DEVNULL, timeout=120)
        for user, had in had_users.items():
            if not had and user_exists(user):
                run(["deluser", "--quiet", "--system", user])
    assert r.returncode == 0, r.stdout + r.stderr
    assert not os.path.exists("/etc/outpost/outpost.ini")
    assert not os.path.exists("/var/lib/outpost")
    assert run(["dpkg-statoverride", "--list", "/etc/outpost/outpost.ini"]).returncode != 0


def test_deb_hub_serves_the_console(debs, tmp_path):
    """The console is inside outpost-hub (docs/console.md): the binary the
    .deb installs serves its page and bundle."""
    from hub_fixture import HubProcess
    run(["dpkg-deb", "-x", str(debs["outpost-hub"]), str(tmp_path / "root")], check=True)
    hub = HubProcess(str(tmp_path / "root/usr/bin/outpost-hub"), str(tmp_path / "hub")).start()
    try:
        status, headers, page = hub.request("GET", "/", token=None)
        js = page.split(b'src="')[1].split(b'"')[0].decode()
        status_js, _, code = hub.request("GET", js, token=None)
    finally:
        hub.stop()
    assert status == 200 and "default-src 'self'" in headers["content-security-policy"]
    assert status_js == 200 and b"outpost.token" in code   # the bundle itself
