"""EPPI-Reviewer JSON export -> a review's codebook theme tree, ``codes`` and ``studies`` sheets.

The export (EPPI-Reviewer's "export coding as JSON") holds ``CodeSets``, each a nested tree of
attributes (``AttributeId``, ``AttributeName``, children under ``Attributes.AttributesList``),
and ``References``, each with ``ItemId``, ``ShortTitle``, ``Title``, ``Year``, ``TypeName`` and
the ``Codes`` applied to it (``AttributeId``, ``AdditionalText``, and the coded text in
``ItemAttributeFullTextDetails``, whose ``Text`` carries page markers such as ``Page 3:``).

What is written, all or nothing (evsynth.importers.common.write_all):

- ``config/codebooks/<review>.yaml``: the starter codebook (src/evsynth/starter/) with its
  themes replaced by the code sets: one top-level theme per standard code set, its attributes
  below it. Codes are derived from names (lower-case ASCII, ``_`` between words, ``.`` between
  levels) so that they stay the same when the export is taken again; two siblings whose names
  give the same code get ``_2``, ``_3`` in the order the export lists them, and are reported.
- ``data/raw/<review>/codes.csv``: one row per (reference, code), the coded text and
  additional text verbatim (selection markers removed), the pages from the page markers.
- ``data/raw/<review>/studies.csv``: ``study_id`` (the ItemId), a citation from the short
  title and title, the year, and ``source_type`` where the reference type says it clearly.
  Columns the export does not hold (design, quality, country, ...) are left blank and listed.
- ``data/raw/<review>/outcomes.csv``: the header only (the export holds no effect data).
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evsynth.importers.common import (
    ImportProblem,
    check_export,
    sheet_csv,
    targets,
    write_all,
)
from evsynth.scaffold import config_block
from evsynth.spreadsheet_safe import is_armed

STARTER = Path(__file__).resolve().parent.parent / "starter" / "codebook.yaml"
STUDIES_COLUMNS = (
    "study_id",
    "citation",
    "year",
    "source_type",
    "country",
    "design",
    "intervention_type",
    "quality",
)
CODES_COLUMNS = ("study_id", "code", "coder", "excerpt", "page")
OUTCOMES_COLUMNS = (
    "study_id",
    "outcome",
    "measure",
    "direction",
    "effect_measure",
    "estimate",
    "ci_lower",
    "ci_upper",
    "n",
    "follow_up_months",
)
#: EPPI-Reviewer reference types whose source type is clear; any other is left for the lead.
SOURCE_TYPES = {
    "journal, article": "academic",
    "report": "grey",
    "web site": "grey",
}
#: Code sets that hold screening decisions or administration, not the review's themes.
NOT_THEMES = frozenset({"screening", "administration"})
#: Deeper trees are refused: the codebook allows 40 levels and a person never needs more.
MAX_DEPTH = 30
MAX_CODE_LENGTH = 48
#: "Page 3:" on a line of its own, as EPPI-Reviewer writes before the text coded on that page.
PAGE_MARKER = re.compile(r"^[ \t]*Page[ \t]+(\d+)[ \t]*:[ \t]*\r?\n?", re.MULTILINE)
#: Selection start and end markers around each piece of coded text (format, not data).
SELECTION = re.compile(r'\[¬s\]"?|\[¬e\]"?')


@dataclass
class Tree:
    """The code sets read as themes, and how each AttributeId maps to a dotted code."""

    themes: list[dict] = field(default_factory=list)
    code_of: dict[int, str] = field(default_factory=dict)
    renamed: list[str] = field(default_factory=list)
    skipped_sets: list[str] = field(default_factory=list)
    skipped_ids: set[int] = field(default_factory=set)


def slug(name: str) -> str:
    """A code from a name: ASCII letters and digits, lower case, ``_`` between words."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")[:MAX_CODE_LENGTH].strip("_")


def _where(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _get(node: Any, key: str, path: list[str | int], file: Path, kind: type | tuple) -> Any:
    """``node[key]``, which must be of ``kind``; else a problem naming the JSON path."""
    if not isinstance(node, dict):
        raise ImportProblem(f"{file}: {_where(path) or 'the top level'} should be an object")
    if key not in node:
        raise ImportProblem(f"{file}: {_where([*path, key])} is missing")
    value = node[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        words = {"list": "a list", "dict": "an object", "str": "text", "int": "a whole number"}
        want = " or ".join(words.get(n, n) for n in names.split(" or "))
        raise ImportProblem(
            f"{file}: {_where([*path, key])} should be {want}, not {type(value).__name__}"
        )
    return value


def _children(node: dict, path: list[str | int], file: Path) -> tuple[list, list[str | int]]:
    """A node's child attributes (none when it has no ``Attributes``)."""
    if node.get("Attributes") is None:
        return [], path
    holder = _get(node, "Attributes", path, file, dict)
    where = [*path, "Attributes"]
    if holder.get("AttributesList") is None:
        return [], where
    return _get(holder, "AttributesList", where, file, list), [*where, "AttributesList"]


def _unique(code: str, taken: set[str]) -> str:
    if code not in taken:
        return code
    n = 2
    while f"{code}_{n}" in taken:
        n += 1
    return f"{code}_{n}"


def _attributes(
    items: list, path: list[str | int], parent: str, depth: int, tree: Tree, file: Path
) -> list[dict]:
    if depth > MAX_DEPTH:
        raise ImportProblem(f"{file}: {_where(path)} nests more than {MAX_DEPTH} levels of codes")
    themes: list[dict] = []
    taken: set[str] = set()
    for i, item in enumerate(items):
        where = [*path, i]
        name = _get(item, "AttributeName", where, file, str).strip()
        ident = _get(item, "AttributeId", where, file, int)
        if ident in tree.code_of:
            raise ImportProblem(
                f"{file}: {_where([*where, 'AttributeId'])}: {ident} is used by two codes"
            )
        base = slug(name) or f"a{ident}"
        code = _unique(base, taken)
        taken.add(code)
        dotted = f"{parent}.{code}"
        if code != base:
            tree.renamed.append(f"'{name}' under {parent} is {dotted} ({_where(where)})")
        tree.code_of[ident] = dotted
        theme: dict[str, Any] = {"code": dotted, "label": name or f"Code {ident}"}
        description = item.get("AttributeDescription")
        if isinstance(description, str) and description.strip():
            theme["description"] = description.strip()
        kids, kids_path = _children(item, where, file)
        if kids:
            theme["children"] = _attributes(kids, kids_path, dotted, depth + 1, tree, file)
        themes.append(theme)
    return themes


def _skip_ids(items: list, tree: Tree) -> None:
    """Remember the AttributeIds of a set that is not a theme set (its codes are not rows)."""
    stack = list(items)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("AttributeId"), int):
                tree.skipped_ids.add(item["AttributeId"])
            holder = item.get("Attributes")
            if isinstance(holder, dict) and isinstance(holder.get("AttributesList"), list):
                stack.extend(holder["AttributesList"])


def read_tree(export: dict, file: Path) -> Tree:
    """The code sets as a theme tree; duplicate set names are refused (their codes would
    collide at the top level, and a lead could not tell the two apart)."""
    tree = Tree()
    sets = _get(export, "CodeSets", [], file, list)
    seen: dict[str, int] = {}
    for i, code_set in enumerate(sets):
        where: list[str | int] = ["CodeSets", i]
        name = _get(code_set, "SetName", where, file, str).strip()
        key = name.casefold()
        if key in seen:
            raise ImportProblem(
                f"{file}: {_where([*where, 'SetName'])}: the code set name '{name}' is also "
                f"the name of CodeSets[{seen[key]}]; rename one in EPPI-Reviewer and export again"
            )
        seen[key] = i
        kind = code_set.get("SetType")
        type_name = kind.get("SetTypeName") if isinstance(kind, dict) else None
        items, items_path = _children(code_set, where, file)
        if isinstance(type_name, str) and type_name.strip().casefold() in NOT_THEMES:
            tree.skipped_sets.append(f"'{name}' ({type_name})")
            _skip_ids(items, tree)
            continue
        base = slug(name) or f"set{i + 1}"
        code = _unique(base, {t["code"] for t in tree.themes})
        if code != base:
            tree.renamed.append(f"code set '{name}' is {code} ({_where(where)})")
        theme: dict[str, Any] = {"code": code, "label": name or f"Code set {i + 1}"}
        description = code_set.get("SetDescription")
        if isinstance(description, str) and description.strip():
            theme["description"] = description.strip()
        if items:
            theme["children"] = _attributes(items, items_path, code, 2, tree, file)
        tree.themes.append(theme)
    if not tree.themes:
        raise ImportProblem(f"{file}: CodeSets has no standard code set to make themes from")
    return tree


def _excerpts(text: str) -> tuple[list[str], list[str]]:
    """The pieces of coded text and the pages they are on, markers removed."""
    pieces: list[str] = []
    pages: list[str] = []
    marks = list(PAGE_MARKER.finditer(text))
    # Text before the first marker (or all of it, from a document without pages) has no page.
    spans: list[tuple[str | None, int, int]] = [(None, 0, marks[0].start() if marks else len(text))]
    spans += [
        (m.group(1), m.end(), marks[k + 1].start() if k + 1 < len(marks) else len(text))
        for k, m in enumerate(marks)
    ]
    for page, start, end in spans:
        piece = SELECTION.sub("", text[start:end]).strip()
        if piece:
            pieces.append(piece)
            if page is not None and page not in pages:
                pages.append(page)
    return pieces, pages


def _text(node: dict, key: str, path: list[str | int], file: Path) -> str:
    """An optional text field (absent or null is blank); numbers are taken as their text."""
    value = node.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ImportProblem(
            f"{file}: {_where([*path, key])} should be text, not {type(value).__name__}"
        )
    return str(value).strip() if not isinstance(value, str) else value.strip()


@dataclass
class Sheets:
    studies: list[dict[str, str]] = field(default_factory=list)
    codes: list[dict[str, str]] = field(default_factory=list)
    unclear_types: dict[str, list[str]] = field(default_factory=dict)
    skipped_codes: int = 0


def read_references(export: dict, tree: Tree, file: Path) -> Sheets:
    sheets = Sheets()
    refs = _get(export, "References", [], file, list)
    seen: dict[str, int] = {}
    for i, ref in enumerate(refs):
        where: list[str | int] = ["References", i]
        study = str(_get(ref, "ItemId", where, file, (int, str))).strip()
        if not re.fullmatch(r"[A-Za-z0-9._-]+", study):
            raise ImportProblem(
                f"{file}: {_where([*where, 'ItemId'])}: {study!r} cannot be a study_id "
                "(letters, digits, '.', '_', '-')"
            )
        if study in seen:
            raise ImportProblem(
                f"{file}: {_where([*where, 'ItemId'])}: {study} is also References[{seen[study]}]"
            )
        seen[study] = i
        short = _text(ref, "ShortTitle", where, file)
        title = _text(ref, "Title", where, file)
        year = _text(ref, "Year", where, file)
        type_name = _text(ref, "TypeName", where, file)
        source = SOURCE_TYPES.get(type_name.casefold(), "")
        if not source:
            sheets.unclear_types.setdefault(type_name or "(none)", []).append(study)
        citation = ". ".join(p.rstrip(".") for p in (short, title) if p)
        sheets.studies.append(
            {"study_id": study, "citation": citation, "year": year, "source_type": source}
        )
        codes = ref.get("Codes")
        if codes is None:
            continue
        codes = _get(ref, "Codes", where, file, list)
        rows: dict[str, dict[str, list[str]]] = {}
        for j, applied in enumerate(codes):
            at = [*where, "Codes", j]
            ident = _get(applied, "AttributeId", at, file, int)
            if ident in tree.skipped_ids:
                sheets.skipped_codes += 1
                continue
            if ident not in tree.code_of:
                raise ImportProblem(
                    f"{file}: {_where([*at, 'AttributeId'])}: {ident} is not a code of any code "
                    "set in the export (export the code sets with the references)"
                )
            row = rows.setdefault(tree.code_of[ident], {"excerpt": [], "page": []})
            extra = _text(applied, "AdditionalText", at, file)
            if extra:
                row["excerpt"].append(extra)
            details = applied.get("ItemAttributeFullTextDetails") or []
            if not isinstance(details, list):
                raise ImportProblem(
                    f"{file}: {_where([*at, 'ItemAttributeFullTextDetails'])} should be a list"
                )
            for k, detail in enumerate(details):
                spot = [*at, "ItemAttributeFullTextDetails", k]
                if not isinstance(detail, dict):
                    raise ImportProblem(f"{file}: {_where(spot)} should be an object")
                pieces, pages = _excerpts(_text(detail, "Text", spot, file))
                row["excerpt"] += pieces
                row["page"] += [p for p in pages if p not in row["page"]]
        for code, row in rows.items():
            sheets.codes.append(
                {
                    "study_id": study,
                    "code": code,
                    "coder": "",
                    "excerpt": "\n\n".join(row["excerpt"]),
                    "page": "; ".join(row["page"]),
                }
            )
    if not sheets.studies:
        raise ImportProblem(f"{file}: References is empty: there are no studies to import")
    return sheets


def codebook_text(review: str, themes: list[dict], source: Path) -> str:
    """The starter codebook for ``review`` with its themes replaced by the export's tree."""
    starter = STARTER.read_text("utf-8").replace("REVIEW_ID", review)
    block = yaml.safe_dump(
        {"themes": themes}, sort_keys=False, allow_unicode=True, width=100, indent=2
    )
    note = f"# themes: from the code sets of {source.name} (evsynth import eppi)\n"
    replaced, count = re.subn(
        r"^themes:.*?(?=^outcomes:)", lambda _: note + block + "\n", starter, flags=re.S | re.M
    )
    if count != 1:  # the starter is part of this package: a change there must change this too
        raise RuntimeError("the starter codebook has no 'themes:' block before 'outcomes:'")
    return replaced


def load(file: Path) -> dict:
    check_export(file, (".json",))
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportProblem(f"{file}: not UTF-8 text (byte {exc.start}); export it again") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportProblem(
            f"{file}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg} "
            "(a truncated or partly saved export?)"
        ) from None
    except RecursionError:
        raise ImportProblem(f"{file}: nested too deeply to be an EPPI-Reviewer export") from None
    if not isinstance(data, dict):
        raise ImportProblem(
            f"{file}: the top level is a {type(data).__name__}, not an object with CodeSets "
            "and References: is this an EPPI-Reviewer JSON export?"
        )
    return data


def main(args: argparse.Namespace) -> int:
    where = targets(args.review)
    file = Path(args.export)
    export = load(file)
    tree = read_tree(export, file)
    sheets = read_references(export, tree, file)
    files = {
        where.codebook: codebook_text(args.review, tree.themes, file),
        where.sheets / "studies.csv": sheet_csv(STUDIES_COLUMNS, sheets.studies),
        where.sheets / "codes.csv": sheet_csv(CODES_COLUMNS, sheets.codes),
        where.sheets / "outcomes.csv": sheet_csv(OUTCOMES_COLUMNS, []),
    }
    written = write_all(files, force=args.force, allowed=where)
    print(report(args.review, written, tree, sheets))
    return 0


def written_codebook(review: str) -> Path:
    return Path("config/codebooks") / f"{review}.yaml"


def report(review: str, written: list[Path], tree: Tree, sheets: Sheets) -> str:
    lines = [f"Imported the EPPI-Reviewer export into review '{review}':"]
    lines += [f"  {p}" for p in written]
    lines.append(
        f"{len(sheets.studies)} studies, {len(sheets.codes)} coded rows, "
        f"{len(tree.code_of)} codes in {len(tree.themes)} code set(s)."
    )
    if tree.renamed:
        lines.append("Names that gave the same code were told apart (check the labels):")
        lines += [f"  {r}" for r in tree.renamed]
    if tree.skipped_sets:
        lines.append(
            "Not made into themes (screening or administration): "
            + ", ".join(tree.skipped_sets)
            + f"; {sheets.skipped_codes} of their codes on references were left out."
        )
    armed = sum(is_armed(v) for row in sheets.codes + sheets.studies for v in row.values())
    if armed:
        lines.append(
            f"{armed} cell(s) begin with = + - or @: a spreadsheet may run them as formulas; "
            "open the CSVs as text (or import them as text columns) to edit them."
        )
    lines.append("Next, the lead fills what the export does not hold:")
    lines.append(
        "  studies.csv: design and quality (required), country and intervention_type "
        "(optional); the codebook's vocabularies must list the design and intervention codes used"
    )
    if sheets.unclear_types:
        kinds = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(sheets.unclear_types.items()))
        lines.append(f"  studies.csv: source_type (academic or grey) for the types {kinds}")
    lines.append("  studies.csv: check each citation (made from the short title and title)")
    lines.append("  codes.csv: coder (the export does not say who applied each code)")
    lines.append("  outcomes.csv: one row per study, outcome and measure (header only for now)")
    block = config_block(review, written_codebook(review), Path(f"data/raw/{review}"))
    lines.append("  config/config.yaml: add this block under 'reviews:'")
    lines.append(block.rstrip("\n"))
    return "\n".join(lines)
