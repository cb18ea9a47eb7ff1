"""The themes figure: studies per theme, as horizontal bars in tree order, the hierarchy shown.

Tick labels are right-aligned, so leading spaces never showed the tree (issue 13: the alt text
said sub-themes were indented; the chart did not). The labels are drawn left-aligned instead,
a sub-theme indented under its parent with a guide line, in a smaller, regular type, and its
bar thinner and lighter: the parent reads first.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.transforms import blended_transform_factory

from evsynth.figures.layout import text_width_in
from evsynth.figures.style import A4_WIDTH_IN, OKABE_ITO, STYLE, one_at_a_time, placeholder, save

INDENT_IN = 0.2  # per level below the top
LABEL_PT = {1: 8.5}  # deeper levels: SUB_LABEL_PT
SUB_LABEL_PT = 7.5
BAR_HEIGHT = {1: 0.72}  # deeper levels: SUB_BAR_HEIGHT
SUB_BAR_HEIGHT = 0.45


def _label_width_in(fig: plt.Figure, themes: pd.DataFrame) -> float:
    """The widest indented label in inches, as drawn."""
    widest = 0.0
    for level, label in zip(themes["level"], themes["label"], strict=True):
        size = LABEL_PT.get(int(level), SUB_LABEL_PT)
        weight = "bold" if level == 1 else "normal"
        width = text_width_in(fig, [label], size, weight)
        widest = max(widest, (int(level) - 1) * INDENT_IN + width)
    return widest


@one_at_a_time
def theme_chart(themes: pd.DataFrame, n_studies: int, path: Path) -> tuple[Path, Path]:
    """Horizontal bars: studies per theme, in tree order, children indented under parents."""
    if themes.empty:
        return placeholder(path, "No themes coded")
    themes = themes.reset_index(drop=True)
    levels = themes["level"].astype(int).to_numpy()
    with plt.rc_context(STYLE):
        height = 0.6 + 0.24 * len(themes)
        fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, height))
        # Room on the left for the widest label (at most half the width: longer ones overrun
        # into the margin that the tight bounding box then keeps).
        label_in = min(_label_width_in(fig, themes) + 0.15, A4_WIDTH_IN / 2)
        fig.subplots_adjust(left=label_in / A4_WIDTH_IN, right=0.97)
        y = np.arange(len(themes))[::-1]
        top = levels == 1
        colours = np.where(top, OKABE_ITO["blue"], OKABE_ITO["sky_blue"])
        heights = [BAR_HEIGHT.get(lvl, SUB_BAR_HEIGHT) for lvl in levels]
        ax.barh(y, themes["n_studies"], color=colours, height=heights)
        ax.set_yticks(y, [""] * len(themes))
        # x in inches from the axes' left edge (negative: into the label column), y in data.
        to_inch = blended_transform_factory(
            fig.dpi_scale_trans + plt.matplotlib.transforms.ScaledTranslation(0, 0, ax.transAxes),
            ax.transData,
        )
        for yi, lvl, label in zip(y, levels, themes["label"], strict=True):
            x = -label_in + 0.05 + (lvl - 1) * INDENT_IN
            ax.text(
                x,
                yi,
                str(label),
                transform=to_inch,
                ha="left",
                va="center",
                fontsize=LABEL_PT.get(lvl, SUB_LABEL_PT),
                fontweight="bold" if lvl == 1 else "normal",
                color="black" if lvl == 1 else "#333333",
                clip_on=False,
            )
        _guides(ax, to_inch, y, levels, label_in)
        for yi, lvl, n, pct in zip(
            y, levels, themes["n_studies"], themes["pct_studies"], strict=True
        ):
            ax.text(
                n + max(n_studies, 1) * 0.01,
                yi,
                f"{n} ({pct:.0f}%)",
                va="center",
                fontsize=8 if lvl == 1 else 7.5,
                fontweight="bold" if lvl == 1 else "normal",
            )
        ax.set_xlim(0, max(n_studies, 1) * 1.15)
        ax.set_ylim(-0.6, len(themes) - 0.4)
        ax.set_xlabel(f"Included studies coded with the theme (of {n_studies})")
        ax.tick_params(axis="y", length=0)
        return save(fig, path)


def _guides(ax, to_inch, y: np.ndarray, levels: np.ndarray, label_in: float) -> None:
    """A thin line down from each parent to its last descendant, ticked at each child, so the
    tree reads as a tree (the row below a theme at a deeper level is its child)."""
    for i, lvl in enumerate(levels):
        j = i + 1
        while j < len(levels) and levels[j] > lvl:
            j += 1
        children = [k for k in range(i + 1, j) if levels[k] == lvl + 1]
        if not children:
            continue
        x = -label_in + 0.05 + (lvl - 1) * INDENT_IN + 0.06
        style = dict(transform=to_inch, color="#9AA5B1", linewidth=0.6, clip_on=False)
        ax.plot([x, x], [y[i] - 0.4, y[children[-1]]], **style)
        for k in children:
            ax.plot([x, x + INDENT_IN - 0.08], [y[k], y[k]], **style)
