"""Shared fixtures: the repository's paths and the tiny review in tests/data/tiny/."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tests" / "data" / "tiny"
# The synthetic-review generator (bench/synthetic.py) lives with the benchmark, which runs it
# as a script; the tests import it as ``synthetic`` from there.
sys.path.insert(0, str(REPO / "bench"))


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A private copy of the tiny review (config, codebook, sheets, narrative)."""
    target = tmp_path / "tiny"
    shutil.copytree(TINY, target)
    return target


@pytest.fixture(scope="session")
def tiny_clean(tmp_path_factory: pytest.TempPathFactory):
    """The tiny review validated once: (ValidationResult, Codebook)."""
    from evsynth.codebook import load_codebook
    from evsynth.validate import validate_review

    result = validate_review(TINY / "sheets", TINY / "codebook.yaml")
    assert result.summary["passed"], [f.one_line() for f in result.errors]
    return result, load_codebook(TINY / "codebook.yaml")
