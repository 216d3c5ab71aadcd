"""telegram_enrich and telegram_check over the answer memo first (answer_memo.py).

Registered after macros.macro_sql when the registered task type declares no
fields, replacing its two table macros (same parameters, `task_type :=` too)
by the same ones with one step in front: the table's cells are
joined to the memo of answers this process has already read (one hash join, as
a plain LEFT JOIN against the answers would do), and only the cells that miss
it go to the engine through macros' ANSWERS_OF, exactly as before (normalised,
looked up, paid for if new, invalid ones answered locally). On a table already
answered that list is empty: no cell is normalised, looked up or diffed in
Python. The memo is handed over by its UDF at the start of the query, after it
checked that the store has not changed (answer_memo.AnswerMemo.answers), so a
query sees the store as it was then, as a lookup would.

The memo answers only a query of the registered task type (`task_type :=`
NULL or naming it); for any other its UDF hands over no entries and every
cell takes the engine's path. A row with a region of its own never uses the
memo (an unknown region makes that row invalid, whatever its number). The
empty list of misses still reaches the UDF as NULL; the memo's UDF checks
`region :=` and `task_type :=` instead. An entry's rows are put in
ANSWERS_OF's shape (its block's headline column, the answer as shown), and the
output columns are then picked as macros.py picks them: the same columns,
types, answers and reasons, rows in order for telegram_enrich.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tgcheck.models import TaskType

from .macros import (
    _REGION_OF_ROW,
    ANSWERS_OF,
    _block_pattern,
    block_column,
    list_form_sql,
)

MEMO_UDF = "__tgcheck_memo"
# The memo's entries as DuckDB reads them (answer_memo.ENTRY_TYPE).
MEMO_TYPE = "STRUCT(number VARCHAR, value VARCHAR, status VARCHAR, reason VARCHAR)[]"


def macro_sql(types: Sequence[TaskType], names: Mapping[str, int], default: int) -> str:
    """The two table macros with the memo in front; arguments as macros.macro_sql's
    (default: the registered task type's block, the only one the memo serves)."""
    headline = block_column(default, types[default].column)
    # dict.fromkeys: a task type's headline may share its name with one of its
    # fields (the example's ws_active: `activedays`), and EXCLUDE refuses a repeat.
    every_block = ", ".join(dict.fromkeys(
        block_column(i, name) for i, t in enumerate(types)
        for name in (t.column, *(f.name for f in t.fields))))
    chosen = f"COLUMNS({_block_pattern(names, default)}) AS '\\1'"
    # list() of no misses is NULL, which ANSWERS_OF's UDF skips; the memo's UDF
    # checks `region :=` and `task_type :=` instead, so a typo fails on a table
    # already answered too.
    misses_of = "list({'input': __tgcheck_key, 'region': __tgcheck_region})"
    memo = (f"SELECT unnest({MEMO_UDF}(CAST(region AS VARCHAR), CAST(task_type AS VARCHAR)), "
            "recursive := true)")
    return f"""
CREATE OR REPLACE TEMP MACRO telegram_check(tbl, col, region_column := NULL,
                                             region := NULL, task_type := NULL) AS TABLE (
    WITH memo AS MATERIALIZED (
        {memo}
    ),
    keys AS MATERIALIZED (
        SELECT k.__tgcheck_key, k.__tgcheck_region, m.number AS __tgcheck_mnumber,
               m.value AS __tgcheck_mvalue, m.status AS __tgcheck_mstatus,
               m.reason AS __tgcheck_mreason
        FROM (SELECT DISTINCT __tgcheck_key, __tgcheck_region
              FROM (SELECT COLUMNS([col]) AS __tgcheck_key,
                           {_REGION_OF_ROW} AS __tgcheck_region
                    FROM query_table(tbl))
              WHERE __tgcheck_key IS NOT NULL) k
        LEFT JOIN memo m ON k.__tgcheck_region IS NULL
            AND CAST(k.__tgcheck_key AS VARCHAR) = m.number
    ),
    checked AS (
        -- ANSWERS_OF's rows for the misses, and the memo's in their shape: by
        -- name, the other blocks' columns NULL (`region` here is an alias only).
        SELECT * FROM {ANSWERS_OF}((
            SELECT {misses_of}
            FROM keys WHERE __tgcheck_mstatus IS NULL
        ), region, task_type)
        UNION ALL BY NAME
        SELECT __tgcheck_key AS input, __tgcheck_region AS region,
               __tgcheck_mnumber AS number, __tgcheck_mvalue AS {headline},
               __tgcheck_mstatus AS status, __tgcheck_mreason AS reason
        FROM keys WHERE __tgcheck_mstatus IS NOT NULL
    )
    SELECT COLUMNS(CASE WHEN region_column IS NULL THEN ['input', 'number']
                        ELSE ['input', 'region', 'number'] END),
           {chosen}, status, reason
    FROM checked
),
{list_form_sql(default)};

CREATE OR REPLACE TEMP MACRO telegram_enrich(tbl, col, region_column := NULL,
                                              region := NULL, task_type := NULL) AS TABLE
    WITH memo AS MATERIALIZED (
        {memo}
    ),
    src AS MATERIALIZED (
        -- row_number() OVER () numbers rows in scan order: the output keeps it.
        SELECT s.*, m.value AS __tgcheck_mvalue, m.status AS __tgcheck_mstatus
        FROM (SELECT *, COLUMNS([col]) AS __tgcheck_key,
                     {_REGION_OF_ROW} AS __tgcheck_region,
                     row_number() OVER () AS __tgcheck_row
              FROM query_table(tbl)) s
        LEFT JOIN memo m ON s.__tgcheck_region IS NULL
            AND CAST(s.__tgcheck_key AS VARCHAR) = m.number
    ),
    answers AS MATERIALIZED (
        SELECT * FROM {ANSWERS_OF}((
            SELECT {misses_of}
            FROM (SELECT DISTINCT __tgcheck_key, __tgcheck_region FROM src
                  WHERE __tgcheck_key IS NOT NULL AND __tgcheck_mstatus IS NULL)
        ), region, task_type)
    ),
    joined AS (
        -- Every block's columns; the registered block's headline from the memo
        -- where the row hit it (an entry's value is already as shown).
        SELECT src.* EXCLUDE (__tgcheck_key, __tgcheck_region, __tgcheck_mvalue,
                              __tgcheck_mstatus),
               a.* EXCLUDE (input, region, number, status, reason, {headline}),
               CASE WHEN src.__tgcheck_mstatus IS NULL THEN a.{headline}
                    ELSE src.__tgcheck_mvalue END AS {headline}
        FROM src LEFT JOIN answers a ON src.__tgcheck_mstatus IS NULL
            AND src.__tgcheck_key = a.input
            AND src.__tgcheck_region IS NOT DISTINCT FROM a.region
    )
    -- The table's columns, then the chosen block's (as macros.py's enrich).
    SELECT * EXCLUDE ({every_block}, __tgcheck_row), {chosen}
    FROM joined
    ORDER BY __tgcheck_row;
"""
