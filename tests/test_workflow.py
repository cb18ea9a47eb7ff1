"""The workflow end to end, as a user runs it: Snakemake on the tiny review in a temp folder.

These run the real engines (Pandoc from pypandoc-binary, Typst from the typst wheel) and read
the PDF back with pypdf.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HOSTILE_TEXTS, REPO
from pdf_text import page_texts, pdf_text
from snakemake_runner import run_snakemake

pytestmark = pytest.mark.workflow


def snakemake(
    workdir: Path, *extra: str, env: dict | None = None, project: Path = REPO
) -> subprocess.CompletedProcess:
    """Run the workflow of ``project`` (this repository, or a copy of it) in ``workdir`` with its
    config.yaml, as ``python -m snakemake`` would (forked from a warm interpreter:
    tests/snakemake_runner.py)."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(project / "workflow/Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        "--cores",
        "2",
        *extra,
    ]
    return run_snakemake(
        command,
        timeout=900,
        env={**os.environ, "EVSYNTH_ENGINE": "pandoc", **(env or {})},
    )


@pytest.fixture
def tiny_run(tiny_built: Path) -> Path:
    """The shared run of the tiny review (tests/conftest.py); the tests here only read it."""
    return tiny_built


def test_workflow_writes_every_contract_output(tiny_run: Path):
    base = tiny_run / "results" / "tiny"
    for rel in [
        "validation/issues.csv",
        "validation/summary.json",
        "clean/studies.csv",
        "clean/codes.csv",
        "clean/outcomes.csv",
        "tallies/themes.csv",
        "tallies/themes_by_source_type.csv",
        "tallies/themes_by_setting.csv",
        "tallies/themes_by_intervention_type.csv",
        "tallies/cooccurrence.csv",
        "tallies/agreement.csv",
        "outcomes/direction.csv",
        "outcomes/meta_analysis.csv",
        "figures/themes.png",
        "figures/themes.svg",
        "figures/forest.svg",
        "outcomes/gap_map.csv",
        "figures/effect_direction.svg",
        "figures/gap_map.svg",
        "figures/prisma.svg",
        "datapackage.json",
        "report/summary-of-evidence.html",
        "report/summary-of-evidence.pdf",
        "provenance.json",
    ]:
        assert (base / rel).is_file(), rel


def test_tallies_on_disk_match_the_hand_counts(tiny_run: Path):
    with open(tiny_run / "results/tiny/tallies/themes.csv", encoding="utf-8") as handle:
        rows = {r["code"]: r for r in csv.DictReader(handle)}
    assert rows["a"]["n_studies"] == "4" and rows["a"]["study_ids"] == "T1;T2;T4;T5"
    assert rows["b"]["pct_studies"] == "60"


def test_pdf_has_the_notice_the_live_numbers_and_the_studies(tiny_run: Path):
    text = pdf_text(tiny_run / "results/tiny/report/summary-of-evidence.pdf")
    flat = " ".join(text.split())
    assert "Illustrative data" in flat
    assert "We reviewed 5 records" in flat  # {{n_studies}} filled in the lead's prose
    assert "Theme A appears in 80% of them (4 records)" in flat
    for heading in [
        "Key findings",
        "Why we did this review",
        "How we did it",
        "What we found",
        "Recommendations",
        "Limitations",
        # Without findings or appraisal sheets, those appendices are left out and the
        # letters close up.
        "Appendix A. Outcome evidence in detail",
        "Appendix B. Study characteristics",
        "Appendix C. Included studies",
        "Appendix D. Method and audit",
    ]:
        assert heading in flat, heading
    assert "Illustrative study 4 (2018)" in flat
    # No findings or appraisal sheet: those sections are left out, not shown empty.
    for absent in ("Summary of findings", "Quality of the evidence", "Findings checks"):
        assert absent not in flat, absent
    assert len(page_texts(tiny_run / "results/tiny/report/summary-of-evidence.pdf")) >= 3


def test_html_is_self_contained_and_prints_hostile_text_literally(tiny_run: Path):
    html = " ".join(
        (tiny_run / "results/tiny/report/summary-of-evidence.html").read_text("utf-8").split()
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{&lt; include x.qmd &gt;}}" in html
    assert "`{python} 1+1`" in html and '#read("/etc/passwd")' in html.replace("&quot;", '"')
    assert "$x^2$" in html and "*em*" in html
    assert 'src="http' not in html and 'href="http' not in html.split("<body")[0]


def test_pdf_prints_hostile_text_literally(tiny_run: Path):
    # Table cells wrap, so compare with all white space removed.
    squeezed = "".join(pdf_text(tiny_run / "results/tiny/report/summary-of-evidence.pdf").split())
    for hostile in HOSTILE_TEXTS:
        assert "".join(hostile.split()) in squeezed, hostile


def test_provenance_records_hashes_versions_and_commit(tiny_run: Path):
    record = json.loads((tiny_run / "results/tiny/provenance.json").read_text("utf-8"))
    assert set(record["inputs"]) == {
        "codebook.yaml",
        "sheets/codes.csv",
        "sheets/outcomes.csv",
        "sheets/screening.csv",
        "sheets/studies.csv",
    }
    assert all(len(h) == 64 for h in record["inputs"].values())
    assert record["software"]["pandas"] and record["engines"]["pandoc"]
    assert record["config"]["report"] == "summary-of-evidence"


def test_second_run_has_nothing_to_do(tiny_copy: Path):
    done = snakemake(tiny_copy, "--dry-run")
    assert done.returncode == 0
    assert "Nothing to be done" in done.stdout + done.stderr


def test_bad_sheet_stops_with_a_message_and_keeps_the_findings(tmp_path: Path):
    workdir = tmp_path / "tiny"
    shutil.copytree(REPO / "tests/data/tiny", workdir)
    studies = workdir / "sheets/studies.csv"
    studies.write_text(studies.read_text("utf-8").replace(",2015,grey,", ",20x5,grey,"), "utf-8")
    before = {p: p.read_bytes() for p in (workdir / "sheets").iterdir()}
    done = snakemake(workdir)
    assert done.returncode != 0
    assert "Validation of review 'tiny' has 1 error(s)" in done.stderr
    assert "sheet 'studies', row 4, column 'year'" in done.stderr
    assert "Traceback" not in done.stderr
    issues = (workdir / "results/tiny/validation/issues.csv").read_text("utf-8")
    assert "error,studies,4,year,20x5,integer," in issues
    assert not (workdir / "results/tiny/report").exists()
    assert before == {p: p.read_bytes() for p in (workdir / "sheets").iterdir()}


def test_unknown_live_figure_stops_the_render_naming_file_and_line(tiny_copy: Path):
    workdir = tiny_copy  # built: only the render reruns
    why = workdir / "narrative/why.md"
    why.write_text(why.read_text("utf-8") + "\nAnd {{n_stuides}} typo.\n", "utf-8")
    done = snakemake(workdir)
    assert done.returncode != 0
    assert "unknown live figure 'n_stuides'" in done.stderr
    assert "narrative/why.md, line 5: unknown live figure" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_a_narrative_the_report_is_a_complete_draft(tiny_copy: Path):
    workdir = tiny_copy  # built: the changed config reruns the render
    config = workdir / "config.yaml"
    config.write_text(config.read_text("utf-8").replace("    narrative: narrative/\n", ""), "utf-8")
    done = snakemake(workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    flat = " ".join(pdf_text(workdir / "results/tiny/report/summary-of-evidence.pdf").split())
    assert "Draft: figures only" in flat
    assert "Key findings" in flat and "Included studies" in flat
