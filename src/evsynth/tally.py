"""Thematic tallies: how many included studies each theme appears in, rolled up the tree.

A study coded with ``cc.language`` counts for ``cc`` too, and counts once per theme however
many child codes or coders it has (data contract §3). Every count carries its study IDs so a
reviewer can trace it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from evsynth.codebook import Codebook
from evsynth.contract import MULTI_SEPARATOR, QUALITY, SOURCE_TYPES
from evsynth.handoff import read_typed
from evsynth.tables import write_table

ID_SEPARATOR = ";"


def _ancestor_matrix(codebook: Codebook) -> sparse.csr_array:
    """Theme × theme 0/1 matrix, tree order: row i has a 1 at theme i and at each ancestor."""
    order = [t.code for t in codebook.themes]
    position = {code: i for i, code in enumerate(order)}
    rows, cols = [], []
    for i, code in enumerate(order):
        for ancestor in codebook.lineage[code]:
            rows.append(i)
            cols.append(position[ancestor])
    return sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(order), len(order)))


@dataclass(frozen=True)
class _Incidence:
    """Which study has which theme, rolled up the tree: one row per study, one column per theme.

    ``matrix`` is sparse float64 0/1 (100,000 studies × 300 themes stays small); rows are
    ``study_ids`` (sorted, unique), columns the codebook's themes in tree order. Codes the
    codebook does not know are left out, as the tallies always left them out.
    """

    study_ids: pd.Index
    themes: list[str]
    matrix: sparse.csr_array

    @cached_property
    def by_theme(self) -> sparse.csc_array:
        """The same matrix by column, each column's study rows in sorted order."""
        csc = self.matrix.tocsc()
        csc.sort_indices()
        return csc

    def studies_of(self, j: int) -> np.ndarray:
        """Row numbers (into ``study_ids``, ascending) of the studies that have theme ``j``."""
        csc = self.by_theme
        return csc.indices[csc.indptr[j] : csc.indptr[j + 1]]

    @cached_property
    def arrow_ids(self) -> pa.Array:
        """``study_ids`` as one Arrow array (for :func:`join_runs`)."""
        return _arrow_text(pd.Series(self.study_ids), pa.large_string())


def join_runs(names: pa.Array, members: np.ndarray, lengths: np.ndarray) -> list[str]:
    """For each run of ``lengths`` consecutive ``members`` (positions into ``names``), those
    names joined with :data:`ID_SEPARATOR`: one ``study_ids`` cell per run, in Arrow (a
    Python join per cell was a third of the gap map's time; the cells hold 2M IDs at 100,000
    studies). ``names`` is a large_string array (offsets that cannot overflow)."""
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    values = names.take(pa.array(members, type=pa.int64()))
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), values)
    return pc.binary_join(lists, pa.scalar(ID_SEPARATOR, pa.large_string())).to_pylist()


def _incidence(codes: pd.DataFrame, codebook: Codebook) -> _Incidence:
    order = [t.code for t in codebook.themes]
    # In Arrow, on integer codes: pandas' get_indexer and factorize box each of a million
    # Arrow strings as a Python object (0.4 s of every tally rule at 1M code rows).
    theme = pc.index_in(_arrow_text(codes["code"]), value_set=pa.array(order, pa.string()))
    study = _arrow_text(codes["study_id"])
    # Codes the codebook does not know (null theme) and blank (null) study IDs count for nothing.
    keep = pc.and_(pc.is_valid(theme), pc.is_valid(study))
    theme = pc.filter(theme, keep).to_numpy(zero_copy_only=False).astype(np.int64)
    study, study_ids = _sorted_codes(pc.filter(study, keep))
    direct = sparse.csr_array(
        (np.ones(len(study)), (study, theme)), shape=(len(study_ids), len(order))
    )
    rolled = (direct @ _ancestor_matrix(codebook)).tocsr()
    rolled.sum_duplicates()
    rolled.data[:] = 1.0  # every stored entry is a positive count of (study, code) rows
    return _Incidence(study_ids, order, rolled)


def _arrow_text(values: pd.Series, kind: pa.DataType | None = None) -> pa.Array:
    """A text column as one Arrow string array (no copy when pandas holds it in Arrow)."""
    array = pa.array(values, type=kind or pa.string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _sorted_codes(values: pa.Array) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, sort=True)`` for a string array, in Arrow: each value's
    position among the distinct values (-1 for a null), and the distinct values sorted
    (Arrow sorts strings by their UTF-8 bytes, which is the order of their code points, as
    Python and pandas sort them)."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    rank = pc.array_sort_indices(encoded.dictionary).to_numpy()
    position = np.empty(len(rank) + 1, dtype=np.int64)  # the last slot: a null's -1
    position[rank] = np.arange(len(rank))
    position[-1] = -1
    index = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return position[index], pd.Index(encoded.dictionary.take(pa.array(rank)).to_pandas())


def factorize_text(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(values, sort=True)`` for a text column (:func:`_sorted_codes`):
    pandas' own boxes each Arrow string as a Python object."""
    return _sorted_codes(_arrow_text(values))


def theme_incidence(codes: pd.DataFrame, codebook: Codebook) -> _Incidence:
    """Which study has which theme, rolled up the tree (a sparse study × theme 0/1 matrix);
    shared by the tallies and the outcomes stage's gap map."""
    return _incidence(codes, codebook)


def theme_tally(studies: pd.DataFrame, codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """``tallies/themes.csv``: code, label, parent, level, n_studies, pct_studies, study_ids.

    Rows follow the codebook's tree order; themes no study has are listed with zero, since an
    empty theme is a finding too (an evidence gap).
    """
    return _theme_tally(len(studies), _incidence(codes, codebook), codebook)


def _theme_tally(n_included: int, inc: _Incidence, codebook: Codebook) -> pd.DataFrame:
    csc = inc.by_theme  # each theme's studies, ascending rows, i.e. sorted study IDs
    n = np.diff(csc.indptr)
    return pd.DataFrame(
        {
            "code": [t.code for t in codebook.themes],
            "label": [t.label for t in codebook.themes],
            "parent": [t.parent or "" for t in codebook.themes],
            "level": [t.level for t in codebook.themes],
            "n_studies": [int(k) for k in n],
            "pct_studies": [round(100 * int(k) / n_included, 1) if n_included else 0.0 for k in n],
            "study_ids": join_runs(inc.arrow_ids, csc.indices, n),
        },
        columns=["code", "label", "parent", "level", "n_studies", "pct_studies", "study_ids"],
    )


def study_category_fields(codebook: Codebook) -> dict[str, dict[str, str]]:
    """Every category column of the studies sheet with its vocabulary (code -> label)."""
    fields = {
        "source_type": SOURCE_TYPES,
        "design": codebook.vocabularies["design"],
        "quality": QUALITY,
    }
    if "intervention_type" in codebook.vocabularies:
        fields["intervention_type"] = codebook.vocabularies["intervention_type"]
    for f in codebook.fields.values():
        if f.type == "category":
            fields[f.name] = f.values
        elif f.type == "boolean":
            fields[f.name] = {"true": "Yes", "false": "No"}
    return fields


def theme_crosstab(
    studies: pd.DataFrame,
    codes: pd.DataFrame,
    codebook: Codebook,
    field: str,
    values: dict[str, str],
) -> pd.DataFrame:
    """``tallies/themes_by_<field>.csv``: studies per theme and value of one study field.

    Multi-valued fields count a study under each of its values, so rows can sum to more than
    the theme's total; blanks are counted under ``not_recorded``.
    """
    return _theme_crosstab(studies, _incidence(codes, codebook), codebook, field, values)


def _theme_crosstab(
    studies: pd.DataFrame, inc: _Incidence, codebook: Codebook, field: str, values: dict[str, str]
) -> pd.DataFrame:
    """Theme × value counts: the rolled-up incidence matrix times a study × value matrix."""
    given = studies[field].fillna("").astype(str)
    ids = studies["study_id"]
    if given.str.contains(MULTI_SEPARATOR, regex=False).any():
        exploded = given.str.split(MULTI_SEPARATOR).explode()
        ids, given = ids.loc[exploded.index], exploded
    given = given.replace("", "not_recorded")
    # (study, value) rows, one per study and value it lists (as often as it lists it)
    columns = list(dict.fromkeys([*values, "not_recorded"]))
    value = pd.Index(columns).get_indexer(given)  # -1: not in the vocabulary
    study = inc.study_ids.get_indexer(ids)
    keep = (value >= 0) & (study >= 0)
    per_value = sparse.csr_array(
        (np.ones(int(keep.sum())), (study[keep], value[keep])),
        shape=(len(inc.study_ids), len(columns)),
    )
    counts = np.rint((inc.matrix.T @ per_value).toarray()).astype(np.int64)  # theme × value
    count_of = dict(zip(columns, counts.T, strict=True))
    wanted = list(values) + (["not_recorded"] if count_of["not_recorded"].any() else [])
    out = pd.DataFrame(
        {i: count_of[name] for i, name in enumerate(wanted)}, index=range(len(inc.themes))
    )
    out.columns = wanted
    out.insert(0, "code", inc.themes)
    out.insert(1, "label", [t.label for t in codebook.themes])
    return out


def cooccurrence(codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """``tallies/cooccurrence.csv``: studies coded with both themes (diagonal: with the theme)."""
    return _cooccurrence(_incidence(codes, codebook))


def _cooccurrence(inc: _Incidence) -> pd.DataFrame:
    both = (inc.matrix.T @ inc.matrix).toarray()  # float64 sums of 0/1: exact counts
    out = pd.DataFrame(np.rint(both).astype(np.int64), columns=inc.themes)
    out.insert(0, "code", inc.themes)
    return out


# --- Characteristics of the included studies --------------------------------------------------

CHARACTERISTICS_COLUMNS = [
    "characteristic",
    "value",
    "label",
    "n_studies",
    "pct_studies",
    "study_ids",
]
NOT_RECORDED = "not_recorded"


@dataclass(frozen=True)
class _StudyIds:
    """The studies sheet's IDs as integers: ``code[i]`` is row i's position in ``names``,
    the distinct IDs in sorted order (so ascending codes are sorted IDs)."""

    code: np.ndarray
    names: np.ndarray

    @classmethod
    def of(cls, ids: pd.Series) -> _StudyIds:
        # Sorted as Python sorts str (numpy sorts an object array by the strings' <).
        code, names = pd.factorize(ids.astype(str).to_numpy(dtype=object), sort=True)
        return cls(code, np.asarray(names, dtype=object))


def _value_rows(
    characteristic: str,
    ids: _StudyIds,
    values: pd.Series,
    vocabulary: dict[str, str] | None,
    n_included: int,
) -> list[dict]:
    """One row per value of one study field: the studies listing it (a multi-valued cell
    counts under each of its values, once per study). With a vocabulary, every code is listed
    in its order, with zero where no study has it, then ``not_recorded`` if any cell is blank;
    without one (countries, years), the values given, most studies first, then by value."""
    members = _members_by_value(ids, values)
    if vocabulary is not None:
        order = list(vocabulary) + ([NOT_RECORDED] if NOT_RECORDED in members else [])
        labels = {**vocabulary, NOT_RECORDED: "Not recorded"}
    else:
        known = {v: m for v, m in members.items() if v != NOT_RECORDED}
        order = sorted(known, key=lambda v: (-len(known[v]), v))
        labels = {v: v for v in order}
    empty = np.array([], dtype=object)
    rows = []
    for value in order:
        studies = members.get(value, empty)
        rows.append(
            {
                "characteristic": characteristic,
                "value": value,
                "label": labels[value],
                "n_studies": len(studies),
                # Not rounded: the report prints whole percentages of the exact share.
                "pct_studies": 100 * len(studies) / n_included if n_included else 0.0,
                "study_ids": ID_SEPARATOR.join(studies.tolist()),
            }
        )
    return rows


def _members_by_value(ids: _StudyIds, values: pd.Series) -> dict[str, np.ndarray]:
    """Each value of a study field with the distinct IDs of the studies listing it, sorted.

    When any cell of the column holds several values, every cell is split on the separator
    and its parts stripped; a blank cell or part is :data:`NOT_RECORDED`. The splitting is
    done once per distinct cell text (a field has a few dozen, not 100,000) and the grouping
    on integer codes: grouping the Arrow strings themselves boxed every one of them as a
    Python object (2.3 s of the tally stage at 100,000 studies).
    """
    cell, texts = pd.factorize(values.fillna("").astype(str))  # no -1: blanks are "" now
    multi = any(MULTI_SEPARATOR in t for t in texts)
    parts = [
        [p.strip() or NOT_RECORDED for p in t.split(MULTI_SEPARATOR)]
        if multi
        else [t or NOT_RECORDED]
        for t in texts
    ]
    names = list(dict.fromkeys(p for ps in parts for p in ps))
    index = {name: i for i, name in enumerate(names)}
    # Every distinct text's parts as value numbers, end to end, and where each text's start.
    flat = np.array([index[p] for ps in parts for p in ps], dtype=np.int64)
    size = np.array([len(ps) for ps in parts], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    # (studies row, value) pairs: each cell's parts, as often as the cell lists them
    n_parts = size[cell]
    row = np.repeat(np.arange(len(cell)), n_parts)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(n_parts) - n_parts, n_parts)
    value = flat[np.repeat(start[cell], n_parts) + offset]
    pair_value, pair_study = _unique_pairs(value, ids.code[row], len(ids.names))
    bounds = np.searchsorted(pair_value, np.arange(len(names) + 1))
    return {
        name: ids.names[pair_study[bounds[i] : bounds[i + 1]]]
        for i, name in enumerate(names)
        if bounds[i + 1] > bounds[i]
    }


def characteristics(studies: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """``tallies/characteristics.csv``: the included studies by each characteristic, with the
    study IDs behind every count (what the report's "what we did" section shows).

    Rows: ``included`` (all studies), then each category field of the studies sheet
    (:func:`study_category_fields`: source type, design, quality, intervention type and the
    codebook's category and yes/no fields) in vocabulary order, then ``country`` (every
    country recorded, most studies first) and ``year`` (every publication year, ascending).
    """
    n = len(studies)
    ids = _StudyIds.of(studies["study_id"])
    rows = [
        {
            "characteristic": "included",
            "value": "all",
            "label": "Included records",
            "n_studies": n,
            "pct_studies": 100.0 if n else 0.0,
            "study_ids": ID_SEPARATOR.join(ids.names[np.sort(ids.code)].tolist()),
        }
    ]
    for field, vocabulary in study_category_fields(codebook).items():
        if field in studies:
            rows += _value_rows(field, ids, studies[field], vocabulary, n)
    if "country" in studies:
        rows += _value_rows("country", ids, studies["country"], None, n)
    years = studies["year"].astype("Int64")
    year_rows = _value_rows("year", ids, years.astype(str).where(years.notna(), ""), None, n)
    rows += sorted(year_rows, key=lambda r: int(r["value"]))
    return pd.DataFrame(rows, columns=CHARACTERISTICS_COLUMNS)


# --- Double coding -----------------------------------------------------------------------------

FORWARD_RULES = ("union", "consensus", "first_coder")


def codes_forward(codes: pd.DataFrame, rule: str) -> pd.DataFrame:
    """The coding that goes forward to the tallies where studies have several coders.

    - ``union``: a code counts for a study if any of its coders applied it (the config
      schema's default: nothing a coder saw is lost before reconciliation; the
      disagreements table shows what to reconcile).
    - ``consensus``: on multi-coder studies, only codes every coder of that study applied.
    - ``first_coder``: each study's coding by its alphabetically first coder.
    """
    if rule not in FORWARD_RULES:
        raise ValueError(f"unknown agreement.forward rule '{rule}'; use one of {FORWARD_RULES}")
    codes = codes.assign(coder=codes["coder"].fillna("").astype(str))
    if rule == "union":
        return codes
    study, study_ids = pd.factorize(codes["study_id"])  # -1: a blank study ID, never kept
    coder, coder_ids = pd.factorize(codes["coder"], sort=True)  # numbered alphabetically
    named = study >= 0
    if rule == "first_coder":
        first = np.full(len(study_ids) + 1, len(coder_ids))  # last slot: blank study IDs
        np.minimum.at(first, study[named], coder[named])
        return codes[named & (coder == first[study])]
    n_coders = np.bincount(
        _unique_pairs(study[named], coder[named], len(coder_ids))[0], minlength=len(study_ids)
    )
    code, code_ids = pd.factorize(codes["code"])
    named &= code >= 0
    s, c, k = study[named], code[named], coder[named]
    pair = s.astype(np.int64) * len(code_ids) + c
    by_pair, pairs = pd.factorize(pair)
    applied_by = np.bincount(_unique_pairs(by_pair, k, len(coder_ids))[0], minlength=len(pairs))
    keep = np.zeros(len(codes), dtype=bool)
    keep[named] = applied_by[by_pair] >= n_coders[s]
    kept = codes[keep]
    rest = [col for col in kept.columns if col not in ("study_id", "code")]
    return kept[["study_id", "code", *rest]].reset_index(drop=True)


def _unique_pairs(
    group: np.ndarray, member: np.ndarray, n_members: int
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (group, member) pairs of two integer arrays, sorted by group then member."""
    key = np.sort(group.astype(np.int64) * n_members + member)
    key = key[np.concatenate([[True], key[1:] != key[:-1]])] if len(key) else key
    return key // n_members, key % n_members


@dataclass(frozen=True)
class _DoubleCoding:
    """The double-coded studies' decisions and, per decision row, the two coders compared."""

    decisions: pd.DataFrame  # study_id, code, first, second; sorted by study_id then code
    coder_names: list[str]
    first_coder: np.ndarray  # name of the study's first coder, one per decisions row
    second_coder: np.ndarray


def _double_coding(codes: pd.DataFrame) -> _DoubleCoding:
    """For double-coded studies: one row per (study, code) with a yes/no column per coder.

    A study is double-coded when two or more named coders coded it; agreement is computed
    between its two alphabetically first coders.
    """
    named = codes[codes["coder"].fillna("") != ""]
    study, study_ids = factorize_text(named["study_id"])
    coder, coder_ids = factorize_text(named["coder"])
    code, code_ids = factorize_text(named["code"])
    has_study = study >= 0
    # each study's coders in alphabetical order: the first two are the ones compared
    pair_study, pair_coder = _unique_pairs(study[has_study], coder[has_study], len(coder_ids))
    n_coders = np.bincount(pair_study, minlength=len(study_ids))
    start = np.concatenate([[0], np.cumsum(n_coders)[:-1]])
    double = n_coders >= 2
    empty = pd.DataFrame(columns=["study_id", "code", "first", "second"])
    if not double.any():
        return _DoubleCoding(empty, [], np.array([], dtype=object), np.array([], dtype=object))
    first_of = np.where(double, pair_coder[np.minimum(start, len(pair_coder) - 1)], -1)
    second_of = np.where(double, pair_coder[np.minimum(start + 1, len(pair_coder) - 1)], -1)
    rows = has_study & (code >= 0)
    rows[rows] = double[study[rows]]
    s, c, k = study[rows], code[rows], coder[rows]
    row_of, key = pd.factorize(s.astype(np.int64) * len(code_ids) + c, sort=True)
    first = np.bincount(row_of, weights=k == first_of[s], minlength=len(key)) > 0
    second = np.bincount(row_of, weights=k == second_of[s], minlength=len(key)) > 0
    d_study, d_code = key // len(code_ids), key % len(code_ids)
    decisions = pd.DataFrame(
        {
            "study_id": study_ids.take(d_study),
            "code": code_ids.take(d_code),
            "first": first,
            "second": second,
        }
    )
    compared = np.unique(np.concatenate([first_of[double], second_of[double]]))
    names = coder_ids.to_numpy(dtype=object)
    return _DoubleCoding(
        decisions,
        coder_ids.take(compared).tolist(),
        names[first_of[d_study]],
        names[second_of[d_study]],
    )


def agreement_table(codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """``tallies/agreement.csv``: per code, percent agreement and Cohen's kappa.

    Over the double-coded studies, each code is a yes/no decision per study and coder; a study
    neither coder gave the code counts as agreement (both "no"). The last row, ``(all codes)``,
    pools every decision.
    """
    return _agreement_table(_double_coding(codes), codebook)


def _agreement_table(double: _DoubleCoding, codebook: Codebook) -> pd.DataFrame:
    decisions, coder_names = double.decisions, double.coder_names
    columns = ["code", "label", "coders", "n_double_coded", "n_agree", "pct_agreement", "kappa"]
    if decisions.empty:
        return pd.DataFrame(columns=columns)
    n = int(decisions["study_id"].nunique())
    order = {t.code: i for i, t in enumerate(codebook.themes)}
    unknown = sorted(set(decisions["code"].unique()) - set(order))
    if unknown:
        raise ValueError(f"codes not in the codebook: {', '.join(map(str, unknown))}")
    # per code: how many studies each coder gave it, and how many the two decided differently
    first, second = decisions["first"].to_numpy(), decisions["second"].to_numpy()
    per_code = (
        pd.DataFrame(
            {"code": decisions["code"], "yes_a": first, "yes_b": second, "differ": first != second}
        )
        .groupby("code")
        .sum()
    )
    coded = sorted(per_code.index, key=order.__getitem__)
    rows = []
    for code in coded:
        yes_a, yes_b, differ = (int(x) for x in per_code.loc[code, ["yes_a", "yes_b", "differ"]])
        rows.append(
            _agreement_row(
                code, codebook.theme_by_code[code].label, coder_names, n, n - differ, yes_a, yes_b
            )
        )
    pooled = n * len(coded)
    yes_a, yes_b, differ = (int(per_code[c].sum()) for c in ("yes_a", "yes_b", "differ"))
    rows.append(
        _agreement_row(
            "(all codes)", "All codes pooled", coder_names, pooled, pooled - differ, yes_a, yes_b
        )
    )
    return pd.DataFrame(rows, columns=columns)


def _agreement_row(
    code: str, label: str, coder_names: list[str], n: int, n_agree: int, yes_a: int, yes_b: int
) -> dict:
    """One agreement row from the 2×2 counts of n yes/no decisions by two coders (kappa from
    :func:`evsynth.stats.cohen_kappa_binary`)."""
    from evsynth.stats import cohen_kappa_binary

    pct = 100.0 * n_agree / n if n else math.nan
    kappa = cohen_kappa_binary(n, n_agree, yes_a, yes_b)
    return {
        "code": code,
        "label": label,
        "coders": ";".join(coder_names),
        "n_double_coded": n,
        "n_agree": n_agree,
        "pct_agreement": round(pct, 1),
        "kappa": kappa,
    }


def disagreements_table(codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """``tallies/disagreements.csv``: (study, code) pairs the two coders decided differently."""
    return _disagreements_table(_double_coding(codes), codebook)


def _disagreements_table(double: _DoubleCoding, codebook: Codebook) -> pd.DataFrame:
    decisions = double.decisions
    columns = ["study_id", "code", "label", "applied_by", "not_applied_by"]
    if decisions.empty:
        return pd.DataFrame(columns=columns)
    first, second = decisions["first"].to_numpy(), decisions["second"].to_numpy()
    differ = first != second
    by_first = first[differ]
    a, b = double.first_coder[differ], double.second_coder[differ]
    code = decisions["code"].to_numpy(dtype=object)[differ]
    labels = {c: codebook.theme_by_code[c].label for c in set(code)}
    out = pd.DataFrame(
        {
            "study_id": decisions["study_id"].to_numpy(dtype=object)[differ],
            "code": code,
            "label": np.array([labels[c] for c in code], dtype=object),
            "applied_by": np.where(by_first, a, b),
            "not_applied_by": np.where(by_first, b, a),
        },
        columns=columns,
    )
    return out.sort_values(["study_id", "code"])


# --- Stage entry points ------------------------------------------------------------------------


@dataclass(frozen=True)
class TallyPaths:
    """Every file the tally stage writes, as its rule names them (``figure`` is the themes
    chart's path without suffix: it is written as ``.png`` and ``.svg``)."""

    themes: Path
    cooccurrence: Path
    characteristics: Path
    figure: Path


#: The columns of the codes table the tallies, the agreement and the gap map read.
CODE_COLUMNS = ("study_id", "code", "coder")


def read_codes(codes_path: Path) -> pd.DataFrame:
    """The typed codes table, only :data:`CODE_COLUMNS` (the excerpts are never decoded)."""
    return read_typed(codes_path, CODE_COLUMNS)


def run_tally(
    studies_path: Path, codes_path: Path, codebook_path: Path, forward: str, out: TallyPaths
) -> None:
    from evsynth.codebook import load_codebook
    from evsynth.figures import theme_chart

    codebook = load_codebook(codebook_path)
    studies = read_typed(studies_path)
    incidence = _incidence(codes_forward(read_codes(codes_path), forward), codebook)
    themes = _theme_tally(len(studies), incidence, codebook)
    write_table(themes, out.themes)
    write_table(_cooccurrence(incidence), out.cooccurrence)
    write_table(characteristics(studies, codebook), out.characteristics)
    theme_chart(themes, n_studies=len(studies), path=out.figure)


def run_crosstab(
    studies_path: Path,
    codes_path: Path,
    codebook_path: Path,
    forward: str,
    field: str,
    out_path: Path,
) -> None:
    from evsynth.codebook import load_codebook

    codebook = load_codebook(codebook_path)
    fields = study_category_fields(codebook)
    if field not in fields:
        raise ValueError(f"'{field}' is not a category field of this review's studies sheet")
    studies = read_typed(studies_path)
    incidence = _incidence(codes_forward(read_codes(codes_path), forward), codebook)
    write_table(_theme_crosstab(studies, incidence, codebook, field, fields[field]), out_path)


def run_agreement(
    codes_path: Path, codebook_path: Path, agreement_path: Path, disagreements_path: Path
) -> None:
    from evsynth.codebook import load_codebook

    codebook = load_codebook(codebook_path)
    double = _double_coding(read_codes(codes_path))
    write_table(_agreement_table(double, codebook), agreement_path)
    write_table(_disagreements_table(double, codebook), disagreements_path)
