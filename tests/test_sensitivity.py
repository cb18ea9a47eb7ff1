"""Sensitivity of the meta-analyses (issue 14, items 3 and 5): leave-one-out pooling, the
common-effect estimate, the test of the pooled effect, tau²'s Q-profile CI and the t
prediction interval, each against values published for the BCG trials (metafor's dat.bcg,
log risk ratios). metafor sources are cited by file and line in github:wviechtb/metafor at
commit 71ae8f5 (docs/reference/*.html are the pkgdown pages printing the examples' output).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evsynth import sensitivity
from evsynth.codebook import load_codebook
from evsynth.outcomes import effect_sizes, meta_analysis
from evsynth.registry import table_schema
from evsynth.sensitivity import (
    leave_one_out,
    run_leave_one_out,
    sensitivity_partial,
    sensitivity_sentence,
)
from evsynth.stats import (
    common_effect,
    pooled_test,
    random_effects_many,
    tau2_ci_q_profile,
    tau2_ci_q_profile_many,
)
from evsynth.tables import read_results
from test_stats import VI, YI

REPO = Path(__file__).resolve().parents[1]
BCG = REPO / "tests" / "data" / "bcg"
ONE = np.zeros(13, dtype=np.int64)  # the 13 trials as one group


def printed(x: float, text: str) -> bool:
    """``x`` rounds to the printed value (half a unit in its last place)."""
    places = len(text.split(".")[1]) if "." in text else 0
    return abs(x - float(text)) <= 0.5 * 10**-places + 1e-12


def bcg_effects() -> pd.DataFrame:
    """The 13 trials as the workflow sees them: tests/data/bcg/sheets/outcomes.csv (each
    trial's risk ratio and 95% CI, i.e. escalc's yi and vi) through effect_sizes."""
    sheet = pd.read_csv(BCG / "sheets" / "outcomes.csv", dtype=str, keep_default_na=False)
    return effect_sizes(sheet)


# ---------------------------------------------------------------------------------------
# Leave-one-out: metafor docs/reference/leave1out.html, lines 227-239, the output of
# leave1out(res, transf=exp) for res <- rma(yi, vi, data=dat) on dat.bcg (REML):
#       estimate    zval   pval  ci.lb  ci.ub        Q     Qp   tau2      I2      H2
# ---------------------------------------------------------------------------------------
LEAVE1OUT_PUBLISHED = """\
-1    0.4931 -3.7223 0.0002 0.3398 0.7155 151.5826 0.0000 0.3362 93.2259 14.7622
-2    0.5199 -3.6195 0.0003 0.3649 0.7409 145.3176 0.0000 0.2926 92.2540 12.9098
-3    0.5038 -3.6916 0.0002 0.3501 0.7250 150.1970 0.0000 0.3207 92.9354 14.1551
-4    0.5334 -3.5580 0.0004 0.3774 0.7541  96.5626 0.0000 0.2628 90.4125 10.4302
-5    0.4657 -3.9845 0.0001 0.3198 0.6782 151.3200 0.0000 0.3278 92.7634 13.8187
-6    0.4912 -3.5499 0.0004 0.3318 0.7273 128.1867 0.0000 0.3596 90.9118 11.0033
-7    0.5193 -3.6307 0.0003 0.3646 0.7397 145.8296 0.0000 0.2930 92.2777 12.9495
-8    0.4517 -4.4184 0.0000 0.3175 0.6426  67.9858 0.0000 0.2732 87.0314  7.7109
-9    0.4765 -3.7686 0.0002 0.3241 0.7007 152.2051 0.0000 0.3495 93.2133 14.7346
-10   0.5205 -3.5439 0.0004 0.3627 0.7469 139.8271 0.0000 0.2987 92.2322 12.8737
-11   0.4687 -3.8708 0.0001 0.3193 0.6879 151.4655 0.0000 0.3405 91.8110 12.2114
-12   0.4678 -4.1727 0.0000 0.3274 0.6684 150.7868 0.0000 0.3082 92.6782 13.6579
-13   0.4595 -4.1908 0.0000 0.3194 0.6611 149.7884 0.0000 0.3037 92.3444 13.0623
"""


def test_leave_one_out_matches_metafor_leave1out_on_bcg():
    table = leave_one_out(bcg_effects(), "REML", hartung_knapp=False)
    assert list(table.columns) == sensitivity.LEAVE_ONE_OUT_COLUMNS
    assert list(table["omitted"]) == [f"BCG{i:02d}" for i in range(1, 14)]
    assert set(table["k"]) == {12} and set(table["method"]) == {"REML"}
    for (_, row), line in zip(table.iterrows(), LEAVE1OUT_PUBLISHED.splitlines(), strict=True):
        _, est, _, _, lo, hi, _, _, tau2, i2, _ = line.split()
        assert printed(row["estimate"], est), (row["omitted"], row["estimate"], est)
        assert printed(row["ci_lower"], lo) and printed(row["ci_upper"], hi), row["omitted"]
        assert printed(row["tau2"], tau2) and printed(row["i2"], i2), row["omitted"]
    # Every CI excludes RR = 1, as with all 13 trials: no omission changes the conclusion.
    assert set(table["ci_crosses_no_effect"]) == {"false"}
    assert set(table["conclusion_changes"]) == {"false"}


def _effects(rows: list[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["outcome", "effect_measure", "study_id", "yi", "vi"])


def test_leave_one_out_flags_the_study_whose_omission_changes_the_conclusion():
    # Mean differences, DL: with all three studies the CI excludes 0; without S2 the other two
    # disagree more (tau² grows) and the CI holds 0; without S1 or S3 it still excludes 0.
    table = leave_one_out(_effects(THREE), "DL", hartung_knapp=False)
    by = table.set_index("omitted")
    full = random_effects_many([0.15, 0.2, 0.5], [0.01] * 3, [0, 0, 0], method="DL")
    assert full.ci_lower[0] > 0  # all three: a clear effect
    assert list(by["ci_crosses_no_effect"]) == ["false", "true", "false"]
    assert list(by["conclusion_changes"]) == ["false", "true", "false"]
    assert "| S2 |" in sensitivity_partial(_meta_row("o", "md", 3), table).replace("  ", " ")
    # The other way: all three hold 0 (CI -0.03 to 0.59) and so does every omission, which
    # then changes nothing (a CI holding 0 is not itself a change).
    wide = [("o", "md", s, y, 0.01) for s, y in [("S1", 0.1), ("S2", 0.15), ("S3", 0.6)]]
    table = leave_one_out(_effects(wide), "DL", hartung_knapp=False)
    assert set(table["ci_crosses_no_effect"]) == {"true"}
    assert set(table["conclusion_changes"]) == {"false"}


THREE = [("o", "md", s, y, 0.01) for s, y in [("S1", 0.15), ("S2", 0.2), ("S3", 0.5)]]


def test_leave_one_out_skips_k_2_and_honours_the_estimator_and_hartung_knapp():
    rows = [("a", "md", f"S{i}", y, v) for i, (y, v) in enumerate([(0.1, 0.02), (0.5, 0.03)])]
    rows += [("b", "rr", f"S{i}", y, 0.05) for i, y in enumerate([-0.3, -0.1, -0.6, 0.2])]
    table = leave_one_out(_effects(rows), "DL", hartung_knapp=True)
    assert set(table["outcome"]) == {"b"}  # k = 2 leaves one study: nothing to pool
    assert set(table["method"]) == {"DL+HK"}
    # Without S0, the DL+HK fit of the other three studies on the ratio scale.
    alone = random_effects_many(
        [-0.1, -0.6, 0.2], [0.05] * 3, [0] * 3, method="DL", hartung_knapp=True
    )
    first = table.iloc[0]
    assert first["omitted"] == "S0"
    assert first["estimate"] == pytest.approx(math.exp(alone.estimate[0]), rel=1e-12)
    assert first["ci_upper"] == pytest.approx(math.exp(alone.ci_upper[0]), rel=1e-12)


def test_leave_one_out_refuses_an_analysis_too_large_to_bound(monkeypatch, caplog):
    monkeypatch.setattr(sensitivity, "LEAVE_ONE_OUT_MAX_K", 4)
    rows = [("big", "md", f"S{i}", 0.1 * i, 0.05) for i in range(5)]
    rows += [("small", "md", f"S{i}", 0.1 * i, 0.05) for i in range(4)]
    with caplog.at_level(logging.WARNING, logger="evsynth.sensitivity"):
        table = leave_one_out(_effects(rows), "REML", hartung_knapp=False)
    assert set(table["outcome"]) == {"small"}
    assert "leave-one-out skipped for big (md): k = 5 studies, more than 4" in caplog.text
    note = sensitivity_partial(_meta_row("big", "md", 5), table)
    assert "not run (k > 4)" in note


def test_leave_one_out_batches_agree_with_one_batch(monkeypatch):
    rows = [
        (f"o{j}", "md", f"S{i}", math.sin(i + j), 0.02 + 0.01 * i)
        for j in range(3)
        for i in range(6)
    ]
    whole = leave_one_out(_effects(rows), "REML", hartung_knapp=False)
    monkeypatch.setattr(sensitivity, "_BATCH_ROWS", 1)  # one analysis a batch
    pd.testing.assert_frame_equal(leave_one_out(_effects(rows), "REML", False), whole)


def test_run_leave_one_out_writes_the_declared_table(tmp_path: Path):
    sheet = pd.read_csv(BCG / "sheets" / "outcomes.csv", dtype=str, keep_default_na=False)
    typed = tmp_path / "outcomes.parquet"
    sheet.assign(
        **{c: sheet[c].astype(float) for c in ("estimate", "ci_lower", "ci_upper")}
    ).to_parquet(typed)
    out = tmp_path / "outcomes" / "leave_one_out.csv"
    run_leave_one_out(typed, "REML", False, out)
    table = read_results(out, "outcomes/leave_one_out")
    declared = [f["name"] for f in table_schema("outcomes/leave_one_out")["fields"]]
    assert list(table.columns) == declared
    assert len(table) == 13 and printed(table["estimate"].iloc[7], "0.4517")


# ---------------------------------------------------------------------------------------
# Beside the random-effects estimate
# ---------------------------------------------------------------------------------------


def test_common_effect_matches_metafor_ee_and_stata_metan():
    # metafor tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r lines 13-27:
    # rma(yi, vi, data=dat, method="EE") against Stata `metan ..., fixedi rr`.
    ce = common_effect(YI, VI)
    assert printed(ce.estimate, "-0.4303")
    assert printed(ce.ci_lower, "-0.5097") and printed(ce.ci_upper, "-0.3509")
    assert printed(ce.estimate / ce.se, "-10.6247")
    assert printed(math.exp(ce.estimate), "0.6503")
    assert printed(math.exp(ce.ci_lower), "0.6007") and printed(math.exp(ce.ci_upper), "0.7040")
    assert ce.tau2 == 0.0 and math.isnan(ce.pi_lower)


def test_pooled_effect_z_and_hartung_knapp_t_match_metafor():
    # z: docs/reference/rma.uni.html line 556, rma(yi, vi, data=dat, method="REML"):
    #  estimate      se     zval    pval    ci.lb    ci.ub
    #   -0.7145  0.1798  -3.9744  <.0001  -1.0669  -0.3622
    z = pooled_test(random_effects_many(YI, VI, ONE))
    assert z.test == "z" and math.isnan(z.df[0])
    assert printed(z.statistic[0], "-3.9744") and z.p[0] < 1e-4
    # t: README.md line 153, rma(yi, vi, data=dat, test="knha"):
    #  -0.7145  0.1808  -3.9522  12  0.0019  -1.1084  -0.3206
    t = pooled_test(random_effects_many(YI, VI, ONE, hartung_knapp=True))
    assert t.test == "t" and t.df[0] == 12
    assert printed(t.statistic[0], "-3.9522") and printed(t.p[0], "0.0019")


def test_tau2_q_profile_ci_matches_metafor_confint():
    # docs/reference/confint.rma.html line 255, confint(res) for the REML fit:
    #   tau^2    0.3132  0.1197  1.1115
    # and tests/testthat/test_misc_confint.r line 14 for the DL fit (0.3088, 0.1197, 1.1115):
    # the Q-profile interval does not depend on the estimator.
    lower, upper = tau2_ci_q_profile(YI, VI)
    assert printed(lower, "0.1197") and printed(upper, "1.1115")


def test_tau2_q_profile_ci_at_the_boundary():
    # Q(0) = 2.5 lies between the chi-square quantiles on 3 df (0.216, 9.348): the lower
    # bound is 0 and the upper one positive (Viechtbauer 2007; metafor R/confint.rma.uni.r
    # lines 224-228 set the lower bound to tau2.min = 0).
    y = np.array([0.0, 0.3, 0.1, 0.4])
    v = np.full(4, 0.04)
    lower, upper = tau2_ci_q_profile(y, v)
    assert lower == 0.0 and upper > 0.0
    # Q(0) below the lower quantile (studies closer than chance allows): both bounds are 0
    # (confint.rma.uni.r lines 162-167), as for identical estimates, where Q is always 0.
    assert tau2_ci_q_profile([0.10, 0.12, 0.09, 0.11], v) == (0.0, 0.0)
    assert tau2_ci_q_profile([0.3, 0.3, 0.3], [0.1, 0.2, 0.3]) == (0.0, 0.0)
    # Batched: each group its own interval, equal to the one-group call.
    lo, hi = tau2_ci_q_profile_many(np.r_[YI, y], np.r_[VI, v], np.r_[ONE, np.ones(4, int)])
    assert (lo[0], hi[0]) == pytest.approx(tau2_ci_q_profile(YI, VI), rel=1e-9)
    assert lo[1] == 0.0 and hi[1] == pytest.approx(upper, rel=1e-9)


def test_t_prediction_interval_uses_k_minus_2_degrees_of_freedom():
    # Higgins, Thompson & Spiegelhalter (2009) section 3.4 and the Cochrane Handbook
    # 10.10.4.3: mu +/- t_{k-2} sqrt(tau2 + se^2). With metafor's printed REML fit
    # (docs/reference/rma.uni.html line 556 and the tau^2 line above it: -0.7145, 0.1798,
    # 0.3132) and t_{0.975, 11} = 2.201 from a t table, the 13 trials give:
    half = 2.201 * math.sqrt(0.3132 + 0.1798**2)
    fit = random_effects_many(YI, VI, ONE, prediction_interval="t")
    assert fit.pi_lower[0] == pytest.approx(-0.7145 - half, abs=1e-3)
    assert fit.pi_upper[0] == pytest.approx(-0.7145 + half, abs=1e-3)
    # The default stays metafor predict()'s normal interval: 0.1546 to 1.5490 on the ratio
    # scale (docs/reference/dat.bcg.html; tests/test_stats.py pins it too).
    normal = random_effects_many(YI, VI, ONE)
    assert printed(math.exp(normal.pi_lower[0]), "0.1546")
    # k < 3: no prediction interval either way.
    two = random_effects_many([0.1, 0.4], [0.02, 0.03], [0, 0], prediction_interval="t")
    assert math.isnan(two.pi_lower[0])
    with pytest.raises(ValueError, match="unknown prediction interval 'student'"):
        random_effects_many(YI, VI, ONE, prediction_interval="student")


def _bcg_meta(**options: object) -> pd.Series:
    sheet = pd.read_csv(BCG / "sheets" / "outcomes.csv", dtype=str, keep_default_na=False)
    studies = pd.read_csv(BCG / "sheets" / "studies.csv", dtype=str, keep_default_na=False)
    table = meta_analysis(sheet, studies, load_codebook(BCG / "codebook.yaml"), **options)
    return table[table["analysis"] == "main"].iloc[0]


def test_meta_analysis_table_carries_the_new_columns():
    row = _bcg_meta()
    assert printed(row["estimate"], "0.4894")  # the random-effects estimate, unchanged
    # Common effect on the ratio scale, as the estimate (metan file lines 25-27 above).
    assert printed(row["ce_estimate"], "0.6503")
    assert printed(row["ce_ci_lower"], "0.6007") and printed(row["ce_ci_upper"], "0.7040")
    assert row["test"] == "z" and printed(row["test_statistic"], "-3.9744")
    assert math.isnan(row["test_df"]) and row["test_p"] < 1e-4
    assert printed(row["tau2_ci_lower"], "0.1197") and printed(row["tau2_ci_upper"], "1.1115")
    assert row["pi_method"] == "normal" and printed(row["pi_lower"], "0.1546")
    hk = _bcg_meta(hartung_knapp=True)
    assert (hk["test"], hk["test_df"], hk["pi_method"]) == ("t", 12, "t_k-1")
    assert printed(hk["test_p"], "0.0019")
    t = _bcg_meta(prediction_interval="t")
    assert t["pi_method"] == "t_k-2"
    half = 2.201 * math.sqrt(0.3132 + 0.1798**2)
    assert math.log(t["pi_upper"]) == pytest.approx(-0.7145 + half, abs=1e-3)


def test_prediction_interval_setting_is_checked_by_the_config_schema():
    from stage_paths import meta_settings

    assert meta_settings().prediction_interval == "normal"
    assert meta_settings(prediction_interval="t").prediction_interval == "t"
    with pytest.raises(Exception, match="'student' is not one of"):
        meta_settings(prediction_interval="student")


# ---------------------------------------------------------------------------------------
# Report partials
# ---------------------------------------------------------------------------------------


def _meta_row(outcome: str, measure: str, k: int, label: str = "Outcome") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "outcome": outcome,
                "effect_measure": measure,
                "analysis": "main",
                "label": label,
                "k": k,
                "estimate": 0.5,
                "ci_lower": 0.3,
                "ci_upper": 0.7,
                "ce_estimate": 0.65,
                "ce_ci_lower": 0.6,
                "ce_ci_upper": 0.7,
            }
        ]
    )


def test_sensitivity_partial_and_sentence_escape_and_read_right():
    hostile = [
        (o, m, sid, y, v)
        for (o, m, _, y, v), sid in zip(THREE, ["*S1*", "<b>S2</b>", "S3"], strict=True)
    ]
    table = leave_one_out(_effects(hostile), "DL", hartung_knapp=False)
    text = sensitivity_partial(_meta_row("o", "md", 3, label="Well-being <i>x</i>"), table)
    assert "<i>" not in text and "<b>" not in text and "*S1*" not in text
    assert "S2" in text  # the study whose omission changes the conclusion, escaped
    assert "0.65 (0.60 to 0.70)" in text  # the common effect beside the random effects
    assert "Common effect (95% CI)" in text and "Leaving one study out" in text
    assert sensitivity_sentence(table).startswith("For 1 of 1 pooled result, leaving out")
    calm = table.assign(conclusion_changes="false")
    assert "did not change" in sensitivity_sentence(calm)
    assert sensitivity_sentence(table.iloc[:0]) == ""
    assert sensitivity_partial(_meta_row("o", "md", 2).iloc[:0], table) == ""
    assert "not run (k = 2)" in sensitivity_partial(_meta_row("o", "md", 2), table.iloc[:0])


def test_leave_one_out_and_the_findings_stage_share_one_rule_for_holding_no_effect():
    """An interval with a bound exactly at no effect does not cross it, in the findings
    stage, the certainty signals and leave-one-out alike (evsynth.contract.interval_holds):
    the two tables' ci_crosses_no_effect can never disagree at a boundary."""
    from evsynth.certainty import _crosses
    from evsynth.review_findings import _crosses_no_effect
    from evsynth.sensitivity import _crosses as loo_crosses

    lower = np.array([0.5, 0.5, 1.0, 0.9])
    upper = np.array([1.0, 1.2, 1.5, 1.1])
    expected = [False, True, False, True]
    assert loo_crosses(lower, upper, 1.0).tolist() == expected
    assert [
        _crosses_no_effect(lo, hi, "rr") == "true" for lo, hi in zip(lower, upper, strict=True)
    ] == expected
    assert [_crosses(lo, hi, 1.0) for lo, hi in zip(lower, upper, strict=True)] == expected
