"""Reproducibility and audit: identical reruns, untouched inputs,
provenance, the data package, many reviews in parallel and the SLURM profile."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from evsynth.run import REPORT_EXTENSIONS
from test_workflow import snakemake

pytestmark = pytest.mark.workflow

COMPARED = (".csv", ".json", ".svg", ".md")


def digests(root: Path, suffixes: tuple[str, ...] = COMPARED) -> dict[str, str]:
    """SHA-256 of every result file with one of ``suffixes``, by path relative to ``root``."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(comparable(p)).hexdigest()
        for p in sorted((root / "results").rglob("*"))
        if p.is_file() and p.suffix in suffixes and "source" not in p.parts
    }


def comparable(path: Path) -> bytes:
    """The file's bytes; for provenance.json, all but the project's commit stamp.

    The runs compared are minutes apart (one is shared by the whole session) and the commit
    moves if the tree is committed to meanwhile; the stamp itself is checked in
    test_provenance_names_every_input_with_its_hash.
    """
    if path.name != "provenance.json":
        return path.read_bytes()
    record = json.loads(path.read_text("utf-8"))
    record.pop("project")
    return json.dumps(record, sort_keys=True).encode()


def fresh_tiny(parent: Path, name: str = "tiny") -> Path:
    workdir = parent / name
    shutil.copytree(REPO / "tests/data/tiny", workdir)
    return workdir


@pytest.fixture
def clean_run(tiny_built: Path) -> Path:
    """The shared clean run of the tiny review (through ``make run``; tests/conftest.py)."""
    return tiny_built


def test_a_second_clean_run_from_read_only_inputs_is_byte_identical(
    clean_run: Path, tmp_path: Path
):
    # One fresh run checks three things: the bytes do not depend on the run, nor on where the
    # project's folder is (this run is of a copy of the project, its review inside it, as
    # `make run` runs), and the pipeline never writes under its inputs. The kill -9 recovery is
    # tests/test_run.py's (`make run` recovers by itself).
    second = fresh_tiny(tmp_path)
    for part in ("workflow", "reports", "scripts"):
        shutil.copytree(REPO / part, second / part, ignore=shutil.ignore_patterns("__pycache__"))
    inputs = [second / "sheets", second / "narrative", second / "codebook.yaml"]

    def snapshot() -> dict[str, tuple[bytes, int]]:
        files = [p for root in inputs for p in ([root] if root.is_file() else root.rglob("*"))]
        return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in files if p.is_file()}

    before = snapshot()
    for path in inputs[:2]:  # read-only folders: any write attempt would fail the run
        for p in path.rglob("*"):
            p.chmod(0o444)
        path.chmod(0o555)
    try:
        done = snakemake(second, project=second)
    finally:
        for path in inputs[:2]:
            path.chmod(0o755)
    assert done.returncode == 0, done.stderr[-3000:]
    assert snapshot() == before
    assert sorted(p.name for p in (second / "sheets").iterdir()) == [
        "codes.csv",
        "outcomes.csv",
        "screening.csv",
        "studies.csv",
    ]
    first, again = digests(clean_run), digests(second)
    assert len(first) > 20
    assert first == again
    # The checksum records name the project's files from its folder, so they too are the same
    # wherever the folder is (the report templates among the render's inputs included).
    records = {p.name: p.read_text("utf-8") for p in (second / "results/tiny/checksums").iterdir()}
    assert "  reports/_assets/report.css\n" in records["render-summary-of-evidence.inputs.sha256"]
    assert not [name for name, text in records.items() if str(tmp_path) in text]
    # The figures' PNGs, the PDF and the Word file are fixed too (no timestamps), although not
    # required.
    fixed = (".png", ".pdf", ".docx")
    assert digests(clean_run, fixed) == digests(second, fixed)
    assert any(name.endswith(".docx") for name in digests(clean_run, fixed))


def test_provenance_names_every_input_with_its_hash(clean_run: Path):
    record = json.loads((clean_run / "results/tiny/provenance.json").read_text("utf-8"))
    for rel, digest in record["inputs"].items():
        assert hashlib.sha256((clean_run / rel).read_bytes()).hexdigest() == digest
    assert record["config"]["sheets"] == "sheets/"
    assert len(record["config_sha256"]) == 64
    for package in ("python", "pandas", "scipy", "snakemake", "evsynth"):
        assert record["software"][package], package
    assert record["engines"]["pandoc"] and record["engines"]["typst"]
    assert "commit" in record["project"] and "dirty" in record["project"]


def test_datapackage_describes_every_result_table(clean_run: Path):
    base = clean_run / "results/tiny"
    package = json.loads((base / "datapackage.json").read_text("utf-8"))
    paths = {r["path"] for r in package["resources"]}
    on_disk = {
        p.relative_to(base).as_posix() for p in base.rglob("*.csv") if "report" not in p.parts
    }
    assert paths == on_disk
    themes = next(r for r in package["resources"] if r["path"] == "tallies/themes.csv")
    fields = {f["name"]: f for f in themes["schema"]["fields"]}
    assert fields["n_studies"]["type"] == "integer"
    assert fields["study_ids"]["description"]
    import frictionless

    report = frictionless.validate(str(base / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]


def test_many_reviews_run_in_parallel(examples: Path):
    # The examples' shared run (tests/conftest.py) is one Snakemake run of two reviews with two
    # cores: one review's summary of evidence, the other's evidence review and strategic
    # briefing, built side by side. Each review gets every report its config names, and each
    # review's files are its own.
    config = yaml.safe_load((examples / "config.yaml").read_text("utf-8"))
    expected = {
        "culturally-responsive": ["summary-of-evidence"],
        "families": ["evidence-review", "strategic-briefing"],
    }
    assert {r: s["report"] for r, s in config["reviews"].items()} == {
        "culturally-responsive": "summary-of-evidence",
        "families": ["evidence-review", "strategic-briefing"],
    }
    for review, formats in expected.items():
        folder = examples / f"results/{review}/report"
        reports = sorted(p.name for p in folder.iterdir() if p.is_file())
        assert reports == sorted(f"{fmt}.{ext}" for fmt in formats for ext in REPORT_EXTENSIONS)
        record = json.loads((examples / f"results/{review}/provenance.json").read_text("utf-8"))
        assert record["review"] == review, record.get("review")
        assert record["inputs"] and all(review in rel for rel in record["inputs"]), record["inputs"]


def test_the_slurm_profile_passes_a_dry_run(tmp_path: Path):
    workdir = fresh_tiny(tmp_path)
    done = snakemake(workdir, "--profile", str(REPO / "profiles/slurm"), "--dry-run")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "render" in done.stdout and "This was a dry-run" in done.stdout


def test_snakemake_report_browses_each_stage(tiny_copy: Path, tmp_path: Path):
    out = tmp_path / "audit.html"
    done = snakemake(tiny_copy, "--report", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    html = out.read_text("utf-8", errors="replace")
    for category in ("1. Validation", "2. Themes", "3. Outcomes", "4. Reports", "5. Provenance"):
        assert category in html, category
