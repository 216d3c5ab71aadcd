"""Arrow arrays <-> the plain Python values and answers the engine speaks."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tgcheck.answer_column import number_of
from tgcheck.fields import DATETIME, INTEGER, TEXT, URL, YES_NO
from tgcheck.normalize import resolve_all

# Each field kind's Arrow type (its SQL type: macros.SQL_TYPES).
ARROW_TYPES = {YES_NO: pa.bool_(), TEXT: pa.string(), INTEGER: pa.int64(),
               DATETIME: pa.timestamp("us", tz="UTC"), URL: pa.string()}
# A field's member of the answers struct: prefixed, so that a field called
# `value` or `status` meets no member of the answer itself.
FIELD_PREFIX = "field_"


def python_values(array: pa.Array) -> list:
    """The cells as Python objects the engine's normaliser understands.

    DuckDB hands DOUBLE literals like 41798284651.0 over as DECIMAL; str() of a
    Decimal keeps ".0", which would read as a separator and add a digit. As a
    float, the normaliser sees a whole number, as it does for Excel's cells.
    """
    if pa.types.is_decimal(array.type):
        array = array.cast(pa.float64())
    return array.to_pylist()


def normalised_array(array: pa.Array | pa.ChunkedArray, region: str | None) -> pa.Array:
    """E.164 or NULL for each cell; each distinct value is normalised once.

    resolve_all, as the engine uses: the same reading, and clean E.164 input
    costs a regex match rather than a Normalised per value.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_null(array.type) or len(array) == 0:
        return pa.nulls(len(array), pa.string())
    encoded = pc.dictionary_encode(array)
    numbers = list(map(number_of, resolve_all(python_values(encoded.dictionary), region)))
    return pa.array(numbers, pa.string()).take(encoded.indices)


def in_blocks(answers: pa.StructArray, fields: dict[str, pa.Array],
              members: tuple) -> pa.StructArray:
    """The answer struct with every block's members (macros.block_fields): the
    chosen block's fields given (fields, by member name), the other blocks' NULL."""
    base = ("number", "value", "status", "reason")
    columns = [answers.field(name) for name in base]
    columns += [fields.get(FIELD_PREFIX + m.name) if FIELD_PREFIX + m.name in fields
                else pa.nulls(len(answers), ARROW_TYPES[m.kind]) for m in members]
    return pa.StructArray.from_arrays(
        columns, names=[*base, *(FIELD_PREFIX + m.name for m in members)])


def plus_digits(digits) -> pa.Array:
    """"+" and each integer's digits: the number it was read from (NULL for NULL)."""
    return pc.binary_join_element_wise("+", pc.cast(pa.array(digits, pa.int64()),
                                                    pa.string()), "")
