"""Synthetic reviews of any size, for tests and benchmarks.

:func:`write_synthetic_review` writes a codebook and a folder of extraction sheets that follow
the data contract (docs/contract.md §2-3) and validate with zero findings. Every
record is plainly synthetic ("Synthetic study 000123 ..."), and the same seed always gives
byte-identical files. Generation is vectorised with one :class:`numpy.random.Generator`, so a
review of 100,000 studies (1,000,000 code rows at the default) takes a few seconds.

What is in it:

* ``codebook.yaml``: 30 themes in three levels (6 top-level themes with 3 children each; the
  first child of each of the first 3 top-level themes has 2 children of its own), a design
  and an intervention-type vocabulary, one review-specific category field (``setting``) and 4
  outcomes (two where a decrease is the benefit, two where an increase is).
* ``sheets/studies.csv``: one row per study; multi-valued ``country`` and ``intervention_type``.
* ``sheets/codes.csv``: exactly ``codes_per_study`` rows per study, no repeated
  (study, code, coder); themes are drawn with unequal weights, children more often than
  parents; a share of studies is double-coded by two coders who mostly agree.
* ``sheets/outcomes.csv``: exactly ``outcomes_per_study`` rows per study. About half of them
  carry an effect size (``smd``, or ``rr`` with a positive ratio scale) with a 95% CI around it
  (ci_lower < estimate < ci_upper, strictly, after rounding), at most one per (study, outcome,
  measure); their direction follows the CI and the outcome's benefit direction.
* ``sheets/screening.csv`` (optional): PRISMA counts that reconcile, ``included`` = n_studies.

Run it from the project root with ``python bench/synthetic.py OUT_DIR --studies 1000``. It
lives with the benchmark, outside the package, because the pipeline never uses it; the tests
import it from here too (``tests/conftest.py`` puts ``bench/`` on the import path).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = ["synthetic_codebook", "write_synthetic_review"]

REVIEW_ID = "synthetic"
N_TOP_THEMES = 6
CHILDREN_PER_TOP = 3
GRANDCHILDREN = 2  # under the first child of each of the first TOPS_WITH_GRANDCHILDREN themes
TOPS_WITH_GRANDCHILDREN = 3
CODERS = ("coder_a", "coder_b")

DESIGNS = {
    "rct": "Randomised controlled trial",
    "quasi_experimental": "Quasi-experimental study",
    "cohort": "Cohort study",
    "qualitative": "Qualitative study",
    "mixed_methods": "Mixed-methods study",
    "process_evaluation": "Process evaluation",
}
INTERVENTIONS = {
    "group": "Group programme",
    "individual": "Individual work",
    "family": "Whole-family work",
    "online": "Online or remote delivery",
}
SETTINGS = {
    "community": "Community",
    "health": "Health service",
    "justice": "Criminal justice",
    "education": "Education",
}
#: code -> (label, the direction of change that is a benefit)
OUTCOMES = {
    "reoffending": ("Re-offending (synthetic)", "decrease"),
    "wellbeing": ("Wellbeing (synthetic)", "increase"),
    "completion": ("Programme completion (synthetic)", "increase"),
    "victim_safety": ("Victim-reported abuse (synthetic)", "decrease"),
}
COUNTRIES = np.array(
    [
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
        "Ireland",
        "USA",
        "Canada",
        "Australia",
        "New Zealand",
        "Netherlands",
    ],
    dtype=object,
)
SOURCE_TYPES = np.array(["academic", "grey"], dtype=object)
QUALITY = np.array(["high", "moderate", "low", "not_appraised"], dtype=object)
DIRECTIONS = np.array(["benefit", "harm", "no_effect", "mixed", "unclear"], dtype=object)
YEARS = (1995, 2024)  # inclusive; within the contract's 1900 to the current year
SMD_SHARE = 0.6  # of the rows with an effect size, the rest are risk ratios
Z95 = 1.959963984540054


# --- The codebook ------------------------------------------------------------------------------


def synthetic_codebook(seed: int = 0) -> dict:
    """The synthetic review's codebook as the data ``codebook.yaml`` holds."""
    themes = []
    for t in range(1, N_TOP_THEMES + 1):
        children = []
        for c in range(1, CHILDREN_PER_TOP + 1):
            child = {
                "code": f"t{t}.s{c}",
                "label": f"Synthetic theme {t}.{c}",
                "description": f"Synthetic sub-theme {c} of theme {t}",
            }
            if c == 1 and t <= TOPS_WITH_GRANDCHILDREN:
                child["children"] = [
                    {"code": f"t{t}.s{c}.g{g}", "label": f"Synthetic theme {t}.{c}.{g}"}
                    for g in range(1, GRANDCHILDREN + 1)
                ]
            children.append(child)
        themes.append(
            {
                "code": f"t{t}",
                "label": f"Synthetic theme {t}",
                "description": f"Synthetic top-level theme {t} (seed {seed})",
                "children": children,
            }
        )
    return {
        "review": REVIEW_ID,
        "vocabularies": {"design": dict(DESIGNS), "intervention_type": dict(INTERVENTIONS)},
        "fields": {
            "setting": {
                "label": "Setting",
                "type": "category",
                "multi": False,
                "required": True,
                "values": dict(SETTINGS),
            }
        },
        "themes": themes,
        "outcomes": {
            code: {"label": label, "benefit": benefit}
            for code, (label, benefit) in OUTCOMES.items()
        },
    }


def _flat_themes(nodes: list[dict]) -> list[tuple[str, int, bool]]:
    """(code, level, is_leaf) depth-first, the codebook's order."""
    out: list[tuple[str, int, bool]] = []

    def walk(items: list[dict], level: int) -> None:
        for node in items:
            kids = node.get("children") or []
            out.append((node["code"], level, not kids))
            walk(kids, level + 1)

    walk(nodes, 1)
    return out


# --- Sheets ------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, options: np.ndarray, n: int, p=None) -> np.ndarray:
    return options[rng.choice(len(options), size=n, p=p)]


def _join_columns(parts: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Join each row's kept values with ';' (``parts`` and ``keep`` are n x m)."""
    out = np.where(keep[:, 0], parts[:, 0], "").astype(object)
    for j in range(1, parts.shape[1]):
        add = keep[:, j]
        sep = np.where((out != "") & add, ";", "")
        out = out + sep + np.where(add, parts[:, j], "")
    return out


def _studies(
    rng: np.random.Generator, ids: np.ndarray, numbers: np.ndarray, seed: int
) -> pd.DataFrame:
    n = len(ids)
    year = rng.integers(YEARS[0], YEARS[1] + 1, size=n)
    source = _pick(rng, SOURCE_TYPES, n, p=[0.7, 0.3])
    design_codes = np.array(list(DESIGNS), dtype=object)
    design = _pick(rng, design_codes, n, p=[0.2, 0.15, 0.1, 0.25, 0.2, 0.1])
    # Countries: one to three distinct ones, in a random order.
    order = np.argsort(rng.random((n, len(COUNTRIES))), axis=1)[:, :3]
    n_countries = rng.choice([1, 2, 3], size=n, p=[0.7, 0.2, 0.1])
    country = _join_columns(COUNTRIES[order], np.arange(3) < n_countries[:, None])
    # Intervention types: each one independently; blank for about a quarter of studies.
    codes = np.array(list(INTERVENTIONS), dtype=object)
    chosen = rng.random((n, len(codes))) < np.array([0.45, 0.35, 0.15, 0.1])
    intervention = _join_columns(np.broadcast_to(codes, chosen.shape), chosen)
    quality = _pick(rng, QUALITY, n, p=[0.25, 0.35, 0.25, 0.15])
    setting = _pick(rng, np.array(list(SETTINGS), dtype=object), n, p=[0.4, 0.25, 0.2, 0.15])
    design_label = np.array([DESIGNS[d] for d in design_codes], dtype=object)[
        pd.Index(design_codes).get_indexer(design)
    ]
    citation = (
        "Synthetic study "
        + numbers
        + " ("
        + year.astype(str).astype(object)
        + "). "
        + design_label
        + " in "
        + pd.Series(country).str.replace(";", ", ", regex=False).to_numpy(dtype=object)
        + ", a synthetic record (bench/synthetic.py, seed "
        + str(seed)
        + ")."
    )
    return pd.DataFrame(
        {
            "study_id": ids,
            "citation": citation,
            "year": year,
            "source_type": source,
            "country": country,
            "design": design,
            "intervention_type": intervention,
            "quality": quality,
            "setting": setting,
        }
    )


def _codes(
    rng: np.random.Generator,
    ids: np.ndarray,
    numbers: np.ndarray,
    themes: list[tuple[str, int, bool]],
    per_study: int,
    double_share: float,
) -> pd.DataFrame:
    n, m, t = len(ids), per_study, len(themes)
    if m == 0:
        return pd.DataFrame(columns=["study_id", "code", "coder", "excerpt", "page"])
    double = rng.random(n) < double_share if m >= 2 else np.zeros(n, dtype=bool)
    n_first = np.where(double, (m + 1) // 2, m)  # coder_a's rows; coder_b has the rest
    shift = np.where(double, rng.integers(0, 3, size=n), 0)  # coder_b skips 0-2 of a's codes
    need = int(np.max(np.where(double, m - n_first + shift, n_first), initial=0))
    if m > t or need > t:
        raise ValueError(
            f"codes_per_study={m} is more than the {t} themes allow without "
            "repeating a (study, code, coder)"
        )
    # Themes drawn without replacement with unequal weights (Gumbel top-k): leaves more often
    # than parents, and a few themes much more often than the rest.
    weight = np.array(
        [(1.0 if leaf else 0.35) / (1 + i % 7) for i, (_, _, leaf) in enumerate(themes)]
    )
    keys = np.log(weight) + rng.gumbel(size=(n, t))
    ranked = np.argsort(-keys, axis=1, kind="stable")
    # Row j of a study: coder_a takes ranked[j] for j < n_first, coder_b ranked[j - n_first +
    # shift] for the rest: the two coders share most codes and differ on a few.
    j = np.arange(m)
    column = np.where(j < n_first[:, None], j, j - n_first[:, None] + shift[:, None])
    theme_index = np.take_along_axis(ranked, column, axis=1)
    coder_index = (j >= n_first[:, None]).astype(np.int8)
    codes = np.array([c for c, _, _ in themes], dtype=object)
    study_id = np.repeat(ids, m)
    code = codes[theme_index.ravel()]
    coder = np.array(CODERS, dtype=object)[coder_index.ravel()]
    rows = n * m
    has_excerpt = rng.random(rows) < 0.3
    excerpt = np.where(
        has_excerpt, "Synthetic excerpt on " + code + " from study " + np.repeat(numbers, m), ""
    )
    page = np.where(
        rng.random(rows) < 0.3, rng.integers(1, 300, size=rows).astype(str).astype(object), ""
    )
    return pd.DataFrame(
        {"study_id": study_id, "code": code, "coder": coder, "excerpt": excerpt, "page": page}
    )


def _outcomes(
    rng: np.random.Generator, ids: np.ndarray, per_study: int, effect_share: float
) -> pd.DataFrame:
    n, m = len(ids), per_study
    columns = [
        "study_id",
        "outcome",
        "measure",
        "direction",
        "effect_measure",
        "estimate",
        "ci_lower",
        "ci_upper",
        "n",
        "follow_up_months",
    ]
    if m == 0:
        return pd.DataFrame(columns=columns)
    codes = np.array(list(OUTCOMES), dtype=object)
    k = len(codes)
    order = np.argsort(rng.random((n, k)), axis=1)
    j = np.arange(m)
    outcome_index = order[:, j % k]  # distinct outcomes first, then the same ones again
    rows = n * m
    outcome_index = outcome_index.ravel()
    outcome = codes[outcome_index]
    repeat = np.tile(j // k, n)  # 0 for a study's first row of an outcome
    measure = "Synthetic measure " + (repeat + 1).astype(str).astype(object)

    # Effect sizes: only on a study's first row of each outcome, so (study, outcome, measure)
    # never repeats. True effects differ by outcome; between-study SD 0.1 on the analysis scale.
    has_effect = (repeat == 0) & (rng.random(rows) < effect_share)
    smd = rng.random(rows) < SMD_SHARE
    size = np.exp(rng.uniform(np.log(20), np.log(2000), size=rows)).astype(np.int64)
    true_effect = np.array([-0.25, 0.2, 0.1, -0.15])[outcome_index]
    se = np.where(smd, 2.0 / np.sqrt(size), 2.5 / np.sqrt(size))
    se = np.maximum(se, 0.03)  # the CI stays strictly wider than rounding can close
    y = np.clip(
        true_effect + rng.normal(0.0, 0.1, rows) + rng.normal(0.0, 1.0, rows) * se, -2.5, 2.5
    )
    low, high = y - Z95 * se, y + Z95 * se
    # Direction from the CI: an increase or decrease is a benefit or harm by the outcome.
    increase_is_benefit = np.array([b == "increase" for _, b in OUTCOMES.values()])[outcome_index]
    up, down = low > 0, high < 0
    direction = np.where(
        up | down, np.where(up == increase_is_benefit, "benefit", "harm"), "no_effect"
    )
    # Rows without an effect size: a direction as a narrative review would record it.
    voted = _pick(rng, DIRECTIONS, rows, p=[0.45, 0.1, 0.25, 0.1, 0.1])
    direction = np.where(has_effect, direction, voted).astype(object)

    def fmt(values: np.ndarray, ratio: bool) -> np.ndarray:
        text = pd.Series(np.exp(values) if ratio else values)
        return text.map("{:.4g}".format if ratio else "{:.3f}".format).to_numpy(dtype=object)

    effect_measure = np.where(has_effect, np.where(smd, "smd", "rr"), "").astype(object)
    triple = []
    for values in (y, low, high):
        text = np.where(smd, fmt(values, False), fmt(values, True))
        triple.append(np.where(has_effect, text, "").astype(object))
    n_text = np.where(has_effect | (rng.random(rows) < 0.6), size.astype(str).astype(object), "")
    follow_up = np.where(
        rng.random(rows) < 0.6,
        _pick(rng, np.array(["3", "6", "12", "18", "24", "36"], dtype=object), rows),
        "",
    )
    return pd.DataFrame(
        {
            "study_id": np.repeat(ids, m),
            "outcome": outcome,
            "measure": measure,
            "direction": direction,
            "effect_measure": effect_measure,
            "estimate": triple[0],
            "ci_lower": triple[1],
            "ci_upper": triple[2],
            "n": n_text,
            "follow_up_months": follow_up,
        },
        columns=columns,
    )


def _screening(rng: np.random.Generator, n_studies: int) -> pd.DataFrame:
    """PRISMA 2020 counts that reconcile, ending in ``included`` = ``n_studies``."""
    reasons = {"Wrong population": 0.45, "Wrong intervention": 0.35, "No outcome data": 0.2}
    excluded_ft = [
        int(round(n_studies * share * rng.uniform(0.8, 1.2))) + 1 for share in reasons.values()
    ]
    full_text = n_studies + sum(excluded_ft)
    excluded_screening = int(round(full_text * rng.uniform(3.0, 6.0)))
    screened = full_text + excluded_screening
    duplicates = int(round(screened * rng.uniform(0.1, 0.25)))
    other = int(round((screened + duplicates) * rng.uniform(0.05, 0.15)))
    databases = screened + duplicates - other
    rows = [
        ("identified_databases", databases, ""),
        ("identified_other", other, ""),
        ("duplicates_removed", duplicates, ""),
        ("screened", screened, ""),
        ("excluded_screening", excluded_screening, ""),
        ("full_text_assessed", full_text, ""),
    ]
    rows += [
        ("excluded_full_text", count, reason)
        for reason, count in zip(reasons, excluded_ft, strict=True)
    ]
    rows.append(("included", n_studies, ""))
    return pd.DataFrame(rows, columns=["stage", "count", "reason"])


# --- Writing -----------------------------------------------------------------------------------


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
    return path


def write_synthetic_review(
    out_dir: Path,
    n_studies: int,
    codes_per_study: int = 10,
    outcomes_per_study: int = 2,
    seed: int = 0,
    *,
    screening: bool = True,
    double_coded: float = 0.2,
    effect_share: float = 0.5,
) -> dict[str, Path]:
    """Write a synthetic review to ``out_dir``; return the paths written.

    ``out_dir/codebook.yaml`` and ``out_dir/sheets/{studies,codes,outcomes}.csv`` (and
    ``screening.csv`` unless ``screening=False``). codes.csv has exactly
    ``n_studies * codes_per_study`` rows and outcomes.csv ``n_studies * outcomes_per_study``.
    ``double_coded`` is the share of studies coded by two coders; ``effect_share`` the share
    of outcome rows (first rows of an outcome in a study) with an effect size. The returned
    keys are ``codebook``, ``sheets``, ``studies``, ``codes``, ``outcomes`` and, when written,
    ``screening``. The same arguments always write byte-identical files.
    """
    if n_studies < 1:
        raise ValueError("n_studies must be at least 1")
    if codes_per_study < 1:
        raise ValueError("codes_per_study must be at least 1 (an uncoded study is a warning)")
    if outcomes_per_study < 0:
        raise ValueError("outcomes_per_study must be >= 0")
    for name, share in (("double_coded", double_coded), ("effect_share", effect_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1")
    out_dir = Path(out_dir)
    sheets = out_dir / "sheets"
    sheets.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    codebook = synthetic_codebook(seed)
    codebook_path = out_dir / "codebook.yaml"
    codebook_path.write_text(
        "# A SYNTHETIC codebook written by bench/synthetic.py: no real review, no real studies.\n"
        + yaml.safe_dump(codebook, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )

    width = max(6, len(str(n_studies)))
    numbers = pd.Series(np.arange(1, n_studies + 1)).astype(str).str.zfill(width)
    numbers = numbers.to_numpy(dtype=object)
    ids = "S" + numbers
    paths: dict[str, Path] = {"codebook": codebook_path, "sheets": sheets}
    paths["studies"] = _write_csv(_studies(rng, ids, numbers, seed), sheets / "studies.csv")
    themes = _flat_themes(codebook["themes"])
    paths["codes"] = _write_csv(
        _codes(rng, ids, numbers, themes, codes_per_study, double_coded), sheets / "codes.csv"
    )
    paths["outcomes"] = _write_csv(
        _outcomes(rng, ids, outcomes_per_study, effect_share), sheets / "outcomes.csv"
    )
    stale = sheets / "screening.csv"
    if screening:
        paths["screening"] = _write_csv(_screening(rng, n_studies), stale)
    elif stale.exists():
        stale.unlink()
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic evsynth review.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--codes-per-study", type=int, default=10)
    parser.add_argument("--outcomes-per-study", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-screening", action="store_true")
    args = parser.parse_args(argv)
    paths = write_synthetic_review(
        args.out_dir,
        args.studies,
        args.codes_per_study,
        args.outcomes_per_study,
        args.seed,
        screening=not args.no_screening,
    )
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
