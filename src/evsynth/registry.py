"""The table registry: every sheet and result table, declared once in ``schemas/tables.yaml``.

The declarations are Frictionless Table Schemas with a few ``x-`` properties of evsynth's own
(see the file's header). This module reads them once and *resolves* a table for a review:
shared column definitions are filled in, the codebook's study fields become columns of the
studies sheet, and each ``x-vocabulary`` becomes an ``enum`` of the review's codes (for a
multi-valued column, a ``pattern`` of them). What comes out is a plain Table Schema (a dict)
that validation, ``datapackage.json``, the Excel template and the tests all read, so a
column's type and rules are written in one place only.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from evsynth.codebook import Codebook, StudyField

REGISTRY_FILE = "schemas/tables.yaml"
#: The Table Schema type of each codebook field type (codes and free text are both strings).
FIELD_TYPES: dict[str, str] = {
    "category": "string",
    "text": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}
#: How a multi-valued cell separates its values (data contract §2).
MULTI_SEPARATOR = ";"
#: A table name's wildcard part, e.g. ``tallies/themes_by_{field}``.
WILDCARD = "{field}"


@cache
def _document() -> dict[str, Any]:
    # Package data, not user input: read with the plain safe loader, once per process, in
    # libyaml's C version where PyYAML has it (10 ms against 105 ms: every Snakemake run,
    # job and command imports the registry).
    text = resources.files("evsynth").joinpath(REGISTRY_FILE).read_text("utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def sheet_names() -> tuple[str, ...]:
    """The input sheets, in the contract's order."""
    return tuple(_document()["sheets"])


def table_names() -> tuple[str, ...]:
    """Every declared result table (``clean/studies``, ``tallies/themes_by_{field}``, ...)."""
    return tuple(_document()["tables"])


def vocabulary(name: str) -> dict[str, str]:
    """A fixed vocabulary of the registry (code -> label), e.g. ``quality``."""
    return dict(_document()["vocabularies"][name])


def boolean_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The words a boolean cell may hold (lower case; any case is accepted): (true, false)."""
    words = _document()["booleans"]
    return tuple(words["trueValues"]), tuple(words["falseValues"])


def _cased(words: tuple[str, ...]) -> list[str]:
    """Each word as typed in lower, title and upper case (Table Schema compares exactly)."""
    return list(dict.fromkeys(w for word in words for w in (word, word.title(), word.upper())))


def core_columns(sheet: str) -> tuple[str, ...]:
    """The columns the contract defines for a sheet (before any codebook field)."""
    return tuple(f["name"] for f in _document()["sheets"][sheet]["fields"])


def review_vocabularies(codebook: Codebook) -> dict[str, dict[str, str]]:
    """Every vocabulary a field may name, for this review: the fixed ones, the codebook's
    (``design``, ``intervention_type``, ``themes``, ``outcomes``, ``appraisal_tools``,
    ``appraisal_domains``, ``appraisal_judgements``) and one per category field of the
    codebook (``fields.<name>``)."""
    out = {name: dict(codes) for name, codes in _document()["vocabularies"].items()}
    out["design"] = dict(codebook.vocabularies.get("design", {}))
    out["intervention_type"] = dict(codebook.vocabularies.get("intervention_type", {}))
    out["themes"] = {t.code: t.label for t in codebook.themes}
    out["outcomes"] = {o.code: o.label for o in codebook.outcomes.values()}
    # A domain or judgement code is allowed if some tool has it; whether it is the row's own
    # tool's is a rule of the appraisal sheet (evsynth.validate).
    tools = codebook.appraisal.values()
    out["appraisal_tools"] = {t.code: t.label for t in tools}
    out["appraisal_domains"] = {}
    out["appraisal_judgements"] = {}
    for tool in tools:
        for code, label in tool.domains.items():
            out["appraisal_domains"].setdefault(code, label)
        for code, judgement in tool.judgements.items():
            out["appraisal_judgements"].setdefault(code, judgement.label)
    for f in codebook.fields.values():
        if f.type == "category":
            out[f"fields.{f.name}"] = dict(f.values)
    return out


def _match(table: str) -> tuple[str, str]:
    """(declaration, what the wildcard stands for: ``""`` for a table declared by name)."""
    tables = _document()["tables"]
    if table in tables:
        return table, ""
    for key in tables:
        if WILDCARD in key:
            head, _, tail = key.partition(WILDCARD)
            middle = table[len(head) : len(table) - len(tail)] if tail else table[len(head) :]
            if table.startswith(head) and table.endswith(tail) and middle:
                return key, middle
    raise KeyError(f"'{table}' is not a declared result table (evsynth/{REGISTRY_FILE})")


def table_key(table: str) -> str:
    """The declaration a table is written by: ``tallies/themes_by_design`` ->
    ``tallies/themes_by_{field}``. Raises ``KeyError`` for an undeclared table."""
    return _match(table)[0]


# --- Resolving ---------------------------------------------------------------------------------


def _expand(field: dict[str, Any]) -> dict[str, Any]:
    """A field with the shared definition of its name filled in (the table's keys win;
    constraints are merged key by key)."""
    shared = _document()["columns"].get(field["name"], {})
    out = {"name": field["name"], **copy.deepcopy(shared)}
    for key, value in field.items():
        if key == "constraints":
            out["constraints"] = {**out.get("constraints", {}), **value}
        elif key != "name":
            out[key] = copy.deepcopy(value)
    return out


def codebook_field(f: StudyField) -> dict[str, Any]:
    """A codebook study field as a Table Schema field."""
    described = f.label + (f": {f.description}" if getattr(f, "description", "") else "")
    out: dict[str, Any] = {"name": f.name, "type": FIELD_TYPES[f.type], "description": described}
    if f.type == "category":
        out["x-vocabulary"] = f"fields.{f.name}"
    if f.type == "boolean":
        true, false = boolean_words()
        out["trueValues"], out["falseValues"] = _cased(true), _cased(false)
    if f.multi:
        out["x-multi"] = True
    if f.required:
        out["constraints"] = {"required": True}
    return out


def multi_pattern(codes: list[str]) -> str:
    """A regular expression for one or more of ``codes`` separated by ``;`` (as clean tables
    write them), so that a Table Schema checker can test a multi-valued column's codes."""
    one = "(?:" + "|".join(re.escape(code) for code in codes) + ")"
    return f"{one}(?:{re.escape(MULTI_SEPARATOR)}{one})*"


def _resolve(
    field: dict[str, Any], vocabularies: dict[str, dict[str, str]] | None, current_year: int | None
) -> dict[str, Any]:
    """Fill ``enum`` from the field's vocabulary (a multi-valued field, whose cell ``a;b`` is
    not one code, gets a ``pattern`` of its codes instead) and ``maximum`` from
    ``x-maximum: current_year``."""
    constraints = dict(field.get("constraints", {}))
    name = field.get("x-vocabulary")
    codes = list(vocabularies.get(name, {})) if name and vocabularies is not None else []
    if codes and field.get("x-multi"):
        constraints["pattern"] = multi_pattern(codes)
    elif codes:  # Table Schema wants at least one value in an enum
        constraints["enum"] = codes
    if field.get("x-maximum") == "current_year" and current_year is not None:
        constraints["maximum"] = current_year
    out = {k: v for k, v in field.items() if k != "constraints"}
    if constraints:
        out["constraints"] = constraints
    return out


def _sheet_fields(sheet: str, codebook: Codebook | None) -> list[dict[str, Any]]:
    declared = _document()["sheets"][sheet]
    fields = [_expand(f) for f in declared["fields"]]
    if declared.get("x-codebook-fields") and codebook is not None:
        fields += [codebook_field(f) for f in codebook.fields.values()]
    return fields


def _vocabularies(codebook: Codebook | None) -> dict[str, dict[str, str]]:
    if codebook is not None:
        return review_vocabularies(codebook)
    # Without a codebook only the fixed vocabularies are known; codebook ones stay unresolved.
    return {name: dict(codes) for name, codes in _document()["vocabularies"].items()}


def sheet_schema(
    sheet: str, codebook: Codebook | None = None, current_year: int | None = None
) -> dict[str, Any]:
    """The Table Schema of an input sheet for this review (``current_year`` bounds ``year``;
    without it the bound is left out, e.g. in ``datapackage.json``, which must not change with
    the calendar)."""
    declared = _document()["sheets"][sheet]
    vocabularies = _vocabularies(codebook)
    return {
        "description": declared["description"],
        "fields": [_resolve(f, vocabularies, current_year) for f in _sheet_fields(sheet, codebook)],
    }


def table_schema(
    table: str,
    codebook: Codebook | None = None,
    columns: list[str] | None = None,
    current_year: int | None = None,
) -> dict[str, Any]:
    """The Table Schema of a result table (``clean/studies``, ``tallies/themes_by_design``).

    ``columns`` (the header as written) names the count columns of a table with ``x-counts``;
    given for any table, it must match the declaration, or ``ValueError`` says which column
    is not declared.
    """
    key, wildcard = _match(table)
    declared = _document()["tables"][key]
    fields = [_expand(f) for f in declared["fields"]]
    if "x-sheet" in declared:
        fields = _sheet_fields(declared["x-sheet"], codebook) + fields
    counts = declared.get("x-counts")
    if columns is not None:
        by_name = {f["name"]: f for f in fields}
        listed = []
        for name in columns:
            if name in by_name:
                listed.append(by_name[name])
            elif counts is not None:
                listed.append({"name": name, **copy.deepcopy(counts)})
            else:
                raise ValueError(
                    f"column '{name}' of results table '{table}' is not declared "
                    f"in evsynth/{REGISTRY_FILE} ('{key}')"
                )
        fields = listed
    vocabularies = _vocabularies(codebook)
    schema: dict[str, Any] = {
        "description": declared["description"].replace(WILDCARD, wildcard or WILDCARD),
        "fields": [_resolve(f, vocabularies, current_year) for f in fields],
    }
    if counts is not None:
        schema["x-counts"] = copy.deepcopy(counts)
    return schema
