"""Snakemake adapter: subgroup analyses, their direction counts and the grouped forest plot."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.runner import figure_stem, run_rule
from evsynth.subgroups import SubgroupPaths, run_subgroups

settings = snakemake.params.meta_analysis
run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_subgroups(
            studies_path=Path(snakemake.input.studies),
            outcomes_path=Path(snakemake.input.outcomes),
            codebook_path=Path(snakemake.params.codebook),
            fields=list(settings["subgroups"]),
            method=settings["method"],
            hartung_knapp=bool(settings["hartung_knapp"]),
            out=SubgroupPaths(
                subgroups=Path(snakemake.output.subgroups),
                direction=Path(snakemake.output.direction),
                figure=figure_stem(snakemake, "subgroups_forest"),
            ),
        ),
    ),
)
