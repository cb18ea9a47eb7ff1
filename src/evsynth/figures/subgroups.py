"""The grouped forest plot: one panel per (outcome, measure, field) of ``subgroups.csv``, the
studies under each subgroup's heading, each subgroup's pooled diamond, and the test for
subgroup differences under the panel. Laid out in inches at A4 width, as the forest plot is;
it draws what the subgroups stage computed and computes nothing.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import matplotlib.transforms
import numpy as np
import pandas as pd

from evsynth.contract import EFFECT_MEASURES
from evsynth.figures.forest import _diamond, _interval, ratio_ticks
from evsynth.figures.layout import MAX_FOREST_STUDIES, fit_text, p_text, text_width_in
from evsynth.figures.style import A4_WIDTH_IN, OKABE_ITO, STYLE, one_at_a_time, placeholder, save

_FS, _ROW_H, _TITLE_H, _AXIS_H, _GAP_H = 8, 0.2, 0.3, 0.62, 0.2


def difference_text(row) -> str:
    """The line under a panel: the test for subgroup differences, or why there is none."""
    if pd.notna(row.q_between):
        return (
            f"Test for subgroup differences: Q = {row.q_between:.2f}, "
            f"df = {int(row.df_between)}, {p_text(row.p_between)}"
        )
    notes = [n for n in str(row.note).split("; ") if n.startswith("no test")]
    return "Test for subgroup differences: " + (notes[0] if notes else "none")


def _panels(table: pd.DataFrame, effects: pd.DataFrame) -> list:
    """(subgroup rows, per-subgroup studies) per (outcome, measure, field) with an estimate."""
    rows = table[table["estimate"].notna()]
    panels = []
    for _, group in rows.groupby(["outcome", "effect_measure", "field"], sort=False):
        studies = []
        for r in group.itertuples(index=False):
            ids = str(r.study_ids).split(";")
            chosen = effects[
                (effects["outcome"] == r.outcome)
                & (effects["effect_measure"] == r.effect_measure)
                & effects["study_id"].isin(ids)
            ]
            # The most precise studies when a subgroup has more than a panel can show.
            chosen = chosen.sort_values(["vi", "study_id"]).head(MAX_FOREST_STUDIES)
            studies.append(chosen.sort_values("study_id"))
        panels.append((group, studies))
    return panels


def _pooled_label(r) -> str:
    if r.k >= 2:
        return f"Subgroup, k = {r.k}, τ² = {r.tau2:.3g}"
    return "One study: its own estimate"


def _n_rows(studies: list[pd.DataFrame]) -> int:
    # per subgroup: its heading, its studies and its diamond
    return sum(len(s) + 2 for s in studies)


@one_at_a_time
def subgroup_forest_plot(
    table: pd.DataFrame,
    effects: pd.DataFrame,
    path: Path,
    benefit: dict[str, str] | None = None,
) -> tuple[Path, Path]:
    """``table`` is ``subgroups.csv`` (:func:`evsynth.subgroups.subgroup_analysis`),
    ``effects`` each study's estimate and 95% CI with its ``vi``
    (:func:`evsynth.outcomes.effect_sizes`)."""
    panels = _panels(table, effects) if not table.empty else []
    if not panels:
        return placeholder(path, "No subgroup analysis: no field set, or nothing to pool")
    heights = [_TITLE_H + _n_rows(s) * _ROW_H + _AXIS_H for _, s in panels]
    height = sum(heights) + _GAP_H * (len(panels) - 1)
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(A4_WIDTH_IN, height))
        labels = [
            str(t)
            for group, studies in panels
            for t in [*group["value_label"], *(i for s in studies for i in s["study_id"])]
        ]
        labels += [_pooled_label(r) for group, _ in panels for r in group.itertuples(index=False)]
        left = min(text_width_in(fig, labels, _FS, "bold") + 0.35, 2.6)
        intervals = [
            _interval(r.estimate, r.ci_lower, r.ci_upper)
            for group, _ in panels
            for r in group.itertuples(index=False)
        ]
        est_w = text_width_in(fig, intervals, _FS, "bold") + 0.12
        plot_w = A4_WIDTH_IN - left - est_w - 0.2
        top = height
        for (group, studies), panel_h in zip(panels, heights, strict=True):
            n = _n_rows(studies)
            bottom = top - _TITLE_H - n * _ROW_H
            ax = fig.add_axes(
                (left / A4_WIDTH_IN, bottom / height, plot_w / A4_WIDTH_IN, n * _ROW_H / height)
            )
            first = next(group.itertuples(index=False))
            _panel(fig, ax, group, studies, (benefit or {}).get(first.outcome), left, plot_w)
            top -= panel_h + _GAP_H
        return save(fig, path, tight=False)


def _panel(fig, ax, group, studies, benefit, left, plot_w) -> None:
    first = next(group.itertuples(index=False))
    ratio = first.scale == "ratio"
    null = 1.0 if ratio else 0.0
    n = _n_rows(studies)
    y = n - 0.5
    ticks, tick_labels, bold = [], [], []
    xs = [null]
    column = matplotlib.transforms.blended_transform_factory(fig.transFigure, ax.transData)
    x_est = (left + plot_w + 0.1) / A4_WIDTH_IN
    for r, rows in zip(group.itertuples(index=False), studies, strict=True):
        ticks.append(y)
        heading = str(r.value_label) + (" (not in the test)" if r.value == "not_recorded" else "")
        tick_labels.append(fit_text(fig, heading, left - 0.1, _FS, "bold"))
        bold.append(True)
        y -= 1
        est = rows["estimate"].astype(float).to_numpy()
        lo = rows["ci_lower"].astype(float).to_numpy()
        hi = rows["ci_upper"].astype(float).to_numpy()
        ys = y - np.arange(len(rows))
        ax.errorbar(est, ys, xerr=[est - lo, hi - est], fmt="none", ecolor="black", elinewidth=0.8)
        ax.scatter(est, ys, marker="s", s=16, color=OKABE_ITO["blue"], zorder=3, linewidths=0)
        for yi, sid, e, a, b in zip(ys, rows["study_id"], est, lo, hi, strict=True):
            ticks.append(yi)
            tick_labels.append("   " + str(sid))
            bold.append(False)
            ax.text(x_est, yi, _interval(e, a, b), transform=column, fontsize=_FS, va="center")
        y -= len(rows)
        xs += [*lo, *hi, r.ci_lower, r.ci_upper]
        if r.k >= 2:
            _diamond(ax, r.ci_lower, r.estimate, r.ci_upper, y, filled=True)
        ticks.append(y)
        tick_labels.append("   " + _pooled_label(r))
        bold.append(False)
        ax.text(
            x_est,
            y,
            _interval(r.estimate, r.ci_lower, r.ci_upper),
            transform=column,
            fontsize=_FS,
            va="center",
            fontweight="bold",
        )
        ax.axhline(y - 0.5, color="#DDDDDD", linewidth=0.5)
        y -= 1
    xs_arr = np.asarray(xs, dtype=float)
    xs_arr = xs_arr[np.isfinite(xs_arr) & ((xs_arr > 0) if ratio else True)]
    u = np.log(xs_arr) if ratio else xs_arr
    pad = max(0.08 * (u.max() - u.min()), 0.05)
    u0, u1 = float(u.min() - pad), float(u.max() + pad)
    if ratio:
        x0, x1 = float(np.exp(u0)), float(np.exp(u1))
        ax.set_xscale("log")
        ax.set_xlim(x0, x1)
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ratio_ticks(x0, x1, plot_w)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    else:
        ax.set_xlim(u0, u1)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=6))
    ax.set_ylim(0, n)
    ax.plot([null, null], [0, n], color="#777777", linewidth=0.8, zorder=1)
    # Row labels flush left under the panel title (headings bold, their rows indented).
    ax.set_yticks([])
    labels_at = matplotlib.transforms.blended_transform_factory(fig.transFigure, ax.transData)
    for yt, text, is_bold in zip(ticks, tick_labels, bold, strict=True):
        ax.text(
            0.05 / A4_WIDTH_IN,
            yt,
            text,
            transform=labels_at,
            fontsize=_FS,
            va="center",
            fontweight="bold" if is_bold else "normal",
        )
    ax.tick_params(axis="x", labelsize=_FS)
    ax.spines["left"].set_visible(False)
    measure = EFFECT_MEASURES.get(first.effect_measure, first.effect_measure.upper())
    side = ""
    if benefit in ("increase", "decrease"):
        side = "   (← benefit)" if benefit == "decrease" else "   (benefit →)"
    ax.set_xlabel(f"{measure} with 95% CI" + (" (log scale)" if ratio else "") + side, fontsize=_FS)
    box = ax.get_position()
    fig_h = fig.get_figheight()
    fig.text(
        0.02 / A4_WIDTH_IN,
        box.y1 + (_TITLE_H - 0.04) / fig_h,
        f"{first.label}: {measure.lower()}, by {str(first.field_label).lower()}",
        fontsize=9.5,
        fontweight="bold",
        va="top",
    )
    fig.text(
        0.02 / A4_WIDTH_IN,
        box.y0 - 0.42 / fig_h,
        difference_text(first),
        fontsize=_FS - 0.5,
        va="top",
        color="#333333",
    )
