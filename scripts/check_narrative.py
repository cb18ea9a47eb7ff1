"""Snakemake adapter: check the lead's narrative files (sections and live-figure names)."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.narrative import run_check_narrative
from evsynth.runner import run_rule

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_check_narrative(
            folder=Path(snakemake.params.narrative) if snakemake.params.narrative else None,
            report_format=snakemake.params.report_format,
            codebook_path=Path(snakemake.params.codebook),
            issues_path=Path(snakemake.output.issues),
            findings_path=Path(snakemake.input.findings),
        ),
    ),
)
