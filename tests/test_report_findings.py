"""The report's findings (issue 12, build item 7): summary-of-findings tables, findings in the
theme sections, key messages led by the findings, the appraisal plots, the findings-stage
warnings, and the live figures {{certainty:ID}}, {{statement:ID}} and {{studies:ID}}.

The report computes nothing: the findings tables here are written by hand (the findings
stage's own columns, values chosen to tell the cases apart) beside the tiny review's real
tallies and outcomes, and every test reads the partials or the rendered pages back.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, TINY
from evsynth.codebook import load_codebook
from evsynth.handoff import write_typed
from evsynth.narrative import check_narrative, run_check_narrative
from evsynth.prisma import run_prisma
from evsynth.render import RenderPaths, run_render
from evsynth.report import ReportInputs, ReviewResults, build_partials, live_figures
from evsynth.review_findings import QUALITATIVE_FINDINGS_COLUMNS, SUMMARY_OF_FINDINGS_COLUMNS
from evsynth.tables import write_table
from evsynth.tally import run_agreement, run_tally
from evsynth.validate import run_validate
from pdf_text import page_texts
from stage_paths import meta_settings, outcomes_paths, tally_paths, validation_paths

CODEBOOK = TINY / "codebook.yaml"
HOSTILE = '*bold* <script>alert(2)</script> {{k:x}} $x$ @cite #read("/etc/passwd") [a](http://x)'

#: GRADE's symbols for its four levels, as GRADE summary-of-findings tables print them
#: (GRADE handbook 5.1 and its SoF table examples; GRADEpro): ⊕ per level, ◯ for each below high.
GRADE_SYMBOLS = {
    "High": "⊕⊕⊕⊕",
    "Moderate": "⊕⊕⊕◯",
    "Low": "⊕⊕◯◯",
    "Very low": "⊕◯◯◯",
}

# Four effect findings, one per certainty level. ro-all's prediction interval holds 1 (no
# effect for a ratio) but not 0; wb-smd's holds 0 (no effect for a difference) but not 1;
# ro-trials' holds neither; wb-votes is a vote count.
EFFECT_ROWS = [
    {
        "finding_id": "ro-all",
        "outcome": "reoffending",
        "label": "Re-offending",
        "k": 3,
        "participants": 450,
        "participants_k": 3,
        "synthesis": "meta_analysis",
        "effect_measure": "rr",
        "method": "REML",
        "estimate": 0.80,
        "ci_lower": 0.66,
        "ci_upper": 0.97,
        "pi_lower": 0.55,
        "pi_upper": 1.16,
        "ci_crosses_no_effect": "false",
        "pi_crosses_no_effect": "true",
        "i2": 40.0,
        "certainty": "low",
        "plain_language": "Group programmes may reduce re-offending.",
        "statement": "Fewer re-offended after a group programme.",
        "explanation": "Starts low: one study is not randomised (T3).",
        "study_ids": "T1;T3;T4",
    },
    {
        "finding_id": "ro-trials",
        "outcome": "reoffending",
        "label": "Re-offending",
        "k": 2,
        "participants": 300,
        "participants_k": 2,
        "synthesis": "meta_analysis",
        "effect_measure": "rr",
        "method": "REML",
        "estimate": 0.75,
        "ci_lower": 0.62,
        "ci_upper": 0.88,
        "pi_lower": 0.60,
        "pi_upper": 0.90,
        "ci_crosses_no_effect": "false",
        "pi_crosses_no_effect": "false",
        "i2": 0.0,
        "certainty": "high",
        "plain_language": "Group programmes reduce re-offending.",
        "statement": "In the trials, fewer re-offended.",
        "explanation": "Two trials at low risk of bias.",
        "study_ids": "T1;T4",
    },
    {
        "finding_id": "wb-smd",
        "outcome": "wellbeing",
        "label": "Wellbeing",
        "k": 3,
        "participants": 120,
        "participants_k": 2,
        "synthesis": "meta_analysis",
        "effect_measure": "smd",
        "method": "REML",
        "estimate": 0.30,
        "ci_lower": 0.10,
        "ci_upper": 0.50,
        "pi_lower": -0.10,
        "pi_upper": 0.70,
        "ci_crosses_no_effect": "false",
        "pi_crosses_no_effect": "true",
        "i2": 30.0,
        "certainty": "moderate",
        "plain_language": "Group programmes likely improve wellbeing.",
        "statement": "Wellbeing was better.",
        "explanation": "Inconsistency: one study differs.",
        "study_ids": "T2;T4;T5",
    },
    {
        "finding_id": "wb-votes",
        "outcome": "wellbeing",
        "label": "Wellbeing",
        "k": 3,
        "participants": 0,
        "participants_k": 0,
        "synthesis": "vote_count",
        "n_benefit": 2,
        "n_harm": 0,
        "n_no_effect": 1,
        "n_mixed": 0,
        "n_unclear": 0,
        "n_not_voting": 1,
        "sign_test_p": 0.5,
        "certainty": "very_low",
        "plain_language": "The evidence is very uncertain about the effect of group "
        "programmes on wellbeing.",
        "statement": "Most studies found wellbeing better.",
        "explanation": "Direction of effect only.",
        "study_ids": "T1;T2;T5",
    },
]
QUALITATIVE_ROWS = [
    {
        "finding_id": "qa",
        "theme": "a.one",  # under the top-level theme a
        "label": "A one",
        "study_ids": "T2;T3;T5",
        "k": 3,
        "confidence": "moderate",
        "explanation": "Minor concerns about coherence.",
        "statement": "Men valued facilitators from their own community.",
        "plain_language": "Men valued facilitators from their own community. It is likely "
        "that the review finding is a reasonable representation of the phenomenon of "
        "interest.",
    },
    {
        "finding_id": "qb",
        "theme": "b",
        "label": "Theme B",
        "study_ids": "T2",
        "k": 1,
        "confidence": "very_low",
        "explanation": "Serious concerns about adequacy: one study.",
        "statement": "Fathers wanted to be asked.",
        "plain_language": "Fathers wanted to be asked. It is not clear whether the review "
        "finding is a reasonable representation of the phenomenon of interest.",
    },
]
WARNING_COLUMNS = ["severity", "sheet", "row", "column", "value", "rule", "message"]
APPRAISAL_COLUMNS = [
    "tool",
    "tool_label",
    "domain",
    "domain_label",
    "judgement",
    "judgement_label",
    "level",
    "n_studies",
    "n_appraised",
    "pct_studies",
    "pct_weight",
    "study_ids",
]


def table(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c, "") for c in columns} for r in rows], columns=columns)


def write_findings(
    folder: Path,
    effect: list[dict],
    qualitative: list[dict],
    n_warnings: int,
    appraised: bool,
) -> dict[str, Path]:
    """The findings and appraisal stages' tables, as they write them, in ``folder``."""
    paths = {
        "sof": folder / "findings/summary_of_findings.csv",
        "qual": folder / "findings/qualitative_findings.csv",
        "warnings": folder / "findings/warnings.csv",
        "appraisal": folder / "appraisal/summary.csv",
    }
    write_table(table(effect, SUMMARY_OF_FINDINGS_COLUMNS), paths["sof"])
    write_table(table(qualitative, QUALITATIVE_FINDINGS_COLUMNS), paths["qual"])
    warnings = [
        {
            "severity": "warning",
            "sheet": "findings",
            "row": i + 2,
            "column": "imprecision",
            "value": "serious",
            "rule": "finding_signal",
            "message": f"finding {i}: check",
        }
        for i in range(n_warnings)
    ]
    write_table(table(warnings, WARNING_COLUMNS), paths["warnings"])
    appraisal = (
        [
            {
                "tool": "rob2",
                "tool_label": "RoB 2 (randomised trials)",
                "domain": "overall",
                "domain_label": "Overall",
                "judgement": "low",
                "judgement_label": "Low risk",
                "level": "good",
                "n_studies": 2,
                "n_appraised": 2,
                "pct_studies": 100,
                "pct_weight": 100,
                "study_ids": "T1;T4",
            }
        ]
        if appraised
        else []
    )
    write_table(table(appraisal, APPRAISAL_COLUMNS), paths["appraisal"])
    return paths


@pytest.fixture(scope="session")  # kept to the end: xdist may run other modules in between
def tiny_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny review's real clean tables, tallies, outcomes and figures (no findings)."""
    from evsynth.outcomes import run_outcomes

    out = tmp_path_factory.mktemp("results")
    clean = out / "clean"
    assert not run_validate(
        TINY / "sheets", CODEBOOK, validation_paths(out / "validation", clean)
    ).errors
    run_tally(
        clean / "studies.parquet",
        clean / "codes.parquet",
        CODEBOOK,
        "union",
        tally_paths(out / "tallies", out / "figures"),
    )
    run_agreement(
        clean / "codes.parquet",
        CODEBOOK,
        out / "tallies/agreement.csv",
        out / "tallies/disagreements.csv",
    )
    run_outcomes(
        clean / "studies.parquet",
        clean / "outcomes.parquet",
        clean / "codes.parquet",
        CODEBOOK,
        meta_settings(),
        "union",
        outcomes_paths(out / "outcomes", out / "figures"),
    )
    run_prisma(clean / "screening.parquet", out / "figures/prisma")
    return out


def inputs(results: Path, findings: dict[str, Path] | None) -> ReportInputs:
    return ReportInputs(
        codebook=CODEBOOK,
        studies=results / "clean/studies.parquet",
        screening=results / "clean/screening.parquet",
        themes=results / "tallies/themes.csv",
        characteristics=results / "tallies/characteristics.csv",
        direction=results / "outcomes/direction.csv",
        meta_analysis=results / "outcomes/meta_analysis.csv",
        agreement=results / "tallies/agreement.csv",
        validation_summary=results / "validation/summary.json",
        summary_of_findings=findings["sof"] if findings else None,
        qualitative_findings=findings["qual"] if findings else None,
        findings_warnings=findings["warnings"] if findings else None,
        appraisal_summary=findings["appraisal"] if findings else None,
    )


def settings(report_format: str) -> dict:
    return {
        "title": "t",
        "report": report_format,
        "narrative": "",
        "illustrative": False,
        "subtitle": "",
        "organisation": "",
    }


def partials(results: Path, findings: dict[str, Path] | None, fmt: str) -> dict[str, str]:
    res = ReviewResults.load(inputs(results, findings))
    return build_partials(res, settings(fmt), fmt, None, meta_settings())


@pytest.fixture
def with_findings(tiny_results: Path, tmp_path: Path) -> dict[str, Path]:
    return write_findings(tmp_path, EFFECT_ROWS, QUALITATIVE_ROWS, n_warnings=2, appraised=True)


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ")][1:]  # no header


def test_summary_of_findings_rows_carry_grade_symbols_effects_and_study_ids(
    tiny_results: Path, with_findings: dict[str, Path]
):
    text = partials(tiny_results, with_findings, "summary-of-evidence")["summary-of-findings.md"]
    assert text.startswith("## Summary of findings")
    rows = table_rows(text.split("### Qualitative findings")[0])
    assert len(rows) == 4  # one per effect finding, in the table's order
    ro_all, ro_trials, wb_smd, wb_votes = rows
    assert f"| {GRADE_SYMBOLS['Low']} Low^a^ |" in ro_all
    assert f"| {GRADE_SYMBOLS['High']} High^b^ |" in ro_trials
    assert f"| {GRADE_SYMBOLS['Moderate']} Moderate^c^ |" in wb_smd
    assert f"| {GRADE_SYMBOLS['Very low']} Very low^d^ |" in wb_votes
    assert "| 3 (450) | RR 0.80 (95% CI 0.66 to 0.97); 95% PI 0.55 to 1.16 |" in ro_all
    assert ro_all.endswith("| T1\\, T3\\, T4 |")
    assert "| 3 (120 in 2) | SMD 0.30 (95% CI 0.10 to 0.50); 95% PI -0.10 to 0.70 |" in wb_smd
    assert (
        "benefit 2, harm 0 (no effect 1); sign test p = 0.500; 1 not counted "
        "(design does not vote)" in wb_votes
    )
    assert "| 3 (n not reported) |" in wb_votes
    assert "Group programmes may reduce re\\-offending\\." in ro_all
    # The explanations are the lettered notes under the table, with the lead's statement.
    assert (
        "a. **Re\\-offending** (ro\\-all). *The finding:* Fewer re\\-offended after a group "
        "programme\\. *Certainty:* Starts low\\: one study is not randomised \\(T3\\)\\." in text
    )
    assert "d. **Wellbeing** (wb\\-votes)." in text


def test_qualitative_findings_table_and_the_theme_sections(
    tiny_results: Path, with_findings: dict[str, Path]
):
    built = partials(tiny_results, with_findings, "summary-of-evidence")
    qual = table_rows(built["summary-of-findings.md"].split("### Qualitative findings")[1])
    assert qual == [
        "| Men valued facilitators from their own community\\. | Moderate | Minor concerns "
        "about coherence\\. | T2\\, T3\\, T5 |",
        "| Fathers wanted to be asked\\. | Very low | Serious concerns about adequacy\\: one "
        "study\\. | T2 |",
    ]
    # Each qualitative finding sits in the section of its top-level theme.
    key = built["key-findings.md"]
    theme_a, theme_b = key.split("### Theme A")[1].split("### Theme B")
    assert "Men valued facilitators" in theme_a and "Fathers wanted" not in theme_a
    assert "Fathers wanted to be asked\\. *Very low confidence; 1 study: T2.*" in theme_b
    assert "*Moderate confidence; 3 studies: T2, T3 and T5.*" in theme_a


def test_key_messages_lead_with_findings_and_flag_prediction_intervals_holding_no_effect(
    tiny_results: Path, with_findings: dict[str, Path]
):
    """Key messages in plain language (issue 13): the GRADE 26 statement, what the interval
    means in words, the certainty and the studies; no estimate or interval is quoted."""
    built = partials(tiny_results, with_findings, "strategic-briefing")
    lines = [
        line for line in built["key-message-findings.md"].splitlines() if line.startswith("- ")
    ]
    assert len(lines) == 4
    crosses = "in a new setting the work may make no difference"
    ro_all, ro_trials, wb_smd, wb_votes = lines
    # No effect is 1 for a ratio and 0 for a difference.
    assert crosses in ro_all and crosses in wb_smd
    assert crosses not in ro_trials and crosses not in wb_votes
    assert "it is likely to hold in a new setting" in ro_trials
    assert ro_all.startswith("- **Re\\-offending.** Group programmes may reduce re\\-offending\\.")
    assert ro_all.endswith("*How sure we are: low certainty ⊕⊕◯◯; 3 studies: T1, T3 and T4.*")
    assert "Of the 2 studies counted, 2 found benefit and none found harm" in wb_votes
    for line in lines:  # the estimates are in the summary of findings, not the key messages
        assert not re.search(r"\b(RR|SMD|CI)\b|0\.\d", line), line
    briefing = (REPO / "reports/strategic-briefing.qmd").read_text("utf-8")
    callout = briefing.split('title="Key messages"}')[1].split(":::")[0]
    assert callout.index("key-message-findings.md") < callout.index("narrative/key-messages.md")


@pytest.mark.parametrize(
    "ci, pi, reading",
    [
        ("true", "true", "also compatible with no difference"),
        ("false", "true", "in a new setting the work may make no difference"),
        ("false", "false", "likely to hold in a new setting"),
        # Two studies give no prediction interval (metafor's predict() needs k >= 3 here).
        ("false", "", "too few to tell whether it holds in other settings"),
    ],
)
def test_effect_reading_says_plainly_which_interval_holds_no_effect(ci, pi, reading):
    from evsynth.report import effect_reading

    row = pd.Series(
        {"synthesis": "meta_analysis", "ci_crosses_no_effect": ci, "pi_crosses_no_effect": pi}
    )
    assert reading in effect_reading(row)


def test_appraisal_section_and_findings_warnings_line(
    tiny_results: Path, with_findings: dict[str, Path]
):
    built = partials(tiny_results, with_findings, "summary-of-evidence")
    appraisal = built["appraisal.md"]
    assert appraisal.startswith("## Quality of the evidence")
    assert "(RoB 2 \\(randomised trials\\): 2 studies)" in appraisal
    for name in ("appraisal_traffic_light", "appraisal_summary"):
        figure = next(line for line in appraisal.splitlines() if f"figures/{name}.svg" in line)
        assert re.search(r'fig-alt="[^"]{40,}"', figure), figure
        assert figure.startswith("![") and "](" in figure
    audit = built["appendices.md"]
    assert "**Findings checks.** 2 warnings from the findings stage" in audit
    assert "`findings/warnings.csv`" in audit
    assert "**Certainty of the findings.** Effect findings are rated with GRADE" in audit
    no_warnings = write_findings(
        with_findings["sof"].parent.parent / "quiet", EFFECT_ROWS, [], 0, appraised=False
    )
    quiet = partials(tiny_results, no_warnings, "summary-of-evidence")
    assert "Every check the pipeline ran beside" in quiet["appendices.md"]
    assert quiet["appraisal.md"] == ""
    assert "### Qualitative findings" not in quiet["summary-of-findings.md"]


@pytest.mark.parametrize("given", ["empty tables", "no tables"])
def test_a_review_without_findings_or_appraisal_has_no_such_sections(
    tiny_results: Path, tmp_path: Path, given: str
):
    # The workflow writes the tables with a header and no rows; a caller without the
    # stages gives none.
    findings = write_findings(tmp_path, [], [], 0, False) if given == "empty tables" else None
    for fmt in ("summary-of-evidence", "strategic-briefing"):
        built = partials(tiny_results, findings, fmt)
        assert built["summary-of-findings.md"] == ""
        assert built["key-message-findings.md"] == ""
        assert built["appraisal.md"] == ""
        assert "GRADE" not in built["key-findings.md"]
        assert "Findings checks" not in built["appendices.md"]
        assert "Certainty of the findings" not in built["appendices.md"]
        assert "|" not in "".join(built[k] for k in ("summary-of-findings.md", "appraisal.md"))


def test_finding_live_figures_resolve(tiny_results: Path, with_findings: dict[str, Path]):
    figures = live_figures(ReviewResults.load(inputs(tiny_results, with_findings)))
    assert figures["certainty:ro-all"] == "low"
    assert figures["certainty:wb-votes"] == "very low"
    assert figures["certainty:qa"] == "moderate"  # a CERQual confidence
    assert figures["statement:ro-trials"] == "Group programmes reduce re\\-offending\\."
    assert figures["studies:ro-all"] == "T1, T3 and T4"
    assert figures["studies:ro-trials"] == "T1 and T4"
    assert figures["studies:qb"] == "T2"


def narrative_folder(tmp_path: Path, line: str) -> Path:
    folder = tmp_path / "narrative"
    folder.mkdir()
    (folder / "why.md").write_text("Why.\n\nSecond line.\n" + line + "\n", "utf-8")
    (folder / "recommendations.md").write_text("Do.\n", "utf-8")
    return folder


def typed_findings(tmp_path: Path, ids: list[str]) -> Path:
    """clean/findings.parquet as validation writes it (only the column the check reads)."""
    path = tmp_path / "clean/findings.parquet"
    write_typed(pd.DataFrame({"finding_id": ids}), path, {})
    return path


@pytest.mark.parametrize(
    "line, problem",
    [
        ("Certainty is {{certainty:ro-all}}; {{statement:qa}} ({{studies:ro-all}}).", None),
        ("Certainty is {{certainty:ro-al}}.", "'ro-al' is not a finding_id"),
        ("Studies: {{studies}}.", "'studies' needs one finding ID"),
        ("Said {{statement:ro-all:x}}.", "'statement' needs one finding ID"),
    ],
)
def test_finding_live_figures_are_checked_against_the_findings_sheet(
    tmp_path: Path, line: str, problem: str | None
):
    folder = narrative_folder(tmp_path, line)
    issues = tmp_path / "narrative_issues.csv"
    run_check_narrative(
        folder, "summary-of-evidence", CODEBOOK, issues, typed_findings(tmp_path, ["ro-all", "qa"])
    )
    found = pd.read_csv(issues, dtype=str, keep_default_na=False)
    if problem is None:
        assert found.empty, found.to_dict("records")
        return
    assert len(found) == 1, found.to_dict("records")
    issue = found.iloc[0]
    assert (issue["severity"], issue["rule"], issue["row"]) == ("error", "live_figure", "4")
    assert issue["column"] == str(folder / "why.md")
    assert problem in issue["message"]


def test_without_a_findings_sheet_no_finding_can_be_named(tmp_path: Path):
    folder = narrative_folder(tmp_path, "It is {{certainty:ro-all}}.")
    found = check_narrative(folder, "summary-of-evidence", load_codebook(CODEBOOK))
    assert [(f.rule, f.row) for f in found] == [("live_figure", 4)]
    empty = tmp_path / "empty"
    empty.mkdir()
    issues = tmp_path / "issues.csv"
    run_check_narrative(folder, "summary-of-evidence", CODEBOOK, issues, typed_findings(empty, []))
    assert "'ro-all' is not a finding_id" in issues.read_text("utf-8")


def test_hostile_finding_text_prints_literally_in_html_and_pdf(tiny_results: Path, tmp_path: Path):
    """Statements, explanations and plain-language sentences are sheet text: data, never
    markup, in the tables, the notes, the theme sections and the key messages."""
    effect = [{**EFFECT_ROWS[0], "statement": HOSTILE, "plain_language": HOSTILE}]
    qualitative = [{**QUALITATIVE_ROWS[0], "statement": HOSTILE, "explanation": HOSTILE}]
    findings = write_findings(tmp_path / "r", effect, qualitative, 1, appraised=False)
    issues = tmp_path / "narrative_issues.csv"
    issues.write_text("severity,sheet,row,column,value,rule,message\n", "utf-8")
    out = tmp_path / "report"
    run_render(
        review="tiny",
        settings=settings("summary-of-evidence"),
        analysis=meta_settings(),
        inputs=inputs(tiny_results, findings),
        reports_dir=REPO / "reports",
        out=RenderPaths(
            narrative_issues=issues,
            figures=tuple(sorted((tiny_results / "figures").glob("*.*"))),
            source_dir=out / "source",
            html=out / "summary-of-evidence.html",
            pdf=out / "summary-of-evidence.pdf",
            docx=out / "summary-of-evidence.docx",
        ),
    )
    raw = (out / "summary-of-evidence.html").read_text("utf-8")
    assert "<script>alert(2)" not in raw and "<em>bold</em>" not in raw
    page = " ".join(html.unescape(raw).split())  # pandoc wraps lines
    # The key findings box (both findings), the theme section, the plain evidence table, and
    # in the appendix the SoF table and its note and the qualitative table (statement and
    # explanation).
    assert page.count(HOSTILE) == 8, page.count(HOSTILE)
    assert 'href="http://x"' not in page
    pdf = "".join("".join(page_texts(out / "summary-of-evidence.pdf")).split())
    assert pdf.count("".join(HOSTILE.split())) == 8  # table cells wrap: compare unspaced
    assert "Summaryoffindings" in pdf and "Effectfindings(GRADE)" in pdf
    # The Word file prints it literally too, in the table cells as in the prose.
    from docx import Document

    document = Document(str(out / "summary-of-evidence.docx"))
    cells = [c.text for table in document.tables for row in table.rows for c in row.cells]
    words = "".join("".join([*(p.text for p in document.paragraphs), *cells]).split())
    assert words.count("".join(HOSTILE.split())) == 8, words.count("".join(HOSTILE.split()))
