"""Figures and the gap map: produced for a review's data, counted by hand on the tiny review,
byte-identical between renders, A4-wide, and placeholders (never errors) when there is no data.

Tiny review (tests/data/tiny/sheets/), codes rolled up the tree (see tests/test_tally.py):
  a = {T1, T2, T4, T5}, a.one = {T1, T2}, a.two = {T1, T4}, b = {T2, T3, T4}
One direction per study and outcome (outcomes.csv):
  reoffending: T1 benefit (n 100), T4 benefit (n 200), T2 no_effect (n 40)
  wellbeing:   T2 mixed (benefit and no_effect on two scales, n 40), T3 benefit (n blank),
               T5 harm (n 30)
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from evsynth.figures import (
    A4_WIDTH_IN,
    effect_direction_plot,
    forest_plot,
    gap_map_plot,
    ratio_ticks,
)
from evsynth.outcomes import (
    direction_summary,
    effect_direction_cells,
    effect_sizes,
    gap_map,
    meta_analysis,
    net_direction,
    pooled_study_weights,
    run_outcomes,
    sensitivity_label,
)
from evsynth.tables import read_clean, read_results, write_table
from evsynth.tally import codes_forward
from stage_paths import meta_settings, outcomes_paths, validation_paths, write_typed_clean

FIGURES = ["direction", "forest", "effect_direction", "gap_map"]
DPI = 200  # figures.STYLE["savefig.dpi"]


def write_clean(result, folder: Path, outcomes: pd.DataFrame | None = None) -> Path:
    """The validated tables as the validate rule writes them (``clean/*.csv`` and, typed,
    ``clean/*.parquet``, which the stages read)."""
    for name in ("studies", "codes", "outcomes"):
        table = outcomes if name == "outcomes" and outcomes is not None else result.clean[name]
        write_table(table, folder / f"{name}.csv")
        write_typed_clean(result, name, table, folder / f"{name}.parquet")
    return folder


def run_stage(
    result,
    codebook_path: Path,
    base: Path,
    outcomes: pd.DataFrame | None = None,
    settings: dict | None = None,
) -> Path:
    clean = write_clean(result, base / "clean", outcomes)
    run_outcomes(
        clean / "studies.parquet",
        clean / "outcomes.parquet",
        clean / "codes.parquet",
        codebook_path,
        meta_settings(**(settings or {})),
        "union",
        outcomes_paths(base / "outcomes", base / "figures"),
    )
    return base


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def png_chunk_types(path: Path) -> list[str]:
    data, types = path.read_bytes()[8:], []
    while data:
        (length,) = struct.unpack(">I", data[:4])
        types.append(data[4:8].decode("ascii"))
        data = data[12 + length :]
    return types


def svg_is_wellformed(path: Path) -> bool:
    import xml.etree.ElementTree as ET

    return ET.parse(path).getroot().tag.endswith("svg")


# --- The gap map, by hand ------------------------------------------------------------------------


def test_gap_map_counts_match_the_hand_counts(tiny_clean):
    result, codebook = tiny_clean
    table = gap_map(result.clean["codes"], result.clean["outcomes"], codebook)
    assert list(table.columns) == [
        "theme",
        "outcome",
        "n_studies",
        "n_benefit",
        "n_harm",
        "n_no_effect",
        "n_mixed",
        "n_unclear",
        "study_ids",
    ]
    # Every theme x outcome, themes in tree order, outcomes in codebook order.
    assert list(zip(table["theme"], table["outcome"], strict=True)) == [
        (t, o) for t in ("a", "a.one", "a.two", "b") for o in ("reoffending", "wellbeing")
    ]
    got = table.set_index(["theme", "outcome"])
    counts = ["n_studies", "n_benefit", "n_harm", "n_no_effect", "n_mixed", "n_unclear"]
    expected = {
        ("a", "reoffending"): ([3, 2, 0, 1, 0, 0], "T1;T2;T4"),
        ("a", "wellbeing"): ([2, 0, 1, 0, 1, 0], "T2;T5"),  # T5 coded at the parent itself
        ("a.one", "reoffending"): ([2, 1, 0, 1, 0, 0], "T1;T2"),
        ("a.one", "wellbeing"): ([1, 0, 0, 0, 1, 0], "T2"),
        ("a.two", "reoffending"): ([2, 2, 0, 0, 0, 0], "T1;T4"),
        ("a.two", "wellbeing"): ([0, 0, 0, 0, 0, 0], ""),  # a gap
        ("b", "reoffending"): ([2, 1, 0, 1, 0, 0], "T2;T4"),
        ("b", "wellbeing"): ([2, 1, 0, 0, 1, 0], "T2;T3"),
    }
    for key, (numbers, ids) in expected.items():
        assert got.loc[key, counts].tolist() == numbers, key
        assert got.loc[key, "study_ids"] == ids, key


def test_gap_map_follows_the_coding_that_goes_forward(tiny_clean):
    result, codebook = tiny_clean
    consensus = codes_forward(result.clean["codes"], "consensus")  # T4's b was one coder's
    got = gap_map(consensus, result.clean["outcomes"], codebook).set_index(["theme", "outcome"])
    assert got.loc[("b", "reoffending"), "study_ids"] == "T2"
    assert got.loc[("b", "reoffending"), "n_studies"] == 1


def test_effect_direction_cells_carry_the_largest_n(tiny_clean):
    result, _ = tiny_clean
    cells = effect_direction_cells(result.clean["outcomes"]).set_index(["study_id", "outcome"])
    assert cells.loc[("T2", "wellbeing"), "direction"] == "mixed"
    assert cells.loc[("T2", "wellbeing"), "n"] == 40
    assert cells.loc[("T4", "reoffending"), "n"] == 200
    assert np.isnan(cells.loc[("T3", "wellbeing"), "n"])  # n left blank
    assert len(cells) == 6


def test_net_direction_of_the_gap_map_by_hand(tiny_clean):
    """The gap map's colour, (benefit − harm) ÷ studies, from the hand counts above: NaN
    where no study gave a benefit or harm vote (a.one × wellbeing: T2 mixed) and in a gap."""
    result, codebook = tiny_clean
    table = gap_map(result.clean["codes"], result.clean["outcomes"], codebook)
    net = net_direction(table)
    assert net.index.equals(table.index)
    got = dict(zip(zip(table["theme"], table["outcome"], strict=True), net, strict=True))
    assert got == pytest.approx(
        {
            ("a", "reoffending"): 2 / 3,
            ("a", "wellbeing"): -1 / 2,
            ("a.one", "reoffending"): 1 / 2,
            ("a.one", "wellbeing"): np.nan,
            ("a.two", "reoffending"): 1.0,
            ("a.two", "wellbeing"): np.nan,
            ("b", "reoffending"): 1 / 2,
            ("b", "wellbeing"): 1 / 2,
        },
        nan_ok=True,
    )


def test_forest_weights_are_each_studys_share_at_the_pooled_tau2(tiny_clean):
    """Re-offending pools T1 (RR 0.5, 95% CI 0.3 to 0.83) and T4 (RR 0.7, 0.5 to 0.98): a
    study's weight is 1 / (vi + tau²) over the sum for both, vi from its CI on the log scale
    and tau² the meta-analysis's (not the fixed-effect 1 / vi)."""
    result, codebook = tiny_clean
    outcomes = result.clean["outcomes"]
    pooled = meta_analysis(outcomes, result.clean["studies"], codebook)
    tau2 = float(pooled["tau2"].iloc[0])
    assert tau2 > 0.005  # large enough to tell random-effects from fixed-effect weights
    z = 1.959963984540054
    inverse = [
        1 / (((math.log(hi) - math.log(lo)) / (2 * z)) ** 2 + tau2)
        for lo, hi in [(0.3, 0.83), (0.5, 0.98)]
    ]
    weighted = pooled_study_weights(effect_sizes(outcomes), pooled)
    assert list(weighted["study_id"]) == ["T1", "T4"]
    assert list(weighted["method"]) == ["REML", "REML"]
    assert weighted["weight"].tolist() == pytest.approx(
        [w / sum(inverse) for w in inverse], rel=1e-9
    )
    none = pooled_study_weights(effect_sizes(outcomes), pooled.iloc[0:0])
    assert none.empty and {"study_id", "method", "weight"} <= set(none.columns)


# --- The stage writes every figure -------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_stage(tiny_clean, tmp_path_factory) -> Path:
    """The outcomes stage run once on the tiny review, read by the tests below (each render
    of its four figures costs about a second)."""
    result, _ = tiny_clean
    return run_stage(
        result, REPO / "tests/data/tiny/codebook.yaml", tmp_path_factory.mktemp("tiny")
    )


def test_outcomes_stage_writes_every_figure_and_the_gap_map(tiny_stage):
    base = tiny_stage
    for name in FIGURES:
        png, svg = base / "figures" / f"{name}.png", base / "figures" / f"{name}.svg"
        assert png.stat().st_size > 5000, name
        assert svg_is_wellformed(svg), name
    gaps = read_clean(base / "outcomes/gap_map.csv")
    assert len(gaps) == 8
    assert (
        gaps.loc[(gaps["theme"] == "a") & (gaps["outcome"] == "reoffending"), "n_studies"].item()
        == "3"
    )
    # Laid out at the A4 text width (6.3 in), so report text prints at its nominal size,
    # and short enough for one page.
    for name in ("forest", "effect_direction", "gap_map"):
        width, height = png_size(base / "figures" / f"{name}.png")
        assert width == round(A4_WIDTH_IN * DPI), name
        assert height < 9.5 * DPI, name


def test_families_example_effect_direction_plot_fits_a_page(tmp_path):
    from evsynth.codebook import load_codebook
    from evsynth.validate import validate_review

    book = REPO / "config/codebooks/families.yaml"
    result = validate_review(REPO / "data/raw/families", book)
    assert result.summary["passed"]
    codebook = load_codebook(book)
    outcomes = result.clean["outcomes"]
    cells = effect_direction_cells(outcomes)
    png, _ = effect_direction_plot(
        cells,
        result.clean["studies"],
        direction_summary(outcomes, codebook),
        {c: o.label for c, o in codebook.outcomes.items()},
        tmp_path / "effect_direction",
    )
    width, height = png_size(png)
    assert width == round(A4_WIDTH_IN * DPI)
    rows = cells["study_id"].nunique()
    assert 20 <= rows <= 32
    assert height < 9.5 * DPI


def test_forest_plot_draws_the_sensitivity_analysis(tmp_path):
    from evsynth.codebook import load_codebook
    from evsynth.validate import validate_review

    bcg = REPO / "tests/data/bcg"
    result = validate_review(bcg / "sheets", bcg / "codebook.yaml")
    codebook = load_codebook(bcg / "codebook.yaml")
    studies = result.clean["studies"].copy()
    studies.loc[studies["study_id"].isin(["BCG01", "BCG02", "BCG03"]), "quality"] = "low"
    pooled = meta_analysis(result.clean["outcomes"], studies, codebook)
    assert list(pooled["analysis"]) == ["main", "sensitivity"]
    weighted = pooled_study_weights(effect_sizes(result.clean["outcomes"]), pooled)
    png, svg = forest_plot(
        weighted,
        pooled,
        tmp_path / "forest",
        benefit={"tb": "decrease"},
        sensitivity_label=sensitivity_label(("low",)),
    )
    assert png_size(png)[0] == round(A4_WIDTH_IN * DPI)
    assert svg_is_wellformed(svg)
    assert sensitivity_label(("low", "not_appraised")) == (
        "Without studies rated low or not appraised"
    )


@pytest.mark.parametrize(("lo", "hi"), [(0.05, 7.0), (0.4, 1.3), (0.9, 1.1), (0.01, 100.0)])
def test_ratio_ticks_are_round_spaced_and_include_one(lo, hi):
    width = 3.5
    ticks = ratio_ticks(lo, hi, width)
    assert 1 in ticks and len(ticks) >= 2
    assert all(lo <= t <= hi for t in ticks)
    gaps = np.diff(np.log(ticks)) / (np.log(hi) - np.log(lo)) * width
    assert (gaps >= 0.42 - 1e-9).all()


# --- Determinism -----------------------------------------------------------------------------


def test_two_renders_are_byte_identical_and_carry_no_timestamps(tiny_stage, tiny_clean, tmp_path):
    # The first render is the shared one, drawn earlier in this process; the second is new.
    result, _ = tiny_clean
    first = tiny_stage
    second = run_stage(result, REPO / "tests/data/tiny/codebook.yaml", tmp_path / "two")
    for name in FIGURES:
        for ext in ("png", "svg"):
            a, b = first / "figures" / f"{name}.{ext}", second / "figures" / f"{name}.{ext}"
            assert a.read_bytes() == b.read_bytes(), f"{name}.{ext}"
        svg = (first / "figures" / f"{name}.svg").read_text("utf-8")
        assert "<dc:date>" not in svg and "<dc:creator>" not in svg.lower()
        png = first / "figures" / f"{name}.png"
        assert not {"tEXt", "iTXt", "zTXt", "tIME"} & set(png_chunk_types(png)), name
        assert b"Software" not in png.read_bytes() and b"Creation Time" not in png.read_bytes()
    assert (first / "outcomes/gap_map.csv").read_bytes() == (
        second / "outcomes/gap_map.csv"
    ).read_bytes()


def test_bcg_figures_are_deterministic(tmp_path):
    """A second data set (13 studies, a log axis), each figure function called directly."""
    from evsynth.codebook import load_codebook
    from evsynth.validate import validate_review

    bcg = REPO / "tests/data/bcg"
    result = validate_review(bcg / "sheets", bcg / "codebook.yaml")
    codebook = load_codebook(bcg / "codebook.yaml")
    outcomes, studies = result.clean["outcomes"], result.clean["studies"]
    labels = {c: o.label for c, o in codebook.outcomes.items()}
    themes = pd.DataFrame(
        [(t.code, t.label, t.level) for t in codebook.themes], columns=["code", "label", "level"]
    )
    pooled = meta_analysis(outcomes, studies, codebook)
    gaps = gap_map(result.clean["codes"], outcomes, codebook)
    outputs = {}
    for run in ("a", "b"):
        folder = tmp_path / run
        outputs[run] = [
            *forest_plot(
                pooled_study_weights(effect_sizes(outcomes), pooled),
                pooled,
                folder / "forest",
                benefit={"tb": "decrease"},
            ),
            *effect_direction_plot(
                effect_direction_cells(outcomes),
                studies,
                direction_summary(outcomes, codebook),
                labels,
                folder / "effect_direction",
            ),
            *gap_map_plot(
                gaps.assign(net_direction=net_direction(gaps)), themes, labels, folder / "gap_map"
            ),
        ]
    for a, b in zip(outputs["a"], outputs["b"], strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


# --- No data: placeholders, never errors -------------------------------------------------------


def test_an_empty_outcomes_sheet_gives_placeholder_figures(tiny_clean, tmp_path):
    result, _ = tiny_clean
    empty = result.clean["outcomes"].iloc[0:0]
    base = run_stage(result, REPO / "tests/data/tiny/codebook.yaml", tmp_path, outcomes=empty)
    for name in FIGURES:
        png = base / "figures" / f"{name}.png"
        assert png.is_file() and svg_is_wellformed(base / "figures" / f"{name}.svg"), name
        width, height = png_size(png)
        assert height < 2 * DPI, name  # the one-line placeholder, not an empty grid
    gaps = read_clean(base / "outcomes/gap_map.csv")
    assert len(gaps) == 8 and set(gaps["n_studies"]) == {"0"} and set(gaps["study_ids"]) == {""}
    assert read_clean(base / "outcomes/meta_analysis.csv").empty


def test_no_codes_gives_an_all_gap_map_without_errors(tiny_clean, tmp_path):
    result, codebook = tiny_clean
    codes = result.clean["codes"].iloc[0:0]
    table = gap_map(codes, result.clean["outcomes"], codebook)
    assert len(table) == 8 and table["n_studies"].sum() == 0
    themes = pd.DataFrame(
        [(t.code, t.label, t.level) for t in codebook.themes], columns=["code", "label", "level"]
    )
    png, svg = gap_map_plot(
        table.assign(net_direction=net_direction(table)),
        themes,
        {"reoffending": "Re-offending", "wellbeing": "Wellbeing"},
        tmp_path / "gap_map",
    )
    assert png.is_file() and svg_is_wellformed(svg)


def test_plots_of_a_large_review_stay_a_readable_size(tmp_path, monkeypatch):
    """A living map of hundreds of studies: the one-row-per-study plots draw the largest
    (or most precise) studies only and stay page-sized; beyond sixty studies the
    effect-direction plot's rows are the denser ones."""
    from matplotlib.figure import Figure
    from synthetic import write_synthetic_review

    import evsynth.figures
    from evsynth.outcomes import run_outcomes
    from evsynth.validate import run_validate

    # Only the two one-row-per-study plots are measured here; the stage imports its figure
    # functions when called, so the other two are skipped (~1.5 s of 600 studies). Of the
    # forest plot only the PNG is read: its SVG (240 rows, ~2.5 s) is not drawn.
    for name in ("direction_chart", "gap_map_plot"):
        monkeypatch.setattr(evsynth.figures, name, lambda *args, **kwargs: None)
    savefig = Figure.savefig
    monkeypatch.setattr(
        Figure,
        "savefig",
        lambda fig, name, *a, **k: (
            None if Path(name).name == "forest.svg" else savefig(fig, name, *a, **k)
        ),
    )

    paths = write_synthetic_review(tmp_path / "big", n_studies=600, seed=3)
    clean = tmp_path / "clean"
    result = run_validate(
        paths["sheets"], paths["codebook"], validation_paths(tmp_path / "validation", clean)
    )
    assert not result.errors
    run_outcomes(
        clean / "studies.parquet",
        clean / "outcomes.parquet",
        clean / "codes.parquet",
        paths["codebook"],
        meta_settings(),
        "union",
        outcomes_paths(tmp_path / "outcomes", tmp_path / "figures"),
    )
    figures = tmp_path / "figures"
    width, height = png_size(figures / "effect_direction.png")
    assert width == round(A4_WIDTH_IN * DPI)
    # 80 rows of 600 studies (not 600), at the dense row height (0.13 in, not 0.21 in).
    assert height / DPI < 80 * 0.15 + 3
    assert svg_is_wellformed(figures / "effect_direction.svg")
    panels = read_results(tmp_path / "outcomes" / "meta_analysis.csv").query("analysis == 'main'")
    assert panels["k"].max() > 30  # so the forest plot had to leave studies out
    width, height = png_size(figures / "forest.png")
    assert height / width < 1.4 * len(panels)  # at most 30 studies per panel


def test_effect_direction_plot_leaves_out_non_voting_studies_and_says_so(tmp_path, monkeypatch):
    """Studies whose design does not vote are not drawn; a line under the plot says how many,
    of which designs (labels drawn literally), and where they are listed."""
    from dataclasses import replace

    from evsynth import figures as figures_module
    from evsynth.codebook import Design
    from evsynth.outcomes import not_shown_note, per_study_directions, split_votes

    monkeypatch.setitem(figures_module.STYLE, "svg.fonttype", "none")  # text readable in SVG
    studies = pd.DataFrame(
        {
            "study_id": ["T1", "T2", "QUAL9", "REV7"],
            "year": "2020",
            "quality": "high",
            "design": ["rct", "rct", "qualitative", "review"],
        }
    )
    outcomes = pd.DataFrame(
        {
            "study_id": ["T1", "T2", "QUAL9", "REV7"],
            "outcome": "x",
            "direction": ["benefit", "harm", "harm", "harm"],
            "n": [100, 200, 20, np.nan],
        }
    )
    designs = {
        "rct": Design("rct", "Randomised controlled trial", True, True),
        "qualitative": Design("qualitative", "Qualitative $tudy_x", False, False),
        "review": Design("review", "Systematic review", False, False),
    }
    from evsynth.codebook import Codebook, Outcome

    codebook = Codebook(
        review="v",
        vocabularies={"design": {c: d.label for c, d in designs.items()}},
        fields={},
        themes=(),
        outcomes={"x": Outcome("x", "Outcome x", "decrease")},
        designs=designs,
    )
    votes, left_out = split_votes(per_study_directions(outcomes), studies, codebook)
    direction = direction_summary(outcomes, codebook, per_study=votes, left_out=left_out)
    note = not_shown_note(left_out, codebook)
    assert note == (
        "Not shown and not counted: 2 studies whose design does not vote "
        "(Qualitative $tudy_x; Systematic review), listed in the direction table."
    )
    _, svg = effect_direction_plot(
        effect_direction_cells(outcomes, votes),
        studies,
        direction,
        {"x": "Outcome x"},
        tmp_path / "edp",
        not_shown=note,
    )
    import html

    drawn = html.unescape(svg.read_text("utf-8"))
    assert "T1 (2020)" in drawn and "T2 (2020)" in drawn
    assert "QUAL9" not in drawn and "REV7" not in drawn
    # The note, wrapped to the width: its lines drawn literally ("$" and "_" too).
    assert "Not shown and not counted: 2 studies" in drawn and "direction table." in drawn
    assert "(Qualitative $tudy_x; Systematic review)" in drawn
    assert "k = 2" in drawn  # the voting studies only
    # Every design votes: no note, the plot as before.
    all_vote = replace(codebook, designs={c: replace(d, votes=True) for c, d in designs.items()})
    assert split_votes(per_study_directions(outcomes), studies, all_vote)[1] is None


def test_the_unclear_marker_is_a_question_mark_in_the_house_style():
    """The house style draws text literally (no mathtext), so matplotlib's "$?$" marker came
    out as the three characters "$?$": wider than tall. A "?" is taller than wide."""
    import matplotlib.pyplot as plt
    from matplotlib.markers import MarkerStyle

    from evsynth.figures.direction import DIRECTION_MARKERS
    from evsynth.figures.style import STYLE

    with plt.rc_context(STYLE):
        extent = MarkerStyle(DIRECTION_MARKERS["unclear"]).get_path().get_extents()
    assert extent.height > 1.2 * extent.width


@pytest.mark.parametrize("review", ["culturally-responsive", "families"])
def test_traffic_light_plot_of_four_tools_prints_at_full_size(tmp_path, monkeypatch, review):
    """Four tools stacked were 2.2 times taller than wide, so the PDF shrank the plot and its
    text; side by side in two columns it fits the text area at the text width (issue 13)."""
    import html

    from evsynth import figures as figures_module
    from evsynth.appraisal import by_study
    from evsynth.codebook import load_codebook
    from evsynth.figures import traffic_light_plot
    from evsynth.validate import validate_review

    monkeypatch.setitem(figures_module.STYLE, "svg.fonttype", "none")
    book = REPO / f"config/codebooks/{review}.yaml"
    result = validate_review(REPO / f"data/raw/{review}", book)
    codebook = load_codebook(book)
    judged = by_study(result.clean["appraisal"], codebook)
    assert judged["tool"].nunique() == 4
    png, svg = traffic_light_plot(judged, codebook.appraisal, tmp_path / "tl")
    width, height = png_size(png)
    assert width == round(A4_WIDTH_IN * DPI)
    # The A4 body is 16.6 x 25.1 cm: with its caption, a figure up to ~1.4 times taller than
    # wide prints at the text width.
    assert height / width < 1.4
    drawn = html.unescape(svg.read_text("utf-8"))
    for tool in judged["tool"].unique():
        assert codebook.appraisal[tool].label.split()[0] in drawn
        for code in codebook.appraisal[tool].domains:
            assert f">{code}" in drawn, (tool, code)  # every domain heads a column
    for study in judged["study_id"].unique():
        assert f">{study}</text>" in drawn
    assert "…" not in drawn.split("Judgement")[0]  # no tool title cut short


def test_theme_chart_indents_sub_themes_under_their_parent(tmp_path, monkeypatch):
    """The hierarchy shows: each level's label starts further right than its parent's (right-
    aligned tick labels hid the indent, issue 13), and a parent is set in bold, a child not."""
    import re

    from evsynth import figures as figures_module
    from evsynth.figures.themes import INDENT_IN, theme_chart

    monkeypatch.setitem(figures_module.STYLE, "svg.fonttype", "none")
    themes = pd.DataFrame(
        {
            "code": ["a", "a.b", "a.b.c", "d", "d.e"],
            "label": ["Parent", "Child", "Grandchild", "Other parent", "Other child"],
            "parent": ["", "a", "a.b", "", "d"],
            "level": [1, 2, 3, 1, 2],
            "n_studies": [10, 6, 2, 8, 3],
            "pct_studies": [50.0, 30.0, 10.0, 40.0, 15.0],
        }
    )
    _, svg = theme_chart(themes, 20, tmp_path / "themes")
    drawn = svg.read_text("utf-8")

    def text(label: str) -> tuple[float, str]:
        tag = re.search(rf"<text ([^>]*)>{label}</text>", drawn)
        assert tag, label
        x = float(re.search(r'\bx="([-\d.]+)"', tag.group(1)).group(1))
        return x, tag.group(1)

    step = INDENT_IN * 72  # the SVG's units are points
    x = {label: text(label)[0] for label in themes["label"]}
    assert x["Child"] - x["Parent"] == pytest.approx(step, abs=1)
    assert x["Grandchild"] - x["Child"] == pytest.approx(step, abs=1)
    assert x["Other parent"] == pytest.approx(x["Parent"], abs=0.5)
    assert x["Other child"] == pytest.approx(x["Child"], abs=0.5)
    assert "font-weight: 700" in text("Parent")[1] and "font-weight: 700" not in text("Child")[1]
    assert ">10 (50%)</text>" in drawn and ">2 (10%)</text>" in drawn


MEASURED = [
    "",
    " ",
    "Study",
    "S000123 (2015)",
    "  leading and trailing  ",
    "two\nlines, the second longer",
    "\n",
    "$5 per head",
    "a_b a\\b",
    "Étude über Maßnahmen – “quoted” … ▲ ▼ τ² I²",
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
]


def test_text_widths_measured_directly_are_the_text_artists_to_the_bit():
    """The layouts measure text with the renderer, remembered, not through a text artist
    each; a width off in its last bit would move the layout and change the files. Each text
    at several sizes and weights in turn, so a remembered width can never stand in for
    another size's."""
    import matplotlib.pyplot as plt
    from matplotlib.font_manager import FontProperties

    from evsynth.figures import STYLE, appraisal, layout

    with plt.rc_context(STYLE):
        fig = layout.measuring_figure()
        renderer = fig.canvas.get_renderer()
        for text in MEASURED:
            for size in (6.5, 8, 10):
                for weight in ("normal", "bold"):
                    artist = fig.text(0, 0, text, fontsize=size, fontweight=weight)
                    expected = artist.get_window_extent(renderer).width / fig.dpi
                    artist.remove()
                    assert layout.text_width_in(fig, [text], size, weight) == expected
                    prop = FontProperties(family="DejaVu Sans", size=size, weight=weight)
                    one_line = renderer.get_text_width_height_descent(text, prop, False)[0]
                    assert appraisal.text_width_in(fig, [text], size, weight) == one_line / fig.dpi
        assert layout.text_width_in(fig, MEASURED, 8) == max(
            layout.text_width_in(fig, [text], 8) for text in MEASURED
        )
