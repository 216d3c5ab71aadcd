"""The SQL side: table macros over one arrow UDF that checks a whole list at once.

DuckDB's Python API has no table functions, so each macro hands the full
column to the UDF as ONE list value: the UDF then runs once per query, and the
engine sees the whole set (one task, not one per chunk of 2,048 rows). The UDF
does the part only Python can (normalise, look up, pay for what is missing,
store) and hands back one list, each input's answer in the list's order (the
core's answer column joined them, in Arrow); the macros zip it to the inputs.
"""

from __future__ import annotations

from tgcheck.fields import DATETIME, INTEGER, TEXT, URL, YES_NO, Field

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


# Each row's region, as text (a calling code may be an INTEGER column), or NULL
# without a region column. COLUMNS([coalesce(...)]) always names a real column,
# so the expression binds either way; CASE then drops it when there is none.
_REGION_OF_ROW = ("CASE WHEN region_column IS NULL THEN NULL::VARCHAR "
                  "ELSE CAST(COLUMNS([coalesce(region_column, col)]) AS VARCHAR) END")


def macro_sql(column: str, declared: tuple[Field, ...] = ()) -> str:
    col = quote_identifier(column)
    names = [f.name for f in declared]
    shown = ", ".join(quote_literal(c) for c in ("number", column, *names, "status", "reason"))
    # One typed column per field, after the headline (NULL unless the answer is ok).
    picked = "".join(f"r.{quote_identifier(FIELD_PREFIX + n)} AS {quote_identifier(n)}, "
                     for n in names)
    enriched = "".join(f", answers.{quote_identifier(n)} AS {quote_identifier(n)}"
                       for n in names)
    # A macro parameter is pasted in as text wherever it appears: `pairs` used
    # twice would run its subquery twice, and two list(DISTINCT ...) need not
    # come in the same order (DuckDB's parallel hash aggregate does not keep
    # one), so numbers would be read with another row's region and answers
    # zipped to the wrong inputs. Hence `pairs` appears exactly once: the
    # (number, region) structs go to the UDF as ONE list, the UDF splits them
    # itself, and its readings are zipped to that very list (two unnests of one
    # row walk their lists in step). MATERIALIZED also keeps an inlined second
    # reference from calling the UDF (and the engine) again.
    # Bodies are parenthesised: a bare `FROM x, (xs) AS TABLE ...` would parse
    # the next overload as a cross join.
    return f"""
CREATE OR REPLACE TEMP MACRO {ANSWERS_OF}(pairs, fixed) AS TABLE
    WITH inputs AS MATERIALIZED (
        SELECT pairs AS __tgcheck_pairs
    ),
    checked AS MATERIALIZED (
        SELECT __tgcheck_pairs,
               {ANSWER_UDF}(__tgcheck_pairs, CAST(fixed AS VARCHAR)) AS __tgcheck_checked
        FROM inputs
    ),
    readings AS (
        SELECT unnest(__tgcheck_pairs, recursive := true),
               unnest(__tgcheck_checked, recursive := true)
        FROM checked
    )
    -- Each input beside its answer; the UDF joined them (tgcheck.answer_column).
    SELECT r.input, r.region, r.number, r.value AS {col}, {picked}r.status, r.reason
    FROM readings r;

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
           answers.{col} AS {col}{enriched}
    FROM src LEFT JOIN answers ON src.__tgcheck_key = answers.input
        AND src.__tgcheck_region IS NOT DISTINCT FROM answers.region
    ORDER BY src.__tgcheck_row;
"""
