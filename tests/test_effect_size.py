"""evsynth.effect_size against values metafor's documentation and test suite print.

Published numbers are asserted to the precision at which they were printed (``_printed``), each
with its source: files of metafor's repository (github.com/wviechtb/metafor, tests/testthat/,
commit 71ae8f5), whose expected values are themselves checked against Stata's ``metan`` or the
paper the data come from.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evsynth.effect_size import (
    binary_effects,
    continuous_effects,
    hedges_correction,
    mantel_haenszel,
    within_rounding,
)
from evsynth.outcomes import MH_COLUMNS, with_mantel_haenszel
from evsynth.stats import dersimonian_laird


def _printed(value: float, printed: str) -> bool:
    """True if ``value`` rounds to the number as printed, at the printed number of decimals."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return round(value, decimals) == float(printed)


def _all_printed(values, printed: str) -> bool:
    return all(_printed(v, p) for v, p in zip(values, printed.split(), strict=True))


# BCG vaccine trials (Colditz et al. 1994, JAMA 271:698-702), metafor's dat.bcg:
# tpos, tneg, cpos, cneg (vaccinated TB+, vaccinated TB-, control TB+, control TB-).
BCG = np.array(
    [
        [4, 119, 11, 128],
        [6, 300, 29, 274],
        [3, 228, 11, 209],
        [62, 13536, 248, 12619],
        [33, 5036, 47, 5761],
        [180, 1361, 372, 1079],
        [8, 2537, 10, 619],
        [505, 87886, 499, 87892],
        [29, 7470, 45, 7232],
        [17, 1699, 65, 1600],
        [186, 50448, 141, 27197],
        [5, 2493, 3, 2338],
        [27, 16886, 29, 17825],
    ],
    dtype=float,
)
TPOS, TNEG, CPOS, CNEG = BCG.T
ARMS = (TPOS, TPOS + TNEG, CPOS, CPOS + CNEG)  # events and totals of each arm


def test_log_risk_ratios_of_bcg_match_escalc():
    # escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg): yi and vi of
    # all 13 trials as printed on metafor's reference page for dat.bcg (the same values
    # tests/test_stats.py pins); trial 1 also tests/testthat/test_misc_escalc.r lines 11-12.
    e = binary_effects("rr", *ARMS)
    assert _all_printed(
        e.yi,
        "-0.8893 -1.5854 -1.3481 -1.4416 -0.2175 -0.7861 -1.6209 0.0120 -0.4694 -1.3713 -0.3394"
        " 0.4459 -0.0173",
    )
    assert _all_printed(
        e.vi,
        "0.3256 0.1946 0.4154 0.0200 0.0512 0.0069 0.2230 0.0040 0.0564 0.0730 0.0124 0.5325"
        " 0.0714",
    )
    assert not e.corrected.any()


def test_log_odds_ratios_of_bcg_match_escalc():
    # escalc(measure="OR", ...) on dat.bcg trials 3 and 4: -1.3863 and -1.4564,
    # tests/testthat/test_misc_escalc.r line 387.
    e = binary_effects("or", *ARMS)
    assert _all_printed(e.yi[2:4], "-1.3863 -1.4564")


@pytest.mark.parametrize(
    ("measure", "estimate", "ci_lower", "ci_upper", "tau2"),
    [
        # rma(yi, vi, method="DL") on escalc(measure=..., data=dat.bcg), against Stata metan:
        # tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r lines 40-44 (RR),
        # 88-92 (OR), 129-133 (RD). All 13 trials' yi and vi go into each of these.
        ("rr", "-0.7141", "-1.0644", "-0.3638", "0.3088"),
        ("or", "-0.7474", "-1.1242", "-0.3706", "0.3663"),
        ("rd", "-0.0071", "-0.0101", "-0.0040", "0.0000"),
    ],
)
def test_every_bcg_effect_size_pools_to_metafors_dl_result(
    measure, estimate, ci_lower, ci_upper, tau2
):
    e = binary_effects(measure, *ARMS)
    fit = dersimonian_laird(e.yi, e.vi)
    assert _printed(fit.estimate, estimate)
    assert _printed(fit.ci_lower, ci_lower) and _printed(fit.ci_upper, ci_upper)
    assert _printed(fit.tau2, tau2)


def test_common_effect_q_of_bcg_or_and_rd_match_metan():
    # Q of rma(yi, vi, method="EE") on the OR and RD effect sizes: 163.1649 and 276.4737,
    # tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r lines 73 and 115.
    assert _printed(dersimonian_laird(*binary_effects("or", *ARMS)[:2]).q, "163.1649")
    assert _printed(dersimonian_laird(*binary_effects("rd", *ARMS)[:2]).q, "276.4737")


def test_a_zero_cell_adds_one_half_to_every_cell_of_that_table_only():
    # escalc's default add=1/2, to="only0" (man/escalc.Rd, "Measures for Dichotomous
    # Variables"): 0/10 vs 3/10 becomes 0.5/11 vs 3.5/11, so log OR = log(0.5*7.5/(10.5*3.5)),
    # and the other table (no zero) is left alone.
    a, n1, c, n2 = [0, 2], [10, 10], [3, 4], [10, 10]
    e = binary_effects("or", a, n1, c, n2)
    assert e.yi[0] == pytest.approx(math.log(0.5 * 7.5 / (10.5 * 3.5)), rel=1e-12)
    assert e.vi[0] == pytest.approx(1 / 0.5 + 1 / 10.5 + 1 / 3.5 + 1 / 7.5, rel=1e-12)
    assert e.yi[1] == pytest.approx(math.log(2 * 6 / (8 * 4)), rel=1e-12)
    assert e.corrected.tolist() == [True, False]
    # The risk difference uses the corrected table as well (escalc's addyi = addvi = TRUE).
    rd = binary_effects("rd", a, n1, c, n2)
    assert rd.yi[0] == pytest.approx(0.5 / 11 - 3.5 / 11, rel=1e-12)
    assert rd.vi[0] == pytest.approx((0.5 / 11) * (10.5 / 11) / 11 + (3.5 / 11) * (7.5 / 11) / 11)


def test_no_events_in_either_arm_is_kept_with_the_correction():
    # drop00=FALSE, escalc's default, keeps the study (man/escalc.Rd): corrected, the table is
    # 0.5/10.5 in both arms, log OR 0 and vi = 2 * (1/0.5 + 1/10.5) = 4.1905 (by hand).
    e = binary_effects("or", [0], [10], [0], [10])
    assert e.yi[0] == 0.0 and _printed(e.vi[0], "4.1905")


# dat.normand1999 (Normand 1999, Stat Med 18:321-359, Table VIII), rows 1-9:
# n1i m1i sd1i n2i m2i sd2i (stroke unit care vs general ward, length of stay in days).
NORMAND = np.array(
    [
        [155, 55, 47, 156, 75, 64],
        [31, 27, 7, 32, 29, 4],
        [75, 64, 17, 71, 119, 29],
        [18, 66, 20, 18, 137, 48],
        [8, 14, 8, 13, 18, 11],
        [57, 19, 7, 52, 18, 4],
        [34, 52, 45, 33, 41, 34],
        [110, 21, 16, 183, 31, 27],
        [60, 30, 27, 52, 23, 20],
    ],
    dtype=float,
)


def test_hedges_g_of_normand_matches_escalc():
    # escalc(measure="SMD", m1i, sd1i, n1i, m2i, sd2i, n2i, data=dat.normand1999, subset=1:4):
    # yi c(-0.3552, -0.3479, -2.3176, -1.8880), vi c(0.0131, 0.0645, 0.0458, 0.1606),
    # tests/testthat/test_misc_escalc.r lines 61-63.
    n1, m1, s1, n2, m2, s2 = NORMAND[:4].T
    e = continuous_effects("smd", m1, s1, n1, m2, s2, n2)
    assert _all_printed(e.yi, "-0.3552 -0.3479 -2.3176 -1.8880")
    assert _all_printed(e.vi, "0.0131 0.0645 0.0458 0.1606")


def test_mean_differences_of_normand_match_escalc():
    # escalc(measure="MD") with the pooled SD given for both arms: yi and vi as in Normand
    # (1999) Table VIII, tests/testthat/test_analysis_example_normand1999.r lines 62-67.
    n1, m1, s1, n2, m2, s2 = NORMAND.T
    sdp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
    e = continuous_effects("md", m1, sdp, n1, m2, sdp, n2)
    assert e.yi.tolist() == [-20, -2, -55, -71, -4, 1, 11, -10, 7]
    assert _all_printed(
        e.vi, "40.5863 2.0468 15.2809 150.2222 20.1923 1.2235 95.3756 8.0321 20.6936"
    )


def test_hedges_correction_is_the_gamma_ratio_and_finite_for_large_samples():
    # c(m) = 1 - 3/(4m - 1) approximately (Hedges 1981); exact for m = 2: Gamma(1)/(1 *
    # Gamma(1/2)) = 1/sqrt(pi).
    assert hedges_correction(2.0) == pytest.approx(1 / math.sqrt(math.pi), rel=1e-12)
    big = hedges_correction(np.array([1000.0, 1e7]))
    assert np.all(np.isfinite(big)) and big[0] == pytest.approx(1 - 3 / 3999, abs=1e-6)
    assert math.isnan(hedges_correction(1.0))


@pytest.mark.parametrize(
    ("measure", "estimate", "ci_lower", "ci_upper"),
    [
        # rma.mh(measure=..., ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg), against Stata
        # metan: tests/testthat/test_misc_metan_vs_rma.mh_with_dat.bcg.r lines 13-15 (RR),
        # 36-38 (OR), 57-59 (RD).
        ("rr", "-0.4537", "-0.5308", "-0.3766"),
        ("or", "-0.4734", "-0.5538", "-0.3930"),
        ("rd", "-0.0033", "-0.0039", "-0.0027"),
    ],
)
def test_mantel_haenszel_on_bcg_matches_rma_mh(measure, estimate, ci_lower, ci_upper):
    mh = mantel_haenszel(measure, *ARMS)
    assert _printed(mh.estimate, estimate)
    assert _printed(mh.ci_lower, ci_lower) and _printed(mh.ci_upper, ci_upper)


def test_mantel_haenszel_z_values_match_rma_mh():
    # zval -11.5338 (RR), -11.5444 (OR), -11.4708 (RD): the same file, lines 16, 39, 60.
    for measure, z in (("rr", "-11.5338"), ("or", "-11.5444"), ("rd", "-11.4708")):
        mh = mantel_haenszel(measure, *ARMS)
        assert _printed(mh.estimate / mh.se, z)


def test_mantel_haenszel_without_events_is_undefined_and_others_refused():
    assert math.isnan(mantel_haenszel("or", [0, 0], [10, 12], [0, 0], [9, 11]).estimate)
    assert math.isnan(mantel_haenszel("rr", [0, 0], [10, 12], [0, 0], [9, 11]).se)
    with pytest.raises(ValueError, match="smd"):
        mantel_haenszel("smd", [1], [10], [2], [10])


def test_within_rounding_is_the_given_number_of_decimals():
    computed = np.array([0.6234, 0.6251, 0.625, 1.4, 0.62])
    given = np.array([0.62, 0.62, 0.62, 1.0, 0.6])
    decimals = np.array([2, 2, 2, 0, 1])
    assert within_rounding(given, decimals, computed).tolist() == [True, False, True, True, True]


def _bcg_effects(measure: str) -> pd.DataFrame:
    """dat.bcg as the outcomes stage's effect sizes: one row per trial with its 2x2 counts."""
    ids = [f"T{i:02d}" for i in range(1, 14)]
    return pd.DataFrame(
        {
            "study_id": ids,
            "outcome": "tb",
            "effect_measure": measure,
            "int_events": pd.array(TPOS.astype(int), dtype="Int64"),
            "int_total": pd.array((TPOS + TNEG).astype(int), dtype="Int64"),
            "ctl_events": pd.array(CPOS.astype(int), dtype="Int64"),
            "ctl_total": pd.array((CPOS + CNEG).astype(int), dtype="Int64"),
        }
    )


def test_meta_analysis_rows_get_the_mantel_haenszel_estimate_on_the_ratio_scale():
    # predict(rma.mh(measure="RR", ...), transf=exp) on dat.bcg: 0.6353 (0.5881 to 0.6862),
    # tests/testthat/test_misc_metan_vs_rma.mh_with_dat.bcg.r lines 22-24 (Stata metan too).
    effects = _bcg_effects("rr")
    pooled = pd.DataFrame(
        {
            "outcome": ["tb", "tb"],
            "effect_measure": ["rr", "rr"],
            "study_ids": [";".join(effects["study_id"]), "T01;T02"],
        }
    )
    got = with_mantel_haenszel(pooled, effects)
    assert all(
        _printed(got.loc[0, c], p)
        for c, p in zip(MH_COLUMNS, ["0.6353", "0.5881", "0.6862"], strict=True)
    )
    # The second analysis pools two trials, one of them without its counts: no MH estimate.
    missing = _bcg_effects("rr")
    missing.loc[1, "ctl_events"] = pd.NA
    assert with_mantel_haenszel(pooled, missing).loc[1, MH_COLUMNS].isna().all()
    # Odds ratios likewise: 0.6229 (0.5748 to 0.6750), the same file, lines 45-47.
    got = with_mantel_haenszel(pooled.assign(effect_measure="or"), _bcg_effects("or"))
    assert all(
        _printed(got.loc[0, c], p)
        for c, p in zip(MH_COLUMNS, ["0.6229", "0.5748", "0.6750"], strict=True)
    )
    # A measure MH does not pool, and effects without count columns, leave the columns blank.
    assert (
        with_mantel_haenszel(pooled.assign(effect_measure="smd"), _bcg_effects("smd"))[MH_COLUMNS]
        .isna()
        .all(axis=None)
    )
    bare = _bcg_effects("rr").drop(columns=["int_events"])
    assert with_mantel_haenszel(pooled, bare)[MH_COLUMNS].isna().all(axis=None)


def test_the_report_partial_names_the_computed_estimates_and_the_mh_table():
    from evsynth.effect_size_report import arm_data_sentence, effect_size_partials

    outcomes = pd.DataFrame(
        {
            "study_id": ["S_1", "S2", "S3"],
            "int_events": pd.array([4, pd.NA, 3], dtype="Int64"),
            "int_mean": [np.nan, 12.0, np.nan],
        }
    )
    meta = pd.DataFrame(
        {
            "analysis": ["main"],
            "label": ["Re-offending *police*"],
            "effect_measure": ["or"],
            "k": [2],
            "estimate": [0.7],
            "ci_lower": [0.5],
            "ci_upper": [0.98],
            "mh_estimate": [0.71],
            "mh_ci_lower": [0.52],
            "mh_ci_upper": [0.97],
        }
    )
    parts = effect_size_partials(meta, outcomes)
    text = parts["effect-sizes.md"]
    assert "3 study estimates were computed" in text
    assert r"S2, S3, S\_1" in text  # study IDs sorted, escaped as Markdown
    assert r"Re\-offending \*police\*" in text  # the label escaped
    assert "0.70 (0.50 to 0.98)" in text and "0.71 (0.52 to 0.97)" in text
    assert parts["effect-sizes-sentence.md"].startswith("3 study results were worked out")
    # Nothing computed from arm-level data: nothing said.
    none = outcomes.assign(int_events=pd.array([pd.NA] * 3, dtype="Int64"), int_mean=np.nan)
    assert effect_size_partials(meta, none) == {
        "effect-sizes.md": "",
        "effect-sizes-sentence.md": "",
    }
    # No MH estimate: the paragraph without the table, the sentence without the second method.
    plain = meta.assign(mh_estimate=np.nan)
    assert "Mantel" not in effect_size_partials(plain, outcomes)["effect-sizes.md"]
    assert "second method" not in arm_data_sentence(plain, outcomes)
