"""The synthetic review generator: contract-valid, deterministic, the sizes asked for, and
tallies that match a count made here with plain Python over the CSV and the codebook."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import yaml
from synthetic import write_synthetic_review

from evsynth.codebook import load_codebook
from evsynth.outcomes import meta_analysis
from evsynth.tally import theme_tally
from evsynth.validate import validate_review

N = 200


@pytest.fixture(scope="session")  # kept to the end: xdist may run other modules in between
def review(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_synthetic_review(tmp_path_factory.mktemp("synthetic"), N, seed=7)


@pytest.fixture(scope="session")  # kept to the end: xdist may run other modules in between
def validated(review):
    return validate_review(review["sheets"], review["codebook"])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_file_validates_with_no_findings(review, validated):
    assert validated.summary["passed"]
    assert [f.one_line() for f in validated.findings] == []
    for sheet in ("studies", "codes", "outcomes", "screening"):
        counts = validated.summary["sheets"][sheet]
        assert counts["rows_valid"] == counts["rows_read"] > 0


@pytest.mark.parametrize(("n", "codes", "outcomes"), [(1, 1, 0), (37, 30, 6), (50, 3, 4)])
def test_other_shapes_validate_too(tmp_path, n, codes, outcomes):
    paths = write_synthetic_review(tmp_path, n, codes, outcomes, seed=n)
    result = validate_review(paths["sheets"], paths["codebook"])
    assert [f.one_line() for f in result.findings] == []
    assert len(result.clean["codes"]) == n * codes
    assert len(result.clean["outcomes"]) == n * outcomes


def test_row_counts_are_the_ones_asked_for(review):
    studies = _rows(review["studies"])
    assert len(studies) == N
    assert len(_rows(review["codes"])) == N * 10
    assert len(_rows(review["outcomes"])) == N * 2
    assert len({s["study_id"] for s in studies}) == N
    assert studies[122]["citation"].startswith("Synthetic study 000123 (")
    screening = {
        r["stage"]: int(r["count"])
        for r in _rows(review["screening"])
        if r["stage"] != "excluded_full_text"
    }
    assert screening["included"] == N


def test_the_same_seed_writes_the_same_bytes(tmp_path):
    first = write_synthetic_review(tmp_path / "a", 120, seed=3)
    second = write_synthetic_review(tmp_path / "b", 120, seed=3)
    other = write_synthetic_review(tmp_path / "c", 120, seed=4)
    for name in ("codebook", "studies", "codes", "outcomes", "screening"):
        assert first[name].read_bytes() == second[name].read_bytes(), name
    assert first["codes"].read_bytes() != other["codes"].read_bytes()
    assert first["studies"].read_bytes() != other["studies"].read_bytes()


def test_too_many_codes_per_study_is_refused(tmp_path):
    with pytest.raises(ValueError, match="codes_per_study"):
        write_synthetic_review(tmp_path, 5, codes_per_study=31)


def test_codebook_has_a_three_level_tree_four_outcomes_and_a_category_field(review):
    codebook = load_codebook(review["codebook"])
    assert 25 <= len(codebook.themes) <= 35
    assert {t.level for t in codebook.themes} == {1, 2, 3}
    assert len(codebook.outcomes) == 4
    assert any(f.type == "category" for f in codebook.fields.values())


def test_theme_tally_matches_an_independent_count(review, validated):
    # Parent links straight from the YAML, and the codes straight from the CSV file.
    parent: dict[str, str | None] = {}

    def walk(nodes, up):
        for node in nodes:
            parent[node["code"]] = up
            walk(node.get("children") or [], node["code"])

    walk(yaml.safe_load(review["codebook"].read_text(encoding="utf-8"))["themes"], None)
    studies_with: dict[str, set[str]] = {code: set() for code in parent}
    for row in _rows(review["codes"]):
        code = row["code"]
        while code is not None:
            studies_with[code].add(row["study_id"])
            code = parent[code]

    codebook = load_codebook(review["codebook"])
    tally = theme_tally(validated.clean["studies"], validated.clean["codes"], codebook)
    got = {row.code: (row.n_studies, row.study_ids) for row in tally.itertuples()}
    expected = {code: (len(ids), ";".join(sorted(ids))) for code, ids in studies_with.items()}
    assert got == expected
    assert max(n for n, _ in got.values()) < N  # no theme is trivially in every study


def test_effect_sizes_have_consistent_intervals_and_directions(review):
    codebook = load_codebook(review["codebook"])
    rows = [r for r in _rows(review["outcomes"]) if r["estimate"]]
    assert 0.3 * N * 2 < len(rows) < 0.7 * N * 2
    assert {r["effect_measure"] for r in rows} == {"smd", "rr"}
    for r in rows:
        est, lo, hi = float(r["estimate"]), float(r["ci_lower"]), float(r["ci_upper"])
        assert lo < est < hi
        null = 1.0 if r["effect_measure"] == "rr" else 0.0
        if r["effect_measure"] == "rr":
            assert lo > 0
        if lo <= null <= hi:
            assert r["direction"] == "no_effect"
        else:
            increase = lo > null
            wanted = codebook.outcomes[r["outcome"]].benefit == "increase"
            assert r["direction"] == ("benefit" if increase == wanted else "harm")


def test_meta_analysis_runs_on_every_outcome_and_measure(review, validated):
    codebook = load_codebook(review["codebook"])
    pooled = meta_analysis(validated.clean["outcomes"], validated.clean["studies"], codebook)
    main = pooled[pooled["analysis"] == "main"]
    assert len(main) == 8  # 4 outcomes x (smd, rr)
    assert all(math.isfinite(x) for x in main["estimate"])
    assert (main["k"] >= 2).all()
