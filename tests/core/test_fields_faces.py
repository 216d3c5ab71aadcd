"""Issue 24's "done when", on one store: a tg_active check (sandbox) gives the same
typed fields through the CLI (CSV and xlsx), Python, DuckDB and Excel; every face
after the first costs 0 calls; a tg answer is never taken for a tg_active one, nor
the other way round. (The example plugin's ws_active keeping activetime,
activedays and business: tests/core/test_task_fields.py; two providers' `ws` both
usable: tests/core/test_task_type_namespaces.py.)"""

from __future__ import annotations

import duckdb
import pytest
from python_calamine import CalamineWorkbook

import tgcheck
import tgcheck_duckdb
import tgcheck_udfs
from conftest import child_env, numbers
from processes import rows, run


@pytest.fixture
def env(sandbox, tmp_path, monkeypatch):
    """One store for every face: the CLI's children and this process alike."""
    env = child_env(sandbox, tmp_path / "home")
    for name, value in env.items():
        if name.startswith("TGCHECK_"):
            monkeypatch.setenv(name, value)
    return env


def test_tg_active_gives_the_same_typed_fields_on_every_face_at_one_task(env, sandbox,
                                                                         tmp_path):
    asked = numbers(25, start=31_000)
    # Python first: it pays for the one task.
    answers = tgcheck.check(asked, task_type="tg_active")
    want = {a.number: a.fields["seen_within_days"] if a.fields else None for a in answers}
    assert any(isinstance(v, int) for v in want.values())
    assert all(v is None or isinstance(v, int) for v in want.values())
    assert sandbox.creates == 1
    calls = dict(sandbox.calls)

    # CLI: text in CSV, number cells in xlsx.
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(asked) + "\n")
    out = run("check", str(listing), "--task-type", "tg_active", "-q", env=env)
    assert out.returncode == 0, out.stderr
    assert {r["number"]: r["seen_within_days"] for r in rows(out.stdout)} == {
        n: "" if v is None else str(v) for n, v in want.items()}
    xlsx = tmp_path / "out.xlsx"
    out = run("check", str(listing), "--task-type", "tg_active", "-q", "-o", str(xlsx),
              env=env)
    assert out.returncode == 0, out.stderr
    sheet = CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_index(0).to_python()
    assert sheet[0][3] == "seen_within_days"
    assert {r[1]: r[3] for r in sheet[1:]} == {
        n: "" if v is None else float(v) for n, v in want.items()}

    # DuckDB: a BIGINT column, by the macro's task_type argument.
    con = tgcheck_duckdb.register(duckdb.connect())
    con.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS phone", [asked])
    got = con.execute("SELECT phone, seen_within_days FROM telegram_enrich('t', 'phone', "
                      "task_type := 'tg_active')").fetchall()
    con.close()
    assert dict(got) == want

    # Excel: the fourth argument; the field a number cell beside the answer.
    cells = tgcheck_udfs.tg_check([[n] for n in asked], None, None, "tg_active")
    assert {n: row[1] for n, row in zip(asked, cells, strict=True)} == {
        n: "" if v is None else v for n, v in want.items()}

    assert dict(sandbox.calls) == calls  # every face after the first: 0 calls

    # tg is another question: its own task, and then neither is taken for the other.
    assert [a.fields for a in tgcheck.check(asked)] == [None] * len(asked)
    assert sandbox.creates == 2
    calls = dict(sandbox.calls)
    again = tgcheck.check(asked, task_type="tg_active")
    assert {a.number: a.fields["seen_within_days"] if a.fields else None
            for a in again} == want
    assert dict(sandbox.calls) == calls
