"""Tests of evsynth.certainty: GRADE arithmetic, the domain signals, GRADE-CERQual checks and
the plain-language wording.

Expected values are written out here by hand or by the plainest independent formula, never by
calling the module's own helpers or tables.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from evsynth.certainty import (
    Signal,
    adequacy_signal,
    cerqual_consistency,
    compare_signals,
    default_start,
    effect_statement,
    grade_certainty,
    imprecision_signal,
    inconsistency_signal_direction,
    inconsistency_signal_i2,
    methodological_limitations_signal,
    publication_bias_signal,
    qualitative_statement,
    risk_of_bias_signal,
)

NS, S, VS = "not_serious", "serious", "very_serious"

# ---------------------------------------------------------------------------------------
# GRADE arithmetic
# ---------------------------------------------------------------------------------------

#: Hand-worked examples (GRADE handbook 5.1-5.3; Balshem et al., GRADE guidelines 3, J Clin
#: Epidemiol 2011;64:401-6: randomised trials start high, observational studies low; one
#: level per serious concern, two per very serious; rating up by one or two).
#: (start, rob, inconsistency, indirectness, imprecision, publication bias, upgrade, level)
HANDWORKED = [
    # RCTs, nothing wrong: high.
    ("high", NS, NS, NS, NS, NS, 0, "high"),
    # RCTs with serious risk of bias: moderate.
    ("high", S, NS, NS, NS, NS, 0, "moderate"),
    # RCTs with serious risk of bias and serious imprecision: low.
    ("high", S, NS, NS, S, NS, 0, "low"),
    # RCTs with very serious imprecision: low.
    ("high", NS, NS, NS, VS, NS, 0, "low"),
    # RCTs with serious concerns in three domains: very low.
    ("high", S, S, S, NS, NS, 0, "very_low"),
    # Observational studies, nothing else: low.
    ("low", NS, NS, NS, NS, NS, 0, "low"),
    # Observational studies with a large effect: moderate.
    ("low", NS, NS, NS, NS, NS, 1, "moderate"),
    # Observational studies with a very large effect (two levels): high.
    ("low", NS, NS, NS, NS, NS, 2, "high"),
    # Observational studies with serious inconsistency: very low.
    ("low", NS, S, NS, NS, NS, 0, "very_low"),
    # Bounding is once, at the end: high, three serious, upgrade 2 -> 4 - 3 + 2 = 3.
    ("high", S, S, S, NS, NS, 2, "moderate"),
    # Where bounding per step would differ: high, two very serious, upgrade 2 -> 4 - 4 + 2 = 2
    # (bounding first would give 1 + 2 = 3, moderate).
    ("high", VS, VS, NS, NS, NS, 2, "low"),
    # ... and upgrade before bounding: high + 2 - 1 = 5 -> high (bounding after the upgrade
    # would give 4 - 1 = 3, moderate).
    ("high", S, NS, NS, NS, NS, 2, "high"),
    # Observational, everything very serious, upgrade 2: 2 - 10 + 2 = -6 -> very low.
    ("low", VS, VS, VS, VS, VS, 2, "very_low"),
]


@pytest.mark.parametrize("case", HANDWORKED, ids=lambda c: "-".join(map(str, c)))
def test_grade_certainty_handworked_examples(case):
    """GRADE handbook 5.1-5.3 examples worked by hand, including the bound applied once."""
    *args, expected = case
    assert grade_certainty(*args).level == expected


def test_grade_certainty_every_combination():
    """Every start x 5 domains x 3 ratings x upgrade 0..2 (2 x 3^5 x 3 = 1,458 cases) against
    max(1, min(4, start - downs + ups)), with high = 4, low = 2, serious = 1, very serious = 2,
    and names for 1..4 written out here."""
    start_value = {"high": 4, "low": 2}
    down_value = {"not_serious": 0, "serious": 1, "very_serious": 2}
    name = {4: "high", 3: "moderate", 2: "low", 1: "very_low"}
    wrong = []
    count = 0
    for start in ("high", "low"):
        for ratings in itertools.product((NS, S, VS), repeat=5):
            for upgrade in (0, 1, 2):
                count += 1
                downs = sum(down_value[r] for r in ratings)
                score = max(1, min(4, start_value[start] - downs + upgrade))
                got = grade_certainty(start, *ratings, upgrade=upgrade)
                if (got.level, got.score) != (name[score], score):
                    wrong.append((start, ratings, upgrade, got.level, name[score]))
    assert count == 1458
    assert wrong == []


def test_grade_certainty_warnings_every_combination():
    """Over every combination: a warning about upgrading randomised evidence exactly when the
    start is high and upgrade > 0; one about upgrading alongside a downgrade exactly when
    upgrade > 0 and some domain is rated down (GRADE guidelines 9; handbook 5.3)."""
    wrong = []
    for start in ("high", "low"):
        for ratings in itertools.product((NS, S, VS), repeat=5):
            for upgrade in (0, 1, 2):
                w = grade_certainty(start, *ratings, upgrade=upgrade).warnings
                randomised = any("starts at high" in x for x in w)
                alongside = any("while rated down" in x for x in w)
                want_randomised = start == "high" and upgrade > 0
                want_alongside = upgrade > 0 and any(r != NS for r in ratings)
                if (randomised, alongside, len(w)) != (
                    want_randomised,
                    want_alongside,
                    want_randomised + want_alongside,
                ):
                    wrong.append((start, ratings, upgrade, w))
    assert wrong == []


def test_grade_certainty_warning_names_the_domains():
    w = grade_certainty("low", NS, S, NS, VS, NS, upgrade=1).warnings
    assert w == (
        "upgraded by 1 while rated down for inconsistency, imprecision: GRADE rates up only "
        "when there is no reason to rate down (GRADE handbook 5.3)",
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("moderate", NS, NS, NS, NS, NS, 0), "start must be one of high, low; got 'moderate'"),
        (("high", "Serious", NS, NS, NS, NS, 0), "risk_of_bias must be one of"),
        (("high", NS, NS, NS, NS, "very serious", 0), "publication_bias must be one of"),
        (("high", NS, NS, NS, NS, NS, 3), "upgrade must be 0, 1 or 2; got 3"),
        (("high", NS, NS, NS, NS, NS, -1), "upgrade must be 0, 1 or 2; got -1"),
        (("high", NS, NS, NS, NS, NS, True), "upgrade must be 0, 1 or 2; got True"),
        (("high", NS, NS, NS, NS, NS, 1.0), "upgrade must be 0, 1 or 2; got 1.0"),
        (("high", NS, NS, NS, NS, NS, "1"), "upgrade must be 0, 1 or 2; got '1'"),
    ],
)
def test_grade_certainty_refuses_bad_values(args, message):
    """A typo never counts as not serious, and no number comes out."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        grade_certainty(*args)


def test_default_start():
    """GRADE handbook 5.1: high when every study is randomised, else low."""
    assert default_start([True, True]) == "high"
    assert default_start([True]) == "high"
    assert default_start([True, False]) == "low"
    assert default_start([False]) == "low"
    with pytest.raises(ValueError, match="at least one contributing study"):
        default_start([])


# ---------------------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------------------


def test_risk_of_bias_signal_by_studies():
    """Share of studies appraised poor: > 50% very serious, > 25% serious (thresholds of
    evsynth.certainty, from GRADE's "most information" question, handbook 5.2.1)."""
    four = {"a": "good", "b": "fair", "c": "good", "d": "good"}
    assert risk_of_bias_signal(four).suggested == NS
    # 1 of 4 = 25%: not more than 25%.
    assert risk_of_bias_signal({**four, "a": "poor"}) == Signal(
        NS, "25% of studies from studies appraised as poor"
    )
    # 2 of 5 = 40%.
    assert risk_of_bias_signal({**four, "a": "poor", "e": "poor"}).suggested == S
    # 2 of 4 = 50%: not more than 50%.
    assert risk_of_bias_signal({**four, "a": "poor", "b": "poor"}).suggested == S
    # 3 of 4 = 75%.
    got = risk_of_bias_signal({**four, "a": "poor", "b": "poor", "c": "poor"})
    assert got == Signal(VS, "75% of studies from studies appraised as poor (more than 50%)")


def test_risk_of_bias_signal_by_weight():
    """With weights, one heavy poor study decides; a study absent from the weights carries
    none; unclear and unappraised studies are named, not counted as poor."""
    levels = {"a": "poor", "b": "good", "c": "good", "d": None, "e": "unclear"}
    weights = {"a": 60.0, "b": 20.0, "c": 20.0, "e": 0.0}
    got = risk_of_bias_signal(levels, weights)
    assert got.suggested == VS
    assert got.reason == (
        "60% of meta-analysis weight from studies appraised as poor; not appraised or "
        "unclear: d, e (more than 50%)"
    )
    # Same studies, unweighted: 1 of 5 = 20%.
    assert risk_of_bias_signal(levels).suggested == NS
    assert risk_of_bias_signal({"a": "poor", "b": "good"}, {"a": 30.0, "b": 70.0}).suggested == S


def test_risk_of_bias_signal_not_assessed_and_bad_input():
    assert risk_of_bias_signal({}).suggested is None
    assert risk_of_bias_signal({"a": "poor"}, {"b": 1.0}).reason.startswith("not assessed")
    with pytest.raises(ValueError, match="appraisal level of a must be one of"):
        risk_of_bias_signal({"a": "high"})
    with pytest.raises(ValueError, match="weight of a must be a finite number"):
        risk_of_bias_signal({"a": "poor"}, {"a": float("nan")})
    with pytest.raises(ValueError, match="weight of a must be a finite number"):
        risk_of_bias_signal({"a": "poor"}, {"a": -1.0})
    with pytest.raises(ValueError, match="weight of a must be a finite number"):
        risk_of_bias_signal({"a": "poor"}, {"a": "12%"})
    # numpy numbers from the meta-analysis table are plain weights.
    assert (
        risk_of_bias_signal(
            {"a": "poor", "b": "good"}, {"a": np.int64(3), "b": np.float64(1.0)}
        ).suggested
        == VS
    )


@pytest.mark.parametrize(
    "i2, expected",
    [
        (0.0, NS),
        (40.0, NS),
        (74.9, NS),
        (75.0, S),
        (90.0, S),
        (100.0, S),
        (None, None),
        (float("nan"), None),
    ],
)
def test_inconsistency_signal_i2(i2, expected):
    """Cochrane Handbook 10.10.2: 75% to 100% may represent considerable heterogeneity."""
    assert inconsistency_signal_i2(i2).suggested == expected


def test_inconsistency_signal_i2_refuses_a_fraction_out_of_range():
    with pytest.raises(ValueError, match="between 0 and 100"):
        inconsistency_signal_i2(120.0)


@pytest.mark.parametrize(
    "benefit, harm, expected",
    [
        (7, 3, NS),
        (3, 7, NS),
        (6, 4, S),
        (5, 5, S),
        (2, 0, NS),
        (1, 1, S),
        (1, 0, None),
        (0, 0, None),
        (13, 6, S),
        (14, 6, NS),
    ],
)
def test_inconsistency_signal_direction(benefit, harm, expected):
    """Thomson & Thomas 2013: a clear direction needs 70% or more of studies agreeing
    (7 of 10 is clear; 6 of 10, 13 of 19 = 68% are not)."""
    assert inconsistency_signal_direction(benefit, harm).suggested == expected


def test_inconsistency_signal_direction_reason():
    assert inconsistency_signal_direction(6, 4).reason == (
        "6 of 10 studies show benefit, 4 harm (60% agree): no clear direction (less than 70% agree)"
    )
    with pytest.raises(ValueError, match="n_harm must be a whole number"):
        inconsistency_signal_direction(3, -1)


def test_imprecision_signal_ci_rules():
    """GRADE handbook 5.2.4.1 / GRADE guidelines 6: a CI crossing no effect is serious; one
    including appreciable benefit and harm (RR 0.75 and 1.25 by default) very serious."""
    assert imprecision_signal("ratio", 0.60, 0.90).suggested == NS
    assert imprecision_signal("ratio", 0.80, 1.10) == Signal(
        S, "95% CI 0.8 to 1.1 crosses no effect (1)"
    )
    assert imprecision_signal("ratio", 0.70, 1.30) == Signal(
        VS, "95% CI 0.7 to 1.3 includes both appreciable benefit and harm (0.75 and 1.25)"
    )
    # Touching no effect is not crossing it.
    assert imprecision_signal("ratio", 1.0, 1.4).suggested == NS
    assert imprecision_signal("difference", -0.5, 0.2).suggested == S
    assert imprecision_signal("difference", 0.1, 0.9).suggested == NS
    # Differences have no default appreciable bounds; given ones apply.
    assert imprecision_signal("difference", -0.6, 0.6).suggested == S
    assert imprecision_signal("difference", -0.6, 0.6, appreciable=(-0.5, 0.5)).suggested == VS


def test_imprecision_signal_prediction_interval_and_ois():
    """The prediction interval crossing no effect is serious even when the CI does not (the
    re-offending case of issue 12); fewer than 400 participants (continuous) or 300 events
    (binary) is serious (GRADE guidelines 6 rule of thumb)."""
    got = imprecision_signal("ratio", 0.60, 0.90, pi_lower=0.40, pi_upper=1.35)
    assert got.suggested == S
    assert "prediction interval 0.4 to 1.35 crosses no effect (1)" in got.reason
    assert (
        imprecision_signal(
            "ratio", 0.6, 0.9, pi_lower=float("nan"), pi_upper=float("nan")
        ).suggested
        == NS
    )
    assert (
        imprecision_signal(
            "difference", 0.1, 0.9, outcome_kind="continuous", participants=399
        ).suggested
        == S
    )
    assert (
        imprecision_signal(
            "difference", 0.1, 0.9, outcome_kind="continuous", participants=400
        ).suggested
        == NS
    )
    assert imprecision_signal("ratio", 0.6, 0.9, outcome_kind="binary", events=299).suggested == S
    assert imprecision_signal("ratio", 0.6, 0.9, outcome_kind="binary", events=300).suggested == NS
    # Participants do not stand in for events.
    assert (
        imprecision_signal("ratio", 0.6, 0.9, outcome_kind="binary", participants=50).suggested
        == NS
    )
    # Without any interval, the counts alone decide.
    assert imprecision_signal("ratio", None, None, outcome_kind="binary", events=120).suggested == S


def test_imprecision_signal_takes_the_worst_and_lists_every_reason():
    got = imprecision_signal(
        "ratio", 0.5, 1.6, pi_lower=0.3, pi_upper=2.5, outcome_kind="binary", events=40
    )
    assert got.suggested == VS
    assert got.reason.count(";") == 2


def test_imprecision_signal_not_assessed_and_bad_input():
    assert imprecision_signal("ratio", None, None).suggested is None
    with pytest.raises(ValueError, match="above 0"):
        imprecision_signal("ratio", -0.2, 0.1)  # a log ratio given as a ratio
    with pytest.raises(ValueError, match="lower <= upper"):
        imprecision_signal("difference", 0.5, 0.1)
    with pytest.raises(ValueError, match="scale must be one of"):
        imprecision_signal("log", 0.5, 1.1)


@pytest.mark.parametrize(
    "k, p, expected",
    [
        (9, 0.001, None),
        (10, 0.099, S),
        (10, 0.10, NS),
        (25, 0.5, NS),
        (12, None, None),
        (12, float("nan"), None),
    ],
)
def test_publication_bias_signal(k, p, expected):
    """Cochrane Handbook 13.3.5.4 (k >= 10) and Egger et al. 1997 (p < 0.10)."""
    got = publication_bias_signal(k, p)
    assert got.suggested == expected
    if k < 10:
        assert got.reason == (
            f"not assessed: {k} studies, fewer than the 10 an asymmetry test needs"
        )


def test_compare_signals_names_the_finding_and_skips_unassessed():
    signals = {
        "risk_of_bias": Signal(S, "40% of studies from studies appraised as poor"),
        "inconsistency": Signal(NS, "I² = 20%"),
        "imprecision": Signal(NS, "no imprecision rule met"),
        "publication_bias": Signal(None, "not assessed: 4 studies"),
    }
    judged = {"risk_of_bias": NS, "inconsistency": NS, "imprecision": S, "publication_bias": S}
    got = compare_signals("F3", judged, signals)
    assert [(w.finding_id, w.domain, w.judged, w.suggested) for w in got] == [
        ("F3", "risk_of_bias", NS, S),
        ("F3", "imprecision", S, NS),
    ]
    assert got[0].message == (
        "finding F3: risk_of_bias judged not_serious but the data suggest serious "
        "(40% of studies from studies appraised as poor)"
    )
    assert compare_signals("F3", {"risk_of_bias": S}, signals) == []


# ---------------------------------------------------------------------------------------
# GRADE-CERQual
# ---------------------------------------------------------------------------------------

COMPONENTS = ("methodological_limitations", "coherence", "adequacy", "relevance")


def _components(**given):
    return {c: given.get(c, "no_or_very_minor") for c in COMPONENTS}


def test_cerqual_consistency_every_combination():
    """All 4^4 component sets x 4 confidences: warn exactly when high sits with a moderate or
    serious concern, or a lower confidence sits with no concern at all (Lewin et al. 2018:
    start at high, rate down for concerns that matter)."""
    concerns = ("no_or_very_minor", "minor", "moderate", "serious")
    wrong = []
    for combo in itertools.product(concerns, repeat=4):
        comps = dict(zip(COMPONENTS, combo, strict=True))
        for conf in ("high", "moderate", "low", "very_low"):
            want = (conf == "high" and any(c in ("moderate", "serious") for c in combo)) or (
                conf != "high" and all(c == "no_or_very_minor" for c in combo)
            )
            got = cerqual_consistency(comps, conf)
            if bool(got) != want or len(got) > 1:
                wrong.append((combo, conf, got))
    assert wrong == []


def test_cerqual_consistency_messages_and_bad_input():
    assert cerqual_consistency(_components(coherence="serious", relevance="moderate"), "high") == [
        "confidence is high despite coherence (serious), relevance (moderate) concerns"
    ]
    assert cerqual_consistency(_components(), "very_low") == [
        "confidence is very low although every component has no or very minor concerns"
    ]
    with pytest.raises(ValueError, match="missing CERQual components: relevance"):
        cerqual_consistency({c: "minor" for c in COMPONENTS[:3]}, "low")
    with pytest.raises(ValueError, match="adequacy must be one of"):
        cerqual_consistency(_components(adequacy="major"), "low")


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, None),
        (1, "serious"),
        (2, "moderate"),
        (3, "minor"),
        (4, "minor"),
        (5, "no_or_very_minor"),
        (40, "no_or_very_minor"),
    ],
)
def test_adequacy_signal(n, expected):
    """evsynth's quantity-only rule: 1 study serious, 2 moderate, 3-4 minor, 5+ none."""
    assert adequacy_signal(n).suggested == expected


def test_methodological_limitations_signal():
    """Share of studies appraised poor: > 50% serious, > 25% moderate, any minor."""
    base = {"a": "good", "b": "good", "c": "fair", "d": None}
    assert methodological_limitations_signal(base) == Signal(
        "no_or_very_minor",
        "0 of 4 contributing studies appraised as poor; not appraised or unclear: d",
    )
    assert methodological_limitations_signal({**base, "a": "poor"}).suggested == "minor"
    assert (
        methodological_limitations_signal({**base, "a": "poor", "e": "poor"}).suggested
        == "moderate"
    )
    assert (
        methodological_limitations_signal({**base, "a": "poor", "b": "poor"}).suggested
        == "moderate"
    )
    assert (
        methodological_limitations_signal({**base, "a": "poor", "b": "poor", "c": "poor"}).suggested
        == "serious"
    )
    assert methodological_limitations_signal({}).suggested is None


# ---------------------------------------------------------------------------------------
# Plain-language statements
# ---------------------------------------------------------------------------------------

X, Y = "the programme", "re-offending"

#: GRADE guidance 26 (Santesso et al., J Clin Epidemiol 2020;119:126-135), the table of
#: suggested statements (see GUIDANCE_26 below for every cell), as used here:
#: high certainty "X reduces Y" / "X results in little to no difference in Y"; moderate
#: "X likely reduces Y" / "X likely results in little to no difference in Y"; low "X may
#: reduce Y" / "X may result in little to no difference in Y"; very low, whatever the size,
#: "The evidence is very uncertain about the effect of X on Y". The paper's abstract gives the
#: large-effect row: "x results in a large reduction…; x likely results in a large
#: reduction…; x may result in a large reduction…" (PubMed 31711912).
STATEMENT_TABLE = [
    # (certainty, direction, size, expected sentence)
    ("high", "reduces", "important", "The programme reduces re-offending."),
    ("moderate", "reduces", "important", "The programme likely reduces re-offending."),
    ("low", "reduces", "important", "The programme may reduce re-offending."),
    (
        "very_low",
        "reduces",
        "important",
        "The evidence is very uncertain about the effect of the programme on re-offending.",
    ),
    ("high", "increases", "important", "The programme increases re-offending."),
    ("moderate", "increases", "important", "The programme likely increases re-offending."),
    ("low", "increases", "important", "The programme may increase re-offending."),
    ("high", "improves", "important", "The programme improves re-offending."),
    ("moderate", "improves", "important", "The programme likely improves re-offending."),
    ("low", "improves", "important", "The programme may improve re-offending."),
    (
        "high",
        None,
        "little_or_none",
        "The programme results in little to no difference in re-offending.",
    ),
    (
        "moderate",
        None,
        "little_or_none",
        "The programme likely results in little to no difference in re-offending.",
    ),
    (
        "low",
        None,
        "little_or_none",
        "The programme may result in little to no difference in re-offending.",
    ),
    (
        "very_low",
        None,
        "little_or_none",
        "The evidence is very uncertain about the effect of the programme on re-offending.",
    ),
    ("high", "reduces", "large", "The programme results in a large reduction in re-offending."),
    (
        "moderate",
        "reduces",
        "large",
        "The programme likely results in a large reduction in re-offending.",
    ),
    ("low", "reduces", "large", "The programme may result in a large reduction in re-offending."),
    (
        "very_low",
        "reduces",
        "large",
        "The evidence is very uncertain about the effect of the programme on re-offending.",
    ),
    ("high", "increases", "large", "The programme results in a large increase in re-offending."),
    (
        "low",
        "improves",
        "large",
        "The programme may result in a large improvement in re-offending.",
    ),
    ("high", "reduces", "small", "The programme reduces re-offending slightly."),
    ("moderate", "reduces", "small", "The programme likely reduces re-offending slightly."),
    ("low", "reduces", "small", "The programme may reduce re-offending slightly."),
    (
        "very_low",
        "increases",
        "small",
        "The evidence is very uncertain about the effect of the programme on re-offending.",
    ),
]


@pytest.mark.parametrize(
    "certainty, direction, size, expected", STATEMENT_TABLE, ids=lambda v: str(v)[:20]
)
def test_effect_statement_matches_grade_guidance_26(certainty, direction, size, expected):
    """Worked sentences in GRADE guidance 26's wording (Santesso et al. 2020), word for word."""
    assert effect_statement(certainty, direction, size, Y, X) == expected


#: GRADE guidance 26 (Santesso et al., J Clin Epidemiol 2020;119:126-135), the paper's table
#: of suggested statements by certainty and size of effect, first-listed wording of each cell,
#: as reproduced cell by cell in CDC's ACIP GRADE handbook, chapter 11, Table 16 ("Suggested
#: narrative statements for phrasing conclusions", reference 1 = Santesso 2020) and in the
#: Cochrane Handbook v6, Table 15.6.b. "X" is the intervention, "outcome" the outcome; the
#: guidance writes "reduce/increase" and "reduction/increase": both are spelled out here.
#: Moderate certainty offers "likely" or "probably"; evsynth uses "likely" throughout.
#: Very low certainty has one statement whatever the size.
GUIDANCE_26 = {
    # (certainty, size): (statement for a reduction, statement for an increase)
    ("high", "large"): (
        "X results in a large reduction in outcome",
        "X results in a large increase in outcome",
    ),
    ("high", "important"): ("X reduces outcome", "X increases outcome"),
    ("high", "small"): ("X reduces outcome slightly", "X increases outcome slightly"),
    ("high", "little_or_none"): (
        "X results in little to no difference in outcome",
        "X results in little to no difference in outcome",
    ),
    ("moderate", "large"): (
        "X likely results in a large reduction in outcome",
        "X likely results in a large increase in outcome",
    ),
    ("moderate", "important"): ("X likely reduces outcome", "X likely increases outcome"),
    ("moderate", "small"): (
        "X likely reduces outcome slightly",
        "X likely increases outcome slightly",
    ),
    ("moderate", "little_or_none"): (
        "X likely results in little to no difference in outcome",
        "X likely results in little to no difference in outcome",
    ),
    ("low", "large"): (
        "X may result in a large reduction in outcome",
        "X may result in a large increase in outcome",
    ),
    ("low", "important"): ("X may reduce outcome", "X may increase outcome"),
    ("low", "small"): ("X may reduce outcome slightly", "X may increase outcome slightly"),
    ("low", "little_or_none"): (
        "X may result in little to no difference in outcome",
        "X may result in little to no difference in outcome",
    ),
    **{
        ("very_low", size): (
            "The evidence is very uncertain about the effect of X on outcome",
            "The evidence is very uncertain about the effect of X on outcome",
        )
        for size in ("large", "important", "small", "little_or_none")
    },
}


def test_guidance_26_table_is_complete():
    """4 certainties x 4 sizes: every cell of the guidance's table is checked below."""
    assert len(GUIDANCE_26) == 16


@pytest.mark.parametrize("cell", sorted(GUIDANCE_26), ids=lambda c: "-".join(c))
@pytest.mark.parametrize("direction", ["reduces", "increases"])
def test_effect_statement_every_cell_of_guidance_26(cell, direction):
    """Each certainty x size cell of GRADE guidance 26's table, both directions, word for word
    (X and outcome filled in, first letter capitalised, one full stop)."""
    certainty, size = cell
    template = GUIDANCE_26[cell][0 if direction == "reduces" else 1]
    filled = template.replace("X", X).replace("outcome", Y)
    expected = filled[0].upper() + filled[1:] + "."
    assert effect_statement(certainty, direction, size, Y, X) == expected


def test_effect_statement_plural_and_no_caveats():
    assert (
        effect_statement("high", "reduces", "important", Y, "Group programmes", plural=True)
        == "Group programmes reduce re-offending."
    )
    assert effect_statement(
        "moderate", None, "little_or_none", Y, "Group programmes", plural=True
    ) == ("Group programmes likely result in little to no difference in re-offending.")
    # "may" does not change with number.
    assert (
        effect_statement("low", "reduces", "important", Y, "Group programmes", plural=True)
        == "Group programmes may reduce re-offending."
    )
    # No caveat, confidence interval or certainty label is added to any sentence.
    for c, d, s, _ in STATEMENT_TABLE:
        text = effect_statement(c, d, s, Y, X)
        assert text.count(".") == 1 and "(" not in text and "certainty" not in text


def test_effect_statement_refuses_bad_values():
    with pytest.raises(ValueError, match="direction must be one of"):
        effect_statement("high", None, "important", Y, X)
    with pytest.raises(ValueError, match="direction must be one of"):
        effect_statement("high", "decreases", "important", Y, X)
    with pytest.raises(ValueError, match="certainty must be one of"):
        effect_statement("very low", "reduces", "important", Y, X)
    with pytest.raises(ValueError, match="size must be one of"):
        effect_statement("high", "reduces", "moderate", Y, X)
    with pytest.raises(ValueError, match="must not be blank"):
        effect_statement("high", "reduces", "important", " ", X)


#: GRADE-CERQual's definitions of confidence (Lewin et al., Implement Sci 2018;13(Suppl 1):2,
#: Table 3 of the series introduction), word for word.
CERQUAL_TABLE = [
    (
        "high",
        "It is highly likely that the review finding is a reasonable representation of "
        "the phenomenon of interest.",
    ),
    (
        "moderate",
        "It is likely that the review finding is a reasonable representation of the "
        "phenomenon of interest.",
    ),
    (
        "low",
        "It is possible that the review finding is a reasonable representation of the "
        "phenomenon of interest.",
    ),
    (
        "very_low",
        "It is not clear whether the review finding is a reasonable representation "
        "of the phenomenon of interest.",
    ),
]


@pytest.mark.parametrize("confidence, wording", CERQUAL_TABLE)
def test_qualitative_statement_uses_cerqual_wording(confidence, wording):
    statement = "Men valued facilitators who shared their background"
    assert qualitative_statement(confidence, statement) == f"{statement}. {wording}"
    assert qualitative_statement(confidence, statement + ".") == f"{statement}. {wording}"


def test_qualitative_statement_refuses_bad_values():
    with pytest.raises(ValueError, match="confidence must be one of"):
        qualitative_statement("medium", "A finding.")
    with pytest.raises(ValueError, match="must not be blank"):
        qualitative_statement("high", "  ")


def test_signal_is_a_pair():
    """Signals unpack as (suggested level, reason)."""
    level, reason = inconsistency_signal_i2(80.0)
    assert (level, reason) == (S, "I² = 80%: considerable heterogeneity (75% or more)")
