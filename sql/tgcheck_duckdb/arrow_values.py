"""Arrow arrays <-> the plain Python values and answers the engine speaks."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

import tgcheck


def python_values(array: pa.Array) -> list:
    """The cells as Python objects the engine's normaliser understands.

    DuckDB hands DOUBLE literals like 41798284651.0 over as DECIMAL; str() of a
    Decimal keeps ".0", which would read as a separator and add a digit. As a
    float, the normaliser sees a whole number, as it does for Excel's cells.
    """
    if pa.types.is_decimal(array.type):
        array = array.cast(pa.float64())
    return array.to_pylist()


def answers_array(answers: Sequence[tgcheck.Answer], value_column: str) -> pa.StructArray:
    return pa.StructArray.from_arrays(
        [
            pa.array([a.number for a in answers], pa.string()),
            pa.array([a.value for a in answers], pa.string()),
            pa.array([a.status for a in answers], pa.string()),
        ],
        names=["number", value_column, "status"],
    )


def normalised_array(array: pa.Array | pa.ChunkedArray, region: str | None) -> pa.Array:
    """E.164 or NULL for each cell; each distinct value is normalised once."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_null(array.type) or len(array) == 0:
        return pa.nulls(len(array), pa.string())
    encoded = pc.dictionary_encode(array)
    numbers = [
        None if value is None else tgcheck.normalise(value, region).number
        for value in python_values(encoded.dictionary)
    ]
    return pa.array(numbers, pa.string()).take(encoded.indices)
