"""Outcome summaries: vote counting by direction of effect, and random-effects pooling.

Direction follows the Cochrane Handbook (ch. 12.2.2.3) and SWiM: studies are counted by the
direction of their effect, never by statistical significance, and an exact two-sided sign
test compares the studies showing benefit with those showing harm. ``no_effect``, ``mixed``
and ``unclear`` are counted and reported but are not votes in the sign test.

Who votes: studies whose design the codebook marks ``votes: false`` (qualitative studies and
reviews, say) are left out of the count and the sign test; vote counting compares primary
effect estimates (Cochrane Handbook 12.2.2.3), and a review's direction would count its own
studies twice. ``direction.csv`` then says per outcome how many were left out and why
(:data:`LEFT_OUT_COLUMNS`); a codebook that marks no design so gets exactly the old table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evsynth.codebook import Codebook
from evsynth.contract import QUALITY, RATIO_MEASURES
from evsynth.handoff import read_typed
from evsynth.sensitivity import EXTRA_META_COLUMNS, meta_analysis_extras
from evsynth.stats import (
    random_effects_many,
    random_effects_weights,
    se_from_ci,
    sign_test,
    wilson_interval,
)
from evsynth.tables import write_table

DIRECTION_ORDER = ("benefit", "harm", "no_effect", "mixed", "unclear")
#: A study's rows for one outcome agree when at least this share point the same way
#: (Thomson & Thomas 2013, effect direction plot rule for several measures of one outcome).
AGREEMENT_SHARE = 0.7

DIRECTION_COLUMNS = [
    "outcome",
    "k",
    "n_benefit",
    "n_harm",
    "n_no_effect",
    "n_mixed",
    "n_unclear",
    "sign_test_p",
    "label",
    "pct_benefit",
    "benefit_ci_lower",
    "benefit_ci_upper",
    "study_ids",
]
#: Added after :data:`DIRECTION_COLUMNS` when the codebook marks a design ``votes: false``:
#: the studies reporting the outcome whose design does not vote, their designs and their IDs.
LEFT_OUT_COLUMNS = ["excluded_not_voting", "excluded_designs", "excluded_study_ids"]
META_COLUMNS = [
    "outcome",
    "effect_measure",
    "method",
    "k",
    "estimate",
    "ci_lower",
    "ci_upper",
    "pi_lower",
    "pi_upper",
    "tau2",
    "i2",
    "q",
    "q_p",
    "label",
    "scale",
    "se",
    "analysis",
    "study_ids",
    *EXTRA_META_COLUMNS,
]


def per_study_directions(outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per (outcome, study_id) with the study's overall direction for that outcome.

    A study whose rows for the outcome all agree takes that direction. Otherwise it takes
    benefit or harm when at least ``AGREEMENT_SHARE`` (70%) of its rows say so, and is
    ``mixed`` when not (Thomson & Thomas 2013); a majority of ``no_effect`` or ``unclear``
    rows also gives ``mixed``.
    """
    from evsynth.tally import factorize_text

    if outcomes.empty:
        return pd.DataFrame(columns=["outcome", "study_id", "direction"])
    # On integer codes (as a groupby of the three text columns and an unstack would count,
    # but without boxing 200,000 Arrow strings): rows with a blank key count for nothing.
    outcome, outcome_names = factorize_text(outcomes["outcome"])
    study, study_names = factorize_text(outcomes["study_id"])
    direction, direction_names = factorize_text(outcomes["direction"])
    keep = (outcome >= 0) & (study >= 0) & (direction >= 0)
    if not keep.any():
        return pd.DataFrame(columns=["outcome", "study_id", "direction"])
    # (outcome, study) pairs in sorted order, as the groupby's
    pairs, pair_of = np.unique(outcome[keep] * len(study_names) + study[keep], return_inverse=True)
    n_directions = len(direction_names)
    votes = np.bincount(
        pair_of * n_directions + direction[keep], minlength=len(pairs) * n_directions
    ).reshape(len(pairs), n_directions)  # columns: the directions in sorted order
    top = direction_names.to_numpy(dtype=object)[votes.argmax(axis=1)]
    share = votes.max(axis=1) / votes.sum(axis=1)
    single = (votes > 0).sum(axis=1) == 1
    # A share of 0.7 or more cannot be tied, so argmax picks the one clear majority.
    decided = single | (np.isin(top, ["benefit", "harm"]) & (share >= AGREEMENT_SHARE))
    return pd.DataFrame(
        {
            "outcome": outcome_names.take(pairs // len(study_names)),
            "study_id": study_names.take(pairs % len(study_names)),
            "direction": np.where(decided, top, "mixed").astype(object),
        }
    )


def non_voting_designs(codebook: Codebook) -> dict[str, str]:
    """The design codes the codebook marks ``votes: false``, with their labels."""
    return {code: d.label for code, d in codebook.designs.items() if not d.votes}


def split_votes(
    per_study: pd.DataFrame, studies: pd.DataFrame, codebook: Codebook
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``per_study`` (:func:`per_study_directions`) split into the votes and the rows left
    out because the study's design does not vote (with its ``design``). ``None`` for the
    second when the codebook marks no design ``votes: false``: then nothing changes."""
    silent = non_voting_designs(codebook)
    if not silent:
        return per_study, None
    design = studies.drop_duplicates("study_id").set_index("study_id")["design"]
    design = per_study["study_id"].map(design).fillna("").astype(str)
    out = design.isin(list(silent)).to_numpy()
    return per_study[~out], per_study[out].assign(design=design[out])


def direction_summary(
    outcomes: pd.DataFrame,
    codebook: Codebook,
    by: str | None = None,
    per_study: pd.DataFrame | None = None,
    left_out: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``outcomes/direction.csv``: per outcome, studies by direction and the sign test.

    ``pct_benefit`` is the share of all k studies showing benefit, with a Wilson 95% interval.
    ``left_out`` (:func:`split_votes`): the studies whose design does not vote, already taken
    out of ``per_study``; given, the table gains :data:`LEFT_OUT_COLUMNS`, and an outcome
    only non-voting studies report is listed with k = 0 (its shares blank, sign test p 1).
    """
    per_study = per_study_directions(outcomes) if per_study is None else per_study
    keys = ["outcome"] + ([by] if by else [])
    if by:
        by_study = outcomes[["study_id", by]].drop_duplicates("study_id")
        per_study = per_study.merge(by_study, on="study_id")
        if left_out is not None:
            left_out = left_out.merge(by_study, on="study_id")
    groups = {_key(k): g for k, g in per_study.groupby(keys, sort=True)}
    gone = {} if left_out is None else {_key(k): g for k, g in left_out.groupby(keys, sort=True)}
    empty = per_study.iloc[:0]
    rows = []
    for key in sorted(groups.keys() | gone.keys()):
        group = groups.get(key, empty)
        counts = group["direction"].value_counts()
        n = {d: int(counts.get(d, 0)) for d in DIRECTION_ORDER}
        k = len(group)
        lo, hi = wilson_interval(n["benefit"], k)
        row = {
            **dict(zip(keys, key, strict=True)),
            "k": k,
            **{f"n_{d}": n[d] for d in DIRECTION_ORDER},
            "sign_test_p": sign_test(n["benefit"], n["harm"]),
            "label": codebook.outcomes[key[0]].label,
            "pct_benefit": 100 * n["benefit"] / k if k else np.nan,
            "benefit_ci_lower": 100 * lo,
            "benefit_ci_upper": 100 * hi,
            "study_ids": joined_sorted(group["study_id"]),
        }
        if left_out is not None:
            out = gone.get(key, left_out.iloc[:0])
            row |= {
                "excluded_not_voting": len(out),
                "excluded_designs": ";".join(sorted(set(out["design"]))),
                "excluded_study_ids": joined_sorted(out["study_id"]),
            }
        rows.append(row)
    columns = DIRECTION_COLUMNS[:1] + ([by] if by else []) + DIRECTION_COLUMNS[1:]
    if left_out is not None:
        columns += LEFT_OUT_COLUMNS
    return pd.DataFrame(rows, columns=columns)


def _key(key: object) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def joined_sorted(ids: pd.Series, separator: str = ";") -> str:
    """``separator.join(sorted(ids))`` for text, in Arrow: pandas 3 boxes each Arrow string
    it yields, one at a time, and numpy sorts an object array by Python comparisons (most
    of the direction and meta-analysis tables' time at 100,000 studies). Arrow orders
    strings by their UTF-8 bytes, which is the order of their code points, as sorted does."""
    array = pa.array(ids, type=pa.large_string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    ordered = array.take(pc.array_sort_indices(array))
    whole = pa.LargeListArray.from_arrays(pa.array([0, len(ordered)], pa.int64()), ordered)
    return pc.binary_join(whole, pa.scalar(separator, pa.large_string()))[0].as_py()


def _isin(values: pd.Series, wanted: list[str]) -> np.ndarray:
    """``values.isin(wanted)`` for text, in Arrow: pandas 3's isin on Arrow strings checks
    ``wanted`` item by item in Python (1 s for the forest plot's weights at 100,000 studies)."""
    array = pa.array(values, type=pa.string(), from_pandas=True)
    found = pc.is_in(array, value_set=pa.array(wanted, type=pa.string()))
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _rows_by_analysis(effects: pd.DataFrame) -> dict[tuple, np.ndarray]:
    """Row positions of ``effects`` per (outcome, effect_measure), in their order: the rows
    ``(outcome == o) & (effect_measure == m)`` selects, found in one pass."""
    if effects.empty:
        return {}
    grouped = effects.groupby(["outcome", "effect_measure"], sort=False, dropna=True)
    return {_key(k): v for k, v in grouped.indices.items()}


def effect_sizes(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Rows with an estimate and 95% CI, on the analysis scale (log for ratio measures).

    One estimate per study, outcome and measure: validation warns about repeats and the first
    row is used. The standard error is the row's ``se`` (validation's: from the arm-level data,
    or from the 95% CI); where a table has none it is recovered from the 95% CI (Cochrane
    Handbook 6.3.1 and 6.3.2: SE = (upper − lower) / (2 × 1.96), on the log scale for ratios).
    """
    # Typed (clean/outcomes.parquet): a blank estimate is NaN; a text frame gives "" instead.
    given = pd.to_numeric(outcomes["estimate"].replace("", np.nan)).notna()
    rows = outcomes[given & (outcomes["effect_measure"] != "")]
    rows = rows.drop_duplicates(["study_id", "outcome", "effect_measure"], keep="first")
    est, lo, hi = (rows[c].astype(float).to_numpy() for c in ("estimate", "ci_lower", "ci_upper"))
    ratio = rows["effect_measure"].isin(RATIO_MEASURES).to_numpy()
    yi = np.where(ratio, np.log(np.where(ratio, est, 1.0)), est)
    se = np.where(
        ratio,
        se_from_ci(np.where(ratio, lo, 1.0), np.where(ratio, hi, 1.0), log_scale=True),
        se_from_ci(lo, hi, log_scale=False),
    )
    if "se" in rows:
        # Computed from arm-level data, the CI is yi ± 1.96 SE rounded to 12 digits: the
        # stored SE is the exact one.
        stored = pd.to_numeric(rows["se"].replace("", np.nan)).to_numpy(dtype=float)
        se = np.where(np.isfinite(stored), stored, se)
    return rows.assign(yi=yi, vi=se**2).reset_index(drop=True)


def meta_analysis(
    outcomes: pd.DataFrame,
    studies: pd.DataFrame,
    codebook: Codebook,
    methods: tuple[str, ...] = ("REML",),
    hartung_knapp: bool = False,
    sensitivity_exclude_quality: tuple[str, ...] = ("low",),
    prediction_interval: str = "normal",
) -> pd.DataFrame:
    """``outcomes/meta_analysis.csv``: random-effects pooling per (outcome, effect_measure).

    A row appears only where k ≥ 2 (data contract §4). Ratio measures are pooled on the log
    scale and reported back on the ratio scale. ``analysis`` is ``main`` or, where removing
    studies of the excluded quality levels leaves k ≥ 2 and changes k, ``sensitivity``.
    """
    sizes = effect_sizes(outcomes).merge(
        studies[["study_id", "quality"]], on="study_id", how="left"
    )
    plan = []  # (outcome, measure, analysis, studies): every meta-analysis to run, in row order
    for (outcome, measure), group in sizes.groupby(["outcome", "effect_measure"], sort=True):
        analyses = [("main", group)]
        kept = group[~group["quality"].isin(sensitivity_exclude_quality)]
        if len(kept) != len(group):
            analyses.append(("sensitivity", kept))
        plan += [
            (outcome, measure, analysis, data) for analysis, data in analyses if len(data) >= 2
        ]
    if not plan:
        return pd.DataFrame([], columns=META_COLUMNS)
    # All of them pooled in one batched call per method (analysis i is group i), not one call
    # each: thousands of subgroup and sensitivity analyses cost milliseconds, not seconds.
    yi = np.concatenate([data["yi"].to_numpy() for *_, data in plan])
    vi = np.concatenate([data["vi"].to_numpy() for *_, data in plan])
    group = np.repeat(np.arange(len(plan)), [len(data) for *_, data in plan])
    fits = {
        method: random_effects_many(
            yi,
            vi,
            group,
            method=method,
            hartung_knapp=hartung_knapp,
            prediction_interval=prediction_interval,
        )
        for method in methods
    }
    # The common effect, the pooled effect's test, tau2's CI (evsynth.sensitivity).
    extras = {m: meta_analysis_extras(yi, vi, group, fits[m], prediction_interval) for m in fits}
    rows = []
    for i, (outcome, measure, analysis, data) in enumerate(plan):
        for method in methods:
            fit = fits[method][i]
            back = np.exp if measure in RATIO_MEASURES else (lambda x: x)
            rows.append(
                {
                    "outcome": outcome,
                    "effect_measure": measure,
                    "method": fit.method,
                    "k": fit.k,
                    "estimate": back(fit.estimate),
                    "ci_lower": back(fit.ci_lower),
                    "ci_upper": back(fit.ci_upper),
                    "pi_lower": back(fit.pi_lower),
                    "pi_upper": back(fit.pi_upper),
                    "tau2": fit.tau2,
                    "i2": fit.i2,
                    "q": fit.q,
                    "q_p": fit.q_p,
                    "label": codebook.outcomes[outcome].label,
                    "scale": "ratio" if measure in RATIO_MEASURES else "difference",
                    "se": fit.se,
                    "analysis": analysis,
                    "study_ids": joined_sorted(data["study_id"]),
                    **extras[method].iloc[i].to_dict(),
                }
            )
            for ce in ("ce_estimate", "ce_ci_lower", "ce_ci_upper"):
                rows[-1][ce] = back(rows[-1][ce])
    return pd.DataFrame(rows, columns=META_COLUMNS)


def pooled_study_weights(effects: pd.DataFrame, pooled: pd.DataFrame) -> pd.DataFrame:
    """The studies of each main analysis in ``pooled`` (:func:`meta_analysis`), from
    ``effects`` (:func:`effect_sizes`) by study ID, with the analysis's ``method`` and each
    study's ``weight``: its share of the random-effects weight at the analysis's tau²
    (:func:`evsynth.stats.random_effects_weights`), what a forest plot prints."""
    frames = []
    by_analysis = _rows_by_analysis(effects)
    none = np.array([], dtype=np.int64)
    for p in pooled[pooled["analysis"] == "main"].itertuples(index=False):
        rows = effects.iloc[by_analysis.get((p.outcome, p.effect_measure), none)]
        rows = rows.sort_values("study_id")
        rows = rows[_isin(rows["study_id"], str(p.study_ids).split(";"))]
        frames.append(
            rows.assign(
                method=p.method, weight=random_effects_weights(rows["vi"].to_numpy(), p.tau2)
            )
        )
    if not frames:
        return effects.iloc[:0].assign(
            method=pd.Series(dtype=object), weight=pd.Series(dtype=float)
        )
    return pd.concat(frames, ignore_index=True)


#: The Mantel-Haenszel columns of ``outcomes/meta_analysis.csv`` (:func:`with_mantel_haenszel`).
MH_COLUMNS = ["mh_estimate", "mh_ci_lower", "mh_ci_upper"]
#: The arm-level counts a Mantel-Haenszel estimate needs from every study of an analysis.
_COUNTS = ["int_events", "int_total", "ctl_events", "ctl_total"]


def with_mantel_haenszel(pooled: pd.DataFrame, effects: pd.DataFrame) -> pd.DataFrame:
    """``pooled`` (:func:`meta_analysis`) with :data:`MH_COLUMNS`: for an ``or``, ``rr`` or
    ``rd`` analysis whose studies (``study_ids``, rows of ``effects``, :func:`effect_sizes`)
    all give their 2x2 counts, the Mantel-Haenszel common effect
    (:func:`evsynth.effect_size.mantel_haenszel`; ratio scale for or/rr), a common-effect
    estimate for sparse binary data beside the random-effects one (Cochrane Handbook 10.4.1);
    blank otherwise."""
    from evsynth.effect_size import BINARY_MEASURES, mantel_haenszel

    values = np.full((len(pooled), len(MH_COLUMNS)), np.nan)
    have = set(_COUNTS) <= set(effects.columns)
    by_analysis = _rows_by_analysis(effects)
    none = np.array([], dtype=np.int64)
    for i, p in enumerate(pooled[["outcome", "effect_measure", "study_ids"]].itertuples()):
        if not have or p.effect_measure not in BINARY_MEASURES:
            continue
        rows = effects.iloc[by_analysis.get((p.outcome, p.effect_measure), none)]
        rows = rows[_isin(rows["study_id"], str(p.study_ids).split(";"))]
        numbers = rows[_COUNTS].apply(pd.to_numeric, errors="coerce")
        counts = numbers.to_numpy(dtype=float, na_value=np.nan)
        if len(rows) == 0 or not np.isfinite(counts).all():
            continue
        mh = mantel_haenszel(p.effect_measure, *counts.T)
        bounds = np.array([mh.estimate, mh.ci_lower, mh.ci_upper])
        values[i] = np.exp(bounds) if p.effect_measure in RATIO_MEASURES else bounds
    return pooled.assign(**{c: values[:, j] for j, c in enumerate(MH_COLUMNS)})


def not_shown_note(left_out: pd.DataFrame, codebook: Codebook) -> str:
    """The effect-direction plot's line on the studies it leaves out (:func:`split_votes`):
    how many, of which designs, and where they are listed."""
    ids = sorted(set(left_out["study_id"]))
    if not ids:
        return ""
    labels = non_voting_designs(codebook)
    designs = [labels.get(d, d) for d in sorted(set(left_out["design"]))]
    return (
        f"Not shown and not counted: {len(ids)} stud{'y' if len(ids) == 1 else 'ies'} whose "
        f"design does not vote ({'; '.join(designs)}), listed in the direction table."
    )


#: ``outcomes/study_weights.csv``: one row per study and main meta-analysis, the study's share
#: of that analysis's random-effects weight (the forest plot's weights; each analysis sums to 1).
STUDY_WEIGHT_COLUMNS = ["study_id", "outcome", "effect_measure", "method", "weight"]


def effect_direction_cells(
    outcomes: pd.DataFrame, per_study: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The effect-direction plot's cells: one row per (outcome, study_id) with the study's
    direction (:func:`per_study_directions`) and ``n``, the largest sample size the study
    reported for that outcome (NaN where none was)."""
    cells = per_study_directions(outcomes) if per_study is None else per_study
    if cells.empty:
        return cells.assign(n=pd.Series(dtype=float))
    n = pd.to_numeric(outcomes["n"], errors="coerce").astype(float) if "n" in outcomes else np.nan
    sizes = outcomes.assign(n=n).groupby(["outcome", "study_id"], sort=True)["n"].max()
    return cells.merge(sizes.reset_index(), on=["outcome", "study_id"], how="left")


GAP_MAP_COLUMNS = [
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


def gap_map(
    codes: pd.DataFrame,
    outcomes: pd.DataFrame,
    codebook: Codebook,
    per_study: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``outcomes/gap_map.csv``: every theme × outcome, with the studies coded with the theme
    (rolled up the tree, as in ``tallies/themes.csv``) that report the outcome, by direction.

    Rows follow the codebook: themes in tree order, outcomes in codebook order within each
    theme. Pairs no study covers are listed with zero: they are the gaps.
    """
    from evsynth.tally import join_runs, theme_incidence

    if not codebook.outcomes or not codebook.themes:
        return pd.DataFrame([], columns=GAP_MAP_COLUMNS)
    inc = theme_incidence(codes, codebook)  # studies × themes, rolled up the tree
    csc = inc.by_theme  # each theme's studies: ascending rows, i.e. sorted study IDs
    votes = per_study_directions(outcomes) if per_study is None else per_study
    position = _index_in(votes["study_id"], inc.study_ids)  # -1: a study with no codes
    direction_code = _index_in(votes["direction"], DIRECTION_ORDER)
    outcome_code = _index_in(votes["outcome"], list(codebook.outcomes))
    chosen = (outcome_code >= 0) & (position >= 0)
    # Each study's direction per outcome, by its row in the incidence (-1: none). Assigned
    # in the votes' order, as the per-outcome loop this replaces did.
    by_study = np.full((len(codebook.outcomes), len(inc.study_ids)), -1, dtype=np.int8)
    by_study[outcome_code[chosen], position[chosen]] = direction_code[chosen]
    theme_of = np.repeat(np.arange(len(inc.themes)), np.diff(csc.indptr))
    n_directions = len(DIRECTION_ORDER)
    counts, cells = [], []  # per outcome: theme × direction counts; each cell's members
    for o in range(len(codebook.outcomes)):
        cast = by_study[o][csc.indices]
        voting = cast >= 0
        flat = theme_of[voting] * n_directions + cast[voting].astype(np.int64)
        counts.append(np.bincount(flat, minlength=len(inc.themes) * n_directions))
        cells.append(voting)
    counts = np.stack(counts).reshape(len(codebook.outcomes), len(inc.themes), n_directions)
    # Rows: themes in tree order, outcomes in codebook order within each theme; the IDs are
    # joined a theme at a time, so only one theme's copies of them are held at once.
    study_ids: list[str] = []
    for j in range(len(inc.themes)):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        members = [rows[voting[csc.indptr[j] : csc.indptr[j + 1]]] for voting in cells]
        study_ids += join_runs(
            inc.arrow_ids, np.concatenate(members), np.array([len(m) for m in members])
        )
    n = counts.transpose(1, 0, 2).reshape(-1, n_directions)  # (theme, outcome) rows
    return pd.DataFrame(
        {
            "theme": [t.code for t in codebook.themes for _ in codebook.outcomes],
            "outcome": list(codebook.outcomes) * len(codebook.themes),
            "n_studies": n.sum(axis=1),
            **{f"n_{d}": n[:, i] for i, d in enumerate(DIRECTION_ORDER)},
            "study_ids": study_ids,
        },
        columns=GAP_MAP_COLUMNS,
    )


def _index_in(values: pd.Series, among: Sequence[str] | pd.Index) -> np.ndarray:
    """Each value's position in ``among`` (-1: not there), in Arrow: pandas' get_indexer
    boxes each Arrow string of ``values`` as a Python object."""
    found = pc.index_in(
        pa.array(values, type=pa.string(), from_pandas=True),
        value_set=pa.array(
            list(among) if not isinstance(among, pd.Index) else among,
            type=pa.string(),
            from_pandas=True,
        ),
    )
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def net_direction(gap: pd.DataFrame) -> pd.Series:
    """Per gap-map cell (:func:`gap_map`), (benefit − harm) ÷ studies: from −1 (every study
    shows harm) to 1 (every study shows benefit); NaN where no study gave a benefit or harm
    vote. The colour of the gap map's bubbles."""
    b, h, n = (gap[c].to_numpy(dtype=float) for c in ("n_benefit", "n_harm", "n_studies"))
    with np.errstate(invalid="ignore", divide="ignore"):
        net = np.where(b + h > 0, (b - h) / np.where(n > 0, n, 1), np.nan)
    return pd.Series(net, index=gap.index, name="net_direction")


def sensitivity_label(excluded: tuple[str, ...]) -> str:
    """How the forest plot names the sensitivity analysis, e.g. "Without low-quality studies"."""
    if tuple(excluded) == ("low",):
        return "Without low-quality studies"
    names = [QUALITY.get(q, q).lower() for q in excluded]
    return "Without studies rated " + " or ".join(names)


@dataclass(frozen=True)
class MetaAnalysisSettings:
    """The config's ``meta_analysis`` block (its defaults are the config schema's)."""

    method: str
    hartung_knapp: bool
    sensitivity_exclude_quality: tuple[str, ...]
    #: ``normal`` (metafor's default) or ``t`` (k - 2 df): evsynth.stats.PREDICTION_INTERVALS
    prediction_interval: str = "normal"

    @classmethod
    def from_config(cls, block: Mapping) -> MetaAnalysisSettings:
        return cls(
            method=block["method"],
            hartung_knapp=bool(block["hartung_knapp"]),
            sensitivity_exclude_quality=tuple(block["sensitivity_exclude_quality"]),
            prediction_interval=block["prediction_interval"],
        )


@dataclass(frozen=True)
class OutcomesPaths:
    """Every file the outcomes stage writes, as its rule names them; each ``*_figure`` is a
    figure's path without suffix (written as ``.png`` and ``.svg``)."""

    direction: Path
    direction_by_quality: Path
    meta_analysis: Path
    gap_map: Path
    direction_figure: Path
    forest_figure: Path
    effect_direction_figure: Path
    gap_map_figure: Path
    #: ``outcomes/study_weights.csv`` (:data:`STUDY_WEIGHT_COLUMNS`), what the appraisal
    #: stage weights by; written only when a path is given.
    study_weights: Path | None = None


def run_outcomes(
    studies_path: Path,
    outcomes_path: Path,
    codes_path: Path,
    codebook_path: Path,
    settings: MetaAnalysisSettings,
    forward: str,
    out: OutcomesPaths,
) -> None:
    """The outcomes stage: the direction tables, the meta-analyses and the gap map, and the
    direction, forest, effect-direction and gap-map figures, each where ``out`` says."""
    from evsynth.codebook import load_codebook
    from evsynth.figures import direction_chart, effect_direction_plot, forest_plot, gap_map_plot
    from evsynth.tally import codes_forward, read_codes

    codebook = load_codebook(codebook_path)
    studies = read_typed(studies_path)
    outcomes = read_typed(outcomes_path)
    with_quality = outcomes.merge(studies[["study_id", "quality"]], on="study_id", how="left")
    every = per_study_directions(outcomes)  # one direction per study and outcome
    # The studies whose design votes, and those left out (None: the codebook leaves none out).
    votes, left_out = split_votes(every, studies, codebook)
    direction = direction_summary(outcomes, codebook, per_study=votes, left_out=left_out)
    write_table(direction, out.direction)
    write_table(
        direction_summary(with_quality, codebook, by="quality", per_study=votes, left_out=left_out),
        out.direction_by_quality,
    )
    excluded = settings.sensitivity_exclude_quality
    pooled = meta_analysis(
        outcomes,
        studies,
        codebook,
        methods=(settings.method,),
        hartung_knapp=settings.hartung_knapp,
        sensitivity_exclude_quality=excluded,
        prediction_interval=settings.prediction_interval,
    )
    effects = effect_sizes(outcomes)
    pooled = with_mantel_haenszel(pooled, effects)
    write_table(pooled, out.meta_analysis)
    outcome_labels = {code: o.label for code, o in codebook.outcomes.items()}
    direction_chart(direction, out.direction_figure)
    weights = pooled_study_weights(effects, pooled)
    if out.study_weights is not None:
        write_table(weights[STUDY_WEIGHT_COLUMNS], out.study_weights)
    forest_plot(
        weights,
        pooled,
        out.forest_figure,
        benefit={code: o.benefit for code, o in codebook.outcomes.items()},
        sensitivity_label=sensitivity_label(excluded),
    )
    effect_direction_plot(
        effect_direction_cells(outcomes, votes),
        studies,
        direction,
        outcome_labels,
        out.effect_direction_figure,
        **({} if left_out is None else {"not_shown": not_shown_note(left_out, codebook)}),
    )
    codes = codes_forward(read_codes(codes_path), forward)
    # The gap map maps where evidence is, not a vote: every study with the outcome is in it.
    gaps = gap_map(codes, outcomes, codebook, every)
    write_table(gaps, out.gap_map)
    themes = pd.DataFrame(
        [(t.code, t.label, t.level) for t in codebook.themes], columns=["code", "label", "level"]
    )
    gap_map_plot(
        gaps.assign(net_direction=net_direction(gaps)), themes, outcome_labels, out.gap_map_figure
    )
