"""What every importer shares (evsynth.importers.common): it writes only the review's sheets
folder and codebook, never over a lead's file without --force, and all its files or none."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from evsynth.importers.common import ImportProblem, targets, write_all


def test_writes_every_file_with_ordinary_permissions(tmp_path: Path):
    where = targets("rev", tmp_path)
    old = os.umask(0o022)
    try:
        written = write_all(
            {where.sheets / "studies.csv": "a\n", where.codebook: "b: 1\n"},
            force=False,
            allowed=where,
        )
    finally:
        os.umask(old)
    assert sorted(written) == sorted([where.sheets / "studies.csv", where.codebook])
    assert (where.sheets / "studies.csv").read_text("utf-8") == "a\n"
    assert stat.S_IMODE((where.sheets / "studies.csv").stat().st_mode) == 0o644
    assert [p.name for p in where.sheets.iterdir()] == ["studies.csv"]  # no temporary left


def test_an_existing_file_refuses_the_whole_import_unless_forced(tmp_path: Path):
    where = targets("rev", tmp_path)
    where.sheets.mkdir(parents=True)
    (where.sheets / "codes.csv").write_text("lead's own\n", "utf-8")
    files = {where.sheets / "studies.csv": "new\n", where.sheets / "codes.csv": "new\n"}
    with pytest.raises(ImportProblem, match="not overwriting the lead's files.*codes.csv"):
        write_all(files, force=False, allowed=where)
    assert sorted(p.name for p in where.sheets.iterdir()) == ["codes.csv"]  # nothing written
    assert (where.sheets / "codes.csv").read_text("utf-8") == "lead's own\n"
    write_all(files, force=True, allowed=where)
    assert (where.sheets / "codes.csv").read_text("utf-8") == "new\n"


def test_nothing_outside_the_review_is_written(tmp_path: Path):
    where = targets("rev", tmp_path)
    with pytest.raises(ImportProblem, match="writes only"):
        write_all({tmp_path / "data/raw/other/studies.csv": "x\n"}, force=True, allowed=where)
    with pytest.raises(ImportProblem, match="writes only"):
        write_all({where.sheets / "../../../evil.csv": "x\n"}, force=True, allowed=where)
    assert not (tmp_path / "data/raw/other").exists() and not (tmp_path / "evil.csv").exists()


@pytest.mark.parametrize("review", ["", "Rev", "../x", "a b", "x" * 65])
def test_a_bad_review_id_is_refused(review: str):
    with pytest.raises(ImportProblem, match="review id"):
        targets(review)


def test_a_sheet_cell_with_a_bare_carriage_return_reads_back_whole():
    """Free text from an export may hold a bare CR (old Mac line ends pasted into a form): the
    CSV an importer writes must read back as the same cells, as validation reads them."""
    import csv
    import io

    from evsynth.importers.common import sheet_csv

    rows = [{"study_id": "S1", "citation": "Line one\rline two"}, {"study_id": "S2"}]
    text = sheet_csv(("study_id", "citation"), rows)
    back = list(csv.reader(io.StringIO(text, newline="")))
    assert back == [["study_id", "citation"], ["S1", "Line one\rline two"], ["S2", ""]]
