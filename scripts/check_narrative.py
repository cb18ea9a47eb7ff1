"""Snakemake adapter: check the lead's narrative files (sections and live-figure names) and
the review's references file against its included studies, into one findings file."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.narrative import run_check_narrative
from evsynth.references import add_reference_findings
from evsynth.render import pandoc_path
from evsynth.runner import run_rule


def check() -> None:
    issues = Path(snakemake.output.issues)
    run_check_narrative(
        folder=Path(snakemake.params.narrative) if snakemake.params.narrative else None,
        report_format=snakemake.params.report_format,
        codebook_path=Path(snakemake.params.codebook),
        issues_path=issues,
        findings_path=Path(snakemake.input.findings),
    )
    add_reference_findings(
        issues,
        snakemake.params.references,
        snakemake.params.csl,
        Path(snakemake.input.studies),
        pandoc_path(),
    )


run_rule(snakemake, recorded_rule(snakemake, check))
