"""The SQL side: table macros over one arrow UDF that checks a whole list at once.

DuckDB's Python API has no table functions, so each macro hands the full
column to the UDF as ONE list value: the UDF then runs once per query, and the
engine sees the whole set (one task, not one per chunk of 2,048 rows). The UDF
does the part only Python can (normalise, look up, pay for what is missing,
store) and hands back two lists, the reading of each input and the answers by
number; DuckDB joins them to the rows itself, in parallel, as a hash join.
"""

from __future__ import annotations

from tgcheck.fields import DATETIME, INTEGER, TEXT, URL, YES_NO, Field
from tgcheck.models import OK, UNKNOWN
from tgcheck.reasons import LEFT_OUT_REASON, NO_ANSWER_REASON

from .arrow_values import FIELD_PREFIX

# Internal names: double underscore so they sort out of the user's way.
ANSWER_UDF = "__tgcheck_answers"
ANSWERS_OF = "__tgcheck_answers_of"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The UDF's return type, per list it is given: `checked` in that list's order
# (arrow_values.checked_array), `answers` one per answered number (answer_table).
CHECK_TYPE = ("STRUCT(checked STRUCT(number VARCHAR, status VARCHAR, reason VARCHAR)[], "
              "answers STRUCT(number VARCHAR, value VARCHAR, status VARCHAR)[])")
# Each field kind's SQL type (its Arrow type: arrow_values.ARROW_TYPES).
SQL_TYPES = {YES_NO: "BOOLEAN", TEXT: "VARCHAR", INTEGER: "BIGINT",
             DATETIME: "TIMESTAMPTZ", URL: "VARCHAR"}


def check_type(declared: tuple[Field, ...] = ()) -> str:
    """CHECK_TYPE with one typed answers member per declared field."""
    if not declared:
        return CHECK_TYPE
    extra = "".join(f", {quote_identifier(FIELD_PREFIX + f.name)} {SQL_TYPES[f.kind]}"
                    for f in declared)
    return CHECK_TYPE.replace("status VARCHAR)[])", f"status VARCHAR{extra})[])")


# Each row's region, as text (a calling code may be an INTEGER column), or NULL
# without a region column. COLUMNS([coalesce(...)]) always names a real column,
# so the expression binds either way; CASE then drops it when there is none.
_REGION_OF_ROW = ("CASE WHEN region_column IS NULL THEN NULL::VARCHAR "
                  "ELSE CAST(COLUMNS([coalesce(region_column, col)]) AS VARCHAR) END")


def macro_sql(column: str, declared: tuple[Field, ...] = ()) -> str:
    col = quote_identifier(column)
    names = [f.name for f in declared]
    shown = ", ".join(quote_literal(c) for c in ("number", column, *names, "status", "reason"))
    # One typed column per field, after the headline; NULL unless the answer is ok.
    picked = "".join(
        f"CASE WHEN a.status = '{OK}' THEN a.{quote_identifier(FIELD_PREFIX + n)} END "
        f"AS {quote_identifier(n)}, " for n in names)
    enriched = "".join(f", answers.{quote_identifier(n)} AS {quote_identifier(n)}"
                       for n in names)
    no_answer, left_out = quote_literal(NO_ANSWER_REASON), quote_literal(LEFT_OUT_REASON)
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
               unnest(__tgcheck_checked.checked, recursive := true)
        FROM checked
    ),
    answers AS (
        SELECT unnest(__tgcheck_checked.answers, recursive := true) FROM checked
    )
    -- A number with no answer is unknown, never "no"; a value only for "{OK}".
    SELECT r.input, r.region, r.number,
           CASE WHEN a.status = '{OK}' THEN a.value END AS {col}, {picked}
           coalesce(r.status, a.status, '{UNKNOWN}') AS status,
           CASE WHEN r.number IS NOT NULL AND a.number IS NULL THEN {no_answer}
                WHEN a.status <> '{OK}' THEN {left_out}
                ELSE r.reason END AS reason
    FROM readings r LEFT JOIN answers a ON r.number = a.number;

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
