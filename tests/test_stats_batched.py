"""The batched estimators' shortcuts give the very numbers of the plain computation."""

from __future__ import annotations

import numpy as np
from scipy import special

from evsynth import stats


def _groups(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = rng.integers(2, 31, n)
    group = np.repeat(np.arange(n), k)
    vi = rng.uniform(0.005, 0.5, group.size)
    yi = rng.normal(np.repeat(rng.normal(0.0, 0.5, n), k), np.sqrt(vi + 0.1))
    return yi, vi, group


def test_q_p_value_is_the_chi_square_tail_bit_for_bit() -> None:
    """Q's p value is scipy's chdtrc(df, Q) exactly, for every group (REML and DL)."""
    yi, vi, group = _groups(3, 2000)
    for fit in (stats.dersimonian_laird_many(yi, vi, group), stats.reml_many(yi, vi, group)):
        assert np.array_equal(fit.q_p, special.chdtrc(fit.q_df, fit.q))


def test_q_p_value_at_the_edges() -> None:
    """No heterogeneity at all (Q = 0) gives p = 1, as chdtrc does; a huge Q gives 0."""
    yi = np.array([0.5, 0.5, 0.5, -3.0, 3.0, 0.0, 1e6, -1e6])
    vi = np.array([0.1, 0.2, 0.3, 1e-6, 1e-6, 1e-6, 1e-9, 1e-9])
    group = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    fit = stats.dersimonian_laird_many(yi, vi, group)
    assert np.array_equal(fit.q_p, special.chdtrc(fit.q_df, fit.q))
    assert fit.q_p[0] == 1.0 and fit.q_p[2] == 0.0
