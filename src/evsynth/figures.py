"""Figures: every plot as PNG and SVG, deterministic and readable at A4 width.

Determinism: a fixed SVG hash salt (stable element ids), no creation date or software tag in
the file metadata, text drawn as paths, one font (DejaVu Sans, shipped with matplotlib).
Colours are the Okabe–Ito palette, which stays distinguishable under the common forms of
colour-blindness (Okabe & Ito 2008).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

OKABE_ITO = {
    "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999",
    "black": "#000000",
}
DIRECTION_COLOURS = {
    "benefit": OKABE_ITO["blue"], "harm": OKABE_ITO["vermillion"],
    "no_effect": OKABE_ITO["grey"], "mixed": OKABE_ITO["orange"], "unclear": "#DDDDDD",
}
DIRECTION_LABELS = {"benefit": "Benefit", "harm": "Harm", "no_effect": "No effect",
                    "mixed": "Mixed", "unclear": "Unclear"}
#: Ticks for ratio axes (log scale), labelled as plain numbers.
RATIO_TICKS = (0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 4, 5, 10, 20)
#: A4 text width is about 6.3 in; figures are drawn at that width so text keeps its size.
A4_WIDTH_IN = 6.3

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "svg.hashsalt": "evsynth",
    "svg.fonttype": "path",
    "figure.dpi": 100,
    "savefig.dpi": 200,
}


def save(fig: plt.Figure, stem: Path) -> tuple[Path, Path]:
    """Write ``stem.png`` and ``stem.svg`` with metadata that does not change between runs."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, metadata={"Software": None}, bbox_inches="tight")
    fig.savefig(svg, metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    return png, svg


def _placeholder(stem: Path, message: str) -> tuple[Path, Path]:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, message, ha="center", va="center", color="#555555")
        return save(fig, stem)


def theme_chart(themes: pd.DataFrame, n_studies: int, path: Path) -> tuple[Path, Path]:
    """Horizontal bars: studies per theme, in tree order, children indented under parents."""
    if themes.empty:
        return _placeholder(path, "No themes coded")
    themes = themes.reset_index(drop=True)
    with plt.rc_context(STYLE):
        height = 0.6 + 0.24 * len(themes)
        fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, height))
        y = np.arange(len(themes))[::-1]
        top = themes["level"] == 1
        colours = np.where(top, OKABE_ITO["blue"], OKABE_ITO["sky_blue"])
        ax.barh(y, themes["n_studies"], color=colours, height=0.7)
        labels = ["    " * (lvl - 1) + str(lab) for lvl, lab in zip(themes["level"],
                                                                      themes["label"],
                                                                      strict=True)]
        ax.set_yticks(y, labels)
        for tick, is_top in zip(ax.get_yticklabels(), top, strict=True):
            tick.set_fontweight("bold" if is_top else "normal")
        for yi, n, pct in zip(y, themes["n_studies"], themes["pct_studies"], strict=True):
            ax.text(n + max(n_studies, 1) * 0.01, yi, f"{n} ({pct:.0f}%)", va="center",
                    fontsize=8)
        ax.set_xlim(0, max(n_studies, 1) * 1.15)
        ax.set_xlabel(f"Included studies coded with the theme (of {n_studies})")
        ax.tick_params(axis="y", length=0)
        return save(fig, path)


def direction_chart(direction: pd.DataFrame, path: Path) -> tuple[Path, Path]:
    """Stacked bars: studies per outcome by direction of effect, with the sign-test p."""
    if direction.empty:
        return _placeholder(path, "No outcome rows in this review")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, 0.8 + 0.45 * len(direction)))
        y = np.arange(len(direction))[::-1]
        left = np.zeros(len(direction))
        for key, colour in DIRECTION_COLOURS.items():
            values = direction[f"n_{key}"].to_numpy(dtype=float)
            ax.barh(y, values, left=left, color=colour, height=0.6,
                    label=DIRECTION_LABELS[key], edgecolor="white", linewidth=0.5)
            left += values
        for yi, k, p in zip(y, direction["k"], direction["sign_test_p"], strict=True):
            ax.text(k + 0.1, yi, f"k = {k}; sign test p = {p:.3f}", va="center", fontsize=8)
        ax.set_yticks(y, direction["label"])
        ax.set_xlim(0, float(direction["k"].max()) * 1.6 + 1)
        ax.set_xlabel("Studies (one vote per study, by direction of effect)")
        ax.legend(ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.25 - 0.4 /
                  max(len(direction), 1)), frameon=False, fontsize=8)
        ax.tick_params(axis="y", length=0)
        return save(fig, path)


def forest_plot(effects: pd.DataFrame, pooled: pd.DataFrame, path: Path) -> tuple[Path, Path]:
    """One panel per pooled (outcome, measure): study estimates with 95% CIs, the pooled
    diamond and the 95% prediction interval. Ratio measures on a log axis."""
    main = pooled[pooled["analysis"] == "main"] if not pooled.empty else pooled
    if main.empty:
        return _placeholder(path, "No outcome has two or more effect estimates to pool")
    panels = list(main.itertuples(index=False))
    sizes = [len(effects[(effects["outcome"] == p.outcome)
                         & (effects["effect_measure"] == p.effect_measure)]) for p in panels]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                                 figsize=(A4_WIDTH_IN, sum(1.3 + 0.28 * s for s in sizes)),
                                 gridspec_kw={"height_ratios": [2 + s for s in sizes]})
        for ax, p in zip(axes[:, 0], panels, strict=True):
            _forest_panel(ax, effects, p)
        fig.tight_layout()
        return save(fig, path)


def _forest_panel(ax: plt.Axes, effects: pd.DataFrame, p) -> None:
    rows = effects[(effects["outcome"] == p.outcome)
                   & (effects["effect_measure"] == p.effect_measure)].sort_values("study_id")
    ratio = p.scale == "ratio"
    est = rows["estimate"].astype(float).to_numpy()
    lo = rows["ci_lower"].astype(float).to_numpy()
    hi = rows["ci_upper"].astype(float).to_numpy()
    y = np.arange(len(rows))[::-1] + 2
    weights = 1 / rows["vi"].to_numpy()
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="none", ecolor="black", elinewidth=0.8)
    ax.scatter(est, y, marker="s", s=20 + 60 * weights / weights.max(), color=OKABE_ITO["blue"],
               zorder=3)
    diamond_x = [p.ci_lower, p.estimate, p.ci_upper, p.estimate]
    ax.fill(diamond_x, [0.8, 1.1, 0.8, 0.5], color=OKABE_ITO["vermillion"], zorder=3)
    if np.isfinite(p.pi_lower) and np.isfinite(p.pi_upper):
        ax.plot([p.pi_lower, p.pi_upper], [0.8, 0.8], color=OKABE_ITO["vermillion"],
                linewidth=1, linestyle=(0, (2, 1)))
    ax.axvline(1.0 if ratio else 0.0, color="#777777", linewidth=0.8)
    ax.set_yticks([*y, 0.8], [*rows["study_id"], f"Pooled ({p.method})"])
    if ratio:
        ax.set_xscale("log")
        lo_x, hi_x = ax.get_xlim()
        ticks = [t for t in RATIO_TICKS if lo_x <= t <= hi_x]
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylim(0, y.max() + 1)
    label = p.effect_measure.upper()
    ax.set_title(f"{p.label} ({label}, k = {p.k}): {p.estimate:.2f} "
                 f"[{p.ci_lower:.2f}, {p.ci_upper:.2f}]; I² = {p.i2:.0f}%", loc="left")
    ax.set_xlabel(f"{label} with 95% CI" + (" (log scale)" if ratio else "")
                  + "; dashed: 95% prediction interval")
    ax.tick_params(axis="y", length=0)
