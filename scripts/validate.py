"""Snakemake adapter: validate one review's sheets against its codebook."""
from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.runner import run_rule
from evsynth.validate import run_validate

run_rule(snakemake, recorded_rule(snakemake, lambda: run_validate(
    sheets=Path(snakemake.params.sheets),
    codebook=Path(snakemake.params.codebook),
    validation_dir=Path(snakemake.output.issues).parent,
    clean_dir=Path(snakemake.output.studies).parent,
)))
