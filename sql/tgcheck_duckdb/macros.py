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


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def answer_type(column: str) -> str:
    """The UDF's return type: one struct per list element, in the list's order."""
    return (f"STRUCT(number VARCHAR, {quote_identifier(column)} VARCHAR, status VARCHAR, "
            "reason VARCHAR)[]")


# Each row's region, as text (a calling code may be an INTEGER column), or NULL
# without a region column. COLUMNS([coalesce(...)]) always names a real column,
# so the expression binds either way; CASE then drops it when there is none.
_REGION_OF_ROW = ("CASE WHEN region_column IS NULL THEN NULL::VARCHAR "
                  "ELSE CAST(COLUMNS([coalesce(region_column, col)]) AS VARCHAR) END")


def macro_sql(column: str) -> str:
    col = quote_identifier(column)
    shown = ", ".join(quote_literal(c) for c in ("number", column, "status", "reason"))
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
CREATE OR REPLACE TEMP MACRO {ANSWERS_OF}(pairs, fixed) AS TABLE
    WITH inputs AS MATERIALIZED (
        SELECT pairs AS __tgcheck_pairs
    ),
    answered AS MATERIALIZED (
        SELECT __tgcheck_pairs,
               {ANSWER_UDF}(__tgcheck_pairs, CAST(fixed AS VARCHAR)) AS __tgcheck_answers
        FROM inputs
    )
    SELECT unnest(__tgcheck_pairs, recursive := true),
           unnest(__tgcheck_answers, recursive := true)
    FROM answered;

CREATE OR REPLACE TEMP MACRO telegram_check(tbl, col, region_column := NULL,
                                             region := NULL) AS TABLE (
    SELECT COLUMNS(CASE WHEN region_column IS NULL THEN ['input', {shown}]
                        ELSE ['input', 'region', {shown}] END)
    FROM {ANSWERS_OF}((
        SELECT list({{'input': __tgcheck_key, 'region': __tgcheck_region}})
        FROM (SELECT DISTINCT __tgcheck_key, __tgcheck_region
              FROM (SELECT COLUMNS([col]) AS __tgcheck_key, {_REGION_OF_ROW} AS __tgcheck_region
                    FROM query_table(tbl))
              WHERE __tgcheck_key IS NOT NULL)
    ), region)
),
(xs) AS TABLE (
    SELECT COLUMNS(['input', {shown}])
    FROM {ANSWERS_OF}([{{'input': x, 'region': NULL::VARCHAR}} FOR x IN list_distinct(xs)], NULL)
);

CREATE OR REPLACE TEMP MACRO telegram_enrich(tbl, col, region_column := NULL,
                                              region := NULL) AS TABLE
    WITH src AS MATERIALIZED (
        -- row_number() OVER () numbers rows in scan order: the output keeps it.
        SELECT *, COLUMNS([col]) AS __tgcheck_key, {_REGION_OF_ROW} AS __tgcheck_region,
               row_number() OVER () AS __tgcheck_row
        FROM query_table(tbl)
    ),
    answers AS MATERIALIZED (
        SELECT * FROM {ANSWERS_OF}((
            SELECT list({{'input': __tgcheck_key, 'region': __tgcheck_region}})
            FROM (SELECT DISTINCT __tgcheck_key, __tgcheck_region FROM src
                  WHERE __tgcheck_key IS NOT NULL)
        ), region)
    )
    SELECT src.* EXCLUDE (__tgcheck_key, __tgcheck_region, __tgcheck_row),
           answers.{col} AS {col}
    FROM src LEFT JOIN answers ON src.__tgcheck_key = answers.input
        AND src.__tgcheck_region IS NOT DISTINCT FROM answers.region
    ORDER BY src.__tgcheck_row;
"""
