"""References in and out: RIS / BibTeX -> the review's references file keyed by ``study_id``;
the included studies -> RIS for the lead's reference manager.

``evsynth import references EXPORT --review ID`` reads the export with Pandoc itself
(:func:`evsynth.references.read_references`, bounded in size, heap and time; evsynth never
parses bibliographic syntax), matches each entry to a study of the review's studies sheet - on
the DOI first, then on title and year - and writes the matched entries as CSL JSON,
``data/raw/<review>/references.json``, each under its study's ``study_id``. What did not match
is listed, never guessed.

``evsynth export-ris --review ID --config C --out F`` writes the review's included studies as
RIS, sorted by ``study_id`` with the study_id in the ``ID`` field: from the references file the
config names when there is one, else from the studies sheet's own citation fields. Pandoc reads
RIS but does not write it, so the few RIS tags written here are set out in :data:`RIS_TYPES`
and :func:`ris_record`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evsynth.importers.common import ImportProblem, check_export, targets, write_all
from evsynth.references import (
    Bibliography,
    ReferencesError,
    entry_line,
    read_references,
)

SUFFIXES = (".ris", ".bib", ".bibtex")
OUTPUT_NAME = "references.json"
#: A DOI as Crossref describes it: "10.", a registrant code, "/", a suffix without spaces.
DOI = re.compile(r"\b10\.\d{4,9}/\S+")
DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
#: A title this short ("Report", "Evaluation") says too little to match a citation on.
MIN_TITLE_CHARS = 12
#: CSL item types -> RIS reference types (RIS's own list); anything else is GEN (generic).
RIS_TYPES = {
    "article-journal": "JOUR",
    "article-magazine": "MGZN",
    "article-newspaper": "NEWS",
    "book": "BOOK",
    "chapter": "CHAP",
    "paper-conference": "CPAPER",
    "report": "RPRT",
    "thesis": "THES",
    "webpage": "ELEC",
    "dataset": "DATA",
}
#: A page range as CSL holds it: "10-19", or with an en dash as a CSL JSON file may write it.
PAGE_RANGE = re.compile(r"\s*(\S+?)\s*[-\u2013]+\s*(\S+)\s*")
#: Listed names in a message: enough to act on, never the whole of a large export.
MAX_LISTED = 20


# --- Normalising -------------------------------------------------------------------------------


def norm_doi(value: object) -> str:
    """A DOI as compared: no resolver prefix, no trailing punctuation, case folded (DOIs are
    case-insensitive)."""
    text = DOI_PREFIX.sub("", str(value or "").strip())
    return text.rstrip(".,;)").casefold()


def doi_in(text: str) -> str:
    """The first DOI written in ``text`` (a free-text citation), normalised; "" if none."""
    found = DOI.search(text)
    return norm_doi(found.group(0)) if found else ""


def norm_title(value: object) -> str:
    """Casefolded, accents kept, every run of punctuation and white space one space."""
    text = unicodedata.normalize("NFKC", str(value or "")).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def item_year(item: dict) -> str:
    """The year of a CSL item ("" if it has none)."""
    try:
        return str(int(item["issued"]["date-parts"][0][0]))
    except (KeyError, IndexError, TypeError, ValueError):
        return ""


# --- The studies sheet -------------------------------------------------------------------------


@dataclass(frozen=True)
class Study:
    study_id: str
    row: int
    year: str
    doi: str
    title: str  # the normalised `title` column, where the sheet has one
    citation: str  # the normalised free-text citation


def studies_location(sheets: Path) -> Path:
    """Where a review's studies sheet is: its folder of CSVs, or the one workbook in it."""
    if sheets.is_dir():
        files = list(sheets.iterdir())
        if any(p.suffix.lower() == ".csv" and p.stem.strip().lower() == "studies" for p in files):
            return sheets
        books = sorted(p for p in files if p.suffix.lower() in (".xlsx", ".xlsm"))
        if len(books) == 1:
            return books[0]
    for suffix in (".xlsx", ".xlsm"):
        book = sheets.with_suffix(suffix)
        if book.is_file():
            return book
    raise ImportProblem(
        f"{sheets}/studies.csv: no studies sheet (nor one workbook in {sheets}/); the references "
        "are matched to the review's studies, so bring or write the studies sheet first"
    )


def read_studies(location: Path) -> pd.DataFrame:
    """The studies sheet as text, with ``_row`` (its spreadsheet row)."""
    from evsynth.intake import read_sheets

    intake = read_sheets(location)
    sheet = intake.sheets.get("studies")
    if sheet is None:
        reasons = [f.message for f in intake.findings if f.severity == "error"]
        studies = [f.message for f in intake.findings if f.sheet in ("studies", "(workbook)")]
        raise ImportProblem(
            "; ".join(studies or reasons or [f"{location}: no studies sheet"])[:1000]
        )
    frame = sheet.frame
    if "study_id" not in frame.columns:
        raise ImportProblem(f"{sheet.source}: the studies sheet has no 'study_id' column")
    return frame.assign(_row=sheet.rows.to_numpy())


def studies_of(frame: pd.DataFrame) -> list[Study]:
    def col(name: str) -> pd.Series:
        return frame[name] if name in frame.columns else pd.Series([""] * len(frame))

    found: list[Study] = []
    rows = zip(
        frame["study_id"],
        frame["_row"],
        col("year"),
        col("doi"),
        col("title"),
        col("citation"),
        strict=True,
    )
    for study_id, row, year, doi, title, citation in rows:
        sid = "" if pd.isna(study_id) else str(study_id).strip()
        if not sid:
            continue
        text = "" if pd.isna(citation) else str(citation)
        own_doi = "" if pd.isna(doi) else norm_doi(doi)
        found.append(
            Study(
                sid,
                int(row),
                "" if pd.isna(year) else str(year).strip(),
                own_doi or doi_in(text),
                "" if pd.isna(title) else norm_title(title),
                norm_title(text),
            )
        )
    return found


# --- Matching ----------------------------------------------------------------------------------


@dataclass
class Matching:
    """Entries matched to studies (study_id -> CSL item), and what did not match."""

    matched: dict[str, dict] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)  # study_id -> "DOI" | "title and year"
    #: Entries left out, each with what to add after its name. Named (key, line) only when
    #: listed: finding an entry's line scans the file, so thousands would take minutes.
    unmatched: list[tuple[dict, str]] = field(default_factory=list)
    ambiguous: list[tuple[dict, str]] = field(default_factory=list)
    second: list[tuple[dict, str]] = field(default_factory=list)


def title_matches(title: str, study: Study) -> bool:
    """The entry's normalised title is the study's ``title``, or (without one) stands whole in
    its free-text citation."""
    if study.title:
        return title == study.title
    return len(title) >= MIN_TITLE_CHARS and f" {title} " in f" {study.citation} "


def describe(bib: Bibliography, item: dict) -> str:
    """An entry as a message names it: its key, its line and the start of its title."""
    key = str(item.get("id", ""))
    line = entry_line(bib.text, key) if key else None
    where = f"line {line}, " if line else ""
    title = " ".join(str(item.get("title", "")).split())
    title = title if len(title) <= 60 else title[:57] + "..."
    return f"{bib.path} ({where}entry {key!r}: {title!r})"


def match(bib: Bibliography, studies: list[Study]) -> Matching:
    # Indexed by DOI and by year, so the title fallback compares an entry only with the
    # studies of its year: the work stays near entries x studies-per-year, not entries x studies.
    by_doi: dict[str, list[Study]] = {}
    by_year: dict[str, list[Study]] = {}
    for study in studies:
        if study.doi:
            by_doi.setdefault(study.doi, []).append(study)
        by_year.setdefault(study.year, []).append(study)
    result = Matching()
    for item in bib.items:
        doi = norm_doi(item.get("DOI", ""))
        candidates = by_doi.get(doi, []) if doi else []
        how = "DOI"
        if not candidates:
            title, year = norm_title(item.get("title", "")), item_year(item)
            same_year = by_year.get(year, []) if year and title else []
            candidates = [s for s in same_year if title_matches(title, s)]
            how = "title and year"
        if not candidates:
            result.unmatched.append((item, ""))
        elif len(candidates) > 1:
            ids = ", ".join(s.study_id for s in candidates)
            result.ambiguous.append((item, f" matches {ids}"))
        elif candidates[0].study_id in result.matched:
            result.second.append((item, f" (also {candidates[0].study_id})"))
        else:
            result.matched[candidates[0].study_id] = item
            result.how[candidates[0].study_id] = how
    return result


def references_json(matched: dict[str, dict]) -> str:
    """The matched entries as CSL JSON, keyed and sorted by study_id (stable bytes)."""
    items = [{**matched[k], "id": k} for k in sorted(matched)]
    return json.dumps(items, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def listed(title: str, lines: list[str]) -> list[str]:
    if not lines:
        return []
    shown = [f"  - {line}" for line in lines[:MAX_LISTED]]
    more = [f"  ... and {len(lines) - MAX_LISTED} more"] if len(lines) > MAX_LISTED else []
    return [f"{title} ({len(lines)}):", *shown, *more]


def entries(bib: Bibliography, left: list[tuple[dict, str]]) -> list[str]:
    """Lines for the entries ``left`` out: the first MAX_LISTED named, the rest only counted
    (``listed`` shows no more than that)."""
    named = [describe(bib, item) + note for item, note in left[:MAX_LISTED]]
    return named + [""] * (len(left) - len(named))


def pandoc() -> str:
    from evsynth.render import pandoc_path

    return pandoc_path()


def read_bibliography(path: Path) -> Bibliography:
    try:
        return read_references(path, pandoc())
    except ReferencesError as exc:
        raise ImportProblem(exc.message) from None


def import_references(args: argparse.Namespace, root: Path = Path(".")) -> int:
    target = targets(args.review, root)
    export = Path(args.export)
    check_export(export, SUFFIXES)
    studies = studies_of(read_studies(studies_location(target.sheets)))
    if not studies:
        raise ImportProblem(f"{target.sheets}: the studies sheet has no study_id to match to")
    bib = read_bibliography(export)
    if not bib.items:
        raise ImportProblem(f"{export}: Pandoc found no entries in it")
    found = match(bib, studies)
    if not found.matched:
        raise ImportProblem(
            f"{export}: none of its {len(bib.items)} entries matches a study of "
            f"{target.sheets} on DOI, or on title and year"
        )
    out = target.sheets / OUTPUT_NAME
    write_all({out: references_json(found.matched)}, force=args.force, allowed=target)
    by_doi = sum(1 for how in found.how.values() if how == "DOI")
    missing = [
        f"{s.study_id} (studies row {s.row})" for s in studies if s.study_id not in found.matched
    ]
    lines = [
        f"Wrote {out}: {len(found.matched)} of {len(bib.items)} entries, each under its "
        f"study's study_id ({by_doi} matched on DOI, {len(found.matched) - by_doi} on title "
        "and year).",
        *listed(
            "Entries that match no study (left out; add the study's DOI or fix the title "
            "and year, then import again with --force)",
            entries(bib, found.unmatched),
        ),
        *listed("Entries matching more than one study (left out)", entries(bib, found.ambiguous)),
        *listed(
            "Second entries for a study already matched (the first is kept)",
            entries(bib, found.second),
        ),
        *listed("Studies without an entry (cited by their ID in the report)", missing),
        "Next: check the matches, then add this line under the review in config/config.yaml "
        f"(reviews: {args.review}:), replacing any references line there:",
        f"    references: {out.as_posix()}",
    ]
    print("\n".join(lines))
    return 0


# --- RIS export --------------------------------------------------------------------------------


def ris_value(value: object) -> str:
    """One RIS line's value: a field is one line, so white space (newlines too) is collapsed."""
    return " ".join(str(value).split())


def name_of(person: dict) -> str:
    if "literal" in person:
        return ris_value(person["literal"])
    family, given = ris_value(person.get("family", "")), ris_value(person.get("given", ""))
    return f"{family}, {given}" if given else family


def ris_record(study_id: str, item: dict) -> list[tuple[str, str]]:
    """The RIS tags of one CSL item, in RIS's usual order (TY first, ER last)."""
    tags: list[tuple[str, str]] = [("TY", RIS_TYPES.get(str(item.get("type", "")), "GEN"))]
    tags.append(("ID", study_id))
    for person in item.get("author", []) or []:
        if isinstance(person, dict) and name_of(person):
            tags.append(("AU", name_of(person)))
    for person in item.get("editor", []) or []:
        if isinstance(person, dict) and name_of(person):
            tags.append(("ED", name_of(person)))
    simple = [
        ("TI", "title"),
        ("T2", "container-title"),
        ("PY", None),
        ("VL", "volume"),
        ("IS", "issue"),
        ("SP", "page"),
        ("PB", "publisher"),
        ("CY", "publisher-place"),
        ("SN", "ISBN"),
        ("SN", "ISSN"),
        ("DO", "DOI"),
        ("UR", "URL"),
        ("N1", "note"),
    ]
    for tag, key in simple:
        value = item_year(item) if key is None else ris_value(item.get(key, ""))
        pages = PAGE_RANGE.fullmatch(value) if tag == "SP" else None
        if pages:
            tags += [("SP", pages.group(1)), ("EP", pages.group(2))]
        elif value:
            tags.append((tag, value))
    return [*tags, ("ER", "")]


def sheet_item(row: pd.Series) -> dict:
    """A CSL item from the studies sheet's own fields: its title (or the free-text citation as
    the title), year and DOI."""

    def text(name: str) -> str:
        value = row.get(name, "")
        return "" if pd.isna(value) else str(value).strip()

    item: dict = {"type": "", "title": text("title") or text("citation")}
    if text("year").isdigit():
        item["issued"] = {"date-parts": [[int(text("year"))]]}
    doi = norm_doi(text("doi")) or doi_in(text("citation"))
    if doi:
        item["DOI"] = doi
    return item


def ris_text(records: list[list[tuple[str, str]]]) -> str:
    """RIS as EndNote and Zotero read it: ``TAG  - value`` lines, CR LF, a blank line after
    each ``ER``."""
    out: list[str] = []
    for record in records:
        out += [f"{tag}  - {value}" for tag, value in record]
        out.append("")
    return "\r\n".join(out) + ("\r\n" if out else "")


def review_settings(config: Path, review: str) -> dict:
    from evsynth.run import read_config

    if not config.is_file():
        raise ImportProblem(f"{config}: no such config file")
    try:
        settings = read_config(config)
    except Exception as exc:  # YAML's own errors carry the line; keep the first line of it
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImportProblem(f"{config}: not readable as YAML: {first}") from None
    reviews = settings.get("reviews") if isinstance(settings, dict) else None
    if not isinstance(reviews, dict) or not isinstance(reviews.get(review), dict):
        raise ImportProblem(f"{config}: no review '{review}' under 'reviews:'")
    entry = reviews[review]
    if not entry.get("sheets"):
        raise ImportProblem(f"{config}: reviews: {review}: has no 'sheets' setting")
    return entry


def refuse_out(out: Path, root: Path, references: Path | None) -> None:
    raw = (root / "data" / "raw").resolve()
    resolved = out.resolve()
    if resolved == raw or resolved.is_relative_to(raw):
        raise ImportProblem(
            f"{out}: inside data/raw/, which holds the lead's own inputs; write the RIS elsewhere "
            "(e.g. results/<review>/included.ris)"
        )
    if references is not None and resolved == references.resolve():
        raise ImportProblem(f"{out}: that is the review's references file; choose another --out")
    if out.is_dir():
        raise ImportProblem(f"{out}: a folder; --out names the RIS file to write")


def write_text(out: Path, text: str) -> None:
    """Write ``out`` whole or not at all (beside it, then moved into place)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temp, out)
    finally:
        Path(temp).unlink(missing_ok=True)


def export_ris(args: argparse.Namespace, root: Path = Path(".")) -> int:
    targets(args.review, root)  # the same review ids as everywhere
    entry = review_settings(Path(args.config), args.review)
    references = root / entry["references"] if entry.get("references") else None
    out = Path(args.out)
    refuse_out(out, root, references)
    sheets = root / str(entry["sheets"])
    if not sheets.exists():
        raise ImportProblem(f"{sheets}: no such folder or workbook (the review's 'sheets')")
    frame = read_studies(studies_location(sheets) if sheets.is_dir() else sheets)
    items: dict[str, dict] = {}
    if references is not None:
        for item in read_bibliography(references).items:
            items.setdefault(str(item.get("id", "")), item)  # the first of a duplicate key
    rows = {
        str(r["study_id"]).strip(): r
        for _, r in frame.iterrows()
        if not pd.isna(r["study_id"]) and str(r["study_id"]).strip()
    }
    if not rows:
        raise ImportProblem(f"{sheets}: the studies sheet has no included study")
    from_sheet = [s for s in sorted(rows) if s not in items]
    records = [ris_record(s, items.get(s) or sheet_item(rows[s])) for s in sorted(rows)]
    write_text(out, ris_text(records))
    lines = [f"Wrote {out}: {len(records)} included studies as RIS, by study_id (ID field)."]
    if references is None:
        lines.append(
            "The review has no references file: each record is the studies sheet's citation "
            "(as the title), year and DOI. Check them in your reference manager."
        )
    else:
        lines += listed(
            f"Studies without an entry in {references} (from the studies sheet's "
            "citation, year and DOI)",
            from_sheet,
        )
    print("\n".join(lines))
    return 0


def main(args: argparse.Namespace) -> int:
    if getattr(args, "command", None) == "export-ris":
        return export_ris(args)
    return import_references(args)
