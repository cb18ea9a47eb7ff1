"""Reading a folder of CSV sheets keeps the sheets it read cleanly, by their bytes: an edited
sheet is read afresh, a sheet with a finding is read and reported every time, the same bytes
at another path are reported at that path, and no caller sees another's changes."""

from __future__ import annotations

import shutil
from pathlib import Path

from evsynth.intake import MAX_KEPT_SHEETS, read_sheets
from evsynth.validate import validate_review
from validation_helpers import SHEET_NAMES, VALID, copy_review, drop_column, set_cell, where


def _review(folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    return copy_review(folder)


def test_an_edited_sheet_is_read_afresh(tmp_path: Path) -> None:
    sheets, codebook = _review(tmp_path / "a")
    before = read_sheets(sheets).sheets["studies"].frame
    set_cell("studies", 2, "citation", "An edited citation")(sheets, codebook)
    after = read_sheets(sheets).sheets["studies"].frame
    assert after["citation"].iloc[0] == "An edited citation"
    assert before["citation"].iloc[0] != "An edited citation"


def test_the_same_bytes_elsewhere_are_reported_there(tmp_path: Path) -> None:
    """A sheet read cleanly but missing a required column: the finding names each copy."""
    messages = []
    for name in ("a", "b"):
        sheets, codebook = _review(tmp_path / name)
        drop_column("studies", "citation")(sheets, codebook)
        result = validate_review(sheets, codebook)
        found = [f for f in result.findings if f.rule == "missing_column"]
        assert [where(f) for f in found] == [("error", "studies", 1, "citation", "missing_column")]
        messages.append(found[0].message)
        assert read_sheets(sheets).sheets["studies"].source == str(sheets / "studies.csv")
    assert str(tmp_path / "b" / "sheets" / "studies.csv") in messages[1]
    assert messages[1] == messages[0].replace(str(tmp_path / "a"), str(tmp_path / "b"))


def test_a_sheet_with_a_finding_is_reported_each_time_at_its_path(tmp_path: Path) -> None:
    for name in ("a", "b"):
        sheets, _ = _review(tmp_path / name)
        path = sheets / "codes.csv"
        path.write_bytes(b"\xef\xbb\xbf" + (VALID / "sheets" / "codes.csv").read_bytes())
        intake = read_sheets(sheets)
        assert [(f.rule, f.message) for f in intake.findings] == [
            ("bom_removed", f"{path}: UTF-8 byte-order mark removed")
        ]


def _change(sheets: dict) -> None:
    for sheet in sheets.values():
        sheet.frame.iloc[0, 0] = "changed"
        sheet.frame[sheet.frame.columns[1]] = "changed"
        sheet.frame["added"] = "x"
        sheet.rows.iloc[0] = 99
        sheet.source = "changed"


def test_changing_a_sheet_read_changes_no_other_read(tmp_path: Path) -> None:
    """Changed in place: the sheets of a first read (bytes never read before), then of a
    read of the same bytes."""
    sheets, codebook = _review(tmp_path / "a")
    set_cell("studies", 2, "citation", f"A citation read once: {tmp_path}")(sheets, codebook)
    intake = read_sheets(sheets)
    assert set(intake.sheets) == set(SHEET_NAMES)
    pristine = {
        name: (sheet.frame.copy(deep=True), sheet.rows.copy(deep=True))
        for name, sheet in intake.sheets.items()
    }
    for _ in range(2):
        _change(intake.sheets)
        intake = read_sheets(sheets)
        for name, (frame, rows) in pristine.items():
            assert intake.sheets[name].frame.equals(frame), name
            assert intake.sheets[name].rows.equals(rows), name
            assert intake.sheets[name].source == str(sheets / f"{name}.csv")


def test_many_sheets_are_each_read_right(tmp_path: Path) -> None:
    """More distinct sheets than are kept: each still gives its own cells."""
    folders = []
    for i in range(MAX_KEPT_SHEETS + 3):
        sheets, codebook = _review(tmp_path / f"r{i}")
        set_cell("studies", 2, "citation", f"Citation {i}")(sheets, codebook)
        folders.append(sheets)
    for _ in range(2):
        for i, sheets in enumerate(folders):
            frame = read_sheets(sheets).sheets["studies"].frame
            assert frame["citation"].iloc[0] == f"Citation {i}"


def test_a_copied_review_validates_as_the_original(tmp_path: Path) -> None:
    first = validate_review(*_review(tmp_path / "a"))
    shutil.rmtree(tmp_path / "a")
    second = validate_review(*_review(tmp_path / "b"))
    assert first.findings == second.findings
    assert first.clean.keys() == second.clean.keys()
    for name, frame in first.clean.items():
        assert frame.equals(second.clean[name]), name
