# Thematic tallies: the theme tree rolled up, crosstabs by study field, co-occurrence, and
# agreement between coders.


rule tally:
    input:
        passed=rules.validation_gate.output.passed,
        studies=rules.validate.output.studies,
        codes=rules.validate.output.codes,
        codebook=codebook_file,
    output:
        themes="results/{review}/tallies/themes.csv",
        cooccurrence="results/{review}/tallies/cooccurrence.csv",
        figure_png="results/{review}/figures/themes.png",
        figure_svg="results/{review}/figures/themes.svg",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        forward=config.get("agreement", {}).get("forward", "union"),
    log:
        "logs/tally/{review}.log",
    benchmark:
        "benchmarks/tally/{review}.tsv"
    script:
        "../../scripts/tally.py"


rule crosstab:
    input:
        passed=rules.validation_gate.output.passed,
        studies=rules.validate.output.studies,
        codes=rules.validate.output.codes,
        codebook=codebook_file,
    output:
        crosstab="results/{review}/tallies/themes_by_{field}.csv",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        forward=config.get("agreement", {}).get("forward", "union"),
    log:
        "logs/crosstab/{review}_{field}.log",
    script:
        "../../scripts/crosstab.py"


rule agreement:
    input:
        passed=rules.validation_gate.output.passed,
        codes=rules.validate.output.codes,
        codebook=codebook_file,
    output:
        agreement="results/{review}/tallies/agreement.csv",
        disagreements="results/{review}/tallies/disagreements.csv",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
    log:
        "logs/agreement/{review}.log",
    script:
        "../../scripts/agreement.py"
