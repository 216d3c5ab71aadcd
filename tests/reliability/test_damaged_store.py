"""A damaged store: a clear StoreError, and `tgcheck doctor` sets it aside, keeps its
open jobs, and the next run collects them without creating a task again."""

from __future__ import annotations

import dataclasses
import os
import sqlite3

import pytest
from click.testing import CliRunner

import tgcheck
from conftest import let_go_of, numbers
from store_helpers import store_answers
from tgcheck.cli.doctor import doctor_command
from tgcheck.doctor import doctor
from tgcheck.store import Store


def open_job_and_answers(engine, sandbox):
    """A store holding answers and one open job whose task runs on at the provider."""
    engine.check(numbers(2_000, start=10_000))
    sandbox.speed = 1  # the next task outlives the first run
    with pytest.raises(tgcheck.DeadlineExceeded):
        tgcheck.Engine(dataclasses.replace(engine.settings, timeout=0.3)).check(numbers(20))
    sandbox.speed = 1_000_000
    engine.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.close()
    let_go_of(engine.settings.store_path)


def damage(path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif how == "cut to its header":
        path.write_bytes(data[:100])
    elif how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "zeroed page":
        page = 4096
        path.write_bytes(data[:page * 2] + b"\0" * page + data[page * 3:])


def damage_table(path, table: str) -> None:
    """Overwrite the root page of one table, leaving the others readable."""
    db = sqlite3.connect(path)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    data[start:start + page_size] = b"\xff" * page_size
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbage", "cut to its header"])
def test_an_unreadable_store_is_a_clear_error_that_names_the_doctor(how, engine, sandbox,
                                                                     settings):
    open_job_and_answers(engine, sandbox)
    damage(settings.store_path, how)
    with pytest.raises(tgcheck.StoreError, match="doctor"):
        tgcheck.Engine(settings).check(numbers(3))


@pytest.mark.parametrize("how", ["truncated", "garbage", "cut to its header", "zeroed page"])
@pytest.mark.slow
def test_the_doctor_recovers_a_damaged_store(how, engine, sandbox, settings):
    open_job_and_answers(engine, sandbox)
    path = settings.store_path
    damage(path, how)

    result = CliRunner().invoke(doctor_command, ["--store", str(path)])
    assert result.exit_code == 0, result.output
    assert "moved the damaged store aside" in result.output
    assert list(path.parent.glob(path.name + ".damaged-*"))
    fresh = Store(path)
    assert fresh.integrity_check() == "ok"
    # The next run answers correctly; a salvaged open job is collected, not re-created.
    creates = sandbox.creates
    answers = tgcheck.Engine(settings).check(numbers(20))
    assert [a.value for a in answers] == [sandbox.expected(n) for n in numbers(20)]
    report_live = "(1 live)" in result.output
    assert sandbox.creates == creates + (0 if report_live else 1)
    print(f"measured[{how}]: {result.output.splitlines()[-2]}")


def test_the_doctor_keeps_open_jobs_when_only_answers_are_damaged(engine, sandbox, settings):
    open_job_and_answers(engine, sandbox)
    path = settings.store_path
    damage_table(path, "answers")

    report = doctor(path)
    assert report.repaired and report.live_jobs_salvaged == 1, str(report)
    creates = sandbox.creates
    answers = tgcheck.Engine(settings).check(numbers(20))
    assert sandbox.creates == creates  # the open task was collected, not paid again
    assert [a.value for a in answers] == [sandbox.expected(n) for n in numbers(20)]


def test_the_doctor_keeps_the_answers_when_only_the_journal_is_damaged(engine, sandbox,
                                                                       settings):
    """Paid answers are what the store is for: a damaged journal must not cost them."""
    open_job_and_answers(engine, sandbox)
    path = settings.store_path
    damage_table(path, "jobs")

    report = doctor(path)
    assert report.repaired, str(report)
    assert report.answers_salvaged >= 2_000, str(report)
    creates, calls = sandbox.creates, sum(sandbox.calls.values())
    stored = numbers(2_000, start=10_000)
    answers = tgcheck.Engine(settings).check(stored)
    assert (sandbox.creates, sum(sandbox.calls.values())) == (creates, calls)  # not paid again
    assert [a.value for a in answers] == [sandbox.expected(n) for n in stored]


def test_the_doctor_on_a_healthy_store_changes_nothing(engine, sandbox, settings):
    engine.check(numbers(10))
    before = settings.store_path.stat().st_size
    report = doctor(settings.store_path)
    assert report.healthy and not report.repaired
    assert "ok" in str(report) and "10 answers" in str(report)
    assert settings.store_path.stat().st_size == before
    assert not list(settings.store_path.parent.glob("*.damaged-*"))


def test_the_doctor_with_no_store_says_so(tmp_path):
    report = doctor(tmp_path / "none.sqlite3")
    assert report.missing and "no store yet" in str(report)


def test_damage_found_after_opening_is_a_store_error(engine, sandbox, settings):
    engine.check(numbers(3_000))
    engine.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.close()
    path = settings.store_path
    let_go_of(path)
    db = sqlite3.connect(path)
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name='answers'").fetchone()[0]
    db.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * 4096:root * 4096] = b"\xff" * 4096
    path.write_bytes(bytes(data))
    store = Store(path)  # opens: the schema page is fine
    with pytest.raises(tgcheck.StoreError, match="doctor"):
        store.lookup("tg", numbers(5), max_age_days=30, unknown_retry_hours=24)


def damage_middle_leaf(path, table: str) -> None:
    """Overwrite one leaf page of table's B-tree in the middle of the file (a WITHOUT
    ROWID table's leaves are index leaves, page type 0x0a)."""
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    data = bytearray(path.read_bytes())
    pages = len(data) // page_size
    page = next(p for p in range(pages // 2, pages) if data[p * page_size] == 0x0A)
    data[page * page_size:(page + 1) * page_size] = b"\xff" * page_size
    path.write_bytes(bytes(data))


def test_the_doctor_reads_around_one_damaged_page_and_counts_the_lost(tmp_path, monkeypatch):
    """Issue 22: one damaged 4 KB page of a large store cost every answer. Read by key
    ranges around it, only that page's answers are lost, and the report counts them.
    Without SQLite's command-line tool (its .recover), the stdlib alone does it."""
    path = tmp_path / "tgcheck.sqlite3"
    store = Store(path)
    stored = numbers(60_000)
    for start in range(0, len(stored), 20_000):
        store_answers(store, "tg", [(n, "yes", "ok") for n in stored[start:start + 20_000]],
                      provider="ekycpro")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    let_go_of(path)
    damage_middle_leaf(path, "answers")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sqlite3 command-line tool

    result = CliRunner().invoke(doctor_command, ["--store", str(path)])
    assert result.exit_code == 0, result.output
    fresh = Store(path)
    kept = {row[0] for row in fresh.db.execute("SELECT number FROM answers")}
    # Where each answer came from is salvaged with it.
    assert {row[0] for row in fresh.db.execute("SELECT DISTINCT provider FROM answers")} \
        == {"ekycpro"}
    fresh.close()
    lost = len(stored) - len(kept)
    assert 0 < lost < 500, result.output  # one page holds about a hundred answers
    assert f"and {len(kept)} answers" in result.output
    assert f"lost (unreadable): {lost} answers" in result.output
    print(f"measured: {len(kept)} of {len(stored)} answers salvaged, {lost} lost")


def test_the_doctor_keeps_each_answer_s_fields(engine, sandbox, settings):
    """Issue 24: a salvaged tg_active answer keeps its typed fields. Without them it
    is no answer to tg_active (an older row), so the doctor would cost a new task."""
    asked = numbers(40, start=70_000)
    before = [a.fields for a in engine.check(asked, task_type="tg_active")]
    assert any(f["seen_within_days"] is not None for f in before)
    engine.close()
    let_go_of(settings.store_path)
    damage_table(settings.store_path, "jobs")

    report = doctor(settings.store_path)
    assert report.repaired and report.answers_salvaged == len(asked), str(report)
    calls = sum(sandbox.calls.values())
    again = tgcheck.Engine(settings)
    try:
        after = [a.fields for a in again.check(asked, task_type="tg_active")]
    finally:
        again.close()
    assert sum(sandbox.calls.values()) == calls  # not paid again
    assert after == before
