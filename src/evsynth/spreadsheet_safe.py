"""CSV cells a spreadsheet cannot run as formulas, and read back exactly as they were.

A reviewer opens evsynth's CSVs (``validation/issues.csv``, ``clean/*.csv``, every result table)
in Excel or LibreOffice, which run a cell beginning with ``=``, ``+``, ``-`` or ``@`` (or a tab
or carriage return before one) as a formula: a citation ``=HYPERLINK("http://x","click")`` would
become a live link, ``+cmd|' /C calc'!A0`` a command (OWASP "CSV injection"). Sheets are data
from outside, so every CSV evsynth writes follows one rule, and every evsynth reader undoes it.

The rule, applied to each text cell and each header name when written:

- *armed*: strip any leading apostrophes; if what is left starts with one of ``= + - @ TAB CR``
  and is not a plain number (``-0.5``, ``+3``, ``-1e-3``, ``-inf`` stay numbers), the cell is
  armed;
- an armed cell is written with one apostrophe in front (OWASP's recommendation: a spreadsheet
  shows it as text). That covers a cell that already begins with apostrophes before a trigger
  (``'=x`` is written ``''=x``), so the apostrophe a reader removes is always one evsynth added;
- every other cell, numbers included, is written unchanged.

Reading (:func:`restore`, :func:`restore_text`) removes one leading apostrophe from a cell that
starts with one and is armed without it, so ``restore_text(escape_text(v)) == v`` for every
string ``v``: a program that reads through evsynth sees the data byte for byte. A program that
reads the CSV with its own reader sees the apostrophe on armed cells only (never on numbers).

One more rule keeps that round trip exact: a file with a bare carriage return in a cell is
written with every field quoted (:func:`quoting`), since the csv writer would otherwise leave
it unquoted with LF line ends and readers would cut the cell there.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where frames are handled: issues.csv needs only text
    import pandas as pd
    import pyarrow as pa

#: First characters a spreadsheet takes as the start of a formula (OWASP list).
TRIGGERS = frozenset("=+-@\t\r")
QUOTE = "'"
#: A number a spreadsheet and pandas both read as a number; never escaped.
PLAIN_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE
)
#: Cells that may need work: the rest are passed through without a Python call each.
_WRITE_STARTS = tuple(TRIGGERS | {QUOTE})
#: The same first characters as an RE2 pattern for Arrow (each as ``\x{..}``: no escaping rules).
_WRITE_GATE = "^[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(_WRITE_STARTS)) + "]"


def is_armed(text: str) -> bool:
    """Would a spreadsheet run ``text`` (after any leading apostrophes) as a formula?"""
    rest = text.lstrip(QUOTE)
    return bool(rest) and rest[0] in TRIGGERS and PLAIN_NUMBER.fullmatch(rest) is None


def escape_text(value: object) -> object:
    """``value`` as written to a CSV: an armed string gets one leading apostrophe."""
    if isinstance(value, str) and is_armed(value):
        return QUOTE + value
    return value


def restore_text(value: object) -> object:
    """The inverse of :func:`escape_text`: drop the apostrophe evsynth added, and only that."""
    if isinstance(value, str) and value.startswith(QUOTE) and is_armed(value[1:]):
        return value[1:]
    return value


def escape(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell and header name escaped (a new frame; input untouched)."""
    return _map_text(frame.rename(columns=escape_text), escape_text, _WRITE_STARTS)


def restore(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame read from an evsynth CSV with the escaping undone (header names included)."""
    return _map_text(frame.rename(columns=restore_text), restore_text, (QUOTE,))


def escape_arrow(text: pa.ChunkedArray) -> tuple[pa.ChunkedArray, bool]:
    """Arrow text cells with :func:`escape_text` applied to each (nulls stay null), and whether
    any cell holds a carriage return (the file is then quoted throughout, see :func:`quoting`).

    A few passes in Arrow over every cell, whatever their number, and the rule's own test
    (:func:`is_armed`, with the apostrophe :func:`escape_text` adds) only on the distinct cells
    that start with a trigger or an apostrophe: a cell starting with anything else is never
    armed. tests/test_table_writers.py checks it against :func:`escape_text` on every cell.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    gate = pc.match_substring_regex(text, _WRITE_GATE)
    if pc.any(gate).as_py():
        armed = [v for v in pc.unique(text.filter(gate)).to_pylist() if is_armed(v)]
        if armed:
            hit = pc.is_in(text, value_set=pa.array(armed, text.type))
            marked = pc.binary_join_element_wise(
                pa.scalar(QUOTE, text.type), text, pa.scalar("", text.type)
            )
            text = pc.if_else(hit, marked, text)
    return text, bool(pc.any(pc.match_substring(text, "\r")).as_py())


def quoting(frame: pd.DataFrame) -> int:
    """The ``csv`` quoting to write ``frame`` with: every field quoted if a text cell or header
    holds a carriage return, else only where needed.

    With LF line ends, Python's csv writer quotes a field holding ``\n`` but not one holding a
    bare ``\r``, which every reader then takes for a line end: the cell would come back cut.
    Such cells are rare (old Mac text, pasted text), so only those files are fully quoted.
    """
    texts = [_text_series(frame.iloc[:, i]) for i in range(frame.shape[1])]
    found = any(isinstance(c, str) and "\r" in c for c in frame.columns) or any(
        series is not None and bool(series.str.contains("\r", regex=False, na=False).any())
        for series in texts
    )
    return csv.QUOTE_ALL if found else csv.QUOTE_MINIMAL


def texts_quoting(values: Iterable[object]) -> int:
    """:func:`quoting` for plain values (the fields of issues.csv)."""
    found = any(isinstance(v, str) and "\r" in v for v in values)
    return csv.QUOTE_ALL if found else csv.QUOTE_MINIMAL


def _text_series(series: pd.Series) -> pd.Series | None:
    """``series`` if it may hold text (object, string or categorical), else ``None``."""
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.astype(object)
    if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
        return series
    return None


def _map_text(
    frame: pd.DataFrame, func: Callable[[object], object], starts: tuple[str, ...]
) -> pd.DataFrame:
    """Apply ``func`` to the text cells that start with one of ``starts``; others untouched."""
    import pandas as pd

    changed: dict[int, pd.Series] = {}
    for position in range(frame.shape[1]):
        series = _text_series(frame.iloc[:, position])
        if series is None:
            continue  # numbers, booleans, dates: never text
        mask = _starts_with(series, starts)
        if mask.any():
            # Once per distinct value: columns repeat the same few negative numbers and codes.
            candidates = series[mask]
            mapping = {value: func(value) for value in pd.unique(candidates)}
            series = series.copy()
            series[mask] = candidates.map(mapping)
            changed[position] = series
    if not changed:
        return frame
    out = frame.copy()
    for position, series in changed.items():
        out.isetitem(position, series)
    return out


def _starts_with(series: pd.Series, starts: tuple[str, ...]) -> pd.Series:
    """Which cells are strings starting with one of ``starts`` (vectorised where possible)."""
    try:  # the first character and isin: about 3x faster than str.startswith on 1M cells
        return series.str[:1].isin(starts).astype(bool)
    except AttributeError:  # an object column holding no strings at all
        return series.map(lambda v: isinstance(v, str) and v.startswith(starts)).astype(bool)
