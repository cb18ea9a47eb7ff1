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
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
    #: Rows the reader could not take apart reliably (a CSV row with too many fields): already
    #: reported, kept so their study_id still counts, but never checked further or made clean.
    broken: np.ndarray | None = None


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
    elif not location.exists():
        return Intake({}, [Finding.error("(input)", None, "", str(location), "file_missing",
                                         f"{location}: no such folder or workbook")], {})
    elif location.suffix.lower() in {".xlsx", ".xlsm"}:
        intake = _read_workbook(location)
    else:
        return Intake({}, [Finding.error("(input)", None, "", str(location), "file_type",
                                         f"{location}: expected a folder of CSV files or an "
                                         ".xlsx workbook")], {})
    if any(f.sheet == "(workbook)" and f.severity == "error" for f in intake.findings):
        return intake  # the workbook itself is unreadable: that is the one finding
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
        try:
            hashes[str(path)] = sha256_file(path)
        except OSError as exc:
            findings.append(Finding.error(name, None, "", "", "file_unreadable",
                                          f"{path}: cannot be read ({exc.strerror or exc})"))
            continue
        sheet, sheet_findings = read_csv_sheet(path, name)
        findings += sheet_findings
        if sheet is not None:
            sheets[name] = sheet
    return Intake(sheets, findings, hashes)


def read_csv_sheet(path: Path, name: str) -> tuple[Sheet | None, list[Finding]]:
    """Decode and parse one CSV file; ``None`` with an error finding when it can't be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Finding.error(name, None, "", "", "file_unreadable",
                                    f"{path}: cannot be read ({exc.strerror or exc})")]
    findings: list[Finding] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        while raw.startswith(b"\xef\xbb\xbf"):  # saved twice over, the mark can be doubled
            raw = raw[3:]
        findings.append(Finding.warning(name, None, "", "", "bom_removed",
                                        f"{path}: UTF-8 byte-order mark removed"))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Finding.error(name, None, "", "", "encoding",
                                    f"{path}: the file is UTF-16 (Excel's 'Unicode Text'); save "
                                    "it as 'CSV UTF-8'")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        row, column = _locate(raw[: exc.start].decode("utf-8"))
        return None, [Finding.error(
            name, row, column, repr(raw[exc.start: exc.start + 4]), "encoding",
            f"{path}: not UTF-8 (the first byte that is not, {raw[exc.start]:#04x}, is in row "
            f"{row}); it was probably saved as Latin-1/Windows-1252: save it as 'CSV UTF-8'")]
    if "\x00" in text:
        return None, [Finding.error(name, None, "", "", "encoding",
                                    f"{path}: contains NUL bytes, so it is not UTF-8 text (UTF-16 "
                                    "without a byte-order mark, or not a CSV file at all); save "
                                    "it as 'CSV UTF-8'")]
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
        broken = None
    except pd.errors.ParserError as exc:
        unclosed = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if unclosed:
            row = int(unclosed[1]) + 1
            return None, findings + [Finding.error(
                name, row, "", "", "csv_quote",
                f"{path}: row {row} opens a double quote (\") that is never closed, so the rest "
                "of the file would be read as one cell; close the quote or remove it")]
        frame, broken, more = _parse_ragged(text, name, path)
        findings += more
        if frame is None:
            return None, findings
    except (pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        return None, findings + [Finding.error(name, None, "", "", "csv_syntax",
                                               f"{path}: cannot be parsed as CSV ({_why(exc)})")]
    frame = frame.fillna("").astype(str)  # short rows may be padded with NaN: never "nan"
    header, body = frame.iloc[0].tolist(), frame.iloc[1:].reset_index(drop=True)
    rows = pd.Series(range(FIRST_DATA_ROW, FIRST_DATA_ROW + len(body)))
    if broken is not None:
        broken = broken[1:]
    sheet, more = _tidy(name, str(path), header, body, rows, broken)
    return sheet, findings + more


def _locate(prefix: str) -> tuple[int, str]:
    """Row (header = 1) and column name of the cell where ``prefix`` of a CSV file ends."""
    try:
        records = list(csv.reader(io.StringIO(prefix + "x", newline="")))
    except csv.Error:
        return prefix.count("\n") + 1, ""
    row = len(records)
    position = len(records[-1]) if records else 1
    header = records[0] if row > 1 else []
    column = header[position - 1].strip().lower() if position <= len(header) else ""
    return row, column or (f"(column {position})" if row > 1 else "")


def _parse_ragged(text: str, name: str,
                  path: Path) -> tuple[pd.DataFrame | None, np.ndarray | None, list[Finding]]:
    """Parse a CSV file the fast reader refused, to say which rows have too many fields.

    Those rows are kept (cut to the header's width) so their study_id still counts, but marked
    broken: a value may have moved to the wrong column, so none of them is trusted.
    """
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return None, None, [Finding.error(name, None, "", "", "csv_syntax",
                                          f"{path}: cannot be parsed as CSV ({_why(exc)})")]
    width = len(records[0]) if records else 0
    findings = []
    broken = np.zeros(len(records), dtype=bool)
    for i, record in enumerate(records[1:], start=1):
        if len(record) > width:  # even if the extra fields are blank: values may have moved
            broken[i] = True
            findings.append(Finding.error(
                name, i + 1, "", ",".join(record), "ragged_row",
                f"{path}: row {i + 1} has {len(record)} fields but the header has {width}; a "
                "comma inside a value needs the value in double quotes"))
    cells = [(r + [""] * width)[:width] for r in records]
    return pd.DataFrame(cells, dtype=str), broken, findings


# --- Workbook ----------------------------------------------------------------------------------

def _read_workbook(path: Path) -> Intake:
    import openpyxl  # imported here: CSV-only runs don't pay for it

    try:
        hashes = {str(path): sha256_file(path)}
    except OSError as exc:
        return Intake({}, [Finding.error("(workbook)", None, "", "", "file_unreadable",
                                         f"{path}: cannot be read ({exc.strerror or exc})")], {})
    with warnings.catch_warnings():
        # openpyxl warns about features it drops (data validation, odd styles); the values,
        # all this stage reads, are unaffected, and the warnings would only clutter the log.
        warnings.simplefilter("ignore")
        return _read_book(path, hashes, openpyxl)


def _read_book(path: Path, hashes: dict[str, str], openpyxl) -> Intake:
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any bytes can be named .xlsx: say so, don't crash
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
            # The size a workbook declares can be wrong (some tools write "A1"); read what is there.
            worksheet.reset_dimensions()
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
    except Exception as exc:  # noqa: BLE001 - a damaged part of the file surfaces only here
        return Intake({}, [Finding.error("(workbook)", None, "", "", "workbook_unreadable",
                                         f"{path}: the workbook is damaged ({_why(exc)})")], hashes)
    finally:
        try:
            book.close()
        except Exception:  # noqa: BLE001, S110 - closing a damaged archive may fail too
            pass
    return Intake(sheets, findings, hashes)


def _why(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__


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

#: Joins a column's cells into one string for a single pass over the column. A CSV file holding
#: it has been refused already; were a cell to hold it anyway, a whole-column test could only
#: answer "maybe" where "no" was right, and the exact per-cell check would then run.
CELL_SEPARATOR = "\x00"
_LEADING_SPACE = re.compile(r"\x00\s")


def joined(values: pd.Series) -> str:
    """The column as one string, each cell between separators (for fast whole-column tests)."""
    return CELL_SEPARATOR + CELL_SEPARATOR.join(values.tolist()) + CELL_SEPARATOR


def any_padded(values: pd.Series) -> bool:
    """Whether any cell starts or ends with whitespace, in two regex passes over the column
    instead of one strip per cell (reversed, trailing space becomes leading space)."""
    text = joined(values)
    return bool(_LEADING_SPACE.search(text) or _LEADING_SPACE.search(text[::-1]))


def _tidy(name: str, source: str, header: list, body: pd.DataFrame, rows: pd.Series,
          broken: np.ndarray | None = None) -> tuple[Sheet | None, list[Finding]]:
    """Normalise header names and cell padding; drop trailing blank rows. Record each fix."""
    findings: list[Finding] = []
    raw_names = ["" if h is None else str(h) for h in header]
    names = [h.strip().lstrip("\ufeff").strip().lower() for h in raw_names]
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
    stripped = body.copy()
    for column in names:
        if not any_padded(body[column]):
            continue  # the usual case, found with one regex pass over the whole column
        stripped[column] = body[column].str.strip()
        padded = (stripped[column] != body[column]).to_numpy()
        if broken is not None:
            padded = padded & ~broken  # already reported as a whole row
        if padded.any():
            first = int(rows[padded].iloc[0])
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
        if broken is not None:
            broken = broken[keep]
    if broken is not None and not broken.any():
        broken = None
    return Sheet(name, source, stripped, rows.astype(int), broken), findings
