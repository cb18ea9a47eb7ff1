# The PRISMA 2020 flow diagram, from the screening sheet (a placeholder when there is none).


rule prisma:
    input:
        passed=rules.validation_gate.output.passed,
        screening=rules.validate.output.screening,
    output:
        png="results/{review}/figures/prisma.png",
        svg=report(
            "results/{review}/figures/prisma.svg",
            caption="../report/prisma.rst",
            category="1. Validation",
            subcategory="{review}",
        ),
    log:
        "logs/prisma/{review}.log",
    script:
        "../../scripts/prisma.py"
