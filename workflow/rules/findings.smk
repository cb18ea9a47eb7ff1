# From numbers to findings: each study's appraisal (robvis's two plots), and the review's
# findings with how sure we can be of each (GRADE for effects, GRADE-CERQual for qualitative
# findings), every one traceable to its study IDs.


rule appraisal:
    input:
        passed=passed_marker(),
        appraisal=clean("appraisal"),
        # Read by content (see common.smk): rerunning outcomes rewrites the weights, which only
        # change when the studies or outcomes sheets do, named below.
        weights=ancient(rules.outcomes.output.study_weights),
        codebook=codebook_file,
        sheets=source_sheets("appraisal", "studies", "outcomes"),
    output:
        by_study=report(
            "results/{review}/appraisal/by_study.csv",
            caption="../report/appraisal.rst",
            category="4. Findings",
            subcategory="{review}",
        ),
        summary="results/{review}/appraisal/summary.csv",
        traffic_light_png="results/{review}/figures/appraisal_traffic_light.png",
        traffic_light_svg=report(
            "results/{review}/figures/appraisal_traffic_light.svg",
            caption="../report/appraisal.rst",
            category="4. Findings",
            subcategory="{review}",
        ),
        summary_png="results/{review}/figures/appraisal_summary.png",
        summary_svg="results/{review}/figures/appraisal_summary.svg",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        checksums=checksum_record("appraisal"),
    log:
        "logs/appraisal/{review}.log",
    run:
        adapter("appraisal", input, output, params, wildcards, log, rule)


rule findings:
    input:
        passed=passed_marker(),
        findings=clean("findings"),
        studies=clean("studies"),
        outcomes=clean("outcomes"),
        appraisal=rules.appraisal.output.by_study,
        codebook=codebook_file,
        sheets=source_sheets("findings", "studies", "outcomes"),
    output:
        summary_of_findings=report(
            "results/{review}/findings/summary_of_findings.csv",
            caption="../report/findings.rst",
            category="4. Findings",
            subcategory="{review}",
        ),
        qualitative_findings="results/{review}/findings/qualitative_findings.csv",
        signals="results/{review}/findings/signals.csv",
        warnings="results/{review}/findings/warnings.csv",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        meta_analysis=config["meta_analysis"],
        intervention=lambda wc: review_config(wc.review)["intervention"],
        checksums=checksum_record("findings"),
    log:
        "logs/findings/{review}.log",
    run:
        adapter("findings", input, output, params, wildcards, log, rule)
