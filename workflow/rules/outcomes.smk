# Outcome summaries: effect direction with a sign test, random-effects meta-analysis, and the
# evidence gap map (themes x outcomes, which needs the codes).


rule outcomes:
    input:
        passed=rules.validation_gate.output.passed,
        studies=rules.validate.output.studies,
        outcomes=rules.validate.output.outcomes,
        codes=rules.validate.output.codes,
        codebook=codebook_file,
    output:
        direction="results/{review}/outcomes/direction.csv",
        direction_by_quality="results/{review}/outcomes/direction_by_quality.csv",
        meta_analysis="results/{review}/outcomes/meta_analysis.csv",
        gap_map="results/{review}/outcomes/gap_map.csv",
        direction_png="results/{review}/figures/direction.png",
        direction_svg="results/{review}/figures/direction.svg",
        forest_png="results/{review}/figures/forest.png",
        forest_svg="results/{review}/figures/forest.svg",
        effect_direction_png="results/{review}/figures/effect_direction.png",
        effect_direction_svg="results/{review}/figures/effect_direction.svg",
        gap_map_png="results/{review}/figures/gap_map.png",
        gap_map_svg="results/{review}/figures/gap_map.svg",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        meta_analysis=config.get("meta_analysis", {}),
        forward=config.get("agreement", {}).get("forward", "union"),
    log:
        "logs/outcomes/{review}.log",
    benchmark:
        "benchmarks/outcomes/{review}.tsv"
    script:
        "../../scripts/outcomes.py"
