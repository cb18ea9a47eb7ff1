"""Thematic tallies: how many included studies each theme appears in, rolled up the tree.

A study coded with ``cc.language`` counts for ``cc`` too, and counts once per theme however
many child codes or coders it has (data contract §3). Every count carries its study IDs so a
reviewer can trace it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evsynth.codebook import Codebook
from evsynth.contract import MULTI_SEPARATOR, QUALITY, SOURCE_TYPES
from evsynth.tables import read_clean, write_table

ID_SEPARATOR = ";"


def study_theme_pairs(codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Unique (study_id, code) pairs after rolling every code up to all its ancestors."""
    pairs = codes[["study_id", "code"]].drop_duplicates()
    lineage = pairs["code"].map(codebook.lineage)
    rolled = pairs.assign(code=lineage).explode("code")
    return rolled.drop_duplicates().sort_values(["code", "study_id"]).reset_index(drop=True)


def theme_tally(studies: pd.DataFrame, codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """``tallies/themes.csv``: code, label, parent, level, n_studies, pct_studies, study_ids.

    Rows follow the codebook's tree order; themes no study has are listed with zero, since an
    empty theme is a finding too (an evidence gap).
    """
    n_included = len(studies)
    pairs = study_theme_pairs(codes, codebook)
    grouped = pairs.groupby("code")["study_id"]
    counts = grouped.size()
    ids = grouped.agg(lambda s: ID_SEPARATOR.join(sorted(s)))
    rows = []
    for theme in codebook.themes:
        n = int(counts.get(theme.code, 0))
        rows.append({
            "code": theme.code,
            "label": theme.label,
            "parent": theme.parent or "",
            "level": theme.level,
            "n_studies": n,
            "pct_studies": round(100 * n / n_included, 1) if n_included else 0.0,
            "study_ids": ids.get(theme.code, ""),
        })
    return pd.DataFrame(rows, columns=["code", "label", "parent", "level", "n_studies",
                                       "pct_studies", "study_ids"])


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


def theme_crosstab(studies: pd.DataFrame, codes: pd.DataFrame, codebook: Codebook,
                   field: str, values: dict[str, str]) -> pd.DataFrame:
    """``tallies/themes_by_<field>.csv``: studies per theme and value of one study field.

    Multi-valued fields count a study under each of its values, so rows can sum to more than
    the theme's total; blanks are counted under ``not_recorded``.
    """
    per_study = studies[["study_id", field]].assign(
        **{field: studies[field].fillna("").astype(str).str.split(MULTI_SEPARATOR)}
    ).explode(field)
    per_study[field] = per_study[field].replace("", "not_recorded")
    pairs = study_theme_pairs(codes, codebook).merge(per_study, on="study_id")
    table = pd.crosstab(pairs["code"], pairs[field])
    columns = list(values) + (["not_recorded"] if "not_recorded" in table.columns else [])
    table = table.reindex(index=[t.code for t in codebook.themes], columns=columns, fill_value=0)
    table = table.fillna(0).astype(int)
    labels = [codebook.theme_by_code[c].label for c in table.index]
    out = table.reset_index().rename(columns={"index": "code"})
    out.insert(1, "label", labels)
    out.columns.name = None
    return out


def cooccurrence(codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """``tallies/cooccurrence.csv``: studies coded with both themes (diagonal: with the theme)."""
    pairs = study_theme_pairs(codes, codebook)
    incidence = pd.crosstab(pairs["study_id"], pairs["code"]).clip(upper=1)
    order = [t.code for t in codebook.themes]
    incidence = incidence.reindex(columns=order, fill_value=0)
    matrix = incidence.T.dot(incidence).reindex(index=order, columns=order, fill_value=0)
    out = matrix.astype(int).reset_index().rename(columns={"index": "code"})
    out.columns.name = None
    return out.rename(columns={out.columns[0]: "code"})


# --- Double coding -----------------------------------------------------------------------------

FORWARD_RULES = ("union", "consensus", "first_coder")


def codes_forward(codes: pd.DataFrame, rule: str = "union") -> pd.DataFrame:
    """The coding that goes forward to the tallies where studies have several coders.

    - ``union``: a code counts for a study if any of its coders applied it (the default:
      nothing a coder saw is lost before reconciliation; the disagreements table shows what
      to reconcile).
    - ``consensus``: on multi-coder studies, only codes every coder of that study applied.
    - ``first_coder``: each study's coding by its alphabetically first coder.
    """
    if rule not in FORWARD_RULES:
        raise ValueError(f"unknown agreement.forward rule '{rule}'; use one of {FORWARD_RULES}")
    codes = codes.assign(coder=codes["coder"].fillna("").astype(str))
    if rule == "union":
        return codes
    coders_per_study = codes.groupby("study_id")["coder"].nunique()
    if rule == "first_coder":
        first = codes.groupby("study_id")["coder"].min()
        return codes[codes["coder"] == codes["study_id"].map(first)]
    applied_by = codes.groupby(["study_id", "code"])["coder"].nunique()
    needed = applied_by.index.get_level_values("study_id").map(coders_per_study)
    agreed = applied_by[applied_by.to_numpy() >= needed.to_numpy()].index
    return codes.set_index(["study_id", "code"]).loc[lambda f: f.index.isin(agreed)].reset_index()


def _coder_decisions(codes: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """For double-coded studies: one row per (study, code) with a yes/no column per coder.

    A study is double-coded when two or more named coders coded it; agreement is computed
    between its two alphabetically first coders.
    """
    named = codes[codes["coder"].fillna("") != ""][["study_id", "code", "coder"]].drop_duplicates()
    coders = named.groupby("study_id")["coder"].agg(lambda s: sorted(set(s))[:2])
    double = coders[coders.map(len) == 2]
    if double.empty:
        return pd.DataFrame(columns=["study_id", "code", "first", "second"]), []
    named = named[named["study_id"].isin(double.index)]
    first = named["study_id"].map(double.map(lambda c: c[0]))
    second = named["study_id"].map(double.map(lambda c: c[1]))
    named = named.assign(first=named["coder"] == first, second=named["coder"] == second)
    decisions = named.groupby(["study_id", "code"])[["first", "second"]].any().reset_index()
    coder_names = sorted({c for pair in double for c in pair})
    return decisions, coder_names


def agreement_table(codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """``tallies/agreement.csv``: per code, percent agreement and Cohen's kappa.

    Over the double-coded studies, each code is a yes/no decision per study and coder; a study
    neither coder gave the code counts as agreement (both "no"). The last row, ``(all codes)``,
    pools every decision.
    """
    from evsynth.stats import cohen_kappa, percent_agreement

    decisions, coder_names = _coder_decisions(codes)
    columns = ["code", "label", "coders", "n_double_coded", "n_agree", "pct_agreement", "kappa"]
    if decisions.empty:
        return pd.DataFrame(columns=columns)
    studies = sorted(decisions["study_id"].unique())
    rows, all_a, all_b = [], [], []
    coded = sorted(set(decisions["code"]), key=[t.code for t in codebook.themes].index)
    for code in coded:
        chosen = decisions[decisions["code"] == code].set_index("study_id")
        a = chosen["first"].reindex(studies, fill_value=False).to_list()
        b = chosen["second"].reindex(studies, fill_value=False).to_list()
        all_a += a
        all_b += b
        rows.append(_agreement_row(code, codebook.theme_by_code[code].label, coder_names, a, b,
                                   percent_agreement, cohen_kappa))
    rows.append(_agreement_row("(all codes)", "All codes pooled", coder_names, all_a, all_b,
                               percent_agreement, cohen_kappa))
    return pd.DataFrame(rows, columns=columns)


def _agreement_row(code, label, coder_names, a, b, percent_agreement, cohen_kappa) -> dict:
    return {
        "code": code, "label": label, "coders": ";".join(coder_names),
        "n_double_coded": len(a), "n_agree": sum(x == y for x, y in zip(a, b, strict=True)),
        "pct_agreement": round(percent_agreement(a, b), 1), "kappa": cohen_kappa(a, b),
    }


def disagreements_table(codes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """``tallies/disagreements.csv``: (study, code) pairs the two coders decided differently."""
    decisions, _ = _coder_decisions(codes)
    columns = ["study_id", "code", "label", "applied_by", "not_applied_by"]
    if decisions.empty:
        return pd.DataFrame(columns=columns)
    named = codes[codes["coder"].fillna("") != ""]
    coders = named.groupby("study_id")["coder"].agg(lambda s: sorted(set(s))[:2])
    differ = decisions[decisions["first"] != decisions["second"]]
    rows = []
    for rec in differ.itertuples(index=False):
        pair = coders[rec.study_id]
        yes, no = (pair[0], pair[1]) if rec.first else (pair[1], pair[0])
        rows.append({"study_id": rec.study_id, "code": rec.code,
                     "label": codebook.theme_by_code[rec.code].label,
                     "applied_by": yes, "not_applied_by": no})
    return pd.DataFrame(rows, columns=columns).sort_values(["study_id", "code"])


# --- Stage entry points ------------------------------------------------------------------------

def run_tally(studies_path: Path, codes_path: Path, codebook_path: Path, forward: str,
              themes_path: Path, cooccurrence_path: Path, figure_path: Path) -> None:
    from evsynth.codebook import load_codebook
    from evsynth.figures import theme_chart

    codebook = load_codebook(codebook_path)
    studies = read_clean(studies_path)
    codes = codes_forward(read_clean(codes_path), forward)
    themes = theme_tally(studies, codes, codebook)
    write_table(themes, themes_path)
    write_table(cooccurrence(codes, codebook), cooccurrence_path)
    theme_chart(themes, n_studies=len(studies), path=figure_path)


def run_crosstab(studies_path: Path, codes_path: Path, codebook_path: Path, forward: str,
                 field: str, out_path: Path) -> None:
    from evsynth.codebook import load_codebook

    codebook = load_codebook(codebook_path)
    fields = study_category_fields(codebook)
    if field not in fields:
        raise ValueError(f"'{field}' is not a category field of this review's studies sheet")
    studies = read_clean(studies_path)
    codes = codes_forward(read_clean(codes_path), forward)
    write_table(theme_crosstab(studies, codes, codebook, field, fields[field]), out_path)


def run_agreement(codes_path: Path, codebook_path: Path, agreement_path: Path,
                  disagreements_path: Path) -> None:
    from evsynth.codebook import load_codebook

    codebook = load_codebook(codebook_path)
    codes = read_clean(codes_path)
    write_table(agreement_table(codes, codebook), agreement_path)
    write_table(disagreements_table(codes, codebook), disagreements_path)
