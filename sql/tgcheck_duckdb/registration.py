"""register(con): the tgcheck SQL functions on a DuckDB connection."""

from __future__ import annotations

import contextlib

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

import tgcheck
from tgcheck import plugins, settings_registry
from tgcheck.chunked_check import LOOKUP_CHUNKS
from tgcheck.engine import CheckRequest
from tgcheck.errors import ConfigError
from tgcheck.regions import fixed_region, is_empty, per_row

from . import answer_memo, macros, memo_macros, waiting
from .answer_memo import AnswerMemo, canonical_numbers
from .arrow_values import (
    ARROW_TYPES,
    FIELD_PREFIX,
    answers_array,
    normalised_array,
    python_values,
)
from .batched_check import BatchedColumn
from .progress import ProgressReporter

# The memo's view (answer_memo.MemoView) needs DuckDB to ask for its Arrow stream at
# each scan, as 1.5 and later do; 1.4 asks once, at registration, and a second
# query then fails with "ArrowArrayStream was released". pyproject pins it too,
# but another package may have installed an older one.
MIN_DUCKDB = (1, 5)


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
    _supported(duckdb.__version__)
    region = fixed_region(region)  # a typo fails here, not as silently unread rows
    settings = settings or tgcheck.Settings.from_env(provider=provider)
    # Fails now on a misspelled type; a bare name as the selected provider reads it.
    ttype = plugins.get_task_type(task_type, settings.provider)
    # Every task type a query may name (task_type :=) is a block of the UDF's answers.
    blocks, names = _blocks(settings.provider)
    members = macros.block_fields(blocks)
    plugins.get_provider_factory(settings.provider)  # and on a misspelled provider
    connection_key = id(con)
    waiting.install_interrupt_hook()
    waiting.install_sigint_watch()
    # Answers this connection has read, for the macros to join to cells directly.
    memo = AnswerMemo()

    def answer_lists(lists: pa.ChunkedArray, fixed: pa.ChunkedArray,
                     types: pa.ChunkedArray) -> pa.Array:
        # One row per query in practice: the macros pass the whole column as one
        # list of {input, region} structs (region NULL: none), the macro's
        # `region :=` and its `task_type :=` (NULL: the registered ones). An
        # unknown task type raises InputError here, before any call, and the
        # query fails with it. Numbers and regions are split
        # here, from the one list, so they cannot come apart. Per row it returns
        # each input's answer, in that list's order (the core's answer column
        # joins them); the macros zip them to the list (macros.py).
        # One chunk in practice: taken as it is (combine_chunks would copy the
        # whole column once more).
        lists = lists.chunk(0) if lists.num_chunks == 1 else lists.combine_chunks()
        fixed = fixed.to_pylist()
        types = types.to_pylist()
        out = []
        for i in range(len(lists)):
            if not lists[i].is_valid:
                out.append(None)
                continue
            # An unknown `region :=` raises RegionError: the query fails with it.
            default = region if is_empty(fixed[i]) else fixed_region(fixed[i])
            pairs = lists[i].values
            inputs = pc.struct_field(pairs, "input")
            row_regions = pc.struct_field(pairs, "region")
            asked = types[i] or task_type
            chosen = plugins.get_task_type(asked, settings.provider)
            answers = _answers(inputs, row_regions, default, asked, chosen)
            if chosen.qualified_name == ttype.qualified_name:
                # The cells read as themselves: the next query answers them by
                # cell (the memo serves the registered task type only).
                memo.remember(tgcheck.get_engine(settings), ttype,
                              canonical_numbers(inputs, answers, row_regions))
            out.append(_in_blocks(answers, names[chosen.qualified_name], chosen, members))
        return _checks_of(out, members)

    def _answers(inputs: pa.Array, row_regions: pa.Array, default, asked: str,
                 chosen) -> pa.StructArray:
        """Each input's answer (answers_array), in order. A list of more cells than
        one batch reaches Python a batch at a time and the engine checks its
        numbers as compact keys (batched_check: bounded memory for millions of
        rows); a smaller one, or one with a number that has no key, is checked
        whole, as one column (as small then, and less CPU)."""
        # No region column: every region NULL, known without a Python pass.
        if row_regions.null_count == len(row_regions):
            row_regions = None
        if not len(inputs):
            return answers_array(tgcheck.AnswerColumn([], [], []), chosen.fields)
        engine = tgcheck.get_engine(settings)
        # A list longer than the CLI's chunk is checked in batches of it.
        size = settings_registry.value("check_chunk_rows")
        column = BatchedColumn(inputs, row_regions, default, size)
        compact = column.distinct_numbers() if len(inputs) > size else None
        if compact is not None:
            _check(lambda request: engine.planning.check_compact(
                compact, request, size * LOOKUP_CHUNKS), asked)
            return column.answers(engine, chosen, compact, chosen.fields)
        values = python_values(inputs)
        region = default if row_regions is None else per_row(row_regions.to_pylist(), default)
        return answers_array(_check(lambda request: engine.check_column(
            values, task_type=asked, region=region, on_event=request.on_event,
            cancel=request.cancel), asked), chosen.fields)

    def _check(check, asked: str):
        """check(request) on a helper thread the query's interrupt stops waiting for,
        with the progress line (and on_event) as its listener."""
        reporter = ProgressReporter(every=settings.progress_every)

        def listen(event: tgcheck.JobEvent) -> None:
            reporter(event)
            if on_event is not None:
                on_event(event)

        def run(cancel):
            return check(CheckRequest(asked, on_event=listen, cancel=cancel))

        try:
            return waiting.check_interruptibly(run, connection_key)
        finally:
            reporter.finish()

    def tg_normalize(values: pa.ChunkedArray) -> pa.Array:
        return normalised_array(values, region)

    for name in (macros.ANSWER_UDF, "tg_normalize"):
        with contextlib.suppress(duckdb.InvalidInputException):
            con.remove_function(name)  # registering again (other settings) replaces
    # side_effects=True: DuckDB must never call these while planning (EXPLAIN,
    # PREPARE, constant folding): a call can create a billed task.
    # null_handling="special": a NULL region list means "no regions", not a NULL answer.
    con.create_function(macros.ANSWER_UDF, answer_lists, None, macros.check_type(members),
                        type="arrow", null_handling="special", side_effects=True)
    # No API call here, but the same rule keeps it out of surprises in plans.
    # null_handling="special": invalid numbers come back as NULL, which DEFAULT forbids.
    con.create_function("tg_normalize", tg_normalize, None, "VARCHAR", type="arrow",
                        null_handling="special", side_effects=True)
    # The memo as a view DuckDB scans once per macro call (answer_memo.MemoView).
    answer_memo.attach(con, memo_macros.MEMO_VIEW, memo, lambda: tgcheck.get_engine(settings),
                       ttype)
    default = names[ttype.qualified_name]
    con.execute(macros.macro_sql(blocks, names, default))
    if not ttype.fields:
        # The same two macros with the memo in front (fields are not memoised).
        con.execute(memo_macros.macro_sql(blocks, names, default))
    return con


def _supported(version: str) -> None:
    """ConfigError naming the fix when the installed DuckDB is older than MIN_DUCKDB."""
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_DUCKDB:
        need = ".".join(map(str, MIN_DUCKDB))
        raise ConfigError(f"tgcheck's SQL face needs DuckDB {need} or later, and {version} "
                         f"is installed: pip install 'duckdb>={need}'")


def _blocks(provider: str | None) -> tuple[list, dict[str, int]]:
    """Every registered task type (the UDF's blocks, in a fixed order), and each name
    a query may give it -> its block: "provider:name", and a bare name as provider
    reads it (plugins.get_task_type)."""
    qualified = plugins.registered_task_types()
    blocks = [qualified[key] for key in sorted(qualified)]
    names = {key: i for i, key in enumerate(sorted(qualified))}
    for bare, ttype in plugins.task_types(provider).items():
        names.setdefault(bare, names[ttype.qualified_name])
    return blocks, names


def _in_blocks(answers: pa.StructArray, block: int, ttype, members) -> pa.StructArray:
    """answers_array's struct (the chosen task type's fields as FIELD_PREFIX + name)
    with every block's members (macros.block_fields): the chosen block's fields
    renamed to its own, the other blocks' NULL."""
    own = {FIELD_PREFIX + f"t{block}_" + f.name: answers.field(FIELD_PREFIX + f.name)
           for f in ttype.fields}
    base = ("number", "value", "status", "reason")
    columns = [answers.field(name) for name in base]
    columns += [own[FIELD_PREFIX + m.name] if FIELD_PREFIX + m.name in own
                else pa.nulls(len(answers), ARROW_TYPES[m.kind]) for m in members]
    return pa.StructArray.from_arrays(
        columns, names=[*base, *(FIELD_PREFIX + m.name for m in members)])


def _checks_of(items: list, declared: tuple = ()) -> pa.ListArray:
    """Per input row: NULL, or the answers of its list (macros.check_type)."""
    offsets, pieces = [0], []
    for item in items:
        if item is not None:
            pieces.append(item)
        offsets.append(offsets[-1] + (len(item) if item is not None else 0))
    # One list (a query's column) is used as it is: a concat would copy every answer.
    values = (pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces) if pieces
              else answers_array(tgcheck.AnswerColumn([], [], []), declared))
    mask = pa.array([item is None for item in items], pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=mask)
