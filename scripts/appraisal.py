"""Snakemake adapter: each study's appraisal, the summary per domain, and robvis's plots."""

from pathlib import Path

from evsynth.appraisal import AppraisalPaths, run_appraisal
from evsynth.integrity import recorded_rule
from evsynth.runner import figure_stem, run_rule

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_appraisal(
            appraisal_path=Path(snakemake.input.appraisal),
            codebook_path=Path(snakemake.params.codebook),
            weights_path=Path(snakemake.input.weights),
            out=AppraisalPaths(
                by_study=Path(snakemake.output.by_study),
                summary=Path(snakemake.output.summary),
                traffic_light_figure=figure_stem(snakemake, "traffic_light"),
                summary_figure=figure_stem(snakemake, "summary"),
            ),
        ),
    ),
)
