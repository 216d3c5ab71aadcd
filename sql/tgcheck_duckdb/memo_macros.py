"""telegram_enrich and telegram_check over the answer memo first (answer_memo.py).

Registered after macros.macro_sql for task types without fields, replacing its
two macros by the same ones with one step in front: the table's cells are
joined to the memo of answers this process has already read (one hash join, as
a plain LEFT JOIN against the answers would do), and only the cells that miss
it go to the engine through macros' ANSWERS_OF, exactly as before (normalised,
looked up, paid for if new, invalid ones answered locally). On a table already
answered that list is empty: no cell is normalised, looked up or diffed in
Python. The memo is handed over by its UDF at the start of the query, after it
checked that the store has not changed (answer_memo.AnswerMemo.answers), so a
query sees the store as it was then, as a lookup would.

A row with a region of its own never uses the memo (an unknown region makes
that row invalid, whatever its number). The empty list of misses still reaches
the UDF as NULL; the memo's UDF checks `region :=` instead. Outputs are those
of macros.py: the same columns, types, answers and reasons, rows in order for
telegram_enrich.
"""

from __future__ import annotations

from tgcheck.models import OK
from tgcheck.reasons import LEFT_OUT_REASON

from .macros import _REGION_OF_ROW, ANSWERS_OF, quote_identifier, quote_literal

MEMO_UDF = "__tgcheck_memo"
# The memo's entries as DuckDB reads them (answer_memo.ENTRY_TYPE).
MEMO_TYPE = "STRUCT(number VARCHAR, value VARCHAR, status VARCHAR)[]"


def macro_sql(column: str) -> str:
    col = quote_identifier(column)
    shown = ", ".join(quote_literal(c) for c in ("number", column, "status", "reason"))
    left_out = quote_literal(LEFT_OUT_REASON)
    # list() of no misses is NULL, which ANSWERS_OF's UDF skips; the memo's UDF
    # checks `region :=` instead, so a typo fails on a table already answered too.
    misses_of = "list({'input': __tgcheck_key, 'region': __tgcheck_region})"
    return f"""
CREATE OR REPLACE TEMP MACRO telegram_check(tbl, col, region_column := NULL,
                                             region := NULL) AS TABLE (
    WITH memo AS MATERIALIZED (
        SELECT unnest({MEMO_UDF}(CAST(region AS VARCHAR)), recursive := true)
    ),
    keys AS MATERIALIZED (
        SELECT k.__tgcheck_key, k.__tgcheck_region, m.number AS __tgcheck_mnumber,
               m.value AS __tgcheck_mvalue, m.status AS __tgcheck_mstatus
        FROM (SELECT DISTINCT __tgcheck_key, __tgcheck_region
              FROM (SELECT COLUMNS([col]) AS __tgcheck_key,
                           {_REGION_OF_ROW} AS __tgcheck_region
                    FROM query_table(tbl))
              WHERE __tgcheck_key IS NOT NULL) k
        LEFT JOIN memo m ON k.__tgcheck_region IS NULL
            AND CAST(k.__tgcheck_key AS VARCHAR) = m.number
    ),
    checked AS (
        -- input, region, number, the answer, status, reason (by position below;
        -- `region` itself would name this macro's parameter)
        SELECT * FROM {ANSWERS_OF}((
            SELECT {misses_of}
            FROM keys WHERE __tgcheck_mstatus IS NULL
        ), region)
        UNION ALL
        SELECT __tgcheck_key, __tgcheck_region, __tgcheck_mnumber,
               CASE WHEN __tgcheck_mstatus = '{OK}' THEN __tgcheck_mvalue END,
               __tgcheck_mstatus,
               CASE WHEN __tgcheck_mstatus <> '{OK}' THEN {left_out} END
        FROM keys WHERE __tgcheck_mstatus IS NOT NULL
    )
    SELECT COLUMNS(CASE WHEN region_column IS NULL THEN ['input', {shown}]
                        ELSE ['input', 'region', {shown}] END)
    FROM checked
),
(xs) AS TABLE (
    SELECT COLUMNS(['input', {shown}])
    FROM {ANSWERS_OF}([{{'input': x, 'region': NULL::VARCHAR}} FOR x IN list_distinct(xs)], NULL)
);

CREATE OR REPLACE TEMP MACRO telegram_enrich(tbl, col, region_column := NULL,
                                              region := NULL) AS TABLE
    WITH memo AS MATERIALIZED (
        SELECT unnest({MEMO_UDF}(CAST(region AS VARCHAR)), recursive := true)
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
        ), region)
    )
    SELECT src.* EXCLUDE (__tgcheck_key, __tgcheck_region, __tgcheck_row,
                          __tgcheck_mvalue, __tgcheck_mstatus),
           CASE WHEN src.__tgcheck_mstatus IS NULL THEN answers.{col}
                WHEN src.__tgcheck_mstatus = '{OK}' THEN src.__tgcheck_mvalue END AS {col}
    FROM src LEFT JOIN answers ON src.__tgcheck_mstatus IS NULL
        AND src.__tgcheck_key = answers.input
        AND src.__tgcheck_region IS NOT DISTINCT FROM answers.region
    ORDER BY src.__tgcheck_row;
"""

