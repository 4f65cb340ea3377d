"""A throwaway PostgreSQL cluster for the tests: initdb into a temporary directory, postgres on
127.0.0.1 at a free port (its unix socket in the same directory), one fresh database per test,
everything stopped and deleted at the end.

The binaries (initdb, pg_ctl) are found on PATH or in /usr/lib/postgresql/*/bin; without them the
PostgreSQL tests are skipped with one line. PostgreSQL refuses to run as root: when the tests run
as root the cluster belongs to the `postgres` system user (or `nobody` where there is none) and
its processes are started with subprocess's `user=` (setuid before exec, no su/runuser wrapper,
so the pid we hold is pg_ctl's own); the temporary directory is made theirs. The superuser of the
cluster is `probe_nav` with trust authentication on loopback only: it holds no data that matters.

fsync=off: a crash of the test machine loses a throwaway cluster, nothing else; the durability
of a committed record is PostgreSQL's own guarantee, not something these tests measure.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SUPERUSER = "probe_nav"
START_TIMEOUT_S = 120  # pg_ctl's wait bound: generous, the machine is shared and slow at times
_PORT_ATTEMPTS = 5  # another process may take the free port between our probe and postgres


def find_bindir() -> Path | None:
    """The directory with initdb and pg_ctl, or None where PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _run_as() -> pwd.struct_passwd | None:
    """The account to run the cluster as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One running cluster; `new_database()` gives the URL of an empty database."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.owner = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="probe-nav-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = 0
        self._names = itertools.count(1)
        if self.owner is not None:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        user = self.owner.pw_uid if self.owner is not None else None
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True,
                              text=True, user=user, cwd=self.root, check=False)

    def start(self) -> None:
        """initdb, then pg_ctl start -w on a free port (retried if the port was taken)."""
        done = self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                         "-E", "UTF8", "--no-locale", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        for _ in range(_PORT_ATTEMPTS):
            self.port = _free_port()
            options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                       "-c full_page_writes=off -c max_connections=200")
            done = self._run("pg_ctl", "start", "-w", "-t", str(START_TIMEOUT_S), "-D",
                             str(self.data), "-l", str(self.log), "-o", options)
            if done.returncode == 0:
                return
        raise RuntimeError(f"postgres did not start: {done.stderr.strip()} "
                           f"{self.log.read_text(errors='replace')[-2000:]}")

    def pause(self) -> None:
        """Stop the server (connections cut, as a server that goes away), keeping its data."""
        done = self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.data))
        if done.returncode:
            raise RuntimeError(f"pg_ctl stop failed: {done.stderr.strip()}")

    def resume(self) -> None:
        """Start the paused server again on the same port, with the same data."""
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
                   "-c full_page_writes=off -c max_connections=200")
        done = self._run("pg_ctl", "start", "-w", "-t", str(START_TIMEOUT_S), "-D",
                         str(self.data), "-l", str(self.log), "-o", options)
        if done.returncode:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()}")

    def url(self, database: str) -> str:
        """The URL of a database of this cluster (TCP on loopback)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """Create an empty database; returns its URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """pg_ctl stop -m fast (open connections are cut), then delete everything."""
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self.data))
        shutil.rmtree(self.root, ignore_errors=True)


def require_bindir() -> Path:
    """PostgreSQL's binaries, or the test skipped (failed under CI=true, where .ci/run installs
    them and they must run)."""
    pytest.importorskip("psycopg", reason="psycopg is not installed")
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but PostgreSQL is not installed (no initdb/pg_ctl)")
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl): PostgreSQL tests skipped")
    return bindir


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A cluster started now and stopped (its data deleted) at the end."""
    server = PostgresServer(require_bindir())
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One cluster per test process (each xdist worker has its own)."""
    with running_server() as server:
        yield server


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresServer]:
    """A cluster of this test's own, to stop and start again (the session's is shared), its
    stores' keys in the test's directory."""
    monkeypatch.setenv("PROBE_NAV_DATABASE_KEY_DIR", str(tmp_path / "keys"))
    with running_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database for this test."""
    return postgres_server.new_database()
