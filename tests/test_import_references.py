"""`evsynth import references` and `evsynth export-ris`: RIS / BibTeX matched to the review's
studies into references.json, and the included studies back out as RIS.

The fixtures (tests/data/import/references/) are written by hand after the public descriptions
of RIS and BibTeX; every record is synthetic.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, TINY
from evsynth.cli import main
from evsynth.references import read_references
from evsynth.render import pandoc_path

DATA = REPO / "tests" / "data" / "import" / "references"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root holding the tiny review's sheets in data/raw/tiny/, with the fixture's
    studies sheet (citations carrying titles and a DOI); the current folder."""
    sheets = tmp_path / "data" / "raw" / "tiny"
    shutil.copytree(TINY / "sheets", sheets)
    shutil.copy(DATA / "studies.csv", sheets / "studies.csv")
    shutil.copy(TINY / "codebook.yaml", tmp_path / "codebook.yaml")
    shutil.copytree(TINY / "narrative", tmp_path / "narrative")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def written(project: Path) -> list[dict]:
    return json.loads((project / "data/raw/tiny/references.json").read_text("utf-8"))


def write_config(project: Path, references: bool) -> Path:
    config = project / "config.yaml"
    lines = [
        "reviews:",
        "  tiny:",
        '    title: "Tiny review"',
        "    sheets: data/raw/tiny/",
        "    codebook: codebook.yaml",
        "    report: summary-of-evidence",
        "    narrative: narrative/",
        "    illustrative: true",
    ]
    if references:
        lines.append("    references: data/raw/tiny/references.json")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_ris_entries_match_on_doi_then_title_and_year(project: Path, capsys):
    assert main(["import", "references", str(DATA / "export.ris"), "--review", "tiny"]) == 0
    out = capsys.readouterr().out
    items = written(project)
    assert [i["id"] for i in items] == ["T1", "T2"]
    # T1 by DOI (another case, the study's DOI inside its free-text citation): the first entry
    # is kept though its title differs; the second entry for T1 is listed, not written.
    assert items[0]["title"].endswith("(published version)")
    assert items[1]["title"] == "Interviews with practitioners about whole-family work"
    assert "1 matched on DOI, 1 on title and year" in out
    assert "line 34, entry 'author2010b'" in out and "(also T1)" in out
    # Same title, another year: no match; an unrelated entry: no match. Both listed with lines.
    assert "line 25, entry 'organisation2016'" in out
    assert "line 43, entry 'unrelated2001'" in out
    for study in ("T3 (studies row 4)", "T4 (studies row 5)", "T5 (studies row 6)"):
        assert study in out
    assert "    references: data/raw/tiny/references.json" in out


def test_bibtex_entries_match_too(project: Path, capsys):
    assert main(["import", "references", str(DATA / "export.bib"), "--review", "tiny"]) == 0
    assert [i["id"] for i in written(project)] == ["T1", "T4"]
    assert "1 matched on DOI, 1 on title and year" in capsys.readouterr().out


def test_an_existing_references_file_is_kept_without_force(project: Path, capsys):
    target = project / "data/raw/tiny/references.json"
    target.write_text("[]\n", encoding="utf-8")
    args = ["import", "references", str(DATA / "export.ris"), "--review", "tiny"]
    assert main(args) == 2
    assert "add --force" in capsys.readouterr().err
    assert target.read_text("utf-8") == "[]\n"
    assert main([*args, "--force"]) == 0
    assert [i["id"] for i in written(project)] == ["T1", "T2"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("truncated.bib", None, "truncated.bib (line 5): not readable as BibTeX"),
        ("truncated.ris", None, "truncated.ris (line 4): not readable as RIS"),
        ("wrong.ris", '{"items": []}\n', "wrong.ris (line 1): not readable as RIS"),
        ("latin1.ris", b"TY  - JOUR\nTI  - Caf\xe9\nER  - \n", "latin1.ris (line 2): not UTF-8"),
        ("export.json", "[]\n", "export.json: expected a .ris or .bib or .bibtex file"),
        ("nothing.ris", "", "nothing.ris: Pandoc found no entries"),
    ],
)
def test_an_unreadable_export_is_refused_with_its_line(
    project: Path, tmp_path: Path, capsys, name: str, text, expected: str
):
    export = tmp_path / name
    if text is None:
        shutil.copy(DATA / name, export)
    elif isinstance(text, bytes):
        export.write_bytes(text)
    else:
        export.write_text(text, encoding="utf-8")
    before = snapshot(project / "data")
    assert main(["import", "references", str(export), "--review", "tiny"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Nothing was written." in err
    assert "Traceback" not in err
    assert snapshot(project / "data") == before


def test_no_studies_sheet_is_refused(project: Path, capsys):
    (project / "data/raw/tiny/studies.csv").unlink()
    before = snapshot(project / "data")
    assert main(["import", "references", str(DATA / "export.ris"), "--review", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "data/raw/tiny/studies.csv: no studies sheet" in err
    assert snapshot(project / "data") == before


def test_no_entry_matching_any_study_writes_nothing(project: Path, tmp_path: Path, capsys):
    export = tmp_path / "other.ris"
    export.write_text("TY  - BOOK\nID  - x\nTI  - Nothing of this review\nER  - \n", "utf-8")
    before = snapshot(project / "data")
    assert main(["import", "references", str(export), "--review", "tiny"]) == 2
    assert "none of its 1 entries matches a study" in capsys.readouterr().err
    assert snapshot(project / "data") == before


def test_round_trip_ris_to_references_to_ris(project: Path, capsys):
    assert main(["import", "references", str(DATA / "export.ris"), "--review", "tiny"]) == 0
    config = write_config(project, references=True)
    out = project / "results" / "included.ris"
    args = ["export-ris", "--review", "tiny", "--config", str(config), "--out", str(out)]
    assert main(args) == 0
    first = out.read_bytes()
    assert main(args) == 0
    assert out.read_bytes() == first  # deterministic
    assert b"\r\nER  - \r\n\r\n" in first
    capsys.readouterr()
    items = read_references(out, pandoc_path()).items
    assert [i["id"] for i in items] == ["T1", "T2", "T3", "T4", "T5"]
    t1 = items[0]
    original = written(project)[0]
    for key in ("DOI", "author", "container-title", "issue", "issued", "page", "volume", "type"):
        assert t1[key] == original[key], key
    # Studies without an entry come from the sheet: the citation (verbatim) as the title.
    t5 = items[4]
    assert t5["title"].startswith("Hostile <script>alert(1)</script>")
    assert t5["issued"]["date-parts"][0][0] == 2020


def test_export_without_references_uses_the_studies_sheet(project: Path, capsys):
    config = write_config(project, references=False)
    out = project / "included.ris"
    rc = main(["export-ris", "--review", "tiny", "--config", str(config), "--out", str(out)])
    assert rc == 0
    assert "has no references file" in capsys.readouterr().out
    items = read_references(out, pandoc_path()).items
    assert [i["id"] for i in items] == ["T1", "T2", "T3", "T4", "T5"]
    assert items[0]["DOI"] == "10.5555/evsynth.test.t1"  # found in the free-text citation


@pytest.mark.parametrize("out", ["data/raw/included.ris", "data/raw/tiny/included.ris"])
def test_export_refuses_an_out_inside_data_raw(project: Path, capsys, out: str):
    config = write_config(project, references=False)
    before = snapshot(project / "data")
    assert main(["export-ris", "--review", "tiny", "--config", str(config), "--out", out]) == 2
    assert f"{out}: inside data/raw/" in capsys.readouterr().err
    assert snapshot(project / "data") == before


def test_export_without_a_studies_sheet_is_refused(project: Path, capsys):
    config = write_config(project, references=False)
    (project / "data/raw/tiny/studies.csv").unlink()
    out = project / "included.ris"
    assert main(["export-ris", "--review", "tiny", "--config", str(config), "--out", str(out)]) == 2
    assert "no studies sheet" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.workflow
def test_imported_references_run_through_the_workflow(project: Path, capsys):
    from test_workflow import snakemake

    assert main(["import", "references", str(DATA / "export.ris"), "--review", "tiny"]) == 0
    write_config(project, references=True)
    done = snakemake(project)
    assert done.returncode == 0, done.stderr[-3000:]
    results = project / "results" / "tiny"
    summary = json.loads((results / "validation/summary.json").read_text("utf-8"))
    assert summary["passed"]
    assert (results / "tallies/themes.csv").stat().st_size > 0
    with open(results / "validation/narrative_issues.csv", encoding="utf-8") as handle:
        issues = list(csv.DictReader(handle))
    rules = {(i["rule"], i["value"]) for i in issues if i["rule"].startswith("references")}
    assert rules == {
        ("references_missing_entry", "T3"),
        ("references_missing_entry", "T4"),
        ("references_missing_entry", "T5"),
    }
    staged = results / "report/source/summary-of-evidence/_generated/references.json"
    assert [i["id"] for i in json.loads(staged.read_text("utf-8"))] == ["T1", "T2"]


def test_a_title_column_is_matched_whole_and_a_shared_title_is_not_guessed(
    project: Path, tmp_path: Path, capsys
):
    studies = project / "data/raw/tiny/studies.csv"
    with open(studies, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    titles = ["Group work, again!", "Group work again", "Home visits", "Another", "x"]
    for row, title in zip(rows, titles, strict=True):
        row["title"], row["year"] = title, "2010"
    with open(studies, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    export = tmp_path / "titles.ris"
    export.write_text(
        "TY  - JOUR\nID  - a\nTI  - GROUP WORK AGAIN\nPY  - 2010\nER  - \n\n"
        "TY  - JOUR\nID  - b\nTI  - Home visits\nPY  - 2010\nER  - \n\n"
        "TY  - JOUR\nID  - c\nTI  - Home visits for families\nPY  - 2010\nER  - \n",
        encoding="utf-8",
    )
    assert main(["import", "references", str(export), "--review", "tiny"]) == 0
    out = capsys.readouterr().out
    assert [i["id"] for i in written(project)] == ["T3"]
    assert "entry 'a': 'GROUP WORK AGAIN') matches T1, T2" in out
    assert "entry 'c'" in out  # a longer title is not the study's title


def test_ris_record_splits_a_page_range_and_keeps_a_single_page():
    from evsynth.importers.references import ris_record

    def pages(value: str) -> list[tuple[str, str]]:
        return [t for t in ris_record("X", {"page": value}) if t[0] in ("SP", "EP")]

    assert pages("e12\u2013e20") == [("SP", "e12"), ("EP", "e20")]
    assert pages("10-19") == [("SP", "10"), ("EP", "19")]
    assert pages("7") == [("SP", "7")]
