"""Subgroup analyses: random-effects pooling within the subgroups of a study field, the test
for subgroup differences, and the direction counts with the sign test per subgroup.

The config's ``meta_analysis.subgroups`` names study fields (``design``, ``quality``,
``source_type``, ``intervention_type`` or a category or boolean field of the codebook, such as
``delivery_org``). For every (outcome, effect measure) with at least two estimates and every
such field, the studies are split by their value of the field and each subgroup is pooled on
its own, with its own tau² from the config's estimator (metafor: ``rma(yi, vi,
subset = alloc == "random")``; the Cochrane Handbook 10.11.3.1 and RevMan likewise estimate
tau² separately within each subgroup).

The test for subgroup differences (a choice, written in the contract too): Cochran's Q across
the subgroup estimates, ``Q = sum_j w_j (mu_j - mu_w)^2`` with ``w_j = 1 / se_j^2`` over the
subgroups' random-effects estimates, chi-square with J - 1 df (Borenstein et al. 2009,
*Introduction to Meta-Analysis*, ch. 19, "separate estimates of tau²"; Cochrane Handbook
10.11.3.1; what RevMan prints as "Test for subgroup differences"). Not the moderator test of a
mixed-effects model (metafor ``rma(yi, vi, mods = ~ factor(alloc))``), because that model
assumes one tau² shared by every subgroup and so tests estimates other than the ones this
table and the grouped forest plot show; the Q test compares exactly the rows printed, and
takes a subgroup of one study (its own estimate) as RevMan does.

Decisions, each also in the contract:

* A study whose field is blank is in a ``not_recorded`` subgroup, listed but left out of the
  test (a missing value is not a category to compare).
* A study with several values (a multi-valued field such as ``intervention_type``) is pooled in
  each of its subgroups, so that every subgroup shows all its evidence; the subgroups then
  share studies, are not independent, and get no test (the note names the studies).
* A subgroup of one study: its row carries that study's estimate and 95% CI, no tau².
* A field with one subgroup: its row and no test. A field the review's codebook lacks, or that
  is not a category field: skipped, with a note row in the table and in the log.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from evsynth.codebook import Codebook
from evsynth.contract import EFFECT_MEASURES, QUALITY, RATIO_MEASURES, SOURCE_TYPES
from evsynth.escape import markdown_text as md
from evsynth.markdown_blocks import figure, number, p_value, pipe_table
from evsynth.outcomes import (
    DIRECTION_ORDER,
    effect_sizes,
    joined_sorted,
    per_study_directions,
    split_votes,
)
from evsynth.stats import random_effects_many, sign_test

log = logging.getLogger(__name__)

#: The value a study with a blank cell is grouped under (as ``tallies/characteristics.csv``).
NOT_RECORDED = "not_recorded"
_Z = float(special.ndtri(0.975))

SUBGROUP_COLUMNS = [
    "outcome",
    "effect_measure",
    "field",
    "value",
    "k",
    "estimate",
    "ci_lower",
    "ci_upper",
    "tau2",
    "q_between",
    "df_between",
    "p_between",
    "method",
    "se",
    "i2",
    "scale",
    "label",
    "field_label",
    "value_label",
    "note",
    "study_ids",
]
DIRECTION_COLUMNS = [
    "outcome",
    "field",
    "value",
    "k",
    *(f"n_{d}" for d in DIRECTION_ORDER),
    "sign_test_p",
    "label",
    "field_label",
    "value_label",
    "study_ids",
]


@dataclass(frozen=True)
class SubgroupField:
    """A study field subgroups can be formed by: its label, its codes in order, and whether a
    cell may hold several of them."""

    name: str
    label: str
    values: dict[str, str]
    multi: bool


def subgroup_field(codebook: Codebook, name: str) -> SubgroupField | str:
    """The field ``name`` as the review declares it, or why it cannot form subgroups."""
    if name == "design":
        return SubgroupField("design", "Study design", dict(codebook.vocabularies["design"]), False)
    if name == "quality":
        return SubgroupField("quality", "Study quality", dict(QUALITY), False)
    if name == "source_type":
        return SubgroupField("source_type", "Source type", dict(SOURCE_TYPES), False)
    if name == "intervention_type":
        if "intervention_type" not in codebook.vocabularies:
            return "the codebook has no intervention_type vocabulary"
        values = dict(codebook.vocabularies["intervention_type"])
        return SubgroupField(name, "Intervention type", values, True)
    spec = codebook.fields.get(name)
    if spec is None:
        return f"the codebook of review '{codebook.review}' has no field '{name}'"
    if spec.type == "boolean":
        return SubgroupField(name, spec.label, {"true": "Yes", "false": "No"}, False)
    if spec.type != "category":
        return f"field '{name}' is of type {spec.type}, not a category field"
    return SubgroupField(name, spec.label, dict(spec.values), spec.multi)


def membership(studies: pd.DataFrame, field: SubgroupField) -> pd.DataFrame:
    """One row per (study_id, value): a multi-valued cell gives one row per value, a blank cell
    the value :data:`NOT_RECORDED`."""
    cells = studies.drop_duplicates("study_id")[["study_id", field.name]].astype(str)
    # Each distinct cell text is split once (a field has a few dozen, not 100,000 studies):
    # a Python loop over every study's cell was half of the subgroups stage's time.
    cell, texts = pd.factorize(cells[field.name], use_na_sentinel=False)
    parts = [
        [v.strip() for v in (text.split(";") if field.multi else [text]) if v.strip()]
        for text in texts
    ]
    names = np.array([v for ps in parts for v in ps], dtype=object)
    size = np.array([len(ps) for ps in parts], dtype=np.int64)
    start = np.cumsum(size) - size
    # (study row, value) pairs: each study's values in its cell's order, studies in order
    n_parts = size[cell]
    row = np.repeat(np.arange(len(cell)), n_parts)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(n_parts) - n_parts, n_parts)
    ids = cells["study_id"].to_numpy(dtype=object)
    pairs = pd.DataFrame(
        {"study_id": ids[row], "value": names[np.repeat(start[cell], n_parts) + offset]},
        columns=["study_id", "value"],
    )
    blank = np.sort(ids[n_parts == 0])
    blanks = pd.DataFrame({"study_id": blank, "value": NOT_RECORDED})
    return pd.concat([pairs, blanks], ignore_index=True).drop_duplicates()


def _value_order(field: SubgroupField, values: Sequence[str]) -> list[str]:
    """Codes in the vocabulary's order, anything else after them by name, blank last."""
    known = [v for v in field.values if v in values]
    other = sorted(set(values) - set(field.values) - {NOT_RECORDED})
    return known + other + ([NOT_RECORDED] if NOT_RECORDED in values else [])


def _value_label(field: SubgroupField, value: str) -> str:
    return "Not recorded" if value == NOT_RECORDED else field.values.get(value, value)


def difference_test(estimates: Sequence[float], ses: Sequence[float]) -> tuple[float, int, float]:
    """The test for subgroup differences: Cochran's Q across the subgroup estimates (analysis
    scale) with inverse-variance weights 1/se², chi-square with J - 1 df (Borenstein et al.
    2009 ch. 19; Cochrane Handbook 10.11.3.1). Returns (Q, df, p); NaNs for fewer than two."""
    y = np.asarray(estimates, dtype=float)
    w = 1.0 / np.asarray(ses, dtype=float) ** 2
    if y.size < 2:
        return (math.nan, 0, math.nan)
    mean = float(w.dot(y) / w.sum())
    q = max(0.0, float(w.dot((y - mean) ** 2)))
    df = int(y.size - 1)
    return (q, df, float(special.chdtrc(df, q)))


def skipped_row(field: str, reason: str) -> dict:
    """The table's note row for a field that cannot form subgroups in this review."""
    return {"field": field, "note": f"skipped: {reason}"}


def subgroup_analysis(
    outcomes: pd.DataFrame,
    studies: pd.DataFrame,
    codebook: Codebook,
    fields: Sequence[str],
    method: str = "REML",
    hartung_knapp: bool = False,
) -> pd.DataFrame:
    """``outcomes/subgroups.csv``: per (outcome, effect measure) with k >= 2, per field and
    value, the subgroup's random-effects estimate with its own tau², and per (outcome, measure,
    field) the test for subgroup differences on every row of it (see the module docstring)."""
    effects = effect_sizes(outcomes)
    pairs = [
        (key, group)
        for key, group in effects.groupby(["outcome", "effect_measure"], sort=True)
        if len(group) >= 2
    ]
    rows: list[dict] = []
    for name in fields:
        field = subgroup_field(codebook, name)
        if isinstance(field, str):
            log.warning("subgroups: %s skipped: %s", name, field)
            rows.append(skipped_row(name, field))
            continue
        members = membership(studies, field)
        for (outcome, measure), group in pairs:
            rows += _field_rows(group.merge(members, on="study_id"), field, outcome, measure)
    return _pool(rows, codebook, method, hartung_knapp)


def _field_rows(data: pd.DataFrame, field: SubgroupField, outcome: str, measure: str) -> list:
    """One planned row per value (its studies in ``data``), the pooling still to do."""
    shared = sorted(data.loc[data["study_id"].duplicated(), "study_id"].unique())
    out = []
    for value in _value_order(field, list(data["value"].unique())):
        studies = data[data["value"] == value].sort_values("study_id")
        out.append(
            {
                "outcome": outcome,
                "effect_measure": measure,
                "field": field.name,
                "value": value,
                "k": len(studies),
                "field_label": field.label,
                "value_label": _value_label(field, value),
                "study_ids": ";".join(studies["study_id"]),
                "_data": studies,
                "_shared": shared,
            }
        )
    return out


def _pool(rows: list[dict], codebook: Codebook, method: str, hartung_knapp: bool) -> pd.DataFrame:
    plan = [r for r in rows if r.get("k", 0) >= 2]
    if plan:
        # Every subgroup in one batched call (subgroup i is group i), as meta_analysis does.
        yi = np.concatenate([r["_data"]["yi"].to_numpy() for r in plan])
        vi = np.concatenate([r["_data"]["vi"].to_numpy() for r in plan])
        group = np.repeat(np.arange(len(plan)), [r["k"] for r in plan])
        fits = random_effects_many(yi, vi, group, method=method, hartung_knapp=hartung_knapp)
        for i, r in enumerate(plan):
            fit = fits[i]
            r |= {
                "_y": fit.estimate,
                "se": fit.se,
                "_lo": fit.ci_lower,
                "_hi": fit.ci_upper,
                "tau2": fit.tau2,
                "i2": fit.i2,
                "method": fit.method,
            }
    for r in rows:
        if r.get("k") == 1:
            # One study: its own estimate and 95% CI, as RevMan shows a one-study subgroup.
            y, v = float(r["_data"]["yi"].iloc[0]), float(r["_data"]["vi"].iloc[0])
            se = math.sqrt(v)
            r |= {"_y": y, "se": se, "_lo": y - _Z * se, "_hi": y + _Z * se}
            r["note"] = "one study: its own estimate and 95% CI"
    _add_tests(rows)
    for r in rows:
        if "_y" in r:
            back = np.exp if r["effect_measure"] in RATIO_MEASURES else float
            r |= {
                "estimate": float(back(r["_y"])),
                "ci_lower": float(back(r["_lo"])),
                "ci_upper": float(back(r["_hi"])),
                "scale": "ratio" if r["effect_measure"] in RATIO_MEASURES else "difference",
                "label": codebook.outcomes[r["outcome"]].label,
            }
    frame = pd.DataFrame(rows, columns=SUBGROUP_COLUMNS)
    return frame.astype({"k": "Int64", "df_between": "Int64"})


def _add_tests(rows: list[dict]) -> None:
    """The test for subgroup differences, on every row of its (outcome, measure, field)."""
    keys: dict[tuple, list[dict]] = {}
    for r in rows:
        if "outcome" in r:
            keys.setdefault((r["outcome"], r["effect_measure"], r["field"]), []).append(r)
    for members in keys.values():
        tested = [r for r in members if r["value"] != NOT_RECORDED]
        shared = members[0]["_shared"]
        why = ""
        if shared:
            why = (
                "no test: the subgroups share studies (" + ";".join(shared) + ") with "
                "several values, so they are not independent"
            )
        elif len(tested) < 2:
            why = "no test: one subgroup"
        if why:
            for r in members:
                r["note"] = "; ".join(filter(None, [r.get("note", ""), why]))
            continue
        # Each subgroup's SE as its CI uses it (Hartung-Knapp's where the config sets it), so
        # the test weighs the subgroups as the table and the plot show them.
        q, df, p = difference_test([r["_y"] for r in tested], [r["se"] for r in tested])
        for r in members:
            r |= {"q_between": q, "df_between": df, "p_between": p}
        for r in members:
            if r["value"] == NOT_RECORDED:
                r["note"] = "not in the test: the field is blank for these studies"


def subgroup_directions(
    outcomes: pd.DataFrame, studies: pd.DataFrame, codebook: Codebook, fields: Sequence[str]
) -> pd.DataFrame:
    """``outcomes/subgroups_direction.csv``: per outcome, field and value, the voting studies
    by direction and the sign test of benefit against harm (as ``direction.csv``: designs the
    codebook marks ``votes: false`` are left out; a multi-valued study counts in each of its
    subgroups). Skipped fields have no rows here (their note is in ``subgroups.csv``)."""
    votes, _ = split_votes(per_study_directions(outcomes), studies, codebook)
    rows = []
    for name in fields:
        field = subgroup_field(codebook, name)
        if isinstance(field, str):
            continue
        data = votes.merge(membership(studies, field), on="study_id")
        for outcome, by_outcome in data.groupby("outcome", sort=True):
            for value in _value_order(field, list(by_outcome["value"].unique())):
                group = by_outcome[by_outcome["value"] == value]
                counts = group["direction"].value_counts()
                n = {d: int(counts.get(d, 0)) for d in DIRECTION_ORDER}
                rows.append(
                    {
                        "outcome": outcome,
                        "field": field.name,
                        "value": value,
                        "k": len(group),
                        **{f"n_{d}": n[d] for d in DIRECTION_ORDER},
                        "sign_test_p": sign_test(n["benefit"], n["harm"]),
                        "label": codebook.outcomes[outcome].label,
                        "field_label": field.label,
                        "value_label": _value_label(field, value),
                        "study_ids": joined_sorted(group["study_id"]),
                    }
                )
    return pd.DataFrame(rows, columns=DIRECTION_COLUMNS)


@dataclass(frozen=True)
class SubgroupPaths:
    """Every file the subgroups stage writes, as its rule names them (the figure without
    suffix: written as ``.png`` and ``.svg``)."""

    subgroups: Path
    direction: Path
    figure: Path


def run_subgroups(
    studies_path: Path,
    outcomes_path: Path,
    codebook_path: Path,
    fields: Sequence[str],
    method: str,
    hartung_knapp: bool,
    out: SubgroupPaths,
) -> None:
    """The subgroups stage: ``subgroups.csv``, ``subgroups_direction.csv`` and the grouped
    forest plot, each where ``out`` says."""
    from evsynth.codebook import load_codebook
    from evsynth.figures.subgroups import subgroup_forest_plot
    from evsynth.handoff import read_typed
    from evsynth.tables import write_table

    codebook = load_codebook(codebook_path)
    studies = read_typed(studies_path)
    outcomes = read_typed(outcomes_path)
    table = subgroup_analysis(outcomes, studies, codebook, fields, method, hartung_knapp)
    write_table(table, out.subgroups)
    write_table(subgroup_directions(outcomes, studies, codebook, fields), out.direction)
    benefit = {code: o.benefit for code, o in codebook.outcomes.items()}
    subgroup_forest_plot(table, effect_sizes(outcomes), out.figure, benefit=benefit)


# --- Report partials ------------------------------------------------------------------------


def _tested(table: pd.DataFrame) -> pd.DataFrame:
    """The pooled rows (every row with an estimate), in the table's order."""
    if table.empty or "estimate" not in table:
        return table.iloc[:0]
    return table[table["estimate"].notna()]


def subgroups_alt_text(table: pd.DataFrame) -> str:
    """The grouped forest plot's alt text: per panel each subgroup's estimate, CI, k and tau²,
    and the test for subgroup differences (capped as every alt text, evsynth.alt_text)."""
    from evsynth.alt_text import _capped, _num, _text

    items = []
    for _, group in _tested(table).groupby(["outcome", "effect_measure", "field"], sort=False):
        first = group.iloc[0]
        parts = [
            f"{_text(r['value_label'])}: {_num(r['estimate'])} (95% CI {_num(r['ci_lower'])} "
            f"to {_num(r['ci_upper'])}), k {int(r['k'])}"
            + (f", tau² {_num(r['tau2'], 3)}" if pd.notna(r["tau2"]) else ", one study")
            for _, r in group.iterrows()
        ]
        test = (
            f"test for subgroup differences Q {_num(first['q_between'])}, df "
            f"{int(first['df_between'])}, p {_num(first['p_between'], 3)}"
            if pd.notna(first["q_between"])
            else "no test for subgroup differences"
        )
        measure = EFFECT_MEASURES.get(first["effect_measure"], first["effect_measure"])
        items.append(
            f"{_text(first['label'])}, {measure.lower()}, by {_text(first['field_label'])}: "
            + ", ".join(parts)
            + f"; {test}"
        )
    return _capped("Grouped forest plot. ", items)


def subgroups_section(table: pd.DataFrame) -> str:
    """``_generated/subgroups.md``: the subgroup table and the grouped forest plot, with how
    the subgroups were pooled and tested; "" when the config names no subgroup field."""
    if table.empty or not (table["outcome"].notna() & (table["outcome"].astype(str) != "")).any():
        return ""  # no subgroup field, or every one skipped (the note is in the table)
    pooled = _tested(table)
    skipped = table[table["outcome"].isna() | (table["outcome"].astype(str) == "")]
    fields = sorted(set(pooled["field_label"])) if len(pooled) else []
    out = ["### Subgroup analyses {#subgroups}\n"]
    out.append(
        "Each outcome was pooled again within each subgroup"
        + (f" of {md(', '.join(f.lower() for f in fields))}" if fields else "")
        + ", each subgroup with its own between-study variance (τ²). The test for subgroup "
        "differences is Cochran's Q across the subgroup estimates, as RevMan reports it "
        "(Cochrane Handbook 10.11.3.1). Subgroups compare studies, not randomised groups, and "
        "with few studies in each a real difference can go undetected: read them as a prompt "
        "for questions, not as proof.\n"
    )
    if len(pooled):
        rows = []
        for r in pooled.itertuples(index=False):
            test = (
                f"Q = {number(r.q_between)}, df = {int(r.df_between)}, p = {p_value(r.p_between)}"
                if pd.notna(r.q_between)
                else "no test"
            )
            rows.append(
                [
                    md(r.label),
                    md(EFFECT_MEASURES.get(r.effect_measure, r.effect_measure)),
                    md(r.value_label),
                    str(int(r.k)),
                    f"{number(r.estimate)} ({number(r.ci_lower)} to {number(r.ci_upper)})",
                    number(r.tau2, 3) if pd.notna(r.tau2) else "one study",
                    test,
                ]
            )
        out.append(
            pipe_table(
                ["Outcome", "Measure", "Subgroup", "Studies", "Estimate (95% CI)", "τ²", "Test"],
                rows,
                [16, 12, 20, 8, 20, 8, 20],
                "lllrrrl",
                "Subgroup analyses: each subgroup pooled with its own τ², and the test for "
                "subgroup differences",
            )
        )
        out.append(
            figure(
                "figures/subgroups_forest.svg",
                "Grouped forest plot: the studies under each subgroup with their 95% confidence "
                "intervals, each subgroup's pooled estimate (diamond) and, under each panel, "
                "the test for subgroup differences.",
                subgroups_alt_text(table),
                "fig-subgroups",
            )
        )
    else:
        out.append("No outcome had two or more effect estimates to pool within subgroups.\n")
    notes = [md(str(n)) for n in pooled["note"].dropna().unique() if str(n).startswith("no test")]
    notes += [f"{md(str(r.field))}: {md(str(r.note))}" for r in skipped.itertuples(index=False)]
    if notes:
        out.append("Notes: " + "; ".join(notes) + ".\n")
    return "\n".join(out)


def subgroups_sentence(table: pd.DataFrame) -> str:
    """``_generated/subgroups-sentence.md``: one plain sentence on the first subgroup
    comparison that was tested, for a summary or briefing; "" when none was."""
    pooled = _tested(table)
    if pooled.empty or pooled["q_between"].isna().all():
        return ""
    key = pooled[pooled["q_between"].notna()].iloc[0]
    group = pooled[
        (pooled["outcome"] == key["outcome"])
        & (pooled["effect_measure"] == key["effect_measure"])
        & (pooled["field"] == key["field"])
        & (pooled["value"] != NOT_RECORDED)
    ]
    measure = EFFECT_MEASURES.get(key["effect_measure"], key["effect_measure"]).lower()
    parts = [
        f"{number(r.estimate)} (95% CI {number(r.ci_lower)} to {number(r.ci_upper)}; "
        f"{r.k} stud{'y' if r.k == 1 else 'ies'}) for {md(r.value_label.lower())}"
        for r in group.itertuples(index=False)
    ]
    clear = "is" if key["p_between"] < 0.05 else "is not"
    return (
        f"Pooled separately by {md(key['field_label'].lower())}, the {measure} for "
        f"{md(key['label'].lower())} was "
        + ", ".join(parts[:-1])
        + f" and {parts[-1]}; the difference between them {clear} clear (test for subgroup "
        f"differences, p = {p_value(key['p_between'])}).\n"
    )


def subgroup_partials(table: pd.DataFrame) -> dict[str, str]:
    """The report's subgroup partials (``_generated/``): the evidence review's section and the
    one sentence a summary or briefing may quote."""
    return {
        "subgroups.md": subgroups_section(table),
        "subgroups-sentence.md": subgroups_sentence(table),
    }
