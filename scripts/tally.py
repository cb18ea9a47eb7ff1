"""Snakemake adapter: theme tallies, co-occurrence and the themes figure."""
from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.runner import run_rule
from evsynth.tally import run_tally

run_rule(snakemake, recorded_rule(snakemake, lambda: run_tally(
    studies_path=Path(snakemake.input.studies),
    codes_path=Path(snakemake.input.codes),
    codebook_path=Path(snakemake.params.codebook),
    forward=snakemake.params.forward,
    themes_path=Path(snakemake.output.themes),
    cooccurrence_path=Path(snakemake.output.cooccurrence),
    figure_path=Path(snakemake.output.figure_svg).with_suffix(""),
)))
