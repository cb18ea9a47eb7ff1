"""The lead's narrative: section checks, live-figure names and filling."""

from __future__ import annotations

from pathlib import Path

import pytest

from evsynth.codebook import load_codebook
from evsynth.narrative import check_narrative, fill

TINY = Path(__file__).parent / "data" / "tiny"


@pytest.fixture
def codebook():
    return load_codebook(TINY / "codebook.yaml")


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_the_tiny_narrative_is_clean(codebook):
    assert check_narrative(TINY / "narrative", "summary-of-evidence", codebook) == []


@pytest.mark.parametrize(
    "text, problem",
    [
        ("{{n_stuides}}", "unknown live figure 'n_stuides'"),
        ("{{pct:zz}}", "'zz' is not a theme code"),
        ("{{k:nope}}", "'nope' is not an outcome code"),
        ("{{pooled:reoffending:xx}}", "'xx' is not an effect measure"),
        ("{{pooled:reoffending}}", "'pooled' needs an outcome and a measure"),
        ("{{n_studies:a}}", "'n_studies' takes no code"),
        ("{{ N studies }}", "is not a live figure name"),
    ],
)
def test_unknown_names_are_findings_with_file_and_line(tmp_path, codebook, text, problem):
    folder = tmp_path / "narrative"
    write(folder, "why.md", "First line.\n\nSecond with " + text + " in it.\n")
    write(folder, "recommendations.md", "1. One.\n")
    findings = check_narrative(folder, "summary-of-evidence", codebook)
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.severity, finding.sheet, finding.row, finding.column, finding.rule) == (
        "error",
        "narrative",
        3,
        str(folder / "why.md"),
        "live_figure",
    )
    assert problem in finding.message
    # Located as a writer reads it: the file's path and the line, not a sheet and column.
    assert finding.location() == f"{folder / 'why.md'}, line 3"


def test_missing_required_section_is_an_error_and_optional_ones_are_not(tmp_path, codebook):
    folder = tmp_path / "narrative"
    write(folder, "why.md", "Why.\n")
    findings = check_narrative(folder, "summary-of-evidence", codebook)
    assert [(f.rule, f.column) for f in findings] == [
        ("narrative_section_missing", str(folder / "recommendations.md"))
    ]


def test_theme_sections_must_name_a_top_level_theme(tmp_path, codebook):
    folder = tmp_path / "narrative"
    write(folder, "why.md", "Why.\n")
    write(folder, "recommendations.md", "1. One.\n")
    write(folder, "theme-a.one.md", "Not top level.\n")
    write(folder, "notes.md", "Not a section.\n")
    rules = sorted(
        (f.severity, f.rule) for f in check_narrative(folder, "summary-of-evidence", codebook)
    )
    assert rules == [("error", "narrative_unknown_theme"), ("warning", "narrative_unused")]


def test_a_missing_folder_is_an_error(tmp_path, codebook):
    findings = check_narrative(tmp_path / "nowhere", "strategic-briefing", codebook)
    assert [f.rule for f in findings] == ["narrative_missing"]


def test_fill_replaces_names_and_keeps_numbers_at_line_start_as_prose():
    figures = {"n:a": "9", "n_studies": "46"}
    text = "- item\n  ({{n:a}}) recur\n{{n_studies}}. records\n1. a real list\nmid ({{n:a}})"
    assert fill(text, figures) == ("- item\n  \\(9) recur\n46\\. records\n1. a real list\nmid (9)")
