"""Appraisal outputs (appraisal/by_study.csv, appraisal/summary.csv) and their plots, on a
constructed review whose shares are worked out by hand below.

RoB 2 (domains d1, overall), five trials:

    study  d1             overall        weight in reoff  weight in emp   w_s = mean over 2
    S1     low            low            0.5              0.6             0.55
    S2     low            some_concerns  0.3              -               0.15
    S3     high           high           0.2              -               0.10
    S4     some_concerns  high           -                0.4             0.20
    S5     low            low            -                -               0 (not pooled)

d1:      low 3/5 = 60% (S1;S2;S5), weighted (0.55 + 0.15 + 0) / 1.00 = 70%;
         some_concerns 1/5 = 20%, weighted 20%; high 1/5 = 20%, weighted 10%; no_information 0.
overall: low 2/5 = 40%, weighted 55%; some_concerns 20%, weighted 15%; high 40%, weighted 30%.
(Weighting by each study's largest share instead of the mean would give d1 low 0.9/1.5 = 60%.)

MMAT (one domain coded "1.10", a code that must stay text), two qualitative studies, Q1 yes and
Q2 no, neither pooled: 50% each, weighted share blank.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from evsynth.appraisal import by_study, study_weights, summary
from evsynth.codebook import AppraisalTool, Codebook, Design, Judgement
from evsynth.tables import read_clean


def rob2() -> AppraisalTool:
    return AppraisalTool(
        code="rob2",
        label="RoB 2 (randomised trials)",
        designs=("rct",),
        domains={"d1": "Randomisation process", "overall": "Overall"},
        judgements={
            "low": Judgement("low", "Low risk", "good"),
            "some_concerns": Judgement("some_concerns", "Some concerns", "fair"),
            "high": Judgement("high", "High risk", "poor"),
            "no_information": Judgement("no_information", "No information", "unclear"),
        },
    )


def mmat() -> AppraisalTool:
    return AppraisalTool(
        code="mmat",
        label="MMAT",
        designs=("qualitative",),
        domains={"1.10": "Is the approach appropriate?"},
        judgements={
            "yes": Judgement("yes", "Yes", "good"),
            "cant_tell": Judgement("cant_tell", "Can't tell", "unclear"),
            "no": Judgement("no", "No", "poor"),
        },
    )


def codebook(**tools: AppraisalTool) -> Codebook:
    return Codebook(
        review="constructed",
        vocabularies={"design": {"rct": "Randomised controlled trial", "qualitative": "Qual"}},
        fields={},
        themes=(),
        outcomes={},
        appraisal=tools or {"rob2": rob2(), "mmat": mmat()},
        designs={
            "rct": Design("rct", "Randomised controlled trial", True, True),
            "qualitative": Design("qualitative", "Qual", False, False),
        },
    )


def appraisal_rows() -> pd.DataFrame:
    rows = [
        # deliberately out of order: the table sorts them
        ("Q2", "mmat", "1.10", "no", "No rationale given"),
        ("S3", "rob2", "overall", "high", ""),
        ("S5", "rob2", "d1", "low", ""),
        ("S1", "rob2", "overall", "low", ""),
        ("S1", "rob2", "d1", "low", "Central allocation"),
        ("S2", "rob2", "d1", "low", ""),
        ("S2", "rob2", "overall", "some_concerns", ""),
        ("S3", "rob2", "d1", "high", "Alternation"),
        ("S4", "rob2", "d1", "some_concerns", ""),
        ("S4", "rob2", "overall", "high", ""),
        ("S5", "rob2", "overall", "low", ""),
        ("Q1", "mmat", "1.10", "yes", ""),
    ]
    return pd.DataFrame(rows, columns=["study_id", "tool", "domain", "judgement", "support"])


def weights_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "study_id": ["S1", "S2", "S3", "S1", "S4"],
            "outcome": ["reoff", "reoff", "reoff", "emp", "emp"],
            "weight": [0.5, 0.3, 0.2, 0.6, 0.4],
        }
    )


def test_a_study_pooled_twice_weighs_the_mean_of_its_shares():
    w = study_weights(weights_table())
    assert w == pytest.approx({"S1": 0.55, "S2": 0.15, "S3": 0.10, "S4": 0.20})
    assert study_weights(None) == {}


@pytest.mark.parametrize("bad", ["-0.1", "heavy", "nan", "inf"])
def test_a_weight_that_is_not_a_finite_nonnegative_number_is_refused_with_its_row(bad):
    table = weights_table().astype({"weight": object})
    table.loc[3, "weight"] = bad
    with pytest.raises(ValueError, match="row 5 has weight"):
        study_weights(table)


def test_by_study_labels_each_judgement_and_sorts_by_tool_study_and_domain_order():
    judged = by_study(appraisal_rows(), codebook(), study_weights(weights_table()))
    # codebook order of tools (rob2 first), study ID, then the tool's domain order
    assert list(zip(judged["tool"], judged["study_id"], judged["domain"], strict=True)) == [
        ("rob2", "S1", "d1"),
        ("rob2", "S1", "overall"),
        ("rob2", "S2", "d1"),
        ("rob2", "S2", "overall"),
        ("rob2", "S3", "d1"),
        ("rob2", "S3", "overall"),
        ("rob2", "S4", "d1"),
        ("rob2", "S4", "overall"),
        ("rob2", "S5", "d1"),
        ("rob2", "S5", "overall"),
        ("mmat", "Q1", "1.10"),
        ("mmat", "Q2", "1.10"),
    ]
    s3 = judged[(judged["study_id"] == "S3") & (judged["domain"] == "d1")].iloc[0]
    assert s3["judgement_label"] == "High risk" and s3["level"] == "poor"
    assert s3["domain_label"] == "Randomisation process" and s3["support"] == "Alternation"
    assert s3["weight"] == pytest.approx(0.10)
    assert judged.set_index(["study_id", "domain"]).loc[("S5", "d1"), "weight"] == 0.0
    assert math.isnan(by_study(appraisal_rows(), codebook())["weight"].iloc[0])


def test_summary_shares_unweighted_and_weighted_match_the_hand_counts():
    weights = study_weights(weights_table())
    table = summary(by_study(appraisal_rows(), codebook(), weights), codebook(), weights)
    got = table.set_index(["tool", "domain", "judgement"])
    expected = {
        # (domain, judgement): (n, pct_studies, pct_weight, study_ids)
        ("d1", "low"): (3, 60.0, 70.0, "S1;S2;S5"),
        ("d1", "some_concerns"): (1, 20.0, 20.0, "S4"),
        ("d1", "high"): (1, 20.0, 10.0, "S3"),
        ("d1", "no_information"): (0, 0.0, 0.0, ""),
        ("overall", "low"): (2, 40.0, 55.0, "S1;S5"),
        ("overall", "some_concerns"): (1, 20.0, 15.0, "S2"),
        ("overall", "high"): (2, 40.0, 30.0, "S3;S4"),
        ("overall", "no_information"): (0, 0.0, 0.0, ""),
    }
    for (domain, judgement), (n, pct, pct_w, ids) in expected.items():
        row = got.loc[("rob2", domain, judgement)]
        assert row["n_studies"] == n and row["n_appraised"] == 5, (domain, judgement)
        assert row["pct_studies"] == pytest.approx(pct), (domain, judgement)
        assert row["pct_weight"] == pytest.approx(pct_w), (domain, judgement)
        assert row["study_ids"] == ids, (domain, judgement)
    # Every judgement of the scale, best first, zeros listed; the tool's domain order.
    rob = table[table["tool"] == "rob2"]
    assert list(rob["judgement"])[:4] == ["low", "some_concerns", "high", "no_information"]
    assert list(dict.fromkeys(rob["domain"])) == ["d1", "overall"]
    q = got.loc[("mmat", "1.10", "no")]
    assert q["n_studies"] == 1 and q["pct_studies"] == 50.0 and q["study_ids"] == "Q2"
    assert math.isnan(q["pct_weight"])  # no qualitative study is pooled: no weighted share


def test_without_weights_the_weighted_share_is_blank_and_unused_tools_are_left_out():
    rows = appraisal_rows()
    rows = rows[rows["tool"] == "rob2"]
    table = summary(by_study(rows, codebook()), codebook())
    assert set(table["tool"]) == {"rob2"}
    assert table["pct_weight"].isna().all()
    assert table["pct_studies"].notna().all()


def test_the_tables_keep_codes_as_text_through_the_csv(tmp_path: Path):
    from evsynth.tables import write_table

    rows = appraisal_rows().assign(
        study_id=lambda f: f["study_id"].replace({"Q1": "007"}),
        support=lambda f: f["support"].replace({"No rationale given": "=HYPERLINK(1)"}),
    )
    judged = by_study(rows, codebook())
    write_table(judged, tmp_path / "by_study.csv")
    back = read_clean(tmp_path / "by_study.csv")
    assert "007" in set(back["study_id"]) and "1.10" in set(back["domain"])
    assert "=HYPERLINK(1)" in set(back["support"])  # escaped on disk, restored on reading
    assert "'=HYPERLINK(1)" in (tmp_path / "by_study.csv").read_text("utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tool": "robins"}, "tool 'robins' is not in the codebook"),
        ({"domain": "d9"}, r"domains \['d9'\]"),
        ({"judgement": "Low"}, r"judgements \['Low'\]"),
    ],
)
def test_a_clean_table_the_codebook_does_not_cover_is_refused_not_counted(change, message):
    rows = appraisal_rows()
    for column, value in change.items():
        rows.loc[1, column] = value
    with pytest.raises(ValueError, match=message):
        by_study(rows, codebook())


def test_a_repeated_judgement_is_refused_not_counted_twice():
    rows = pd.concat([appraisal_rows(), appraisal_rows().iloc[[4]]], ignore_index=True)
    with pytest.raises(ValueError, match="study 'S1' has more than one judgement"):
        by_study(rows, codebook())


# --- The stage, end to end on files --------------------------------------------------------------


def paths(folder: Path):
    from evsynth.appraisal import AppraisalPaths

    return AppraisalPaths(
        by_study=folder / "appraisal/by_study.csv",
        summary=folder / "appraisal/summary.csv",
        traffic_light_figure=folder / "figures/appraisal_traffic_light",
        summary_figure=folder / "figures/appraisal_summary",
    )


def stage_inputs(folder: Path, monkeypatch) -> tuple[Path, Path, Path]:
    """The clean appraisal table (typed, as validation writes it), a weights CSV and a codebook
    path. The codebook is built here, not parsed: the ``appraisal:`` block's parsing is another
    change (the stage only calls load_codebook)."""
    import evsynth.codebook
    from evsynth.handoff import write_typed
    from evsynth.tables import write_table

    book = codebook()
    monkeypatch.setattr(evsynth.codebook, "load_codebook", lambda path: book)
    write_typed(appraisal_rows(), folder / "clean/appraisal.parquet", {})
    write_table(weights_table(), folder / "outcomes/study_weights.csv")
    return (
        folder / "clean/appraisal.parquet",
        folder / "codebook.yaml",
        folder / "outcomes/study_weights.csv",
    )


def test_the_stage_writes_both_tables_and_both_figures(tmp_path: Path, monkeypatch):
    from evsynth.appraisal import BY_STUDY_COLUMNS, SUMMARY_COLUMNS, run_appraisal

    appraisal, book, weights = stage_inputs(tmp_path, monkeypatch)
    out = paths(tmp_path)
    run_appraisal(appraisal, book, weights, out)
    judged = read_clean(out.by_study)
    assert list(judged.columns) == BY_STUDY_COLUMNS
    assert judged.loc[0, "weight"] == "0.55"  # S1: (0.5 + 0.6) / 2
    table = read_clean(out.summary)
    assert list(table.columns) == SUMMARY_COLUMNS
    low = table[(table["domain"] == "d1") & (table["judgement"] == "low")].iloc[0]
    assert (low["n_studies"], low["pct_studies"], low["pct_weight"]) == ("3", "60", "70")
    assert low["study_ids"] == "S1;S2;S5"
    for figure in (out.traffic_light_figure, out.summary_figure):
        assert figure.with_suffix(".png").stat().st_size > 5000
        assert figure.with_suffix(".svg").read_text("utf-8").rstrip().endswith("</svg>")
    # Without weights: the same counts, the weighted share blank.
    run_appraisal(appraisal, book, None, paths(tmp_path / "unweighted"))
    plain = read_clean(paths(tmp_path / "unweighted").summary)
    assert (plain["pct_weight"] == "").all()
    assert list(plain["pct_studies"]) == list(table["pct_studies"])


def test_two_renders_are_byte_identical(tmp_path: Path, monkeypatch):
    from evsynth.appraisal import run_appraisal

    appraisal, book, weights = stage_inputs(tmp_path, monkeypatch)
    first, second = paths(tmp_path / "one"), paths(tmp_path / "two")
    run_appraisal(appraisal, book, weights, first)
    run_appraisal(appraisal, book, weights, second)
    for a, b in [
        (first.by_study, second.by_study),
        (first.summary, second.summary),
        *(
            (stem_a.with_suffix(s), stem_b.with_suffix(s))
            for stem_a, stem_b in [
                (first.traffic_light_figure, second.traffic_light_figure),
                (first.summary_figure, second.summary_figure),
            ]
            for s in (".png", ".svg")
        ),
    ]:
        assert a.read_bytes() == b.read_bytes(), a.name


HOSTILE = {
    "tool": "Tool $\\frac{a}{b}$ x_1",
    "domain": "Cost in $ (a_b^c)",
    "judgement": "$$",
    "study": "S_$1^2$",
}


def test_labels_and_ids_are_drawn_literally(tmp_path: Path, monkeypatch):
    import html
    from dataclasses import replace

    from evsynth import figures as figures_module
    from evsynth.figures import appraisal_summary_plot, traffic_light_plot

    monkeypatch.setitem(figures_module.STYLE, "svg.fonttype", "none")  # text readable in SVG
    tool = rob2()
    tool = replace(
        tool,
        label=HOSTILE["tool"],
        domains={"d1": HOSTILE["domain"], "overall": "Overall"},
        judgements={**tool.judgements, "high": Judgement("high", HOSTILE["judgement"], "poor")},
    )
    book = codebook(rob2=tool)
    rows = appraisal_rows()
    rows = rows[rows["tool"] == "rob2"].replace({"S3": HOSTILE["study"]})
    judged = by_study(rows, book)
    _, tl = traffic_light_plot(judged, book.appraisal, tmp_path / "tl")
    _, sm = appraisal_summary_plot(summary(judged, book), tmp_path / "sm", weighted=False)
    drawn = html.unescape(tl.read_text("utf-8"))
    for text in (HOSTILE["tool"], HOSTILE["judgement"], HOSTILE["study"]):
        assert f">{text}</text>" in drawn, text
    # Columns are headed by domain code; the key under the legend gives each label.
    assert f">d1: {HOSTILE['domain']}</text>" in drawn
    drawn = html.unescape(sm.read_text("utf-8"))
    assert HOSTILE["tool"] in drawn and f">{HOSTILE['domain']}</text>" in drawn
    assert f"× {HOSTILE['judgement']}" in drawn


def test_many_studies_stay_a_readable_size_and_say_what_is_shown(tmp_path: Path, monkeypatch):
    import html

    from PIL import Image

    from evsynth import figures as figures_module
    from evsynth.figures import A4_WIDTH_IN, traffic_light_plot

    monkeypatch.setitem(figures_module.STYLE, "svg.fonttype", "none")
    n = 400
    rows = pd.DataFrame(
        [
            (f"S{i:04d}", "rob2", d, ["low", "high", "some_concerns"][i % 3], "")
            for i in range(n)
            for d in ("d1", "overall")
        ],
        columns=["study_id", "tool", "domain", "judgement", "support"],
    )
    weights = {f"S{i:04d}": float(i) for i in range(n)}  # the heaviest are S0320-S0399
    judged = by_study(rows, codebook(rob2=rob2()), weights)
    png, svg = traffic_light_plot(judged, {"rob2": rob2()}, tmp_path / "tl")
    width, height = Image.open(png).size
    assert width == round(A4_WIDTH_IN * 200)
    assert height / 200 < 80 * 0.15 + 3  # 80 dense rows, not 400
    drawn = html.unescape(svg.read_text("utf-8"))
    assert ">S0399</text>" in drawn and ">S0320</text>" in drawn and ">S0319</text>" not in drawn
    assert "Showing 80 of 400 studies" in drawn


def test_no_appraisals_give_placeholders(tmp_path: Path):
    from evsynth.figures import appraisal_summary_plot, traffic_light_plot

    empty = by_study(appraisal_rows().iloc[:0], codebook())
    assert empty.empty and list(summary(empty, codebook())["tool"]) == []
    png, _ = traffic_light_plot(empty, codebook().appraisal, tmp_path / "tl")
    assert png.exists()
    png, _ = appraisal_summary_plot(summary(empty, codebook()), tmp_path / "sm", weighted=True)
    assert png.exists()


def test_the_outcomes_stage_writes_the_weights_the_appraisal_stage_reads(tmp_path: Path):
    """outcomes/study_weights.csv (written when its path is given): per main meta-analysis,
    each study's share of the random-effects weight, summing to 1; read back, it gives w_s."""
    from dataclasses import replace

    from conftest import REPO
    from evsynth.outcomes import STUDY_WEIGHT_COLUMNS, run_outcomes
    from evsynth.validate import run_validate
    from stage_paths import meta_settings, outcomes_paths, validation_paths

    tiny = REPO / "tests/data/tiny"
    clean = tmp_path / "clean"
    run_validate(tiny / "sheets", tiny / "codebook.yaml", validation_paths(tmp_path, clean))
    out = replace(
        outcomes_paths(tmp_path / "outcomes", tmp_path / "figures"),
        study_weights=tmp_path / "outcomes/study_weights.csv",
    )
    run_outcomes(
        *(clean / f"{name}.parquet" for name in ("studies", "outcomes", "codes")),
        tiny / "codebook.yaml",
        meta_settings(),
        "union",
        out,
    )
    weights = read_clean(out.study_weights)
    assert list(weights.columns) == STUDY_WEIGHT_COLUMNS
    # Tiny pools one analysis: reoffending, risk ratio, T1 and T4.
    assert list(weights["study_id"]) == ["T1", "T4"]
    assert set(weights["outcome"]) == {"reoffending"} and set(weights["effect_measure"]) == {"rr"}
    share = weights["weight"].astype(float)
    assert share.sum() == pytest.approx(1.0) and (share > 0).all()
    # T4's narrower CI (0.5-0.98 against 0.3-0.83) gives it the larger share.
    assert share.iloc[1] > share.iloc[0]
    assert study_weights(weights) == pytest.approx(
        dict(zip(weights["study_id"], share, strict=True))
    )
