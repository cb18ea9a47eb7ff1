# Small-study effects: Egger's regression test and a contour-enhanced funnel plot for every
# outcome and effect measure with 10 or more estimates ("not assessed (k < 10)" otherwise).


rule small_study:
    input:
        passed=passed_marker(),
        outcomes=clean("outcomes"),
        # By content, as findings reads the study weights: an outcomes rerun that rewrites
        # the same pooled rows (a codes edit) does not redo this step (common.smk).
        meta_analysis=ancient(rules.outcomes.output.meta_analysis),
        codebook=codebook_file,
        sheets=source_sheets("outcomes"),
    output:
        table="results/{review}/outcomes/small_study.csv",
        funnel_png="results/{review}/figures/funnel.png",
        funnel_svg="results/{review}/figures/funnel.svg",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        meta_analysis=config["meta_analysis"],
        checksums=checksum_record("small_study"),
    log:
        "logs/small_study/{review}.log",
    run:
        adapter("small_study", input, output, params, wildcards, log, rule)
