"""register(con): the tgcheck SQL functions on a DuckDB connection."""

from __future__ import annotations

import contextlib

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

import tgcheck
from tgcheck import plugins
from tgcheck.regions import fixed_region, is_empty, per_row

from . import macros, memo_macros, waiting
from .answer_memo import AnswerMemo, canonical_numbers
from .arrow_values import answer_table, checked_array, normalised_array, python_values
from .progress import ProgressReporter


def register(
    con: duckdb.DuckDBPyConnection,
    settings: tgcheck.Settings | None = None,
    *,
    task_type: str = "tg",
    region: str | None = None,
    on_event: tgcheck.engine.EventListener | None = None,
    provider: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """Register telegram_enrich, telegram_check and tg_normalize on con; returns con.

    settings default to Settings.from_env(). region reads national numbers
    (e.g. "CH", "Switzerland", "41": 079 828 46 51); with a macro's
    region_column it is the region of rows whose region cell is empty. An
    unknown region raises RegionError here. on_event gets the engine's JobEvents
    in addition to the progress line on stderr (or the log). provider selects an
    installed provider plugin when settings are not given (None: TGCHECK_PROVIDER).
    """
    region = fixed_region(region)  # a typo fails here, not as silently unread rows
    settings = settings or tgcheck.Settings.from_env(provider=provider)
    # Fails now on a misspelled type; a bare name as the selected provider reads it.
    ttype = plugins.get_task_type(task_type, settings.provider)
    column, declared = ttype.column, ttype.fields
    plugins.get_provider_factory(settings.provider)  # and on a misspelled provider
    connection_key = id(con)
    waiting.install_interrupt_hook()
    waiting.install_sigint_watch()
    # Answers this connection has read, for the macros to join to cells directly.
    memo = AnswerMemo()

    def answer_lists(lists: pa.ChunkedArray, fixed: pa.ChunkedArray) -> pa.Array:
        # One row per query in practice: the macros pass the whole column as one
        # list of {input, region} structs (region NULL: none), and the macro's
        # `region :=` (NULL: the registered one). Numbers and regions are split
        # here, from the one list, so they cannot come apart. Per row it returns
        # the normaliser's reading of each input, in that list's order, and the
        # answers by number: DuckDB joins the two (macros.py), not Python.
        lists = lists.combine_chunks()
        fixed = fixed.to_pylist()
        out = []
        for i in range(len(lists)):
            if not lists[i].is_valid:
                out.append(None)
                continue
            # An unknown `region :=` raises RegionError: the query fails with it.
            default = region if is_empty(fixed[i]) else fixed_region(fixed[i])
            pairs = lists[i].values
            inputs = pc.struct_field(pairs, "input")
            values = python_values(inputs)
            row_regions = pc.struct_field(pairs, "region")
            # No region column: every region NULL, known without a Python pass.
            if row_regions.null_count < len(row_regions):
                default = per_row(row_regions.to_pylist(), default)
            answered = _check(values, default)
            found, groups = answered.found, answered.groups
            checked = checked_array(found)
            # The cells read as themselves: the next query answers them by cell.
            memo.remember(tgcheck.get_engine(settings), task_type,
                          canonical_numbers(inputs, checked, row_regions))
            out.append({"checked": checked,
                        "answers": answer_table(groups, checked.field("number"), declared,
                                                answered.fields)})
        return _checks_of(out, declared)

    def _check(values: list, region) -> tgcheck.ColumnAnswers:
        if not values:
            return tgcheck.ColumnAnswers([], [])
        reporter = ProgressReporter(every=settings.progress_every)

        def listen(event: tgcheck.JobEvent) -> None:
            reporter(event)
            if on_event is not None:
                on_event(event)

        def run(cancel):
            return tgcheck.get_engine(settings).check_column(
                values, task_type=task_type, region=region, on_event=listen, cancel=cancel)

        try:
            return waiting.check_interruptibly(run, connection_key)
        finally:
            reporter.finish()

    def memo_answers(fixed: pa.ChunkedArray) -> pa.Array:
        # Checked here too: with every cell answered by the memo, ANSWERS_OF's UDF
        # gets no list and cannot say that `region :=` names no region.
        for given in fixed.to_pylist():
            if not is_empty(given):
                fixed_region(given)
        entries = memo.answers(tgcheck.get_engine(settings), task_type)
        rows = len(fixed)  # one per query: the macros call it without a FROM
        return pa.ListArray.from_arrays(
            pa.array([i * len(entries) for i in range(rows + 1)], pa.int32()),
            pa.concat_arrays([entries] * rows) if rows != 1 else entries)

    def tg_normalize(values: pa.ChunkedArray) -> pa.Array:
        return normalised_array(values, region)

    for name in (macros.ANSWER_UDF, memo_macros.MEMO_UDF, "tg_normalize"):
        with contextlib.suppress(duckdb.InvalidInputException):
            con.remove_function(name)  # registering again (other settings) replaces
    # side_effects=True: DuckDB must never call these while planning (EXPLAIN,
    # PREPARE, constant folding): a call can create a billed task.
    # null_handling="special": a NULL region list means "no regions", not a NULL answer.
    con.create_function(macros.ANSWER_UDF, answer_lists, None, macros.check_type(declared),
                        type="arrow", null_handling="special", side_effects=True)
    # No API call here, but the same rule keeps it out of surprises in plans.
    # null_handling="special": invalid numbers come back as NULL, which DEFAULT forbids.
    con.create_function("tg_normalize", tg_normalize, None, "VARCHAR", type="arrow",
                        null_handling="special", side_effects=True)
    # side_effects=True: run once per query, at its start, never while planning.
    con.create_function(memo_macros.MEMO_UDF, memo_answers, None, memo_macros.MEMO_TYPE,
                        type="arrow", null_handling="special", side_effects=True)
    con.execute(macros.macro_sql(column, declared))
    if not declared:
        # The same two macros with the memo in front (fields are not memoised).
        con.execute(memo_macros.macro_sql(column))
    return con


def _checks_of(items: list, declared: tuple = ()) -> pa.StructArray:
    """Per input row: NULL, or {checked: [...], answers: [...]} (macros.CHECK_TYPE)."""
    def lists(field: str, empty: pa.StructArray) -> pa.ListArray:
        offsets, pieces = [0], []
        for item in items:
            if item is not None:
                pieces.append(item[field])
            offsets.append(offsets[-1] + (len(item[field]) if item is not None else 0))
        values = pa.concat_arrays(pieces) if pieces else empty
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)

    mask = pa.array([item is None for item in items], pa.bool_())
    return pa.StructArray.from_arrays(
        [lists("checked", checked_array([])),
         lists("answers", answer_table([], None, declared))],
        names=["checked", "answers"], mask=mask)
