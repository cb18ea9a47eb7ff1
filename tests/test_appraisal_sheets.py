"""The appraisal and findings sheets (issue 12): each rule's mistake located where it is made,
the codebook's appraisal tools and design flags, and the clean tables the stages after read.

Every case copies the valid review with both sheets (tests/fixtures/validation/appraised/),
makes ONE mistake the way a lead would, and checks the exact (severity, sheet, row, column,
rule) of every error it causes, as tests/test_validate.py does for the other sheets.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

import frictionless
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evsynth import registry
from evsynth.certainty import CERQUAL_COMPONENTS, CONCERNS, DOWNGRADE, GRADE_DOMAINS, LEVEL_SCORE
from evsynth.codebook import APPRAISAL_LEVELS, load_codebook
from evsynth.datapackage import build_datapackage
from evsynth.findings import InputError, read_issues_csv
from evsynth.handoff import read_typed
from evsynth.intake import SHEETS
from evsynth.validate import SOURCE_ROW, ValidationPaths, run_validate, validate_review
from test_validation_properties import COLUMN_RULES, any_text, registry_value
from validation_helpers import (
    APPRAISED,
    NEW_SHEETS,
    append_row,
    copy_appraised_review,
    copy_review,
    delete_row,
    edit_codebook,
    error_locations,
    read_rows,
    set_cell,
    set_cells,
    where,
    workbook_from_folder,
)


def E(sheet, row, column, rule):  # noqa: N802 - reads like a table row
    return ("error", sheet, row, column, rule)


def W(sheet, row, column, rule):  # noqa: N802
    return ("warning", sheet, row, column, rule)


def A(row, column, rule):  # noqa: N802 - an error on the appraisal sheet
    return E("appraisal", row, column, rule)


def F(row, column, rule):  # noqa: N802 - an error on the findings sheet
    return E("findings", row, column, rule)


# The fixture's appraisal sheet: rows 2-4 S01 (rob2: d1, d2, overall), 5-7 S03 (rob2),
# 8-10 S02 (casp: aims, method, overall), 11-13 S04 (casp). Findings: row 2 F1 (effect,
# rated down, explained), row 3 F2 (effect, start low, upgrade 1), row 4 Q1 (qualitative).
MISSING_D1_AT_S01 = A(3, "domain", "appraisal_domain_missing")  # S01's first row, once row 2 goes
CASES = [
    # --- appraisal
    ("appraisal_unknown_study", set_cell("appraisal", 2, "study_id", "S99"),
     {A(2, "study_id", "reference"), MISSING_D1_AT_S01}),
    ("appraisal_study_required", set_cell("appraisal", 2, "study_id", ""),
     {A(2, "study_id", "required"), MISSING_D1_AT_S01}),
    ("appraisal_unknown_tool", set_cell("appraisal", 2, "tool", "rob3"),
     {A(2, "tool", "vocabulary"), MISSING_D1_AT_S01}),
    ("appraisal_domain_of_another_tool", set_cell("appraisal", 3, "domain", "aims"),
     {A(3, "domain", "appraisal_domain"), A(2, "domain", "appraisal_domain_missing")}),
    ("appraisal_domain_of_no_tool", set_cell("appraisal", 3, "domain", "d9"),
     {A(3, "domain", "vocabulary"), A(2, "domain", "appraisal_domain_missing")}),
    ("appraisal_missing_domain", delete_row("appraisal", 3),
     {A(2, "domain", "appraisal_domain_missing")}),
    ("appraisal_repeated_domain", append_row("appraisal", ["S03", "rob2", "d1", "low", ""]),
     {A(14, "domain", "appraisal_domain_repeated")}),
    ("appraisal_judgement_of_another_tool", set_cell("appraisal", 9, "judgement", "low"),
     {A(9, "judgement", "appraisal_judgement")}),
    ("appraisal_judgement_of_no_tool", set_cell("appraisal", 9, "judgement", "medium"),
     {A(9, "judgement", "vocabulary")}),
    ("appraisal_judgement_required", set_cell("appraisal", 9, "judgement", ""),
     {A(9, "judgement", "required")}),
    # --- findings: identity
    ("finding_id_required", set_cell("findings", 3, "finding_id", ""),
     {F(3, "finding_id", "required")}),
    ("finding_id_pattern", set_cell("findings", 3, "finding_id", "F 2"),
     {F(3, "finding_id", "pattern")}),
    ("finding_id_unique", set_cell("findings", 3, "finding_id", "F1"),
     {F(3, "finding_id", "unique")}),
    ("finding_statement_required", set_cell("findings", 4, "statement", ""),
     {F(4, "statement", "required")}),
    ("finding_type_vocabulary", set_cell("findings", 2, "type", "grade"),
     {F(2, "type", "vocabulary")}),
    ("finding_type_required", set_cell("findings", 2, "type", ""),
     {F(2, "type", "required")}),
    # --- findings: what the finding is about
    ("effect_without_outcome", set_cell("findings", 2, "outcome", ""),
     {F(2, "outcome", "finding_required")}),
    ("effect_unknown_outcome", set_cell("findings", 2, "outcome", "reoffence"),
     {F(2, "outcome", "vocabulary")}),
    ("effect_with_theme", set_cell("findings", 2, "theme", "mot"),
     {F(2, "theme", "finding_not_for_type")}),
    ("qualitative_without_theme", set_cell("findings", 4, "theme", ""),
     {F(4, "theme", "finding_required")}),
    ("qualitative_unknown_theme", set_cell("findings", 4, "theme", "motivation"),
     {F(4, "theme", "vocabulary")}),
    ("qualitative_with_outcome", set_cell("findings", 4, "outcome", "wellbeing"),
     {F(4, "outcome", "finding_not_for_type")}),
    ("finding_study_ids_required", set_cell("findings", 4, "study_ids", ""),
     {F(4, "study_ids", "required")}),
    ("finding_unknown_study", set_cell("findings", 2, "study_ids", "S01;S99"),
     {F(2, "study_ids", "reference")}),
    # --- findings: GRADE (effect)
    ("start_vocabulary", set_cell("findings", 3, "start", "moderate"),
     {F(3, "start", "vocabulary")}),
    ("start_on_qualitative", set_cell("findings", 4, "start", "high"),
     {F(4, "start", "finding_not_for_type")}),
    ("grade_domain_required", set_cell("findings", 2, "imprecision", ""),
     {F(2, "imprecision", "finding_required")}),
    ("grade_domain_vocabulary", set_cell("findings", 2, "risk_of_bias", "very"),
     {F(2, "risk_of_bias", "vocabulary")}),
    ("grade_domain_on_qualitative", set_cell("findings", 4, "publication_bias", "serious"),
     {F(4, "publication_bias", "finding_not_for_type")}),
    ("upgrade_out_of_range", set_cell("findings", 3, "upgrade", "3"),
     {F(3, "upgrade", "range")}),
    ("upgrade_not_a_number", set_cell("findings", 3, "upgrade", "one"),
     {F(3, "upgrade", "integer")}),
    ("upgrade_on_qualitative", set_cell("findings", 4, "upgrade", "1"),
     {F(4, "upgrade", "finding_not_for_type")}),
    # --- findings: GRADE-CERQual (qualitative)
    ("cerqual_component_required", set_cell("findings", 4, "adequacy", ""),
     {F(4, "adequacy", "finding_required")}),
    ("cerqual_component_vocabulary", set_cell("findings", 4, "coherence", "none"),
     {F(4, "coherence", "vocabulary")}),
    ("cerqual_component_on_effect", set_cell("findings", 2, "relevance", "minor"),
     {F(2, "relevance", "finding_not_for_type")}),
    ("confidence_required", set_cell("findings", 4, "confidence", ""),
     {F(4, "confidence", "finding_required")}),
    ("confidence_vocabulary", set_cell("findings", 4, "confidence", "medium"),
     {F(4, "confidence", "vocabulary")}),
    ("confidence_on_effect", set_cell("findings", 3, "confidence", "high"),
     {F(3, "confidence", "finding_not_for_type")}),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "expected"), [pytest.param(m, e, id=i) for i, m, e in CASES])
def test_each_mistake_is_reported_where_it_is(tmp_path, mutate, expected):
    sheets, codebook = copy_appraised_review(tmp_path)
    mutate(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert error_locations(result) == expected, [f.one_line() for f in result.findings]
    assert not result.summary["passed"]


def test_every_new_rule_has_a_located_case():
    rules = {rule for _, _, expected in CASES for *_, rule in expected}
    assert {
        "appraisal_domain",
        "appraisal_judgement",
        "appraisal_domain_missing",
        "appraisal_domain_repeated",
        "finding_required",
        "finding_not_for_type",
    } <= rules


# --- The valid review ----------------------------------------------------------------------------


def validation_paths(base: Path) -> ValidationPaths:
    return ValidationPaths(
        issues=base / "validation/issues.csv",
        summary=base / "validation/summary.json",
        report=base / "validation/report.md",
        clean={name: base / f"clean/{name}.csv" for name in SHEETS},
        typed={name: base / f"clean/{name}.parquet" for name in SHEETS},
    )


def test_a_review_with_both_sheets_valid_is_clean(tmp_path):
    sheets, codebook = copy_appraised_review(tmp_path)
    result = run_validate(sheets, codebook, validation_paths(tmp_path / "out"))
    assert result.findings == []
    assert {n: len(t) for n, t in result.clean.items()} == {
        "studies": 4,
        "codes": 5,
        "outcomes": 4,
        "screening": 9,
        "appraisal": 12,
        "findings": 3,
    }
    summary = json.loads((tmp_path / "out/validation/summary.json").read_text("utf-8"))
    assert summary["sheets"]["appraisal"]["rows_valid"] == 12
    assert summary["sheets"]["findings"]["rows_valid"] == 3
    # Codes are text in both copies; 'upgrade' is the one number (text in, integer out).
    findings = read_typed(tmp_path / "out/clean/findings.parquet")
    assert str(findings["upgrade"].dtype) == "Int64"
    assert findings["upgrade"].tolist() == [pd.NA, 1, pd.NA]
    assert findings["source_row"].tolist() == [2, 3, 4]
    text = pd.read_csv(tmp_path / "out/clean/findings.csv", dtype=str, keep_default_na=False)
    assert text["upgrade"].tolist() == ["", "1", ""]
    assert text["study_ids"].tolist() == ["S01;S03", "S02;S04", "S02;S04"]
    appraisal = read_typed(tmp_path / "out/clean/appraisal.parquet")
    assert list(appraisal.columns) == [
        "study_id",
        "tool",
        "domain",
        "judgement",
        "support",
        SOURCE_ROW,
    ]
    assert appraisal.loc[1, ["study_id", "domain", "judgement"]].tolist() == [
        "S01",
        "d2",
        "some_concerns",
    ]


def test_the_same_review_as_a_workbook_gives_the_same_tables(tmp_path):
    sheets, codebook = copy_appraised_review(tmp_path)
    book = workbook_from_folder(sheets, tmp_path / "review.xlsx")
    from_xlsx = validate_review(book, codebook)
    assert from_xlsx.findings == [], [f.one_line() for f in from_xlsx.findings]
    from_csv = validate_review(sheets, codebook)
    for name in ("appraisal", "findings"):
        pd.testing.assert_frame_equal(from_xlsx.clean[name], from_csv.clean[name])


@pytest.mark.parametrize("how", ["absent", "header only"])
def test_a_sheet_not_provided_gives_an_empty_table_with_its_header(tmp_path, how):
    sheets, codebook = copy_appraised_review(tmp_path)
    for name in ("appraisal", "findings"):
        path = sheets / f"{name}.csv"
        if how == "absent":
            path.unlink()
        else:
            path.write_text(path.read_text("utf-8").splitlines()[0] + "\n", "utf-8")
    out = tmp_path / "out"
    result = run_validate(sheets, codebook, validation_paths(out))
    assert result.findings == []
    assert "appraisal" not in result.summary["sheets"]
    for name, first in (("appraisal", "study_id"), ("findings", "finding_id")):
        assert name not in result.clean
        header = (out / f"clean/{name}.csv").read_text("utf-8").splitlines()
        assert len(header) == 1 and header[0].startswith(first + ",")
        assert header[0].endswith("," + SOURCE_ROW)
        typed = read_typed(out / f"clean/{name}.parquet")
        assert typed.empty and list(typed.columns) == header[0].split(",")


def test_without_a_codebook_the_tables_are_still_written(tmp_path):
    sheets, codebook = copy_appraised_review(tmp_path)
    edit_codebook("review: fixture", "review: [fixture")(sheets, codebook)
    out = tmp_path / "out"
    run_validate(sheets, codebook, validation_paths(out))
    for name in ("appraisal", "findings"):
        assert (out / f"clean/{name}.csv").is_file()
        assert (out / f"clean/{name}.parquet").is_file()


def test_an_upgrade_written_as_a_decimal_is_read_as_a_whole_number(tmp_path):
    sheets, codebook = copy_appraised_review(tmp_path)
    set_cell("findings", 3, "upgrade", "1.0")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.findings] == [
        W("findings", 3, "upgrade", "integer_normalised")
    ]
    assert result.clean["findings"]["upgrade"].tolist() == ["", "1", ""]


# --- Warnings ------------------------------------------------------------------------------------


def test_a_tool_used_outside_its_designs_is_a_warning_at_the_studys_first_row(tmp_path):
    sheets, codebook = copy_appraised_review(tmp_path)
    set_cell("studies", 4, "design", "qualitative")(sheets, codebook)  # S03, appraised with rob2
    result = validate_review(sheets, codebook)
    assert result.errors == []
    [warning] = result.findings
    assert where(warning) == W("appraisal", 5, "tool", "appraisal_design")
    assert warning.message == (
        "tool 'rob2' is meant for rct, but study 'S03' is 'qualitative' (Qualitative study); "
        "check the tool or the study's design"
    )
    assert result.summary["passed"]


def test_a_downgrade_without_an_explanation_is_a_warning(tmp_path):
    sheets, codebook = copy_appraised_review(tmp_path)
    set_cell("findings", 2, "explanation", "")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.findings] == [
        W("findings", 2, "explanation", "finding_explanation")
    ]
    assert len(result.clean["findings"]) == 3  # a warning keeps the row


def test_no_downgrade_needs_no_explanation(tmp_path):
    sheets, codebook = copy_appraised_review(tmp_path)
    set_cells(
        set_cell("findings", 2, "risk_of_bias", "not_serious"),
        set_cell("findings", 2, "imprecision", "not_serious"),
        set_cell("findings", 2, "explanation", ""),
    )(sheets, codebook)
    assert validate_review(sheets, codebook).findings == []


# --- What a lead reads ---------------------------------------------------------------------------


def message(tmp_path, mutate, rule: str) -> str:
    sheets, codebook = copy_appraised_review(tmp_path)
    mutate(sheets, codebook)
    return next(f.message for f in validate_review(sheets, codebook).findings if f.rule == rule)


def test_a_missing_domain_names_the_study_and_the_domain(tmp_path):
    text = message(tmp_path, delete_row("appraisal", 3), "appraisal_domain_missing")
    assert text == (
        "study 'S01' has no judgement for rob2 domain 'd2' (Missing outcome data); judge every "
        "domain of the tool once for each study it appraises"
    )


def test_a_repeated_domain_names_the_row_of_the_first(tmp_path):
    mutate = append_row("appraisal", ["S03", "rob2", "d1", "low", ""])
    text = message(tmp_path, mutate, "appraisal_domain_repeated")
    assert text == (
        "study 'S03' already has a judgement for rob2 domain 'd1' at row 5; judge each domain "
        "once per study"
    )


def test_a_judgement_off_the_tools_scale_lists_the_scale(tmp_path):
    text = message(tmp_path, set_cell("appraisal", 9, "judgement", "low"), "appraisal_judgement")
    assert text == (
        "'low' is not on the scale of tool 'casp'; its judgements are: met, cant_tell, not_met"
    )


def test_a_missing_grade_domain_says_what_to_enter(tmp_path):
    mutate = set_cell("findings", 2, "imprecision", "")
    assert message(tmp_path, mutate, "finding_required") == (
        "an effect finding needs 'imprecision': a GRADE judgement: not_serious, serious or "
        "very_serious"
    )


def test_an_unknown_study_of_a_finding_is_named(tmp_path):
    mutate = set_cell("findings", 2, "study_ids", "S01;S98;S99")
    assert message(tmp_path, mutate, "reference") == (
        "studies 'S98', 'S99' are not in the studies sheet"
    )


def test_a_label_typed_for_a_code_gets_the_code_suggested(tmp_path):
    mutate = set_cell("findings", 2, "risk_of_bias", "Very serious")
    assert "did you mean 'very_serious'" in message(tmp_path, mutate, "vocabulary")


def test_findings_in_issues_csv_carry_sheet_row_column_value(tmp_path):
    sheets, codebook = copy_appraised_review(tmp_path)
    set_cell("appraisal", 9, "judgement", "low")(sheets, codebook)
    out = tmp_path / "out"
    run_validate(sheets, codebook, validation_paths(out))
    [finding] = read_issues_csv(out / "validation/issues.csv")
    assert (finding.sheet, finding.row, finding.column, finding.value) == (
        "appraisal",
        9,
        "judgement",
        "low",
    )


# --- The codebook --------------------------------------------------------------------------------


def test_designs_default_to_rct_randomised_and_every_design_voting(tmp_path):
    book = load_codebook(copy_review(tmp_path)[1])  # designs given as bare labels
    assert {c: (d.randomised, d.votes) for c, d in book.designs.items()} == {
        "rct": (True, True),
        "qualitative": (False, True),
    }
    assert book.appraisal == {}


def test_designs_given_as_mappings_keep_the_vocabulary_as_labels(tmp_path):
    _, path = copy_appraised_review(tmp_path)
    edit_codebook(
        "qualitative: {label: Qualitative study, votes: false}",
        "qualitative: {label: Qualitative study, votes: false}\n"
        "    cohort: {label: Cohort study, randomised: true}\n"
        "    review: Systematic review",
    )(path.parent, path)
    book = load_codebook(path)
    assert book.vocabularies["design"] == {
        "rct": "Randomised controlled trial",
        "qualitative": "Qualitative study",
        "cohort": "Cohort study",
        "review": "Systematic review",
    }
    assert {c: (d.label, d.randomised, d.votes) for c, d in book.designs.items()} == {
        "rct": ("Randomised controlled trial", True, True),
        "qualitative": ("Qualitative study", False, False),
        "cohort": ("Cohort study", True, True),
        "review": ("Systematic review", False, True),
    }


def test_the_appraisal_tools_are_read_in_the_codebooks_order(tmp_path):
    book = load_codebook(copy_appraised_review(tmp_path)[1])
    rob2 = book.appraisal["rob2"]
    assert list(book.appraisal) == ["rob2", "casp"]
    assert rob2.designs == ("rct",)
    assert list(rob2.domains) == ["d1", "d2", "overall"]
    assert [(j.code, j.level) for j in rob2.judgements.values()] == [
        ("low", "good"),
        ("some_concerns", "fair"),
        ("high", "poor"),
        ("no_information", "unclear"),
    ]


BAD_CODEBOOKS = [
    (
        "level_outside_the_four",
        ("some_concerns: {label: Some concerns, level: fair}", "some_concerns: {label: Some "
         "concerns, level: amber}"),
        "appraisal.rob2.judgements.some_concerns.level",
        "codebook_schema",
        "line 51: 'amber' is not one of good, fair, poor, unclear",
    ),
    (
        "design_not_in_the_vocabulary",
        ("designs: [qualitative]", "designs: [qualitative, ethnography]"),
        "appraisal.casp.designs[1]",
        "codebook_appraisal_design",
        "line 56: tool 'casp' names design 'ethnography', which is not a code of "
        "vocabularies.design (rct, qualitative)",
    ),
    (
        "empty_domains",
        ("domains: {d1: Randomisation process, d2: Missing outcome data, overall: Overall}",
         "domains: {}"),
        "appraisal.rob2.domains",
        "codebook_schema",
        "line 48: this is empty; it needs at least one entry",
    ),
    (
        "misspelt_design_flag",
        ("votes: false}", "vote: false}"),
        "vocabularies.design.qualitative.vote",
        "codebook_schema",
        "line 7: unknown key 'vote'; did you mean 'votes'?",
    ),
    (
        "judgement_without_a_level",
        ("high: {label: High risk, level: poor}", "high: {label: High risk}"),
        "appraisal.rob2.judgements.high.level",
        "codebook_schema",
        "line 52: 'level' is missing; it is required here",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "column", "rule", "text"), [pytest.param(*c[1:], id=c[0]) for c in BAD_CODEBOOKS]
)
def test_a_bad_appraisal_block_is_located(tmp_path, edit, column, rule, text):
    sheets, codebook = copy_appraised_review(tmp_path)
    edit_codebook(*edit)(sheets, codebook)
    with pytest.raises(InputError) as raised:
        load_codebook(codebook)
    [finding] = raised.value.findings
    assert (finding.sheet, finding.column, finding.rule) == ("codebook", column, rule)
    assert finding.message.startswith(f"{codebook} {text}"), finding.message
    # Through validation, the same finding, and the review stops.
    result = validate_review(sheets, codebook)
    assert error_locations(result) == {E("codebook", None, column, rule)}


def test_the_schema_levels_are_the_contracts(tmp_path):
    from importlib import resources

    text = resources.files("evsynth").joinpath("schemas/codebook.schema.yaml").read_text("utf-8")
    schema = yaml.safe_load(text)
    judgement = schema["$defs"]["appraisal_tool"]["properties"]["judgements"]
    assert tuple(judgement["additionalProperties"]["properties"]["level"]["enum"]) == (
        APPRAISAL_LEVELS
    )


def test_the_findings_vocabularies_are_the_certainty_modules():
    """The sheet accepts exactly the codes evsynth.certainty computes with."""
    assert list(registry.vocabulary("grade_concern")) == list(DOWNGRADE)
    assert list(registry.vocabulary("cerqual_concern")) == list(CONCERNS)
    assert list(registry.vocabulary("certainty")) == list(LEVEL_SCORE)
    assert list(registry.vocabulary("grade_start")) == ["high", "low"]
    fields = {f["name"]: f for f in registry.sheet_schema("findings")["fields"]}
    for name in GRADE_DOMAINS:
        assert fields[name]["x-vocabulary"] == "grade_concern"
    for name in CERQUAL_COMPONENTS:
        assert fields[name]["x-vocabulary"] == "cerqual_concern"


def test_the_workbook_without_the_new_sheets_still_validates(tmp_path):
    """A review filled before issue 12 (four sheets, no appraisal block) is unchanged."""
    sheets, codebook = copy_review(tmp_path)
    book = workbook_from_folder(sheets, tmp_path / "r.xlsx")
    assert validate_review(book, codebook).findings == []


# --- Any input: findings, never a traceback ------------------------------------------------------

PROPERTY = settings(
    max_examples=int(os.environ.get("EVSYNTH_PROPERTY_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
APPRAISED_ROWS = {name: read_rows(APPRAISED / "sheets", name) for name in NEW_SHEETS}


def write_sheet(folder: Path, sheet: str, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (folder / f"{sheet}.csv").write_bytes(buffer.getvalue().encode("utf-8"))


@PROPERTY
@given(
    sheet=st.sampled_from(NEW_SHEETS),
    cells=st.lists(
        st.tuples(st.integers(0, 13), st.integers(0, 18), any_text), min_size=1, max_size=4
    ),
)
def test_any_text_in_any_cell_of_the_new_sheets(sheet, cells):
    rows = [list(r) for r in APPRAISED_ROWS[sheet]]
    for row, column, text in cells:
        rows[row % len(rows)][column % len(rows[0])] = text
    with tempfile.TemporaryDirectory() as tmp:
        sheets, codebook = copy_appraised_review(Path(tmp))
        write_sheet(sheets, sheet, rows)
        out = Path(tmp) / "out"
        result = run_validate(sheets, codebook, validation_paths(out))
        assert result.summary["passed"] == (not result.errors)
        assert read_issues_csv(out / "validation/issues.csv") == result.findings
        for name in SHEETS:
            assert (out / f"clean/{name}.csv").is_file()
            assert (out / f"clean/{name}.parquet").is_file()
        for frame in result.clean.values():
            assert not frame.drop(columns=SOURCE_ROW).isna().any().any()


@PROPERTY
@given(data=st.data(), sheet=st.sampled_from(NEW_SHEETS), row=st.integers(1, 12))
def test_any_value_the_registry_declares_valid_passes_the_column_checks(data, sheet, row):
    """Whatever the registry declares valid for a column of the new sheets, resolved for the
    codebook, validation takes without a finding about that cell's own value."""
    codebook = load_codebook(APPRAISED / "codebook.yaml")
    fields = registry.sheet_schema(sheet, codebook, 2030)["fields"]
    field = data.draw(st.sampled_from(fields), label="field")
    value = data.draw(registry_value(field, registry.review_vocabularies(codebook)), label="value")
    rows = [list(r) for r in APPRAISED_ROWS[sheet]]
    index = row % (len(rows) - 1) + 1
    rows[index][rows[0].index(field["name"])] = value
    with tempfile.TemporaryDirectory() as tmp:
        sheets, path = copy_appraised_review(Path(tmp))
        write_sheet(sheets, sheet, rows)
        result = validate_review(sheets, path, current_year=2030)
        about_cell = [
            f
            for f in result.findings
            if (f.sheet, f.row, f.column) == (sheet, index + 1, field["name"])
            and f.rule in COLUMN_RULES
        ]
        assert about_cell == []


def test_frictionless_validates_the_clean_tables_against_the_registry(tmp_path):
    sheets, codebook = copy_appraised_review(tmp_path)
    out = tmp_path / "out"
    run_validate(sheets, codebook, validation_paths(out))
    tables = [out / "clean/appraisal.csv", out / "clean/findings.csv"]
    package = build_datapackage("fixture", "fixture", out, tables, load_codebook(codebook))
    (out / "datapackage.json").write_text(json.dumps(package), "utf-8")
    report = frictionless.validate(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["resourcePath", "rowNumber", "fieldName", "note"])[:5]
    # Not decorative: a judgement off every scale fails, located.
    path = out / "clean/appraisal.csv"
    path.write_text(path.read_text("utf-8").replace(",some_concerns,", ",amber,", 1), "utf-8")
    package = build_datapackage("fixture", "fixture", out, tables, load_codebook(codebook))
    (out / "datapackage.json").write_text(json.dumps(package), "utf-8")
    report = frictionless.validate(str(out / "datapackage.json"))
    assert not report.valid
    [(field, error)] = {tuple(e) for e in report.flatten(["fieldName", "type"])}
    assert (field, error) == ("judgement", "constraint-error")
