"""register(con): the tgcheck SQL functions on a DuckDB connection."""

from __future__ import annotations

import contextlib

import duckdb
import pyarrow as pa

import tgcheck
from tgcheck import plugins, settings_registry
from tgcheck.chunked_check import lookup_size
from tgcheck.engine import CheckRequest
from tgcheck.errors import ConfigError
from tgcheck.regions import fixed_region, is_empty

from . import answer_memo, macros, thread_states, waiting
from .answer_memo import AnswerMemo
from .arrow_values import normalised_array
from .progress import ProgressReporter
from .streamed_check import QueryState, QueryStates

# The memo's view `__tgcheck_memo` (answer_memo.MemoView, for users to look at;
# the macros read the memo in BEGIN) needs DuckDB to ask for its Arrow stream at
# each scan, as 1.5 and later do; 1.4 asks once, at registration, and a second
# read then fails with "ArrowArrayStream was released". 1.5's current_query_id()
# keeps a query's own macro calls' states (streamed_check.QueryStates.open).
# pyproject pins it too, but another package may have installed an older one.
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
    # Answers this connection has read, for the macros to answer cells directly.
    memo = AnswerMemo()
    states = QueryStates()

    def begin(fixed: pa.Array, types: pa.Array, query: pa.Array) -> pa.Array:
        # One row per macro call (macros._streamed's q): `region :=` and
        # `task_type :=` (NULL: the registered ones), and the query's id (its
        # states are kept while it runs: QueryStates.open). An unknown region raises
        # RegionError, an unknown task type InputError, here, before any call:
        # the query fails with it.
        fixed, asked = fixed[0].as_py(), types[0].as_py()
        default = region if is_empty(fixed) else fixed_region(fixed)
        asked = asked or task_type
        chosen = plugins.get_task_type(asked, settings.provider)
        engine = tgcheck.get_engine(settings)
        # The memo serves the registered task type only (fields are not memoised).
        own = chosen.qualified_name == ttype.qualified_name and not ttype.fields
        state = QueryState(
            engine, chosen, names[chosen.qualified_name], members, default,
            memo.snapshot(engine, ttype) if own else None,
            lambda fn: _check(fn, asked),
            (lambda numbers: memo.remember(engine, ttype, numbers)) if own else None,
            memo.max_entries, lookup_size(settings_registry.value("check_chunk_rows")),
            states.look_up_budget)
        return pa.array([states.open(state, query[0].as_py())], pa.int64())

    def collect(digits: pa.Array, raw: pa.Array, row_regions: pa.Array,
                ids: pa.Array) -> pa.Array:
        states.get(ids).collect(digits, raw, row_regions)
        return pa.nulls(len(digits), pa.int8())

    def finish(ids: pa.Array, _collected: pa.Array) -> pa.Array:
        state = states.get(ids)
        state.finish()
        return pa.array([state.id], pa.int64())

    def listed(make):
        """VALUES (each code's value, CODE's) or OUTCOMES (each code's whole
        answer, FIRST_CODE's), as one list: called once, right after finish (the
        same one-row CTE)."""
        def udf(ids: pa.Array) -> pa.Array:
            state = states.get(ids)
            if not state.collected:
                states.close(state)  # no row to answer
            return make(state)
        return udf

    def collect_every(digits: pa.Array, raw: pa.Array, row_regions: pa.Array,
                      ids: pa.Array) -> pa.Array:
        states.get(ids).collect(digits, raw, row_regions, every=True)
        return pa.nulls(len(digits), pa.int8())

    def answered(method: str):
        def udf(digits: pa.Array, raw: pa.Array, row_regions: pa.Array,
                ids: pa.Array) -> pa.Array:
            state = states.get(ids)
            out, last = getattr(state, method)(digits, raw, row_regions)
            if last:
                states.close(state)
            return out
        return udf

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

    udfs = {macros.BEGIN: (begin, "BIGINT"), macros.FINISH: (finish, "BIGINT"),
            macros.VALUES: (listed(lambda state: pa.array([state.values()],
                                                          pa.list_(pa.string()))),
                            "VARCHAR[]"),
            macros.OUTCOMES: (listed(QueryState.outcome_list),
                              macros.check_type(members) + "[]")}
    # The per-vector UDFs that touch no store keep their DuckDB thread's Python
    # state between calls (thread_states.kept); the others let it go (passing),
    # so that no store connection outlives their call: BEGIN and FINISH read the
    # store, ANSWER and FIRST a task type's fields, and VALUES and OUTCOMES,
    # once a call, need no kept state.
    udfs = {name: (thread_states.passing(function), returns)
            for name, (function, returns) in udfs.items()}
    # Each per-row UDF in two kinds (macros.by_kind): a row's digits, or its cell.
    # telegram_check's COLLECT_EVERY keeps every "+digits" integer too (its other
    # cells are already distinct: DuckDB's DISTINCT); FIRST and FIRST_CODE answer
    # each integer once, for "+digits" rows only.
    answer_type = macros.check_type(members)
    for name, of_digits, of_cells, returns, state in (
            (macros.COLLECT, collect, collect, "TINYINT", thread_states.kept),
            (macros.COLLECT_EVERY, collect_every, collect, "TINYINT", thread_states.kept),
            (macros.CODE, answered("value_codes"), answered("value_codes"), "INTEGER",
             thread_states.kept),
            (macros.ANSWER, answered("answer"), answered("answer"), answer_type,
             thread_states.passing),
            (macros.FIRST, answered("answer_first"), None, answer_type, thread_states.passing),
            (macros.FIRST_CODE, answered("first_codes"), None, "INTEGER", thread_states.kept)):
        udfs[name + macros.DIGITS] = (state(_of_digits(of_digits)), returns)
        if of_cells is not None:
            udfs[name + macros.CELLS] = (state(_of_cells(of_cells)), returns)
    for name in (*udfs, "tg_normalize"):
        with contextlib.suppress(duckdb.InvalidInputException):
            con.remove_function(name)  # registering again (other settings) replaces
    # side_effects=True: DuckDB must never call these while planning (EXPLAIN,
    # PREPARE, constant folding): a call can create a billed task; nor merge or
    # repeat them. null_handling="special": NULL cells and regions are theirs to read.
    for name, (function, returns) in udfs.items():
        con.create_function(name, function, None, returns, type="arrow",
                            null_handling="special", side_effects=True)
    # No API call here, but the same rule keeps it out of surprises in plans.
    # null_handling="special": invalid numbers come back as NULL, which DEFAULT forbids.
    con.create_function("tg_normalize", tg_normalize, None, "VARCHAR", type="arrow",
                        null_handling="special", side_effects=True)
    # The memo as a view, to look at (answer_memo.MemoView); the macros take its
    # snapshot in BEGIN instead.
    con.register(answer_memo.MEMO_VIEW,
                 answer_memo.MemoView(memo, lambda: tgcheck.get_engine(settings), ttype))
    con.execute(macros.macro_sql(blocks, names, names[ttype.qualified_name]))
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


def _of_digits(function):
    """function(digits, cells, regions, ids) as the UDF of rows with digits."""
    def udf(digits, ids):
        digits = _one(digits)
        none = pa.nulls(len(digits), pa.string())
        return function(digits, none, none, _one(ids))
    return udf


def _of_cells(function):
    """function(digits, cells, regions, ids) as the UDF of rows without digits."""
    def udf(cells, regions, ids):
        cells = _one(cells)
        return function(pa.nulls(len(cells), pa.int64()), cells, _one(regions).cast(pa.string()),
                        _one(ids))
    return udf


def _one(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A UDF's argument as one array (DuckDB hands one chunk: taken as it is)."""
    if isinstance(array, pa.ChunkedArray):
        return array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    return array
