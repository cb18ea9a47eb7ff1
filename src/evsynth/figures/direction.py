"""Direction-of-effect figures: the direction bars (studies per outcome by direction, with the
sign test) and the effect-direction plot (Boon & Thomson, Res Synth Methods 2021;12:29–33).

Both draw numbers the outcomes stage computed: ``outcomes/direction.csv`` for the counts and
sign tests, :func:`evsynth.outcomes.effect_direction_cells` for each study's direction and
sample size per outcome.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.path import Path as MatplotlibPath
from matplotlib.textpath import TextPath

from evsynth.contract import QUALITY
from evsynth.figures.layout import (
    MAX_PLOT_STUDIES,
    column_headers,
    fit_text,
    inch_canvas,
    largest_studies,
    measuring_figure,
    p_text,
    text_width_in,
    wrap_text,
)
from evsynth.figures.style import (
    A4_WIDTH_IN,
    DIRECTION_COLOURS,
    DIRECTION_LABELS,
    STYLE,
    one_at_a_time,
    placeholder,
    save,
)


@one_at_a_time
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
            ax.barh(
                y,
                values,
                left=left,
                color=colour,
                height=0.6,
                label=DIRECTION_LABELS[key],
                edgecolor="white",
                linewidth=0.5,
            )
            left += values
        for yi, k, p in zip(y, direction["k"], direction["sign_test_p"], strict=True):
            ax.text(k + 0.1, yi, f"k = {k}; sign test p = {p:.3f}", va="center", fontsize=8)
        ax.set_yticks(y, direction["label"])
        ax.set_xlim(0, float(direction["k"].max()) * 1.6 + 1)
        ax.set_xlabel("Studies (one vote per study, by direction of effect)")
        ax.legend(
            ncols=5,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.25 - 0.4 / max(len(direction), 1)),
            frameon=False,
            fontsize=8,
        )
        ax.tick_params(axis="y", length=0)
        return save(fig, path)


# --- Effect-direction plot (Boon & Thomson 2021) ---------------------------------------------


def _glyph_marker(character: str) -> MatplotlibPath:
    """A character as a marker path, centred on its point.

    Not matplotlib's "$?$" marker: that is mathtext, and the house style turns mathtext off
    (sheet text prints literally), so it drew the characters "$?$".
    """
    glyph = TextPath((0, 0), character, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    low, high = glyph.vertices.min(axis=0), glyph.vertices.max(axis=0)
    return MatplotlibPath(glyph.vertices - (low + high) / 2, glyph.codes)


#: Marker per direction: shape carries the meaning, colour repeats it (colour-blind safe).
DIRECTION_MARKERS = {
    "benefit": "^",
    "harm": "v",
    "mixed": "D",
    "no_effect": "o",
    "unclear": _glyph_marker("?"),
}
QUALITY_ORDER = ("high", "moderate", "low", "not_appraised")
QUALITY_LABELS = QUALITY
#: Row shading by study quality: darker for higher quality (Boon & Thomson 2021); rows not
#: appraised are hatched so they are not mistaken for low quality.
QUALITY_SHADES = {
    "high": "#BDBDBD",
    "moderate": "#DADADA",
    "low": "#F2F2F2",
    "not_appraised": "#FFFFFF",
}
#: Sample-size bands of the effect-direction plot (Boon & Thomson 2021): upper bound, label
#: and marker area in points² at the normal density.
SIZE_BANDS = (
    (50, "n < 50 or not reported", 18.0),
    (300, "n 50–300", 40.0),
    (float("inf"), "n > 300", 78.0),
)


#: Marker area relative to the triangles, so each shape looks about as big.
_MARKER_SCALE = {"mixed": 0.6, "no_effect": 0.8, "unclear": 1.4}


def _size_band(n: float) -> int:
    if not np.isfinite(n):
        return 0
    return next(
        i for i, (upper, _, _) in enumerate(SIZE_BANDS) if (n < upper if i == 0 else n <= upper)
    )


def _direction_marker(ax, x, y, direction: str, area: float, **extra) -> None:
    marker = DIRECTION_MARKERS[direction]
    style = {
        "benefit": dict(color=DIRECTION_COLOURS["benefit"], edgecolors="black", linewidths=0.4),
        "harm": dict(color=DIRECTION_COLOURS["harm"], edgecolors="black", linewidths=0.4),
        "mixed": dict(color=DIRECTION_COLOURS["mixed"], edgecolors="black", linewidths=0.4),
        "no_effect": dict(facecolors="white", edgecolors="#333333", linewidths=1.0),
        "unclear": dict(color="#333333", linewidths=0),
    }[direction]
    scale = _MARKER_SCALE.get(direction, 1.0)
    ax.scatter(x, y, marker=marker, s=area * scale, zorder=3, **style, **extra)


def _direction_handle(direction: str, area: float, label: str):
    scale = _MARKER_SCALE.get(direction, 1.0)
    size = float(np.sqrt(area * scale))
    if direction == "no_effect":
        face, edge, width = "white", "#333333", 1.0
    elif direction == "unclear":
        face = edge = "#333333"
        width = 0
    else:
        face, edge, width = DIRECTION_COLOURS[direction], "black", 0.4
    return Line2D(
        [],
        [],
        linestyle="none",
        marker=DIRECTION_MARKERS[direction],
        markersize=size,
        markerfacecolor=face,
        markeredgecolor=edge,
        markeredgewidth=width,
        label=label,
    )


def _quality_patch(x, y, w, h, quality: str, **extra):
    if quality == "not_appraised":
        return Rectangle(
            (x, y), w, h, facecolor="white", edgecolor="#C8C8C8", hatch="////", linewidth=0, **extra
        )
    return Rectangle(
        (x, y), w, h, facecolor=QUALITY_SHADES.get(quality, "#FFFFFF"), edgecolor="none", **extra
    )


@one_at_a_time
def effect_direction_plot(
    cells: pd.DataFrame,
    studies: pd.DataFrame,
    direction: pd.DataFrame,
    outcome_labels: dict[str, str],
    path: Path,
    not_shown: str = "",
) -> tuple[Path, Path]:
    """Effect-direction plot (Boon & Thomson, Res Synth Methods 2021;12:29–33).

    Rows are studies (those reporting at least one outcome), grouped by quality and shaded
    by it; columns are outcomes in codebook order. A marker per study and outcome gives the
    direction (▲ benefit, ▼ harm, ◆ mixed, ○ no effect, ? unclear), its size the sample size
    band (< 50, 50–300, > 300). The last row is the exact sign test per outcome (benefit vs
    harm, from ``direction``). ``cells`` is :func:`evsynth.outcomes.effect_direction_cells`.

    Studies whose design does not vote are not drawn at all (a row of theirs would read as a
    vote); ``not_shown`` is the line under the plot that says so
    (:func:`evsynth.outcomes.not_shown_note`).
    """
    if cells.empty:
        message = "No outcome rows in this review: no effect-direction plot"
        return placeholder(path, f"{message}\n{not_shown}" if not_shown else message)
    cells, note = largest_studies(cells, MAX_PLOT_STUDIES)
    reported = set(cells["outcome"])
    order = [o for o in outcome_labels if o in reported] + sorted(reported - set(outcome_labels))
    info = studies.set_index("study_id")
    quality = {
        s: str(info["quality"].get(s, "")) if "quality" in info else ""
        for s in cells["study_id"].unique()
    }
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
        fig = measuring_figure()
        labels = {}
        for s in rows:
            year = str(info["year"].get(s, "")) if "year" in info else ""
            labels[s] = f"{s} ({year})" if year else s
        label_w = min(
            max(text_width_in(fig, labels.values(), fs), text_width_in(fig, ["Study"], fs, "bold"))
            + 0.15,
            1.8,
        )
        sign_label = ["Sign test,", "benefit vs harm"]
        label_w = max(label_w, text_width_in(fig, sign_label, fs, "bold") + 0.15)
        n_w = text_width_in(fig, ["00000", "n"], fs) + 0.15
        q_w = text_width_in(fig, ["Not appraised", "Quality"], fs - 0.5, "bold") + 0.15
        col_w = min((A4_WIDTH_IN - 2 * margin - label_w - n_w - q_w) / len(order), 1.3)
        headers, turned, head_h = column_headers(
            fig, [outcome_labels.get(o, o) for o in order], col_w, fs
        )
        line_h = fs * 1.25 / 72
        header_h = head_h + line_h + 0.14  # + the k line
        sign_h = 2 * line_h + 0.14
        legend_h = 4 * (fs + 4) / 72 + 0.22
        if not_shown:  # wrapped to the width (design labels are the codebook's, any length)
            shown = wrap_text(fig, not_shown, A4_WIDTH_IN - 2 * margin, fs - 0.5, max_lines=4)
            note = "\n".join(line for line in (note, shown) if line)
        note_h = (note.count("\n") + 2) * line_h if note else 0.0
        height = header_h + len(rows) * row_h + sign_h + legend_h + note_h + 0.1

        fig, ax = inch_canvas(height)
        x_label, x_n = margin, margin + label_w
        x_q = x_n + n_w
        x_cols = x_q + q_w + col_w * (np.arange(len(order)) + 0.5)
        right = A4_WIDTH_IN - margin
        y_top = height - header_h
        # Header: column titles, bottom-aligned above a rule.
        ax.text(x_label + 0.05, y_top + 0.05, "Study", fontsize=fs, fontweight="bold", va="bottom")
        ax.text(
            x_n + n_w - 0.1,
            y_top + 0.05,
            "n",
            fontsize=fs,
            fontweight="bold",
            va="bottom",
            ha="right",
            style="italic",
        )
        ax.text(
            x_q + 0.05, y_top + 0.05, "Quality", fontsize=fs - 0.5, fontweight="bold", va="bottom"
        )
        for x, o, head in zip(x_cols, order, headers, strict=True):
            k = (
                int(votes.loc[o, "k"])
                if votes is not None and o in votes.index
                else int((cells["outcome"] == o).sum())
            )
            ax.text(
                x,
                y_top + 0.07 + line_h,
                head,
                fontsize=fs,
                fontweight="bold",
                ha="center",
                va="bottom",
                linespacing=1.1,
                rotation=90 if turned else 0,
            )
            ax.text(
                x,
                y_top + 0.05,
                f"k = {k}",
                fontsize=fs - 0.5,
                ha="center",
                va="bottom",
                color="#333333",
            )
        ax.plot([margin, right], [y_top, y_top], color="black", linewidth=0.8)

        # Study rows: quality band, label, n, quality, one marker per outcome reported.
        for i, s in enumerate(rows):
            y0 = y_top - (i + 1) * row_h
            yc = y0 + row_h / 2
            ax.add_patch(_quality_patch(margin, y0, right - margin, row_h, quality[s], zorder=0))
            ax.plot([margin, right], [y0, y0], color="white", linewidth=0.6, zorder=1)
            ax.text(
                x_label + 0.05,
                yc,
                fit_text(fig, labels[s], label_w - 0.1, fs),
                fontsize=fs,
                va="center",
            )
            n = study_n.get(s, np.nan)
            ax.text(
                x_n + n_w - 0.1,
                yc,
                f"{int(n)}" if np.isfinite(n) else "–",
                fontsize=fs,
                va="center",
                ha="right",
            )
            ax.text(
                x_q + 0.05,
                yc,
                QUALITY_LABELS.get(quality[s], quality[s] or "–"),
                fontsize=fs - 0.5,
                va="center",
                color="#222222",
            )
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
        ax.text(
            x_label + 0.05,
            y_sign,
            "\n".join(sign_label),
            fontsize=fs,
            fontweight="bold",
            va="center",
            linespacing=1.2,
        )
        for x, o in zip(x_cols, order, strict=True):
            if votes is None or o not in votes.index:
                continue
            v = votes.loc[o]
            b, h = int(v["n_benefit"]), int(v["n_harm"])
            text = (
                f"{p_text(float(v['sign_test_p']))}\n{b} ▲  {h} ▼"
                if b + h
                else "no votes\n0 ▲  0 ▼"
            )
            ax.text(x, y_sign, text, fontsize=fs - 0.5, ha="center", va="center", linespacing=1.3)
        y_sign_end = y_rows_end - sign_h
        ax.plot([margin, right], [y_sign_end, y_sign_end], color="black", linewidth=0.8)

        # Legends: direction, sample size, quality shading.
        y_legend = y_sign_end - 0.06
        area_mid = SIZE_BANDS[1][2] * marker_scale
        handles = [
            _direction_handle(d, area_mid, DIRECTION_LABELS[d])
            for d in ("benefit", "harm", "mixed", "no_effect", "unclear")
        ]
        common = dict(
            loc="upper left",
            bbox_transform=ax.transData,
            frameon=False,
            fontsize=fs - 0.5,
            title_fontsize=fs,
            alignment="left",
            handletextpad=0.4,
            borderaxespad=0,
            borderpad=0,
            labelspacing=0.45,
        )
        first = ax.legend(
            handles=handles,
            title="Direction of effect",
            bbox_to_anchor=(margin, y_legend),
            ncols=2,
            columnspacing=1.0,
            **common,
        )
        ax.add_artist(first)
        sizes = [
            _direction_handle("benefit", area * marker_scale, label)
            for _, label, area in SIZE_BANDS
        ]
        second = ax.legend(
            handles=sizes, title="Sample size", bbox_to_anchor=(2.45, y_legend), **common
        )
        ax.add_artist(second)
        shades = [
            Patch(
                facecolor=QUALITY_SHADES[q],
                edgecolor="#999999",
                linewidth=0.4,
                hatch="////" if q == "not_appraised" else None,
                label=QUALITY_LABELS[q],
            )
            for q in QUALITY_ORDER
        ]
        ax.legend(
            handles=shades,
            title="Study quality (row shading)",
            bbox_to_anchor=(4.35, y_legend),
            **common,
        )
        if note:
            ax.text(margin, 0.05, note, fontsize=fs - 0.5, va="bottom", style="italic")
        return save(fig, path, tight=False)
