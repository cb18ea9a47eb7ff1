"""Validation: one malformed-input fixture per mistake class, each located exactly.

Every case copies the valid fixture review (tests/fixtures/validation/valid/) to a temporary
folder, makes ONE mistake the way a user would, and checks that validation reports it at the
exact (severity, sheet, row, column, rule), and that nothing else is reported as an error
unless the case lists it (a mistake that truly breaks two things).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from evsynth.findings import ISSUE_COLUMNS, read_issues_csv, stop_message
from evsynth.runner import StopReview
from evsynth.validate import gate, run_validate, validate_review
from stage_paths import validation_paths
from validation_helpers import (
    append_row,
    copy_review,
    delete_row,
    drop_column,
    edit_codebook,
    error_locations,
    reencode,
    remove_sheet,
    rename_column,
    rename_study,
    replace_text,
    set_cell,
    set_cells,
    where,
    workbook_from_folder,
    write_bytes,
    xlsx_cell,
)

NEXT_YEAR = str(dt.date.today().year + 1)


def xlsx(edit=None, *, drop: str | None = None):
    """A mutation: the review becomes one workbook (optionally edited, or without a sheet)."""

    def mutate(folder: Path, codebook: Path) -> Path:
        names = [n for n in ("studies", "codes", "outcomes", "screening") if n != drop]
        return workbook_from_folder(folder, folder.parent / "review.xlsx", edit=edit, sheets=names)

    return mutate


def bad_bytes(data: bytes):
    def mutate(folder: Path, codebook: Path) -> Path:
        path = folder.parent / "review.xlsx"
        path.write_bytes(data(folder) if callable(data) else data)
        return path

    return mutate


def truncated_workbook(folder: Path) -> bytes:
    full = workbook_from_folder(folder, folder.parent / "full.xlsx").read_bytes()
    return full[: len(full) // 2]


def run_gate(validation: Path) -> None:
    gate(
        "fixture",
        validation / "summary.json",
        validation / "issues.csv",
        validation / "report.md",
        validation / "passed.txt",
    )


def E(sheet, row, column, rule):  # noqa: N802 - reads like a table row
    return ("error", sheet, row, column, rule)


# id, mutation, expected error, other errors the same mistake causes
CASES = [
    # --- studies: columns and required values
    (
        "missing_column",
        drop_column("studies", "citation"),
        E("studies", 1, "citation", "missing_column"),
        (),
    ),
    (
        "required_empty",
        set_cell("studies", 3, "citation", ""),
        E("studies", 3, "citation", "required"),
        (),
    ),
    (
        "required_blank_extra_field",
        set_cell("studies", 4, "setting", "  "),
        E("studies", 4, "setting", "required"),
        (),
    ),
    ("study_id_pattern", rename_study("S04", "S 04"), E("studies", 5, "study_id", "pattern"), ()),
    ("study_id_duplicate", rename_study("S04", "S03"), E("studies", 5, "study_id", "unique"), ()),
    (
        "year_not_integer",
        set_cell("studies", 2, "year", "twenty ten"),
        E("studies", 2, "year", "integer"),
        (),
    ),
    (
        "year_decimal",
        set_cell("studies", 2, "year", "2010.5"),
        E("studies", 2, "year", "integer"),
        (),
    ),
    (
        "year_future",
        set_cell("studies", 3, "year", NEXT_YEAR),
        E("studies", 3, "year", "range"),
        (),
    ),
    (
        "year_too_early",
        set_cell("studies", 3, "year", "1899"),
        E("studies", 3, "year", "range"),
        (),
    ),
    (
        "source_type_unknown",
        set_cell("studies", 2, "source_type", "journal"),
        E("studies", 2, "source_type", "vocabulary"),
        (),
    ),
    (
        "design_unknown",
        set_cell("studies", 4, "design", "cohort"),
        E("studies", 4, "design", "vocabulary"),
        (),
    ),
    (
        "design_multi_value",
        set_cell("studies", 2, "design", "rct;qualitative"),
        E("studies", 2, "design", "single_value"),
        (),
    ),
    (
        "quality_unknown",
        set_cell("studies", 5, "quality", "good"),
        E("studies", 5, "quality", "vocabulary"),
        (),
    ),
    (
        "intervention_type_unknown_in_multi",
        set_cell("studies", 3, "intervention_type", "group; online"),
        E("studies", 3, "intervention_type", "vocabulary"),
        (),
    ),
    (
        "extra_boolean_bad",
        set_cell("studies", 2, "whole_family", "maybe"),
        E("studies", 2, "whole_family", "boolean"),
        (),
    ),
    (
        "extra_category_unknown",
        set_cell("studies", 5, "setting", "prison"),
        E("studies", 5, "setting", "vocabulary"),
        (),
    ),
    (
        "extra_category_multi",
        set_cell("studies", 5, "setting", "health;community"),
        E("studies", 5, "setting", "single_value"),
        (),
    ),
    (
        "extra_integer_bad",
        set_cell("studies", 2, "sessions", "12.5"),
        E("studies", 2, "sessions", "integer"),
        (),
    ),
    (
        "extra_number_bad",
        set_cell("studies", 2, "cost", "£150"),
        E("studies", 2, "cost", "number"),
        (),
    ),
    # --- codes
    (
        "codes_unknown_study",
        set_cell("codes", 4, "study_id", "S99"),
        E("codes", 4, "study_id", "reference"),
        (),
    ),
    (
        "codes_unknown_theme",
        set_cell("codes", 3, "code", "prog.online"),
        E("codes", 3, "code", "vocabulary"),
        (),
    ),
    ("codes_missing_code", set_cell("codes", 6, "code", ""), E("codes", 6, "code", "required"), ()),
    # --- outcomes
    (
        "outcomes_unknown_study",
        set_cell("outcomes", 3, "study_id", "S99"),
        E("outcomes", 3, "study_id", "reference"),
        (),
    ),
    (
        "outcomes_unknown_outcome",
        set_cell("outcomes", 4, "outcome", "employment"),
        E("outcomes", 4, "outcome", "vocabulary"),
        (),
    ),
    (
        "direction_unknown",
        set_cell("outcomes", 2, "direction", "positive"),
        E("outcomes", 2, "direction", "vocabulary"),
        (),
    ),
    (
        "effect_measure_unknown",
        set_cell("outcomes", 2, "effect_measure", "logor"),
        E("outcomes", 2, "effect_measure", "vocabulary"),
        (),
    ),
    (
        "ci_incomplete",
        set_cell("outcomes", 2, "ci_upper", ""),
        E("outcomes", 2, "ci_upper", "ci_incomplete"),
        (),
    ),
    (
        "ci_only_interval",
        set_cell("outcomes", 3, "estimate", ""),
        E("outcomes", 3, "estimate", "ci_incomplete"),
        (),
    ),
    (
        "ci_lower_above_estimate",
        set_cell("outcomes", 2, "ci_lower", "0.7"),
        E("outcomes", 2, "estimate", "ci_order"),
        (),
    ),
    (
        "ci_zero_width",
        set_cells(
            set_cell("outcomes", 3, "estimate", "0.9"),
            set_cell("outcomes", 3, "ci_lower", "0.9"),
            set_cell("outcomes", 3, "ci_upper", "0.9"),
        ),
        E("outcomes", 3, "ci_upper", "ci_width"),
        (),
    ),
    (
        "ratio_not_positive",
        set_cell("outcomes", 3, "ci_lower", "-0.2"),
        E("outcomes", 3, "ci_lower", "ratio_positive"),
        (),
    ),
    (
        "estimate_without_measure",
        set_cell("outcomes", 2, "effect_measure", ""),
        E("outcomes", 2, "effect_measure", "effect_measure_missing"),
        (),
    ),
    (
        "estimate_decimal_comma",
        set_cell("outcomes", 2, "estimate", "0,62"),
        E("outcomes", 2, "estimate", "number"),
        (),
    ),
    ("n_below_one", set_cell("outcomes", 4, "n", "0"), E("outcomes", 4, "n", "range"), ()),
    (
        "follow_up_negative",
        set_cell("outcomes", 2, "follow_up_months", "-3"),
        E("outcomes", 2, "follow_up_months", "range"),
        (),
    ),
    # --- screening
    (
        "screening_not_reconciling",
        set_cell("screening", 6, "count", "71"),
        E("screening", 7, "count", "screening_reconcile"),
        (),
    ),
    (
        "screening_included_not_studies",
        set_cells(set_cell("screening", 8, "count", "9"), set_cell("screening", 10, "count", "5")),
        E("screening", 10, "count", "screening_included"),
        (),
    ),
    (
        "screening_unknown_stage",
        append_row("screening", ["records_retrieved", "5", ""]),
        E("screening", 11, "stage", "vocabulary"),
        (),
    ),
    (
        "screening_repeated_stage",
        append_row("screening", ["screened", "90", ""]),
        E("screening", 11, "stage", "unique"),
        (),
    ),
    (
        "screening_no_included",
        delete_row("screening", 10),
        E("screening", None, "stage", "required"),
        (),
    ),
    (
        "screening_count_not_integer",
        set_cell("screening", 2, "count", "about 100"),
        E("screening", 2, "count", "integer"),
        (),
    ),
    # --- files that cannot be read
    (
        "csv_latin1",
        reencode("studies", "latin-1", "Jones (2012)", "Müller (2012)"),
        E("studies", 3, "citation", "encoding"),
        (),
    ),
    (
        "csv_cp1252",
        reencode("codes", "cp1252", "Readiness varied.", "“Readiness” varied."),
        E("codes", 4, "excerpt", "encoding"),
        (),
    ),
    ("csv_utf16", reencode("outcomes", "utf-16"), E("outcomes", None, "", "encoding"), ()),
    (
        "csv_utf16_no_bom",
        reencode("outcomes", "utf-16-le"),
        E("outcomes", None, "", "encoding"),
        (),
    ),
    ("csv_empty", write_bytes("codes", b""), E("codes", None, "", "empty_file"), ()),
    (
        "csv_whitespace_only",
        write_bytes("codes", b" \r\n\r\n"),
        E("codes", None, "", "empty_file"),
        (),
    ),
    ("csv_missing_sheet", remove_sheet("outcomes"), E("outcomes", None, "", "missing_sheet"), ()),
    (
        "csv_ragged_row",
        replace_text("studies", "Jones (2012). Men's", "Jones, (2012). Men's"),
        E("studies", 3, "", "ragged_row"),
        (),
    ),
    (
        "csv_unclosed_quote",
        replace_text("codes", "S02,mot,coder_a,Readiness", 'S02,mot,coder_a,"Readiness'),
        E("codes", 4, "", "csv_quote"),
        (),
    ),
    (
        "duplicate_column_after_normalising",
        rename_column("studies", "cost", " Year"),
        E("studies", 1, "year", "duplicate_column"),
        (),
    ),
    (
        "header_blank",
        rename_column("studies", "cost", ""),
        E("studies", 1, "(column 12)", "header_blank"),
        (),
    ),
    # --- workbooks
    (
        "xlsx_corrupt",
        bad_bytes(b"this is not a workbook\n"),
        E("(workbook)", None, "", "workbook_unreadable"),
        (),
    ),
    (
        "xlsx_csv_renamed",
        bad_bytes(lambda folder: (folder / "studies.csv").read_bytes()),
        E("(workbook)", None, "", "workbook_unreadable"),
        (),
    ),
    (
        "xlsx_truncated",
        bad_bytes(truncated_workbook),
        E("(workbook)", None, "", "workbook_unreadable"),
        (),
    ),
    ("xlsx_empty_file", bad_bytes(b""), E("(workbook)", None, "", "workbook_unreadable"), ()),
    ("xlsx_missing_sheet", xlsx(drop="codes"), E("codes", None, "", "missing_sheet"), ()),
    (
        "xlsx_year_as_date",
        xlsx(xlsx_cell("studies", 4, "year", dt.datetime(2015, 1, 1))),
        E("studies", 4, "year", "integer"),
        (),
    ),
    (
        "xlsx_direction_unknown",
        xlsx(xlsx_cell("outcomes", 5, "direction", "better")),
        E("outcomes", 5, "direction", "vocabulary"),
        (),
    ),
    (
        "xlsx_n_fraction",
        xlsx(xlsx_cell("outcomes", 2, "n", 213.5)),
        E("outcomes", 2, "n", "integer"),
        (),
    ),
    # --- the codebook
    (
        "codebook_child_without_label",
        edit_codebook("        label: Group programmes\n", ""),
        E("codebook", None, "themes[0].children[0].label", "codebook_schema"),
        (),
    ),
    (
        "codebook_unknown_key",
        edit_codebook("    benefit: increase", "    benefit: increase\n    colour: green"),
        E("codebook", None, "outcomes.wellbeing.colour", "codebook_schema"),
        (),
    ),
    (
        "codebook_unknown_field_type",
        edit_codebook("type: integer", "type: whole_number"),
        E("codebook", None, "fields.sessions.type", "codebook_schema"),
        (),
    ),
    (
        "codebook_duplicate_code",
        edit_codebook("code: mot", "code: prog.group"),
        E("codebook", None, "themes[1].code", "codebook_duplicate_code"),
        (),
    ),
    (
        "codebook_duplicate_key",
        edit_codebook("      health: Health\n", "      health: Health\n      health: Clinic\n"),
        E("codebook", None, "fields.setting.values.health", "yaml_duplicate_key"),
        (),
    ),
    (
        "codebook_not_yaml",
        edit_codebook("review: fixture", "review: [fixture"),
        E("codebook", None, "", "yaml_syntax"),
        (),
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected", "also"), [pytest.param(m, e, a, id=i) for i, m, e, a in CASES]
)
def test_each_mistake_is_reported_where_it_is(tmp_path, mutate, expected, also):
    sheets, codebook = copy_review(tmp_path)
    location = mutate(sheets, codebook) or sheets
    result = validate_review(location, codebook)
    assert error_locations(result) == {expected, *also}, [f.one_line() for f in result.findings]
    assert not result.summary["passed"]
    assert result.summary["errors"] == len(result.errors)
    # Whatever the mistake, every output can still be written and the gate stops cleanly.
    validation, clean = tmp_path / "out" / "validation", tmp_path / "out" / "clean"
    run_validate(location, codebook, validation_paths(validation, clean))
    with pytest.raises(StopReview) as stop:
        run_gate(validation)
    assert "validation/issues.csv" in str(stop.value).replace("\\", "/")
    assert not (validation / "passed.txt").exists()


def test_there_are_at_least_25_mistake_classes():
    assert len({rule for _, _, (_, _, _, _, rule), _ in CASES}) >= 25
    assert len(CASES) >= 25


def test_the_valid_fixture_is_valid(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    result = validate_review(sheets, codebook)
    assert result.findings == []
    assert result.summary["passed"]
    assert {n: len(t) for n, t in result.clean.items()} == {
        "studies": 4,
        "codes": 5,
        "outcomes": 4,
        "screening": 9,
    }


def test_the_valid_fixture_is_valid_as_a_workbook(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    book = workbook_from_folder(sheets, tmp_path / "review.xlsx")
    result = validate_review(book, codebook)
    assert result.findings == []
    tidy = validate_review(sheets, codebook)
    for name in tidy.clean:
        pd.testing.assert_frame_equal(result.clean[name], tidy.clean[name])


# --- Details of particular rules ---------------------------------------------------------------


def test_an_effect_measure_without_an_estimate_is_fine(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("outcomes", 4, "effect_measure", "rr")(sheets, codebook)
    assert validate_review(sheets, codebook).findings == []


def test_year_range_uses_the_current_year(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("studies", 2, "year", str(dt.date.today().year))(sheets, codebook)
    assert validate_review(sheets, codebook).errors == []
    result = validate_review(sheets, codebook, current_year=2011)
    assert error_locations(result) == {E("studies", r, "year", "range") for r in (2, 3, 4, 5)}


def test_a_missing_column_is_one_finding_not_one_per_row(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    drop_column("codes", "code")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.errors] == [E("codes", 1, "code", "missing_column")]
    assert result.clean["codes"].empty


def test_a_several_valued_single_cell_is_not_also_an_unknown_code(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("studies", 2, "design", "rct;cohort")(sheets, codebook)
    assert [f.rule for f in validate_review(sheets, codebook).errors] == ["single_value"]


def test_multi_valued_cells_are_normalised(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("studies", 3, "intervention_type", " one_to_one ;group;; One_To_One;")(
        sheets, codebook
    )
    set_cell("studies", 3, "country", "USA ; Canada;USA")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert result.errors == []
    row = result.clean["studies"].iloc[1]
    assert row["intervention_type"] == "one_to_one;group"
    assert row["country"] == "USA;Canada"
    assert {f.rule for f in result.findings} == {"code_case", "whitespace_trimmed"}


def test_a_multi_cell_with_only_separators_is_empty(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("studies", 3, "intervention_type", " ; ;")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert result.errors == []
    assert result.clean["studies"].iloc[1]["intervention_type"] == ""


def test_integers_are_normalised_and_huge_ones_do_not_crash(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("studies", 2, "sessions", "+012")(sheets, codebook)
    set_cell("outcomes", 2, "n", "214.0")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert result.errors == []
    assert result.clean["studies"].iloc[0]["sessions"] == "12"
    assert result.clean["outcomes"].iloc[0]["n"] == "214"
    assert [where(f) for f in result.findings] == [  # studies first: the contract's order
        ("warning", "studies", 2, "sessions", "integer_normalised"),
        ("warning", "outcomes", 2, "n", "integer_normalised"),
    ]
    # Beyond a 64-bit integer (what the typed hand-off stores): an error at the cell, and the
    # stage still writes every output instead of stopping with a traceback.
    set_cell("screening", 2, "count", "9" * 40)(sheets, codebook)
    set_cell("outcomes", 2, "n", "9223372036854775808")(sheets, codebook)
    result = run_validate(sheets, codebook, validation_paths(tmp_path / "v", tmp_path / "c"))
    assert error_locations(result) == {
        E("screening", 2, "count", "range"),
        E("outcomes", 2, "n", "range"),
    }
    set_cell("outcomes", 2, "n", "9223372036854775807")(sheets, codebook)
    assert E("outcomes", 2, "n", "range") not in error_locations(validate_review(sheets, codebook))


def test_a_ragged_row_keeps_its_study_id_for_references(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    replace_text("studies", "Jones (2012). Men's", "Jones, (2012). Men's")(sheets, codebook)
    result = validate_review(sheets, codebook)
    (finding,) = result.findings  # the shifted cells get no findings of their own
    assert "13 fields but the header has 12" in finding.message
    assert finding.value.startswith("S02,Jones,")
    assert "S02" not in set(result.clean["studies"]["study_id"])
    assert len(result.clean["codes"]) == 5  # S02's codes are not orphaned


def test_extra_blank_fields_are_a_ragged_row_too(tmp_path):
    """'a,b,,' under a two-column header may be a stray comma inside a value whose last cell
    was blank: the values may have moved, so it is not guessed at."""
    sheets, codebook = copy_review(tmp_path)
    replace_text("codes", "Readiness varied.,\n", "Readiness varied.,,,\n")(sheets, codebook)
    assert error_locations(validate_review(sheets, codebook)) == {E("codes", 4, "", "ragged_row")}


def test_short_rows_read_as_blank_cells(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    replace_text("codes", "S03,prog,coder_a,,\n", "S03,prog\n")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert result.findings == []
    assert result.clean["codes"].iloc[3].tolist() == ["S03", "prog", "", "", "", 5]


def test_encoding_error_message_names_the_file_and_the_fix(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    reencode("studies", "cp1252", "Jones (2012)", "Jones – (2012)")(sheets, codebook)
    (finding,) = validate_review(sheets, codebook).errors
    assert str(sheets / "studies.csv") in finding.message
    assert "CSV UTF-8" in finding.message


def test_an_unreadable_file_is_still_reported_when_the_codebook_is_broken(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    reencode("codes", "utf-16")(sheets, codebook)
    edit_codebook("type: integer", "type: int")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert {(f.sheet, f.rule) for f in result.errors} == {
        ("codebook", "codebook_schema"),
        ("codes", "encoding"),
    }
    assert result.summary["errors"] == 2
    assert set(result.summary["inputs"]) == {str(p) for p in sorted(sheets.glob("*.csv"))}


def test_a_missing_workbook_or_folder_is_a_finding(tmp_path):
    _, codebook = copy_review(tmp_path)
    for location in (tmp_path / "nowhere.xlsx", tmp_path / "nowhere"):
        (finding,) = validate_review(location, codebook).errors
        assert (finding.sheet, finding.rule) == ("(input)", "file_missing")
        assert str(location) in finding.message


def test_workbook_sheet_names_are_case_insensitive_and_extra_sheets_ignored(tmp_path):
    sheets, codebook = copy_review(tmp_path)

    def edit(book: openpyxl.Workbook) -> None:
        book["studies"].title = " Studies "
        book.create_sheet("Instructions", 0)["A1"] = "Fill in one row per study."

    result = validate_review(workbook_from_folder(sheets, tmp_path / "r.xlsx", edit=edit), codebook)
    assert result.findings == []


def test_a_workbook_declaring_the_wrong_size_is_read_in_full(tmp_path):
    """Some tools write <dimension ref="A1"/> whatever the size; openpyxl's read-only mode
    would then read one cell per sheet."""
    import zipfile

    sheets, codebook = copy_review(tmp_path)
    good = workbook_from_folder(sheets, tmp_path / "good.xlsx")
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data = re.sub(rb'<dimension ref="[A-Z0-9:]+"', b'<dimension ref="A1"', data)
            dst.writestr(item, data)
    assert b'<dimension ref="A1"' in zipfile.ZipFile(bad).read("xl/worksheets/sheet1.xml")
    assert validate_review(bad, codebook).findings == []


# --- Outputs -----------------------------------------------------------------------------------


def test_outputs_on_errors(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("studies", 3, "year", "20l2")(sheets, codebook)
    set_cell("outcomes", 2, "direction", "positive")(sheets, codebook)
    set_cell("codes", 3, "excerpt", "x" * 200)(sheets, codebook)
    set_cell("codes", 3, "code", "y" * 200)(sheets, codebook)
    validation, clean = tmp_path / "validation", tmp_path / "clean"
    result = run_validate(sheets, codebook, validation_paths(validation, clean))

    issues = (validation / "issues.csv").read_text(encoding="utf-8").splitlines()
    assert issues[0] == ",".join(ISSUE_COLUMNS)
    findings = read_issues_csv(validation / "issues.csv")
    assert findings == result.findings
    assert [where(f) for f in findings[:3]] == [  # in the contract's sheet order
        E("studies", 3, "year", "integer"),
        E("codes", 3, "code", "vocabulary"),
        E("outcomes", 2, "direction", "vocabulary"),
    ]
    assert len(findings[1].value) == 80 and findings[1].value.endswith("…")

    summary = json.loads((validation / "summary.json").read_text(encoding="utf-8"))
    assert summary["passed"] is False and summary["errors"] == 3
    assert summary["sheets"]["studies"] == {
        "rows_read": 4,
        "rows_valid": 3,
        "errors": 1,
        "warnings": 0,
        "blank_rows_ignored": 0,
        "blank_columns_ignored": 0,
    }
    assert set(summary["inputs"]) == {
        str(sheets / f"{n}.csv") for n in ("codes", "outcomes", "screening", "studies")
    }
    assert all(len(h) == 64 for h in summary["inputs"].values())
    assert list(summary["codebook"]) == [str(codebook)]

    report = (validation / "report.md").read_text(encoding="utf-8")
    assert "Validation FAILED: 3 error(s)" in report
    headings = [line for line in report.splitlines() if line.startswith("## ")]
    assert headings == [
        "## studies: integer (error, 1)",
        "## codes: vocabulary (error, 1)",
        "## outcomes: vocabulary (error, 1)",
    ]

    studies = pd.read_csv(clean / "studies.csv", dtype=str, keep_default_na=False)
    assert list(studies["study_id"]) == ["S01", "S03", "S04"]
    assert list(studies["source_row"]) == ["2", "4", "5"]


def test_gate_passes_with_warnings_only(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("studies", 2, "design", "RCT")(sheets, codebook)
    validation = tmp_path / "validation"
    result = run_validate(sheets, codebook, validation_paths(validation, tmp_path / "clean"))
    assert [f.rule for f in result.findings] == ["code_case"]
    run_gate(validation)
    assert (validation / "passed.txt").read_text() == "validation passed with 1 warning(s)\n"


def test_gate_stops_on_a_broken_codebook(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    edit_codebook("review: fixture", "review: [fixture")(sheets, codebook)
    validation = tmp_path / "validation"
    run_validate(sheets, codebook, validation_paths(validation, tmp_path / "clean"))
    with pytest.raises(StopReview, match="yaml_syntax"):
        run_gate(validation)


def test_stop_message_shows_count_first_five_and_paths(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    for row in (2, 3, 4, 5):
        set_cell("studies", row, "quality", "good")(sheets, codebook)
    set_cell("codes", 2, "code", "nope")(sheets, codebook)
    set_cell("codes", 3, "code", "nope")(sheets, codebook)
    result = validate_review(sheets, codebook)
    message = stop_message(
        "Validation", result.errors, Path("v/issues.csv"), Path("v/report.md"), n_warnings=0
    )
    lines = message.splitlines()
    assert lines[0].startswith("Validation has 6 error(s) and 0 warning(s);")
    assert lines[1] == (
        "  - sheet 'studies', row 2, column 'quality': 'good' is not a code of "
        "'quality'; allowed: high, low, moderate, not_appraised [vocabulary]"
    )
    shown = [line for line in lines if line.startswith("  - ")]
    assert len(shown) == 5
    assert shown[4] == (
        "  - sheet 'codes', row 2, column 'code': 'nope' is not a code of "
        "'code'; allowed: mot, prog, prog.group [vocabulary]"
    )
    assert "  … and 1 more." in lines
    assert lines[-2:] == [
        "Every finding, by sheet, row and column: v/issues.csv",
        "Readable report: v/report.md",
    ]


# --- Messages a lead can act on ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sheet", "row", "column", "value", "hint"),
    [
        (
            "studies",
            2,
            "design",
            "Randomised controlled trial",
            "; did you mean 'rct' (Randomised controlled trial)?",
        ),  # the label, not the code
        ("studies", 2, "design", "rtc", "; did you mean 'rct' (Randomised controlled trial)?"),
        (
            "studies",
            3,
            "intervention_type",
            "group;One to one work",
            "; did you mean 'one_to_one' (One-to-one work)?",
        ),
        ("codes", 3, "code", "prog.grup", "; did you mean 'prog.group' (Group programmes)?"),
        ("outcomes", 2, "direction", "Benefits", "; did you mean 'benefit'?"),
        ("studies", 5, "quality", "good", ""),  # nothing close: no guess
    ],
)
def test_unknown_codes_suggest_the_nearest_code(tmp_path, sheet, row, column, value, hint):
    sheets, codebook = copy_review(tmp_path)
    set_cell(sheet, row, column, value)(sheets, codebook)
    (finding,) = validate_review(sheets, codebook).errors
    assert where(finding) == E(sheet, row, column, "vocabulary")
    assert ("did you mean" in finding.message) == bool(hint)
    if hint:
        assert finding.message.endswith(hint)


def test_an_unknown_column_suggests_the_one_it_may_be(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    rename_column("studies", "whole_family", "wholefamily")(sheets, codebook)
    (finding,) = validate_review(sheets, codebook).findings
    assert where(finding) == ("warning", "studies", 1, "wholefamily", "unknown_column")
    assert finding.message.endswith("; did you mean 'whole_family'?")


def test_the_report_reads_as_plain_text_and_escapes_only_markup(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    delete_row("screening", 10)(sheets, codebook)  # "no 'included' row"
    set_cell("studies", 2, "quality", "a|b <b>*x*</b> _y_ [z](u) row(s)")(sheets, codebook)
    text = (sheets / "codes.csv").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    (sheets / "codes.csv").write_text("".join(lines[:3] + ["\n"] + lines[3:]), encoding="utf-8")
    validation = tmp_path / "validation"
    run_validate(sheets, codebook, validation_paths(validation, tmp_path / "clean"))
    report = (validation / "report.md").read_text(encoding="utf-8")
    assert "the screening sheet has no 'included' row" in report
    assert "1 blank row(s) between the data rows ignored" in report
    assert r"a\|b \<b>\*x\*\</b> \_y\_ \[z\](u) row(s)" in report
    assert "\\(" not in report and "\\'" not in report and "\\." not in report
    # Every row of a findings table still has its four cells: '|' in a value is escaped.
    findings_rows = [line for line in report.splitlines() if re.match(r"\| [0-9]* \| ", line)]
    assert len(findings_rows) == 3
    assert all(line.replace("\\|", "").count("|") == 5 for line in findings_rows)


# --- Rules the mutation check (tools/mutate.py) found unpinned ----------------------------------

THIS_YEAR = str(dt.date.today().year)


@pytest.mark.parametrize(
    ("sheet", "row", "column", "value", "bound"),
    [
        ("studies", 2, "year", "1900", "between 1900 and " + THIS_YEAR),
        ("studies", 2, "year", THIS_YEAR, "between 1900 and " + THIS_YEAR),
        ("outcomes", 2, "n", "1", "at least 1"),
        ("outcomes", 2, "follow_up_months", "0", "at least 0"),
        ("screening", 9, "count", "0", "at least 0"),
    ],
)
def test_range_bounds_are_inclusive(tmp_path, sheet, row, column, value, bound):
    """The contract's bounds are allowed values; one step past them is a located error."""
    sheets, codebook = copy_review(tmp_path)
    set_cell(sheet, row, column, value)(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert [f for f in result.findings if f.rule == "range"] == []
    past = {"1900": "1899", THIS_YEAR: NEXT_YEAR, "1": "0"}.get(value, "-1")
    set_cell(sheet, row, column, past)(sheets, codebook)
    ranges = [f for f in validate_review(sheets, codebook).errors if f.rule == "range"]
    assert [where(f) for f in ranges] == [E(sheet, row, column, "range")]
    assert ranges[0].message == f"'{past}' is out of range: must be {bound}"


def test_a_duplicate_study_id_names_the_row_it_was_first_used_at(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cells(set_cell("studies", 3, "study_id", "S01"), set_cell("studies", 5, "study_id", "S01"))(
        sheets, codebook
    )
    result = validate_review(sheets, codebook)
    unique = [f for f in result.errors if f.rule == "unique"]
    assert [(f.row, f.message) for f in unique] == [
        (3, "study_id 'S01' is already used at row 2"),
        (5, "study_id 'S01' is already used at row 2"),
    ]


def test_a_study_without_codes_is_a_warning_naming_its_row(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    delete_row("codes", 6)(sheets, codebook)  # S04's only code (codes row 6)
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.findings] == [
        ("warning", "studies", 5, "study_id", "no_codes")
    ]
    assert result.findings[0].message == "study 'S04' has no rows in the codes sheet"
    assert result.summary["passed"] and len(result.clean["studies"]) == 4


def test_a_repeated_estimate_warns_at_the_repeat_and_keeps_the_first(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    append_row(
        "outcomes",
        ["S01", "reoffending", "Self-report", "benefit", "or", "0.5", "0.3", "0.8", "214", "12"],
    )(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.findings] == [
        ("warning", "outcomes", 6, "estimate", "repeated_estimate")
    ]
    assert "only the first is pooled" in result.findings[0].message


def test_an_estimate_on_a_bound_of_its_interval_is_in_order(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cells(
        set_cell("outcomes", 2, "estimate", "0.41"), set_cell("outcomes", 3, "estimate", "1.2")
    )(sheets, codebook)
    assert validate_review(sheets, codebook).findings == []


def test_included_below_the_studies_sheet_is_an_error(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    # included 3, and full_text_assessed 20 - excluded_full_text (10 + 7) = 3 still adds up:
    # only the count against the 4 studies of the studies sheet is wrong.
    set_cells(set_cell("screening", 10, "count", "3"), set_cell("screening", 9, "count", "7"))(
        sheets, codebook
    )
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.errors] == [E("screening", 10, "count", "screening_included")]
    assert result.errors[0].message == "included is 3 but the studies sheet has 4 rows"


def test_a_ratio_bound_of_zero_is_an_error(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cell("outcomes", 2, "ci_lower", "0")(sheets, codebook)  # an odds ratio's bound of 0
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.errors] == [E("outcomes", 2, "ci_lower", "ratio_positive")]


def test_one_and_zero_are_true_and_false(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    set_cells(
        set_cell("studies", 2, "whole_family", "1"), set_cell("studies", 3, "whole_family", "0")
    )(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert result.findings == []
    assert list(result.clean["studies"]["whole_family"]) == ["true", "false", "", "true"]


def test_a_sheet_may_have_exactly_the_column_limit(tmp_path):
    from evsynth.intake import MAX_COLUMNS

    header = "study_id,code,coder,excerpt,page"
    too_wide = [E("codes", 1, "", "column_limit")]
    for width, errors in ((MAX_COLUMNS, []), (MAX_COLUMNS + 1, too_wide)):
        extra = ",".join(f"note{i}" for i in range(width - 5))
        sheets, codebook = copy_review(tmp_path / str(width))
        replace_text("codes", header, f"{header},{extra}")(sheets, codebook)
        result = validate_review(sheets, codebook)
        assert [where(f) for f in result.errors] == errors, width


# --- Arm-level data (issue 14): effects computed in validation, located errors -----------------

ARM_COLUMNS = (
    "int_events",
    "int_total",
    "ctl_events",
    "ctl_total",
    "int_mean",
    "int_sd",
    "int_n",
    "ctl_mean",
    "ctl_sd",
    "ctl_n",
)


def with_arms(sheets: Path, cells: dict[int, dict[str, str]]) -> None:
    """Add the arm-level columns to the fixture's outcomes sheet, filled at ``cells`` (row as
    the user sees it -> column -> value); every other cell blank."""
    from validation_helpers import read_rows, write_rows

    rows = read_rows(sheets, "outcomes")
    rows[0] += list(ARM_COLUMNS)
    for i, record in enumerate(rows[1:], start=2):
        record += [cells.get(i, {}).get(c, "") for c in ARM_COLUMNS]
    write_rows(sheets, "outcomes", rows)


def binary(a: int, n1: int, c: int, n2: int) -> dict[str, str]:
    return dict(zip(ARM_COLUMNS[:4], map(str, (a, n1, c, n2)), strict=True))


def means(*values) -> dict[str, str]:
    return dict(zip(ARM_COLUMNS[4:], map(str, values), strict=True))


def _clean_row(result, row: int) -> pd.Series:
    clean = result.clean["outcomes"]
    return clean[clean["source_row"] == row].iloc[0]


def test_arm_level_data_give_the_clean_estimate_ci_and_se(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    with_arms(
        sheets,
        {
            # BCG trial 3 (dat.bcg: tpos 3, tneg 228, cpos 11, cneg 209) as an odds ratio,
            # the row's given estimate blanked.
            2: binary(3, 231, 11, 220),
            # dat.normand1999 row 1 (Edinburgh) as Hedges' g.
            5: means(55, 47, 155, 75, 64, 156),
        },
    )
    set_cells(*(set_cell("outcomes", 2, c, "") for c in ("estimate", "ci_lower", "ci_upper")))(
        sheets, codebook
    )
    result = validate_review(sheets, codebook)
    assert result.findings == [], [f.one_line() for f in result.findings]
    odds = _clean_row(result, 2)
    # escalc(measure="OR") yi -1.3863 for that trial: metafor tests/testthat/test_misc_escalc.r
    # line 387; vi = 1/3 + 1/228 + 1/11 + 1/209 (escalc's formula, by hand) = 0.4334.
    assert round(math.log(float(odds["estimate"])), 4) == -1.3863
    assert round(float(odds["se"]) ** 2, 4) == 0.4334
    lo, hi = (math.log(float(odds[c])) for c in ("ci_lower", "ci_upper"))
    assert lo == pytest.approx(-1.3863 - 1.959964 * float(odds["se"]), abs=1e-4)
    assert hi == pytest.approx(-1.3863 + 1.959964 * float(odds["se"]), abs=1e-4)
    smd = _clean_row(result, 5)
    # escalc(measure="SMD") on dat.normand1999 row 1: yi -0.3552, vi 0.0131
    # (tests/testthat/test_misc_escalc.r lines 61-63).
    assert round(float(smd["estimate"]), 4) == -0.3552
    assert round(float(smd["se"]) ** 2, 4) == 0.0131
    # A given estimate keeps it, and its SE comes from its CI (log scale for a ratio).
    given = _clean_row(result, 3)
    assert given["estimate"] == "0.9"
    assert float(given["se"]) == pytest.approx((math.log(1.2) - math.log(0.7)) / (2 * 1.959964))
    # No estimate, no SE.
    assert _clean_row(result, 4)["se"] == ""


def test_the_typed_clean_outcomes_hold_se_as_a_number(tmp_path):
    from evsynth.handoff import read_typed

    sheets, codebook = copy_review(tmp_path)
    with_arms(sheets, {4: means(12.5, 3.1, 20, 10.0, 2.9, 22)})
    set_cell("outcomes", 4, "effect_measure", "md")(sheets, codebook)
    validation, clean = tmp_path / "out" / "validation", tmp_path / "out" / "clean"
    run_validate(sheets, codebook, validation_paths(validation, clean))
    typed = read_typed(clean / "outcomes.parquet").set_index("source_row")
    assert typed["se"].dtype == "float64"
    assert typed.loc[4, "estimate"] == pytest.approx(2.5)
    assert typed.loc[4, "se"] == pytest.approx(math.sqrt(3.1**2 / 20 + 2.9**2 / 22))
    assert math.isnan(typed.loc[5, "se"])
    assert typed["int_n"].dtype == "Int64"
    assert "se" in (clean / "outcomes.csv").read_text("utf-8").splitlines()[0].split(",")


def test_arm_data_that_disagree_with_the_given_estimate_are_used_with_a_warning(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    # Row 2 gives OR 0.62 (0.41 to 0.94); BCG trial 3's table gives 0.25.
    with_arms(sheets, {2: binary(3, 231, 11, 220)})
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.findings] == [
        ("warning", "outcomes", 2, "estimate", "arm_data_disagrees")
    ]
    assert "0.62 (0.41 to 0.94)" in result.findings[0].message
    assert round(math.log(float(_clean_row(result, 2)["estimate"])), 4) == -1.3863


def test_a_given_estimate_within_rounding_of_the_arm_data_is_no_warning(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    # 40/100 vs 50/100: OR = (40*50)/(60*50) = 0.6667, log-scale SE sqrt(1/40+1/60+1/50+1/50)
    # = 0.2858, so the 95% CI is 0.3807 to 1.1674: given as 0.67 (0.38 to 1.17) it agrees;
    # 0.67 (0.38 to 1.18) is one bound beyond rounding.
    with_arms(sheets, {2: binary(40, 100, 50, 100)})
    set_cells(
        set_cell("outcomes", 2, "estimate", "0.67"),
        set_cell("outcomes", 2, "ci_lower", "0.38"),
        set_cell("outcomes", 2, "ci_upper", "1.17"),
    )(sheets, codebook)
    assert validate_review(sheets, codebook).findings == []
    set_cell("outcomes", 2, "ci_upper", "1.18")(sheets, codebook)
    assert [where(f) for f in validate_review(sheets, codebook).findings] == [
        ("warning", "outcomes", 2, "ci_upper", "arm_data_disagrees")
    ]


def test_no_events_in_either_arm_is_kept_with_a_warning(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    with_arms(sheets, {4: binary(0, 20, 0, 20)})
    set_cell("outcomes", 4, "effect_measure", "rr")(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.findings] == [
        ("warning", "outcomes", 4, "int_events", "arm_no_events")
    ]
    # Both arms 0.5/21 after the correction (escalc's add=1/2, to="only0"): RR exactly 1.
    row = _clean_row(result, 4)
    assert float(row["estimate"]) == pytest.approx(1.0)
    assert float(row["se"]) ** 2 == pytest.approx(2 * (1 / 0.5 - 1 / 21))


ARM_CASES = [
    (
        "events_over_total",
        {2: binary(12, 10, 3, 10)},
        E("outcomes", 2, "int_events", "arm_events_exceed_total"),
    ),
    (
        "control_over_total",
        {2: binary(2, 10, 30, 10)},
        E("outcomes", 2, "ctl_events", "arm_events_exceed_total"),
    ),
    ("negative_sd", {5: means(1, -3, 10, 2, 3, 10)}, E("outcomes", 5, "int_sd", "range")),
    ("n_below_two", {5: means(1, 3, 1, 2, 3, 10)}, E("outcomes", 5, "int_n", "range")),
    (
        "text_in_a_count",
        {2: {**binary(2, 10, 3, 10), "ctl_events": "five"}},
        E("outcomes", 2, "ctl_events", "integer"),
    ),
    (
        "text_in_a_mean",
        {5: {**means(1, 3, 10, 2, 3, 10), "ctl_mean": "n/a"}},
        E("outcomes", 5, "ctl_mean", "number"),
    ),
    ("both_sds_zero", {5: means(1, 0, 10, 2, 0, 10)}, E("outcomes", 5, "int_sd", "arm_sd_zero")),
    (
        "counts_for_an_smd",
        {5: binary(2, 10, 3, 10)},
        E("outcomes", 5, "effect_measure", "arm_measure"),
    ),
    (
        "means_for_an_odds_ratio",
        {2: means(1, 3, 10, 2, 3, 10)},
        E("outcomes", 2, "effect_measure", "arm_measure"),
    ),
    ("zero_total", {2: binary(0, 0, 3, 10)}, E("outcomes", 2, "int_total", "range")),
]


@pytest.mark.parametrize(
    ("cells", "expected"), [c[1:] for c in ARM_CASES], ids=[c[0] for c in ARM_CASES]
)
def test_bad_arm_data_is_a_located_error_and_no_number(tmp_path, cells, expected):
    sheets, codebook = copy_review(tmp_path)
    with_arms(sheets, cells)
    result = validate_review(sheets, codebook)
    assert error_locations(result) == {expected}, [f.one_line() for f in result.findings]
    assert expected[2] not in set(result.clean["outcomes"]["source_row"])
    assert not result.summary["passed"]


def test_part_of_a_2x2_table_names_each_missing_cell(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    with_arms(sheets, {2: {"int_events": "4", "ctl_total": "30"}})
    result = validate_review(sheets, codebook)
    assert error_locations(result) == {
        E("outcomes", 2, "int_total", "arm_incomplete"),
        E("outcomes", 2, "ctl_events", "arm_incomplete"),
    }


def test_arm_data_without_an_effect_measure_asks_for_one(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    with_arms(sheets, {4: binary(4, 30, 8, 30)})  # row 4: no estimate, no effect_measure
    result = validate_review(sheets, codebook)
    assert error_locations(result) == {E("outcomes", 4, "effect_measure", "effect_measure_missing")}
