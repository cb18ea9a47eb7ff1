"""Read extraction sheets from a folder of CSV files or one ``.xlsx`` workbook.

Everything comes in as text (``str``, blanks as ``""``) so validation, not the reader, decides
what a value means. What can be tolerated without changing meaning (a UTF-8 byte-order mark,
CRLF line ends, header case and padding, padded values, trailing blank rows) is fixed and
recorded as a warning; what cannot be read becomes an error finding naming the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evsynth.findings import Finding

#: Sheets the contract defines, in the order they are validated; screening is optional.
SHEETS: tuple[str, ...] = ("studies", "codes", "outcomes", "screening")
REQUIRED_SHEETS: tuple[str, ...] = ("studies", "codes", "outcomes")
#: Rows of a sheet start here: the header is row 1, as in a spreadsheet.
FIRST_DATA_ROW = 2


@dataclass
class Sheet:
    """One sheet as text: ``frame`` holds the cells, ``rows`` the row number the user sees."""

    name: str
    source: str  # file (and worksheet) it came from, for messages
    frame: pd.DataFrame
    rows: pd.Series


@dataclass
class Intake:
    sheets: dict[str, Sheet]
    findings: list[Finding]
    hashes: dict[str, str]  # input file path -> SHA-256


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_files(location: Path) -> list[Path]:
    """The files a review's sheets are read from (for hashing and for Snakemake inputs)."""
    if location.is_dir():
        return sorted(p for p in location.iterdir() if p.suffix.lower() == ".csv")
    return [location]


def read_sheets(location: Path | str) -> Intake:
    """Read every contract sheet found at ``location`` (a folder of CSVs or a workbook)."""
    location = Path(location)
    if location.is_dir():
        intake = _read_csv_folder(location)
    elif location.suffix.lower() in {".xlsx", ".xlsm"}:
        intake = _read_workbook(location)
    elif not location.exists():
        return Intake({}, [Finding.error("(input)", None, "", str(location), "file_missing",
                                         f"{location}: no such folder or workbook")], {})
    else:
        return Intake({}, [Finding.error("(input)", None, "", str(location), "file_type",
                                         f"{location}: expected a folder of CSV files or an "
                                         ".xlsx workbook")], {})
    for name in REQUIRED_SHEETS:
        if name not in intake.sheets and not any(f.sheet == name for f in intake.findings):
            where = f"{location}/{name}.csv" if location.is_dir() else f"{location}"
            intake.findings.append(Finding.error(
                name, None, "", "", "missing_sheet",
                f"{where}: the required sheet '{name}' is missing"))
    return intake


# --- CSV ---------------------------------------------------------------------------------------

def _read_csv_folder(folder: Path) -> Intake:
    sheets: dict[str, Sheet] = {}
    findings: list[Finding] = []
    hashes: dict[str, str] = {}
    by_name: dict[str, list[Path]] = {}
    for path in input_files(folder):
        by_name.setdefault(path.stem.strip().lower(), []).append(path)
    for name, paths in sorted(by_name.items()):
        if name not in SHEETS:
            findings.append(Finding.warning(name, None, "", paths[0].name, "unknown_sheet",
                                            f"{paths[0]}: not a contract sheet; ignored"))
            continue
        if len(paths) > 1:
            findings.append(Finding.error(name, None, "", ", ".join(p.name for p in paths),
                                          "duplicate_sheet",
                                          f"{folder}: more than one file for sheet '{name}'"))
            continue
        path = paths[0]
        hashes[str(path)] = sha256_file(path)
        sheet, sheet_findings = read_csv_sheet(path, name)
        findings += sheet_findings
        if sheet is not None:
            sheets[name] = sheet
    return Intake(sheets, findings, hashes)


def read_csv_sheet(path: Path, name: str) -> tuple[Sheet | None, list[Finding]]:
    """Decode and parse one CSV file; ``None`` with an error finding when it can't be read."""
    raw = path.read_bytes()
    findings: list[Finding] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        findings.append(Finding.warning(name, None, "", "", "bom_removed",
                                        f"{path}: UTF-8 byte-order mark removed"))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Finding.error(name, None, "", "", "encoding",
                                    f"{path}: the file is UTF-16; save it as UTF-8 CSV")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Finding.error(
            name, line, "", repr(raw[exc.start: exc.start + 4]), "encoding",
            f"{path}: not UTF-8 (first bad byte on line {line}); save it as 'CSV UTF-8'")]
    if "\x00" in text:
        return None, [Finding.error(name, None, "", "", "encoding",
                                    f"{path}: contains NUL bytes; is it really a CSV file?")]
    if "\r\n" in text:
        findings.append(Finding.warning(name, None, "", "", "line_endings",
                                        f"{path}: Windows (CRLF) line endings read as plain"))
    if not text.strip():
        return None, findings + [Finding.error(name, None, "", "", "empty_file",
                                               f"{path}: the file is empty")]
    try:
        # Every record becomes a row, blank ones included, so row numbers match the file.
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=False, header=None, engine="c")
    except (pd.errors.ParserError, csv.Error) as exc:
        return None, findings + [Finding.error(name, None, "", "", "csv_syntax",
                                               f"{path}: cannot be parsed as CSV ({exc})")]
    header, body = frame.iloc[0].tolist(), frame.iloc[1:]
    rows = pd.Series(range(FIRST_DATA_ROW, FIRST_DATA_ROW + len(body)), index=body.index)
    sheet, more = _tidy(name, str(path), header, body.reset_index(drop=True),
                        rows.reset_index(drop=True))
    return sheet, findings + more


# --- Workbook ----------------------------------------------------------------------------------

def _read_workbook(path: Path) -> Intake:
    import openpyxl  # imported here: CSV-only runs don't pay for it

    hashes = {str(path): sha256_file(path)}
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        return Intake({}, [Finding.error("(workbook)", None, "", "", "workbook_unreadable",
                                         f"{path}: not a readable .xlsx workbook ({_why(exc)})")],
                      hashes)
    sheets: dict[str, Sheet] = {}
    findings: list[Finding] = []
    try:
        for worksheet in book.worksheets:
            name = worksheet.title.strip().lower()
            if name not in SHEETS:
                continue  # instructions or lookup sheets are welcome and ignored
            if name in sheets:
                findings.append(Finding.error(name, None, "", worksheet.title, "duplicate_sheet",
                                              f"{path}: more than one worksheet named '{name}'"))
                continue
            records = [[_cell_text(v) for v in row]
                       for row in worksheet.iter_rows(values_only=True)]
            source = f"{path} [{worksheet.title}]"
            if not records or not any(any(c for c in r) for r in records):
                findings.append(Finding.error(name, None, "", "", "empty_file",
                                              f"{source}: the worksheet is empty"))
                continue
            width = max(len(r) for r in records)
            records = [r + [""] * (width - len(r)) for r in records]
            body = pd.DataFrame(records[1:], dtype=str) if len(records) > 1 else pd.DataFrame(
                columns=range(width), dtype=str)
            rows = pd.Series(range(FIRST_DATA_ROW, FIRST_DATA_ROW + len(body)))
            sheet, more = _tidy(name, source, records[0], body, rows)
            findings += more
            if sheet is not None:
                sheets[name] = sheet
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        return Intake({}, [Finding.error("(workbook)", None, "", "", "workbook_unreadable",
                                         f"{path}: the workbook is damaged ({_why(exc)})")], hashes)
    finally:
        book.close()
    return Intake(sheets, findings, hashes)


def _why(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def _cell_text(value: object) -> str:
    """A workbook cell as the text a CSV export would hold (whole numbers without '.0')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# --- Shared tidying ----------------------------------------------------------------------------

def _tidy(name: str, source: str, header: list, body: pd.DataFrame,
          rows: pd.Series) -> tuple[Sheet | None, list[Finding]]:
    """Normalise header names and cell padding; drop trailing blank rows. Record each fix."""
    findings: list[Finding] = []
    raw_names = ["" if h is None else str(h) for h in header]
    names = [h.strip().lower() for h in raw_names]
    changed = [raw for raw, new in zip(raw_names, names, strict=True) if raw != new]
    if changed:
        findings.append(Finding.warning(name, 1, "", "; ".join(changed), "header_normalised",
                                        f"{source}: column names trimmed and lower-cased"))
    # Empty header cells at the right edge are what spreadsheets leave behind; drop them when
    # their column is empty too.
    while names and names[-1] == "" and not body.iloc[:, len(names) - 1].astype(bool).any():
        body = body.iloc[:, : len(names) - 1]
        names.pop()
    seen: set[str] = set()
    for position, column in enumerate(names, start=1):
        if column == "":
            findings.append(Finding.error(name, 1, f"(column {position})", "", "header_blank",
                                          f"{source}: column {position} has values but no name"))
        elif column in seen:
            findings.append(Finding.error(name, 1, column, column, "duplicate_column",
                                          f"{source}: column '{column}' appears more than once"))
        seen.add(column)
    if any(f.severity == "error" for f in findings):
        return None, findings

    body = body.set_axis(names, axis=1).astype(str)
    stripped = body.apply(lambda col: col.str.strip())
    for column in names:
        padded = stripped[column] != body[column]
        if padded.any():
            first = int(rows[padded.to_numpy()].iloc[0])
            findings.append(Finding.warning(
                name, first, column, body[column][padded].iloc[0], "whitespace_trimmed",
                f"{int(padded.sum())} value(s) had leading or trailing spaces; trimmed"))
    blank = (stripped == "").all(axis=1)
    # Trailing blank rows are dropped quietly-but-recorded; blank rows inside the data too,
    # since they carry nothing.
    if blank.any():
        blank_rows = rows[blank.to_numpy()]
        findings.append(Finding.warning(
            name, int(blank_rows.iloc[0]), "", "", "blank_rows",
            f"{int(blank.sum())} blank row(s) ignored"))
        keep = ~blank.to_numpy()
        stripped, rows = stripped[keep].reset_index(drop=True), rows[keep].reset_index(drop=True)
    return Sheet(name, source, stripped, rows.astype(int)), findings
