"""Thematic tallies on the tiny review, against counts made by hand.

Codes in tests/data/tiny/sheets/codes.csv (5 studies):
  T1: a.one, a.two      T2: a.one, b      T3: b
  T4: a.two (coder_a and coder_b), b (coder_b only)      T5: a (the parent itself)
Rolled up: a = {T1, T2, T4, T5} (T1 once, although it has two children), a.one = {T1, T2},
a.two = {T1, T4}, b = {T2, T3, T4}.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evsynth.tally import (
    _agreement_row,
    agreement_table,
    codes_forward,
    cooccurrence,
    disagreements_table,
    study_category_fields,
    theme_crosstab,
    theme_incidence,
    theme_tally,
)


def test_theme_tally_rolls_up_the_tree_and_counts_each_study_once(tiny_clean):
    result, codebook = tiny_clean
    themes = theme_tally(result.clean["studies"], result.clean["codes"], codebook)
    got = themes.set_index("code")
    assert list(themes["code"]) == ["a", "a.one", "a.two", "b"]  # codebook tree order
    assert got.loc["a", "n_studies"] == 4
    assert got.loc["a", "study_ids"] == "T1;T2;T4;T5"
    assert got.loc["a", "pct_studies"] == 80.0
    assert got.loc["a.one", "n_studies"] == 2 and got.loc["a.one", "study_ids"] == "T1;T2"
    assert got.loc["a.two", "study_ids"] == "T1;T4"
    assert got.loc["b", "study_ids"] == "T2;T3;T4"
    assert got.loc["a.one", "parent"] == "a" and got.loc["a.one", "level"] == 2
    assert got.loc["a", "parent"] == "" and got.loc["a", "level"] == 1


def test_a_theme_no_study_has_is_listed_with_zero(tiny_clean):
    result, codebook = tiny_clean
    codes = result.clean["codes"][result.clean["codes"]["code"] != "b"]
    got = theme_tally(result.clean["studies"], codes, codebook).set_index("code")
    assert got.loc["b", "n_studies"] == 0 and got.loc["b", "study_ids"] == ""


def test_consensus_keeps_only_codes_every_coder_applied(tiny_clean):
    result, codebook = tiny_clean
    codes = codes_forward(result.clean["codes"], "consensus")
    got = theme_tally(result.clean["studies"], codes, codebook).set_index("code")
    assert got.loc["b", "study_ids"] == "T2;T3"  # T4's b was coder_b's alone
    assert got.loc["a.two", "study_ids"] == "T1;T4"  # both coders gave T4 a.two


def test_first_coder_takes_one_coding_per_study(tiny_clean):
    result, codebook = tiny_clean
    codes = codes_forward(result.clean["codes"], "first_coder")
    assert set(codes.loc[codes["study_id"] == "T4", "code"]) == {"a.two"}
    with pytest.raises(ValueError, match="unknown agreement.forward"):
        codes_forward(result.clean["codes"], "majority")


def test_crosstab_counts_studies_per_field_value(tiny_clean):
    result, codebook = tiny_clean
    fields = study_category_fields(codebook)
    assert set(fields) == {"source_type", "design", "quality", "intervention_type", "setting"}
    table = theme_crosstab(
        result.clean["studies"],
        result.clean["codes"],
        codebook,
        "source_type",
        fields["source_type"],
    ).set_index("code")
    # a = T1, T2, T4 (academic) + T5 (grey); b = T2, T4 (academic) + T3 (grey)
    assert table.loc["a", "academic"] == 3 and table.loc["a", "grey"] == 1
    assert table.loc["b", "academic"] == 2 and table.loc["b", "grey"] == 1


def test_crosstab_of_a_multi_valued_field_counts_each_value(tiny_clean):
    result, codebook = tiny_clean
    fields = study_category_fields(codebook)
    table = theme_crosstab(
        result.clean["studies"],
        result.clean["codes"],
        codebook,
        "intervention_type",
        fields["intervention_type"],
    ).set_index("code")
    # a.two = T1 (group), T4 (group;individual); blanks are "not_recorded"
    assert table.loc["a.two", "group"] == 2 and table.loc["a.two", "individual"] == 1
    assert table.loc["a", "not_recorded"] == 2  # T2 and T5 have no intervention type


def test_cooccurrence_is_symmetric_with_theme_totals_on_the_diagonal(tiny_clean):
    result, codebook = tiny_clean
    matrix = cooccurrence(result.clean["codes"], codebook).set_index("code")
    assert matrix.loc["a", "a"] == 4 and matrix.loc["b", "b"] == 3
    assert matrix.loc["a", "b"] == matrix.loc["b", "a"] == 2  # T2 and T4
    assert matrix.loc["a.one", "a.two"] == 1  # T1 only
    assert (matrix.to_numpy() == matrix.to_numpy().T).all()


def test_agreement_on_the_double_coded_study(tiny_clean):
    result, codebook = tiny_clean
    table = agreement_table(result.clean["codes"], codebook).set_index("code")
    # Only T4 has two coders: both gave a.two; only coder_b gave b.
    assert table.loc["a.two", "n_double_coded"] == 1
    assert table.loc["a.two", "pct_agreement"] == 100.0
    assert table.loc["b", "pct_agreement"] == 0.0
    assert table.loc["(all codes)", "n_agree"] == 1
    assert math.isnan(table.loc["a.two", "kappa"])  # one study: chance agreement is 1
    disagreements = disagreements_table(result.clean["codes"], codebook)
    assert disagreements.to_dict("records") == [
        {
            "study_id": "T4",
            "code": "b",
            "label": "Theme B",
            "applied_by": "coder_b",
            "not_applied_by": "coder_a",
        }
    ]


def test_agreement_kappa_over_several_studies(tiny_clean):
    _, codebook = tiny_clean
    # Two coders, four studies, code b: coder_a yes on S1,S2; coder_b yes on S1,S3.
    # Agreement: S1 (yes/yes), S4 (no/no) = 2 of 4 = 50%; p_e = 0.5*0.5 + 0.5*0.5 = 0.5,
    # kappa = (0.5 - 0.5) / (1 - 0.5) = 0.
    rows = []
    for study in ("S1", "S2", "S3", "S4"):
        for coder in ("coder_a", "coder_b"):
            rows.append({"study_id": study, "code": "a", "coder": coder})
    rows += [
        {"study_id": "S1", "code": "b", "coder": "coder_a"},
        {"study_id": "S2", "code": "b", "coder": "coder_a"},
        {"study_id": "S1", "code": "b", "coder": "coder_b"},
        {"study_id": "S3", "code": "b", "coder": "coder_b"},
    ]
    table = agreement_table(pd.DataFrame(rows), codebook).set_index("code")
    assert table.loc["b", "n_double_coded"] == 4
    assert table.loc["b", "pct_agreement"] == 50.0
    assert table.loc["b", "kappa"] == pytest.approx(0.0)


# --- The matrix-based tallies against plain pandas, on a synthetic review ---------------------


@pytest.fixture(scope="session")  # kept to the end: xdist may run other modules in between
def synthetic(tmp_path_factory: pytest.TempPathFactory):
    """A small synthetic review (a third double-coded) with a third coder and a blank coder
    added to some studies: (studies, codes, codebook)."""
    from synthetic import write_synthetic_review

    from evsynth.codebook import load_codebook
    from evsynth.tables import read_clean

    paths = write_synthetic_review(tmp_path_factory.mktemp("synthetic"), 300, double_coded=0.3)
    codes = read_clean(paths["codes"])
    extra = codes.iloc[::7].assign(coder="coder_c")  # a third coder: not one of the two compared
    blank = codes.iloc[3::11].assign(coder="")
    codes = pd.concat([codes, extra, blank], ignore_index=True)
    return read_clean(paths["studies"]), codes, load_codebook(paths["codebook"])


def _reference_pairs(codes: pd.DataFrame, codebook) -> pd.DataFrame:
    pairs = codes[["study_id", "code"]].drop_duplicates()
    rolled = pairs.assign(code=pairs["code"].map(codebook.lineage)).explode("code")
    return rolled.drop_duplicates().sort_values(["code", "study_id"]).reset_index(drop=True)


@pytest.mark.parametrize("rule", ["union", "consensus", "first_coder"])
def test_tallies_match_a_plain_pandas_roll_up(synthetic, rule):
    studies, codes, codebook = synthetic
    codes = codes_forward(codes, rule)
    pairs = _reference_pairs(codes, codebook)
    inc = theme_incidence(codes, codebook)  # what the tallies and the gap map count from
    got = {
        (inc.study_ids[i], theme) for j, theme in enumerate(inc.themes) for i in inc.studies_of(j)
    }
    assert got == set(zip(pairs["study_id"], pairs["code"], strict=True))

    themes = theme_tally(studies, codes, codebook).set_index("code")
    order = [t.code for t in codebook.themes]
    members = {c: sorted(g["study_id"]) for c, g in pairs.groupby("code")}
    for code in order:
        ids = members.get(code, [])
        assert themes.loc[code, "n_studies"] == len(ids)
        assert themes.loc[code, "study_ids"] == ";".join(ids)

    both = pairs.merge(pairs, on="study_id").groupby(["code_x", "code_y"]).size()
    matrix = cooccurrence(codes, codebook)
    assert list(matrix.columns) == ["code", *order] and list(matrix["code"]) == order
    for a, row in matrix.set_index("code").iterrows():
        assert row.to_dict() == {b: int(both.get((a, b), 0)) for b in order}


@pytest.mark.parametrize("field", ["intervention_type", "setting", "country_free"])
def test_crosstab_matches_a_plain_pandas_count(synthetic, field):
    studies, codes, codebook = synthetic
    studies = studies.copy()
    # blanks, a repeated value and a value outside the vocabulary
    studies.loc[studies.index[::5], "intervention_type"] = ""
    studies.loc[studies.index[1], "intervention_type"] = "group;group"
    studies.loc[studies.index[2], "intervention_type"] = "group;unknown"
    values = study_category_fields(codebook).get(field, {"England": "England", "USA": "USA"})
    column = "country" if field == "country_free" else field
    table = theme_crosstab(studies, codes, codebook, column, values)
    per_study = (
        studies[["study_id", column]]
        .assign(**{column: studies[column].str.split(";")})
        .explode(column)
    )
    per_study[column] = per_study[column].replace("", "not_recorded")
    counts = _reference_pairs(codes, codebook).merge(per_study, on="study_id")
    counts = counts.groupby(["code", column]).size()
    present = set(counts.index.get_level_values(column))
    expected = list(values) + (["not_recorded"] if "not_recorded" in present else [])
    assert list(table.columns) == ["code", "label", *expected]
    for code, row in table.set_index("code").iterrows():
        assert row.drop("label").to_dict() == {v: int(counts.get((code, v), 0)) for v in expected}


def percent_agreement(a: list[bool], b: list[bool]) -> float:
    """p_o of Cohen (1960) as a percent, from the decision lists."""
    return 100.0 * sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else math.nan


def cohen_kappa(a: list[bool], b: list[bool]) -> float:
    """Cohen's (1960) kappa written out from the decision lists, as the reference."""
    n = len(a)
    if n == 0:
        return math.nan
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / n
    p_e = sum((a.count(v) / n) * (b.count(v) / n) for v in (True, False))
    return math.nan if p_e >= 1.0 - 1e-12 else (p_o - p_e) / (1.0 - p_e)


def test_agreement_matches_stats_on_the_decision_lists(synthetic):
    _, codes, codebook = synthetic
    named = codes[codes["coder"] != ""]
    pair = named.groupby("study_id")["coder"].agg(lambda s: sorted(set(s))[:2])
    pair = pair[pair.map(len) == 2]
    studies = sorted(pair.index)
    table = agreement_table(codes, codebook).set_index("code")
    pooled_a, pooled_b, differ = [], [], []
    coded = [t.code for t in codebook.themes if t.code in set(named["code"])]
    for code in coded:
        given = {(r.study_id, r.coder) for r in named[named["code"] == code].itertuples()}
        a = [(s, pair[s][0]) in given for s in studies]
        b = [(s, pair[s][1]) in given for s in studies]
        pooled_a += a
        pooled_b += b
        differ += [
            (s, code, pair[s][0] if x else pair[s][1])
            for s, x, y in zip(studies, a, b, strict=True)
            if x != y
        ]
        assert table.loc[code, "n_double_coded"] == len(studies)
        assert table.loc[code, "pct_agreement"] == round(percent_agreement(a, b), 1)
        assert table.loc[code, "kappa"] == pytest.approx(cohen_kappa(a, b), rel=1e-12, nan_ok=True)
    assert table.loc["(all codes)", "kappa"] == pytest.approx(
        cohen_kappa(pooled_a, pooled_b), rel=1e-12
    )
    assert table.loc["(all codes)", "n_double_coded"] == len(pooled_a)
    compared = sorted({c for p in pair for c in p})
    assert table.loc["(all codes)", "coders"] == ";".join(compared)
    assert "coder_c" in compared  # where coder_c is one of a study's first two coders
    got = disagreements_table(codes, codebook)
    assert list(zip(got["study_id"], got["code"], got["applied_by"], strict=True)) == sorted(differ)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60))
def test_agreement_row_is_the_stats_arithmetic(decisions):
    a = [x for x, _ in decisions]
    b = [y for _, y in decisions]
    row = _agreement_row(
        "c", "C", ["x", "y"], len(a), sum(x == y for x, y in decisions), sum(a), sum(b)
    )
    kappa, pct = cohen_kappa(a, b), percent_agreement(a, b)
    assert row["kappa"] == pytest.approx(kappa, rel=1e-12, abs=1e-12, nan_ok=True)
    assert row["pct_agreement"] == round(pct, 1) or (
        math.isnan(pct) and math.isnan(row["pct_agreement"])
    )


# --- Rules the mutation check (tools/mutate.py) found unpinned --------------------------------


def test_theme_percentages_are_of_all_included_studies(tiny_clean):
    result, codebook = tiny_clean
    codes = result.clean["codes"]
    codes = codes[codes["study_id"] != "T3"]  # T3 (coded b only) is included but uncoded now
    got = theme_tally(result.clean["studies"], codes, codebook).set_index("code")
    # 5 included studies: b is T2 and T4, 2 of 5 = 40% (not 2 of the 4 coded, 50%)
    assert got.loc["b", "pct_studies"] == 40.0
    assert got.loc["a", "pct_studies"] == 80.0  # T1, T2, T4, T5


def test_agreement_table_reproduces_a_two_by_two_kappa(tiny_clean):
    _, codebook = tiny_clean
    # 50 studies, both coders code all of them with a; with b: both 20, only coder_a 5, only
    # coder_b 10, neither 15 (the worked example of the Wikipedia article "Cohen's kappa"):
    # agreement 35/50 = 70%, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.2 / 0.5 = 0.4.
    b_by = {"coder_a": range(0, 25), "coder_b": [*range(0, 20), *range(25, 35)]}
    rows = [
        {"study_id": f"S{i:02d}", "code": "a", "coder": c}
        for i in range(50)
        for c in ("coder_a", "coder_b")
    ]
    rows += [
        {"study_id": f"S{i:02d}", "code": "b", "coder": c} for c, ids in b_by.items() for i in ids
    ]
    table = agreement_table(pd.DataFrame(rows), codebook).set_index("code")
    assert table.loc["b", "n_double_coded"] == 50 and table.loc["b", "n_agree"] == 35
    assert table.loc["b", "pct_agreement"] == 70.0
    assert table.loc["b", "kappa"] == pytest.approx(0.4)
    assert table.loc["a", "pct_agreement"] == 100.0 and math.isnan(table.loc["a", "kappa"])
