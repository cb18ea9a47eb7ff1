"""Effect direction and pooling on the tiny review (counts by hand; estimators are checked
against published values in test_stats.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evsynth.outcomes import direction_summary, effect_sizes, meta_analysis, study_direction
from evsynth.stats import reml


def test_one_direction_per_study_and_outcome():
    import pandas as pd

    assert study_direction(pd.Series(["benefit", "benefit"])) == "benefit"
    assert study_direction(pd.Series(["benefit", "no_effect"])) == "mixed"  # 50% < 70%
    assert study_direction(pd.Series(["harm"] * 7 + ["no_effect"] * 3)) == "harm"  # 70%
    assert study_direction(pd.Series(["unclear", "unclear"])) == "unclear"


def test_direction_counts_and_sign_test(tiny_clean):
    result, codebook = tiny_clean
    table = direction_summary(result.clean["outcomes"], codebook).set_index("outcome")
    re = table.loc["reoffending"]
    assert (re["k"], re["n_benefit"], re["n_harm"], re["n_no_effect"]) == (3, 2, 0, 1)
    assert re["sign_test_p"] == pytest.approx(0.5)  # 2 of 2 votes: P = 2 * 0.5**2
    wb = table.loc["wellbeing"]
    # T2 reports benefit and no effect on two scales -> mixed; T3 benefit; T5 harm.
    assert (wb["k"], wb["n_benefit"], wb["n_harm"], wb["n_mixed"]) == (3, 1, 1, 1)
    assert wb["sign_test_p"] == pytest.approx(1.0)
    assert wb["study_ids"] == "T2;T3;T5"
    assert wb["pct_benefit"] == pytest.approx(100 / 3)


def test_effect_sizes_recover_the_log_scale_se_from_the_ci(tiny_clean):
    result, _ = tiny_clean
    sizes = effect_sizes(result.clean["outcomes"]).set_index("study_id")
    assert sizes.loc["T1", "yi"] == pytest.approx(math.log(0.5))
    se = (math.log(0.83) - math.log(0.3)) / (2 * 1.959963984540054)
    assert sizes.loc["T1", "vi"] == pytest.approx(se**2)


def test_meta_analysis_only_for_k_at_least_two_and_back_on_the_ratio_scale(tiny_clean):
    result, codebook = tiny_clean
    table = meta_analysis(result.clean["outcomes"], result.clean["studies"], codebook)
    assert list(table["outcome"]) == ["reoffending"]  # wellbeing has no estimates
    row = table.iloc[0]
    assert (row["effect_measure"], row["method"], row["k"], row["analysis"]) == (
        "rr", "REML", 2, "main")
    sizes = effect_sizes(result.clean["outcomes"])
    fit = reml(sizes["yi"].to_numpy(), sizes["vi"].to_numpy())
    assert row["estimate"] == pytest.approx(np.exp(fit.estimate))
    assert row["ci_lower"] < row["estimate"] < row["ci_upper"]
    assert 0.5 <= row["estimate"] <= 0.7
    assert row["study_ids"] == "T1;T4"
    # T4 is low quality: the sensitivity analysis would leave k = 1, so none is reported.
    assert "sensitivity" not in set(table["analysis"])


def test_all_studies_at_once_follow_the_one_study_rule():
    """per_study_directions (vectorised) gives what study_direction gives study by study."""
    import pandas as pd

    from evsynth.outcomes import per_study_directions

    rng = np.random.default_rng(7)
    directions = np.array(["benefit", "harm", "no_effect", "mixed", "unclear"])
    rows = pd.DataFrame({
        "outcome": rng.choice(["a", "b"], 3000),
        "study_id": [f"S{i:03d}" for i in rng.integers(0, 400, 3000)],
        "direction": directions[rng.choice(5, 3000, p=[0.5, 0.2, 0.15, 0.05, 0.1])],
    })
    got = per_study_directions(rows).set_index(["outcome", "study_id"])["direction"]
    expected = rows.groupby(["outcome", "study_id"])["direction"].agg(study_direction)
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
    assert set(got) >= {"benefit", "harm", "mixed"}
