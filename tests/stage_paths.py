"""The contract's layout of a review's results (docs/contract.md §4), for tests that call the
stages directly: the workflow's rules name every path; a stage function picks none."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from snakemake.utils import validate as validate_config

from conftest import REPO
from evsynth.handoff import write_typed
from evsynth.outcomes import MetaAnalysisSettings, OutcomesPaths
from evsynth.render import RenderPaths
from evsynth.report import ReportInputs
from evsynth.tally import TallyPaths
from evsynth.validate import SOURCE_ROW, ValidationPaths, ValidationResult

SHEETS = ("studies", "codes", "outcomes", "screening")
CONFIG_SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def validation_paths(validation_dir: Path, clean_dir: Path) -> ValidationPaths:
    return ValidationPaths(
        issues=validation_dir / "issues.csv",
        summary=validation_dir / "summary.json",
        report=validation_dir / "report.md",
        clean={name: clean_dir / f"{name}.csv" for name in SHEETS},
        typed={name: clean_dir / f"{name}.parquet" for name in SHEETS},
    )


def tally_paths(tallies_dir: Path, figures_dir: Path) -> TallyPaths:
    return TallyPaths(
        themes=tallies_dir / "themes.csv",
        cooccurrence=tallies_dir / "cooccurrence.csv",
        characteristics=tallies_dir / "characteristics.csv",
        figure=figures_dir / "themes",
    )


def outcomes_paths(outcomes_dir: Path, figures_dir: Path) -> OutcomesPaths:
    return OutcomesPaths(
        direction=outcomes_dir / "direction.csv",
        direction_by_quality=outcomes_dir / "direction_by_quality.csv",
        meta_analysis=outcomes_dir / "meta_analysis.csv",
        gap_map=outcomes_dir / "gap_map.csv",
        direction_figure=figures_dir / "direction",
        forest_figure=figures_dir / "forest",
        effect_direction_figure=figures_dir / "effect_direction",
        gap_map_figure=figures_dir / "gap_map",
    )


def report_inputs(results_dir: Path, codebook: Path) -> ReportInputs:
    return ReportInputs(
        codebook=codebook,
        studies=results_dir / "clean/studies.parquet",
        screening=results_dir / "clean/screening.parquet",
        themes=results_dir / "tallies/themes.csv",
        characteristics=results_dir / "tallies/characteristics.csv",
        direction=results_dir / "outcomes/direction.csv",
        meta_analysis=results_dir / "outcomes/meta_analysis.csv",
        agreement=results_dir / "tallies/agreement.csv",
        validation_summary=results_dir / "validation/summary.json",
    )


def render_paths(results_dir: Path, report_format: str) -> RenderPaths:
    figures = sorted((results_dir / "figures").glob("*.*"))
    return RenderPaths(
        narrative_issues=results_dir / "validation/narrative_issues.csv",
        figures=tuple(figures),
        source_dir=results_dir / f"report/source/{report_format}",
        html=results_dir / f"report/{report_format}.html",
        pdf=results_dir / f"report/{report_format}.pdf",
        docx=results_dir / f"report/{report_format}.docx",
    )


def config_with_defaults(config: dict) -> dict:
    """``config`` with the config schema's defaults filled in, as the workflow sees it."""
    placeholder = {
        "r": {"title": "t", "sheets": "s", "codebook": "c", "report": "summary-of-evidence"}
    }
    filled = {"reviews": placeholder, **config}
    validate_config(filled, str(CONFIG_SCHEMA))
    return filled


def meta_settings(**given: object) -> MetaAnalysisSettings:
    """The ``meta_analysis`` settings: ``given`` over the config schema's defaults."""
    filled = config_with_defaults({"meta_analysis": dict(given)})
    return MetaAnalysisSettings.from_config(filled["meta_analysis"])


def write_typed_clean(result: ValidationResult, name: str, table: pd.DataFrame, path: Path) -> None:
    """``table`` as clean/<name>.parquet, typed as validation types that sheet."""
    specs = result.specs[name]
    types = {s.name: s.type for s in specs if not s.multi} | {SOURCE_ROW: "integer"}
    write_typed(table, path, types)
