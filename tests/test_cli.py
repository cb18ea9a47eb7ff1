"""The command line: the run summary that ends `make run`, and the template command."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import yaml

from conftest import REPO
from evsynth.cli import main


def test_new_review_scaffolds_everything_and_says_what_to_do_next(tmp_path: Path, capsys):
    config = tmp_path / "config/config.yaml"
    config.parent.mkdir(parents=True)
    original = (REPO / "config/config.yaml").read_text("utf-8")
    config.write_text(original, "utf-8")
    from evsynth.scaffold import new_review

    assert new_review("my-review", Path("config/config.yaml"), root=tmp_path) == 0
    out = capsys.readouterr().out
    assert "Next:" in out and "make run" in out
    settings = yaml.safe_load(config.read_text("utf-8"))
    block = settings["reviews"]["my-review"]
    assert block["sheets"] == "data/raw/my-review/my-review-extraction.xlsx"
    assert block["report"] == "summary-of-evidence"
    # Everything else in the config is as it was, comments included.
    before = yaml.safe_load(original)
    assert {k: v for k, v in settings["reviews"].items() if k != "my-review"} == before["reviews"]
    assert config.read_text("utf-8").startswith(original.split("reviews:")[0])
    # The starter codebook is valid and the workbook is the template for it.
    from evsynth.codebook import load_codebook

    book = load_codebook(tmp_path / "config/codebooks/my-review.yaml")
    assert book.review == "my-review"
    workbook = openpyxl.load_workbook(tmp_path / block["sheets"])
    assert {"studies", "codes", "outcomes"} <= set(workbook.sheetnames)
    # A second time: nothing is overwritten.
    (tmp_path / "config/codebooks/my-review.yaml").write_text("lead's edits", "utf-8")
    assert new_review("my-review", Path("config/config.yaml"), root=tmp_path) == 1
    assert "already exists; nothing was written" in capsys.readouterr().err
    assert (tmp_path / "config/codebooks/my-review.yaml").read_text("utf-8") == "lead's edits"


def test_new_review_refuses_an_id_that_cannot_name_a_folder(tmp_path: Path, capsys):
    from evsynth.scaffold import new_review

    assert new_review("My Review", Path("config.yaml"), root=tmp_path) == 2
    assert "cannot be a review id" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_template_command_writes_a_workbook_but_never_over_a_leads_sheets(
    tmp_path: Path, capsys, monkeypatch
):
    codebook = REPO / "config/codebooks/families.yaml"
    out = tmp_path / "families.xlsx"
    assert main(["template", "--codebook", str(codebook), "--out", str(out)]) == 0
    assert out.stat().st_size > 5000
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/raw").mkdir(parents=True)
    shutil.copy(codebook, tmp_path / "families.yaml")
    (tmp_path / "data/raw/x.xlsx").write_bytes(b"the lead's own sheets")
    assert main(["template", "--codebook", "families.yaml", "--out", "data/raw/x.xlsx"]) == 2
    assert (tmp_path / "data/raw/x.xlsx").read_bytes() == b"the lead's own sheets"
    assert "not overwritten" in capsys.readouterr().err
    assert main(["template", "--codebook", "families.yaml", "--out", "data/raw/new.xlsx"]) == 0
