"""The shared store's connection lost in the middle of a run (the database
restarted, the network gone): that run stops with an error that says so; the
job stays in the journal, and the next run attaches to it: one create in all."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from urllib.parse import urlsplit

from conftest import child_env, numbers, wait_for
from team_db import skip_without_postgres

pytestmark = skip_without_postgres


class Cable:
    """A TCP relay on 127.0.0.1 in front of the database, that a test can cut."""

    def __init__(self, port: int):
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.target)
                self.sockets += [client, server]
                for a, b in ((client, server), (server, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self):
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
                s.close()


def test_a_connection_lost_mid_run_stops_it_and_the_next_run_attaches(postgres_url, sandbox,
                                                                      tmp_path):
    import psycopg

    parts = urlsplit(postgres_url)
    cable = Cable(parts.port)
    relayed = postgres_url.replace(f":{parts.port}/", f":{cable.port}/")
    sandbox.speed = 5  # the task outlives the cable
    values = numbers(100, start=8100)
    env = child_env(sandbox, tmp_path / "home", TGCHECK_STORE_URL=relayed)
    source = tmp_path / "in.txt"
    source.write_text("\n".join(values) + "\n")
    child = subprocess.Popen([sys.executable, "-m", "tgcheck", "check", str(source),
                              "--progress", "none"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)

    def journal():
        with psycopg.connect(postgres_url) as conn:
            if conn.execute("SELECT to_regclass('tgcheck_sandbox.jobs')").fetchone()[0] is None:
                return None  # the run has not made its store yet
            return conn.execute("SELECT state, status_calls FROM tgcheck_sandbox.jobs"
                                ).fetchone()

    wait_for(lambda: (row := journal()) and row[0] == "open" and row[1] >= 1,
             "the run to be polling its open task")
    cable.cut()
    out, err = child.communicate(timeout=60)
    assert child.returncode == 1, err
    assert "was lost" in err, err
    assert journal()[0] in ("open", "new", "submitting")  # still live: not abandoned

    sandbox.speed = 1_000_000
    done = subprocess.run([sys.executable, "-m", "tgcheck", "resume", "-q"],
                          env=dict(env, TGCHECK_STORE_URL=postgres_url),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sandbox.creates == 1
    assert journal()[0] == "done"
