"""Reading and writing the pipeline's CSV tables, the same way everywhere.

Written tables are deterministic: UTF-8, LF line ends, no index, floats to 10 significant
digits, and rows in an order the stage fixes (never the order a dict or a hash happened in).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from evsynth import registry
from evsynth.handoff import arrow_strings
from evsynth.spreadsheet_safe import escape, escape_arrow, escape_text, quoting, restore

#: How a float is written (pandas' ``float_format``: 10 significant digits).
FLOAT_FORMAT = "%.10g"


def read_clean(path: Path) -> pd.DataFrame:
    """A clean table as text, blanks as empty strings (the form validation wrote)."""
    return restore(pd.read_csv(path, dtype=str, keep_default_na=False))


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path``; text a spreadsheet would run as a formula gets a leading
    apostrophe (:mod:`evsynth.spreadsheet_safe`), which the readers here remove again.

    The bytes are those of pandas' ``to_csv`` of the escaped frame (:func:`write_table_pandas`):
    the columns a table holds (text, whole numbers, floats, booleans, Python objects) are made
    into the cells pandas would hand the csv writer, and written with the same writer; a frame
    with any other column (categorical, nullable, dates) or header goes through pandas itself.
    """
    cells = _csv_cells(frame)
    if cells is None:
        write_table_pandas(frame, path)
        return
    header, columns, quote_all = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(
            handle, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
        )
        writer.writerow(header)
        writer.writerows(zip(*columns, strict=True))


def write_table_pandas(frame: pd.DataFrame, path: Path) -> None:
    """:func:`write_table` through pandas' ``to_csv`` for every column: what it writes is the
    reference for the cells made in :func:`_csv_cells` (and the tests compare the two)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = escape(frame)
    safe.to_csv(
        path, index=False, lineterminator="\n", float_format=FLOAT_FORMAT, quoting=quoting(safe)
    )


def _csv_cells(frame: pd.DataFrame) -> tuple[list[str], list[list[object]], bool] | None:
    """The escaped header, each column's cells as pandas' ``to_csv`` passes them to the csv
    writer, and whether a carriage return means quoting every field; ``None`` for a frame with
    a column or header these rules do not cover.

    Per column, with no Series built (``_iter_column_arrays`` is how pandas' own CSV writer
    walks a frame; a Series per column cost more than a small table's whole write): Arrow text
    is escaped in Arrow, all text columns at once; numbers are never escaped.
    """
    labels = frame.columns.tolist()
    if not labels or not all(isinstance(label, str) for label in labels):
        # pandas formats numbers, tuples (MultiIndex) and blanks in the header, and writes a
        # blank line a row for a frame with no columns.
        return None
    header = [str(escape_text(label)) for label in labels]
    quote_all = any("\r" in label for label in header)
    columns: list[list[object]] = []
    texts: dict[int, pa.Array] = {}
    for position, values in enumerate(frame._iter_column_arrays()):
        strings = arrow_strings(values)
        if strings is not None:
            texts[position] = strings.cast(pa.large_string())
            columns.append([])
            continue
        if not isinstance(values, np.ndarray) or values.dtype.kind not in "iubfO":
            return None
        kind = values.dtype.kind
        if kind == "f":  # as pandas: the float format, NaN blank
            columns.append([FLOAT_FORMAT % v if v == v else "" for v in values.tolist()])
        elif kind == "O":  # as pandas: a missing value blank, any other object as it is
            missing = pd.isna(values).tolist()
            cells = [
                "" if blank else escape_text(v)
                for v, blank in zip(values.tolist(), missing, strict=True)
            ]
            quote_all = quote_all or any(isinstance(v, str) and "\r" in v for v in cells)
            columns.append(cells)
        else:  # whole numbers and booleans: Python ints and bools, never text
            columns.append(values.tolist())
    if texts:
        # One array of every text cell: the escaping's fixed cost is paid once a table.
        joined = pa.chunked_array(list(texts.values()), pa.large_string())
        escaped, carriage_return = escape_arrow(joined)
        quote_all = quote_all or carriage_return
        cells = escaped.to_pylist()  # a null is None, which the csv writer writes as ""
        rows = len(frame)
        for offset, position in enumerate(texts):
            columns[position] = cells[offset * rows : (offset + 1) * rows]
    return header, columns, quote_all


@dataclass(frozen=True)
class ResultColumns:
    """How a result table's columns are read back: ``text`` holds codes, IDs, labels and other
    text (kept exactly as written: an outcome coded ``2`` stays ``"2"``, a theme coded ``1.10``
    never becomes the float 1.1); ``numbers`` are counts and statistics. ``counts_after``: the
    table has one count column per code or category value after its text columns (crosstabs,
    co-occurrence), so every column not named in ``text`` is a count."""

    text: tuple[str, ...]
    numbers: tuple[str, ...] = ()
    counts_after: bool = False


def _declared(key: str) -> ResultColumns:
    schema = registry.table_schema(key)
    numeric = {"integer", "number"}
    return ResultColumns(
        text=tuple(f["name"] for f in schema["fields"] if f["type"] not in numeric),
        numbers=tuple(f["name"] for f in schema["fields"] if f["type"] in numeric),
        counts_after="x-counts" in schema,
    )


#: Every result table, by its path under ``results/<review>/`` without ``.csv``, as the table
#: registry declares it (``schemas/tables.yaml``). Declared, not inferred: inferring types from
#: the values is what turned codes into numbers (issue 10).
RESULT_TABLES: dict[str, ResultColumns] = {key: _declared(key) for key in registry.table_names()}


def result_columns(table: str) -> ResultColumns:
    """The declared columns of ``table`` (e.g. ``"outcomes/direction"``,
    ``"tallies/themes_by_design"``); ``KeyError`` for a table the registry does not declare."""
    return RESULT_TABLES[registry.table_key(table)]


def table_name(path: Path) -> str:
    """A result table's name from its path: ``<review>/outcomes/direction.csv`` ->
    ``outcomes/direction``."""
    return f"{path.parent.name}/{path.stem}"


def read_results(path: Path, table: str | None = None) -> pd.DataFrame:
    """A result table with its declared number columns as numbers (blank -> NaN) and every
    other column as text, exactly as written (for reports, figures and tests).

    ``table`` names the declaration (default: from the path, ``outcomes/direction``). A column
    the declaration does not name is read as text: a number read as text fails loudly where it
    is formatted; a code read as a number would print a wrong figure silently.
    """
    declared = result_columns(table or table_name(path))
    frame = restore(pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False))
    numbers = [
        c
        for c in frame.columns
        if c in declared.numbers or (declared.counts_after and c not in declared.text)
    ]
    converted = {c: pd.to_numeric(frame[c].replace("", np.nan)) for c in numbers}
    return frame.assign(**converted) if converted else frame
