"""The project describes itself: licence, citation and data contract live in the repository."""

from __future__ import annotations

import re
import subprocess
import tomllib

import yaml

from conftest import REPO


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]


def test_licence_file_matches_the_declared_licence():
    assert pyproject()["license"] == "MIT"
    assert (REPO / "LICENSE").read_text("utf-8").startswith("MIT License")


def test_citation_file_is_valid_cff_with_the_package_version():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text("utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == pyproject()["version"]
    assert cff["license"] == pyproject()["license"]
    assert cff["title"] and cff["authors"]


def test_nothing_points_outside_the_repository_for_its_interface():
    """A clone must describe its own sheets: no link to a folder beside the repository."""
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "README.md", "config", "src", "workflow"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for rel in tracked.split():
        text = (REPO / rel).read_text("utf-8", errors="replace")
        assert "shared/" not in text, rel


def test_every_contract_link_resolves_to_the_repository_copy():
    contract = REPO / "docs" / "contract.md"
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^## (.+)$", contract.read_text("utf-8"), re.MULTILINE)
    }
    for anchor in re.findall(r"\]\(#([^)]+)\)", contract.read_text("utf-8")):
        assert anchor in headings, anchor
    readme = (REPO / "README.md").read_text("utf-8")
    assert "docs/contract.md" in readme
