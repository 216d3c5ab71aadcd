"""The SQL side: table macros over one arrow UDF that answers a whole list at once.

DuckDB's Python API has no table functions, so each macro hands the full
column to the UDF as ONE list value: the UDF then runs once per query, and the
engine sees the whole set (one task, not one per chunk of 2,048 rows).
"""

from __future__ import annotations

# Internal names: double underscore so they sort out of the user's way.
ANSWER_UDF = "__tgcheck_answers"
ANSWERS_OF = "__tgcheck_answers_of"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def answer_type(column: str) -> str:
    """The UDF's return type: one struct per list element, in the list's order."""
    return f"STRUCT(number VARCHAR, {quote_identifier(column)} VARCHAR, status VARCHAR)[]"


def macro_sql(column: str) -> str:
    col = quote_identifier(column)
    # A macro parameter is pasted in as text wherever it appears: `xs` used twice
    # would run its subquery twice, and two list(DISTINCT ...) need not come in
    # the same order, so answers would be zipped to the wrong inputs. Hence the
    # list is materialised once, under a name no parameter shadows, and the
    # answers are zipped to that very list. MATERIALIZED also keeps an inlined
    # second reference from calling the UDF (and the engine) again.
    # Bodies are parenthesised: a bare `FROM x, (xs) AS TABLE ...` would parse
    # the next overload as a cross join.
    return f"""
CREATE OR REPLACE TEMP MACRO {ANSWERS_OF}(xs) AS TABLE
    WITH inputs AS MATERIALIZED (SELECT xs AS __tgcheck_inputs),
    answered AS MATERIALIZED (
        SELECT __tgcheck_inputs, {ANSWER_UDF}(__tgcheck_inputs) AS __tgcheck_answers
        FROM inputs
    )
    SELECT unnest(__tgcheck_inputs) AS input, unnest(__tgcheck_answers, recursive := true)
    FROM answered;

CREATE OR REPLACE TEMP MACRO telegram_check(tbl, col) AS TABLE (
    SELECT * FROM {ANSWERS_OF}((
        SELECT list(DISTINCT __tgcheck_key) FILTER (WHERE __tgcheck_key IS NOT NULL)
        FROM (SELECT COLUMNS([col]) AS __tgcheck_key FROM query_table(tbl))
    ))
),
(xs) AS TABLE (
    SELECT * FROM {ANSWERS_OF}(list_distinct(xs))
);

CREATE OR REPLACE TEMP MACRO telegram_enrich(tbl, col) AS TABLE
    WITH src AS MATERIALIZED (
        -- row_number() OVER () numbers rows in scan order: the output keeps it.
        SELECT *, COLUMNS([col]) AS __tgcheck_key, row_number() OVER () AS __tgcheck_row
        FROM query_table(tbl)
    ),
    answers AS MATERIALIZED (
        SELECT * FROM {ANSWERS_OF}((
            SELECT list(DISTINCT __tgcheck_key) FILTER (WHERE __tgcheck_key IS NOT NULL)
            FROM src
        ))
    )
    SELECT src.* EXCLUDE (__tgcheck_key, __tgcheck_row), answers.{col} AS {col}
    FROM src LEFT JOIN answers ON src.__tgcheck_key = answers.input
    ORDER BY src.__tgcheck_row;
"""
