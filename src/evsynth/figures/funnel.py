"""Contour-enhanced funnel plots: one panel per outcome and measure with k >= 10.

Peters et al., J Clin Epidemiol 2008;61:991-996, as metafor draws it (``funnel(res,
level = c(90, 95, 99), shade = ..., refline = 0)``): each study's estimate on the x axis (log
scale for ratio measures), its standard error on the y axis with 0 at the top, and the regions
where a study's own two-sided z test has p > 0.10, 0.05-0.10, 0.01-0.05 and < 0.01 around no
effect, so that missing studies can be judged against significance rather than the pooled
estimate alone. The pooled estimate is drawn as a line. The plot draws what the stages
computed (:mod:`evsynth.small_study`, ``outcomes/meta_analysis.csv``) and computes nothing
beyond the contours' geometry.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.patches
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from evsynth.contract import EFFECT_MEASURES, RATIO_MEASURES
from evsynth.figures.forest import ratio_ticks
from evsynth.figures.layout import fit_text, p_text
from evsynth.figures.style import A4_WIDTH_IN, OKABE_ITO, STYLE, one_at_a_time, placeholder, save

#: Two-sided normal quantiles of the contours, outermost first: p = 0.01, 0.05, 0.10
#: (scipy.special.ndtri(1 - p / 2)), with each region's shade (metafor's ordering: darkest
#: just outside the 90% funnel, lighter to 99%; white inside and outside).
CONTOURS = (
    (2.5758293035489004, "#D4D4D4", "0.01 < p ≤ 0.05"),
    (1.959963984540054, "#A8A8A8", "0.05 < p ≤ 0.10"),
    (1.6448536269514722, "white", "p > 0.10"),
)
#: Panels drawn at most; the rest are in the table (a figure with one panel per outcome of a
#: living map with hundreds of outcomes would be unreadable and huge).
MAX_PANELS = 12
NO_OUTCOME = (
    "No outcome has 10 or more studies with an effect estimate: "
    "small-study effects not assessed (Cochrane Handbook 13.3.5.4)"
)


@one_at_a_time
def funnel_plot(
    effects: pd.DataFrame, table: pd.DataFrame, pooled: pd.DataFrame, path: Path
) -> tuple[Path, Path]:
    """One funnel per assessed row of ``table`` (``outcomes/small_study.csv``), from its
    studies in ``effects`` (``yi`` on the analysis scale and ``vi``) and its pooled estimate in
    ``pooled`` (main rows of ``meta_analysis.csv``, ratio scale for ratio measures). Two
    columns when there are several; a placeholder that says so when there are none."""
    done = table[table["assessed"] == "yes"]
    if done.empty:
        return placeholder(path, NO_OUTCOME)
    shown = done.iloc[:MAX_PANELS]
    cols = 1 if len(shown) == 1 else 2
    nrows = -(-len(shown) // cols)
    panel_h = 3.4 if cols == 1 else 2.9
    note_h = 0.3 if len(done) > len(shown) else 0.0
    height = nrows * panel_h + 0.45 + note_h
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            nrows, cols, figsize=(A4_WIDTH_IN, height), squeeze=False, layout="constrained"
        )
        for ax, row in zip(axes.flat, shown.itertuples(index=False), strict=False):
            studies = effects[
                (effects["outcome"] == row.outcome)
                & (effects["effect_measure"] == row.effect_measure)
            ]
            line = (
                pooled[
                    (pooled["outcome"] == row.outcome)
                    & (pooled["effect_measure"] == row.effect_measure)
                ]
                if len(pooled)
                else pooled
            )
            centre = float(line["estimate"].iloc[0]) if len(line) else None
            _panel(ax, row, studies, centre, small=cols > 1)
        for ax in list(axes.flat)[len(shown) :]:
            ax.axis("off")
        handles = [
            matplotlib.patches.Patch(facecolor=c, edgecolor="#777777", linewidth=0.5, label=lab)
            for _, c, lab in reversed(CONTOURS)
        ] + [
            matplotlib.patches.Patch(
                facecolor="white", edgecolor="#777777", linewidth=0.5, label="p ≤ 0.01"
            )
        ]
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=4,
            fontsize=7.5,
            frameon=False,
            title="Study's own p value (two-sided, against no effect)",
            title_fontsize=7.5,
        )
        if note_h:
            fig.suptitle(
                f"The first {len(shown)} of {len(done)} assessed outcomes; all are in "
                "small_study.csv",
                fontsize=8,
                color="#555555",
            )
        return save(fig, path)


def _panel(ax, row, studies: pd.DataFrame, centre: float | None, small: bool) -> None:
    ratio = row.effect_measure in RATIO_MEASURES
    yi = studies["yi"].to_numpy(dtype=float)
    sei = np.sqrt(studies["vi"].to_numpy(dtype=float))
    top = float(sei.max()) * 1.08
    # Contours: the triangles null +/- z * se from se = 0 to the axis' bottom, outermost
    # first so each inner one paints over the one around it. Drawn on the analysis scale and
    # mapped to the axis (exp for ratios), where they stay straight lines on a log axis.
    back = np.exp if ratio else (lambda u: u)
    for z, colour, _ in CONTOURS:
        ax.fill(
            back(np.array([0.0, -z * top, z * top])),
            [0.0, top, top],
            facecolor=colour,
            edgecolor="#777777",
            linewidth=0.4,
            zorder=1,
        )
    null = back(0.0)
    ax.plot([null, null], [0, top], color="#555555", linewidth=0.8, linestyle="--", zorder=2)
    if centre is not None and np.isfinite(centre):
        ax.plot([centre, centre], [0, top], color=OKABE_ITO["vermillion"], linewidth=1.2, zorder=2)
    ax.scatter(
        back(yi),
        sei,
        s=14 if small else 18,
        color=OKABE_ITO["blue"],
        edgecolors="black",
        linewidths=0.4,
        zorder=3,
    )
    # x range: the outer contour at the bottom and every study, with a little room.
    u = np.concatenate([yi, [-CONTOURS[0][0] * top, CONTOURS[0][0] * top]])
    pad = 0.04 * float(u.max() - u.min())
    u0, u1 = float(u.min() - pad), float(u.max() + pad)
    fs = 7.5 if small else 8
    plot_w = A4_WIDTH_IN / (2 if small else 1) - 0.8  # the axes' width, about, in inches
    if ratio:
        x0, x1 = float(np.exp(u0)), float(np.exp(u1))
        ax.set_xscale("log")
        ax.set_xlim(x0, x1)
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ratio_ticks(x0, x1, plot_w)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    else:
        ax.set_xlim(u0, u1)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5))
    ax.set_ylim(top, 0.0)  # inverted: the most precise studies at the top
    ax.tick_params(labelsize=fs)
    measure = EFFECT_MEASURES.get(row.effect_measure, row.effect_measure.upper())
    ax.set_xlabel(measure + (" (log scale)" if ratio else ""), fontsize=fs)
    ax.set_ylabel("Standard error" + (" of the log ratio" if ratio else ""), fontsize=fs)
    egger = (
        f"Egger's test: intercept {row.egger_intercept:.2f}, {p_text(row.egger_p)}"
        if np.isfinite(row.egger_p)
        else "Egger's test: no residual variance"
    ).replace("-", "−")
    # The label is the codebook's, of any length: shortened to the panel, never wrapped over
    # the plot.
    width = A4_WIDTH_IN / (2 if small else 1) - 0.7
    head = fit_text(ax.figure, f"{row.label}: {measure.lower()}, k = {row.k}", width, fs + 0.5)
    ax.set_title(
        f"{head}\n{egger}",
        fontsize=fs + 0.5,
        loc="left",
    )
