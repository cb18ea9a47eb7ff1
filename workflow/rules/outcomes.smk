# Outcome summaries: effect direction with a sign test, and random-effects meta-analysis.


rule outcomes:
    input:
        passed=rules.validation_gate.output.passed,
        studies=rules.validate.output.studies,
        outcomes=rules.validate.output.outcomes,
        codebook=codebook_file,
    output:
        direction="results/{review}/outcomes/direction.csv",
        direction_by_quality="results/{review}/outcomes/direction_by_quality.csv",
        meta_analysis="results/{review}/outcomes/meta_analysis.csv",
        direction_png="results/{review}/figures/direction.png",
        direction_svg="results/{review}/figures/direction.svg",
        forest_png="results/{review}/figures/forest.png",
        forest_svg="results/{review}/figures/forest.svg",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        meta_analysis=config.get("meta_analysis", {}),
    log:
        "logs/outcomes/{review}.log",
    benchmark:
        "benchmarks/outcomes/{review}.tsv"
    script:
        "../../scripts/outcomes.py"
