"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary folder,
started on a free loopback port with trust authentication, stopped and removed
at the end.

PostgreSQL refuses to run as root: when the tests run as root, the cluster runs
as the `postgres` user (`su postgres -s /bin/bash -c ...`), in a folder that user
owns. The binaries are Debian's (not on PATH): /usr/lib/postgresql/<version>/bin,
or wherever `pg_config --bindir` or TGCHECK_PG_BIN says.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

CANDIDATES = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/usr/pgsql-*/bin")


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    given = os.environ.get("TGCHECK_PG_BIN")
    found = [given] if given else []
    found += sorted(glob.glob(CANDIDATES[0]), reverse=True)  # the newest version first
    for pattern in CANDIDATES[1:]:
        found += sorted(glob.glob(pattern), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        found.append(str(Path(on_path).parent))
    for folder in found:
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One running cluster; `url(db)` names a database on it (user postgres, no password)."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.as_postgres = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="tgcheck-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.started = False

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["su", "postgres", "-s", "/bin/bash", "-c", shlex.join(command)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              check=False)
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): "
                               f"{done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> Cluster:
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.root.chmod(0o755)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-sync")
        self._serve()
        return self

    def _serve(self) -> None:
        # Under pytest-xdist every worker starts its own cluster: a port found free
        # may be taken by another worker before PostgreSQL binds it. Then another one.
        for attempt in range(3):
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                       f"-c unix_socket_directories={self.root} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=200")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                          str(self.root / "log"), "-w", "-t", "60", "start")
                break
            except RuntimeError:
                log = self.root / "log"
                taken = log.exists() and "could not bind" in log.read_text(errors="replace")
                if attempt == 2 or not taken:
                    raise
                self.port = _free_port()
        self.started = True

    def halt(self) -> None:
        """The server stops at once (as a crash or a power cut would); its data stays."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.started = False

    def restart(self) -> None:
        """The halted server starts again on the same port, with its data."""
        self._serve()

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.started = False
        # A whole session leaves a database per test (about 8 MB each): removing them
        # took over a minute on a loaded machine, and pytest-timeout counts a session
        # fixture's teardown against the last test of the session (of each worker).
        # A detached rm removes them while the run goes on or ends.
        try:
            subprocess.Popen(["rm", "-rf", str(self.root)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        except OSError:  # no rm
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(bindir: Path):
    cluster = Cluster(bindir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


# -- fixtures (conftest.py imports them) ---------------------------------------------
_NO_POSTGRES = ("PostgreSQL IS NOT INSTALLED (no initdb/pg_ctl in /usr/lib/postgresql/*/bin, "
                "TGCHECK_PG_BIN or PATH): the PostgreSQL half of the store tests is SKIPPED")
_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL cluster for the whole session (skipped, loudly, without one)."""
    bindir = find_bindir()
    if bindir is None:
        import warnings

        warnings.warn(_NO_POSTGRES, stacklevel=1)
        pytest.skip(_NO_POSTGRES)
    with running_cluster(bindir) as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster):
    """A fresh, empty database on the session's cluster: its URL."""
    return postgres_cluster.create_database(f"tgcheck_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path):
    """Where a store lives, once per backend: a SQLite file, then a PostgreSQL URL.
    The store contract suite opens it with tgcheck.store.open_store."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite3")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def any_store(store_target):
    """A fresh store of each backend in turn (the contract suite's fixture)."""
    from tgcheck.store import open_store

    store = open_store(store_target)
    yield store
    store.close()
