"""Reading and writing the pipeline's CSV tables, the same way everywhere.

Written tables are deterministic: UTF-8, LF line ends, no index, floats to 10 significant
digits, and rows in an order the stage fixes (never the order a dict or a hash happened in).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evsynth.spreadsheet_safe import escape, quoting, restore


def read_clean(path: Path) -> pd.DataFrame:
    """A clean table as text, blanks as empty strings (the form validation wrote)."""
    return restore(pd.read_csv(path, dtype=str, keep_default_na=False))


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path``; text a spreadsheet would run as a formula gets a leading
    apostrophe (:mod:`evsynth.spreadsheet_safe`), which the readers here remove again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    safe = escape(frame)
    safe.to_csv(path, index=False, lineterminator="\n", float_format="%.10g",
                quoting=quoting(safe))


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


_DIRECTION_NUMBERS = ("k", "n_benefit", "n_harm", "n_no_effect", "n_mixed", "n_unclear",
                      "sign_test_p", "pct_benefit", "benefit_ci_lower", "benefit_ci_upper")

#: Every result table, by its path under ``results/<review>/`` without ``.csv``. Declared, not
#: inferred: inferring types from the values is what turned codes into numbers (issue 10).
RESULT_TABLES: dict[str, ResultColumns] = {
    "tallies/themes": ResultColumns(
        text=("code", "label", "parent", "study_ids"),
        numbers=("level", "n_studies", "pct_studies")),
    "tallies/themes_by_*": ResultColumns(text=("code", "label"), counts_after=True),
    "tallies/cooccurrence": ResultColumns(text=("code",), counts_after=True),
    "tallies/agreement": ResultColumns(
        text=("code", "label", "coders"),
        numbers=("n_double_coded", "n_agree", "pct_agreement", "kappa")),
    "tallies/disagreements": ResultColumns(
        text=("study_id", "code", "label", "applied_by", "not_applied_by")),
    "outcomes/direction": ResultColumns(
        text=("outcome", "label", "study_ids"), numbers=_DIRECTION_NUMBERS),
    "outcomes/direction_by_quality": ResultColumns(
        text=("outcome", "quality", "label", "study_ids"), numbers=_DIRECTION_NUMBERS),
    "outcomes/meta_analysis": ResultColumns(
        text=("outcome", "effect_measure", "method", "label", "scale", "analysis",
              "study_ids"),
        numbers=("k", "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2",
                 "q", "q_p", "se")),
    "outcomes/gap_map": ResultColumns(
        text=("theme", "outcome", "study_ids"),
        numbers=("n_studies", "n_benefit", "n_harm", "n_no_effect", "n_mixed", "n_unclear")),
}


def result_columns(table: str) -> ResultColumns:
    """The declared columns of ``table`` (e.g. ``"outcomes/direction"``)."""
    if table in RESULT_TABLES:
        return RESULT_TABLES[table]
    for pattern, columns in RESULT_TABLES.items():
        if pattern.endswith("*") and table.startswith(pattern[:-1]):
            return columns
    raise KeyError(f"'{table}' is not a declared result table (evsynth.tables.RESULT_TABLES)")


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
    numbers = [c for c in frame.columns if c in declared.numbers
               or (declared.counts_after and c not in declared.text)]
    converted = {c: pd.to_numeric(frame[c].replace("", np.nan)) for c in numbers}
    return frame.assign(**converted) if converted else frame
