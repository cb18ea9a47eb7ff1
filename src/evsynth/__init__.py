"""evsynth: coded extraction sheets to audited evidence-synthesis reports.

One module per pipeline stage:

- :mod:`evsynth.codebook`   load and check a review's codebook
- :mod:`evsynth.intake`     read extraction sheets (CSV folder or .xlsx workbook)
- :mod:`evsynth.validate`   apply the data contract, write findings and clean tables
- :mod:`evsynth.tally`      thematic tallies with the theme-tree roll-up
- :mod:`evsynth.outcomes`   effect direction and meta-analysis per outcome
- :mod:`evsynth.stats`      the statistical estimators (sign test, Wilson, kappa, REML, DL)
- :mod:`evsynth.figures`    deterministic PNG and SVG plots
- :mod:`evsynth.render`     fill the Quarto sources and render HTML and PDF
"""

__version__ = "0.1.0"
