"""Shared fixtures: the repository's paths and the tiny review in tests/data/tiny/."""

from __future__ import annotations

import fcntl
import gc
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tests" / "data" / "tiny"
#: Sheet text in the tiny review that is markup, a shortcode, code or a citation in some engine;
#: every report format must print each of them literally.
HOSTILE_TEXTS = (
    "<script>alert(1)</script>",
    "{{< include x.qmd >}}",
    "`{python} 1+1`",
    '#read("/etc/passwd")',
    "$x^2$",
    "*em*",
    "@cite",
    "[link](http://x)",
)
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


def make_run(workdir: Path, *extra: str, **popen) -> subprocess.CompletedProcess:
    """What ``make run`` calls, in ``workdir`` (Pandoc engine: the same bytes on every machine)."""
    return subprocess.run(
        [sys.executable, "-m", "evsynth.cli", "run", "--config", "config.yaml", *extra],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "EVSYNTH_ENGINE": "pandoc"},
        **popen,
    )


def built_once(
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
    name: str,
    build: Callable[[Path], None],
) -> Path:
    """``build(folder)`` run once for the whole test session, and ``folder``.

    Under pytest-xdist the workers share it: the first to take the lock builds, the others
    wait and then read the same folder (a second build would only take a core from other
    tests). A failed build fails every test that asks for it, with the same message.
    """
    if worker_id == "master":  # not under xdist: this process's own temporary folder
        folder = tmp_path_factory.mktemp(name) / name
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        failed = shared / "failed.txt"
        if failed.exists():
            pytest.fail(failed.read_text("utf-8"))
        if not (shared / "done").exists():
            try:
                build(shared / name)
            except BaseException as exc:
                failed.write_text(f"{type(exc).__name__}: {exc}", "utf-8")
                raise
            (shared / "done").touch()
    return shared / name


@pytest.fixture(scope="session")
def tiny_built(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The tiny review run once from scratch through ``make run``'s wrapper, shared read-only.

    A full run costs ~8 s; the workflow tests read this one (or a copy of it) instead of each
    running their own. It is also the suite's real end-to-end run of ``make run``.
    """

    def build(workdir: Path) -> None:
        shutil.copytree(TINY, workdir)
        done = make_run(workdir)
        assert done.returncode == 0, done.stderr[-3000:]

    return built_once(tmp_path_factory, worker_id, "tiny", build)


@pytest.fixture
def tiny_copy(tiny_built: Path, tmp_path: Path) -> Path:
    """A private copy of the built review for a test that edits or reruns it.

    copytree copies with copy2, which keeps the file dates Snakemake goes by, so the copy is up
    to date; symlinks stay links.
    """
    target = tmp_path / "tiny"
    shutil.copytree(tiny_built, target, symlinks=True)
    return target


@pytest.fixture(scope="session")
def examples(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The project's own config, sheets and narrative (two reviews, three house formats), run
    once through Snakemake with two cores in a private folder that every test (and every xdist
    worker) reads. It is also the suite's run of several reviews at once."""
    from test_workflow import snakemake  # imports the forkserver runner only when first used

    def build(workdir: Path) -> None:
        shutil.copytree(REPO / "config", workdir / "config")
        shutil.copytree(REPO / "data" / "raw", workdir / "data" / "raw")
        shutil.copytree(REPO / "reports" / "narrative", workdir / "reports" / "narrative")
        shutil.copy(workdir / "config" / "config.yaml", workdir / "config.yaml")
        done = snakemake(workdir)
        assert done.returncode == 0, done.stderr[-3000:]

    return built_once(tmp_path_factory, worker_id, "examples", build)


#: The session-wide builds, by the fixtures that read them, in the order they are placed.
SHARED_BUILD_FIXTURES = ("examples", "tiny_built")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put first the test files that read a shared build (the examples' first, then the tiny
    review's), each file's tests kept together and in order.

    pytest-xdist's worksteal hands each worker one contiguous half of this list, so the first
    worker builds both at its start while the other works through files that need neither,
    and takes the rest of the first half over only later. Without this, a worker that reached
    a test needing a build the other worker was making sat idle for the rest of it (the
    examples': ~25 s, a core's worth).
    """

    def rank(fixtures: set[str]) -> int:
        used = [i for i, name in enumerate(SHARED_BUILD_FIXTURES) if name in fixtures]
        return used[0] if used else len(SHARED_BUILD_FIXTURES)

    by_file: dict[Path, set[str]] = {}
    for item in items:
        by_file.setdefault(item.path, set()).update(getattr(item, "fixturenames", ()))
    items.sort(key=lambda item: rank(by_file[item.path]))  # stable: order within a file kept


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection built (the test modules, the package, pandas, matplotlib: ~190,000
    objects in each xdist worker) out of garbage collection: it lives for the session, and each
    full collection walked it again, about a third of the collector's time in a worker."""
    gc.freeze()
