"""The tallies', gap map's and subgroups' integer-code and Arrow paths give exactly what the
pandas code they replaced gave (kept here as the reference), on random hostile tables:
unicode and blank IDs, nulls, codes the codebook does not know, repeated rows, multi-valued
cells with blank and padded parts, and ties between directions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from evsynth import outcomes, subgroups, tally
from evsynth.codebook import Codebook, load_codebook
from evsynth.contract import MULTI_SEPARATOR

IDS = ["s1", "s10", "s2", "S2", "é1", "e1", "z", "Ā", "s 3", "", "ß", "a;b"]


@pytest.fixture(scope="module")
def codebook(tmp_path_factory: pytest.TempPathFactory) -> Codebook:
    path = tmp_path_factory.mktemp("codebook") / "codebook.yaml"
    path.write_text(
        """review: arrow
vocabularies:
  design: {rct: Randomised, qual: Qualitative}
  intervention_type: {group: Group, one: One to one}
themes:
  - code: a
    label: A
    children:
      - {code: a.x, label: AX}
      - code: a.y
        label: AY
        children:
          - {code: a.y.1, label: AY1}
  - {code: b, label: B}
  - {code: "1.10", label: Ten}
outcomes:
  o1: {label: First, benefit: increase}
  "2": {label: Second, benefit: decrease}
""",
        encoding="utf-8",
    )
    return load_codebook(path)


def _text(rng: np.random.Generator, choices: list[str], n: int, nulls: bool) -> pd.Series:
    values = pd.Series(rng.choice(choices, n), dtype="str")
    if nulls:
        values[rng.random(n) < 0.1] = None
    return values


def _codes(rng: np.random.Generator, n: int, nulls: bool = True) -> pd.DataFrame:
    known = ["a", "a.x", "a.y", "a.y.1", "b", "1.10", "1.1", "zz", ""]
    return pd.DataFrame(
        {
            "study_id": _text(rng, IDS, n, nulls),
            "code": _text(rng, known, n, nulls),
            "coder": _text(rng, ["ann", "bob", "cy", ""], n, False),
        }
    )


# --- the replaced code, verbatim but for names -------------------------------------------


def _reference_incidence(codes: pd.DataFrame, codebook: Codebook):
    order = [t.code for t in codebook.themes]
    theme = pd.Index(order).get_indexer(codes["code"])
    known = theme >= 0
    study, study_ids = pd.factorize(codes["study_id"][known], sort=True)
    theme = theme[known]
    if (study < 0).any():
        theme = theme[study >= 0]
        study = study[study >= 0]
    direct = sparse.csr_array(
        (np.ones(len(study)), (study, theme)), shape=(len(study_ids), len(order))
    )
    rolled = (direct @ tally._ancestor_matrix(codebook)).tocsr()
    return study_ids, rolled.toarray() > 0


def _reference_value_rows(ids: pd.Series, values: pd.Series) -> dict[str, list[str]]:
    given = values.fillna("").astype(str)
    if given.str.contains(MULTI_SEPARATOR, regex=False).any():
        exploded = given.str.split(MULTI_SEPARATOR).explode().str.strip()
        ids, given = ids.loc[exploded.index], exploded
    frame = pd.DataFrame({"study_id": ids.to_numpy(), "value": given.to_numpy()})
    frame["value"] = frame["value"].replace("", tally.NOT_RECORDED)
    members = frame.drop_duplicates().groupby("value")["study_id"].agg(sorted)
    return members.to_dict()


def _reference_directions(frame: pd.DataFrame) -> pd.DataFrame:
    counts = (
        frame.groupby(["outcome", "study_id", "direction"], sort=True).size().unstack(fill_value=0)
    )
    votes = counts.to_numpy()
    top = counts.columns.to_numpy()[votes.argmax(axis=1)]
    share = votes.max(axis=1) / votes.sum(axis=1)
    single = (votes > 0).sum(axis=1) == 1
    decided = single | (np.isin(top, ["benefit", "harm"]) & (share >= outcomes.AGREEMENT_SHARE))
    return counts.index.to_frame(index=False).assign(
        direction=np.where(decided, top, "mixed").astype(object)
    )


def _reference_gap_map(codes, votes, codebook) -> pd.DataFrame:
    inc = tally.theme_incidence(codes, codebook)
    names = inc.study_ids.to_numpy(dtype=object)
    position = inc.study_ids.get_indexer(votes["study_id"])
    direction_code = pd.Index(outcomes.DIRECTION_ORDER).get_indexer(votes["direction"])
    rows = []
    for outcome in codebook.outcomes:
        chosen = (votes["outcome"] == outcome).to_numpy() & (position >= 0)
        by_study = np.full(len(names), -1)
        by_study[position[chosen]] = direction_code[chosen]
        for j, theme in enumerate(codebook.themes):
            members = inc.studies_of(j)
            cast = by_study[members]
            voting = cast >= 0
            n = np.bincount(cast[voting], minlength=len(outcomes.DIRECTION_ORDER))
            rows.append(
                {
                    "theme": theme.code,
                    "outcome": outcome,
                    "n_studies": int(voting.sum()),
                    **{f"n_{d}": int(n[i]) for i, d in enumerate(outcomes.DIRECTION_ORDER)},
                    "study_ids": ";".join(names[members[voting]].tolist()),
                }
            )
    order = {t.code: i for i, t in enumerate(codebook.themes)}
    rows.sort(key=lambda r: order[r["theme"]])
    return pd.DataFrame(rows, columns=outcomes.GAP_MAP_COLUMNS)


def _reference_membership(studies: pd.DataFrame, field) -> pd.DataFrame:
    cells = studies.drop_duplicates("study_id")[["study_id", field.name]].astype(str)
    rows = [
        (study, value.strip())
        for study, cell in cells.itertuples(index=False)
        for value in (cell.split(";") if field.multi else [cell])
        if value.strip()
    ]
    pairs = pd.DataFrame(rows, columns=["study_id", "value"])
    blank = sorted(set(cells["study_id"]) - set(pairs["study_id"]))
    blanks = pd.DataFrame({"study_id": blank, "value": subgroups.NOT_RECORDED})
    return pd.concat([pairs, blanks], ignore_index=True).drop_duplicates()


# --- the tests -----------------------------------------------------------------------------

SEEDS = range(6)


@pytest.mark.parametrize("seed", SEEDS)
def test_factorize_text_is_pandas_sorted_factorize(seed: int) -> None:
    values = _text(np.random.default_rng(seed), IDS, 40, nulls=seed % 2 == 0)
    codes, uniques = tally.factorize_text(values)
    want_codes, want_uniques = pd.factorize(values, sort=True)
    assert codes.tolist() == want_codes.tolist()
    assert uniques.tolist() == want_uniques.tolist()


@pytest.mark.parametrize("seed", SEEDS)
def test_incidence_is_the_pandas_incidence(seed: int, codebook: Codebook) -> None:
    codes = _codes(np.random.default_rng(seed), 60, nulls=seed % 2 == 0)
    inc = tally.theme_incidence(codes, codebook)
    study_ids, dense = _reference_incidence(codes, codebook)
    assert inc.study_ids.tolist() == study_ids.tolist()
    assert (inc.matrix.toarray() > 0).tolist() == dense.tolist()
    themes = tally._theme_tally(len(IDS), inc, codebook)
    for j, row in themes.iterrows():
        members = sorted(np.asarray(study_ids, dtype=object)[dense[:, j]].tolist())
        assert row["study_ids"] == ";".join(members)
        assert row["n_studies"] == len(members)


@pytest.mark.parametrize("seed", SEEDS)
def test_characteristic_members_are_the_pandas_groups(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    ids = pd.Series(rng.choice(IDS, n), dtype="str")  # repeated IDs too
    cells = ["group", "one", "", "group;one", " one ; group ", "one;;", "group;group", "x y"]
    values = pd.Series(rng.choice(cells if seed % 2 else cells[:3], n), dtype="str")
    values[rng.random(n) < 0.1] = None
    got = tally._members_by_value(tally._StudyIds.of(ids), values)
    assert {k: v.tolist() for k, v in got.items()} == _reference_value_rows(ids, values)


@pytest.mark.parametrize("seed", SEEDS)
def test_directions_and_gap_map_are_the_pandas_ones(seed: int, codebook: Codebook) -> None:
    rng = np.random.default_rng(seed)
    n = 80
    rows = pd.DataFrame(
        {
            "outcome": _text(rng, ["o1", "2", "o1", "unknown"], n, False),
            "study_id": _text(rng, IDS[:6], n, False),  # few studies: several rows each
            "direction": _text(rng, [*outcomes.DIRECTION_ORDER, "benefit", "sideways"], n, False),
        }
    )
    # and shares on either side of the 70% rule: 7 of 10 benefit decides, 6 of 10 does not
    edge = pd.DataFrame(
        {
            "outcome": ["o1"] * 20,
            "study_id": ["edge7"] * 10 + ["edge6"] * 10,
            "direction": ["benefit"] * 7 + ["harm"] * 3 + ["benefit"] * 6 + ["harm"] * 4,
        },
        dtype="str",
    )
    rows = pd.concat([rows, edge], ignore_index=True)
    got = outcomes.per_study_directions(rows)
    pd.testing.assert_frame_equal(got, _reference_directions(rows))
    decided = got.set_index("study_id").loc[["edge7", "edge6"], "direction"].tolist()
    assert decided == ["benefit", "mixed"]
    codes = _codes(rng, 60)
    pd.testing.assert_frame_equal(
        outcomes.gap_map(codes, rows, codebook, got),
        _reference_gap_map(codes, got, codebook),
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_sorted_joins_and_membership_are_the_python_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ids = pd.Series(rng.choice(IDS, 25), dtype="str")
    assert outcomes.joined_sorted(ids) == ";".join(sorted(ids))
    assert outcomes.joined_sorted(ids.iloc[:0]) == ""
    studies = pd.DataFrame(
        {
            "study_id": pd.Series(rng.choice(IDS, 25), dtype="str"),
            "f": pd.Series(rng.choice(["a", "", "a; b", "b;a;a", " ; ", " c "], 25), dtype="str"),
        }
    )
    for multi in (True, False):
        field = subgroups.SubgroupField("f", "F", {"a": "A"}, multi)
        pd.testing.assert_frame_equal(
            subgroups.membership(studies, field), _reference_membership(studies, field)
        )
