"""The Markdown building blocks every report section is made of: numbers and p values as the
reports print them, pipe tables and figures.

They live apart from :mod:`evsynth.report` so that the stages that write their own report
sections (subgroups, sensitivity, small-study effects, effect sizes) use the same ones
without importing the report, which imports them.
"""

from __future__ import annotations

import math

import pandas as pd

#: Every figure spans the text width; the PDF caps its height (reports/_typst/evsynth.typ).
FIGURE_WIDTH = "100%"


def is_missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(value: float) -> str:
    return f"{value:.0f}%"


def p_value(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def number(x: float, digits: int = 2) -> str:
    return "n/a" if is_missing(x) else f"{x:.{digits}f}"


def study_word(k: int) -> str:
    return f"{k} study" if k == 1 else f"{k} studies"


def main_analyses(meta: pd.DataFrame) -> pd.DataFrame:
    """The main analyses of ``outcomes/meta_analysis.csv`` (not the sensitivity rows)."""
    return meta[meta["analysis"] == "main"] if len(meta) else meta


def pipe_table(
    headers: list[str],
    rows: list[list[str]],
    widths: list[int],
    align: str | None = None,
    caption: str | None = None,
) -> str:
    """A Markdown pipe table; ``widths`` are relative column widths, ``align`` 'l'/'r' each.

    Cells must already be Markdown (escaped where they hold free text).
    """
    align = align or "l" * len(headers)
    rule = [
        ("-" * (w - 1) + ":") if a == "r" else ("-" * w) for w, a in zip(widths, align, strict=True)
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if caption:
        lines += ["", f": {caption}"]
    return "\n".join(lines) + "\n"


def figure(path: str, caption: str, alt: str, ident: str) -> str:
    """A figure with its caption and alt text (an attribute: escaped here)."""
    alt_attr = alt.replace("\\", "\\\\").replace('"', '\\"')
    return f'![{caption}]({path}){{#{ident} fig-alt="{alt_attr}" width="{FIGURE_WIDTH}"}}\n'
