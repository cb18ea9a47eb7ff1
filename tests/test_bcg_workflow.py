"""The BCG vaccine trials (metafor's dat.bcg) as a real review, through the workflow.

tests/data/bcg/ holds the 13 trials as extraction sheets: one risk ratio per trial with its
95% CI, written to 12 significant digits so the standard error the pipeline recovers from the
CI is metafor's sqrt(vi). The outcomes stage must then print metafor's published results
(rma.uni on escalc(measure = "RR"); see tests/test_stats.py for the sources), to the decimals
printed there. The REML run builds the whole review (report included, a figures-only draft:
the review has no narrative); the other two build only the outcomes target, to stay cheap.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import REPO
from evsynth.tables import read_clean, read_results
from pdf_text import pdf_text
from snakemake_runner import run_snakemake

pytestmark = pytest.mark.workflow

BCG = REPO / "tests" / "data" / "bcg"
TARGET = "results/bcg/outcomes/meta_analysis.csv"


def run_bcg(tmp_path: Path, extra_config: str = "", *targets: str) -> Path:
    """Copy the BCG review, add ``extra_config`` to its config, build ``targets`` (default:
    everything)."""
    workdir = tmp_path / "bcg"
    shutil.copytree(BCG, workdir)
    config = workdir / "config.yaml"
    config.write_text(config.read_text("utf-8") + extra_config, "utf-8")
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "workflow/Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        "--cores",
        "2",
        *targets,
    ]
    done = run_snakemake(
        command,
        timeout=600,
        env={**os.environ, "EVSYNTH_ENGINE": "pandoc"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


def printed(value: float, text: str) -> bool:
    """``value`` rounds to ``text`` at the number of decimals printed."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return round(value, decimals) == float(text)


def the_row(workdir: Path, method: str):
    table = read_results(workdir / TARGET)
    rows = table[(table["outcome"] == "tb") & (table["analysis"] == "main")]
    assert list(rows["method"]) == [method]
    row = rows.iloc[0]
    assert (row["effect_measure"], row["scale"], row["k"]) == ("rr", "ratio", 13)
    return row


def test_reml_matches_metafor(tmp_path: Path):
    workdir = run_bcg(tmp_path)
    row = the_row(workdir, "REML")
    # rma(yi, vi, data = dat) on dat.bcg: tau^2 = 0.3132, estimate -0.7145,
    # ci.lb -1.0669, ci.ub -0.3622, I^2 = 92.22%, Q(df = 12) = 152.2330.
    assert printed(row["tau2"], "0.3132")
    assert printed(math.log(row["estimate"]), "-0.7145")
    assert printed(math.log(row["ci_lower"]), "-1.0669")
    assert printed(math.log(row["ci_upper"]), "-0.3622")
    assert printed(row["i2"], "92.22")
    assert printed(row["q"], "152.2330")
    assert row["study_ids"] == ";".join(f"BCG{i:02d}" for i in range(1, 14))
    # The same run wrote the stage's other outputs: direction, gap map and figures.
    direction = read_clean(workdir / "results/bcg/outcomes/direction.csv").iloc[0]
    assert (direction["k"], direction["n_benefit"], direction["n_harm"]) == ("13", "8", "0")
    gaps = read_clean(workdir / "results/bcg/outcomes/gap_map.csv")
    assert gaps[["theme", "outcome", "n_studies", "n_benefit", "n_no_effect"]].values.tolist() == [
        ["bcg", "tb", "13", "8", "5"]
    ]
    for name in ("forest", "effect_direction", "gap_map", "direction"):
        for ext in ("png", "svg"):
            assert (workdir / f"results/bcg/figures/{name}.{ext}").is_file(), name
    # ... and the report, a draft, prints the pooled risk ratio exp(-0.7145) = 0.49.
    pdf = workdir / "results/bcg/report/summary-of-evidence.pdf"
    text = " ".join(pdf_text(pdf).split())
    assert "Draft: figures only" in text
    assert "0.49 (0.34 to 0.70)" in text


def test_dersimonian_laird_matches_metafor(tmp_path: Path):
    workdir = run_bcg(tmp_path, "meta_analysis:\n  method: DL\n", TARGET)
    row = the_row(workdir, "DL")
    # rma(yi, vi, data = dat, method = "DL"): tau^2 = 0.3088, estimate -0.7141, I^2 = 92.12%.
    assert printed(row["tau2"], "0.3088")
    assert printed(math.log(row["estimate"]), "-0.7141")
    assert printed(row["i2"], "92.12")
    assert printed(row["q"], "152.2330")


def test_hartung_knapp_matches_metafor(tmp_path: Path):
    workdir = run_bcg(tmp_path, "meta_analysis:\n  hartung_knapp: true\n", TARGET)
    row = the_row(workdir, "REML+HK")
    # rma(yi, vi, data = dat, test = "knha"): ci.lb -1.1084, ci.ub -0.3206; same tau^2.
    assert printed(math.log(row["ci_lower"]), "-1.1084")
    assert printed(math.log(row["ci_upper"]), "-0.3206")
    assert printed(row["tau2"], "0.3132")
    assert printed(math.log(row["estimate"]), "-0.7145")
