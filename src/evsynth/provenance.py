"""Provenance: what went into a review's results, so a reviewer can check a rerun.

``provenance.json`` holds no timestamps, so identical inputs give an identical file; it
records input and codebook hashes, the review's config block and its hash, the versions of
the software and engines, and the project's git commit with whether the tree was dirty.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from evsynth.intake import sha256_file

PACKAGES = (
    "evsynth",
    "snakemake",
    "pandas",
    "numpy",
    "scipy",
    "matplotlib",
    "openpyxl",
    "jsonschema",
    "pyyaml",
    "pypandoc-binary",
    "typst",
)


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def engine_versions() -> dict[str, str | None]:
    from evsynth.render import pandoc_version, quarto_version, typst_version

    return {"quarto": quarto_version(), "pandoc": pandoc_version(), "typst": typst_version()}


def git_state(project_dir: Path) -> dict[str, object]:
    """The project's commit and whether tracked files differ from it (None outside git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(project_dir), *args],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def canonical_hash(data: object) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def provenance_record(
    review: str, settings: dict, input_files: list[Path], project_dir: Path
) -> dict:
    return {
        "review": review,
        "config": settings,
        "config_sha256": canonical_hash(settings),
        "inputs": {str(p): sha256_file(p) for p in sorted(input_files)},
        "software": package_versions(),
        "engines": engine_versions(),
        "project": git_state(project_dir),
    }


def run_provenance(
    review: str, settings: dict, input_files: list[Path], project_dir: Path, out_path: Path
) -> None:
    record = provenance_record(review, settings, input_files, project_dir)
    out_path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
