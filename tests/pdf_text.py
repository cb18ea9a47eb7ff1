"""The text of a rendered PDF, for the tests that read reports back.

Through PDFium (pypdfium2, already the layout checker's renderer): about fifty times faster than
pypdf's ``extract_text`` on a twenty-page report (0.1 s against 5.6 s), which made reading the
examples' PDFs most of the suite's time. Cached per file version, as many tests read the same
shared run.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pypdfium2 as pdfium


def page_texts(path: Path | str) -> tuple[str, ...]:
    """Each page's text, in pypdf's conventions (see :func:`_as_pypdf`)."""
    stat = Path(path).stat()
    return _page_texts(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


def pdf_text(path: Path | str) -> str:
    """The whole document's text, its pages joined by newlines."""
    return "\n".join(page_texts(path))


@lru_cache(maxsize=64)
def _page_texts(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    # The file's date and size are in the key so that a test that re-renders reads anew.
    document = pdfium.PdfDocument(path)
    try:
        return tuple(_as_pypdf(page.get_textpage().get_text_range()) for page in document)
    finally:
        document.close()


def _as_pypdf(text: str) -> str:
    """PDFium ends lines with CR LF, and marks a word hyphenated at a line end with U+FFFE,
    running the rest of the word and its line on; pypdf gives a soft hyphen (U+00AD) and a line
    break. The tests were written against the latter, and check for soft hyphens."""
    return text.replace("\r\n", "\n").replace("\ufffe", "\u00ad\n")
