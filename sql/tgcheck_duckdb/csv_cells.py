"""`tgcheck sql`'s CSV output with formula cells made inert, as every CSV tgcheck writes.

The rule is tgcheck.csv_formulas' (OWASP's: a text cell starting with = + - @ tab
CR gets a leading ', numbers and phone numbers are left alone); here it is applied
to the string columns of Arrow record batches, so a large result streams through
without being held.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tgcheck.csv_formulas import NUMBER_LIKE, TRIGGERS

# RE2 (Arrow): a character class of the triggers, the dash last.
_STARTS_LIKE_A_FORMULA = "^[" + "".join(sorted(TRIGGERS - {"-"})) + "-]"
_NUMBER_ONLY = f"^(?:{NUMBER_LIKE})$"


def _is_text(kind: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)  # pyarrow >= 16
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or is_view(kind)


def _neutralised_column(column: pa.Array) -> pa.Array:
    if not _is_text(column.type):
        return column
    risky = pc.and_kleene(pc.match_substring_regex(column, _STARTS_LIKE_A_FORMULA),
                          pc.invert(pc.match_substring_regex(column, _NUMBER_ONLY)))
    quoted = pc.binary_join_element_wise(pa.scalar("'", column.type), column, "")
    return pc.if_else(pc.fill_null(risky, False), quoted, column)


def neutralised_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([_neutralised_column(c) for c in batch.columns],
                                      schema=batch.schema)


def neutralised_reader(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """reader's batches, formula cells quoted, read as they are asked for."""
    return pa.RecordBatchReader.from_batches(
        reader.schema, (neutralised_batch(b) for b in reader))


def neutralised_table(table: pa.Table) -> pa.Table:
    return pa.Table.from_batches([neutralised_batch(b) for b in table.to_batches()],
                                 schema=table.schema)


def write_csv(con, query: str, path: str) -> None:
    """query's result to a CSV file at path (header, DuckDB's quoting), streamed."""
    relation = con.sql(query)
    # Written through a cursor: con itself is busy streaming the query's result.
    con.cursor().from_arrow(neutralised_reader(relation.to_arrow_reader())).write_csv(
        path, header=True)
