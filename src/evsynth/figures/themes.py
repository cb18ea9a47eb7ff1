"""The themes figure: studies per theme, as horizontal bars in tree order."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evsynth.figures.style import A4_WIDTH_IN, OKABE_ITO, STYLE, one_at_a_time, placeholder, save


@one_at_a_time
def theme_chart(themes: pd.DataFrame, n_studies: int, path: Path) -> tuple[Path, Path]:
    """Horizontal bars: studies per theme, in tree order, children indented under parents."""
    if themes.empty:
        return placeholder(path, "No themes coded")
    themes = themes.reset_index(drop=True)
    with plt.rc_context(STYLE):
        height = 0.6 + 0.24 * len(themes)
        fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, height))
        y = np.arange(len(themes))[::-1]
        top = themes["level"] == 1
        colours = np.where(top, OKABE_ITO["blue"], OKABE_ITO["sky_blue"])
        ax.barh(y, themes["n_studies"], color=colours, height=0.7)
        labels = [
            "    " * (lvl - 1) + str(lab)
            for lvl, lab in zip(themes["level"], themes["label"], strict=True)
        ]
        ax.set_yticks(y, labels)
        for tick, is_top in zip(ax.get_yticklabels(), top, strict=True):
            tick.set_fontweight("bold" if is_top else "normal")
        for yi, n, pct in zip(y, themes["n_studies"], themes["pct_studies"], strict=True):
            ax.text(n + max(n_studies, 1) * 0.01, yi, f"{n} ({pct:.0f}%)", va="center", fontsize=8)
        ax.set_xlim(0, max(n_studies, 1) * 1.15)
        ax.set_xlabel(f"Included studies coded with the theme (of {n_studies})")
        ax.tick_params(axis="y", length=0)
        return save(fig, path)
