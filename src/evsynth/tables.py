"""Reading and writing the pipeline's CSV tables, the same way everywhere.

Written tables are deterministic: UTF-8, LF line ends, no index, floats to 10 significant
digits, and rows in an order the stage fixes (never the order a dict or a hash happened in).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evsynth import registry
from evsynth.spreadsheet_safe import escape, quoting, restore


def read_clean(path: Path) -> pd.DataFrame:
    """A clean table as text, blanks as empty strings (the form validation wrote)."""
    return restore(pd.read_csv(path, dtype=str, keep_default_na=False))


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path``; text a spreadsheet would run as a formula gets a leading
    apostrophe (:mod:`evsynth.spreadsheet_safe`), which the readers here remove again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = escape(frame)
    safe.to_csv(path, index=False, lineterminator="\n", float_format="%.10g", quoting=quoting(safe))


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
