"""Typed hand-offs between stages: each clean table is written once as Parquet, typed.

Validation writes every clean table twice: the CSV for reviewers (docs/contract.md §4) and a
Parquet file for the stages after it, so that no later stage parses the CSV text again. In the
Parquet file codes, IDs and every other text are strings (a code ``2`` or ``1.10`` stays text),
and only the columns declared ``integer`` or ``number`` are numbers (nullable: a blank cell is
null). Booleans stay the text validation normalised them to (``true``/``false``), which is what
the crosstabs count by.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PARQUET_SUFFIX = ".parquet"


def arrow_backed(values: object) -> bool:
    """Whether a column (a Series or its array) is pandas text held in Arrow (pandas 3's
    ``str``, as every sheet is read, or ``string[pyarrow]``)."""
    dtype = getattr(values, "dtype", None)
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def arrow_strings(values: object) -> pa.Array | pa.ChunkedArray | None:
    """The Arrow strings behind a pandas text column kept in Arrow, no copy for one chunk;
    ``None`` for any other column."""
    return pa.array(values) if arrow_backed(values) else None


def column_arrays(frame: pd.DataFrame) -> Iterator[object]:
    """Each column's values as the frame holds them (a NumPy or extension array), no Series
    built: a Series per column costs more than a small table's whole write. pandas' own CSV
    writer walks a frame with the private ``_iter_column_arrays``; where a pandas version lacks
    it, each column's public ``.array`` gives the same values."""
    walk = getattr(frame, "_iter_column_arrays", None)
    return iter(walk()) if walk is not None else public_column_arrays(frame)


def public_column_arrays(frame: pd.DataFrame) -> Iterator[object]:
    """:func:`column_arrays` through pandas' public API: each column's ``.array``."""
    return (frame.iloc[:, i].array for i in range(frame.shape[1]))


def _column(values: object, kind: str | None) -> pa.Array:
    """One column of the typed table from a column's values as the frame holds them."""
    if kind == "integer" and isinstance(values, np.ndarray) and values.dtype.kind == "i":
        # Whole numbers already (source_row): the numbers their text would parse to.
        return pa.array(values, type=pa.int64())
    text = _text(values)
    if kind not in ("integer", "number"):
        return text
    present = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    # Validated values only reach here (whole numbers and decimals, normalised), so every
    # non-blank cell parses; a failure is a bug in validation and must not pass as a null.
    # Arrow parses decimals correctly rounded (fast_float), as Python's float() does, so every
    # number is the same double the stages always read.
    return pc.cast(present, pa.int64() if kind == "integer" else pa.float64())


def _text(values: object) -> pa.Array:
    """A column as one array of strings, a blank (missing) cell as ``""``."""
    strings = arrow_strings(values)
    if strings is not None:
        # In Arrow from end to end: a round trip through Python objects (tolist) was most of
        # this function's time (1.7 s of 1.3M clean rows), and through pandas' fillna and
        # astype most of a small table's.
        if strings.null_count == 0:  # the usual column: nothing to fill, one call saved
            return strings.cast(pa.string())
        return pc.fill_null(strings, "").cast(pa.string())
    if isinstance(values, np.ndarray) and values.dtype == object:
        # Python strings and blanks (a sheet that is absent gives an empty object column):
        # as they are, with no pandas call per column.
        missing = pd.isna(values).tolist()
        cells = ["" if blank else v for v, blank in zip(values.tolist(), missing, strict=True)]
        if all(type(v) is str for v in cells):
            return pa.array(cells, type=pa.string())
    text = pa.array(pd.Series(values).fillna("").astype("str"), type=pa.string())
    if isinstance(text, pa.ChunkedArray):
        # One array, as a list of values gave: the file's bytes then depend on the values
        # alone, not on how pandas happened to chunk them while reading.
        text = text.combine_chunks()
    return text


def write_typed(frame: pd.DataFrame, path: Path, types: Mapping[str, str]) -> None:
    """Write ``frame`` (text cells, blanks as ``""``) to ``path`` as Parquet: the columns
    ``types`` maps to ``integer`` or ``number`` as numbers, every other column as strings."""
    arrays = [
        _column(values, types.get(name))
        for name, values in zip(frame.columns, column_arrays(frame), strict=True)
    ]
    table = pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns])
    path.parent.mkdir(parents=True, exist_ok=True)
    # No pandas metadata and no statistics: the bytes depend on the values alone.
    pq.write_table(table, path, write_statistics=False, store_schema=False)


def read_typed(path: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A table :func:`write_typed` wrote: strings as text (blank ``""``), integers as nullable
    ``Int64``, numbers as ``float64`` (blank NaN).

    With ``columns``, only those of them the file has, in that order; the others are never
    decoded (the codes table's free-text ``excerpt`` is most of its bytes, and decoding it was
    0.7 s of every tally rule at a million code rows that needed three short columns). A column
    the file lacks is left out, so a stage fails where it looks for it.
    """
    if path.suffix != PARQUET_SUFFIX:
        raise ValueError(
            f"{path}: a stage reads the typed clean tables "
            f"(clean/<name>{PARQUET_SUFFIX}), not their CSV copies"
        )
    # One ParquetFile, not pyarrow.parquet.read_table: that imports pyarrow.dataset on its
    # first call, 0.45 s in every process that reads a table.
    with pq.ParquetFile(path) as parquet:
        present = parquet.schema_arrow.names
        wanted = present if columns is None else [c for c in dict.fromkeys(columns) if c in present]
        table = parquet.read(columns=wanted)
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
