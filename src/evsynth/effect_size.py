"""Effect sizes from arm-level data, and the Mantel-Haenszel common effect.

Pure numpy (no pandas, no I/O): validation calls it on the outcomes rows that give arm-level
numbers, the outcomes stage on the 2x2 tables of a meta-analysis. Every formula is metafor's
``escalc()`` with its defaults (Viechtbauer 2010, J Stat Softw 36(3)), so that a table typed
from a paper gives what a metafor user gets; ``tests/test_effect_size.py`` checks them against
the values metafor's documentation and test suite print.

Conventions:

* Ratio measures (``or``, ``rr``) come out on the log scale, as ``yi`` and its sampling
  variance ``vi``; the caller exponentiates the estimate and the CI bounds, never the SE.
* Zero cells: a 2x2 table with a zero in any of its four cells gets 0.5 added to every cell
  before anything is computed, for the risk difference too (``escalc``'s defaults ``add=1/2,
  to="only0"``, with the corrected counts used for both the estimate and its variance). A table
  with no events in either arm (or only events) is kept, as ``escalc``'s default
  ``drop00=FALSE`` does: corrected, its ratio is near 1 (exactly 1 when the arms are the
  same size) with a wide interval, so it carries little weight; validation warns about it,
  because the Cochrane Handbook (10.4.4.2) would rather leave such a study out of a ratio
  meta-analysis.
* SMD is Hedges' g: Cohen's d on the pooled SD times the exact small-sample correction
  ``c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``, m = n1 + n2 - 2, with the large-sample
  variance ``1/n1 + 1/n2 + g^2 / (2 (n1 + n2))`` (Hedges 1981; Hedges 1982, eq. 8; escalc's
  ``measure="SMD"``, ``vtype="LS"``).
* MD's variance does not assume equal variances: ``sd1^2/n1 + sd2^2/n2`` (Borenstein 2009,
  eq. 12.5; escalc's ``measure="MD"``, ``vtype="LS"``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

__all__ = [
    "BINARY_MEASURES",
    "CONTINUOUS_MEASURES",
    "CONTINUITY_CORRECTION",
    "ArmEffects",
    "MantelHaenszel",
    "binary_effects",
    "continuous_effects",
    "hedges_correction",
    "mantel_haenszel",
    "normal_ci",
    "within_rounding",
]

#: What a 2x2 table (events and totals of two arms) can give, and what means and SDs can give.
BINARY_MEASURES = ("or", "rr", "rd")
CONTINUOUS_MEASURES = ("md", "smd")
#: Added to every cell of a 2x2 table that has a zero cell (escalc's default ``add=1/2``).
CONTINUITY_CORRECTION = 0.5
_Z = float(special.ndtri(0.975))

Array = NDArray[np.float64]


class ArmEffects(NamedTuple):
    """Per row: ``yi`` (log scale for ratios) and its sampling variance ``vi``; ``corrected``
    marks the 2x2 tables that got the continuity correction (always False for means)."""

    yi: Array
    vi: Array
    corrected: NDArray[np.bool_]


def _floats(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(*values)]


def binary_effects(
    measure: ArrayLike,
    int_events: ArrayLike,
    int_total: ArrayLike,
    ctl_events: ArrayLike,
    ctl_total: ArrayLike,
) -> ArmEffects:
    """Log odds ratio, log risk ratio or risk difference (per row, as ``measure`` says:
    ``or``, ``rr``, ``rd``) of intervention vs control, from events and totals, as metafor's
    ``escalc()`` computes them by default (module docstring: zero cells).

    Variances: OR ``1/a + 1/b + 1/c + 1/d``; RR ``1/a - 1/n1 + 1/c - 1/n2``; RD
    ``p1 (1 - p1)/n1 + p2 (1 - p2)/n2`` (escalc ``vtype="LS"``). A row whose measure is none of
    the three gets NaN. The caller has checked 0 <= events <= total and total >= 1.
    """
    kind = np.asarray(measure, dtype=object)
    a, n1, c, n2 = _floats(int_events, int_total, ctl_events, ctl_total)
    b, d = n1 - a, n2 - c
    corrected = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    add = np.where(corrected, CONTINUITY_CORRECTION, 0.0)
    a, b, c, d = a + add, b + add, c + add, d + add
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = np.select(
            [kind == "or", kind == "rr", kind == "rd"],
            [np.log(a * d / (b * c)), np.log(p1 / p2), p1 - p2],
            np.nan,
        )
        vi = np.select(
            [kind == "or", kind == "rr", kind == "rd"],
            [
                1 / a + 1 / b + 1 / c + 1 / d,
                1 / a - 1 / n1 + 1 / c - 1 / n2,
                p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2,
            ],
            np.nan,
        )
    return ArmEffects(yi, vi, corrected & np.isin(kind, BINARY_MEASURES))


def hedges_correction(df: ArrayLike) -> Array:
    """Hedges' exact small-sample correction c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))
    (Hedges 1981, eq. 6e), through log-gamma so that large m does not overflow (as metafor's
    ``.cmicalc``); NaN for m <= 1."""
    m = np.asarray(df, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))
    return np.where(m > 1, out, np.nan)


def continuous_effects(
    measure: ArrayLike,
    int_mean: ArrayLike,
    int_sd: ArrayLike,
    int_n: ArrayLike,
    ctl_mean: ArrayLike,
    ctl_sd: ArrayLike,
    ctl_n: ArrayLike,
) -> ArmEffects:
    """Mean difference or Hedges' g (per row: ``md``, ``smd``) of intervention minus control,
    as metafor's ``escalc()`` computes them by default (module docstring). A row whose measure
    is neither gets NaN. The caller has checked SD >= 0 (not both 0) and n >= 2 in each arm."""
    kind = np.asarray(measure, dtype=object)
    m1, s1, n1, m2, s2, n2 = _floats(int_mean, int_sd, int_n, ctl_mean, ctl_sd, ctl_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled_sd = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
        g = hedges_correction(n1 + n2 - 2) * (m1 - m2) / pooled_sd
        yi = np.select([kind == "md", kind == "smd"], [m1 - m2, g], np.nan)
        vi = np.select(
            [kind == "md", kind == "smd"],
            [s1**2 / n1 + s2**2 / n2, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))],
            np.nan,
        )
    return ArmEffects(yi, vi, np.zeros(yi.shape, dtype=bool))


def normal_ci(yi: ArrayLike, vi: ArrayLike) -> tuple[Array, Array]:
    """The 95% confidence interval ``yi -/+ z_0.975 sqrt(vi)`` (normal quantile, as
    ``summary.escalc``), on the analysis scale."""
    y, v = _floats(yi, vi)
    half = _Z * np.sqrt(v)
    return y - half, y + half


class MantelHaenszel(NamedTuple):
    """A Mantel-Haenszel common-effect estimate on the analysis scale (log for ``or``/``rr``)
    with its SE and normal 95% CI; all NaN where it is undefined (no events at all)."""

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float


def mantel_haenszel(
    measure: str,
    int_events: ArrayLike,
    int_total: ArrayLike,
    ctl_events: ArrayLike,
    ctl_total: ArrayLike,
) -> MantelHaenszel:
    """Mantel-Haenszel pooled odds ratio, risk ratio or risk difference over 2x2 tables, on
    the raw counts (no continuity correction: a table with no events adds nothing, as in
    metafor's ``rma.mh()`` and RevMan).

    OR: Mantel & Haenszel (1959), variance of the log OR by Robins, Breslow & Greenland (1986);
    RR: variance of the log RR by Greenland & Robins (1985); RD: variance by Sato, Greenland &
    Robins (1989). These are the formulas of metafor's ``rma.mh()`` (and of the Cochrane
    Handbook 10.4.1). ``measure`` is ``or``, ``rr`` or ``rd``; ValueError for another.
    """
    a, n1, c, n2 = _floats(int_events, int_total, ctl_events, ctl_total)
    b, d = n1 - a, n2 - c
    n = n1 + n2
    nan = MantelHaenszel(math.nan, math.nan, math.nan, math.nan)
    if measure == "or":
        r_i, s_i = a * d / n, b * c / n
        r, s = float(r_i.sum()), float(s_i.sum())
        if r == 0 or s == 0:
            return nan
        p_i, q_i = (a + d) / n, (b + c) / n
        estimate = math.log(r / s)
        var = 0.5 * (
            float((p_i * r_i).sum()) / r**2
            + float((p_i * s_i + q_i * r_i).sum()) / (r * s)
            + float((q_i * s_i).sum()) / s**2
        )
    elif measure == "rr":
        r, s = float((a * n2 / n).sum()), float((c * n1 / n).sum())
        if a.sum() == 0 or c.sum() == 0:
            return nan
        estimate = math.log(r / s)
        var = float((n1 * n2 * (a + c) / n**2 - a * c / n).sum()) / (r * s)
    elif measure == "rd":
        weight = float((n1 * n2 / n).sum())
        estimate = float((a * n2 / n - c * n1 / n).sum()) / weight
        var = (
            estimate
            * float(
                (c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + n1 * n2 * (n2 - n1) / (2 * n**2)).sum()
            )
            + float((a * (n2 - c) / n + c * (n1 - a) / n).sum()) / 2
        ) / weight**2
    else:
        raise ValueError(f"Mantel-Haenszel pools or, rr or rd, not {measure!r}")
    se = math.sqrt(var)
    return MantelHaenszel(estimate, se, estimate - _Z * se, estimate + _Z * se)


def within_rounding(
    given: ArrayLike, decimals: ArrayLike, computed: ArrayLike
) -> NDArray[np.bool_]:
    """True where ``given`` (a number as typed, with ``decimals`` places) is ``computed``
    rounded to that many places: ``|given - computed| <= 0.5 * 10^-decimals``, with a relative
    1e-9 slack so that a computed value exactly half-way (0.625 for "0.62") is not a
    disagreement only because of its binary representation."""
    g, dec, x = _floats(given, decimals, computed)
    half = 0.5 * np.power(10.0, -dec)
    return np.abs(g - x) <= half + 1e-9 * np.maximum(1.0, np.abs(x))
