"""Small-study effects: Egger's regression test and the contour-enhanced funnel plot.

Per outcome and effect measure with effect estimates (the studies the meta-analysis pools,
:func:`evsynth.outcomes.effect_sizes`), ``outcomes/small_study.csv`` gives Egger's classic
regression test where k >= 10 and says "not assessed (k < 10)" otherwise:

* Egger et al., BMJ 1997;315:629-634: the standard normal deviate ``yi / sei`` regressed on the
  precision ``1 / sei`` by ordinary least squares; the intercept measures asymmetry and is
  tested with t on k - 2 degrees of freedom (:func:`evsynth.stats.egger_test`). This equals
  metafor's ``regtest(model = "lm", predictor = "sei")``, whose coefficient of ``sei`` is
  Egger's intercept (the weighted regression of ``yi`` on ``sei`` divided through by ``sei``).
* Only where k >= 10: with fewer studies the test cannot tell chance from asymmetry (Cochrane
  Handbook for Systematic Reviews of Interventions, version 6, section 13.3.5.4; Sterne et al.,
  BMJ 2011;343:d4002). The threshold is :data:`evsynth.certainty.EGGER_MIN_K`, the one the
  findings' publication-bias signal uses, so the report and the signal never disagree.

The funnel plot (:func:`evsynth.figures.funnel.funnel_plot`) is drawn for the same outcomes,
contour-enhanced as Peters et al., J Clin Epidemiol 2008;61:991-996 (metafor
``funnel(level = c(90, 95, 99), refline = 0)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evsynth.certainty import EGGER_ALPHA, EGGER_MIN_K
from evsynth.contract import EFFECT_MEASURES
from evsynth.escape import markdown_text as md
from evsynth.handoff import read_typed
from evsynth.markdown_blocks import figure, pipe_table
from evsynth.outcomes import MetaAnalysisSettings, effect_sizes
from evsynth.stats import egger_test
from evsynth.tables import read_results, write_table

#: ``assessed`` when Egger's test was run.
ASSESSED = "yes"
#: ``assessed`` below the Handbook's ten studies.
TOO_FEW = f"not assessed (k < {EGGER_MIN_K})"
#: ``assessed`` when every study has the same standard error: precision does not vary, so
#: there is no regression on it (and no funnel to be asymmetric).
EQUAL_SE = "not assessed (all standard errors equal)"

#: ``assessed`` when a study's effect or standard error is not a finite number above 0.
NO_SE = "not assessed (a standard error is missing or 0)"

SMALL_STUDY_COLUMNS = [
    "outcome",
    "effect_measure",
    "label",
    "k",
    "assessed",
    "egger_intercept",
    "egger_se",
    "egger_t",
    "egger_df",
    "egger_p",
    "study_ids",
]


def small_study_table(effects: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """``outcomes/small_study.csv``: one row per (outcome, effect measure) of ``effects``
    (:func:`evsynth.outcomes.effect_sizes`: ``yi`` on the analysis scale, ``vi``), sorted, with
    Egger's test where k >= :data:`EGGER_MIN_K` and blanks otherwise. ``labels``: outcome code
    to label."""
    rows = []
    for (outcome, measure), group in effects.groupby(["outcome", "effect_measure"], sort=True):
        k = len(group)
        row = {
            "outcome": outcome,
            "effect_measure": measure,
            "label": labels.get(outcome, outcome),
            "k": k,
            "assessed": TOO_FEW,
            "egger_intercept": math.nan,
            "egger_se": math.nan,
            "egger_t": math.nan,
            "egger_df": pd.NA,
            "egger_p": math.nan,
            "study_ids": ";".join(sorted(group["study_id"])),
        }
        sei = np.sqrt(group["vi"].to_numpy(dtype=float))
        yi = group["yi"].to_numpy(dtype=float)
        if k >= EGGER_MIN_K:
            # Validation refuses zero-width intervals; this guards the regression all the same,
            # so an odd row is a stated reason, never a failed stage.
            if not (np.isfinite(yi).all() and np.isfinite(sei).all() and (sei > 0).all()):
                row["assessed"] = NO_SE
            elif np.ptp(sei) == 0.0:
                row["assessed"] = EQUAL_SE
            else:
                test = egger_test(yi, sei)
                row |= {
                    "assessed": ASSESSED,
                    "egger_intercept": test.intercept,
                    "egger_se": test.se,
                    # A perfect line has no residual variance: no t and no p (egger_test).
                    "egger_t": test.intercept / test.se if test.se > 0 else math.nan,
                    "egger_df": k - 2,
                    "egger_p": test.p,
                }
        rows.append(row)
    table = pd.DataFrame(rows, columns=SMALL_STUDY_COLUMNS)
    return table.astype({"egger_df": "Int64"})


def assessed_effects(effects: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The studies of the assessed rows of ``table``: what the funnel plot draws."""
    done = table[table["assessed"] == ASSESSED][["outcome", "effect_measure"]]
    return effects.merge(done, on=["outcome", "effect_measure"]).sort_values(
        ["outcome", "effect_measure", "study_id"], ignore_index=True
    )


def pooled_main(meta: pd.DataFrame, settings: MetaAnalysisSettings) -> pd.DataFrame:
    """One main-analysis row per (outcome, effect measure) of ``outcomes/meta_analysis.csv``:
    the configured random-effects method's (``REML``, ``DL``, ``+HK``), else the first."""
    if meta.empty:
        return meta
    main = meta[meta["analysis"] == "main"]
    wanted = settings.method + ("+HK" if settings.hartung_knapp else "")
    preferred = main.assign(_rank=(main["method"] != wanted).astype(int))
    return (
        preferred.sort_values(["outcome", "effect_measure", "_rank"], kind="stable")
        .drop_duplicates(["outcome", "effect_measure"])
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


@dataclass(frozen=True)
class SmallStudyPaths:
    """Every file the small-study stage writes, as its rule names them."""

    table: Path  # outcomes/small_study.csv
    funnel_figure: Path  # figures/funnel, written as .png and .svg


def run_small_study(
    outcomes_path: Path,
    meta_analysis_path: Path,
    codebook_path: Path,
    settings: MetaAnalysisSettings,
    out: SmallStudyPaths,
) -> None:
    """The small-study stage: Egger's test per outcome and measure, and the funnel plots."""
    from evsynth.codebook import load_codebook
    from evsynth.figures.funnel import funnel_plot

    codebook = load_codebook(codebook_path)
    labels = {code: o.label for code, o in codebook.outcomes.items()}
    effects = effect_sizes(read_typed(outcomes_path))
    table = small_study_table(effects, labels)
    write_table(table, out.table)
    pooled = pooled_main(read_results(meta_analysis_path, "outcomes/meta_analysis"), settings)
    funnel_plot(assessed_effects(effects, table), table, pooled, out.funnel_figure)


# --- Report ---------------------------------------------------------------------------------


def _num(x: object, digits: int = 2) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{float(x):.{digits}f}".replace("-", "−")


def _p(p: float) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def egger_text(row: pd.Series) -> str:
    """Egger's result in words for one row of ``small_study.csv``, or why it was not run."""
    if row["assessed"] != ASSESSED:
        return str(row["assessed"])
    return (
        f"intercept {_num(row['egger_intercept'])} (SE {_num(row['egger_se'])}), "
        f"t = {_num(row['egger_t'])}, df = {int(row['egger_df'])}, p = {_p(row['egger_p'])}"
    )


def funnel_alt_text(table: pd.DataFrame, estimates: pd.DataFrame, pooled: pd.DataFrame) -> str:
    """The funnel plots' alt text: per assessed outcome, each study's estimate and 95% CI (its
    standard error is the CI's width), the pooled estimate and Egger's test. ``estimates``: the
    clean outcomes table; ``pooled``: main rows of ``meta_analysis.csv``."""
    from evsynth.alt_text import _capped, _text

    panels = []
    for r in table[table["assessed"] == ASSESSED].itertuples(index=False):
        measure = EFFECT_MEASURES.get(r.effect_measure, r.effect_measure)
        studies = []
        for sid in str(r.study_ids).split(";"):
            own = (
                estimates[
                    (estimates["study_id"] == sid)
                    & (estimates["outcome"] == r.outcome)
                    & (estimates["effect_measure"] == r.effect_measure)
                ]
                if len(estimates)
                else estimates
            )
            if len(own):  # the first row, as the meta-analysis uses it
                e = own.iloc[0]
                studies.append(
                    f"{sid} {_num(e['estimate'])} (95% CI {_num(e['ci_lower'])} to "
                    f"{_num(e['ci_upper'])})"
                )
            else:
                studies.append(sid)
        line = (
            pooled[
                (pooled["outcome"] == r.outcome) & (pooled["effect_measure"] == r.effect_measure)
            ]
            if len(pooled)
            else pooled
        )
        centre = f"; pooled {_num(line['estimate'].iloc[0])}" if len(line) else ""
        panels.append(
            f"{_text(r.label)}, {measure.lower()}, {r.k} studies: "
            + "; ".join(studies)
            + f"{centre}; Egger's test {egger_text(pd.Series(r._asdict()))}"
        )
    head = (
        "Contour-enhanced funnel plots, one per outcome with 10 or more studies: each study's "
        "estimate against its standard error, shaded where p is 0.05 to 0.10 and 0.01 to 0.05. "
    )
    return _capped(head, panels, sep=". ")


def small_study_section(table: pd.DataFrame, pooled: pd.DataFrame, estimates: pd.DataFrame) -> str:
    """The evidence review's "Small-study effects" partial (``_generated/small-study.md``):
    Egger's test per outcome and measure with estimates, "not assessed (k < 10)" where there
    are too few, and the funnel plot when any outcome was assessed. Empty without estimates."""
    if table.empty:
        return ""
    out = [
        "### Small-study effects {#small-study}\n",
        "Where an outcome had 10 or more studies with an effect estimate, funnel-plot asymmetry "
        "was tested with Egger's regression test (the standardised effect regressed on "
        "precision; Egger et al. 1997) and shown in a contour-enhanced funnel plot (Peters et "
        "al. 2008). With fewer studies the test cannot tell asymmetry from chance, so it was "
        "not run (Cochrane Handbook, section 13.3.5.4). Asymmetry may come from publication "
        "bias, but also from true differences between small and large studies.\n",
    ]
    rows = [
        [
            md(r["label"]),
            md(EFFECT_MEASURES.get(r["effect_measure"], r["effect_measure"])),
            str(int(r["k"])),
            egger_text(r),
        ]
        for _, r in table.iterrows()
    ]
    out.append(
        pipe_table(
            ["Outcome", "Measure", "k", "Egger's test"],
            rows,
            [20, 18, 4, 40],
            "llrl",
            "Small-study effects: Egger's regression test per outcome and effect measure",
        )
    )
    if (table["assessed"] == ASSESSED).any():
        out.append(
            figure(
                "figures/funnel.svg",
                "Contour-enhanced funnel plots, one per outcome with 10 or more studies: each "
                "study's estimate (x) against its standard error (y, largest studies at the "
                "top). Outside the white funnel the study's own p value is below 0.10 (dark "
                "grey: 0.05 to 0.10; light grey: 0.01 to 0.05; outside: below 0.01). The solid "
                "line is the pooled random-effects estimate, the dashed line no effect.",
                funnel_alt_text(table, estimates, pooled),
                "fig-funnel",
            )
        )
    return "\n".join(out)


def small_study_sentence(table: pd.DataFrame) -> str:
    """One plain sentence for the short formats (``_generated/small-study-sentence.md``):
    whether small-study effects were checked and what the test found; empty without
    estimates."""
    if table.empty:
        return ""
    done = table[table["assessed"] == ASSESSED]
    if done.empty:
        return (
            "No outcome had the 10 or more studies needed to check whether small studies "
            "showed different effects from large ones.\n"
        )
    flagged = done[done["egger_p"] < EGGER_ALPHA]  # Egger et al. 1997 read p < 0.10
    names = ", ".join(md(str(x)).lower() for x in flagged["label"])
    if flagged.empty:
        return (
            f"For the {_count(len(done))} with 10 or more studies, small studies did not show "
            "clearly different effects from large ones.\n"
        )
    return (
        f"Small studies showed different effects from large ones for {names}, which may mean "
        "that studies with less favourable results are missing.\n"
    )


def _count(n: int) -> str:
    return "outcome" if n == 1 else f"{n} outcomes"


def small_study_partials(
    table: pd.DataFrame, pooled: pd.DataFrame, estimates: pd.DataFrame
) -> dict[str, str]:
    """The report's two partials (``_generated/``): the evidence review's section and the
    short formats' one sentence (see :func:`small_study_section`, :func:`small_study_sentence`)."""
    return {
        "small-study.md": small_study_section(table, pooled, estimates),
        "small-study-sentence.md": small_study_sentence(table),
    }
