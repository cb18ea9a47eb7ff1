"""The report's words on effects computed from arm-level data and on the Mantel-Haenszel
estimate (issue 14): the evidence review's paragraph and table, and one plain sentence the
short formats may quote. Reads the result tables only; computes nothing new."""

from __future__ import annotations

import pandas as pd

from evsynth.escape import markdown_text as md
from evsynth.markdown_blocks import pipe_table
from evsynth.outcomes import MH_COLUMNS

#: The columns whose values mark a row's effect as computed from arm-level data.
ARM_MARKERS = ("int_events", "int_mean")


def computed_rows(outcomes: pd.DataFrame) -> pd.DataFrame:
    """The clean outcomes rows whose effect came from arm-level data (counts or means)."""
    present = [c for c in ARM_MARKERS if c in outcomes]
    if outcomes.empty or not present:
        return outcomes.iloc[:0]
    # Typed (clean/outcomes.parquet): a blank count is <NA>, a blank mean NaN; text: "".
    given = pd.concat(
        [pd.to_numeric(outcomes[c].replace("", None), errors="coerce").notna() for c in present],
        axis=1,
    ).any(axis=1)
    return outcomes[given]


def _interval(estimate: float, lower: float, upper: float) -> str:
    return f"{estimate:.2f} ({lower:.2f} to {upper:.2f})"


def arm_data_partial(meta: pd.DataFrame, outcomes: pd.DataFrame) -> str:
    """``_generated/effect-sizes.md``: which study estimates were computed from arm-level data
    and how, and a table of the Mantel-Haenszel estimates beside the random-effects ones.
    Empty when no row gives arm-level data."""
    rows = computed_rows(outcomes)
    if rows.empty:
        return ""
    ids = ", ".join(md(s) for s in sorted(set(rows["study_id"])))
    n = len(rows)
    out = [
        f"**Effects computed from group-level numbers.** {n} stud"
        f"{'y estimate was' if n == 1 else 'y estimates were'} computed from the numbers "
        f"reported for each group ({ids}): odds ratios, risk ratios and risk differences from "
        "the events and participants in each arm, with 0.5 added to every cell of a table with "
        "a zero; mean differences, and standardised mean differences as Hedges' g, from the "
        "means and standard deviations (as metafor's escalc computes them).\n"
    ]
    main = meta[meta["analysis"] == "main"] if "analysis" in meta else meta.iloc[:0]
    if all(c in main for c in MH_COLUMNS):
        main = main[pd.to_numeric(main["mh_estimate"], errors="coerce").notna()]
    else:
        main = main.iloc[:0]
    if not main.empty:
        table = [
            [
                md(r.label),
                md(str(r.effect_measure).upper()),
                str(r.k),
                _interval(r.estimate, r.ci_lower, r.ci_upper),
                _interval(r.mh_estimate, r.mh_ci_lower, r.mh_ci_upper),
            ]
            for r in main.itertuples(index=False)
        ]
        out.append(
            "Where every study of a meta-analysis gives its events and participants, the "
            "Mantel–Haenszel estimate (a common-effect method that needs no correction for "
            "zero cells) stands beside the random-effects one.\n"
        )
        out.append(
            pipe_table(
                [
                    "Outcome",
                    "Measure",
                    "Studies",
                    "Random effects (95% CI)",
                    "Mantel–Haenszel (95% CI)",
                ],
                table,
                [24, 10, 8, 24, 24],
                "llrll",
                "Mantel–Haenszel and random-effects estimates",
            )
        )
    return "\n".join(out)


def arm_data_sentence(meta: pd.DataFrame, outcomes: pd.DataFrame) -> str:
    """``_generated/effect-sizes-sentence.md``: one plain sentence for the summaries and
    briefings, or empty when no effect was computed from arm-level data."""
    n = len(computed_rows(outcomes))
    if n == 0:
        return ""
    main = meta[meta["analysis"] == "main"] if "analysis" in meta else meta.iloc[:0]
    mh = pd.to_numeric(main.get("mh_estimate", pd.Series(dtype=float)), errors="coerce")
    also = " and checked with a second method for yes/no outcomes" if mh.notna().any() else ""
    what = "result was" if n == 1 else "results were"
    return f"{n} study {what} worked out from the numbers in each group{also}.\n"


def effect_size_partials(meta: pd.DataFrame, outcomes: pd.DataFrame) -> dict[str, str]:
    """The report's partials from this module (``_generated/`` paths -> Markdown)."""
    return {
        "effect-sizes.md": arm_data_partial(meta, outcomes),
        "effect-sizes-sentence.md": arm_data_sentence(meta, outcomes),
    }
