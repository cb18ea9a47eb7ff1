"""Findings: what validation says about the inputs, located by sheet, row and column.

A finding is data, not an exception. Stages collect findings and write them to
``validation/issues.csv``; only the gate at the end of validation turns errors into a stop.
:class:`InputError` is for inputs so broken that a stage cannot go on at all (an unreadable
codebook, say); it still carries findings, so the user sees the same kind of message.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

from evsynth.spreadsheet_safe import escape_text, restore_text, texts_quoting

Severity = Literal["error", "warning"]

#: The columns of validation/issues.csv, in order (data contract §4).
ISSUE_COLUMNS: tuple[str, ...] = ("severity", "sheet", "row", "column", "value", "rule", "message")

#: Values longer than this are cut in issues.csv so one bad cell cannot swamp the file.
MAX_VALUE_CHARS = 80


@dataclass(frozen=True, order=True)
class Finding:
    """One thing validation found. ``row`` counts as a spreadsheet does: the header is row 1;
    ``None`` means the finding is about the whole sheet or file."""

    severity: Severity
    sheet: str
    row: int | None
    column: str
    value: str
    rule: str
    message: str

    @classmethod
    def error(
        cls, sheet: str, row: int | None, column: str, value: object, rule: str, message: str
    ) -> Finding:
        return cls("error", sheet, row, column, truncate(value), rule, message)

    @classmethod
    def warning(
        cls, sheet: str, row: int | None, column: str, value: object, rule: str, message: str
    ) -> Finding:
        return cls("warning", sheet, row, column, truncate(value), rule, message)

    def location(self) -> str:
        """Where the finding is, in words a spreadsheet user follows."""
        # A Markdown narrative or a references file: its path and line.
        if self.sheet in ("narrative", "references") and self.column:
            return self.column + ("" if self.row is None else f", line {self.row}")
        parts = [f"sheet '{self.sheet}'"]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)

    def one_line(self) -> str:
        return f"{self.severity.upper()} {self.location()}: {self.message} [{self.rule}]"


class InputError(Exception):
    """Input that a stage cannot work with at all; carries the findings that explain why."""

    def __init__(self, findings: Iterable[Finding]):
        self.findings = sorted(findings, key=sort_key)
        super().__init__("; ".join(f.one_line() for f in self.findings))


def truncate(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Sheets in the order problems are best fixed: the codebook and unreadable files first, then
#: the studies sheet (other sheets refer to it), then the rest as the contract lists them.
SHEET_ORDER = (
    "codebook",
    "(input)",
    "(workbook)",
    "studies",
    "codes",
    "outcomes",
    "screening",
    "narrative",
)


def sort_key(finding: Finding) -> tuple:
    """Errors first, then by sheet, row and column: the order a reviewer works through them."""
    rank = SHEET_ORDER.index(finding.sheet) if finding.sheet in SHEET_ORDER else len(SHEET_ORDER)
    return (
        finding.severity != "error",
        rank,
        finding.sheet,
        -1 if finding.row is None else finding.row,
        finding.column,
        finding.rule,
        finding.value,
        finding.message,
    )


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(set(findings), key=sort_key)


def write_issues_csv(findings: Iterable[Finding], path: Path) -> None:
    """Write findings to ``path`` in the contract's column order (deterministic).

    Values are cells from the user's sheets: text a spreadsheet would run as a formula gets a
    leading apostrophe (:mod:`evsynth.spreadsheet_safe`); :func:`read_issues_csv` removes it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    records = []
    for finding in sorted_findings(findings):
        record = {name: escape_text(value) for name, value in asdict(finding).items()}
        record["row"] = "" if finding.row is None else finding.row
        records.append(record)
    fields_quoting = texts_quoting(v for record in records for v in record.values())
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(ISSUE_COLUMNS), lineterminator="\n", quoting=fields_quoting
        )
        writer.writeheader()
        writer.writerows(records)


def read_issues_csv(path: Path) -> list[Finding]:
    """Read issues.csv back (used by the gate and the report), exactly as it was written."""
    names = [f.name for f in fields(Finding)]
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Finding(
                **{n: restore_text(rec[n]) for n in names}
                | {"row": int(rec["row"]) if rec["row"] else None}
            )
            for rec in csv.DictReader(handle)
        ]


def stop_message(
    what: str,
    errors: list[Finding],
    issues_path: Path,
    report_path: Path | None = None,
    n_warnings: int | None = None,
    shown: int = 5,
) -> str:
    """The one-paragraph message a run stops with: count, first findings, where the rest are."""
    warnings = "" if n_warnings is None else f" and {n_warnings} warning(s)"
    lines = [
        f"{what} has {len(errors)} error(s){warnings}; this review stops here until they are fixed."
    ]
    lines += [f"  - {f.location()}: {f.message} [{f.rule}]" for f in errors[:shown]]
    if len(errors) > shown:
        lines.append(f"  … and {len(errors) - shown} more.")
    lines.append(f"Every finding, by sheet, row and column: {issues_path}")
    if report_path is not None:
        lines.append(f"Readable report: {report_path}")
    return "\n".join(lines)
