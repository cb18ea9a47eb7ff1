"""Reading and writing the pipeline's CSV tables, the same way everywhere.

Written tables are deterministic: UTF-8, LF line ends, no index, floats to 10 significant
digits, and rows in an order the stage fixes (never the order a dict or a hash happened in).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_clean(path: Path) -> pd.DataFrame:
    """A clean table as text, blanks as empty strings (the form validation wrote)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n", float_format="%.10g")


def read_results(path: Path) -> pd.DataFrame:
    """A result table with its numbers as numbers (for reports and tests)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])
