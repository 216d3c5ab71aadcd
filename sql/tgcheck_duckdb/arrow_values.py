"""Arrow arrays <-> the plain Python values and answers the engine speaks."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tgcheck.fields import DATETIME, INTEGER, TEXT, URL, YES_NO, Field
from tgcheck.models import OK
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


def checked_array(found: list) -> pa.StructArray:
    """(number, status, reason) per input, as the engine's normaliser found it.

    number: E.164, or NULL when the input is answered locally (invalid, blank);
    status: that local answer, NULL for a number to be looked up; reason: the
    local answer's, or a note on a number that was changed (an extension
    removed). Clean input, every value an E.164 string, costs one C pass.
    """
    if set(map(type, found)) <= {str}:
        blank = pa.nulls(len(found), pa.string())
        return pa.StructArray.from_arrays([pa.array(found, pa.string()), blank, blank],
                                          names=["number", "status", "reason"])
    numbers = pa.array([f if type(f) is str else (f.number if f.status == OK else None)
                        for f in found], pa.string())
    statuses = pa.array([None if type(f) is str or f.status == OK else f.status
                         for f in found], pa.string())
    reasons = pa.array([None if type(f) is str else f.reason for f in found], pa.string())
    return pa.StructArray.from_arrays([numbers, statuses, reasons],
                                      names=["number", "status", "reason"])


def answer_table(groups: list, asked: pa.Array | None = None,
                 declared: tuple[Field, ...] = (), fields: dict | None = None
                 ) -> pa.StructArray:
    """(number, value, status) per answered number, from the engine's answer groups,
    and one typed member per declared field (FIELD_PREFIX + its name) from
    fields (number -> typed fields: ColumnAnswers.fields).

    Each asked number is in one group at most. A group may also hold numbers not
    asked for (a lookup that scanned the store, a task topped up with stored
    ones): when there are more than `asked` (the numbers read from the inputs)
    they are dropped here, so DuckDB never holds a whole large store to join
    against a smaller column. Built per group in C, no object per number.
    """
    names = ["number", "value", "status", *(FIELD_PREFIX + f.name for f in declared)]
    if not groups:
        return pa.StructArray.from_arrays(
            [pa.array([], pa.string())] * 3 + [pa.array([], ARROW_TYPES[f.kind])
                                               for f in declared], names=names)
    numbers = pa.concat_arrays([pa.array(group, pa.string()) for _, _, group in groups])
    which = pa.concat_arrays([pa.repeat(pa.scalar(i, pa.int32()), len(group))
                              for i, (_, _, group) in enumerate(groups)])
    if asked is not None and len(numbers) > len(asked):
        keep = pc.is_in(numbers, value_set=asked)
        numbers, which = numbers.filter(keep), which.filter(keep)
    values = pa.array([value if status == OK else None for value, status, _ in groups],
                      pa.string()).take(which)
    statuses = pa.array([status for _, status, _ in groups], pa.string()).take(which)
    columns = [numbers, values, statuses]
    if declared:
        # Only task types with fields come here: a pass per number is their cost.
        found = fields or {}
        rows = [found.get(n) or {} for n in numbers.to_pylist()]
        columns += [pa.array([row.get(f.name) for row in rows], ARROW_TYPES[f.kind])
                    for f in declared]
    return pa.StructArray.from_arrays(columns, names=names)


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
    numbers = [found if type(found) is str else (found.number if found.status == OK else None)
               for found in resolve_all(python_values(encoded.dictionary), region)]
    return pa.array(numbers, pa.string()).take(encoded.indices)
