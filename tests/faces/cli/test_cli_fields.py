"""Issue 24 item 3 (CLI): a task type's fields are written one column each after
its answer, in CSV and xlsx; --fields chooses them; a re-run costs no call."""

from __future__ import annotations

import datetime

import pytest
from python_calamine import CalamineWorkbook

from conftest import numbers
from processes import cli_env, rows, run


@pytest.fixture
def env(sandbox, tmp_path):
    return cli_env(sandbox, tmp_path)


def listing(tmp_path, values):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(values) + "\n")
    return path


def days(sandbox, number):
    value = sandbox.expected(number, "tg_active")
    return None if value in (None, "N/A") else int(value)


def test_tg_active_writes_its_typed_field_in_csv_and_xlsx_at_one_task(env, sandbox, tmp_path):
    values = numbers(40, start=900)
    path = listing(tmp_path, values)
    result = run("check", str(path), "--task-type", "tg_active", "-q", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "input,number,telegram_days,seen_within_days,status,reason")
    out = rows(result.stdout)
    for r in out:
        expected = days(sandbox, r["number"]) if r["status"] == "ok" else None
        assert r["seen_within_days"] == ("" if expected is None else str(expected))
    assert any(r["seen_within_days"] for r in out)
    # xlsx: the same field as a number cell; nothing asked again.
    xlsx = tmp_path / "out.xlsx"
    again = run("check", str(path), "--task-type", "tg_active", "-q", "-o", str(xlsx), env=env)
    assert again.returncode == 0, again.stderr
    assert sandbox.creates == 1
    sheet = CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_index(0).to_python()
    assert sheet[0] == ["input", "number", "telegram_days", "seen_within_days", "status",
                        "reason"]
    for row in sheet[1:]:
        expected = days(sandbox, row[1]) if row[4] == "ok" else None
        assert row[3] == ("" if expected is None else float(expected))


def test_fields_chooses_the_columns_and_refuses_an_unknown_one(env, sandbox, tmp_path):
    path = listing(tmp_path, numbers(5, start=950))
    none = run("check", str(path), "--task-type", "tg_active", "--fields", "none", "-q",
               env=env)
    assert none.returncode == 0, none.stderr
    assert none.stdout.splitlines()[0] == "input,number,telegram_days,status,reason"
    bad = run("check", str(path), "--task-type", "tg_active", "--fields", "last_seen", "-q",
              env=env)
    assert bad.returncode == 2
    assert "no field 'last_seen'" in bad.stderr and "seen_within_days" in bad.stderr
    assert sandbox.creates == 1  # the refused run sent nothing


def test_a_task_type_without_fields_writes_what_it_always_did(env, sandbox, tmp_path):
    result = run("check", str(listing(tmp_path, numbers(3, start=980))), "-q", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "input,number,telegram,status,reason"


def test_a_date_time_field_is_iso_text_in_csv_and_a_date_cell_in_xlsx():
    from tgcheck.fields import as_cell, as_text

    moment = datetime.datetime(2026, 11, 29, 12, tzinfo=datetime.timezone(
        datetime.timedelta(hours=2)))
    assert as_text(moment) == "2026-11-29T10:00:00Z"
    assert as_cell(moment) == datetime.datetime(2026, 11, 29, 10)
    assert (as_text(True), as_text(False), as_text(7), as_text(None)) == ("yes", "no", "7", None)


def test_export_and_cache_export_write_the_fields_as_check_does(env, sandbox, tmp_path):
    """Issue 24: `tgcheck export JOB` and `tgcheck cache export` write one column per
    field after the answer, typed as `check` writes them (text in CSV, number cells
    in xlsx); answers of a task type without fields leave them empty. No call."""
    values = numbers(30, start=1_200)
    path = listing(tmp_path, values)
    checked = run("check", str(path), "--task-type", "tg_active", "-q", env=env)
    assert checked.returncode == 0, checked.stderr
    by_number = {r["number"]: r["seen_within_days"] for r in rows(checked.stdout)}
    assert any(by_number.values())
    assert run("check", str(listing(tmp_path, numbers(2, start=1_300))), "-q",
               env=env).returncode == 0  # tg answers beside them
    calls = dict(sandbox.calls)

    job = run("export", "1", env=env)
    assert job.returncode == 0, job.stderr
    assert job.stdout.splitlines()[0] == "number,telegram_days,seen_within_days,status"
    assert {r["number"]: r["seen_within_days"] for r in rows(job.stdout)} == by_number
    xlsx = tmp_path / "job.xlsx"
    assert run("export", "1", "-o", str(xlsx), env=env).returncode == 0
    sheet = CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_index(0).to_python()
    assert sheet[0] == ["number", "telegram_days", "seen_within_days", "status"]
    assert {r[0]: r[2] for r in sheet[1:]} == {
        n: float(v) if v else "" for n, v in by_number.items()}
    chosen = run("export", "1", "--fields", "none", env=env)
    assert chosen.stdout.splitlines()[0] == "number,telegram_days,status"
    bad = run("export", "1", "--fields", "last_seen", env=env)
    assert bad.returncode == 2 and "no field 'last_seen'" in bad.stderr

    cache = run("cache", "export", env=env)
    assert cache.returncode == 0, cache.stderr
    assert cache.stdout.splitlines()[0] == (
        "task_type,number,value,seen_within_days,status,checked_at,task_id,provider")
    exported = rows(cache.stdout)
    assert {r["number"]: r["seen_within_days"] for r in exported
            if r["task_type"] == "tg_active"} == by_number
    assert {r["seen_within_days"] for r in exported if r["task_type"] == "tg"} == {""}
    only_tg = run("cache", "export", "--task-type", "tg", env=env)
    assert only_tg.stdout.splitlines()[0] == (
        "task_type,number,value,status,checked_at,task_id,provider")
    xlsx = tmp_path / "cache.xlsx"
    assert run("cache", "export", "--task-type", "tg_active", "-o", str(xlsx),
               env=env).returncode == 0
    sheet = CalamineWorkbook.from_path(str(xlsx)).get_sheet_by_index(0).to_python()
    assert {r[1]: r[3] for r in sheet[1:]} == {
        n: float(v) if v else "" for n, v in by_number.items()}
    assert dict(sandbox.calls) == calls
