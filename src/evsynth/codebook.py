"""Load a review's codebook and check it before any sheet is read (data contract §3).

The codebook is data a research lead edits, so a malformed one is reported like a bad sheet:
findings on sheet ``codebook`` whose column is the key path (``themes[2].children[0].label``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from evsynth.findings import Finding, InputError

SHEET = "codebook"


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


@dataclass(frozen=True)
class Codebook:
    review: str
    vocabularies: dict[str, dict[str, str]]
    fields: dict[str, StudyField]
    themes: tuple[Theme, ...]  # depth-first, in the codebook's order
    outcomes: dict[str, Outcome]

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
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def _schema() -> dict:
    text = resources.files("evsynth").joinpath("schemas/codebook.schema.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def key_path(parts: Any) -> str:
    """``['themes', 2, 'label']`` -> ``themes[2].label``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_yaml(path: Path, sheet: str) -> Any:
    """Parse a YAML file, turning every way it can fail into a finding naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Finding.error(sheet, None, "", str(path), "file_missing",
                                        f"{path}: file not found")]) from None
    except UnicodeDecodeError:
        raise InputError([Finding.error(sheet, None, "", str(path), "encoding",
                                        f"{path}: not UTF-8 text; save it as UTF-8")]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError([Finding.error(sheet, None, "", "", "yaml_syntax",
                                        f"{path}{line}: not valid YAML ({problem})")]) from None


def load_codebook(path: Path | str) -> Codebook:
    """Read and check a codebook; raise :class:`InputError` listing every problem found."""
    path = Path(path)
    data = read_yaml(path, SHEET)
    validator = jsonschema.Draft202012Validator(_schema())
    problems = [
        Finding.error(SHEET, None, key_path(err.absolute_path) or "(top level)",
                      _short(err.instance), "codebook_schema", f"{path}: {_explain(err)}")
        for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    ]
    if problems:
        raise InputError(problems)

    themes = tuple(_flatten_themes(data["themes"]))
    problems = _duplicate_theme_findings(data["themes"], path)
    if problems:
        raise InputError(problems)
    return Codebook(
        review=data["review"],
        vocabularies={k: dict(v) for k, v in data["vocabularies"].items()},
        fields={
            name: StudyField(name=name, label=spec["label"], type=spec["type"],
                             multi=spec.get("multi", False), required=spec.get("required", False),
                             values=dict(spec.get("values", {})))
            for name, spec in (data.get("fields") or {}).items()
        },
        themes=themes,
        outcomes={code: Outcome(code, spec["label"], spec["benefit"])
                  for code, spec in (data.get("outcomes") or {}).items()},
    )


def _flatten_themes(nodes: list[dict], parent: str | None = None, level: int = 1):
    for node in nodes:
        yield Theme(node["code"], node["label"], parent, level, node.get("description", ""))
        yield from _flatten_themes(node.get("children") or [], node["code"], level + 1)


def _duplicate_theme_findings(nodes: list[dict], path: Path) -> list[Finding]:
    first_seen: dict[str, str] = {}
    problems = []

    def walk(items: list[dict], prefix: str) -> None:
        for i, node in enumerate(items):
            where = f"{prefix}[{i}]"
            code = node["code"]
            if code in first_seen:
                problems.append(Finding.error(
                    SHEET, None, f"{where}.code", code, "codebook_duplicate_code",
                    f"{path}: theme code '{code}' is used twice (first at {first_seen[code]})"))
            else:
                first_seen[code] = f"{where}.code"
            walk(node.get("children") or [], f"{where}.children")

    walk(nodes, "themes")
    return problems


def _short(instance: Any) -> str:
    text = repr(instance) if not isinstance(instance, str) else instance
    return text if len(text) <= 60 else text[:59] + "…"


def _explain(err: jsonschema.ValidationError) -> str:
    """A one-line reason a research lead can act on, for the commonest schema failures."""
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"unknown key(s) {', '.join(map(repr, extra))}; allowed: " + ", ".join(
            sorted(err.schema.get("properties", {})))
    if err.validator == "required":
        return err.message.replace("is a required property", "is required here")
    if err.validator == "pattern":
        return (f"'{err.instance}' is not a valid code: use lower-case letters, digits and "
                "underscores, with dots between levels")
    if err.validator == "enum":
        return f"'{err.instance}' is not one of {', '.join(map(str, err.validator_value))}"
    if err.validator == "not" and "values" in (err.instance or {}):
        return "'values' is only allowed on fields of type category"
    return err.message
