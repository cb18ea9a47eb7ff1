"""Snakemake adapter: the summary of findings, the qualitative findings and their signals."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.outcomes import MetaAnalysisSettings
from evsynth.review_findings import FindingsPaths, run_findings
from evsynth.runner import run_rule

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_findings(
            findings_path=Path(snakemake.input.findings),
            studies_path=Path(snakemake.input.studies),
            outcomes_path=Path(snakemake.input.outcomes),
            appraisal_by_study_path=Path(snakemake.input.appraisal),
            codebook_path=Path(snakemake.params.codebook),
            settings=MetaAnalysisSettings.from_config(snakemake.params.meta_analysis),
            out=FindingsPaths(
                summary_of_findings=Path(snakemake.output.summary_of_findings),
                qualitative_findings=Path(snakemake.output.qualitative_findings),
                signals=Path(snakemake.output.signals),
                warnings=Path(snakemake.output.warnings),
            ),
            intervention_label=snakemake.params.intervention,
        ),
    ),
)
