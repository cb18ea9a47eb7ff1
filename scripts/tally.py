"""Snakemake adapter: theme tallies, co-occurrence, study characteristics and the themes
figure."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.runner import run_rule
from evsynth.tally import TallyPaths, run_tally

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_tally(
            studies_path=Path(snakemake.input.studies),
            codes_path=Path(snakemake.input.codes),
            codebook_path=Path(snakemake.params.codebook),
            forward=snakemake.params.forward,
            out=TallyPaths(
                themes=Path(snakemake.output.themes),
                cooccurrence=Path(snakemake.output.cooccurrence),
                characteristics=Path(snakemake.output.characteristics),
                figure=Path(snakemake.output.figure_svg).with_suffix(""),
            ),
        ),
    ),
)
