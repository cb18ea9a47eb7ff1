"""Snakemake adapter: the Frictionless data package describing a review's result tables."""

from pathlib import Path

from evsynth.datapackage import run_datapackage
from evsynth.integrity import recorded_rule
from evsynth.runner import run_rule

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_datapackage(
            review=snakemake.params.review,
            title=snakemake.params.title,
            review_dir=Path(snakemake.output.datapackage).parent,
            tables=[Path(p) for p in snakemake.input.tables],
            out_path=Path(snakemake.output.datapackage),
            codebook_path=Path(snakemake.params.codebook),
        ),
    ),
)
