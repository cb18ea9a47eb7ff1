"""Figures: every plot as PNG and SVG, deterministic and readable at A4 width.

Themes (bar chart), direction of effect (stacked bars), forest plots, the effect-direction
plot (Boon & Thomson 2021) and the evidence gap map. The last three are laid out in inches at
the A4 text width (6.3 in), so their text prints at its nominal size when a report scales every
figure to the text width.

Determinism: a fixed SVG hash salt (stable element ids), no creation date or software tag in
the file metadata, text drawn as paths, one font (DejaVu Sans, shipped with matplotlib).
Colours are the Okabe–Ito palette, which stays distinguishable under the common forms of
colour-blindness (Okabe & Ito 2008); direction is carried by marker shape as well as colour.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from evsynth.contract import EFFECT_MEASURES, QUALITY  # noqa: E402

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
#: Candidate ticks for ratio axes (log scale), labelled as plain numbers, roundest first
#: (see :func:`ratio_ticks`).
RATIO_TICK_LEVELS = (
    (0.001, 0.01, 0.1, 1, 10, 100, 1000),
    (0.002, 0.005, 0.02, 0.05, 0.2, 0.5, 2, 5, 20, 50, 200, 500),
    (0.03, 0.3, 3, 30, 0.25, 0.4, 0.6, 0.7, 0.75, 0.8, 1.5, 4),
    (0.9, 1.1, 1.25, 0.65, 0.85, 0.95, 1.05),
)
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


def placeholder(stem: Path, message: str) -> tuple[Path, Path]:
    """A small figure that says why there is nothing to plot (rule outputs must exist)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, message, ha="center", va="center", color="#555555")
        return save(fig, stem)


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
        return placeholder(path, "No outcome rows in this review")
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


# --- Layout helpers ------------------------------------------------------------------------------
# The forest plot, effect-direction plot and gap map are laid out in inches at A4 width, so
# their text prints at its nominal size when the report scales every figure to the text width.

def _text_width_in(fig: plt.Figure, texts, fontsize: float, weight: str = "normal") -> float:
    """The widest of ``texts`` in inches, as ``fig`` would draw it."""
    renderer = fig.canvas.get_renderer()
    widest = 0.0
    for text in texts:
        artist = fig.text(0, 0, str(text), fontsize=fontsize, fontweight=weight)
        widest = max(widest, artist.get_window_extent(renderer).width / fig.dpi)
        artist.remove()
    return widest


def _fit_text(fig: plt.Figure, text: str, width_in: float, fontsize: float,
              weight: str = "normal") -> str:
    """``text`` shortened with an ellipsis until it fits ``width_in``."""
    if _text_width_in(fig, [text], fontsize, weight) <= width_in:
        return text
    while len(text) > 1 and _text_width_in(fig, [text + "…"], fontsize, weight) > width_in:
        text = text[:-1]
    return text.rstrip() + "…"


def _wrap(fig: plt.Figure, text: str, width_in: float, fontsize: float, max_lines: int = 3,
          weight: str = "normal") -> str:
    """Greedy word wrap of ``text`` to ``width_in`` inches; at most ``max_lines`` lines."""
    lines: list[str] = []
    for word in str(text).split():
        # A hyphenated word too wide for a line may break after its hyphens.
        parts = ([word] if _text_width_in(fig, [word], fontsize, weight) <= width_in
                 else re.findall(r"[^-]+-?|-", word))
        for j, part in enumerate(parts):
            trial = lines[-1] + (" " if j == 0 else "") + part if lines else part
            if lines and _text_width_in(fig, [trial], fontsize, weight) <= width_in:
                lines[-1] = trial
            else:
                lines.append(part)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [" ".join(lines[max_lines - 1:])]
    return "\n".join(_fit_text(fig, line, width_in, fontsize, weight) for line in lines)


def _column_headers(fig: plt.Figure, labels: list[str], col_w: float,
                    fontsize: float) -> tuple[list[str], bool, float]:
    """Column titles for narrow columns: wrapped across up to three lines where every word
    fits, else turned upright (90°). Returns the texts, whether they are turned, and the
    height they need in inches."""
    words = [w for label in labels for w in re.findall(r"[^\s-]+-?", str(label))]
    if _text_width_in(fig, words, fontsize, "bold") <= col_w - 0.04:
        texts = [_wrap(fig, label, col_w - 0.04, fontsize, 3, "bold") for label in labels]
        lines = max(t.count("\n") + 1 for t in texts)
        return texts, False, lines * fontsize * 1.25 / 72
    texts = [_wrap(fig, str(label), 1.1, fontsize, 2, "bold") for label in labels]
    lines = [line for t in texts for line in t.split("\n")]
    return texts, True, _text_width_in(fig, lines, fontsize, "bold")


def _inch_canvas(height_in: float) -> tuple[plt.Figure, plt.Axes]:
    """A figure A4-wide whose one axes spans it with data coordinates in inches (y up)."""
    fig = plt.figure(figsize=(A4_WIDTH_IN, height_in))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, A4_WIDTH_IN)
    ax.set_ylim(0, height_in)
    ax.axis("off")
    return fig, ax


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _num(value: float) -> str:
    """Estimates in forest plots: two decimals, or two significant digits below 0.1; a true
    minus sign."""
    if not np.isfinite(value):
        return "–"
    text = f"{value:.2g}" if value != 0 and abs(value) < 0.1 else f"{value:.2f}"
    return text.replace("-", "−")


def _interval(est: float, lo: float, hi: float) -> str:
    return f"{_num(est)} [{_num(lo)}, {_num(hi)}]"


# --- Forest plots ----------------------------------------------------------------------------

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
            if all(abs(np.log(tick) - np.log(c)) / span * width_in >= min_gap_in
                   for c in chosen):
                chosen.append(tick)
    return sorted(chosen)


def forest_plot(effects: pd.DataFrame, pooled: pd.DataFrame, path: Path,
                benefit: dict[str, str] | None = None,
                sensitivity_label: str = "Without low-quality studies") -> tuple[Path, Path]:
    """One panel per pooled (outcome, measure): study estimates with 95% CIs and their
    random-effects weights, the pooled diamond, the 95% prediction interval and, where the
    meta-analysis has one, the sensitivity analysis (hollow diamond). Ratio measures on a log
    axis with plain-number ticks. ``benefit`` maps outcome to ``increase``/``decrease`` and
    labels the side of the null line that favours benefit."""
    main = pooled[pooled["analysis"] == "main"] if not pooled.empty else pooled
    if main.empty:
        return placeholder(path, "No outcome has two or more effect estimates to pool")
    panels = []
    for p in main.itertuples(index=False):
        rows = effects[(effects["outcome"] == p.outcome)
                       & (effects["effect_measure"] == p.effect_measure)].sort_values("study_id")
        rows = rows[rows["study_id"].isin(str(p.study_ids).split(";"))]
        # Weights are shares of all the pooled studies, even when only some are drawn.
        rows = rows.assign(total_weight=float((1 / (rows["vi"] + p.tau2)).sum()))
        rows, _ = _largest_studies(rows, MAX_FOREST_STUDIES, size="vi", ascending=True)
        sens = pooled[(pooled["analysis"] == "sensitivity") & (pooled["outcome"] == p.outcome)
                      & (pooled["effect_measure"] == p.effect_measure)
                      & (pooled["method"] == p.method)]
        panels.append((p, rows, None if sens.empty else next(sens.itertuples(index=False))))
    fs, row_h, title_h, axis_h, gap_h = 8, 0.2, 0.46, 0.45, 0.2
    n_rows = [len(rows) + 2 + (s is not None) + bool(np.isfinite(p.pi_lower))
              for p, rows, s in panels]
    height = sum(title_h + n * row_h + axis_h for n in n_rows) + gap_h * (len(panels) - 1)
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(A4_WIDTH_IN, height))
        labels = [lab for p, rows, s in panels for lab in _forest_labels(p, rows, s,
                                                                           sensitivity_label)]
        left = min(_text_width_in(fig, labels, fs, "bold") + 0.12, 2.4)
        intervals = [_interval(e, a, b) for _, rows, _ in panels
                     for e, a, b in rows[["estimate", "ci_lower", "ci_upper"]].astype(float)
                     .itertuples(index=False)]
        intervals += [_interval(p.estimate, p.ci_lower, p.ci_upper) for p, _, _ in panels]
        est_w = _text_width_in(fig, intervals, fs, "bold") + 0.12
        weight_w = _text_width_in(fig, ["100.0%", "Weight"], fs) + 0.05
        plot_w = A4_WIDTH_IN - left - est_w - weight_w - 0.15
        top = height
        for (p, rows, sens), n in zip(panels, n_rows, strict=True):
            bottom = top - title_h - n * row_h
            ax = fig.add_axes((left / A4_WIDTH_IN, bottom / height, plot_w / A4_WIDTH_IN,
                               n * row_h / height))
            _forest_panel(fig, ax, rows, p, sens, (benefit or {}).get(p.outcome),
                          sensitivity_label, fs, plot_w)
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
    weights = 1 / (rows["vi"].to_numpy() + p.tau2)
    weights = weights / (rows["total_weight"].iloc[0] if "total_weight" in rows else
                         weights.sum())
    has_pi = bool(np.isfinite(p.pi_lower))
    n = len(rows) + 2 + (sens is not None) + has_pi
    y_head = n - 0.5
    y = y_head - 1 - np.arange(len(rows))
    y_pool = y_head - 1 - len(rows)
    y_pi = y_pool - 1
    y_sens = y_pool - 1 - has_pi
    null = 1.0 if ratio else 0.0

    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="none", ecolor="black", elinewidth=0.8)
    ax.scatter(est, y, marker="s", s=12 + 70 * weights / weights.max(), color=OKABE_ITO["blue"],
               zorder=3, linewidths=0)
    _diamond(ax, p.ci_lower, p.estimate, p.ci_upper, y_pool, filled=True)
    if has_pi:
        ax.errorbar([p.estimate], [y_pi], xerr=[[p.estimate - p.pi_lower],
                                                  [p.pi_upper - p.estimate]],
                    fmt="none", ecolor=OKABE_ITO["vermillion"], elinewidth=1, capsize=2.5)
    if sens is not None:
        _diamond(ax, sens.ci_lower, sens.estimate, sens.ci_upper, y_sens, filled=False)
    ax.axhline(y_pool + 0.5, color="#BBBBBB", linewidth=0.6)

    # x range: every interval and the null line, with a little room, and room either side
    # of the null line for the benefit / harm labels.
    xs = np.concatenate([lo, hi, [p.ci_lower, p.ci_upper, null]]
                        + ([[p.pi_lower, p.pi_upper]] if has_pi else [])
                        + ([[sens.ci_lower, sens.ci_upper]] if sens is not None else []))
    xs = xs[np.isfinite(xs)]
    u = np.log(xs) if ratio else xs
    pad = max(0.08 * (u.max() - u.min()), 0.05)
    u0, u1 = float(u.min() - pad), float(u.max() + pad)
    if benefit in ("increase", "decrease"):
        u_null = 0.0
        side = _text_width_in(fig, ["← Benefit", "Harm →"], fs - 0.5) + 0.12
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
    ax.plot([null, null], [y_head - n + 0.5, y_head - 0.5], color="#777777", linewidth=0.8,
            zorder=1)

    ticks = [*y, y_pool] + ([y_pi] if has_pi else []) + ([y_sens] if sens is not None else [])
    ax.set_yticks(ticks, _forest_labels(p, rows, sens, sensitivity_label), fontsize=fs)
    for tick in ax.get_yticklabels()[len(rows):len(rows) + 1]:
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
    fig.text(x_left, top_y - 0.02 / fig.get_figheight(), f"{p.label}: {measure.lower()}, "
             f"k = {p.k}", fontsize=9.5, fontweight="bold", va="top")
    fig.text(x_left, top_y - 0.22 / fig.get_figheight(),
             f"Heterogeneity: I² = {p.i2:.0f}%, τ² = {p.tau2:.3g}, Q = {p.q:.2f} "
             f"(df = {p.k - 1}, {_p_text(p.q_p)})", fontsize=fs - 0.5, va="top",
             color="#333333")

    # Right-hand columns: estimate [95% CI] and weight.
    x_est = ax_box.x1 + 0.1 / A4_WIDTH_IN
    x_weight = (A4_WIDTH_IN - 0.1) / A4_WIDTH_IN
    column = matplotlib.transforms.blended_transform_factory(fig.transFigure, ax.transData)
    short = p.effect_measure.upper()
    ax.text(x_est, y_head, f"{short} [95% CI]", transform=column, fontsize=fs, va="center",
            fontweight="bold", clip_on=False)
    ax.text(x_weight, y_head, "Weight", transform=column, fontsize=fs, va="center", ha="right",
            fontweight="bold", clip_on=False)
    for yi, e, a, b, w in zip(y, est, lo, hi, weights, strict=True):
        ax.text(x_est, yi, _interval(e, a, b), transform=column, fontsize=fs, va="center",
                clip_on=False)
        ax.text(x_weight, yi, f"{100 * w:.1f}%", transform=column, fontsize=fs, va="center",
                ha="right", clip_on=False)
    ax.text(x_est, y_pool, _interval(p.estimate, p.ci_lower, p.ci_upper), transform=column,
            fontsize=fs, va="center", fontweight="bold", clip_on=False)
    ax.text(x_weight, y_pool, "100%", transform=column, fontsize=fs, va="center", ha="right",
            clip_on=False)
    if has_pi:
        ax.text(x_est, y_pi, f"[{_num(p.pi_lower)}, {_num(p.pi_upper)}]", transform=column,
                fontsize=fs, va="center", clip_on=False)
    if sens is not None:
        ax.text(x_est, y_sens, _interval(sens.estimate, sens.ci_lower, sens.ci_upper),
                transform=column, fontsize=fs, va="center", clip_on=False)

    # Which side of the null line is benefit, over the plot.
    if benefit in ("increase", "decrease"):
        left_is_benefit = benefit == "decrease"
        offset = matplotlib.transforms.offset_copy(ax.transData, fig=fig, x=-4, units="points")
        ax.text(null, y_head, "← " + ("Benefit" if left_is_benefit else "Harm"),
                transform=offset, ha="right", va="center", fontsize=fs - 0.5, color="#333333")
        offset = matplotlib.transforms.offset_copy(ax.transData, fig=fig, x=4, units="points")
        ax.text(null, y_head, ("Harm" if left_is_benefit else "Benefit") + " →",
                transform=offset, ha="left", va="center", fontsize=fs - 0.5, color="#333333")


def _diamond(ax, lo: float, est: float, hi: float, y: float, filled: bool) -> None:
    colour = OKABE_ITO["vermillion"]
    ax.fill([lo, est, hi, est], [y, y + 0.32, y, y - 0.32], zorder=3,
            facecolor=colour if filled else "white", edgecolor=colour, linewidth=1)


# --- Effect-direction plot (Boon & Thomson 2021) ---------------------------------------------

#: Marker per direction: shape carries the meaning, colour repeats it (colour-blind safe).
DIRECTION_MARKERS = {"benefit": "^", "harm": "v", "mixed": "D", "no_effect": "o",
                     "unclear": "$?$"}
QUALITY_ORDER = ("high", "moderate", "low", "not_appraised")
QUALITY_LABELS = QUALITY
#: Row shading by study quality: darker for higher quality (Boon & Thomson 2021); rows not
#: appraised are hatched so they are not mistaken for low quality.
QUALITY_SHADES = {"high": "#BDBDBD", "moderate": "#DADADA", "low": "#F2F2F2",
                  "not_appraised": "#FFFFFF"}
#: Sample-size bands of the effect-direction plot (Boon & Thomson 2021): upper bound, label
#: and marker area in points² at the normal density.
SIZE_BANDS = ((50, "n < 50 or not reported", 18.0), (300, "n 50–300", 40.0),
              (float("inf"), "n > 300", 78.0))


#: Marker area relative to the triangles, so each shape looks about as big.
_MARKER_SCALE = {"mixed": 0.6, "no_effect": 0.8, "unclear": 1.4}


def _size_band(n: float) -> int:
    if not np.isfinite(n):
        return 0
    return next(i for i, (upper, _, _) in enumerate(SIZE_BANDS)
                if (n < upper if i == 0 else n <= upper))


def _direction_marker(ax, x, y, direction: str, area: float, **extra) -> None:
    marker = DIRECTION_MARKERS[direction]
    style = {"benefit": dict(color=DIRECTION_COLOURS["benefit"], edgecolors="black",
                             linewidths=0.4),
             "harm": dict(color=DIRECTION_COLOURS["harm"], edgecolors="black", linewidths=0.4),
             "mixed": dict(color=DIRECTION_COLOURS["mixed"], edgecolors="black", linewidths=0.4),
             "no_effect": dict(facecolors="white", edgecolors="#333333", linewidths=1.0),
             "unclear": dict(color="#333333", linewidths=0)}[direction]
    scale = _MARKER_SCALE.get(direction, 1.0)
    ax.scatter(x, y, marker=marker, s=area * scale, zorder=3, **style, **extra)


def _direction_handle(direction: str, area: float, label: str):
    from matplotlib.lines import Line2D

    scale = _MARKER_SCALE.get(direction, 1.0)
    size = float(np.sqrt(area * scale))
    if direction == "no_effect":
        face, edge, width = "white", "#333333", 1.0
    elif direction == "unclear":
        face = edge = "#333333"
        width = 0
    else:
        face, edge, width = DIRECTION_COLOURS[direction], "black", 0.4
    return Line2D([], [], linestyle="none", marker=DIRECTION_MARKERS[direction],
                  markersize=size, markerfacecolor=face, markeredgecolor=edge,
                  markeredgewidth=width, label=label)


def _quality_patch(x, y, w, h, quality: str, **extra):
    from matplotlib.patches import Rectangle

    if quality == "not_appraised":
        return Rectangle((x, y), w, h, facecolor="white", edgecolor="#C8C8C8", hatch="////",
                         linewidth=0, **extra)
    return Rectangle((x, y), w, h, facecolor=QUALITY_SHADES.get(quality, "#FFFFFF"),
                     edgecolor="none", **extra)


def effect_direction_plot(cells: pd.DataFrame, studies: pd.DataFrame, direction: pd.DataFrame,
                          outcome_labels: dict[str, str], path: Path) -> tuple[Path, Path]:
    """Effect-direction plot (Boon & Thomson, Res Synth Methods 2021;12:29–33).

    Rows are studies (those reporting at least one outcome), grouped by quality and shaded
    by it; columns are outcomes in codebook order. A marker per study and outcome gives the
    direction (▲ benefit, ▼ harm, ◆ mixed, ○ no effect, ? unclear), its size the sample size
    band (< 50, 50–300, > 300). The last row is the exact sign test per outcome (benefit vs
    harm, from ``direction``). ``cells`` is :func:`evsynth.outcomes.effect_direction_cells`.
    """
    if cells.empty:
        return placeholder(path, "No outcome rows in this review: no effect-direction plot")
    cells, note = _largest_studies(cells, MAX_PLOT_STUDIES)
    reported = set(cells["outcome"])
    order = [o for o in outcome_labels if o in reported] + sorted(reported - set(outcome_labels))
    info = studies.set_index("study_id")
    quality = {s: str(info["quality"].get(s, "")) if "quality" in info else ""
               for s in cells["study_id"].unique()}
    rank = {q: i for i, q in enumerate(QUALITY_ORDER)}
    rows = sorted(quality, key=lambda s: (rank.get(quality[s], len(rank)), s))
    study_n = cells.groupby("study_id")["n"].max()
    by_cell = cells.set_index(["study_id", "outcome"])
    votes = direction.set_index("outcome") if not direction.empty else None

    dense = len(rows) > 60
    fs = 6.5 if dense else 8.0
    row_h = 0.13 if dense else 0.21
    marker_scale = 0.55 if dense else 1.0
    margin = 0.05
    with plt.rc_context(STYLE):
        fig, ax = _inch_canvas(1.0)
        labels = {}
        for s in rows:
            year = str(info["year"].get(s, "")) if "year" in info else ""
            labels[s] = f"{s} ({year})" if year else s
        label_w = min(max(_text_width_in(fig, labels.values(), fs),
                          _text_width_in(fig, ["Study"], fs, "bold")) + 0.15, 1.8)
        sign_label = ["Sign test,", "benefit vs harm"]
        label_w = max(label_w, _text_width_in(fig, sign_label, fs, "bold") + 0.15)
        n_w = _text_width_in(fig, ["00000", "n"], fs) + 0.15
        q_w = _text_width_in(fig, ["Not appraised", "Quality"], fs - 0.5, "bold") + 0.15
        col_w = min((A4_WIDTH_IN - 2 * margin - label_w - n_w - q_w) / len(order), 1.3)
        headers, turned, head_h = _column_headers(fig, [outcome_labels.get(o, o)
                                                        for o in order], col_w, fs)
        line_h = fs * 1.25 / 72
        header_h = head_h + line_h + 0.14  # + the k line
        sign_h = 2 * line_h + 0.14
        legend_h = 4 * (fs + 4) / 72 + 0.22
        note_h = 2 * line_h if note else 0.0
        height = header_h + len(rows) * row_h + sign_h + legend_h + note_h + 0.1
        plt.close(fig)

        fig, ax = _inch_canvas(height)
        x_label, x_n = margin, margin + label_w
        x_q = x_n + n_w
        x_cols = x_q + q_w + col_w * (np.arange(len(order)) + 0.5)
        right = A4_WIDTH_IN - margin
        y_top = height - header_h
        # Header: column titles, bottom-aligned above a rule.
        ax.text(x_label + 0.05, y_top + 0.05, "Study", fontsize=fs, fontweight="bold",
                va="bottom")
        ax.text(x_n + n_w - 0.1, y_top + 0.05, "n", fontsize=fs, fontweight="bold",
                va="bottom", ha="right", style="italic")
        ax.text(x_q + 0.05, y_top + 0.05, "Quality", fontsize=fs - 0.5, fontweight="bold",
                va="bottom")
        for x, o, head in zip(x_cols, order, headers, strict=True):
            k = int(votes.loc[o, "k"]) if votes is not None and o in votes.index else int(
                (cells["outcome"] == o).sum())
            ax.text(x, y_top + 0.07 + line_h, head, fontsize=fs, fontweight="bold",
                    ha="center", va="bottom", linespacing=1.1, rotation=90 if turned else 0)
            ax.text(x, y_top + 0.05, f"k = {k}", fontsize=fs - 0.5, ha="center",
                    va="bottom", color="#333333")
        ax.plot([margin, right], [y_top, y_top], color="black", linewidth=0.8)

        # Study rows: quality band, label, n, quality, one marker per outcome reported.
        for i, s in enumerate(rows):
            y0 = y_top - (i + 1) * row_h
            yc = y0 + row_h / 2
            ax.add_patch(_quality_patch(margin, y0, right - margin, row_h, quality[s],
                                        zorder=0))
            ax.plot([margin, right], [y0, y0], color="white", linewidth=0.6, zorder=1)
            ax.text(x_label + 0.05, yc, _fit_text(fig, labels[s], label_w - 0.1, fs),
                    fontsize=fs, va="center")
            n = study_n.get(s, np.nan)
            ax.text(x_n + n_w - 0.1, yc, f"{int(n)}" if np.isfinite(n) else "–", fontsize=fs,
                    va="center", ha="right")
            ax.text(x_q + 0.05, yc, QUALITY_LABELS.get(quality[s], quality[s] or "–"),
                    fontsize=fs - 0.5, va="center", color="#222222")
            for x, o in zip(x_cols, order, strict=True):
                if (s, o) not in by_cell.index:
                    continue
                cell = by_cell.loc[(s, o)]
                area = SIZE_BANDS[_size_band(float(cell["n"]))][2] * marker_scale
                _direction_marker(ax, [x], [yc], str(cell["direction"]), area)

        # Sign test row.
        y_rows_end = y_top - len(rows) * row_h
        ax.plot([margin, right], [y_rows_end, y_rows_end], color="black", linewidth=0.8)
        y_sign = y_rows_end - sign_h / 2
        ax.text(x_label + 0.05, y_sign, "\n".join(sign_label), fontsize=fs, fontweight="bold",
                va="center", linespacing=1.2)
        for x, o in zip(x_cols, order, strict=True):
            if votes is None or o not in votes.index:
                continue
            v = votes.loc[o]
            b, h = int(v["n_benefit"]), int(v["n_harm"])
            text = (f"{_p_text(float(v['sign_test_p']))}\n{b} ▲  {h} ▼" if b + h
                    else "no votes\n0 ▲  0 ▼")
            ax.text(x, y_sign, text, fontsize=fs - 0.5, ha="center", va="center",
                    linespacing=1.3)
        y_sign_end = y_rows_end - sign_h
        ax.plot([margin, right], [y_sign_end, y_sign_end], color="black", linewidth=0.8)

        # Legends: direction, sample size, quality shading.
        y_legend = y_sign_end - 0.06
        area_mid = SIZE_BANDS[1][2] * marker_scale
        handles = [_direction_handle(d, area_mid, DIRECTION_LABELS[d])
                   for d in ("benefit", "harm", "mixed", "no_effect", "unclear")]
        common = dict(loc="upper left", bbox_transform=ax.transData, frameon=False,
                      fontsize=fs - 0.5, title_fontsize=fs, alignment="left",
                      handletextpad=0.4, borderaxespad=0, borderpad=0, labelspacing=0.45)
        first = ax.legend(handles=handles, title="Direction of effect",
                          bbox_to_anchor=(margin, y_legend), ncols=2, columnspacing=1.0,
                          **common)
        ax.add_artist(first)
        sizes = [_direction_handle("benefit", area * marker_scale, label)
                 for _, label, area in SIZE_BANDS]
        second = ax.legend(handles=sizes, title="Sample size", bbox_to_anchor=(2.45, y_legend),
                           **common)
        ax.add_artist(second)
        from matplotlib.patches import Patch

        shades = [Patch(facecolor=QUALITY_SHADES[q], edgecolor="#999999", linewidth=0.4,
                        hatch="////" if q == "not_appraised" else None, label=QUALITY_LABELS[q])
                  for q in QUALITY_ORDER]
        ax.legend(handles=shades, title="Study quality (row shading)",
                  bbox_to_anchor=(4.35, y_legend), **common)
        if note:
            ax.text(margin, 0.05, note, fontsize=fs - 0.5, va="bottom", style="italic")
        return save(fig, path, tight=False)


#: Above this many studies, plots that draw one row per study show the largest studies only
#: (a row per study of a living map with 10^4 records would be unreadable and huge); every
#: study is still counted in the sign test and the pooled estimates, and listed in the CSVs.
MAX_PLOT_STUDIES = 80
#: The same for each forest-plot panel (a figure may have one panel per outcome and measure).
MAX_FOREST_STUDIES = 30


def _largest_studies(frame: pd.DataFrame, limit: int, size: str = "n",
                     ascending: bool = False) -> tuple[pd.DataFrame, str]:
    """``frame`` cut to the ``limit`` studies with the largest ``size`` (ties by study id),
    and a note saying so ('' when nothing was cut)."""
    n_all = frame["study_id"].nunique()
    if n_all <= limit:
        return frame, ""
    per_study = pd.to_numeric(frame[size], errors="coerce").groupby(frame["study_id"]).max()
    per_study = per_study.fillna(np.inf if ascending else -np.inf)
    order = per_study.reset_index().sort_values([size, "study_id"],
                                                ascending=[ascending, True], kind="stable")
    keep = set(order["study_id"].head(limit))
    what = "most precise" if size == "vi" else "largest"
    note = (f"Showing the {limit} {what} of {n_all} studies; all are counted in the "
            "summary rows and listed in the result tables.")
    return frame[frame["study_id"].isin(keep)], note


# --- Evidence gap map --------------------------------------------------------------------------

#: Net direction scale of the gap map: harm (vermillion) through neutral to benefit (blue), the
#: Okabe–Ito pair used for harm and benefit everywhere else.
NET_DIRECTION_CMAP = matplotlib.colors.LinearSegmentedColormap.from_list(
    "evsynth_net_direction", [OKABE_ITO["vermillion"], "#F7F7F7", OKABE_ITO["blue"]])
NO_VOTES_COLOUR = "#A6A6A6"


def _net_direction(n_benefit, n_harm, n_studies) -> np.ndarray:
    """(benefit − harm) ÷ studies, from −1 (all harm) to 1 (all benefit); NaN without votes."""
    b, h, n = (np.asarray(v, dtype=float) for v in (n_benefit, n_harm, n_studies))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b + h > 0, (b - h) / np.where(n > 0, n, 1), np.nan)


def gap_map_plot(gap: pd.DataFrame, themes: pd.DataFrame, outcome_labels: dict[str, str],
                 path: Path) -> tuple[Path, Path]:
    """Evidence gap map: themes (rows, tree order, sub-themes indented) × outcomes (columns).

    Bubble area is the number of studies coded with the theme that report the outcome, with
    the count beside it; colour is the net direction, (benefit − harm) ÷ studies, grey where
    no study gave a benefit or harm vote; a faint dot marks a gap (no study). ``gap`` is
    :func:`evsynth.outcomes.gap_map`; ``themes`` has code, label and level.
    """
    if themes.empty or not outcome_labels:
        return placeholder(path, "The codebook has no themes or no outcomes: no gap map")
    if gap.empty or int(gap["n_studies"].sum()) == 0:
        return placeholder(path, "No study coded with a theme reports an outcome: "
                                  "no evidence gap map")
    order = list(outcome_labels)
    cell = gap.set_index(["theme", "outcome"])
    n_max = int(gap["n_studies"].max())
    many = len(themes) > 40
    fs = 7.0 if many else 8.0
    row_h = 0.2 if many else 0.27
    margin = 0.05
    with plt.rc_context(STYLE):
        fig, _ = _inch_canvas(1.0)
        indent = 0.14
        label_w = min(max(_text_width_in(fig, [t.label for t in themes.itertuples()
                                               if t.level == 1], fs, "bold"),
                          max((_text_width_in(fig, [t.label], fs) + indent * (t.level - 1)
                               for t in themes.itertuples()), default=0)) + 0.15,
                      max(A4_WIDTH_IN - 2 * margin - 0.75 * len(order), 1.6))
        col_w = min((A4_WIDTH_IN - 2 * margin - label_w) / len(order), 1.3)
        headers, turned, head_h = _column_headers(fig, [outcome_labels[o] for o in order],
                                                  col_w, fs)
        header_h = head_h + 0.12
        legend_h = 0.86
        height = header_h + len(themes) * row_h + legend_h + 0.1
        plt.close(fig)

        fig, ax = _inch_canvas(height)
        right = A4_WIDTH_IN - margin
        x_cols = margin + label_w + col_w * (np.arange(len(order)) + 0.5)
        y_top = height - header_h
        d_max = min(row_h * 0.92, col_w * 0.45) * 72  # largest bubble diameter, points
        for x, head in zip(x_cols, headers, strict=True):
            ax.text(x, y_top + 0.05, head, fontsize=fs, fontweight="bold", ha="center",
                    va="bottom", linespacing=1.1, rotation=90 if turned else 0)
        ax.plot([margin, right], [y_top, y_top], color="black", linewidth=0.8)

        top_index = -1
        xs, ys, areas, colours, empties = [], [], [], [], []
        for i, theme in enumerate(themes.itertuples(index=False)):
            y0 = y_top - (i + 1) * row_h
            yc = y0 + row_h / 2
            top_index += theme.level == 1
            if top_index % 2 == 0:  # alternate bands per top-level theme and its children
                ax.add_patch(matplotlib.patches.Rectangle(
                    (margin, y0), right - margin, row_h, facecolor="#F0F0F0",
                    edgecolor="none", zorder=0))
            if theme.level == 1 and i:
                ax.plot([margin, right], [y0 + row_h, y0 + row_h], color="#BBBBBB",
                        linewidth=0.5, zorder=1)
            x_text = margin + 0.05 + indent * (theme.level - 1)
            ax.text(x_text, yc, _fit_text(fig, str(theme.label), label_w - (x_text - margin)
                                          - 0.08, fs, "bold" if theme.level == 1 else "normal"),
                    fontsize=fs, va="center", fontweight="bold" if theme.level == 1 else "normal")
            for x, o in zip(x_cols, order, strict=True):
                row = cell.loc[(theme.code, o)] if (theme.code, o) in cell.index else None
                n = 0 if row is None else int(row["n_studies"])
                if n == 0:
                    empties.append((x, yc))
                    continue
                net = _net_direction(row["n_benefit"], row["n_harm"], n)
                xs.append(x)
                ys.append(yc)
                areas.append(d_max**2 * n / n_max)
                colours.append(NO_VOTES_COLOUR if np.isnan(net)
                               else NET_DIRECTION_CMAP((float(net) + 1) / 2))
                ax.text(x + (np.sqrt(d_max**2 * n / n_max) / 2 + 2.5) / 72, yc, str(n),
                        fontsize=fs - 1, va="center", ha="left", color="#222222")
        if empties:
            ex, ey = zip(*empties, strict=True)
            ax.scatter(ex, ey, s=3, color="#C8C8C8", linewidths=0, zorder=2)
        ax.scatter(xs, ys, s=areas, c=colours, edgecolors="#333333", linewidths=0.5, zorder=3)
        y_end = y_top - len(themes) * row_h
        ax.plot([margin, right], [y_end, y_end], color="black", linewidth=0.8)

        _gap_map_legends(fig, ax, height, y_end - 0.12, n_max, d_max, fs, margin)
        return save(fig, path, tight=False)


def _gap_map_legends(fig, ax, height, y_legend, n_max, d_max, fs, margin) -> None:
    from matplotlib.lines import Line2D

    values = list(range(1, n_max + 1)) if n_max <= 3 else sorted({1, round(n_max / 2), n_max})
    common = dict(loc="upper left", bbox_transform=ax.transData, frameon=False,
                  fontsize=fs - 0.5, title_fontsize=fs, alignment="left", borderaxespad=0,
                  borderpad=0, handletextpad=0.3)
    # Bubble sizes, drawn by hand so that bubbles and their counts share one baseline.
    ax.text(margin, y_legend, "Studies (bubble area)", fontsize=fs, va="top")
    y_bubbles = y_legend - fs * 1.4 / 72 - d_max / 72 / 2 - 0.03
    x = margin + 0.05
    for v in values:
        radius = d_max * np.sqrt(v / n_max) / 2 / 72
        x += radius
        ax.scatter([x], [y_bubbles], s=d_max**2 * v / n_max, facecolors="none",
                   edgecolors="#333333", linewidths=0.6)
        label = ax.text(x + radius + 0.04, y_bubbles, str(v), fontsize=fs - 0.5, va="center")
        x += radius + 0.04 + _text_width_in(fig, [label.get_text()], fs - 0.5) + 0.15
    others = [
        Line2D([], [], linestyle="none", marker="o", markersize=8, markerfacecolor=NO_VOTES_COLOUR,
               markeredgecolor="#333333", markeredgewidth=0.5,
               label="No benefit or harm votes\n(no effect, mixed or unclear)"),
        Line2D([], [], linestyle="none", marker="o", markersize=np.sqrt(3), color="#C8C8C8",
               label="No study: an evidence gap"),
    ]
    ax.legend(handles=others, title=" ", bbox_to_anchor=(4.35, y_legend), labelspacing=0.8,
              **common)
    # Colour bar for the net direction.
    bar_w, bar_h = 1.8, 0.12
    x_bar, y_bar = 2.2, y_legend - 0.42
    cax = fig.add_axes((x_bar / A4_WIDTH_IN, y_bar / height, bar_w / A4_WIDTH_IN,
                        bar_h / height))
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(
        norm=matplotlib.colors.Normalize(-1, 1), cmap=NET_DIRECTION_CMAP),
        cax=cax, orientation="horizontal")
    bar.set_ticks([-1, 0, 1], labels=["All harm", "Even", "All benefit"])
    bar.ax.tick_params(labelsize=fs - 1, length=2)
    bar.outline.set_linewidth(0.5)
    ax.text(x_bar, y_legend, "Net direction\n(benefit − harm) ÷ studies", fontsize=fs,
            va="top", ha="left", linespacing=1.2)
