"""Typed hand-offs, every path from the rule, the characteristics table, and report wording
that follows the config (issue 11)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from evsynth.handoff import read_typed
from evsynth.outcomes import OutcomesPaths, run_outcomes
from evsynth.prisma import run_prisma
from evsynth.report import ReportInputs, ReviewResults, build_partials
from evsynth.tally import TallyPaths, run_agreement, run_crosstab, run_tally
from evsynth.validate import ValidationPaths, run_validate
from stage_paths import meta_settings

TINY = REPO / "tests/data/tiny"
SHEETS = ("studies", "codes", "outcomes", "screening")


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")  # kept to the end: xdist may run other modules in between
def scattered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every stage run with each output in its own odd place and under an odd name: a stage
    that chose a name inside a folder it was given would write where no one asked."""
    base = tmp_path_factory.mktemp("scattered")
    odd = {
        name: base / f"d{i}" / f"x{i}.{name.rsplit('.', 1)[-1]}"
        for i, name in enumerate(
            [
                "issues.csv",
                "summary.json",
                "report.md",
                *(f"{s}.csv" for s in SHEETS),
                *(f"{s}.parquet" for s in SHEETS),
                "themes.csv",
                "cooccurrence.csv",
                "characteristics.csv",
                "crosstab.csv",
                "agreement.csv",
                "disagreements.csv",
                "direction.csv",
                "direction_by_quality.csv",
                "meta_analysis.csv",
                "gap_map.csv",
            ]
        )
    }
    stems = {
        name: base / f"f-{name}" / "pic"
        for name in ("themes", "direction", "forest", "effect_direction", "gap_map", "prisma")
    }
    codebook = TINY / "codebook.yaml"
    result = run_validate(
        TINY / "sheets",
        codebook,
        ValidationPaths(
            issues=odd["issues.csv"],
            summary=odd["summary.json"],
            report=odd["report.md"],
            clean={s: odd[f"{s}.csv"] for s in SHEETS},
            typed={s: odd[f"{s}.parquet"] for s in SHEETS},
        ),
    )
    assert not result.errors
    studies, codes = odd["studies.parquet"], odd["codes.parquet"]
    run_tally(
        studies,
        codes,
        codebook,
        "union",
        TallyPaths(
            themes=odd["themes.csv"],
            cooccurrence=odd["cooccurrence.csv"],
            characteristics=odd["characteristics.csv"],
            figure=stems["themes"],
        ),
    )
    run_crosstab(studies, codes, codebook, "union", "design", odd["crosstab.csv"])
    run_agreement(codes, codebook, odd["agreement.csv"], odd["disagreements.csv"])
    run_outcomes(
        studies,
        odd["outcomes.parquet"],
        codes,
        codebook,
        meta_settings(),
        "union",
        OutcomesPaths(
            direction=odd["direction.csv"],
            direction_by_quality=odd["direction_by_quality.csv"],
            meta_analysis=odd["meta_analysis.csv"],
            gap_map=odd["gap_map.csv"],
            direction_figure=stems["direction"],
            forest_figure=stems["forest"],
            effect_direction_figure=stems["effect_direction"],
            gap_map_figure=stems["gap_map"],
        ),
    )
    run_prisma(odd["screening.parquet"], stems["prisma"])
    return {"base": base, **odd, **{f"stem:{k}": v for k, v in stems.items()}}


def test_each_stage_writes_exactly_where_its_rule_says(scattered: dict[str, Path]):
    base = scattered.pop("base")
    expected = {p for k, p in scattered.items() if not k.startswith("stem:")}
    expected |= {
        p.with_suffix(s)
        for k, p in scattered.items()
        if k.startswith("stem:")
        for s in (".png", ".svg")
    }
    written = {p for p in base.rglob("*") if p.is_file()}
    assert written == expected  # every file asked for, and nothing else anywhere


def test_typed_clean_tables_keep_codes_as_text_and_numbers_as_numbers(scattered: dict[str, Path]):
    studies = read_typed(scattered["studies.parquet"])
    outcomes = read_typed(scattered["outcomes.parquet"])
    assert str(studies["year"].dtype) == "Int64" and studies["year"].tolist() == [
        2010,
        2012,
        2015,
        2018,
        2020,
    ]
    assert str(studies["source_row"].dtype) == "Int64"
    assert studies["study_id"].map(type).eq(str).all()
    assert outcomes["estimate"].dtype == "float64"
    # The typed table holds what the CSV holds, value for value.
    text = pd.read_csv(scattered["outcomes.csv"], dtype=str, keep_default_na=False)
    for column in ("study_id", "outcome", "direction", "effect_measure"):
        assert outcomes[column].tolist() == text[column].tolist()
    assert outcomes["estimate"].fillna(-1).tolist() == [
        float(v) if v else -1 for v in text["estimate"]
    ]
    with pytest.raises(ValueError, match="typed clean tables"):
        read_typed(scattered["studies.csv"])


def test_characteristics_hand_counts_on_the_tiny_review(scattered: dict[str, Path]):
    """tests/data/tiny/sheets/studies.csv, counted by hand: T1..T5; academic T1 T2 T4;
    designs rct T1 T4, qualitative T2 T3 T5; quality high T1, moderate T2, low T4 T5,
    not appraised T3; England T1 T2, Wales T2, USA T3, Canada T4 (T5 none); years 2010,
    2012, 2015, 2018, 2020; intervention type group T1 T4, individual T4, blank T2 T3 T5."""
    table = {(r["characteristic"], r["value"]): r for r in rows(scattered["characteristics.csv"])}

    def count(characteristic: str, value: str) -> tuple[int, str]:
        row = table[(characteristic, value)]
        return int(row["n_studies"]), row["study_ids"]

    assert count("included", "all") == (5, "T1;T2;T3;T4;T5")
    assert count("source_type", "academic") == (3, "T1;T2;T4")
    assert count("source_type", "grey") == (2, "T3;T5")
    assert table[("source_type", "academic")]["pct_studies"] == "60"
    assert count("design", "rct") == (2, "T1;T4")
    assert count("design", "qualitative") == (3, "T2;T3;T5")
    assert count("quality", "high") == (1, "T1")
    assert count("quality", "low") == (2, "T4;T5")
    assert count("quality", "not_appraised") == (1, "T3")
    assert count("country", "England") == (2, "T1;T2")
    assert count("country", "Wales") == (1, "T2")
    assert count("country", "Canada") == (1, "T4")
    assert [
        r["value"]
        for r in rows(scattered["characteristics.csv"])
        if r["characteristic"] == "country"
    ] == ["England", "Canada", "USA", "Wales"]
    assert [
        r["value"] for r in rows(scattered["characteristics.csv"]) if r["characteristic"] == "year"
    ] == ["2010", "2012", "2015", "2018", "2020"]
    assert count("intervention_type", "individual") == (1, "T4")
    assert count("intervention_type", "not_recorded") == (3, "T2;T3;T5")


def report_partials(results: dict[str, Path], analysis) -> dict[str, str]:
    res = ReviewResults.load(
        ReportInputs(
            codebook=TINY / "codebook.yaml",
            studies=results["studies.parquet"],
            screening=results["screening.parquet"],
            themes=results["themes.csv"],
            characteristics=results["characteristics.csv"],
            direction=results["direction.csv"],
            meta_analysis=results["meta_analysis.csv"],
            agreement=results["agreement.csv"],
            validation_summary=results["summary.json"],
        )
    )
    settings = {
        "title": "t",
        "report": "summary-of-evidence",
        "narrative": "",
        "illustrative": False,
        "subtitle": "",
        "organisation": "",
    }
    return build_partials(res, settings, "summary-of-evidence", None, analysis)


def test_report_numbers_come_from_the_characteristics_table(
    scattered: dict[str, Path], tmp_path: Path
):
    """Change a count in characteristics.csv and the report prints the changed count: the
    report reads it, it does not count the studies again."""
    partials = report_partials(scattered, meta_settings())
    what = partials["what-we-did.md"]
    assert "We included **5 records**: 3 from the academic literature (60%) and 2" in what
    assert "between 2010 and 2020, from 4 countries" in what
    assert "Countries (records): England (2); Canada (1); USA (1); Wales (1)." in what
    assert "| Randomised controlled trial | 2 | 40% |" in what
    edited = tmp_path / "characteristics.csv"
    text = scattered["characteristics.csv"].read_text("utf-8")
    edited.write_text(
        text.replace(
            "design,rct,Randomised controlled trial,2,40,",
            "design,rct,Randomised controlled trial,7,70,",
        ),
        "utf-8",
    )
    changed = report_partials({**scattered, "characteristics.csv": edited}, meta_settings())
    assert "| Randomised controlled trial | 7 | 70% |" in changed["what-we-did.md"]


def test_report_wording_follows_the_meta_analysis_config(scattered: dict[str, Path]):
    default = report_partials(scattered, meta_settings())
    assert "random-effects model (REML) with 95%" in default["appendices.md"]
    assert "were rated low quality, the pooled" in default["outcomes.md"]

    dl = meta_settings(method="DL", sensitivity_exclude_quality=["low", "moderate"])
    partials = report_partials(scattered, dl)
    # The method-and-audit appendix (the outcome appendix's table names each fit's method).
    audit = partials["appendices.md"].split("Method and audit", 1)[1]
    outcomes = partials["outcomes.md"]
    assert "random-effects model (DerSimonian–Laird) with 95%" in audit
    assert "REML" not in audit
    assert "were rated low or moderate quality, the pooled estimate without them" in outcomes
    assert "low quality, the pooled" not in outcomes
    hk = report_partials(scattered, meta_settings(hartung_knapp=True))
    assert "(REML, with the Hartung–Knapp adjustment)" in hk["appendices.md"]


def test_sensitivity_sentence_names_the_configured_exclusion(tmp_path: Path):
    """With moderate and low excluded, the tiny review's sensitivity row (if any) is named so;
    the sentence never says "low-quality" for another exclusion."""
    out = tmp_path / "r"
    shutil.copytree(TINY, out / "tiny")
    with open(out / "tiny/sheets/outcomes.csv", "a", encoding="utf-8") as sheet:
        # Two more risk ratios (T3 not appraised, T5 low): leaving out low and moderate
        # studies keeps T1 and T3, so there is a sensitivity analysis to name.
        sheet.write(
            "T3,reoffending,Police records,benefit,rr,0.8,0.6,1.07,80,12\n"
            "T5,reoffending,Police records,harm,rr,1.1,0.8,1.5,60,12\n"
        )
    from stage_paths import outcomes_paths, tally_paths, validation_paths

    clean = out / "clean"
    codebook = out / "tiny/codebook.yaml"
    assert not run_validate(
        out / "tiny/sheets", codebook, validation_paths(out / "validation", clean)
    ).errors
    run_tally(
        clean / "studies.parquet",
        clean / "codes.parquet",
        codebook,
        "union",
        tally_paths(out / "tallies", out / "figures"),
    )
    run_agreement(
        clean / "codes.parquet",
        codebook,
        out / "tallies/agreement.csv",
        out / "tallies/disagreements.csv",
    )
    dl = meta_settings(method="DL", sensitivity_exclude_quality=["low", "moderate"])
    run_outcomes(
        clean / "studies.parquet",
        clean / "outcomes.parquet",
        clean / "codes.parquet",
        codebook,
        dl,
        "union",
        outcomes_paths(out / "outcomes", out / "figures"),
    )
    from stage_paths import report_inputs

    res = ReviewResults.load(report_inputs(out, codebook))
    settings = {
        "title": "t",
        "report": "summary-of-evidence",
        "narrative": "",
        "illustrative": False,
        "subtitle": "",
        "organisation": "",
    }
    text = build_partials(res, settings, "summary-of-evidence", None, dl)["outcomes.md"]
    sensitivity = [line for line in text.splitlines() if line.startswith("Sensitivity")]
    assert len(sensitivity) == 1, text
    assert "without studies rated low or moderate: " in sensitivity[0]
    assert sensitivity[0].endswith("k = 2.")
    assert "low-quality" not in text
    assert "DL" in set(res.meta["method"])
