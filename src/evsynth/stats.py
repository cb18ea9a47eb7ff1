"""Statistical estimators used by the evidence-synthesis pipeline.

Every function here is pure (no I/O, no printing) and depends only on numpy and scipy.
Each estimator is one function named for its method, and each docstring cites the source
whose formula it implements. The random-effects code follows metafor's ``rma.uni()``
(Viechtbauer 2010, J Stat Softw 36(3)) closely enough to reproduce its printed output for
the BCG vaccine data (``dat.bcg``) to four decimals; ``tests/test_stats.py`` pins that.

Conventions (chosen once, here, and documented where used):

* Pooled estimates stay on the analysis scale: log scale for ratio measures.
* Confidence intervals use the normal quantile, except under Hartung-Knapp, which uses
  Student's t with k - 1 degrees of freedom (metafor ``test="z"`` / ``test="knha"``).
* The 95% prediction interval uses the *same* quantile as the confidence interval, i.e.
  ``estimate +/- z_0.975 * sqrt(tau2 + se^2)`` by default, and t_{k-1} under Hartung-Knapp.
  This is metafor's ``predict.rma()`` default; it is *not* the t_{k-2} interval of
  Higgins, Thompson & Spiegelhalter (2009). It is reported as NaN when k < 3, following
  Higgins et al. (2009), who note that a prediction interval needs at least three studies.
* I^2 = 100 * tau2 / (tau2 + s2) and H^2 = tau2 / s2 + 1, with s2 the "typical"
  within-study variance (k - 1) / (sum w - sum w^2 / sum w), w = 1/v (Higgins & Thompson
  2002, eq. 9; metafor's default ``i2def="1"``). For DL this equals (Q - df) / Q truncated
  at 0; for REML it differs from the Q-based value.
* Cochran's Q uses fixed-effect (inverse-variance) weights; its p value is the upper tail
  of chi-square with k - 1 degrees of freedom (Cochran 1954).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from scipy import stats as sps

__all__ = [
    "PooledEstimate",
    "cohen_kappa",
    "dersimonian_laird",
    "hartung_knapp",
    "percent_agreement",
    "random_effects",
    "reml",
    "se_from_ci",
    "sign_test",
    "wilson_interval",
]

_LEVEL = 0.95
_METHODS = ("REML", "DL")


@dataclass(frozen=True)
class PooledEstimate:
    """Result of a random-effects meta-analysis (intercept-only model).

    ``estimate``, ``se`` and the interval bounds are on the analysis scale (log scale for
    ratio measures; exponentiate the bounds, never the SE, to report ratios).
    ``pi_lower``/``pi_upper`` are the 95% prediction interval, NaN when k < 3.
    ``i2`` is a percentage (0-100). ``q``/``q_df``/``q_p`` are Cochran's Q test.
    """

    method: str
    k: int
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float


# ---------------------------------------------------------------------------------------
# Counts, proportions, agreement
# ---------------------------------------------------------------------------------------


def sign_test(n_benefit: int, n_harm: int) -> float:
    """Two-sided exact sign test of effect direction (vote counting by direction).

    Tests whether benefit and harm are equally likely (binomial p = 0.5) using only the
    studies whose effect favours one side; studies with no clear direction are excluded
    before calling this function. Implements the sign test recommended for synthesis
    without meta-analysis in the Cochrane Handbook, chapter 12 (McKenzie & Brennan,
    section 12.2.2.5), via ``scipy.stats.binomtest``.

    Returns 1.0 when there are no directional studies (nothing to test).
    Raises ValueError for negative or non-integer counts.
    """
    for name, value in (("n_benefit", n_benefit), ("n_harm", n_harm)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    n = int(n_benefit) + int(n_harm)
    if n == 0:
        return 1.0
    result = sps.binomtest(int(n_benefit), n, p=0.5, alternative="two-sided")
    return float(min(1.0, result.pvalue))


def wilson_interval(successes: int, n: int, level: float = _LEVEL) -> tuple[float, float]:
    """Wilson score confidence interval for a single binomial proportion.

    Wilson (1927), J Am Stat Assoc 22:209-212; method 3 ("score method without continuity
    correction") of Newcombe (1998), Stat Med 17:857-872:

        (2 n p + z^2 +/- z sqrt(z^2 + 4 n p (1 - p))) / (2 (n + z^2))

    with z the two-sided standard normal quantile for ``level``. The bounds at p = 0 and
    p = 1 are set to their exact values 0 and 1, and all bounds are clipped to [0, 1], so
    floating-point rounding cannot push them outside the unit interval.

    Returns (nan, nan) when n == 0. Raises ValueError when successes is outside [0, n],
    n is negative, or level is not in (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], got {successes}")
    if n == 0:
        return (math.nan, math.nan)
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    p = successes / n
    z2 = z * z
    centre = 2.0 * n * p + z2
    half = z * math.sqrt(z2 + 4.0 * n * p * (1.0 - p))
    denom = 2.0 * (n + z2)
    # At p = 0 the lower bound is exactly 0 and at p = 1 the upper bound is exactly 1;
    # set them so rounding cannot exclude the observed proportion.
    lower = 0.0 if successes == 0 else max(0.0, (centre - half) / denom)
    upper = 1.0 if successes == n else min(1.0, (centre + half) / denom)
    return (lower, upper)


def _paired_labels(
    rater_a: Sequence[Hashable], rater_b: Sequence[Hashable]
) -> list[tuple[Hashable, Hashable]]:
    a = list(rater_a)
    b = list(rater_b)
    if len(a) != len(b):
        raise ValueError(f"raters must label the same items: got {len(a)} and {len(b)} labels")
    return list(zip(a, b, strict=True))


def percent_agreement(rater_a: Sequence[Hashable], rater_b: Sequence[Hashable]) -> float:
    """Observed proportion of items on which two raters give the same label, as a percent.

    This is p_o of Cohen (1960), Educ Psychol Meas 20:37-46, times 100.
    Returns NaN for zero items; raises ValueError if the sequences differ in length.
    """
    pairs = _paired_labels(rater_a, rater_b)
    if not pairs:
        return math.nan
    agree = sum(1 for x, y in pairs if x == y)
    return 100.0 * agree / len(pairs)


def cohen_kappa(rater_a: Sequence[Hashable], rater_b: Sequence[Hashable]) -> float:
    """Unweighted Cohen's kappa for two raters' paired nominal labels.

    kappa = (p_o - p_e) / (1 - p_e), with p_o the observed agreement and p_e the agreement
    expected from the two raters' marginal label frequencies (Cohen 1960, Educ Psychol Meas
    20:37-46). Labels may be any hashable values compared with ``==``; position i of each
    sequence is the same item.

    Edge cases (a deliberate choice): kappa is undefined when p_e == 1, which happens only
    when both raters put every item in the same single category. Then p_o is also 1 and the
    formula is 0/0, so NaN is returned rather than 1.0 (perfect agreement that carries no
    information beyond the marginals) or 0.0. This matches what scikit-learn's
    ``cohen_kappa_score`` yields (0/0 -> NaN). Zero items also give NaN. Mismatched lengths
    raise ValueError.
    """
    pairs = _paired_labels(rater_a, rater_b)
    n = len(pairs)
    if n == 0:
        return math.nan
    p_o = sum(1 for x, y in pairs if x == y) / n
    count_a = Counter(x for x, _ in pairs)
    count_b = Counter(y for _, y in pairs)
    p_e = sum(count_a[c] * count_b.get(c, 0) for c in count_a) / (n * n)
    if p_e >= 1.0 - 1e-12:
        return math.nan
    return (p_o - p_e) / (1.0 - p_e)


# ---------------------------------------------------------------------------------------
# Standard errors from reported confidence intervals
# ---------------------------------------------------------------------------------------


def se_from_ci(
    lower: ArrayLike, upper: ArrayLike, *, log_scale: bool, level: float = _LEVEL
) -> NDArray[np.float64]:
    """Standard error recovered from a reported symmetric confidence interval.

    SE = (upper - lower) / (2 z), z the two-sided normal quantile for ``level`` (3.92 = 2 *
    1.96 for 95%). For ratio measures (OR, RR, HR) pass ``log_scale=True``: the bounds are
    log-transformed first and the SE is that of the log ratio. Cochrane Handbook for
    Systematic Reviews of Interventions, section 6.3.2 (means) and 6.5.2.3 (ratios)
    [Higgins, Li & Deeks, chapter 6].

    Inputs broadcast against each other; NaN bounds give NaN. Raises ValueError when any
    upper < lower, when ``log_scale`` and a bound is <= 0, or when level is not in (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    lo, hi = np.broadcast_arrays(
        np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    )
    if np.any(hi < lo):
        raise ValueError("upper bound below lower bound")
    if log_scale:
        if np.any(lo <= 0) or np.any(hi <= 0):
            raise ValueError("ratio-measure bounds must be > 0 when log_scale=True")
        lo = np.log(lo)
        hi = np.log(hi)
    z = float(sps.norm.ppf(0.5 + level / 2.0))
    return np.asarray((hi - lo) / (2.0 * z), dtype=np.float64)


# ---------------------------------------------------------------------------------------
# Random-effects meta-analysis
# ---------------------------------------------------------------------------------------


def _check_inputs(yi: ArrayLike, vi: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    y = np.asarray(yi, dtype=np.float64).ravel()
    v = np.asarray(vi, dtype=np.float64).ravel()
    if y.shape != v.shape:
        raise ValueError(f"yi and vi differ in length ({y.size} vs {v.size})")
    if y.size < 2:
        raise ValueError(f"random-effects meta-analysis needs k >= 2 studies, got {y.size}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v))):
        raise ValueError("yi and vi must be finite")
    if np.any(v <= 0):
        raise ValueError("sampling variances vi must be > 0")
    return y, v


def _weighted_mean(y: NDArray[np.float64], w: NDArray[np.float64]) -> float:
    return float(np.sum(w * y) / np.sum(w))


def _sum_of_others(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """o_i = sum_{j != i} a_j for a >= 0, from exclusive prefix and suffix sums.

    Avoids ``a.sum() - a``, which cancels catastrophically when one element dominates
    (e.g. one study with a sampling variance 1e10 times smaller than the rest).
    """
    prefix = np.concatenate(([0.0], np.cumsum(a)[:-1]))
    suffix = np.concatenate((np.cumsum(a[::-1])[:-1][::-1], [0.0]))
    return prefix + suffix


def _trace_p(w: NDArray[np.float64]) -> float:
    """tr(P) = sum w - sum w^2 / sum w for the intercept-only model, without cancellation."""
    return float(np.sum(w * _sum_of_others(w)) / np.sum(w))


def _trace_pp(w: NDArray[np.float64]) -> float:
    """tr(PP) for the intercept-only model, P = W - w w' / sum w, without cancellation.

    tr(PP) = sum_i (w_i o_i / S)^2 + sum_{i != j} w_i^2 w_j^2 / S^2, with S = sum w and
    o_i = S - w_i.
    """
    s = float(np.sum(w))
    w2 = w * w
    return float(np.sum((w * _sum_of_others(w) / s) ** 2) + np.sum(w2 * _sum_of_others(w2)) / s**2)


@dataclass(frozen=True)
class _Heterogeneity:
    q: float
    q_df: int
    q_p: float
    typical_v: float  # Higgins & Thompson (2002) "typical" within-study variance s2
    trace_p: float  # sum w - sum w^2/sum w with w = 1/vi (the DL denominator)


def _heterogeneity(y: NDArray[np.float64], v: NDArray[np.float64]) -> _Heterogeneity:
    """Cochran's Q (fixed-effect weights) and the typical within-study variance."""
    k = y.size
    w = 1.0 / v
    mu_fe = _weighted_mean(y, w)
    q = max(0.0, float(np.sum(w * (y - mu_fe) ** 2)))
    df = k - 1
    tr_p = _trace_p(w)
    return _Heterogeneity(
        q=q,
        q_df=df,
        q_p=float(sps.chi2.sf(q, df)),
        typical_v=df / tr_p,
        trace_p=tr_p,
    )


def _pooled(
    method: str,
    y: NDArray[np.float64],
    v: NDArray[np.float64],
    tau2: float,
    het: _Heterogeneity,
) -> PooledEstimate:
    """Inverse-variance pooled estimate with normal-quantile CI and PI (metafor test='z')."""
    k = y.size
    w = 1.0 / (v + tau2)
    mu = _weighted_mean(y, w)
    se = math.sqrt(1.0 / float(np.sum(w)))
    z = float(sps.norm.ppf(0.5 + _LEVEL / 2.0))
    pi_lo, pi_hi = _prediction_interval(mu, se, tau2, k, z)
    s2 = het.typical_v
    return PooledEstimate(
        method=method,
        k=k,
        estimate=mu,
        se=se,
        ci_lower=mu - z * se,
        ci_upper=mu + z * se,
        pi_lower=pi_lo,
        pi_upper=pi_hi,
        tau2=tau2,
        i2=100.0 * tau2 / (tau2 + s2),
        h2=tau2 / s2 + 1.0,
        q=het.q,
        q_df=het.q_df,
        q_p=het.q_p,
    )


def _prediction_interval(
    mu: float, se: float, tau2: float, k: int, crit: float
) -> tuple[float, float]:
    """mu +/- crit * sqrt(tau2 + se^2), as metafor ``predict.rma()``; NaN when k < 3."""
    if k < 3:
        return (math.nan, math.nan)
    half = crit * math.sqrt(tau2 + se * se)
    return (mu - half, mu + half)


def dersimonian_laird(yi: ArrayLike, vi: ArrayLike) -> PooledEstimate:
    """Random-effects meta-analysis with the DerSimonian-Laird moment estimator of tau^2.

    tau2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w)), w = 1/vi
    (DerSimonian & Laird 1986, Control Clin Trials 7:177-188). The pooled estimate is the
    inverse-variance weighted mean with weights 1/(vi + tau2); CI and prediction interval
    use the normal quantile (see module docstring). Matches metafor ``rma(method="DL")``.

    Raises ValueError for k < 2, mismatched lengths, non-finite values or vi <= 0.
    """
    y, v = _check_inputs(yi, vi)
    het = _heterogeneity(y, v)
    tau2 = max(0.0, (het.q - het.q_df) / het.trace_p)
    return _pooled("DL", y, v, tau2, het)


def _reml_loglik(tau2: float, y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    """Restricted log-likelihood of the intercept-only random-effects model (no constant)."""
    w = 1.0 / (v + tau2)
    sw = float(np.sum(w))
    mu = float(np.sum(w * y) / sw)
    return -0.5 * (
        float(np.sum(np.log(v + tau2))) + math.log(sw) + float(np.sum(w * (y - mu) ** 2))
    )


def _reml_fisher_scoring(
    y: NDArray[np.float64], v: NDArray[np.float64], tol: float, max_iter: int
) -> float | None:
    """Fisher scoring for the REML tau^2, as metafor ``rma.uni`` (Viechtbauer 2005).

    Starts at the Hedges (1983) moment estimate truncated at 0, takes steps
    (y'PPy - tr P) / tr(PP) and halves a step that would make tau2 negative. Converged when
    |step| < tol * max(1, tau2), i.e. absolute below 1 and relative above (an absolute 1e-10
    is below double precision once tau2 exceeds ~1e6). Returns None if not converged after
    max_iter iterations.
    """
    k = y.size
    ybar = float(np.mean(y))
    tau2 = max(0.0, (float(np.sum((y - ybar) ** 2)) - (1.0 - 1.0 / k) * float(np.sum(v))) / (k - 1))
    for _ in range(max_iter):
        w = 1.0 / (v + tau2)
        sw = float(np.sum(w))
        mu = float(np.sum(w * y) / sw)
        py = w * (y - mu)  # P y for the intercept-only model
        tr_pp = _trace_pp(w)
        if not tr_pp > 0.0:
            return None
        adj = (float(np.sum(py * py)) - _trace_p(w)) / tr_pp
        if tau2 + adj < 0.0:
            if tau2 <= 0.0:
                return 0.0  # score points below the boundary at tau2 = 0: converged there
            while tau2 + adj < 0.0:  # step halving (metafor)
                adj /= 2.0
        tau2 += adj
        if abs(adj) < tol * max(1.0, tau2):
            return tau2
    return None


def _reml_bounded_search(y: NDArray[np.float64], v: NDArray[np.float64], tol: float) -> float:
    """Fallback: maximise the restricted likelihood on [0, upper] by bounded Brent search."""
    upper = max(1.0, float(np.var(y, ddof=1)) + float(np.max(v)))
    for _ in range(200):  # widen until the likelihood is falling at the upper bound
        if _reml_loglik(upper, y, v) < _reml_loglik(upper / 2.0, y, v):
            break
        upper *= 2.0
    res = optimize.minimize_scalar(
        lambda t: -_reml_loglik(t, y, v),
        bounds=(0.0, upper),
        method="bounded",
        options={"xatol": max(tol, 1e-12)},
    )
    return max(0.0, float(res.x))


def reml(
    yi: ArrayLike, vi: ArrayLike, *, tol: float = 1e-10, max_iter: int = 1000
) -> PooledEstimate:
    """Random-effects meta-analysis with the restricted maximum-likelihood tau^2.

    tau^2 is found by Fisher scoring on the restricted likelihood exactly as metafor
    ``rma.uni(method="REML")`` does (Viechtbauer 2005, J Educ Behav Stat 30:261-293;
    Viechtbauer 2010, J Stat Softw 36(3)): start at the Hedges estimate truncated at 0,
    step by (y'PPy - tr P) / tr(PP), halve steps that would cross 0, stop when the step is
    below ``tol * max(1, tau2)``; tau^2 is truncated at 0. (metafor stops at an absolute
    change of 1e-5; the default here is stricter.) As in metafor, if the restricted likelihood at
    tau^2 = 0 is higher than at the converged value, tau^2 = 0 is used. Should scoring fail
    to converge within ``max_iter`` steps, the restricted likelihood is maximised directly
    on [0, upper] by bounded Brent search instead of raising.

    The pooled estimate, CI and prediction interval use weights 1/(vi + tau2) and the
    normal quantile; I^2 uses the typical within-study variance (see module docstring).

    Raises ValueError for k < 2, mismatched lengths, non-finite values or vi <= 0.
    """
    if not tol > 0.0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    y, v = _check_inputs(yi, vi)
    het = _heterogeneity(y, v)
    tau2 = _reml_fisher_scoring(y, v, tol, max_iter)
    if tau2 is None or not math.isfinite(tau2):
        tau2 = _reml_bounded_search(y, v, tol)
    tau2 = max(0.0, tau2)
    if tau2 > 0.0 and _reml_loglik(0.0, y, v) > _reml_loglik(tau2, y, v):
        tau2 = 0.0
    return _pooled("REML", y, v, tau2, het)


def hartung_knapp(base: PooledEstimate, yi: ArrayLike, vi: ArrayLike) -> PooledEstimate:
    """Hartung-Knapp(-Sidik-Jonkman) adjustment of a random-effects estimate.

    Keeps ``base.tau2`` and the pooled estimate; replaces the SE by

        se_HK = sqrt( sum w (y - mu)^2 / ((k - 1) sum w) ),  w = 1/(vi + tau2)

    and uses Student's t with k - 1 degrees of freedom for the CI and the prediction
    interval (Hartung & Knapp 2001, Stat Med 20:3875-3889; Sidik & Jonkman 2002, Stat Med
    21:3153-3159). This is metafor ``rma(..., test="knha")`` without the ad hoc
    "never narrower than the standard SE" correction; as in metafor, a scale factor whose
    residual sum is <= machine epsilon (all yi equal) is set to 0. The method label gains
    the suffix "+HK". Heterogeneity statistics are carried over from ``base``.

    Raises ValueError if ``base`` is already HK-adjusted or if yi/vi do not match base.k.
    """
    if base.method.endswith("+HK"):
        raise ValueError("estimate is already Hartung-Knapp adjusted")
    y, v = _check_inputs(yi, vi)
    k = y.size
    if k != base.k:
        raise ValueError(f"yi/vi have k={k} studies but base estimate has k={base.k}")
    w = 1.0 / (v + base.tau2)
    sw = float(np.sum(w))
    mu = float(np.sum(w * y) / sw)
    rss = float(np.sum(w * (y - mu) ** 2))
    s2w = 0.0 if rss <= np.finfo(np.float64).eps else rss / (k - 1)
    se = math.sqrt(s2w / sw)
    crit = float(sps.t.ppf(0.5 + _LEVEL / 2.0, k - 1))
    pi_lo, pi_hi = _prediction_interval(mu, se, base.tau2, k, crit)
    return PooledEstimate(
        method=f"{base.method}+HK",
        k=k,
        estimate=mu,
        se=se,
        ci_lower=mu - crit * se,
        ci_upper=mu + crit * se,
        pi_lower=pi_lo,
        pi_upper=pi_hi,
        tau2=base.tau2,
        i2=base.i2,
        h2=base.h2,
        q=base.q,
        q_df=base.q_df,
        q_p=base.q_p,
    )


def random_effects(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    method: str = "REML",
    hartung_knapp: bool = False,
) -> PooledEstimate:
    """Random-effects meta-analysis: dispatch to :func:`reml` or :func:`dersimonian_laird`.

    ``method`` is "REML" (default, as metafor) or "DL" (case-insensitive). With
    ``hartung_knapp=True`` the result is passed through :func:`hartung_knapp`.

    Raises ValueError for an unknown method or k < 2 (and the input checks of the
    estimators).
    """
    key = method.upper() if isinstance(method, str) else method
    if key not in _METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(_METHODS)}")
    y, v = _check_inputs(yi, vi)
    base = reml(y, v) if key == "REML" else dersimonian_laird(y, v)
    if hartung_knapp:
        return _hartung_knapp(base, y, v)
    return base


_hartung_knapp = hartung_knapp  # the dispatcher's keyword argument shadows the function name
