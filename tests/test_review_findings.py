"""The findings stage (evsynth.review_findings) on a small constructed review, run on real files
in a tmp folder: clean Parquet tables as validation writes them, a codebook YAML, and an
appraisal/by_study.csv as the appraisal stage writes it.

The review: the 13 BCG vaccine trials (metafor's dat.bcg, as tests/data/bcg), all randomised,
for outcome ``tb``; four observational studies and three qualitative studies for ``wellbeing``
and two themes. Findings, in sheet order (row):

    row  finding  type         studies                          what it checks
    2    F1       effect tb    BCG01-BCG13                      pooled, Egger (k = 13)
    3    F2       effect tb    BCG01-BCG06 (a subgroup)         pooled over its own studies
    4    QF1      qualitative  QUAL1;QUAL2                      adequacy signal disagrees
    5    F3       effect wb    OBS1-OBS4, QUAL1, OBS5           vote count; QUAL1 does not vote
    6    QF2      qualitative  QUAL1;QUAL2;QUAL3                high despite serious coherence

Reference values of the pooled effects, metafor 3.8-1 (R), REML as the config's default:

    Rscript -e 'library(metafor); options(digits=10); dat <- escalc(measure="RR", ai=tpos,
      bi=tneg, ci=cpos, di=cneg, data=dat.bcg); for (s in list(1:13, 1:6)) {
      res <- rma(yi, vi, data=dat, subset=s); p <- predict(res, transf=exp);
      print(c(k=res$k, est=exp(coef(res))[[1]], ci.lb=p$ci.lb, ci.ub=p$ci.ub, pi.lb=p$pi.lb,
      pi.ub=p$pi.ub, I2=res$I2)); print(round(weights(res), 6)) }'

    trials 1-13: est 0.4894209368, ci 0.3440742934 to 0.6961660838, pi 0.1546342935 to
      1.5490280193, I2 92.2213860750; weights (%) 6: 10.095738, 8: 10.189439, 11: 9.925027,
      12: 3.821629
    trials 1-6:  est 0.3724257113, ci 0.2342014198 to 0.5922291614, pi 0.1320886811 to
      1.0500590159, I2 84.1552753208; weight (%) 6: 24.289355

(1-13 matches metafor's published dat.bcg REML output: estimate -0.7145 on the log scale,
tau² 0.3132, I² 92.22%.) Egger's test on the 13 trials: p = 0.1887 (tests/test_stats.py).

Appraisal (overall level per study): RoB 2 with an ``overall`` domain for BCG01-BCG10 and
BCG12: poor for BCG06 and BCG08; BCG12 is high in d1 but some concerns overall, so fair (the
overall domain decides). BCG11 is appraised with a tool that has no overall domain, d2 high:
its worst domain, poor. BCG13 is not appraised. Poor weight in F1: 10.095738 + 10.189439 +
9.925027 = 30.21% (> 25%: serious; by studies 3 of 13 = 23% would not be; counting BCG12 too
would print 34%, and missing BCG11 20%). In F2 only BCG06: 24.29%, not serious.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from evsynth.findings import InputError, read_issues_csv
from evsynth.handoff import write_typed
from evsynth.outcomes import MetaAnalysisSettings
from evsynth.review_findings import (
    QUALITATIVE_FINDINGS_COLUMNS,
    SIGNAL_COLUMNS,
    SUMMARY_OF_FINDINGS_COLUMNS,
    FindingsPaths,
    _crosses_no_effect,
    effect_direction_and_size,
    run_findings,
)
from evsynth.tables import read_clean

REPO = Path(__file__).resolve().parents[1]
SETTINGS = MetaAnalysisSettings(
    method="REML", hartung_knapp=False, sensitivity_exclude_quality=("low",)
)

CODEBOOK = """\
review: findings-test
vocabularies:
  design:
    rct: Randomised controlled trial
    cohort: Cohort study
    qualitative: {label: Qualitative study, votes: false}
  intervention_type:
    bcg_vaccine: BCG vaccination
themes:
  - code: "1.10"
    label: Trust in facilitators
  - code: "2"
    label: Belonging
outcomes:
  tb:
    label: Tuberculosis
    benefit: decrease
  wellbeing:
    label: Wellbeing
    benefit: increase
appraisal:
  rob2:
    label: RoB 2
    designs: [rct]
    domains: {d1: Randomisation process, overall: Overall}
    judgements:
      low: {label: Low risk, level: good}
      some_concerns: {label: Some concerns, level: fair}
      high: {label: High risk, level: poor}
  short:
    label: A tool without an overall domain
    designs: [rct]
    domains: {d1: First, d2: Second}
    judgements:
      low: {label: Low, level: good}
      high: {label: High, level: poor}
  mmat:
    label: MMAT
    designs: [qualitative]
    domains: {q1: Appropriate approach}
    judgements:
      "yes": {label: "Yes", level: good}
      "no": {label: "No", level: poor}
"""

BCG_N = [262, 609, 451, 26465, 10877, 2992, 3174, 176782, 14776, 3381, 77972, 4839, 34767]


def _bcg_outcomes() -> pd.DataFrame:
    rows = read_clean(REPO / "tests/data/bcg/sheets/outcomes.csv")
    assert list(rows["n"].astype(int)) == BCG_N  # the transcription the sums below use
    return rows[["study_id", "outcome", "direction", "effect_measure", "estimate"]].assign(
        ci_lower=rows["ci_lower"], ci_upper=rows["ci_upper"], n=rows["n"]
    )


def _wellbeing_outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("OBS1", "wellbeing", "benefit", "", "", "", "", "120"),
            ("OBS2", "wellbeing", "benefit", "", "", "", "", "80"),
            ("OBS3", "wellbeing", "benefit", "md", "0.3", "0.1", "0.5", "150"),
            ("OBS4", "wellbeing", "harm", "", "", "", "", "50"),
            ("QUAL1", "wellbeing", "harm", "", "", "", "", "20"),
        ],
        columns=[
            "study_id",
            "outcome",
            "direction",
            "effect_measure",
            "estimate",
            "ci_lower",
            "ci_upper",
            "n",
        ],
    )


def _studies() -> pd.DataFrame:
    ids = [f"BCG{i:02d}" for i in range(1, 14)]
    designs = ["rct"] * 13
    ids += ["OBS1", "OBS2", "OBS3", "OBS4", "OBS5", "QUAL1", "QUAL2", "QUAL3"]
    designs += ["cohort"] * 5 + ["qualitative"] * 3
    return pd.DataFrame({"study_id": ids, "design": designs, "quality": "not_appraised"})


FINDING_COLUMNS = [
    "finding_id",
    "statement",
    "type",
    "outcome",
    "theme",
    "study_ids",
    "start",
    "risk_of_bias",
    "inconsistency",
    "indirectness",
    "imprecision",
    "publication_bias",
    "upgrade",
    "methodological_limitations",
    "coherence",
    "adequacy",
    "relevance",
    "confidence",
    "explanation",
    "source_row",
]
NS, S = "not_serious", "serious"
ALL_BCG = ";".join(f"BCG{i:02d}" for i in range(1, 14))
FIRST_SIX = ";".join(f"BCG{i:02d}" for i in range(1, 7))


def _findings() -> pd.DataFrame:
    effect = dict.fromkeys(
        ["theme", "methodological_limitations", "coherence"], ""
    ) | dict.fromkeys(["adequacy", "relevance", "confidence"], "")
    qual = dict.fromkeys(
        [
            "outcome",
            "start",
            "risk_of_bias",
            "inconsistency",
            "indirectness",
            "imprecision",
            "publication_bias",
            "upgrade",
        ],
        "",
    )
    rows = [
        effect
        | {
            "finding_id": "F1",
            "statement": "BCG vaccination prevents tuberculosis",
            "type": "effect",
            "outcome": "tb",
            "study_ids": ALL_BCG,
            "start": "",
            "risk_of_bias": NS,
            "inconsistency": S,
            "indirectness": NS,
            "imprecision": NS,
            "publication_bias": NS,
            "upgrade": "",
            "explanation": "Inconsistency: I² 92%.",
            "source_row": "2",
        },
        effect
        | {
            "finding_id": "F2",
            "statement": "In the early trials BCG prevented tuberculosis",
            "type": "effect",
            "outcome": "tb",
            "study_ids": FIRST_SIX,
            "start": "",
            "risk_of_bias": S,
            "inconsistency": S,
            "indirectness": S,
            "imprecision": S,
            "publication_bias": NS,
            "upgrade": "1",
            "explanation": "Old trials.",
            "source_row": "3",
        },
        qual
        | {
            "finding_id": "QF1",
            "statement": "Men trusted facilitators from their own community",
            "type": "qualitative",
            "theme": "1.10",
            "study_ids": "QUAL1;QUAL2",
            "methodological_limitations": "no_or_very_minor",
            "coherence": "no_or_very_minor",
            "adequacy": "no_or_very_minor",
            "relevance": "no_or_very_minor",
            "confidence": "high",
            "explanation": "",
            "source_row": "4",
        },
        effect
        | {
            "finding_id": "F3",
            "statement": "Programmes improved wellbeing",
            "type": "effect",
            "outcome": "wellbeing",
            "study_ids": "OBS1;OBS2;OBS3;OBS4;QUAL1;OBS5",
            "start": "",
            "risk_of_bias": NS,
            "inconsistency": NS,
            "indirectness": NS,
            "imprecision": NS,
            "publication_bias": NS,
            "upgrade": "0",
            "explanation": "",
            "source_row": "5",
        },
        qual
        | {
            "finding_id": "QF2",
            "statement": "Groups gave a sense of belonging.",
            "type": "qualitative",
            "theme": "2",
            "study_ids": "QUAL1;QUAL2;QUAL3",
            "methodological_limitations": "minor",
            "coherence": "serious",
            "adequacy": "minor",
            "relevance": "no_or_very_minor",
            "confidence": "high",
            "explanation": "Data from three studies.",
            "source_row": "6",
        },
    ]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _by_study() -> pd.DataFrame:
    rows = []
    for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12):
        sid = f"BCG{i:02d}"
        d1 = "high" if i in (6, 8, 12) else "low"
        overall = {6: "high", 8: "high", 12: "some_concerns"}.get(i, "low")
        rows.append((sid, "rob2", "d1", d1))
        rows.append((sid, "rob2", "overall", overall))
    rows += [("BCG11", "short", "d1", "low"), ("BCG11", "short", "d2", "high")]
    rows += [("QUAL1", "mmat", "q1", "yes"), ("QUAL3", "mmat", "q1", "no")]
    level = {"low": "good", "some_concerns": "fair", "high": "poor", "yes": "good", "no": "poor"}
    frame = pd.DataFrame(rows, columns=["study_id", "tool", "domain", "judgement"])
    return frame.assign(level=frame["judgement"].map(level))


def _write_review(tmp: Path, findings: pd.DataFrame, appraisal: bool = True) -> dict:
    clean = tmp / "clean"
    outcomes = pd.concat([_bcg_outcomes(), _wellbeing_outcomes()], ignore_index=True)
    write_typed(_studies(), clean / "studies.parquet", {})
    write_typed(
        outcomes,
        clean / "outcomes.parquet",
        {"estimate": "number", "ci_lower": "number", "ci_upper": "number", "n": "integer"},
    )
    write_typed(
        findings, clean / "findings.parquet", {"upgrade": "integer", "source_row": "integer"}
    )
    (tmp / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    by_study = None
    if appraisal:
        by_study = tmp / "appraisal/by_study.csv"
        by_study.parent.mkdir(parents=True)
        _by_study().to_csv(by_study, index=False)
    out = FindingsPaths(
        summary_of_findings=tmp / "findings/summary_of_findings.csv",
        qualitative_findings=tmp / "findings/qualitative_findings.csv",
        signals=tmp / "findings/signals.csv",
        warnings=tmp / "findings/warnings.csv",
    )
    return {
        "findings_path": clean / "findings.parquet",
        "studies_path": clean / "studies.parquet",
        "outcomes_path": clean / "outcomes.parquet",
        "appraisal_by_study_path": by_study,
        "codebook_path": tmp / "codebook.yaml",
        "settings": SETTINGS,
        "out": out,
        "intervention_label": "BCG vaccination",
    }


@pytest.fixture(scope="session")  # kept to the end: xdist may run other modules in between
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("findings")
    args = _write_review(tmp, _findings())
    warnings = run_findings(**args)
    out = args["out"]
    sof = read_clean(out.summary_of_findings).set_index("finding_id", drop=False)
    qual = read_clean(out.qualitative_findings).set_index("finding_id", drop=False)
    signals = read_clean(out.signals)
    return {
        "warnings": warnings,
        "written": read_issues_csv(out.warnings),
        "sof": sof,
        "qual": qual,
        "signals": signals.set_index(["finding_id", "domain"], drop=False),
        "signals_raw": signals,
    }


def _num(value: str) -> float:
    return float(value) if value != "" else math.nan


# ---------------------------------------------------------------------------------------
# Summary of findings (effect findings)
# ---------------------------------------------------------------------------------------


def test_tables_have_the_declared_columns_in_order(run):
    assert list(run["sof"].columns) == SUMMARY_OF_FINDINGS_COLUMNS
    assert list(run["qual"].columns) == QUALITATIVE_FINDINGS_COLUMNS
    assert list(run["signals_raw"].columns) == SIGNAL_COLUMNS
    # Effect findings in sheet order, qualitative ones likewise.
    assert list(run["sof"]["finding_id"]) == ["F1", "F2", "F3"]
    assert list(run["qual"]["finding_id"]) == ["QF1", "QF2"]


PUBLISHED = {
    # finding: (estimate, ci_lower, ci_upper, pi_lower, pi_upper, i2), metafor (docstring)
    "F1": (0.4894209368, 0.3440742934, 0.6961660838, 0.1546342935, 1.5490280193, 92.2213860750),
    "F2": (0.3724257113, 0.2342014198, 0.5922291614, 0.1320886811, 1.0500590159, 84.1552753208),
}


@pytest.mark.parametrize("fid", ["F1", "F2"])
def test_pooled_effect_over_the_findings_own_studies_matches_metafor(run, fid):
    """F1 pools all 13 trials, F2 only its six (a subgroup of the same outcome): each its own
    REML fit, checked against metafor's rma() on the same subsets."""
    row = run["sof"].loc[fid]
    assert row["synthesis"] == "meta_analysis"
    assert (row["effect_measure"], row["method"]) == ("rr", "REML")
    got = [_num(row[c]) for c in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper")]
    got.append(_num(row["i2"]))
    # metafor stops REML iterating once tau² changes by less than 1e-5 (its default
    # threshold), so the two fits agree to about 2e-6 relative, well inside the 4 decimals
    # metafor prints.
    assert got == pytest.approx(PUBLISHED[fid], rel=1e-5)


def test_prediction_interval_crossing_no_effect_is_decided_with_the_pooling(run):
    """Both BCG fits' prediction intervals (metafor: 0.15 to 1.55, 0.13 to 1.05) hold RR 1;
    the table says so for the report to repeat, and says nothing without an interval."""
    assert list(run["sof"].loc[["F1", "F2"], "pi_crosses_no_effect"]) == ["true", "true"]
    assert run["sof"].loc["F3", "pi_crosses_no_effect"] == ""  # a vote count
    # Their confidence intervals (0.34 to 0.70, 0.23 to 0.59) do not: on average, fewer cases.
    assert list(run["sof"].loc[["F1", "F2"], "ci_crosses_no_effect"]) == ["false", "false"]
    assert run["sof"].loc["F3", "ci_crosses_no_effect"] == ""
    crosses = _crosses_no_effect
    assert crosses(0.12, 0.38, "smd") == "false"  # families' child wellbeing: all above 0
    assert crosses(-0.10, 0.70, "smd") == "true"
    assert crosses(0.60, 0.90, "rr") == "false"
    assert crosses(math.nan, math.nan, "rr") == ""


def test_k_and_participants_are_the_findings_own(run):
    """k = the finding's studies; participants = the sum of their n (hand sums below)."""
    sof = run["sof"]
    # 262+609+451+26465+10877+2992+3174+176782+14776+3381+77972+4839+34767
    assert (sof.loc["F1", "k"], sof.loc["F1", "participants"]) == ("13", "357347")
    # 262+609+451+26465+10877+2992
    assert (sof.loc["F2", "k"], sof.loc["F2", "participants"]) == ("6", "41656")
    assert sof.loc["F2", "participants_k"] == "6"
    # F3: six studies; OBS5 reported nothing for wellbeing: 120+80+150+50+20 over 5 studies.
    assert (sof.loc["F3", "k"], sof.loc["F3", "participants"]) == ("6", "420")
    assert sof.loc["F3", "participants_k"] == "5"
    assert sof.loc["F3", "study_ids"] == "OBS1;OBS2;OBS3;OBS4;QUAL1;OBS5"


def test_direction_counts_leave_out_designs_that_do_not_vote(run):
    """F3 is a vote count (only OBS3 has an estimate): QUAL1's design is marked votes: false,
    so its 'harm' is not counted: 3 benefit, 1 harm, sign test p = 2 * P(X >= 3 | 4, 1/2) =
    2 * 5/16 = 0.625. Were QUAL1 counted: 3 against 2, p = 1."""
    row = run["sof"].loc["F3"]
    assert row["synthesis"] == "vote_count"
    assert row["estimate"] == "" and row["effect_measure"] == ""
    counts = [row[c] for c in ("n_benefit", "n_harm", "n_no_effect", "n_not_voting")]
    assert counts == ["3", "1", "0", "1"]
    assert _num(row["sign_test_p"]) == pytest.approx(0.625)
    # F1's trials: 8 benefit, 5 no effect (tests/data/bcg); sign test 2 / 2^8.
    f1 = run["sof"].loc["F1"]
    assert (f1["n_benefit"], f1["n_harm"], f1["n_no_effect"]) == ("8", "0", "5")
    assert _num(f1["sign_test_p"]) == pytest.approx(2 / 2**8)


def test_certainty_follows_the_leads_judgements(run):
    """F1: randomised (start high) - 1 (serious inconsistency) = moderate, although signals
    disagree on two domains. F2: 4 - 4 serious + 1 upgrade = 1, very low. F3: observational
    (start low), nothing rated down: low."""
    sof = run["sof"]
    assert [sof.loc[f, "start"] for f in ("F1", "F2", "F3")] == ["high", "high", "low"]
    assert [sof.loc[f, "certainty"] for f in ("F1", "F2", "F3")] == ["moderate", "very_low", "low"]
    assert [sof.loc[f, "upgrade"] for f in ("F1", "F2", "F3")] == ["0", "1", "0"]


def test_plain_language_in_guidance_26_wording(run):
    """F1: RR 0.49 (at most 0.5: large), CI below 1, moderate -> "likely results in a large
    reduction"; F2 very low -> "very uncertain"; F3: 3 of 4 votes for benefit on an outcome
    whose benefit is an increase, low -> "may increase"."""
    sof = run["sof"]
    assert (sof.loc["F1", "effect_direction"], sof.loc["F1", "effect_size"]) == (
        "reduces",
        "large",
    )
    assert sof.loc["F1", "plain_language"] == (
        "BCG vaccination likely results in a large reduction in tuberculosis."
    )
    assert sof.loc["F2", "plain_language"] == (
        "The evidence is very uncertain about the effect of BCG vaccination on tuberculosis."
    )
    assert sof.loc["F3", "plain_language"] == "BCG vaccination may increase wellbeing."
    # The lead's words stay as written.
    assert sof.loc["F1", "statement"] == "BCG vaccination prevents tuberculosis"


# ---------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------


def _signal(run, fid, domain):
    row = run["signals"].loc[(fid, domain)]
    return row["signal"], row["judged"], row["agrees"], row["reason"]


def test_risk_of_bias_signal_weighs_the_findings_own_meta_analysis(run):
    """Poor: BCG06, BCG08 (overall domain) and BCG11 (worst domain of a tool with no overall);
    BCG12 is fair (overall decides). Share of F1's weight 30.21% -> serious; of F2's, 24.29%."""
    assert _signal(run, "F1", "risk_of_bias") == (
        S,
        NS,
        "false",
        "30% of meta-analysis weight from studies appraised as poor; not appraised or "
        "unclear: BCG13 (more than 25%)",
    )
    assert _signal(run, "F2", "risk_of_bias") == (
        NS,
        S,
        "false",
        "24% of meta-analysis weight from studies appraised as poor",
    )


def test_inconsistency_signal_from_i2_and_direction(run):
    assert _signal(run, "F1", "inconsistency") == (
        S,
        S,
        "true",
        "I² = 92%: considerable heterogeneity (75% or more); 8 of 8 studies show benefit, "
        "0 harm (100% agree)",
    )
    # F3: no I²; 3 of 4 voting studies agree (75% >= 70%).
    assert _signal(run, "F3", "inconsistency")[:3] == (NS, NS, "true")


def test_imprecision_signal_prediction_interval(run):
    """F1's CI (0.34 to 0.70) excludes no effect, its prediction interval (0.15 to 1.55) does
    not: serious, against the lead's not serious. A vote count has no interval."""
    signal, judged, agrees, reason = _signal(run, "F1", "imprecision")
    assert (signal, judged, agrees) == (S, NS, "false")
    assert "95% prediction interval 0.154634 to 1.54903 crosses no effect (1)" in reason
    assert _signal(run, "F3", "imprecision") == (
        "",
        NS,
        "",
        "not assessed: no pooled interval (vote count)",
    )


def test_publication_bias_signal_runs_egger_only_from_ten_studies(run):
    """F1 (k = 13): Egger's p = 0.1887 (metafor, tests/test_stats.py) >= 0.10: not serious.
    F2 (k = 6): not assessed."""
    assert _signal(run, "F1", "publication_bias") == (
        NS,
        NS,
        "true",
        "Egger's test p = 0.189 (>= 0.10)",
    )
    assert _signal(run, "F2", "publication_bias") == (
        "",
        NS,
        "",
        "not assessed: 6 studies, fewer than the 10 an asymmetry test needs",
    )
    assert _signal(run, "F1", "indirectness")[0] == ""


def test_cerqual_signals(run):
    """QF1: 2 studies -> moderate adequacy concern (the lead said none); QUAL1 good, QUAL2
    not appraised -> no poor study. QF2: QUAL3 poor, 1 of 3 = 33% > 25% -> moderate
    methodological limitations (the lead said minor); 3 studies -> minor adequacy, agreed."""
    assert _signal(run, "QF1", "adequacy") == (
        "moderate",
        "no_or_very_minor",
        "false",
        "2 contributing studies",
    )
    assert _signal(run, "QF1", "methodological_limitations") == (
        "no_or_very_minor",
        "no_or_very_minor",
        "true",
        "0 of 2 contributing studies appraised as poor; not appraised or unclear: QUAL2",
    )
    assert _signal(run, "QF2", "methodological_limitations")[:3] == ("moderate", "minor", "false")
    assert _signal(run, "QF2", "adequacy")[:3] == ("minor", "minor", "true")
    assert _signal(run, "QF2", "coherence")[0] == ""


def test_signals_table_rows_and_sources(run):
    """Five rows per effect finding and four per qualitative one, in the sheet's order, each
    with its rule and source."""
    raw = run["signals_raw"]
    assert len(raw) == 3 * 5 + 2 * 4
    assert list(dict.fromkeys(raw["finding_id"])) == ["F1", "F2", "QF1", "F3", "QF2"]
    assert (raw["rule"] != "").all() and (raw["source"] != "").all()
    assert "Egger" in raw.set_index("domain").loc["publication_bias", "source"].iloc[0]


# ---------------------------------------------------------------------------------------
# Qualitative findings
# ---------------------------------------------------------------------------------------


def test_qualitative_findings_keep_the_leads_confidence(run):
    qual = run["qual"]
    assert list(qual.loc["QF1", ["theme", "label", "k", "confidence"]]) == [
        "1.10",
        "Trust in facilitators",
        "2",
        "high",
    ]
    assert qual.loc["QF1", "plain_language"] == (
        "Men trusted facilitators from their own community. It is highly likely that the "
        "review finding is a reasonable representation of the phenomenon of interest."
    )
    # High despite a serious coherence concern: kept as the lead gave it (and warned).
    assert qual.loc["QF2", "confidence"] == "high"
    assert qual.loc["QF2", "theme"] == "2"


# ---------------------------------------------------------------------------------------
# Warnings
# ---------------------------------------------------------------------------------------


def test_warnings_are_located_and_written(run):
    """Every disagreement and every discouraged choice is a warning at the finding's row and
    column; warnings.csv holds the same findings."""
    got = {(w.row, w.column, w.rule) for w in run["warnings"]}
    assert got == {
        (2, "risk_of_bias", "finding_signal"),
        (2, "imprecision", "finding_signal"),
        (3, "risk_of_bias", "finding_signal"),
        (3, "upgrade", "finding_upgrade"),  # randomised evidence rated up
        (4, "adequacy", "finding_signal"),
        (5, "study_ids", "finding_study_without_outcome"),
        (6, "methodological_limitations", "finding_signal"),
        (6, "confidence", "finding_confidence"),
    }
    assert len(run["warnings"]) == 9  # row 3 has two upgrade warnings
    assert all(w.severity == "warning" and w.sheet == "findings" for w in run["warnings"])
    assert sorted(run["written"]) == sorted(run["warnings"])
    by_place = {(w.row, w.column): w for w in run["warnings"]}
    assert by_place[(2, "imprecision")].message.startswith(
        "finding F1: imprecision judged not_serious but the data suggest serious"
    )
    assert by_place[(5, "study_ids")].value == "OBS5"
    assert "confidence is high despite coherence (serious) concerns" in (
        by_place[(6, "confidence")].message
    )


def test_without_appraisal_risk_of_bias_is_not_assessed(tmp_path):
    args = _write_review(tmp_path, _findings(), appraisal=False)
    warnings = run_findings(**args)
    signals = read_clean(args["out"].signals).set_index(["finding_id", "domain"])
    assert signals.loc[("F1", "risk_of_bias"), "signal"] == ""
    assert signals.loc[("F1", "risk_of_bias"), "reason"] == (
        "not assessed: none of the contributing studies was appraised"
    )
    assert signals.loc[("QF2", "methodological_limitations"), "signal"] == ""
    assert not any(w.column == "risk_of_bias" for w in warnings)


# ---------------------------------------------------------------------------------------
# Bad input: located, no number written
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finding", "column", "value", "row_number", "message"),
    [
        ("F1", "imprecision", "Serious", 2, "imprecision must be one of"),
        ("F2", "upgrade", "3", 3, "upgrade must be 0, 1 or 2"),
        ("F1", "start", "moderate", 2, "start must be one of high, low"),
        ("QF2", "confidence", "very low", 6, "confidence must be one of"),
        ("QF1", "coherence", "major", 4, "coherence must be one of"),
        ("F3", "statement", " ", 5, "needs a statement"),
    ],
)
def test_bad_codes_are_located_errors_and_nothing_is_written(
    tmp_path, finding, column, value, row_number, message
):
    findings = _findings()
    findings.loc[findings["finding_id"] == finding, column] = value
    if column == "upgrade":
        findings["upgrade"] = findings["upgrade"].replace("", None)
    args = _write_review(tmp_path, findings)
    with pytest.raises(InputError) as caught:
        run_findings(**args)
    (error,) = caught.value.findings
    assert (error.sheet, error.row, error.column) == ("findings", row_number, column)
    assert message in error.message
    assert not args["out"].summary_of_findings.exists()


def test_appraisal_table_without_level_column_is_refused(tmp_path):
    args = _write_review(tmp_path, _findings())
    _by_study().drop(columns="level").to_csv(args["appraisal_by_study_path"], index=False)
    with pytest.raises(InputError, match="lacks the column"):
        run_findings(**args)


# ---------------------------------------------------------------------------------------
# Direction and size rules
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # Ratios: RR 0.5 or below / 2 or above is large (GRADE guidelines 9).
        (
            {"effect_measure": "rr", "estimate": 0.5, "ci_lower": 0.4, "ci_upper": 0.6},
            ("reduces", "large"),
        ),
        (
            {"effect_measure": "rr", "estimate": 0.51, "ci_lower": 0.4, "ci_upper": 0.6},
            ("reduces", "important"),
        ),
        (
            {"effect_measure": "or", "estimate": 2.0, "ci_lower": 1.5, "ci_upper": 2.5},
            ("increases", "large"),
        ),
        # A CI including no effect: little to no difference.
        (
            {"effect_measure": "rr", "estimate": 0.8, "ci_lower": 0.6, "ci_upper": 1.0},
            (None, "little_or_none"),
        ),
        # SMD: 0.8 large, 0.5 moderate (important), 0.2 small, below 0.2 little or none.
        (
            {"effect_measure": "smd", "estimate": -0.8, "ci_lower": -1.0, "ci_upper": -0.6},
            ("reduces", "large"),
        ),
        (
            {"effect_measure": "smd", "estimate": 0.5, "ci_lower": 0.3, "ci_upper": 0.7},
            ("increases", "important"),
        ),
        (
            {"effect_measure": "smd", "estimate": 0.3, "ci_lower": 0.1, "ci_upper": 0.5},
            ("increases", "small"),
        ),
        (
            {"effect_measure": "smd", "estimate": 0.15, "ci_lower": 0.05, "ci_upper": 0.25},
            (None, "little_or_none"),
        ),
        (
            {"effect_measure": "md", "estimate": -3.0, "ci_lower": -5.0, "ci_upper": -1.0},
            ("reduces", "important"),
        ),
        # Vote counts: benefit on a "decrease" outcome reduces it.
        ({"n_benefit": 7, "n_harm": 3}, ("reduces", "important")),
        ({"n_benefit": 6, "n_harm": 4}, (None, "little_or_none")),  # 60% < 70%
        ({"n_benefit": 1, "n_harm": 0, "n_no_effect": 1}, (None, "little_or_none")),
        ({"n_benefit": 0, "n_harm": 3}, ("increases", "important")),
    ],
)
def test_effect_direction_and_size(kwargs, expected):
    assert effect_direction_and_size("decrease", **kwargs) == expected


def test_vote_direction_follows_the_outcomes_benefit():
    assert effect_direction_and_size("increase", n_benefit=3, n_harm=1) == (
        "increases",
        "important",
    )
