"""Alt text that carries each figure's data (evsynth.alt_text), and its escaping into the
figure's attribute (evsynth.report.figure)."""

from __future__ import annotations

import re

import pandas as pd

from evsynth import alt_text
from evsynth.report import figure

THEMES = pd.DataFrame(
    {
        "code": ["a", "a.b", "a.b.c", "d"],
        "label": ["Parent", "Child", "Grandchild", 'Other "quoted" \\ theme'],
        "level": [1, 2, 3, 1],
        "n_studies": [10, 6, 2, 8],
        "pct_studies": [50.0, 30.0, 10.0, 40.0],
    }
)


def test_themes_alt_lists_each_theme_with_count_and_percentage_under_its_parent():
    text = alt_text.themes(THEMES, 20)
    assert "of 20" in text
    assert "Parent 10 (50%) (sub-themes: Child 6 (30%) (sub-themes: Grandchild 2 (10%)))" in text
    assert 'Other "quoted" \\ theme 8 (40%)' in text


def test_forest_alt_gives_each_studys_estimate_ci_and_weight_and_the_pooled_estimate():
    meta = pd.DataFrame(
        [
            {
                "outcome": "reoffending",
                "effect_measure": "rr",
                "label": "Re-offending",
                "study_ids": "S1;S2",
                "estimate": 0.83,
                "ci_lower": 0.71,
                "ci_upper": 0.97,
                "pi_lower": 0.61,
                "pi_upper": 1.13,
                "i2": 57.1,
            }
        ]
    )
    estimates = pd.DataFrame(
        {
            "study_id": ["S1", "S2", "S2", "S3"],
            "outcome": ["reoffending"] * 4,
            "effect_measure": ["rr", "rr", "rr", "rr"],
            "estimate": [0.72, 0.95, 9.99, 1.5],  # S2's second row is not the one pooled
            "ci_lower": [0.58, 0.78, 9.0, 1.0],
            "ci_upper": [0.89, 1.16, 11.0, 2.0],
        }
    )
    weights = pd.DataFrame(
        {
            "study_id": ["S1", "S2"],
            "outcome": ["reoffending"] * 2,
            "effect_measure": ["rr", "rr"],
            "weight": [0.4, 0.6],
        }
    )
    text = alt_text.forest(meta, estimates, weights)
    assert "Re-offending, risk ratio, 2 studies" in text
    assert "S1 0.72 (95% CI 0.58 to 0.89), weight 40%" in text
    assert "S2 0.95 (95% CI 0.78 to 1.16), weight 60%" in text
    assert "9.99" not in text and "S3" not in text
    assert "pooled 0.83 (95% CI 0.71 to 0.97), 95% prediction interval 0.61 to 1.13, I² 57%" in (
        text
    )


def test_a_long_alt_text_is_capped_and_says_how_much_is_left_out():
    many = pd.DataFrame(
        {
            "code": [f"t{i}" for i in range(400)],
            "label": [f"Theme number {i}" for i in range(400)],
            "level": [1] * 400,
            "n_studies": [1] * 400,
            "pct_studies": [5.0] * 400,
        }
    )
    text = alt_text.themes(many, 20)
    assert len(text) <= alt_text.MAX_CHARS + 40
    left = int(re.search(r"and (\d+) more \(see the tables\)\.$", text).group(1))
    shown = text.count("Theme number")
    assert shown + left == 400


def test_alt_text_is_escaped_into_the_figure_attribute():
    """A label with quotes and backslashes stays inside fig-alt (the attribute is not closed
    early), as Pandoc reads it back."""
    import pypandoc

    line = figure("figures/themes.svg", "Caption", alt_text.themes(THEMES, 20), "fig-themes")
    html = pypandoc.convert_text(line, "html", format="markdown")
    alt = re.search(r'alt="([^"]*)"', html)
    assert alt, html
    assert "Other &quot;quoted&quot; \\ theme 8 (40%)" in alt.group(1)
