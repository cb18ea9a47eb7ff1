"""Appraisal figures, as reviewers know them from robvis (McGuinness & Higgins, Res Synth Methods
2021;12:55-61): the traffic-light plot (a row per study, a column per domain, one panel per tool)
and the summary plot (per domain, the share of studies, or of meta-analysis weight, at each
judgement).

Each display level has a colour and a symbol, so the plots read in greyscale and for colour-blind
readers: good ``+`` green, fair ``−`` yellow, poor ``×`` vermillion, unclear ``?`` sky blue, all
from the Okabe–Ito palette (robvis's Cochrane colours with the same meaning); the summary bars
are hatched by level as well. Both draw the appraisal stage's tables (:mod:`evsynth.appraisal`)
and compute nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from evsynth.codebook import APPRAISAL_LEVELS, AppraisalTool
from evsynth.figures.layout import (
    MAX_PLOT_STUDIES,
    inch_canvas,
    measuring_figure,
    text_settings,
    text_width_px,
)
from evsynth.figures.style import A4_WIDTH_IN, OKABE_ITO, STYLE, one_at_a_time, placeholder, save

LEVEL_COLOURS = {
    "good": OKABE_ITO["green"],
    "fair": OKABE_ITO["yellow"],
    "poor": OKABE_ITO["vermillion"],
    "unclear": OKABE_ITO["sky_blue"],
}
#: A traffic-light plot taller than this many times its width is laid out in two columns: the
#: report prints figures at the text width, and a taller one would be shrunk to fit the page.
MAX_ASPECT = 1.25
COLUMN_GAP_IN = 0.3
LEVEL_SYMBOLS = {"good": "+", "fair": "−", "poor": "×", "unclear": "?"}
LEVEL_HATCHES = {"good": "", "fair": "...", "poor": "///", "unclear": "xx"}
assert set(LEVEL_COLOURS) == set(APPRAISAL_LEVELS)  # the contract's four levels, no more


def text_width_in(fig: plt.Figure, texts, fontsize: float, weight: str = "normal") -> float:
    """The widest of ``texts`` in inches, each measured as one line by the renderer
    (:func:`evsynth.figures.layout.text_width_px`, remembered): the appraisal plots measure
    every domain label and study ID, several times over as they are laid out."""
    settings = text_settings()
    widest = 0.0
    for text in texts:
        w = text_width_px(str(text), fontsize, weight, fig.dpi, settings)
        widest = max(widest, w / fig.dpi)
    return widest


def fit_text(
    fig: plt.Figure, text: str, width_in: float, fontsize: float, weight: str = "normal"
) -> str:
    """``text`` cut with an ellipsis to fit ``width_in`` (bisection on its length)."""
    text = str(text)
    if text_width_in(fig, [text], fontsize, weight) <= width_in:
        return text
    lo, hi = 0, len(text)  # text[:lo] + "…" fits; text[:hi] + "…" does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        fits = text_width_in(fig, [text[:mid].rstrip() + "…"], fontsize, weight) <= width_in
        lo, hi = (mid, hi) if fits else (lo, mid)
    return text[:lo].rstrip() + "…"


def wrap_two(
    fig: plt.Figure,
    text: str,
    width_in: float,
    fontsize: float,
    lines: int = 2,
    weight: str = "normal",
) -> str:
    """Greedy word wrap to at most ``lines`` lines of ``width_in``; the last cut to fit."""
    words = str(text).split()
    first: list[str] = []
    while (
        words and text_width_in(fig, [" ".join([*first, words[0]])], fontsize, weight) <= width_in
    ):
        first.append(words.pop(0))
    if not first:  # one very long word: cut it on one line
        return fit_text(fig, str(text), width_in, fontsize, weight)
    rest = " ".join(words)
    if not rest:
        return " ".join(first)
    tail = (
        wrap_two(fig, rest, width_in, fontsize, lines - 1, weight)
        if lines > 2
        else fit_text(fig, rest, width_in, fontsize, weight)
    )
    return " ".join(first) + "\n" + tail


def _key_line(code: str, label: str) -> str:
    """ "code: label", without the code twice where the label starts with it (MMAT's "1.1 Is
    the qualitative approach ...")."""
    return label if label.split(" ", 1)[0] == code else f"{code}: {label}"


def _circle(ax, x: float, y: float, level: str, size: float, fs: float) -> None:
    ax.scatter(
        [x],
        [y],
        s=size,
        marker="o",
        color=LEVEL_COLOURS[level],
        edgecolors="black",
        linewidths=0.5,
        zorder=3,
    )
    ax.text(x, y, LEVEL_SYMBOLS[level], ha="center", va="center_baseline", fontsize=fs, zorder=4)


def _legend_lines(
    fig: plt.Figure, tool: AppraisalTool, width_in: float, fs: float
) -> list[list[tuple[str, str, float]]]:
    """The tool's judgements as legend entries (level, label, width), flowed into lines."""
    lines: list[list[tuple[str, str, float]]] = [[]]
    used = text_width_in(fig, ["Judgement:"], fs, "bold") + 0.1
    for judgement in tool.judgements.values():
        label = fit_text(fig, judgement.label, width_in - 0.6, fs)
        w = 0.22 + text_width_in(fig, [label], fs) + 0.18
        if lines[-1] and used + w > width_in:
            lines.append([])
            used = 0.0
        lines[-1].append((judgement.level, label, w))
        used += w
    return lines


def _studies_shown(judged: pd.DataFrame) -> tuple[list[str], str]:
    """The studies a panel draws: all, or the ``MAX_PLOT_STUDIES`` with the most weight (ties,
    and every study when there are no weights, by ID), with a note saying so."""
    weight = pd.to_numeric(judged["weight"], errors="coerce").groupby(judged["study_id"]).max()
    ids = sorted(weight.index)
    if len(ids) <= MAX_PLOT_STUDIES:
        return ids, ""
    order = (
        weight.fillna(-np.inf)
        .reset_index()
        .sort_values(["weight", "study_id"], ascending=[False, True], kind="stable")
    )
    keep = sorted(order["study_id"].head(MAX_PLOT_STUDIES))
    basis = (
        "most weight in the meta-analyses, then by ID" if weight.notna().any() else "first by ID"
    )
    note = (
        f"Showing {MAX_PLOT_STUDIES} of {len(ids)} studies ({basis}); every study is in the "
        "summary plot and the appraisal tables."
    )
    return keep, note


@dataclass(frozen=True)
class _Panel:
    """One tool's panel of the traffic-light plot, measured before it is drawn."""

    tool: AppraisalTool
    levels: pd.Series  # level by (study_id, domain)
    ids: list[str]
    note: str
    fs: float
    row_h: float
    label_w: float
    col_w: float
    headers: list[str]
    head_h: float
    upright: bool  # column headers drawn vertically
    key: str  # "code: label" per domain, under the legend (robvis's caption)
    key_h: float
    title: str
    title_h: float
    legend: list[list[tuple[str, str, float]]]
    height: float


def _measure(fig: plt.Figure, tool: AppraisalTool, rows: pd.DataFrame, width: float) -> _Panel:
    """Lay out one tool's panel ``width`` inches wide."""
    ids, note = _studies_shown(rows)
    dense = len(ids) > 60
    fs = 6.5 if dense else 8.0
    row_h = 0.15 if dense else 0.2
    label_w = min(max(text_width_in(fig, [*ids, "Study"], fs, "bold") + 0.15, 0.6), 1.8)
    col_w = min((width - label_w) / len(tool.domains), 1.1)
    # Columns are headed by the domain codes and a key gives each label, as robvis does: the
    # labels of some tools are whole questions (MMAT), too long to head a column.
    # A code wider than its column ("overall" over eight domains in a half-width panel) turns
    # the headers upright rather than cutting it short.
    upright = text_width_in(fig, list(tool.domains), fs, "bold") > col_w - 0.04
    headers = [fit_text(fig, code, 1.0, fs, "bold") for code in tool.domains]
    head_h = text_width_in(fig, headers, fs, "bold") if upright else fs * 1.25 / 72
    key = "\n".join(
        wrap_two(fig, _key_line(code, label), width - 0.3, fs - 0.5, lines=3)
        for code, label in tool.domains.items()
    )
    key_h = (key.count("\n") + 1) * (fs - 0.5) * 1.3 / 72 + 0.08
    title = wrap_two(fig, tool.label, width, fs + 1, weight="bold")
    title_h = (title.count("\n") + 1) * (fs + 1) * 1.3 / 72 + 0.06
    legend = _legend_lines(fig, tool, width, fs - 0.5)
    note = wrap_two(fig, note, width - 0.3, fs - 0.5) if note else ""
    note_h = (note.count("\n") + 1) * fs * 1.25 / 72 + 0.04 if note else 0.0
    height = (
        title_h + head_h + 0.1 + len(ids) * row_h + 0.1 + len(legend) * 0.2 + key_h + note_h + 0.2
    )
    return _Panel(
        tool=tool,
        levels=rows.set_index(["study_id", "domain"])["level"],
        ids=ids,
        note=note,
        fs=fs,
        row_h=row_h,
        label_w=label_w,
        col_w=col_w,
        headers=headers,
        head_h=head_h,
        upright=upright,
        key=key,
        key_h=key_h,
        title=title,
        title_h=title_h,
        legend=legend,
        height=height,
    )


def _draw_panel(fig: plt.Figure, ax, p: _Panel, top: float, margin: float) -> None:
    """Draw a measured panel with its top-left corner at (``margin``, ``top``) inches."""
    fs = p.fs
    ax.text(margin, top - 0.04, p.title, fontsize=fs + 1, fontweight="bold", va="top")
    y_top = top - p.title_h - p.head_h - 0.1
    x_cols = margin + p.label_w + p.col_w * (np.arange(len(p.tool.domains)) + 0.5)
    right = margin + p.label_w + p.col_w * len(p.tool.domains)
    ax.text(margin, y_top + 0.05, "Study", fontsize=fs, fontweight="bold", va="bottom")
    for x, head in zip(x_cols, p.headers, strict=True):
        ax.text(
            x,
            y_top + 0.05,
            head,
            fontsize=fs,
            fontweight="bold",
            ha="center",
            va="bottom",
            linespacing=1.1,
            rotation=90 if p.upright else 0,
        )
    ax.plot([margin, right], [y_top, y_top], color="black", linewidth=0.8)
    size = (p.row_h * 72 * 0.85) ** 2  # circle diameter 85% of the row, in points²
    for i, study in enumerate(p.ids):
        yc = y_top - (i + 0.5) * p.row_h
        if i % 2:  # banded rows guide the eye along a study
            ax.fill_between(
                [margin, right], yc - p.row_h / 2, yc + p.row_h / 2, color="#F2F2F2", zorder=0
            )
        ax.text(margin, yc, fit_text(fig, study, p.label_w - 0.1, fs), fontsize=fs, va="center")
        for x, domain in zip(x_cols, p.tool.domains, strict=True):
            level = p.levels.get((study, domain))
            if level in LEVEL_COLOURS:
                _circle(ax, float(x), yc, str(level), size, fs - 1)
    y = y_top - len(p.ids) * p.row_h - 0.1
    ax.plot([margin, right], [y + 0.05, y + 0.05], color="black", linewidth=0.8)
    for n, line in enumerate(p.legend):
        yl = y - 0.1 - n * 0.2
        x = margin
        if n == 0:
            ax.text(x, yl, "Judgement:", fontsize=fs - 0.5, fontweight="bold", va="center")
            x += text_width_in(fig, ["Judgement:"], fs - 0.5, "bold") + 0.1
        for level, label, w in line:
            _circle(ax, x + 0.08, yl, level, (0.16 * 72) ** 2 * 0.8, fs - 1.5)
            ax.text(x + 0.22, yl, label, fontsize=fs - 0.5, va="center")
            x += w
    y_key = y - 0.1 - len(p.legend) * 0.2 + 0.06
    ax.text(margin, y_key, p.key, fontsize=fs - 0.5, va="top", linespacing=1.3, color="#333333")
    if p.note:
        y_note = y_key - p.key_h
        ax.text(margin, y_note, p.note, fontsize=fs - 0.5, va="top", style="italic")


@one_at_a_time
def traffic_light_plot(
    judged: pd.DataFrame, tools: Mapping[str, AppraisalTool], path: Path
) -> tuple[Path, Path]:
    """Traffic-light plot (robvis ``rob_traffic_light``): for each tool studies were appraised
    with (codebook order), a panel with a row per study and a column per domain (the tool's
    order), a circle per judgement coloured and marked by its level, and the tool's judgements
    as its legend. ``judged`` is :func:`evsynth.appraisal.by_study`'s table. Laid out in inches
    at A4 width; above ``MAX_PLOT_STUDIES`` studies a panel shows the most heavily weighted."""
    used = [code for code in tools if (judged["tool"] == code).any()] if len(judged) else []
    if not used:
        return placeholder(path, "No study appraisals in this review")
    margin = 0.05
    with plt.rc_context(STYLE):
        fig = measuring_figure()
        rows = {c: judged[judged["tool"] == c] for c in used}
        panels = [_measure(fig, tools[c], rows[c], A4_WIDTH_IN - 2 * margin) for c in used]
        columns = [panels]
        if len(panels) > 1 and sum(p.height for p in panels) > MAX_ASPECT * A4_WIDTH_IN:
            # Too tall to print at full size (issue 13: four tools stacked were 2.2 times
            # taller than wide, and the PDF shrank their text): two columns side by side.
            half = (A4_WIDTH_IN - 2 * margin - COLUMN_GAP_IN) / 2
            columns = _balanced([_measure(fig, tools[c], rows[c], half) for c in used])
        total = max(sum(p.height for p in column) for column in columns)
        fig, ax = inch_canvas(total)
        left = margin
        for column in columns:
            top = total
            for panel in column:
                _draw_panel(fig, ax, panel, top, left)
                top -= panel.height
            left += (A4_WIDTH_IN - 2 * margin + COLUMN_GAP_IN) / len(columns)
        return save(fig, path, tight=False)


def _balanced(panels: list[_Panel]) -> list[list[_Panel]]:
    """The panels in two columns, in order (down the first, then the second), cut where the
    taller column is shortest."""
    heights = [p.height for p in panels]
    cut = min(
        range(1, len(panels)),
        key=lambda i: max(sum(heights[:i]), sum(heights[i:])),
    )
    return [panels[:cut], panels[cut:]]


@one_at_a_time
def appraisal_summary_plot(summary: pd.DataFrame, path: Path, weighted: bool) -> tuple[Path, Path]:
    """Summary plot (robvis ``rob_summary``): for each tool, a bar per domain split by the
    share at each judgement (best first, left to right), coloured and hatched by level. With
    ``weighted``, the shares are of meta-analysis weight (``pct_weight``) for every tool whose
    studies carry some, else of studies; the panel's title says which. ``summary`` is
    :func:`evsynth.appraisal.summary`'s table."""
    if summary.empty:
        return placeholder(path, "No study appraisals in this review")
    tools = list(dict.fromkeys(summary["tool"]))
    n_domains = [summary.loc[summary["tool"] == t, "domain"].nunique() for t in tools]
    heights = [0.35 * n + 1.1 for n in n_domains]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            len(tools),
            1,
            figsize=(A4_WIDTH_IN, sum(heights)),
            gridspec_kw={"height_ratios": heights},
            squeeze=False,
        )
        titles = []
        for ax, tool in zip(axes[:, 0], tools, strict=True):
            rows = summary[summary["tool"] == tool]
            by_weight = weighted and rows["pct_weight"].notna().any()
            share = "pct_weight" if by_weight else "pct_studies"
            domains = list(dict.fromkeys(rows["domain"]))
            labels = dict(zip(rows["domain"], rows["domain_label"], strict=False))
            y = np.arange(len(domains))[::-1].astype(float)
            left = np.zeros(len(domains))
            handles = []
            for judgement in dict.fromkeys(rows["judgement"]):
                at = rows[rows["judgement"] == judgement].set_index("domain")
                values = at[share].reindex(domains).fillna(0.0).to_numpy(dtype=float)
                level = str(at["level"].iloc[0])
                style = dict(
                    facecolor=LEVEL_COLOURS[level],
                    hatch=LEVEL_HATCHES[level],
                    edgecolor="white",
                    linewidth=0.6,
                )
                ax.barh(y, values, left=left, height=0.65, **style)
                left += values
                label = fit_text(fig, str(at["judgement_label"].iloc[0]), 1.8, 7.5)
                handles.append(Patch(label=f"{LEVEL_SYMBOLS[level]} {label}", **style))
            ticks = [wrap_two(fig, str(labels[d]), 2.6, 8.0) for d in domains]
            ax.set_yticks(y, ticks)
            for tick, domain in zip(ax.get_yticklabels(), domains, strict=True):
                if domain == "overall":  # robvis sets the overall judgement apart
                    tick.set_fontweight("bold")
            n = int(rows["n_appraised"].max())
            basis = "meta-analysis weight" if by_weight else f"{n} stud{'y' if n == 1 else 'ies'}"
            titles.append((ax, str(rows["tool_label"].iloc[0]), f"Share of {basis}"))
            ax.set_xlim(0, 100)
            ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
            ax.tick_params(axis="y", length=0)
            ax.legend(
                handles=handles,
                ncols=min(len(handles), 4),
                loc="upper center",
                bbox_to_anchor=(0.5, -0.08 - 0.25 / max(len(domains), 1)),
                frameon=False,
                fontsize=7.5,
            )
        fig.tight_layout()
        # Titles fit the bars' width once laid out, so the figure stays A4-wide.
        for ax, label, basis in titles:
            width = ax.get_position().width * A4_WIDTH_IN
            label = fit_text(fig, label, width, 10, "bold")
            ax.set_title(f"{label}\n{fit_text(fig, basis, width, 9)}", loc="left")
        fig.tight_layout()
        return save(fig, path)
