"""Snakemake adapter: agreement between coders on double-coded studies."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.runner import run_rule
from evsynth.tally import run_agreement

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_agreement(
            codes_path=Path(snakemake.input.codes),
            codebook_path=Path(snakemake.params.codebook),
            agreement_path=Path(snakemake.output.agreement),
            disagreements_path=Path(snakemake.output.disagreements),
        ),
    ),
)
