"""Snakemake adapter: leave-one-out pooling of every main meta-analysis with k >= 3."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.outcomes import MetaAnalysisSettings
from evsynth.runner import run_rule
from evsynth.sensitivity import run_leave_one_out

settings = MetaAnalysisSettings.from_config(snakemake.params.meta_analysis)
run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_leave_one_out(
            outcomes_path=Path(snakemake.input.outcomes),
            method=settings.method,
            hartung_knapp=settings.hartung_knapp,
            out_path=Path(snakemake.output.table),
        ),
    ),
)
