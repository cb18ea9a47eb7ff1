# Render a review's report: fill the Quarto sources in reports/ with the review's results and
# narrative, then render HTML, PDF and Word (Quarto if on PATH, else Pandoc + Typst).


rule render:
    input:
        unpack(tally_results),
        # Not ancient: the report is redone whenever validation reran (it shows the
        # findings), and never before the gate has passed.
        passed=rules.validation_gate.output.passed,
        validation=rules.validate.output.summary,
        narrative_check=rules.check_narrative.output.issues,
        studies=rules.validate.output.studies_typed,
        screening=rules.validate.output.screening_typed,
        direction=rules.outcomes.output.direction,
        meta_analysis=rules.outcomes.output.meta_analysis,
        summary_of_findings=rules.findings.output.summary_of_findings,
        qualitative_findings=rules.findings.output.qualitative_findings,
        findings_warnings=rules.findings.output.warnings,
        appraisal_summary=rules.appraisal.output.summary,
        # Read for the figures' alt text (evsynth.alt_text): each study's estimate and weight
        # in the forest plots, and the gap map's cells.
        outcomes=rules.validate.output.outcomes_typed,
        study_weights=rules.outcomes.output.study_weights,
        gap_map=rules.outcomes.output.gap_map,
        small_study=rules.small_study.output.table,
        subgroups=rules.subgroups.output.subgroups,
        leave_one_out=rules.leave_one_out.output.table,
        # Every figure file, each copied beside the report's sources by its name.
        figures=[
            rules.tally.output.figure_png,
            rules.tally.output.figure_svg,
            rules.outcomes.output.direction_png,
            rules.outcomes.output.direction_svg,
            rules.outcomes.output.forest_png,
            rules.outcomes.output.forest_svg,
            rules.outcomes.output.effect_direction_png,
            rules.outcomes.output.effect_direction_svg,
            rules.outcomes.output.gap_map_png,
            rules.outcomes.output.gap_map_svg,
            rules.small_study.output.funnel_png,
            rules.small_study.output.funnel_svg,
            rules.subgroups.output.subgroups_forest_png,
            rules.subgroups.output.subgroups_forest_svg,
            rules.prisma.output.png,
            rules.prisma.output.svg,
            rules.appraisal.output.traffic_light_png,
            rules.appraisal.output.traffic_light_svg,
            rules.appraisal.output.summary_png,
            rules.appraisal.output.summary_svg,
        ],
        codebook=codebook_file,
        narrative=narrative_files,
        references=references_files,
        sources=report_sources,
    output:
        html=report(
            "results/{review}/report/{format}.html",
            caption="../report/report_html.rst",
            category="4. Reports",
            subcategory="{review}",
        ),
        pdf=report(
            "results/{review}/report/{format}.pdf",
            caption="../report/report_pdf.rst",
            category="4. Reports",
            subcategory="{review}",
        ),
        # Word, for publishers and leads who edit: the same sources through Pandoc.
        docx="results/{review}/report/{format}.docx",
    params:
        review=lambda wc: wc.review,
        settings=lambda wc: review_config(wc.review),
        meta_analysis=config["meta_analysis"],
        reports_dir=str(REPORTS_DIR),
        # Scratch space for the filled sources (not an output: the reports are), one folder
        # per format, so that two formats of one review render in parallel without sharing
        # intermediates.
        source_dir="results/{review}/report/source/{format}",
        checksums=checksum_record("render"),
    log:
        "logs/render/{review}_{format}.log",
    benchmark:
        "benchmarks/render/{review}_{format}.tsv"
    run:
        adapter("render", input, output, params, wildcards, log, rule)
