"""The Word report: read back from a real render, styled from the brand, the same bytes twice."""

from __future__ import annotations

import datetime
import html
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from docx import Document
from docx.oxml.ns import qn

from conftest import HOSTILE_TEXTS, REPO
from evsynth.docx_reference import pandoc_default_reference, style_reference
from evsynth.render import docx_epoch, pandoc_path, render_with_pandoc

REPORT = "results/tiny/report/summary-of-evidence"


def body_text(document) -> str:
    """Every paragraph's text, those in table cells included, one per line."""
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines += [cell.text for cell in row.cells]
    return "\n".join(lines)


def html_headings(path: Path) -> list[str]:
    """The HTML report's section headings (h2), without its table of contents' title."""
    found = re.findall(r"<h2([^>]*)>(.*?)</h2>", path.read_text("utf-8"), re.DOTALL)
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
        for attrs, text in found
        if 'id="toc-title"' not in attrs
    ]


@pytest.mark.workflow
def test_docx_reads_back_with_the_html_content(tiny_built: Path):
    path = tiny_built / f"{REPORT}.docx"
    document = Document(str(path))
    config = yaml.safe_load((tiny_built / "config.yaml").read_text("utf-8"))
    title = config["reviews"]["tiny"]["title"]

    # The title, as the document's title and its first paragraph.
    assert document.core_properties.title == title
    first = document.paragraphs[0]
    assert first.style.name == "Title" and first.text == title

    # The sections, in the HTML's order, as Word headings (Heading 1: shifted like the PDF).
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    expected = html_headings(tiny_built / f"{REPORT}.html")
    assert len(expected) >= 5
    assert headings == expected

    # A Word table with a header row that Word repeats on every page it spans.
    studies = next(t for t in document.tables if t.rows[0].cells[0].text == "ID")
    header = studies.rows[0]._tr
    assert header.trPr is not None and header.trPr.find(qn("w:tblHeader")) is not None
    assert "Citation" in [c.text for c in studies.rows[0].cells]
    assert "Illustrative study 4 (2018)" in " ".join(c.text for c in studies.columns[1].cells)

    # Captions, styled as such, for tables and figures.
    captions = {p.style.name: p.text for p in document.paragraphs if "Caption" in p.style.name}
    assert captions.get("Table Caption") and captions.get("Image Caption")

    # Figures embedded as PNG, never SVG, each with its alt text.
    with zipfile.ZipFile(path) as archive:
        media = [n for n in archive.namelist() if n.startswith("word/media/")]
        xml = archive.read("word/document.xml").decode("utf-8")
    assert media and all(n.endswith(".png") for n in media), media
    alts = re.findall(r'<wp:docPr [^>]*descr="([^"]*)"', xml)
    assert len(alts) == len(media) and all(alts), alts

    # The notice as a box: its title and text in the reference's shaded callout styles.
    styled = [(p.style.name, p.text) for p in document.paragraphs]
    assert ("Callout Title", "Illustrative data") in styled
    # A box's last paragraph is "Callout Last": the box keeps together, not with what follows.
    assert any(name == "Callout Last" and "synthetic" in text for name, text in styled)

    text = body_text(document)
    assert "We reviewed 5 records" in text  # {{n_studies}} filled in the lead's prose


@pytest.mark.workflow
def test_docx_prints_hostile_text_literally(tiny_built: Path):
    document = Document(str(tiny_built / f"{REPORT}.docx"))
    text = body_text(document)
    for hostile in HOSTILE_TEXTS:
        assert hostile in text, hostile
    with zipfile.ZipFile(tiny_built / f"{REPORT}.docx") as archive:
        rels = archive.read("word/_rels/document.xml.rels").decode("utf-8")
    assert 'TargetMode="External"' not in rels  # no link out of the document was made


@pytest.mark.workflow
def test_docx_is_the_same_bytes_twice_and_dated_from_the_sources(tiny_built: Path, tmp_path: Path):
    staged = tiny_built / "results/tiny/report/source/summary-of-evidence"
    outputs = []
    for run in ("a", "b"):
        source = tmp_path / run
        shutil.copytree(staged, source)
        out = tmp_path / f"{run}.docx"
        render_with_pandoc(
            source, "summary-of-evidence.qmd", tmp_path / f"{run}.html", tmp_path / "x.pdf", out
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] == (tiny_built / f"{REPORT}.docx").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.docx") as archive:
        core = archive.read("docProps/core.xml").decode("utf-8")
        times = {info.date_time for info in archive.infolist()}
    # No date in the sources: the fixed epoch, never the build time.
    assert '<dcterms:created xsi:type="dcterms:W3CDTF">1970-01-01T00:00:00Z' in core
    assert times == {(1980, 1, 1, 0, 0, 0)}


def test_docx_epoch_comes_from_the_document_date_or_is_fixed():
    assert docx_epoch({}) == 0
    assert docx_epoch({"date": "not a date"}) == 0
    assert docx_epoch({"date": "2024-03-01"}) == 1709251200
    assert docx_epoch({"date": datetime.date(2024, 3, 1)}) == 1709251200


def test_reference_document_wears_the_brand():
    brand = yaml.safe_load((REPO / "reports/_brand.yml").read_text("utf-8"))
    brand["color"]["palette"]["navy"] = "#123456"
    brand["typography"]["base"]["family"] = "Brand Sans"
    template = pandoc_default_reference(pandoc_path())
    data = style_reference(template, brand)
    assert data == style_reference(template, brand)  # the same bytes for the same brand
    document = Document(__import__("io").BytesIO(data))
    styles = {s.name: s for s in document.styles}
    for name in ("Title", "Heading 1", "Heading 2"):
        assert str(styles[name].font.color.rgb) == "123456", name
        colour = styles[name].element.rPr.find(qn("w:color"))
        assert colour.get(qn("w:themeColor")) is None, name  # a theme colour would win
    fonts = document.styles.element.find(qn("w:docDefaults")).find(".//" + qn("w:rFonts"))
    assert fonts.get(qn("w:ascii")) == "Brand Sans" and fonts.get(qn("w:asciiTheme")) is None
    table = styles["Table"].element
    first_row = table.find(qn("w:tblStylePr"))
    assert first_row.get(qn("w:type")) == "firstRow"
    assert first_row.find(".//" + qn("w:shd")).get(qn("w:fill")) == "EEF3F8"  # the brand's light
    assert {"Callout", "Callout Title"} <= set(styles)
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
