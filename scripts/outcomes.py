"""Snakemake adapter: effect direction, meta-analysis, the gap map and their figures."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.outcomes import MetaAnalysisSettings, OutcomesPaths, run_outcomes
from evsynth.runner import figure_stem, run_rule

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_outcomes(
            studies_path=Path(snakemake.input.studies),
            outcomes_path=Path(snakemake.input.outcomes),
            codes_path=Path(snakemake.input.codes),
            codebook_path=Path(snakemake.params.codebook),
            settings=MetaAnalysisSettings.from_config(snakemake.params.meta_analysis),
            forward=snakemake.params.forward,
            out=OutcomesPaths(
                direction=Path(snakemake.output.direction),
                direction_by_quality=Path(snakemake.output.direction_by_quality),
                meta_analysis=Path(snakemake.output.meta_analysis),
                gap_map=Path(snakemake.output.gap_map),
                study_weights=Path(snakemake.output.study_weights),
                direction_figure=figure_stem(snakemake, "direction"),
                forest_figure=figure_stem(snakemake, "forest"),
                effect_direction_figure=figure_stem(snakemake, "effect_direction"),
                gap_map_figure=figure_stem(snakemake, "gap_map"),
            ),
        ),
    ),
)
