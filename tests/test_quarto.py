"""The Quarto render path. Quarto cannot be installed from PyPI (the only registry these
machines reach), so here these tests skip and CI covers the Pandoc + Typst path instead; on a
machine with Quarto on PATH (e.g. the conda environment.yml) they run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO
from test_workflow import snakemake

pytestmark = [
    pytest.mark.quarto,
    pytest.mark.skipif(
        shutil.which("quarto") is None,
        reason="Quarto is not on PATH: it cannot be installed from PyPI here; "
        "the Pandoc + Typst render path is tested instead",
    ),
]


def test_quarto_renders_both_formats_from_the_same_sources(tmp_path: Path):
    workdir = tmp_path / "tiny"
    shutil.copytree(REPO / "tests/data/tiny", workdir)
    done = snakemake(workdir, env={"EVSYNTH_ENGINE": "quarto"})
    assert done.returncode == 0, done.stderr[-3000:]
    report = workdir / "results/tiny/report"
    html = (report / "summary-of-evidence.html").read_text("utf-8")
    assert "Why we did this review" in html and "&lt;script&gt;" in html
    assert (report / "summary-of-evidence.pdf").stat().st_size > 10_000


def test_the_reports_project_renders_as_it_is(tmp_path: Path):
    """Quarto reads reports/ as a project: both formats and their options resolve."""
    import subprocess

    source = tmp_path / "source"
    shutil.copytree(REPO / "reports", source)
    done = subprocess.run(["quarto", "inspect", str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
