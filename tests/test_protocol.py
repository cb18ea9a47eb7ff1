"""The review's protocol block as methods in plain words, the draft it leaves when missing, and
``report`` as one format or a list (config schema, narrative check, run summary)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from snakemake.exceptions import WorkflowError

from conftest import HOSTILE_TEXTS, TINY
from evsynth.codebook import load_codebook
from evsynth.narrative import SECTIONS, check_narrative, report_formats
from evsynth.protocol import (
    REQUIRED_ITEMS,
    Protocol,
    draft_notice,
    is_draft,
    methods_full,
    methods_short,
    protocol_partials,
    swim_items,
)
from evsynth.render import pandoc_path
from evsynth.report import FORMAT_LABELS, metadata
from evsynth.run import CONFIG_SCHEMA, config_problems, report_paths
from stage_paths import config_with_defaults

BLOCK = {
    "question": "What helps fathers who cause harm to change?",
    "include": ["Evaluates work with fathers", "Published 2004 or later"],
    "exclude": ["Victim-survivor services only"],
    "sources": ["ASSIA", "Social Care Online"],
    "search_dates": "October 2020",
    "screening": "Two reviewers screened every full text.",
    "appraisal": "RoB 2 and CASP.",
    "synthesis": "Thematic synthesis and vote counting.",
}


def settings(**protocol: object) -> dict:
    base = {"title": "T", "report": "evidence-review", "narrative": "n/"}
    return {**base, "protocol": protocol} if protocol else base


def plain(markdown: str) -> str:
    """What a reader sees: the Markdown through Pandoc to plain text, on one line."""
    done = subprocess.run(
        [pandoc_path(), "-f", "markdown", "-t", "plain", "--wrap=none"],
        input=markdown,
        capture_output=True,
        text=True,
        check=True,
    )
    return " ".join(done.stdout.split())


def test_methods_give_every_protocol_item_in_order():
    text = plain(methods_full(Protocol.from_settings(settings(**BLOCK))))
    expected = [
        "Review question. What helps fathers who cause harm to change?",
        "A study was included if it met all of these:",
        "Evaluates work with fathers",
        "Published 2004 or later",
        "A study was excluded if any of these applied:",
        "Victim-survivor services only",
        "Where we searched.",
        "ASSIA",
        "Social Care Online",
        "When we searched. October 2020",
        "How we screened records. Two reviewers screened every full text.",
        "How we appraised the studies. RoB 2 and CASP.",
        "How we brought the findings together. Thematic synthesis and vote counting.",
    ]
    positions = [text.find(part) for part in expected]
    assert -1 not in positions, [p for p, i in zip(expected, positions, strict=True) if i < 0]
    assert positions == sorted(positions)
    assert "Not yet stated" not in text


def test_short_methods_name_the_question_sources_and_dates():
    text = plain(methods_short(Protocol.from_settings(settings(**BLOCK))))
    assert "Review question: What helps fathers who cause harm to change?" in text
    assert "Searched: ASSIA; Social Care Online, October 2020" in text
    assert "Included: Evaluates work with fathers; Published 2004 or later" in text


@pytest.mark.parametrize("hostile", HOSTILE_TEXTS)
def test_protocol_text_prints_literally(hostile: str):
    block = {key: hostile if isinstance(v, str) else [hostile] for key, v in BLOCK.items()}
    partials = protocol_partials(settings(**block), "REML", "rated low quality")
    for name in ("methods.md", "methods-short.md"):
        text = plain(partials[name])
        # Every item holds the hostile text; each is printed as typed, none became markup.
        expected = len(REQUIRED_ITEMS) + 1 if name == "methods.md" else 4
        assert text.count(hostile) == expected, (name, text)


def test_a_line_break_in_config_text_cannot_start_a_heading_or_list():
    block = {**BLOCK, "question": "Why?\n# Heading\n- item"}
    text = methods_full(Protocol.from_settings(settings(**block)))
    assert "\n#" not in text and "\n- item" not in text
    assert "Why\\? \\# Heading \\- item" in text


def test_no_protocol_is_a_draft_naming_every_missing_item():
    missing = settings()
    assert is_draft(missing)
    notice = draft_notice(missing)
    assert 'title="Draft: no review protocol"' in notice
    for words in REQUIRED_ITEMS.values():
        assert words in notice, words
    assert "Draft" in methods_full(None) and "`protocol` block" in methods_full(None)
    assert "Draft" in methods_short(None)
    assert metadata(missing, "evidence-review")["draft"] is True


def test_an_incomplete_protocol_is_a_draft_naming_only_what_is_missing():
    partial = settings(question="Q?", include=["A"], sources=["B"])
    notice = plain(draft_notice(partial))
    assert "does not yet state the search dates, how records were screened, how studies were " in (
        notice
    )
    assert "appraised and how the findings were synthesised." in notice
    assert "review question" not in notice and "sources searched" not in notice
    methods = plain(methods_full(Protocol.from_settings(partial)))
    assert methods.count("Not yet stated") == 4
    assert metadata(partial, "evidence-review")["draft"] is True


def test_a_complete_protocol_is_not_a_draft():
    complete = settings(**BLOCK)
    assert not is_draft(complete)
    assert draft_notice(complete) == ""
    # Exclusion criteria are optional: a review may exclude only what fails inclusion.
    assert not is_draft(settings(**{k: v for k, v in BLOCK.items() if k != "exclude"}))


def test_blank_items_count_as_missing():
    blank = settings(**{**BLOCK, "screening": "   ", "sources": [" "]})
    notice = draft_notice(blank)
    assert "how records were screened" in notice and "the sources searched" in notice


def test_swim_covers_its_nine_items_with_the_configured_estimator():
    text = plain(swim_items("DerSimonian–Laird", "rated low or moderate quality"))
    for item in (
        "Grouping studies",
        "Standardised metric",
        "Synthesis method",
        "Prioritising results",
        "Heterogeneity",
        "Certainty of evidence",
        "Data presentation",
        "Reporting results",
        "Limitations",
    ):
        assert item in text, item
    assert "random-effects meta-analysis (DerSimonian–Laird)" in text
    assert "leaving out studies rated low or moderate quality" in text


# --- `report` as one format or a list --------------------------------------------------------


def review(**over: object) -> dict:
    return {"reviews": {"x": {"title": "t", "sheets": "s", "codebook": "c", **over}}}


@pytest.mark.parametrize(
    "report",
    ["evidence-review", ["evidence-review"], ["evidence-review", "strategic-briefing"]],
)
def test_config_schema_takes_one_format_or_a_list(report):
    config_with_defaults(review(report=report))


@pytest.mark.parametrize(
    "report",
    [[], ["evidence-review", "evidence-review"], ["evidence-review", "briefing"], "review"],
)
def test_config_schema_refuses_an_empty_repeated_or_unknown_format(report):
    with pytest.raises(WorkflowError):
        config_with_defaults(review(report=report))


def test_config_schema_checks_the_protocol_block():
    config_with_defaults(review(report="evidence-review", protocol=BLOCK))
    for bad in ({**BLOCK, "questoin": "typo"}, {"include": ["A"]}, {**BLOCK, "include": "A"}):
        with pytest.raises(WorkflowError):
            config_with_defaults(review(report="evidence-review", protocol=bad))


def test_every_format_has_a_label_and_sections_and_a_source():
    assert set(FORMAT_LABELS) == set(SECTIONS)
    for fmt in SECTIONS:
        assert (TINY.parent.parent.parent / "reports" / f"{fmt}.qmd").is_file(), fmt


def test_report_formats_keep_the_config_order_once_each():
    assert report_formats("strategic-briefing") == ["strategic-briefing"]
    assert report_formats(["evidence-review", "strategic-briefing", "evidence-review"]) == [
        "evidence-review",
        "strategic-briefing",
    ]


def test_run_summary_lists_every_format_s_files(tmp_path: Path):
    paths = report_paths(tmp_path, "r", ["evidence-review", "strategic-briefing"])
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        f"r/report/{fmt}.{ext}"
        for fmt in ("evidence-review", "strategic-briefing")
        for ext in ("html", "pdf", "docx")
    ]


def test_one_narrative_folder_serves_every_format_of_a_list(tmp_path: Path):
    codebook = load_codebook(TINY / "codebook.yaml")
    folder = tmp_path / "narrative"
    folder.mkdir()
    formats = ["evidence-review", "strategic-briefing"]
    missing = check_narrative(folder, formats, codebook)
    required = sorted({name for fmt in formats for name, needed in SECTIONS[fmt].items() if needed})
    assert sorted(Path(f.column).stem for f in missing) == required
    assert all(f.rule == "narrative_section_missing" for f in missing)
    for name in required + ["further-reading", "limitations"]:  # one optional of each format
        (folder / f"{name}.md").write_text("Text.\n", encoding="utf-8")
    assert check_narrative(folder, formats, codebook) == []
    (folder / "why.md").write_text("Text.\n", encoding="utf-8")  # the summary's, not shown
    unused = check_narrative(folder, formats, codebook)
    assert [(f.rule, f.message) for f in unused] == [
        (
            "narrative_unused",
            "not a section of the evidence-review or the strategic-briefing; not shown",
        )
    ]


@pytest.mark.parametrize(
    "report, problem",
    [
        ("summary", "reviews.x.report: 'summary' is not one of"),
        (["evidence-review", "briefing"], "reviews.x.report.1: 'briefing' is not one of"),
        ([], "reviews.x.report: [] should be non-empty"),
        (
            ["evidence-review", "evidence-review"],
            "reviews.x.report: ['evidence-review', 'evidence-review'] has non-unique",
        ),
    ],
)
def test_make_run_names_what_is_wrong_with_report(report, problem):
    problems = config_problems(review(report=report), CONFIG_SCHEMA)
    assert len(problems) == 1 and problem in problems[0], problems
