"""Several processes and threads, through every face (Python API, DuckDB, Excel), on
overlapping number sets and one store: one task per distinct set, right answers,
and no "database is locked" reaching anyone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from conftest import child_env, numbers
from tgcheck.sandbox import Sandbox

duckdb = pytest.importorskip("duckdb")

CALLER = textwrap.dedent("""
    import json, os, sys, time
    face, go = sys.argv[1], sys.argv[2]
    wanted = sys.argv[3:]
    import tgcheck, duckdb, tgcheck_duckdb, tgcheck_udfs
    con = tgcheck_duckdb.register(duckdb.connect())
    con.execute("SET enable_progress_bar = false")
    print("ready", flush=True)
    while not os.path.exists(go):  # every caller starts at the same moment
        time.sleep(0.005)
    if face == "api":
        got = {a.number: a.value for a in tgcheck.check(wanted)}
    elif face == "duckdb":
        rows = con.execute("SELECT number, telegram FROM telegram_check(?)", [wanted]).fetchall()
        got = dict(rows)
    else:
        cells = tgcheck_udfs.tg_check([[float(n[1:])] for n in wanted])
        got = {n: row[0] for n, row in zip(wanted, cells)}
    print(json.dumps(got))
""")


@pytest.mark.slow
def test_processes_and_threads_through_every_face_share_tasks(tmp_path, monkeypatch):
    import tgcheck
    import tgcheck_duckdb
    import tgcheck_udfs

    set_a = numbers(400)
    set_b = numbers(400, start=200)  # half of it overlaps set_a
    home, go = tmp_path / "home", tmp_path / "go"
    with Sandbox(speed=400, omit_rate=0.0) as sb:  # a task takes about a second
        env = child_env(sb, home, TGCHECK_TIMEOUT="60")
        for name in ("TGCHECK_API_KEY", "TGCHECK_BASE_URL", "TGCHECK_HOME", "TGCHECK_POLL_MIN",
                     "TGCHECK_POLL_MAX", "TGCHECK_TIMEOUT", "TGCHECK_RETRY_BASE",
                     "TGCHECK_SANDBOX"):
            monkeypatch.setenv(name, env[name])
        plan = [("api", set_a), ("duckdb", set_a), ("excel", set_b), ("api", set_b),
                ("duckdb", set_b), ("excel", set_a)]
        children = [subprocess.Popen([sys.executable, "-c", CALLER, face, str(go), *wanted],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True) for face, wanted in plan]
        for child in children:  # wait for observable readiness, not for time
            assert child.stdout.readline().strip() == "ready"

        results: dict[str, dict] = {}
        errors: list[BaseException] = []

        def in_process(name, face, wanted):
            while not go.exists():
                time.sleep(0.005)
            try:
                if face == "api":
                    results[name] = {a.number: a.value for a in tgcheck.check(wanted)}
                elif face == "duckdb":
                    con = tgcheck_duckdb.register(duckdb.connect())
                    results[name] = dict(con.execute(
                        "SELECT number, telegram FROM telegram_check(?)", [wanted]).fetchall())
                else:
                    cells = tgcheck_udfs.tg_check([[float(n[1:])] for n in wanted])
                    results[name] = {n: row[0] for n, row in zip(wanted, cells, strict=True)}
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=in_process, args=(f"t{i}", face, wanted))
                   for i, (face, wanted) in enumerate(plan + plan)]
        for t in threads:
            t.start()
        go.touch()
        outputs = [c.communicate(timeout=60) for c in children]
        for t in threads:
            t.join(60)
        assert not errors, errors
        for child, (_, err) in zip(children, outputs, strict=True):
            assert child.returncode == 0, err[-2000:]
            assert "locked" not in err
        for (face, wanted), (out, _) in zip(plan, outputs, strict=True):
            got = json.loads(out.strip().splitlines()[-1])
            assert got == {n: sb.expected(n) for n in wanted}, face
        for name, got in results.items():
            assert set(got.values()) <= {"yes", "no"}, name
            assert all(v == sb.expected(n) for n, v in got.items()), name

        task_sets = [frozenset(t.numbers) for t in sb.tasks.values()]
        assert len(task_sets) == len(set(task_sets)), "two tasks for one number set"
        assert all(s <= set(set_a) or s <= set(set_b) for s in task_sets)
        assert sb.creates == len(sb.tasks) <= 2 * 2  # at most {A, B, A-B, B-A}
        # No number paid twice: the tasks are disjoint and cover A and B once.
        assert sum(len(s) for s in task_sets) == len(set(set_a) | set(set_b))
        print(f"measured: {len(plan) * 3} callers, {sb.creates} creates")


SHAPE_CALLER = textwrap.dedent("""
    import json, os, sys, time
    go, task_type = sys.argv[1], sys.argv[2]
    import tgcheck
    print("ready", flush=True)
    while not os.path.exists(go):  # every caller starts at the same moment
        time.sleep(0.005)
    print(json.dumps({a.number: a.value for a in tgcheck.check(sys.argv[3:],
                                                               task_type=task_type)}))
""")


def test_processes_and_threads_on_every_provider_shape_pay_each_number_once(provider_shape,
                                                                           tmp_path):
    """Two processes and four threads on overlapping sets, one store, on every
    provider shape (tests/shapes.py): one task per distinct set, no number in two
    tasks nor asked twice by the fast path, every answer the vendor's."""
    import tgcheck

    shape = provider_shape
    settings = shape.settings(tmp_path / "home")
    set_a, set_b = numbers(16), numbers(16, start=8)  # half of B is in A
    go = tmp_path / "go"
    plan = [set_a, set_b, set_a, set_b, set_a, set_b]
    children = [subprocess.Popen([sys.executable, "-c", SHAPE_CALLER, str(go), shape.task_type,
                                  *wanted], env=shape.env(settings.home), text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for wanted in plan[:2]]
    for child in children:  # wait for observable readiness, not for time
        assert child.stdout.readline().strip() == "ready"
    results, errors = [], []

    def in_process(wanted):
        while not go.exists():
            time.sleep(0.005)
        try:
            results.append({a.number: a.value for a in tgcheck.check(
                wanted, task_type=shape.task_type, settings=settings)})
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=in_process, args=(wanted,)) for wanted in plan[2:]]
    for t in threads:
        t.start()
    go.touch()
    outputs = [c.communicate(timeout=60) for c in children]
    for t in threads:
        t.join(60)
    assert not errors, errors
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    for got in results:
        assert got == {n: shape.expected(n) for n in got}
    task_sets = [frozenset(t) for t in shape.tasks]
    assert shape.creates == len(task_sets) <= 4  # at most {A, B, A-B, B-A}
    # No number paid twice: the tasks are disjoint, the fast path asked each once.
    assert sum(len(s) for s in task_sets) == len(frozenset().union(*task_sets))
    if shape.shape.sync:
        assert max(shape.server.checked.values()) == 1
