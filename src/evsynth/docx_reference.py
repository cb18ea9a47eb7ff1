"""The Word reference document: Pandoc's default ``reference.docx`` restyled from ``_brand.yml``.

Pandoc takes every style of a DOCX it writes (headings, body, captions, tables, page size) from
a reference document. evsynth makes one per render from the brand, so the Word file wears the
same colours and fonts as the HTML and PDF, and a change to ``_brand.yml`` reaches all three.
The styles are set with python-docx; what it has no API for (theme-font and theme-colour
overrides, table borders and shading, paragraph shading) is set on its underlying XML.
"""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import yaml
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

#: Zip entries get one fixed time, so the same brand gives the same reference bytes.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: Pandoc's custom paragraph styles for the boxes (key messages, notices, questions): the
#: docx filter (reports/_assets/docx.lua) puts them on the callouts' paragraphs.
CALLOUT_STYLE = "Callout"
CALLOUT_TITLE_STYLE = "Callout Title"
#: A box's last paragraph (reports/_assets/docx.lua): the box keeps together, but not with
#: whatever follows it.
CALLOUT_LAST_STYLE = "Callout Last"


def brand_colours(brand: dict) -> dict[str, str]:
    """Each colour role of the brand (primary, light, ...) as a hex code, palette names resolved."""
    colours = brand.get("color", {}) or {}
    palette = colours.get("palette", {}) or {}
    return {
        role: str(palette.get(value, value))
        for role, value in colours.items()
        if role != "palette" and isinstance(value, str)
    }


def _hex(code: str) -> str:
    return code.lstrip("#").upper()


def _points(size: object, default: float) -> float:
    """A brand size such as ``10pt`` in points (the default for anything else)."""
    text = str(size or "").strip()
    try:
        return float(text[:-2]) if text.endswith("pt") else float(text)
    except ValueError:
        return default


def _style(styles, name: str):
    """The style called ``name`` (python-docx maps some built-in names, such as Caption, to
    lower case; Pandoc's reference keeps them as written)."""
    for style in styles:
        if style.name is not None and style.name.lower() == name.lower():
            return style
    raise KeyError(f"reference.docx has no style {name!r}")


def _set_font(rpr, family: str) -> None:
    """One font for every script, with no theme font: a theme attribute beats a named font."""
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in list(fonts.attrib):
        del fonts.attrib[attr]
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), family)


def _set_colour(style, code: str) -> None:
    """The style's text colour (python-docx drops any theme colour, which Word would prefer)."""
    style.font.color.rgb = RGBColor.from_string(_hex(code))


def _border(edge: str, colour: str, size: int = 4) -> OxmlElement:
    element = OxmlElement(f"w:{edge}")
    element.set(qn("w:val"), "single")
    element.set(qn("w:sz"), str(size))
    element.set(qn("w:space"), "0")
    element.set(qn("w:color"), _hex(colour))
    return element


def _shading(fill: str) -> OxmlElement:
    element = OxmlElement("w:shd")
    element.set(qn("w:val"), "clear")
    element.set(qn("w:color"), "auto")
    element.set(qn("w:fill"), _hex(fill))
    return element


def _replace(parent, tag: str, element) -> None:
    """Put ``element`` in ``parent`` in place of any existing child with the same tag."""
    for old in parent.findall(qn(tag)):
        parent.remove(old)
    parent.append(element)


def _table_style(styles, colours: dict[str, str], size: float) -> None:
    """Pandoc's ``Table`` style: thin rules between rows, a header row shaded in the light
    colour with bold text in the primary one (dark on light stays readable where a reader
    ignores the style's text colour; Pandoc marks the header row, which Word repeats on each
    page)."""
    style = _style(styles, "Table").element
    rule = colours.get("light", "#DDDDDD")
    tblpr = style.find(qn("w:tblPr"))
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "bottom", "insideH"):
        borders.append(
            _border(edge, colours.get("secondary", "#666666") if edge != "insideH" else rule)
        )
    _replace(tblpr, "w:tblBorders", borders)
    # Narrower cell margins than Pandoc's 0.19 cm: the columns of codes and years are narrow.
    margins = tblpr.find(qn("w:tblCellMar"))
    for side in ("w:left", "w:right"):
        margins.find(qn(side)).set(qn("w:w"), "72")
    for old in style.findall(qn("w:tblStylePr")):
        style.remove(old)
    # Table text a point smaller than the body, so codes and years fit their columns.
    rpr = OxmlElement("w:rPr")
    for tag in ("w:sz", "w:szCs"):
        sz = OxmlElement(tag)
        sz.set(qn("w:val"), str(round((size - 1) * 2)))
        rpr.append(sz)
    _replace(style, "w:rPr", rpr)
    first = OxmlElement("w:tblStylePr")
    first.set(qn("w:type"), "firstRow")
    head = OxmlElement("w:rPr")
    head.append(OxmlElement("w:b"))
    ink = OxmlElement("w:color")
    ink.set(qn("w:val"), _hex(colours.get("primary", "#1F3A5F")))
    head.append(ink)
    first.append(head)
    tcpr = OxmlElement("w:tcPr")
    tcpr.append(_shading(colours.get("light", "#EEF3F8")))
    first.append(tcpr)
    style.append(first)


def _callout_styles(styles, colours: dict[str, str], size: float) -> None:
    """Shaded paragraphs with a rule on the left, for the boxes; the title in the primary
    colour. Paragraph shading and borders run on across consecutive paragraphs of one style,
    so a box reads as one block."""
    from docx.enum.style import WD_STYLE_TYPE

    for name in (CALLOUT_STYLE, CALLOUT_TITLE_STYLE, CALLOUT_LAST_STYLE):
        if name in [s.name for s in styles]:
            continue
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = _style(styles, "Normal")
        style.font.size = Pt(size)
        ppr = style.element.get_or_add_pPr()
        edges = OxmlElement("w:pBdr")
        edges.append(_border("left", colours.get("primary", "#1F3A5F"), size=24))
        ppr.append(edges)
        ppr.append(_shading(colours.get("light", "#EEF3F8")))
        style.paragraph_format.left_indent = Mm(2)
        style.paragraph_format.right_indent = Mm(2)
        style.paragraph_format.space_after = Pt(4)
    # A box never splits across pages (issue 13): each of its lines keeps with the next, up to
    # its last paragraph, which keeps its own lines together only.
    for name in (CALLOUT_STYLE, CALLOUT_TITLE_STYLE, CALLOUT_LAST_STYLE):
        _style(styles, name).paragraph_format.keep_together = True
        _style(styles, name).paragraph_format.keep_with_next = name != CALLOUT_LAST_STYLE
    _style(styles, CALLOUT_LAST_STYLE).base_style = _style(styles, CALLOUT_STYLE)
    title = _style(styles, CALLOUT_TITLE_STYLE)
    title.base_style = _style(styles, CALLOUT_STYLE)
    title.font.bold = True
    _set_colour(title, colours.get("primary", "#1F3A5F"))


def style_reference(template: bytes, brand: dict) -> bytes:
    """Pandoc's default reference document (``template``) restyled from the brand."""
    document = Document(io.BytesIO(template))
    colours = brand_colours(brand)
    typography = brand.get("typography", {}) or {}
    base = typography.get("base", {}) or {}
    headings = typography.get("headings", {}) or {}
    body_font = base.get("family", "DejaVu Sans")
    heading_font = headings.get("family", body_font)
    size = _points(base.get("size"), 10.0)
    heading_colour = colours.get(str(headings.get("color", "primary")), colours.get("primary"))
    styles = document.styles

    # Every run's default font and size (docDefaults), then the body text colour.
    defaults = styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_font(defaults, body_font)
    for tag in ("w:sz", "w:szCs"):
        defaults.find(qn(tag)).set(qn("w:val"), str(round(size * 2)))
    if "foreground" in colours:
        _set_colour(_style(styles, "Normal"), colours["foreground"])

    titles = {"Title": 2.2, "Subtitle": 1.3}
    levels = {"Heading 1": 1.6, "Heading 2": 1.3, "Heading 3": 1.1, "Heading 4": 1.0}
    for name, scale in {**titles, **levels}.items():
        style = _style(styles, name)
        _set_font(style.element.get_or_add_rPr(), heading_font)
        style.font.size = Pt(round(size * scale, 1))
        style.font.bold = name != "Subtitle"
        style.font.italic = False
        colour = colours.get("secondary") if name == "Subtitle" else heading_colour
        if colour:
            _set_colour(style, colour)
        # A heading never ends a page: it keeps with the paragraph after it (issue 13).
        style.paragraph_format.keep_with_next = True
        style.paragraph_format.keep_together = True

    for name in ("Caption", "Table Caption", "Image Caption"):
        style = _style(styles, name)
        style.font.size = Pt(size - 1)
        style.font.italic = True
        style.paragraph_format.keep_with_next = name == "Table Caption"
        if "secondary" in colours:
            _set_colour(style, colours["secondary"])
    if "secondary" in colours:
        _set_colour(_style(styles, "Hyperlink"), colours["secondary"])
    # A figure stays on the page of its caption (the caption follows it).
    for name in ("Figure", "Captioned Figure"):
        _style(styles, name).paragraph_format.keep_with_next = True

    _table_style(styles, colours, size)
    _callout_styles(styles, colours, size)

    # A4 with 2 cm margins, as the PDF.
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(20))

    saved = io.BytesIO()
    document.save(saved)
    return fixed_zip_times(saved.getvalue())


def fixed_zip_times(data: bytes) -> bytes:
    """The same archive with every entry dated :data:`ZIP_TIME` (python-docx stamps the
    time of saving)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


def pandoc_default_reference(pandoc: str) -> bytes:
    """Pandoc's own reference.docx, as ``pandoc --print-default-data-file`` gives it."""
    done = subprocess.run(
        [pandoc, "--print-default-data-file", "reference.docx"],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def write_reference(pandoc: str, brand_path: Path, out: Path) -> None:
    """Write the brand's reference document for Pandoc to ``out``."""
    brand = yaml.safe_load(brand_path.read_text(encoding="utf-8")) or {}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(style_reference(pandoc_default_reference(pandoc), brand))
