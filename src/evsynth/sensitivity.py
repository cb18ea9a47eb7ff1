"""Sensitivity of the meta-analyses: leave-one-out pooling, and the statistics printed beside
each random-effects estimate (the common-effect estimate, the test of the pooled effect, the
prediction interval's method and tau²'s Q-profile confidence interval).

Choices, each with its source:

* Leave-one-out (``outcomes/leave_one_out.csv``): every main analysis with k ≥ 3 is pooled
  again k times, each time without one study, with the configured estimator and Hartung-Knapp
  setting (metafor ``leave1out()``; Cochrane Handbook 10.14). With k = 2 a study left out
  leaves one, which is not pooled, so such an analysis has no rows. A study's omission
  *changes the conclusion* when the 95% CI without it holds the value of no effect and the CI
  with all studies does not, or the other way round (the reading the report's key messages
  make of a CI).
* The common-effect (inverse-variance, "fixed-effect") estimate with its normal CI (Cochrane
  Handbook 10.3.1; metafor ``rma(method="EE")``), shown beside the random-effects estimate:
  where they differ, small studies pull the random-effects mean (Handbook 10.10.4.1).
* The test of the pooled effect: z with a normal p value, or t with k - 1 df under
  Hartung-Knapp, as metafor prints it.
* tau²'s 95% CI by the Q-profile method (Viechtbauer 2007), as metafor ``confint()``.
* The prediction interval: the normal quantile by default (metafor ``predict()``), t with
  k - 1 df under Hartung-Knapp (metafor), or, with config ``prediction_interval: t``, t with
  k - 2 df (Higgins, Thompson & Spiegelhalter 2009; Cochrane Handbook 10.10.4.3).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evsynth.contract import RATIO_MEASURES, interval_holds, no_effect
from evsynth.escape import markdown_text as md
from evsynth.handoff import read_typed
from evsynth.markdown_blocks import main_analyses, number, pipe_table
from evsynth.stats import (
    PooledEstimates,
    common_effect_many,
    pooled_test,
    random_effects_many,
    tau2_ci_q_profile_many,
)
from evsynth.tables import write_table

if TYPE_CHECKING:  # evsynth.outcomes imports this module
    from evsynth.outcomes import MetaAnalysisSettings

log = logging.getLogger(__name__)

#: Leave-one-out runs for a main analysis of at most this many studies: it pools k analyses of
#: k - 1 studies, k² study rows, so 1,000 studies mean a million (measured: 0.7 s, 310 MB peak;
#: 2,000 took 3.7 s and 830 MB); a larger one is skipped with a log line and the report's note
#: rather than taking minutes and gigabytes.
LEAVE_ONE_OUT_MAX_K = 1000
#: Study rows pooled in one batched call (bounds the batch's memory to some hundred MB).
_BATCH_ROWS = 1_000_000

LEAVE_ONE_OUT_COLUMNS = [
    "outcome",
    "effect_measure",
    "method",
    "omitted",
    "k",
    "estimate",
    "ci_lower",
    "ci_upper",
    "tau2",
    "i2",
    "ci_crosses_no_effect",
    "conclusion_changes",
]

#: The columns :func:`meta_analysis_extras` adds to ``outcomes/meta_analysis.csv``.
EXTRA_META_COLUMNS = [
    "ce_estimate",
    "ce_ci_lower",
    "ce_ci_upper",
    "test",
    "test_statistic",
    "test_df",
    "test_p",
    "tau2_ci_lower",
    "tau2_ci_upper",
    "pi_method",
]

#: ``pi_method``: which quantile the prediction interval used.
PI_METHODS = {
    "normal": "normal quantile",
    "t_k-1": "t distribution with k − 1 degrees of freedom",
    "t_k-2": "t distribution with k − 2 degrees of freedom",
}


def pi_method(hartung_knapp: bool, prediction_interval: str) -> str:
    """The ``pi_method`` code of a configuration (see :data:`PI_METHODS`)."""
    if prediction_interval == "t":
        return "t_k-2"
    return "t_k-1" if hartung_knapp else "normal"


def _back(measure: str, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Analysis scale to the reporting scale: exp for ratio measures."""
    return np.exp(x) if measure in RATIO_MEASURES else x


def meta_analysis_extras(
    yi: NDArray[np.float64],
    vi: NDArray[np.float64],
    group: NDArray[np.int64],
    fits: PooledEstimates,
    prediction_interval: str,
) -> pd.DataFrame:
    """Per meta-analysis (group i is row i, ``fits`` their random-effects fits), the
    :data:`EXTRA_META_COLUMNS` on the analysis scale (log for ratios; the caller reports
    ``ce_*`` on the ratio scale as it does the estimate): the common-effect estimate and CI,
    the test of the pooled effect, tau²'s Q-profile CI and the prediction interval's method."""
    ce = common_effect_many(yi, vi, group)
    test = pooled_test(fits)
    tau2_lo, tau2_hi = tau2_ci_q_profile_many(yi, vi, group)
    return pd.DataFrame(
        {
            "ce_estimate": ce.estimate,
            "ce_ci_lower": ce.ci_lower,
            "ce_ci_upper": ce.ci_upper,
            "test": test.test,
            "test_statistic": test.statistic,
            "test_df": test.df,
            "test_p": test.p,
            "tau2_ci_lower": tau2_lo,
            "tau2_ci_upper": tau2_hi,
            "pi_method": pi_method(fits.method.endswith("+HK"), prediction_interval),
        }
    )


def _crosses(lower: NDArray[np.float64], upper: NDArray[np.float64], null: float) -> NDArray:
    # The findings stage's rule (contract.interval_holds), so that this table's
    # ci_crosses_no_effect and summary_of_findings.csv's never disagree at a boundary.
    return interval_holds(lower, upper, null)


def leave_one_out(effects: pd.DataFrame, method: str, hartung_knapp: bool) -> pd.DataFrame:
    """``outcomes/leave_one_out.csv`` from ``effects`` (:func:`evsynth.outcomes.effect_sizes`:
    one row per study, outcome and measure with ``yi``, ``vi``): per main analysis with
    3 ≤ k ≤ :data:`LEAVE_ONE_OUT_MAX_K`, one row per study left out, sorted by outcome,
    measure and the omitted study's ID. Estimates and bounds on the ratio scale for ratio
    measures, tau² on the analysis scale."""
    plans = []  # (outcome, measure, study IDs, yi, vi) per analysis
    for (outcome, measure), rows in effects.groupby(["outcome", "effect_measure"], sort=True):
        rows = rows.sort_values("study_id", kind="stable")
        k = len(rows)
        if k < 3:
            continue
        if k > LEAVE_ONE_OUT_MAX_K:
            log.warning(
                "leave-one-out skipped for %s (%s): k = %d studies, more than %d",
                outcome,
                measure,
                k,
                LEAVE_ONE_OUT_MAX_K,
            )
            continue
        plans.append(
            (
                outcome,
                measure,
                rows["study_id"].astype(str).to_numpy(),
                rows["yi"].to_numpy(dtype=np.float64),
                rows["vi"].to_numpy(dtype=np.float64),
            )
        )
    frames = []
    batch: list = []
    size = 0
    for plan in plans:
        batch.append(plan)
        size += len(plan[2]) ** 2
        if size >= _BATCH_ROWS:
            frames.append(_leave_one_out_batch(batch, method, hartung_knapp))
            batch, size = [], 0
    if batch:
        frames.append(_leave_one_out_batch(batch, method, hartung_knapp))
    if not frames:
        return pd.DataFrame(columns=LEAVE_ONE_OUT_COLUMNS)
    return pd.concat(frames, ignore_index=True)[LEAVE_ONE_OUT_COLUMNS]


def _leave_one_out_batch(batch: list, method: str, hartung_knapp: bool) -> pd.DataFrame:
    """One batched fit for the analyses of ``batch``: for each, group 0 is all its k studies
    and groups 1..k each leave one out, so the full fit is pooled exactly as the others."""
    ys, vs, groups = [], [], []
    offset = 0
    for _, _, ids, y, v in batch:
        k = len(ids)
        keep = ~np.eye(k, dtype=bool)  # row j: every study but j
        take = np.nonzero(keep)[1]  # the kept studies' positions, row by row
        ys += [y, y[take]]
        vs += [v, v[take]]
        groups += [
            np.full(k, offset, dtype=np.int64),
            np.repeat(np.arange(offset + 1, offset + k + 1, dtype=np.int64), k - 1),
        ]
        offset += k + 1
    fits = random_effects_many(
        np.concatenate(ys),
        np.concatenate(vs),
        np.concatenate(groups),
        method=method,
        hartung_knapp=hartung_knapp,
    )
    frames = []
    start = 0
    for outcome, measure, ids, _, _ in batch:
        k = len(ids)
        full = slice(start, start + 1)
        out = slice(start + 1, start + k + 1)
        start += k + 1
        null = no_effect(measure)
        lo, hi = _back(measure, fits.ci_lower[out]), _back(measure, fits.ci_upper[out])
        crosses = _crosses(lo, hi, null)
        all_crosses = _crosses(
            _back(measure, fits.ci_lower[full]), _back(measure, fits.ci_upper[full]), null
        )
        frames.append(
            pd.DataFrame(
                {
                    "outcome": outcome,
                    "effect_measure": measure,
                    "method": fits.method,
                    "omitted": ids,
                    "k": fits.k[out],
                    "estimate": _back(measure, fits.estimate[out]),
                    "ci_lower": lo,
                    "ci_upper": hi,
                    "tau2": fits.tau2[out],
                    "i2": fits.i2[out],
                    "ci_crosses_no_effect": np.where(crosses, "true", "false"),
                    "conclusion_changes": np.where(crosses != all_crosses, "true", "false"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def run_leave_one_out(
    outcomes_path: Path, method: str, hartung_knapp: bool, out_path: Path
) -> None:
    """The leave-one-out rule: clean outcomes (typed) in, ``leave_one_out.csv`` out."""
    from evsynth.outcomes import effect_sizes

    write_table(
        leave_one_out(effect_sizes(read_typed(outcomes_path)), method, hartung_knapp),
        out_path,
    )


# ---------------------------------------------------------------------------------------
# Report partials (evidence review; one plain sentence for the short formats)
# ---------------------------------------------------------------------------------------


def sensitivity_partial(meta: pd.DataFrame, loo: pd.DataFrame) -> str:
    """``_generated/sensitivity.md``: per pooled outcome, the common-effect estimate beside the
    random-effects one, and the range of the leave-one-out estimates with any study whose
    omission changes the conclusion. Empty when nothing is pooled."""
    pooled = main_analyses(meta)
    if pooled.empty:
        return ""
    out = [
        "**Sensitivity of the pooled estimates.** The common-effect (inverse-variance) estimate "
        "assumes one true effect; where it differs from the random-effects estimate, the "
        "smaller studies pull the random-effects mean. Leave-one-out pooling repeats each "
        "meta-analysis of three or more studies once without each study.\n",
    ]
    rows = []
    for r in pooled.itertuples(index=False):
        drops = loo[(loo["outcome"] == r.outcome) & (loo["effect_measure"] == r.effect_measure)]
        if len(drops):
            spread = f"{number(drops['estimate'].min())} to {number(drops['estimate'].max())}"
            changed = drops[drops["conclusion_changes"] == "true"]["omitted"].tolist()
            changes = ", ".join(md(s) for s in changed) if changed else "none"
        elif r.k < 3:
            spread, changes = "not run (k = 2)", "–"
        else:
            spread, changes = f"not run (k > {LEAVE_ONE_OUT_MAX_K:,})", "–"
        rows.append(
            [
                md(r.label),
                md(str(r.effect_measure).upper()),
                f"{number(r.estimate)} ({number(r.ci_lower)} to {number(r.ci_upper)})",
                f"{number(r.ce_estimate)} ({number(r.ce_ci_lower)} to {number(r.ce_ci_upper)})",
                spread,
                changes,
            ]
        )
    out.append(
        pipe_table(
            [
                "Outcome",
                "Measure",
                "Random effects (95% CI)",
                "Common effect (95% CI)",
                "Leaving one study out",
                "Omission changes the conclusion",
            ],
            rows,
            [15, 10, 18, 18, 16, 15],
            "llllll",
            "Sensitivity of the pooled estimates: common effect and leave-one-out",
        )
    )
    return "\n".join(out)


def sensitivity_sentence(loo: pd.DataFrame) -> str:
    """``_generated/sensitivity-sentence.md``: one plain sentence for the short formats on
    whether leaving any one study out changes what a pooled result says. Empty when no
    leave-one-out analysis ran."""
    if loo.empty:
        return ""
    changed = loo[loo["conclusion_changes"] == "true"]
    n = loo.groupby(["outcome", "effect_measure"]).ngroups
    if changed.empty:
        return (
            "Leaving out any one study at a time did not change whether a pooled result "
            "showed a clear effect.\n"
        )
    m = changed.groupby(["outcome", "effect_measure"]).ngroups
    return (
        f"For {m} of {n} pooled result{'s' if n != 1 else ''}, leaving out a single study "
        "changed whether the result showed a clear effect, so it rests on few studies.\n"
    )


def sensitivity_partials(meta: pd.DataFrame, loo: pd.DataFrame) -> dict[str, str]:
    """The report's partials from this module: the evidence review's table and the short
    formats' sentence (``_generated/`` paths -> Markdown)."""
    return {
        "sensitivity.md": sensitivity_partial(meta, loo),
        "sensitivity-sentence.md": sensitivity_sentence(loo),
    }


def prediction_interval_phrase(analysis: MetaAnalysisSettings) -> str:
    """How the report names the prediction interval's quantile, e.g. "the normal quantile"."""
    code = pi_method(analysis.hartung_knapp, analysis.prediction_interval)
    return "the " + PI_METHODS[code] if code == "normal" else "a " + PI_METHODS[code]
