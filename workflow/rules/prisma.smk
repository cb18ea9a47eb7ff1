# The PRISMA 2020 flow diagram, from the screening sheet (a placeholder when there is none).


rule prisma:
    input:
        passed=passed_marker(),
        screening=clean("screening"),
        sheets=source_sheets("screening"),
    output:
        png="results/{review}/figures/prisma.png",
        svg=report(
            "results/{review}/figures/prisma.svg",
            caption="../report/prisma.rst",
            category="1. Validation",
            subcategory="{review}",
        ),
    params:
        checksums=checksum_record("prisma"),
    log:
        "logs/prisma/{review}.log",
    run:
        adapter("prisma", input, output, params, wildcards, log, rule)
