"""Snakemake adapter: the PRISMA 2020 flow diagram."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.prisma import run_prisma
from evsynth.runner import run_rule

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_prisma(
            screening_path=Path(snakemake.input.screening),
            figure_path=Path(snakemake.output.svg).with_suffix(""),
        ),
    ),
)
