"""One `outpost run` per state_dir: a second one refuses to start.

Two agents on one state_dir would write the same spool and status.json
(each deleting what the other spooled, each overwriting the other's
status). The first holds an OS lock on state_dir/lock; the second must exit
at once naming the state_dir and the first one's PID, while check-config
and status keep working. An OS lock dies with its process, so an agent
killed with SIGKILL never blocks the next start.
"""

import os
import signal
import subprocess
import time

import pytest

from agent_fixture import AgentProcess
from snmpd_fixture import client_env

# Nothing listens here: the agent starts and backs off, which is all
# these tests need from a hub.
NO_HUB = "http://127.0.0.1:9"


@pytest.fixture
def agent(outpost, tmp_path):
    a = AgentProcess(outpost, str(tmp_path / "agent"), NO_HUB, "t" * 32)
    yield a
    if a.proc is not None and a.proc.poll() is None:
        a.stop()


def run_second(outpost, ini, timeout=20):
    """`outpost run` on ini: (exit status, output); None if still running."""
    p = subprocess.Popen([outpost, "run", "-c", ini], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         env=client_env())
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return None, out.decode(errors="replace")


def test_second_run_on_one_state_dir_refuses_naming_it_and_the_holder(outpost, agent):
    agent.start()
    rc, out = run_second(outpost, agent.ini)
    assert rc == 1, f"a second outpost run on one state_dir kept running:\n{out}"
    assert agent.state in out and f"PID {agent.proc.pid}" in out, out
    # The first one is untouched and still the one running.
    assert agent.proc.poll() is None
    with open(os.path.join(agent.state, "lock")) as f:
        assert f.read().strip() == str(agent.proc.pid)


def test_check_config_and_status_work_while_run_holds_the_state_dir(outpost, agent):
    agent.start()
    r = subprocess.run([outpost, "check-config", "-c", agent.ini],
                       capture_output=True, text=True, env=client_env(), timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    status = os.path.join(agent.state, "status.json")
    deadline = time.monotonic() + 10
    while not os.path.exists(status):
        assert time.monotonic() < deadline, "no status.json"
        time.sleep(0.05)
    r = subprocess.run([outpost, "status", "-c", agent.ini],
                       capture_output=True, text=True, env=client_env(), timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"running (pid {agent.proc.pid}" in r.stdout, r.stdout


def test_a_killed_agent_leaves_no_lock_that_blocks_the_next_start(outpost, agent):
    agent.start()
    old = agent.proc.pid
    agent.proc.send_signal(signal.SIGKILL)
    agent.proc.wait()
    agent.logf.close()
    # The lock file is still there, naming the dead process...
    with open(os.path.join(agent.state, "lock")) as f:
        assert f.read().strip() == str(old)
    # ...and the next agent starts and takes it.
    agent.start()
    with open(os.path.join(agent.state, "lock")) as f:
        assert f.read().strip() == str(agent.proc.pid)
    rc, out = run_second(outpost, agent.ini)
    assert rc == 1 and f"PID {agent.proc.pid}" in out, out
