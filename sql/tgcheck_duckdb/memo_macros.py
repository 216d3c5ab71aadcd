"""telegram_enrich and telegram_check over the answer memo first (answer_memo.py).

Registered after macros.macro_sql when the registered task type declares no
fields, replacing its two table macros (same parameters, `task_type :=` too)
by the same ones with one step in front: the table's cells are joined to the
memo of answers this process has already read (one hash join, as a plain LEFT
JOIN against the answers would do), and only the cells that miss it go to the
engine through macros' ANSWERS_OF, exactly as before (normalised, looked up,
paid for if new, invalid ones answered locally). On a table already answered
that list is empty: no cell is normalised, looked up or diffed in Python.

The memo is the view MEMO_VIEW (answer_memo.MemoView): DuckDB reads it as an
Arrow table, handed over when the query's scan of it starts, after the store's
change token was checked (answer_memo.AnswerMemo.answers), so a query sees the
store as it was then, as a lookup would. Each macro scans it exactly once
(inside a MATERIALIZED CTE, which DuckDB never inlines twice): two scans could
see two states of the store.

The memo answers only a query of the registered task type (`task_type :=`
NULL or naming it): for any other the view is filtered by a condition DuckDB
folds to false while planning, so it is not even read, and every cell takes
the engine's path. A row with a region of its own never uses the memo (an
unknown region makes that row invalid, whatever its number). ANSWERS_OF is
called on every query, with an empty list when every cell hit the memo, so its
UDF still fails a misspelled `region :=` or `task_type :=`. An entry's rows
are put in ANSWERS_OF's shape (its block's headline column, the answer as
shown), and the output columns are then picked as macros.py picks them: the
same columns, types, answers and reasons, rows in order for telegram_enrich.

What the cost is made of (docs/performance.md, "The memo as one join"): the
scan, the hash join to the memo and the sort back into row order, as a plain
ordered join; on top, the rows are kept once (the misses must be answered
before any row can be output) without a copy of the key or region column: those
are computed again from the kept table columns where needed.
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

# The memo's entries (answer_memo.ENTRY_SCHEMA: number, value, status, reason).
MEMO_VIEW = "__tgcheck_memo"


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
    # True, folded while planning, when `task_type :=` picks the registered
    # block (NULL does; an unknown name too, and ANSWERS_OF's UDF fails it).
    served = f"({_block_pattern(names, default)}) = '^__tgcheck_t{default}__(.*)$'"
    # coalesce: list() of no misses is NULL, which ANSWERS_OF's UDF would skip;
    # an empty list still reaches it, which checks `region :=` and `task_type :=`.
    misses_of = ("coalesce(list({'input': __tgcheck_key, 'region': __tgcheck_region}), [])")
    # The cell's key and region, computed from the table's columns wherever used
    # rather than kept as columns of their own beside them.
    key_and_region = f"COLUMNS([col]) AS __tgcheck_key, {_REGION_OF_ROW} AS __tgcheck_region"
    return f"""
CREATE OR REPLACE TEMP MACRO telegram_check(tbl, col, region_column := NULL,
                                             region := NULL, task_type := NULL) AS TABLE (
    WITH keys AS MATERIALIZED (
        SELECT k.__tgcheck_key, k.__tgcheck_region, m.value AS __tgcheck_mvalue,
               m.status AS __tgcheck_mstatus, m.reason AS __tgcheck_mreason
        FROM (SELECT DISTINCT __tgcheck_key, __tgcheck_region
              FROM (SELECT {key_and_region} FROM query_table(tbl))
              WHERE __tgcheck_key IS NOT NULL) k
        LEFT JOIN (SELECT number, value, status, reason FROM {MEMO_VIEW} WHERE {served}) m
            ON k.__tgcheck_region IS NULL AND CAST(k.__tgcheck_key AS VARCHAR) = m.number
    ),
    checked AS (
        -- ANSWERS_OF's rows for the misses, and the memo's in their shape: by
        -- name, the other blocks' columns NULL (`region` here is an alias only).
        -- A hit's number is its cell: the memo holds cells equal to their E.164.
        SELECT * FROM {ANSWERS_OF}((
            SELECT {misses_of}
            FROM keys WHERE __tgcheck_mstatus IS NULL
        ), region, task_type)
        UNION ALL BY NAME
        SELECT __tgcheck_key AS input, __tgcheck_region AS region,
               CAST(__tgcheck_key AS VARCHAR) AS number, __tgcheck_mvalue AS {headline},
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
    WITH src AS MATERIALIZED (
        -- The table's rows, each numbered in scan order (row_number() OVER ():
        -- the output keeps it) and joined to the memo: its value where it hit.
        SELECT s.* EXCLUDE (__tgcheck_key, __tgcheck_region),
               m.value AS __tgcheck_mvalue, m.number IS NOT NULL AS __tgcheck_hit
        FROM (SELECT *, {key_and_region}, row_number() OVER () AS __tgcheck_row
              FROM query_table(tbl)) s
        LEFT JOIN (SELECT number, value FROM {MEMO_VIEW} WHERE {served}) m
            ON s.__tgcheck_region IS NULL AND CAST(s.__tgcheck_key AS VARCHAR) = m.number
    ),
    answers AS MATERIALIZED (
        SELECT * FROM {ANSWERS_OF}((
            SELECT {misses_of}
            FROM (SELECT DISTINCT {key_and_region} FROM src WHERE NOT __tgcheck_hit)
            WHERE __tgcheck_key IS NOT NULL
        ), region, task_type)
    ),
    joined AS (
        -- Every block's columns; the registered block's headline from the memo
        -- where the row hit it (an entry's value is already as shown).
        SELECT s.* EXCLUDE (__tgcheck_key, __tgcheck_region, __tgcheck_mvalue,
                            __tgcheck_hit),
               a.* EXCLUDE (input, region, number, status, reason, {headline}),
               CASE WHEN s.__tgcheck_hit THEN s.__tgcheck_mvalue
                    ELSE a.{headline} END AS {headline}
        FROM (SELECT *, {key_and_region} FROM src) s
        LEFT JOIN answers a ON NOT s.__tgcheck_hit
            AND s.__tgcheck_key = a.input
            AND s.__tgcheck_region IS NOT DISTINCT FROM a.region
    )
    -- The table's columns, then the chosen block's (as macros.py's enrich).
    SELECT * EXCLUDE ({every_block}, __tgcheck_row), {chosen}
    FROM joined
    ORDER BY __tgcheck_row;
"""
