"""Snakemake adapter: effect direction, meta-analysis, the gap map and their figures."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.outcomes import MetaAnalysisSettings, OutcomesPaths, run_outcomes
from evsynth.runner import run_rule


def figure(name: str) -> Path:
    """A figure's declared SVG without its suffix: the plot writes the .png beside it."""
    return Path(snakemake.output[f"{name}_svg"]).with_suffix("")


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
                direction_figure=figure("direction"),
                forest_figure=figure("forest"),
                effect_direction_figure=figure("effect_direction"),
                gap_map_figure=figure("gap_map"),
            ),
        ),
    ),
)
