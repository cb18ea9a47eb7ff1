"""Reading and writing the pipeline's CSV tables, the same way everywhere.

Written tables are deterministic: UTF-8, LF line ends, no index, floats to 10 significant
digits, and rows in an order the stage fixes (never the order a dict or a hash happened in).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evsynth import registry
from evsynth.handoff import arrow_strings, column_arrays
from evsynth.spreadsheet_safe import escape, escape_arrow, escape_text, quoting, restore

#: How a float is written (pandas' ``float_format``: 10 significant digits).
FLOAT_FORMAT = "%.10g"
#: Rows a CSV's lines are made for at a time (the same bytes for any number).
BATCH_ROWS = 65_536


def read_clean(path: Path) -> pd.DataFrame:
    """A clean table as text, blanks as empty strings (the form validation wrote)."""
    return restore(pd.read_csv(path, dtype=str, keep_default_na=False))


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path``; text a spreadsheet would run as a formula gets a leading
    apostrophe (:mod:`evsynth.spreadsheet_safe`), which the readers here remove again.

    The bytes are those of pandas' ``to_csv`` of the escaped frame (:func:`write_table_pandas`),
    made in Arrow for the columns a table holds (text, whole numbers, floats, booleans, Python
    objects): each cell as the text the csv writer makes of what pandas hands it, quoted as
    the csv writer quotes it. A frame with any other column (categorical, nullable, dates) or
    header goes through pandas itself.
    """
    fields = _csv_fields(frame)
    if fields is None:
        write_table_pandas(frame, path)
        return
    header, columns, quote_all = fields
    head = io.StringIO()  # the header by the csv writer itself: one row, and labels are few
    csv.writer(
        head, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    ).writerow(header)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(head.getvalue().encode("utf-8"))
        # In batches of rows, so that the quoted copies of a long table's cells are made for
        # a batch at a time (a small table is one batch).
        for start in range(0, len(frame), BATCH_ROWS):
            batch = [column.slice(start, BATCH_ROWS) for column in columns]
            handle.write(_csv_body(batch, quote_all))


def write_table_pandas(frame: pd.DataFrame, path: Path) -> None:
    """:func:`write_table` through pandas' ``to_csv`` for every column: what it writes is the
    reference for the Arrow path (and the tests compare the two)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = escape(frame)
    safe.to_csv(
        path, index=False, lineterminator="\n", float_format=FLOAT_FORMAT, quoting=quoting(safe)
    )


#: What Python's csv writer quotes under QUOTE_MINIMAL: the delimiter, the quote character and
#: the line terminator ("\n"; a bare "\r" is not, hence :func:`spreadsheet_safe.quoting`).
_CSV_SPECIAL = '[,"\n]'
_TEXT = pa.large_string()
_QUOTE, _NOTHING, _COMMA, _LF = (pa.scalar(c, _TEXT) for c in ('"', "", ",", "\n"))
_TRUE, _FALSE, _EMPTY_RECORD = (pa.scalar(c, _TEXT) for c in ("True", "False", '""'))
_NOTHING_ARRAY = pa.array([], _TEXT)


def _csv_fields(frame: pd.DataFrame) -> tuple[list[str], list[pa.Array], bool] | None:
    """The escaped header, each column's cells as the text the csv writer makes of what pandas'
    ``to_csv`` hands it (before quoting; a blank is ``""``), and whether a carriage return
    means quoting every field; ``None`` for a column or header these rules do not cover.

    Per column, with no Series built (:func:`evsynth.handoff.column_arrays`). An Arrow
    call costs about as much on a small table as the rest of its write, so columns of a kind
    go through together: all text is escaped at once, all whole numbers of a type made digits
    at once; numbers are never escaped.
    """
    labels = frame.columns.tolist()
    if not labels or not all(isinstance(label, str) for label in labels):
        # pandas formats numbers, tuples (MultiIndex) and blanks in the header, and writes a
        # blank line a row for a frame with no columns.
        return None
    header = [str(escape_text(label)) for label in labels]
    quote_all = any("\r" in label for label in header)
    columns: list[pa.Array] = []
    texts: list[tuple[int, pa.Array]] = []
    integers: dict[np.dtype, list[tuple[int, np.ndarray]]] = {}
    for position, values in enumerate(column_arrays(frame)):
        columns.append(_NOTHING_ARRAY)  # filled in below, by kind
        strings = arrow_strings(values)
        if strings is not None:
            texts.append((position, strings if strings.type == _TEXT else strings.cast(_TEXT)))
            continue
        if not isinstance(values, np.ndarray) or values.dtype.kind not in "iubfO":
            return None
        kind = values.dtype.kind
        if kind in "iu":  # pandas hands Python ints: their digits
            integers.setdefault(values.dtype, []).append((position, values))
        elif kind == "b":  # Python bools
            columns[position] = pc.if_else(values, _TRUE, _FALSE)
        elif kind == "f":  # as pandas: the float format, NaN blank
            cells = [FLOAT_FORMAT % v if v == v else "" for v in values.tolist()]
            columns[position] = pa.array(cells, _TEXT)
        else:  # as pandas: a missing value blank, any other object as the csv writer's str()
            missing = pd.isna(values).tolist()
            objects = [
                "" if blank else escape_text(v)
                for v, blank in zip(values.tolist(), missing, strict=True)
            ]
            quote_all = quote_all or any(isinstance(v, str) and "\r" in v for v in objects)
            columns[position] = pa.array(
                [v if isinstance(v, str) else str(v) for v in objects], _TEXT
            )
    rows = len(frame)
    for group in integers.values():
        digits = pa.array(np.concatenate([values for _, values in group])).cast(_TEXT)
        for offset, (position, _) in enumerate(group):
            columns[position] = digits.slice(offset * rows, rows)
    if texts:
        # One array of every text cell: the escaping's fixed cost is paid once a table.
        joined = pa.chunked_array([text for _, text in texts], _TEXT)
        escaped, carriage_return = escape_arrow(joined)
        quote_all = quote_all or carriage_return
        escaped = pc.fill_null(escaped, "").combine_chunks()  # the csv writer's None: ""
        for offset, (position, _) in enumerate(texts):
            columns[position] = escaped.slice(offset * rows, rows)
    return header, columns, quote_all


def _csv_body(columns: list[pa.Array], quote_all: bool) -> memoryview:
    """The CSV lines of ``columns`` (each a row's field text, at least one row), quoted as
    Python's csv writer does with ``lineterminator="\n"`` and QUOTE_ALL or QUOTE_MINIMAL: in
    Arrow, where the csv writer copies each character in its own loop (a long ``study_ids``
    cell was most of a large table's write). All columns go through each step at once."""
    rows = len(columns[0])
    cells = pa.chunked_array(columns, _TEXT)
    if quote_all:
        cells = _quoted(cells)
    else:
        special = pc.match_substring_regex(cells, _CSV_SPECIAL)
        if pc.any(special).as_py():
            cells = pc.if_else(special, _quoted(cells), cells)
        if len(columns) == 1:
            # A record that would be empty (one blank field) the csv writer writes as "".
            cells = pc.if_else(pc.equal(cells, ""), _EMPTY_RECORD, cells)
    cells = cells.combine_chunks()
    fields = [cells.slice(i * rows, rows) for i in range(len(columns))]
    lines = pc.binary_join_element_wise(*fields, _COMMA)
    lines = pc.binary_join_element_wise(lines, _NOTHING, _LF)
    # The lines' bytes as Arrow holds them, one after the other: no copy.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset :]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[rows]]


def _quoted(cells: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each cell in quotes, a quote in it doubled (the csv writer's ``doublequote``)."""
    doubled = pc.replace_substring(cells, '"', '""')
    return pc.binary_join_element_wise(_QUOTE, doubled, _QUOTE, _NOTHING)


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
