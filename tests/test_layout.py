"""The blank-page check (evsynth.layout) on small PDFs Typst makes here: a page that ends early
fails unless it is the last, a page filled by a coloured panel passes, the running header and
footer are not content, and a file that is not a PDF gets a message naming it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typst

from conftest import REPO
from evsynth import layout

# The house page (reports/_typst/evsynth.typ): A4 and its margins, a header and a footer.
PAGE = """
#set page(paper: "a4", margin: (x: 2.2cm, top: 2.4cm, bottom: 2.2cm),
  header: [Running header #h(1fr) Summary of evidence],
  footer: [Illustrative data #h(1fr) Page #context counter(page).display()])
#set text(size: 10pt)
"""
FULL = "#lorem(1400)\n"  # more than a page of prose: the page before it is full


def pdf(tmp_path: Path, body: str, name: str = "doc") -> Path:
    source = tmp_path / f"{name}.typ"
    source.write_text(PAGE + body, "utf-8")
    out = tmp_path / f"{name}.pdf"
    typst.compile(str(source), output=str(out))
    return out


def test_a_page_ending_early_fails_unless_it_is_the_last(tmp_path: Path):
    # Page 1: a few lines, then a forced break (as when a large figure moves on).
    doc = pdf(tmp_path, "#lorem(60)\n#pagebreak()\n" + FULL)
    shares = layout.blank_shares(doc)
    assert len(shares) >= 3
    assert shares[0].blank_share > 0.8, shares
    assert all(p.blank_share < 0.1 for p in shares[1:-1]), shares
    problems = layout.check_pdf(doc)
    assert len(problems) == 1
    assert problems[0].startswith(f"{doc}: page 1 of {len(shares)} is ")
    assert "blank below its last content" in problems[0]
    # The same short page as the document's last is fine.
    assert layout.check_pdf(pdf(tmp_path, FULL + "#pagebreak()\n#lorem(60)\n", "end")) == []


def test_the_limit_is_forty_percent_of_the_body(tmp_path: Path):
    # Blocks of a set height: 65% of the body filled (35% blank) passes, 55% (45%) fails.
    body_cm = 29.7 - 2.4 - 2.2
    for filled, fails in ((0.65, False), (0.55, True)):
        doc = pdf(
            tmp_path,
            f"#block(height: {filled * body_cm:.2f}cm, width: 100%, fill: black)\n"
            "#pagebreak()\n" + FULL,
            f"fill{filled}",
        )
        share = layout.blank_shares(doc)[0].blank_share
        assert share == pytest.approx(1 - filled, abs=0.02)
        assert bool(layout.check_pdf(doc)) is fails


def test_header_and_footer_are_not_content(tmp_path: Path):
    # Only the running header and footer on page 1: its body is empty.
    doc = pdf(tmp_path, "#pagebreak()\n" + FULL)
    assert layout.blank_shares(doc)[0].blank_share == pytest.approx(1.0)
    assert layout.check_pdf(doc)


def test_a_cover_filled_by_design_is_not_blank(tmp_path: Path):
    # A coloured panel the height of the body, with little text on it, as a cover page has;
    # and a pale tinted box (the brand's lightest fill) ending the page.
    cover = (
        '#block(height: 100%, width: 100%, fill: rgb("#1F3A5F"), inset: 1cm)'
        "[#text(fill: white, size: 24pt)[Title]]\n#pagebreak()\n"
    )
    tinted = '#lorem(300)\n#block(height: 1fr, width: 100%, fill: rgb("#EEF3F8"))\n#pagebreak()\n'
    doc = pdf(tmp_path, cover + tinted + FULL)
    shares = layout.blank_shares(doc)
    assert shares[0].blank_share < 0.02 and shares[1].blank_share < 0.02, shares
    assert layout.check_pdf(doc) == []


def test_not_a_pdf_is_named_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture):
    bad = tmp_path / "report.pdf"
    bad.write_text("<html>not a pdf</html>", "utf-8")
    with pytest.raises(layout.LayoutError, match=re.escape(str(bad))):
        layout.blank_shares(bad)
    assert layout.main([str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_command_line_prints_every_page_and_fails_on_a_blank_one(
    tmp_path: Path, capsys: pytest.CaptureFixture
):
    doc = pdf(tmp_path, "#lorem(60)\n#pagebreak()\n" + FULL)
    assert layout.main([str(doc)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"page +1: +\d+% blank +FAIL", out), out
    assert re.search(r"page +2: +\d+% blank\n", out), out
    good = pdf(tmp_path, FULL, "good")
    assert layout.main([str(good)]) == 0


def test_house_margins_are_the_typst_templates():
    """The checker's body is the house page's: if evsynth.typ's margins change, so must it.
    (The cover sets margins of its own; its panel fills the page, so any body there is ink.)"""
    typ = (REPO / "reports/_typst/evsynth.typ").read_text("utf-8")
    found = re.search(
        r'set page\(\s*paper: "a4",\s*'
        r"margin: \(x: ([\d.]+)cm, top: ([\d.]+)cm, bottom: ([\d.]+)cm\)",
        typ,
    )
    assert found, "evsynth.typ's page margins"
    x, top, bottom = (float(v) * layout.CM for v in found.groups())
    m = layout.HOUSE_MARGINS
    assert (m.left, m.right, m.top, m.bottom) == pytest.approx((x, x, top, bottom))


def test_word_headings_and_boxes_keep_with_what_follows():
    """Word: a heading keeps with the paragraph after it and a box's paragraphs with each
    other, up to the box's last, which does not drag the text after the box along."""
    import io

    import yaml
    from docx import Document

    from evsynth.docx_reference import (
        CALLOUT_LAST_STYLE,
        CALLOUT_STYLE,
        CALLOUT_TITLE_STYLE,
        pandoc_default_reference,
        style_reference,
    )
    from evsynth.render import pandoc_path

    brand = yaml.safe_load((REPO / "reports/_brand.yml").read_text("utf-8"))
    document = Document(io.BytesIO(style_reference(pandoc_default_reference(pandoc_path()), brand)))
    styles = {s.name: s.paragraph_format for s in document.styles if s.type == 1}
    for name in ("Heading 1", "Heading 2", "Heading 3", CALLOUT_TITLE_STYLE, CALLOUT_STYLE):
        assert styles[name].keep_with_next is True, name
        assert styles[name].keep_together is True, name
    assert styles[CALLOUT_LAST_STYLE].keep_with_next is False
    assert styles[CALLOUT_LAST_STYLE].keep_together is True
    assert "Callout Last" in (REPO / "reports/_assets/docx.lua").read_text("utf-8")
