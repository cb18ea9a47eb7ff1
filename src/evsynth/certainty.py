"""How sure we are of a finding: GRADE for effects, GRADE-CERQual for qualitative findings.

Everything here is pure (no I/O) and takes plain values, so the rules can be read and tested
on their own; the workflow reads the sheets and calls these functions.

Three kinds of thing live here, kept apart on purpose:

* **Arithmetic** (:func:`grade_certainty`): the lead's domain judgements turned into a GRADE
  level. This is applied: it is the certainty the tables show.
* **Signals** (``*_signal``): what the numbers suggest for one domain, with the reason. A
  signal is never applied; :func:`compare_signals` turns each disagreement with the lead's
  judgement into a warning that names the finding, and the lead decides.
* **Wording** (:func:`effect_statement`, :func:`qualitative_statement`): one plain-language
  sentence per finding, in the words of GRADE guidance 26 and of GRADE-CERQual.

Sources (cited again where each rule is used):

* GRADE handbook (Schünemann, Brożek, Guyatt, Oxman, eds., 2013), sections 5.1-5.3.
* Guyatt et al., GRADE guidelines 5-9, J Clin Epidemiol 2011;64:1277-1316.
* Santesso et al., GRADE guidelines 26: informative statements to communicate the findings of
  systematic reviews of interventions, J Clin Epidemiol 2020;119:126-135.
* Cochrane Handbook for Systematic Reviews of Interventions v6: 10.10.2 (I²), 13.3.5.4
  (funnel plot asymmetry tests need at least 10 studies), 14.2 (GRADE in Cochrane reviews).
* Egger et al., Bias in meta-analysis detected by a simple, graphical test, BMJ 1997;315:629
  (the test itself is :func:`evsynth.stats.egger_test`; the rule that reads it is here).
* Thomson & Thomas, The effect direction plot, Res Synth Methods 2013;4:95-101 (70% rule).
* Lewin et al., Applying GRADE-CERQual to qualitative evidence synthesis findings (paper 2 and
  the series introduction), Implement Sci 2018;13(Suppl 1):2 and :10.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from evsynth.contract import interval_holds

# ---------------------------------------------------------------------------------------
# Vocabularies
# ---------------------------------------------------------------------------------------

CertaintyLevel = Literal["high", "moderate", "low", "very_low"]
StartLevel = Literal["high", "low"]
DomainRating = Literal["not_serious", "serious", "very_serious"]
Concern = Literal["no_or_very_minor", "minor", "moderate", "serious"]
AppraisalLevel = Literal["good", "fair", "poor", "unclear"]
Direction = Literal["reduces", "increases", "improves"]
EffectSize = Literal["large", "important", "small", "little_or_none"]
Scale = Literal["ratio", "difference"]
OutcomeKind = Literal["binary", "continuous"]

#: GRADE's four levels as the numbers the arithmetic uses (GRADE handbook 5.1: very low = 1).
LEVEL_SCORE: dict[CertaintyLevel, int] = {"high": 4, "moderate": 3, "low": 2, "very_low": 1}
SCORE_LEVEL: dict[int, CertaintyLevel] = {v: k for k, v in LEVEL_SCORE.items()}

#: Levels lost per domain rating (GRADE handbook 5.2: one for serious, two for very serious).
DOWNGRADE: dict[DomainRating, int] = {"not_serious": 0, "serious": 1, "very_serious": 2}

#: The five GRADE domains, in the order of a summary-of-findings table.
GRADE_DOMAINS: tuple[str, ...] = (
    "risk_of_bias",
    "inconsistency",
    "indirectness",
    "imprecision",
    "publication_bias",
)

#: The four GRADE-CERQual components (Lewin et al. 2018, paper 2), best concern first.
CERQUAL_COMPONENTS: tuple[str, ...] = (
    "methodological_limitations",
    "coherence",
    "adequacy",
    "relevance",
)
CONCERNS: tuple[Concern, ...] = ("no_or_very_minor", "minor", "moderate", "serious")


def _check(value: object, allowed: Sequence[object], what: str) -> None:
    # A typo in a sheet ("Serious", "very serious") must never count as "not_serious".
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(map(str, allowed))}; got {value!r}")


# ---------------------------------------------------------------------------------------
# GRADE arithmetic
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certainty:
    """A GRADE certainty: the level, its score (1-4) and the warnings the lead should read."""

    level: CertaintyLevel
    score: int
    warnings: tuple[str, ...] = ()


def default_start(designs_randomised: Sequence[bool]) -> StartLevel:
    """Where the rating starts: ``high`` when every contributing study is randomised, else
    ``low`` (GRADE handbook 5.1; Balshem et al., GRADE guidelines 3, J Clin Epidemiol
    2011;64:401-6). A finding with no studies has no start, so that is an error."""
    if len(designs_randomised) == 0:
        raise ValueError("a finding needs at least one contributing study to set its start level")
    return "high" if all(designs_randomised) else "low"


def grade_certainty(
    start: StartLevel,
    risk_of_bias: DomainRating,
    inconsistency: DomainRating,
    indirectness: DomainRating,
    imprecision: DomainRating,
    publication_bias: DomainRating,
    upgrade: int = 0,
) -> Certainty:
    """The GRADE certainty of a body of evidence from the lead's judgements.

    ``start`` is ``high`` (4) or ``low`` (2); each ``serious`` domain takes one level off and
    each ``very_serious`` two (GRADE handbook 5.2); ``upgrade`` (0, 1 or 2: large effect,
    dose-response, opposing plausible confounding) adds levels (GRADE handbook 5.3; Guyatt
    et al., GRADE guidelines 9, J Clin Epidemiol 2011;64:1311-6).

    The sum is bounded **once, at the end**, between very low (1) and high (4): the handbook
    counts levels up and down from the start and only the result is a level. Bounding after
    each step would give other answers, e.g. high with two very serious domains and an upgrade
    of 2 is ``low`` (4 - 4 + 2 = 2), not ``moderate`` (bounded to 1 first, then 1 + 2 = 3);
    and high with an upgrade of 2 and one serious domain stays ``high`` (4 + 2 - 1 = 5 -> 4).

    Upgrading randomised evidence (start ``high``) and upgrading alongside a downgrade are
    allowed but warned: GRADE guidelines 9 and the handbook 5.3 say rating up is usually for
    observational evidence with no reason to rate down.
    """
    _check(start, ("high", "low"), "start")
    ratings = {
        "risk_of_bias": risk_of_bias,
        "inconsistency": inconsistency,
        "indirectness": indirectness,
        "imprecision": imprecision,
        "publication_bias": publication_bias,
    }
    for domain, rating in ratings.items():
        _check(rating, tuple(DOWNGRADE), domain)
    # bool is an int in Python; True as an upgrade is a sheet error, not 1.
    if isinstance(upgrade, bool) or not isinstance(upgrade, int) or upgrade not in (0, 1, 2):
        raise ValueError(f"upgrade must be 0, 1 or 2; got {upgrade!r}")

    downs = sum(DOWNGRADE[r] for r in ratings.values())
    raw = LEVEL_SCORE[start] + upgrade - downs
    score = max(1, min(4, raw))

    warnings: list[str] = []
    if upgrade and start == "high":
        warnings.append(
            f"upgraded by {upgrade} although the evidence starts at high (randomised): "
            "GRADE rates up mainly observational evidence (GRADE guidelines 9)"
        )
    if upgrade and downs:
        rated_down = ", ".join(d for d, r in ratings.items() if r != "not_serious")
        warnings.append(
            f"upgraded by {upgrade} while rated down for {rated_down}: GRADE rates up only "
            "when there is no reason to rate down (GRADE handbook 5.3)"
        )
    return Certainty(SCORE_LEVEL[score], score, tuple(warnings))


# ---------------------------------------------------------------------------------------
# Signals: suggestions the lead confirms, never applied
# ---------------------------------------------------------------------------------------


class Signal(NamedTuple):
    """What the numbers suggest for one domain or component, and why. ``suggested`` is
    ``None`` when the rule cannot be applied (the reason then says why: "not assessed")."""

    suggested: str | None
    reason: str


#: Risk of bias: share of the information (weight, else studies) from poor studies.
#: GRADE asks whether "most information" comes from studies at low risk (handbook 5.2.1;
#: Cochrane Handbook 14.2.2; Guyatt et al., GRADE guidelines 4, J Clin Epidemiol
#: 2011;64:407-15). The cut-offs are this project's reading of that: more than half the
#: information from poor studies is a crucial limitation (very serious); more than a
#: quarter is enough to change the interpretation (serious).
ROB_VERY_SERIOUS_SHARE = 0.50
ROB_SERIOUS_SHARE = 0.25


def risk_of_bias_signal(
    levels: Mapping[str, AppraisalLevel | None],
    weights: Mapping[str, float] | None = None,
) -> Signal:
    """Risk-of-bias signal from the contributing studies' appraisal levels.

    ``levels`` maps each contributing study to its overall appraisal level (``None`` when
    the study was not appraised). With ``weights`` (meta-analysis weights by study) the share
    is of weight, and studies without a weight carry none (they are not in the pooled
    estimate); without weights it is the share of studies. Share of ``poor`` > 50% ->
    ``very_serious``; > 25% -> ``serious``; else ``not_serious`` (see the constants above
    for the source). Unappraised and ``unclear`` studies are named in the reason, not counted
    as poor: guessing would be applying a judgement silently.
    """
    for study, level in levels.items():
        if level is not None:
            _check(level, ("good", "fair", "poor", "unclear"), f"appraisal level of {study}")
    if not levels:
        return Signal(None, "not assessed: no contributing studies")
    if weights is None:
        share_of = {s: 1.0 for s in levels}
        basis = "studies"
    else:
        clean: dict[str, float] = {}
        for study, w in weights.items():
            # numpy numbers are welcome; text, NaN and negative weights are not.
            try:
                wf = float(w)
            except (TypeError, ValueError):
                wf = math.nan
            if isinstance(w, bool) or not (math.isfinite(wf) and wf >= 0):
                raise ValueError(f"weight of {study} must be a finite number >= 0; got {w!r}")
            clean[study] = wf
        weights = clean
        share_of = {s: float(weights.get(s, 0.0)) for s in levels}
        basis = "meta-analysis weight"
    total = sum(share_of.values())
    if total <= 0:
        return Signal(None, f"not assessed: the contributing studies carry no {basis}")
    poor = sum(share_of[s] for s, lv in levels.items() if lv == "poor")
    share = poor / total
    unknown = sorted(s for s, lv in levels.items() if lv in (None, "unclear"))
    note = f"; not appraised or unclear: {', '.join(unknown)}" if unknown else ""
    reason = f"{share:.0%} of {basis} from studies appraised as poor{note}"
    if share > ROB_VERY_SERIOUS_SHARE:
        return Signal("very_serious", reason + " (more than 50%)")
    if share > ROB_SERIOUS_SHARE:
        return Signal("serious", reason + " (more than 25%)")
    return Signal("not_serious", reason)


#: I² at or above which heterogeneity "may represent considerable heterogeneity"
#: (Cochrane Handbook 10.10.2: 0-40% might not be important, 30-60% moderate, 50-90%
#: substantial, 75-100% considerable).
I2_SERIOUS = 75.0
#: Share of studies in the majority direction below which the direction is not clear
#: (Thomson & Thomas 2013, effect direction plot: a clear direction needs >= 70%).
DIRECTION_CLEAR_SHARE = 0.70


def inconsistency_signal_i2(i2: float | None) -> Signal:
    """Inconsistency from the meta-analysis I² (percent): ``serious`` at I² >= 75%, the
    Cochrane Handbook 10.10.2 band of considerable heterogeneity; ``not_serious`` below.
    ``None`` or NaN (no meta-analysis, k < 2) is not assessed."""
    if i2 is None or (isinstance(i2, float) and math.isnan(i2)):
        return Signal(None, "not assessed: no I² (no meta-analysis of two or more studies)")
    if not (math.isfinite(i2) and 0 <= i2 <= 100):
        raise ValueError(f"I² must be a percentage between 0 and 100; got {i2!r}")
    if i2 >= I2_SERIOUS:
        return Signal("serious", f"I² = {i2:.0f}%: considerable heterogeneity (75% or more)")
    return Signal("not_serious", f"I² = {i2:.0f}%: below the considerable band (75%)")


def inconsistency_signal_direction(n_benefit: int, n_harm: int) -> Signal:
    """Inconsistency from a vote count by direction of effect: ``serious`` when fewer than
    70% of the studies with a direction point the same way (Thomson & Thomas 2013; Cochrane
    Handbook 12.2.2 accepts counting by direction). Fewer than two studies with a direction
    is not assessed (one study cannot disagree with itself)."""
    for name, n in (("n_benefit", n_benefit), ("n_harm", n_harm)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{name} must be a whole number >= 0; got {n!r}")
    n = n_benefit + n_harm
    if n < 2:
        return Signal(None, "not assessed: fewer than two studies with a direction of effect")
    share = max(n_benefit, n_harm) / n
    reason = f"{n_benefit} of {n} studies show benefit, {n_harm} harm ({share:.0%} agree)"
    if share < DIRECTION_CLEAR_SHARE:
        return Signal("serious", reason + ": no clear direction (less than 70% agree)")
    return Signal("not_serious", reason)


#: Optimal information size rules of thumb (GRADE handbook 5.2.4.1; Guyatt et al., GRADE
#: guidelines 6, J Clin Epidemiol 2011;64:1283-93): fewer than 400 participants for a
#: continuous outcome, fewer than 300 events for a binary one, is imprecise.
OIS_CONTINUOUS_PARTICIPANTS = 400
OIS_BINARY_EVENTS = 300
#: Appreciable benefit and harm for ratios when the review sets none: a 25% relative risk
#: reduction or increase (GRADE handbook 5.2.4.1; GRADE guidelines 6).
RATIO_APPRECIABLE = (0.75, 1.25)

_RANK: dict[str | None, int] = {None: -1, "not_serious": 0, "serious": 1, "very_serious": 2}


def _crosses(lower: float, upper: float, value: float) -> bool:
    return bool(interval_holds(lower, upper, value))


def imprecision_signal(
    scale: Scale,
    ci_lower: float | None,
    ci_upper: float | None,
    *,
    pi_lower: float | None = None,
    pi_upper: float | None = None,
    outcome_kind: OutcomeKind | None = None,
    participants: int | None = None,
    events: int | None = None,
    appreciable: tuple[float, float] | None = None,
) -> Signal:
    """Imprecision signal: the worst of these rules, each named in the reason.

    Intervals are on the reporting scale (ratios as ratios, not logs); no effect is 1 for
    ``ratio`` and 0 for ``difference``.

    * the 95% CI crosses no effect -> ``serious`` (GRADE handbook 5.2.4.1);
    * the 95% CI crosses both appreciable benefit and appreciable harm -> ``very_serious``
      (GRADE guidelines 6); ``appreciable`` is (lower, upper) on the reporting scale,
      default 0.75 and 1.25 for ratios, and none for differences (the review must give a
      minimal important difference in the outcome's own units);
    * the 95% prediction interval crosses no effect -> ``serious`` (the issue's rule: the
      effect in a new setting may be none; GRADE also weighs this under inconsistency);
    * optimal information size: fewer than 400 participants (continuous) or 300 events
      (binary) -> ``serious`` (GRADE guidelines 6 rule of thumb).

    With nothing to judge (no interval, no counts) the signal is not assessed.
    """
    _check(scale, ("ratio", "difference"), "scale")
    null = 1.0 if scale == "ratio" else 0.0
    if appreciable is None and scale == "ratio":
        appreciable = RATIO_APPRECIABLE
    found: list[tuple[str, str]] = []
    assessed = False

    if ci_lower is not None and ci_upper is not None:
        if not (math.isfinite(ci_lower) and math.isfinite(ci_upper) and ci_lower <= ci_upper):
            raise ValueError(
                f"CI must be two finite numbers, lower <= upper; got {ci_lower!r}, {ci_upper!r}"
            )
        if scale == "ratio" and ci_lower <= 0:
            raise ValueError(
                f"a ratio's CI must be above 0 (not on the log scale); got {ci_lower!r}"
            )
        assessed = True
        ci = f"95% CI {ci_lower:g} to {ci_upper:g}"
        if appreciable is not None and ci_lower < appreciable[0] and ci_upper > appreciable[1]:
            found.append(
                (
                    "very_serious",
                    f"{ci} includes both appreciable benefit and harm "
                    f"({appreciable[0]:g} and {appreciable[1]:g})",
                )
            )
        elif _crosses(ci_lower, ci_upper, null):
            found.append(("serious", f"{ci} crosses no effect ({null:g})"))

    if (
        pi_lower is not None
        and pi_upper is not None
        and not (math.isnan(pi_lower) or math.isnan(pi_upper))
    ):
        assessed = True
        if _crosses(pi_lower, pi_upper, null):
            found.append(
                (
                    "serious",
                    f"95% prediction interval {pi_lower:g} to {pi_upper:g} "
                    f"crosses no effect ({null:g})",
                )
            )

    if outcome_kind is not None:
        _check(outcome_kind, ("binary", "continuous"), "outcome_kind")
        if outcome_kind == "continuous" and participants is not None:
            assessed = True
            if participants < OIS_CONTINUOUS_PARTICIPANTS:
                found.append(
                    (
                        "serious",
                        f"{participants} participants, fewer than the "
                        f"{OIS_CONTINUOUS_PARTICIPANTS} of the optimal "
                        "information size rule of thumb",
                    )
                )
        if outcome_kind == "binary" and events is not None:
            assessed = True
            if events < OIS_BINARY_EVENTS:
                found.append(
                    (
                        "serious",
                        f"{events} events, fewer than the "
                        f"{OIS_BINARY_EVENTS} of the optimal information "
                        "size rule of thumb",
                    )
                )

    if not assessed:
        return Signal(None, "not assessed: no interval and no participant or event count")
    if not found:
        return Signal("not_serious", "no imprecision rule met")
    worst = max(found, key=lambda f: _RANK[f[0]])[0]
    return Signal(worst, "; ".join(reason for _, reason in found))


#: Funnel-plot asymmetry tests need at least 10 studies (Cochrane Handbook 13.3.5.4), and
#: Egger et al. (1997) read p < 0.10 as asymmetry because the test has little power.
EGGER_MIN_K = 10
EGGER_ALPHA = 0.10


def publication_bias_signal(k: int, egger_p: float | None) -> Signal:
    """Publication-bias signal: with k >= 10 studies, Egger's test p < 0.10 -> ``serious``,
    else ``not_serious``; with fewer than 10 studies (or no test) it is not assessed
    (Cochrane Handbook 13.3.5.4; Egger et al. 1997). Never ``very_serious``: GRADE rates
    publication bias down at most one level when "strongly suspected" (handbook 5.2.5)."""
    if k < EGGER_MIN_K:
        return Signal(
            None, f"not assessed: {k} studies, fewer than the {EGGER_MIN_K} an asymmetry test needs"
        )
    if egger_p is None or math.isnan(egger_p):
        return Signal(None, "not assessed: no Egger's test result")
    if egger_p < EGGER_ALPHA:
        return Signal("serious", f"Egger's test p = {egger_p:.3f} (< 0.10): funnel plot asymmetry")
    return Signal("not_serious", f"Egger's test p = {egger_p:.3f} (>= 0.10)")


# ---------------------------------------------------------------------------------------
# GRADE-CERQual
# ---------------------------------------------------------------------------------------

#: Adequacy from the number of contributing studies, a quantity-only heuristic of this
#: project: CERQual adequacy weighs richness and quantity of data together (Glenton et al.,
#: Implement Sci 2018;13(Suppl 1):14) and gives no numbers; a finding resting on one study
#: is the case it names. Richness stays the lead's call.
ADEQUACY_BY_STUDIES: tuple[tuple[int, Concern], ...] = (
    (1, "serious"),
    (2, "moderate"),
    (4, "minor"),
)
#: Methodological limitations from the share of contributing studies appraised poor, this
#: project's heuristic mirroring the risk-of-bias signal (Munthe-Kaas et al., Implement Sci
#: 2018;13(Suppl 1):9 ask how much of the data comes from studies with important concerns).
ML_SERIOUS_SHARE = 0.50
ML_MODERATE_SHARE = 0.25


def adequacy_signal(n_studies: int) -> Signal:
    """Adequacy concern from the number of contributing studies: 1 -> serious, 2 ->
    moderate, 3-4 -> minor, 5 or more -> no or very minor (see the constant above)."""
    if isinstance(n_studies, bool) or not isinstance(n_studies, int) or n_studies < 0:
        raise ValueError(f"number of studies must be a whole number >= 0; got {n_studies!r}")
    if n_studies == 0:
        return Signal(None, "not assessed: no contributing studies")
    for most, concern in ADEQUACY_BY_STUDIES:
        if n_studies <= most:
            return Signal(
                concern, f"{n_studies} contributing stud{'y' if n_studies == 1 else 'ies'}"
            )
    return Signal("no_or_very_minor", f"{n_studies} contributing studies")


def methodological_limitations_signal(levels: Mapping[str, AppraisalLevel | None]) -> Signal:
    """Methodological-limitations concern from the share of contributing studies appraised
    ``poor``: > 50% serious, > 25% moderate, any minor, none no or very minor (see above).
    Studies not appraised are named, not guessed."""
    for study, level in levels.items():
        if level is not None:
            _check(level, ("good", "fair", "poor", "unclear"), f"appraisal level of {study}")
    if not levels:
        return Signal(None, "not assessed: no contributing studies")
    poor = sum(1 for lv in levels.values() if lv == "poor")
    share = poor / len(levels)
    unknown = sorted(s for s, lv in levels.items() if lv in (None, "unclear"))
    note = f"; not appraised or unclear: {', '.join(unknown)}" if unknown else ""
    reason = f"{poor} of {len(levels)} contributing studies appraised as poor{note}"
    if share > ML_SERIOUS_SHARE:
        return Signal("serious", reason)
    if share > ML_MODERATE_SHARE:
        return Signal("moderate", reason)
    if poor:
        return Signal("minor", reason)
    return Signal("no_or_very_minor", reason)


def cerqual_consistency(components: Mapping[str, Concern], confidence: CertaintyLevel) -> list[str]:
    """Warnings when the lead's overall CERQual confidence sits oddly with the components.

    CERQual keeps the overall confidence as the review team's judgement (Lewin et al. 2018,
    paper 2): every finding starts at high confidence and is rated down for concerns that
    matter. So the lead's level is kept; these warn:

    * ``high`` with any ``moderate`` or ``serious`` concern (a concern that matters was not
      taken into account);
    * below ``high`` with every component ``no_or_very_minor`` (nothing explains the
      rating down).
    """
    _check(confidence, tuple(LEVEL_SCORE), "confidence")
    missing = [c for c in CERQUAL_COMPONENTS if c not in components]
    if missing:
        raise ValueError(f"missing CERQual components: {', '.join(missing)}")
    for name in CERQUAL_COMPONENTS:
        _check(components[name], CONCERNS, name)
    warnings: list[str] = []
    if confidence == "high":
        heavy = [c for c in CERQUAL_COMPONENTS if components[c] in ("moderate", "serious")]
        if heavy:
            listed = ", ".join(f"{c} ({components[c]})" for c in heavy)
            warnings.append(f"confidence is high despite {listed} concerns")
    elif all(components[c] == "no_or_very_minor" for c in CERQUAL_COMPONENTS):
        warnings.append(
            f"confidence is {confidence.replace('_', ' ')} although every "
            "component has no or very minor concerns"
        )
    return warnings


# ---------------------------------------------------------------------------------------
# Comparing signals with the lead's judgements
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalWarning:
    """A signal that disagrees with the lead's judgement, for one finding and domain."""

    finding_id: str
    domain: str
    judged: str
    suggested: str
    message: str


def compare_signals(
    finding_id: str, judged: Mapping[str, str], signals: Mapping[str, Signal]
) -> list[SignalWarning]:
    """One warning per domain whose signal disagrees with the lead's judgement (either way:
    a lead rating down where the numbers see nothing should say why too). Signals that were
    not assessed, and domains the lead did not judge, are skipped."""
    out: list[SignalWarning] = []
    for domain, signal in signals.items():
        if signal.suggested is None or domain not in judged:
            continue
        lead = judged[domain]
        if lead != signal.suggested:
            out.append(
                SignalWarning(
                    finding_id,
                    domain,
                    lead,
                    signal.suggested,
                    f"finding {finding_id}: {domain} judged {lead} but the data suggest "
                    f"{signal.suggested} ({signal.reason})",
                )
            )
    return out


# ---------------------------------------------------------------------------------------
# Plain-language statements
# ---------------------------------------------------------------------------------------

# GRADE guidance 26 (Santesso et al. 2020), its table of suggested statements (reproduced in
# the ACIP GRADE handbook, Table 16, and the Cochrane Handbook, Table 15.6.b), one hedge per
# certainty: high states, moderate says "likely", low says "may", very low says only that
# the evidence is very uncertain, whatever the size.
_VERB = {  # direction -> (third person singular, plural / after "may", noun)
    "reduces": ("reduces", "reduce", "reduction"),
    "increases": ("increases", "increase", "increase"),
    "improves": ("improves", "improve", "improvement"),
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def effect_statement(
    certainty: CertaintyLevel,
    direction: Direction | None,
    size: EffectSize,
    outcome_label: str,
    intervention_label: str,
    *,
    plural: bool = False,
) -> str:
    """One sentence in the wording of GRADE guidance 26 (Santesso et al., J Clin Epidemiol
    2020;119:126-135, the table of suggested statements), with no added caveats. Moderate
    certainty takes the guidance's "likely" (it offers "probably" as well).

    ``size``: ``large`` ("results in a large reduction in"), ``important`` ("reduces"),
    ``small`` ("reduces ... slightly") or ``little_or_none`` ("results in little to no
    difference in"; ``direction`` is then ignored and may be ``None``). Hedges: high none,
    moderate "likely", low "may"; very low is always "The evidence is very uncertain about
    the effect of X on Y." ``plural`` agrees the verb with a plural intervention label.
    """
    _check(certainty, tuple(LEVEL_SCORE), "certainty")
    _check(size, ("large", "important", "small", "little_or_none"), "size")
    if size != "little_or_none":
        _check(direction, tuple(_VERB), "direction")
    x, y = intervention_label.strip(), outcome_label.strip()
    if not x or not y:
        raise ValueError("the intervention and outcome labels must not be blank")
    if certainty == "very_low":
        return _sentence(f"the evidence is very uncertain about the effect of {x} on {y}")

    singular, bare, noun = _VERB[direction] if direction else ("", "", "")
    results = "result" if plural else "results"
    if size == "little_or_none":
        core = {"high": f"{results}", "moderate": f"likely {results}", "low": "may result"}
        return _sentence(f"{x} {core[certainty]} in little to no difference in {y}")
    if size == "large":
        core = {"high": f"{results}", "moderate": f"likely {results}", "low": "may result"}
        return _sentence(f"{x} {core[certainty]} in a large {noun} in {y}")
    verb = bare if plural else singular
    core = {"high": verb, "moderate": f"likely {verb}", "low": f"may {bare}"}
    slightly = " slightly" if size == "small" else ""
    return _sentence(f"{x} {core[certainty]} {y}{slightly}")


#: GRADE-CERQual's definitions of the levels of confidence (Lewin et al., Implement Sci
#: 2018;13(Suppl 1):2, Table 3), word for word.
CERQUAL_WORDING: dict[CertaintyLevel, str] = {
    "high": "It is highly likely that the review finding is a reasonable representation of "
    "the phenomenon of interest.",
    "moderate": "It is likely that the review finding is a reasonable representation of the "
    "phenomenon of interest.",
    "low": "It is possible that the review finding is a reasonable representation of the "
    "phenomenon of interest.",
    "very_low": "It is not clear whether the review finding is a reasonable representation of "
    "the phenomenon of interest.",
}


def qualitative_statement(confidence: CertaintyLevel, statement: str) -> str:
    """The lead's finding followed by CERQual's definition of its confidence level, e.g.
    "Men valued facilitators from their own community. It is likely that the review finding
    is a reasonable representation of the phenomenon of interest." """
    _check(confidence, tuple(LEVEL_SCORE), "confidence")
    text = statement.strip()
    if not text:
        raise ValueError("the finding's statement must not be blank")
    if text[-1] not in ".!?":
        text += "."
    return f"{text} {CERQUAL_WORDING[confidence]}"
