"""Small-study effects (evsynth.small_study): Egger's test against metafor's published output,
the "not assessed (k < 10)" rule, the funnel plot, the report's partials, and one run of the
workflow's small_study rule on the magnesium trials.

Published values: metafor's documentation of ``regtest()`` (wviechtb/metafor, version 5.1-12,
commit 71ae8f5): ``man/regtest.Rd`` lines 104-115 fit the 15 magnesium trials of
``dat.egger2001`` without ISIS-4 (``subset=-16``, log odds ratios) and run the classic Egger
test, ``regtest(res, model="lm")`` (predictor ``sei`` by default); the rendered page
``docs/reference/regtest.html`` prints its output:

* line 233: ``tau^2 ...: 0.1911``; line 244: ``estimate -0.8745 ... ci.lb -1.2822 ci.ub -0.4669``
* line 258: ``Test for Funnel Plot Asymmetry: t = -3.1783, df = 13, p = 0.0073``
* lines 298-299: the 15 log odds ratios ``dat$yi`` (-0.83034830 ... -1.57078846).

tests/data/magnesium/ holds those trials as extraction sheets (odds ratio and 95% CI to 12
significant digits, from the 2x2 counts with escalc's 1/2 added to every cell of the one trial
with a zero cell), so the standard error the pipeline recovers from the CI is metafor's.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from conftest import REPO
from evsynth.figures.funnel import funnel_plot
from evsynth.outcomes import MetaAnalysisSettings, effect_sizes
from evsynth.small_study import (
    ASSESSED,
    EQUAL_SE,
    NO_SE,
    SMALL_STUDY_COLUMNS,
    TOO_FEW,
    assessed_effects,
    pooled_main,
    small_study_partials,
    small_study_table,
)
from evsynth.tables import read_results, write_table
from snakemake_runner import run_snakemake

MAGNESIUM = REPO / "tests" / "data" / "magnesium"
LABELS = {"mortality": "Mortality"}
# docs/reference/regtest.html lines 298-299 (metafor 5.1-12): dat$yi of the 15 trials.
YI_PRINTED = (
    "-0.83034830 -1.05605267 -1.27833981 -0.04348511 0.22314355 -2.40751999 -1.28093385 "
    "-1.19170271 -0.69574796 -2.20827441 -2.03815988 -0.85015093 -0.79323064 -0.29933987 "
    "-1.57078846"
).split()


def printed(value: float, text: str) -> bool:
    """``value`` rounds to ``text`` at the number of decimals printed."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return round(value, decimals) == float(text)


def sheet() -> pd.DataFrame:
    return pd.read_csv(
        MAGNESIUM / "sheets" / "outcomes.csv", dtype=str, keep_default_na=False, na_filter=False
    )


def effects() -> pd.DataFrame:
    return effect_sizes(sheet())


def test_fixture_is_metafors_magnesium_data():
    """The sheets give back the log odds ratios metafor's documentation prints."""
    got = effects().sort_values("study_id")["yi"].to_list()
    assert len(got) == 15
    for value, text in zip(got, YI_PRINTED, strict=True):
        assert printed(value, text), (value, text)


def test_egger_matches_metafor_regtest_documentation():
    """regtest(res, model="lm") on the 15 trials: t = -3.1783, df = 13, p = 0.0073
    (docs/reference/regtest.html line 258; man/regtest.Rd line 115)."""
    table = small_study_table(effects(), LABELS)
    assert list(table.columns) == SMALL_STUDY_COLUMNS
    row = table.iloc[0]
    assert (row["outcome"], row["effect_measure"], row["k"], row["assessed"]) == (
        "mortality",
        "or",
        15,
        ASSESSED,
    )
    assert printed(row["egger_t"], "-3.1783")
    assert row["egger_df"] == 13
    assert printed(row["egger_p"], "0.0073")
    # The t is the intercept over its standard error (the intercept itself is not printed).
    assert row["egger_intercept"] / row["egger_se"] == pytest.approx(row["egger_t"], rel=1e-12)
    assert row["study_ids"] == ";".join(f"MG{i:02d}" for i in range(1, 16))


def test_fewer_than_ten_studies_not_assessed_and_ten_assessed():
    """Cochrane Handbook 13.3.5.4: the test only from 10 studies. Every outcome and measure
    with an estimate gets its row, with the reason and no numbers below ten."""
    e = effects().sort_values("study_id", ignore_index=True)
    nine = e.iloc[:9]
    ten = e.iloc[:10].assign(outcome="ten")
    one = e.iloc[:1].assign(outcome="one", effect_measure="rr")
    table = small_study_table(pd.concat([nine, ten, one]), LABELS)
    by = table.set_index(["outcome", "effect_measure"])
    assert list(by.index) == [("mortality", "or"), ("one", "rr"), ("ten", "or")]
    for key, k in ((("mortality", "or"), 9), (("one", "rr"), 1)):
        row = by.loc[key]
        assert (row["k"], row["assessed"]) == (k, TOO_FEW)
        assert row["assessed"] == "not assessed (k < 10)"
        assert all(pd.isna(row[c]) for c in ("egger_intercept", "egger_se", "egger_t", "egger_p"))
        assert pd.isna(row["egger_df"])
    assert by.loc[("ten", "or"), "assessed"] == ASSESSED
    assert by.loc[("ten", "or"), "egger_df"] == 8
    assert by.loc[("one", "rr"), "label"] == "one"  # no label: the code


def test_equal_standard_errors_not_assessed():
    """Precision that does not vary leaves nothing to regress on: a reason, not a traceback."""
    e = pd.DataFrame(
        {
            "study_id": [f"S{i:02d}" for i in range(12)],
            "outcome": "mortality",
            "effect_measure": "md",
            "yi": np.linspace(-1, 1, 12),
            "vi": 0.04,
        }
    )
    row = small_study_table(e, LABELS).iloc[0]
    assert (row["k"], row["assessed"]) == (12, EQUAL_SE)
    assert math.isnan(row["egger_p"])
    # A standard error of 0 (validation refuses it upstream) is a reason too, not a crash.
    row = small_study_table(e.assign(vi=np.r_[0.0, np.full(11, 0.04)]), LABELS).iloc[0]
    assert row["assessed"] == NO_SE and math.isnan(row["egger_p"])


def test_small_study_csv_round_trips_with_declared_types(tmp_path: Path):
    e = effects()
    table = pd.concat(
        [small_study_table(e, LABELS), small_study_table(e.iloc[:3].assign(outcome="x"), {})]
    )
    path = tmp_path / "outcomes" / "small_study.csv"
    write_table(table, path)
    back = read_results(path)
    assert list(back.columns) == SMALL_STUDY_COLUMNS
    assert back["egger_df"].tolist()[0] == 13
    assert pd.isna(back["egger_df"].tolist()[1])
    assert back["outcome"].tolist() == ["mortality", "x"]
    assert printed(back["egger_p"].iloc[0], "0.0073")


def pooled() -> pd.DataFrame:
    # rma(yi, vi) on the 15 trials: estimate -0.8745 (regtest.html line 244), ratio scale.
    return pd.DataFrame(
        [
            {
                "outcome": "mortality",
                "effect_measure": "or",
                "method": "REML",
                "analysis": "main",
                "estimate": math.exp(-0.8745),
            }
        ]
    )


def test_pooled_main_prefers_configured_method():
    meta = pd.concat(
        [
            pooled().assign(method="DL", estimate=9.0),
            pooled(),
            pooled().assign(analysis="sensitivity", estimate=7.0),
        ]
    )
    settings = MetaAnalysisSettings("REML", False, ("low",))
    got = pooled_main(meta, settings)
    assert len(got) == 1 and got["method"].iloc[0] == "REML"


def test_funnel_plot_draws_assessed_outcomes_and_says_when_none(tmp_path: Path):
    e = effects()
    table = small_study_table(e, LABELS)
    png, svg = funnel_plot(assessed_effects(e, table), table, pooled(), tmp_path / "funnel")
    assert png.is_file() and svg.read_text("utf-8").startswith("<?xml")
    drawn = imread(png)
    none = table.assign(assessed=TOO_FEW)
    png0, svg0 = funnel_plot(assessed_effects(e, none), none, pooled(), tmp_path / "empty")
    assert svg0.is_file()
    # The funnel is a full plot; with nothing assessed, one line of text.
    assert drawn.shape[0] > 3 * imread(png0).shape[0]


def test_report_section_shows_egger_or_not_assessed_and_escapes_labels():
    e = effects()
    table = pd.concat(
        [
            small_study_table(e, {"mortality": "Mortality *all* <b>causes</b>"}),
            small_study_table(e.iloc[:4].assign(outcome="stroke"), {"stroke": "Stroke"}),
        ],
        ignore_index=True,
    )
    parts = small_study_partials(table, pooled(), sheet())
    section = parts["small-study.md"]
    assert section.startswith("### Small-study effects")
    assert "| Stroke | Odds ratio | 4 | not assessed (k < 10) |" in section
    assert "t = −3.18, df = 13, p = 0.007" in section
    # Sheet text is escaped in the Markdown (the alt text, an attribute, holds it as text).
    body = section.split("![")[0]
    assert "<b>" not in body and "*all*" not in body
    assert "Mortality \\*all\\*" in body
    assert "figures/funnel.svg" in section and "#fig-funnel" in section
    # The alt text carries the data: each study's estimate and the test.
    assert "MG14 0.74 (95% CI 0.56 to 0.99)" in section
    assert "pooled 0.42" in section
    assert "small studies showed different effects" in parts["small-study-sentence.md"].lower()


def test_report_without_assessed_outcome_has_no_figure_and_says_so():
    table = small_study_table(effects().iloc[:5], LABELS)
    parts = small_study_partials(table, pooled(), sheet())
    assert "not assessed (k < 10)" in parts["small-study.md"]
    assert "funnel.svg" not in parts["small-study.md"]
    assert parts["small-study-sentence.md"].startswith("No outcome had the 10 or more studies")
    # No estimates at all: nothing to say.
    empty = small_study_table(effects().iloc[:0], LABELS)
    assert small_study_partials(empty, pooled(), sheet()) == {
        "small-study.md": "",
        "small-study-sentence.md": "",
    }


@pytest.mark.workflow
def test_workflow_small_study_rule_on_magnesium_trials(tmp_path: Path):
    """The small_study rule end to end: the clean outcomes through validation, the REML
    meta-analysis metafor prints (regtest.html lines 233 and 244) and Egger's test (line 258)."""
    workdir = tmp_path / "magnesium"
    shutil.copytree(MAGNESIUM, workdir)
    targets = [
        "results/magnesium/outcomes/small_study.csv",
        "results/magnesium/figures/funnel.svg",
    ]
    done = run_snakemake(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "workflow/Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(workdir / "config.yaml"),
            "--cores",
            "2",
            *targets,
        ],
        timeout=600,
        env={**os.environ, "EVSYNTH_ENGINE": "pandoc"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    meta = read_results(workdir / "results/magnesium/outcomes/meta_analysis.csv")
    main = meta[meta["analysis"] == "main"].iloc[0]
    assert printed(main["tau2"], "0.1911")
    assert printed(math.log(main["estimate"]), "-0.8745")
    assert printed(math.log(main["ci_lower"]), "-1.2822")
    assert printed(math.log(main["ci_upper"]), "-0.4669")
    row = read_results(workdir / targets[0]).iloc[0]
    assert (row["k"], row["assessed"], row["egger_df"]) == (15, "yes", 13)
    assert printed(row["egger_t"], "-3.1783")
    assert printed(row["egger_p"], "0.0073")
    assert (workdir / "results/magnesium/figures/funnel.png").is_file()
