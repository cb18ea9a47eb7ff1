"""The PRISMA 2020 flow diagram, drawn from the screening counts.

Boxes follow the PRISMA 2020 statement's template for new systematic reviews (Page et al.,
BMJ 2021;372:n71): identification, screening, eligibility (full-text) and included, with
the exclusions and their reasons to the right. The counts come from
:func:`evsynth.prisma.stage_counts`.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import FancyBboxPatch

from evsynth.figures.style import A4_WIDTH_IN, OKABE_ITO, STYLE, one_at_a_time, save

LEFT, RIGHT = (0.05, 4.2), (4.9, 9.95)  # box x-extents, in axis units (0..10)
LINE = 0.3  # height of a text line, in axis units, at the figure height below
PAD = 0.35


def _box(ax, x: tuple[float, float], y_top: float, lines: list[str], side: bool) -> float:
    """Draw a box of wrapped text whose top edge is at ``y_top``; return its bottom edge."""
    height = LINE * len(lines) + PAD
    ax.add_patch(
        FancyBboxPatch(
            (x[0], y_top - height),
            x[1] - x[0],
            height,
            boxstyle="round,pad=0,rounding_size=0.12",
            facecolor="#F4F6F8" if side else "white",
            edgecolor="#999999" if side else OKABE_ITO["blue"],
            linewidth=1,
        )
    )
    ax.text(
        x[0] + 0.15 if side else (x[0] + x[1]) / 2,
        y_top - height / 2,
        "\n".join(lines),
        ha="left" if side else "center",
        va="center",
        fontsize=7.5,
        linespacing=1.35,
    )
    return y_top - height


def _wrap(text: str, width: int) -> list[str]:
    # "(n = 12)" never breaks: its spaces become non-breaking before wrapping.
    text = text.replace("n = ", "n\u00a0=\u00a0")
    return [line for part in text.split("\n") for line in textwrap.wrap(part, width) or [""]]


@one_at_a_time
def prisma_diagram(n: dict[str, int], reasons: pd.DataFrame, path: Path) -> tuple[Path, Path]:
    """Draw the flow from ``n``, the records per screening stage, and ``reasons``, the
    screening rows of the full-text exclusions (``reason`` and ``count``), in their order."""
    rows = [
        (
            "Identification",
            f"Records identified from databases (n = {n.get('identified_databases', 0)}) and other "
            f"sources (n = {n.get('identified_other', 0)})",
            f"Duplicate records removed (n = {n.get('duplicates_removed', 0)})",
        ),
        (
            "Screening",
            f"Records screened (n = {n.get('screened', 0)})",
            f"Records excluded (n = {n.get('excluded_screening', 0)})",
        ),
        (
            "Eligibility",
            f"Reports assessed for eligibility (n = {n.get('full_text_assessed', 0)})",
            f"Reports excluded (n = {n.get('excluded_full_text', 0)}):\n"
            + "\n".join(
                f"• {r.reason or 'reason not given'} (n = {int(r.count)})"
                for r in reasons.itertuples(index=False)
            ),
        ),
        ("Included", f"Studies included in the review (n = {n.get('included', 0)})", None),
    ]
    wrapped = [
        (phase, _wrap(main, 32), _wrap(side, 42) if side else None) for phase, main, side in rows
    ]
    gap = 0.8
    total = sum(max(len(m), len(s or [])) * LINE + PAD for _, m, s in wrapped) + gap * 4
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(A4_WIDTH_IN, 0.55 * total + 0.3))
        ax.set_xlim(0, 10)
        ax.set_ylim(0, total)
        ax.axis("off")
        top = total - gap
        previous_bottom = None
        for phase, main, side in wrapped:
            row_height = max(len(main), len(side or [])) * LINE + PAD
            main_top = top - (row_height - (len(main) * LINE + PAD)) / 2
            bottom = _box(ax, LEFT, main_top, main, side=False)
            centre = (main_top + bottom) / 2
            if side:
                side_top = top - (row_height - (len(side) * LINE + PAD)) / 2
                _box(ax, RIGHT, side_top, side, side=True)
                ax.annotate(
                    "",
                    xy=(RIGHT[0], centre),
                    xytext=(LEFT[1], centre),
                    arrowprops={"arrowstyle": "->", "color": "#555555"},
                )
            if previous_bottom is not None:
                mid = (LEFT[0] + LEFT[1]) / 2
                ax.annotate(
                    "",
                    xy=(mid, main_top),
                    xytext=(mid, previous_bottom),
                    arrowprops={"arrowstyle": "->", "color": "#555555"},
                )
            ax.text(
                LEFT[0],
                main_top + 0.08,
                phase.upper(),
                ha="left",
                va="bottom",
                fontsize=6.5,
                fontweight="bold",
                color=OKABE_ITO["blue"],
            )
            previous_bottom = bottom
            top -= row_height + gap
        return save(fig, path)
