"""`tgcheck check` in chunks (TGCHECK_CHECK_CHUNK_ROWS, chunked_check.py): an input
of more rows than a chunk is read, checked and written a chunk at a time. The output
is the whole-column path's, byte for byte; every number is sent once whatever
chunks it is in, in the same tasks; no part holds more rows than a chunk."""

import collections
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

from conftest import numbers
from processes import cli_env, interrupt, read_until, rows, run, started
from tgcheck import chunked_check as check_chunks
from tgcheck import chunked_input
from tgcheck.cli import cli
from tgcheck.engine import planning
from tgcheck.store import answers as store_answers
from tgcheck.tables import open_input

WHOLE = "1000000"  # more rows than any input here: the whole-column path


def _lines() -> list[str]:
    """Valid numbers, repeated across chunks, invalid, blank and noted ones, a
    whitespace-only line, and trailing blank lines (not inputs)."""
    valid = numbers(120, start=700)
    lines = []
    for i, number in enumerate(valid):
        lines.append(number)
        if i % 9 == 0:
            lines.append(valid[i // 3])  # again, usually in another chunk
        if i % 17 == 0:
            lines.append("not a number")
        if i % 23 == 0:
            lines += ["", "   "]
        if i % 31 == 0:
            lines.append(f"{number} ext. 12")
    return [*lines, "", "  ", ""]


def _csv(lines) -> str:
    out = ["name;phone;country"]
    for i, line in enumerate(lines):
        country = "" if i % 3 else "CH"
        out.append(f"row {i};{line.replace('+41', '0') if country else line};{country}")
    return "\n".join(out) + "\n"


def _cells(path) -> list[list]:
    book = CalamineWorkbook.from_path(str(path))
    return [list(row) for row in book.get_sheet_by_name(book.sheet_names[0]).iter_rows()]


def _tasks(sandbox) -> list[list[str]]:
    return sorted(sorted(task.numbers) for task in sandbox.tasks.values())


@pytest.mark.parametrize("kind, extra", [
    ("txt", []),
    ("csv", ["--column", "phone", "--region-column", "country", "--region", "CH",
             "--task-type", "tg_active"]),
])
def test_chunked_output_is_the_whole_paths_byte_for_byte(sandbox, tmp_path, kind, extra):
    lines = _lines()
    source = tmp_path / f"in.{kind}"
    source.write_text("\n".join(lines) + "\n" if kind == "txt" else _csv(lines))
    got = {}
    for name, chunk in (("whole", WHOLE), ("chunked", "7")):
        # Each path its own store, cold: both look up, send and write. Tasks of at
        # most 40 numbers: a check of several tasks.
        env = dict(cli_env(sandbox, tmp_path / name), TGCHECK_CHECK_CHUNK_ROWS=chunk,
                   TGCHECK_MAX_TASK_SIZE="40")
        before = len(sandbox.tasks)
        for fmt in ("csv", "json", "parquet", "xlsx"):
            out = tmp_path / f"{name}.{fmt}"
            result = run("check", str(source), *extra, "-o", str(out), env=env)
            assert result.returncode == 0, result.stderr
            got[name, fmt] = _cells(out) if fmt == "xlsx" else out.read_bytes()
        stdout = run("check", str(source), *extra, env=env)
        assert stdout.returncode == 0, stdout.stderr
        got[name, "stdout"] = stdout.stdout
        got[name, "tasks"] = sorted(sorted(t.numbers) for t in
                                    list(sandbox.tasks.values())[before:])
    for fmt in ("csv", "json", "parquet", "xlsx", "stdout"):
        assert got["chunked", fmt] == got["whole", fmt], fmt
    # The same tasks (the same sorted numbers cut the same way), each number in one.
    assert got["chunked", "tasks"] == got["whole", "tasks"]
    sent = [n for task in got["chunked", "tasks"] for n in task]
    assert len(sent) == len(set(sent)) > 40
    assert b"extension_removed" in got["chunked", "csv"]  # the mix is really there


@pytest.fixture
def held(monkeypatch):
    """The most rows each part of a check is handed at once: normalised (the CLI's
    chunks and the engine's own normalising), joined (answer columns) and looked up."""
    most = collections.Counter()

    def spy(name, module, attribute, size):
        real = getattr(module, attribute)

        def wrapper(*args, **kwargs):
            most[name] = max(most[name], size(args))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, attribute, wrapper)

    spy("normalised", check_chunks, "resolve_all", lambda a: len(a[0]))
    spy("normalised", planning, "resolve_all", lambda a: len(a[0]))
    spy("joined", check_chunks, "AnswerColumn", lambda a: len(a[0]))
    spy("looked up", store_answers.AnswerQueries, "lookup_groups", lambda a: len(a[2]))
    return most


@pytest.mark.parametrize("chunk", [50, 5000])
def test_no_part_holds_more_rows_than_a_chunk(sandbox_env, tmp_path, monkeypatch, held,
                                              chunk):
    values = numbers(400, start=3000)
    source = tmp_path / "in.txt"
    source.write_text("\n".join(values * 3) + "\n")  # 1,200 rows, each number thrice
    monkeypatch.setenv("TGCHECK_CHECK_CHUNK_ROWS", str(chunk))
    result = CliRunner().invoke(cli, ["check", str(source), "-o", str(tmp_path / "o.csv"),
                                       "-q"])
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "o.csv").read_text().splitlines()) == 1 + 1_200
    if chunk == 50:
        assert held["normalised"] <= 50 and held["joined"] <= 50
        assert held["looked up"] <= 50 * check_chunks.LOOKUP_CHUNKS
        assert sandbox_env.creates == 1
    else:  # the control: one chunk is the whole-column path, holding every row
        assert held["normalised"] == 1_200


def _one_chunk_input(tmp_path, kind: str, start: int) -> tuple[list[str], Path]:
    """300 numbers as a .txt or a one-column CSV: one chunk of 1,000 rows."""
    values = numbers(300, start=start)
    source = tmp_path / f"in.{kind}"
    source.write_text("\n".join(values) + "\n" if kind == "txt" else
                      "phone\n" + "\n".join(values) + "\n")
    return values, source


def _counted_reads(monkeypatch) -> collections.Counter:
    """Counts the CLI's reads of its input (each pass over its rows or column)."""
    reads = collections.Counter()
    table_open = open_input

    def counted(*args, **kwargs):
        table = table_open(*args, **kwargs)
        for name in ("_rows", "_column", "_column_blocks"):
            real = getattr(table, name)
            if real is not None:
                def read(*a, _real=real, **k):
                    reads["reads"] += 1
                    return _real(*a, **k)
                setattr(table, name, read)
        return table

    from tgcheck.cli import check as check_command
    monkeypatch.setattr(check_command, "open_input", counted)
    return reads


@pytest.mark.parametrize("kind", ["txt", "csv"])
def test_a_dry_run_of_one_chunk_reads_its_input_once(sandbox_env, tmp_path, monkeypatch,
                                                      kind):
    """The read that learns whether a second chunk follows gives the dry run its
    values too: it never reads the input again to count it."""
    values, source = _one_chunk_input(tmp_path, kind, start=5300)
    reads = _counted_reads(monkeypatch)
    monkeypatch.setenv("TGCHECK_CHECK_CHUNK_ROWS", "1000")
    result = CliRunner().invoke(cli, ["check", str(source), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert reads["reads"] == 1
    assert "300" in result.output


@pytest.mark.parametrize("kind", ["txt", "csv"])
def test_an_input_of_one_chunk_is_read_once_before_the_check(sandbox_env, tmp_path,
                                                              monkeypatch, kind):
    """Whether the input is more than one chunk is learnt from the read that gives
    the whole-column path its values: read once before the check, once more to
    compare it before the output is written (a cached 200,000-line .txt: 0.03 s
    less). The output is as before."""
    values, source = _one_chunk_input(tmp_path, kind, start=5000)
    reads = _counted_reads(monkeypatch)
    monkeypatch.setenv("TGCHECK_CHECK_CHUNK_ROWS", "1000")
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(cli, ["check", str(source), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    # Before the check: one read (two before). Before writing, a CSV's column is
    # read again to compare it; a .txt is compared as one text (tables._column_is).
    assert reads["reads"] == (1 if kind == "txt" else 2)
    written = out.read_text().splitlines()
    assert len(written) == 301 and written[1].startswith(f"{values[0]},{values[0]},")


@pytest.mark.parametrize("kind, extra", [
    ("txt", []),
    ("csv", ["--column", "phone", "--region-column", "country", "--region", "CH"]),
])
def test_a_chunked_dry_run_says_what_the_whole_path_says(sandbox, tmp_path, kind, extra):
    """--dry-run over more rows than a chunk counts in the chunked first read: the
    same counts, reasons (their order and examples too) and closing line as the
    whole column's, on a cold store and after a check of part of the input."""
    lines = _lines()
    source, part = tmp_path / f"in.{kind}", tmp_path / f"part.{kind}"
    source.write_text("\n".join(lines) + "\n" if kind == "txt" else _csv(lines))
    part.write_text("\n".join(lines[:60]) + "\n" if kind == "txt" else _csv(lines[:60]))
    most = tmp_path / f"most.{kind}"
    # ... and 20 numbers not in the input: the stored answers a top-up takes.
    others = [*lines[:-12], *numbers(20, start=5000)]
    most.write_text("\n".join(others) + "\n" if kind == "txt" else _csv(others))
    env = dict(cli_env(sandbox, tmp_path), TGCHECK_MAX_TASK_SIZE="40")
    # All but a few answered: those few fill a task to the minimum (--top-up) and
    # are asked one by one first (the fast path).
    few = {"TGCHECK_SYNC_MAX": "20", "TGCHECK_SYNC_URL": sandbox.url,
           "TGCHECK_MIN_TASK_SIZE": "20"}
    for stored in (None, part, most):
        if stored:  # some numbers answered already, the rest still to send
            assert run("check", str(stored), *extra, "-q", env=env).returncode == 0
        said = {}
        for name, chunk in (("whole", WHOLE), ("chunked", "7")):
            for fmt in ("text", "json"):
                result = run("check", str(source), *extra, "--dry-run",
                             *(["-f", "json"] if fmt == "json" else []),
                             *(["--top-up"] if stored is most else []),
                             env=dict(env, TGCHECK_CHECK_CHUNK_ROWS=chunk,
                                      **(few if stored is most else {})))
                assert result.returncode == 0, result.stderr
                said[name, fmt] = (result.stdout, result.stderr)
        for fmt in ("text", "json"):
            assert said["chunked", fmt] == said["whole", fmt], fmt
        counts = json.loads(said["chunked", "json"][0])
        assert (counts["already_answered"] > 0) == bool(stored) and counts["to_send"] > 0
        assert counts["duplicates"] > 0 and len(counts["reasons"]) >= 3
        if stored is most:
            assert (counts["to_send"], counts["topped_up"], counts["fast_path"]) == (5, 15, 5)


def test_a_chunked_dry_run_holds_no_more_rows_than_a_chunk(sandbox_env, tmp_path,
                                                           monkeypatch, held):
    values = numbers(400, start=3000)
    source = tmp_path / "in.txt"
    source.write_text("\n".join(values * 3) + "\n")  # 1,200 rows, each number thrice
    monkeypatch.setenv("TGCHECK_CHECK_CHUNK_ROWS", "50")
    result = CliRunner().invoke(cli, ["check", str(source), "--dry-run", "-f", "json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["inputs"], counts["duplicates"], counts["to_send"]) == (1_200, 800, 400)
    assert held["normalised"] <= 50
    assert held["looked up"] <= 50 * check_chunks.LOOKUP_CHUNKS
    assert sandbox_env.creates == 0


def test_a_large_text_file_reads_the_same_in_chunks(tmp_path):
    """Over 16 MB a .txt is read in blocks: chunks give exactly numbers()'s values
    (blank lines between kept, whitespace-only ones blank, trailing ones dropped)."""
    block = "\n".join([*numbers(50), "", "  \t", "+41 79 123 45 67", *numbers(40)])
    path = tmp_path / "big.txt"
    path.write_text((block + "\n") * 40_000 + "\n \n\n")
    assert path.stat().st_size > 16 * 1024 * 1024
    table = open_input(str(path))
    whole = list(table.numbers())
    chunked = [v for chunk in chunked_input.chunks(table, 30_001) for v in chunk]
    assert chunked == whole and whole[-1] == numbers(40)[-1] and "" in whole[:60]
    table.close()


def test_an_input_changed_between_the_passes_is_refused(sandbox, tmp_path):
    values = numbers(6, start=500)
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(values) + "\n")
    out = tmp_path / "out.csv"
    env = dict(cli_env(sandbox, tmp_path), TGCHECK_CHECK_CHUNK_ROWS="4")
    sandbox.time_scale = 0.0  # the task stays pending until the file has been rewritten
    with started("check", str(listing), "--progress", "json", "-o", str(out),
                 env=env) as proc:
        read_until(proc, '"event": "submitted"')
        listing.write_text("\n".join([*values[:5], values[0]]) + "\n")
        sandbox.time_scale = 1.0
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    message = stderr.strip().splitlines()[-1]
    assert "changed while it was being checked (rows 5 to 6 differ)" in message
    assert not out.exists() and sandbox.creates == 1


def test_ctrl_c_in_a_chunked_check_leaves_its_tasks_to_the_next_run(sandbox, tmp_path):
    values = numbers(10, start=900)
    listing = tmp_path / "in.txt"
    listing.write_text("\n".join(values + values[::-1]) + "\n")  # 20 rows, 10 numbers
    env = dict(cli_env(sandbox, tmp_path), TGCHECK_CHECK_CHUNK_ROWS="3",
               TGCHECK_MAX_TASK_SIZE="4")
    sandbox.time_scale = 0.0  # the tasks stay pending
    with started("check", str(listing), "--progress", "json", "-o",
                 str(tmp_path / "o.csv"), env=env) as proc:
        read_until(proc, '"event": "submitted"', count=3)
        stderr = interrupt(proc)
    assert proc.returncode == 130, stderr
    assert "3 task(s) created by this run" in stderr
    assert sandbox.creates == 3 and not (tmp_path / "o.csv").exists()
    sandbox.time_scale = 1.0
    again = run("check", str(listing), env=env)
    assert again.returncode == 0, again.stderr
    assert sandbox.creates == 3  # attached to the open jobs: nothing paid twice
    got = rows(again.stdout)
    assert [r["input"] for r in got] == values + values[::-1]
    assert all(r["status"] in ("ok", "unknown") for r in got)


def test_a_chunked_check_on_a_shared_postgresql_store(sandbox, tmp_path, postgres_cluster):
    """The same output as the whole column, cold and cached, each number sent once."""
    lines = _lines()
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n")
    got = {}
    for name, chunk in (("whole", WHOLE), ("chunked", "7")):
        env = dict(cli_env(sandbox, tmp_path / name), TGCHECK_CHECK_CHUNK_ROWS=chunk,
                   TGCHECK_STORE_URL=postgres_cluster.create_database(f"chunks_{name}"))
        before = sandbox.creates
        for run_no in (1, 2):  # cold, then cached
            result = run("check", str(source), env=env)
            assert result.returncode == 0, result.stderr
            got[name, run_no] = result.stdout
        assert sandbox.creates == before + 1  # the cached run sent nothing
    assert got["chunked", 1] == got["whole", 1] == got["chunked", 2] == got["whole", 2]
