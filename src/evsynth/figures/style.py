"""The house style every figure shares, and deterministic saving.

Determinism: a fixed SVG hash salt (stable element ids), no creation date or software tag in
the file metadata, text drawn as paths, one font (DejaVu Sans, shipped with matplotlib).
Colours are the Okabe–Ito palette, which stays distinguishable under the common forms of
colour-blindness (Okabe & Ito 2008); direction is carried by marker shape as well as colour.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import matplotlib.pyplot as plt

_P = ParamSpec("_P")
_R = TypeVar("_R")

# The workflow's jobs run as threads of one process (evsynth.runner), and pyplot is not
# thread-safe: its figure registry and the rcParams that rc_context swaps are process-wide, so
# two plots drawn at once could take each other's style. One figure is drawn at a time.
_DRAWING = threading.RLock()


def one_at_a_time(draw: Callable[_P, _R]) -> Callable[_P, _R]:
    """Draw under the process-wide figure lock (see ``_DRAWING``)."""

    @functools.wraps(draw)
    def locked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _DRAWING:
            return draw(*args, **kwargs)

    return locked


OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
    "black": "#000000",
}
DIRECTION_COLOURS = {
    "benefit": OKABE_ITO["blue"],
    "harm": OKABE_ITO["vermillion"],
    "no_effect": OKABE_ITO["grey"],
    "mixed": OKABE_ITO["orange"],
    "unclear": "#DDDDDD",
}
DIRECTION_LABELS = {
    "benefit": "Benefit",
    "harm": "Harm",
    "no_effect": "No effect",
    "mixed": "Mixed",
    "unclear": "Unclear",
}
#: A4 text width is about 6.3 in; figures are drawn at that width so text keeps its size.
A4_WIDTH_IN = 6.3

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    # Labels and free text come from codebooks and sheets: drawn literally, never as mathtext
    # or TeX ("$5 per head", "a_b", "a\\b" print as typed; an odd "$" would otherwise crash).
    "text.parse_math": False,
    "text.usetex": False,
    "svg.hashsalt": "evsynth",
    "svg.fonttype": "path",
    "figure.dpi": 100,
    "savefig.dpi": 200,
}


def save(fig: plt.Figure, stem: Path, tight: bool = True) -> tuple[Path, Path]:
    """Write ``stem.png`` and ``stem.svg`` with metadata that does not change between runs.

    ``tight=False`` keeps the figure's own size (for figures laid out in inches to A4 width).
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    bbox = "tight" if tight else None
    fig.savefig(png, metadata={"Software": None}, bbox_inches=bbox)
    fig.savefig(svg, metadata={"Date": None, "Creator": None}, bbox_inches=bbox)
    plt.close(fig)
    return png, svg


@one_at_a_time
def placeholder(stem: Path, message: str) -> tuple[Path, Path]:
    """A small figure that says why there is nothing to plot (rule outputs must exist)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, message, ha="center", va="center", color="#555555")
        return save(fig, stem)
