"""Covidence extraction export (CSV) + a mapping file -> the ``studies`` and ``outcomes`` sheets.

Covidence exports extracted data as one CSV ("single sheet"): one row per study per reviewer,
plus a row whose reviewer is ``Consensus`` once two reviewers' extractions are reconciled,
and wide columns named by the lead's template (``Study design``, ``Country``, an outcome's
result fields ...). Template columns differ from review to review, so a mapping file (YAML)
says which export column feeds which contract column and which export values become which
codes; nothing is guessed from column names.

Which row a study's values come from (deterministic): its ``Consensus`` row where it has one
(two consensus rows that disagree are refused); else its reviewers' rows, which must agree on
every mapped column (the first in file order is used); rows that disagree with no consensus
are refused, naming both rows and the column, because picking one would be a silent choice.

The reviewer goes into the sheets' optional ``coder`` column: ``Consensus`` for a consensus
row, else the names of the reviewers whose agreeing rows were used (``;``-separated), unless
the mapping feeds ``coder`` itself; the summary also says, per study, whose row was used.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evsynth.contract import SHEET_COLUMNS
from evsynth.importers.common import (
    MAX_EXPORT_BYTES,
    ImportProblem,
    check_export,
    sheet_csv,
    targets,
    write_all,
)
from evsynth.inputfile import RefusedFile, read_limited
from evsynth.spreadsheet_safe import is_armed

#: A mapping file is a page of YAML; anything larger is not one.
MAX_MAPPING_BYTES = 256 << 10
#: One physical line of the export; a longer one is not extraction data (and would make the
#: csv reader build one enormous row before any check could refuse it).
MAX_LINE_CHARS = 1 << 20
MAX_COLUMNS = 5000
#: Rows of one export: far more than any review extracts (two reviewers and a consensus row
#: for 10,000 studies), and what keeps a large file's time and memory in bounds.
MAX_ROWS = 30_000
STUDY_ID = re.compile(r"^[A-Za-z0-9._-]+$")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Studies the summary names one by one (whose row each came from).
SHOWN = 50
#: Contract columns that hold several `;`-separated values: each is mapped on its own.
MULTI = frozenset({"country", "intervention_type"})
DEFAULT_EXPORT = {"study_id": "Study ID", "reviewer": "Reviewer Name", "consensus": "Consensus"}
#: Contract columns a mapping may feed; review fields of the codebook may be added to studies.
STUDY_COLUMNS = tuple(c for c in SHEET_COLUMNS["studies"] if c != "study_id")
OUTCOME_COLUMNS = tuple(c for c in SHEET_COLUMNS["outcomes"] if c != "study_id")
#: Columns whose codes the contract fixes (not the codebook): no need to check them there.
FIXED = frozenset({"source_type", "quality", "direction", "effect_measure"})
#: What the studies sheet needs and a mapping may leave out: the lead fills it after import.
REQUIRED_STUDY = ("citation", "year", "source_type", "design", "quality")


@dataclass(frozen=True)
class Source:
    """Where a contract column's value comes from: an export column, or one value for all."""

    column: str | None = None
    value: str | None = None


@dataclass
class Mapping:
    path: Path
    study_id: str
    reviewer: str
    consensus: str
    studies: dict[str, Source]
    outcomes: list[dict[str, Source]]
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def columns(self) -> list[tuple[str, str]]:
        """(mapping key, export column) for every export column the mapping names."""
        named = [("export.study_id", self.study_id), ("export.reviewer", self.reviewer)]
        named += [(f"studies.{k}", s.column) for k, s in self.studies.items() if s.column]
        for i, block in enumerate(self.outcomes):
            named += [(f"outcomes[{i}].{k}", s.column) for k, s in block.items() if s.column]
        return named


# --- the mapping file -------------------------------------------------------------------------


class _UniqueKeys(yaml.SafeLoader):
    """Refuses a repeated key: YAML would silently keep the last one."""


def _mapping_node(loader: _UniqueKeys, node: yaml.MappingNode) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_node)


def _read_yaml(path: Path) -> Any:
    try:
        raw = read_limited(path, MAX_MAPPING_BYTES, "mapping file")
    except RefusedFile as exc:
        raise ImportProblem(exc.message) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportProblem(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        # Aliases serve no purpose in a mapping and can expand without bound: refuse them.
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1
                raise ImportProblem(f"{path}, line {line}: YAML aliases (*name) are not allowed")
        return yaml.load(text, Loader=_UniqueKeys)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ImportProblem(f"{path}{where}: not valid YAML: {problem}") from None


def _text(path: Path, key: str, value: Any) -> str:
    """A string the mapping must give as text (a code, a column name)."""
    if not isinstance(value, str) or not value.strip():
        raise ImportProblem(
            f"{path}: {key}: expected text, got {value!r} (quote it: codes are text, and YAML "
            "reads yes/no as true/false and 1.10 as 1.1)"
        )
    return value


def _source(path: Path, key: str, spec: Any) -> Source:
    if isinstance(spec, dict):
        if set(spec) != {"value"}:
            raise ImportProblem(
                f"{path}: {key}: give an export column name, or {{value: CODE}} for one value "
                f"on every row (not keys {sorted(map(str, spec))})"
            )
        return Source(value=_text(path, f"{key}.value", spec["value"]))
    return Source(column=_text(path, key, spec))


def _block(path: Path, key: str, spec: Any, allowed: tuple[str, ...], extra: bool) -> dict:
    if not isinstance(spec, dict):
        raise ImportProblem(f"{path}: {key}: expected contract column: export column pairs")
    block: dict[str, Source] = {}
    for name, one in spec.items():
        name_key = f"{key}.{name}"
        if name == "study_id":
            raise ImportProblem(f"{path}: {name_key}: set the study column in export.study_id")
        if name not in allowed and not (extra and isinstance(name, str) and FIELD_NAME.match(name)):
            raise ImportProblem(
                f"{path}: {name_key}: not a column of the contract's sheet (one of "
                f"{', '.join(allowed)}{' or a codebook field' if extra else ''})"
            )
        block[name] = _source(path, name_key, one)
    return block


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; every problem names the file and the mapping key."""
    doc = _read_yaml(path)
    if not isinstance(doc, dict):
        raise ImportProblem(f"{path}: expected a mapping with keys export, studies, outcomes")
    unknown = sorted(str(k) for k in doc if k not in ("export", "studies", "outcomes", "values"))
    if unknown:
        raise ImportProblem(
            f"{path}: unknown key {unknown[0]!r} (allowed: export, studies, outcomes, values)"
        )
    export = doc.get("export") or {}
    if not isinstance(export, dict) or set(export) - set(DEFAULT_EXPORT):
        raise ImportProblem(f"{path}: export: only keys {', '.join(DEFAULT_EXPORT)}")
    names = {k: _text(path, f"export.{k}", export.get(k, d)) for k, d in DEFAULT_EXPORT.items()}
    if "studies" not in doc:
        raise ImportProblem(f"{path}: studies: missing (which export column feeds which column)")
    studies = _block(path, "studies", doc["studies"], STUDY_COLUMNS, extra=True)
    raw_outcomes = doc.get("outcomes") or []
    if not isinstance(raw_outcomes, list):
        raise ImportProblem(f"{path}: outcomes: expected a list, one entry per outcome")
    outcomes = []
    for i, spec in enumerate(raw_outcomes):
        block = _block(path, f"outcomes[{i}]", spec, OUTCOME_COLUMNS, extra=False)
        if "outcome" not in block:
            raise ImportProblem(f"{path}: outcomes[{i}]: needs outcome ({{value: CODE}})")
        outcomes.append(block)
    values_doc = doc.get("values") or {}
    if not isinstance(values_doc, dict):
        raise ImportProblem(f"{path}: values: expected contract column: {{export value: code}}")
    values: dict[str, dict[str, str]] = {}
    for column, table in values_doc.items():
        if not isinstance(table, dict):
            raise ImportProblem(f"{path}: values.{column}: expected export value: code pairs")
        values[str(column)] = {
            _text(path, f"values.{column} (key {k!r})", k).strip(): _text(
                path, f"values.{column}.{k}", v
            )
            for k, v in table.items()
        }
    return Mapping(path, names["study_id"], names["reviewer"], names["consensus"], studies,
                   outcomes, values)  # fmt: skip


# --- the export -------------------------------------------------------------------------------


def _lines(path: Path, text: str) -> Iterator[str]:
    """The text's lines (ends kept), refusing an over-long one before it is copied out."""
    start, number = 0, 0
    while start < len(text):
        number += 1
        end = text.find("\n", start, start + MAX_LINE_CHARS + 1)
        if end < 0 and len(text) - start > MAX_LINE_CHARS:
            raise ImportProblem(
                f"{path}, line {number}: longer than {MAX_LINE_CHARS:,} characters; "
                "not a Covidence extraction export"
            )
        stop = len(text) if end < 0 else end + 1
        yield text[start:stop]
        start = stop


def read_export(path: Path, mapping: Mapping) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and, per data row, (row number as a spreadsheet shows it, mapped cells)."""
    check_export(path, (".csv",))
    try:  # what is read is what is checked: a regular file, within the bound
        raw = read_limited(path, MAX_EXPORT_BYTES, "Covidence export")
    except RefusedFile as exc:
        raise ImportProblem(exc.message) from None
    if b"\0" in raw[:8192]:
        raise ImportProblem(f"{path}: a binary file, not a CSV (an Excel export? use Single sheet)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportProblem(f"{path}: not UTF-8 text (byte {exc.start}); export it again") from None
    del raw  # the decoded text is what is read from here on: hold one copy, not two
    reader = csv.reader(_lines(path, text), strict=True)
    number = 1
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise ImportProblem(f"{path}: empty; expected a Covidence extraction export")
        if len(header) > MAX_COLUMNS:
            raise ImportProblem(f"{path}, row 1: {len(header):,} columns, more than {MAX_COLUMNS}")
        header = [h.strip() for h in header]
        index = _column_index(path, header, mapping)
        rows = []
        # Rows numbered as a spreadsheet shows them (header row 1), whatever newlines cells hold.
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ImportProblem(
                    f"{path}, row {number}: {len(row)} fields where the header has "
                    f"{len(header)}; is the file cut short or edited by hand?"
                )
            if len(rows) == MAX_ROWS:
                raise ImportProblem(
                    f"{path}, row {number}: more than {MAX_ROWS:,} rows; is it the right file?"
                )
            rows.append((number, {name: row[i] for name, i in index.items()}))
    except csv.Error as exc:
        raise ImportProblem(
            f"{path}, row {number + 1} (line {reader.line_num}): not a well-formed CSV ({exc}); "
            "is the file cut short?"
        ) from None
    return header, rows


def _column_index(path: Path, header: list[str], mapping: Mapping) -> dict[str, int]:
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name and name in seen:
            raise ImportProblem(
                f"{path}, row 1: column {name!r} appears twice (columns {seen[name] + 1} and "
                f"{i + 1}); rename one in the template"
            )
        seen[name] = i
    if mapping.study_id not in seen:
        raise ImportProblem(
            f"{path}, row 1: no {mapping.study_id!r} column; not a Covidence extraction export "
            f"(or set export.study_id in {mapping.path})"
        )
    for key, column in mapping.columns():
        if key == "export.reviewer" and column not in seen:
            continue  # single-reviewer extraction: there may be no reviewer column
        if column not in seen:
            raise ImportProblem(
                f"{mapping.path}: {key} names column {column!r}, which {path} does not have "
                f"(its columns: {', '.join(repr(h) for h in header[:12])}"
                f"{', ...' if len(header) > 12 else ''})"
            )
    return {column: seen[column] for _, column in mapping.columns() if column in seen}


# --- rows to sheets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Chosen:
    study_id: str
    row: int
    cells: dict[str, str]
    source: str
    coder: str  # the sheets' coder column: "Consensus", or the agreeing reviewers


def _convert(mapping: Mapping, export: Path, contract: str, source: Source, row: int,
             cells: dict[str, str]) -> str:  # fmt: skip
    if source.value is not None:
        return source.value
    assert source.column is not None
    raw = cells[source.column]
    table = mapping.values.get(contract)
    if table is None:
        return raw  # free text and numbers: verbatim
    parts = [p.strip() for p in raw.split(";")] if contract in MULTI else [raw.strip()]
    codes = []
    for part in parts:
        if not part:
            continue
        if part not in table:
            raise ImportProblem(
                f"{export}, row {row}, column {source.column!r}: value {part!r} has no code in "
                f"{mapping.path} values.{contract} (it maps: "
                f"{', '.join(repr(k) for k in list(table)[:8])}{', ...' if len(table) > 8 else ''})"
            )
        codes.append(table[part])
    return ";".join(codes)


def choose_rows(
    export: Path, mapping: Mapping, rows: list[tuple[int, dict[str, str]]]
) -> list[Chosen]:
    """One row per study: consensus where present, else reviewers' rows that agree."""
    by_study: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for number, cells in rows:
        key = cells[mapping.study_id].strip()
        if not key:
            raise ImportProblem(f"{export}, row {number}, column {mapping.study_id!r}: blank")
        by_study.setdefault(key, []).append((number, cells))
    mapped = [c for k, c in mapping.columns() if not k.startswith("export.")]
    chosen, ids = [], {}
    for key, group in by_study.items():
        consensus = [
            (n, c) for n, c in group
            if c.get(mapping.reviewer, "").strip().lower() == mapping.consensus.lower()
        ]  # fmt: skip
        pool = consensus or group
        first_row, first = pool[0]
        for number, cells in pool[1:]:
            for column in mapped:
                if cells[column] != first[column]:
                    kind = "consensus rows" if consensus else "rows and no consensus row"
                    raise ImportProblem(
                        f"{export}: study {key!r} has {kind} that disagree: rows {first_row} and "
                        f"{number}, column {column!r} ({first[column]!r} vs {cells[column]!r}); "
                        "finish consensus in Covidence and export again"
                    )
        study_id = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_") or "study"
        if study_id in ids:
            raise ImportProblem(
                f"{export}, rows {ids[study_id][1]} and {first_row}, column {mapping.study_id!r}: "
                f"{ids[study_id][0]!r} and {key!r} both become study_id {study_id!r}; "
                "make the Covidence study IDs distinct"
            )
        ids[study_id] = (key, first_row)
        reviewer = first.get(mapping.reviewer, "").strip() or "the only row"
        source = "consensus" if consensus else f"reviewer {reviewer!r} (no consensus row)"
        names = dict.fromkeys(c.get(mapping.reviewer, "").strip() for _, c in pool)
        coder = "Consensus" if consensus else "; ".join(n for n in names if n)
        chosen.append(Chosen(study_id, first_row, first, source, coder))
    return chosen


def build_sheets(export: Path, mapping: Mapping, chosen: list[Chosen]) -> tuple[str, str]:
    """The studies and outcomes CSV text."""
    extra = [c for c in mapping.studies if c not in STUDY_COLUMNS]
    study_rows, outcome_rows = [], []
    for study in chosen:
        row = {"study_id": study.study_id, "coder": study.coder}
        for contract, source in mapping.studies.items():
            row[contract] = _convert(mapping, export, contract, source, study.row, study.cells)
        study_rows.append(row)
        for block in mapping.outcomes:
            # A wide export has every outcome's columns on every row: a study reports an
            # outcome where any of that outcome's columns holds a value.
            read = [s.column for s in block.values() if s.column]
            if read and not any(study.cells[c].strip() for c in read):
                continue
            orow = {"study_id": study.study_id, "coder": study.coder}
            for contract, source in block.items():
                orow[contract] = _convert(mapping, export, contract, source, study.row, study.cells)
            outcome_rows.append(orow)
    studies = sheet_csv(["study_id", *STUDY_COLUMNS, *extra], study_rows)
    outcomes = sheet_csv(["study_id", *OUTCOME_COLUMNS], outcome_rows)
    return studies, outcomes


def _armed(chosen: list[Chosen], mapping: Mapping) -> list[str]:
    """Cells a spreadsheet would run as formulas: kept verbatim (they are data), but named."""
    found = []
    for study in chosen:
        for key, column in mapping.columns():
            if not key.startswith("export.") and is_armed(study.cells[column]):
                found.append(f"row {study.row}, column {column!r}")
    return found


def main(args: Any) -> int:
    where = targets(args.review)
    mapping = load_mapping(args.mapping)
    _, rows = read_export(args.export, mapping)
    if not rows:
        raise ImportProblem(f"{args.export}: no study rows after the header")
    chosen = choose_rows(args.export, mapping, rows)
    studies, outcomes = build_sheets(args.export, mapping, chosen)
    files = {where.sheets / "studies.csv": studies, where.sheets / "outcomes.csv": outcomes}
    written = write_all(files, force=args.force, allowed=where)
    n_outcomes = outcomes.count("\n") - 1
    print(f"Imported {len(chosen)} studies and {n_outcomes} outcome rows from {args.export}:")
    for path in written:
        print(f"  wrote {path}")
    for study in chosen[:SHOWN]:
        print(f"  {study.study_id}: row {study.row}, {study.source}")
    if len(chosen) > SHOWN:
        print(f"  ... and {len(chosen) - SHOWN} more studies")
    print("Next:")
    unmapped = [c for c in REQUIRED_STUDY if c not in mapping.studies]
    if unmapped:
        print(f"  - fill the studies columns the mapping does not feed: {', '.join(unmapped)}")
    if not mapping.outcomes:
        print("  - the mapping has no outcomes: fill outcomes.csv (its header is written)")
    codes = sorted({v for c, t in mapping.values.items() if c not in FIXED for v in t.values()})
    codes += sorted({b["outcome"].value for b in mapping.outcomes if b["outcome"].value})
    print(f"  - check that {where.codebook} declares the codes used: {', '.join(codes)}")
    print(f"  - add {where.sheets / 'codes.csv'} (thematic codes; Covidence does not export them;")
    print("    a header row 'study_id,code,coder,excerpt,page' alone if there are none)")
    print(f"  - add the review to config/config.yaml: sheets: {where.sheets}/")
    armed = _armed(chosen, mapping)
    if armed:
        print(
            "  - kept as written, but a spreadsheet would run them as formulas if you open the "
            f"CSV there: {'; '.join(armed[:5])}{' ...' if len(armed) > 5 else ''}"
        )
    return 0
