"""Snakemake adapter: fill the Quarto sources with a review's results and render them."""

from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.outcomes import MetaAnalysisSettings
from evsynth.render import RenderPaths, run_render
from evsynth.report import ReportInputs
from evsynth.runner import run_rule

run_rule(
    snakemake,
    recorded_rule(
        snakemake,
        lambda: run_render(
            review=snakemake.params.review,
            report_format=snakemake.wildcards.format,
            settings=dict(snakemake.params.settings),
            analysis=MetaAnalysisSettings.from_config(snakemake.params.meta_analysis),
            inputs=ReportInputs(
                codebook=Path(snakemake.params.settings["codebook"]),
                studies=Path(snakemake.input.studies),
                screening=Path(snakemake.input.screening),
                themes=Path(snakemake.input.themes),
                characteristics=Path(snakemake.input.characteristics),
                direction=Path(snakemake.input.direction),
                meta_analysis=Path(snakemake.input.meta_analysis),
                agreement=Path(snakemake.input.agreement),
                validation_summary=Path(snakemake.input.validation),
                summary_of_findings=Path(snakemake.input.summary_of_findings),
                qualitative_findings=Path(snakemake.input.qualitative_findings),
                findings_warnings=Path(snakemake.input.findings_warnings),
                appraisal_summary=Path(snakemake.input.appraisal_summary),
                outcomes=Path(snakemake.input.outcomes),
                study_weights=Path(snakemake.input.study_weights),
                gap_map=Path(snakemake.input.gap_map),
                small_study=Path(snakemake.input.small_study),
                subgroups=Path(snakemake.input.subgroups),
                leave_one_out=Path(snakemake.input.leave_one_out),
            ),
            reports_dir=Path(snakemake.params.reports_dir),
            out=RenderPaths(
                narrative_issues=Path(snakemake.input.narrative_check),
                figures=tuple(Path(p) for p in snakemake.input.figures),
                source_dir=Path(snakemake.params.source_dir),
                html=Path(snakemake.output.html),
                pdf=Path(snakemake.output.pdf),
                docx=Path(snakemake.output.docx),
            ),
        ),
    ),
)
