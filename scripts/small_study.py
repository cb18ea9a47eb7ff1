"""Snakemake adapter: Egger's test per outcome and the contour-enhanced funnel plots."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.outcomes import MetaAnalysisSettings
from evsynth.runner import figure_stem, run_rule
from evsynth.small_study import SmallStudyPaths, run_small_study

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_small_study(
            outcomes_path=Path(snakemake.input.outcomes),
            meta_analysis_path=Path(snakemake.input.meta_analysis),
            codebook_path=Path(snakemake.params.codebook),
            settings=MetaAnalysisSettings.from_config(snakemake.params.meta_analysis),
            out=SmallStudyPaths(
                table=Path(snakemake.output.table),
                funnel_figure=figure_stem(snakemake, "funnel"),
            ),
        ),
    ),
)
