"""Arrow arrays <-> the plain Python values and answers the engine speaks."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

import tgcheck
from tgcheck.models import OK, UNKNOWN
from tgcheck.normalize import resolve_all
from tgcheck.reasons import LEFT_OUT_REASON as LEFT_OUT
from tgcheck.reasons import NO_ANSWER_REASON as NO_ANSWER


def python_values(array: pa.Array) -> list:
    """The cells as Python objects the engine's normaliser understands.

    DuckDB hands DOUBLE literals like 41798284651.0 over as DECIMAL; str() of a
    Decimal keeps ".0", which would read as a separator and add a digit. As a
    float, the normaliser sees a whole number, as it does for Excel's cells.
    """
    if pa.types.is_decimal(array.type):
        array = array.cast(pa.float64())
    return array.to_pylist()


def answers_array(answers: tgcheck.ColumnAnswers, value_column: str) -> pa.StructArray:
    """(number, value, status, reason) per input, joined by number in Arrow.

    value is set only when status is ok; a valid number in no group has no
    answer (unknown); invalid and blank inputs keep their local status. reason
    is filled as Engine.check fills Answer.reason.
    """
    found, groups = answers
    numbers = pa.array([f if type(f) is str else (f.number if f.status == OK else None)
                        for f in found], pa.string())
    if groups:
        keys = pa.concat_arrays([pa.array(group, pa.string()) for _, _, group in groups])
        group_of_key = pa.concat_arrays([pa.repeat(pa.scalar(i, pa.int32()), len(group))
                                         for i, (_, _, group) in enumerate(groups)])
        # Each input's group, or null: a hash join of the inputs against the keys.
        which = group_of_key.take(pc.index_in(numbers, value_set=keys))
    else:
        which = pa.nulls(len(numbers), pa.int32())
    values = pa.array([value if status == OK else None for value, status, _ in groups],
                      pa.string()).take(which)
    statuses = pa.array([status for _, status, _ in groups], pa.string()).take(which)
    reasons = pa.array([None if status == OK else LEFT_OUT for _, status, _ in groups],
                       pa.string()).take(which)
    if len(numbers) and any(type(f) is not str for f in found):
        local = pa.array([None if type(f) is str or f.status == OK else f.status
                          for f in found], pa.string())
        statuses = pc.coalesce(local, statuses)
        notes = pa.array([None if type(f) is str else f.reason for f in found], pa.string())
        reasons = pc.coalesce(reasons, notes)
    # A valid number no group answered: unknown, no answer.
    unanswered = pc.and_(pc.is_null(which), pc.is_valid(numbers))
    reasons = pc.if_else(unanswered, pa.scalar(NO_ANSWER, pa.string()), reasons)
    statuses = pc.fill_null(statuses, UNKNOWN)
    return pa.StructArray.from_arrays([numbers, values, statuses, reasons],
                                      names=["number", value_column, "status", "reason"])


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
