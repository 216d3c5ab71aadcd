"""The SQL side: table macros over scalar UDFs that stream a column a vector at a time.

DuckDB's Python API has no table functions, and a list value is neither
streamed nor spilled, so no macro hands Python the column as one value. Each
macro call is a one-row CTE that opens the call's state (BEGIN: `region :=`
and `task_type :=` checked before any call), a one-row CTE whose scalar
subquery hands every cell to COLLECT a vector at a time and then runs FINISH
(the engine's check, once: one task for the column when it fits one), and the
output: the rows, in the table's order, each vector's answers from CODE or
ANSWER (streamed_check.py: what runs in Python; telegram_check: FIRST_CODE or
FIRST, each "+digits" cell's first row only, and DuckDB's DISTINCT for the
other cells). Only the cells the memo of
answers already read does not answer are kept in Python, as int64 keys. The
rows' order is DuckDB's insertion order through a cross join with a one-row
CTE: no row number, no sort (tests/faces/sql/test_duckdb_streaming.py).

`task_type :=` chooses the check per query, and with it the output's columns
(the headline's name, one typed column per field). A macro's columns are fixed
when DuckDB binds it, so every registered task type is a numbered block of
columns (`__tgcheck_t<i>__<name>`) in the answers, and the macros pick one
block by a regex `COLUMNS(...) AS '\\1'`, whose pattern is a constant folded
from the `task_type :=` argument while binding: the block's own names come out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from tgcheck.fields import DATETIME, INTEGER, TEXT, URL, YES_NO, Field
from tgcheck.models import TaskType

from .arrow_values import FIELD_PREFIX
from .streamed_check import SAME_AS_CELL

# Internal names: double underscore so they sort out of the user's way.
BEGIN, COLLECT, FINISH, ANSWER = ("__tgcheck_begin", "__tgcheck_collect", "__tgcheck_finish",
                                  "__tgcheck_answer")
# telegram_check's COLLECT and ANSWER: a "+digits" cell's integer is kept (a
# mark in the memo's table when the memo answers it) and answered once
# (streamed_check.QueryState.answer_first: a repeat is NULL); FIRST_CODE, for a
# task type without fields, gives the row's index into OUTCOMES' list of
# answers instead (first_codes).
COLLECT_EVERY, FIRST, FIRST_CODE, OUTCOMES = ("__tgcheck_collect_every", "__tgcheck_first",
                                              "__tgcheck_first_code", "__tgcheck_outcomes")
# telegram_enrich's lighter ANSWER for a task type without fields: each row's
# answer code (INTEGER), shown by indexing VALUES' list, as a string per row
# from Python would cost more (docs/performance.md, "DuckDB memory").
CODE, VALUES = "__tgcheck_code", "__tgcheck_values"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ANSWER's return type, per row: its answer (streamed_check: the core's answer
# column, AnswerColumn.outcomes_to_arrow).
CHECK_TYPE = "STRUCT(number VARCHAR, value VARCHAR, status VARCHAR, reason VARCHAR)"
# Each field kind's SQL type (its Arrow type: arrow_values.ARROW_TYPES).
SQL_TYPES = {YES_NO: "BOOLEAN", TEXT: "VARCHAR", INTEGER: "BIGINT",
             DATETIME: "TIMESTAMPTZ", URL: "VARCHAR"}


def check_type(declared: tuple[Field, ...] = ()) -> str:
    """CHECK_TYPE with one typed answers member per declared field."""
    if not declared:
        return CHECK_TYPE
    extra = "".join(f", {quote_identifier(FIELD_PREFIX + f.name)} {SQL_TYPES[f.kind]}"
                    for f in declared)
    return CHECK_TYPE.replace("reason VARCHAR)", f"reason VARCHAR{extra})")


def block_fields(types: Sequence[TaskType]) -> tuple[Field, ...]:
    """Every block's fields as members of the one answers struct: block i's field
    `x` is `t<i>_x` (two task types may declare one name with other kinds)."""
    return tuple(dataclasses.replace(f, name=f"t{i}_{f.name}")
                 for i, t in enumerate(types) for f in t.fields)


def block_column(block: int, name: str) -> str:
    """The quoted name of block's column `name` (its headline or a field)."""
    return quote_identifier(f"__tgcheck_t{block}__{name}")


def _block_columns(types: Sequence[TaskType], answer: str, value: str | None = None) -> str:
    """Per block: its headline and its fields (the answer column leaves each NULL
    unless the answer is ok), from the struct `answer` (the headline: from
    `value` when given and not NULL)."""
    out = []
    headline = f"{answer}.value" if value is None else f"coalesce({value}, {answer}.value)"
    for i, t in enumerate(types):
        out.append(f"{headline} AS {block_column(i, t.column)}, ")
        out += [f"{answer}.{quote_identifier(f'{FIELD_PREFIX}t{i}_{f.name}')} AS "
                f"{block_column(i, f.name)}, " for f in t.fields]
    return "".join(out)


def _block_pattern(names: Mapping[str, int], default: int) -> str:
    """The regex of the block `task_type :=` names (NULL: the registered one); a
    name no block has picks the registered one's columns, and BEGIN, given the
    name, fails the query with the known task types before any call."""
    cases = " ".join(f"WHEN {quote_literal(name)} THEN '{i}'" for name, i in names.items())
    return (f"'^__tgcheck_t' || CASE task_type {cases} ELSE '{default}' END "
            "|| '__(.*)$'")


# Each row's region, as text (a calling code may be an INTEGER column), or NULL
# without a region column. COLUMNS([coalesce(...)]) always names a real column,
# so the expression binds either way; CASE then drops it when there is none.
_REGION_OF_ROW = ("CASE WHEN region_column IS NULL THEN NULL::VARCHAR "
                  "ELSE CAST(COLUMNS([coalesce(region_column, col)]) AS VARCHAR) END")
# The table's rows with their cell and region (names the output drops again).
_CELLS = (f"SELECT *, COLUMNS([col]) AS __tgcheck_cell, {_REGION_OF_ROW} AS __tgcheck_region "
          "FROM query_table(tbl)")
# The integer a cell's digits spell when it is "+" and 1 to 15 digits (E.164's
# most), the first not 0, and its row has no region of its own; else NULL. Read
# in C: Python gets an int64 per row (streamed_check), equal to
# compact_answers' key by keys_of_digits. Such a cell that the memo holds is
# that very number. TRY_CAST reads "+" and digits, and more: spaces, "_", ".",
# leading zeros, which all leave the integer fewer digits than the cell has
# after its "+" (hence the least value for the cell's length), and an exponent
# ("4179e2"), which leaves it ending in 00 (hence, for those only, no "e").
# About 0.05 CPU s a million rows, against 0.25 for a regex;
# tests/faces/sql/test_duckdb_streaming.py checks it against \+[1-9][0-9]{0,14}.
# The first byte "+": between '+' and ',' (the next byte) in byte order
# (COLLATE c, whatever default_collation says: an ICU one sorts ',' first), a
# comparison of the string's inlined prefix, cheaper than ^@ (0.01 CPU s a
# million rows a pass).
_LEAST = "[" + ", ".join(str(10 ** max(0, n - 2)) for n in range(1, 17)) + "]"
_TEXT = "CAST(__tgcheck_cell AS VARCHAR)"
_CAST = (f"CASE WHEN __tgcheck_region IS NULL AND ({_TEXT} COLLATE c) >= '+' "
         f"AND ({_TEXT} COLLATE c) < ',' THEN TRY_CAST({_TEXT} AS BIGINT) END")
# NULL-safe as written: a cell too long for _LEAST gives NULL, never a number.
_LONG_ENOUGH = f"__tgcheck_d >= {_LEAST}[strlen({_TEXT})]"
DIGITS_OF = (f"CASE WHEN {_LONG_ENOUGH} AND __tgcheck_d % 100 <> 0 THEN __tgcheck_d "
             f"WHEN {_LONG_ENOUGH} AND NOT contains(lower({_TEXT}), 'e') THEN __tgcheck_d END")
# Each of COLLECT, CODE and ANSWER is two UDFs: DIGITS + name takes a row's
# digits, CELLS + name a row without digits (its cell and region). A row goes to
# one of them by CASE (a NULL cell to neither): a table in E.164 hands Python
# one BIGINT column, no text.
DIGITS, CELLS = "_digits", "_cells"


def by_kind(udf: str, row: str = "") -> str:
    """udf's call for each row (columns prefixed by row), the one of its kind."""
    r = f"{row}." if row else ""
    return (f"CASE WHEN {r}__tgcheck_digits IS NOT NULL "
            f"THEN {udf}{DIGITS}({r}__tgcheck_digits, __tgcheck_id) "
            f"WHEN {r}__tgcheck_cell IS NOT NULL "
            f"THEN {udf}{CELLS}({r}__tgcheck_cell, {r}__tgcheck_region, __tgcheck_id) END")


# The answer's number: the cell itself where ANSWER says so (SAME_AS_CELL).
NUMBER = (f"CASE WHEN a.__tgcheck_a.number = '{SAME_AS_CELL}' "
          "THEN CAST(a.__tgcheck_cell AS VARCHAR) ELSE a.__tgcheck_a.number END")


def with_digits(rows: str) -> str:
    """rows (a query with __tgcheck_cell and __tgcheck_region) with __tgcheck_digits."""
    return (f"SELECT * EXCLUDE (__tgcheck_d), {DIGITS_OF} AS __tgcheck_digits "
            f"FROM (SELECT *, {_CAST} AS __tgcheck_d FROM ({rows}))")


def _streamed(fixed: str, task_type: str, collect_over: str, collect: str = COLLECT,
              values: str = VALUES) -> str:
    """The CTEs of one macro call (named with the internal prefix: a user's table
    `q` or `done` must not be shadowed by them): __tgcheck_q (BEGIN: the call's
    state), __tgcheck_done (every cell of
    collect_over through collect, then FINISH: the engine's check; with the
    answers' values, for CODE, or whole answers: OUTCOMES). collect_over: a query of rows with
    __tgcheck_cell, __tgcheck_region and __tgcheck_digits (with_digits)."""
    # current_query_id(): the query the call belongs to, whose calls' states are
    # never pushed out by one another (streamed_check.QueryStates.open).
    return f"""__tgcheck_q AS MATERIALIZED (
        SELECT {BEGIN}(CAST({fixed} AS VARCHAR), CAST({task_type} AS VARCHAR),
                       current_query_id()) AS id
    ),
    __tgcheck_done AS MATERIALIZED (
        SELECT id, {values}(id) AS __tgcheck_values
        FROM (SELECT {FINISH}(__tgcheck_q.id, (
                  SELECT count({by_kind(collect)})
                  FROM ({collect_over}), (SELECT id AS __tgcheck_id FROM __tgcheck_q)
              )) AS id
              FROM __tgcheck_q)
    )"""


def _answered(rows: str) -> str:
    """rows (with __tgcheck_digits: with_digits), each with its answer struct
    __tgcheck_a (ANSWER, a vector at a time). A cross join with the one-row
    `__tgcheck_done`: rows come out in the order they are read (DuckDB keeps
    insertion order; tests/faces/sql/test_duckdb_streaming.py)."""
    return f"""SELECT r.* EXCLUDE (__tgcheck_digits), {by_kind(ANSWER, "r")} AS __tgcheck_a
        FROM ({rows}) r, (SELECT id AS __tgcheck_id FROM __tgcheck_done)"""


def list_form_sql(types: Sequence[TaskType], default: int) -> str:
    """telegram_check(xs)'s overload, default: the registered task type's block.
    It takes no task_type := (DuckDB would bind telegram_check(t, col) to it as
    well, a named parameter being positional too): the registered one."""
    registered = f"COLUMNS('^__tgcheck_t{default}__(.*)$') AS '\\1'"
    cells = with_digits("SELECT x AS __tgcheck_cell, NULL::VARCHAR AS __tgcheck_region "
                        "FROM (SELECT unnest(list_distinct(xs)) AS x)")
    return f"""(xs) AS TABLE (
    WITH {_streamed("NULL", "NULL", cells)}
    SELECT input, number, {registered}, status, reason
    FROM (SELECT a.__tgcheck_cell AS input, {NUMBER} AS number,
                 {_block_columns(types, "a.__tgcheck_a")}a.__tgcheck_a.status AS status,
                 a.__tgcheck_a.reason AS reason
          FROM ({_answered(cells)}) a)
)"""


def macro_sql(types: Sequence[TaskType], names: Mapping[str, int], default: int) -> str:
    """The macros over the UDFs. types: the blocks, in ANSWER's order
    (block_fields); names: each name `task_type :=` may be given -> its block;
    default: the block of the task type given to register()."""
    # COLUMNS(<pattern>) AS '\1': the chosen block, its prefix cut off.
    chosen = f"COLUMNS({_block_pattern(names, default)}) AS '\\1'"
    # dict.fromkeys: a task type's headline may share its name with one of its
    # fields (the example's ws_active: `activedays`), and EXCLUDE refuses a repeat.
    every_block = ", ".join(dict.fromkeys(
        block_column(i, name) for i, t in enumerate(types)
        for name in (t.column, *(f.name for f in t.fields))))
    # Whether the chosen task type declares fields: a constant, as `chosen`.
    with_fields = [i for i, t in enumerate(types) if t.fields]
    cases = " ".join(f"WHEN {quote_literal(name)} THEN {str(i in with_fields).lower()}"
                     for name, i in names.items())
    fields = f"(CASE task_type {cases} ELSE {str(default in with_fields).lower()} END)"
    # telegram_check answers each distinct (cell, region) once. A "+digits" cell
    # (no region of its own) is the same cell as another exactly when its digits
    # are: those rows stream through, and Python answers each integer's first
    # row only (FIRST: a repeat's answer is NULL, filtered out), holding 10 bytes
    # a distinct number (two bytes a place of the memo's table for those it
    # answers), not a hash table of cells. Other cells are made
    # distinct by DuckDB (its hash table spills). The same rows go through
    # COLLECT and FIRST, so that the rows answered are the rows collected (the
    # state is then dropped).
    # The answer pass takes the two kinds apart (a UNION ALL of each answered):
    # the same union in both passes would be one subplan to DuckDB 2.0, which
    # materialises it, every row of the table at once.
    cells = with_digits(_CELLS)
    digit_rows = (f"SELECT __tgcheck_cell, __tgcheck_region, __tgcheck_digits FROM ({cells}) "
                  "WHERE __tgcheck_digits IS NOT NULL")
    other_rows = ("SELECT DISTINCT __tgcheck_cell, __tgcheck_region, __tgcheck_digits "
                  f"FROM ({cells}) WHERE __tgcheck_digits IS NULL AND __tgcheck_cell IS NOT NULL")
    distinct = f"{digit_rows} UNION ALL {other_rows}"
    # A "+digits" row's answer: its index into OUTCOMES' list (FIRST_CODE), or
    # FIRST's struct for a task type with fields or when OUTCOMES is NULL (a
    # "+digits" cell not read as itself: its own reading); NULL for a repeat.
    first = (f"CASE WHEN {fields} OR __tgcheck_done.__tgcheck_values IS NULL "
             f"THEN {FIRST}{DIGITS}(r.__tgcheck_digits, __tgcheck_id) "
             f"ELSE __tgcheck_done.__tgcheck_values["
             f"{FIRST_CODE}{DIGITS}(r.__tgcheck_digits, __tgcheck_id)] END")
    digit_answers = (f"SELECT r.* EXCLUDE (__tgcheck_digits), {first} AS __tgcheck_a "
                     f"FROM ({digit_rows}) r, (SELECT id AS __tgcheck_id, __tgcheck_values "
                     "FROM __tgcheck_done) __tgcheck_done")
    answered = (f"SELECT * FROM ({digit_answers}) WHERE __tgcheck_a IS NOT NULL "
                f"UNION ALL {_answered(other_rows)}")
    # Bodies are parenthesised: a bare `FROM x, (xs) AS TABLE ...` would parse
    # the next overload as a cross join.
    return f"""
CREATE OR REPLACE TEMP MACRO telegram_check(tbl, col, region_column := NULL,
                                             region := NULL, task_type := NULL) AS TABLE (
    WITH {_streamed("region", "task_type", distinct, COLLECT_EVERY, OUTCOMES)}
    SELECT COLUMNS(CASE WHEN region_column IS NULL THEN ['input', 'number']
                        ELSE ['input', 'region', 'number'] END),
           {chosen}, status, reason
    FROM (SELECT a.__tgcheck_cell AS input, a.__tgcheck_region AS region,
                 {NUMBER} AS number,
                 {_block_columns(types, "a.__tgcheck_a")}a.__tgcheck_a.status AS status,
                 a.__tgcheck_a.reason AS reason
          FROM ({answered}) a)
),
{list_form_sql(types, default)};

CREATE OR REPLACE TEMP MACRO telegram_enrich(tbl, col, region_column := NULL,
                                              region := NULL, task_type := NULL) AS TABLE (
    WITH {_streamed("region", "task_type", with_digits(_CELLS))}
    -- The table's columns, then the chosen block's. A task type without fields
    -- shows each row's value by its code (CODE); one with fields takes the
    -- whole answer (ANSWER). The choice is a constant DuckDB folds while
    -- planning: only one of the two is ever called.
    SELECT * EXCLUDE ({every_block}), {chosen}
    FROM (SELECT a.* EXCLUDE (__tgcheck_cell, __tgcheck_region, __tgcheck_a, __tgcheck_value),
                 {_block_columns(types, "a.__tgcheck_a", "a.__tgcheck_value")[:-2]}
          FROM (SELECT r.* EXCLUDE (__tgcheck_digits),
                       CASE WHEN {fields} THEN NULL
                            ELSE __tgcheck_done.__tgcheck_values[{by_kind(CODE, "r")}]
                       END AS __tgcheck_value,
                       CASE WHEN {fields} THEN {by_kind(ANSWER, "r")} END AS __tgcheck_a
                FROM ({with_digits(_CELLS)}) r,
                     (SELECT id AS __tgcheck_id, __tgcheck_values FROM __tgcheck_done)
                         __tgcheck_done) a)
);
"""
