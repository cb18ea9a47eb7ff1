"""Tests for evsynth.template: the extraction workbook generated from a codebook.

Every test writes a real ``.xlsx`` file from the example codebooks and reads it back with
openpyxl or through the pipeline's own validation. The round trip fills a template from the
example CSVs the way a person typing into Excel would (numbers as numbers, true/false as Excel
booleans) and checks validation gives the same clean tables as the CSV folder does.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from evsynth.codebook import Codebook, load_codebook
from evsynth.contract import DIRECTIONS, EFFECT_MEASURES, QUALITY, SCREENING_STAGES, SOURCE_TYPES
from evsynth.intake import OPTIONAL_SHEETS, SHEETS
from evsynth.template import LAST_ROW, OUTCOME_TABLE, THEME_TABLE, tool_title, write_template
from evsynth.validate import (
    SOURCE_ROW,
    ColumnSpec,
    added_columns,
    sheet_specs,
    validate_review,
)

ROOT = Path(__file__).resolve().parents[1]
REVIEWS = ("culturally-responsive", "families")
YEAR = dt.date.today().year


def codebook_path(review: str) -> Path:
    return ROOT / "config" / "codebooks" / f"{review}.yaml"


def raw_dir(review: str) -> Path:
    return ROOT / "data" / "raw" / review


@pytest.fixture(params=REVIEWS)
def review(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def codebook(review: str) -> Codebook:
    return load_codebook(codebook_path(review))


@pytest.fixture
def template(review: str, tmp_path: Path) -> Path:
    return write_template(codebook_path(review), tmp_path / f"{review}-template.xlsx")


# --- Reading the workbook back -------------------------------------------------------------------


def header(ws: Worksheet) -> list[str]:
    return [cell.value for cell in ws[1] if cell.value is not None]


def column_letter(ws: Worksheet, name: str) -> str:
    return next(cell.column_letter for cell in ws[1] if cell.value == name)


def validation_of(ws: Worksheet, name: str) -> DataValidation | None:
    """The data validation covering ``name``'s data rows (2..LAST_ROW), if any."""
    letter = column_letter(ws, name)
    target = f"{letter}2:{letter}{LAST_ROW}"
    found = [dv for dv in ws.data_validations.dataValidation if str(dv.sqref) == target]
    assert len(found) <= 1, f"{ws.title}.{name} has {len(found)} validations"
    return found[0] if found else None


def list_values(book: openpyxl.Workbook, dv: DataValidation) -> list[str]:
    """Resolve a list validation's range on the lists sheet (never an inline list)."""
    match = re.fullmatch(r"'?(\w+)'?!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", dv.formula1)
    assert match, f"not a range on another sheet: {dv.formula1!r}"
    sheet, first_col, first_row, last_col, last_row = match.groups()
    assert sheet == "lists" and first_col == last_col
    cells = book[sheet][f"{first_col}{first_row}:{last_col}{last_row}"]
    return [row[0].value for row in cells]


def dropdown(book: openpyxl.Workbook, sheet: str, name: str) -> list[str]:
    dv = validation_of(book[sheet], name)
    assert dv is not None and dv.type == "list", f"{sheet}.{name} has no drop-down"
    return list_values(book, dv)


def table(ws: Worksheet, title: str) -> tuple[list[str], list[tuple]]:
    """The instructions table under the heading ``title``: its header and its records."""
    rows = [tuple(r) for r in ws.iter_rows(values_only=True)]
    start = next(i for i, r in enumerate(rows) if r[0] == title)
    head = [c for c in rows[start + 1] if c is not None]
    records = []
    for record in rows[start + 2 :]:
        if all(c is None for c in record):
            break
        records.append(tuple("" if c is None else c for c in record[: len(head)]))
    return head, records


# --- Structure ----------------------------------------------------------------------------------


def test_sheets_in_order_with_lists_hidden(template: Path) -> None:
    book = openpyxl.load_workbook(template)
    assert book.sheetnames == ["instructions", *SHEETS, "lists"]
    assert book.sheetnames.index("instructions") == 0
    assert book["lists"].sheet_state == "hidden"
    assert all(book[name].sheet_state == "visible" for name in ("instructions", *SHEETS))


def test_headers_follow_sheet_specs(template: Path, codebook: Codebook) -> None:
    book = openpyxl.load_workbook(template)
    specs = sheet_specs(codebook)
    for sheet, columns in specs.items():
        ws = book[sheet]
        assert header(ws) == [spec.name for spec in columns]
        assert all(cell.font.bold for cell in ws[1])
        assert ws.freeze_panes == "A2"
        assert ws.max_row == 1  # headers only: no styled blank rows the intake would count
        for spec in columns:
            width = ws.column_dimensions[column_letter(ws, spec.name)].width
            assert 10 <= width <= 60, (sheet, spec.name, width)
    # The codebook's extra fields are studies columns, in the codebook's order, after the core.
    assert header(book["studies"])[-len(codebook.fields) :] == list(codebook.fields)


def test_dropdowns_hold_the_codebook_codes(template: Path, codebook: Codebook) -> None:
    book = openpyxl.load_workbook(template)
    assert dropdown(book, "studies", "design") == list(codebook.vocabularies["design"])
    assert dropdown(book, "studies", "source_type") == list(SOURCE_TYPES)
    assert dropdown(book, "studies", "quality") == list(QUALITY)
    assert dropdown(book, "codes", "code") == [theme.code for theme in codebook.themes]
    assert dropdown(book, "outcomes", "outcome") == list(codebook.outcomes)
    assert dropdown(book, "outcomes", "direction") == list(DIRECTIONS)
    assert dropdown(book, "outcomes", "effect_measure") == list(EFFECT_MEASURES)
    assert dropdown(book, "screening", "stage") == list(SCREENING_STAGES)
    for field in codebook.fields.values():
        if field.type == "category":
            assert dropdown(book, "studies", field.name) == list(field.values)
        elif field.type == "boolean":
            assert dropdown(book, "studies", field.name) == ["true", "false"]


def test_every_category_column_is_validated(template: Path, codebook: Codebook) -> None:
    """Single-valued: a strict list. Multi-valued: an input message about ';', no strict list."""
    book = openpyxl.load_workbook(template)
    checked = 0
    for sheet, columns in sheet_specs(codebook).items():
        for spec in columns:
            if spec.type not in {"category", "boolean"}:
                continue
            if spec.type == "category" and not spec.values:
                # e.g. appraisal.tool when the codebook declares no tools: nothing to offer
                assert validation_of(book[sheet], spec.name) is None, (sheet, spec.name)
                continue
            dv = validation_of(book[sheet], spec.name)
            assert dv is not None and dv.type == "list", (sheet, spec.name)
            assert dv.allow_blank
            if spec.multi:
                assert not dv.showErrorMessage, (sheet, spec.name)
                assert dv.showInputMessage and "';'" in dv.prompt
            else:
                assert dv.showErrorMessage and dv.errorStyle in (None, "stop"), (sheet, spec.name)
            assert len(dv.prompt or "") <= 255 and len(dv.promptTitle or "") <= 32
            checked += 1
    assert checked >= 9


def test_multi_valued_fields_explain_the_separator(tmp_path: Path) -> None:
    path = write_template(codebook_path("culturally-responsive"), tmp_path / "t.xlsx")
    book = openpyxl.load_workbook(path)
    for name in ("intervention_type", "population_focus"):
        dv = validation_of(book["studies"], name)
        assert dv is not None and not dv.showErrorMessage
        assert "separated by ';'" in dv.prompt


@pytest.mark.parametrize(
    ("sheet", "column", "kind", "operator", "bounds"),
    [
        ("studies", "year", "whole", "between", ("1900", str(YEAR))),
        ("outcomes", "n", "whole", "greaterThanOrEqual", ("1", None)),
        ("outcomes", "follow_up_months", "decimal", "greaterThanOrEqual", ("0", None)),
        ("outcomes", "estimate", "decimal", "between", ("-1000000000000000", "1000000000000000")),
        ("screening", "count", "whole", "greaterThanOrEqual", ("0", None)),
    ],
)
def test_number_columns_are_checked(
    template: Path,
    sheet: str,
    column: str,
    kind: str,
    operator: str,
    bounds: tuple[str, str | None],
) -> None:
    dv = validation_of(openpyxl.load_workbook(template)[sheet], column)
    assert dv is not None
    assert (dv.type, dv.operator, dv.formula1, dv.formula2) == (kind, operator, *bounds)
    assert dv.allow_blank and dv.showErrorMessage


def test_free_text_columns_are_text_formatted(template: Path) -> None:
    """So Excel keeps a page '5-6' as text instead of turning it into a date."""
    ws = openpyxl.load_workbook(template)["codes"]
    assert ws.column_dimensions[column_letter(ws, "page")].number_format == "@"
    assert validation_of(ws, "page") is None


MINIMAL_CODEBOOK = """\
review: minimal
vocabularies:
  design:
    rct: Randomised controlled trial
fields:
  sites:
    label: Number of sites
    type: integer
  dose_hours:
    label: Hours of contact
    type: number
  languages:
    label: Languages of delivery
    type: text
    multi: true
  funders:
    label: Funders
    type: category
    multi: true
    values:
      public: Public
      charity: Charity
themes:
  - code: a
    label: Theme A
"""


def test_minimal_codebook_every_field_type(tmp_path: Path) -> None:
    """No intervention_type vocabulary, no outcomes, one field of each other type."""
    path = tmp_path / "minimal.yaml"
    path.write_text(MINIMAL_CODEBOOK, encoding="utf-8")
    book = openpyxl.load_workbook(write_template(path, tmp_path / "t.xlsx", current_year=2020))
    studies = book["studies"]
    assert header(studies)[-4:] == ["sites", "dose_hours", "languages", "funders"]
    assert validation_of(studies, "intervention_type") is None  # no codes to offer
    assert validation_of(studies, "languages") is None  # free text, several values
    sites, hours = validation_of(studies, "sites"), validation_of(studies, "dose_hours")
    assert sites is not None and (sites.type, sites.operator) == ("whole", "between")
    assert hours is not None and hours.type == "decimal"
    year = validation_of(studies, "year")
    assert year is not None and (year.formula1, year.formula2) == ("1900", "2020")
    assert dropdown(book, "studies", "funders") == ["public", "charity"]
    assert validation_of(book["outcomes"], "outcome") is None
    assert table(book["instructions"], OUTCOME_TABLE)[1] == []
    result = validate_review(tmp_path / "t.xlsx", path, current_year=2020)
    assert [f for f in result.findings if f.severity == "warning"] == []


# --- Instructions --------------------------------------------------------------------------------


def test_instructions_explain_how_to_fill(template: Path) -> None:
    ws = openpyxl.load_workbook(template)["instructions"]
    text = "\n".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if c)
    for phrase in (
        "one row per record",
        "separate them with ';'",
        "Row 1 is the header",
        "never rename",
    ):
        assert phrase in text


def test_instructions_list_every_code(template: Path, codebook: Codebook) -> None:
    ws = openpyxl.load_workbook(template)["instructions"]
    for name, vocabulary in codebook.vocabularies.items():
        title = next(
            r[0]
            for r in ws.iter_rows(values_only=True)
            if r[0] and str(r[0]).startswith(f"Codes for studies.{name}")
        )
        assert table(ws, title) == (["code", "label"], list(vocabulary.items()))
    for field in codebook.fields.values():
        if field.type == "category":
            title = f"Codes for studies.{field.name} ({field.label})"
            assert table(ws, title) == (["code", "label"], list(field.values.items()))
    for title, vocabulary in (
        ("Codes for outcomes.direction", DIRECTIONS),
        ("Codes for screening.stage", SCREENING_STAGES),
    ):
        assert table(ws, title) == (["code", "label"], list(vocabulary.items()))
    assert table(ws, THEME_TABLE) == (
        ["code", "label", "parent", "description"],
        [(t.code, t.label, t.parent or "", t.description) for t in codebook.themes],
    )
    assert table(ws, OUTCOME_TABLE) == (
        ["code", "label", "benefit direction"],
        [(o.code, o.label, o.benefit) for o in codebook.outcomes.values()],
    )
    head, columns = table(ws, "Columns")
    assert head == ["sheet", "column", "required", "what to enter"]
    assert [(r[0], r[1]) for r in columns] == [
        (sheet, spec.name) for sheet, specs in sheet_specs(codebook).items() for spec in specs
    ]


# --- Determinism ---------------------------------------------------------------------------------


def test_same_codebook_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = codebook_path("families")
    first = write_template(path, tmp_path / "a.xlsx").read_bytes()
    later = time.time() + 3 * 86400  # a save three days later must not differ
    monkeypatch.setattr(time, "time", lambda: later)
    second = write_template(path, tmp_path / "b.xlsx").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "b.xlsx") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    props = openpyxl.load_workbook(tmp_path / "b.xlsx").properties
    assert props.creator == "evsynth"
    assert props.created == props.modified == dt.datetime(2000, 1, 1)


def test_different_codebooks_differ(tmp_path: Path) -> None:
    a = write_template(codebook_path("families"), tmp_path / "a.xlsx").read_bytes()
    b = write_template(codebook_path("culturally-responsive"), tmp_path / "b.xlsx").read_bytes()
    assert a != b


def test_creates_parent_folders(tmp_path: Path) -> None:
    out = write_template(codebook_path("families"), tmp_path / "new" / "dir" / "t.xlsx")
    assert out.is_file() and zipfile.is_zipfile(out)


# --- Through validation --------------------------------------------------------------------------

#: Findings an empty template may give: data that is required but absent, about a whole sheet.
#: ('no_records': a studies sheet with only its header is refused, since a review needs at least
#: one included study.)
MISSING_DATA_RULES = {"no_records"}


def test_empty_template_validates_without_surprises(
    template: Path, codebook: Codebook, review: str
) -> None:
    """Headers only: no exception, no warning (the headers are exactly the contract's), and any
    error is about data that is absent (today: studies has no records), never about the
    workbook's structure or a cell. A screening sheet with only its header counts as not
    provided (it is optional)."""
    result = validate_review(template, codebook_path(review))
    assert [f for f in result.findings if f.severity == "warning"] == []
    assert result.errors, "an empty template is not a review"
    for finding in result.errors:
        assert finding.rule in MISSING_DATA_RULES and finding.row is None, finding
        assert finding.value == "", finding
    specs = sheet_specs(codebook)
    assert not set(OPTIONAL_SHEETS) & set(result.clean)  # header only: not provided
    for sheet in [s for s in SHEETS if s not in OPTIONAL_SHEETS]:
        # The sheet's columns, source_row, then what the clean table adds (outcomes: se).
        expected = [s.name for s in specs[sheet]] + [SOURCE_ROW] + list(added_columns(sheet))
        assert list(result.clean[sheet].columns) == expected
        assert result.clean[sheet].empty
        assert result.summary["sheets"][sheet]["rows_read"] == 0


def test_empty_template_without_screening_is_clean(
    template: Path, review: str, tmp_path: Path
) -> None:
    """Deleting the screening worksheet, as the instructions say for a review without one:
    the workbook's structure is clean; all that is missing is the studies themselves."""
    book = openpyxl.load_workbook(template)
    del book["screening"]
    path = tmp_path / "no-screening.xlsx"
    book.save(path)
    result = validate_review(path, codebook_path(review))
    assert [(f.severity, f.sheet, f.row, f.rule) for f in result.findings] == [
        ("error", "studies", None, "no_records")
    ]
    assert "screening" not in result.clean


def typed(value: str, spec: ColumnSpec) -> object:
    """A CSV cell as a person would type it into Excel: numbers as numbers, booleans as
    Excel booleans, everything else (in text-formatted columns) as text."""
    if value == "":
        return None
    if spec.type == "integer":
        return int(value)
    if spec.type == "number":
        return float(value)
    if spec.type == "boolean":
        return value.lower() == "true"
    return value


def fill_template(template: Path, review: str, codebook: Codebook, out: Path) -> Path:
    return fill_from(template, raw_dir(review), codebook, out)


def fill_from(template: Path, folder: Path, codebook: Codebook, out: Path) -> Path:
    """The template filled from the CSV sheets in ``folder``, typed as a person would."""
    book = openpyxl.load_workbook(template)
    specs = sheet_specs(codebook)
    for sheet in SHEETS:
        csv = folder / f"{sheet}.csv"
        if not csv.is_file():
            del book[sheet]  # as the instructions say for an unused optional sheet
            continue
        ws = book[sheet]
        position = {name: i for i, name in enumerate(header(ws), start=1)}
        by_name = {spec.name: spec for spec in specs[sheet]}
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        frame.columns = [c.strip().lower() for c in frame.columns]
        for row, record in enumerate(frame.itertuples(index=False), start=2):
            for name, value in zip(frame.columns, record, strict=True):
                ws.cell(row=row, column=position[name], value=typed(value, by_name[name]))
    book.save(out)
    return out


def number_text(value: str) -> str:
    """Number columns compared as numbers: '0.80' in a CSV is typed as 0.8 and comes back as
    '0.8' (a workbook stores the number, not its digits), so both sides go through float."""
    return "" if value == "" else repr(float(value))


def test_round_trip_through_the_template(
    template: Path, codebook: Codebook, review: str, tmp_path: Path
) -> None:
    filled = fill_template(template, review, codebook, tmp_path / f"{review}.xlsx")
    from_xlsx = validate_review(filled, codebook_path(review))
    from_csv = validate_review(raw_dir(review), codebook_path(review))
    assert from_csv.errors == []
    assert from_xlsx.errors == [], from_xlsx.errors[:5]
    assert [f for f in from_xlsx.findings if f.severity == "warning"] == [
        f for f in from_csv.findings if f.severity == "warning"
    ]

    sheets = [s for s in SHEETS if (raw_dir(review) / f"{s}.csv").is_file()]
    assert sorted(from_xlsx.clean) == sorted(from_csv.clean) == sorted(sheets)
    specs = sheet_specs(codebook)
    for sheet in sheets:
        ours, theirs = from_xlsx.clean[sheet], from_csv.clean[sheet]
        assert len(ours) == len(theirs) > 0
        numbers = [s.name for s in specs[sheet] if s.type == "number"]
        # Apart from number columns, the text must be identical: integers typed as numbers
        # come back as '214', not '214.0'; booleans typed as TRUE/FALSE come back 'true'/'false'.
        pd.testing.assert_frame_equal(ours.drop(columns=numbers), theirs.drop(columns=numbers))
        pd.testing.assert_frame_equal(
            ours[numbers].map(number_text), theirs[numbers].map(number_text)
        )


def test_round_trip_keeps_decimals_as_typed(
    template: Path, codebook: Codebook, review: str, tmp_path: Path
) -> None:
    """0.62 typed as a number comes back as '0.62' (no float noise such as 0.6200000001);
    only trailing zeros ('0.80') are lost, as in Excel itself."""
    filled = fill_template(template, review, codebook, tmp_path / f"{review}.xlsx")
    ours = validate_review(filled, codebook_path(review)).clean["outcomes"]
    theirs = validate_review(raw_dir(review), codebook_path(review)).clean["outcomes"]
    for column in ("estimate", "ci_lower", "ci_upper", "follow_up_months"):
        for mine, csv in zip(ours[column], theirs[column], strict=True):
            expected = csv.rstrip("0").rstrip(".") if "." in csv else csv
            assert mine == expected, (column, mine, csv)


# --- Spreadsheet formula injection ---------------------------------------------------------------

HOSTILE_CODEBOOK = """\
review: hostile
vocabularies:
  design:
    rct: '=HYPERLINK("http://x","click")'
fields:
  funders:
    label: '@SUM(1+1)'
    type: category
    values:
      public: "+cmd|' /C calc'!A0"
themes:
  - code: a
    label: '=1+1'
    description: '-2+3'
outcomes:
  wellbeing:
    label: '=HYPERLINK("http://x","click")'
    benefit: increase
"""


def test_codebook_text_never_becomes_a_formula(tmp_path: Path) -> None:
    """openpyxl stores text beginning with '=' as a formula; the template stores it as text,
    unchanged, so the label shows as written and nothing runs when the workbook opens."""
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE_CODEBOOK, encoding="utf-8")
    book = openpyxl.load_workbook(write_template(path, tmp_path / "t.xlsx", current_year=2020))
    formulas = [
        (ws.title, cell.coordinate, cell.value)
        for ws in book.worksheets
        for row in ws.iter_rows()
        for cell in row
        if cell.data_type == "f"
    ]
    assert formulas == []
    ws = book["instructions"]
    assert table(ws, "Codes for studies.design")[1] == [("rct", '=HYPERLINK("http://x","click")')]
    assert table(ws, THEME_TABLE)[1] == [("a", "=1+1", "", "-2+3")]
    assert table(ws, OUTCOME_TABLE)[1] == [
        ("wellbeing", '=HYPERLINK("http://x","click")', "increase")
    ]
    assert table(ws, "Codes for studies.funders (@SUM(1+1))")[1] == [
        ("public", "+cmd|' /C calc'!A0")
    ]


def test_columns_and_dropdowns_come_from_the_table_registry(
    template: Path, codebook: Codebook
) -> None:
    """Each worksheet is the registry's sheet schema resolved for the codebook: its columns in
    order, required ones shaded, a strict drop-down of the vocabulary's codes on every
    single-valued code column (``enum``), and the year bounded by the current year."""
    from evsynth import registry

    book = openpyxl.load_workbook(template)
    for sheet in registry.sheet_names():
        fields = registry.sheet_schema(sheet, codebook, YEAR)["fields"]
        ws = book[sheet]
        assert header(ws) == [f["name"] for f in fields]
        for position, field in enumerate(fields, start=1):
            constraints = field.get("constraints", {})
            shaded = ws.cell(row=1, column=position).fill.fgColor.rgb
            assert shaded.endswith("FFF2CC") == constraints.get("required", False), field
            if "enum" in constraints:
                assert dropdown(book, sheet, field["name"]) == constraints["enum"], field
    year = validation_of(book["studies"], "year")
    assert (year.formula1, year.formula2) == ("1900", str(YEAR))


# --- Appraisal and findings sheets ---------------------------------------------------------------

APPRAISED = ROOT / "tests/fixtures/validation/appraised"


@pytest.fixture
def appraised(tmp_path: Path) -> tuple[Path, Codebook]:
    """The template of the test review whose codebook declares two appraisal tools."""
    path = APPRAISED / "codebook.yaml"
    return write_template(path, tmp_path / "appraised.xlsx"), load_codebook(path)


def test_appraisal_and_findings_have_their_dropdowns(appraised) -> None:
    template, codebook = appraised
    book = openpyxl.load_workbook(template)
    assert header(book["appraisal"]) == ["study_id", "tool", "domain", "judgement", "support"]
    assert dropdown(book, "appraisal", "tool") == ["rob2", "casp"]
    # Every tool's domains and scale, each code once (Excel cannot narrow a list by another
    # cell without a formula; validation checks the row's own tool).
    assert dropdown(book, "appraisal", "domain") == ["d1", "d2", "overall", "aims", "method"]
    assert dropdown(book, "appraisal", "judgement") == [
        "low",
        "some_concerns",
        "high",
        "no_information",
        "met",
        "cant_tell",
        "not_met",
    ]
    assert dropdown(book, "findings", "type") == ["effect", "qualitative"]
    assert dropdown(book, "findings", "outcome") == list(codebook.outcomes)
    assert dropdown(book, "findings", "theme") == [t.code for t in codebook.themes]
    assert dropdown(book, "findings", "start") == ["high", "low"]
    for name in ("risk_of_bias", "inconsistency", "indirectness", "imprecision"):
        assert dropdown(book, "findings", name) == ["not_serious", "serious", "very_serious"]
    for name in ("methodological_limitations", "coherence", "adequacy", "relevance"):
        assert dropdown(book, "findings", name) == [
            "no_or_very_minor",
            "minor",
            "moderate",
            "serious",
        ]
    assert dropdown(book, "findings", "confidence") == ["high", "moderate", "low", "very_low"]
    upgrade = validation_of(book["findings"], "upgrade")
    assert upgrade is not None
    assert (upgrade.type, upgrade.operator, upgrade.formula1, upgrade.formula2) == (
        "whole",
        "between",
        "0",
        "2",
    )
    findings = book["findings"]
    assert validation_of(findings, "study_ids") is None  # free text: several study IDs
    # Text format, so Excel keeps an ID such as '1.10' or '007' as typed.
    assert findings.column_dimensions[column_letter(findings, "study_ids")].number_format == "@"


def test_instructions_list_each_tool_with_its_domains_and_scale(appraised) -> None:
    template, codebook = appraised
    ws = openpyxl.load_workbook(template)["instructions"]
    rob2 = codebook.appraisal["rob2"]
    assert tool_title(rob2) == (
        "Appraisal tool rob2: RoB 2 (randomised trials) (appraisal.tool; for designs rct)"
    )
    assert table(ws, tool_title(rob2)) == (
        ["part", "code", "label", "display level"],
        [
            ("domain", "d1", "Randomisation process", ""),
            ("domain", "d2", "Missing outcome data", ""),
            ("domain", "overall", "Overall", ""),
            ("judgement", "low", "Low risk", "good"),
            ("judgement", "some_concerns", "Some concerns", "fair"),
            ("judgement", "high", "High risk", "poor"),
            ("judgement", "no_information", "No information", "unclear"),
        ],
    )
    grade = (
        "Codes for findings.risk_of_bias, findings.inconsistency, findings.indirectness, "
        "findings.imprecision, findings.publication_bias"
    )
    assert table(ws, grade)[1] == [
        ("not_serious", "Not serious"),
        ("serious", "Serious"),
        ("very_serious", "Very serious"),
    ]


def test_round_trip_of_appraisal_and_findings(appraised, tmp_path: Path) -> None:
    """Filled as a person types into Excel (upgrade as a number), validation gives the same
    clean tables as the CSV sheets."""
    template, codebook = appraised
    folder = tmp_path / "sheets"
    shutil.copytree(ROOT / "tests/fixtures/validation/valid/sheets", folder)
    for name in ("appraisal", "findings"):
        shutil.copyfile(APPRAISED / "sheets" / f"{name}.csv", folder / f"{name}.csv")
    filled = fill_from(template, folder, codebook, tmp_path / "filled.xlsx")
    from_xlsx = validate_review(filled, APPRAISED / "codebook.yaml")
    from_csv = validate_review(folder, APPRAISED / "codebook.yaml")
    assert from_csv.findings == [] and from_xlsx.findings == [], from_xlsx.findings[:5]
    for sheet in ("appraisal", "findings"):
        assert len(from_xlsx.clean[sheet]) > 0
        pd.testing.assert_frame_equal(from_xlsx.clean[sheet], from_csv.clean[sheet])
    cell = openpyxl.load_workbook(filled)["findings"]
    assert cell.cell(row=3, column=header(cell).index("upgrade") + 1).value == 1
