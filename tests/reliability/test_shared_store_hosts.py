"""Processes on several "machines" sharing one PostgreSQL store: each has its own
TGCHECK_HOME and host name (TGCHECK_HOST_NAME), only the database is common.

- 8 processes on 2 hosts check one set at once: exactly 1 create at the provider.
- The owner killed with SIGKILL mid-task: another host takes the job over once the
  lease (on the database's clock) has lapsed; still 1 create.
- A second host re-checking finished numbers: not one call to the provider.

No sleep stands in for synchronisation: the tests wait for states in the journal.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from conftest import child_env, numbers, wait_for
from team_db import skip_without_postgres
from tgcheck.sandbox import Sandbox

pytestmark = skip_without_postgres

CHECKER = """
import json, os, sys, time
go, wanted = sys.argv[1], sys.argv[2:]
import tgcheck
from tgcheck.engine import Tuning
from tgcheck.store import StoreTuning, open_store
settings = tgcheck.Settings.from_env()
store_tuning = None
tuning = Tuning()
if os.environ.get("TEST_LEASE_SECONDS"):  # a lease a test can wait out
    store_tuning = StoreTuning(lease_seconds=float(os.environ["TEST_LEASE_SECONDS"]))
    tuning = Tuning(heartbeat_every=float(os.environ["TEST_HEARTBEAT_EVERY"]))
# The shared store is open before the start line.
engine = tgcheck.Engine(settings, store=open_store(settings, tuning=store_tuning),
                        tuning=tuning)
print("ready", flush=True)
while go != "-" and not os.path.exists(go):  # every process starts at the same moment
    time.sleep(0.005)
print(json.dumps({a.number: a.value for a in engine.check(wanted)}), flush=True)
"""


def host_env(sandbox, tmp_path, url: str, host: str, **extra: str) -> dict:
    """A process on machine `host`: its own TGCHECK_HOME, the team's database."""
    return child_env(sandbox, tmp_path / host, TGCHECK_STORE_URL=url, TGCHECK_HOST_NAME=host,
                     TGCHECK_TIMEOUT="120", **extra)


def start(env: dict, go: str, wanted: list[str]) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", CHECKER, go, *wanted], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = child.stdout.readline().strip()
    assert line == "ready", child.stderr.read()[-3000:]
    return child


def answers_of(child: subprocess.Popen) -> dict:
    # stdout.read() first: communicate() reads the pipe itself and misses what start()'s
    # readline() buffered past "ready" (a child answering from the store prints both
    # lines at once: on a loaded machine the answers were lost).
    out = child.stdout.read()
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_eight_processes_on_two_hosts_create_one_task(postgres_url, tmp_path):
    wanted = numbers(300)
    go = tmp_path / "go"
    with Sandbox(speed=600, omit_rate=0.0) as sb:  # about half a second of work
        children = [start(host_env(sb, tmp_path, postgres_url, host), str(go), wanted)
                    for host in ("alpha", "beta") for _ in range(4)]
        go.touch()
        results = [answers_of(child) for child in children]
        assert sb.creates == 1
        assert all(got == {n: sb.expected(n) for n in wanted} for got in results)


LEASE = 3.0  # seconds; the owners beat every 0.25 s (the defaults: 60 and 10)


@pytest.mark.slow
def test_an_owner_killed_on_one_host_is_taken_over_by_another(postgres_url, tmp_path):
    import psycopg

    def journal():
        """The job's owner and heartbeat, and the time now, all on the database's clock."""
        with psycopg.connect(postgres_url) as conn:
            return conn.execute(
                "SELECT state, status_calls, owner, heartbeat, "
                "extract(epoch FROM clock_timestamp())::float8 FROM tgcheck_sandbox.jobs"
            ).fetchone()

    lease = {"TEST_LEASE_SECONDS": str(LEASE), "TEST_HEARTBEAT_EVERY": "0.25"}
    wanted = numbers(200, start=5000)
    with Sandbox(speed=5, omit_rate=0.0) as sb:  # the task outlives the first owner
        first = start(host_env(sb, tmp_path, postgres_url, "alpha", **lease), "-", wanted)

        def alpha_polling():
            row = journal()
            return row and row[0] == "open" and row[1] >= 1 and row[2].startswith("alpha:")

        wait_for(alpha_polling, "alpha to be polling an open task")
        first.send_signal(signal.SIGKILL)
        first.wait()
        last_beat = journal()[3]
        assert sb.creates == 1

        second = start(host_env(sb, tmp_path, postgres_url, "beta", **lease), "-", wanted)
        taken = wait_for(lambda: (row := journal()) and (row[2] or "").startswith("beta:")
                         and row, "beta to take the job over")
        # Another host cannot see whether alpha's pid lives: only the lease tells.
        assert taken[4] >= last_beat + LEASE
        sb.speed = 1_000_000
        assert answers_of(second) == {n: sb.expected(n) for n in wanted}
        assert sb.creates == 1  # beta polled alpha's task; it did not create another
        assert journal()[0] == "done"


def test_a_second_host_rechecking_finished_numbers_makes_no_call(postgres_url, tmp_path):
    wanted = numbers(100, start=9000)
    with Sandbox(omit_rate=0.0) as sb:
        answers = answers_of(start(host_env(sb, tmp_path, postgres_url, "alpha"), "-", wanted))
        assert sb.creates == 1
        calls = sum(sb.calls.values())
        again = answers_of(start(host_env(sb, tmp_path, postgres_url, "beta"), "-", wanted))
        assert again == answers
        assert sum(sb.calls.values()) == calls
