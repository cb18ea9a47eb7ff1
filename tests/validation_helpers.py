"""Helpers for the intake and validation tests: copy the valid fixture review, then break it.

The fixture (tests/fixtures/validation/valid/) is a minimal but complete review: a codebook with
every field type and a theme tree, and four studies with codes, outcomes and PRISMA counts that
reconcile; tests/fixtures/validation/appraised/ adds its appraisal and findings sheets and a
codebook with appraisal tools. A test copies it to a temporary folder and applies one mistake,
as a user would make it: by editing a CSV file's text or bytes, or by writing a workbook with
openpyxl.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import openpyxl

FIXTURES = Path(__file__).parent / "fixtures" / "validation"
VALID = FIXTURES / "valid"
#: The valid review with appraisal and findings sheets, and a codebook declaring tools.
APPRAISED = FIXTURES / "appraised"
#: The valid fixture's sheets; the appraised one adds NEW_SHEETS.
SHEET_NAMES = ("studies", "codes", "outcomes", "screening")
NEW_SHEETS = ("appraisal", "findings")

#: (severity, sheet, row, column, rule): a finding's location, as tests compare them.
Where = tuple[str, str, "int | None", str, str]


def copy_review(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh copy of the valid review: (sheets folder, codebook path)."""
    sheets = tmp_path / "sheets"
    shutil.copytree(VALID / "sheets", sheets)
    codebook = tmp_path / "codebook.yaml"
    shutil.copyfile(VALID / "codebook.yaml", codebook)
    return sheets, codebook


def copy_appraised_review(tmp_path: Path) -> tuple[Path, Path]:
    """The valid review with its appraisal and findings sheets and a codebook that declares
    two appraisal tools and gives the designs as mappings: (sheets folder, codebook path)."""
    sheets, codebook = copy_review(tmp_path)
    for name in NEW_SHEETS:
        shutil.copyfile(APPRAISED / "sheets" / f"{name}.csv", sheets / f"{name}.csv")
    shutil.copyfile(APPRAISED / "codebook.yaml", codebook)
    return sheets, codebook


def where(finding) -> tuple:
    return (finding.severity, finding.sheet, finding.row, finding.column, finding.rule)


def error_locations(result) -> set[tuple]:
    return {where(f) for f in result.findings if f.severity == "error"}


# --- Reading and writing the fixture's CSV files -----------------------------------------------


def read_rows(folder: Path, sheet: str) -> list[list[str]]:
    with (folder / f"{sheet}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(
    folder: Path,
    sheet: str,
    rows: Iterable[list[str]],
    *,
    encoding: str = "utf-8",
    lineterminator: str = "\n",
) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=lineterminator).writerows(rows)
    (folder / f"{sheet}.csv").write_bytes(buffer.getvalue().encode(encoding))


def edit_rows(folder: Path, sheet: str, change: Callable[[list[list[str]]], None]) -> None:
    rows = read_rows(folder, sheet)
    change(rows)
    write_rows(folder, sheet, rows)


def set_cell(sheet: str, row: int, column: str, value: str) -> Callable[[Path, Path], None]:
    """A mutation: cell (``row`` as the user sees it, header = 1) of ``column`` becomes
    ``value``."""

    def mutate(folder: Path, codebook: Path) -> None:
        def change(rows: list[list[str]]) -> None:
            rows[row - 1][rows[0].index(column)] = value

        edit_rows(folder, sheet, change)

    return mutate


def set_cells(*mutations: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
    def mutate(folder: Path, codebook: Path) -> None:
        for one in mutations:
            one(folder, codebook)

    return mutate


def drop_column(sheet: str, column: str) -> Callable[[Path, Path], None]:
    def mutate(folder: Path, codebook: Path) -> None:
        def change(rows: list[list[str]]) -> None:
            position = rows[0].index(column)
            for record in rows:
                del record[position]

        edit_rows(folder, sheet, change)

    return mutate


def rename_column(sheet: str, column: str, new: str) -> Callable[[Path, Path], None]:
    def mutate(folder: Path, codebook: Path) -> None:
        def change(rows: list[list[str]]) -> None:
            rows[0][rows[0].index(column)] = new

        edit_rows(folder, sheet, change)

    return mutate


def append_row(sheet: str, values: list[str]) -> Callable[[Path, Path], None]:
    def mutate(folder: Path, codebook: Path) -> None:
        edit_rows(folder, sheet, lambda rows: rows.append(values))

    return mutate


def delete_row(sheet: str, row: int) -> Callable[[Path, Path], None]:
    def mutate(folder: Path, codebook: Path) -> None:
        edit_rows(folder, sheet, lambda rows: rows.pop(row - 1))

    return mutate


def rename_study(old: str, new: str) -> Callable[[Path, Path], None]:
    """Change a study_id everywhere it is used, so only the id itself can be wrong."""

    def mutate(folder: Path, codebook: Path) -> None:
        for sheet in ("studies", "codes", "outcomes"):

            def change(rows: list[list[str]]) -> None:
                position = rows[0].index("study_id")
                for record in rows[1:]:
                    if record[position] == old:
                        record[position] = new

            edit_rows(folder, sheet, change)

    return mutate


def replace_text(sheet: str, old: str, new: str, count: int = 1) -> Callable[[Path, Path], None]:
    """Edit the file's text directly (for mistakes csv.writer would never make)."""

    def mutate(folder: Path, codebook: Path) -> None:
        path = folder / f"{sheet}.csv"
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")

    return mutate


def write_bytes(sheet: str, data: bytes | Callable[[bytes], bytes]) -> Callable[[Path, Path], None]:
    def mutate(folder: Path, codebook: Path) -> None:
        path = folder / f"{sheet}.csv"
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)

    return mutate


def reencode(
    sheet: str, encoding: str, old: str = "", new: str = ""
) -> Callable[[Path, Path], None]:
    """Save the sheet in another encoding, optionally first putting ``new`` in place of ``old``."""

    def mutate(folder: Path, codebook: Path) -> None:
        path = folder / f"{sheet}.csv"
        text = path.read_text(encoding="utf-8")
        if old:
            assert old in text
            text = text.replace(old, new, 1)
        path.write_bytes(text.encode(encoding))

    return mutate


def remove_sheet(sheet: str) -> Callable[[Path, Path], None]:
    def mutate(folder: Path, codebook: Path) -> None:
        (folder / f"{sheet}.csv").unlink()

    return mutate


def edit_codebook(old: str, new: str) -> Callable[[Path, Path], None]:
    def mutate(folder: Path, codebook: Path) -> None:
        text = codebook.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in the codebook"
        codebook.write_text(text.replace(old, new, 1), encoding="utf-8")

    return mutate


# --- Workbooks ---------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def as_excel_value(text: str) -> object:
    """What Excel stores for a typed value: numbers as numbers, everything else as text."""
    if _NUMBER.fullmatch(text):
        return float(text) if "." in text else int(text)
    return text if text != "" else None


def workbook_from_folder(
    folder: Path,
    path: Path,
    *,
    numbers: bool = True,
    edit: Callable[[openpyxl.Workbook], None] | None = None,
    sheets: Iterable[str] | None = None,
) -> Path:
    """Write the CSV sheets in ``folder`` as one workbook (one worksheet per sheet)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    every = (*SHEET_NAMES, *NEW_SHEETS)
    for name in sheets or [n for n in every if (folder / f"{n}.csv").exists()]:
        worksheet = book.create_sheet(name)
        for record in read_rows(folder, name):
            worksheet.append([as_excel_value(v) if numbers else (v or None) for v in record])
    if edit is not None:
        edit(book)
    book.save(path)
    return path


def xlsx_cell(sheet: str, row: int, column: str, value: object):
    """A workbook mutation: set one cell (by header name) after the sheets are written."""

    def edit(book: openpyxl.Workbook) -> None:
        worksheet = book[sheet]
        header = [c.value for c in worksheet[1]]
        worksheet.cell(row=row, column=header.index(column) + 1, value=value)

    return edit
