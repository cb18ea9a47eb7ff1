"""References (evsynth.references): a review's bibliography read through Pandoc from BibTeX,
RIS or CSL JSON, checked against the included studies, and cited so that no study ID can
break a citation or carry markup into the report."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, make_run
from evsynth.findings import read_issues_csv
from evsynth.references import (
    MAX_BYTES,
    Bibliography,
    PreparedReferences,
    check_references,
    cite,
    cite_in_text,
    cite_key,
    citeproc_args,
    read_references,
    references_section,
    staged_items,
)
from evsynth.render import pandoc_path
from test_workflow import snakemake

PANDOC = pandoc_path()
FIXTURE = REPO / "tests" / "data" / "references" / "tiny.json"
#: Study IDs that are markup, a citation or a citation's delimiters in Pandoc's Markdown.
HOSTILE_IDS = (
    "A 1",
    "x]y",
    "s;t",
    "u@v",
    "b}c",
    "{d",
    "e\\f",
    "<script>alert(1)</script>",
    "[@T1]",
    "#set page(width: 1cm)",
    "*em*",
    "Ω7",
    "-@neg",
)


def example_studies(review: str) -> pd.DataFrame:
    """The studies sheet's IDs with their rows, as the clean table carries them."""
    with (REPO / "data/raw" / review / "studies.csv").open(encoding="utf-8") as handle:
        ids = [row["study_id"] for row in csv.DictReader(handle)]
    return studies(ids)


def studies(ids: list[str] | tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({"study_id": list(ids), "source_row": range(2, len(ids) + 2)})


# --- Reading -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "first", "n"),
    [
        (REPO / "data/raw/families/references.bib", "FA01", 32),
        (REPO / "data/raw/culturally-responsive/references.ris", "CR01", 46),
        (FIXTURE, "T1", 5),
    ],
)
def test_each_format_reads_into_csl_json_keyed_by_study_id(path: Path, first: str, n: int):
    bib = read_references(path, PANDOC)
    assert len(bib.items) == n
    assert bib.ids()[0] == first
    item = bib.items[0]
    assert item["issued"]["date-parts"][0][0] >= 2004
    assert item["title"] and item["author"]


@pytest.mark.parametrize("review", ["families", "culturally-responsive"])
def test_example_references_cover_exactly_their_studies(review: str):
    settings = yaml.safe_load((REPO / "config/config.yaml").read_text("utf-8"))["reviews"][review]
    path = REPO / settings["references"]
    assert check_references(path, None, example_studies(review), PANDOC) == []
    # Each entry's title is the one the studies sheet's free-text citation gives.
    with (REPO / "data/raw" / review / "studies.csv").open(encoding="utf-8") as handle:
        citations = {r["study_id"]: r["citation"] for r in csv.DictReader(handle)}
    for item in read_references(path, PANDOC).items:
        # (Pandoc's BibTeX reader curls apostrophes: compare the words.)
        title = item["title"].split(":")[0].lower().replace("\u2019", "'")
        assert title in citations[item["id"]].lower(), item["id"]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        (
            "broken.bib",
            "@article{T1,\n  title = {A trial},\n  year = {2010}\n}\n\n"
            "@article{T2,\n  title = {Interviews\n  year = {2012}\n",
            None,  # Pandoc names the line where the unclosed brace runs out
        ),
        ("broken.ris", "TY  - JOUR\nID  - T1\nER  - \n\nthis is not RIS\n", 5),
        ("broken.json", '[{"id": "T1", "title": "A trial"},\n {"id": "T2",\n', None),
    ],
)
def test_an_unreadable_file_is_an_error_naming_file_and_line(
    tmp_path: Path, name: str, text: str, line: int | None
):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    findings = check_references(path, None, studies(["T1", "T2"]), PANDOC)
    assert len(findings) == 1
    (finding,) = findings
    assert (finding.severity, finding.sheet, finding.rule) == (
        "error",
        "references",
        "references_unreadable",
    )
    assert finding.column == str(path)
    assert finding.row is not None and finding.row >= 1
    if line is not None:
        assert finding.row == line
    message = finding.one_line()
    assert message.startswith(f"ERROR {path}, line {finding.row}: not readable as ")
    assert "Traceback" not in message and "Error at" not in message


def test_refused_files_are_errors_and_never_hang(tmp_path: Path):
    big = tmp_path / "big.bib"
    with big.open("wb") as handle:  # sparse: no disk, but over the limit
        handle.truncate(MAX_BYTES + 1)
    fifo = tmp_path / "pipe.ris"
    os.mkfifo(fifo)
    latin = tmp_path / "latin.bib"
    latin.write_bytes(b"@article{T1,\n  title = {Caf\xe9}\n}\n")
    other = tmp_path / "refs.txt"
    other.write_text("T1", encoding="utf-8")
    expected = {
        big: "file_too_large",
        fifo: "file_unreadable",
        tmp_path / "missing.json": "file_missing",
        latin: "references_unreadable",
        other: "references_format",
    }
    for path, rule in expected.items():
        started = time.monotonic()
        findings = check_references(path, None, studies(["T1"]), PANDOC)
        assert time.monotonic() - started < 5, path
        assert [(f.severity, f.rule) for f in findings] == [("error", rule)], path
        assert str(path) in findings[0].one_line()
    (latin_finding,) = check_references(latin, None, studies(["T1"]), PANDOC)
    assert latin_finding.row == 2 and "UTF-8" in latin_finding.message


def test_a_missing_style_is_an_error(tmp_path: Path):
    findings = check_references(FIXTURE, tmp_path / "nope.csl", studies(["T1"]), PANDOC)
    assert ("error", "references_csl_missing") in [(f.severity, f.rule) for f in findings]


# --- Checks ------------------------------------------------------------------------------------


def test_missing_and_unused_entries_are_located_warnings():
    findings = check_references(FIXTURE, None, studies(["T1", "T2", "T3", "T4", "T5"]), PANDOC)
    assert all(f.severity == "warning" for f in findings)
    by_rule = {f.rule: f for f in findings}
    assert set(by_rule) == {"references_missing_entry", "references_unused_entry"}
    missing = by_rule["references_missing_entry"]
    # T5 is the fifth study: row 6 of the studies sheet (the header is row 1).
    assert (missing.sheet, missing.row, missing.column, missing.value) == (
        "studies",
        6,
        "study_id",
        "T5",
    )
    assert str(FIXTURE) in missing.message
    unused = by_rule["references_unused_entry"]
    t9_line = (
        FIXTURE.read_text("utf-8")
        .splitlines()
        .index(next(ln for ln in FIXTURE.read_text("utf-8").splitlines() if '"T9"' in ln))
    )
    assert (unused.sheet, unused.row, unused.column, unused.value) == (
        "references",
        t9_line + 1,
        str(FIXTURE),
        "T9",
    )
    assert unused.one_line().startswith(f"WARNING {FIXTURE}, line {t9_line + 1}: entry 'T9'")


def test_a_duplicate_key_is_a_warning_and_the_first_entry_is_used(tmp_path: Path):
    path = tmp_path / "dup.bib"
    path.write_text(
        "@article{T1,\n title = {First},\n year = {2010}\n}\n"
        "@article{T1,\n title = {Second},\n year = {2011}\n}\n",
        encoding="utf-8",
    )
    findings = check_references(path, None, studies(["T1"]), PANDOC)
    assert [(f.severity, f.rule, f.value) for f in findings] == [
        ("warning", "references_duplicate_entry", "T1")
    ]
    (item,) = staged_items(read_references(path, PANDOC), {"T1"})
    assert item["title"] == "First"


def test_no_file_no_findings():
    assert check_references(None, None, studies(["T1"]), PANDOC) == []


# --- Citing ------------------------------------------------------------------------------------


def test_without_references_the_ids_are_printed_as_before():
    assert cite(["FA03", "FA07", "FA15"], frozenset()) == "FA03\\, FA07\\, FA15"
    assert cite(["FA03", "FA07", "FA15"], frozenset(), prose=True) == "FA03, FA07 and FA15"
    assert cite(["*em*"], frozenset()) == "\\*em\\*"
    assert cite_in_text("FA03", frozenset(), "free text") == "free text"


def test_with_references_the_studies_are_one_citation_and_the_rest_ids():
    assert cite(["FA03", "FA07"], {"FA03", "FA07"}) == "[@{FA03}; @{FA07}]"
    assert cite(["FA03", "FA09"], {"FA03"}, prose=True) == "[@{FA03}] and FA09"
    assert cite_in_text("FA03", {"FA03"}, "free text") == "@{FA03}"


def test_cite_keys_keep_plain_ids_and_hash_the_rest():
    assert cite_key("FA03") == "FA03"
    keys = [cite_key(i) for i in HOSTILE_IDS]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert key.startswith("_") and len(key) == 21 and key[1:].isalnum()


def pandoc(markdown: str, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [PANDOC, "--from", "markdown", *args],
        input=markdown,
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
        timeout=120,
    )
    return done.stdout


def test_hostile_ids_neither_break_a_citation_nor_inject_markup(tmp_path: Path):
    items = [
        {"id": sid, "type": "report", "author": [{"literal": f"Author{n:02d}"}], "title": "T"}
        for n, sid in enumerate(HOSTILE_IDS)
    ]
    (tmp_path / "refs.json").write_text(json.dumps(items), encoding="utf-8")
    bib = read_references(tmp_path / "refs.json", PANDOC)
    assert bib.ids() == list(HOSTILE_IDS)
    prepared = PreparedReferences(
        tuple(staged_items(bib, set(HOSTILE_IDS))), None, frozenset(HOSTILE_IDS)
    )
    (tmp_path / "_csl").mkdir()
    (tmp_path / "_csl/apa.csl").write_bytes((REPO / "reports/_csl/apa.csl").read_bytes())
    meta = prepared.write(tmp_path)
    (tmp_path / "meta.yml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    text = f"Before {cite(list(HOSTILE_IDS), prepared.cited)} after.\n\n{references_section(True)}"

    # One citation holding every study, in order, each under its own staged key.
    ast = json.loads(pandoc(text, tmp_path, "--to", "json"))
    cites = [i for i in ast["blocks"][0]["c"] if i["t"] == "Cite"]
    assert len(cites) == 1
    assert [c["citationId"] for c in cites[0]["c"][0]] == [cite_key(i) for i in HOSTILE_IDS]
    staged = json.loads((tmp_path / "_generated/references.json").read_text("utf-8"))
    assert sorted(i["id"] for i in staged) == sorted(cite_key(i) for i in HOSTILE_IDS)

    args = ["--metadata-file", "meta.yml", *citeproc_args(meta)]
    html = pandoc(text, tmp_path, "--to", "html5", *args)
    typst = pandoc(text, tmp_path, "--to", "typst", *args)
    for out in (html, typst):
        assert "???" not in out  # Pandoc's mark for a citation it could not resolve
        for n in range(len(HOSTILE_IDS)):
            assert out.count(f"Author{n:02d}") >= 2  # cited in the text and listed
    assert "<script>" not in html and "#set page" not in typst
    assert "Before" in html and "after." in html


def test_staged_entries_are_the_included_studies_only():
    bib = Bibliography(Path("x.json"), ({"id": "T1", "title": "a"}, {"id": "T9", "title": "b"}), "")
    assert [i["id"] for i in staged_items(bib, {"T1", "T2"})] == ["T1"]


# --- In the workflow ---------------------------------------------------------------------------


def test_a_broken_references_file_stops_the_review_and_a_good_one_renders(tiny_copy: Path):
    config_path = tiny_copy / "config.yaml"
    config = yaml.safe_load(config_path.read_text("utf-8"))
    config["reviews"]["tiny"]["references"] = "references.bib"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    (tiny_copy / "references.bib").write_text(
        "@article{T1,\n  title = {A trial},\n  year = {2010}\n\n@article{T2,\n", encoding="utf-8"
    )
    done = make_run(tiny_copy)
    assert done.returncode != 0
    assert "tiny: STOPPED" in done.stderr
    assert "references.bib, line " in done.stderr and "not readable as BibTeX" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tiny_copy / "results/tiny/report/summary-of-evidence.html").exists()

    config["reviews"]["tiny"]["references"] = "references.json"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    (tiny_copy / "references.json").write_bytes(FIXTURE.read_bytes())
    # The wrapper's own path was shown above; the good run needs only the workflow.
    done = snakemake(tiny_copy)
    assert done.returncode == 0, done.stderr[-3000:]
    issues = read_issues_csv(tiny_copy / "results/tiny/validation/narrative_issues.csv")
    assert {(f.rule, f.value) for f in issues if f.rule.startswith("references")} == {
        ("references_missing_entry", "T5"),
        ("references_unused_entry", "T9"),
    }
    html = (tiny_copy / "results/tiny/report/summary-of-evidence.html").read_text("utf-8")
    refs = html[html.index('id="refs"') :]
    # APA order: Example, Fictional, Illustrative Evaluation Unit, Placeholder; T9 left out.
    order = [refs.index(name) for name in ("Example", "Fictional", "Illustrative Evaluation")]
    assert order == sorted(order) and refs.index("Placeholder") > order[-1]
    assert "Unused" not in html
    # The included-studies table names T1 in the text, linked to its entry; T5 has none.
    assert 'Fictional (<a href="#ref-T1" role="doc-biblioref">2010</a>)' in html


def test_the_list_holds_every_staged_study_even_one_cited_nowhere(tmp_path: Path):
    bib = read_references(FIXTURE, PANDOC)
    prepared = PreparedReferences(
        tuple(staged_items(bib, {"T1", "T2", "T3"})), None, frozenset({"T1", "T2", "T3"})
    )
    (tmp_path / "_csl").mkdir()
    (tmp_path / "_csl/apa.csl").write_bytes((REPO / "reports/_csl/apa.csl").read_bytes())
    meta = prepared.write(tmp_path)
    (tmp_path / "meta.yml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    text = f"Only T2 is cited {cite(['T2'], prepared.cited)}.\n\n{references_section(True)}"
    html = pandoc(
        text, tmp_path, "--to", "html5", "--metadata-file", "meta.yml", *citeproc_args(meta)
    )
    refs = html[html.index('id="refs"') :]
    # Sorted by the style (APA: by author), not by study ID: T1 Fictional, T3 Illustrative…,
    # T2 Placeholder; T4 and T9 are not staged.
    assert re.findall(r'id="ref-([^"]+)"', refs) == ["T1", "T3", "T2"]
