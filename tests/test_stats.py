"""Tests for evsynth.stats against published reference values.

Published numbers are asserted to the precision at which they were printed: a value printed
as -0.7145 must round to -0.7145 at 4 decimals (see ``_printed``). Every published number
carries its source in a comment. Structural and property tests follow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from evsynth.stats import (
    PooledEstimate,
    cohen_kappa_binary,
    dersimonian_laird,
    egger_test,
    hartung_knapp,
    random_effects,
    reml,
    se_from_ci,
    sign_test,
    wilson_interval,
)

Estimator = Callable[..., PooledEstimate]


def _printed(value: float, printed: str) -> bool:
    """True if ``value`` rounds to the number as printed, at the printed number of decimals."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return round(value, decimals) == float(printed)


# ---------------------------------------------------------------------------------------
# BCG vaccine trials: Colditz et al. (1994) JAMA 271:698-702, as metafor's dat.bcg
# ---------------------------------------------------------------------------------------

# trial: tpos, tneg, cpos, cneg
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
_TPOS, _TNEG, _CPOS, _CNEG = BCG.T
# log risk ratio and its sampling variance, as escalc(measure="RR")
YI = np.log((_TPOS / (_TPOS + _TNEG)) / (_CPOS / (_CPOS + _CNEG)))
VI = 1 / _TPOS - 1 / (_TPOS + _TNEG) + 1 / _CPOS - 1 / (_CPOS + _CNEG)


def test_bcg_effect_sizes_match_metafor_escalc() -> None:
    # Published yi / vi columns of escalc(measure="RR", ..., data=dat.bcg): metafor
    # reference page for dat.bcg (pkgdown, metafor 2.5-15) and the metafor README.
    # Guards the transcription of the 2x2 tables above.
    yi_pub = (
        "-0.8893 -1.5854 -1.3481 -1.4416 -0.2175 -0.7861 -1.6209"
        " 0.0120 -0.4694 -1.3713 -0.3394 0.4459 -0.0173"
    )
    vi_pub = (
        "0.3256 0.1946 0.4154 0.0200 0.0512 0.0069 0.2230 0.0040 0.0564 0.0730 0.0124 0.5325 0.0714"
    )
    assert all(_printed(x, p) for x, p in zip(YI, yi_pub.split(), strict=True))
    assert all(_printed(x, p) for x, p in zip(VI, vi_pub.split(), strict=True))


# metafor rma(yi, vi, data=dat) printed output (REML default): metafor reference pages for
# dat.bcg and rma.uni; also Viechtbauer (2010) J Stat Softw 36(3), section 3.
REML_PUBLISHED = [
    ("tau2", "0.3132"),
    ("i2", "92.22"),
    ("h2", "12.86"),
    ("q", "152.2330"),
    ("estimate", "-0.7145"),
    ("se", "0.1798"),
    ("ci_lower", "-1.0669"),
    ("ci_upper", "-0.3622"),
]


@pytest.mark.parametrize(("field", "printed"), REML_PUBLISHED)
def test_reml_bcg_matches_metafor(field: str, printed: str) -> None:
    res = reml(YI, VI)
    assert _printed(getattr(res, field), printed)


def test_reml_bcg_test_statistics_match_metafor() -> None:
    res = reml(YI, VI)
    assert res.method == "REML"
    assert res.k == 13
    assert res.q_df == 12  # "Q(df = 12)"
    assert res.q_p < 1e-4  # "p-val < .0001"
    assert _printed(res.estimate / res.se, "-3.9744")  # zval


def test_reml_bcg_prediction_interval_matches_metafor_predict() -> None:
    # predict(res, transf=exp) for the REML model, metafor dat.bcg reference page:
    #    pred  ci.lb  ci.ub  cr.lb  cr.ub
    #  0.4894 0.3441 0.6962 0.1546 1.5490
    # This is reproduced only with the normal quantile (metafor's default test="z");
    # t_{k-2} (Higgins et al. 2009) would give 0.1342 to 1.7848.
    res = reml(YI, VI)
    assert _printed(math.exp(res.estimate), "0.4894")
    assert _printed(math.exp(res.ci_lower), "0.3441")
    assert _printed(math.exp(res.ci_upper), "0.6962")
    assert _printed(math.exp(res.pi_lower), "0.1546")
    assert _printed(math.exp(res.pi_upper), "1.5490")


def test_reml_i2_uses_typical_within_study_variance_not_q() -> None:
    # metafor prints I^2 = 92.22% for REML; the Q-based (Q - df)/Q would be 92.12%.
    res = reml(YI, VI)
    q_based = 100 * (res.q - res.q_df) / res.q
    assert _printed(q_based, "92.12")
    assert not _printed(res.i2, "92.12")


# DerSimonian-Laird: metafor's tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r,
# which checks rma(method="DL") against Stata `metan tpos tneg cpos cneg, randomi rr`.
DL_PUBLISHED = [
    ("tau2", "0.3088"),
    ("i2", "92.1173"),
    ("q", "152.2330"),
    ("estimate", "-0.7141"),
    ("ci_lower", "-1.0644"),
    ("ci_upper", "-0.3638"),
]


@pytest.mark.parametrize(("field", "printed"), DL_PUBLISHED)
def test_dersimonian_laird_bcg_matches_metafor_and_metan(field: str, printed: str) -> None:
    res = dersimonian_laird(YI, VI)
    assert _printed(getattr(res, field), printed)


def test_dersimonian_laird_bcg_ratio_scale_and_z() -> None:
    res = dersimonian_laird(YI, VI)
    assert res.method == "DL"
    assert _printed(res.estimate / res.se, "-3.9952")  # zval (Stata: 4.00)
    assert _printed(math.exp(res.estimate), "0.4896")
    assert _printed(math.exp(res.ci_lower), "0.3449")
    assert _printed(math.exp(res.ci_upper), "0.6950")


def test_dersimonian_laird_i2_equals_q_based_i2() -> None:
    # Higgins & Thompson (2002): for the DL estimator the two I^2 definitions coincide.
    res = dersimonian_laird(YI, VI)
    assert res.i2 == pytest.approx(100 * (res.q - res.q_df) / res.q, abs=1e-9)


# Hartung-Knapp: metafor README, rma(yi, vi, data=dat, test="knha"):
#  estimate      se     tval  df    pval    ci.lb    ci.ub
#   -0.7145  0.1808  -3.9522  12  0.0019  -1.1084  -0.3206
# predict(res, transf=exp, digits=2):  pred 0.49  ci 0.33 0.73  pi 0.14 1.76
def test_hartung_knapp_bcg_matches_metafor_knha() -> None:
    res = random_effects(YI, VI, method="REML", hartung_knapp=True)
    assert res.method == "REML+HK"
    assert _printed(res.estimate, "-0.7145")
    assert _printed(res.se, "0.1808")
    assert _printed(res.ci_lower, "-1.1084")
    assert _printed(res.ci_upper, "-0.3206")
    t = res.estimate / res.se
    assert _printed(t, "-3.9522")
    assert _printed(2 * sps.t.sf(abs(t), res.k - 1), "0.0019")
    assert _printed(res.tau2, "0.3132")  # tau^2 is not changed by the adjustment
    assert _printed(math.exp(res.ci_lower), "0.33")
    assert _printed(math.exp(res.ci_upper), "0.73")
    # under knha metafor's PI uses t_{k-1} and the HK standard error
    assert _printed(math.exp(res.pi_lower), "0.14")
    assert _printed(math.exp(res.pi_upper), "1.76")


def test_hartung_knapp_function_equals_dispatcher() -> None:
    direct = hartung_knapp(reml(YI, VI), YI, VI)
    assert direct == random_effects(YI, VI, hartung_knapp=True)
    dl = random_effects(YI, VI, method="DL", hartung_knapp=True)
    assert dl.method == "DL+HK"
    assert dl.tau2 == dersimonian_laird(YI, VI).tau2


def test_hartung_knapp_rejects_misuse() -> None:
    adjusted = random_effects(YI, VI, hartung_knapp=True)
    with pytest.raises(ValueError, match="already"):
        hartung_knapp(adjusted, YI, VI)
    with pytest.raises(ValueError, match="k="):
        hartung_knapp(reml(YI, VI), YI[:5], VI[:5])


def test_hartung_knapp_identical_effects_gives_zero_scale() -> None:
    # metafor sets the KNHA scale factor to 0 when the residual sum is ~0 (all yi equal).
    res = random_effects([0.3, 0.3, 0.3], [0.1, 0.2, 0.3], hartung_knapp=True)
    assert res.se == 0.0
    assert res.ci_lower == res.ci_upper == pytest.approx(0.3)


# ---------------------------------------------------------------------------------------
# Random-effects: structure, edge cases, numerics
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", [reml, dersimonian_laird, random_effects])
def test_fewer_than_two_studies_raises(func: Estimator) -> None:
    with pytest.raises(ValueError, match="k >= 2"):
        func([0.5], [0.1])
    with pytest.raises(ValueError, match="k >= 2"):
        func([], [])


@pytest.mark.parametrize(
    ("yi", "vi"),
    [
        ([0.1, 0.2], [0.1]),  # length mismatch
        ([0.1, 0.2], [0.1, 0.0]),  # zero variance
        ([0.1, 0.2], [0.1, -1.0]),  # negative variance
        ([0.1, math.nan], [0.1, 0.1]),  # missing effect
        ([0.1, 0.2], [0.1, math.inf]),  # infinite variance
    ],
)
def test_invalid_inputs_raise(yi: list[float], vi: list[float]) -> None:
    for func in (reml, dersimonian_laird):
        with pytest.raises(ValueError):
            func(yi, vi)


def test_unknown_method_raises() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        random_effects(YI, VI, method="PM")


def test_method_is_case_insensitive() -> None:
    assert random_effects(YI, VI, method="dl") == dersimonian_laird(YI, VI)
    assert random_effects(YI, VI, method="reml") == reml(YI, VI)


@pytest.mark.parametrize("func", [reml, dersimonian_laird])
def test_identical_effects_truncate_tau2_at_zero(func: Estimator) -> None:
    res = func([0.4, 0.4, 0.4, 0.4], [0.05, 0.1, 0.2, 0.4])
    assert res.tau2 == 0.0
    assert res.i2 == 0.0
    assert res.h2 == 1.0
    assert res.q == pytest.approx(0.0, abs=1e-12)
    assert res.q_p == pytest.approx(1.0)
    assert res.estimate == pytest.approx(0.4)
    # with tau2 = 0 the model reduces to the fixed-effect (inverse-variance) model
    assert res.se == pytest.approx(1 / math.sqrt(1 / 0.05 + 1 / 0.1 + 1 / 0.2 + 1 / 0.4))


@pytest.mark.parametrize("func", [reml, dersimonian_laird])
def test_less_spread_than_expected_gives_tau2_zero(func: Estimator) -> None:
    # Q < df: the moment estimate is negative and the REML optimum is on the boundary.
    yi, vi = [0.10, 0.12, 0.09, 0.11], [0.5, 0.5, 0.5, 0.5]
    res = func(yi, vi)
    assert res.q < res.q_df
    assert res.tau2 == 0.0
    assert res.i2 == 0.0


def test_prediction_interval_needs_three_studies() -> None:
    two = reml([0.1, 0.9], [0.05, 0.05])
    assert math.isnan(two.pi_lower) and math.isnan(two.pi_upper)
    assert math.isfinite(two.ci_lower) and math.isfinite(two.ci_upper)
    three = reml([0.1, 0.9, 0.5], [0.05, 0.05, 0.05])
    assert three.pi_lower < three.ci_lower < three.estimate < three.ci_upper < three.pi_upper


def test_reml_solves_the_restricted_likelihood_score_equation() -> None:
    # At an interior REML optimum: sum w^2 (y - mu)^2 = sum w - sum w^2 / sum w.
    res = reml(YI, VI)
    w = 1 / (VI + res.tau2)
    lhs = float(np.sum(w**2 * (YI - res.estimate) ** 2))
    rhs = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    assert lhs == pytest.approx(rhs, rel=1e-8)


def test_reml_fallback_search_agrees_with_root_finding() -> None:
    # max_iter=1 cannot converge, forcing the bounded likelihood search.
    assert reml(YI, VI, max_iter=1).tau2 == pytest.approx(reml(YI, VI).tau2, abs=1e-6)


def _exact_reml_score(yi: Sequence[float], vi: Sequence[float], tau2: Fraction) -> Fraction:
    """Twice the restricted score, y'PPy - tr P = sum (w (y - mu))^2 - (sum w - sum w^2 /
    sum w), w = 1/(vi + tau2), in exact rational arithmetic on the floats given."""
    w = [1 / (Fraction(v) + tau2) for v in vi]
    sw = sum(w)
    mu = sum(a * Fraction(y) for a, y in zip(w, yi, strict=True)) / sw
    rss = sum((a * (Fraction(y) - mu)) ** 2 for a, y in zip(w, yi, strict=True))
    return rss - (sw - sum(a * a for a in w) / sw)


def _brackets_reml_root(yi: Sequence[float], vi: Sequence[float], tau2: float) -> bool:
    """True if the exact score changes sign from + to - across tau2 * (1 -/+ 1e-10)."""
    step = Fraction(tau2) * Fraction(1, 10**10)
    below = _exact_reml_score(yi, vi, Fraction(tau2) - step)
    above = _exact_reml_score(yi, vi, Fraction(tau2) + step)
    return below > 0 > above


def _restricted_loglik(yi: Sequence[float], vi: Sequence[float], tau2: float) -> float:
    t = np.asarray(vi) + tau2
    w = 1 / t
    mu = np.sum(w * np.asarray(yi)) / np.sum(w)
    return float(-0.5 * (np.sum(np.log(t)) + np.log(np.sum(w)) + np.sum(w * (yi - mu) ** 2)))


def test_reml_takes_the_interior_mode_of_a_bimodal_likelihood() -> None:
    # The restricted likelihood of these data has two maxima: one on the boundary (the score
    # is < 0 at tau2 = 0) and a higher one inside, near 0.0957. Fisher scoring from the
    # Hedges start (0.17) walks down to the inside one, but a plain Newton step from there
    # jumps over it (and over the minimum near 0.005) to the boundary.
    yi, vi = [0.38, -0.83, 0.21, 0.67], [0.05, 0.21, 0.02, 0.43]
    assert _exact_reml_score(yi, vi, Fraction(0)) < 0
    res = reml(yi, vi)
    assert 0.0957 < res.tau2 < 0.0958
    assert _brackets_reml_root(yi, vi, res.tau2)
    assert _restricted_loglik(yi, vi, res.tau2) > _restricted_loglik(yi, vi, 0.0) + 0.04


def test_reml_converges_where_fisher_scoring_oscillates() -> None:
    # Plain Fisher scoring from the Hedges start swings around the root with growing
    # amplitude on these data and never converges (as on about 1% of small random data
    # sets); the root must still be found to full precision.
    yi = [-0.23, -0.15, 0.39, -0.12, -0.09, -0.31]
    vi = [0.37, 0.22, 0.03, 0.49, 0.36, 0.41]
    res = reml(yi, vi)
    assert 0.038 < res.tau2 < 0.039
    assert _brackets_reml_root(yi, vi, res.tau2)


def test_heavily_dominated_weights_match_exact_arithmetic() -> None:
    # One study 1e11 times more precise than the rest. Written as it stands, sum w - sum w^2 /
    # sum w (tr P, the DL denominator and the typical within-study variance behind I^2 and H^2)
    # cancels catastrophically: relative error ~2e-6 on these data.
    yi = [0.31, -0.42, 0.05, 0.77, -0.1]
    vi = [1.3e-12, 0.13, 0.27, 0.41, 0.06]
    w = [1 / Fraction(v) for v in vi]
    sw = sum(w)
    mu = sum(a * Fraction(y) for a, y in zip(w, yi, strict=True)) / sw
    q = sum(a * (Fraction(y) - mu) ** 2 for a, y in zip(w, yi, strict=True))
    tr_p = sw - sum(a * a for a in w) / sw
    s2 = (len(yi) - 1) / tr_p
    tau2_dl = max(Fraction(0), (q - (len(yi) - 1)) / tr_p)
    assert tau2_dl > 0
    dl = dersimonian_laird(yi, vi)
    assert dl.q == pytest.approx(float(q), rel=1e-12)
    assert dl.tau2 == pytest.approx(float(tau2_dl), rel=1e-12)
    assert dl.h2 == pytest.approx(float(tau2_dl / s2 + 1), rel=1e-12)
    res = reml(yi, vi)
    assert _brackets_reml_root(yi, vi, res.tau2)
    assert res.h2 == pytest.approx(float(Fraction(res.tau2) / s2 + 1), rel=1e-12)
    wt = [1 / (Fraction(v) + Fraction(res.tau2)) for v in vi]
    mu_re = sum(a * Fraction(y) for a, y in zip(wt, yi, strict=True)) / sum(wt)
    assert res.estimate == pytest.approx(float(mu_re), rel=1e-12)


def test_reml_rejects_bad_control_arguments() -> None:
    with pytest.raises(ValueError):
        reml(YI, VI, tol=0.0)
    with pytest.raises(ValueError):
        reml(YI, VI, max_iter=0)


def test_pooled_estimate_is_frozen() -> None:
    res = reml(YI, VI)
    assert isinstance(res, PooledEstimate)
    with pytest.raises(AttributeError):
        res.tau2 = 0.0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------
# Sign test, Wilson interval, agreement
# ---------------------------------------------------------------------------------------


def test_sign_test_ten_benefit_two_harm() -> None:
    # Exact two-sided binomial test: 2 * P(X <= 2 | n=12, p=0.5) = 158/4096 = 0.0386.
    assert _printed(sign_test(10, 2), "0.0386")
    assert sign_test(10, 2) == pytest.approx(158 / 4096)
    assert sign_test(2, 10) == sign_test(10, 2)


def test_sign_test_edge_cases() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(3, 3) == 1.0
    assert sign_test(5, 0) == pytest.approx(2 / 32)
    with pytest.raises(ValueError):
        sign_test(-1, 3)
    with pytest.raises(ValueError):
        sign_test(2.5, 3)  # type: ignore[arg-type]


# Newcombe RG (1998). Two-sided confidence intervals for the single proportion: comparison
# of seven methods. Statistics in Medicine 17:857-872. Worked examples, method 3 (Wilson
# score interval without continuity correction), 95% level.
@pytest.mark.parametrize(
    ("x", "n", "lower", "upper"),
    [
        (81, 263, "0.2553", "0.3662"),
        (15, 148, "0.0624", "0.1605"),
        (0, 20, "0.0000", "0.1611"),
        (1, 29, "0.0061", "0.1718"),
    ],
)
def test_wilson_interval_newcombe_1998(x: int, n: int, lower: str, upper: str) -> None:
    lo, hi = wilson_interval(x, n)
    assert _printed(lo, lower)
    assert _printed(hi, upper)


def test_wilson_interval_edge_cases() -> None:
    lo, hi = wilson_interval(0, 0)
    assert math.isnan(lo) and math.isnan(hi)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    # a wider level gives a wider interval
    lo90, hi90 = wilson_interval(81, 263, level=0.90)
    lo95, hi95 = wilson_interval(81, 263)
    assert lo95 < lo90 < hi90 < hi95
    for bad in [(-1, 10), (11, 10), (1, -1)]:
        with pytest.raises(ValueError):
            wilson_interval(*bad)
    with pytest.raises(ValueError):
        wilson_interval(1, 10, level=1.0)


def test_cohen_kappa_binary_two_by_two_example() -> None:
    # Two raters, 50 yes/no decisions: both yes 20, A yes B no 5, A no B yes 10, both no 15
    # (the worked example of the Wikipedia article "Cohen's kappa"). p_o = 35/50 = 0.70;
    # p_e = (25/50)(30/50) + (25/50)(20/50) = 0.50; kappa = (0.70 - 0.50)/(1 - 0.50) = 0.40.
    assert cohen_kappa_binary(50, 35, 25, 30) == pytest.approx(0.4)
    assert cohen_kappa_binary(50, 35, 30, 25) == pytest.approx(0.4)  # symmetric in raters


def test_cohen_kappa_binary_edge_cases() -> None:
    assert cohen_kappa_binary(4, 4, 2, 2) == 1.0  # perfect agreement, balanced margins
    # complete disagreement with balanced margins: p_o = 0, p_e = 0.5
    assert cohen_kappa_binary(2, 0, 1, 1) == pytest.approx(-1.0)
    # both raters say yes to everything: p_e = 1, kappa undefined -> NaN (Cohen 1960: 0/0)
    assert math.isnan(cohen_kappa_binary(3, 3, 3, 3))
    assert math.isnan(cohen_kappa_binary(3, 3, 0, 0))  # ... or no to everything
    # one always yes, the other always no: p_e = 0, kappa = p_o = 0
    assert cohen_kappa_binary(2, 0, 2, 0) == 0.0
    assert math.isnan(cohen_kappa_binary(0, 0, 0, 0))


# ---------------------------------------------------------------------------------------
# Standard error from a confidence interval
# ---------------------------------------------------------------------------------------


def test_se_from_ci_round_trip_log_scale() -> None:
    se = np.sqrt(VI)
    z = sps.norm.ppf(0.975)
    lower, upper = np.exp(YI - z * se), np.exp(YI + z * se)
    recovered = se_from_ci(lower, upper, log_scale=True)
    assert isinstance(recovered, np.ndarray)
    np.testing.assert_allclose(recovered, se, rtol=1e-12)


def test_se_from_ci_linear_scale_and_level() -> None:
    # Cochrane Handbook 6.3.1: SE = (upper - lower) / 3.92 for a 95% CI.
    assert float(se_from_ci(1.0, 4.92, log_scale=False)) == pytest.approx(1.0, rel=1e-3)
    z90 = sps.norm.ppf(0.95)
    assert float(se_from_ci(-z90, z90, log_scale=False, level=0.90)) == pytest.approx(1.0)
    assert math.isnan(float(se_from_ci(math.nan, 2.0, log_scale=True)))


def test_se_from_ci_rejects_invalid_bounds() -> None:
    with pytest.raises(ValueError):
        se_from_ci(0.0, 2.0, log_scale=True)
    with pytest.raises(ValueError):
        se_from_ci(-0.5, 2.0, log_scale=True)
    with pytest.raises(ValueError):
        se_from_ci(2.0, 1.0, log_scale=False)
    with pytest.raises(ValueError):
        se_from_ci(1.0, 2.0, log_scale=False, level=0.0)


# ---------------------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------------------

_effects = st.floats(min_value=-20.0, max_value=20.0, allow_nan=False, allow_infinity=False)
_variances = st.floats(min_value=1e-6, max_value=1e4, allow_nan=False, allow_infinity=False)


@st.composite
def _meta_data(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    k = draw(st.integers(min_value=2, max_value=40))
    yi = draw(st.lists(_effects, min_size=k, max_size=k))
    vi = draw(st.lists(_variances, min_size=k, max_size=k))
    return yi, vi


def _check_pooled(res: PooledEstimate, yi: list[float]) -> None:
    span = max(yi) - min(yi)
    slack = 1e-9 * max(1.0, span, max(abs(y) for y in yi))
    assert min(yi) - slack <= res.estimate <= max(yi) + slack
    assert res.tau2 >= 0.0
    assert 0.0 <= res.i2 <= 100.0
    assert res.h2 >= 1.0
    assert res.q >= 0.0 and 0.0 <= res.q_p <= 1.0
    assert res.se > 0.0 and math.isfinite(res.se)
    assert res.ci_lower <= res.estimate <= res.ci_upper
    if res.k >= 3:
        assert res.pi_lower <= res.ci_lower and res.ci_upper <= res.pi_upper
    else:
        assert math.isnan(res.pi_lower) and math.isnan(res.pi_upper)


@settings(max_examples=300, deadline=None)
@given(_meta_data())
def test_property_reml_and_dl_are_well_behaved(data: tuple[list[float], list[float]]) -> None:
    yi, vi = data
    for method in ("REML", "DL"):
        res = random_effects(yi, vi, method=method)
        _check_pooled(res, yi)
        hk = random_effects(yi, vi, method=method, hartung_knapp=True)
        assert hk.se >= 0.0 and math.isfinite(hk.se)
        assert hk.tau2 == res.tau2 and hk.estimate == pytest.approx(res.estimate)


@settings(max_examples=100, deadline=None)
@given(_meta_data(), st.floats(min_value=-5.0, max_value=5.0))
def test_property_location_shift_equivariance(
    data: tuple[list[float], list[float]], shift: float
) -> None:
    yi, vi = data
    for func in (reml, dersimonian_laird):
        base = func(yi, vi)
        moved = func([y + shift for y in yi], vi)
        assert moved.estimate == pytest.approx(base.estimate + shift, abs=1e-6)
        assert moved.tau2 == pytest.approx(base.tau2, rel=1e-5, abs=1e-8)


@given(st.integers(0, 500), st.integers(0, 500))
def test_property_sign_test_is_a_symmetric_probability(a: int, b: int) -> None:
    p = sign_test(a, b)
    assert 0.0 < p <= 1.0
    assert p == pytest.approx(sign_test(b, a))


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_property_wilson_contains_the_observed_proportion(xn: tuple[int, int]) -> None:
    x, n = xn
    lo, hi = wilson_interval(x, n)
    assert 0.0 <= lo <= x / n <= hi <= 1.0


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_property_kappa_is_bounded_or_nan(pairs: list[tuple[bool, bool]]) -> None:
    n = len(pairs)
    kappa = cohen_kappa_binary(
        n, sum(x == y for x, y in pairs), sum(x for x, _ in pairs), sum(y for _, y in pairs)
    )
    assert math.isnan(kappa) or -1.0 - 1e-12 <= kappa <= 1.0 + 1e-12


# ---------------------------------------------------------------------------------------
# Rules the mutation check (tools/mutate.py) found unpinned
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("func", [reml, dersimonian_laird])
def test_q_p_value_has_k_minus_1_degrees_of_freedom(func: Estimator) -> None:
    # yi = 0, 1, 2 with vi = 1: fixed-effect mean 1, Q = 1 + 0 + 1 = 2 on k - 1 = 2 df, and
    # the upper tail of chi-square with 2 df is exp(-x/2): p = exp(-1) = 0.3679 (Cochran
    # 1954). With k = 3 df it would be 0.5724, with 1 df 0.1573.
    res = func([0.0, 1.0, 2.0], [1.0, 1.0, 1.0])
    assert res.q == pytest.approx(2.0) and res.q_df == 2
    assert res.q_p == pytest.approx(math.exp(-1.0), rel=1e-12)


def test_q_p_value_of_bcg_is_chi_square_on_12_df() -> None:
    # metafor, dat.bcg: "Q(df = 12) = 152.2330, p-val < .0001". Both 11 and 12 df print as
    # < .0001; the value tells them apart: 2.00e-26 on 12 df, 5.21e-27 on 11.
    res = reml(YI, VI)
    assert res.q_p == pytest.approx(sps.chi2.sf(152.2330, 12), rel=1e-3)
    assert sps.chi2.sf(152.2330, 11) < res.q_p / 3


# ---------------------------------------------------------------------------------------
# Many meta-analyses in one call (dersimonian_laird_many, reml_many, random_effects_many)
# ---------------------------------------------------------------------------------------

from evsynth.stats import (  # noqa: E402 - the batched API, tested as one block here
    PooledEstimates,
    dersimonian_laird_many,
    random_effects_many,
    reml_many,
)

_FIELDS = tuple("k estimate se ci_lower ci_upper pi_lower pi_upper tau2 i2 h2 q q_df q_p".split())

# The hard cases of the one-group tests above: a bimodal restricted likelihood, data where
# Fisher scoring oscillates, one study 1e11 times more precise than the rest; and data where a
# Newton step lands on the same side of the root outside the concave region, and only the
# Fisher step taken instead leads to reml's root (3.1e-5; Newton would go on to 0.032).
_HARD_GROUPS = [
    ([0.38, -0.83, 0.21, 0.67], [0.05, 0.21, 0.02, 0.43]),
    ([-0.23, -0.15, 0.39, -0.12, -0.09, -0.31], [0.37, 0.22, 0.03, 0.49, 0.36, 0.41]),
    ([0.31, -0.42, 0.05, 0.77, -0.1], [1.3e-12, 0.13, 0.27, 0.41, 0.06]),
    ([0.083, -0.291, 0.014, 0.103], [4.3e-05, 0.015292, 11.687079, 0.00025]),
]


def _random_groups(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Groups of very different sizes (k = 2 to 400) and kinds: true tau2 from 0 to 1,
    sampling variances of one scale or spanning six orders of magnitude, identical effects
    and effects spread less than chance (tau2 = 0), and the hard cases above."""
    rng = np.random.default_rng(seed)
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    for i in range(300):
        k = int(rng.choice([2, 2, 3, 5, 10, 30, 400] if i % 10 == 0 else [2, 3, 4, 8, 15]))
        vi = rng.uniform(0.005, 0.5, k)
        if i % 4 == 0:
            vi = vi * 10.0 ** rng.integers(-3, 3, k)
        tau2 = float(rng.choice([0.0, 0.02, 0.1, 1.0]))
        yi = rng.normal(rng.normal(0.0, 0.5), np.sqrt(vi + tau2))
        if i % 25 == 0:
            yi = np.full(k, 0.4)  # identical effects
        elif i % 25 == 1:
            yi = 0.1 + rng.normal(0.0, 0.01, k)  # far less spread than vi allows
            vi = np.full(k, 0.5)
        groups.append((yi, vi))
    groups += [(np.array(y), np.array(v)) for y, v in _HARD_GROUPS]
    return groups


def _concatenated(
    groups: list[tuple[np.ndarray, np.ndarray]], seed: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The studies of all groups as three parallel arrays, group i labelled i, shuffled with
    ``seed`` (the batched call must not need them sorted by group) or in order if None."""
    yi = np.concatenate([y for y, _ in groups])
    vi = np.concatenate([v for _, v in groups])
    group = np.repeat(np.arange(len(groups)), [len(y) for y, _ in groups])
    if seed is None:
        return yi, vi, group
    order = np.random.default_rng(seed).permutation(yi.size)
    return yi[order], vi[order], group[order]


def _assert_same_fit(batched: PooledEstimate, one: PooledEstimate, tol: float = 1e-12) -> None:
    """Every field within ``tol``, absolute or relative; I^2 as a proportion, as the others are
    on their own scale (a REML tau2 of 2e-4 is fixed to ~5e-16 by the rounding of its score,
    and 100 tau2 / (tau2 + s2) carries that as ~1e-12 percentage points)."""
    assert batched.method == one.method
    for field in _FIELDS:
        a, b = getattr(batched, field), getattr(one, field)
        if field == "i2":
            a, b = a / 100, b / 100
        if math.isnan(b):
            assert math.isnan(a), field
        else:
            assert a == pytest.approx(b, rel=tol, abs=tol), field


def test_batched_reproduces_bcg_among_other_groups() -> None:
    # BCG (published values above) as the group labelled "bcg", its 13 trials shuffled
    # among 100 random groups of k 2-30: the batched call must pool it as metafor does.
    rng = np.random.default_rng(7)
    groups = [(rng.normal(0, 1, k), rng.uniform(0.01, 1, k)) for k in rng.integers(2, 31, 100)]
    yi, vi, number = _concatenated([(YI, VI), *groups], seed=3)
    label = np.where(number == 0, "bcg", np.char.add("g", number.astype(str)))
    dl, rem = dersimonian_laird_many(yi, vi, label), reml_many(yi, vi, label)
    i = int(np.flatnonzero(dl.group == "bcg")[0])
    for field, printed in DL_PUBLISHED:
        assert _printed(getattr(dl[i], field), printed), field
    assert rem.group[i] == "bcg"
    for field, printed in REML_PUBLISHED:
        assert _printed(getattr(rem[i], field), printed), field
    _assert_same_fit(dl[i], dersimonian_laird(YI, VI))
    _assert_same_fit(rem[i], reml(YI, VI))


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    ("many", "one"), [(dersimonian_laird_many, dersimonian_laird), (reml_many, reml)]
)
def test_batched_agrees_with_one_group_fits(
    seed: int, many: Callable[..., PooledEstimates], one: Estimator
) -> None:
    groups = _random_groups(seed)
    fits = many(*_concatenated(groups, seed))
    assert len(fits) == len(groups)
    assert list(fits.group) == list(range(len(groups)))
    records = fits.records()
    for i, (yi, vi) in enumerate(groups):
        _assert_same_fit(records[i], one(yi, vi))
    assert (fits.tau2 == 0.0).sum() >= 10  # the tau2 = 0 cases were reached
    assert set(fits.k) >= {2, 400}


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_batched_hartung_knapp_agrees_with_one_group_fits(method: str) -> None:
    groups = _random_groups(5)
    fits = random_effects_many(*_concatenated(groups, 5), method=method.lower(), hartung_knapp=True)
    for i, (yi, vi) in enumerate(groups):
        _assert_same_fit(fits[i], random_effects(yi, vi, method=method, hartung_knapp=True))
    assert fits.method == f"{method}+HK"


def test_batched_reml_falls_back_to_the_bounded_search_as_one_group_does() -> None:
    # max_iter=1 cannot converge: every group takes reml's bounded likelihood search. That
    # search stops within 1e-10, so each group's studies go in their own order (unshuffled)
    # for it to take the same steps as the one-group call.
    groups = _random_groups(4)[:60]
    fits = reml_many(*_concatenated(groups, None), max_iter=1)
    for i, (yi, vi) in enumerate(groups):
        _assert_same_fit(fits[i], reml(yi, vi, max_iter=1))


def test_batched_rejects_bad_groups_naming_the_group() -> None:
    yi, vi = [0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.1, 0.1, 0.1, 0.1]
    with pytest.raises(ValueError, match=r"group 'b'.*k >= 2.*got 1"):
        dersimonian_laird_many(yi, vi, ["a", "a", "b", "c", "c"])
    with pytest.raises(ValueError, match=r"group 'c'.*finite"):
        reml_many([0.1, 0.2, 0.3, math.nan], [0.1] * 4, ["a", "a", "c", "c"])
    with pytest.raises(ValueError, match=r"group 'a'.*vi must be > 0"):
        random_effects_many([0.1, 0.2, 0.3, 0.4], [0.1, 0.0, 0.1, 0.1], ["a", "a", "c", "c"])
    with pytest.raises(ValueError, match="differ in length"):
        dersimonian_laird_many(yi, vi, ["a", "a"])
    with pytest.raises(ValueError, match="unknown method"):
        random_effects_many(yi, vi, [0, 0, 1, 1, 1], method="PM")
    with pytest.raises(ValueError):
        reml_many(yi, vi, [0, 0, 1, 1, 1], tol=0.0)


def test_batched_sorted_integer_groups_equal_any_other_labelling() -> None:
    # Integer labels in sorted order (as the outcomes stage passes them) take a path with no
    # sort; it must find the same groups as labels in any order: here -3, 0, 7 and 40 against
    # the same groups labelled by strings in shuffled order.
    groups = _random_groups(6)[:4]
    yi, vi, number = _concatenated(groups, None)
    codes = np.array([-3, 0, 7, 40])[number]
    fast = reml_many(yi, vi, codes)
    order = np.random.default_rng(2).permutation(yi.size)
    named = reml_many(yi[order], vi[order], np.array(["a", "b", "c", "d"])[number[order]])
    assert list(fast.group) == [-3, 0, 7, 40]
    assert list(fast.k) == [len(y) for y, _ in groups]
    for i in range(4):
        _assert_same_fit(fast[i], named[i])


# ---------------------------------------------------------------------------------------
# Egger's regression test (small-study effects)
# ---------------------------------------------------------------------------------------

# metafor 3.8-1 (Debian r-cran-metafor), Egger's classic test on dat.bcg:
#   Rscript -e 'library(metafor); dat <- escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos,
#     di=cneg, data=dat.bcg); res <- rma(yi, vi, data=dat);
#     r <- regtest(res, model="lm", predictor="sei"); print(r); print(coef(summary(r$fit)))'
# printed:
#   Test for Funnel Plot Asymmetry: t = -1.4013, df = 11, p = 0.1887
#   Xsei  Estimate -2.1120421209  Std. Error 1.5072213284  t -1.4012820023  Pr(>|t|) 0.1887069951
# metafor's coefficient of sei in yi ~ sei (weights 1/vi) is Egger's intercept of yi/sei on
# 1/sei (divide the model through by sei). metafor's default regtest (model="rma") is a
# different test and is not matched here.
EGGER_BCG_METAFOR = [
    ("intercept", "-2.1120421209"),
    ("se", "1.5072213284"),
    ("p", "0.1887069951"),
]


@pytest.mark.parametrize(("field", "printed"), EGGER_BCG_METAFOR)
def test_egger_test_bcg_matches_metafor_regtest_lm_sei(field: str, printed: str) -> None:
    got = egger_test(YI, np.sqrt(VI))
    assert got.k == 13
    assert _printed(getattr(got, field), printed)


def test_egger_test_bcg_t_statistic_matches_metafor() -> None:
    got = egger_test(YI, np.sqrt(VI))
    assert _printed(got.intercept / got.se, "-1.4013")  # "t = -1.4013, df = 11"


def test_egger_test_matches_scipy_linregress():
    """Egger et al. 1997: OLS of y/se on 1/se, intercept t test with k - 2 df. Checked against
    scipy.stats.linregress, an independent implementation."""
    yi = [-0.89, -1.59, -1.35, -1.44, -0.22, -0.79, -1.62, 0.01, -0.47, -1.37, -0.34, 0.45]
    sei = [0.57, 0.44, 0.64, 0.14, 0.23, 0.06, 0.47, 0.06, 0.24, 0.27, 0.11, 0.53]
    x = [1 / s for s in sei]
    z = [y / s for y, s in zip(yi, sei, strict=True)]
    ref = sps.linregress(x, z)
    t = ref.intercept / ref.intercept_stderr
    p = 2 * sps.t.sf(abs(t), len(yi) - 2)
    got = egger_test(yi, sei)
    assert got.k == 12
    assert got.intercept == pytest.approx(ref.intercept, rel=1e-10)
    assert got.se == pytest.approx(ref.intercept_stderr, rel=1e-10)
    assert got.p == pytest.approx(p, rel=1e-10)


def test_egger_test_known_intercept_and_bad_input():
    """Standardised effects z = b0 + 0.3 * precision + e, with residuals e orthogonal to
    (1, precision), so least squares returns b0 exactly: 0 (a symmetric funnel, p = 1) and 2."""
    precision = [1.0, 2.0, 3.0, 4.0, 5.0]
    e = [1.0, -2.0, 0.0, 2.0, -1.0]  # sum 0, sum of precision * e = 0
    sei = [1 / x for x in precision]
    for b0 in (0.0, 2.0):
        yi = [(b0 + 0.3 * x + r) / x for x, r in zip(precision, e, strict=True)]
        got = egger_test(yi, sei)
        assert got.intercept == pytest.approx(b0, abs=1e-12)
        if b0 == 0.0:
            assert got.p == pytest.approx(1.0)
    # A perfect line leaves no residual variance: no p value rather than p = 0.
    assert math.isnan(egger_test([0.3] * 3, [0.1, 0.2, 0.4]).p)
    with pytest.raises(ValueError, match="at least 3 studies"):
        egger_test([0.1, 0.2], [0.1, 0.2])
    with pytest.raises(ValueError, match="standard error > 0"):
        egger_test([0.1, 0.2, 0.3], [0.1, 0.0, 0.2])
    with pytest.raises(ValueError, match="different precision"):
        egger_test([0.1, 0.2, 0.3], [0.2, 0.2, 0.2])
