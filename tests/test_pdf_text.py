"""The tests' PDF reader (tests/pdf_text.py) gives pypdf's text: the tests that check a title is
never hyphenated look for the soft hyphen pypdf reports, so PDFium's own mark must become it."""

from __future__ import annotations

from pathlib import Path

import typst
from pypdf import PdfReader

from pdf_text import page_texts

#: A narrow column of long words, hyphenated by Typst: some line ends in a broken word.
SOURCE = """#set page(width: 6cm, height: 8cm, margin: 0.5cm)
#set text(lang: "en", hyphenate: true, size: 11pt)
#set par(justify: true)
Characteristically, internationalisation and responsibilities
notwithstanding, the reconceptualisation of interdisciplinary
collaborations necessitates extraordinarily comprehensive documentation.
"""


def test_pages_read_as_pypdf_reads_them_soft_hyphens_included(tmp_path: Path):
    source = tmp_path / "hyphens.typ"
    source.write_text(SOURCE, "utf-8")
    pdf = tmp_path / "hyphens.pdf"
    typst.compile(str(source), output=str(pdf))
    ours = page_texts(pdf)
    theirs = [page.extract_text() or "" for page in PdfReader(pdf).pages]
    assert len(ours) == len(theirs) == 1
    assert "\u00ad" in theirs[0]  # the test text does break a word at a line end
    assert "\u00ad\n" in ours[0] and "\ufffe" not in ours[0] and "\r" not in ours[0]
    # The same characters in the same order; only the spacing may differ.
    assert "".join(ours[0].split()) == "".join(theirs[0].split())
