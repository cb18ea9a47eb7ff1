"""Snakemake adapter: stop the review if validation found errors (findings stay on disk)."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.runner import run_rule
from evsynth.validate import gate

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: gate(
            review=snakemake.wildcards.review,
            summary_path=Path(snakemake.input.summary),
            issues_path=Path(snakemake.input.issues),
            report_path=Path(snakemake.params.report),
            passed_path=Path(snakemake.output.passed),
        ),
    ),
)
