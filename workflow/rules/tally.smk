# Thematic tallies: the theme tree rolled up, crosstabs by study field, co-occurrence, the
# included studies' characteristics, and agreement between coders.


rule tally:
    input:
        passed=passed_marker(),
        studies=clean("studies"),
        codes=clean("codes"),
        codebook=codebook_file,
        sheets=source_sheets("studies", "codes"),
    output:
        themes=report(
            "results/{review}/tallies/themes.csv",
            caption="../report/themes.rst",
            category="2. Themes",
            subcategory="{review}",
        ),
        cooccurrence="results/{review}/tallies/cooccurrence.csv",
        characteristics="results/{review}/tallies/characteristics.csv",
        figure_png="results/{review}/figures/themes.png",
        figure_svg=report(
            "results/{review}/figures/themes.svg",
            caption="../report/themes_figure.rst",
            category="2. Themes",
            subcategory="{review}",
        ),
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        forward=config["agreement"]["forward"],
        checksums=checksum_record("tally"),
    log:
        "logs/tally/{review}.log",
    benchmark:
        "benchmarks/tally/{review}.tsv"
    run:
        adapter("tally", input, output, params, wildcards, log, rule)


rule crosstab:
    input:
        passed=passed_marker(),
        studies=clean("studies"),
        codes=clean("codes"),
        codebook=codebook_file,
        sheets=source_sheets("studies", "codes"),
    output:
        crosstab="results/{review}/tallies/themes_by_{field}.csv",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        forward=config["agreement"]["forward"],
        checksums=checksum_record("crosstab"),
    log:
        "logs/crosstab/{review}_{field}.log",
    run:
        adapter("crosstab", input, output, params, wildcards, log, rule)


rule agreement:
    input:
        passed=passed_marker(),
        codes=clean("codes"),
        codebook=codebook_file,
        sheets=source_sheets("codes"),
    output:
        agreement=report(
            "results/{review}/tallies/agreement.csv",
            caption="../report/agreement.rst",
            category="2. Themes",
            subcategory="{review}",
        ),
        disagreements="results/{review}/tallies/disagreements.csv",
    params:
        codebook=lambda wc: review_config(wc.review)["codebook"],
        checksums=checksum_record("agreement"),
    log:
        "logs/agreement/{review}.log",
    run:
        adapter("agreement", input, output, params, wildcards, log, rule)
