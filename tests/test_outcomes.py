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


# --- Who votes: designs marked votes: false (issue 12) ------------------------------------------


def _voting_review():
    """Outcome x: trials A1-A5 benefit, A6 harm; qualitative Q1-Q3 and review R1 harm.
    Outcome y: only Q1 (benefit). Qualitative studies and reviews do not vote.

    Voting studies on x: 5 benefit, 1 harm -> exact two-sided sign test
    p = 2 * P(X <= 1 | n = 6, 1/2) = 2 * (1 + 6) / 64 = 0.21875 (all ten would give 5 vs 5,
    p = 1). k = 6, pct_benefit = 5 / 6; left out: 4, designs qualitative;review.
    """
    import pandas as pd

    from evsynth.codebook import Codebook, Design, Outcome

    designs = {
        "rct": Design("rct", "Randomised controlled trial", True, True),
        "qualitative": Design("qualitative", "Qualitative study", False, False),
        "review": Design("review", "Systematic review", False, False),
    }
    codebook = Codebook(
        review="votes",
        vocabularies={"design": {c: d.label for c, d in designs.items()}},
        fields={},
        themes=(),
        outcomes={"x": Outcome("x", "Outcome x", "decrease"), "y": Outcome("y", "Y", "increase")},
        designs=designs,
    )
    trials = [f"A{i}" for i in range(1, 7)]
    others = ["Q1", "Q2", "Q3", "R1"]
    studies = pd.DataFrame(
        {
            "study_id": trials + others,
            "design": ["rct"] * 6 + ["qualitative"] * 3 + ["review"],
            "quality": ["high", "high", "low", "low", "low", "low", "high", "low", "low", "low"],
        }
    )
    outcomes = pd.DataFrame(
        {
            "study_id": trials + others + ["Q1"],
            "outcome": ["x"] * 10 + ["y"],
            "direction": ["benefit"] * 5 + ["harm"] + ["harm"] * 4 + ["benefit"],
        }
    )
    return codebook, studies, outcomes


def test_designs_that_do_not_vote_are_left_out_of_the_count_and_the_sign_test():
    from evsynth.outcomes import LEFT_OUT_COLUMNS, split_votes

    codebook, studies, outcomes = _voting_review()
    votes, left_out = split_votes(per_study_directions(outcomes), studies, codebook)
    table = direction_summary(outcomes, codebook, per_study=votes, left_out=left_out)
    assert list(table.columns[-3:]) == LEFT_OUT_COLUMNS
    x = table.set_index("outcome").loc["x"]
    assert (x["k"], x["n_benefit"], x["n_harm"]) == (6, 5, 1)
    assert x["sign_test_p"] == pytest.approx(0.21875)
    assert x["pct_benefit"] == pytest.approx(500 / 6)
    assert x["study_ids"] == "A1;A2;A3;A4;A5;A6"
    assert x["excluded_not_voting"] == 4
    assert x["excluded_designs"] == "qualitative;review"
    assert x["excluded_study_ids"] == "Q1;Q2;Q3;R1"
    # An outcome only non-voting studies report is listed, with nothing counted.
    y = table.set_index("outcome").loc["y"]
    assert (y["k"], y["n_benefit"], y["sign_test_p"]) == (0, 0, 1.0)
    assert math.isnan(y["pct_benefit"]) and y["study_ids"] == ""
    assert (y["excluded_not_voting"], y["excluded_study_ids"]) == (1, "Q1")


def test_direction_by_quality_leaves_out_the_same_studies():
    from evsynth.outcomes import split_votes

    codebook, studies, outcomes = _voting_review()
    votes, left_out = split_votes(per_study_directions(outcomes), studies, codebook)
    with_quality = outcomes.merge(studies[["study_id", "quality"]], on="study_id")
    table = direction_summary(with_quality, codebook, "quality", votes, left_out)
    x = table[table["outcome"] == "x"].set_index("quality")
    # high: A1, A2 vote; Q1 left out. low: A3-A6 vote (3 benefit, 1 harm); Q2, Q3, R1 left out.
    assert (x.loc["high", "k"], x.loc["high", "excluded_study_ids"]) == (2, "Q1")
    assert (x.loc["low", "n_benefit"], x.loc["low", "n_harm"]) == (3, 1)
    assert x.loc["low", "excluded_designs"] == "qualitative;review"
    assert x.loc["low", "sign_test_p"] == pytest.approx(0.625)  # 2 * (1 + 4) / 16


def test_a_codebook_that_marks_no_design_keeps_the_old_table():
    from dataclasses import replace

    from evsynth.outcomes import DIRECTION_COLUMNS, split_votes

    codebook, studies, outcomes = _voting_review()
    designs = {c: replace(d, votes=True) for c, d in codebook.designs.items()}
    codebook = replace(codebook, designs=designs)
    per_study = per_study_directions(outcomes)
    votes, left_out = split_votes(per_study, studies, codebook)
    assert left_out is None and votes is per_study
    table = direction_summary(outcomes, codebook, per_study=votes, left_out=left_out)
    assert list(table.columns) == DIRECTION_COLUMNS
    assert table.set_index("outcome").loc["x", "sign_test_p"] == pytest.approx(1.0)  # 5 vs 5
