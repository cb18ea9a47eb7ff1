"""load_codebook keeps codebooks it has loaded, by their bytes: an edited file is loaded
afresh, a bad one is reported in full every time, and no caller sees another's changes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from evsynth.codebook import MAX_LOADED, Codebook, load_codebook
from evsynth.findings import InputError
from validation_helpers import VALID

REPO = Path(__file__).resolve().parent.parent

BASE = (VALID / "codebook.yaml").read_text(encoding="utf-8")
LABEL = "rct: Rand"


def test_an_edited_codebook_is_loaded_afresh(tmp_path: Path) -> None:
    path = tmp_path / "codebook.yaml"
    path.write_text(BASE, encoding="utf-8")
    before = load_codebook(path)
    assert LABEL in BASE
    path.write_text(BASE.replace(LABEL, "rct: Edited rand", 1), encoding="utf-8")
    after = load_codebook(path)
    assert after.vocabularies["design"]["rct"].startswith("Edited rand")
    assert before.vocabularies["design"]["rct"].startswith("Rand")
    path.write_text(BASE, encoding="utf-8")  # back to the first bytes: the first codebook
    assert load_codebook(path) == before


def test_a_codebook_broken_after_loading_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "codebook.yaml"
    path.write_text(BASE, encoding="utf-8")
    load_codebook(path)
    path.write_text(BASE.replace("themes:", "theme:", 1), encoding="utf-8")
    with pytest.raises(InputError) as raised:
        load_codebook(path)
    assert [(f.column, f.rule) for f in raised.value.findings][:1] == [("theme", "codebook_schema")]


def test_a_bad_codebook_is_reported_the_same_each_time_naming_each_file(tmp_path: Path) -> None:
    text = BASE.replace("review: fixture", "review: [fixture", 1)
    messages = []
    for name in ("a.yaml", "b.yaml", "a.yaml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(InputError) as raised:
            load_codebook(path)
        messages.append([f.message for f in raised.value.findings])
    assert messages[0] == messages[2]
    assert messages[1] == [
        m.replace(str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")) for m in messages[0]
    ]
    assert str(tmp_path / "b.yaml") in messages[1][0]


def test_a_codebook_refused_unread_is_reported_after_loading_its_copy(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(BASE, encoding="utf-8")
    load_codebook(good)
    with pytest.raises(InputError) as raised:
        load_codebook(tmp_path / "missing.yaml")
    assert [f.rule for f in raised.value.findings] == ["file_missing"]


def _change_everything(book: Codebook) -> None:
    book.vocabularies["design"]["rct"] = "changed"
    book.vocabularies["design"]["new"] = "added"
    for field in book.fields.values():
        field.values["new"] = "added"
    book.fields.clear()
    book.outcomes.clear()
    book.designs.clear()
    for tool in book.appraisal.values():
        tool.domains.clear()
        tool.judgements.clear()
    book.theme_by_code.clear()
    book.lineage.clear()


def test_changing_a_loaded_codebook_changes_no_other_load(tmp_path: Path) -> None:
    """Every part a caller could change in place, on a codebook that has them all, changed in
    the first load's result (the one that was parsed) and in a later one's (a kept one)."""
    path = tmp_path / "codebook.yaml"
    path.write_bytes((REPO / "config/codebooks/families.yaml").read_bytes())
    first = load_codebook(path)
    second = load_codebook(path)
    pristine = copy.deepcopy(first)
    assert first.appraisal and any(f.values for f in first.fields.values())
    assert first.theme_by_code and first.lineage
    for book in (first, second):
        _change_everything(book)
        again = load_codebook(path)
        assert again == pristine
        assert again.theme_by_code == pristine.theme_by_code
        assert again.lineage == pristine.lineage
        assert all(tool.domains and tool.judgements for tool in again.appraisal.values())
        assert all("new" not in field.values for field in again.fields.values())


def test_the_same_bytes_at_another_path_give_the_same_codebook(tmp_path: Path) -> None:
    books = []
    for name in ("one.yaml", "two.yaml"):
        path = tmp_path / name
        path.write_text(BASE, encoding="utf-8")
        books.append(load_codebook(path))
    assert books[0] == books[1]


def test_many_codebooks_are_each_loaded_right(tmp_path: Path) -> None:
    """More distinct codebooks than are kept: each still gives its own content."""
    paths = []
    for i in range(MAX_LOADED + 3):
        path = tmp_path / f"c{i}.yaml"
        path.write_text(BASE.replace(LABEL, f"rct: Label {i} rand", 1), encoding="utf-8")
        paths.append(path)
    for _ in range(2):
        for i, path in enumerate(paths):
            assert load_codebook(path).vocabularies["design"]["rct"].startswith(f"Label {i} ")
