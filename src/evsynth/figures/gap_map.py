"""The evidence gap map: themes (rows) × outcomes (columns), a bubble per pair that studies
cover, coloured by net direction; the pairs no study covers are the gaps.

The plot draws ``outcomes/gap_map.csv`` (:func:`evsynth.outcomes.gap_map`) with the net
direction of each cell (:func:`evsynth.outcomes.net_direction`).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.cm
import matplotlib.colors
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from evsynth.figures.layout import (
    column_headers,
    fit_text,
    inch_canvas,
    measuring_figure,
    text_width_in,
)
from evsynth.figures.style import A4_WIDTH_IN, OKABE_ITO, STYLE, one_at_a_time, placeholder, save

#: Net direction scale of the gap map: harm (vermillion) through neutral to benefit (blue), the
#: Okabe–Ito pair used for harm and benefit everywhere else.
NET_DIRECTION_CMAP = matplotlib.colors.LinearSegmentedColormap.from_list(
    "evsynth_net_direction", [OKABE_ITO["vermillion"], "#F7F7F7", OKABE_ITO["blue"]]
)
NO_VOTES_COLOUR = "#A6A6A6"


@one_at_a_time
def gap_map_plot(
    gap: pd.DataFrame, themes: pd.DataFrame, outcome_labels: dict[str, str], path: Path
) -> tuple[Path, Path]:
    """Evidence gap map: themes (rows, tree order, sub-themes indented) × outcomes (columns).

    Bubble area is the number of studies coded with the theme that report the outcome, with
    the count beside it; colour is the net direction, (benefit − harm) ÷ studies, grey where
    no study gave a benefit or harm vote; a faint dot marks a gap (no study). ``gap`` is
    :func:`evsynth.outcomes.gap_map` with a ``net_direction`` column
    (:func:`evsynth.outcomes.net_direction`); ``themes`` has code, label and level.
    """
    if themes.empty or not outcome_labels:
        return placeholder(path, "The codebook has no themes or no outcomes: no gap map")
    if gap.empty or int(gap["n_studies"].sum()) == 0:
        return placeholder(
            path, "No study coded with a theme reports an outcome: no evidence gap map"
        )
    order = list(outcome_labels)
    cell = gap.set_index(["theme", "outcome"])
    n_max = int(gap["n_studies"].max())
    many = len(themes) > 40
    fs = 7.0 if many else 8.0
    row_h = 0.2 if many else 0.27
    margin = 0.05
    with plt.rc_context(STYLE):
        fig = measuring_figure()
        indent = 0.14
        label_w = min(
            max(
                text_width_in(
                    fig, [t.label for t in themes.itertuples() if t.level == 1], fs, "bold"
                ),
                max(
                    (
                        text_width_in(fig, [t.label], fs) + indent * (t.level - 1)
                        for t in themes.itertuples()
                    ),
                    default=0,
                ),
            )
            + 0.15,
            max(A4_WIDTH_IN - 2 * margin - 0.75 * len(order), 1.6),
        )
        col_w = min((A4_WIDTH_IN - 2 * margin - label_w) / len(order), 1.3)
        headers, turned, head_h = column_headers(fig, [outcome_labels[o] for o in order], col_w, fs)
        header_h = head_h + 0.12
        legend_h = 0.86
        height = header_h + len(themes) * row_h + legend_h + 0.1

        fig, ax = inch_canvas(height)
        right = A4_WIDTH_IN - margin
        x_cols = margin + label_w + col_w * (np.arange(len(order)) + 0.5)
        y_top = height - header_h
        d_max = min(row_h * 0.92, col_w * 0.45) * 72  # largest bubble diameter, points
        for x, head in zip(x_cols, headers, strict=True):
            ax.text(
                x,
                y_top + 0.05,
                head,
                fontsize=fs,
                fontweight="bold",
                ha="center",
                va="bottom",
                linespacing=1.1,
                rotation=90 if turned else 0,
            )
        ax.plot([margin, right], [y_top, y_top], color="black", linewidth=0.8)

        top_index = -1
        xs, ys, areas, colours, empties = [], [], [], [], []
        for i, theme in enumerate(themes.itertuples(index=False)):
            y0 = y_top - (i + 1) * row_h
            yc = y0 + row_h / 2
            top_index += theme.level == 1
            if top_index % 2 == 0:  # alternate bands per top-level theme and its children
                ax.add_patch(
                    matplotlib.patches.Rectangle(
                        (margin, y0),
                        right - margin,
                        row_h,
                        facecolor="#F0F0F0",
                        edgecolor="none",
                        zorder=0,
                    )
                )
            if theme.level == 1 and i:
                ax.plot(
                    [margin, right],
                    [y0 + row_h, y0 + row_h],
                    color="#BBBBBB",
                    linewidth=0.5,
                    zorder=1,
                )
            x_text = margin + 0.05 + indent * (theme.level - 1)
            ax.text(
                x_text,
                yc,
                fit_text(
                    fig,
                    str(theme.label),
                    label_w - (x_text - margin) - 0.08,
                    fs,
                    "bold" if theme.level == 1 else "normal",
                ),
                fontsize=fs,
                va="center",
                fontweight="bold" if theme.level == 1 else "normal",
            )
            for x, o in zip(x_cols, order, strict=True):
                row = cell.loc[(theme.code, o)] if (theme.code, o) in cell.index else None
                n = 0 if row is None else int(row["n_studies"])
                if n == 0:
                    empties.append((x, yc))
                    continue
                net = row["net_direction"]
                xs.append(x)
                ys.append(yc)
                areas.append(d_max**2 * n / n_max)
                colours.append(
                    NO_VOTES_COLOUR if np.isnan(net) else NET_DIRECTION_CMAP((float(net) + 1) / 2)
                )
                ax.text(
                    x + (np.sqrt(d_max**2 * n / n_max) / 2 + 2.5) / 72,
                    yc,
                    str(n),
                    fontsize=fs - 1,
                    va="center",
                    ha="left",
                    color="#222222",
                )
        if empties:
            ex, ey = zip(*empties, strict=True)
            ax.scatter(ex, ey, s=3, color="#C8C8C8", linewidths=0, zorder=2)
        ax.scatter(xs, ys, s=areas, c=colours, edgecolors="#333333", linewidths=0.5, zorder=3)
        y_end = y_top - len(themes) * row_h
        ax.plot([margin, right], [y_end, y_end], color="black", linewidth=0.8)

        _gap_map_legends(fig, ax, height, y_end - 0.12, n_max, d_max, fs, margin)
        return save(fig, path, tight=False)


def _gap_map_legends(fig, ax, height, y_legend, n_max, d_max, fs, margin) -> None:
    values = list(range(1, n_max + 1)) if n_max <= 3 else sorted({1, round(n_max / 2), n_max})
    common = dict(
        loc="upper left",
        bbox_transform=ax.transData,
        frameon=False,
        fontsize=fs - 0.5,
        title_fontsize=fs,
        alignment="left",
        borderaxespad=0,
        borderpad=0,
        handletextpad=0.3,
    )
    # Bubble sizes, drawn by hand so that bubbles and their counts share one baseline.
    ax.text(margin, y_legend, "Studies (bubble area)", fontsize=fs, va="top")
    y_bubbles = y_legend - fs * 1.4 / 72 - d_max / 72 / 2 - 0.03
    x = margin + 0.05
    for v in values:
        radius = d_max * np.sqrt(v / n_max) / 2 / 72
        x += radius
        ax.scatter(
            [x],
            [y_bubbles],
            s=d_max**2 * v / n_max,
            facecolors="none",
            edgecolors="#333333",
            linewidths=0.6,
        )
        label = ax.text(x + radius + 0.04, y_bubbles, str(v), fontsize=fs - 0.5, va="center")
        x += radius + 0.04 + text_width_in(fig, [label.get_text()], fs - 0.5) + 0.15
    others = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markersize=8,
            markerfacecolor=NO_VOTES_COLOUR,
            markeredgecolor="#333333",
            markeredgewidth=0.5,
            label="No benefit or harm votes\n(no effect, mixed or unclear)",
        ),
        Line2D(
            [],
            [],
            linestyle="none",
            marker="o",
            markersize=np.sqrt(3),
            color="#C8C8C8",
            label="No study: an evidence gap",
        ),
    ]
    ax.legend(
        handles=others, title=" ", bbox_to_anchor=(4.35, y_legend), labelspacing=0.8, **common
    )
    # Colour bar for the net direction.
    bar_w, bar_h = 1.8, 0.12
    x_bar, y_bar = 2.2, y_legend - 0.42
    cax = fig.add_axes((x_bar / A4_WIDTH_IN, y_bar / height, bar_w / A4_WIDTH_IN, bar_h / height))
    bar = fig.colorbar(
        matplotlib.cm.ScalarMappable(
            norm=matplotlib.colors.Normalize(-1, 1), cmap=NET_DIRECTION_CMAP
        ),
        cax=cax,
        orientation="horizontal",
    )
    bar.set_ticks([-1, 0, 1], labels=["All harm", "Even", "All benefit"])
    bar.ax.tick_params(labelsize=fs - 1, length=2)
    bar.outline.set_linewidth(0.5)
    ax.text(
        x_bar,
        y_legend,
        "Net direction\n(benefit − harm) ÷ studies",
        fontsize=fs,
        va="top",
        ha="left",
        linespacing=1.2,
    )
