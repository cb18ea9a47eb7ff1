"""Effect direction and pooling on the tiny review (counts by hand; estimators are checked
against published values in test_stats.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evsynth.outcomes import direction_summary, effect_sizes, meta_analysis, per_study_directions
from evsynth.stats import reml


def _one_study(directions: list[str]) -> str:
    """The direction per_study_directions gives one study's rows for one outcome."""
    import pandas as pd

    rows = pd.DataFrame({"outcome": "o", "study_id": "S1", "direction": directions})
    (direction,) = per_study_directions(rows)["direction"]
    return direction


def test_one_direction_per_study_and_outcome():
    assert _one_study(["benefit", "benefit"]) == "benefit"
    assert _one_study(["benefit", "no_effect"]) == "mixed"  # 50% < 70%
    assert _one_study(["harm"] * 7 + ["no_effect"] * 3) == "harm"  # 70%
    assert _one_study(["unclear", "unclear"]) == "unclear"


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
        "rr",
        "REML",
        2,
        "main",
    )
    sizes = effect_sizes(result.clean["outcomes"])
    fit = reml(sizes["yi"].to_numpy(), sizes["vi"].to_numpy())
    assert row["estimate"] == pytest.approx(np.exp(fit.estimate))
    assert row["ci_lower"] < row["estimate"] < row["ci_upper"]
    assert 0.5 <= row["estimate"] <= 0.7
    assert row["study_ids"] == "T1;T4"
    # T4 is low quality: the sensitivity analysis would leave k = 1, so none is reported.
    assert "sensitivity" not in set(table["analysis"])


def test_all_studies_at_once_follow_the_one_study_rule():
    """per_study_directions (vectorised) gives what the rule, applied study by study, gives."""
    import pandas as pd

    def study_direction(directions: pd.Series) -> str:
        # The rule as written in the README: all agree -> that direction; otherwise benefit
        # or harm when 70% or more of the rows say so (Thomson & Thomas 2013), else mixed.
        counts = directions.value_counts()
        if len(counts) == 1:
            return str(counts.index[0])
        top = counts.index[0]
        if top in ("benefit", "harm") and 10 * counts.iloc[0] >= 7 * counts.sum():
            return str(top)
        return "mixed"

    rng = np.random.default_rng(7)
    directions = np.array(["benefit", "harm", "no_effect", "mixed", "unclear"])
    rows = pd.DataFrame(
        {
            "outcome": rng.choice(["a", "b"], 3000),
            "study_id": [f"S{i:03d}" for i in rng.integers(0, 400, 3000)],
            "direction": directions[rng.choice(5, 3000, p=[0.5, 0.2, 0.15, 0.05, 0.1])],
        }
    )
    got = per_study_directions(rows).set_index(["outcome", "study_id"])["direction"]
    expected = rows.groupby(["outcome", "study_id"])["direction"].agg(study_direction)
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
    assert set(got) >= {"benefit", "harm", "mixed"}


# --- Rules the mutation check (tools/mutate.py) found unpinned --------------------------------

Z95 = 1.959963984540054  # the two-sided 95% normal quantile


def _frame(rows: list[tuple], columns: str):
    import pandas as pd

    return pd.DataFrame(rows, columns=columns.split())


def test_seventy_percent_or_more_of_a_studys_measures_decide_its_direction():
    # Thomson & Thomas (2013): where 70% or more of a study's measures of an outcome point the
    # same way, that is the study's direction; otherwise it is conflicting (here "mixed").
    assert _one_study(["benefit"] * 7 + ["no_effect"] * 3) == "benefit"  # exactly 70%
    assert _one_study(["harm"] * 7 + ["benefit"] * 3) == "harm"  # exactly 70%
    assert _one_study(["benefit"] * 2 + ["harm"]) == "mixed"  # 67% < 70%
    assert _one_study(["harm"] * 6 + ["no_effect"] * 4) == "mixed"  # 60%
    # Only benefit and harm are directions: a majority of no_effect or unclear is not.
    assert _one_study(["no_effect"] * 8 + ["benefit"] * 2) == "mixed"
    assert _one_study(["unclear"] * 8 + ["harm"] * 2) == "mixed"


def test_the_sign_test_votes_but_the_benefit_share_counts_every_study(tiny_clean):
    _, codebook = tiny_clean
    outcomes = _frame(
        [
            ("S1", "benefit"),
            ("S2", "benefit"),
            ("S3", "benefit"),
            ("S4", "no_effect"),
            ("S5", "no_effect"),
        ],
        "study_id direction",
    ).assign(outcome="reoffending")
    row = direction_summary(outcomes, codebook).iloc[0]
    assert (row["k"], row["n_benefit"], row["n_harm"], row["n_no_effect"]) == (5, 3, 0, 2)
    # Sign test over the 3 directional studies: 2 * 0.5**3 = 0.25 (no_effect does not vote).
    assert row["sign_test_p"] == pytest.approx(0.25)
    # Benefit in 3 of all k = 5 studies, with the Wilson (1927) 95% interval for 3/5:
    # (2np + z^2 -/+ z sqrt(z^2 + 4np(1 - p))) / (2(n + z^2)) = 23.07% to 88.24%.
    n, p = 5, 0.6
    centre, half = 2 * n * p + Z95**2, Z95 * math.sqrt(Z95**2 + 4 * n * p * (1 - p))
    assert row["pct_benefit"] == pytest.approx(60.0)
    assert row["benefit_ci_lower"] == pytest.approx(100 * (centre - half) / (2 * (n + Z95**2)))
    assert row["benefit_ci_upper"] == pytest.approx(100 * (centre + half) / (2 * (n + Z95**2)))
    assert round(row["benefit_ci_lower"], 2) == 23.07 and round(row["benefit_ci_upper"], 2) == 88.24


def test_the_first_of_repeated_estimates_is_the_one_pooled():
    # Validation warns "only the first is pooled" (repeated_estimate): S1's second row for the
    # same outcome and measure (rr 2.0) must not replace its first (rr 0.5).
    outcomes = _frame(
        [
            ("S1", "rr", "0.5", "0.3", "0.83"),
            ("S1", "rr", "2.0", "1.2", "3.3"),
            ("S2", "rr", "0.7", "0.5", "0.98"),
        ],
        "study_id effect_measure estimate ci_lower ci_upper",
    ).assign(outcome="reoffending")
    sizes = effect_sizes(outcomes).set_index("study_id")
    assert list(sizes.index) == ["S1", "S2"]
    assert sizes.loc["S1", "yi"] == pytest.approx(math.log(0.5))
    se = (math.log(0.83) - math.log(0.3)) / (2 * Z95)  # Cochrane Handbook 6.3.2
    assert sizes.loc["S1", "vi"] == pytest.approx(se**2)


def test_the_sensitivity_analysis_leaves_out_only_the_low_quality_studies(tiny_clean):
    _, codebook = tiny_clean
    outcomes = _frame(
        [("S1", "0.5", "0.3", "0.83"), ("S2", "0.7", "0.5", "0.98"), ("S3", "1.2", "0.8", "1.8")],
        "study_id estimate ci_lower ci_upper",
    ).assign(outcome="reoffending", effect_measure="rr", direction="benefit")
    studies = _frame([("S1", "high"), ("S2", "moderate"), ("S3", "low")], "study_id quality")
    table = meta_analysis(outcomes, studies, codebook).set_index("analysis")
    assert (table.loc["main", "k"], table.loc["main", "study_ids"]) == (3, "S1;S2;S3")
    assert (table.loc["sensitivity", "k"], table.loc["sensitivity", "study_ids"]) == (2, "S1;S2")


def test_the_gap_map_counts_the_theme_studies_that_report_the_outcome(tiny_clean):
    from evsynth.outcomes import gap_map

    _, codebook = tiny_clean
    codes = _frame([("S1", "a.one"), ("S2", "a"), ("S3", "b")], "study_id code").assign(coder="")
    outcomes = _frame(
        [
            ("S1", "reoffending", "benefit"),
            ("S2", "reoffending", "harm"),
            ("S3", "wellbeing", "benefit"),
        ],
        "study_id outcome direction",
    )
    gaps = gap_map(codes, outcomes, codebook).set_index(["theme", "outcome"])
    cols = ["n_studies", "n_benefit", "n_harm", "study_ids"]
    assert gaps.loc[("a", "reoffending"), cols].tolist() == [2, 1, 1, "S1;S2"]
    assert gaps.loc[("a.one", "reoffending"), cols].tolist() == [1, 1, 0, "S1"]
    # S3 (theme b) reports only wellbeing: theme b has no re-offending study, theme a no
    # wellbeing study. These are the gaps.
    assert gaps.loc[("b", "reoffending"), cols].tolist() == [0, 0, 0, ""]
    assert gaps.loc[("a", "wellbeing"), cols].tolist() == [0, 0, 0, ""]
    assert gaps.loc[("b", "wellbeing"), cols].tolist() == [1, 1, 0, "S3"]
