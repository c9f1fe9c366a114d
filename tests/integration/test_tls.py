"""The channel's security with the real hub and the real agent
(docs/operations.md, "TLS and mutual TLS"):

- the agent never speaks below TLS 1.2, whatever the server offers;
- [hub] client_ca: a client without a certificate signed by it is
  answered 403 and logged (throttled) at warning; an agent with one works;
- a failed TLS handshake is logged by the hub at warning.
"""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from hub_fixture import HubProcess, hub_binary
from snmpd_fixture import client_env
from test_resilience import agent_ini, openssl, pki, run_agent_against  # noqa: F401


@pytest.fixture(scope="module")
def agent_certs(pki):  # noqa: F811
    """client.pem/key signed by the hub's CA, rogue.pem/key by another."""
    d = pki["dir"]
    for name, ca in (("client", "ca"), ("rogue", "otherca")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey",
                f"{ca}.key", "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
                cwd=d)
        os.chmod(os.path.join(d, f"{name}.key"), 0o600)
    return d


@pytest.fixture(scope="module")
def mtls_hub(agent_certs, tmp_path_factory):
    d = agent_certs
    hub = HubProcess(hub_binary(), str(tmp_path_factory.mktemp("mtlshub")),
                     max_poll_wait="5s", tls_cert=f"{d}/hub.pem", tls_key=f"{d}/hub.key",
                     client_ca=f"{d}/ca.pem", log_level="info")
    ctx = ssl.create_default_context(cafile=f"{d}/ca.pem")
    ctx.load_cert_chain(f"{d}/client.pem", f"{d}/client.key")
    hub.ssl_context = ctx
    hub.start()
    assert hub.scheme == "https", hub.log()
    yield hub
    hub.stop()


def _request_with(hub, d, cert):
    ctx = ssl.create_default_context(cafile=f"{d}/ca.pem")
    if cert:
        ctx.load_cert_chain(f"{d}/{cert}.pem", f"{d}/{cert}.key")
    import http.client
    c = http.client.HTTPSConnection("127.0.0.1", hub.port, timeout=10, context=ctx)
    try:
        c.request("GET", "/v1/agents", headers={"Authorization": "Bearer x"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


@pytest.mark.parametrize("cert", [None, "rogue"])
def test_the_hub_refuses_clients_without_a_certificate_from_client_ca(mtls_hub, agent_certs,
                                                                      cert):
    status, body = _request_with(mtls_hub, agent_certs, cert)
    assert status == 403 and b"client_ca" in body, body
    # the operator hears of it, at warning
    deadline = time.monotonic() + 5
    while "tls: refused" not in mtls_hub.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "tls: refused 127.0.0.1" in mtls_hub.log(), mtls_hub.log()[-2000:]
    # a certificate from client_ca passes (to the token check)
    assert _request_with(mtls_hub, agent_certs, "client")[0] == 401


def test_an_agent_with_its_client_certificate_works_and_without_is_refused(
        outpost, mtls_hub, agent_certs, tmp_path):
    d = agent_certs
    url = f"https://127.0.0.1:{mtls_hub.port}"
    st, log = run_agent_against(outpost, str(tmp_path / "with"), mtls_hub, "mtls-ok", url,
                                f"ca_file = {d}/ca.pem\nclient_cert = {d}/client.pem\n"
                                f"client_key = {d}/client.key")
    assert st["status"] == "done", log[-3000:]
    st, log = run_agent_against(outpost, str(tmp_path / "without"), mtls_hub, "mtls-no",
                                url, f"ca_file = {d}/ca.pem")
    assert st["status"] == "queued", f"delivered without a client certificate: {st}"
    assert "403" in log, log[-3000:]


def test_a_failed_handshake_is_logged_at_warning(pki, tmp_path):  # noqa: F811
    d = pki["dir"]
    hub = HubProcess(hub_binary(), str(tmp_path / "hub"), max_poll_wait="5s",
                     tls_cert=f"{d}/hub.pem", tls_key=f"{d}/hub.key", log_level="info")
    hub.start()
    try:
        # plain text where a TLS ClientHello belongs
        with socket.create_connection(("127.0.0.1", hub.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                s.recv(100)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while "tls:" not in hub.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "tls:" in hub.log(), hub.log()[-2000:]
    finally:
        hub.stop()


def _tls11_server(d, port, log):
    """openssl s_server offering TLS 1.1 at most (and 1.0), if this
    OpenSSL can be made to: None if not."""
    args = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert",
            f"{d}/hub.pem", "-key", f"{d}/hub.key", "-tls1_1",
            "-cipher", "DEFAULT@SECLEVEL=0", "-www"]
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            if p.poll() is not None:
                return None
            time.sleep(0.05)
    # does a client that allows TLS 1.1 get through?
    probe = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                            "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
                           input=b"", capture_output=True, timeout=10)
    if b"Protocol  : TLSv1.1" not in probe.stdout and b"TLSv1.1" not in probe.stdout:
        p.kill()
        p.wait()
        return None
    return p


def test_the_agent_refuses_a_server_below_tls_1_2(outpost, pki, tmp_path):  # noqa: F811
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed")
    d = pki["dir"]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    logf = open(tmp_path / "s_server.log", "wb")
    srv = _tls11_server(d, port, logf)
    if srv is None:
        pytest.skip("this OpenSSL will not offer TLS 1.1 even at SECLEVEL=0")
    try:
        os.makedirs(tmp_path / "agent")
        ini = agent_ini(str(tmp_path / "agent"), f"https://127.0.0.1:{port}",
                        "agent-secret-token", f"ca_file = {d}/ca.pem")
        # An OpenSSL policy that would allow TLS 1.0/1.1: the floor is the
        # agent's own.
        cnf = tmp_path / "openssl.cnf"
        cnf.write_text("openssl_conf = c\n[c]\nssl_conf = s\n[s]\nsystem_default = d\n"
                       "[d]\nMinProtocol = TLSv1\nCipherString = DEFAULT@SECLEVEL=0\n")
        env = {**client_env(), "OPENSSL_CONF": str(cnf)}
        # The first poll comes after a random 0-5 s (docs/protocol.md,
        # rule 4): wait for the agent's report of it, not a fixed time.
        agent_log = tmp_path / "agent.log"
        with open(agent_log, "wb") as alog:
            p = subprocess.Popen([outpost, "run", "-c", ini], stdout=alog,
                                 stderr=subprocess.STDOUT, env=env)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and \
                    b"poll of https://127.0.0.1" not in agent_log.read_bytes():
                time.sleep(0.2)
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=15)
        out = agent_log.read_bytes().decode(errors="replace")
    finally:
        srv.kill()
        srv.wait()
        logf.close()
    served = (tmp_path / "s_server.log").read_bytes()
    assert b"agent-secret-token" not in served
    # the agent tried, and its handshake failed on the version
    assert "poll of https://127.0.0.1" in out and "failed" in out, out[-3000:]
    assert b"GET /v1/agent" not in served, served[-2000:]
