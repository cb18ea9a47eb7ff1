"""Layout helpers for the figures laid out in inches at A4 width (forest plot, effect-direction
plot, gap map), so their text prints at its nominal size when the report scales every figure
to the text width: measuring, fitting and wrapping text, and cutting a plot to the studies it
can show.
"""

from __future__ import annotations

import functools
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from evsynth.figures.style import A4_WIDTH_IN

#: Text widths in pixels by (text, size, weight, dpi, font and text settings): the same labels
#: are measured again and again (every row label when a plot is planned and again when it is
#: cut to its column; the same labels in a review's several figures), and each measurement
#: lays the text out in FreeType, about a millisecond.
_WIDTHS: dict[tuple, float] = {}
_WIDTHS_MAX = 65536


#: The rcParams a text's measured width can depend on (its font, FreeType's settings), named
#: once: going through all of rcParams took longer than the measurement it keyed.
_TEXT_SETTINGS = tuple(k for k in matplotlib.rcParams if k.startswith(("font.", "text.")))


def text_settings() -> tuple:
    """The current values of the rcParams a text's measured width depends on."""
    params = matplotlib.rcParams
    return tuple(
        tuple(v) if isinstance(v, list) else v for v in (params[k] for k in _TEXT_SETTINGS)
    )


@functools.lru_cache(maxsize=8)
def _renderer(dpi: float) -> RendererAgg:
    """A renderer to measure with: its measurements depend on its dpi only, not its size."""
    return RendererAgg(8, 8, dpi)


def text_width_px(
    text: str, fontsize: float, weight: str, dpi: float, settings: tuple | None = None
) -> float:
    """``text`` measured as one line, in pixels at ``dpi``: what the Agg renderer gives (as
    ``RendererAgg.get_text_width_height_descent``), remembered. ``settings`` is
    :func:`text_settings` when the caller has it already."""
    if not text:
        return 0.0
    key = (text, fontsize, weight, dpi, text_settings() if settings is None else settings)
    width = _WIDTHS.get(key)
    if width is None:
        prop = FontProperties(size=fontsize, weight=weight)
        width, _, _ = _renderer(dpi).get_text_width_height_descent(text, prop, ismath=False)
        if len(_WIDTHS) >= _WIDTHS_MAX:
            _WIDTHS.clear()
        _WIDTHS[key] = width
    return width


def text_width_in(fig: plt.Figure, texts, fontsize: float, weight: str = "normal") -> float:
    """The widest of ``texts`` in inches, as ``fig`` would draw it.

    A text artist's width is its widest line's as the renderer measures it (line by line,
    literally when mathtext and TeX are off, as the house style has them), so the lines are
    measured directly rather than through a throwaway artist each; the numbers are the same
    to the last bit. With mathtext or TeX on, the artist measures."""
    if matplotlib.rcParams["text.usetex"] or matplotlib.rcParams["text.parse_math"]:
        return _artist_width_in(fig, texts, fontsize, weight)
    settings = text_settings()
    widest = 0.0
    for text in texts:
        lines = str(text).split("\n")
        width = max(text_width_px(line, fontsize, weight, fig.dpi, settings) for line in lines)
        widest = max(widest, width / fig.dpi)
    return widest


def _artist_width_in(fig: plt.Figure, texts, fontsize: float, weight: str) -> float:
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


def measuring_figure(height_in: float = 1.0) -> Figure:
    """An A4-wide figure to measure text with before a plot's size is known: not one of
    pyplot's figures (nothing to close) and without axes, which only the plot itself needs.
    Its dpi is the house style's, as :func:`inch_canvas`'s."""
    fig = Figure(figsize=(A4_WIDTH_IN, height_in))
    FigureCanvasAgg(fig)
    return fig


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
