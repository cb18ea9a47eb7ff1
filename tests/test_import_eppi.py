"""`evsynth import eppi`: an EPPI-Reviewer JSON export into a review's codebook and sheets.

The fixture tests/data/import/eppi/export.json is written by hand after the public shape of the
export (CodeSets with nested Attributes.AttributesList; References with Codes, AdditionalText
and ItemAttributeFullTextDetails whose Text carries "Page N:" markers); its records are
synthetic.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO
from evsynth.cli import main as cli
from evsynth.codebook import load_codebook

EXPORT = REPO / "tests/data/import/eppi/export.json"


def run(project: Path, export: Path, *extra: str, review: str = "trial") -> int:
    """The command as a lead types it, in the project folder ``project``."""
    return cli(["import", "eppi", str(export), "--review", review, *extra])


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_import_writes_the_theme_tree_codes_and_studies(project: Path, capsys):
    assert run(project, EXPORT) == 0
    out = capsys.readouterr().out
    book = load_codebook(project / "config/codebooks/trial.yaml")
    codes = {t.code: t for t in book.themes}
    assert codes["programme_features"].label == "Programme features"
    assert codes["programme_features.delivery_format.group_work"].label == "Group work"
    # Two siblings whose names give one code: the second, in export order, gets _2, reported.
    assert codes["programme_features.delivery_format.group_work_2"].label == "Group-work"
    assert "'Group-work' under programme_features.delivery_format is " in out
    assert "programme_features.delivery_format.one_to_one_cafe_sessions" in codes
    # The screening set is not a theme, and its code on a reference is not a row.
    assert not [c for c in codes if c.startswith("screening")]
    assert "'Screening on title and abstract' (Screening); 1 of their codes" in out

    coded = rows(project / "data/raw/trial/codes.csv")
    first = coded[0]
    assert (first["study_id"], first["code"], first["page"]) == (
        "71001",
        "programme_features.delivery_format.group_work",
        "3; 7",
    )
    # Additional text first, then each coded piece, selection markers removed, text verbatim.
    assert first["excerpt"] == (
        "Weekly sessions; see table 2\n\nMen met weekly in groups of eight.\n\n"
        '=SUM(A1) was the facilitators\' joke, "verbatim".'
    )
    motivation = coded[1]
    assert motivation["excerpt"] == "Readiness varied at referral.\n\nMost stayed to the end."
    assert motivation["page"] == "4; 5"
    assert [r["page"] for r in coded[2:]] == ["", "", ""]  # no page markers: no page
    # A cell a spreadsheet would run is kept verbatim (the pipeline escapes what it writes),
    # and the lead is told.
    assert coded[3]["excerpt"] == "+44 helpline, and some group work too."
    assert {r["coder"] for r in coded} == {""}
    assert len(coded) == 5

    studies = rows(project / "data/raw/trial/studies.csv")
    assert [(s["study_id"], s["year"], s["source_type"]) for s in studies] == [
        ("71001", "2015", "academic"),
        ("71002", "2018", "grey"),
        ("71003", "2020", ""),
    ]
    assert studies[0]["citation"] == (
        "Example A (2015). Illustrative trial of a group programme. Synthetic record"
    )
    assert {s["design"] + s["quality"] for s in studies} == {""}
    # What the lead must fill is named.
    assert "design and quality (required)" in out
    assert "source_type (academic or grey) for the types Dissertation: 71003" in out
    assert "1 cell(s) begin with = + - or @" in out
    assert rows(project / "data/raw/trial/outcomes.csv") == []


def test_codes_from_names_are_stable_across_exports(project: Path):
    """The same export imported twice gives the same codes (no ids, no order of a dict)."""
    run(project, EXPORT, review="rvw-a")
    run(project, EXPORT, review="rvw-b")
    one = (project / "config/codebooks/rvw-a.yaml").read_text("utf-8").replace("rvw-a", "X")
    two = (project / "config/codebooks/rvw-b.yaml").read_text("utf-8").replace("rvw-b", "X")
    assert one == two
    assert (project / "data/raw/rvw-a/codes.csv").read_bytes() == (
        project / "data/raw/rvw-b/codes.csv"
    ).read_bytes()


def test_never_over_the_leads_files_without_force(project: Path, capsys):
    sheets = project / "data/raw/trial"
    sheets.mkdir(parents=True)
    (sheets / "codes.csv").write_text("the lead's own\n", "utf-8")
    before = tree(project)
    assert run(project, EXPORT) == 2
    err = capsys.readouterr().err
    assert "not overwriting the lead's files" in err and "Nothing was written." in err
    assert tree(project) == before
    assert run(project, EXPORT, "--force") == 0
    assert rows(sheets / "codes.csv")[0]["study_id"] == "71001"


def _export() -> dict:
    return json.loads(EXPORT.read_text("utf-8"))


def _write(project: Path, data: object, name: str = "bad.json") -> Path:
    path = project / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), "utf-8")
    return path


def _refused(project: Path, export: Path, capsys) -> str:
    before = tree(project)
    assert run(project, export) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "Nothing was written." in captured.err
    assert tree(project) == before
    assert not (project / "data").exists() and not (project / "config").exists()
    return captured.err


def test_truncated_export_names_line_and_column(project: Path, capsys):
    text = EXPORT.read_text("utf-8")
    cut = text[: text.index('"ItemId": 71002')]
    export = _write(project, cut)
    line = cut.count("\n") + 1
    err = _refused(project, export, capsys)
    assert f"{export}: not valid JSON at line {line}, column " in err
    assert "truncated" in err


def test_missing_key_names_its_json_path(project: Path, capsys):
    data = _export()
    del data["CodeSets"][1]["Attributes"]["AttributesList"][0]["Attributes"]["AttributesList"][2][
        "AttributeName"
    ]
    err = _refused(project, _write(project, data), capsys)
    assert (
        "CodeSets[1].Attributes.AttributesList[0].Attributes.AttributesList[2].AttributeName "
        "is missing"
    ) in err


def test_wrong_type_names_its_json_path(project: Path, capsys):
    data = _export()
    data["References"][2]["Codes"] = {"AttributeId": 500200}
    err = _refused(project, _write(project, data), capsys)
    assert "References[2].Codes should be a list, not dict" in err


def test_coded_text_that_is_not_an_object_names_its_json_path(project: Path, capsys):
    data = _export()
    data["References"][0]["Codes"][2]["ItemAttributeFullTextDetails"][0] = "Page 4: text"
    err = _refused(project, _write(project, data), capsys)
    assert "References[0].Codes[2].ItemAttributeFullTextDetails[0] should be an object" in err


def test_one_attribute_id_on_two_codes_is_refused(project: Path, capsys):
    data = _export()
    data["CodeSets"][1]["Attributes"]["AttributesList"][1]["AttributeId"] = 500101
    err = _refused(project, _write(project, data), capsys)
    assert "CodeSets[1].Attributes.AttributesList[1].AttributeId: 500101 is used by two" in err


def test_not_an_eppi_export(project: Path, capsys):
    err = _refused(project, _write(project, [1, 2, 3]), capsys)
    assert "the top level is a list" in err
    err = _refused(project, _write(project, {"items": []}), capsys)
    assert "bad.json: CodeSets is missing" in err
    err = _refused(project, _write(project, "{}", name="export.csv"), capsys)
    assert "expected a .json file, not .csv" in err


def test_duplicate_code_set_names_are_refused(project: Path, capsys):
    data = _export()
    data["CodeSets"].append(dict(data["CodeSets"][1], SetName="programme FEATURES "))
    err = _refused(project, _write(project, data), capsys)
    assert "CodeSets[2].SetName: the code set name 'programme FEATURES' is also" in err
    assert "CodeSets[1]" in err


def test_code_not_in_any_code_set_is_refused(project: Path, capsys):
    data = _export()
    data["References"][1]["Codes"][0]["AttributeId"] = 424242
    err = _refused(project, _write(project, data), capsys)
    assert "References[1].Codes[0].AttributeId: 424242 is not a code of any code set" in err


def test_duplicate_item_ids_are_refused(project: Path, capsys):
    data = _export()
    data["References"][2]["ItemId"] = 71001
    err = _refused(project, _write(project, data), capsys)
    assert "References[2].ItemId: 71001 is also References[0]" in err


def test_deep_nesting_is_refused_in_bounded_time(project: Path, capsys):
    data = _export()
    node = data["CodeSets"][1]["Attributes"]["AttributesList"][1]
    for depth in range(200):
        child = {"AttributeId": 800000 + depth, "AttributeName": f"level {depth}"}
        node["Attributes"] = {"AttributesList": [child]}
        node = child
    err = _refused(project, _write(project, data), capsys)
    assert "nests more than 30 levels of codes" in err
    err = _refused(project, _write(project, "[" * 100_000 + "]" * 100_000), capsys)
    assert "nested too deeply" in err


@pytest.mark.workflow
def test_imported_review_runs_end_to_end(project: Path, capsys):
    """Import, fill what the lead fills (design, quality, a source type), run the workflow."""
    from test_workflow import snakemake

    assert run(project, EXPORT) == 0
    capsys.readouterr()
    studies = project / "data/raw/trial/studies.csv"
    filled = rows(studies)
    for row, design in zip(filled, ("rct", "mixed_methods", "qualitative"), strict=True):
        row.update(design=design, quality="moderate", source_type=row["source_type"] or "grey")
    with studies.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(filled[0]))
        writer.writeheader()
        writer.writerows(filled)
    (project / "config.yaml").write_text(
        "reviews:\n  trial:\n    title: Imported from EPPI-Reviewer\n"
        "    sheets: data/raw/trial/\n    codebook: config/codebooks/trial.yaml\n"
        "    report: summary-of-evidence\n",
        "utf-8",
    )
    done = snakemake(project)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((project / "results/trial/validation/summary.json").read_text("utf-8"))
    assert summary["passed"]
    themes = rows(project / "results/trial/tallies/themes.csv")
    by_code = {r["code"]: r for r in themes}
    assert by_code["programme_features.motivation_to_change"]["n_studies"] == "2"
    assert by_code["programme_features"]["n_studies"] == "3"
    shutil.rmtree(project / "results")
