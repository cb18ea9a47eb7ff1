"""Subgroup analyses (issue 14, item 2): pooling within subgroups with their own tau², the
test for subgroup differences, direction counts per subgroup, the stage's files.

Published values: the BCG vaccine trials (metafor's dat.bcg) by allocation. metafor's
rendered reference page for ``rma.uni`` (wviechtb/metafor, docs/reference/rma.uni.html,
commit 71ae8f5ac9be, the example "subgrouping versus using a single model with a factor",
lines 814-870 of its text) prints ``rma(yi, vi, data=dat, subset=(alloc=="alternate"))`` and
the same for "random" and "systematic": REML, each subgroup with its own tau².
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evsynth.codebook import load_codebook
from evsynth.handoff import read_typed, write_typed
from evsynth.subgroups import (
    NOT_RECORDED,
    SubgroupPaths,
    difference_test,
    run_subgroups,
    subgroup_analysis,
    subgroup_directions,
    subgroup_partials,
    subgroups_sentence,
)
from evsynth.tables import read_results

# dat.bcg (Colditz et al. 1994, JAMA 271:698-702): tpos, tneg, cpos, cneg and alloc per trial.
BCG = [
    (4, 119, 11, 128, "random"),
    (6, 300, 29, 274, "random"),
    (3, 228, 11, 209, "random"),
    (62, 13536, 248, 12619, "random"),
    (33, 5036, 47, 5761, "alternate"),
    (180, 1361, 372, 1079, "alternate"),
    (8, 2537, 10, 619, "random"),
    (505, 87886, 499, 87892, "random"),
    (29, 7470, 45, 7232, "random"),
    (17, 1699, 65, 1600, "systematic"),
    (186, 50448, 141, 27197, "systematic"),
    (5, 2493, 3, 2338, "systematic"),
    (27, 16886, 29, 17825, "systematic"),
]

# metafor docs/reference/rma.uni.html (see the module docstring): per subgroup k, tau^2,
# estimate, se, ci.lb, ci.ub as printed (log risk ratio).
PUBLISHED = {
    "alternate": (2, 0.1326, -0.5408, 0.2816, -1.0927, 0.0111),
    "random": (7, 0.3925, -0.9710, 0.2760, -1.5118, -0.4301),
    "systematic": (4, 0.4003, -0.4242, 0.3597, -1.1293, 0.2809),
}

CODEBOOK = """\
review: bcg
vocabularies:
  design:
    controlled_trial: Controlled trial
  intervention_type:
    bcg_vaccine: BCG vaccination
fields:
  alloc:
    label: Allocation
    type: category
    multi: false
    required: false
    values:
      random: Random
      alternate: Alternate
      systematic: Systematic
  setting:
    label: Setting
    type: category
    multi: true
    required: false
    values: {urban: Urban, rural: Rural}
  notes:
    label: Notes
    type: text
themes:
  - code: bcg
    label: BCG vaccination
outcomes:
  tb:
    label: Tuberculosis
    benefit: decrease
"""


def bcg_tables(alloc: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """dat.bcg as the typed clean tables: one RR per trial with a 95% CI from which the
    pipeline recovers escalc's log RR and its variance exactly."""
    counts = np.array([row[:4] for row in BCG], dtype=float)
    a, b, c, d = counts.T
    yi = np.log((a / (a + b)) / (c / (c + d)))
    vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    half = 1.959963984540054 * np.sqrt(vi)
    ids = [f"BCG{i + 1:02d}" for i in range(len(BCG))]
    outcomes = pd.DataFrame(
        {
            "study_id": ids,
            "outcome": "tb",
            "direction": np.where(yi + half < 0, "benefit", "no_effect"),
            "effect_measure": "rr",
            "estimate": np.exp(yi),
            "ci_lower": np.exp(yi - half),
            "ci_upper": np.exp(yi + half),
            "n": (a + b + c + d).astype(int),
        }
    )
    studies = pd.DataFrame(
        {
            "study_id": ids,
            "design": "controlled_trial",
            "quality": "not_appraised",
            "source_type": "academic",
            "intervention_type": "bcg_vaccine",
            "alloc": alloc or [row[4] for row in BCG],
            "setting": "",
            "notes": "",
        }
    )
    return outcomes, studies


@pytest.fixture
def codebook(tmp_path: Path):
    path = tmp_path / "codebook.yaml"
    path.write_text(CODEBOOK, "utf-8")
    return load_codebook(path)


def by_value(table: pd.DataFrame, field: str = "alloc") -> dict[str, pd.Series]:
    return {r["value"]: r for _, r in table[table["field"] == field].iterrows()}


def test_subgroups_of_bcg_by_allocation_match_metafor(codebook) -> None:
    outcomes, studies = bcg_tables()
    table = subgroup_analysis(outcomes, studies, codebook, ["alloc"])
    rows = by_value(table)
    assert list(rows) == ["random", "alternate", "systematic"]  # the codebook's order
    for value, (k, tau2, est, se, lo, hi) in PUBLISHED.items():
        r = rows[value]
        assert r["k"] == k
        assert r["tau2"] == pytest.approx(tau2, abs=5e-5)
        assert math.log(r["estimate"]) == pytest.approx(est, abs=5e-5)  # ratio scale
        assert r["se"] == pytest.approx(se, abs=5e-5)
        assert math.log(r["ci_lower"]) == pytest.approx(lo, abs=5e-5)
        assert math.log(r["ci_upper"]) == pytest.approx(hi, abs=5e-5)
        assert r["method"] == "REML"
        assert r["scale"] == "ratio"
    assert rows["alternate"]["study_ids"] == "BCG05;BCG06"


def test_test_for_subgroup_differences_is_q_on_the_subgroup_estimates(codebook) -> None:
    # Q = sum w_j (mu_j - mu_w)^2, w_j = 1/se_j^2, over the three published subgroup estimates
    # and SEs above (Borenstein et al. 2009, Introduction to Meta-Analysis, ch. 19, eq. 19.2
    # with separate tau^2; Cochrane Handbook 10.11.3.1). By hand from the printed values:
    # w = 12.610, 13.128, 7.729; mu_w = -0.68714; Q = 1.8615 on 2 df, p = 0.3943. It is not
    # metafor's moderator test of rma(yi, vi, mods = ~ factor(alloc)) printed on the same
    # page (QM(df = 2) = 1.7675, p-val = 0.4132), which assumes one common tau^2.
    outcomes, studies = bcg_tables()
    table = subgroup_analysis(outcomes, studies, codebook, ["alloc"])
    assert table["q_between"].nunique() == 1  # the same test on every row of the field
    row = table.iloc[0]
    assert row["q_between"] == pytest.approx(1.8615, abs=2e-3)  # published inputs are rounded
    assert row["df_between"] == 2
    assert row["p_between"] == pytest.approx(0.3943, abs=1e-3)
    assert row["q_between"] != pytest.approx(1.7675, abs=1e-2)
    assert difference_test([-0.5408, -0.9710, -0.4242], [0.2816, 0.2760, 0.3597])[0] == (
        pytest.approx(1.8615, abs=1e-4)
    )


def test_difference_test_of_two_subgroups_is_the_z_test_squared() -> None:
    # Two subgroups: Q between equals ((m1 - m2) / sqrt(se1^2 + se2^2))^2, the Wald-type test
    # of metafor's "Comparing Estimates of Independent Meta-Analyses or Subgroups" page.
    q, df, p = difference_test([0.5, -0.1], [0.2, 0.3])
    z = 0.6 / math.sqrt(0.2**2 + 0.3**2)
    assert q == pytest.approx(z * z, rel=1e-12)
    assert df == 1
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert math.isnan(difference_test([0.5], [0.2])[0])


def test_dl_estimator_is_used_within_each_subgroup(codebook) -> None:
    # The config's estimator: DL within "alternate" (k = 2) gives the REML tau^2 again
    # (both 0.1326 as printed above, since with two studies the two estimators agree there),
    # while DL within "random" differs from REML's 0.3925.
    outcomes, studies = bcg_tables()
    rows = by_value(subgroup_analysis(outcomes, studies, codebook, ["alloc"], method="DL"))
    assert rows["alternate"]["tau2"] == pytest.approx(0.1326, abs=5e-5)
    assert rows["random"]["method"] == "DL"
    assert rows["random"]["tau2"] != pytest.approx(0.3925, abs=1e-3)


def test_one_value_gets_its_row_and_no_test(codebook) -> None:
    outcomes, studies = bcg_tables(alloc=["random"] * len(BCG))
    table = subgroup_analysis(outcomes, studies, codebook, ["alloc"])
    assert len(table) == 1
    row = table.iloc[0]
    assert row["k"] == 13
    assert pd.isna(row["q_between"]) and pd.isna(row["df_between"]) and pd.isna(row["p_between"])
    assert "no test: one subgroup" in row["note"]


def test_one_study_subgroup_carries_its_own_estimate(codebook) -> None:
    alloc = ["random"] * len(BCG)
    alloc[4] = "alternate"  # Frimodt-Moller et al 1973 alone
    outcomes, studies = bcg_tables(alloc)
    rows = by_value(subgroup_analysis(outcomes, studies, codebook, ["alloc"]))
    one = rows["alternate"]
    assert one["k"] == 1
    # escalc's yi for trial 5 is -0.2175 (metafor dat.bcg reference page, printed yi column)
    assert math.log(one["estimate"]) == pytest.approx(-0.2175, abs=5e-5)
    assert pd.isna(one["tau2"])
    assert "one study" in one["note"]
    assert one["df_between"] == 1  # it still takes part in the test, as in RevMan


def test_blank_cells_are_listed_but_not_tested(codebook) -> None:
    alloc = [row[4] for row in BCG]
    alloc[0] = ""
    outcomes, studies = bcg_tables(alloc)
    table = subgroup_analysis(outcomes, studies, codebook, ["alloc"])
    rows = by_value(table)
    assert rows[NOT_RECORDED]["study_ids"] == "BCG01"
    assert rows[NOT_RECORDED]["value_label"] == "Not recorded"
    assert "not in the test" in rows[NOT_RECORDED]["note"]
    assert rows["random"]["k"] == 6
    assert rows["random"]["df_between"] == 2


def test_multi_valued_study_counts_in_each_subgroup_and_stops_the_test(codebook) -> None:
    outcomes, studies = bcg_tables()
    studies["setting"] = ["urban;rural"] + ["urban"] * 6 + ["rural"] * 6
    table = subgroup_analysis(outcomes, studies, codebook, ["setting"])
    rows = by_value(table, "setting")
    assert rows["urban"]["k"] == 7 and rows["rural"]["k"] == 7
    assert "BCG01" in rows["urban"]["study_ids"] and "BCG01" in rows["rural"]["study_ids"]
    assert table["q_between"].isna().all()
    assert "share studies (BCG01)" in rows["urban"]["note"]


def test_a_field_the_codebook_lacks_is_skipped_with_a_note(codebook, caplog) -> None:
    outcomes, studies = bcg_tables()
    with caplog.at_level("WARNING"):
        table = subgroup_analysis(outcomes, studies, codebook, ["delivery_org", "notes", "alloc"])
    notes = table[table["outcome"].isna()].set_index("field")["note"]
    assert "has no field 'delivery_org'" in notes["delivery_org"]
    assert "not a category field" in notes["notes"]
    assert len(table[table["field"] == "alloc"]) == 3  # the other field is still analysed
    assert "delivery_org skipped" in caplog.text


def test_core_fields_form_subgroups(codebook) -> None:
    outcomes, studies = bcg_tables()
    studies.loc[:5, "quality"] = "high"
    rows = by_value(subgroup_analysis(outcomes, studies, codebook, ["quality"]), "quality")
    assert list(rows) == ["high", "not_appraised"]
    assert rows["high"]["value_label"] == "High"


def test_direction_counts_and_sign_test_per_subgroup(codebook) -> None:
    outcomes, studies = bcg_tables()
    table = subgroup_directions(outcomes, studies, codebook, ["alloc", "delivery_org"])
    rows = by_value(table)
    assert set(table["field"]) == {"alloc"}
    random = rows["random"]
    # each trial's direction is set above from its 95% CI (benefit where it lies below 1)
    votes = outcomes[outcomes["study_id"].isin(random["study_ids"].split(";"))]
    n_benefit = int((votes["direction"] == "benefit").sum())
    assert random["k"] == 7
    assert random["n_benefit"] == n_benefit
    assert random["n_harm"] == 0
    # exact two-sided sign test with no harm votes: 2 * 0.5 ** n_benefit
    assert random["sign_test_p"] == pytest.approx(min(1.0, 2 * 0.5**n_benefit))


def test_run_subgroups_writes_its_tables_and_figure(tmp_path: Path) -> None:
    (tmp_path / "codebook.yaml").write_text(CODEBOOK, "utf-8")
    outcomes, studies = bcg_tables()
    number = {"estimate": "number", "ci_lower": "number", "ci_upper": "number", "n": "integer"}
    write_typed(outcomes.astype({c: str for c in number}), tmp_path / "o.parquet", number)
    write_typed(studies, tmp_path / "s.parquet", {})
    out = SubgroupPaths(
        subgroups=tmp_path / "out/subgroups.csv",
        direction=tmp_path / "out/subgroups_direction.csv",
        figure=tmp_path / "fig/subgroups_forest",
    )
    run_subgroups(
        tmp_path / "s.parquet",
        tmp_path / "o.parquet",
        tmp_path / "codebook.yaml",
        ["alloc", "missing_field"],
        "REML",
        False,
        out,
    )
    table = read_results(out.subgroups, "outcomes/subgroups")
    assert read_typed(tmp_path / "o.parquet")["estimate"].dtype == float
    rows = by_value(table)
    assert math.log(rows["random"]["estimate"]) == pytest.approx(-0.9710, abs=5e-5)
    assert table["q_between"].dropna().iloc[0] == pytest.approx(1.8615, abs=2e-3)
    assert "missing_field" in set(table["field"])
    direction = read_results(out.direction, "outcomes/subgroups_direction")
    assert set(direction["value"]) == {"random", "alternate", "systematic"}
    assert (tmp_path / "fig/subgroups_forest.png").stat().st_size > 0
    assert (tmp_path / "fig/subgroups_forest.svg").stat().st_size > 0


def test_report_partials_show_the_table_the_test_and_one_plain_sentence(codebook) -> None:
    outcomes, studies = bcg_tables()
    studies["alloc"] = ["random"] * 9 + ["systematic"] * 4
    # A label from the codebook is data: it reaches the Markdown escaped.
    codebook.fields["alloc"].values["random"] = "<b>Random</b> *alloc*"
    table = subgroup_analysis(outcomes, studies, codebook, ["alloc"])
    parts = subgroup_partials(table)
    section, sentence = parts["subgroups.md"], parts["subgroups-sentence.md"]
    text, alt = section.split('fig-alt="')
    assert "<b>" not in text and "\\<b\\>Random" in text and "\\*alloc\\*" in text
    assert "<b>Random</b> *alloc*: 0." in alt  # an attribute: Pandoc writes it escaped
    q, p = table.iloc[0]["q_between"], table.iloc[0]["p_between"]
    assert f"Q = {q:.2f}, df = 1, p = {p:.3f}" in section
    assert (
        "figures/subgroups_forest.svg" in section and "test for subgroup differences Q" in section
    )
    assert sentence.count("\n") == 1 and "Pooled separately by allocation" in sentence
    assert ("is clear" if p < 0.05 else "is not clear") in sentence
    assert f"p = {p:.3f}" in sentence


def test_sentence_says_clear_only_below_five_percent(codebook) -> None:
    outcomes, studies = bcg_tables()
    table = subgroup_analysis(outcomes, studies, codebook, ["alloc"])  # p = 0.394
    assert "is not clear" in subgroups_sentence(table)
    table["p_between"] = 0.01
    assert "the difference between them is clear" in subgroups_sentence(table)


def test_nothing_in_the_report_without_a_subgroup_field(codebook) -> None:
    outcomes, studies = bcg_tables()
    assert subgroup_partials(subgroup_analysis(outcomes, studies, codebook, [])) == {
        "subgroups.md": "",
        "subgroups-sentence.md": "",
    }
    skipped = subgroup_analysis(outcomes, studies, codebook, ["delivery_org"])
    assert subgroup_partials(skipped)["subgroups.md"] == ""
