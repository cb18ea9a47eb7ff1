"""evsynth.integrity without Snakemake: records, and which results a rerun removes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evsynth.integrity import Job, read_record, recorded, remove_unvouched


@pytest.fixture
def review(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sheet, a clean table (kept: read by content) and a tally, each job recorded."""
    monkeypatch.chdir(tmp_path)
    Path("sheets").mkdir()
    Path("sheets/studies.csv").write_text("study_id\nT1\n", "utf-8")
    out = Path("results/r")
    (out / "clean").mkdir(parents=True)
    (out / "tallies").mkdir()

    def validate() -> None:
        (out / "clean/studies.csv").write_text("study_id,source_row\nT1,2\n", "utf-8")
        (out / "validation.txt").write_text("passed\n", "utf-8")

    def tally() -> None:
        (out / "tallies/themes.csv").write_text("code,n\na,1\n", "utf-8")

    recorded(
        validate,
        ["sheets/studies.csv"],
        [out / "clean/studies.csv", out / "validation.txt"],
        out / "checksums/validate",
    )()
    recorded(
        tally,
        [out / "clean/studies.csv", "sheets/studies.csv"],
        [out / "tallies/themes.csv"],
        out / "checksums/tally",
    )()
    return out


def jobs(out: Path) -> list[tuple[Job, str]]:
    return [
        (
            Job(out / "checksums/validate", (out / "clean/studies.csv", out / "validation.txt")),
            "validate",
        ),
        (Job(out / "checksums/tally", (out / "tallies/themes.csv",)), "tally"),
    ]


def keep(out: Path) -> frozenset[Path]:
    return frozenset({out / "clean/studies.csv"})


def test_records_are_sha256sum_lines_of_inputs_and_outputs(review: Path):
    inputs = read_record(review / "checksums/tally.inputs.sha256")
    assert inputs is not None and set(inputs) == {
        review / "clean/studies.csv",
        Path("sheets/studies.csv"),
    }
    assert all(len(d) == 64 for d in inputs.values())


def test_nothing_is_removed_when_everything_matches(review: Path):
    assert remove_unvouched(jobs(review), keep(review)) == []
    assert (review / "tallies/themes.csv").is_file()


def test_an_input_edited_with_its_old_date_makes_its_readers_stale(review: Path):
    sheet = Path("sheets/studies.csv")
    stat = sheet.stat()
    sheet.write_text("study_id\nT1\nT2\n", "utf-8")
    os.utime(sheet, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    notices = remove_unvouched(jobs(review), keep(review))
    assert notices == [
        "evsynth: sheets/studies.csv changed since the last run; redoing validate, tally."
    ]
    assert not (review / "tallies/themes.csv").exists()
    assert not (review / "validation.txt").exists()
    assert (review / "clean/studies.csv").is_file()  # kept: removing it would rerun every reader


def test_a_damaged_kept_table_reruns_its_job_and_not_its_readers(review: Path):
    (review / "clean/studies.csv").write_text("study_id,source_row\n", "utf-8")
    notices = remove_unvouched(jobs(review), keep(review))
    assert notices == [
        f"evsynth: {review}/clean/studies.csv is not what rule validate wrote "
        "(its SHA-256 differs); redoing validate."
    ]
    assert not (review / "validation.txt").exists()  # so that validate reruns
    assert (review / "clean/studies.csv").is_file()  # rewritten by it; its readers stay put
    assert (review / "tallies/themes.csv").is_file()


def test_a_damaged_result_is_removed(review: Path):
    (review / "tallies/themes.csv").write_text("code,n\na,7\n", "utf-8")
    remove_unvouched(jobs(review), keep(review))
    assert not (review / "tallies/themes.csv").exists()
    assert (review / "clean/studies.csv").is_file()


def test_results_without_a_record_are_redone(review: Path):
    (review / "checksums/tally.outputs.sha256").unlink()
    notices = remove_unvouched(jobs(review), keep(review))
    assert notices == ["evsynth: no record of what tally read and wrote; redoing them."]
    assert not (review / "tallies/themes.csv").exists()


def test_a_hand_edited_record_cannot_remove_anything_else(review: Path):
    record = review / "checksums/tally.outputs.sha256"
    record.write_text(record.read_text("utf-8") + f"{'0' * 64}  sheets/studies.csv\n", "utf-8")
    remove_unvouched(jobs(review), keep(review))
    assert Path("sheets/studies.csv").is_file()
    assert (review / "tallies/themes.csv").is_file()
