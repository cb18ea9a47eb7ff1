"""The lead's narrative: one Markdown file per report section, with live figures.

A live figure is written ``{{name}}`` or ``{{kind:code}}`` in the prose and replaced by the
current number when the report is rendered, so prose and numbers cannot drift apart. The
names (listed in the README) are:

=============================  =========================================================
``{{n_studies}}``              included studies
``{{n_academic}}``             academic records; ``{{n_grey}}`` grey-literature records
``{{pct_academic}}``           share of academic records; ``{{pct_grey}}`` likewise
``{{year_min}}``               earliest publication year; ``{{year_max}}`` the latest
``{{n_countries}}``            distinct countries
``{{n_outcomes}}``             outcomes with at least one study
``{{n:THEME}}``                studies coded with THEME (rolled up the tree)
``{{pct:THEME}}``              the same as a percentage of included studies (``43%``)
``{{label:THEME}}``            the theme's label
``{{k:OUTCOME}}``              studies in OUTCOME's direction count (designs that vote)
``{{benefit:OUTCOME}}``        of those, studies showing benefit
``{{sign_p:OUTCOME}}``         the sign test's p value for OUTCOME
``{{pooled:OUTCOME:MEASURE}}`` pooled estimate with 95% CI, e.g. ``0.74 (95% CI 0.61 to 0.90)``
``{{certainty:FINDING}}``      the finding's GRADE certainty or CERQual confidence (``low``)
``{{statement:FINDING}}``      the finding's plain-language statement
``{{studies:FINDING}}``        the finding's study IDs, e.g. ``FA03, FA07 and FA15``
=============================  =========================================================

FINDING is a ``finding_id`` of the review's findings sheet.

An unknown name is a validation finding (file and line), never a blank in the report.
What markup the prose may hold (no raw HTML; includes only from the narrative folder) is
checked by :mod:`evsynth.narrative_markup`.

Narrative findings go to ``narrative_issues.csv`` with the file's path in ``column`` and the
line in ``row``, so they read "reports/narrative/x/why.md, line 5: ..." wherever a person
sees them (:meth:`evsynth.findings.Finding.location`).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from evsynth.codebook import Codebook
from evsynth.contract import EFFECT_MEASURES
from evsynth.findings import Finding
from evsynth.narrative_markup import (
    MAX_NARRATIVE_BYTES,
    capped,
    markup_findings,
    outside_folder,
)

SHEET = "narrative"
# Codes hold letters, digits, "_" and "."; finding IDs may also hold "-".
LIVE_FIGURE = re.compile(r"\{\{\s*([a-z_]+)((?::[A-Za-z0-9_.-]+)*)\s*\}\}")
#: Anything that looks like a live figure, valid or not (so typos are caught, not printed).
#: One unambiguous repetition, so a long run of spaces cannot make it backtrack (linear time).
LOOKS_LIKE_FIGURE = re.compile(r"\{\{(?!<)([^{}]*)\}\}")

FIGURE_AT_LINE_START = re.compile(r"\s*\(?\{\{")
PAREN_MARKER = re.compile(r"^(\s*)\((\d+)\)")
NUMBER_MARKER = re.compile(r"^(\s*)(\d+)([.)])(\s|$)")

SIMPLE_FIGURES = (
    "n_studies",
    "n_academic",
    "n_grey",
    "pct_academic",
    "pct_grey",
    "year_min",
    "year_max",
    "n_countries",
    "n_outcomes",
)
THEME_FIGURES = ("n", "pct", "label")
OUTCOME_FIGURES = ("k", "benefit", "sign_p")
FINDING_FIGURES = ("certainty", "statement", "studies")

#: Narrative files per report format: section name -> required?
SECTIONS: dict[str, dict[str, bool]] = {
    "summary-of-evidence": {
        "why": True,
        "caveats": False,
        "recommendations": True,
        "outcomes": False,
        "limitations": False,
    },
    "strategic-briefing": {
        "key-messages": True,
        "context": True,
        "implications": True,
        "reflective-questions": True,
        "further-reading": False,
        "outcomes": False,
    },
    # The full account the briefing points to (a rapid review's evidence review): the lead
    # introduces it (purpose, aims, scope) and concludes it; the rest is generated.
    "evidence-review": {
        "introduction": True,
        "definitions": False,
        "outcomes": False,
        "limitations": False,
        "conclusion": True,
    },
}
THEME_SECTION_PREFIX = "theme-"


def report_formats(report: str | list[str]) -> list[str]:
    """The formats a review's ``report`` setting names (one format, or a list of them), in the
    config's order, each once."""
    named = [report] if isinstance(report, str) else list(report)
    return list(dict.fromkeys(named))


def figure_name_problem(
    kind: str, args: list[str], codebook: Codebook, finding_ids: Collection[str] = ()
) -> str | None:
    """Why ``{{kind:args}}`` is not a live figure this review has, or ``None`` if it is.

    ``finding_ids``: the review's findings (the ``finding_id`` column of its findings sheet)."""
    if kind in SIMPLE_FIGURES:
        return None if not args else f"'{kind}' takes no code"
    if kind in THEME_FIGURES:
        if len(args) != 1:
            return f"'{kind}' needs one theme code, as in {{{{{kind}:THEME}}}}"
        return None if args[0] in codebook.theme_by_code else f"'{args[0]}' is not a theme code"
    if kind in OUTCOME_FIGURES:
        if len(args) != 1:
            return f"'{kind}' needs one outcome code, as in {{{{{kind}:OUTCOME}}}}"
        return None if args[0] in codebook.outcomes else f"'{args[0]}' is not an outcome code"
    if kind == "pooled":
        if len(args) != 2:
            return "'pooled' needs an outcome and a measure, as in {{pooled:OUTCOME:MEASURE}}"
        if args[0] not in codebook.outcomes:
            return f"'{args[0]}' is not an outcome code"
        return None if args[1] in EFFECT_MEASURES else f"'{args[1]}' is not an effect measure"
    if kind in FINDING_FIGURES:
        if len(args) != 1:
            return f"'{kind}' needs one finding ID, as in {{{{{kind}:FINDING}}}}"
        if args[0] in finding_ids:
            return None
        return f"'{args[0]}' is not a finding_id of the review's findings sheet"
    return f"unknown live figure '{kind}'"


def split_name(match: re.Match) -> tuple[str, list[str]]:
    kind, rest = match.group(1), match.group(2)
    return kind, [a for a in rest.split(":") if a]


def narrative_files(folder: Path) -> dict[str, Path]:
    """Section name -> file, for the Markdown files in a narrative folder."""
    return {p.stem: p for p in sorted(folder.glob("*.md"))} if folder.is_dir() else {}


def check_narrative(
    folder: Path | None,
    report_format: str | list[str],
    codebook: Codebook,
    finding_ids: Collection[str] = (),
) -> list[Finding]:
    """Findings for a narrative folder: missing required sections, unknown files and names
    (``finding_ids``: the findings the review's findings sheet names, for ``{{certainty:ID}}``
    and its kin). ``report_format``: the review's ``report`` setting, one format or several;
    one folder serves them all, so a file is unused only when no format shows it."""
    if folder is None:
        return []
    if not folder.is_dir():
        return [
            Finding.error(
                SHEET,
                None,
                str(folder),
                str(folder),
                "narrative_missing",
                "the narrative folder named in the config does not exist "
                "(leave 'narrative' out for a figures-only draft)",
            )
        ]
    findings: list[Finding] = []
    files = narrative_files(folder)
    formats = report_formats(report_format)
    sections: dict[str, bool] = {}
    for fmt in formats:
        for name, required in SECTIONS[fmt].items():
            if required and name not in files and name not in sections:
                findings.append(
                    Finding.error(
                        SHEET,
                        None,
                        str(folder / f"{name}.md"),
                        "",
                        "narrative_section_missing",
                        f"the {fmt} needs this section; write it in this file",
                    )
                )
            sections[name] = sections.get(name, False) or required
    top_codes = {t.code for t in codebook.top_level_themes()}
    for name, path in files.items():
        if name.startswith(THEME_SECTION_PREFIX):
            code = name[len(THEME_SECTION_PREFIX) :]
            if code not in top_codes:
                findings.append(
                    Finding.error(
                        SHEET,
                        None,
                        str(path),
                        code,
                        "narrative_unknown_theme",
                        f"'{code}' is not a top-level theme code ({', '.join(sorted(top_codes))})",
                    )
                )
        elif name not in sections:
            findings.append(
                Finding.warning(
                    SHEET,
                    None,
                    str(path),
                    "",
                    "narrative_unused",
                    f"not a section of the {' or the '.join(formats)}; not shown",
                )
            )
        findings += _check_text(path, folder, codebook, frozenset(finding_ids))
    return findings


def _check_text(
    path: Path, folder: Path, codebook: Codebook, finding_ids: frozenset[str]
) -> list[Finding]:
    if outside_folder(path, folder):  # a symlink: its target is not read, let alone shown
        return [
            Finding.error(
                SHEET,
                None,
                str(path),
                "",
                "narrative_include",
                "this file links to a file outside the narrative folder; "
                "put the text itself in the folder",
            )
        ]
    if path.stat().st_size > MAX_NARRATIVE_BYTES:
        return [
            Finding.error(
                SHEET,
                None,
                str(path),
                path.stat().st_size,
                "narrative_too_large",
                f"larger than {MAX_NARRATIVE_BYTES // 1_000_000} MB; a narrative "
                "section is prose, not data",
            )
        ]
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [
            Finding.error(
                SHEET, None, str(path), "", "encoding", "not UTF-8 text; save it as UTF-8"
            )
        ]
    findings = markup_findings(path, folder, text)
    for line_no, line in enumerate(text.splitlines(), start=1):
        for match in LOOKS_LIKE_FIGURE.finditer(line):
            exact = LIVE_FIGURE.fullmatch(match.group(0))
            problem = (
                figure_name_problem(*split_name(exact), codebook, finding_ids)
                if exact
                else f"'{match.group(0)}' is not a live figure name"
            )
            if problem:
                findings.append(
                    Finding.error(SHEET, line_no, str(path), match.group(0), "live_figure", problem)
                )
    return capped(findings)


def fill(text: str, figures: dict[str, str]) -> str:
    """Replace every live figure in ``text``; names were checked at validation."""

    def value(match: re.Match) -> str:
        kind, args = split_name(match)
        key = ":".join([kind, *args])
        if key not in figures:
            raise KeyError(f"live figure {match.group(0)} has no value")
        return figures[key]

    lines = []
    for line in text.split("\n"):
        filled = LIVE_FIGURE.sub(value, line)
        if FIGURE_AT_LINE_START.match(line):
            # A number that lands at the start of a line would read as a list marker
            # ("(9) recur" -> an ordered list): escape its punctuation so it stays prose.
            filled = PAREN_MARKER.sub(r"\1\\(\2)", filled, count=1)
            filled = NUMBER_MARKER.sub(r"\1\2\\\3\4", filled, count=1)
        lines.append(filled)
    return "\n".join(lines)


def run_check_narrative(
    folder: Path | None,
    report_format: str | list[str],
    codebook_path: Path,
    issues_path: Path,
    findings_path: Path | None = None,
) -> None:
    """Write the narrative's findings (possibly none); the render step stops on errors.

    ``findings_path``: the typed clean findings table (``clean/findings.parquet``), whose
    ``finding_id`` values the finding live figures may name; None: no finding may be named."""
    from evsynth.codebook import load_codebook
    from evsynth.findings import InputError, write_issues_csv
    from evsynth.handoff import read_typed

    finding_ids: frozenset[str] = frozenset()
    if findings_path is not None:
        findings_table = read_typed(findings_path)
        if "finding_id" in findings_table.columns:
            finding_ids = frozenset(findings_table["finding_id"].dropna().astype(str))
    try:
        findings = check_narrative(folder, report_format, load_codebook(codebook_path), finding_ids)
    except InputError as exc:  # the codebook's own findings are reported by validation
        findings = exc.findings
    write_issues_csv(findings, issues_path)
