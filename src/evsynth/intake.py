"""Read extraction sheets from a folder of CSV files or one ``.xlsx`` workbook.

Everything comes in as text (``str``, blanks as ``""``) so validation, not the reader, decides
what a value means. What can be tolerated without changing meaning (a UTF-8 byte-order mark,
CRLF line ends, header case and padding, padded values) is fixed and recorded as a warning;
empty rows and columns after the data (a spreadsheet keeps hundreds of formatted but empty
ones) are dropped and only counted; what cannot be read becomes an error finding naming the
file.

Nothing is read without a bound: regular files only, a size limit per file, a workbook's
unpacked size and compression ratio checked before it is opened, and its cells read one at a
time so a stray value far off to the right or bottom is refused instead of padding every row.
A file whose first row names none of the sheet's columns is refused without quoting it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import warnings
import zipfile
from array import array
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evsynth.contract import SHEET_COLUMNS
from evsynth.findings import Finding
from evsynth.handoff import arrow_backed, arrow_strings
from evsynth.inputfile import RefusedFile, read_limited, size_text

#: Sheets the contract defines, in the order they are validated.
SHEETS: tuple[str, ...] = ("studies", "codes", "outcomes", "screening", "appraisal", "findings")
REQUIRED_SHEETS: tuple[str, ...] = ("studies", "codes", "outcomes")
#: Sheets a review may leave out; one with only its header row (as the template gives it) is
#: not provided either.
OPTIONAL_SHEETS: tuple[str, ...] = tuple(s for s in SHEETS if s not in REQUIRED_SHEETS)
#: Rows of a sheet start here: the header is row 1, as in a spreadsheet.
FIRST_DATA_ROW = 2

# Limits on what is read. A review's sheets are typed or pasted by people: the largest known
# (100,000 studies, a million code rows) is about 60 MiB of CSV. Past these, a file is refused
# with a message instead of exhausting memory.
#: Bytes of one CSV file.
MAX_CSV_BYTES = 128 * 2**20
#: Bytes of a workbook file (compressed, as on disk).
MAX_WORKBOOK_BYTES = 64 * 2**20
#: Bytes of all a workbook's parts once unpacked (XML is several times its CSV size).
MAX_UNPACKED_BYTES = 256 * 2**20
#: Unpacked/packed size of one part, checked for parts over RATIO_CHECK_BYTES unpacked: a real
#: sheet packs about 5-20 to 1; a "zip bomb" 1000 to 1.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_BYTES = 8 * 2**20
MAX_ZIP_ENTRIES = 10_000
#: Columns and rows of a sheet (rows: Excel's own limit); a value beyond either is refused.
MAX_COLUMNS = 500
MAX_ROWS = 1_048_576
#: Cells of one worksheet once padded to a rectangle (rows with values x widest row).
MAX_CELLS = 30_000_000
#: An encrypted workbook and a pre-2007 .xls are both OLE2 compound files, not zip archives.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


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
    #: Empty rows and unnamed empty columns dropped (counted in validation/summary.json).
    blank_rows: int = 0
    blank_columns: int = 0


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


def input_files(location: Path, sheets: Collection[str] | None = None) -> list[Path]:
    """The files a review's sheets are read from (for hashing and for Snakemake inputs);
    with ``sheets``, only the files those sheets come from (a workbook holds them all). In a
    folder, a sheet is the CSV file whose name, case and padding aside, is the sheet's."""
    if location.is_dir():
        return sorted(
            p
            for p in location.iterdir()
            if p.suffix.lower() == ".csv" and (sheets is None or p.stem.strip().lower() in sheets)
        )
    return [location]


def read_sheets(location: Path | str) -> Intake:
    """Read every contract sheet found at ``location`` (a folder of CSVs or a workbook)."""
    location = Path(location)
    if location.is_dir():
        intake = _read_csv_folder(location)
    elif not location.exists():
        return Intake(
            {},
            [
                Finding.error(
                    "(input)",
                    None,
                    "",
                    str(location),
                    "file_missing",
                    f"{location}: no such folder or workbook",
                )
            ],
            {},
        )
    elif location.suffix.lower() in {".xlsx", ".xlsm"}:
        intake = _read_workbook(location)
    else:
        return Intake(
            {},
            [
                Finding.error(
                    "(input)",
                    None,
                    "",
                    str(location),
                    "file_type",
                    f"{location}: expected a folder of CSV files or an .xlsx workbook",
                )
            ],
            {},
        )
    if any(f.sheet == "(workbook)" and f.severity == "error" for f in intake.findings):
        return intake  # the workbook itself is unreadable: that is the one finding
    for name in REQUIRED_SHEETS:
        if name not in intake.sheets and not any(f.sheet == name for f in intake.findings):
            where = f"{location}/{name}.csv" if location.is_dir() else f"{location}"
            intake.findings.append(
                Finding.error(
                    name,
                    None,
                    "",
                    "",
                    "missing_sheet",
                    f"{where}: the required sheet '{name}' is missing",
                )
            )
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
            findings.append(
                Finding.warning(
                    name,
                    None,
                    "",
                    paths[0].name,
                    "unknown_sheet",
                    f"{paths[0]}: not a contract sheet; ignored",
                )
            )
            continue
        if len(paths) > 1:
            findings.append(
                Finding.error(
                    name,
                    None,
                    "",
                    ", ".join(p.name for p in paths),
                    "duplicate_sheet",
                    f"{folder}: more than one file for sheet '{name}'",
                )
            )
            continue
        path = paths[0]
        try:
            raw = read_limited(path, MAX_CSV_BYTES, "CSV sheet")
        except RefusedFile as refused:
            findings.append(Finding.error(name, None, "", "", refused.rule, refused.message))
            continue
        hashes[str(path)] = hashlib.sha256(raw).hexdigest()  # of exactly the bytes read
        sheet, sheet_findings = read_csv_sheet(path, name, raw)
        findings += sheet_findings
        if sheet is not None:
            sheets[name] = sheet
    return Intake(sheets, findings, hashes)


def read_csv_sheet(
    path: Path, name: str, raw: bytes | None = None
) -> tuple[Sheet | None, list[Finding]]:
    """Decode and parse one CSV file (``raw``: its bytes, if already read); ``None`` with an
    error finding when it can't be read."""
    if raw is None:
        try:
            raw = read_limited(path, MAX_CSV_BYTES, "CSV sheet")
        except RefusedFile as refused:
            return None, [Finding.error(name, None, "", "", refused.rule, refused.message)]
    findings: list[Finding] = []
    if raw.startswith(b"\xef\xbb\xbf"):
        while raw.startswith(b"\xef\xbb\xbf"):  # saved twice over, the mark can be doubled
            raw = raw[3:]
        findings.append(
            Finding.warning(
                name, None, "", "", "bom_removed", f"{path}: UTF-8 byte-order mark removed"
            )
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [
            Finding.error(
                name,
                None,
                "",
                "",
                "encoding",
                f"{path}: the file is UTF-16 (Excel's 'Unicode Text'); save it as 'CSV UTF-8'",
            )
        ]
    if b"\x00" in raw:
        return None, [
            Finding.error(
                name,
                None,
                "",
                "",
                "encoding",
                f"{path}: contains NUL bytes, so it is not UTF-8 text (UTF-16 "
                "without a byte-order mark, or not a CSV file at all); save "
                "it as 'CSV UTF-8'",
            )
        ]
    if not raw or raw.isspace():  # what strip() would leave empty, without copying the file
        return None, findings + [
            Finding.error(name, None, "", "", "empty_file", f"{path}: the file is empty")
        ]
    # Before anything is parsed or quoted: is this the sheet at all? A config or a symlink may
    # point at any file, and nothing of a file that is not a sheet goes into the findings.
    first = _first_record(raw)
    problem = _header_problem(name, str(path), first)
    if problem is not None:
        return None, findings + [problem]
    # Arrow's reader checks that every cell is UTF-8, exactly as Python's decoder does (tests/
    # test_arrow_text.py); only a file it leaves to pandas is decoded here.
    frame = _parse_strict(raw, len(first))
    text = ""
    try:
        if frame is None:
            text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        row, column = _locate(raw[: exc.start].decode("utf-8"))
        return None, [
            Finding.error(
                name,
                row,
                column,
                repr(raw[exc.start : exc.start + 4]),
                "encoding",
                f"{path}: not UTF-8 (the first byte that is not, {raw[exc.start]:#04x}, is in row "
                f"{row}); it was probably saved as Latin-1/Windows-1252: save it as 'CSV UTF-8'",
            )
        ]
    if b"\r\n" in raw:  # the bytes, not the text: the same answer, without a second pass
        findings.append(
            Finding.warning(
                name,
                None,
                "",
                "",
                "line_endings",
                f"{path}: Windows (CRLF) line endings read as plain",
            )
        )
    try:
        if frame is not None:
            raise _Parsed  # the common case, read by Arrow: nothing for pandas to do
        # Every record becomes a row, blank ones included, so row numbers match the file.
        # The bytes, already known to be UTF-8: wrapping the decoded text in a StringIO copied
        # the whole file once more (60 ms of the 100,000-study sheet's read).
        frame = pd.read_csv(
            io.BytesIO(raw),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            header=None,
            engine="c",
        )
        broken = None
    except _Parsed:
        broken = None
    except pd.errors.ParserError as exc:
        unclosed = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if unclosed:
            row = int(unclosed[1]) + 1
            return None, findings + [
                Finding.error(
                    name,
                    row,
                    "",
                    "",
                    "csv_quote",
                    f'{path}: row {row} opens a double quote (") that is never closed, so the rest '
                    "of the file would be read as one cell; close the quote or remove it",
                )
            ]
        frame, broken, more = _parse_ragged(text, name, path)
        findings += more
        if frame is None:
            return None, findings
    except (pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        return None, findings + [
            Finding.error(
                name, None, "", "", "csv_syntax", f"{path}: cannot be parsed as CSV ({_why(exc)})"
            )
        ]
    frame = frame.fillna("").astype(str)  # short rows may be padded with NaN: never "nan"
    header, body = frame.iloc[0].tolist(), frame.iloc[1:].reset_index(drop=True)
    rows = pd.Series(range(FIRST_DATA_ROW, FIRST_DATA_ROW + len(body)))
    if broken is not None:
        broken = broken[1:]
    sheet, more = _tidy(name, str(path), header, body, rows, broken)
    return sheet, findings + more


class _Parsed(Exception):
    """The strict reader took the file: the lenient reader's path is skipped."""


#: Ends the text given to the strict reader, as one more row: a quote left open swallows it.
_END_MARK = "\x01evsynth-end\x01"


def _parse_strict(raw: bytes, width: int) -> pd.DataFrame | None:
    """Every record of a plain CSV file as text, read by Arrow's CSV reader, or ``None`` for
    any file it does not read exactly as pandas' reader would; pandas then reads it, and says
    what is wrong with it (pandas' C reader took 0.25 s of the 100,000-study sheet's 0.3 s).

    A plain file: every record has the header's ``width`` fields (a blank record is a row of
    blanks, in both readers), and every quote that opens closes. Arrow refuses a record of
    another width; a quote
    left open would run to the end of the file, so an end mark is read as one more record, and
    the file is plain only if that record comes back whole. tests/test_arrow_text.py reads
    random files both ways and finds the same cells wherever this answers.
    """
    from pyarrow import csv as arrow_csv

    if width < 1:
        return None
    end = b"" if raw.endswith((b"\n", b"\r")) else b"\n"
    tail = (_END_MARK + "," * (width - 1)).encode("utf-8")
    names = [f"f{i}" for i in range(width)]
    try:
        table = arrow_csv.read_csv(
            io.BytesIO(raw + end + tail),
            # One block for the whole file, so each column is one chunk of Arrow strings: every
            # later test of a column is then one call, not one per megabyte.
            read_options=arrow_csv.ReadOptions(
                column_names=names, use_threads=False, block_size=len(raw) + len(tail) + 2
            ),
            parse_options=arrow_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=arrow_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if table.num_rows < 2 or [c[-1].as_py() for c in table.columns] != [_END_MARK] + [""] * (
        width - 1
    ):
        return None
    frame = table.slice(0, table.num_rows - 1).to_pandas()
    return frame.set_axis(range(width), axis=1)


#: The header is looked for in this much of a file's start.
_HEADER_BYTES = 1 << 20


def _first_record(raw: bytes) -> list[str]:
    """The first CSV record of ``raw``, decoded leniently (only its names are compared)."""
    text = raw[:_HEADER_BYTES].decode("utf-8", errors="replace")
    try:
        return next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error:
        return [text.splitlines()[0]] if text.splitlines() else []


def _names(header: list) -> list[str]:
    return ["" if h is None else str(h).strip().lstrip("\ufeff").strip().lower() for h in header]


def _header_problem(name: str, source: str, header: list) -> Finding | None:
    """Why row 1 cannot be this sheet's header: too wide, another delimiter, or none of the
    sheet's columns. Messages name the file and the fix, never the file's content."""
    names = _names(header)
    if len(names) > MAX_COLUMNS:
        return Finding.error(
            name,
            1,
            "",
            "",
            "column_limit",
            f"{source}: row 1 has {len(names):,} columns; a sheet may have at most {MAX_COLUMNS}",
        )
    expected = set(SHEET_COLUMNS.get(name, ()))
    if len([n for n in names if n]) == 1:
        only = next(n for n in names if n)
        delimiter = max((";", "\t"), key=only.count)
        if only.count(delimiter) and expected & set(_names(only.split(delimiter))):
            word = "semicolons (';')" if delimiter == ";" else "tabs"
            return Finding.error(
                name,
                1,
                "",
                "",
                "csv_delimiter",
                f"{source}: the columns are separated by {word}, not commas (Excel does this "
                "in many languages' settings); save the sheet as 'CSV UTF-8 (Comma delimited)', "
                "or in LibreOffice choose ',' as the field delimiter",
            )
    if expected and not expected & set(names):
        return Finding.error(
            name,
            1,
            "",
            "",
            "not_a_sheet",
            f"{source}: does not look like the '{name}' sheet: its first row names none of the "
            f"sheet's columns ({', '.join(SHEET_COLUMNS[name])}); row 1 must be the header row "
            "(is this the right file?)",
        )
    return None


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


def _parse_ragged(
    text: str, name: str, path: Path
) -> tuple[pd.DataFrame | None, np.ndarray | None, list[Finding]]:
    """Parse a CSV file the fast reader refused, to say which rows have too many fields.

    Those rows are kept (cut to the header's width) so their study_id still counts, but marked
    broken: a value may have moved to the wrong column, so none of them is trusted.
    """
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return (
            None,
            None,
            [
                Finding.error(
                    name,
                    None,
                    "",
                    "",
                    "csv_syntax",
                    f"{path}: cannot be parsed as CSV ({_why(exc)})",
                )
            ],
        )
    width = len(records[0]) if records else 0
    findings = []
    broken = np.zeros(len(records), dtype=bool)
    for i, record in enumerate(records[1:], start=1):
        if len(record) > width:  # even if the extra fields are blank: values may have moved
            broken[i] = True
            findings.append(
                Finding.error(
                    name,
                    i + 1,
                    "",
                    ",".join(record),
                    "ragged_row",
                    f"{path}: row {i + 1} has {len(record)} fields but the header has {width}; a "
                    "comma inside a value needs the value in double quotes",
                )
            )
    cells = [(r + [""] * width)[:width] for r in records]
    return pd.DataFrame(cells, dtype=str), broken, findings


# --- Workbook ----------------------------------------------------------------------------------


def _read_workbook(path: Path) -> Intake:
    import openpyxl  # imported here: CSV-only runs don't pay for it

    def unreadable(rule: str, message: str, hashes: dict[str, str]) -> Intake:
        return Intake({}, [Finding.error("(workbook)", None, "", "", rule, message)], hashes)

    try:
        data = read_limited(path, MAX_WORKBOOK_BYTES, "workbook")
    except RefusedFile as refused:
        return unreadable(refused.rule, refused.message, {})
    hashes = {str(path): hashlib.sha256(data).hexdigest()}  # of exactly the bytes read
    refused = _package_problem(path, data)
    if refused is not None:
        return unreadable(*refused, hashes)
    with warnings.catch_warnings():
        # openpyxl warns about features it drops (data validation, odd styles); the values,
        # all this stage reads, are unaffected, and the warnings would only clutter the log.
        warnings.simplefilter("ignore")
        return _read_book(path, data, hashes, openpyxl)


def _package_problem(path: Path, data: bytes) -> tuple[str, str] | None:
    """(rule, message) when the file must not be handed to openpyxl: an OLE2 file (encrypted
    or .xls), or a zip whose parts would unpack to more than the limits allow."""
    if data.startswith(OLE2_MAGIC):
        return (
            "workbook_unreadable",
            f"{path}: this is a password-protected (encrypted) workbook or an old Excel "
            "97-2003 .xls file, which evsynth cannot read; open it, remove the password "
            "(Excel: File > Info > Protect Workbook > Encrypt with Password, clear it) and "
            "save it as 'Excel Workbook (.xlsx)'",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        return None  # not a zip at all: openpyxl's own message says so
    # zipfile never unpacks more than a part's declared size, so the declared sizes bound the
    # work openpyxl can be made to do.
    if len(parts) > MAX_ZIP_ENTRIES:
        return (
            "workbook_too_large",
            f"{path}: the workbook holds {len(parts):,} parts, more than a workbook "
            f"may ({MAX_ZIP_ENTRIES:,}); it is not a spreadsheet evsynth can read",
        )
    unpacked = sum(part.file_size for part in parts)
    if unpacked > MAX_UNPACKED_BYTES:
        return (
            "workbook_too_large",
            f"{path}: the workbook unpacks to {size_text(unpacked)}, more than the "
            f"{size_text(MAX_UNPACKED_BYTES)} evsynth reads from a workbook; save the "
            "sheets as CSV files instead, or check that this is the right file",
        )
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > RATIO_CHECK_BYTES and ratio > MAX_COMPRESSION_RATIO:
            return (
                "workbook_too_large",
                f"{path}: part '{part.filename}' unpacks {ratio:,.0f} times over (to "
                f"{size_text(part.file_size)}); real sheets pack at most about 20 to 1, so "
                "this file is refused as a 'zip bomb'",
            )
    return None


def _read_book(path: Path, data: bytes, hashes: dict[str, str], openpyxl) -> Intake:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any bytes can be named .xlsx: say so, don't crash
        return Intake(
            {},
            [
                Finding.error(
                    "(workbook)",
                    None,
                    "",
                    "",
                    "workbook_unreadable",
                    f"{path}: not a readable .xlsx workbook ({_why(exc)})",
                )
            ],
            hashes,
        )
    sheets: dict[str, Sheet] = {}
    findings: list[Finding] = []
    try:
        seen: set[str] = set()
        for worksheet in book.worksheets:
            name = worksheet.title.strip().lower()
            if name not in SHEETS:
                continue  # instructions or lookup sheets are welcome and ignored
            if name in seen:
                findings.append(
                    Finding.error(
                        name,
                        None,
                        "",
                        worksheet.title,
                        "duplicate_sheet",
                        f"{path}: more than one worksheet named '{name}'",
                    )
                )
                continue
            seen.add(name)
            source = f"{path} [{worksheet.title}]"
            grid = _read_grid(worksheet, book, name, source)
            if isinstance(grid, Finding):
                findings.append(grid)
                continue
            sheet, more = grid.tidy(name, source)
            findings += more
            if sheet is not None:
                sheets[name] = sheet
    except Exception as exc:  # noqa: BLE001 - a damaged part of the file surfaces only here
        return Intake(
            {},
            [
                Finding.error(
                    "(workbook)",
                    None,
                    "",
                    "",
                    "workbook_unreadable",
                    f"{path}: the workbook is damaged ({_why(exc)})",
                )
            ],
            hashes,
        )
    finally:
        try:
            book.close()
        except Exception:  # noqa: BLE001, S110 - closing a damaged archive may fail too
            pass
    return Intake(sheets, findings, hashes)


@dataclass
class _Grid:
    """The cells of a worksheet that hold something (row, column, text); nothing else is kept.
    Compact arrays, not a dict per row: a million rows must not cost a million dicts."""

    rows: array
    columns: array
    texts: list[str]
    width: int
    trailing_blank: int  # rows present (formatted) after the last row with a value

    def tidy(self, name: str, source: str) -> tuple[Sheet | None, list[Finding]]:
        row_of = np.frombuffer(self.rows, dtype=np.int64)
        column_of = np.frombuffer(self.columns, dtype=np.int64) - 1
        texts = np.array(self.texts, dtype=object)
        header = [""] * self.width
        for column, text in zip(column_of[row_of == 1], texts[row_of == 1], strict=True):
            header[column] = text
        problem = _header_problem(name, source, header)
        if problem is not None:
            return None, [problem]
        data = row_of >= FIRST_DATA_ROW
        numbers, position = np.unique(row_of[data], return_inverse=True)
        if len(numbers) * self.width > MAX_CELLS:
            return None, [
                Finding.error(
                    name,
                    None,
                    "",
                    "",
                    "sheet_too_large",
                    f"{source}: {len(numbers):,} rows x {self.width} columns is more than the "
                    f"{MAX_CELLS:,} cells evsynth reads from one worksheet; save the sheet as CSV",
                )
            ]
        grid = np.full((len(numbers), self.width), "", dtype=object)
        grid[position, column_of[data]] = texts[data]
        body = pd.DataFrame(grid, dtype=str)
        rows = pd.Series(numbers, dtype=int)
        # Rows never written, or written with formatting only, were not kept: those between
        # data rows are reported like a blank CSV row; those after the data only counted.
        expected = np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(numbers))
        moved = np.flatnonzero(numbers != expected)
        gaps = int(numbers[-1]) - 1 - len(numbers) if len(numbers) else 0
        first_gap = int(expected[moved[0]]) if moved.size else None
        return _tidy(
            name,
            source,
            header,
            body,
            rows,
            gaps=(gaps, first_gap),
            trailing_blank=self.trailing_blank,
        )


def _read_grid(worksheet, book, name: str, source: str) -> _Grid | Finding:
    """Stream a read-only worksheet's XML cell by cell, keeping only cells with a value.

    openpyxl's own row iterator pads every row to the widest one, so a single stray value in
    the last cell (XFD1048576) makes a million rows of 16,384 cells; here each cell is parsed
    and dropped at once, and a value beyond MAX_COLUMNS or MAX_ROWS stops the read.
    """
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet._reader import WorkSheetParser
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    row_tag, cell_tag = f"{{{SHEET_MAIN_NS}}}row", f"{{{SHEET_MAIN_NS}}}c"
    data_tag = f"{{{SHEET_MAIN_NS}}}sheetData"
    # Its cell parser reads types, shared strings and dates as openpyxl would.
    parser = WorkSheetParser(
        None,
        worksheet._shared_strings,
        data_only=True,
        epoch=book.epoch,
        date_formats=book._date_formats,
        timedelta_formats=book._timedelta_formats,
    )
    rows, columns, texts = array("q"), array("q"), []
    width = trailing = 0
    sheet_data, row_has_value = None, False
    with worksheet._get_source() as xml:
        for event, element in iterparse(xml, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag == row_tag:
                    number = element.get("r")
                    parser.row_counter = (
                        int(float(number)) if number is not None else parser.row_counter + 1
                    )
                    parser.col_counter = 0
                    row_has_value = False
                elif tag == data_tag:
                    sheet_data = element
                continue
            if tag == cell_tag:
                cell = parser.parse_cell(element)
                element.clear()
                text = _cell_text(cell["value"])
                if not text.strip():
                    continue  # empty, formatted only, or spaces: holds nothing
                row, column = cell["row"], cell["column"]
                if column > MAX_COLUMNS or row > MAX_ROWS:
                    where = f"{get_column_letter(min(column, 18278))}{row}"
                    limit = (
                        f"column {get_column_letter(MAX_COLUMNS)} ({MAX_COLUMNS} columns)"
                        if column > MAX_COLUMNS
                        else f"row {MAX_ROWS:,}"
                    )
                    return Finding.error(
                        name,
                        row,
                        f"(column {where.rstrip('0123456789')})",
                        "",
                        "cell_limit",
                        f"{source}: cell {where} holds a value, beyond {limit}, the most "
                        "evsynth reads; delete what is there (select the rows or columns past "
                        "the data and delete them) and save again",
                    )
                rows.append(row)
                columns.append(column)
                texts.append(text)
                width = max(width, column)
                row_has_value = True
                if len(texts) > MAX_CELLS:
                    return Finding.error(
                        name,
                        None,
                        "",
                        "",
                        "sheet_too_large",
                        f"{source}: more than {MAX_CELLS:,} cells hold values; evsynth reads "
                        "at most that many from one worksheet; save the sheet as CSV",
                    )
            elif tag == row_tag:
                trailing = 0 if row_has_value else trailing + 1
                element.clear()
                if sheet_data is not None:
                    sheet_data.clear()  # finished rows would otherwise stay in the tree
    if not texts:
        return Finding.error(name, None, "", "", "empty_file", f"{source}: the worksheet is empty")
    return _Grid(rows, columns, texts, width, trailing)


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

#: Joins two columns' cells into one text key (appraisal's tool and domain, say). A CSV file
#: holding it has been refused already, so no cell holds it and no two keys can collide.
CELL_SEPARATOR = "\x00"
#: Every character Python counts as whitespace (``str.isspace``: what ``str.strip`` removes and
#: ``re``'s ``\s`` matches), as a class for Arrow's RE2 expressions, whose ``\s`` is ASCII only.
#: Whole-column tests use it and must answer as ``str.strip`` would (tests/test_arrow_text.py).
WHITESPACE_CLASS = (
    r"[\t-\r\x1c-\x20\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}"
    r"\x{3000}]"
)


def arrow_text(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The column's cells as Arrow strings: pandas 3 keeps text in Arrow, so this is no copy,
    and Arrow's compute functions test every cell in C where a pandas ``.str`` call may box
    each cell as a Python string."""
    strings = arrow_strings(values)
    if strings is not None:
        # Text already in Arrow: taken as it is (``astype`` and ``pa.array`` with a type
        # cost 0.25 ms a call even on five cells, and validation calls this hundreds of times).
        return strings.cast(pa.string())
    return pa.array(values.astype("str"), type=pa.string())


#: A column as the helpers below take it: pandas text, or its Arrow strings (:func:`arrow_text`)
#: when the caller tests the same column several times and converts it once.
Text = pd.Series | pa.Array | pa.ChunkedArray


def as_arrow(values: Text) -> pa.Array | pa.ChunkedArray:
    """``values`` as Arrow strings: converted if pandas, as it is if already Arrow."""
    return values if isinstance(values, pa.Array | pa.ChunkedArray) else arrow_text(values)


def _chunks(values: Text) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each Arrow chunk of the column as (its cells' UTF-8 bytes, back to back; the offsets
    where each cell starts, and one past the last), read in place."""
    cells = as_arrow(values)
    out = []
    for chunk in cells.chunks if isinstance(cells, pa.ChunkedArray) else [cells]:
        _, offsets, data = chunk.buffers()
        starts = np.frombuffer(offsets, np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        out.append((np.frombuffer(data, np.uint8) if data else np.zeros(0, np.uint8), starts))
    return out


def may_contain(values: Text, *texts: str) -> bool:
    """Whether any cell may contain any of ``texts``: searched in the cells' bytes back to
    back, so a text split across two cells may be found too. Only ever a gate (a "no" is
    certain) before the exact per-cell test, at the cost of one search in C over the bytes."""
    for data, _ in _chunks(values):
        whole = data.tobytes()
        for text in texts:
            needle = text.encode("utf-8")
            # Its last byte first: one byte is found at memchr's speed, and is usually absent.
            if needle[-1:] in whole and needle in whole:
                return True
    return False


def any_match(values: Text, pattern: str) -> bool:
    """Whether any cell matches the RE2 ``pattern`` (searched, not anchored)."""
    found = pc.any(pc.match_substring_regex(as_arrow(values), pattern)).as_py()
    return bool(found)


def any_contains(values: Text, text: str) -> bool:
    """Whether any cell contains ``text`` (plain text, not a pattern)."""
    cells = as_arrow(values)
    return may_contain(cells, text) and bool(pc.any(pc.match_substring(cells, text)).as_py())


#: The first and the last byte of every whitespace character in UTF-8 (see WHITESPACE_CLASS).
_FIRST_BYTES = np.zeros(256, bool)
_LAST_BYTES = np.zeros(256, bool)
for _code in (*range(0x09, 0x0E), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
              0x2028, 0x2029, 0x202F, 0x205F, 0x3000):  # fmt: skip
    _FIRST_BYTES[chr(_code).encode("utf-8")[0]] = _LAST_BYTES[chr(_code).encode("utf-8")[-1]] = True


def any_padded(values: Text) -> bool:
    """Whether any cell starts or ends with whitespace (as ``str.strip`` sees it).

    The first and last byte of each cell are looked up first (a few array operations over
    the offsets); only a column where some cell may be padded is searched with a pattern.
    """
    cells = as_arrow(values)
    maybe = False
    for data, starts in _chunks(cells):
        filled = starts[1:] > starts[:-1]
        if filled.any() and (
            _FIRST_BYTES[data[starts[:-1][filled]]].any()
            or _LAST_BYTES[data[starts[1:][filled] - 1]].any()
        ):
            maybe = True
            break
    return maybe and (
        any_match(cells, f"^{WHITESPACE_CLASS}") or any_match(cells, f"{WHITESPACE_CLASS}$")
    )


def _bools(result: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean result as a NumPy mask, a missing answer read as False (as pandas'
    comparisons of a missing cell are)."""
    return np.asarray(result.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _has_text(values: pd.Series) -> bool:
    """Whether any cell holds more than whitespace (spaces alone are what a spreadsheet leaves
    in cells that were cleared by typing a space)."""
    return bool(values.astype(str).str.strip().astype(bool).any())


def _tidy(
    name: str,
    source: str,
    header: list,
    body: pd.DataFrame,
    rows: pd.Series,
    broken: np.ndarray | None = None,
    *,
    gaps: tuple[int, int | None] = (0, None),
    trailing_blank: int = 0,
) -> tuple[Sheet | None, list[Finding]]:
    """Normalise header names and cell padding; drop empty rows and unnamed empty columns.

    Each fix that changes a value is a warning. Empty rows after the data and unnamed empty
    columns are what spreadsheets leave behind (formatting, cleared cells): they are dropped
    and only counted. Empty rows between data rows are a warning, since a row may have been
    cleared by mistake. ``gaps`` is (count, first row) of rows a workbook reader never kept
    between data rows; ``trailing_blank`` the empty rows it saw after them.
    """
    findings: list[Finding] = []
    raw_names = ["" if h is None else str(h) for h in header]
    names = _names(raw_names)
    changed = [raw for raw, new in zip(raw_names, names, strict=True) if raw != new]
    if changed:
        findings.append(
            Finding.warning(
                name,
                1,
                "",
                "; ".join(changed),
                "header_normalised",
                f"{source}: column names trimmed and lower-cased",
            )
        )
    kept = [i for i, column in enumerate(names) if column or _has_text(body.iloc[:, i])]
    blank_columns = len(names) - len(kept)
    if blank_columns:
        body = body.iloc[:, kept]
    positions, names = [i + 1 for i in kept], [names[i] for i in kept]
    seen: set[str] = set()
    for position, column in zip(positions, names, strict=True):
        if column == "":
            findings.append(
                Finding.error(
                    name,
                    1,
                    f"(column {position})",
                    "",
                    "header_blank",
                    f"{source}: column {position} has values but no name",
                )
            )
        elif column in seen:
            findings.append(
                Finding.error(
                    name,
                    1,
                    column,
                    column,
                    "duplicate_column",
                    f"{source}: column '{column}' appears more than once",
                )
            )
        seen.add(column)
    if any(f.severity == "error" for f in findings):
        return None, findings

    body = body.set_axis(names, axis=1)
    if not all(arrow_backed(values) for _, values in body.items()):
        body = body.astype(str)
    stripped = body.copy()
    # Which rows are blank, column by column in Arrow (one conversion of each column, shared
    # with the padding test): a frame-wide ``== ""`` costs a pandas operation per column.
    blank = np.ones(len(body), dtype=bool)
    for column, values in body.items():
        cells = arrow_text(values)
        if not any_padded(cells):  # the usual case, found with one regex pass over the column
            blank &= _bools(pc.equal(cells, ""))
            continue
        stripped[column] = body[column].str.strip()
        blank &= _bools(pc.equal(arrow_text(stripped[column]), ""))
        padded = (stripped[column] != body[column]).to_numpy()
        padded = padded & (stripped[column] != "").to_numpy()  # spaces only: a blank cell
        if broken is not None:
            padded = padded & ~broken  # already reported as a whole row
        if padded.any():
            first = int(rows[padded].iloc[0])
            findings.append(
                Finding.warning(
                    name,
                    first,
                    column,
                    body[column][padded].iloc[0],
                    "whitespace_trimmed",
                    f"{int(padded.sum())} value(s) had leading or trailing spaces; trimmed",
                )
            )
    filled = np.flatnonzero(~blank)
    between = blank.copy()
    between[(filled[-1] + 1 if filled.size else 0) :] = False
    n_between = int(between.sum()) + gaps[0]
    if n_between:
        firsts = [int(rows[between].iloc[0])] if between.any() else []
        firsts += [gaps[1]] if gaps[1] is not None else []
        findings.append(
            Finding.warning(
                name,
                min(firsts),
                "",
                "",
                "blank_rows",
                f"{n_between} blank row(s) between the data rows ignored",
            )
        )
    if blank.any():
        keep = ~blank
        stripped, rows = stripped[keep].reset_index(drop=True), rows[keep].reset_index(drop=True)
        if broken is not None:
            broken = broken[keep]
    if broken is not None and not broken.any():
        broken = None
    blank_rows = int(blank.sum()) + gaps[0] + trailing_blank
    return Sheet(
        name, source, stripped, rows.astype(int), broken, blank_rows, blank_columns
    ), findings
