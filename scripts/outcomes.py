"""Snakemake adapter: effect direction, meta-analysis, the gap map and their figures."""
from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.outcomes import run_outcomes
from evsynth.runner import run_rule

run_rule(snakemake, recorded_rule(snakemake, lambda: run_outcomes(
    studies_path=Path(snakemake.input.studies),
    outcomes_path=Path(snakemake.input.outcomes),
    codebook_path=Path(snakemake.params.codebook),
    settings=dict(snakemake.params.meta_analysis),
    out_dir=Path(snakemake.output.direction).parent,
    figures_dir=Path(snakemake.output.direction_svg).parent,
    codes_path=Path(snakemake.input.codes),
    forward=snakemake.params.forward,
)))
