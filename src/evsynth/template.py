"""An extraction workbook for a research lead to fill in, generated from a review's codebook.

:func:`write_template` writes one ``.xlsx`` workbook with

- an ``instructions`` worksheet first: how to fill the workbook, what each column takes, and
  tables of every code and label the sheets may use (vocabularies, theme tree, outcomes,
  appraisal tools);
- one worksheet per contract sheet (studies, codes, outcomes, screening, appraisal, findings)
  whose header row is exactly the columns of the table registry (``schemas/tables.yaml``)
  resolved for the codebook, in its order, as :func:`evsynth.validate.sheet_specs` reads them
  for validation, so the template and the checks cannot disagree;
- drop-down lists for single-valued category and boolean columns, pointing at ranges on a hidden
  ``lists`` worksheet (Excel limits an inline list to 255 characters), an input message on
  multi-valued category columns, and whole/decimal checks on number columns.

The intake reader ignores worksheets that are not contract sheets, so a filled template can be
given to the pipeline as it is. No cell is a formula: codebook text that begins with ``=`` is
stored as text (see :func:`put`). The same codebook (in the same calendar year, which
bounds ``year``) gives the same bytes: document properties and zip entry times are fixed.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.xml.functions import tostring

from evsynth import registry
from evsynth.codebook import AppraisalTool, Codebook, load_codebook
from evsynth.contract import MULTI_SEPARATOR
from evsynth.validate import ColumnSpec, sheet_specs

INSTRUCTIONS = "instructions"
LISTS = "lists"
#: Data validations cover these rows (row 1 is the header).
FIRST_ROW, LAST_ROW = 2, 1000
BOOLEAN_VALUES: dict[str, str] = {"true": "Yes", "false": "No"}
#: Fixed document dates, so the same codebook gives the same bytes.
FIXED_TIME = dt.datetime(2000, 1, 1)
#: Zip entry times (the zip format cannot store dates before 1980).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: Free-text columns that deserve a wide column; everything else is sized from its content.
WIDE_TEXT: dict[str, int] = {"citation": 60, "excerpt": 50, "measure": 36, "reason": 36}
HEADER_FONT = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
OPTIONAL_FILL = PatternFill("solid", fgColor="E7E6E6")
# Excel's limits on data-validation texts.
MAX_PROMPT, MAX_PROMPT_TITLE = 255, 32


def write_template(codebook_path: Path, out_path: Path, current_year: int | None = None) -> Path:
    """Write the extraction workbook for the codebook at ``codebook_path`` to ``out_path``.

    ``current_year`` bounds the ``year`` column (default: this year). A malformed codebook
    raises :class:`evsynth.findings.InputError`, as everywhere else. Returns ``out_path``.
    """
    codebook = load_codebook(codebook_path)
    book = build_workbook(codebook, current_year)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(deterministic_bytes(book))
    return out_path


def build_workbook(codebook: Codebook, current_year: int | None = None) -> Workbook:
    """The template as an openpyxl workbook (not yet saved)."""
    specs = sheet_specs(codebook, current_year)
    book = Workbook()
    instructions = book.active
    instructions.title = INSTRUCTIONS
    lists = _list_columns(specs)
    ranges = _write_lists(book.create_sheet(LISTS), lists)
    for name, columns in specs.items():
        _write_sheet(book.create_sheet(name), columns, ranges)
    book.move_sheet(LISTS, offset=len(book.sheetnames))  # last, after the contract sheets
    book[LISTS].sheet_state = "hidden"
    _write_instructions(instructions, codebook, specs)
    book.active = 0
    props = book.properties
    props.creator = props.lastModifiedBy = "evsynth"
    props.title = f"Extraction template: {codebook.review}"
    props.created = props.modified = FIXED_TIME
    return book


def put(ws: Worksheet, row: int, column: int, value: object) -> Cell:
    """Write ``value`` to a cell; text is stored as a string, never as a formula.

    openpyxl stores any text beginning with ``=`` as a formula, so a codebook label such as
    ``=HYPERLINK("http://x","click")`` would be live in the template a research lead opens.
    The text is unchanged; Excel shows it as written. Every cell the template writes goes
    through here: the template has no formulas of its own (drop-downs refer to the lists
    sheet through data validations, not cells).
    """
    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


# --- Contract sheets ---------------------------------------------------------------------------


def _write_sheet(ws: Worksheet, columns: list[ColumnSpec], ranges: Mapping[str, str]) -> None:
    """Header row, widths, text format for text columns, and each column's data validation."""
    for position, spec in enumerate(columns, start=1):
        cell = put(ws, 1, position, spec.name)
        cell.font = HEADER_FONT
        cell.fill = REQUIRED_FILL if spec.required else OPTIONAL_FILL
        letter = get_column_letter(position)
        dimension = ws.column_dimensions[letter]
        dimension.width = _width(spec)
        if spec.type in {"text", "category"}:
            # Text format stops Excel turning a page "5-6" into a date or "007" into 7.
            dimension.number_format = "@"
        validation = _validation(spec, ranges.get(_list_key(ws.title, spec.name)))
        if validation is not None:
            validation.add(f"{letter}{FIRST_ROW}:{letter}{LAST_ROW}")
            ws.add_data_validation(validation)
    ws.freeze_panes = "A2"


def _width(spec: ColumnSpec) -> float:
    """A column wide enough for its header and its longest code, within reason."""
    if spec.name in WIDE_TEXT:
        return WIDE_TEXT[spec.name]
    longest = max((len(code) for code in (spec.values or {})), default=0)
    base = 24 if spec.type == "text" else 12
    return min(max(len(spec.name) + 4, longest + 4, base), 40)


def _validation(spec: ColumnSpec, list_range: str | None) -> DataValidation | None:
    """The Excel check for one column, or ``None`` for free text."""
    prompt = _describe(spec)
    if list_range is not None and not spec.multi:
        validation = DataValidation(
            type="list",
            formula1=list_range,
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="stop",
            errorTitle="Not a code",
            error=f"Choose a code of '{spec.name}' from the list; codes "
            "and labels are on the instructions sheet.",
        )
    elif list_range is not None:
        # Several codes in one cell can't pass a strict list: offer the list, accept any text.
        validation = DataValidation(
            type="list", formula1=list_range, allow_blank=True, showErrorMessage=False
        )
    elif spec.type in {"integer", "number"}:
        validation = _number_validation(spec)
    else:
        return None
    validation.showInputMessage = True  # openpyxl's defaults show neither message nor error
    validation.promptTitle = spec.name[:MAX_PROMPT_TITLE]
    validation.prompt = prompt[:MAX_PROMPT]
    return validation


def _number_validation(spec: ColumnSpec) -> DataValidation:
    """Whole or decimal check; an unbounded column is held to plain numbers (±10^15)."""
    kind = "whole" if spec.type == "integer" else "decimal"
    low, high = spec.minimum, spec.maximum
    if low is not None and high is not None:
        operator, formulas = "between", (low, high)
    elif low is not None:
        operator, formulas = "greaterThanOrEqual", (low, None)
    elif high is not None:
        operator, formulas = "lessThanOrEqual", (high, None)
    else:
        operator, formulas = "between", (-(10**15), 10**15)
    first, second = (None if f is None else _number_text(f) for f in formulas)
    return DataValidation(
        type=kind,
        operator=operator,
        formula1=first,
        formula2=second,
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop",
        errorTitle="Not allowed",
        error=f"'{spec.name}': {_describe(spec)}"[:MAX_PROMPT],
    )


def _number_text(value: float) -> str:
    """A bound as an Excel formula constant: ``1900``, ``0.5`` (no exponent, no ``.0``)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _describe(spec: ColumnSpec) -> str:
    """What a column takes, in one line a research lead reads (input messages, instructions)."""
    need = "Required" if spec.required else "Optional"
    if spec.type == "category" and spec.multi:
        what = (
            f"one or more codes, separated by '{MULTI_SEPARATOR}' (e.g. a{MULTI_SEPARATOR}b); "
            "pick one from the list, or type several"
        )
    elif spec.type == "category":
        what = "one code from the drop-down list"
    elif spec.type == "boolean":
        what = "true or false"
    elif spec.type in {"integer", "number"}:
        what = ("a whole number" if spec.type == "integer" else "a number") + _bounds(spec)
    elif spec.pattern:
        what = "letters, digits, '.', '_' and '-' only; unique"
    elif spec.multi:
        what = f"text; separate several values with '{MULTI_SEPARATOR}'"
    else:
        what = "free text"
    return f"{need}: {what}."


def _bounds(spec: ColumnSpec) -> str:
    if spec.minimum is not None and spec.maximum is not None:
        return f" from {_number_text(spec.minimum)} to {_number_text(spec.maximum)}"
    if spec.minimum is not None:
        return f", at least {_number_text(spec.minimum)}"
    if spec.maximum is not None:
        return f", at most {_number_text(spec.maximum)}"
    return ""


# --- The hidden lists sheet --------------------------------------------------------------------


def _list_key(sheet: str, column: str) -> str:
    return f"{sheet}.{column}"


def _list_columns(specs: Mapping[str, list[ColumnSpec]]) -> dict[str, list[str]]:
    """Every drop-down list: ``sheet.column`` -> its codes, for category and boolean columns."""
    lists: dict[str, list[str]] = {}
    for sheet, columns in specs.items():
        for spec in columns:
            if spec.type == "category" and spec.values:
                lists[_list_key(sheet, spec.name)] = list(spec.values)
            elif spec.type == "boolean":
                lists[_list_key(sheet, spec.name)] = list(BOOLEAN_VALUES)
    return lists


def _write_lists(ws: Worksheet, lists: Mapping[str, list[str]]) -> dict[str, str]:
    """One column per list (its key in row 1); return each list's absolute range."""
    ranges: dict[str, str] = {}
    for position, (key, codes) in enumerate(lists.items(), start=1):
        letter = get_column_letter(position)
        put(ws, 1, position, key).font = HEADER_FONT
        for row, code in enumerate(codes, start=2):
            put(ws, row, position, code)
        ws.column_dimensions[letter].width = max(len(key), *map(len, codes)) + 2
        ranges[key] = f"{quote_sheetname(ws.title)}!${letter}$2:${letter}${len(codes) + 1}"
    return ranges


# --- Instructions ------------------------------------------------------------------------------


def _row_meaning(sheet: str) -> str:
    """What one row of a sheet is: the registry's description of the sheet, as a clause."""
    text = registry.sheet_schema(sheet)["description"]
    return text[:1].lower() + text[1:]


def _steps(specs: Mapping[str, list[ColumnSpec]]) -> list[str]:
    sheets = ", ".join(specs)
    return [
        f"Fill the worksheets {sheets}: one row per record, starting in row 2.",
        "Row 1 is the header: never rename or delete a header. Shaded yellow = required column.",
        f"Where a cell holds several values, separate them with '{MULTI_SEPARATOR}' "
        f"(e.g. England{MULTI_SEPARATOR}Wales).",
        "Enter codes, not labels: pick them from the drop-down lists. The tables below give "
        "every code with its label.",
        *(f"{sheet}: {_row_meaning(sheet)}." for sheet in specs),
        "outcomes: estimate, ci_lower and ci_upper go together (all three or none), with an "
        "effect_measure; ratio measures (or, rr, hr) are entered on the ratio scale.",
        "If the review reports no screening counts, delete the screening worksheet.",
        "appraisal: one row per study, tool and domain; judge every domain of the tool once for "
        "each study it appraises (the tools, their domains and scales are listed below). "
        "findings: one row per review finding; an effect finding (type effect) takes outcome "
        "and the five GRADE domains, a qualitative finding (type qualitative) takes theme, the "
        "four GRADE-CERQual components and confidence; leave the other type's columns blank. "
        "Both sheets are optional: leave them empty or delete them.",
        "Leave this sheet and the hidden 'lists' sheet as they are: the pipeline ignores them.",
        "Save as .xlsx and give the file as the review's 'sheets' in config/config.yaml.",
    ]


def _write_instructions(
    ws: Worksheet, codebook: Codebook, specs: Mapping[str, list[ColumnSpec]]
) -> None:
    """How to fill the workbook, the columns, then every code table, stacked down the sheet."""
    put(ws, 1, 1, f"Extraction template: review '{codebook.review}'").font = TITLE_FONT
    row = _heading(ws, 3, "How to fill this workbook")
    for number, step in enumerate(_steps(specs), start=1):
        put(ws, row, 1, f"{number}. {step}")
        row += 1
    row = _table(
        ws,
        row + 1,
        "Columns",
        ("sheet", "column", "required", "what to enter"),
        _column_rows(codebook, specs),
    )
    for keys, spec in _vocabulary_specs(specs):
        title = f"Codes for {', '.join(keys)}" + _field_label(codebook, spec)
        row = _table(ws, row + 1, title, ("code", "label"), spec.values.items())
    row = _table(
        ws,
        row + 1,
        THEME_TABLE,
        ("code", "label", "parent", "description"),
        ((t.code, t.label, t.parent or "", t.description) for t in codebook.themes),
    )
    for offset, theme in enumerate(codebook.themes, start=row - len(codebook.themes)):
        ws.cell(row=offset, column=1).alignment = Alignment(indent=theme.level - 1)
    row = _table(
        ws,
        row + 1,
        OUTCOME_TABLE,
        ("code", "label", "benefit direction"),
        ((o.code, o.label, o.benefit) for o in codebook.outcomes.values()),
    )
    for tool in codebook.appraisal.values():
        row = _table(
            ws,
            row + 1,
            tool_title(tool),
            ("part", "code", "label", "display level"),
            [
                *(("domain", code, label, "") for code, label in tool.domains.items()),
                *(("judgement", j.code, j.label, j.level) for j in tool.judgements.values()),
            ],
        )
    for letter, width in zip("ABCD", (30, 45, 22, 70), strict=True):
        ws.column_dimensions[letter].width = width


#: Codes with a richer table of their own than code and label: themes, outcomes and each
#: appraisal tool (its domains and its scale, which the drop-downs merge over every tool).
THEME_TABLE = "Theme codes (codes.code, findings.theme)"
OUTCOME_TABLE = "Outcome codes (outcomes.outcome, findings.outcome)"
OWN_TABLES = frozenset(
    {
        "codes.code",
        "outcomes.outcome",
        "findings.theme",
        "findings.outcome",
        "appraisal.tool",
        "appraisal.domain",
        "appraisal.judgement",
    }
)


def tool_title(tool: AppraisalTool) -> str:
    """The instructions' heading of one appraisal tool's table."""
    return (
        f"Appraisal tool {tool.code}: {tool.label} (appraisal.tool; for designs "
        f"{', '.join(tool.designs)})"
    )


def _vocabulary_specs(
    specs: Mapping[str, list[ColumnSpec]],
) -> list[tuple[list[str], ColumnSpec]]:
    """Category columns with a code table, as (``sheet.column`` keys, spec). The findings
    sheet's columns that share a scale (the five GRADE domains, the four CERQual components)
    share one table."""
    tables: dict[tuple, tuple[list[str], ColumnSpec]] = {}
    for sheet, columns in specs.items():
        for spec in columns:
            key = _list_key(sheet, spec.name)
            if spec.type != "category" or not spec.values or key in OWN_TABLES:
                continue
            same = (sheet, tuple(spec.values.items())) if sheet == "findings" else (key,)
            tables.setdefault(same, ([], spec))[0].append(key)
    return list(tables.values())


def _field_label(codebook: Codebook, spec: ColumnSpec) -> str:
    field = codebook.fields.get(spec.name)
    return f" ({field.label})" if field is not None else ""


def _column_rows(codebook: Codebook, specs: Mapping[str, list[ColumnSpec]]):
    for sheet, columns in specs.items():
        for spec in columns:
            label = (
                codebook.fields[spec.name].label + ". "
                if (sheet == "studies" and spec.name in codebook.fields)
                else ""
            )
            yield sheet, spec.name, "yes" if spec.required else "", label + _describe(spec)


def _heading(ws: Worksheet, row: int, text: str) -> int:
    """A bold heading at ``row``; returns the next row."""
    put(ws, row, 1, text).font = HEADER_FONT
    return row + 1


def _table(
    ws: Worksheet, row: int, title: str, header: Iterable[str], records: Iterable[Iterable[object]]
) -> int:
    """A titled table from ``row`` down; returns the row after its last record."""
    row = _heading(ws, row, title)
    for position, name in enumerate(header, start=1):
        cell = put(ws, row, position, name)
        cell.font = HEADER_FONT
        cell.fill = OPTIONAL_FILL
    for record in records:
        row += 1
        for position, value in enumerate(record, start=1):
            put(ws, row, position, value)
    return row + 1


# --- Saving ------------------------------------------------------------------------------------


def deterministic_bytes(book: Workbook) -> bytes:
    """The workbook as ``.xlsx`` bytes that depend only on its content.

    openpyxl stamps the save time into ``docProps/core.xml`` and every zip entry; both are reset
    here (the core properties rewritten from ``book.properties``, entry times set to 1980-01-01).
    """
    raw = io.BytesIO()
    book.save(raw)
    book.properties.modified = FIXED_TIME  # save() set it to now
    core = tostring(book.properties.to_tree())
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dest:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = entry.external_attr
            data = core if entry.filename == "docProps/core.xml" else source.read(entry)
            dest.writestr(info, data)
    return out.getvalue()
