"""Forest plots: one panel per pooled (outcome, measure), laid out in inches at A4 width.

The plot draws what the outcomes stage computed: the pooled rows of ``meta_analysis.csv`` and
each pooled study's estimate, 95% CI and random-effects weight
(:func:`evsynth.outcomes.pooled_study_weights`).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import matplotlib.transforms
import numpy as np
import pandas as pd

from evsynth.contract import EFFECT_MEASURES
from evsynth.figures.layout import MAX_FOREST_STUDIES, largest_studies, p_text, text_width_in
from evsynth.figures.style import A4_WIDTH_IN, OKABE_ITO, STYLE, one_at_a_time, placeholder, save

#: Candidate ticks for ratio axes (log scale), labelled as plain numbers, roundest first
#: (see :func:`ratio_ticks`).
RATIO_TICK_LEVELS = (
    (0.001, 0.01, 0.1, 1, 10, 100, 1000),
    (0.002, 0.005, 0.02, 0.05, 0.2, 0.5, 2, 5, 20, 50, 200, 500),
    (0.03, 0.3, 3, 30, 0.25, 0.4, 0.6, 0.7, 0.75, 0.8, 1.5, 4),
    (0.9, 1.1, 1.25, 0.65, 0.85, 0.95, 1.05),
)


def _num(value: float) -> str:
    """Estimates in forest plots: two decimals, or two significant digits below 0.1; a true
    minus sign."""
    if not np.isfinite(value):
        return "–"
    text = f"{value:.2g}" if value != 0 and abs(value) < 0.1 else f"{value:.2f}"
    return text.replace("-", "−")


def _interval(est: float, lo: float, hi: float) -> str:
    return f"{_num(est)} [{_num(lo)}, {_num(hi)}]"


MEASURE_NAMES = EFFECT_MEASURES


def ratio_ticks(lo: float, hi: float, width_in: float, min_gap_in: float = 0.42) -> list[float]:
    """Ticks for a log axis from ``lo`` to ``hi`` drawn ``width_in`` wide: round numbers, the
    roundest first, each at least ``min_gap_in`` from the others so labels never collide."""
    span = np.log(hi) - np.log(lo)
    chosen: list[float] = []
    for level in RATIO_TICK_LEVELS:
        for tick in level:
            if not lo <= tick <= hi:
                continue
            if all(abs(np.log(tick) - np.log(c)) / span * width_in >= min_gap_in for c in chosen):
                chosen.append(tick)
    return sorted(chosen)


@one_at_a_time
def forest_plot(
    weighted: pd.DataFrame,
    pooled: pd.DataFrame,
    path: Path,
    benefit: dict[str, str] | None = None,
    sensitivity_label: str = "Without low-quality studies",
) -> tuple[Path, Path]:
    """One panel per pooled (outcome, measure): study estimates with 95% CIs and their
    random-effects weights, the pooled diamond, the 95% prediction interval and, where the
    meta-analysis has one, the sensitivity analysis (hollow diamond). Ratio measures on a log
    axis with plain-number ticks. ``benefit`` maps outcome to ``increase``/``decrease`` and
    labels the side of the null line that favours benefit.

    ``weighted`` is :func:`evsynth.outcomes.pooled_study_weights`: the studies of each main
    analysis in ``pooled``, by study ID, with their ``weight``. A panel of many studies draws
    the most precise only; their weights stay shares of all the pooled studies."""
    main = pooled[pooled["analysis"] == "main"] if not pooled.empty else pooled
    if main.empty:
        return placeholder(path, "No outcome has two or more effect estimates to pool")
    panels = []
    for p in main.itertuples(index=False):
        rows = weighted[
            (weighted["outcome"] == p.outcome)
            & (weighted["effect_measure"] == p.effect_measure)
            & (weighted["method"] == p.method)
        ]
        rows, _ = largest_studies(rows, MAX_FOREST_STUDIES, size="vi", ascending=True)
        sens = pooled[
            (pooled["analysis"] == "sensitivity")
            & (pooled["outcome"] == p.outcome)
            & (pooled["effect_measure"] == p.effect_measure)
            & (pooled["method"] == p.method)
        ]
        panels.append((p, rows, None if sens.empty else next(sens.itertuples(index=False))))
    fs, row_h, title_h, axis_h, gap_h = 8, 0.2, 0.46, 0.45, 0.2
    n_rows = [
        len(rows) + 2 + (s is not None) + bool(np.isfinite(p.pi_lower)) for p, rows, s in panels
    ]
    height = sum(title_h + n * row_h + axis_h for n in n_rows) + gap_h * (len(panels) - 1)
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(A4_WIDTH_IN, height))
        labels = [
            lab for p, rows, s in panels for lab in _forest_labels(p, rows, s, sensitivity_label)
        ]
        left = min(text_width_in(fig, labels, fs, "bold") + 0.12, 2.4)
        intervals = [
            _interval(e, a, b)
            for _, rows, _ in panels
            for e, a, b in rows[["estimate", "ci_lower", "ci_upper"]]
            .astype(float)
            .itertuples(index=False)
        ]
        intervals += [_interval(p.estimate, p.ci_lower, p.ci_upper) for p, _, _ in panels]
        est_w = text_width_in(fig, intervals, fs, "bold") + 0.12
        weight_w = text_width_in(fig, ["100.0%", "Weight"], fs) + 0.05
        plot_w = A4_WIDTH_IN - left - est_w - weight_w - 0.15
        top = height
        for (p, rows, sens), n in zip(panels, n_rows, strict=True):
            bottom = top - title_h - n * row_h
            ax = fig.add_axes(
                (left / A4_WIDTH_IN, bottom / height, plot_w / A4_WIDTH_IN, n * row_h / height)
            )
            _forest_panel(
                fig,
                ax,
                rows,
                p,
                sens,
                (benefit or {}).get(p.outcome),
                sensitivity_label,
                fs,
                plot_w,
            )
            top = bottom - axis_h - gap_h
        return save(fig, path, tight=False)


def _forest_labels(p, rows: pd.DataFrame, sens, sensitivity_label: str) -> list[str]:
    labels = [*rows["study_id"], f"Random effects ({p.method})"]
    if len(rows) < p.k:  # only the most precise studies are drawn
        labels[len(rows)] = f"Random effects ({p.method}, all {p.k})"
    if np.isfinite(p.pi_lower):
        labels.append("95% prediction interval")
    if sens is not None:
        labels.append(f"{sensitivity_label} (k = {sens.k})")
    return labels


def _forest_panel(fig, ax, rows, p, sens, benefit, sensitivity_label, fs, plot_w) -> None:
    ratio = p.scale == "ratio"
    est = rows["estimate"].astype(float).to_numpy()
    lo = rows["ci_lower"].astype(float).to_numpy()
    hi = rows["ci_upper"].astype(float).to_numpy()
    weights = rows["weight"].to_numpy(dtype=float)
    has_pi = bool(np.isfinite(p.pi_lower))
    n = len(rows) + 2 + (sens is not None) + has_pi
    y_head = n - 0.5
    y = y_head - 1 - np.arange(len(rows))
    y_pool = y_head - 1 - len(rows)
    y_pi = y_pool - 1
    y_sens = y_pool - 1 - has_pi
    null = 1.0 if ratio else 0.0

    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="none", ecolor="black", elinewidth=0.8)
    ax.scatter(
        est,
        y,
        marker="s",
        s=12 + 70 * weights / weights.max(),
        color=OKABE_ITO["blue"],
        zorder=3,
        linewidths=0,
    )
    _diamond(ax, p.ci_lower, p.estimate, p.ci_upper, y_pool, filled=True)
    if has_pi:
        ax.errorbar(
            [p.estimate],
            [y_pi],
            xerr=[[p.estimate - p.pi_lower], [p.pi_upper - p.estimate]],
            fmt="none",
            ecolor=OKABE_ITO["vermillion"],
            elinewidth=1,
            capsize=2.5,
        )
    if sens is not None:
        _diamond(ax, sens.ci_lower, sens.estimate, sens.ci_upper, y_sens, filled=False)
    ax.axhline(y_pool + 0.5, color="#BBBBBB", linewidth=0.6)

    # x range: every interval and the null line, with a little room, and room either side
    # of the null line for the benefit / harm labels.
    xs = np.concatenate(
        [lo, hi, [p.ci_lower, p.ci_upper, null]]
        + ([[p.pi_lower, p.pi_upper]] if has_pi else [])
        + ([[sens.ci_lower, sens.ci_upper]] if sens is not None else [])
    )
    xs = xs[np.isfinite(xs)]
    u = np.log(xs) if ratio else xs
    pad = max(0.08 * (u.max() - u.min()), 0.05)
    u0, u1 = float(u.min() - pad), float(u.max() + pad)
    if benefit in ("increase", "decrease"):
        u_null = 0.0
        side = text_width_in(fig, ["← Benefit", "Harm →"], fs - 0.5) + 0.12
        need = min(side / plot_w, 0.45)
        for _ in range(3):
            if (u_null - u0) / (u1 - u0) < need:
                u0 = (u_null - need * u1) / (1 - need)
            if (u1 - u_null) / (u1 - u0) < need:
                u1 = (u_null - need * u0) / (1 - need)
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
    ax.set_ylim(y_head - n + 0.5, y_head + 0.5)
    ax.plot(
        [null, null], [y_head - n + 0.5, y_head - 0.5], color="#777777", linewidth=0.8, zorder=1
    )

    ticks = [*y, y_pool] + ([y_pi] if has_pi else []) + ([y_sens] if sens is not None else [])
    ax.set_yticks(ticks, _forest_labels(p, rows, sens, sensitivity_label), fontsize=fs)
    for tick in ax.get_yticklabels()[len(rows) : len(rows) + 1]:
        tick.set_fontweight("bold")
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=fs)
    ax.spines["left"].set_visible(False)
    measure = MEASURE_NAMES.get(p.effect_measure, p.effect_measure.upper())
    ax.set_xlabel(f"{measure} with 95% CI" + (" (log scale)" if ratio else ""), fontsize=fs)

    # Title (outcome, measure, k) and heterogeneity, left-aligned over the labels.
    ax_box = ax.get_position()
    x_left = 0.02 / A4_WIDTH_IN
    top_y = ax_box.y1 + (0.46 / fig.get_figheight())
    fig.text(
        x_left,
        top_y - 0.02 / fig.get_figheight(),
        f"{p.label}: {measure.lower()}, k = {p.k}",
        fontsize=9.5,
        fontweight="bold",
        va="top",
    )
    fig.text(
        x_left,
        top_y - 0.22 / fig.get_figheight(),
        f"Heterogeneity: I² = {p.i2:.0f}%, τ² = {p.tau2:.3g}, Q = {p.q:.2f} "
        f"(df = {p.k - 1}, {p_text(p.q_p)})",
        fontsize=fs - 0.5,
        va="top",
        color="#333333",
    )

    # Right-hand columns: estimate [95% CI] and weight.
    x_est = ax_box.x1 + 0.1 / A4_WIDTH_IN
    x_weight = (A4_WIDTH_IN - 0.1) / A4_WIDTH_IN
    column = matplotlib.transforms.blended_transform_factory(fig.transFigure, ax.transData)
    short = p.effect_measure.upper()
    ax.text(
        x_est,
        y_head,
        f"{short} [95% CI]",
        transform=column,
        fontsize=fs,
        va="center",
        fontweight="bold",
        clip_on=False,
    )
    ax.text(
        x_weight,
        y_head,
        "Weight",
        transform=column,
        fontsize=fs,
        va="center",
        ha="right",
        fontweight="bold",
        clip_on=False,
    )
    for yi, e, a, b, w in zip(y, est, lo, hi, weights, strict=True):
        ax.text(
            x_est, yi, _interval(e, a, b), transform=column, fontsize=fs, va="center", clip_on=False
        )
        ax.text(
            x_weight,
            yi,
            f"{100 * w:.1f}%",
            transform=column,
            fontsize=fs,
            va="center",
            ha="right",
            clip_on=False,
        )
    ax.text(
        x_est,
        y_pool,
        _interval(p.estimate, p.ci_lower, p.ci_upper),
        transform=column,
        fontsize=fs,
        va="center",
        fontweight="bold",
        clip_on=False,
    )
    ax.text(
        x_weight,
        y_pool,
        "100%",
        transform=column,
        fontsize=fs,
        va="center",
        ha="right",
        clip_on=False,
    )
    if has_pi:
        ax.text(
            x_est,
            y_pi,
            f"[{_num(p.pi_lower)}, {_num(p.pi_upper)}]",
            transform=column,
            fontsize=fs,
            va="center",
            clip_on=False,
        )
    if sens is not None:
        ax.text(
            x_est,
            y_sens,
            _interval(sens.estimate, sens.ci_lower, sens.ci_upper),
            transform=column,
            fontsize=fs,
            va="center",
            clip_on=False,
        )

    # Which side of the null line is benefit, over the plot.
    if benefit in ("increase", "decrease"):
        left_is_benefit = benefit == "decrease"
        offset = matplotlib.transforms.offset_copy(ax.transData, fig=fig, x=-4, units="points")
        ax.text(
            null,
            y_head,
            "← " + ("Benefit" if left_is_benefit else "Harm"),
            transform=offset,
            ha="right",
            va="center",
            fontsize=fs - 0.5,
            color="#333333",
        )
        offset = matplotlib.transforms.offset_copy(ax.transData, fig=fig, x=4, units="points")
        ax.text(
            null,
            y_head,
            ("Harm" if left_is_benefit else "Benefit") + " →",
            transform=offset,
            ha="left",
            va="center",
            fontsize=fs - 0.5,
            color="#333333",
        )


def _diamond(ax, lo: float, est: float, hi: float, y: float, filled: bool) -> None:
    colour = OKABE_ITO["vermillion"]
    ax.fill(
        [lo, est, hi, est],
        [y, y + 0.32, y, y - 0.32],
        zorder=3,
        facecolor=colour if filled else "white",
        edgecolor=colour,
        linewidth=1,
    )
