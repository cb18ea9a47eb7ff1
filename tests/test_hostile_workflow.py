"""Rerun honesty: a rerun goes by content, not by file dates.

An input edited and given back its old date, a result truncated or deleted after the run, and
the scope of a rerun after editing one sheet. One clean run of the tiny review is shared; each
test works on its own copy of it (``cp -a`` keeps the dates, as Snakemake needs).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import REPO
from test_workflow import snakemake

pytestmark = pytest.mark.workflow

DOWNSTREAM_OF_OTHER_SHEETS = {"tally", "crosstab", "agreement", "prisma"}


@pytest.fixture
def built(tiny_built: Path) -> Path:
    """The shared clean run of the tiny review (tests/conftest.py), never changed here."""
    return tiny_built


@pytest.fixture
def copy(tiny_copy: Path) -> Path:
    """A private copy of the built review, with the file dates Snakemake goes by."""
    return tiny_copy


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def job_counts(output: str) -> dict[str, int]:
    """Snakemake's first "Job stats" table (what it is about to run), rule -> count."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


def dry_run(workdir: Path) -> str:
    done = snakemake(workdir, "--dry-run")
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def edit_keeping_date(path: Path, old: str, new: str) -> None:
    """Change ``path``'s content and give it back its old modification time (``cp -p``)."""
    stat = path.stat()
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), "utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_sheet_edited_with_its_old_date_is_rerun(copy: Path):
    studies = copy / "sheets/studies.csv"
    edit_keeping_date(studies, "Canada,rct", "Canada;Mexico,rct")
    done = snakemake(copy)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sheets/studies.csv changed since the last run" in done.stderr
    record = json.loads((copy / "results/tiny/provenance.json").read_text("utf-8"))
    assert record["inputs"]["sheets/studies.csv"] == sha256(studies)
    summary = json.loads((copy / "results/tiny/validation/summary.json").read_text("utf-8"))
    assert summary["inputs"]["sheets/studies.csv"] == sha256(studies)
    with open(copy / "results/tiny/clean/studies.csv", encoding="utf-8") as handle:
        countries = {r["study_id"]: r["country"] for r in csv.DictReader(handle)}
    assert countries["T4"] == "Canada;Mexico"
    html = (copy / "results/tiny/report/summary-of-evidence.html").read_text("utf-8")
    assert "Mexico" in html
    again = snakemake(copy, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_touched_input_reruns_nothing(copy: Path):
    for path in [
        *(copy / "sheets").iterdir(),
        copy / "codebook.yaml",
        *(copy / "narrative").iterdir(),
    ]:
        path.touch()
    done = snakemake(copy, "--dry-run")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Nothing to be done" in done.stdout + done.stderr


def test_a_truncated_clean_table_is_rebuilt_not_read(copy: Path, built: Path):
    clean = copy / "results/tiny/clean/studies.csv"
    lines = clean.read_text("utf-8").splitlines(keepends=True)
    clean.write_text("".join(lines[:3]), "utf-8")  # header and two of the five records
    done = snakemake(copy)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "results/tiny/clean/studies.csv is not what rule validate wrote" in done.stderr
    assert clean.read_bytes() == (built / "results/tiny/clean/studies.csv").read_bytes()
    with open(clean, encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 5
    with open(copy / "results/tiny/tallies/themes.csv", encoding="utf-8") as handle:
        themes = {r["code"]: r for r in csv.DictReader(handle)}
    assert themes["a"]["n_studies"] == "4" and themes["b"]["pct_studies"] == "60"
    html = " ".join(
        (copy / "results/tiny/report/summary-of-evidence.html").read_text("utf-8").split()
    )
    assert "We reviewed 5 records" in html


def test_deleted_and_edited_results_are_rebuilt_with_the_same_bytes(copy: Path, built: Path):
    deleted = ["figures/forest.svg", "outcomes/gap_map.csv"]
    edited = "tallies/agreement.csv"
    for rel in deleted:
        (copy / "results/tiny" / rel).unlink()
    target = copy / "results/tiny" / edited
    stat = target.stat()
    target.write_text(target.read_text("utf-8").replace(",", ";"), "utf-8")
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # damage hidden behind its date
    done = snakemake(copy)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"results/tiny/{edited} is not what rule agreement wrote" in done.stderr
    for rel in [*deleted, edited]:
        path = copy / "results/tiny" / rel
        assert path.read_bytes() == (built / "results/tiny" / rel).read_bytes(), rel
    package = json.loads((copy / "results/tiny/datapackage.json").read_text("utf-8"))
    for resource in package["resources"]:
        assert resource["hash"] == "sha256:" + sha256(copy / "results/tiny" / resource["path"])


def test_editing_outcomes_reruns_only_what_reads_outcomes(copy: Path):
    edit_keeping_date(copy / "sheets/outcomes.csv", "Scale B", "Scale C")
    planned = job_counts(dry_run(copy))
    assert planned.keys() >= {"validate", "outcomes", "render"}
    assert not planned.keys() & DOWNSTREAM_OF_OTHER_SHEETS, planned
    done = snakemake(copy)
    assert done.returncode == 0, done.stderr[-3000:]
    ran = job_counts(done.stdout + done.stderr)
    assert ran == planned
    finished = {m[1] for m in re.finditer(r"^  tiny: (\w+)", done.stderr, re.M)}
    assert "outcomes" in finished and not finished & DOWNSTREAM_OF_OTHER_SHEETS, finished
    assert "Scale C" in (copy / "results/tiny/clean/outcomes.csv").read_text("utf-8")


@pytest.mark.parametrize(
    ("sheet", "old", "new", "expected"),
    [
        ("screening", "Wrong population", "Wrong people", {"prisma"}),
        (
            "codes",
            "Theme B here",
            "Theme B is here",
            {"tally", "crosstab", "agreement", "outcomes"},
        ),
        (
            "studies",
            "A trial. Synthetic",
            "A trial! Synthetic",
            # check_narrative: the references check compares the studies with the entries.
            # subgroups: the studies' fields form the subgroups.
            {
                "tally",
                "crosstab",
                "outcomes",
                "appraisal",
                "findings",
                "check_narrative",
                "subgroups",
            },
        ),
    ],
)
def test_editing_one_sheet_plans_only_what_reads_it(
    copy: Path, sheet: str, old: str, new: str, expected: set[str]
):
    edit_keeping_date(copy / f"sheets/{sheet}.csv", old, new)
    planned = job_counts(dry_run(copy))
    bookkeeping = {"validate", "validation_gate", "render", "provenance", "datapackage", "all"}
    assert set(planned) - bookkeeping == expected, planned


def test_a_hand_edited_record_never_removes_an_input(copy: Path):
    record = copy / "results/tiny/checksums/validate.outputs.sha256"
    record.write_text(
        record.read_text("utf-8") + f"{'0' * 64}  sheets/studies.csv\n{'0' * 64}  codebook.yaml\n",
        "utf-8",
    )
    before = {p: p.read_bytes() for p in (copy / "sheets").iterdir()}
    done = snakemake(copy, "--dry-run")
    assert done.returncode == 0, done.stderr[-3000:]
    assert (copy / "codebook.yaml").is_file()
    assert before == {p: p.read_bytes() for p in (copy / "sheets").iterdir()}


@pytest.mark.parametrize("kind", ["deep", "aliases", "fifo"])
def test_a_hostile_codebook_stops_the_review_with_its_location_not_a_traceback(
    kind: str, tmp_path: Path
):
    """Snakemake reads the codebook while it builds the job list (for the crosstab fields),
    before any rule runs: that read is bounded like every other, so the validate rule can
    report the problem with the file and line."""
    workdir = tmp_path / "tiny"
    shutil.copytree(REPO / "tests/data/tiny", workdir)
    codebook = workdir / "codebook.yaml"
    codebook.unlink()
    if kind == "deep":
        codebook.write_text("review: tiny\nthemes: " + "[" * 1000 + "]" * 1000 + "\n", "utf-8")
    elif kind == "aliases":
        lines = ["review: tiny", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
        codebook.write_text("\n".join(lines) + "\nthemes: *a8\n", "utf-8")
    else:
        os.mkfifo(codebook)  # a reader that waits for a writer would hang the whole run
    done = snakemake(workdir, "--keep-going")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "RecursionError" not in done.stderr
    assert "codebook.yaml" in done.stderr
    expected = {"deep": "yaml_depth", "aliases": "yaml_aliases", "fifo": "file_unreadable"}[kind]
    with open(workdir / "results/tiny/validation/issues.csv", encoding="utf-8") as handle:
        rules = {row["rule"] for row in csv.DictReader(handle)}
    assert expected in rules
