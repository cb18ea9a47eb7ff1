# Subgroup analyses (config meta_analysis.subgroups): random-effects pooling within the
# subgroups of each configured study field, the test for subgroup differences, the direction
# counts with the sign test per subgroup, and the grouped forest plot.


rule subgroups:
    input:
        passed=passed_marker(),
        studies=clean("studies"),
        outcomes=clean("outcomes"),
        codebook=codebook_file,
        sheets=source_sheets("studies", "outcomes"),
    output:
        subgroups="results/{review}/outcomes/subgroups.csv",
        direction="results/{review}/outcomes/subgroups_direction.csv",
        subgroups_forest_png="results/{review}/figures/subgroups_forest.png",
        subgroups_forest_svg="results/{review}/figures/subgroups_forest.svg",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        meta_analysis=config["meta_analysis"],
        checksums=checksum_record("subgroups"),
    log:
        "logs/subgroups/{review}.log",
    run:
        adapter("subgroups", input, output, params, wildcards, log, rule)
