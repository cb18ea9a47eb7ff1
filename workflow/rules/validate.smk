# Validation runs in two rules so that the findings survive a failed validation:
# `validate` always succeeds and writes them; `validation_gate` stops the review on errors.


rule validate:
    input:
        sheets=sheet_files,
        codebook=codebook_file,
    output:
        issues=report(
            "results/{review}/validation/issues.csv",
            caption="../report/issues.rst",
            category="1. Validation",
            subcategory="{review}",
        ),
        summary="results/{review}/validation/summary.json",
        report=report(
            "results/{review}/validation/report.md",
            caption="../report/validation_report.rst",
            category="1. Validation",
            subcategory="{review}",
        ),
        studies=report(
            "results/{review}/clean/studies.csv",
            caption="../report/clean.rst",
            category="1. Validation",
            subcategory="{review}",
        ),
        codes="results/{review}/clean/codes.csv",
        outcomes="results/{review}/clean/outcomes.csv",
        screening="results/{review}/clean/screening.csv",
        # Optional sheets: a table with its header and no rows when the sheet is not given.
        appraisal="results/{review}/clean/appraisal.csv",
        findings="results/{review}/clean/findings.csv",
        # The same tables typed (evsynth.handoff), which every later step reads.
        studies_typed="results/{review}/clean/studies.parquet",
        codes_typed="results/{review}/clean/codes.parquet",
        outcomes_typed="results/{review}/clean/outcomes.parquet",
        screening_typed="results/{review}/clean/screening.parquet",
        appraisal_typed="results/{review}/clean/appraisal.parquet",
        findings_typed="results/{review}/clean/findings.parquet",
    params:
        sheets=lambda wc: review_config(wc.review)["sheets"],
        codebook=lambda wc: review_config(wc.review)["codebook"],
        checksums=checksum_record("validate"),
    log:
        "logs/validate/{review}.log",
    benchmark:
        "benchmarks/validate/{review}.tsv"
    run:
        adapter("validate", input, output, params, wildcards, log, rule)


rule validation_gate:
    input:
        summary=rules.validate.output.summary,
        issues=rules.validate.output.issues,
    output:
        passed="results/{review}/validation/passed.txt",
    params:
        report=rules.validate.output.report,
        checksums=checksum_record("validation_gate"),
    log:
        "logs/validation_gate/{review}.log",
    run:
        adapter("validation_gate", input, output, params, wildcards, log, rule)


# The narrative is checked apart from the sheets, so that editing prose re-renders the report
# without re-running the tallies. Its findings are kept the same way; render stops on errors.
rule check_narrative:
    input:
        narrative=narrative_files,
        codebook=codebook_file,
        # The finding IDs the narrative's {{certainty:ID}} and its kin may name.
        findings=clean("findings"),
        # The references check (evsynth.references) matches the file's entries to these.
        studies=clean("studies"),
        sheets=source_sheets("findings", "studies"),
        references=references_files,
    output:
        issues="results/{review}/validation/narrative_issues.csv",
    params:
        narrative=lambda wc: review_config(wc.review)["narrative"],
        references=lambda wc: review_config(wc.review).get("references"),
        csl=lambda wc: review_config(wc.review).get("csl"),
        codebook=lambda wc: review_config(wc.review)["codebook"],
        report_format=lambda wc: report_formats(wc.review),
        checksums=checksum_record("check_narrative"),
    log:
        "logs/check_narrative/{review}.log",
    run:
        adapter("check_narrative", input, output, params, wildcards, log, rule)
