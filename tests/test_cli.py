"""The command line: the run summary that ends `make run`, and the template command."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from conftest import REPO
from evsynth.cli import main


def test_a_config_that_breaks_the_schema_is_explained(tmp_path: Path, capsys):
    config = yaml.safe_load((REPO / "tests/data/tiny/config.yaml").read_text("utf-8"))
    config["reviews"]["tiny"]["report"] = "summary"
    config["reviews"]["Bad Id"] = config["reviews"]["tiny"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    assert main(["summary", "--config", str(path), "--results", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "nothing was run" in err
    assert "reviews.tiny.report: 'summary' is not one of" in err
    assert "Bad Id" in err and "Traceback" not in err


def test_summary_names_the_reports_or_why_a_review_stopped(tmp_path: Path, capsys):
    config = {"reviews": {
        "done": {"title": "T", "sheets": "s/", "codebook": "c.yaml",
                 "report": "strategic-briefing"},
        "failed": {"title": "T", "sheets": "s/", "codebook": "c.yaml",
                   "report": "summary-of-evidence"}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    for ext in ("html", "pdf"):
        target = tmp_path / "done/report" / f"strategic-briefing.{ext}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x")
    validation = tmp_path / "failed/validation"
    validation.mkdir(parents=True)
    (validation / "summary.json").write_text('{"errors": 2, "warnings": 0}')
    assert main(["summary", "--config", str(path), "--results", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert "done: " in out.out and "strategic-briefing.pdf" in out.out
    assert "failed: STOPPED. Fix the findings in" in out.err and "issues.csv" in out.err


def test_template_command_writes_a_workbook_but_never_under_data_raw(tmp_path: Path, capsys,
                                                                      monkeypatch):
    codebook = REPO / "config/codebooks/families.yaml"
    out = tmp_path / "families.xlsx"
    assert main(["template", "--codebook", str(codebook), "--out", str(out)]) == 0
    assert out.stat().st_size > 5000
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/raw").mkdir(parents=True)
    shutil.copy(codebook, tmp_path / "families.yaml")
    assert main(["template", "--codebook", "families.yaml", "--out", "data/raw/x.xlsx"]) == 2
    assert not (tmp_path / "data/raw/x.xlsx").exists()
    assert "read-only" in capsys.readouterr().err
