"""Alt text that carries each figure's data (issue 13): a reader who cannot see the chart gets
the numbers it shows, read from the same result tables the figure was drawn from.

Each builder takes result tables and returns plain text;
:func:`evsynth.markdown_blocks.figure` escapes it for the attribute it goes into. Nothing is
computed here beyond choosing and wording the values: percentages, estimates and counts are
the stages' own.
"""

from __future__ import annotations

import math

import pandas as pd

from evsynth.contract import EFFECT_MEASURES

#: A figure's alt text stops listing after this many characters (with "and N more"): screen
#: readers read it in one go, and the tables beside the figure hold the rest.
MAX_CHARS = 3000
#: The PRISMA flow's stages in the order the diagram reads (top to bottom).
PRISMA_ORDER = (
    "identified_databases",
    "identified_other",
    "duplicates_removed",
    "screened",
    "excluded_screening",
    "full_text_assessed",
    "excluded_full_text",
    "included",
)


def _text(value: object) -> str:
    """Sheet or codebook text on one line (an attribute holds no line breaks)."""
    return " ".join(str(value).split())


def _num(x: object, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)) or x == "":
        return "n/a"
    return f"{float(x):.{digits}f}"


def _pct(x: object) -> str:
    return "n/a" if _num(x) == "n/a" else f"{float(x):.0f}%"


def _capped(head: str, items: list[str], sep: str = "; ") -> str:
    """``head`` and the items, as many as fit ``MAX_CHARS``, then how many are left out."""
    out, used = [], len(head)
    for i, item in enumerate(items):
        if used + len(item) + len(sep) > MAX_CHARS:
            return head + sep.join(out) + f"; and {len(items) - i} more (see the tables)."
        out.append(item)
        used += len(item) + len(sep)
    return head + sep.join(out) + "."


def themes(table: pd.DataFrame, n_included: int) -> str:
    """The themes chart: each theme with its count and percentage, sub-themes under their
    parent ("Multi-agency working 16 (50%), with sub-themes: Information sharing 8 (25%), ...")."""
    rows = table.reset_index(drop=True)
    levels = [int(v) for v in rows["level"]]

    def entry(i: int) -> tuple[str, int]:
        r = rows.iloc[i]
        text = f"{_text(r['label'])} {int(r['n_studies'])} ({_pct(r['pct_studies'])})"
        j, children = i + 1, []
        while j < len(rows) and levels[j] > levels[i]:
            child, j = entry(j)
            children.append(child)
        if children:
            text += " (sub-themes: " + ", ".join(children) + ")"
        return text, j

    tops, i = [], 0
    while i < len(rows):
        text, i = entry(i)
        tops.append(text)
    head = (
        f"Horizontal bar chart of the included records coded with each theme, of "
        f"{n_included}, with sub-themes indented under their parent: "
    )
    return _capped(head, tops)


def forest(meta: pd.DataFrame, estimates: pd.DataFrame, weights: pd.DataFrame) -> str:
    """The forest plots: per pooled outcome and measure, each study's estimate, 95% CI and
    weight, then the pooled estimate, its CI and prediction interval. ``meta`` is the main
    analyses of ``outcomes/meta_analysis``; ``estimates`` the clean outcomes table (empty: the
    studies are named without their estimates); ``weights`` ``outcomes/study_weights``."""
    panels = []
    for _, m in meta.iterrows():
        ids = [s for s in str(m["study_ids"]).split(";") if s]
        measure = EFFECT_MEASURES.get(m["effect_measure"], m["effect_measure"])
        studies = []
        for sid in ids:
            text = sid
            if len(estimates):
                own = estimates[
                    (estimates["study_id"] == sid)
                    & (estimates["outcome"] == m["outcome"])
                    & (estimates["effect_measure"] == m["effect_measure"])
                ]
                if len(own):  # the first row, as the meta-analysis uses it
                    e = own.iloc[0]
                    text += (
                        f" {_num(e['estimate'])} (95% CI {_num(e['ci_lower'])} to "
                        f"{_num(e['ci_upper'])})"
                    )
            if len(weights):
                w = weights[
                    (weights["study_id"] == sid)
                    & (weights["outcome"] == m["outcome"])
                    & (weights["effect_measure"] == m["effect_measure"])
                ]
                if len(w):
                    text += f", weight {float(w['weight'].iloc[0]) * 100:.0f}%"
            studies.append(text)
        panels.append(
            f"{_text(m['label'])}, {measure.lower()}, {len(ids)} studies: "
            + "; ".join(studies)
            + f"; pooled {_num(m['estimate'])} (95% CI {_num(m['ci_lower'])} to "
            f"{_num(m['ci_upper'])}), 95% prediction interval {_num(m['pi_lower'])} to "
            f"{_num(m['pi_upper'])}, I² {_pct(m['i2'])}"
        )
    return _capped("Forest plots, one per pooled outcome. ", panels, sep=". ")


def effect_direction(direction: pd.DataFrame) -> str:
    """The effect direction plot: per outcome, the studies by direction and the sign test."""
    items = [
        f"{_text(r['label'])}: {int(r['k'])} studies, {int(r['n_benefit'])} benefit, "
        f"{int(r['n_harm'])} harm, {int(r['n_no_effect'])} no effect, {int(r['n_mixed'])} "
        f"mixed, {int(r['n_unclear'])} unclear "
        f"(studies {_text(r['study_ids']).replace(';', ', ')}); "
        f"sign test p = {_num(r['sign_test_p'], 3)}"
        for _, r in direction.iterrows()
    ]
    return _capped(
        "Effect direction plot, a row per study and a column per outcome, with a marker for "
        "each direction. Per outcome: ",
        items,
    )


def gap_map(cells: pd.DataFrame, themes_table: pd.DataFrame, direction: pd.DataFrame) -> str:
    """The evidence gap map (``outcomes/gap_map``): per theme, the outcomes with studies, their
    number and directions; the pairs with none are gaps. Labels from the themes and direction
    tables."""
    labels = dict(zip(themes_table["code"], themes_table["label"], strict=True))
    outcome_labels = dict(zip(direction["outcome"], direction["label"], strict=True))
    items = []
    for theme, rows in cells.groupby("theme", sort=False):
        found = rows[rows["n_studies"].astype(int) > 0]
        parts = [
            f"{_text(outcome_labels.get(r['outcome'], r['outcome']))} {int(r['n_studies'])} "
            f"({int(r['n_benefit'])} benefit, {int(r['n_harm'])} harm)"
            for _, r in found.iterrows()
        ]
        gaps = len(rows) - len(found)
        text = f"{_text(labels.get(theme, theme))}: " + (", ".join(parts) or "no studies")
        if gaps:
            text += f"; {gaps} outcome{'s' if gaps != 1 else ''} without studies"
        items.append(text)
    return _capped(
        "Evidence gap map of themes (rows) by outcomes (columns); per theme, the studies "
        "reporting each outcome and their direction: ",
        items,
    )


def prisma(screening: pd.DataFrame) -> str:
    """The PRISMA flow: the count at each stage and the full-text exclusions by reason, as
    the diagram sums them (:mod:`evsynth.prisma`) from the clean screening table."""
    from evsynth.prisma import full_text_exclusions, stage_counts

    counts, exclusions = stage_counts(screening), full_text_exclusions(screening)
    known = [s for s in PRISMA_ORDER if s in counts]
    order = known + [s for s in counts if s not in PRISMA_ORDER]
    stages = [f"{stage.replace('_', ' ')} {counts[stage]}" for stage in order]
    reasons = [f"{_text(r['reason'])} {int(r['count'])}" for _, r in exclusions.iterrows()]
    text = "PRISMA 2020 flow diagram. Records by stage: " + "; ".join(stages)
    if reasons:
        text += ". Full-text reports excluded, by reason: " + "; ".join(reasons)
    return _capped(text, [])


def appraisal(summary: pd.DataFrame, share: bool) -> str:
    """The traffic-light plot (``share`` False: studies per judgement) or the summary plot
    (``share`` True: the share at each judgement, of weight where the plot uses it), per tool
    and domain."""
    items = []
    for _, rows in summary.groupby("tool", sort=False):
        by_weight = share and rows["pct_weight"].notna().any()
        domains = []
        for _, drows in rows.groupby("domain", sort=False):
            at = [
                f"{_text(r['judgement_label'])} "
                + (
                    _pct(r["pct_weight"] if by_weight else r["pct_studies"])
                    if share
                    else str(int(r["n_studies"]))
                )
                for _, r in drows.iterrows()
                if share or int(r["n_studies"])
            ]
            domains.append(f"{_text(drows['domain_label'].iloc[0])}: {', '.join(at)}")
        n = int(rows["n_appraised"].max())
        basis = " (shares of meta-analysis weight)" if by_weight else ""
        items.append(
            f"{_text(rows['tool_label'].iloc[0])}, {n} studies{basis}: " + "; ".join(domains)
        )
    kind = (
        "Appraisal summary, per tool and domain, the share at each judgement. "
        if share
        else "Traffic-light plot of each study's appraisal; per tool and domain, the studies "
        "at each judgement. "
    )
    return _capped(kind, items, sep=". ")
