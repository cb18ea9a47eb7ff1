"""Covidence extraction export -> studies and outcomes sheets (evsynth.importers.covidence).

The fixture (tests/data/import/covidence/) is written by hand after Covidence's public
description of its single-sheet CSV export: one row per study per reviewer, a ``Consensus``
row once reviewers reconcile, wide columns named by the review's template.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import REPO, TINY
from evsynth.cli import main as cli

FIXTURE = REPO / "tests" / "data" / "import" / "covidence"
EXPORT = FIXTURE / "extraction.csv"
MAPPING = FIXTURE / "mapping.yaml"


def run(project: Path, capsys, export: Path = EXPORT, mapping: Path = MAPPING, *extra: str):
    """``evsynth import covidence`` in ``project``: (exit status, stdout, stderr)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        status = cli(["import", "covidence", str(export), "--mapping", str(mapping),
                      "--review", "cov", *extra])  # fmt: skip
    out, err = capsys.readouterr()
    return status, out, err


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def edited(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, capsys, export: Path = EXPORT, mapping: Path = MAPPING) -> str:
    """Run an import that must be refused: exit 2, one plain message, nothing written."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    before = tree(project)
    status, out, err = run(project, capsys, export, mapping)
    assert status == 2, (out, err)
    assert "Traceback" not in err and "Nothing was written." in err
    assert tree(project) == before
    return err


def test_sheets_take_consensus_rows_else_agreeing_reviewers(tmp_path, capsys):
    status, out, err = run(tmp_path, capsys)
    assert status == 0, err
    studies = {r["study_id"]: r for r in rows(tmp_path / "data/raw/cov/studies.csv")}
    assert list(studies) == ["Adams_2015", "Baker_2018", "Chen_2020"]
    # Adams: reviewers disagree on country; the consensus row's value is the one written.
    assert studies["Adams_2015"]["country"] == "England; Wales"
    assert (
        studies["Adams_2015"]["citation"]
        == 'Illustrative trial A: a group programme, "as delivered"'
    )
    assert studies["Chen_2020"]["intervention_type"] == "group;individual"
    assert studies["Baker_2018"]["design"] == "qualitative"
    assert studies["Baker_2018"]["source_type"] == "grey"
    outcomes = rows(tmp_path / "data/raw/cov/outcomes.csv")
    assert [(r["study_id"], r["outcome"]) for r in outcomes] == [
        ("Adams_2015", "reoffending"),
        ("Baker_2018", "wellbeing"),
        ("Chen_2020", "reoffending"),
        ("Chen_2020", "wellbeing"),
    ]
    assert outcomes[2]["estimate"] == "0.95" and outcomes[2]["ci_lower"] == "0.70"
    # The reviewer as coder: the consensus row, else the reviewers whose rows agreed.
    assert studies["Adams_2015"]["coder"] == "Consensus"
    assert [r["coder"] for r in outcomes[:1]] == ["Consensus"]
    assert studies["Baker_2018"]["coder"].startswith("Reviewer One")
    assert "Adams_2015: row 4, consensus" in out
    assert "Baker_2018: row 5, reviewer 'Reviewer One' (no consensus row)" in out
    assert "codes.csv" in out


def test_imported_review_runs_through_the_workflow(tmp_path, capsys):
    from test_workflow import snakemake

    status, _, err = run(tmp_path, capsys)
    assert status == 0, err
    (tmp_path / "data/raw/cov/codes.csv").write_text("study_id,code,coder,excerpt,page\n")
    (tmp_path / "config/codebooks").mkdir(parents=True)
    codebook = (TINY / "codebook.yaml").read_text().replace("review: tiny", "review: cov")
    (tmp_path / "config/codebooks/cov.yaml").write_text(codebook)
    (tmp_path / "config.yaml").write_text(
        "reviews:\n  cov:\n    title: Imported from Covidence\n    sheets: data/raw/cov/\n"
        "    codebook: config/codebooks/cov.yaml\n    report: summary-of-evidence\n"
        "    illustrative: true\n"
    )
    done = snakemake(tmp_path)
    summary = json.loads((tmp_path / "results/cov/validation/summary.json").read_text())
    assert summary["passed"], (tmp_path / "results/cov/validation/issues.csv").read_text()
    assert done.returncode == 0, done.stderr[-3000:]
    tallies = {
        (r["characteristic"], r["value"]): r["study_ids"]
        for r in rows(tmp_path / "results/cov/tallies/characteristics.csv")
    }
    assert tallies[("included", "all")] == "Adams_2015;Baker_2018;Chen_2020"
    # Wales comes from Adams's consensus row (one reviewer had England only).
    assert tallies[("country", "Wales")] == "Adams_2015;Chen_2020"
    assert tallies[("design", "rct")] == "Adams_2015;Chen_2020"
    direction = {r["outcome"]: r for r in rows(tmp_path / "results/cov/outcomes/direction.csv")}
    assert (direction["reoffending"]["k"], direction["reoffending"]["n_benefit"]) == ("2", "1")


def test_never_over_the_leads_sheets_without_force(tmp_path, capsys):
    sheet = tmp_path / "data/raw/cov/studies.csv"
    sheet.parent.mkdir(parents=True)
    sheet.write_text("the lead's own\n")
    status, _, err = run(tmp_path, capsys)
    assert status == 2 and "--force" in err and str(Path("data/raw/cov/studies.csv")) in err
    assert sheet.read_text() == "the lead's own\n"
    assert not (tmp_path / "data/raw/cov/outcomes.csv").exists()
    status, _, err = run(tmp_path, capsys, EXPORT, MAPPING, "--force")
    assert status == 0, err
    assert sheet.read_text().startswith("study_id,citation")


def test_mapping_naming_a_missing_column(tmp_path, capsys):
    mapping = edited(tmp_path, "m.yaml", MAPPING.read_text().replace(
        "design: Study design", "design: Study type"))  # fmt: skip
    err = refused(tmp_path, capsys, mapping=mapping)
    assert f"{mapping}: studies.design names column 'Study type', which {EXPORT}" in err


def test_value_with_no_code(tmp_path, capsys):
    export = edited(tmp_path, "e.csv", EXPORT.read_text().replace(
        "One-to-one work,Community,Low", "One-to-one work,Prison,Low"))  # fmt: skip
    err = refused(tmp_path, capsys, export=export)
    assert f"{export}, row 7, column 'Setting': value 'Prison' has no code in {MAPPING}" in err
    assert "values.setting" in err


def test_reviewers_disagree_with_no_consensus(tmp_path, capsys):
    text = EXPORT.read_text().replace(
        "Reviewer Two,2018,Report,Qualitative study",
        "Reviewer Two,2018,Report,Randomised controlled trial",
    )
    export = edited(tmp_path, "e.csv", text)
    err = refused(tmp_path, capsys, export=export)
    assert "study 'Baker 2018' has rows and no consensus row that disagree: rows 5 and 6" in err
    assert "column 'Study design' ('Qualitative study' vs 'Randomised controlled trial')" in err


@pytest.mark.parametrize(
    "cut, where",
    [
        ("Single reviewer.\nNote", "row 7"),  # inside a quoted cell: the CSV never closes it
        ("Police records,Benefit,Risk ratio,0.62", "row 2: 15 fields where the header has 21"),
    ],
)
def test_truncated_export(tmp_path, capsys, cut, where):
    text = EXPORT.read_text()
    export = edited(tmp_path, "e.csv", text[: text.index(cut) + len(cut)])
    err = refused(tmp_path, capsys, export=export)
    assert f"{export}, {where}" in err


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("e.json", '{"references": []}', "expected a .csv file, not .json"),
        ("e.csv", '{"references": [], "codesets": []}\n', "no 'Study ID' column"),
        ("e.csv", "", "empty"),
        ("e.csv", "PK\x03\x04\x00\x00binary", "a binary file, not a CSV"),
    ],
)
def test_wrong_format_export(tmp_path, capsys, name, content, expected):
    export = edited(tmp_path, name, content)
    err = refused(tmp_path, capsys, export=export)
    assert f"{export}" in err and expected in err


def test_duplicate_column_and_colliding_study_ids(tmp_path, capsys):
    header, rest = EXPORT.read_text().split("\n", 1)
    export = edited(tmp_path, "e.csv", header.replace("Notes", "Country") + "\n" + rest)
    err = refused(tmp_path, capsys, export=export)
    assert f"{export}, row 1: column 'Country' appears twice (columns 8 and 21)" in err
    # Covidence's 'Adams 2015' becomes Adams_2015, and so would 'Adams 2015!'.
    export = edited(tmp_path, "e.csv", EXPORT.read_text().replace("Chen 2020", "Adams 2015!"))
    err = refused(tmp_path, capsys, export=export)
    assert "rows 4 and 7, column 'Study ID': 'Adams 2015' and 'Adams 2015!' both become" in err


@pytest.mark.parametrize(
    "change, expected",
    [
        (("  setting: Setting", "  settings!: Setting"), "studies.settings!: not a column"),
        (("Health: health", "Health: yes"), "values.setting.Health: expected text, got True"),
        (("  study_id: Study ID ", "  study_id: &x Study ID\n  reviewer: *x\n"), "aliases"),
        (("studies:", "studies:\n  year: Year\n  year: Year"), "duplicate key"),
        (("export:", "extras: 1\nexport:"), "unknown key 'extras'"),
    ],
)
def test_bad_mapping_file(tmp_path, capsys, change, expected):
    mapping = edited(tmp_path, "m.yaml", MAPPING.read_text().replace(*change, 1))
    err = refused(tmp_path, capsys, mapping=mapping)
    assert f"{mapping}" in err and expected in err


def test_bounded_rows_and_lines(tmp_path, capsys, monkeypatch):
    # The real bounds (30,000 rows, 1 MiB lines) scaled down: the same code refuses the same way.
    from evsynth.importers import covidence

    monkeypatch.setattr(covidence, "MAX_ROWS", 2)
    err = refused(tmp_path, capsys)
    assert f"{EXPORT}, row 4: more than 2 rows" in err
    monkeypatch.setattr(covidence, "MAX_ROWS", 30_000)
    monkeypatch.setattr(covidence, "MAX_LINE_CHARS", 100)
    err = refused(tmp_path, capsys)
    assert f"{EXPORT}, line 1: longer than 100 characters" in err
