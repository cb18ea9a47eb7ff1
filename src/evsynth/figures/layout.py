"""Layout helpers for the figures laid out in inches at A4 width (forest plot, effect-direction
plot, gap map), so their text prints at its nominal size when the report scales every figure
to the text width: measuring, fitting and wrapping text, and cutting a plot to the studies it
can show.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evsynth.figures.style import A4_WIDTH_IN


def text_width_in(fig: plt.Figure, texts, fontsize: float, weight: str = "normal") -> float:
    """The widest of ``texts`` in inches, as ``fig`` would draw it."""
    renderer = fig.canvas.get_renderer()
    widest = 0.0
    for text in texts:
        artist = fig.text(0, 0, str(text), fontsize=fontsize, fontweight=weight)
        widest = max(widest, artist.get_window_extent(renderer).width / fig.dpi)
        artist.remove()
    return widest


def fit_text(
    fig: plt.Figure, text: str, width_in: float, fontsize: float, weight: str = "normal"
) -> str:
    """``text`` shortened with an ellipsis until it fits ``width_in``."""
    if text_width_in(fig, [text], fontsize, weight) <= width_in:
        return text
    while len(text) > 1 and text_width_in(fig, [text + "…"], fontsize, weight) > width_in:
        text = text[:-1]
    return text.rstrip() + "…"


def wrap_text(
    fig: plt.Figure,
    text: str,
    width_in: float,
    fontsize: float,
    max_lines: int = 3,
    weight: str = "normal",
) -> str:
    """Greedy word wrap of ``text`` to ``width_in`` inches; at most ``max_lines`` lines."""
    lines: list[str] = []
    for word in str(text).split():
        # A hyphenated word too wide for a line may break after its hyphens.
        parts = (
            [word]
            if text_width_in(fig, [word], fontsize, weight) <= width_in
            else re.findall(r"[^-]+-?|-", word)
        )
        for j, part in enumerate(parts):
            trial = lines[-1] + (" " if j == 0 else "") + part if lines else part
            if lines and text_width_in(fig, [trial], fontsize, weight) <= width_in:
                lines[-1] = trial
            else:
                lines.append(part)
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [" ".join(lines[max_lines - 1 :])]
    return "\n".join(fit_text(fig, line, width_in, fontsize, weight) for line in lines)


def column_headers(
    fig: plt.Figure, labels: list[str], col_w: float, fontsize: float
) -> tuple[list[str], bool, float]:
    """Column titles for narrow columns: wrapped across up to three lines where every word
    fits, else turned upright (90°). Returns the texts, whether they are turned, and the
    height they need in inches."""
    words = [w for label in labels for w in re.findall(r"[^\s-]+-?", str(label))]
    if text_width_in(fig, words, fontsize, "bold") <= col_w - 0.04:
        texts = [wrap_text(fig, label, col_w - 0.04, fontsize, 3, "bold") for label in labels]
        lines = max(t.count("\n") + 1 for t in texts)
        return texts, False, lines * fontsize * 1.25 / 72
    texts = [wrap_text(fig, str(label), 1.1, fontsize, 2, "bold") for label in labels]
    lines = [line for t in texts for line in t.split("\n")]
    return texts, True, text_width_in(fig, lines, fontsize, "bold")


def inch_canvas(height_in: float) -> tuple[plt.Figure, plt.Axes]:
    """A figure A4-wide whose one axes spans it with data coordinates in inches (y up)."""
    fig = plt.figure(figsize=(A4_WIDTH_IN, height_in))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, A4_WIDTH_IN)
    ax.set_ylim(0, height_in)
    ax.axis("off")
    return fig, ax


def p_text(p: float) -> str:
    """A p value as the figures print it: three decimals, or "p < 0.001"."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


#: Above this many studies, plots that draw one row per study show the largest studies only
#: (a row per study of a living map with 10^4 records would be unreadable and huge); every
#: study is still counted in the sign test and the pooled estimates, and listed in the CSVs.
MAX_PLOT_STUDIES = 80
#: The same for each forest-plot panel (a figure may have one panel per outcome and measure).
MAX_FOREST_STUDIES = 30


def largest_studies(
    frame: pd.DataFrame, limit: int, size: str = "n", ascending: bool = False
) -> tuple[pd.DataFrame, str]:
    """``frame`` cut to the ``limit`` studies with the largest ``size`` (ties by study id),
    and a note saying so ('' when nothing was cut)."""
    n_all = frame["study_id"].nunique()
    if n_all <= limit:
        return frame, ""
    per_study = pd.to_numeric(frame[size], errors="coerce").groupby(frame["study_id"]).max()
    per_study = per_study.fillna(np.inf if ascending else -np.inf)
    order = per_study.reset_index().sort_values(
        [size, "study_id"], ascending=[ascending, True], kind="stable"
    )
    keep = set(order["study_id"].head(limit))
    what = "most precise" if size == "vi" else "largest"
    note = (
        f"Showing the {limit} {what} of {n_all} studies; all are counted in the "
        "summary rows and listed in the result tables."
    )
    return frame[frame["study_id"].isin(keep)], note
