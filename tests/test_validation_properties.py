"""Property-based tests: whatever is in the input files, validation answers with findings (or a
clean pass) and writes its outputs; it never raises."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import tempfile
import zipfile
from functools import cache
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from evsynth.findings import ISSUE_COLUMNS, read_issues_csv
from evsynth.validate import run_validate
from stage_paths import validation_paths
from validation_helpers import (
    SHEET_NAMES,
    VALID,
    copy_review,
    read_rows,
    workbook_from_folder,
)

#: Modest by default so the suite stays fast; raise it for a longer hunt, e.g.
#: EVSYNTH_PROPERTY_EXAMPLES=2000 pytest tests/test_validation_properties.py
FAST = settings(
    max_examples=int(os.environ.get("EVSYNTH_PROPERTY_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ROWS = {name: read_rows(VALID / "sheets", name) for name in SHEET_NAMES}

#: Any text, separators, quotes, line breaks and NUL included (surrogates cannot be UTF-8).
any_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    [
        "",
        " ",
        ";",
        ";;",
        '"',
        '""',
        ",",
        "\n",
        "\r\n",
        "\r",
        "\x00",
        "\ufeff",
        "nan",
        "NaN",
        "None",
        "inf",
        "-0",
        "1e999",
        "0,5",
        "9" * 40,
        "S01",
        "S01;S02",
        "rct;qualitative",
        "RCT",
        " rct ",
        "prog.group",
        "\u2028",
        "\t",
        "=1+1",
        "2019.0",
        "TRUE",
    ]
)


def check(location: Path, codebook: Path, out: Path) -> list:
    """Run the validate stage and check that what it wrote is complete and consistent."""
    result = run_validate(location, codebook, validation_paths(out / "validation", out / "clean"))
    assert all(f.severity in {"error", "warning"} for f in result.findings)
    assert all(f.row is None or f.row >= 1 for f in result.findings)
    assert result.summary["passed"] == (not result.errors)
    assert read_issues_csv(out / "validation" / "issues.csv") == result.findings
    with (out / "validation" / "issues.csv").open(newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == list(ISSUE_COLUMNS)
    assert (out / "validation" / "report.md").is_file()
    for name in ("studies", "codes", "outcomes", "screening"):
        assert (out / "clean" / f"{name}.csv").is_file()
    for frame in result.clean.values():  # clean tables hold text, never a stray NaN
        assert not frame.drop(columns="source_row").isna().any().any()
    return result.findings


def put(rows: list[list[str]], row: int, column: int, text: str) -> list[list[str]]:
    rows = [list(r) for r in rows]
    rows[row % len(rows)][column % len(rows[0])] = text
    return rows


@FAST
@given(
    sheet=st.sampled_from(SHEET_NAMES),
    row=st.integers(0, 12),
    column=st.integers(0, 11),
    text=any_text,
    more=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 11), any_text), max_size=3),
)
def test_any_text_in_any_csv_cell(sheet, row, column, text, more):
    rows = put(ROWS[sheet], row, column, text)
    for r, c, t in more:
        rows = put(rows, r, c, t)
    with tempfile.TemporaryDirectory() as tmp:
        sheets, codebook = copy_review(Path(tmp))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        (sheets / f"{sheet}.csv").write_bytes(buffer.getvalue().encode("utf-8"))
        findings = check(sheets, codebook, Path(tmp) / "out")
        if "\x00" in buffer.getvalue():
            assert any(f.rule == "encoding" and f.sheet == sheet for f in findings)


@FAST
@given(
    sheet=st.sampled_from(SHEET_NAMES),
    row=st.integers(0, 12),
    column=st.integers(0, 11),
    value=any_text.filter(lambda t: not ILLEGAL_CHARACTERS_RE.search(t))
    | st.integers(-(2**63), 2**63)
    | st.floats()
    | st.booleans()
    | st.dates(min_value=__import__("datetime").date(1900, 3, 1)),
)
def test_any_value_in_any_workbook_cell(sheet, row, column, value):
    if isinstance(value, float):
        assume(math.isfinite(value))  # a workbook cannot hold NaN or infinity
    with tempfile.TemporaryDirectory() as tmp:
        sheets, codebook = copy_review(Path(tmp))
        rows = ROWS[sheet]

        def edit(book: openpyxl.Workbook) -> None:
            book[sheet].cell(row=row % len(rows) + 1, column=column % len(rows[0]) + 1, value=value)

        path = workbook_from_folder(sheets, Path(tmp) / "review.xlsx", edit=edit)
        check(path, codebook, Path(tmp) / "out")


@cache
def _valid_csv_bytes() -> dict[str, bytes]:
    return {name: (VALID / "sheets" / f"{name}.csv").read_bytes() for name in SHEET_NAMES}


def spliced(data: st.DataObject, original: bytes) -> bytes:
    """The original bytes with a random slice replaced by random bytes (near-valid input)."""
    start = data.draw(st.integers(0, len(original)))
    end = data.draw(st.integers(start, min(len(original), start + 20)))
    return original[:start] + data.draw(st.binary(max_size=20)) + original[end:]


@FAST
@given(
    sheet=st.sampled_from(SHEET_NAMES),
    data=st.data(),
    kind=st.sampled_from(["random", "spliced", "truncated"]),
)
def test_any_bytes_as_a_csv_file(sheet, data, kind):
    original = _valid_csv_bytes()[sheet]
    if kind == "random":
        payload = data.draw(st.binary(max_size=300))
    elif kind == "spliced":
        payload = spliced(data, original)
    else:
        payload = original[: data.draw(st.integers(0, len(original)))]
    with tempfile.TemporaryDirectory() as tmp:
        sheets, codebook = copy_review(Path(tmp))
        (sheets / f"{sheet}.csv").write_bytes(payload)
        check(sheets, codebook, Path(tmp) / "out")


@cache
def _valid_workbook_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return workbook_from_folder(VALID / "sheets", Path(tmp) / "r.xlsx").read_bytes()


@cache
def _valid_workbook_parts() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(_valid_workbook_bytes())) as book:
        return {name: book.read(name) for name in book.namelist()}


@FAST
@given(data=st.data(), kind=st.sampled_from(["random", "spliced", "truncated", "part"]))
def test_any_bytes_as_a_workbook(data, kind):
    original = _valid_workbook_bytes()
    if kind == "random":
        payload = data.draw(st.binary(max_size=500))
    elif kind == "spliced":
        payload = spliced(data, original)
    elif kind == "truncated":
        payload = original[: data.draw(st.integers(0, len(original)))]
    else:  # a well-formed zip with one damaged part (XML, relationships, shared strings ...)
        parts = dict(_valid_workbook_parts())
        name = data.draw(st.sampled_from(sorted(parts)))
        parts[name] = spliced(data, parts[name])
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as book:
            for part, content in parts.items():
                book.writestr(part, content)
        payload = buffer.getvalue()
    with tempfile.TemporaryDirectory() as tmp:
        _, codebook = copy_review(Path(tmp))
        path = Path(tmp) / "review.xlsx"
        path.write_bytes(payload)
        check(path, codebook, Path(tmp) / "out")


@FAST
@given(
    text=st.text(st.characters(codec="utf-8"), max_size=200)
    | st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace"))
)
def test_any_text_as_a_codebook(text):
    with tempfile.TemporaryDirectory() as tmp:
        sheets, codebook = copy_review(Path(tmp))
        codebook.write_text(text, encoding="utf-8")
        findings = check(sheets, codebook, Path(tmp) / "out")
        assert any(f.sheet == "codebook" for f in findings) or not [
            f for f in findings if f.severity == "error"
        ]


# --- Values drawn from the table registry ------------------------------------------------------

#: Findings about one cell's own value (cross-row rules such as references, unique IDs or the
#: screening sums may still fire when a drawn value changes a key).
COLUMN_RULES = {
    "required",
    "pattern",
    "integer",
    "number",
    "range",
    "vocabulary",
    "boolean",
    "single_value",
    "spreadsheet_error",
}
_TEXT = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), max_size=20)


def registry_value(field: dict, vocabularies: dict) -> st.SearchStrategy[str]:
    """Any cell the registry declares valid for ``field`` (type, vocabulary, bounds, pattern)."""
    from evsynth.contract import SPREADSHEET_ERROR_PATTERN

    constraints = field.get("constraints", {})
    low, high = constraints.get("minimum"), constraints.get("maximum")
    if field.get("x-vocabulary"):
        codes = st.sampled_from(sorted(vocabularies[field["x-vocabulary"]]))
        return (
            st.lists(codes, min_size=1, max_size=3, unique=True).map(";".join)
            if field.get("x-multi")
            else codes
        )
    if field["type"] == "integer":
        return st.integers(-(10**9) if low is None else low, 10**9 if high is None else high).map(
            str
        )
    if field["type"] == "number":
        return st.floats(low, high, allow_nan=False, allow_infinity=False).map(repr)
    if field["type"] == "boolean":
        return st.sampled_from(["true", "false", "TRUE", "No", "yes", "0", "1"])
    if "pattern" in constraints:
        return st.from_regex(constraints["pattern"], fullmatch=True)
    return _TEXT.map(str.strip).filter(
        lambda t: bool(t) and not re.fullmatch(SPREADSHEET_ERROR_PATTERN, t)
    )


@cache
def _fixture_schemas() -> tuple[dict, dict]:
    from evsynth import registry
    from evsynth.codebook import load_codebook

    codebook = load_codebook(VALID / "codebook.yaml")
    schemas = {
        sheet: registry.sheet_schema(sheet, codebook, 2030) for sheet in registry.sheet_names()
    }
    return schemas, registry.review_vocabularies(codebook)


@FAST
@given(data=st.data(), sheet=st.sampled_from(SHEET_NAMES), row=st.integers(1, 12))
def test_any_value_the_registry_declares_valid_passes_its_column_checks(data, sheet, row):
    """Columns and values come from the registry, as validation reads it: whatever it declares
    valid for a column (codes of its vocabulary, numbers within its bounds, IDs matching its
    pattern), validation takes without a finding about that cell."""
    schemas, vocabularies = _fixture_schemas()
    field = data.draw(st.sampled_from(schemas[sheet]["fields"]), label="field")
    value = data.draw(registry_value(field, vocabularies), label="value")
    rows = ROWS[sheet]
    assume(field["name"] in rows[0])
    index = row % (len(rows) - 1) + 1
    edited = [list(r) for r in rows]
    edited[index][rows[0].index(field["name"])] = value
    with tempfile.TemporaryDirectory() as tmp:
        sheets, codebook = copy_review(Path(tmp))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(edited)
        (sheets / f"{sheet}.csv").write_bytes(buffer.getvalue().encode("utf-8"))
        result = run_validate(
            sheets,
            codebook,
            validation_paths(Path(tmp) / "validation", Path(tmp) / "clean"),
            current_year=2030,
        )
        about_cell = [
            f
            for f in result.findings
            if (f.sheet, f.row, f.column) == (sheet, index + 1, field["name"])
            and f.rule in COLUMN_RULES
        ]
        assert about_cell == []
