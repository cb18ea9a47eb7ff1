"""A Frictionless Data Package descriptor for a review's result tables.

``results/<review>/datapackage.json`` describes every CSV the run wrote (path, fields, types,
descriptions), so a reviewer or another tool can read the tables without guessing
(Frictionless Data Package v1 / Table Schema).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from evsynth.intake import sha256_file

#: What each column means, wherever it appears (data contract §2 and §4).
DESCRIPTIONS: dict[str, str] = {
    "study_id": "Identifier of the included record",
    "citation": "Citation of the record as coded (free text)",
    "year": "Publication year",
    "source_type": "academic or grey literature",
    "country": "Countries, ';'-separated",
    "design": "Study design code (codebook vocabulary)",
    "intervention_type": "Intervention type codes, ';'-separated",
    "quality": "Quality appraisal: high, moderate, low, not_appraised",
    "source_row": "Row of the input sheet this record came from (header = row 1)",
    "code": "Theme code (codebook)",
    "coder": "Who coded this row",
    "excerpt": "Quotation or note (free text)",
    "page": "Page reference",
    "outcome": "Outcome code (codebook)",
    "measure": "Instrument or definition",
    "direction": "Direction of effect: benefit, harm, no_effect, mixed, unclear",
    "effect_measure": "smd, md, or, rr, hr or rd",
    "estimate": "Effect estimate (ratio scale for or/rr/hr)",
    "ci_lower": "Lower bound of the 95% confidence interval",
    "ci_upper": "Upper bound of the 95% confidence interval",
    "n": "Sample size",
    "follow_up_months": "Follow-up in months",
    "stage": "PRISMA 2020 stage",
    "count": "Records at this stage",
    "reason": "Reason for exclusion",
    "label": "Label shown in reports",
    "parent": "Parent theme code ('' for a top-level theme)",
    "level": "Depth in the theme tree (1 = top level)",
    "n_studies": "Included studies counted (each once)",
    "pct_studies": "n_studies as a percentage of included studies",
    "study_ids": "The studies counted, ';'-separated",
    "k": "Number of studies",
    "n_benefit": "Studies whose effect direction is benefit",
    "n_harm": "Studies whose effect direction is harm",
    "n_no_effect": "Studies with no effect",
    "n_mixed": "Studies with mixed results",
    "n_unclear": "Studies with unclear results",
    "sign_test_p": "Exact two-sided sign test p, benefit vs harm",
    "pct_benefit": "Share of the k studies showing benefit (%)",
    "benefit_ci_lower": "Wilson 95% CI lower bound of pct_benefit (%)",
    "benefit_ci_upper": "Wilson 95% CI upper bound of pct_benefit (%)",
    "method": "Estimator of the between-study variance (REML or DL; +HK: Hartung-Knapp)",
    "pi_lower": "Lower bound of the 95% prediction interval",
    "pi_upper": "Upper bound of the 95% prediction interval",
    "tau2": "Between-study variance (log scale for ratio measures)",
    "i2": "I² (%)",
    "q": "Cochran's Q",
    "q_p": "p value of Q (chi-square, k-1 df)",
    "scale": "ratio (pooled on the log scale) or difference",
    "se": "Standard error of the pooled estimate (analysis scale)",
    "analysis": "main, or sensitivity (without the excluded quality levels)",
    "severity": "error or warning",
    "sheet": "Sheet the finding is about",
    "row": "Row as the user sees it (header = row 1)",
    "column": "Column the finding is about",
    "value": "The offending value (truncated)",
    "rule": "Identifier of the rule",
    "message": "What is wrong and how to fix it",
    "coders": "The two coders compared, ';'-separated",
    "n_double_coded": "Studies coded by both coders",
    "n_agree": "Decisions on which the coders agreed",
    "pct_agreement": "Percent agreement",
    "kappa": "Cohen's kappa",
    "applied_by": "Coder who applied the code",
    "not_applied_by": "Coder who did not",
}

TABLE_DESCRIPTIONS: dict[str, str] = {
    "validation/issues": "Every validation finding, by sheet, row and column",
    "validation/narrative_issues": "Findings about the narrative files",
    "clean/studies": "Validated, normalised studies sheet (valid rows)",
    "clean/codes": "Validated thematic coding",
    "clean/outcomes": "Validated outcome rows",
    "clean/screening": "Validated PRISMA screening counts",
    "tallies/themes": "Included studies per theme, rolled up the theme tree",
    "tallies/cooccurrence": "Studies coded with both themes (theme x theme)",
    "tallies/agreement": "Coder agreement per code on double-coded studies",
    "tallies/disagreements": "Study and code pairs the two coders decided differently",
    "outcomes/direction": "Studies by direction of effect per outcome, with the sign test",
    "outcomes/direction_by_quality": "Direction of effect per outcome and quality level",
    "outcomes/meta_analysis": "Random-effects meta-analyses (k >= 2)",
    "outcomes/gap_map": "Studies per theme and outcome, by direction",
}


def field_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    return "string"


def resource(review_dir: Path, path: Path) -> dict:
    rel = path.relative_to(review_dir).as_posix()
    key = rel.removesuffix(".csv")
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    name = key.replace("/", "-").replace("_", "-").lower()
    description = TABLE_DESCRIPTIONS.get(key)
    if description is None and key.startswith("tallies/themes_by_"):
        description = f"Studies per theme by {key.removeprefix('tallies/themes_by_')}"
    fields = []
    for column in frame.columns:
        described = DESCRIPTIONS.get(column, "Studies with this value" if key.startswith(
            "tallies/themes_by_") else ("Studies coded with both themes"
                                        if key == "tallies/cooccurrence" else ""))
        fields.append({"name": column, "type": field_type(frame[column]),
                       "description": described})
    return {
        "name": name,
        "path": rel,
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "description": description or "",
        "hash": f"sha256:{sha256_file(path)}",
        "schema": {"fields": fields},
    }


def build_datapackage(review: str, title: str, review_dir: Path, tables: list[Path]) -> dict:
    return {
        "profile": "tabular-data-package",
        "name": review,
        "title": title,
        "description": "Result tables of an evsynth run; every file can be rebuilt from the "
                       "inputs named in provenance.json.",
        "resources": [resource(review_dir, p) for p in sorted(tables)],
    }


def run_datapackage(review: str, title: str, review_dir: Path, tables: list[Path],
                    out_path: Path) -> None:
    package = build_datapackage(review, title, review_dir, tables)
    out_path.write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n", "utf-8")
