"""A throw-away PostgreSQL cluster for tests, like snmpd: Debian's
postgresql binaries run as the postgres user in a temporary directory,
listening on 127.0.0.1 on a free port (and a unix socket in that
directory), stopped with `pg_ctl stop` at the end.

    cluster = shared_cluster()        # started once per test session
    uri = cluster.new_database()      # postgresql://postgres@127.0.0.1:PORT/hub_N

`unavailable()` says why it cannot run here (not root, postgresql not
installed); tests skip with that reason. CI runs as root with postgresql
installed, so there it runs.
"""

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading

import pytest


def _bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            return d
    return None


def unavailable():
    """None, or why no cluster can be started here."""
    if os.geteuid() != 0:
        return "PostgreSQL tests need root (initdb runs as the postgres user)"
    if _bindir() is None:
        return "postgresql is not installed (/usr/lib/postgresql/*/bin/initdb)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres user"
    return None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self):
        self.bindir = _bindir()
        self.dir = tempfile.mkdtemp(prefix="outpost-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "pg.log")
        self.port = None
        self.ndb = 0
        self.lock = threading.Lock()
        pw = pwd.getpwnam("postgres")
        os.makedirs(self.sock)
        for p in (self.dir, self.sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o755)

    def _as_postgres(self, *args, timeout=60):
        cmd = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups",
               os.path.join(self.bindir, args[0]), *args[1:]]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           cwd=self.dir)
        if p.returncode != 0:
            raise AssertionError(f"{args[0]}: exit {p.returncode}: {p.stderr}{p.stdout}")
        return p

    def start(self):
        self._as_postgres("initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                          "--no-sync")
        for _ in range(3):   # another process may take the port meanwhile
            try:
                return self.resume(_free_port())
            except AssertionError:
                with open(self.log, errors="replace") as f:
                    if "could not bind" not in f.read():
                        raise
        raise AssertionError("postgres could not bind a free port")

    def resume(self, port=None):
        """Start the server (again, on the same port unless given one)."""
        self.port = port or self.port
        opts = (f"-k {self.sock} -p {self.port} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c max_connections=200")
        self._as_postgres("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                          "-o", opts, "start")
        return self

    def pause(self):
        """Stop the server, keeping its data and port for resume()."""
        self._as_postgres("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def stop(self):
        if self.port is not None:
            try:
                self.pause()
            except AssertionError:
                pass
            self.port = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def uri(self, db="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def psql(self, sql, db="postgres"):
        p = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t",
                            "-v", "ON_ERROR_STOP=1", "-d", self.uri(db), "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"psql {sql!r}: {p.stderr}")
        return p.stdout.strip()

    def new_database(self):
        """A fresh, empty database; its URI."""
        with self.lock:
            self.ndb += 1
            name = f"hub_{os.getpid()}_{self.ndb}"
        self.psql(f"CREATE DATABASE {name}")
        return self.uri(name)


_shared = None


def shared_cluster():
    """The session's cluster (started on first use, stopped at exit);
    skips the calling test when PostgreSQL cannot run here."""
    global _shared
    why = unavailable()
    if why:
        pytest.skip(why)
    if _shared is None:
        c = PgCluster()
        try:
            c.start()
        except BaseException:
            c.stop()
            raise
        atexit.register(c.stop)
        _shared = c
    return _shared


@pytest.fixture(scope="session")
def pg_cluster():
    c = shared_cluster()
    yield c
