"""Snakemake adapter: fill the Quarto sources with a review's results and render them."""
from pathlib import Path

from evsynth.integrity import recorded_rule
from evsynth.render import run_render
from evsynth.runner import run_rule

run_rule(snakemake, recorded_rule(snakemake, lambda: run_render(
    review=snakemake.params.review,
    settings=dict(snakemake.params.settings),
    results_dir=Path(snakemake.input.validation).parent.parent,
    reports_dir=Path(snakemake.params.reports_dir),
    html_path=Path(snakemake.output.html),
    pdf_path=Path(snakemake.output.pdf),
)))
