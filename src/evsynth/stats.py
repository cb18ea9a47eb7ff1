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

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

# scipy.special only, not scipy.stats or scipy.optimize at import time: those two take ~1 s to
# import, paid by every workflow run; the distribution functions below are the special
# functions scipy.stats itself wraps (ndtri, stdtr, bdtr), so the values are the same.
from scipy import special

__all__ = [
    "PREDICTION_INTERVALS",
    "EggerTest",
    "PooledEstimate",
    "PooledEstimates",
    "PooledTest",
    "cohen_kappa_binary",
    "common_effect",
    "common_effect_many",
    "dersimonian_laird",
    "dersimonian_laird_many",
    "egger_test",
    "hartung_knapp",
    "pooled_test",
    "random_effects",
    "random_effects_many",
    "random_effects_weights",
    "reml",
    "reml_many",
    "se_from_ci",
    "sign_test",
    "tau2_ci_q_profile",
    "tau2_ci_q_profile_many",
    "wilson_interval",
]

_LEVEL = 0.95
_METHODS = ("REML", "DL")


@functools.lru_cache(maxsize=64)
def _normal_quantile(level: float) -> float:
    """Two-sided standard normal quantile z_{(1 + level)/2} (``scipy.stats.norm.ppf``, which
    wraps ``ndtri``), cached."""
    return float(special.ndtri(0.5 + level / 2.0))


_Z = _normal_quantile(_LEVEL)  # 1.959963984540054


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
    section 12.2.2.5). With p = 0.5 the binomial is symmetric, so the two-sided p value
    (``scipy.stats.binomtest``'s: the outcomes no more likely than the one observed) is twice
    the smaller tail, at most 1; the tail is ``scipy.special.bdtr``.

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
    smaller = min(int(n_benefit), int(n_harm))
    return float(min(1.0, 2.0 * special.bdtr(smaller, n, 0.5)))


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
    z = _normal_quantile(level)
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


def cohen_kappa_binary(n: int, n_agree: int, yes_a: int, yes_b: int) -> float:
    """Unweighted Cohen's kappa for n yes/no decisions by two raters, from their 2×2 counts:
    how many they agreed on and how many "yes" each gave (coder agreement over millions of
    decisions needs no decision lists).

    kappa = (p_o - p_e) / (1 - p_e), p_o = n_agree / n the observed agreement and p_e the
    agreement expected from the raters' marginal "yes" and "no" frequencies (Cohen 1960, Educ
    Psychol Meas 20:37-46).

    Edge cases (a deliberate choice): kappa is undefined when p_e == 1, which happens only
    when both raters give the same single answer to every item. Then p_o is also 1 and the
    formula is 0/0, so NaN is returned rather than 1.0 (perfect agreement that carries no
    information beyond the marginals) or 0.0, as scikit-learn's ``cohen_kappa_score`` does.
    Zero items also give NaN.
    """
    if n == 0:
        return math.nan
    p_o = n_agree / n
    p_e = (yes_a * yes_b + (n - yes_a) * (n - yes_b)) / (n * n)
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
    z = _normal_quantile(level)
    return np.asarray((hi - lo) / (2.0 * z), dtype=np.float64)


# ---------------------------------------------------------------------------------------
# Random-effects meta-analysis
# ---------------------------------------------------------------------------------------

# All of the random-effects code below runs once per meta-analysis, often for thousands of
# small groups, so it avoids scipy's distribution objects (``norm.ppf`` and ``chi2.sf`` cost
# 30-100 us a call, more than a whole DL fit) in favour of the scipy.special functions they
# wrap, and works on the k-vectors with a handful of numpy calls per evaluation.


class _Data(NamedTuple):
    """Checked inputs plus what every likelihood evaluation needs to sum without cancellation.

    ``top`` is the index of the smallest sampling variance, which carries the largest weight
    1/(vi + tau2) at every tau2 >= 0; ``others`` is 1 everywhere except 0 at ``top``, so that
    ``a.dot(others)`` sums all elements of ``a`` but the largest weight's.
    """

    y: NDArray[np.float64]
    v: NDArray[np.float64]
    top: int
    others: NDArray[np.float64]


def _check_inputs(yi: ArrayLike, vi: ArrayLike) -> _Data:
    y = np.asarray(yi, dtype=np.float64).ravel()
    v = np.asarray(vi, dtype=np.float64).ravel()
    if y.shape != v.shape:
        raise ValueError(f"yi and vi differ in length ({y.size} vs {v.size})")
    if y.size < 2:
        raise ValueError(f"random-effects meta-analysis needs k >= 2 studies, got {y.size}")
    # A finite sum proves every element finite (NaN and inf propagate); only a non-finite sum,
    # which an overflow of finite values can also give, needs the element-wise check.
    if not (math.isfinite(y.sum()) and math.isfinite(v.sum())) and not (
        np.all(np.isfinite(y)) and np.all(np.isfinite(v))
    ):
        raise ValueError("yi and vi must be finite")
    top = int(v.argmin())
    if not v[top] > 0.0:
        raise ValueError("sampling variances vi must be > 0")
    others = np.ones(y.size)
    others[top] = 0.0
    return _Data(y, v, top, others)


def _sum_and_others(a: NDArray[np.float64], d: _Data) -> tuple[float, NDArray[np.float64]]:
    """(S, o) with S = sum a and o_i = sum_{j != i} a_j, for a >= 0 largest at ``d.top``.

    This is the "sum of the others" without cancellation: o_i = S - a_i loses no precision
    for i != top, because then S - a_i >= a_top >= a_i, i.e. S - a_i >= S / 2. Only the
    largest element's would cancel catastrophically as S - a_top when it dominates (one study
    with a sampling variance 1e10 times smaller than the rest), so that one is summed
    directly.
    """
    rest = float(a.dot(d.others))
    total = float(a[d.top]) + rest
    o = total - a
    o[d.top] = rest
    return total, o


class _Heterogeneity(NamedTuple):
    q: float
    q_df: int
    q_p: float
    typical_v: float  # Higgins & Thompson (2002) "typical" within-study variance s2
    trace_p: float  # sum w - sum w^2/sum w with w = 1/vi (the DL denominator)


def _heterogeneity(d: _Data) -> _Heterogeneity:
    """Cochran's Q (fixed-effect weights) and the typical within-study variance.

    tr P = sum w - sum w^2 / sum w is computed as sum_i w_i o_i / sum w, o_i the sum of the
    other weights (``_sum_and_others``), so that it does not cancel.
    """
    df = d.y.size - 1
    w = 1.0 / d.v
    sw, o = _sum_and_others(w, d)
    tr_p = float(w.dot(o)) / sw
    e = d.y - float(w.dot(d.y)) / sw
    q = max(0.0, float(w.dot(e * e)))
    return _Heterogeneity(
        q=q,
        q_df=df,
        q_p=float(special.chdtrc(df, q)),  # = scipy.stats.chi2.sf(q, df), which wraps it
        typical_v=df / tr_p,
        trace_p=tr_p,
    )


def _pooled(method: str, d: _Data, tau2: float, het: _Heterogeneity) -> PooledEstimate:
    """Inverse-variance pooled estimate with normal-quantile CI and PI (metafor test='z')."""
    k = d.y.size
    w = 1.0 / (d.v + tau2)
    sw = float(w.sum())
    mu = float(w.dot(d.y)) / sw
    se = math.sqrt(1.0 / sw)
    pi_lo, pi_hi = _prediction_interval(mu, se, tau2, k, _Z)
    s2 = het.typical_v
    return PooledEstimate(
        method=method,
        k=k,
        estimate=mu,
        se=se,
        ci_lower=mu - _Z * se,
        ci_upper=mu + _Z * se,
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
    return _dersimonian_laird(_check_inputs(yi, vi))


def _dersimonian_laird(d: _Data) -> PooledEstimate:
    het = _heterogeneity(d)
    tau2 = max(0.0, (het.q - het.q_df) / het.trace_p)
    return _pooled("DL", d, tau2, het)


def _reml_loglik(tau2: float, y: NDArray[np.float64], v: NDArray[np.float64]) -> float:
    """Restricted log-likelihood of the intercept-only random-effects model (no constant)."""
    t = v + tau2
    w = 1.0 / t
    sw = float(w.sum())
    e = y - float(w.dot(y)) / sw
    return -0.5 * (float(np.log(t).sum()) + math.log(sw) + float(w.dot(e * e)))


def _reml_score(tau2: float, d: _Data) -> tuple[float, float, float]:
    """Twice the restricted score and the expected and observed information (also x2) at tau2.

    With P = W - w w' / sum w, W = diag(w), w = 1/(vi + tau2), and r = P y = w (y - mu):
    2 dl/dtau2 = y'PPy - tr P (= r'r - tr P), the expected information is tr(PP) / 2 and the
    observed information -d2l/dtau2^2 = y'PPPy - tr(PP) / 2, with y'PPPy = r'P r written as
    the weighted sum of squares sum w (r - m)^2, m = sum w r / sum w (Viechtbauer 2005).
    """
    w = 1.0 / (d.v + tau2)
    sw, o = _sum_and_others(w, d)
    wo = w * o
    w2 = w * w
    _, o2 = _sum_and_others(w2, d)
    tr_p = float(wo.sum()) / sw  # sum w - sum w^2 / sum w, as in _heterogeneity
    # tr(PP) = sum_i P_ii^2 + sum_{i != j} P_ij^2 with P_ii = w_i o_i / S, P_ij = -w_i w_j / S
    tr_pp = (float(wo.dot(wo)) + float(w2.dot(o2))) / (sw * sw)
    r = w * (d.y - float(w.dot(d.y)) / sw)
    c = r - float(w.dot(r)) / sw
    return float(r.dot(r)) - tr_p, tr_pp, 2.0 * float(w.dot(c * c)) - tr_pp


def _reml_root(d: _Data, tol: float, max_iter: int) -> float | None:
    """The REML tau^2 as a root of the restricted score, by safeguarded Newton iteration.

    Starts where metafor's Fisher scoring starts, at the Hedges (1983) moment estimate
    truncated at 0, and heads for the same root: the first one met going uphill from there.

    * Steps are Newton steps on f(tau2) = score * (c + tau2)^2, c = min vi, which has the
      same roots as the score but is nearly linear where the score is dominated by the most
      precise study's term (w^2 = 1/(c + tau2)^2), so that Newton converges in a few steps
      even when the variances span many orders of magnitude. One is taken only where the
      likelihood is concave and f' < 0 there.
    * Until the root is bracketed (score > 0 at ``lo`` and < 0 at ``hi``), a Newton step is
      kept only if it crosses the root or lands on the same side still concave and closer
      to it. Otherwise the Fisher-scoring step (score / expected information) is taken, with
      metafor's halving of a step that would make tau2 negative. (The restricted likelihood
      can be bimodal; a Newton step that leaves the concave region may have jumped over a
      pair of roots into the other mode, where Fisher scoring would not have gone.)
    * A step below 0 looks at the boundary first: a score <= 0 at tau2 = 0 with the
      likelihood concave there gives tau2 = 0, the boundary maximum that metafor's step
      halving also converges to; a score > 0 there brackets the root.
    * Once bracketed, a Newton step that would leave the bracket or is not at least half as
      long as the step before last gives way to bisection (as ``rtsafe`` in Numerical
      Recipes), so the iteration cannot oscillate or diverge, as plain Fisher scoring does on
      about 1% of small random data sets.

    Converged when a step is below tol * max(1, tau2), i.e. absolute below 1 and relative
    above (an absolute 1e-10 is below double precision once tau2 exceeds ~1e6), or when the
    bracket is that narrow. Returns None if not converged after max_iter steps.
    """
    y, v = d.y, d.v
    k = y.size
    c = float(v[d.top])
    e = y - float(y.mean())
    tau2 = max(0.0, (float(e.dot(e)) - (1.0 - 1.0 / k) * float(v.sum())) / (k - 1))
    score, expected, observed = _reml_score(tau2, d)
    lo, hi = 0.0, math.inf  # score > 0 at lo (once lo_known) and < 0 at hi
    lo_known = zero_seen = False
    last = before_last = math.inf  # lengths of the last two steps taken while bracketed
    for _ in range(max_iter):
        if not (math.isfinite(score) and expected > 0.0):
            return None
        if score > 0.0:
            lo, lo_known = tau2, True
        elif score < 0.0:
            if tau2 <= 0.0:
                return 0.0  # the score points below the boundary at tau2 = 0
            hi = tau2
        else:
            return tau2
        bracketed = lo_known and hi < math.inf
        slope = observed - 2.0 * score / (c + tau2)  # -f' / (c + tau2)^2
        newton = observed > 0.0 and slope > 0.0
        new = tau2 + score / slope if newton else math.nan
        if bracketed:
            if not (lo < new < hi and abs(new - tau2) <= 0.5 * before_last):
                newton = False
                new = 0.5 * (lo + hi)
            before_last, last = last, abs(new - tau2)
        elif not (newton and lo < new < hi):
            newton = False
            new = tau2 + score / expected  # Fisher scoring
            if new <= 0.0 < tau2:  # going down from tau2 with nothing known below it
                if not zero_seen:
                    zero_seen = True
                    at_zero = _reml_score(0.0, d)
                    if at_zero[0] > 0.0:  # root bracketed by [0, tau2]: carry on from 0
                        tau2, (score, expected, observed) = 0.0, at_zero
                        continue
                    if at_zero[2] > 0.0:
                        return 0.0
                new = _halved_step(tau2, score / expected)
        if abs(new - tau2) < tol * max(1.0, new) or hi - lo < tol * max(1.0, lo):
            return new
        result = _reml_score(new, d)
        crossed = (result[0] > 0.0) != (score > 0.0)
        closer = result[2] > 0.0 and abs(result[0]) < abs(score)
        if newton and not bracketed and not (crossed or closer):
            # the Newton step stayed on this side but left the concave region (or got no
            # closer): it may have jumped over a pair of roots; take the Fisher step instead
            new = _halved_step(tau2, score / expected)
            result = _reml_score(new, d)
        tau2 = new
        score, expected, observed = result
    return None


def _halved_step(tau2: float, adj: float) -> float:
    """tau2 + adj, with adj halved until that is >= 0 (metafor's step halving)."""
    while tau2 + adj < 0.0:
        adj /= 2.0
    return tau2 + adj


def _reml_bounded_search(y: NDArray[np.float64], v: NDArray[np.float64], tol: float) -> float:
    """Fallback: maximise the restricted likelihood on [0, upper] by bounded Brent search."""
    upper = max(1.0, float(np.var(y, ddof=1)) + float(np.max(v)))
    for _ in range(200):  # widen until the likelihood is falling at the upper bound
        if _reml_loglik(upper, y, v) < _reml_loglik(upper / 2.0, y, v):
            break
        upper *= 2.0
    from scipy import optimize  # rarely needed (see the import note at the top)

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

    tau^2 is the root of the restricted-likelihood score, the fixed point of metafor's
    ``rma.uni(method="REML")`` Fisher scoring (Viechtbauer 2005, J Educ Behav Stat
    30:261-293; Viechtbauer 2010, J Stat Softw 36(3)), found from the same starting value
    (the Hedges estimate truncated at 0) by Newton steps safeguarded with Fisher-scoring
    steps and bisection (see ``_reml_root``); the iteration stops when the step is below
    ``tol * max(1, tau2)``, and tau^2 is truncated at 0. (metafor stops Fisher scoring at an
    absolute change of 1e-5; the default here is stricter.) As in metafor, if the restricted
    likelihood at tau^2 = 0 is higher than at the root, tau^2 = 0 is used. Should the
    iteration fail to converge within ``max_iter`` steps, the restricted likelihood is
    maximised directly on [0, upper] by bounded Brent search instead of raising.

    The pooled estimate, CI and prediction interval use weights 1/(vi + tau2) and the
    normal quantile; I^2 uses the typical within-study variance (see module docstring).

    Raises ValueError for k < 2, mismatched lengths, non-finite values or vi <= 0.
    """
    if not tol > 0.0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    return _reml(_check_inputs(yi, vi), tol, max_iter)


def _reml(d: _Data, tol: float = 1e-10, max_iter: int = 1000) -> PooledEstimate:
    het = _heterogeneity(d)
    tau2 = _reml_root(d, tol, max_iter)
    if tau2 is None or not math.isfinite(tau2):
        tau2 = _reml_bounded_search(d.y, d.v, tol)
    tau2 = max(0.0, tau2)
    if tau2 > 0.0 and _reml_loglik(0.0, d.y, d.v) > _reml_loglik(tau2, d.y, d.v):
        tau2 = 0.0
    return _pooled("REML", d, tau2, het)


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
    d = _check_inputs(yi, vi)
    y, v = d.y, d.v
    k = y.size
    if k != base.k:
        raise ValueError(f"yi/vi have k={k} studies but base estimate has k={base.k}")
    w = 1.0 / (v + base.tau2)
    sw = float(w.sum())
    mu = float(w.dot(y)) / sw
    e = y - mu
    rss = float(w.dot(e * e))
    s2w = 0.0 if rss <= _EPS else rss / (k - 1)
    se = math.sqrt(s2w / sw)
    # = scipy.stats.t.ppf(0.5 + level / 2, k - 1), which wraps stdtrit
    crit = float(special.stdtrit(k - 1, 0.5 + _LEVEL / 2.0))
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
    d = _check_inputs(yi, vi)
    base = _reml(d) if key == "REML" else _dersimonian_laird(d)
    if hartung_knapp:
        return _hartung_knapp(base, d.y, d.v)
    return base


def random_effects_weights(vi: ArrayLike, tau2: float) -> NDArray[np.float64]:
    """Each study's share of the random-effects weight, in the order of ``vi``: 1 / (vi + tau2)
    over the sum for all the studies, the weights of the pooled estimate of :func:`reml` and
    :func:`dersimonian_laird` at that ``tau2``. The shares sum to 1 (forest plots print them
    as percentages)."""
    w = 1.0 / (np.asarray(vi, dtype=np.float64) + tau2)
    return w / w.sum()


_hartung_knapp = hartung_knapp  # the dispatcher's keyword argument shadows the function name
_EPS = float(np.finfo(np.float64).eps)


# ---------------------------------------------------------------------------------------
# Many meta-analyses at once
# ---------------------------------------------------------------------------------------

# A DL fit of a small group costs ~15 us in Python, two thirds of it fixed per-call cost, so
# thousands of groups (every outcome x measure x subgroup x sensitivity analysis) are pooled
# as one set of numpy calls on the concatenated studies: sorted by group, each sum one
# ``np.add.reduceat`` over the group segments. The formulas, and the care against
# cancellation, are those of the one-group functions above; results agree with them to a few
# units in the last place (the sums are taken in a different order).


@dataclass(frozen=True)
class PooledEstimates:
    """Results of many random-effects meta-analyses: one element per group, in the order of
    ``group`` (the sorted distinct group labels). Every field of :class:`PooledEstimate` is an
    array here (``method`` stays one string); ``estimates[i]`` or ``records()`` give the
    one-group records."""

    method: str
    group: NDArray[np.generic]
    k: NDArray[np.int64]
    estimate: NDArray[np.float64]
    se: NDArray[np.float64]
    ci_lower: NDArray[np.float64]
    ci_upper: NDArray[np.float64]
    pi_lower: NDArray[np.float64]
    pi_upper: NDArray[np.float64]
    tau2: NDArray[np.float64]
    i2: NDArray[np.float64]
    h2: NDArray[np.float64]
    q: NDArray[np.float64]
    q_df: NDArray[np.int64]
    q_p: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.k.size)

    def __getitem__(self, i: int) -> PooledEstimate:
        return PooledEstimate(
            method=self.method,
            k=int(self.k[i]),
            estimate=float(self.estimate[i]),
            se=float(self.se[i]),
            ci_lower=float(self.ci_lower[i]),
            ci_upper=float(self.ci_upper[i]),
            pi_lower=float(self.pi_lower[i]),
            pi_upper=float(self.pi_upper[i]),
            tau2=float(self.tau2[i]),
            i2=float(self.i2[i]),
            h2=float(self.h2[i]),
            q=float(self.q[i]),
            q_df=int(self.q_df[i]),
            q_p=float(self.q_p[i]),
        )

    def records(self) -> list[PooledEstimate]:
        """One :class:`PooledEstimate` per group, in the order of ``group``."""
        return [self[i] for i in range(len(self))]


class _Groups(NamedTuple):
    """Studies of many groups, sorted by group (stably: each group keeps its input order).

    ``starts``/``k`` delimit each group's segment (a per-group value ``x`` is spread over its
    studies as ``np.repeat(x, k)``) and ``top``/``others`` are :class:`_Data`'s, per group:
    the position of the group's smallest sampling variance (its first, as ``argmin``) and 1
    everywhere but 0 there.
    """

    y: NDArray[np.float64]
    v: NDArray[np.float64]
    starts: NDArray[np.intp]
    k: NDArray[np.int64]
    top: NDArray[np.intp]
    others: NDArray[np.float64]


def _segments(y: NDArray[np.float64], v: NDArray[np.float64], k: NDArray[np.int64]) -> _Groups:
    """The segment bookkeeping of studies already sorted by group, ``k`` studies a group."""
    starts = np.zeros(k.size, dtype=np.intp)
    np.cumsum(k[:-1], out=starts[1:])
    low = np.minimum.reduceat(v, starts)
    at_min = np.flatnonzero(v == np.repeat(low, k))
    # The group of each minimum, from the few minima rather than a label for every study.
    seg = np.searchsorted(starts, at_min, side="right")
    first = np.ones(at_min.size, dtype=bool)
    first[1:] = seg[1:] != seg[:-1]
    top = at_min[first]
    others = np.ones(y.size)
    others[top] = 0.0
    return _Groups(y, v, starts, k, top, others)


def _check_groups(
    yi: ArrayLike, vi: ArrayLike, group: ArrayLike
) -> tuple[NDArray[np.generic], _Groups]:
    """The distinct group labels (sorted) and the studies sorted by group, checked as
    :func:`_check_inputs` checks one group; a message names the first offending group."""
    y = np.asarray(yi, dtype=np.float64).ravel()
    v = np.asarray(vi, dtype=np.float64).ravel()
    labels_in = np.asarray(group).ravel()
    if not (y.shape == v.shape == labels_in.shape):
        raise ValueError(
            f"yi, vi and group differ in length ({y.size}, {v.size}, {labels_in.size})"
        )
    if labels_in.dtype.kind in "iu" and bool(np.all(labels_in[1:] >= labels_in[:-1])):
        # Integer labels already sorted (as a table sorted by group gives them): the segments
        # are where the label changes, with no sort (a third of the time of a DL fit).
        # (Where a label differs from the one before; np.diff with prepend= costs 4x this.)
        first = np.empty(labels_in.size, dtype=bool)
        first[:1] = True
        np.not_equal(labels_in[1:], labels_in[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        labels = labels_in[starts]
        k = np.diff(starts, append=labels_in.size).astype(np.int64)
    else:
        labels, inverse = np.unique(labels_in, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        y, v = y[order], v[order]
        k = np.bincount(inverse, minlength=labels.size).astype(np.int64)
    small = np.flatnonzero(k < 2)
    if small.size:
        raise ValueError(
            f"group {_label(labels[small[0]])!r}: random-effects meta-analysis needs k >= 2 "
            f"studies, got {k[small[0]]}"
        )
    # A finite sum proves every element finite (as in _check_inputs); the group of the first
    # offending study is looked up only when there is one.
    if not math.isfinite(float(y.sum()) + float(v.sum())):
        bad = ~(np.isfinite(y) & np.isfinite(v))
        if bad.any():
            first = _label(labels[np.repeat(np.arange(k.size), k)[bad.argmax()]])
            raise ValueError(f"group {first!r}: yi and vi must be finite")
    if not (v > 0.0).all():
        first = _label(labels[np.repeat(np.arange(k.size), k)[(v <= 0.0).argmax()]])
        raise ValueError(f"group {first!r}: sampling variances vi must be > 0")
    return labels, _segments(y, v, k)


def _label(value: object) -> object:
    """A group label as the caller wrote it (``'b'``, not numpy's ``np.str_('b')``)."""
    return value.item() if isinstance(value, np.generic) else value


def _gsum(a: NDArray[np.float64], g: _Groups) -> NDArray[np.float64]:
    """Per-group sums of a study-level array."""
    return np.add.reduceat(a, g.starts)


def _gsum_and_others(
    a: NDArray[np.float64], g: _Groups
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`_sum_and_others` for every group at once: per-group sums S and, per study, the
    sum of the other studies of its group, the largest element's summed directly."""
    rest = _gsum(a * g.others, g)
    total = a[g.top] + rest
    o = np.repeat(total, g.k) - a
    o[g.top] = rest
    return total, o


class _GroupHeterogeneity(NamedTuple):
    q: NDArray[np.float64]
    q_df: NDArray[np.int64]
    q_p: NDArray[np.float64]
    typical_v: NDArray[np.float64]
    trace_p: NDArray[np.float64]


def _group_heterogeneity(g: _Groups) -> _GroupHeterogeneity:
    """:func:`_heterogeneity` for every group at once."""
    df = g.k - 1
    w = 1.0 / g.v
    sw, o = _gsum_and_others(w, g)
    tr_p = _gsum(w * o, g) / sw
    e = g.y - np.repeat(_gsum(w * g.y, g) / sw, g.k)
    q = np.maximum(0.0, _gsum(w * e * e, g))
    # Q's p value: chdtrc(df, q) is gammaincc(df/2, q/2), and gives the same numbers bit for
    # bit (tests/test_stats_batched.py), but its ufunc took twice as long on a thousand groups.
    return _GroupHeterogeneity(
        q=q, q_df=df, q_p=special.gammaincc(df * 0.5, q * 0.5), typical_v=df / tr_p, trace_p=tr_p
    )


def _group_pooled(
    method: str,
    labels: NDArray[np.generic],
    g: _Groups,
    tau2: NDArray[np.float64],
    het: _GroupHeterogeneity,
) -> PooledEstimates:
    """:func:`_pooled` for every group at once."""
    w = 1.0 / (g.v + np.repeat(tau2, g.k))
    sw = _gsum(w, g)
    mu = _gsum(w * g.y, g) / sw
    se = np.sqrt(1.0 / sw)
    half = np.where(g.k >= 3, _Z * np.sqrt(tau2 + se * se), np.nan)
    s2 = het.typical_v
    return PooledEstimates(
        method=method,
        group=labels,
        k=g.k,
        estimate=mu,
        se=se,
        ci_lower=mu - _Z * se,
        ci_upper=mu + _Z * se,
        pi_lower=mu - half,
        pi_upper=mu + half,
        tau2=tau2,
        i2=100.0 * tau2 / (tau2 + s2),
        h2=tau2 / s2 + 1.0,
        q=het.q,
        q_df=het.q_df,
        q_p=het.q_p,
    )


def dersimonian_laird_many(yi: ArrayLike, vi: ArrayLike, group: ArrayLike) -> PooledEstimates:
    """:func:`dersimonian_laird` for many meta-analyses in one call.

    ``yi``, ``vi`` and ``group`` are parallel: study i belongs to the meta-analysis labelled
    ``group[i]`` (any sortable labels, in any order). Returns one result per distinct label,
    in sorted label order (``PooledEstimates.group``), equal to ``dersimonian_laird`` on that
    group's studies up to rounding in the last places.

    Raises ValueError, naming the group, for a group with k < 2, non-finite values or
    vi <= 0, and for inputs of different lengths.
    """
    labels, g = _check_groups(yi, vi, group)
    het = _group_heterogeneity(g)
    tau2 = np.maximum(0.0, (het.q - het.q_df) / het.trace_p)
    return _group_pooled("DL", labels, g, tau2, het)


def _subgroups(g: _Groups, keep: NDArray[np.bool_]) -> _Groups:
    """The groups of ``g`` where ``keep`` is true, with their studies."""
    studies = np.repeat(keep, g.k)
    k = g.k[keep]
    starts = np.zeros(k.size, dtype=np.intp)
    np.cumsum(k[:-1], out=starts[1:])
    return _Groups(
        y=g.y[studies],
        v=g.v[studies],
        starts=starts,
        k=k,
        top=starts + (g.top - g.starts)[keep],
        others=g.others[studies],
    )


def _group_reml_score(
    tau2: NDArray[np.float64], g: _Groups
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """:func:`_reml_score` for every group at once, each at its own tau2."""
    w = 1.0 / (g.v + np.repeat(tau2, g.k))
    sw, o = _gsum_and_others(w, g)
    wo = w * o
    w2 = w * w
    _, o2 = _gsum_and_others(w2, g)
    tr_p = _gsum(wo, g) / sw
    tr_pp = (_gsum(wo * wo, g) + _gsum(w2 * o2, g)) / (sw * sw)
    r = w * (g.y - np.repeat(_gsum(w * g.y, g) / sw, g.k))
    c = r - np.repeat(_gsum(w * r, g) / sw, g.k)
    return _gsum(r * r, g) - tr_p, tr_pp, 2.0 * _gsum(w * c * c, g) - tr_pp


def _group_halved_step(tau2: NDArray[np.float64], adj: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`_halved_step` for every group at once."""
    adj = adj.copy()
    below = tau2 + adj < 0.0
    while below.any():
        adj[below] /= 2.0
        below = tau2 + adj < 0.0
    return tau2 + adj


def _group_reml_roots(g: _Groups, tol: float, max_iter: int) -> NDArray[np.float64]:
    """:func:`_reml_root` for every group at once: the same safeguarded Newton iteration, step
    for step, on the groups not yet converged (NaN where it does not converge).

    Each step is decided per group with masks exactly as the one-group loop decides it; a
    group leaves the iteration when the one-group loop would return, and the next steps
    evaluate the score only for the groups still iterating.
    """
    n = g.k.size
    root = np.full(n, np.nan)
    ids = np.arange(n)
    c = g.v[g.top]
    e = g.y - np.repeat(_gsum(g.y, g) / g.k, g.k)
    df = g.k - 1
    tau2 = np.maximum(0.0, (_gsum(e * e, g) - (1.0 - 1.0 / g.k) * _gsum(g.v, g)) / df)
    score, expected, observed = _group_reml_score(tau2, g)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    lo_known = np.zeros(n, dtype=bool)
    zero_seen = np.zeros(n, dtype=bool)
    last = np.full(n, np.inf)
    before_last = np.full(n, np.inf)

    for _ in range(max_iter):
        if ids.size == 0:
            break
        failed = ~(np.isfinite(score) & (expected > 0.0))
        pos = ~failed & (score > 0.0)
        neg = ~failed & (score < 0.0)
        lo = np.where(pos, tau2, lo)
        lo_known |= pos
        at_boundary = neg & (tau2 <= 0.0)
        hi = np.where(neg & ~at_boundary, tau2, hi)
        zero = ~failed & ~pos & ~neg
        done = failed | at_boundary | zero
        result = np.where(at_boundary, 0.0, np.where(zero, tau2, np.nan))

        bracketed = lo_known & (hi < np.inf)
        slope = observed - 2.0 * score / (c + tau2)
        newton = (observed > 0.0) & (slope > 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = np.where(newton, tau2 + score / slope, np.nan)
            fisher = score / expected
        inside = (lo < new) & (new < hi)
        bisect = bracketed & ~(inside & (np.abs(new - tau2) <= 0.5 * before_last))
        newton &= ~bisect
        new = np.where(bisect, 0.5 * (lo + hi), new)
        before_last = np.where(bracketed, last, before_last)
        last = np.where(bracketed, np.abs(new - tau2), last)
        scoring = ~bracketed & ~(newton & inside)
        newton &= ~scoring
        new = np.where(scoring, tau2 + fisher, new)
        downhill = scoring & ~done & (new <= 0.0) & (0.0 < tau2)
        restart = np.zeros(ids.size, dtype=bool)
        look = downhill & ~zero_seen
        if look.any():
            zero_seen |= look
            sub = _subgroups(g, look)
            z_score, z_expected, z_observed = _group_reml_score(np.zeros(sub.k.size), sub)
            at = np.flatnonzero(look)
            restart[at] = z_score > 0.0  # root bracketed by [0, tau2]: carry on from 0
            flat = at[~(z_score > 0.0) & (z_observed > 0.0)]
            done[flat] = True
            result[flat] = 0.0
            # the restarting groups take tau2 = 0 and its score, and skip this step's rest
            tau2[at] = np.where(restart[at], 0.0, tau2[at])
            score[at] = np.where(restart[at], z_score, score[at])
            expected[at] = np.where(restart[at], z_expected, expected[at])
            observed[at] = np.where(restart[at], z_observed, observed[at])
        halve = downhill & ~restart & ~done
        if halve.any():
            new[halve] = _group_halved_step(tau2[halve], fisher[halve])

        step = ~done & ~restart
        converged = step & (
            (np.abs(new - tau2) < tol * np.maximum(1.0, new))
            | (hi - lo < tol * np.maximum(1.0, lo))
        )
        result = np.where(converged, new, result)
        done |= converged
        root[ids[done]] = result[done]

        move = step & ~converged
        if move.any():
            sub = _subgroups(g, move)
            at = np.flatnonzero(move)
            r_score, r_expected, r_observed = _group_reml_score(new[at], sub)
            crossed = (r_score > 0.0) != (score[at] > 0.0)
            closer = (r_observed > 0.0) & (np.abs(r_score) < np.abs(score[at]))
            # the Newton step stayed on this side but left the concave region (or got no
            # closer): it may have jumped over a pair of roots; take the Fisher step instead
            redo = newton[at] & ~bracketed[at] & ~(crossed | closer)
            if redo.any():
                back = at[redo]
                new[back] = _group_halved_step(tau2[back], fisher[back])
                again = _group_reml_score(new[back], _subgroups(sub, redo))
                r_score[redo], r_expected[redo], r_observed[redo] = again
            tau2[at] = new[at]
            score[at], expected[at], observed[at] = r_score, r_expected, r_observed

        keep = ~done
        if not keep.all():
            g = _subgroups(g, keep)
            ids, c, tau2, score, expected, observed = (
                a[keep] for a in (ids, c, tau2, score, expected, observed)
            )
            lo, hi, lo_known, zero_seen, last, before_last = (
                a[keep] for a in (lo, hi, lo_known, zero_seen, last, before_last)
            )
    return root


def _group_reml_loglik(tau2: NDArray[np.float64], g: _Groups) -> NDArray[np.float64]:
    """:func:`_reml_loglik` for every group at once, each at its own tau2."""
    t = g.v + np.repeat(tau2, g.k)
    w = 1.0 / t
    sw = _gsum(w, g)
    e = g.y - np.repeat(_gsum(w * g.y, g) / sw, g.k)
    return -0.5 * (_gsum(np.log(t), g) + np.log(sw) + _gsum(w * e * e, g))


def reml_many(
    yi: ArrayLike, vi: ArrayLike, group: ArrayLike, *, tol: float = 1e-10, max_iter: int = 1000
) -> PooledEstimates:
    """:func:`reml` for many meta-analyses in one call (``yi``, ``vi``, ``group`` as in
    :func:`dersimonian_laird_many`).

    The root search of :func:`reml` runs for all groups at once, step for step, each group
    leaving it as it converges; a group that does not converge falls back to the bounded
    search of :func:`reml`, alone. Results equal ``reml`` on each group's studies up to
    rounding in the last places.

    Raises ValueError as :func:`dersimonian_laird_many` does, and for bad ``tol``/``max_iter``.
    """
    if not tol > 0.0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    labels, g = _check_groups(yi, vi, group)
    het = _group_heterogeneity(g)
    tau2 = _group_reml_roots(g, tol, max_iter)
    for i in np.flatnonzero(~np.isfinite(tau2)):
        studies = slice(g.starts[i], g.starts[i] + g.k[i])
        tau2[i] = _reml_bounded_search(g.y[studies], g.v[studies], tol)
    tau2 = np.maximum(0.0, tau2)
    positive = np.flatnonzero(tau2 > 0.0)
    if positive.size:
        sub = _subgroups(g, tau2 > 0.0)
        worse = _group_reml_loglik(np.zeros(positive.size), sub) > _group_reml_loglik(
            tau2[positive], sub
        )
        tau2[positive[worse]] = 0.0
    return _group_pooled("REML", labels, g, tau2, het)


def _group_hartung_knapp(
    base: PooledEstimates, yi: ArrayLike, vi: ArrayLike, group: ArrayLike
) -> PooledEstimates:
    """:func:`hartung_knapp` for every group of ``base`` at once (the same studies)."""
    labels, g = _check_groups(yi, vi, group)
    if not np.array_equal(labels, base.group) or not np.array_equal(g.k, base.k):
        raise ValueError("yi/vi/group do not match the groups of the base estimates")
    w = 1.0 / (g.v + np.repeat(base.tau2, g.k))
    sw = _gsum(w, g)
    mu = _gsum(w * g.y, g) / sw
    e = g.y - np.repeat(mu, g.k)
    rss = _gsum(w * e * e, g)
    s2w = np.where(rss <= _EPS, 0.0, rss / (g.k - 1))
    se = np.sqrt(s2w / sw)
    crit = special.stdtrit(g.k - 1, 0.5 + _LEVEL / 2.0)
    half = np.where(g.k >= 3, crit * np.sqrt(base.tau2 + se * se), np.nan)
    return dataclasses.replace(
        base,
        method=f"{base.method}+HK",
        estimate=mu,
        se=se,
        ci_lower=mu - crit * se,
        ci_upper=mu + crit * se,
        pi_lower=mu - half,
        pi_upper=mu + half,
    )


def random_effects_many(
    yi: ArrayLike,
    vi: ArrayLike,
    group: ArrayLike,
    *,
    method: str = "REML",
    hartung_knapp: bool = False,
    prediction_interval: str = "normal",
) -> PooledEstimates:
    """:func:`random_effects` for many meta-analyses in one call: :func:`reml_many` or
    :func:`dersimonian_laird_many`, then the Hartung-Knapp adjustment of every group when
    ``hartung_knapp``. ``prediction_interval="t"`` replaces the prediction interval by the
    t_{k-2} one (see :data:`PREDICTION_INTERVALS`). Raises ValueError for an unknown method
    or prediction interval and as the estimators do."""
    key = method.upper() if isinstance(method, str) else method
    if key not in _METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(_METHODS)}")
    if prediction_interval not in PREDICTION_INTERVALS:
        raise ValueError(
            f"unknown prediction interval {prediction_interval!r}; expected one of "
            f"{', '.join(PREDICTION_INTERVALS)}"
        )
    base = reml_many(yi, vi, group) if key == "REML" else dersimonian_laird_many(yi, vi, group)
    fits = _group_hartung_knapp(base, yi, vi, group) if hartung_knapp else base
    return _t_prediction_interval(fits) if prediction_interval == "t" else fits


# ---------------------------------------------------------------------------------------
# Small-study effects
# ---------------------------------------------------------------------------------------


class EggerTest(NamedTuple):
    """Egger's regression test: intercept of the standardised effect on precision, its
    standard error, the two-sided p value (t, k - 2 df) and the number of studies."""

    intercept: float
    se: float
    p: float
    k: int


def egger_test(yi: ArrayLike, sei: ArrayLike) -> EggerTest:
    """Egger's regression test for funnel-plot asymmetry (Egger et al., BMJ 1997;315:629):
    ordinary least squares of ``yi / sei`` on ``1 / sei``; the intercept's two-sided t test
    with k - 2 degrees of freedom. ``yi`` on the analysis scale (log for ratios).

    This is metafor's ``regtest(res, model="lm", predictor="sei")``: its weighted regression
    of ``yi`` on ``sei`` (weights ``1/vi``) divided through by ``sei`` is Egger's regression,
    and Egger's intercept is metafor's coefficient of ``sei`` (same t, df and p; metafor's
    default, ``model="rma"``, is a different test). Needs k >= 3 for a p value.
    """
    y_all = np.asarray(yi, dtype=np.float64).ravel()
    s_all = np.asarray(sei, dtype=np.float64).ravel()
    if len(y_all) != len(s_all):
        raise ValueError(f"yi and sei differ in length ({len(y_all)} and {len(s_all)})")
    k = len(y_all)
    if k < 3:
        raise ValueError(f"Egger's test needs at least 3 studies; got {k}")
    for y, s in zip(y_all.tolist(), s_all.tolist(), strict=True):
        if not (math.isfinite(y) and math.isfinite(s) and s > 0):
            raise ValueError(
                f"each effect must be finite with a standard error > 0; got {y!r}, {s!r}"
            )
    x = 1.0 / s_all
    z = y_all / s_all
    mx, mz = float(x.mean()), float(z.mean())
    sxx = float(((x - mx) ** 2).sum())
    if sxx == 0:
        raise ValueError("Egger's test needs studies of different precision (all SEs are equal)")
    slope = float(((x - mx) * (z - mz)).sum()) / sxx
    intercept = mz - slope * mx
    rss = float(((z - intercept - slope * x) ** 2).sum())
    # A perfect line (residuals at rounding level) has no residual variance: no test, not
    # a spurious p = 0 from dividing by a rounding error.
    if rss <= 1e-24 * float((z * z).sum()):
        return EggerTest(intercept, 0.0, math.nan, k)
    sigma2 = rss / (k - 2)
    se = math.sqrt(sigma2 * (1.0 / k + mx**2 / sxx))
    p = float(2 * special.stdtr(k - 2, -abs(intercept / se)))  # = 2 scipy.stats.t.sf
    return EggerTest(intercept, se, p, k)


# ---------------------------------------------------------------------------------------
# Around the random-effects estimate: common effect, the test of the pooled effect, the
# t prediction interval and tau^2's confidence interval (issue 14)
# ---------------------------------------------------------------------------------------

#: ``prediction_interval`` choices: metafor's default (the CI's quantile: normal, or t with
#: k - 1 df under Hartung-Knapp) or t with k - 2 df (Higgins, Thompson & Spiegelhalter 2009).
PREDICTION_INTERVALS = ("normal", "t")


def common_effect(yi: ArrayLike, vi: ArrayLike) -> PooledEstimate:
    """Common-effect (fixed-effect, inverse-variance) meta-analysis: the weighted mean with
    weights 1/vi, SE sqrt(1 / sum w) and a normal-quantile CI (Cochrane Handbook 10.3.1;
    metafor ``rma(method="EE")``, formerly ``"FE"``). tau2 and I^2 are those of a model with
    no between-study variance (0); ``pi_*`` are NaN, as a common effect predicts no spread.

    Raises ValueError as :func:`dersimonian_laird` does.
    """
    d = _check_inputs(yi, vi)
    fit = _pooled("CE", d, 0.0, _heterogeneity(d))
    return dataclasses.replace(fit, pi_lower=math.nan, pi_upper=math.nan)


def common_effect_many(yi: ArrayLike, vi: ArrayLike, group: ArrayLike) -> PooledEstimates:
    """:func:`common_effect` for many meta-analyses in one call (``yi``, ``vi``, ``group`` as
    in :func:`dersimonian_laird_many`)."""
    labels, g = _check_groups(yi, vi, group)
    fit = _group_pooled("CE", labels, g, np.zeros(g.k.size), _group_heterogeneity(g))
    nan = np.full(g.k.size, np.nan)
    return dataclasses.replace(fit, pi_lower=nan, pi_upper=nan.copy())


class PooledTest(NamedTuple):
    """The test of the pooled effect against no effect (0 on the analysis scale): ``test`` is
    ``"z"`` or ``"t"``, ``df`` its degrees of freedom (NaN for z), ``p`` two-sided."""

    test: str
    statistic: NDArray[np.float64]
    df: NDArray[np.float64]
    p: NDArray[np.float64]


def pooled_test(fits: PooledEstimates) -> PooledTest:
    """z = estimate / se with a two-sided normal p value (metafor's ``zval``, ``pval``); for a
    Hartung-Knapp fit, t = estimate / se_HK with k - 1 df (metafor ``test="knha"``: ``tval``,
    ``df``, ``pval``). An SE of 0 (identical estimates under Hartung-Knapp) gives NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(fits.se > 0.0, fits.estimate / fits.se, np.nan)
    if fits.method.endswith("+HK"):
        df = (fits.k - 1).astype(np.float64)
        return PooledTest("t", stat, df, 2.0 * special.stdtr(df, -np.abs(stat)))
    return PooledTest("z", stat, np.full(stat.size, np.nan), 2.0 * special.ndtr(-np.abs(stat)))


def _t_prediction_interval(fits: PooledEstimates) -> PooledEstimates:
    """``fits`` with the prediction interval mu +/- t_{k-2} sqrt(tau2 + se^2) (Higgins,
    Thompson & Spiegelhalter 2009, J R Stat Soc A 172:137, section 3.4; Cochrane Handbook
    10.10.4.3; metafor ``predict(res, predtype="Riley")``), se that of the fit (the
    Hartung-Knapp SE under Hartung-Knapp); NaN when k < 3."""
    df = np.maximum(fits.k - 2, 1)  # k < 3 is blanked below; this only keeps stdtrit defined
    crit = special.stdtrit(df, 0.5 + _LEVEL / 2.0)
    half = np.where(fits.k >= 3, crit * np.sqrt(fits.tau2 + fits.se * fits.se), np.nan)
    return dataclasses.replace(fits, pi_lower=fits.estimate - half, pi_upper=fits.estimate + half)


def _group_generalised_q(tau2: NDArray[np.float64], g: _Groups) -> NDArray[np.float64]:
    """Q(tau2) = sum w (y - mu_w)^2 with w = 1/(vi + tau2) for every group at its tau2: the
    generalised Q statistic, decreasing in tau2 (Viechtbauer 2007, eq. 6)."""
    w = 1.0 / (g.v + np.repeat(tau2, g.k))
    e = g.y - np.repeat(_gsum(w * g.y, g) / _gsum(w, g), g.k)
    return _gsum(w * e * e, g)


def _group_q_root(g: _Groups, target: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per group, the tau2 >= 0 where Q(tau2) = target, 0 where Q(0) <= target already.

    Q is continuous and strictly decreasing towards 0 (unless every y is equal, when it is 0
    and the answer is 0), so the root is bracketed by doubling an upper bound and then found
    by bisection: 200 halvings at most, each a few numpy sums over all studies.
    """
    n = g.k.size
    lo = np.zeros(n)
    positive = _group_generalised_q(lo, g) > target
    hi = np.where(positive, 1.0, 0.0)
    for _ in range(1100):  # 2**1100 overflows: a bound that high is no longer a number
        grow = positive & (_group_generalised_q(hi, g) > target)
        if not grow.any():
            break
        lo = np.where(grow, hi, lo)
        hi = np.where(grow, 2.0 * hi, hi)
    for _ in range(200):
        if not (hi - lo > 1e-12 * np.maximum(hi, 1e-300)).any():
            break
        mid = 0.5 * (lo + hi)
        above = _group_generalised_q(mid, g) > target
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return np.where(positive, 0.5 * (lo + hi), 0.0)


def tau2_ci_q_profile_many(
    yi: ArrayLike, vi: ArrayLike, group: ArrayLike, level: float = _LEVEL
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """tau^2's confidence interval by the Q-profile method for many meta-analyses at once
    (``yi``, ``vi``, ``group`` as in :func:`dersimonian_laird_many`), the bounds in sorted
    group order.

    The bounds are the tau2 where the generalised Q statistic equals the chi-square quantiles
    with k - 1 df: Q(lower) = chi2_{(1+level)/2} and Q(upper) = chi2_{(1-level)/2}, each
    truncated at 0 when Q(0) is already below the quantile (Viechtbauer 2007, Stat Med
    26:37-52; metafor ``confint.rma.uni()``). It does not depend on the tau2 estimator.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    _, g = _check_groups(yi, vi, group)
    df = (g.k - 1).astype(np.float64)
    alpha = 1.0 - level
    lower = _group_q_root(g, special.chdtri(df, alpha / 2.0))  # upper-tail quantile
    upper = _group_q_root(g, special.chdtri(df, 1.0 - alpha / 2.0))
    return lower, upper


def tau2_ci_q_profile(yi: ArrayLike, vi: ArrayLike, level: float = _LEVEL) -> tuple[float, float]:
    """:func:`tau2_ci_q_profile_many` for one meta-analysis."""
    y = np.asarray(yi, dtype=np.float64).ravel()
    lower, upper = tau2_ci_q_profile_many(y, vi, np.zeros(y.size, dtype=np.int64), level)
    return float(lower[0]), float(upper[0])
