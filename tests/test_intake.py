"""Intake: both input forms, the mess that does not change meaning (each fix a warning), and
the files that cannot be read (each a finding naming the file)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from evsynth.intake import _cell_text, input_files, read_sheets, sha256_file
from evsynth.validate import validate_review
from validation_helpers import (
    SHEET_NAMES,
    as_excel_value,
    copy_review,
    error_locations,
    read_rows,
    set_cell,
    where,
    workbook_from_folder,
)

# Empty rows after the data are not a finding (a spreadsheet leaves hundreds): only counted.
MESS_RULES = {"bom_removed", "line_endings", "header_normalised", "whitespace_trimmed", "code_case"}


def messy_csv(rows: list[list[str]]) -> bytes:
    """The same table as Excel on Windows and a hurried user would save it."""
    buffer = io.StringIO()
    import csv

    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([f" {name.upper()}  " for name in rows[0]])
    for record in rows[1:]:
        writer.writerow([f"  {v} " if v and i % 2 == 0 else v for i, v in enumerate(record)])
    writer.writerow([""] * len(rows[0]))  # a row of empty cells ...
    buffer.write("\r\n\r\n")  # ... and blank lines at the end
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def assert_same_clean(result, tidy) -> None:
    assert set(result.clean) == set(tidy.clean)
    for name in tidy.clean:
        pd.testing.assert_frame_equal(result.clean[name], tidy.clean[name], obj=name)


def test_messy_but_valid_csv_passes_with_warnings_only(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    tidy = validate_review(sheets, codebook)
    set_cell("studies", 2, "design", "RCT")(sheets, codebook)  # case of a code
    for name in SHEET_NAMES:
        (sheets / f"{name}.csv").write_bytes(messy_csv(read_rows(sheets, name)))
    result = validate_review(sheets, codebook)
    assert result.errors == [], [f.one_line() for f in result.errors]
    assert {f.rule for f in result.findings} == MESS_RULES
    assert {f.sheet for f in result.findings if f.rule == "bom_removed"} == set(SHEET_NAMES)
    assert {n: s["blank_rows_ignored"] for n, s in result.summary["sheets"].items()} == {
        n: 3 for n in SHEET_NAMES
    }
    assert_same_clean(result, tidy)


def test_messy_but_valid_workbook_passes_with_warnings_only(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    tidy = validate_review(sheets, codebook)
    book = openpyxl.Workbook()
    book.active.title = "Instructions"
    book.active["A1"] = "One row per study; codes from the codebook."
    for name in SHEET_NAMES:
        worksheet = book.create_sheet(f" {name.title()} ")
        rows = read_rows(sheets, name)
        worksheet.append([f" {h.upper()} " for h in rows[0]])
        for record in rows[1:]:
            cells = [as_excel_value(v) for v in record]
            cells = [f" {c}  " if isinstance(c, str) and i == 1 else c for i, c in enumerate(cells)]
            worksheet.append(cells)
        worksheet.append([None] * len(rows[0]))
        worksheet.append(["  ", None, ""])
    studies = book[" Studies "]
    header = [c.value.strip().lower() for c in studies[1]]
    studies.cell(row=5, column=header.index("year") + 1, value=2019.0)  # Excel's float year
    studies.cell(row=2, column=header.index("whole_family") + 1, value=True)
    studies.cell(row=3, column=header.index("whole_family") + 1, value=False)
    path = tmp_path / "review.xlsx"
    book.save(path)
    float_year(path)

    cells = openpyxl.load_workbook(path)[" Studies "]
    assert cells.cell(row=5, column=header.index("year") + 1).value == 2019.0
    assert isinstance(cells.cell(row=5, column=header.index("year") + 1).value, float)
    assert isinstance(cells.cell(row=2, column=header.index("sessions") + 1).value, int)

    result = validate_review(path, codebook)
    assert result.errors == [], [f.one_line() for f in result.errors]
    assert {f.rule for f in result.findings} == {"header_normalised", "whitespace_trimmed"}
    assert {n: s["blank_rows_ignored"] for n, s in result.summary["sheets"].items()} == {
        n: 2 for n in SHEET_NAMES
    }
    assert_same_clean(result, tidy)


def float_year(path: Path) -> None:
    """Store S04's year as the XML number '2019.0', as some writers do (openpyxl writes 2019)."""
    original = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet2.xml":
                assert data.count(b"<v>2019</v>") == 1
                data = data.replace(b"<v>2019</v>", b"<v>2019.0</v>")
            dst.writestr(item, data)


def test_blank_rows_inside_the_data_keep_row_numbers(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    text = (sheets / "studies.csv").read_text()
    lines = text.splitlines(keepends=True)
    (sheets / "studies.csv").write_text("".join(lines[:3] + ["\n", ",,,\n"] + lines[3:]))
    set_cell("studies", 6, "year", "later")(sheets, codebook)  # S03, after the two blank rows
    result = validate_review(sheets, codebook)
    assert error_locations(result) == {("error", "studies", 6, "year", "integer")}
    assert [where(f) for f in result.findings if f.severity == "warning"] == [
        ("warning", "studies", 4, "", "blank_rows")
    ]
    assert list(result.clean["studies"]["source_row"]) == [2, 3, 7]


def test_a_line_break_inside_a_cell_is_one_row(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("studies", 2, "citation", "Smith (2010).\nA trial,\r\nin two lines.")(sheets, codebook)
    set_cell("studies", 3, "year", "x")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert error_locations(result) == {("error", "studies", 3, "year", "integer")}


def test_a_doubled_byte_order_mark_is_removed(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    path = sheets / "codes.csv"
    path.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + path.read_bytes())
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.findings] == [("warning", "codes", None, "", "bom_removed")]


def test_a_folder_with_other_files(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    (sheets / "notes.csv").write_text("anything\n")
    (sheets / "README.txt").write_text("ignored, not even a warning")
    intake = read_sheets(sheets)
    assert [where(f) for f in intake.findings] == [("warning", "notes", None, "", "unknown_sheet")]
    assert set(intake.sheets) == set(SHEET_NAMES)
    assert [p.name for p in input_files(sheets)] == [
        "codes.csv",
        "notes.csv",
        "outcomes.csv",
        "screening.csv",
        "studies.csv",
    ]


def test_two_files_for_one_sheet(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    (sheets / "Studies.CSV").write_bytes((sheets / "studies.csv").read_bytes())
    intake = read_sheets(sheets)
    assert [where(f) for f in intake.findings] == [
        ("error", "studies", None, "", "duplicate_sheet")
    ]


def test_screening_is_optional(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    (sheets / "screening.csv").unlink()
    result = validate_review(sheets, codebook)
    assert result.findings == []
    assert "screening" not in result.summary["sheets"]


def test_a_file_that_is_not_csv_or_xlsx(tmp_path):
    _, codebook = copy_review(tmp_path)
    path = tmp_path / "review.ods"
    path.write_bytes(b"PK\x03\x04")
    (finding,) = validate_review(path, codebook).errors
    assert (finding.sheet, finding.rule) == ("(input)", "file_type")
    assert str(path) in finding.message


def test_an_empty_worksheet_and_duplicate_worksheets(tmp_path):
    sheets, codebook = copy_review(tmp_path)

    def edit(book: openpyxl.Workbook) -> None:
        book.create_sheet("Outcomes ")  # a second 'outcomes' worksheet
        del book["codes"]
        book.create_sheet("codes")  # empty

    path = workbook_from_folder(sheets, tmp_path / "review.xlsx", edit=edit)
    result = validate_review(path, codebook)
    assert error_locations(result) == {
        ("error", "codes", None, "", "empty_file"),
        ("error", "outcomes", None, "", "duplicate_sheet"),
    }
    assert all(str(path) in f.message for f in result.errors)


def test_sha256_and_hashes(tmp_path):
    sheets, _ = copy_review(tmp_path)
    intake = read_sheets(sheets)
    assert intake.hashes == {str(p): sha256_file(p) for p in input_files(sheets)}
    book = workbook_from_folder(sheets, tmp_path / "r.xlsx")
    assert read_sheets(book).hashes == {str(book): sha256_file(book)}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (2019, "2019"),
        (2019.0, "2019"),
        (0.62, "0.62"),
        (-3.0, "-3"),
        (1e20, "1e+20"),
        (dt.datetime(2015, 3, 1), "2015-03-01"),
        (dt.datetime(2015, 3, 1, 12, 30), "2015-03-01T12:30:00"),
        (dt.date(2015, 3, 1), "2015-03-01"),
        (dt.time(9, 5), "09:05:00"),
        ("  text ", "  text "),
    ],
)
def test_cell_text(value, text):
    assert _cell_text(value) == text


def test_no_nan_strings_leak_from_short_rows(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    path = sheets / "outcomes.csv"
    path.write_text(
        path.read_text().replace("S04,wellbeing,,unclear,smd,,,,,", "S04,wellbeing,,unclear,smd")
    )
    result = validate_review(sheets, codebook)
    assert result.findings == []
    row = result.clean["outcomes"].iloc[3]
    assert row["n"] == "" and row["estimate"] == ""
    assert not result.clean["outcomes"].isin(["nan", "None", "<NA>"]).any().any()


def test_read_sheets_never_returns_nan(tmp_path):
    sheets, _ = copy_review(tmp_path)
    (sheets / "codes.csv").write_text("study_id,code,coder,excerpt,page\nS01\n\nS02,mot\n")
    frame = read_sheets(sheets).sheets["codes"].frame
    assert frame.to_numpy().tolist() == [["S01", "", "", "", ""], ["S02", "mot", "", "", ""]]


def test_missing_input_location(tmp_path: Path):
    intake = read_sheets(tmp_path / "missing")
    assert [where(f) for f in intake.findings] == [("error", "(input)", None, "", "file_missing")]
