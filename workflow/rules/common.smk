# Config look-ups and input functions shared by the rules.
from pathlib import Path

import yaml

REVIEWS = sorted(config["reviews"])
REPORTS_DIR = Path(workflow.basedir).parent / "reports"

wildcard_constraints:
    review="[a-z0-9-]+",


def review_config(review):
    return config["reviews"][review]


def sheet_files(wildcards):
    """The review's input files, so an edited sheet re-runs validation."""
    location = Path(review_config(wildcards.review)["sheets"])
    if location.is_dir():
        return sorted(str(p) for p in location.iterdir() if p.suffix.lower() == ".csv")
    return [str(location)] if location.exists() else []


def codebook_file(wildcards):
    path = Path(review_config(wildcards.review)["codebook"])
    return [str(path)] if path.exists() else []


def crosstab_fields(review):
    """Study fields the themes are crossed with; read from the codebook at DAG time.

    A codebook that cannot be read here is reported by the validate rule, which then stops
    the review, so falling back to the core fields is safe.
    """
    fields = ["source_type", "design", "quality"]
    try:
        with open(review_config(review)["codebook"], encoding="utf-8") as handle:
            book = yaml.safe_load(handle)
        if "intervention_type" in (book.get("vocabularies") or {}):
            fields.append("intervention_type")
        for name, spec in sorted((book.get("fields") or {}).items()):
            if isinstance(spec, dict) and spec.get("type") in ("category", "boolean"):
                fields.append(name)
    except (OSError, yaml.YAMLError, AttributeError, TypeError):
        pass
    return fields


def narrative_files(wildcards):
    folder = review_config(wildcards.review).get("narrative")
    if not folder or not Path(folder).is_dir():
        return []
    return sorted(str(p) for p in Path(folder).glob("*.md"))


def report_sources(wildcards):
    """The Quarto project files a report is built from (a template edit re-renders)."""
    return sorted(
        str(p) for p in REPORTS_DIR.rglob("*")
        if p.is_file() and "narrative" not in p.relative_to(REPORTS_DIR).parts
        and not any(part.startswith(".") for part in p.relative_to(REPORTS_DIR).parts)
    )


def report_format(review):
    return review_config(review)["report"]


def all_outputs():
    outputs = []
    for review in REVIEWS:
        fmt = report_format(review)
        outputs += [
            f"results/{review}/report/{fmt}.html",
            f"results/{review}/report/{fmt}.pdf",
            f"results/{review}/provenance.json",
            f"results/{review}/datapackage.json",
        ]
        outputs += [
            f"results/{review}/tallies/themes_by_{field}.csv" for field in crosstab_fields(review)
        ]
    return outputs


def tally_results(wildcards):
    return {
        "themes": f"results/{wildcards.review}/tallies/themes.csv",
        "cooccurrence": f"results/{wildcards.review}/tallies/cooccurrence.csv",
        "agreement": f"results/{wildcards.review}/tallies/agreement.csv",
        "crosstabs": [
            f"results/{wildcards.review}/tallies/themes_by_{field}.csv"
            for field in crosstab_fields(wildcards.review)
        ],
    }


def result_tables(wildcards):
    """Every CSV a review's run writes, for the data package."""
    tables = [
        rules.validate.output.issues,
        rules.validate.output.studies,
        rules.validate.output.codes,
        rules.validate.output.outcomes,
        rules.validate.output.screening,
        rules.check_narrative.output.issues,
        rules.tally.output.themes,
        rules.tally.output.cooccurrence,
        rules.agreement.output.agreement,
        rules.agreement.output.disagreements,
        rules.outcomes.output.direction,
        rules.outcomes.output.direction_by_quality,
        rules.outcomes.output.meta_analysis,
        rules.outcomes.output.gap_map,
    ]
    tables = [t.format(review=wildcards.review) for t in tables]
    tables += [
        f"results/{wildcards.review}/tallies/themes_by_{field}.csv"
        for field in crosstab_fields(wildcards.review)
    ]
    return sorted(tables)
