# Outcome summaries: effect direction with a sign test, random-effects meta-analysis, and the
# evidence gap map (themes x outcomes, which needs the codes).


rule outcomes:
    input:
        passed=passed_marker(),
        studies=clean("studies"),
        outcomes=clean("outcomes"),
        codes=clean("codes"),
        codebook=codebook_file,
        sheets=source_sheets("studies", "outcomes", "codes"),
    output:
        direction=report(
            "results/{review}/outcomes/direction.csv",
            caption="../report/direction.rst",
            category="3. Outcomes",
            subcategory="{review}",
        ),
        direction_by_quality="results/{review}/outcomes/direction_by_quality.csv",
        meta_analysis=report(
            "results/{review}/outcomes/meta_analysis.csv",
            caption="../report/meta_analysis.rst",
            category="3. Outcomes",
            subcategory="{review}",
        ),
        gap_map="results/{review}/outcomes/gap_map.csv",
        study_weights="results/{review}/outcomes/study_weights.csv",
        direction_png="results/{review}/figures/direction.png",
        direction_svg="results/{review}/figures/direction.svg",
        forest_png="results/{review}/figures/forest.png",
        forest_svg=report(
            "results/{review}/figures/forest.svg",
            caption="../report/forest.rst",
            category="3. Outcomes",
            subcategory="{review}",
        ),
        effect_direction_png="results/{review}/figures/effect_direction.png",
        effect_direction_svg=report(
            "results/{review}/figures/effect_direction.svg",
            caption="../report/effect_direction.rst",
            category="3. Outcomes",
            subcategory="{review}",
        ),
        gap_map_png="results/{review}/figures/gap_map.png",
        gap_map_svg=report(
            "results/{review}/figures/gap_map.svg",
            caption="../report/gap_map.rst",
            category="3. Outcomes",
            subcategory="{review}",
        ),
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        meta_analysis=config["meta_analysis"],
        forward=config["agreement"]["forward"],
        checksums=checksum_record("outcomes"),
    log:
        "logs/outcomes/{review}.log",
    benchmark:
        "benchmarks/outcomes/{review}.tsv"
    run:
        adapter("outcomes", input, output, params, wildcards, log, rule)
