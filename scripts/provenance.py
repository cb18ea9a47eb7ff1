"""Snakemake adapter: record what went into a review's results."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.provenance import run_provenance
from evsynth.runner import run_rule

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_provenance(
            review=snakemake.params.review,
            settings=dict(snakemake.params.settings),
            input_files=[Path(p) for p in [*snakemake.input.sheets, *snakemake.input.codebook]],
            project_dir=Path(snakemake.params.project_dir),
            out_path=Path(snakemake.output.provenance),
        ),
    ),
)
