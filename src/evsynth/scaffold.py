"""``make new-review REVIEW=<id>``: everything a new review needs, and what to do next.

It writes, each only where nothing exists yet (a lead's files are never overwritten):

- ``config/codebooks/<id>.yaml``, from the starter codebook in this package;
- ``data/raw/<id>/<id>-extraction.xlsx``, the Excel workbook to fill in, generated from that
  codebook (drop-downs and all), which the config then names as the review's sheets;
- the review's block in the config, inserted under ``reviews:`` as text so the file's comments
  and order survive; the result is parsed back and checked before it is saved.

The workbook is the lead's from then on: the pipeline only reads it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from evsynth.template import write_template

STARTER = Path(__file__).resolve().parent / "starter" / "codebook.yaml"
REVIEW_ID = re.compile(r"[a-z0-9-]+")


def config_block(review: str, codebook: Path, workbook: Path) -> str:
    """The review's entry in config.yaml, indented as under ``reviews:``."""
    title = review.replace("-", " ").capitalize()
    return (
        f"  {review}:\n"
        f'    title: "{title}: summary of evidence"\n'
        f"    sheets: {workbook.as_posix()}\n"
        f"    codebook: {codebook.as_posix()}\n"
        f"    report: summary-of-evidence       # or strategic-briefing, evidence-review, a list\n"
        f"    # narrative: reports/narrative/{review}/   # add when you write the prose\n"
        f"    # protocol: and publication: blocks (config/README.md) finish the draft\n"
    )


def insert_block(config_text: str, review: str, block: str) -> str:
    """``config_text`` with ``block`` as the first entry under ``reviews:``; the result must
    parse to the same config plus the new review, else ValueError."""
    before = yaml.safe_load(config_text) or {}
    match = re.search(r"^reviews:[ \t]*(#.*)?\n", config_text, re.MULTILINE)
    if not match:
        raise ValueError("no top-level 'reviews:' line to add the review under")
    text = config_text[: match.end()] + block + config_text[match.end() :]
    after = yaml.safe_load(text)
    expected = dict(before.get("reviews") or {})
    if set(after.get("reviews") or {}) != set(expected) | {review}:
        raise ValueError("the new block did not land under 'reviews:'")
    if {k: v for k, v in after.items() if k != "reviews"} != {
        k: v for k, v in before.items() if k != "reviews"
    }:
        raise ValueError("adding the block would change other settings")
    return text


def new_review(review: str, config: Path, root: Path = Path(".")) -> int:
    if not REVIEW_ID.fullmatch(review):
        print(
            f"evsynth: '{review}' cannot be a review id: use lower-case letters, digits and "
            "'-' (it names every output folder)",
            file=sys.stderr,
        )
        return 2
    config_path = root / config
    codebook = Path("config/codebooks") / f"{review}.yaml"
    data_dir = Path("data/raw") / review
    workbook = data_dir / f"{review}-extraction.xlsx"
    try:
        config_text = config_path.read_text("utf-8")
        existing = (yaml.safe_load(config_text) or {}).get("reviews") or {}
    except (OSError, yaml.YAMLError) as exc:
        print(f"evsynth: cannot read the config {config_path}: {exc}", file=sys.stderr)
        return 1
    taken = [str(p) for p in (codebook, data_dir) if (root / p).exists()]
    if review in existing:
        taken.insert(0, f"{config_path} (reviews.{review})")
    if taken:
        print(
            f"evsynth: review '{review}' already exists; nothing was written. Already "
            f"there: {', '.join(taken)}",
            file=sys.stderr,
        )
        return 1
    try:
        new_config = insert_block(config_text, review, config_block(review, codebook, workbook))
    except ValueError as exc:
        print(
            f"evsynth: cannot add the review to {config_path} ({exc}); nothing was written. "
            "Add this block under 'reviews:' by hand:\n" + config_block(review, codebook, workbook),
            file=sys.stderr,
        )
        return 1
    (root / codebook).parent.mkdir(parents=True, exist_ok=True)
    (root / codebook).write_text(STARTER.read_text("utf-8").replace("REVIEW_ID", review), "utf-8")
    (root / data_dir).mkdir(parents=True)
    write_template(root / codebook, root / workbook)
    config_path.write_text(new_config, "utf-8")
    print(f"""Review '{review}' is set up:
  {codebook}   the codebook: your designs, themes and outcomes (a starter to edit)
  {workbook}   the workbook to fill: one row per record, theme code, outcome
  {config_path}   reviews.{review}: title, sheets, codebook, report format

Next:
  1. Edit {codebook}: replace the starter's themes and outcomes with yours.
  2. If you changed the codebook, refresh the workbook's drop-downs before filling it:
     delete {workbook} and run `make template REVIEW={review} OUT={workbook}`.
  3. Fill the workbook (Excel or LibreOffice; keep the sheet and column names), then `make run`.
     Every problem found is listed by sheet, row and column.
  4. Write the narrative (README: "Narrative sections") and set `narrative:` in the config.""")
    return 0
