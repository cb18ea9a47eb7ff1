"""``make run`` as a research lead meets it: what it says after a good run and after a broken
sheet, how it finishes a run that was killed, and how it leaves a live run alone.

These call what ``make run`` calls (``python -m evsynth.cli run``) in a copy of the tiny review.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_run
from evsynth.run import BUSY, RunLock
from test_reproducibility import digests, fresh_tiny

pytestmark = pytest.mark.workflow

REPORTS = ("summary-of-evidence.html", "summary-of-evidence.pdf")


@pytest.fixture
def good_run(tiny_built: Path) -> Path:
    """The shared good run of the tiny review, made through this wrapper (tests/conftest.py)."""
    return tiny_built


def test_a_good_run_lists_the_reports_and_shows_progress(tiny_copy: Path):
    done = make_run(tiny_copy)  # nothing to do: the summary still names the reports
    assert done.returncode == 0
    for name in REPORTS:
        assert f"results/tiny/report/{name}" in done.stdout
    assert "STOPPED" not in done.stdout + done.stderr


def test_progress_names_each_review_and_stage(tmp_path: Path, good_run: Path):
    log = (good_run / "logs/render/tiny_summary-of-evidence.log").read_text("utf-8")
    assert "done" in log
    workdir = tmp_path / "copy"
    shutil.copytree(good_run, workdir, symlinks=True)
    (workdir / "narrative/why.md").write_text(
        (workdir / "narrative/why.md").read_text("utf-8") + "\nOne more sentence.\n", "utf-8"
    )
    done = make_run(workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "  tiny: render (summary-of-evidence) done" in done.stderr
    assert "  tiny: validate done" not in done.stderr  # the sheets did not change


def test_a_broken_sheet_after_a_good_run_never_leaves_the_old_report_looking_current(
    tmp_path: Path, good_run: Path
):
    workdir = tmp_path / "copy"
    shutil.copytree(good_run, workdir, symlinks=True)  # keeps the times: all up to date
    studies = workdir / "sheets/studies.csv"
    studies.write_text(studies.read_text("utf-8").replace("\nT2,", "\nT1,"), "utf-8")
    done = make_run(workdir)
    assert done.returncode != 0
    assert "tiny: STOPPED" in done.stderr
    assert "sheet 'studies', row 3, column 'study_id': study_id 'T1' is already used" in done.stderr
    assert "results/tiny/validation/issues.csv" in done.stderr
    assert "Traceback" not in done.stderr
    for name in REPORTS:  # never listed, and gone from disk
        assert name not in done.stdout
        assert not (workdir / "results/tiny/report" / name).exists()
    assert not (workdir / "results/tiny/provenance.json").exists()
    # The findings stay for the lead to work through.
    assert (workdir / "results/tiny/validation/issues.csv").is_file()


def test_a_run_killed_part_way_is_finished_by_the_next_make_run(good_run: Path, tmp_path: Path):
    workdir = fresh_tiny(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "evsynth.cli", "run", "--config", "config.yaml", "--cores", "1"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "EVSYNTH_ENGINE": "pandoc"},
        start_new_session=True,
    )
    marker = workdir / "results/tiny/tallies/themes.csv"
    deadline = time.monotonic() + 300
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the whole process group, as a power cut does
    process.wait()
    assert not (workdir / "results/tiny/provenance.json").exists(), "killed too late"
    assert any((workdir / ".snakemake/locks").iterdir()), "the kill left no lock to recover"
    done = make_run(workdir)  # no `make unlock`, no other manual step
    assert done.returncode == 0, done.stderr[-3000:]
    assert "an earlier run was interrupted; its lock was released" in done.stderr
    assert digests(workdir) == digests(good_run)


def test_a_live_run_in_the_same_folder_is_not_disturbed(good_run: Path, tmp_path: Path):
    workdir = tmp_path / "copy"
    shutil.copytree(good_run, workdir, symlinks=True)
    before = digests(workdir, (".csv", ".json", ".html", ".pdf"))
    lock = RunLock(workdir / ".snakemake" / "evsynth-run.lock")
    assert lock.acquire()  # another `make run` holds the folder
    try:
        done = make_run(workdir)
    finally:
        lock.release()
    assert done.returncode == BUSY
    assert (
        f"another `make run` is already going in this folder (process {os.getpid()})" in done.stderr
    )
    # A Snakemake started by hand in the same folder counts as a live run too.
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "snakemake", "--cores", "1"],
        cwd=workdir,
    )
    try:
        done = make_run(workdir)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert done.returncode == BUSY
    assert f"Snakemake is already running in this folder (process {sleeper.pid}" in done.stderr
    assert digests(workdir, (".csv", ".json", ".html", ".pdf")) == before


def test_a_config_that_breaks_the_schema_is_explained_and_nothing_runs(tmp_path: Path):
    workdir = fresh_tiny(tmp_path)
    config = (workdir / "config.yaml").read_text("utf-8")
    (workdir / "config.yaml").write_text(
        config.replace("report: summary-of-evidence", "report: summary"), "utf-8"
    )
    done = make_run(workdir)
    assert done.returncode == 1
    assert "nothing was run" in done.stderr
    assert "reviews.tiny.report: 'summary' is not one of" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (workdir / "results").exists()
