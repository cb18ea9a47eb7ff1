"""Snakemake adapter: one theme-by-study-field crosstab."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.runner import run_rule
from evsynth.tally import run_crosstab

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_crosstab(
            studies_path=Path(snakemake.input.studies),
            codes_path=Path(snakemake.input.codes),
            codebook_path=Path(snakemake.params.codebook),
            forward=snakemake.params.forward,
            field=snakemake.wildcards.field,
            out_path=Path(snakemake.output.crosstab),
        ),
    ),
)
