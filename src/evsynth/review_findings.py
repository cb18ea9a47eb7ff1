"""Review findings: the GRADE summary of findings, the GRADE-CERQual summary of qualitative
findings, and the signals the pipeline computes beside the lead's judgements.

The lead's judgements are applied as given (:func:`evsynth.certainty.grade_certainty` for
effects; the lead's own confidence for qualitative findings, as GRADE-CERQual asks). The
signals (:mod:`evsynth.certainty`'s ``*_signal`` rules) are shown beside them and never change
a certainty: a signal that disagrees with the lead is a warning naming the finding, its row in
the findings sheet and the column, for the lead to confirm or revise.

Every number of a finding is computed over **its own** ``study_ids`` (several findings may
share an outcome, e.g. one per subgroup):

* ``k``: the finding's studies; ``participants``: the sum of each study's largest ``n`` for
  the outcome, over the ``participants_k`` studies that reported one.
* The effect: a random-effects meta-analysis (the outcomes stage's estimator and config method,
  :func:`evsynth.stats.random_effects_many`) when every one of the finding's studies (and at
  least two) gives an estimate in one effect measure; otherwise the vote count by direction of
  effect over the finding's studies whose design votes, with the sign test (Cochrane Handbook
  12.2.2; one direction per study as :func:`evsynth.outcomes.per_study_directions`).

The plain-language sentence (GRADE guidance 26, :func:`evsynth.certainty.effect_statement`)
needs a direction and a size; the rules used are in :func:`effect_direction_and_size` and are
written into the table (``effect_direction``, ``effect_size``) so the lead can see them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evsynth import certainty as cert
from evsynth.codebook import RANDOMISED_BY_DEFAULT, Codebook
from evsynth.contract import RATIO_MEASURES, interval_holds, no_effect
from evsynth.findings import Finding, InputError, write_issues_csv
from evsynth.handoff import read_typed
from evsynth.outcomes import MetaAnalysisSettings, effect_sizes, per_study_directions
from evsynth.stats import egger_test, random_effects_many, random_effects_weights, sign_test
from evsynth.tables import read_clean, write_table

SHEET = "findings"

#: The sign test for a pair of counts, computed once (scipy's binomtest costs ~3 ms a call and
#: findings repeat the same small counts).
_sign_test = functools.lru_cache(maxsize=4096)(sign_test)
ID_SEPARATOR = ";"

SUMMARY_OF_FINDINGS_COLUMNS = [
    "finding_id",
    "outcome",
    "label",
    "k",
    "participants",
    "participants_k",
    "synthesis",
    "effect_measure",
    "method",
    "estimate",
    "ci_lower",
    "ci_upper",
    "pi_lower",
    "pi_upper",
    "ci_crosses_no_effect",
    "pi_crosses_no_effect",
    "i2",
    "n_benefit",
    "n_harm",
    "n_no_effect",
    "n_mixed",
    "n_unclear",
    "n_not_voting",
    "sign_test_p",
    "start",
    *cert.GRADE_DOMAINS,
    "upgrade",
    "certainty",
    "effect_direction",
    "effect_size",
    "explanation",
    "statement",
    "plain_language",
    "study_ids",
]
QUALITATIVE_FINDINGS_COLUMNS = [
    "finding_id",
    "theme",
    "label",
    "study_ids",
    "k",
    *cert.CERQUAL_COMPONENTS,
    "confidence",
    "explanation",
    "statement",
    "plain_language",
]
SIGNAL_COLUMNS = [
    "finding_id",
    "type",
    "domain",
    "judged",
    "signal",
    "agrees",
    "reason",
    "rule",
    "source",
]

#: Each signal's rule and source, as signals.csv prints them (the rules are
#: evsynth.certainty's; the wording here is for the lead).
SIGNAL_RULES: dict[str, tuple[str, str]] = {
    "risk_of_bias": (
        "share of the meta-analysis weight (else of the studies) from studies whose overall "
        "appraisal is poor: more than 50% very serious, more than 25% serious",
        "GRADE handbook 5.2.1; Guyatt et al., GRADE guidelines 4, J Clin Epidemiol "
        '2011;64:407-15 ("most information from studies at low risk"); cut-offs evsynth\'s',
    ),
    "inconsistency": (
        "I² of the finding's meta-analysis at or above 75% serious; fewer than 70% of the "
        "studies with a direction pointing the same way serious; the worse of the two",
        "Cochrane Handbook 10.10.2 (I² bands); Thomson & Thomas, Res Synth Methods "
        "2013;4:95-101 (70% rule)",
    ),
    "indirectness": (
        "none: how directly the studies answer the review question is the review team's call",
        "GRADE handbook 5.2.3",
    ),
    "imprecision": (
        "95% CI crosses no effect serious, or both appreciable benefit and harm (ratios 0.75 "
        "and 1.25) very serious; 95% prediction interval crosses no effect serious; fewer "
        "than 400 participants (continuous outcomes) serious",
        "GRADE handbook 5.2.4.1; Guyatt et al., GRADE guidelines 6, J Clin Epidemiol "
        "2011;64:1283-93 (optimal information size); the prediction-interval rule is issue 12's",
    ),
    "publication_bias": (
        "Egger's regression test on the finding's meta-analysis where k >= 10: p < 0.10 "
        "serious; fewer than 10 studies not assessed",
        "Cochrane Handbook 13.3.5.4; Egger et al., BMJ 1997;315:629",
    ),
    "methodological_limitations": (
        "share of the contributing studies appraised poor: more than 50% serious, more than "
        "25% moderate, any minor",
        "Munthe-Kaas et al., Implement Sci 2018;13(Suppl 1):9; cut-offs evsynth's",
    ),
    "coherence": (
        "none: how well the data support the finding is the review team's call",
        "Colvin et al., Implement Sci 2018;13(Suppl 1):13",
    ),
    "adequacy": (
        "number of contributing studies: 1 serious, 2 moderate, 3-4 minor, 5 or more no or "
        "very minor (quantity only; richness is the review team's call)",
        "Glenton et al., Implement Sci 2018;13(Suppl 1):14; cut-offs evsynth's",
    ),
    "relevance": (
        "none: how applicable the studies' contexts are is the review team's call",
        "Noyes et al., Implement Sci 2018;13(Suppl 1):4",
    ),
}
_NO_RULE = {
    "indirectness": "not assessed: no rule, the review team's judgement",
    "coherence": "not assessed: no rule, the review team's judgement",
    "relevance": "not assessed: no rule, the review team's judgement",
}

#: Size of a pooled effect for the plain-language sentence. Ratios: at most 0.5 or at least 2
#: is large (Guyatt et al., GRADE guidelines 9, J Clin Epidemiol 2011;64:1311-6: RR < 0.5 or
#: > 2). Standardised mean differences: 0.8 large, under 0.2 little or none, 0.2 to 0.5 small
#: (Cohen's rules of thumb, Cochrane Handbook 15.5.3.1). Other differences (md, rd) have no
#: scale-free size: important unless the CI includes no effect.
RATIO_LARGE = 2.0
SMD_LARGE, SMD_MODERATE, SMD_SMALL = 0.8, 0.5, 0.2


@dataclass(frozen=True)
class FindingsPaths:
    """Every file the findings stage writes, as its rule names them."""

    summary_of_findings: Path
    qualitative_findings: Path
    signals: Path
    warnings: Path


# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------


def split_ids(cell: object) -> list[str]:
    """The study IDs of a ``;``-separated cell, trimmed, blanks and repeats dropped, in the
    order given."""
    out: list[str] = []
    for part in str(cell).split(ID_SEPARATOR):
        sid = part.strip()
        if sid and sid not in out:
            out.append(sid)
    return out


def design_flags(codebook: Codebook, design: str) -> tuple[bool, bool]:
    """(randomised, votes) for a design code: the codebook's ``designs`` when it declares the
    code, else the contract's defaults (``rct`` randomised, every design votes)."""
    d = codebook.designs.get(design)
    if d is not None:
        return d.randomised, d.votes
    return design in RANDOMISED_BY_DEFAULT, True


def _crosses_no_effect(lower: float, upper: float, effect_measure: str) -> str:
    """``true`` when a 95% interval holds the value of no effect, ``false`` when it does not,
    blank without an interval. For the confidence interval: the data are compatible with no
    difference on average; for the prediction interval: a new setting may see none."""
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return ""
    return "true" if interval_holds(lower, upper, no_effect(effect_measure)) else "false"


def _row_of(finding: pd.Series) -> int | None:
    value = finding.get("source_row", "")
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def _overall_levels(appraisal: pd.DataFrame | None) -> dict[str, str]:
    """Each appraised study's overall level: its ``overall`` domain where the tool has one,
    else its worst domain (poor, then unclear, then fair, then good: RoB 2 and ROBINS-I set the
    overall judgement at least as severe as the worst domain). A study appraised with several
    tools takes the worst of them."""
    if appraisal is None or appraisal.empty:
        return {}
    rank = {"good": 0, "fair": 1, "unclear": 2, "poor": 3}
    frame = appraisal.assign(_rank=appraisal["level"].map(rank))
    frame = frame[frame["_rank"].notna()]
    overall = frame[frame["domain"] == "overall"]
    tools_with_overall = set(zip(overall["study_id"], overall["tool"], strict=True))
    keep = [
        (d == "overall") or ((s, t) not in tools_with_overall)
        for s, t, d in zip(frame["study_id"], frame["tool"], frame["domain"], strict=True)
    ]
    worst = frame[keep].groupby("study_id")["_rank"].max()
    names = {v: k for k, v in rank.items()}
    return {str(s): names[int(r)] for s, r in worst.items()}


def _worst(*signals: cert.Signal) -> cert.Signal:
    """The worst assessed of several signals of one domain, every reason kept."""
    order = {None: -1, "not_serious": 0, "serious": 1, "very_serious": 2}
    assessed = [s for s in signals if s.suggested is not None]
    if not assessed:
        return cert.Signal(None, "; ".join(s.reason for s in signals))
    top = max(assessed, key=lambda s: order[s.suggested])
    return cert.Signal(top.suggested, "; ".join(s.reason for s in assessed))


def _appraised_signal(
    levels: Mapping[str, str | None], rule: Callable[..., cert.Signal], *args: object
) -> cert.Signal:
    # No appraisal of any contributing study is "not assessed", not "no concern".
    if not any(v is not None for v in levels.values()):
        return cert.Signal(None, "not assessed: none of the contributing studies was appraised")
    return rule(levels, *args)


def _outcome_phrase(label: str) -> str:
    """An outcome label inside a sentence: first letter lower case unless it is an acronym
    ("Re-offending" -> "re-offending", "PTSD symptoms" stays)."""
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


# ---------------------------------------------------------------------------------------
# Direction and size for the plain-language sentence
# ---------------------------------------------------------------------------------------


def effect_direction_and_size(
    benefit: str,
    *,
    effect_measure: str | None = None,
    estimate: float | None = None,
    ci_lower: float | None = None,
    ci_upper: float | None = None,
    n_benefit: int = 0,
    n_harm: int = 0,
    n_no_effect: int = 0,
) -> tuple[str | None, str]:
    """(direction, size) for :func:`evsynth.certainty.effect_statement`.

    Pooled (``estimate`` given, on the reporting scale): a 95% CI that includes no effect is
    ``little_or_none``; otherwise the direction is the estimate's side of no effect
    (``reduces`` below, ``increases`` above) and the size follows ``RATIO_LARGE`` and the SMD
    cut-offs above (``important`` where no rule applies).

    Vote count: studies showing benefit or harm must outnumber those showing no effect, and
    at least 70% of them agree (Thomson & Thomas 2013); the direction is then the majority's,
    turned into the outcome's own terms by ``benefit`` (the codebook's ``decrease`` or
    ``increase``: benefit on a ``decrease`` outcome ``reduces`` it), size ``important``.
    Otherwise ``little_or_none``: the studies show no clear effect either way.
    """
    if estimate is not None and not math.isnan(estimate):
        ratio = effect_measure in RATIO_MEASURES
        null = no_effect(effect_measure)
        assert ci_lower is not None and ci_upper is not None
        if ci_lower <= null <= ci_upper:
            return None, "little_or_none"
        direction = "reduces" if estimate < null else "increases"
        if ratio:
            large = estimate <= 1 / RATIO_LARGE or estimate >= RATIO_LARGE
            return direction, "large" if large else "important"
        if effect_measure == "smd":
            size = abs(estimate)
            if size >= SMD_LARGE:
                return direction, "large"
            if size < SMD_SMALL:
                return None, "little_or_none"
            return direction, "small" if size < SMD_MODERATE else "important"
        return direction, "important"
    votes = n_benefit + n_harm
    if votes > n_no_effect and max(n_benefit, n_harm) / votes >= cert.DIRECTION_CLEAR_SHARE:
        wanted_down = benefit == "decrease"
        goes_down = (n_benefit >= n_harm) == wanted_down
        return ("reduces" if goes_down else "increases"), "important"
    return None, "little_or_none"


# ---------------------------------------------------------------------------------------
# Effect findings
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pool:
    measure: str
    study_ids: list[str]  # sorted
    yi: np.ndarray
    vi: np.ndarray


@dataclass(frozen=True)
class _OutcomeData:
    """The outcomes table as lookups by (outcome, study), built once: each finding then costs
    a few dictionary look-ups per study, however large the table (3,000 findings over 200,000
    outcome rows: seconds, not minutes)."""

    direction: dict[tuple[str, str], str]  # per_study_directions, one per study and outcome
    n: dict[tuple[str, str], int]  # each study's largest n for the outcome
    sizes: dict[tuple[str, str], dict[str, tuple[float, float]]]  # measure -> (yi, vi)

    @classmethod
    def build(cls, outcomes: pd.DataFrame) -> _OutcomeData:
        if outcomes.empty:
            return cls({}, {}, {})
        votes = per_study_directions(outcomes)
        # .tolist() first: iterating Arrow-backed text column by column is ~10x slower.
        direction = dict(
            zip(
                zip(votes["outcome"].tolist(), votes["study_id"].tolist(), strict=True),
                votes["direction"].tolist(),
                strict=True,
            )
        )
        n_all = pd.to_numeric(outcomes["n"], errors="coerce") if "n" in outcomes else None
        n: dict[tuple[str, str], int] = {}
        if n_all is not None:
            largest = n_all.groupby([outcomes["outcome"], outcomes["study_id"]]).max().dropna()
            n = {(str(o), str(sid)): int(v) for (o, sid), v in largest.items()}
        sized = effect_sizes(outcomes)
        sizes: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
        for o, sid, measure, y, v in zip(
            sized["outcome"].tolist(),
            sized["study_id"].tolist(),
            sized["effect_measure"].tolist(),
            sized["yi"].to_numpy(float).tolist(),
            sized["vi"].to_numpy(float).tolist(),
            strict=True,
        ):
            sizes.setdefault((o, sid), {})[measure] = (y, v)
        return cls(direction, n, sizes)

    def pool_plan(self, outcome: str, ids: Sequence[str]) -> _Pool | None:
        """The effect measure in which every one of the finding's studies (k >= 2) gives an
        estimate, first in alphabetical order when several do; None when none does."""
        if len(ids) < 2:
            return None
        given = [self.sizes.get((outcome, sid), {}) for sid in ids]
        common = set(given[0]).intersection(*given[1:])
        if not common:
            return None
        measure = min(common)
        order = sorted(range(len(ids)), key=lambda i: ids[i])
        yi = np.array([given[i][measure][0] for i in order])
        vi = np.array([given[i][measure][1] for i in order])
        return _Pool(measure, [ids[i] for i in order], yi, vi)

    def participants(self, outcome: str, ids: Sequence[str]) -> tuple[int | None, int]:
        """Sum over the studies of each one's largest ``n`` for the outcome, and how many
        studies reported one (``None`` when none did)."""
        known = [self.n[(outcome, sid)] for sid in ids if (outcome, sid) in self.n]
        return (sum(known) if known else None), len(known)


def _judged(finding: pd.Series, columns: Sequence[str]) -> dict[str, str]:
    return {c: _text(finding.get(c, "")) for c in columns}


def _check_codes(
    fid: str, row: int | None, given: Mapping[str, str], allowed: Sequence[str]
) -> None:
    """Validation refuses these before this stage runs; a table that reaches it another way
    still gets a located message, never a traceback or a wrong certainty."""
    bad = [
        Finding.error(
            SHEET,
            row,
            column,
            value,
            "finding_required",
            f"finding '{fid}': {column} must be one of {', '.join(allowed)}; got {value!r}",
        )
        for column, value in given.items()
        if value not in allowed
    ]
    if bad:
        raise InputError(bad)


def _statement(fid: str, row: int | None, finding: pd.Series) -> str:
    text = _text(finding.get("statement", ""))
    if not text:
        raise InputError(
            [
                Finding.error(
                    SHEET,
                    row,
                    "statement",
                    "",
                    "finding_required",
                    f"finding '{fid}' needs a statement: the finding in the lead's words",
                )
            ]
        )
    return text


def _upgrade(finding: pd.Series, row: int | None) -> int:
    raw = finding.get("upgrade", "")
    text = _text(raw)
    if text == "":
        return 0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value.is_integer() and 0 <= value <= 2):
        raise InputError(
            [
                Finding.error(
                    SHEET,
                    row,
                    "upgrade",
                    raw,
                    "finding_upgrade",
                    f"upgrade must be 0, 1 or 2 (levels rated up); got {text!r}",
                )
            ]
        )
    return int(value)


def _effect_rows(
    findings: pd.DataFrame,
    studies: pd.DataFrame,
    outcomes: pd.DataFrame,
    levels: Mapping[str, str],
    codebook: Codebook,
    settings: MetaAnalysisSettings,
    intervention_label: str,
) -> tuple[list[dict], list[dict], list[Finding]]:
    design_of = dict(zip(studies["study_id"], studies["design"], strict=True))
    data = _OutcomeData.build(outcomes)
    prepared = []  # (finding, row, ids, outcome, pool plan)
    for _, finding in findings.iterrows():
        row = _row_of(finding)
        ids = split_ids(finding["study_ids"])
        outcome = _text(finding["outcome"])
        if outcome not in codebook.outcomes:
            raise InputError(
                [
                    Finding.error(
                        SHEET,
                        row,
                        "outcome",
                        outcome,
                        "finding_required",
                        f"finding '{finding['finding_id']}' needs an outcome code of the codebook",
                    )
                ]
            )
        prepared.append((finding, row, ids, outcome, data.pool_plan(outcome, ids)))

    # Every pooled finding in one batched call, as the outcomes stage pools (finding i is
    # group i): bounded time however many findings share an outcome.
    pooled = [(i, p[4]) for i, p in enumerate(prepared) if p[4] is not None]
    fits: dict[int, object] = {}
    if pooled:
        yi = np.concatenate([plan.yi for _, plan in pooled])
        vi = np.concatenate([plan.vi for _, plan in pooled])
        group = np.repeat(np.arange(len(pooled)), [len(plan.yi) for _, plan in pooled])
        many = random_effects_many(
            yi,
            vi,
            group,
            method=settings.method,
            hartung_knapp=settings.hartung_knapp,
            prediction_interval=settings.prediction_interval,
        )
        fits = {i: many[j] for j, (i, _) in enumerate(pooled)}

    sof, signal_rows, warnings = [], [], []
    for i, (finding, row, ids, outcome, plan) in enumerate(prepared):
        fid = str(finding["finding_id"])
        for sid in ids:
            if (outcome, sid) not in data.direction:
                warnings.append(
                    Finding.warning(
                        SHEET,
                        row,
                        "study_ids",
                        sid,
                        "finding_study_without_outcome",
                        f"finding '{fid}': study '{sid}' has no row for outcome '{outcome}' "
                        "in the outcomes sheet, so it adds nothing to the finding's effect",
                    )
                )
        flags = {sid: design_flags(codebook, design_of.get(sid, "")) for sid in ids}
        voting_ids = [sid for sid in ids if flags[sid][1]]
        n = dict.fromkeys(("benefit", "harm", "no_effect", "mixed", "unclear"), 0)
        for sid in voting_ids:
            if (outcome, sid) in data.direction:
                n[data.direction[(outcome, sid)]] += 1
        participants, participants_k = data.participants(outcome, ids)
        fit = fits.get(i)
        record: dict[str, object] = {
            "finding_id": fid,
            "outcome": outcome,
            "label": codebook.outcomes[outcome].label,
            "k": len(ids),
            "participants": participants,
            "participants_k": participants_k,
            **{f"n_{d}": v for d, v in n.items()},
            "n_not_voting": len(ids) - len(voting_ids),
            "sign_test_p": _sign_test(n["benefit"], n["harm"]),
        }
        weights = None
        egger_p = None
        scale = None
        if fit is not None and plan is not None:
            ratio = plan.measure in RATIO_MEASURES
            back = math.exp if ratio else (lambda x: x)
            scale = "ratio" if ratio else "difference"
            record |= {
                "synthesis": "meta_analysis",
                "effect_measure": plan.measure,
                "method": fit.method,
                "estimate": back(fit.estimate),
                "ci_lower": back(fit.ci_lower),
                "ci_upper": back(fit.ci_upper),
                "pi_lower": back(fit.pi_lower),  # NaN (k < 3) stays NaN
                "pi_upper": back(fit.pi_upper),
                "ci_crosses_no_effect": _crosses_no_effect(
                    back(fit.ci_lower), back(fit.ci_upper), plan.measure
                ),
                "pi_crosses_no_effect": _crosses_no_effect(
                    back(fit.pi_lower), back(fit.pi_upper), plan.measure
                ),
                "i2": fit.i2,
            }
            w = random_effects_weights(plan.vi, fit.tau2)
            weights = dict(zip(plan.study_ids, w.tolist(), strict=True))
            if fit.k >= cert.EGGER_MIN_K:
                egger_p = egger_test(plan.yi, np.sqrt(plan.vi)).p
        else:
            record |= {"synthesis": "vote_count"}

        judged = _judged(finding, cert.GRADE_DOMAINS)
        _check_codes(fid, row, judged, tuple(cert.DOWNGRADE))
        start = _text(finding.get("start", "")) or cert.default_start(
            [flags[sid][0] for sid in ids]
        )
        _check_codes(fid, row, {"start": start}, ("high", "low"))
        upgrade = _upgrade(finding, row)
        graded = cert.grade_certainty(start, **judged, upgrade=upgrade)  # type: ignore[arg-type]
        for text in graded.warnings:
            warnings.append(
                Finding.warning(
                    SHEET, row, "upgrade", upgrade, "finding_upgrade", f"finding '{fid}': {text}"
                )
            )
        direction, size = effect_direction_and_size(
            codebook.outcomes[outcome].benefit,
            effect_measure=plan.measure if fit is not None and plan is not None else None,
            estimate=record.get("estimate"),  # type: ignore[arg-type]
            ci_lower=record.get("ci_lower"),  # type: ignore[arg-type]
            ci_upper=record.get("ci_upper"),  # type: ignore[arg-type]
            n_benefit=n["benefit"],
            n_harm=n["harm"],
            n_no_effect=n["no_effect"],
        )
        record |= {
            "start": start,
            **judged,
            "upgrade": upgrade,
            "certainty": graded.level,
            "effect_direction": direction or "",
            "effect_size": size,
            "explanation": _text(finding.get("explanation", "")),
            "statement": _statement(fid, row, finding),
            "plain_language": cert.effect_statement(
                graded.level,
                direction,  # type: ignore[arg-type]
                size,  # type: ignore[arg-type]
                _outcome_phrase(codebook.outcomes[outcome].label),
                intervention_label,
            ),
            "study_ids": ID_SEPARATOR.join(ids),
        }
        sof.append(record)

        study_levels = {sid: levels.get(sid) for sid in ids}
        complete_n = participants if participants_k == len(ids) else None
        kind = None if scale is None else ("binary" if scale == "ratio" else "continuous")
        signals = {
            "risk_of_bias": _appraised_signal(study_levels, cert.risk_of_bias_signal, weights),
            "inconsistency": _worst(
                cert.inconsistency_signal_i2(record["i2"] if fit is not None else None),
                cert.inconsistency_signal_direction(n["benefit"], n["harm"]),
            ),
            "indirectness": cert.Signal(None, _NO_RULE["indirectness"]),
            "imprecision": cert.imprecision_signal(
                scale or "ratio",
                record.get("ci_lower"),  # type: ignore[arg-type]
                record.get("ci_upper"),  # type: ignore[arg-type]
                pi_lower=record.get("pi_lower"),  # type: ignore[arg-type]
                pi_upper=record.get("pi_upper"),  # type: ignore[arg-type]
                outcome_kind=kind,  # type: ignore[arg-type]
                participants=complete_n,
            )
            if fit is not None
            else cert.Signal(None, "not assessed: no pooled interval (vote count)"),
            "publication_bias": cert.publication_bias_signal(len(ids), egger_p)
            if fit is not None or len(ids) < cert.EGGER_MIN_K
            else cert.Signal(None, "not assessed: no meta-analysis to test"),
        }
        more_rows, more_warnings = _signal_rows(fid, "effect", row, judged, signals)
        signal_rows += more_rows
        warnings += more_warnings
    return sof, signal_rows, warnings


# ---------------------------------------------------------------------------------------
# Qualitative findings
# ---------------------------------------------------------------------------------------


def _qualitative_rows(
    findings: pd.DataFrame, levels: Mapping[str, str], codebook: Codebook
) -> tuple[list[dict], list[dict], list[Finding]]:
    rows, signal_rows, warnings = [], [], []
    for _, finding in findings.iterrows():
        row = _row_of(finding)
        fid = str(finding["finding_id"])
        ids = split_ids(finding["study_ids"])
        theme = _text(finding.get("theme", ""))
        judged = _judged(finding, cert.CERQUAL_COMPONENTS)
        confidence = _text(finding.get("confidence", ""))
        _check_codes(fid, row, judged, cert.CONCERNS)
        _check_codes(fid, row, {"confidence": confidence}, tuple(cert.LEVEL_SCORE))
        inconsistent = cert.cerqual_consistency(judged, confidence)  # type: ignore[arg-type]
        statement = _statement(fid, row, finding)
        plain = cert.qualitative_statement(confidence, statement)  # type: ignore[arg-type]
        for text in inconsistent:
            warnings.append(
                Finding.warning(
                    SHEET,
                    row,
                    "confidence",
                    confidence,
                    "finding_confidence",
                    f"finding '{fid}': {text}; CERQual keeps the review team's confidence, "
                    "so say why in the explanation or revise it",
                )
            )
        theme_obj = codebook.theme_by_code.get(theme)
        rows.append(
            {
                "finding_id": fid,
                "theme": theme,
                "label": theme_obj.label if theme_obj is not None else "",
                "study_ids": ID_SEPARATOR.join(ids),
                "k": len(ids),
                **judged,
                "confidence": confidence,
                "explanation": _text(finding.get("explanation", "")),
                "statement": statement,
                "plain_language": plain,
            }
        )
        study_levels = {sid: levels.get(sid) for sid in ids}
        signals = {
            "methodological_limitations": _appraised_signal(
                study_levels, cert.methodological_limitations_signal
            ),
            "coherence": cert.Signal(None, _NO_RULE["coherence"]),
            "adequacy": cert.adequacy_signal(len(ids)),
            "relevance": cert.Signal(None, _NO_RULE["relevance"]),
        }
        more_rows, more_warnings = _signal_rows(fid, "qualitative", row, judged, signals)
        signal_rows += more_rows
        warnings += more_warnings
    return rows, signal_rows, warnings


def _signal_rows(
    fid: str,
    kind: str,
    row: int | None,
    judged: Mapping[str, str],
    signals: Mapping[str, cert.Signal],
) -> tuple[list[dict], list[Finding]]:
    """signals.csv rows of one finding, and a located warning per disagreement."""
    disagreements = {w.domain: w for w in cert.compare_signals(fid, judged, signals)}
    rows = []
    for domain, signal in signals.items():
        rule, source = SIGNAL_RULES[domain]
        agrees = "" if signal.suggested is None else str(domain not in disagreements).lower()
        rows.append(
            {
                "finding_id": fid,
                "type": kind,
                "domain": domain,
                "judged": judged.get(domain, ""),
                "signal": signal.suggested or "",
                "agrees": agrees,
                "reason": signal.reason,
                "rule": rule,
                "source": source,
            }
        )
    warnings = [
        Finding.warning(
            SHEET,
            row,
            domain,
            w.judged,
            "finding_signal",
            w.message + "; the certainty keeps the lead's judgement: confirm or revise it",
        )
        for domain, w in disagreements.items()
    ]
    return rows, warnings


# ---------------------------------------------------------------------------------------
# The stage
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingsTables:
    summary_of_findings: pd.DataFrame
    qualitative_findings: pd.DataFrame
    signals: pd.DataFrame
    warnings: list[Finding]


def review_findings(
    findings: pd.DataFrame,
    studies: pd.DataFrame,
    outcomes: pd.DataFrame,
    appraisal: pd.DataFrame | None,
    codebook: Codebook,
    settings: MetaAnalysisSettings,
    intervention_label: str = "the intervention",
) -> FindingsTables:
    """The three findings tables and the warnings, from the clean findings, studies and
    outcomes tables, ``appraisal/by_study`` (``None`` when the review has no appraisal sheet)
    and the codebook. Rows follow the findings sheet's order."""
    if "source_row" in findings:
        order = pd.to_numeric(findings["source_row"], errors="coerce")
        findings = findings.assign(_order=order).sort_values("_order", kind="stable")
    levels = _overall_levels(appraisal)
    kinds = findings["type"].astype(str)
    sof, effect_signals, effect_warnings = _effect_rows(
        findings[kinds == "effect"],
        studies,
        outcomes,
        levels,
        codebook,
        settings,
        intervention_label,
    )
    qual, qual_signals, qual_warnings = _qualitative_rows(
        findings[kinds == "qualitative"], levels, codebook
    )
    signals = pd.DataFrame(effect_signals + qual_signals, columns=SIGNAL_COLUMNS)
    if not signals.empty:  # effect and qualitative findings in the sheet's order
        position = {fid: i for i, fid in enumerate(findings["finding_id"].astype(str))}
        signals = signals.sort_values(
            "finding_id", key=lambda s: s.map(position), kind="stable"
        ).reset_index(drop=True)
    return FindingsTables(
        pd.DataFrame(sof, columns=SUMMARY_OF_FINDINGS_COLUMNS),
        pd.DataFrame(qual, columns=QUALITATIVE_FINDINGS_COLUMNS),
        signals,
        effect_warnings + qual_warnings,
    )


def run_findings(
    findings_path: Path,
    studies_path: Path,
    outcomes_path: Path,
    appraisal_by_study_path: Path | None,
    codebook_path: Path,
    settings: MetaAnalysisSettings,
    out: FindingsPaths,
    intervention_label: str = "the intervention",
) -> list[Finding]:
    """The findings stage: reads the typed clean findings, studies and outcomes tables
    (Parquet), ``appraisal/by_study.csv`` when the review has one, and the codebook; writes
    ``out``'s four files; returns the warnings (also in ``out.warnings``)."""
    from evsynth.codebook import load_codebook

    codebook = load_codebook(codebook_path)
    appraisal = None
    if appraisal_by_study_path is not None:
        appraisal = read_clean(appraisal_by_study_path)
        missing = [c for c in ("study_id", "tool", "domain", "level") if c not in appraisal]
        if missing:
            raise InputError(
                [
                    Finding.error(
                        "(input)",
                        None,
                        ", ".join(missing),
                        str(appraisal_by_study_path),
                        "columns",
                        f"{appraisal_by_study_path} lacks the column(s) {', '.join(missing)}",
                    )
                ]
            )
    tables = review_findings(
        read_typed(findings_path),
        read_typed(studies_path),
        read_typed(outcomes_path),
        appraisal,
        codebook,
        settings,
        intervention_label,
    )
    write_table(tables.summary_of_findings, out.summary_of_findings)
    write_table(tables.qualitative_findings, out.qualitative_findings)
    write_table(tables.signals, out.signals)
    write_issues_csv(tables.warnings, out.warnings)
    return tables.warnings
