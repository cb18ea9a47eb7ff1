"""Validation: apply the data contract (§2) to a review's sheets, driven by its codebook.

The stage never stops on the first problem: it checks every cell, collects findings, and
writes them with the clean tables (valid rows only, normalised). Whether the run may go on is
decided afterwards, by :func:`gate`, so the findings survive a failed validation.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from evsynth.codebook import Codebook, load_codebook
from evsynth.contract import (
    DIRECTIONS,
    EFFECT_MEASURES,
    MULTI_SEPARATOR,
    QUALITY,
    RATIO_MEASURES,
    SCREENING_STAGES,
    SOURCE_TYPES,
    STUDY_ID_PATTERN,
)
from evsynth.escape import markdown_text
from evsynth.findings import Finding, InputError, sorted_findings, write_issues_csv
from evsynth.intake import Intake, Sheet, read_sheets, sha256_file

TRUE_WORDS, FALSE_WORDS = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}
#: Index column carried into every clean table: the row the record came from.
SOURCE_ROW = "source_row"


@dataclass(frozen=True)
class ColumnSpec:
    """What one column of a sheet must hold."""

    name: str
    type: str = "text"  # text | category | integer | number | boolean
    required: bool = False
    multi: bool = False
    values: Mapping[str, str] | None = None  # category vocabulary (code -> label)
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None


def sheet_specs(codebook: Codebook, current_year: int | None = None) -> dict[str, list[ColumnSpec]]:
    """The column rules of every sheet, from the contract and this review's codebook."""
    year = current_year or dt.date.today().year
    vocab = codebook.vocabularies
    studies = [
        ColumnSpec("study_id", required=True, pattern=STUDY_ID_PATTERN),
        ColumnSpec("citation", required=True),
        ColumnSpec("year", "integer", required=True, minimum=1900, maximum=year),
        ColumnSpec("source_type", "category", required=True, values=SOURCE_TYPES),
        ColumnSpec("country", multi=True),
        ColumnSpec("design", "category", required=True, values=vocab["design"]),
        ColumnSpec("intervention_type", "category", multi=True,
                   values=vocab.get("intervention_type", {})),
        ColumnSpec("quality", "category", required=True, values=QUALITY),
    ]
    studies += [
        ColumnSpec(f.name, f.type, required=f.required, multi=f.multi,
                   values=f.values if f.type == "category" else None)
        for f in codebook.fields.values()
    ]
    theme_labels = {t.code: t.label for t in codebook.themes}
    outcome_labels = {o.code: o.label for o in codebook.outcomes.values()}
    return {
        "studies": studies,
        "codes": [
            ColumnSpec("study_id", required=True),
            ColumnSpec("code", "category", required=True, values=theme_labels),
            ColumnSpec("coder"),
            ColumnSpec("excerpt"),
            ColumnSpec("page"),
        ],
        "outcomes": [
            ColumnSpec("study_id", required=True),
            ColumnSpec("outcome", "category", required=True, values=outcome_labels),
            ColumnSpec("measure"),
            ColumnSpec("direction", "category", required=True, values=DIRECTIONS),
            ColumnSpec("effect_measure", "category", values=EFFECT_MEASURES),
            ColumnSpec("estimate", "number"),
            ColumnSpec("ci_lower", "number"),
            ColumnSpec("ci_upper", "number"),
            ColumnSpec("n", "integer", minimum=1),
            ColumnSpec("follow_up_months", "number", minimum=0),
        ],
        "screening": [
            ColumnSpec("stage", "category", required=True, values=SCREENING_STAGES),
            ColumnSpec("count", "integer", required=True, minimum=0),
            ColumnSpec("reason"),
        ],
    }


@dataclass
class ValidationResult:
    clean: dict[str, pd.DataFrame]
    findings: list[Finding]
    summary: dict = field(default_factory=dict)
    specs: dict[str, list[ColumnSpec]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


# --- Column checks -----------------------------------------------------------------------------

class _Collector:
    """Findings for one sheet, plus which rows have errors (those stay out of the clean table)."""

    def __init__(self, sheet: Sheet):
        self.sheet = sheet
        self.findings: list[Finding] = []
        self.bad = np.zeros(len(sheet.frame), dtype=bool)

    def cells(self, mask: pd.Series | np.ndarray, column: str, values: pd.Series, rule: str,
              message: str, severity: str = "error") -> None:
        """One finding per flagged cell; ``message`` may use ``{value}``."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        make = Finding.error if severity == "error" else Finding.warning
        for row, value in zip(self.sheet.rows[mask], values[mask], strict=True):
            self.findings.append(make(self.sheet.name, int(row), column, value, rule,
                                      message.format(value=value)))
        if severity == "error":
            self.bad |= mask

    def note(self, finding: Finding) -> None:
        self.findings.append(finding)


def _check_column(col: _Collector, spec: ColumnSpec, values: pd.Series) -> pd.Series:
    """Check one column; return it normalised (category case, booleans, multi separators)."""
    present = values != ""
    if spec.required:
        col.cells(~present, spec.name, values, "required", f"'{spec.name}' is required")
    if spec.pattern:
        bad = present & ~values.str.fullmatch(spec.pattern)
        col.cells(bad, spec.name, values, "pattern",
                  "'{value}' may hold only letters, digits, '.', '_' and '-'")
    if spec.type == "category":
        values = _check_category(col, spec, values, present)
    elif spec.type == "integer":
        bad = present & ~values.str.fullmatch(r"[+-]?\d+")
        col.cells(bad, spec.name, values, "integer", "'{value}' is not a whole number")
        _check_range(col, spec, values, present & ~bad)
    elif spec.type == "number":
        numbers = pd.to_numeric(values.where(present), errors="coerce")
        bad = present & ~np.isfinite(numbers.fillna(np.nan).to_numpy(dtype=float))
        col.cells(bad, spec.name, values, "number", "'{value}' is not a number")
        _check_range(col, spec, values, present & ~bad)
    elif spec.type == "boolean":
        lowered = values.str.lower()
        bad = present & ~lowered.isin(TRUE_WORDS | FALSE_WORDS)
        col.cells(bad, spec.name, values, "boolean", "'{value}' is not true/false (or yes/no)")
        values = values.mask(lowered.isin(TRUE_WORDS), "true").mask(
            lowered.isin(FALSE_WORDS), "false")
    elif spec.multi:
        values = values.map(_join_multi)
    return values


def _split_multi(value: str) -> list[str]:
    return [part.strip() for part in value.split(MULTI_SEPARATOR) if part.strip()]


def _join_multi(value: str) -> str:
    return MULTI_SEPARATOR.join(dict.fromkeys(_split_multi(value)))


def _check_category(col: _Collector, spec: ColumnSpec, values: pd.Series,
                    present: pd.Series) -> pd.Series:
    allowed = spec.values or {}
    has_separator = values.str.contains(MULTI_SEPARATOR, regex=False)
    if not spec.multi:
        col.cells(present & has_separator, spec.name, values, "single_value",
                  f"'{spec.name}' takes one value; '{{value}}' has several")
    by_lower = {code.lower(): code for code in allowed}
    parts = values[present].map(_split_multi if spec.multi else lambda v: [v]).explode()
    parts = parts[parts.notna()]
    known = parts.isin(allowed.keys())
    recased = ~known & parts.str.lower().isin(by_lower.keys())
    unknown = ~known & ~recased
    if unknown.any():
        shown = ", ".join(sorted(allowed)[:12]) + (", …" if len(allowed) > 12 else "")
        bad_rows = unknown.groupby(level=0).any()
        mask = values.index.isin(bad_rows[bad_rows].index)
        first_bad = parts[unknown].groupby(level=0).first().reindex(values.index)
        col.cells(mask, spec.name, first_bad.fillna(""), "vocabulary",
                  f"'{{value}}' is not a code of '{spec.name}'; allowed: {shown}")
    if recased.any():
        rows = recased.groupby(level=0).any()
        index = rows[rows].index
        col.note(Finding.warning(
            col.sheet.name, int(col.sheet.rows[index[0]]), spec.name, values[index[0]],
            "code_case", f"{len(index)} value(s) matched a code only when lower-cased; "
            "normalised"))
        fixed = parts.where(~recased, parts.str.lower().map(by_lower))
        joined = fixed.groupby(level=0).agg(MULTI_SEPARATOR.join)
        values = values.copy()
        values.loc[joined.index] = joined
    elif spec.multi:
        values = values.map(_join_multi)
    return values


def _check_range(col: _Collector, spec: ColumnSpec, values: pd.Series, ok: pd.Series) -> None:
    if spec.minimum is None and spec.maximum is None:
        return
    numbers = pd.to_numeric(values.where(ok), errors="coerce")
    low = spec.minimum if spec.minimum is not None else -np.inf
    high = spec.maximum if spec.maximum is not None else np.inf
    out = ok & ((numbers < low) | (numbers > high)).fillna(False)
    bounds = (f"at least {low:g}" if spec.maximum is None else
              f"between {low:g} and {high:g}" if spec.minimum is not None else f"at most {high:g}")
    col.cells(out, spec.name, values, "range", f"'{{value}}' is out of range: must be {bounds}")


# --- Sheets ------------------------------------------------------------------------------------

def _check_sheet(sheet: Sheet, specs: list[ColumnSpec]) -> tuple[pd.DataFrame, _Collector]:
    col = _Collector(sheet)
    frame = sheet.frame
    known = {s.name for s in specs}
    for missing in [s for s in specs if s.required and s.name not in frame.columns]:
        col.note(Finding.error(sheet.name, 1, missing.name, "", "missing_column",
                               f"{sheet.source}: required column '{missing.name}' is missing"))
        col.bad[:] = True
    for extra in [c for c in frame.columns if c not in known]:
        col.note(Finding.warning(sheet.name, 1, extra, extra, "unknown_column",
                                 f"column '{extra}' is not in the contract or codebook; ignored"))
    out = {}
    for spec in specs:
        values = frame[spec.name] if spec.name in frame.columns else pd.Series(
            "", index=frame.index, dtype=str)
        out[spec.name] = _check_column(col, spec, values.astype(str))
    clean = pd.DataFrame(out, index=frame.index)
    clean[SOURCE_ROW] = sheet.rows.to_numpy()
    return clean, col


def _check_studies(clean: pd.DataFrame, col: _Collector) -> None:
    ids = clean["study_id"]
    duplicated = (ids != "") & ids.duplicated(keep="first")
    if duplicated.any():
        first_row = clean.groupby("study_id")[SOURCE_ROW].first()
        for i in np.flatnonzero(duplicated.to_numpy()):
            value = ids.iloc[i]
            col.note(Finding.error("studies", int(clean[SOURCE_ROW].iloc[i]), "study_id", value,
                                   "unique", f"study_id '{value}' is already used at row "
                                   f"{int(first_row[value])}"))
        col.bad |= duplicated.to_numpy()


def _check_references(clean: pd.DataFrame, col: _Collector, study_ids: set[str]) -> None:
    ids = clean["study_id"]
    unknown = (ids != "") & ~ids.isin(study_ids)
    col.cells(unknown, "study_id", ids, "reference",
              "study_id '{value}' is not in the studies sheet")


def _check_codes(clean: pd.DataFrame, col: _Collector) -> None:
    repeated = clean.duplicated(["study_id", "code", "coder"], keep="first")
    col.cells(repeated, "code", clean["code"], "duplicate_code",
              "study already has code '{value}' from this coder; the repeat is ignored",
              severity="warning")


def _check_outcomes(clean: pd.DataFrame, col: _Collector) -> None:
    triple = clean[["estimate", "ci_lower", "ci_upper"]] != ""
    partial = triple.any(axis=1) & ~triple.all(axis=1)
    for column in ("estimate", "ci_lower", "ci_upper"):
        col.cells(partial & ~triple[column], column, clean[column], "ci_incomplete",
                  "estimate, ci_lower and ci_upper go together: give all three or none")
    complete = triple.all(axis=1) & ~pd.Series(col.bad, index=clean.index)
    est, lo, hi = (pd.to_numeric(clean[c].where(complete), errors="coerce")
                   for c in ("estimate", "ci_lower", "ci_upper"))
    disorder = complete & ~((lo <= est) & (est <= hi)).fillna(False)
    col.cells(disorder, "estimate", clean["estimate"], "ci_order",
              "ci_lower ≤ estimate ≤ ci_upper does not hold "
              "('{value}' against its interval)")
    no_measure = complete & (clean["effect_measure"] == "")
    col.cells(no_measure, "effect_measure", clean["effect_measure"], "effect_measure_missing",
              "an estimate is given, so effect_measure is required")
    ratio = complete & clean["effect_measure"].isin(RATIO_MEASURES)
    for column, numbers in (("estimate", est), ("ci_lower", lo), ("ci_upper", hi)):
        col.cells(ratio & (numbers <= 0).fillna(False), column, clean[column], "ratio_positive",
                  "'{value}' must be greater than 0 for a ratio measure")
    repeated = complete & clean.duplicated(["study_id", "outcome", "effect_measure"], keep=False) \
        & clean.duplicated(["study_id", "outcome", "effect_measure"], keep="first")
    col.cells(repeated & complete, "estimate", clean["estimate"], "repeated_estimate",
              "this study already has an estimate for this outcome and measure; only the first "
              "is pooled", severity="warning")


def _check_screening(clean: pd.DataFrame, col: _Collector, n_studies: int) -> None:
    usable = clean[~col.bad]
    counts = usable.assign(count=usable["count"].astype(int)).groupby("stage")["count"].sum()
    single = usable[usable["stage"] != "excluded_full_text"]
    repeated = single.duplicated("stage", keep="first")
    col.cells(clean.index.isin(single.index[repeated]), "stage", clean["stage"], "unique",
              "stage '{value}' appears more than once (only excluded_full_text may repeat)")
    missing_reason = (clean["stage"] == "excluded_full_text") & (clean["reason"] == "")
    col.cells(missing_reason, "reason", clean["reason"], "required",
              "each excluded_full_text row needs a reason", severity="warning")

    def get(stage: str) -> int | None:
        return int(counts[stage]) if stage in counts.index else None

    def row_of(stage: str) -> int | None:
        rows = usable.loc[usable["stage"] == stage, SOURCE_ROW]
        return int(rows.iloc[0]) if len(rows) else None

    checks = [
        ("screened", ["identified_databases", "identified_other"], ["duplicates_removed"],
         "identified_databases + identified_other − duplicates_removed"),
        ("full_text_assessed", ["screened"], ["excluded_screening"],
         "screened − excluded_screening"),
        ("included", ["full_text_assessed"], ["excluded_full_text"],
         "full_text_assessed − excluded_full_text"),
    ]
    for target, plus, minus, formula in checks:
        if get(target) is None or any(get(s) is None for s in plus):
            continue
        expected = sum(get(s) for s in plus) - sum(get(s) or 0 for s in minus)
        if expected != get(target):
            col.note(Finding.error("screening", row_of(target), "count", str(get(target)),
                                   "screening_reconcile",
                                   f"{target} is {get(target)} but {formula} = {expected}"))
    included = get("included")
    if included is None:
        col.note(Finding.error("screening", None, "stage", "", "required",
                               "the screening sheet has no 'included' row"))
    elif included != n_studies:
        col.note(Finding.error("screening", row_of("included"), "count", str(included),
                               "screening_included",
                               f"included is {included} but the studies sheet has {n_studies} "
                               "rows"))


def _check_uncoded(studies: pd.DataFrame, codes: pd.DataFrame, col: _Collector) -> None:
    uncoded = (studies["study_id"] != "") & ~studies["study_id"].isin(codes["study_id"])
    col.cells(uncoded, "study_id", studies["study_id"], "no_codes",
              "study '{value}' has no rows in the codes sheet", severity="warning")


# --- The stage ---------------------------------------------------------------------------------

def validate_review(sheets_location: Path | str, codebook_path: Path | str,
                    current_year: int | None = None) -> ValidationResult:
    """Validate one review's sheets against its codebook. Never raises for bad data."""
    try:
        codebook = load_codebook(codebook_path)
    except InputError as exc:
        return ValidationResult({}, sorted_findings(exc.findings),
                                {"passed": False, "sheets": {}, "inputs": {}})
    intake: Intake = read_sheets(sheets_location)
    specs = sheet_specs(codebook, current_year)
    findings = list(intake.findings)
    clean: dict[str, pd.DataFrame] = {}
    collectors: dict[str, _Collector] = {}
    for name in ("studies", "codes", "outcomes", "screening"):
        if name in intake.sheets:
            clean[name], collectors[name] = _check_sheet(intake.sheets[name], specs[name])

    if "studies" in clean:
        _check_studies(clean["studies"], collectors["studies"])
        study_ids = set(clean["studies"]["study_id"]) - {""}
        for name in ("codes", "outcomes"):
            if name in clean:
                _check_references(clean[name], collectors[name], study_ids)
        if "codes" in clean:
            _check_uncoded(clean["studies"], clean["codes"], collectors["studies"])
        if "screening" in clean:
            _check_screening(clean["screening"], collectors["screening"], len(clean["studies"]))
    if "codes" in clean:
        _check_codes(clean["codes"], collectors["codes"])
    if "outcomes" in clean:
        _check_outcomes(clean["outcomes"], collectors["outcomes"])

    for name, col in collectors.items():
        findings += col.findings
        clean[name] = clean[name][~col.bad].reset_index(drop=True)
    findings = sorted_findings(findings)
    summary = _summary(intake, collectors, findings, codebook_path)
    return ValidationResult(clean, findings, summary, specs)


def _summary(intake: Intake, collectors: dict[str, _Collector], findings: list[Finding],
             codebook_path: Path | str) -> dict:
    sheets = {}
    for name in ("studies", "codes", "outcomes", "screening"):
        if name not in intake.sheets and not any(f.sheet == name for f in findings):
            continue
        rows_read = len(intake.sheets[name].frame) if name in intake.sheets else 0
        bad = int(collectors[name].bad.sum()) if name in collectors else rows_read
        sheets[name] = {
            "rows_read": rows_read,
            "rows_valid": rows_read - bad,
            "errors": sum(f.severity == "error" and f.sheet == name for f in findings),
            "warnings": sum(f.severity == "warning" and f.sheet == name for f in findings),
        }
    codebook_path = Path(codebook_path)
    return {
        "passed": not any(f.severity == "error" for f in findings),
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
        "sheets": sheets,
        "inputs": dict(sorted(intake.hashes.items())),
        "codebook": {str(codebook_path): sha256_file(codebook_path)}
        if codebook_path.is_file() else {},
    }


def write_validation(result: ValidationResult, validation_dir: Path, clean_dir: Path) -> None:
    """Write issues.csv, summary.json, report.md and the clean tables (always all of them)."""
    validation_dir.mkdir(parents=True, exist_ok=True)
    clean_dir.mkdir(parents=True, exist_ok=True)
    write_issues_csv(result.findings, validation_dir / "issues.csv")
    (validation_dir / "summary.json").write_text(
        json.dumps(result.summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (validation_dir / "report.md").write_text(validation_report(result), encoding="utf-8")
    for name in ("studies", "codes", "outcomes", "screening"):
        # A sheet that is absent or unreadable still gets its (empty) table, with the header.
        columns = [s.name for s in result.specs.get(name, [])] + [SOURCE_ROW]
        frame = result.clean.get(name, pd.DataFrame(columns=columns))
        frame.to_csv(clean_dir / f"{name}.csv", index=False, lineterminator="\n")


def validation_report(result: ValidationResult) -> str:
    """A reviewer's read of the findings: counts per sheet, then findings by sheet and rule."""
    lines = ["# Validation report", ""]
    status = "passed" if result.summary.get("passed") else "FAILED"
    lines += [f"Validation {status}: {result.summary.get('errors', len(result.errors))} error(s), "
              f"{result.summary.get('warnings', 0)} warning(s).", ""]
    if result.summary.get("sheets"):
        lines += ["| sheet | rows read | rows valid | errors | warnings |",
                  "|---|---:|---:|---:|---:|"]
        for name, s in result.summary["sheets"].items():
            lines.append(f"| {name} | {s['rows_read']} | {s['rows_valid']} | {s['errors']} | "
                         f"{s['warnings']} |")
        lines.append("")
    by_group: dict[tuple[str, str, str], list[Finding]] = {}
    for f in result.findings:
        by_group.setdefault((f.sheet, f.severity, f.rule), []).append(f)
    for (sheet, severity, rule), group in sorted(by_group.items()):
        lines += [f"## {sheet}: {rule} ({severity}, {len(group)})", ""]
        lines += ["| row | column | value | message |", "|---:|---|---|---|"]
        for f in group[:200]:
            cells = [str(f.row or ""), *map(markdown_text, (f.column, f.value, f.message))]
            lines.append("| " + " | ".join(cells) + " |")
        if len(group) > 200:
            lines.append(f"| | | | … and {len(group) - 200} more in issues.csv |")
        lines.append("")
    return "\n".join(lines)



def run_validate(sheets: Path, codebook: Path, validation_dir: Path, clean_dir: Path,
                 current_year: int | None = None) -> ValidationResult:
    """The validate stage: check everything and write all of it; never stop the run here."""
    result = validate_review(sheets, codebook, current_year)
    write_validation(result, validation_dir, clean_dir)
    return result


def gate(review: str, summary_path: Path, issues_path: Path, report_path: Path,
         passed_path: Path) -> None:
    """Stop the review when validation found errors; otherwise write ``passed_path``."""
    from evsynth.findings import read_issues_csv, stop_message
    from evsynth.runner import StopReview

    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if summary["errors"]:
        errors = [f for f in read_issues_csv(issues_path) if f.severity == "error"]
        raise StopReview(stop_message(f"Validation of review '{review}'", errors, issues_path,
                                      report_path, n_warnings=summary["warnings"]))
    passed_path.write_text(
        f"validation passed with {summary['warnings']} warning(s)\n", encoding="utf-8")
