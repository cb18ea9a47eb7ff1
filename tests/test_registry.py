"""The table registry (src/evsynth/schemas/tables.yaml): valid Table Schemas, covering every
CSV the stages write, with one type per column in every review, and frictionless agreeing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import frictionless
import pytest

import evsynth.figures
from evsynth import registry
from evsynth.codebook import crosstab_fields, load_codebook
from evsynth.datapackage import build_datapackage, header
from evsynth.narrative import run_check_narrative
from evsynth.outcomes import run_outcomes
from evsynth.tally import run_agreement, run_crosstab, run_tally
from evsynth.validate import run_validate, sheet_specs
from stage_paths import meta_settings, outcomes_paths, tally_paths, validation_paths

REPO = Path(__file__).resolve().parent.parent
#: (sheets, codebook, narrative) of every review the tests run through the stages.
REVIEWS = {
    "tiny": (
        REPO / "tests/data/tiny/sheets",
        REPO / "tests/data/tiny/codebook.yaml",
        REPO / "tests/data/tiny/narrative",
    ),
    "families": (
        REPO / "data/raw/families",
        REPO / "config/codebooks/families.yaml",
        REPO / "reports/narrative/families",
    ),
    "culturally-responsive": (
        REPO / "data/raw/culturally-responsive",
        REPO / "config/codebooks/culturally-responsive.yaml",
        REPO / "reports/narrative/culturally-responsive",
    ),
}
EXAMPLES = ("families", "culturally-responsive")


def run_stages(review: str, out: Path) -> Path:
    """Every stage that writes a CSV, as the workflow runs them, into ``out/<review>/``."""
    sheets, codebook, narrative = REVIEWS[review]
    base = out / review
    clean = base / "clean"
    result = run_validate(sheets, codebook, validation_paths(base / "validation", clean))
    assert result.summary["passed"], [f.one_line() for f in result.errors]
    run_check_narrative(
        narrative, "summary-of-evidence", codebook, base / "validation" / "narrative_issues.csv"
    )
    run_tally(
        clean / "studies.parquet",
        clean / "codes.parquet",
        codebook,
        "union",
        tally_paths(base / "tallies", base / "figures"),
    )
    for field in crosstab_fields(codebook):
        run_crosstab(
            clean / "studies.parquet",
            clean / "codes.parquet",
            codebook,
            "union",
            field,
            base / f"tallies/themes_by_{field}.csv",
        )
    run_agreement(
        clean / "codes.parquet",
        codebook,
        base / "tallies/agreement.csv",
        base / "tallies/disagreements.csv",
    )
    run_outcomes(
        clean / "studies.parquet",
        clean / "outcomes.parquet",
        clean / "codes.parquet",
        codebook,
        meta_settings(),
        "union",
        outcomes_paths(base / "outcomes", base / "figures"),
    )
    return base


#: The figure functions the stages call; these tests read only the CSVs, and drawing is most of
#: a stage's time (tests/test_figures.py checks the figures themselves).
FIGURES = (
    "theme_chart",
    "direction_chart",
    "forest_plot",
    "effect_direction_plot",
    "gap_map_plot",
)


@pytest.fixture(scope="session")  # kept to the end: xdist may run other modules in between
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as patch:
        # The stages import these from evsynth.figures when called, so the stubs are seen.
        for name in FIGURES:
            patch.setattr(evsynth.figures, name, lambda *args, **kwargs: None)
        return {review: run_stages(review, out) for review in REVIEWS}


def tables_of(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*.csv") if "report" not in p.parts)


def package_of(review: str, base: Path) -> dict:
    package = build_datapackage(
        review, review, base, tables_of(base), load_codebook(REVIEWS[review][1])
    )
    (base / "datapackage.json").write_text(json.dumps(package, indent=2), "utf-8")
    return package


# --- The declarations ----------------------------------------------------------------------------


@pytest.mark.parametrize("review", [None, *REVIEWS])
def test_every_declared_schema_is_a_valid_table_schema(review):
    codebook = load_codebook(REVIEWS[review][1]) if review else None
    schemas = {
        f"sheet {s}": registry.sheet_schema(s, codebook, 2025) for s in registry.sheet_names()
    }
    schemas |= {t: registry.table_schema(t, codebook) for t in registry.table_names()}
    for name, schema in schemas.items():
        report = frictionless.Schema.validate_descriptor(schema)
        assert report.valid, (name, [e.message for e in report.errors][:3])
        parsed = frictionless.Schema.from_descriptor(schema)
        assert [f.name for f in parsed.fields] == [f["name"] for f in schema["fields"]], name
        assert {f["type"] for f in schema["fields"]} <= {
            "string",
            "integer",
            "number",
            "boolean",
        }, name


def test_codes_ids_and_labels_are_text_everywhere():
    for table in registry.table_names():
        for field in registry.table_schema(table)["fields"]:
            if (
                field["name"]
                in {
                    "study_id",
                    "study_ids",
                    "code",
                    "label",
                    "outcome",
                    "theme",
                    "parent",
                    "stage",
                    "page",
                    "coder",
                }
                or "x-vocabulary" in field
                or field.get("x-multi")
            ):
                assert field["type"] == "string", (table, field["name"])


def test_a_codebook_adds_its_fields_and_fills_the_vocabularies():
    codebook = load_codebook(REVIEWS["families"][1])
    fields = {f["name"]: f for f in registry.sheet_schema("studies", codebook, 2025)["fields"]}
    assert list(fields)[-2:] == ["setting", "whole_family_approach"]
    assert fields["setting"]["type"] == "string"
    assert fields["setting"]["constraints"] == {
        "required": True,
        "enum": ["community", "health", "childrens_social_care", "criminal_justice"],
    }
    assert fields["whole_family_approach"]["type"] == "boolean"
    assert fields["design"]["constraints"]["enum"] == list(codebook.vocabularies["design"])
    assert fields["year"]["constraints"]["maximum"] == 2025
    # Several codes in one cell are not one code of the vocabulary: no enum there.
    assert "enum" not in fields["intervention_type"].get("constraints", {})
    assert fields["intervention_type"]["constraints"]["pattern"] == (
        "(?:group_programme|whole_family|multi_agency|one_to_one|community_based|health_setting)"
        "(?:;(?:group_programme|whole_family|multi_agency|one_to_one|community_based|"
        "health_setting))*"
    )
    assert fields["intervention_type"]["x-multi"] is True


def test_validation_reads_its_column_rules_from_the_registry():
    codebook = load_codebook(REVIEWS["families"][1])
    specs = sheet_specs(codebook, 2025)
    for sheet in registry.sheet_names():
        schema = registry.sheet_schema(sheet, codebook, 2025)
        assert [s.name for s in specs[sheet]] == [f["name"] for f in schema["fields"]]
        for spec, field in zip(specs[sheet], schema["fields"], strict=True):
            constraints = field.get("constraints", {})
            assert spec.required == constraints.get("required", False), (sheet, spec.name)
            assert spec.minimum == constraints.get("minimum"), (sheet, spec.name)
            assert spec.maximum == constraints.get("maximum"), (sheet, spec.name)
            assert (spec.type == "category") == ("x-vocabulary" in field), (sheet, spec.name)


def test_an_undeclared_table_or_column_is_refused_by_name():
    with pytest.raises(KeyError, match="'tallies/nothing' is not a declared result table"):
        registry.table_schema("tallies/nothing")
    with pytest.raises(ValueError, match="column 'extra' of results table 'tallies/themes'"):
        registry.table_schema("tallies/themes", columns=["code", "extra"])
    # A crosstab's count columns are whatever the codebook's values are.
    schema = registry.table_schema("tallies/themes_by_setting", columns=["code", "label", "x"])
    assert [f["type"] for f in schema["fields"]] == ["string", "string", "integer"]


# --- The tables the stages write -----------------------------------------------------------------


@pytest.mark.parametrize("review", list(REVIEWS))
def test_the_registry_covers_every_csv_the_stages_write(results, review):
    base = results[review]
    codebook = load_codebook(REVIEWS[review][1])
    written = tables_of(base)
    assert len(written) >= 15
    for path in written:
        table = path.relative_to(base).with_suffix("").as_posix()
        columns = header(path)
        schema = registry.table_schema(table, codebook, columns=columns)  # raises if not
        if "x-counts" not in schema:  # the whole header, in the declared order
            declared = registry.table_schema(table, codebook)["fields"]
            # x-optional columns are written only in some reviews (direction's excluded_*).
            expected = [
                f["name"] for f in declared if f["name"] in columns or not f.get("x-optional")
            ]
            assert columns == expected, table


@pytest.mark.parametrize("review", list(REVIEWS))
def test_frictionless_validates_every_table_against_the_registry(results, review):
    package = package_of(review, results[review])
    report = frictionless.validate(str(results[review] / "datapackage.json"))
    assert report.valid, report.flatten(["resourcePath", "rowNumber", "fieldName", "note"])[:5]
    assert len(package["resources"]) == len(tables_of(results[review]))


@pytest.mark.parametrize(
    ("review", "table", "column", "value", "error"),
    [
        ("tiny", "tallies/themes", "n_studies", "many", "type-error"),
        ("tiny", "tallies/themes", "code", "9.9", "constraint-error"),  # not a theme code
        ("families", "clean/studies", "design", "cohort_x", "constraint-error"),
        (
            "families",
            "clean/studies",
            "intervention_type",
            "whole_family;bogus",
            "constraint-error",
        ),
        ("tiny", "clean/screening", "count", "1.5", "type-error"),
    ],
)
def test_frictionless_catches_a_value_that_breaks_the_declaration(
    results, tmp_path, review, table, column, value, error
):
    """The embedded schema is checked, not decorative: one wrong cell fails, located."""
    source = results[review] / f"{table}.csv"
    target = tmp_path / review / f"{table}.csv"
    target.parent.mkdir(parents=True)
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index(column)] = value
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    package = build_datapackage(
        review, review, tmp_path / review, [target], load_codebook(REVIEWS[review][1])
    )
    (tmp_path / review / "datapackage.json").write_text(json.dumps(package), "utf-8")
    report = frictionless.validate(str(tmp_path / review / "datapackage.json"))
    assert report.flatten(["rowNumber", "fieldName", "type"]) == [[2, column, error]]


def test_a_column_has_the_same_type_in_every_review(results):
    types: dict[tuple[str, str], dict[str, str]] = {}
    for review in EXAMPLES:
        for resource in package_of(review, results[review])["resources"]:
            for field in resource["schema"]["fields"]:
                key = (resource["path"], field["name"])
                types.setdefault(key, {})[review] = field["type"]
    shared = {key: by_review for key, by_review in types.items() if len(by_review) == 2}
    assert len(shared) >= 100
    differ = {
        key: by_review for key, by_review in shared.items() if len(set(by_review.values())) > 1
    }
    assert differ == {}
    # The columns that were guessed differently before the registry (issue 11).
    for key, expected in [
        (("outcomes/meta_analysis.csv", "tau2"), "number"),
        (("outcomes/meta_analysis.csv", "i2"), "number"),
        (("clean/screening.csv", "count"), "integer"),
        (("clean/outcomes.csv", "n"), "integer"),
        (("validation/issues.csv", "row"), "integer"),
    ]:
        assert shared[key] == dict.fromkeys(EXAMPLES, expected), key


# --- The same declarations, two checkers --------------------------------------------------------

VALID = REPO / "tests/fixtures/validation/valid"


@pytest.mark.parametrize(
    ("sheet", "row", "column", "value"),
    [
        ("studies", 2, "year", "19x0"),
        ("studies", 3, "year", "1899"),
        ("studies", 3, "design", "cohort"),
        ("studies", 2, "intervention_type", "group;bogus"),
        ("studies", 4, "setting", "prison"),
        ("studies", 2, "cost", "cheap"),
        ("outcomes", 2, "n", "0"),
        ("outcomes", 3, "direction", "better"),
        ("codes", 2, "code", "prog.nothing"),
    ],
)
def test_frictionless_and_evsynth_find_the_same_cell(tmp_path, sheet, row, column, value):
    """frictionless, reading the registry's sheet schema, and evsynth's own engine, reading the
    same declaration, flag the same row and column of a bad input sheet (and nothing else)."""
    from evsynth.validate import validate_review

    sheets = tmp_path / "sheets"
    sheets.mkdir()
    for source in (VALID / "sheets").glob("*.csv"):
        (sheets / source.name).write_bytes(source.read_bytes())
    with (sheets / f"{sheet}.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows[row - 1][rows[0].index(column)] = value
    with (sheets / f"{sheet}.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)

    result = validate_review(sheets, VALID / "codebook.yaml", current_year=2030)
    ours = {(f.row, f.column) for f in result.errors if f.sheet == sheet}
    schema = registry.sheet_schema(sheet, load_codebook(VALID / "codebook.yaml"), 2030)
    resource = frictionless.Resource(
        path=f"{sheet}.csv",
        basepath=str(sheets),
        schema=frictionless.Schema.from_descriptor({"fields": schema["fields"]}),
        # A sheet may leave out optional columns (the arm-level ones, say): match by name.
        detector=frictionless.Detector(schema_sync=True),
    )
    report = frictionless.validate(resource)
    theirs = {(r, f) for r, f in report.flatten(["rowNumber", "fieldName"])}
    assert ours == theirs == {(row, column)}
