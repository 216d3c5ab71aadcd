"""A task type named "provider:name" keeps its own fields on the chunked paths.

Two providers may both declare `tg_active`; a bare name means the selected
provider's. The CLI's chunked check and the DuckDB face's batched check read the
stored fields of a chunk by the task type's qualified name, as the whole-column
paths do: with the bare name, another provider's declaration typed them and the
fields came out empty."""

from __future__ import annotations

import time

import duckdb
import pytest
from click.testing import CliRunner

import tgcheck
import tgcheck_duckdb
from conftest import numbers
from tgcheck import plugins
from tgcheck.cli import cli
from tgcheck.cli.options import make_settings
from tgcheck.models import Field, TaskType
from tgcheck.store import StoredAnswer

OTHER = TaskType("tg_active", "other_active", frozenset({"yes", "no"}),
                 "another provider's tg_active", fields=(Field("colour", "text"),),
                 provider="otherprov")
PHONES = numbers(12, start=4200)


class _Other:
    @tgcheck.hookimpl
    def tgcheck_register_task_types(self, register):
        register(OTHER)


def _store_answers(settings) -> None:
    """OTHER's answers stored and fresh: no call is made."""
    tgcheck.get_engine(settings).store.import_answers(
        StoredAnswer("tg_active", n, "yes", "ok", time.time(), "t1", "otherprov",
                     '{"colour": "blue"}') for n in PHONES)


@pytest.fixture
def other():
    """OTHER registered beside ekycpro's tg_active; ekycpro stays selected."""
    plugins.pm.register(_Other(), "test-otherprov")
    yield
    plugins.pm.unregister(name="test-otherprov")


@pytest.mark.parametrize("batch", [5, 10**9])  # batched, and the whole list
def test_the_duckdb_face_reads_the_qualified_types_fields(other, settings, sandbox,
                                                           monkeypatch, batch):
    _store_answers(settings)
    monkeypatch.setenv("TGCHECK_CHECK_CHUNK_ROWS", str(batch))
    con = tgcheck_duckdb.register(duckdb.connect(), settings)
    con.execute("CREATE TABLE t AS SELECT unnest($1) AS phone", [PHONES])
    rows = con.execute("SELECT phone, other_active, colour FROM telegram_enrich("
                       "'t', 'phone', task_type := 'otherprov:tg_active')").fetchall()
    assert rows == [(n, "yes", "blue") for n in PHONES]
    assert sandbox.billed == {}


@pytest.mark.parametrize("chunk", ["5", "100000"])  # chunked, and the whole column
def test_the_cli_reads_the_qualified_types_fields(other, sandbox_env, sandbox, monkeypatch,
                                                   tmp_path, chunk):
    # The store the CLI opens (sandbox_env's environment: a sandbox's store).
    _store_answers(make_settings(sandbox_store=True))
    monkeypatch.setenv("TGCHECK_CHECK_CHUNK_ROWS", chunk)
    source, out = tmp_path / "in.txt", tmp_path / "out.csv"
    source.write_text("\n".join(PHONES) + "\n")
    result = CliRunner().invoke(cli, ["check", str(source), "-o", str(out), "-q",
                                      "--task-type", "otherprov:tg_active"])
    assert result.exit_code == 0, result.output
    header, *rows = [line.split(",") for line in out.read_text().splitlines()]
    at = header.index("colour")
    assert [row[at] for row in rows] == ["blue"] * len(PHONES)
    assert sandbox.billed == {}
