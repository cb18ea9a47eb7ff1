"""The Pandoc + Typst render path writes one self-contained HTML file (README, "Rendering"):
a report mailed or archived on its own shows its figures, styles and logo. Unit-level: one
small document rendered from the staged reports project, without the workflow."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from conftest import REPO  # noqa: E402
from evsynth.render import render_with_pandoc, stage_sources, write_generated  # noqa: E402


def _figure(path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)


def test_the_html_embeds_its_figures_styles_and_logo(tmp_path: Path):
    figures = tmp_path / "figures"
    figures.mkdir()
    _figure(figures / "line.png")
    source = tmp_path / "source"
    stage_sources(REPO / "reports", source)
    write_generated(
        source, {"note.md": "A note.\n"}, {"title": "A small report"}, [figures / "line.png"]
    )
    (source / "doc.qmd").write_text(
        "---\ntitle: A small report\n---\n\n## Findings\n\n![A line](figures/line.png)\n",
        encoding="utf-8",
    )
    html_path, pdf_path = tmp_path / "doc.html", tmp_path / "doc.pdf"
    render_with_pandoc(source, "doc.qmd", html_path, pdf_path, tmp_path / "doc.docx")
    html = html_path.read_text(encoding="utf-8")
    # Nothing is left pointing at a file beside the page: every src and stylesheet is inline.
    assert re.findall(r'src="(?!data:)[^"]*"', html) == []
    assert '<link rel="stylesheet"' not in html
    assert html.count('src="data:image/png;base64,') == 1  # the figure
    assert 'src="data:image/svg+xml' in html  # the masthead's logo
    assert "--evs-primary" in html  # the brand's CSS, inline
    assert pdf_path.read_bytes().startswith(b"%PDF")
