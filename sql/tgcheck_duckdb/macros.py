"""The SQL side: table macros over one arrow UDF that checks a whole list at once.

DuckDB's Python API has no table functions, so each macro hands the full
column to the UDF as ONE list value: the UDF then runs once per query, and the
engine sees the whole set (one task, not one per chunk of 2,048 rows). The UDF
does the part only Python can (normalise, look up, pay for what is missing,
store) and hands back one list, each input's answer in the list's order (the
core's answer column joined them, in Arrow); the macros zip it to the inputs.

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

# Internal names: double underscore so they sort out of the user's way.
ANSWER_UDF = "__tgcheck_answers"
ANSWERS_OF = "__tgcheck_answers_of"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The UDF's return type, per list it is given: each input's answer, in that
# list's order (arrow_values.answers_array: the core's answer column).
CHECK_TYPE = "STRUCT(number VARCHAR, value VARCHAR, status VARCHAR, reason VARCHAR)[]"
# Each field kind's SQL type (its Arrow type: arrow_values.ARROW_TYPES).
SQL_TYPES = {YES_NO: "BOOLEAN", TEXT: "VARCHAR", INTEGER: "BIGINT",
             DATETIME: "TIMESTAMPTZ", URL: "VARCHAR"}


def check_type(declared: tuple[Field, ...] = ()) -> str:
    """CHECK_TYPE with one typed answers member per declared field."""
    if not declared:
        return CHECK_TYPE
    extra = "".join(f", {quote_identifier(FIELD_PREFIX + f.name)} {SQL_TYPES[f.kind]}"
                    for f in declared)
    return CHECK_TYPE.replace("reason VARCHAR)[]", f"reason VARCHAR{extra})[]")


def block_fields(types: Sequence[TaskType]) -> tuple[Field, ...]:
    """Every block's fields as members of the one answers struct: block i's field
    `x` is `t<i>_x` (two task types may declare one name with other kinds)."""
    return tuple(dataclasses.replace(f, name=f"t{i}_{f.name}")
                 for i, t in enumerate(types) for f in t.fields)


def block_column(block: int, name: str) -> str:
    """The quoted name of block's column `name` (its headline or a field)."""
    return quote_identifier(f"__tgcheck_t{block}__{name}")


def _block_columns(types: Sequence[TaskType]) -> str:
    """Per block: its headline and its fields (the answer column leaves each NULL
    unless the answer is ok)."""
    out = []
    for i, t in enumerate(types):
        out.append(f"r.value AS {block_column(i, t.column)}, ")
        out += [f"r.{quote_identifier(f'{FIELD_PREFIX}t{i}_{f.name}')} AS "
                f"{block_column(i, f.name)}, " for f in t.fields]
    return "".join(out)


def _block_pattern(names: Mapping[str, int], default: int) -> str:
    """The regex of the block `task_type :=` names (NULL: the registered one); a
    name no block has picks the registered one's columns, and the UDF, given the
    name, fails the query with the known task types before any call."""
    cases = " ".join(f"WHEN {quote_literal(name)} THEN '{i}'" for name, i in names.items())
    return (f"'^__tgcheck_t' || CASE task_type {cases} ELSE '{default}' END "
            "|| '__(.*)$'")


# Each row's region, as text (a calling code may be an INTEGER column), or NULL
# without a region column. COLUMNS([coalesce(...)]) always names a real column,
# so the expression binds either way; CASE then drops it when there is none.
_REGION_OF_ROW = ("CASE WHEN region_column IS NULL THEN NULL::VARCHAR "
                  "ELSE CAST(COLUMNS([coalesce(region_column, col)]) AS VARCHAR) END")


def list_form_sql(default: int) -> str:
    """telegram_check(xs)'s overload, default: the registered task type's block.
    It takes no task_type := (DuckDB would bind telegram_check(t, col) to it as
    well, a named parameter being positional too): the registered one."""
    registered = f"COLUMNS('^__tgcheck_t{default}__(.*)$') AS '\\1'"
    return f"""(xs) AS TABLE (
    SELECT input, number, {registered}, status, reason
    FROM {ANSWERS_OF}([{{'input': x, 'region': NULL::VARCHAR}} FOR x IN list_distinct(xs)], NULL,
                      NULL)
)"""


def macro_sql(types: Sequence[TaskType], names: Mapping[str, int], default: int) -> str:
    """The macros over the UDF. types: the blocks, in the UDF's order (block_fields);
    names: each name `task_type :=` may be given -> its block; default: the block
    of the task type given to register()."""
    blocks = _block_columns(types)
    # COLUMNS(<pattern>) AS '\1': the chosen block, its prefix cut off.
    chosen = f"COLUMNS({_block_pattern(names, default)}) AS '\\1'"
    # A macro parameter is pasted in as text wherever it appears: `pairs` used
    # twice would run its subquery twice, and two list(DISTINCT ...) need not
    # come in the same order (DuckDB's parallel hash aggregate does not keep
    # one), so numbers would be read with another row's region and answers
    # zipped to the wrong inputs. Hence `pairs` appears exactly once: the
    # (number, region) structs go to the UDF as ONE list, the UDF splits them
    # itself, and its answers are zipped to that very list (two unnests of one
    # row walk their lists in step). MATERIALIZED also keeps an inlined second
    # reference from calling the UDF (and the engine) again.
    # Bodies are parenthesised: a bare `FROM x, (xs) AS TABLE ...` would parse
    # the next overload as a cross join.
    return f"""
CREATE OR REPLACE TEMP MACRO {ANSWERS_OF}(pairs, fixed, task_type) AS TABLE
    WITH inputs AS MATERIALIZED (
        SELECT pairs AS __tgcheck_pairs
    ),
    checked AS MATERIALIZED (
        SELECT __tgcheck_pairs,
               {ANSWER_UDF}(__tgcheck_pairs, CAST(fixed AS VARCHAR),
                             CAST(task_type AS VARCHAR)) AS __tgcheck_checked
        FROM inputs
    ),
    readings AS (
        SELECT unnest(__tgcheck_pairs, recursive := true),
               unnest(__tgcheck_checked, recursive := true)
        FROM checked
    )
    -- Each input beside its answer; the UDF joined them (tgcheck.answer_column).
    SELECT r.input, r.region, r.number, {blocks}r.status, r.reason
    FROM readings r;

CREATE OR REPLACE TEMP MACRO telegram_check(tbl, col, region_column := NULL,
                                             region := NULL, task_type := NULL) AS TABLE (
    SELECT COLUMNS(CASE WHEN region_column IS NULL THEN ['input', 'number']
                        ELSE ['input', 'region', 'number'] END),
           {chosen}, status, reason
    FROM {ANSWERS_OF}((
        SELECT list({{'input': __tgcheck_key, 'region': __tgcheck_region}})
        FROM (SELECT DISTINCT __tgcheck_key, __tgcheck_region
              FROM (SELECT COLUMNS([col]) AS __tgcheck_key, {_REGION_OF_ROW} AS __tgcheck_region
                    FROM query_table(tbl))
              WHERE __tgcheck_key IS NOT NULL)
    ), region, task_type)
),
{list_form_sql(default)};

CREATE OR REPLACE TEMP MACRO telegram_enrich(tbl, col, region_column := NULL,
                                              region := NULL, task_type := NULL) AS TABLE
    WITH src AS MATERIALIZED (
        -- row_number() OVER () numbers rows in scan order: the output keeps it.
        SELECT *, COLUMNS([col]) AS __tgcheck_key, {_REGION_OF_ROW} AS __tgcheck_region,
               row_number() OVER () AS __tgcheck_row
        FROM query_table(tbl)
    ),
    answers AS MATERIALIZED (
        -- Qualified: a bare `region` here would be the macro's parameter.
        SELECT a.input AS __tgcheck_input, a.region AS __tgcheck_in_region, {chosen}
        FROM {ANSWERS_OF}((
            SELECT list({{'input': __tgcheck_key, 'region': __tgcheck_region}})
            FROM (SELECT DISTINCT __tgcheck_key, __tgcheck_region FROM src
                  WHERE __tgcheck_key IS NOT NULL)
        ), region, task_type) AS a
    )
    SELECT src.* EXCLUDE (__tgcheck_key, __tgcheck_region, __tgcheck_row),
           answers.* EXCLUDE (__tgcheck_input, __tgcheck_in_region)
    FROM src LEFT JOIN answers ON src.__tgcheck_key = answers.__tgcheck_input
        AND src.__tgcheck_region IS NOT DISTINCT FROM answers.__tgcheck_in_region
    ORDER BY src.__tgcheck_row;
"""
