"""The narrative rules the mutation check (tools/mutate.py) found unpinned: which sections
each report format requires (README, "Narrative sections"), and live-figure shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from evsynth.codebook import load_codebook
from evsynth.narrative import check_narrative

TINY = Path(__file__).parent / "data" / "tiny"

#: The README's table: format -> (required sections, optional sections).
SECTIONS = {
    "summary-of-evidence": (
        ["why", "recommendations"],
        ["caveats", "outcomes", "limitations", "theme-a"],
    ),
    "strategic-briefing": (
        ["key-messages", "context", "implications", "reflective-questions"],
        ["further-reading", "outcomes", "theme-b"],
    ),
    "evidence-review": (
        ["introduction", "conclusion"],
        ["definitions", "outcomes", "limitations", "theme-a"],
    ),
}


@pytest.fixture
def codebook():
    return load_codebook(TINY / "codebook.yaml")


@pytest.mark.parametrize("report_format", sorted(SECTIONS))
def test_every_required_section_missing_is_an_error_naming_its_file(
    tmp_path, codebook, report_format
):
    required, _ = SECTIONS[report_format]
    folder = tmp_path / "narrative"
    folder.mkdir()
    findings = check_narrative(folder, report_format, codebook)
    assert sorted((f.severity, f.rule, f.column) for f in findings) == sorted(
        ("error", "narrative_section_missing", str(folder / f"{name}.md")) for name in required
    )


@pytest.mark.parametrize("report_format", sorted(SECTIONS))
def test_required_sections_alone_are_enough_and_optional_ones_are_sections(
    tmp_path, codebook, report_format
):
    required, optional = SECTIONS[report_format]
    folder = tmp_path / "narrative"
    folder.mkdir()
    for name in required:
        (folder / f"{name}.md").write_text("Text.\n", encoding="utf-8")
    assert check_narrative(folder, report_format, codebook) == []
    for name in optional:  # shown when present: neither an error nor "not a section"
        (folder / f"{name}.md").write_text("Text.\n", encoding="utf-8")
    assert check_narrative(folder, report_format, codebook) == []


def test_a_theme_section_must_be_a_top_level_theme(tmp_path, codebook):
    folder = tmp_path / "narrative"
    folder.mkdir()
    for name in ("why", "recommendations", "theme-a", "theme-b", "theme-a.two"):
        (folder / f"{name}.md").write_text("Text.\n", encoding="utf-8")
    findings = check_narrative(folder, "summary-of-evidence", codebook)
    assert [(f.rule, f.column, f.value) for f in findings] == [
        ("narrative_unknown_theme", str(folder / "theme-a.two.md"), "a.two")
    ]
    assert findings[0].message == "'a.two' is not a top-level theme code (a, b)"


@pytest.mark.parametrize("name", ["{{pooled:reoffending}}", "{{pooled:reoffending:rr:extra}}"])
def test_a_pooled_figure_takes_exactly_an_outcome_and_a_measure(tmp_path, codebook, name):
    folder = tmp_path / "narrative"
    folder.mkdir()
    (folder / "why.md").write_text(f"Pooled: {name}.\n", encoding="utf-8")
    (folder / "recommendations.md").write_text("{{pooled:reoffending:rr}}\n", encoding="utf-8")
    findings = check_narrative(folder, "summary-of-evidence", codebook)
    assert [(f.rule, f.row, f.column) for f in findings] == [
        ("live_figure", 1, str(folder / "why.md"))
    ]
    assert "'pooled' needs an outcome and a measure" in findings[0].message
