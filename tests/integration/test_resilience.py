"""The channel under stress, with the real hub and the real agent.

- The hub killed (SIGKILL) for 30 s while the agent keeps producing
  batches: after it returns, every batch arrives exactly once.
- TLS with a CA made by openssl here: the right CA works; a wrong CA, a
  wrong host name and a wrong key pin are refused and no command runs.
"""

import base64
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

import pytest

from hub_fixture import HubProcess, hub_binary
from snmpd_fixture import client_env


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def agent_ini(tmp, url, token, extra_server=""):
    write_secret(os.path.join(tmp, "agent.token"), token + "\n")
    path = os.path.join(tmp, "outpost.ini")
    write_secret(path, f"""[agent]
state_dir = {tmp}/state
log_level = debug
[server]
url = {url}
token_file = {tmp}/agent.token
poll_wait = 5s
backoff_base = 200ms
backoff_cap = 2s
{extra_server}
[upload]
batch_max_age = 1h
""")
    return path


def stored_batches(hub, agent):
    db = sqlite3.connect(f"file:{hub.db}?mode=ro", uri=True, timeout=10)
    try:
        return [r[0] for r in db.execute(
            "SELECT batch_id FROM batches WHERE agent_id = "
            "(SELECT id FROM agents WHERE name = ?) ORDER BY batch_id", (agent,))]
    finally:
        db.close()


def test_hub_killed_for_30s_every_batch_arrives_exactly_once(outpost, tmp_path):
    port = free_port()
    hub = HubProcess(hub_binary(), str(tmp_path / "hub"), listen=f"127.0.0.1:{port}",
                     max_poll_wait="5s").start()
    token = hub.add_agent("site-1")
    ini = agent_ini(str(tmp_path), f"http://127.0.0.1:{port}", token)
    # One batch a second for 45 s; the hub is gone from ~5 s to ~35 s.
    p = subprocess.Popen([outpost, "transport-selftest", "-c", ini, "--batches", "45",
                          "--interval", "1000", "--items", "20", "--timeout", "120000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=client_env())
    try:
        time.sleep(5)
        before = len(stored_batches(hub, "site-1"))
        assert before >= 2, hub.log()
        hub.proc.send_signal(signal.SIGKILL)
        hub.wait(10)
        time.sleep(30)
        spooled = len(list((tmp_path / "state" / "spool").glob("*.batch")))
        assert spooled >= 20, "batches produced while the hub was down must be spooled"
        hub.start()
        out, err = p.communicate(timeout=100)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        hub.stop()
    assert p.returncode == 0, err[-3000:]
    st = json.loads(out.strip().splitlines()[-1])
    ids = stored_batches(hub, "site-1")
    assert len(ids) == len(set(ids))
    assert len(ids) == st["batches_closed"] >= 45, (st, len(ids))
    assert st["dropped_samples"] == 0
    assert not list((tmp_path / "state" / "spool").glob("*.batch"))


# ---- TLS ----

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed (packaging/deps.sh installs it)")
    d = str(tmp_path_factory.mktemp("pki"))
    for ca in ("ca", "otherca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", f"/CN=Outpost test {ca}", "-keyout", f"{ca}.key",
                "-out", f"{ca}.pem", cwd=d)
    # The hub's certificate names 127.0.0.1 only: "localhost" is a wrong name.
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=hub",
            "-keyout", "hub.key", "-out", "hub.csr", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName = IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "hub.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "hub.pem",
            cwd=d)
    os.chmod(os.path.join(d, "hub.key"), 0o600)
    der = subprocess.run(["openssl", "pkey", "-in", os.path.join(d, "otherca.key"),
                          "-pubout", "-outform", "DER"], capture_output=True,
                         check=True).stdout
    import hashlib
    other_pin = "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()
    return {"dir": d, "other_pin": other_pin}


@pytest.fixture(scope="module")
def tls_hub(pki, tmp_path_factory):
    d = pki["dir"]
    hub = HubProcess(hub_binary(), str(tmp_path_factory.mktemp("tlshub")),
                     max_poll_wait="5s", tls_cert=f"{d}/hub.pem", tls_key=f"{d}/hub.key")
    hub.ssl_context = __import__("ssl").create_default_context(cafile=f"{d}/ca.pem")
    hub.start()
    assert hub.scheme == "https", hub.log()
    yield hub
    hub.stop()


def run_agent_against(outpost, tmp, hub, name, url, server_extra):
    token = hub.add_agent(name)
    os.makedirs(tmp, exist_ok=True)
    ini = agent_ini(tmp, url, token, server_extra)
    cid = hub.queue(name, {"type": "agent.info"})["id"]
    log = open(os.path.join(tmp, "agent.log"), "wb")
    p = subprocess.Popen([outpost, "run", "-c", ini], stdout=log, stderr=subprocess.STDOUT,
                         env=client_env())
    try:
        deadline = time.monotonic() + 12
        st = hub.json("GET", f"/v1/commands/{cid}")
        while time.monotonic() < deadline and st["status"] in ("queued", "delivered"):
            time.sleep(0.3)
            st = hub.json("GET", f"/v1/commands/{cid}")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(15)
        log.close()
    return st, open(os.path.join(tmp, "agent.log")).read()


def test_tls_with_the_right_ca_runs_the_command(outpost, pki, tls_hub, tmp_path):
    st, log = run_agent_against(outpost, str(tmp_path), tls_hub, "tls-ok",
                                f"https://127.0.0.1:{tls_hub.port}",
                                f"ca_file = {pki['dir']}/ca.pem")
    assert st["status"] == "done", log[-3000:]


@pytest.mark.parametrize("case", ["wrong CA", "wrong host name", "wrong pin"])
def test_tls_mistakes_are_refused_and_no_command_runs(outpost, pki, tls_hub, tmp_path, case):
    d = pki["dir"]
    url = f"https://127.0.0.1:{tls_hub.port}"
    extra = f"ca_file = {d}/ca.pem"
    if case == "wrong CA":
        extra = f"ca_file = {d}/otherca.pem"
    elif case == "wrong host name":
        url = f"https://localhost:{tls_hub.port}"
    else:
        extra += f"\npinned_pubkey = {pki['other_pin']}"
    st, log = run_agent_against(outpost, str(tmp_path), tls_hub,
                                "tls-" + case.replace(" ", "-"), url, extra)
    assert st["status"] == "queued", f"{case}: the command must never be delivered: {st}"
    assert "SSL" in log or "certificate" in log or "pinned" in log or "TLS" in log, log[-3000:]
