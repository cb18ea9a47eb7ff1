"""Snakemake adapter: validate one review's sheets against its codebook."""

from pathlib import Path

from evsynth.intake import SHEETS
from evsynth.integrity import recorded_rule
from evsynth.runner import run_rule
from evsynth.validate import ValidationPaths, run_validate

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_validate(
            sheets=Path(snakemake.params.sheets),
            codebook=Path(snakemake.params.codebook),
            paths=ValidationPaths(
                issues=Path(snakemake.output.issues),
                summary=Path(snakemake.output.summary),
                report=Path(snakemake.output.report),
                clean={name: Path(snakemake.output[name]) for name in SHEETS},
                typed={name: Path(snakemake.output[f"{name}_typed"]) for name in SHEETS},
            ),
        ),
    ),
)
