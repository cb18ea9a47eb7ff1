"""Page images of the rendered reports, as a reader sees them: one contact sheet per PDF.

``make pages`` runs this after ``make run``: every ``results/<review>/report/<format>.pdf``
becomes ``results/pages/<review>--<format>.png``, its pages side by side in rows (pypdfium2
renders them, so no poppler is needed), and the page count is printed. The sheets are for
looking, by a reviewer or a publisher before print; the blank-page check
(``python -m evsynth.layout``) is what the tests run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

#: Each page at this many pixels wide: the layout reads, the text does not need to.
PAGE_WIDTH = 220
COLUMNS = 6
GAP = 8


def contact_sheet(pdf: Path, out: Path) -> int:
    """Write ``pdf``'s pages as one image to ``out``; return the number of pages."""
    document = pdfium.PdfDocument(str(pdf))
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            scale = PAGE_WIDTH / page.get_width()
            pages.append(page.render(scale=scale).to_pil().convert("RGB"))
            page.close()
    finally:
        document.close()
    width, height = PAGE_WIDTH, max(p.height for p in pages)
    rows = (len(pages) + COLUMNS - 1) // COLUMNS
    columns = min(COLUMNS, len(pages))
    sheet = Image.new(
        "RGB", (columns * (width + GAP) + GAP, rows * (height + GAP) + GAP), "#8A9199"
    )
    for i, image in enumerate(pages):
        sheet.paste(
            image, (GAP + (i % COLUMNS) * (width + GAP), GAP + (i // COLUMNS) * (height + GAP))
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    # 256 colours are plenty for a page at this size, and a third of the bytes.
    sheet.quantize(colors=256).save(out, optimize=True)
    return len(pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, default=Path("results/pages"))
    args = parser.parse_args(argv)
    pdfs = sorted(args.results.glob("*/report/*.pdf"))
    if not pdfs:
        print(f"no reports under {args.results}/*/report/: run `make run` first", file=sys.stderr)
        return 1
    for pdf in pdfs:
        review, fmt = pdf.parent.parent.name, pdf.stem
        out = args.out / f"{review}--{fmt}.png"
        n = contact_sheet(pdf, out)
        print(f"{review} {fmt}: {n} pages -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
