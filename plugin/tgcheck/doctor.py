"""`tgcheck doctor`: check the local store, and recover from a damaged one.

A damaged store must cost as little as possible. Answers can be fetched again
(at a price), but an open job is a task already paid for whose id lives only in
the journal: losing it means paying again. So the doctor moves the damaged file
aside (never deletes it), creates a fresh store, and copies into it every row
that can still be read, live jobs first.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import StoreDamaged, StoreError
from .salvage_scan import keys_in_gaps, scan_by_key
from .store import (
    ADDED_COLUMNS,
    ANSWER_COLUMNS,
    JOB_COLUMNS,
    LIVE_STATES,
    Job,
    Store,
    StoredAnswer,
    StoredJob,
    describe_url,
    foreign_schema,
    is_store_url,
    open_store,
    store_error,
    unpack_numbers,
)
from .store.journal import JobState
from .store.open import SANDBOX_SCHEMA

# Rows are read in rowid windows: a damaged page loses one window, not the rest.
_WINDOW = 256


@dataclasses.dataclass
class DoctorReport:
    path: Path
    healthy: bool = False
    missing: bool = False
    problem: str | None = None
    # The shared store's error when it could not be opened: the command's exit
    # code follows the one rule from it (StoreUnreachable is a setting to fix: 2).
    error: BaseException | None = None
    moved_to: Path | None = None
    jobs_salvaged: int = 0
    live_jobs_salvaged: int = 0
    answers_salvaged: int = 0
    # What could not be read: answers the journal's finished jobs name inside the
    # unreadable key ranges (None: the journal could not say), and journal rows.
    answers_lost: int | None = 0
    jobs_lost: int = 0
    answer_gaps: list = dataclasses.field(default_factory=list)
    damaged_tables: set[str] = dataclasses.field(default_factory=set)
    lines: list[str] = dataclasses.field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return self.moved_to is not None

    def say(self, line: str) -> None:
        self.lines.append(line)

    def __str__(self) -> str:
        return "\n".join(self.lines)


def doctor(store_path: Path | str, *, sandbox: bool = False) -> DoctorReport:
    """Check the store at store_path (a SQLite file, or a PostgreSQL URL); if a
    file is damaged, set it aside and salvage it.
    sandbox: it is the sandbox's store, and the commands it names say --sandbox
    (in PostgreSQL, the schema tgcheck_sandbox)."""
    if is_store_url(str(store_path)):
        return _doctor_shared(str(store_path), sandbox)
    path = Path(store_path)
    report = DoctorReport(path)
    flag = " --sandbox" if sandbox else ""
    if not path.exists():
        report.missing = True
        report.say(f"{path}: no store yet; nothing to check (the first run creates it)")
        return report
    problem = _problem(path)
    if problem is None:
        report.healthy = True
        _describe_healthy(path, report, flag)
        return report
    if isinstance(problem, _NotDamage):
        # Read-only, locked, another program's database: the file is not damaged,
        # and moving it aside would lose (and make the user pay again for) what it
        # holds. Say what is wrong; touch nothing.
        report.problem = str(problem)
        report.say(f"{path}: not checked, nothing changed: {problem}")
        return report
    report.problem = problem
    report.say(f"{path}: damaged ({problem})")
    moved = _move_aside(path)
    report.moved_to = moved
    report.say(f"moved the damaged store aside to {moved} (kept, never deleted)")
    fresh = Store(path)
    try:
        _salvage(moved, fresh, report)
    finally:
        fresh.close()
    report.say(
        f"created a fresh store at {path}; salvaged {report.jobs_salvaged} journal rows "
        f"({report.live_jobs_salvaged} live) and {report.answers_salvaged} answers"
    )
    if report.damaged_tables:
        report.say(_lost_line(report))
    if report.live_jobs_salvaged:
        report.say(f"run `tgcheck resume{flag}` to collect the open jobs without creating new "
                   "tasks")
    return report


def _lost_line(report: DoctorReport) -> str:
    """What could not be read, counted where the store can tell."""
    lost = []
    if "answers" in report.damaged_tables:
        if report.answers_lost is None:
            lost.append("an unknown number of answers (the journal could not say)")
        else:
            # The journal's finished jobs name the numbers they answered: those in the
            # unreadable key ranges are the lost ones (a damaged journal: at least).
            least = "at least " if "jobs" in report.damaged_tables else ""
            lost.append(f"{least}{report.answers_lost} answers" if report.answers_lost or
                        not least else "an unknown number of answers (the journal is "
                        "damaged too)")
    if "jobs" in report.damaged_tables:
        lost.append(f"{report.jobs_lost} journal rows")
    return (f"lost (unreadable): {' and '.join(lost)}; answers lost are fetched again by "
            "the next check that asks for them (that is billed)")


class _NotDamage(str):
    """A problem that is not damage: the file must not be moved aside."""


def _open_read_only(path: Path) -> sqlite3.Connection:
    """The store opened for the check, which writes nothing to it. A plain
    connection first (it tidies the WAL's side files away when it closes); where
    the file or its folder cannot be written, read-only, and immutable when even
    the WAL's shared-memory file cannot be made: a read-only TGCHECK_HOME is
    checked too, never taken for damage."""
    for target, uri in ((str(path), False), (f"{path.resolve().as_uri()}?mode=ro", True)):
        try:
            db = sqlite3.connect(target, uri=uri, timeout=60)
        except sqlite3.OperationalError as e:
            if _code(e) not in _CANNOT_WRITE:
                raise
            continue
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError as e:
            db.close()
            if _code(e) not in _CANNOT_WRITE:
                raise
    return sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True, timeout=60)


# SQLITE_READONLY, SQLITE_CANTOPEN: the folder or file cannot be written.
_CANNOT_WRITE = (8, 14)


def _code(e: sqlite3.Error) -> int:
    return (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF


def _problem(path: Path) -> str | None:
    """None when the store opens and passes SQLite's integrity check; a _NotDamage
    when it cannot be checked or is not a tgcheck store."""
    try:
        db = _open_read_only(path)
    except sqlite3.DatabaseError as e:
        return _verdict(path, e)
    try:
        rows = db.execute("PRAGMA integrity_check(20)").fetchall()
        first = [line for r in rows for line in str(r[0]).splitlines() if "***" not in line]
        if first != ["ok"]:
            return "; ".join(first[:3]) + (f" (and {len(rows) - 3} more)" if len(rows) > 3 else "")
        foreign = foreign_schema(db)
        if foreign:
            # Another program's database, sound as SQLite sees it: not ours to move.
            return _NotDamage(f"a SQLite database but not a tgcheck store ({foreign}); set "
                              "TGCHECK_HOME to another folder, or move that file away yourself")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and not {"answers", "jobs"} <= tables:
            return "not a tgcheck store (tables missing)"
    except sqlite3.DatabaseError as e:
        return _verdict(path, e)
    finally:
        db.close()
    return None


def _verdict(path: Path, e: sqlite3.DatabaseError) -> str:
    """Damage (SQLite says corrupt, not a database) is a plain problem: the file is
    moved aside. Anything else (read-only, locked, full) is _NotDamage."""
    translated = store_error(path, e)
    if translated is None or isinstance(translated, StoreDamaged):
        return str(e)
    return _NotDamage(str(translated))


def _doctor_shared(url: str, sandbox: bool) -> DoctorReport:
    """The shared store in PostgreSQL: reachable, a tgcheck schema at this
    version, and what it holds. Nothing is moved or repaired there: the
    server keeps its own data safe (backups are the DBA's)."""
    report = DoctorReport(Path(describe_url(url)))
    flag = " --sandbox" if sandbox else ""
    try:
        store = open_store(url, schema=SANDBOX_SCHEMA if sandbox else None)
    except StoreError as e:
        report.problem = _NotDamage(str(e))
        report.error = e
        report.say(f"{describe_url(url)}: not checked, nothing changed: {e}")
        return report
    try:
        problem = store.check()
        if problem != "ok":
            report.problem = _NotDamage(problem)
            report.say(f"{store.path}: {problem}")
            return report
        try:
            store.require_grants()
        except StoreError as e:
            # Readable, but a check would pay for answers it cannot keep: not "ok".
            report.problem = _NotDamage(str(e))
            report.error = e
            report.say(f"{store.path}: this role lacks grants a check needs, so checks "
                       "stop before paying. Missing: " + " ".join(store.missing_grants))
            return report
        report.healthy = True
        report.say(f"{store.path}: ok (PostgreSQL, schema {store.schema} at version "
                   f"{store.schema_version()}); this role has every grant a check needs")
        _describe(report, store.count_answers(), store.job_state_counts(), flag)
    finally:
        store.close()
    return report


def _describe_healthy(path: Path, report: DoctorReport, flag: str = "") -> None:
    # Read-only like the check: a healthy store in a read-only home is described too.
    db = _open_read_only(path)
    try:
        answers = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        states = dict(db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY 1 ORDER BY 1"))
    finally:
        db.close()
    report.say(f"{path}: ok (integrity check passed)")
    _describe(report, answers, states, flag)


def _describe(report: DoctorReport, answers: int, states: dict[str, int], flag: str) -> None:
    live = sum(states.get(s, 0) for s in LIVE_STATES)
    shown = ", ".join(f"{n} {s}" for s, n in states.items()) or "none"
    report.say(f"{answers} answers stored; jobs: {shown}")
    if live:
        report.say(f"{live} live jobs: `tgcheck jobs{flag}` lists them, `tgcheck resume{flag}` "
                   "finishes the open ones (it names those it leaves, and why)")


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    # The WAL holds committed transactions too: it moves with its database.
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, f"{target}{suffix}")
    os.replace(path, target)
    return target


def _salvage(damaged: Path, fresh: Store, report: DoctorReport) -> None:
    jobs: dict[int, dict] = {}
    answers: dict[tuple[str, str], tuple] = {}
    readable = False
    with tempfile.TemporaryDirectory(prefix="tgcheck-doctor-") as scratch:
        sources = [damaged]
        recovered = _recover_with_cli(damaged, Path(scratch) / "recovered.sqlite3")
        if recovered is not None:
            sources.append(recovered)
        for source in sources:
            try:
                src = sqlite3.connect(source, timeout=5)
                # Lets SQLite open a file shorter than its header says (truncated).
                src.execute("PRAGMA writable_schema=ON")
                src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.DatabaseError:
                continue
            readable = True
            # What `.recover` rebuilt is an extra source: a table it could not
            # rebuild is missing there, which is no damage of the store's.
            extra = source is not damaged
            try:
                if not extra or _has_table(src, "jobs"):
                    for job in _read_jobs(src, report):
                        jobs.setdefault(job["id"], job)
                if not extra or _has_table(src, "answers"):
                    for row in _answer_rows(src, report):
                        answers.setdefault((row[0], row[1]), row)
            finally:
                src.close()
    if not readable:
        report.say("nothing could be read from the damaged store")
        report.damaged_tables.update(("answers", "jobs"))
    _write_jobs(jobs, fresh, report)
    _write_answers(answers, fresh, report)
    report.answers_lost = _answers_lost(jobs, answers, report)


def _answers_lost(jobs: dict[int, dict], answers: dict, report: DoctorReport) -> int | None:
    """Answers lost with the damaged pages: the numbers finished jobs answered whose
    keys fall in the ranges that could not be read (an answer cleared since is not
    counted: it lies outside them, or was read). None when nothing could be read."""
    if not report.answer_gaps:
        return 0
    if not jobs:
        return None
    answered = sorted({(job["task_type"], number) for job in jobs.values()
                       if job["state"] == JobState.DONE
                       for number in unpack_numbers(job["numbers"])}
                      - answers.keys())
    return keys_in_gaps(iter(answered), report.answer_gaps)


def _has_table(src: sqlite3.Connection, name: str) -> bool:
    try:
        return src.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           (name,)).fetchone() is not None
    except sqlite3.DatabaseError:
        return False


def _recover_with_cli(damaged: Path, target: Path) -> Path | None:
    """SQLite's own `.recover` reads past damage the library cannot; best effort."""
    cli = shutil.which("sqlite3")
    if cli is None:
        return None
    try:
        dump = subprocess.run([cli, str(damaged), ".recover"], capture_output=True,
                              timeout=300, check=False)
        if not dump.stdout:
            return None
        subprocess.run([cli, str(target)], input=dump.stdout, capture_output=True,
                       timeout=300, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return target if target.exists() else None


def _job_columns(src: sqlite3.Connection) -> str:
    """The SELECT list of the journal's columns: a store made by an older tgcheck
    lacks the columns added since, read as their defaults."""
    try:
        have = {row[1] for row in src.execute("PRAGMA table_info(jobs)")}
    except sqlite3.DatabaseError:
        have = set()
    if not have:
        return ", ".join(_JOB_NAMES)
    defaults = {name: ("0" if "DEFAULT 0" in decl else "NULL") for name, decl in ADDED_COLUMNS}
    return ", ".join(name if name in have or name not in defaults else defaults[name]
                     for name in _JOB_NAMES)


def _job_rows(src: sqlite3.Connection, report: DoctorReport) -> Iterator[tuple]:
    columns = _job_columns(src)
    try:
        top = src.execute("SELECT max(id) FROM jobs").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        top = None  # the rightmost page is damaged: read on until windows come back empty
        report.damaged_tables.add("jobs")
    start, empty_windows = 0, 0
    while (start <= top) if top is not None else empty_windows < 16:
        window = (start, start + _WINDOW - 1)
        try:
            rows = src.execute(f"SELECT {columns} FROM jobs WHERE id BETWEEN ? AND ?",
                               window).fetchall()
        except sqlite3.DatabaseError:
            rows = []
            for job_id in range(window[0], window[1] + 1):
                try:
                    row = src.execute(f"SELECT {columns} FROM jobs WHERE id = ?",
                                      (job_id,)).fetchone()
                except sqlite3.DatabaseError:
                    # An id on a damaged page (below the last id: above it, none).
                    report.jobs_lost += top is not None and job_id <= top
                    continue
                if row is not None:
                    rows.append(row)
            report.damaged_tables.add("jobs")
        empty_windows = 0 if rows else empty_windows + 1
        yield from rows
        start += _WINDOW


_JOB_NAMES = [*JOB_COLUMNS, "numbers"]


def _read_jobs(src: sqlite3.Connection, report: DoctorReport) -> Iterator[dict]:
    for row in _job_rows(src, report):
        job = dict(zip(_JOB_NAMES, row, strict=True))
        try:
            numbers = unpack_numbers(job["numbers"])
        except Exception:  # a damaged blob: this row cannot be resumed
            report.damaged_tables.add("jobs")
            report.jobs_lost += 1
            continue
        if len(numbers) != job["count"] or not job["key"] or not job["state"]:
            report.damaged_tables.add("jobs")
            report.jobs_lost += 1
            continue
        yield job


def _write_jobs(jobs: dict[int, dict], fresh: Store, report: DoctorReport) -> None:
    # The store's import keeps the newer of two live rows for one set live, and
    # clears the owner of live rows: whoever drove them is gone with the old file.
    report.jobs_salvaged, report.live_jobs_salvaged = fresh.import_jobs(
        StoredJob(Job(**{name: job[name] for name in JOB_COLUMNS}),
                  unpack_numbers(job["numbers"]))
        for job in jobs.values())


def _answer_rows(src, report: DoctorReport) -> list[tuple]:
    """Every answer that can still be read (with its provider and fields when the
    store has them), by key ranges around damaged pages; the key intervals that
    could not be read are kept to count what was lost."""
    try:  # a store of schema 4 or later says which provider gave each answer
        have = {row[1] for row in src.execute("PRAGMA table_info(answers)")}
    except sqlite3.DatabaseError:
        have = set()
    columns = ANSWER_COLUMNS
    if "provider" in have:
        columns = (*columns, "provider")
        # Schema 5 on: an answer's typed fields (a paid tg_active answer without
        # them would not be taken again, and so be paid twice).
        if "fields" in have:
            columns = (*columns, "fields")
    scan = scan_by_key(src, "answers", ("task_type", "number"), columns)
    if scan.damaged:
        report.damaged_tables.add("answers")
        report.answer_gaps.extend(scan.gaps)
    return scan.rows


def _write_answers(answers: dict, fresh: Store, report: DoctorReport) -> None:
    batch = [
        StoredAnswer(*row) for row in answers.values()
        if isinstance(row[1], str) and isinstance(row[4], (int, float))
        and row[3] in ("ok", "unknown")
    ]
    fresh.import_answers(batch)
    report.answers_salvaged = len(batch)


__all__ = ["DoctorReport", "StoreError", "doctor"]
