"""Codebook loading: each way a codebook can be malformed is an InputError whose findings name
the file and the key path to edit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from evsynth.codebook import key_path, load_codebook, read_yaml
from evsynth.findings import InputError
from validation_helpers import VALID

BASE = (VALID / "codebook.yaml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "codebook.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def edited(*pairs: tuple[str, str]) -> str:
    text = BASE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# id, codebook text, expected (column = key path, rule), words the message must contain
MALFORMED = [
    (
        "not_yaml",
        edited(("review: fixture", "review: [fixture")),
        ("", "yaml_syntax"),
        ["line 3", "not valid YAML"],
    ),
    (
        "tab_indent",
        edited(("    rct: Rand", "\trct: Rand")),
        ("", "yaml_syntax"),
        ["line 5", "'\\t'"],
    ),
    ("empty_file", "", ("(top level)", "codebook_schema"), ["empty"]),
    ("a_list", "- review: fixture\n", ("(top level)", "codebook_schema"), ["expected"]),
    (
        "unknown_top_level_key",
        edited(("themes:", "theme:")),
        ("theme", "codebook_schema"),
        ["unknown key 'theme'", "did you mean 'themes'"],
    ),
    (
        "unknown_key_in_child",
        edited(
            (
                "        label: Group programmes",
                "        label: Group programmes\n        colour: red",
            )
        ),
        ("themes[0].children[0].colour", "codebook_schema"),
        ["unknown key 'colour'.", "line 34"],
    ),
    (
        "unknown_key_in_field",
        edited(("    type: boolean", "    type: boolean\n    mandatory: true")),
        ("fields.whole_family.mandatory", "codebook_schema"),
        ["Allowed here: description, label, multi, required, type, values"],
    ),
    (
        "child_without_label",
        edited(("        label: Group programmes\n", "")),
        ("themes[0].children[0].label", "codebook_schema"),
        ["'label' is missing"],
    ),
    (
        "theme_empty_label",
        edited(("  - code: mot\n    label: Motivation to engage", "  - code: mot\n    label:")),
        ("themes[1].label", "codebook_schema"),
        ["empty"],
    ),
    (
        "duplicate_theme_code",
        edited(("code: mot", "code: prog.group")),
        ("themes[1].code", "codebook_duplicate_code"),
        ["used twice", "themes[0].children[0].code"],
    ),
    (
        "duplicate_child_code",
        edited(
            (
                "        label: Group programmes\n",
                "        label: Group programmes\n      - code: prog.group\n        label: Again\n",
            )
        ),
        ("themes[0].children[1].code", "codebook_duplicate_code"),
        ["'prog.group'"],
    ),
    (
        "bad_theme_code",
        edited(("code: mot", "code: Motivation")),
        ("themes[1].code", "codebook_schema"),
        ["not a valid code"],
    ),
    (
        "unknown_field_type",
        edited(("type: integer", "type: whole_number")),
        ("fields.sessions.type", "codebook_schema"),
        ["'whole_number' is not one of"],
    ),
    (
        "category_without_values",
        edited(("      community: Community\n      health: Health\n", ""), ("    values:\n", "")),
        ("fields.setting.values", "codebook_schema"),
        ["'values' is missing"],
    ),
    (
        "values_on_non_category",
        edited(("    type: integer", "    type: integer\n    values:\n      a: A")),
        ("fields.sessions.values", "codebook_schema"),
        ["only allowed on fields of type category"],
    ),
    (
        "multi_on_integer",
        edited(("    type: integer", "    type: integer\n    multi: true")),
        ("fields.sessions.multi", "codebook_schema"),
        ["category or text"],
    ),
    (
        "field_clashes_with_core_column",
        edited(("  sessions:", "  year:")),
        ("fields.year", "codebook_field_clash"),
        ["already defines"],
    ),
    (
        "bad_vocabulary_code",
        edited(("    rct: Rand", "    RCT: Rand")),
        ("vocabularies.design.RCT", "codebook_schema"),
        ["'RCT' is not a valid code"],
    ),
    (
        "yes_no_key",
        edited(("    rct: Rand", "    no: No design\n    rct: Rand")),
        ("vocabularies.design.false", "codebook_schema"),
        ["put the key in quotes"],
    ),
    (
        "label_read_as_number",
        edited(("label: Re-offending", "label: 2019")),
        ("outcomes.reoffending.label", "codebook_schema"),
        ["put it in quotes"],
    ),
    (
        "unknown_vocabulary",
        edited(("  intervention_type:", "  delivery:")),
        ("vocabularies.delivery", "codebook_schema"),
        ["unknown key 'delivery'"],
    ),
    (
        "missing_design_vocabulary",
        edited(
            (
                "  design:\n    rct: Randomised controlled trial\n"
                "    qualitative: Qualitative study\n",
                "",
            )
        ),
        ("vocabularies.design", "codebook_schema"),
        ["'design' is missing"],
    ),
    (
        "bad_benefit",
        edited(("benefit: decrease", "benefit: lower")),
        ("outcomes.reoffending.benefit", "codebook_schema"),
        ["decrease, increase"],
    ),
    (
        "missing_themes",
        BASE[: BASE.index("themes:")],
        ("themes", "codebook_schema"),
        ["'themes' is missing"],
    ),
    (
        "duplicate_yaml_key",
        edited(("      health: Health\n", "      health: Health\n      health: Clinic\n")),
        ("fields.setting.values.health", "yaml_duplicate_key"),
        ["line 18", "first on line 17"],
    ),
    (
        "duplicate_top_level_key",
        BASE + "review: other\n",
        ("review", "yaml_duplicate_key"),
        ["appears twice"],
    ),
    (
        "duplicate_key_in_list_item",
        edited(("  - code: mot\n", "  - code: mot\n    code: mot2\n")),
        ("themes[1].code", "yaml_duplicate_key"),
        ["appears twice"],
    ),
    (
        "impossible_date",
        edited(("review: fixture", "review: 2020-13-45")),
        ("", "yaml_syntax"),
        ["cannot be read"],
    ),
    ("unhashable_key", BASE + "? [a, b]\n: 1\n", ("", "yaml_syntax"), ["unhashable"]),
    ("python_tag", BASE + "x: !!python/object:os.system ls\n", ("", "yaml_syntax"), ["tag"]),
]


@pytest.mark.parametrize(
    ("text", "expected", "words"), [pytest.param(t, e, w, id=i) for i, t, e, w in MALFORMED]
)
def test_malformed_codebook_names_file_and_key_path(tmp_path, text, expected, words):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_codebook(path)
    findings = caught.value.findings
    assert expected in {(f.column, f.rule) for f in findings}, [f.one_line() for f in findings]
    finding = next(f for f in findings if (f.column, f.rule) == expected)
    assert finding.sheet == "codebook" and finding.severity == "error"
    assert str(path) in finding.message
    for word in words:
        assert word in finding.message, finding.message
    assert str(path) in str(caught.value)


def test_the_fixture_and_the_example_codebooks_load():
    codebook = load_codebook(VALID / "codebook.yaml")
    assert [t.code for t in codebook.themes] == ["prog", "prog.group", "mot"]
    assert codebook.lineage["prog.group"] == ("prog.group", "prog")
    assert codebook.fields["setting"].required and codebook.fields["setting"].type == "category"
    for path in sorted(Path("config/codebooks").glob("*.yaml")):
        load_codebook(path)


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        edited(
            ("type: integer", "type: int"),
            ("benefit: decrease", "benefit: down"),
            ("        label: Group programmes\n", ""),
        ),
    )
    with pytest.raises(InputError) as caught:
        load_codebook(path)
    assert {f.column for f in caught.value.findings} == {
        "fields.sessions.type",
        "outcomes.reoffending.benefit",
        "themes[0].children[0].label",
    }


def test_empty_fields_and_outcomes_sections_are_allowed(tmp_path):
    text = BASE[: BASE.index("fields:")] + "fields:\n" + BASE[BASE.index("themes:") :]
    text = text[: text.index("outcomes:")] + "outcomes:\n"
    codebook = load_codebook(write(tmp_path, text))
    assert codebook.fields == {} and codebook.outcomes == {}


def test_a_recursive_alias_does_not_crash(tmp_path):
    with pytest.raises(InputError):
        load_codebook(write(tmp_path, BASE + "extra: &a [*a]\n"))


@pytest.mark.parametrize("kind", ["missing", "folder", "latin1"])
def test_unreadable_codebook_file(tmp_path, kind):
    path = tmp_path / "codebook.yaml"
    if kind == "folder":
        path.mkdir()
    elif kind == "latin1":
        path.write_bytes(BASE.replace("Wellbeing", "Bien-être").encode("latin-1"))
    with pytest.raises(InputError) as caught:
        load_codebook(path)
    (finding,) = caught.value.findings
    assert (
        finding.rule
        == {"missing": "file_missing", "folder": "file_unreadable", "latin1": "encoding"}[kind]
    )
    assert str(path) in finding.message


def test_read_yaml_refuses_duplicate_keys(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a:\n  b: 1\n  b: 2\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_yaml(path, "config")
    (finding,) = caught.value.findings
    assert (finding.sheet, finding.column, finding.rule) == ("config", "a.b", "yaml_duplicate_key")
    path.write_text("a:\n  b: 1\n", encoding="utf-8")
    assert read_yaml(path, "config") == {"a": {"b": 1}}


def test_key_path():
    assert key_path(["themes", 2, "children", 0, "label"]) == "themes[2].children[0].label"
    data = {"vocabularies": {"design": {1: "x"}}}
    assert key_path(["vocabularies", "design", 1], data) == "vocabularies.design.1"
    assert key_path([]) == ""
