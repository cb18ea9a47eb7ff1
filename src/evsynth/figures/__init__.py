"""Figures: every plot as PNG and SVG, deterministic and readable at A4 width.

One module per figure family; they draw the numbers the stages computed and compute none:

- :mod:`~evsynth.figures.style`     palette, matplotlib style, deterministic saving, placeholder
- :mod:`~evsynth.figures.layout`    text measuring and fitting for the plots laid out in inches
- :mod:`~evsynth.figures.themes`    studies per theme (bar chart)
- :mod:`~evsynth.figures.direction` direction bars and the effect-direction plot
  (Boon & Thomson 2021)
- :mod:`~evsynth.figures.forest`    forest plots
- :mod:`~evsynth.figures.gap_map`   the evidence gap map
- :mod:`~evsynth.figures.prisma`    the PRISMA 2020 flow diagram
- :mod:`~evsynth.figures.appraisal` the appraisal traffic-light and summary plots (robvis)

The forest plot, effect-direction plot and gap map are laid out in inches at the A4 text width
(6.3 in), so their text prints at its nominal size when a report scales every figure to the
text width.
"""

import matplotlib

# No display: files only. Set here, before any submodule imports pyplot.
matplotlib.use("Agg")

from evsynth.figures.appraisal import appraisal_summary_plot, traffic_light_plot  # noqa: E402
from evsynth.figures.direction import direction_chart, effect_direction_plot  # noqa: E402
from evsynth.figures.forest import forest_plot, ratio_ticks  # noqa: E402
from evsynth.figures.gap_map import gap_map_plot  # noqa: E402
from evsynth.figures.prisma import prisma_diagram  # noqa: E402
from evsynth.figures.style import (  # noqa: E402
    A4_WIDTH_IN,
    OKABE_ITO,
    STYLE,
    placeholder,
    save,
)
from evsynth.figures.themes import theme_chart  # noqa: E402

__all__ = [
    "A4_WIDTH_IN",
    "OKABE_ITO",
    "STYLE",
    "appraisal_summary_plot",
    "direction_chart",
    "effect_direction_plot",
    "forest_plot",
    "gap_map_plot",
    "placeholder",
    "prisma_diagram",
    "ratio_ticks",
    "save",
    "theme_chart",
    "traffic_light_plot",
]
