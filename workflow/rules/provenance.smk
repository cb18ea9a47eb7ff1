# Provenance: what went into a review's results, hashed, with the software that made them.


rule provenance:
    input:
        sheets=sheet_files,
        codebook=codebook_file,
        summary=rules.validate.output.summary,
        report=lambda wc: expand(
            "results/{review}/report/{format}.{ext}",
            review=wc.review,
            format=report_formats(wc.review),
            ext=["html", "pdf", "docx"],
        ),
    output:
        provenance=report(
            "results/{review}/provenance.json",
            caption="../report/provenance.rst",
            category="5. Provenance",
            subcategory="{review}",
        ),
    params:
        review=lambda wc: wc.review,
        settings=lambda wc: review_config(wc.review),
        project_dir=str(Path(workflow.basedir).parent),
        checksums=checksum_record("provenance"),
    log:
        "logs/provenance/{review}.log",
    run:
        adapter("provenance", input, output, params, wildcards, log, rule)


rule datapackage:
    input:
        passed=rules.validation_gate.output.passed,
        tables=result_tables,
        codebook=codebook_file,
    output:
        datapackage="results/{review}/datapackage.json",
    params:
        review=lambda wc: wc.review,
        title=lambda wc: review_config(wc.review)["title"],
        codebook=lambda wc: review_config(wc.review)["codebook"],
        checksums=checksum_record("datapackage"),
    log:
        "logs/datapackage/{review}.log",
    run:
        adapter("datapackage", input, output, params, wildcards, log, rule)
