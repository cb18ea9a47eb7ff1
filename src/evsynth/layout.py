"""The blank-page check: how much of each PDF page's body is left empty below its last content.

A page that ends half-way because a large figure or an unsplittable box moved on to the next
page reads as a mistake in print (issue 13). This renders every page to pixels (pypdfium2, so
no poppler is needed), looks only at the body (inside the house margins of
``reports/_typst/evsynth.typ``: the running header sits in the top margin, the footer in the
bottom one, so neither counts as content), and measures the share of the body's height below
the last row holding any ink. A coloured panel or a tinted box is ink: a cover filled by design
is not blank, wherever its last line sits.

Only the document's last page may end early; every other page fails above ``limit``. No page is
special-cased by number: a cover or a contents page passes when it is filled by design.

Command line: ``python -m evsynth.layout file.pdf [...]`` prints each page's blank share and
exits 1 when a page fails, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The share of a page's body that may be blank below its last content (issue 13: 40%).
BLANK_LIMIT = 0.40
CM = 72 / 2.54  # PDF points per centimetre


@dataclass(frozen=True)
class Margins:
    """Page margins in PDF points; the body is the rectangle inside them."""

    left: float
    right: float
    top: float
    bottom: float


#: The house margins (reports/_typst/evsynth.typ, ``set page(margin: ...)``); a test checks the
#: two agree.
HOUSE_MARGINS = Margins(left=2.2 * CM, right=2.2 * CM, top=2.4 * CM, bottom=2.2 * CM)
#: 36 dpi resolves a 9 pt line of text (about 4 pixels) and keeps a page at ~300x420 pixels, so
#: memory is a fraction of a megabyte per page whatever the PDF, and one page is held at a time.
DPI = 36
#: A pixel is ink when any channel is darker than this: anti-aliased text edges and the palest
#: box tint in the brand (light, #EEF3F8) both count; paper white (255) does not.
INK_BELOW = 250


class LayoutError(Exception):
    """The file is not a PDF that can be rendered; the message names it."""


@dataclass(frozen=True)
class PageBlank:
    page: int  # 1-based, as a reader counts
    blank_share: float  # of the body's height, below the last content


def body_blank_share(pixels: np.ndarray, dpi: float, margins: Margins) -> float:
    """The share of the body's height below its last row of ink.

    ``pixels`` is one page as an (height, width, channels) array of 0-255 values."""
    scale = dpi / 72
    height, width = pixels.shape[:2]
    top, bottom = round(margins.top * scale), height - round(margins.bottom * scale)
    left, right = round(margins.left * scale), width - round(margins.right * scale)
    if bottom <= top or right <= left:
        return 0.0  # a page smaller than its margins has no body to be blank
    body = pixels[top:bottom, left:right]
    ink_rows = np.flatnonzero(
        (body < INK_BELOW).any(axis=(1, 2)) if body.ndim == 3 else (body < INK_BELOW).any(axis=1)
    )
    if ink_rows.size == 0:
        return 1.0
    return (bottom - top - 1 - int(ink_rows[-1])) / (bottom - top)


def blank_shares(pdf: Path, margins: Margins = HOUSE_MARGINS, dpi: float = DPI) -> list[PageBlank]:
    """Every page's blank share, page by page (one rendered page in memory at a time)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(pdf))
    except (pdfium.PdfiumError, OSError) as error:
        raise LayoutError(f"{pdf}: cannot be read as a PDF ({error})") from None
    try:
        shares = []
        for index in range(len(document)):
            page = document[index]
            try:
                bitmap = page.render(scale=dpi / 72)
                pixels = bitmap.to_numpy()
            finally:
                page.close()
            # pdfium renders BGRA/BGRx; the alpha or padding channel is 255 and never ink.
            if pixels.ndim == 3 and pixels.shape[2] == 4:
                pixels = pixels[:, :, :3]
            shares.append(PageBlank(index + 1, body_blank_share(pixels, dpi, margins)))
        return shares
    finally:
        document.close()


def failing_pages(shares: list[PageBlank], limit: float = BLANK_LIMIT) -> list[PageBlank]:
    """The pages other than the last whose body is more than ``limit`` blank."""
    return [p for p in shares[:-1] if p.blank_share > limit]


def check_pdf(pdf: Path, limit: float = BLANK_LIMIT) -> list[str]:
    """One message per failing page, naming the file and page; [] when the layout passes."""
    return [
        f"{pdf}: page {p.page} of {len(shares)} is {p.blank_share:.0%} blank below its last "
        f"content (more than {limit:.0%}; only the last page may end early)"
        for shares in [blank_shares(pdf)]
        for p in failing_pages(shares, limit)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evsynth.layout",
        description="Print each PDF page's blank share of the body; fail on a mostly blank page.",
    )
    parser.add_argument("pdfs", nargs="+", type=Path)
    parser.add_argument("--limit", type=float, default=BLANK_LIMIT)
    args = parser.parse_args(argv)
    status = 0
    for pdf in args.pdfs:
        try:
            shares = blank_shares(pdf)
        except LayoutError as error:
            print(error, file=sys.stderr)
            status = 2
            continue
        failing = {p.page for p in failing_pages(shares, args.limit)}
        print(f"{pdf}: {len(shares)} pages")
        for p in shares:
            mark = "  FAIL" if p.page in failing else ""
            print(f"  page {p.page:>3}: {p.blank_share:4.0%} blank{mark}")
        if failing:
            status = max(status, 1)
    return status


if __name__ == "__main__":
    sys.exit(main())
