"""Load a review's codebook and check it before any sheet is read (data contract §3).

The codebook is data a research lead edits, so a malformed one is reported like a bad sheet:
findings on sheet ``codebook`` whose column is the key path (``themes[2].children[0].label``).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from evsynth.contract import SHEET_COLUMNS
from evsynth.findings import Finding, InputError
from evsynth.inputfile import RefusedFile, read_limited

SHEET = "codebook"

# Bounds on a YAML file (codebooks and configs are a few KiB to a few hundred KiB). Past them
# a file is refused with its line, before anything is built from it.
MAX_YAML_BYTES = 4 * 2**20
#: Nesting of mappings and lists: a theme tree L levels deep nests 2L + 1.
MAX_YAML_DEPTH = 40
#: Values the document holds once every alias (*name) is written out in full: a few lines of
#: aliases of aliases ("billion laughs") would otherwise stand for billions.
MAX_YAML_NODES = 200_000


@dataclass(frozen=True)
class Theme:
    """One node of the theme tree, flattened: ``level`` is 1 for top-level themes."""

    code: str
    label: str
    parent: str | None
    level: int
    description: str = ""


@dataclass(frozen=True)
class StudyField:
    """A review-specific column of the studies sheet, as the codebook declares it."""

    name: str
    label: str
    type: str  # category | text | integer | number | boolean
    multi: bool = False
    required: bool = False
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    code: str
    label: str
    benefit: str  # "decrease" or "increase"


#: The display levels every appraisal judgement maps to (robvis's traffic-light colours), fixed
#: by the contract; several judgements of a tool may share one.
APPRAISAL_LEVELS: tuple[str, ...] = ("good", "fair", "poor", "unclear")


@dataclass(frozen=True)
class Judgement:
    """One point of an appraisal tool's scale, e.g. ``some_concerns`` -> Some concerns, fair."""

    code: str
    label: str
    level: str  # one of APPRAISAL_LEVELS


@dataclass(frozen=True)
class AppraisalTool:
    """A critical-appraisal or risk-of-bias tool as the codebook's ``appraisal:`` declares it."""

    code: str
    label: str
    designs: tuple[str, ...]  # the design codes the tool fits
    domains: dict[str, str]  # domain code -> label, in the codebook's order
    judgements: dict[str, Judgement]  # ordered best to worst, as the codebook lists them


@dataclass(frozen=True)
class Design:
    """A code of the ``design`` vocabulary with what the synthesis needs to know of it.

    Defaults (contract): ``rct`` is randomised and no other design is; every design votes in
    the effect-direction count unless the codebook marks it ``votes: false``.
    """

    code: str
    label: str
    randomised: bool
    votes: bool


@dataclass(frozen=True)
class Codebook:
    review: str
    vocabularies: dict[str, dict[str, str]]  # code -> label, the design vocabulary's too
    fields: dict[str, StudyField]
    themes: tuple[Theme, ...]  # depth-first, in the codebook's order
    outcomes: dict[str, Outcome]
    appraisal: dict[str, AppraisalTool] = field(default_factory=dict)
    designs: dict[str, Design] = field(default_factory=dict)

    @cached_property
    def theme_by_code(self) -> dict[str, Theme]:
        return {t.code: t for t in self.themes}

    @cached_property
    def lineage(self) -> dict[str, tuple[str, ...]]:
        """Each theme code mapped to itself and all its ancestors (the roll-up path)."""
        out: dict[str, tuple[str, ...]] = {}
        for theme in self.themes:  # parents come before children in depth-first order
            out[theme.code] = (theme.code, *(out[theme.parent] if theme.parent else ()))
        return out

    def top_level_themes(self) -> list[Theme]:
        return [t for t in self.themes if t.level == 1]

    def children(self, code: str) -> list[Theme]:
        return [t for t in self.themes if t.parent == code]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate mapping keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        except TypeError:  # an unhashable key: construct_mapping reports it as YAML
            pass
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

#: Columns of the studies sheet the contract defines; a review field may not reuse a name.
CORE_STUDY_COLUMNS: tuple[str, ...] = SHEET_COLUMNS["studies"]


@cache  # the package's own file: parsed once per process (55 ms a time, every codebook load)
def _schema() -> dict:
    text = resources.files("evsynth").joinpath("schemas/codebook.schema.yaml").read_text("utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def key_path(parts: Any, data: Any = None) -> str:
    """``['themes', 2, 'label']`` -> ``themes[2].label``.

    With ``data`` (the document the parts walk through) a part is written as ``[i]`` only where
    it indexes a list, so a mapping key that YAML read as a number still prints as ``.1``.
    """
    out = ""
    node = data
    for part in parts:
        is_index = isinstance(node, list) if data is not None else isinstance(part, int)
        text = str(part).lower() if isinstance(part, bool) else str(part)
        out += f"[{part}]" if is_index else (f".{text}" if out else text)
        try:
            node = node[part] if data is not None else None
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def _mark_line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _yaml_problem(path: Path, sheet: str, exc: yaml.YAMLError) -> Finding:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context and context not in problem else problem
    return Finding.error(
        sheet, None, "", "", "yaml_syntax", f"{path}{where}: not valid YAML: {detail}"
    )


def _key_text(node: yaml.Node) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) else f"<{node.id}>"


def _line_key(parts: Any) -> tuple[str, ...]:
    return tuple(str(p).lower() if isinstance(p, bool) else str(p) for p in parts)


def _walk_nodes(
    node: yaml.Node | None,
    parts: tuple,
    lines: dict[tuple[str, ...], int],
    duplicates: list[tuple[tuple, int, int]],
    active: set[int],
) -> None:
    """Record the line of every key path and every duplicate mapping key (path, line, first)."""
    if node is None or id(node) in active:  # an alias pointing back up its own tree
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = _key_text(key_node)
            line = key_node.start_mark.line + 1
            here = (*parts, key)
            if key == "<<":
                _walk_nodes(value_node, parts, lines, duplicates, active)
                continue
            if key in first:
                duplicates.append((here, line, first[key]))
            else:
                first[key] = line
                lines.setdefault(_line_key(here), line)
            _walk_nodes(value_node, here, lines, duplicates, active)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            here = (*parts, i)
            lines.setdefault(_line_key(here), item.start_mark.line + 1)
            _walk_nodes(item, here, lines, duplicates, active)
    active.discard(id(node))


@dataclass
class _Document:
    data: Any
    lines: dict[tuple[str, ...], int]  # key path (as text) -> line of the key in the file

    def line(self, parts: Any) -> int | None:
        """The line of the deepest key on ``parts`` the file has (a missing key: its parent)."""
        parts = _line_key(parts)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return None


def _shape_problem(text: str, path: Path, sheet: str) -> Finding | None:
    """A finding when the YAML nests deeper than MAX_YAML_DEPTH or its aliases expand past
    MAX_YAML_NODES values; checked on the parser's events, before any node is built.

    Syntax errors are left to the real load, which reports them with their line.
    """
    sizes: dict[str, int] = {}  # anchor -> values it stands for, written out
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, total when it opened)
    total = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                if len(open_nodes) >= MAX_YAML_DEPTH:
                    return Finding.error(
                        sheet,
                        None,
                        "",
                        "",
                        "yaml_depth",
                        f"{path} line {line}: nested more than {MAX_YAML_DEPTH} levels deep; a "
                        "codebook needs far fewer (check the indentation or the brackets)",
                    )
                open_nodes.append((event.anchor, total))
                continue
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                anchor, at_start = open_nodes.pop()
                total += 1
                if anchor is not None:
                    sizes[anchor] = total - at_start
            elif isinstance(event, yaml.ScalarEvent):
                total += 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                total += sizes.get(event.anchor, 1)
            if total > MAX_YAML_NODES:
                alias = (
                    f" (reached at the alias *{event.anchor})"
                    if isinstance(event, yaml.AliasEvent)
                    else ""
                )
                return Finding.error(
                    sheet,
                    None,
                    "",
                    "",
                    "yaml_aliases",
                    f"{path} line {line}: the file stands for more than {MAX_YAML_NODES:,} values "
                    f"once its aliases (*name) are written out{alias}; a codebook needs far "
                    "fewer: write the values out, or use fewer aliases of aliases",
                )
    except yaml.YAMLError:
        return None
    return None


def _read_yaml_bytes(path: Path, sheet: str) -> bytes:
    try:
        return read_limited(path, MAX_YAML_BYTES, "YAML file")
    except RefusedFile as refused:
        raise InputError(
            [Finding.error(sheet, None, "", str(path), refused.rule, refused.message)]
        ) from None


def _parse_yaml(path: Path, sheet: str, raw: bytes | None = None) -> _Document:
    """The document in ``path`` (``raw``: its bytes, if already read)."""
    if raw is None:
        raw = _read_yaml_bytes(path, sheet)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(
            [
                Finding.error(
                    sheet,
                    None,
                    "",
                    str(path),
                    "encoding",
                    f"{path}: not UTF-8 text; save it as UTF-8",
                )
            ]
        ) from None
    problem = _shape_problem(text, path, sheet)
    if problem is not None:
        raise InputError([problem])
    try:
        loader = _UniqueKeyLoader(text)  # checks the characters first: it can fail too
    except yaml.YAMLError as exc:
        raise InputError([_yaml_problem(path, sheet, exc)]) from None
    try:
        node = loader.get_single_node()
        lines: dict[tuple[str, ...], int] = {}
        duplicates: list[tuple[tuple, int, int]] = []
        _walk_nodes(node, (), lines, duplicates, set())
        if duplicates:
            raise InputError(
                [
                    Finding.error(
                        sheet,
                        None,
                        key_path(parts),
                        parts[-1],
                        "yaml_duplicate_key",
                        f"{path} line {line}: key '{parts[-1]}' appears twice in the same "
                        f"place (first on line {first}); YAML would silently keep only "
                        "the last one",
                    )
                    for parts, line, first in duplicates
                ]
            )
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise InputError([_yaml_problem(path, sheet, exc)]) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # e.g. a date YAML recognises but the calendar does not (2020-13-45)
        raise InputError(
            [
                Finding.error(
                    sheet, None, "", "", "yaml_syntax", f"{path}: a value cannot be read ({exc})"
                )
            ]
        ) from None
    finally:
        loader.dispose()
    return _Document(data, lines)


def read_yaml(path: Path, sheet: str) -> Any:
    """Parse a YAML file, turning every way it can fail into a finding naming the file.

    A key given twice in one mapping is an error (with its key path), not a silent overwrite.
    """
    return _parse_yaml(path, sheet).data


#: Codebooks loaded in this process, by the SHA-256 of their bytes, most recent last. A run's
#: jobs share one process (evsynth.runner) and most of them load their review's codebook, so
#: each review's would otherwise be parsed and checked about ten times a run (the pure-Python
#: YAML loader is kept for its located messages: 8 ms for the tiny review's codebook, 70 ms
#: for a full review's); the tests load a few codebooks hundreds of times. Only a codebook
#: that loaded is kept: a bad one is read again and reported in full each time.
_LOADED: OrderedDict[bytes, Codebook] = OrderedDict()
_LOADED_LOCK = threading.Lock()
MAX_LOADED = 16


def load_codebook(path: Path | str) -> Codebook:
    """Read and check a codebook; raise :class:`InputError` listing every problem found.

    The file is read every time, so an edited codebook is always loaded afresh; one whose
    bytes were loaded before is not parsed again. Each call returns its own copy: a caller may
    change what it got without changing what the next caller gets.
    """
    path = Path(path)
    raw = _read_yaml_bytes(path, SHEET)
    digest = hashlib.sha256(raw).digest()
    with _LOADED_LOCK:
        known = _LOADED.get(digest)
        if known is not None:
            _LOADED.move_to_end(digest)
    if known is not None:
        return copy.deepcopy(known)
    book = _load_codebook(path, raw)  # nothing in it depends on the path, only the messages
    with _LOADED_LOCK:
        _LOADED[digest] = copy.deepcopy(book)
        while len(_LOADED) > MAX_LOADED:
            _LOADED.popitem(last=False)
    return book


def _load_codebook(path: Path, raw: bytes) -> Codebook:
    """:func:`load_codebook`'s checks and build, on the file's bytes as read."""
    document = _parse_yaml(path, SHEET, raw)
    data = document.data
    if data is None:
        raise InputError(
            [
                Finding.error(
                    SHEET,
                    None,
                    "(top level)",
                    "",
                    "codebook_schema",
                    f"{path}: the codebook is empty",
                )
            ]
        )
    validator = jsonschema.Draft202012Validator(_schema())
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    except RecursionError:
        raise InputError(
            [
                Finding.error(
                    SHEET,
                    None,
                    "(top level)",
                    "",
                    "codebook_schema",
                    f"{path}: the codebook refers to itself (a YAML alias inside its own anchor)",
                )
            ]
        ) from None
    problems = [problem for err in errors for problem in _schema_findings(err, document, path)]
    if problems:
        raise InputError(problems)

    problems = _duplicate_theme_findings(data["themes"], path, document)
    problems += _field_clash_findings(data.get("fields") or {}, path, document)
    problems += _appraisal_design_findings(
        data.get("appraisal") or {}, data["vocabularies"]["design"], path, document
    )
    if problems:
        raise InputError(problems)
    themes = tuple(_flatten_themes(data["themes"]))
    designs = _designs(data["vocabularies"]["design"])
    vocabularies = {k: dict(v) for k, v in data["vocabularies"].items()}
    # Every caller reads the design vocabulary as code -> label, whichever form it was given in.
    vocabularies["design"] = {code: design.label for code, design in designs.items()}
    return Codebook(
        review=data["review"],
        vocabularies=vocabularies,
        fields={
            name: StudyField(
                name=name,
                label=spec["label"],
                type=spec["type"],
                multi=spec.get("multi", False),
                required=spec.get("required", False),
                values=dict(spec.get("values", {})),
            )
            for name, spec in (data.get("fields") or {}).items()
        },
        themes=themes,
        outcomes={
            code: Outcome(code, spec["label"], spec["benefit"])
            for code, spec in (data.get("outcomes") or {}).items()
        },
        appraisal={
            code: _appraisal_tool(code, spec)
            for code, spec in (data.get("appraisal") or {}).items()
        },
        designs=designs,
    )


#: Designs randomised unless the codebook says otherwise (contract §3): only the trial.
RANDOMISED_BY_DEFAULT = frozenset({"rct"})


def _designs(vocabulary: dict[str, Any]) -> dict[str, Design]:
    """The design vocabulary, each code given as a bare label or as a mapping, with the
    contract's defaults filled in (``rct`` randomised; every design votes)."""
    out = {}
    for code, spec in vocabulary.items():
        given = spec if isinstance(spec, dict) else {"label": spec}
        out[code] = Design(
            code=code,
            label=given["label"],
            randomised=given.get("randomised", code in RANDOMISED_BY_DEFAULT),
            votes=given.get("votes", True),
        )
    return out


def _appraisal_tool(code: str, spec: dict[str, Any]) -> AppraisalTool:
    return AppraisalTool(
        code=code,
        label=spec["label"],
        designs=tuple(spec["designs"]),
        domains=dict(spec["domains"]),
        judgements={
            name: Judgement(name, given["label"], given["level"])
            for name, given in spec["judgements"].items()
        },
    )


def _appraisal_design_findings(
    tools: dict[str, Any], designs: dict[str, Any], path: Path, document: _Document
) -> list[Finding]:
    """A tool meant for a design the review does not have is a typo: the tool would then fit
    no study, and every study it appraised would get a design warning."""
    out = []
    for tool, spec in tools.items():
        for i, design in enumerate(spec["designs"]):
            if design in designs:
                continue
            where = ["appraisal", tool, "designs", i]
            line = document.line(where)
            close = difflib.get_close_matches(design, list(designs), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            out.append(
                Finding.error(
                    SHEET,
                    None,
                    key_path(where),
                    design,
                    "codebook_appraisal_design",
                    f"{path}{f' line {line}' if line else ''}: tool '{tool}' names design "
                    f"'{design}', which is not a code of vocabularies.design "
                    f"({', '.join(designs)}){hint}",
                )
            )
    return out


#: Study fields every review's themes are crossed with (data contract §4).
CORE_CROSSTAB_FIELDS: tuple[str, ...] = ("source_type", "design", "quality")


def crosstab_fields(path: Path | str) -> list[str]:
    """The study fields a review's themes are crossed with, for the workflow's job list.

    Snakemake asks while it builds the job list, before any rule runs, so this never fails: a
    codebook that cannot be loaded (read within the same bounds as everywhere) gives the core
    fields, and the validate rule then reports why and stops the review.
    """
    try:
        book = load_codebook(path)
    except InputError:
        return list(CORE_CROSSTAB_FIELDS)
    extra = ["intervention_type"] if "intervention_type" in book.vocabularies else []
    extra += sorted(f.name for f in book.fields.values() if f.type in ("category", "boolean"))
    return [*CORE_CROSSTAB_FIELDS, *extra]


def _schema_findings(
    err: jsonschema.ValidationError, document: _Document, path: Path
) -> list[Finding]:
    """One finding per thing to fix, located at the key path the lead has to edit."""
    parts = list(err.absolute_path)
    schema_path = list(err.relative_schema_path)
    data = document.data

    def finding(where: list, value: Any, message: str) -> Finding:
        line = document.line(where)
        at = f" line {line}" if line else ""
        return Finding.error(
            SHEET,
            None,
            key_path(where, data) or "(top level)",
            _short(value),
            "codebook_schema",
            f"{path}{at}: {message}",
        )

    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        out = []
        for key in extra:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "."
            out.append(
                finding(
                    [*parts, key],
                    key,
                    f"unknown key '{key}'{hint} Allowed here: {', '.join(allowed)}",
                )
            )
        return out
    if err.validator == "required" and isinstance(err.instance, dict):
        return [
            finding([*parts, name], "", f"'{name}' is missing; it is required here")
            for name in err.validator_value
            if name not in err.instance
        ]
    if "propertyNames" in schema_path:  # the key itself is wrong; the path stops at its parent
        key = err.instance
        if not isinstance(key, str):
            return [
                finding(
                    [*parts, key],
                    key,
                    f"YAML read the key as {key!r} ({type(key).__name__}), not as a "
                    "code (it does that to yes/no/on/off/true/false and numbers); put "
                    "the key in quotes",
                )
            ]
        return [finding([*parts, key], key, f"'{key}' is not a valid code: " + _CODE_RULE)]
    if err.validator == "not" and isinstance(err.instance, dict):
        if err.validator_value == {"required": ["values"]}:
            return [
                finding(
                    [*parts, "values"],
                    "values",
                    "'values' is only allowed on fields of type category",
                )
            ]
        return [
            finding(
                [*parts, "multi"],
                err.instance.get("multi"),
                "'multi: true' is only allowed on fields of type category or text",
            )
        ]
    return [finding(parts, err.instance, _explain(err))]


_CODE_RULE = (
    "use lower-case letters, digits and underscores, with dots between levels (e.g. cc.language)"
)


def _field_clash_findings(fields: dict, path: Path, document: _Document) -> list[Finding]:
    out = []
    for name in fields:
        if name in CORE_STUDY_COLUMNS:
            line = document.line(["fields", name])
            out.append(
                Finding.error(
                    SHEET,
                    None,
                    f"fields.{name}",
                    name,
                    "codebook_field_clash",
                    f"{path}{f' line {line}' if line else ''}: '{name}' is a column the contract "
                    "already defines for the studies sheet; give the review field another name",
                )
            )
    return out


def _flatten_themes(nodes: list[dict], parent: str | None = None, level: int = 1):
    for node in nodes:
        yield Theme(node["code"], node["label"], parent, level, node.get("description", ""))
        yield from _flatten_themes(node.get("children") or [], node["code"], level + 1)


def _duplicate_theme_findings(
    nodes: list[dict], path: Path, document: _Document | None = None
) -> list[Finding]:
    first_seen: dict[str, str] = {}
    problems = []

    def walk(items: list[dict], prefix: list) -> None:
        for i, node in enumerate(items):
            where = [*prefix, i]
            code = node["code"]
            if code in first_seen:
                line = document.line([*where, "code"]) if document else None
                problems.append(
                    Finding.error(
                        SHEET,
                        None,
                        key_path([*where, "code"]),
                        code,
                        "codebook_duplicate_code",
                        f"{path}{f' line {line}' if line else ''}: theme code '{code}' is used "
                        f"twice (first at {first_seen[code]})",
                    )
                )
            else:
                first_seen[code] = key_path([*where, "code"])
            walk(node.get("children") or [], [*where, "children"])

    walk(nodes, ["themes"])
    return problems


def _short(instance: Any) -> str:
    text = repr(instance) if not isinstance(instance, str) else instance
    return text if len(text) <= 60 else text[:59] + "…"


def _explain(err: jsonschema.ValidationError) -> str:
    """A one-line reason a research lead can act on, for the commonest schema failures."""
    if err.validator == "pattern":
        return f"'{err.instance}' is not a valid code: {_CODE_RULE}"
    if err.validator == "enum":
        return f"'{err.instance}' is not one of {', '.join(map(str, err.validator_value))}"
    if err.validator == "type":
        wanted = err.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        words = {
            "string": "text",
            "object": "a set of 'key: value' entries",
            "array": "a list of '- ' items",
            "boolean": "true or false",
        }
        want = " or ".join(words.get(w, w) for w in str(wanted).split(" or "))
        if err.instance is None:
            return f"this is empty; it should be {want}"
        if isinstance(err.instance, bool | int | float | dt.date) and "string" in str(wanted):
            return (
                f"YAML read {err.instance!r} as a {type(err.instance).__name__}, not text; "
                "put it in quotes"
            )
        return f"expected {want}, found {type(err.instance).__name__} {_short(err.instance)!r}"
    if err.validator in {"minProperties", "minItems"}:
        return "this is empty; it needs at least one entry"
    if err.validator == "minLength":
        return "this is empty; give a label"
    return err.message
