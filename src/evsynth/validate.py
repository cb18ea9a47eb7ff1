"""Validation: apply the data contract (§2) to a review's sheets, driven by its codebook.

The stage never stops on the first problem: it checks every cell, collects findings, and
writes them with the clean tables (valid rows only, normalised). Whether the run may go on is
decided afterwards, by :func:`gate`, so the findings survive a failed validation.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evsynth import effect_size, registry
from evsynth.certainty import CERQUAL_COMPONENTS, GRADE_DOMAINS
from evsynth.codebook import AppraisalTool, Codebook, load_codebook
from evsynth.contract import MULTI_SEPARATOR, RATIO_MEASURES, SPREADSHEET_ERROR_PATTERN
from evsynth.findings import Finding, InputError, sort_key, sorted_findings, write_issues_csv
from evsynth.handoff import arrow_backed
from evsynth.intake import (
    CELL_SEPARATOR,
    OPTIONAL_SHEETS,
    SHEETS,
    WHITESPACE_CLASS,
    Intake,
    Sheet,
    Text,
    any_contains,
    any_match,
    arrow_text,
    as_arrow,
    may_contain,
    read_sheets,
    sha256_file,
)
from evsynth.stats import se_from_ci
from evsynth.tables import write_table

#: What a boolean cell may hold, in any case (the registry's trueValues and falseValues).
TRUE_WORDS, FALSE_WORDS = (frozenset(words) for words in registry.boolean_words())
#: Index column carried into every clean table: the row the record came from.
SOURCE_ROW = "source_row"


@dataclass(frozen=True)
class ColumnSpec:
    """What one column of a sheet must hold."""

    name: str
    type: str = "text"  # text | category | integer | number | boolean
    required: bool = False
    multi: bool = False
    values: Mapping[str, str] | None = None  # category vocabulary (code -> label)
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None


#: The engine's kind of column for each Table Schema type (a string with a vocabulary is a
#: category: its cells are codes).
_KINDS = {"string": "text", "integer": "integer", "number": "number", "boolean": "boolean"}


def column_spec(field: Mapping, vocabularies: Mapping[str, Mapping[str, str]]) -> ColumnSpec:
    """The checks of one resolved registry field (:mod:`evsynth.registry`)."""
    constraints = field.get("constraints", {})
    vocabulary = field.get("x-vocabulary")
    return ColumnSpec(
        field["name"],
        "category" if vocabulary else _KINDS[field["type"]],
        required=bool(constraints.get("required", False)),
        multi=bool(field.get("x-multi", False)),
        values=dict(vocabularies.get(vocabulary, {})) if vocabulary else None,
        minimum=constraints.get("minimum"),
        maximum=constraints.get("maximum"),
        # A vocabulary column's pattern only restates its codes (for Table Schema checkers of
        # multi-valued cells); the vocabulary check reports those, with a did-you-mean.
        pattern=None if vocabulary else constraints.get("pattern"),
    )


def sheet_specs(codebook: Codebook, current_year: int | None = None) -> dict[str, list[ColumnSpec]]:
    """The column rules of every sheet, from the table registry (``schemas/tables.yaml``)
    resolved for this review's codebook; ``year`` is bounded by ``current_year`` (default:
    this year)."""
    year = current_year or dt.date.today().year
    vocabularies = registry.review_vocabularies(codebook)
    return {
        sheet: [
            column_spec(f, vocabularies)
            for f in registry.sheet_schema(sheet, codebook, year)["fields"]
        ]
        for sheet in registry.sheet_names()
    }


@dataclass
class ValidationResult:
    clean: dict[str, pd.DataFrame]
    findings: list[Finding]
    summary: dict = field(default_factory=dict)
    specs: dict[str, list[ColumnSpec]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]


# --- Column checks -----------------------------------------------------------------------------


class _Collector:
    """Findings for one sheet, plus which rows have errors (those stay out of the clean table).

    Rows the reader already reported as broken (a CSV row with too many fields) count as bad
    from the start and get no further findings: their cells may sit in the wrong columns.
    """

    def __init__(self, sheet: Sheet):
        self.sheet = sheet
        self.findings: list[Finding] = []
        n = len(sheet.frame)
        broken = getattr(sheet, "broken", None)
        self.skip = np.zeros(n, dtype=bool) if broken is None else np.asarray(broken, dtype=bool)
        self.bad = self.skip.copy()

    def cells(
        self,
        mask: pd.Series | np.ndarray,
        column: str,
        values: pd.Series,
        rule: str,
        message: str,
        severity: str = "error",
        messages: pd.Series | None = None,
    ) -> None:
        """One finding per flagged cell; ``message`` may use ``{value}``; ``messages`` gives a
        message per row instead (only the flagged rows are read)."""
        mask = np.asarray(mask, dtype=bool) & ~self.skip
        if not mask.any():
            return
        make = Finding.error if severity == "error" else Finding.warning
        rows = self.sheet.rows.to_numpy()[mask]
        flagged = values.to_numpy()[mask]
        texts = (
            messages.to_numpy()[mask]
            if messages is not None
            else [message.format(value=value) for value in flagged]
        )
        for row, value, text in zip(rows, flagged, texts, strict=True):
            self.findings.append(make(self.sheet.name, int(row), column, value, rule, text))
        if severity == "error":
            self.bad |= mask

    def summary(
        self, mask: pd.Series | np.ndarray, column: str, values: pd.Series, rule: str, message: str
    ) -> None:
        """One warning for all flagged cells of a column (a fix, not a problem): first row."""
        mask = np.asarray(mask, dtype=bool) & ~self.skip
        if mask.any():
            first = int(np.flatnonzero(mask)[0])
            self.note(
                Finding.warning(
                    self.sheet.name,
                    int(self.sheet.rows.iloc[first]),
                    column,
                    values.iloc[first],
                    rule,
                    message.format(count=int(mask.sum())),
                )
            )

    def note(self, finding: Finding) -> None:
        self.findings.append(finding)


#: A whole number as a spreadsheet may write it: optional sign, ASCII digits, maybe ".0".
_INTEGER = r"[+-]?[0-9]+(?:\.0*)?"
#: A cell that may need rewriting as a plain whole number ("+5", "007", "2019.0"): searched in
#: every cell at once (RE2, through :func:`evsynth.intake.any_match`), the start and the end
#: apart (an anchored search is cheap; the end's only where some cell holds a point).
_NON_CANONICAL_START = r"^(?:\+|-?0[0-9])"
_NON_CANONICAL_END = r"\.[0-9]*$"


#: The largest whole number a clean table holds (a 64-bit integer in the typed hand-off).
MAX_INTEGER_TEXT = str(2**63 - 1)

_SPREADSHEET_ERROR = re.compile(SPREADSHEET_ERROR_PATTERN)
#: Cheap test on the whole column first: every error value holds one of these.
_ERROR_MARKS = r"#[A-Z]|Err:"


def _mask(result: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean result as a NumPy mask; a missing cell's answer is False, as in pandas'
    comparisons. Checks combine these masks in NumPy: a pandas operation costs a tenth of a
    millisecond even on five cells, and a validation makes hundreds."""
    return np.asarray(result.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _fullmatch(cells: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Which cells match ``pattern`` as a whole (RE2: what pandas' ``str.fullmatch`` runs on
    Arrow text)."""
    return _mask(pc.match_substring_regex(cells, f"^({pattern})$"))


def _blank(cells: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return _mask(pc.equal(cells, ""))


def _spreadsheet_errors(values: Text) -> np.ndarray:
    """Cells holding exactly a spreadsheet error value (``#REF!``, ``#N/A``, ``Err:502``)."""
    cells = as_arrow(values)
    if not may_contain(cells, "#", "Err:") or not any_match(cells, _ERROR_MARKS):
        return np.zeros(len(cells), dtype=bool)
    return _fullmatch(pc.utf8_trim_whitespace(cells), _SPREADSHEET_ERROR.pattern)


def suggestion(value: str, allowed: Mapping[str, str]) -> str | None:
    """The code ``value`` was most likely meant to be, matched against codes and labels
    regardless of case ("Randomised controlled trial" -> "rct"); ``None`` if nothing is close."""
    text = value.strip().lower()
    if not text or not allowed:
        return None
    by_text: dict[str, str] = {}
    for code, label in allowed.items():
        by_text.setdefault(str(code).lower(), code)
        by_text.setdefault(str(label).lower(), code)
    if text in by_text:
        return by_text[text]
    close = difflib.get_close_matches(text, list(by_text), n=1)
    return by_text[close[0]] if close else None


def _did_you_mean(value: str, allowed: Mapping[str, str]) -> str:
    code = suggestion(value, allowed)
    if code is None:
        return ""
    label = allowed.get(code, "")
    shown = f" ({label})" if label and label.lower() != code.lower() else ""
    return f"; did you mean '{code}'{shown}?"


#: Distinct unknown values given a suggestion; the rest get the plain message (bounded work).
MAX_SUGGESTED = 1000


def _contains(values: Text, text: str) -> np.ndarray:
    """``values.str.contains(text)``, skipped (all False) when no cell can contain it."""
    cells = as_arrow(values)
    if not any_contains(cells, text):
        return np.zeros(len(cells), dtype=bool)
    return _mask(pc.match_substring(cells, text))


def _check_column(col: _Collector, spec: ColumnSpec, values: pd.Series) -> pd.Series:
    """Check one column; return it normalised (category case, booleans, integers, separators)."""
    given = values
    cells = arrow_text(values)  # converted once, for every test of the column below
    failed = _spreadsheet_errors(cells)
    if failed.any():
        col.cells(
            failed,
            spec.name,
            values,
            "spreadsheet_error",
            "'{value}' is a spreadsheet error (a formula that failed), not a value: fix "
            "the formula, or type the value in its place",
        )
    if spec.multi:
        values = _normalise_multi(values, cells)
        if values is not given:
            cells = arrow_text(values)
    # A failed formula is reported once, as such: the type checks below pass over it, and it
    # still counts as given (not also 'required', nor 'give all three' for an interval).
    blank = _blank(cells)
    present = ~blank & ~failed
    if spec.required:
        col.cells(blank, spec.name, given, "required", f"'{spec.name}' is required")
    if spec.pattern:
        bad = present & ~_fullmatch(cells, spec.pattern)
        col.cells(
            bad,
            spec.name,
            values,
            "pattern",
            "'{value}' may hold only letters, digits, '.', '_' and '-'",
        )
    if spec.type == "category":
        values = _check_category(col, spec, values, present, cells)
    elif spec.type == "integer":
        ok = present & _fullmatch(cells, _INTEGER)
        col.cells(present & ~ok, spec.name, values, "integer", "'{value}' is not a whole number")
        if any_match(cells, _NON_CANONICAL_START) or (
            may_contain(cells, ".") and any_match(cells, _NON_CANONICAL_END)
        ):
            canonical = (
                values.str.replace(r"\.0*$", "", regex=True)
                .str.replace(r"^\+", "", regex=True)
                .str.replace(r"^(-?)0+(?=[0-9])", r"\1", regex=True)
            )
            col.summary(
                ok & (canonical != values).to_numpy(),
                spec.name,
                values,
                "integer_normalised",
                "{count} whole number(s) written another way (e.g. '2019.0', '+5', "
                "'007'); read as plain whole numbers",
            )
            values = values.where(~ok, canonical)
            cells = arrow_text(values)
        # The typed hand-off stores whole numbers as 64-bit integers: one beyond them would
        # stop the stage with a traceback instead of a finding at its cell.
        if _longest(cells) < len(MAX_INTEGER_TEXT):  # too short for any to be too large
            huge = np.zeros(len(values), dtype=bool)
        else:
            digits = values.where(ok, "").str.lstrip("-")
            huge = ok & (
                (digits.str.len() > len(MAX_INTEGER_TEXT))
                | ((digits.str.len() == len(MAX_INTEGER_TEXT)) & (digits > MAX_INTEGER_TEXT))
            ).to_numpy(dtype=bool)
        col.cells(
            huge,
            spec.name,
            values,
            "range",
            f"'{{value}}' is too large: a whole number here is at most {MAX_INTEGER_TEXT} either "
            "way",
        )
        if spec.minimum is not None or spec.maximum is not None:
            _check_range(col, spec, values, ok & ~huge, _whole_numbers(cells, ok & ~huge))
    elif spec.type == "number":
        numbers = _to_numbers(values.where(present))
        finite = np.isfinite(numbers)
        bad = present & ~finite
        if bad.any():
            comma = _fullmatch(cells, r"[+-]?[0-9]*,[0-9]+")
            col.cells(bad & ~comma, spec.name, values, "number", "'{value}' is not a number")
            col.cells(
                bad & comma,
                spec.name,
                values,
                "number",
                "'{value}' is not a number: write decimals with a point (0.5, not 0,5)",
            )
        # The cells read as numbers are the ones the range is about: parsed once, above.
        _check_range(col, spec, values, present & ~bad, numbers)
    elif spec.type == "boolean":
        lowered = pc.utf8_lower(cells)
        true = _mask(pc.is_in(lowered, value_set=_TRUE_ARROW))
        false = _mask(pc.is_in(lowered, value_set=_FALSE_ARROW))
        bad = present & ~(true | false)
        col.cells(bad, spec.name, values, "boolean", "'{value}' is not true/false (or yes/no)")
        # Only a column with a cell not yet written "true" or "false" is rewritten.
        if (true & ~_mask(pc.equal(cells, "true"))).any() or (
            false & ~_mask(pc.equal(cells, "false"))
        ).any():
            values = values.mask(true, "true").mask(false, "false")
    return values


_TRUE_ARROW = pa.array(sorted(TRUE_WORDS), pa.string())
_FALSE_ARROW = pa.array(sorted(FALSE_WORDS), pa.string())


def _to_numbers(values: pd.Series) -> np.ndarray:
    """Each cell as a float as ``pandas.to_numeric`` reads it (NaN: blank, missing or not a
    number)."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _split_multi(values: Text) -> tuple[pa.Array, np.ndarray]:
    """Every part of each cell split at the separator, untrimmed, blanks kept (Arrow), and the
    position in ``values`` of the cell each part comes from."""
    cells = as_arrow(values)
    parts = pc.split_pattern(cells, MULTI_SEPARATOR)
    if isinstance(parts, pa.ChunkedArray):
        parts = parts.combine_chunks()
    rows = pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)
    return pc.list_flatten(parts), rows


def _longest(values: Text) -> int:
    """The length of the longest cell in UTF-8 bytes (at least its length in characters)."""
    cells = as_arrow(values)
    return int(pc.max(pc.binary_length(cells)).as_py() or 0) if len(cells) else 0


def _explode_multi(values: pd.Series) -> pd.Series:
    """One entry per value of each multi-valued cell (index: the cell's row), blanks dropped;
    Python strings, trimmed as ``str.strip`` trims (what later checks compare and show)."""
    flat, rows = _split_multi(values)
    texts = np.asarray(flat.to_pylist(), dtype=object)
    padded = _padded(flat)
    if padded.any():  # only the padded parts are trimmed one by one
        texts[padded] = [text.strip() for text in texts[padded]]
    parts = pd.Series(texts, index=values.index[rows], dtype=object)
    return parts[parts != ""]


def _padded(texts: pa.Array) -> np.ndarray:
    """Which cells start or end with whitespace (as ``str.strip`` sees it)."""
    edge = pc.or_(
        pc.match_substring_regex(texts, f"^{WHITESPACE_CLASS}"),
        pc.match_substring_regex(texts, f"{WHITESPACE_CLASS}$"),
    )
    return edge.fill_null(False).to_numpy(zero_copy_only=False)


def _all_known(values: Text, allowed: Mapping[str, str]) -> bool:
    """Whether every part of every cell of ``values`` (multi-valued, no blank cells) is a code
    as it stands: no blank part, no padding, no other case. The usual column, answered in
    Arrow without making a Python string of any part."""
    flat, _ = _split_multi(values)
    codes = pa.array(list(allowed), pa.string())
    return bool(pc.all(pc.is_in(flat, value_set=codes)).as_py() is not False)


def _all_in(cells: pa.Array | pa.ChunkedArray, allowed: Mapping[str, str]) -> bool:
    """Whether every cell is one of the codes (none missing)."""
    if len(cells) == 0:
        return True
    codes = pa.array(list(allowed), pa.string())
    return bool(pc.all(pc.is_in(cells, value_set=codes).fill_null(False)).as_py())


def _untidy_parts(flat: pa.Array) -> np.ndarray:
    """Which parts are blank, or start or end with a byte that is not printable ASCII: every
    part the normalisation below may change is one of them (whitespace, by Python's reading or
    Arrow's, is either an ASCII control or space or a character of several bytes). Read from
    the parts' first and last bytes in place, not with a pattern per cell."""
    _, offsets, data = flat.buffers()
    starts = np.frombuffer(offsets, np.int32)[flat.offset : flat.offset + len(flat) + 1]
    body = np.frombuffer(data, np.uint8) if data else np.zeros(0, np.uint8)
    odd = starts[1:] == starts[:-1]
    filled = ~odd
    if filled.any():
        first, last = body[starts[:-1][filled]], body[starts[1:][filled] - 1]
        odd[filled] = (first < 0x21) | (first > 0x7E) | (last < 0x21) | (last > 0x7E)
    return odd


def _normalise_multi(
    values: pd.Series, cells: pa.Array | pa.ChunkedArray | None = None
) -> pd.Series:
    """``"a ; b;;a"`` -> ``"a;b"``: trimmed parts, no blanks, no repeats, order kept.

    Only cells that hold the separator are looked at, and only those with an untidy part
    (:func:`_untidy_parts`) or a repeated one are rewritten (:func:`_rewrite_multi`); the
    usual cell is found tidy in Arrow, with one split of the column (``cells``: its Arrow
    text, if the caller has it).
    """
    cells = arrow_text(values) if cells is None else cells
    if not may_contain(cells, MULTI_SEPARATOR):
        return values
    flat, rows = _split_multi(cells)
    work = np.zeros(len(values), dtype=bool)
    work[rows[_untidy_parts(flat)]] = True
    work[_repeating(flat, rows)] = True
    work &= np.bincount(rows, minlength=len(values)) > 1  # the cells holding the separator
    if not work.any():
        return values
    out = values.copy()
    out[work] = _rewrite_multi(values[work])
    return out


#: Parts a cell may have for :func:`_repeating` to compare them pairwise (more: a hash table).
_FEW_PARTS = 16


def _repeating(flat: pa.Array, rows: np.ndarray) -> np.ndarray:
    """The cells (positions, as ``rows`` numbers them) where some part appears twice.

    A cell's parts are consecutive in ``flat``: with a number for each distinct part, the cells
    of a few parts are found by comparing each part with the next ones in the same cell."""
    if len(flat) == 0:
        return np.zeros(0, dtype=np.intp)
    most = int(np.bincount(rows).max())
    if most > _FEW_PARTS:  # a long list in some cell: count (cell, part) pairs instead
        pairs = pa.table({"row": rows, "part": flat})
        counts = pairs.group_by(["row", "part"]).aggregate([([], "count_all")])
        repeated = pc.filter(counts["row"], pc.greater(counts["count_all"], 1))
        return np.unique(repeated.to_numpy())
    codes = pc.dictionary_encode(flat).indices.to_numpy(zero_copy_only=False)
    found = [
        rows[shift:][(rows[shift:] == rows[:-shift]) & (codes[shift:] == codes[:-shift])]
        for shift in range(1, most)
    ]
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.intp)


def _rewrite_multi(values: pd.Series) -> pd.Series:
    """The normalisation of cells that hold the separator, one cell at a time in effect."""
    sep = re.escape(MULTI_SEPARATOR)
    cells = (
        values.str.replace(rf"\s*{sep}[\s{sep}]*", MULTI_SEPARATOR, regex=True)
        .str.strip(MULTI_SEPARATOR)
        .str.strip()
    )
    parts = cells.str.split(MULTI_SEPARATOR, regex=False).explode()
    pairs = pd.DataFrame({"row": parts.index, "part": parts.to_numpy()})
    repeated = pairs.duplicated()
    if repeated.any():
        rows = pairs.loc[repeated, "row"].unique()
        pairs = pairs[pairs["row"].isin(rows) & ~repeated]
        rebuilt = pairs.groupby("row", sort=False)["part"].agg(MULTI_SEPARATOR.join)
        cells.loc[rebuilt.index] = rebuilt.to_numpy()
    return cells


def _check_category(
    col: _Collector,
    spec: ColumnSpec,
    values: pd.Series,
    present: np.ndarray,
    cells: pa.Array | pa.ChunkedArray,
) -> pd.Series:
    allowed = dict(spec.values or {})
    if spec.multi:
        if _all_known(cells.filter(pa.array(present)), allowed):
            return values
        parts = _explode_multi(values[present])
    else:
        several = present & _contains(cells, MULTI_SEPARATOR)
        col.cells(
            several,
            spec.name,
            values,
            "single_value",
            f"'{spec.name}' takes one value; '{{value}}' has several (separated by "
            f"'{MULTI_SEPARATOR}')",
        )
        single = present & ~several
        # Every cell a code as it stands (the usual column): answered in Arrow.
        if _all_in(cells.filter(pa.array(single)), allowed):
            return values
        parts = values[single]
    known = parts.isin(list(allowed))
    if known.all():
        return values
    by_lower = {code.lower(): code for code in allowed}
    lowered = parts.str.lower()
    recased = ~known & lowered.isin(list(by_lower))
    unknown = ~known & ~recased
    if unknown.any():
        if allowed:
            shown = ", ".join(sorted(allowed)[:12]) + (", …" if len(allowed) > 12 else "")
            why = f"'{{value}}' is not a code of '{spec.name}'; allowed: {shown}"
        else:
            why = f"'{{value}}': the codebook declares no codes for '{spec.name}'"
        first_bad = parts[unknown].groupby(level=0).first()
        mask = values.index.isin(first_bad.index)
        shown_values = first_bad.reindex(values.index).fillna("").astype(str)
        hints = {
            v: _did_you_mean(v, allowed) for v in pd.unique(first_bad.to_numpy())[:MAX_SUGGESTED]
        }
        texts = np.full(len(values), "", dtype=object)  # only flagged rows are read
        texts[mask] = [
            why.format(value=v) + hints.get(v, "") for v in shown_values.to_numpy()[mask]
        ]
        messages = pd.Series(texts, index=values.index)
        col.cells(mask, spec.name, shown_values, "vocabulary", why, messages=messages)
    if recased.any():
        rows = recased.groupby(level=0).any()
        index = rows[rows].index
        col.note(
            Finding.warning(
                col.sheet.name,
                int(col.sheet.rows[index[0]]),
                spec.name,
                values[index[0]],
                "code_case",
                f"{len(index)} value(s) matched a code only when lower-cased; normalised",
            )
        )
        fixed = parts.where(~recased, lowered.map(by_lower))
        values = values.copy()
        if spec.multi:  # rebuild only the cells that changed; a fixed code may now repeat
            fixed = fixed[fixed.index.isin(index)]
            pairs = pd.DataFrame({"row": fixed.index, "part": fixed.to_numpy()}).drop_duplicates()
            joined = pairs.groupby("row", sort=False)["part"].agg(MULTI_SEPARATOR.join)
            values.loc[joined.index] = joined.to_numpy()
        else:
            values.loc[index] = fixed.loc[index].to_numpy()
    return values


def _whole_numbers(cells: pa.Array | pa.ChunkedArray, ok: np.ndarray) -> np.ndarray:
    """The ``ok`` cells, plain whole numbers within 64 bits (checked and rewritten above), as
    floats (NaN elsewhere), read by Arrow's cast instead of ``to_numeric``: the same numbers
    (and the bounds are small, so no rounding of a huge one can move it across a bound),
    without a Python object per cell."""
    texts = pc.if_else(pa.array(ok), cells, "0")
    numbers = pc.cast(texts, pa.int64()).to_numpy(zero_copy_only=False).astype(float)
    return np.where(ok, numbers, np.nan)


def _check_range(
    col: _Collector, spec: ColumnSpec, values: pd.Series, ok: np.ndarray, numbers: np.ndarray
) -> None:
    """Flag the ``ok`` cells outside the column's bounds; ``numbers`` holds each ok cell's
    number."""
    low = spec.minimum if spec.minimum is not None else -np.inf
    high = spec.maximum if spec.maximum is not None else np.inf
    with np.errstate(invalid="ignore"):
        out = ok & ((numbers < low) | (numbers > high))
    bounds = (
        f"at least {low:g}"
        if spec.maximum is None
        else f"between {low:g} and {high:g}"
        if spec.minimum is not None
        else f"at most {high:g}"
    )
    col.cells(out, spec.name, values, "range", f"'{{value}}' is out of range: must be {bounds}")


# --- Sheets ------------------------------------------------------------------------------------


def _check_sheet(sheet: Sheet, specs: list[ColumnSpec]) -> tuple[pd.DataFrame, _Collector]:
    col = _Collector(sheet)
    frame = sheet.frame
    known = {s.name for s in specs}
    for missing in [s for s in specs if s.required and s.name not in frame.columns]:
        col.note(
            Finding.error(
                sheet.name,
                1,
                missing.name,
                "",
                "missing_column",
                f"{sheet.source}: required column '{missing.name}' is missing",
            )
        )
        col.bad[:] = True
    absent = sorted(known - set(frame.columns))
    for extra in [c for c in frame.columns if c not in known]:
        close = difflib.get_close_matches(extra, absent, n=1, cutoff=0.75)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        col.note(
            Finding.warning(
                sheet.name,
                1,
                extra,
                extra,
                "unknown_column",
                f"column '{extra}' is not in the contract or codebook; ignored{hint}",
            )
        )
    out: dict[str, pd.Series | np.ndarray] = {}
    blank: pd.Series | None = None
    for spec in specs:
        if spec.name in frame.columns:
            values = frame[spec.name]
            if not _is_text(values):
                values = values.astype(str)
            out[spec.name] = _check_column(col, spec, values)
        else:  # absent: blank (a missing required column is reported once, above)
            if blank is None:  # one blank column for all the absent ones: the frame copies it
                blank = pd.Series("", index=frame.index, dtype=str)
            out[spec.name] = blank
    out[SOURCE_ROW] = sheet.rows.to_numpy()
    return pd.DataFrame(out, index=frame.index), col


def _is_text(values: pd.Series) -> bool:
    """Whether the column is already pandas ``str`` text, as every sheet's is when read (not
    ``string[pyarrow]``, whose missing cell is ``pd.NA``: what ``astype(str)`` would change)."""
    return arrow_backed(values) and values.dtype.na_value is not pd.NA


def _check_studies(clean: pd.DataFrame, col: _Collector) -> None:
    ids = clean["study_id"]
    if len(pc.unique(arrow_text(ids))) == len(ids):
        return  # every ID once (the usual sheet): found without pandas' factorising
    duplicated = (ids != "") & ids.duplicated(keep="first")
    if duplicated.any():
        first_row = clean.groupby("study_id")[SOURCE_ROW].first()
        for i in np.flatnonzero(duplicated.to_numpy()):
            value = ids.iloc[i]
            col.note(
                Finding.error(
                    "studies",
                    int(clean[SOURCE_ROW].iloc[i]),
                    "study_id",
                    value,
                    "unique",
                    f"study_id '{value}' is already used at row {int(first_row[value])}",
                )
            )
        col.bad |= duplicated.to_numpy()


def _is_in(values: pd.Series, allowed: pd.Series | set[str] | pa.Array) -> pd.Series:
    """``values.isin(allowed)`` through pyarrow's hash lookup.

    pandas 3's ``isin`` on its Arrow-backed strings boxes every allowed value in Python: 7 s
    for 100,000 study IDs against a million code rows, where ``pyarrow.compute.is_in`` takes
    0.1 s. Both inputs are text (IDs); a missing value matches nothing.
    """
    if isinstance(allowed, pa.ChunkedArray):
        allowed = allowed.combine_chunks()
    elif not isinstance(allowed, pa.Array):
        allowed = pa.array(list(allowed) if isinstance(allowed, set) else allowed, pa.string())
    found = pc.is_in(pa.array(values, pa.string()), value_set=allowed, skip_nulls=True)
    return pd.Series(found.fill_null(False).to_numpy(zero_copy_only=False), index=values.index)


def _known_ids(ids: pd.Series) -> pa.Array:
    """The distinct non-blank IDs of a column, kept in Arrow (a Python set of 100,000 IDs
    boxed each one: 0.1 s, for a lookup that Arrow does on its own strings)."""
    cells = arrow_text(ids)
    return pc.unique(pc.filter(cells, pc.not_equal(cells, "")))


def _check_references(clean: pd.DataFrame, col: _Collector, study_ids: pa.Array) -> None:
    ids = clean["study_id"]
    unknown = (ids != "") & ~_is_in(ids, study_ids)
    col.cells(
        unknown, "study_id", ids, "reference", "study_id '{value}' is not in the studies sheet"
    )


def _check_codes(clean: pd.DataFrame, col: _Collector) -> None:
    repeated = clean.duplicated(["study_id", "code", "coder"], keep="first")
    col.cells(
        repeated,
        "code",
        clean["code"],
        "duplicate_code",
        "study already has code '{value}' from this coder; the repeat is ignored",
        severity="warning",
    )


class _Columns:
    """A clean table's columns as the table checks read them, each converted once and shared
    between checks: its Arrow text, which cells are filled, its numbers."""

    def __init__(self, clean: pd.DataFrame):
        self.clean = clean
        self._cells: dict[str, pa.Array | pa.ChunkedArray] = {}
        self._numbers: dict[str, np.ndarray] = {}

    def cells(self, name: str) -> pa.Array | pa.ChunkedArray:
        if name not in self._cells:
            self._cells[name] = arrow_text(self.clean[name])
        return self._cells[name]

    def filled(self, *names: str) -> np.ndarray:
        """Which rows have every one of ``names`` filled (``!= ""``, as pandas has it)."""
        out = np.ones(len(self.clean), dtype=bool)
        for name in names:
            out &= ~_blank(self.cells(name))
        return out

    def is_in(self, name: str, allowed: Collection[str]) -> np.ndarray:
        codes = pa.array(list(allowed), pa.string())
        return _mask(pc.is_in(self.cells(name), value_set=codes))

    def numbers(self, *names: str) -> list[np.ndarray]:
        """Each column's cells as ``pandas.to_numeric`` reads them (NaN: blank or not a
        number)."""
        for name in names:
            if name not in self._numbers:
                self._numbers[name] = _to_numbers(self.clean[name])
        return [self._numbers[name] for name in names]


def _check_outcomes(clean: pd.DataFrame, col: _Collector, columns: _Columns) -> None:
    names = ("estimate", "ci_lower", "ci_upper")
    triple = {name: columns.filled(name) for name in names}
    all_three = columns.filled(*names)
    partial = (triple["estimate"] | triple["ci_lower"] | triple["ci_upper"]) & ~all_three
    for column in names:
        col.cells(
            partial & ~triple[column],
            column,
            clean[column],
            "ci_incomplete",
            "estimate, ci_lower and ci_upper go together: give all three or none",
        )
    est, lo, hi = columns.numbers(*names)
    # All three present and numbers (a cell that is not a number is reported by its column).
    usable = all_three & np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi)
    disorder = usable & ~((lo <= est) & (est <= hi))
    if disorder.any():
        messages = (
            "ci_lower ≤ estimate ≤ ci_upper does not hold: estimate "
            + clean["estimate"]
            + ", interval "
            + clean["ci_lower"]
            + " to "
            + clean["ci_upper"]
        )
        col.cells(disorder, "estimate", clean["estimate"], "ci_order", "", messages=messages)
    zero_width = usable & ~disorder & (lo == hi)
    col.cells(
        zero_width,
        "ci_upper",
        clean["ci_upper"],
        "ci_width",
        "ci_lower and ci_upper are both '{value}': a zero-width interval means a standard "
        "error of 0, so the study cannot be pooled; check the interval",
    )
    no_measure = usable & ~columns.filled("effect_measure")
    col.cells(
        no_measure,
        "effect_measure",
        clean["effect_measure"],
        "effect_measure_missing",
        "an estimate is given, so effect_measure is required",
    )
    ratio = usable & columns.is_in("effect_measure", RATIO_MEASURES)
    for column, numbers in (("estimate", est), ("ci_lower", lo), ("ci_upper", hi)):
        col.cells(
            ratio & (numbers <= 0),
            column,
            clean[column],
            "ratio_positive",
            "'{value}' must be greater than 0 for a ratio measure (or, rr, hr)",
        )
    keys = ["study_id", "outcome", "effect_measure"]
    repeated = np.zeros(len(clean), dtype=bool)
    if usable.sum() > 1:  # the usable rows' keys, the first of each kept
        repeated[usable] = clean.loc[usable, keys].duplicated(keep="first").to_numpy()
    col.cells(
        repeated,
        "estimate",
        clean["estimate"],
        "repeated_estimate",
        "this study already has an estimate for this outcome and measure; only the first is pooled",
        severity="warning",
    )


#: The optional arm-level columns of the outcomes sheet: a 2x2 table, and means with SDs.
BINARY_ARMS = ("int_events", "int_total", "ctl_events", "ctl_total")
CONTINUOUS_ARMS = ("int_mean", "int_sd", "int_n", "ctl_mean", "ctl_sd", "ctl_n")
#: How the clean table writes a computed effect: 12 significant digits, so that the SE the
#: outcomes stage reads back is the computed one to far below any printed precision.
_COMPUTED = "{:.12g}"


def _decimals(texts: pd.Series) -> np.ndarray:
    """Decimal places of each number as typed ("0.62" -> 2, "1" -> 0, "6.2e-1" -> 2); 0 for a
    cell that is not a number (only rows whose cells are numbers are compared)."""

    def places(text: str) -> int:
        try:
            return max(0, -int(decimal.Decimal(text.strip()).as_tuple().exponent))
        except (decimal.InvalidOperation, TypeError, ValueError):
            return 0

    return np.array([places(t) for t in texts], dtype=float)


def _check_arms(clean: pd.DataFrame, col: _Collector, columns: _Columns) -> None:
    """The arm-level columns: each set complete or blank, one set a row, a measure that set
    can give, events within totals, not both SDs zero (located errors); no events in either
    arm of a ratio measure (a warning: the study is kept, as metafor's escalc keeps it)."""
    measure = clean["effect_measure"]
    sets = {}
    for names, what in ((BINARY_ARMS, "four"), (CONTINUOUS_ARMS, "six")):
        given = {name: columns.filled(name) for name in names}
        every = columns.filled(*names)
        partial = np.logical_or.reduce(list(given.values())) & ~every
        for column in names:
            col.cells(
                partial & ~given[column],
                column,
                clean[column],
                "arm_incomplete",
                f"{', '.join(names[:-1])} and {names[-1]} go together: give all {what} or none",
            )
        sets[what] = every
    binary, continuous = sets["four"], sets["six"]
    blank_measure = ~columns.filled("effect_measure")
    estimate_given = columns.filled("estimate", "ci_lower", "ci_upper")
    col.cells(
        binary & continuous,
        "effect_measure",
        measure,
        "arm_measure",
        "the row gives both event counts and means: give one kind of arm-level data a row",
    )
    for kind, allowed, hint in (
        (binary & ~continuous, effect_size.BINARY_MEASURES, "or, rr or rd"),
        (continuous & ~binary, effect_size.CONTINUOUS_MEASURES, "md or smd"),
    ):
        col.cells(
            kind & ~blank_measure & ~columns.is_in("effect_measure", allowed),
            "effect_measure",
            measure,
            "arm_measure",
            f"'{{value}}' cannot be computed from this row's arm-level data: use {hint}, or "
            "give the estimate and its CI instead",
        )
        col.cells(
            kind & blank_measure & ~estimate_given,
            "effect_measure",
            measure,
            "effect_measure_missing",
            f"arm-level data are given, so effect_measure is required ({hint})",
        )
    a, n1, c, n2 = columns.numbers(*BINARY_ARMS)
    for events, total, e_name, t_name in ((a, n1, *BINARY_ARMS[:2]), (c, n2, *BINARY_ARMS[2:])):
        over = binary & (events > total)
        if not over.any():
            continue
        messages = (
            f"{e_name} '" + clean[e_name] + f"' is more than {t_name} '" + clean[t_name] + "': "
            "events are counted among the arm's participants"
        )
        col.cells(over, e_name, clean[e_name], "arm_events_exceed_total", "", messages=messages)
    s1, s2 = columns.numbers("int_sd", "ctl_sd")
    col.cells(
        continuous & (s1 == 0) & (s2 == 0),
        "int_sd",
        clean["int_sd"],
        "arm_sd_zero",
        "int_sd and ctl_sd are both 0: with no spread the difference has a standard error of 0 "
        "and cannot be pooled; check the standard deviations",
    )
    none_or_all = ((a == 0) & (c == 0)) | ((a == n1) & (c == n2))
    col.cells(
        binary & columns.is_in("effect_measure", ["or", "rr"]) & none_or_all,
        "int_events",
        clean["int_events"],
        "arm_no_events",
        "no events in either arm (or events in every participant): 0.5 is added to every cell, "
        "as metafor's escalc does, and the ratio is near 1 with a wide interval; such a study "
        "says little about a relative effect (Cochrane Handbook 10.4.4.2), so consider leaving "
        "it out",
        severity="warning",
    )


def _with_effects(clean: pd.DataFrame, col: _Collector, columns: _Columns) -> pd.DataFrame:
    """``clean`` with each usable row's effect: computed from its arm-level data where it
    gives them (estimate, ci_lower, ci_upper on the ratio scale for or/rr, and ``se`` on the
    log scale), else ``se`` from its 95% CI. A row whose given estimate or CI is not its arm
    data's rounded to the decimals given gets the warning ``arm_data_disagrees``; the arm data
    are used."""
    ok = ~col.bad
    measure = clean["effect_measure"].to_numpy(object)
    binary = (
        ok
        & columns.filled(*BINARY_ARMS)
        & columns.is_in("effect_measure", effect_size.BINARY_MEASURES)
    )
    continuous = (
        ok
        & columns.filled(*CONTINUOUS_ARMS)
        & columns.is_in("effect_measure", effect_size.CONTINUOUS_MEASURES)
    )
    est, lo, hi = columns.numbers("estimate", "ci_lower", "ci_upper")
    ratio = columns.is_in("effect_measure", RATIO_MEASURES)
    # Given effects: the SE from the 95% CI (Cochrane Handbook 6.3.1, 6.5.2.3), on the log
    # scale for ratios; the checks above left only ordered bounds, > 0 for a ratio.
    given = ok & np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi) & (measure != "")
    se = np.full(len(clean), np.nan)
    for log_scale in (True, False):
        rows = given & (ratio == log_scale)
        se[rows] = se_from_ci(lo[rows], hi[rows], log_scale=log_scale)
    arms = binary | continuous
    if arms.any():
        yi = np.full(len(clean), np.nan)
        vi = np.full(len(clean), np.nan)
        if binary.any():
            e = effect_size.binary_effects(
                measure[binary], *(x[binary] for x in columns.numbers(*BINARY_ARMS))
            )
            yi[binary], vi[binary] = e.yi, e.vi
        if continuous.any():
            e = effect_size.continuous_effects(
                measure[continuous],
                *(x[continuous] for x in columns.numbers(*CONTINUOUS_ARMS)),
            )
            yi[continuous], vi[continuous] = e.yi, e.vi
        se = np.where(arms, np.sqrt(vi), se)
        # Normal 95% CI on the analysis scale, back on the ratio scale for or/rr.
        computed = [yi, *effect_size.normal_ci(yi, vi)]
        computed = [np.where(ratio, np.exp(x), x) for x in computed]
        _warn_disagreement(clean, col, arms & given, computed, (est, lo, hi))
        clean = clean.copy()
        for name, values in zip(("estimate", "ci_lower", "ci_upper"), computed, strict=True):
            clean.loc[arms, name] = [_COMPUTED.format(v) for v in values[arms]]
    texts = np.full(len(clean), "", dtype=object)
    has = np.isfinite(se)
    texts[has] = [_COMPUTED.format(v) for v in se[has]]
    return clean.assign(se=texts)


def _warn_disagreement(
    clean: pd.DataFrame,
    col: _Collector,
    both: np.ndarray,
    computed: list[np.ndarray],
    given: tuple[np.ndarray, ...],
) -> None:
    """``arm_data_disagrees`` at the first of estimate, ci_lower, ci_upper whose given value
    is not the computed one rounded to the decimals it is given with."""
    if not both.any():
        return
    names = ("estimate", "ci_lower", "ci_upper")
    rows = np.flatnonzero(both)
    agree = [
        effect_size.within_rounding(g[rows], _decimals(clean[n].iloc[rows]), x[rows])
        for n, g, x in zip(names, given, computed, strict=True)
    ]
    flagged = {n: np.zeros(len(clean), dtype=bool) for n in names}
    for i, row in enumerate(rows):
        first = next((n for n, a in zip(names, agree, strict=True) if not a[i]), None)
        if first is not None:
            flagged[first][row] = True
    if not any(mask.any() for mask in flagged.values()):
        return  # every row's given effect agrees: no message to write
    shown = [pd.Series(x).map(lambda v: f"{v:.4g}") for x in computed]
    message = (
        "the arm-level data give "
        + shown[0].to_numpy(object)
        + " ("
        + shown[1].to_numpy(object)
        + " to "
        + shown[2].to_numpy(object)
        + "), the row's estimate and CI say "
        + clean["estimate"].to_numpy(object)
        + " ("
        + clean["ci_lower"].to_numpy(object)
        + " to "
        + clean["ci_upper"].to_numpy(object)
        + "), more than rounding to the decimals given explains; the arm-level data are used, "
        "so check both against the paper"
    )
    messages = pd.Series(message, index=clean.index)
    for name in names:
        col.cells(flagged[name], name, clean[name], "arm_data_disagrees", "", "warning", messages)


def _check_screening(clean: pd.DataFrame, col: _Collector, n_studies: int) -> None:
    usable = clean[~col.bad]
    # Counts are few; Python ints never overflow, whatever size a typo makes them.
    count = usable["count"].map(int)
    repeatable = usable["stage"] == "excluded_full_text"
    repeated = ~repeatable & usable["stage"].duplicated(keep="first")
    col.cells(
        clean.index.isin(usable.index[repeated]),
        "stage",
        clean["stage"],
        "unique",
        "stage '{value}' appears more than once (only excluded_full_text may repeat)",
    )
    missing_reason = (clean["stage"] == "excluded_full_text") & (clean["reason"] == "")
    col.cells(
        missing_reason,
        "reason",
        clean["reason"],
        "required",
        "each excluded_full_text row needs a reason",
        severity="warning",
    )
    counts = count[~repeated].groupby(usable["stage"][~repeated]).sum()

    def get(stage: str) -> int | None:
        return int(counts[stage]) if stage in counts.index else None

    def row_of(stage: str) -> int | None:
        rows = usable.loc[usable["stage"] == stage, SOURCE_ROW]
        return int(rows.iloc[0]) if len(rows) else None

    checks = [
        (
            "screened",
            ["identified_databases", "identified_other"],
            ["duplicates_removed"],
            "identified_databases + identified_other − duplicates_removed",
        ),
        (
            "full_text_assessed",
            ["screened"],
            ["excluded_screening"],
            "screened − excluded_screening",
        ),
        (
            "included",
            ["full_text_assessed"],
            ["excluded_full_text"],
            "full_text_assessed − excluded_full_text",
        ),
    ]
    # A stage whose row has an error is reported there; sums that need it are not checked.
    unusable = set(clean.loc[col.bad, "stage"])
    for target, plus, minus, formula in checks:
        if get(target) is None or all(get(s) is None for s in plus):
            continue  # nothing to reconcile against (a stage left out counts as 0 below)
        if unusable & {target, *plus, *minus}:
            continue
        expected = sum(get(s) or 0 for s in plus) - sum(get(s) or 0 for s in minus)
        if expected != get(target):
            col.note(
                Finding.error(
                    "screening",
                    row_of(target),
                    "count",
                    str(get(target)),
                    "screening_reconcile",
                    f"{target} is {get(target)} but {formula} = {expected}",
                )
            )
    included = get("included")
    if included is None:
        if not (clean["stage"] == "included").any():  # an unusable 'included' row is reported
            col.note(
                Finding.error(
                    "screening",
                    None,
                    "stage",
                    "",
                    "required",
                    "the screening sheet has no 'included' row",
                )
            )
    elif included != n_studies:
        col.note(
            Finding.error(
                "screening",
                row_of("included"),
                "count",
                str(included),
                "screening_included",
                f"included is {included} but the studies sheet has {n_studies} rows",
            )
        )


def _check_uncoded(studies: pd.DataFrame, codes: pd.DataFrame, col: _Collector) -> None:
    uncoded = (studies["study_id"] != "") & ~_is_in(studies["study_id"], codes["study_id"])
    col.cells(
        uncoded,
        "study_id",
        studies["study_id"],
        "no_codes",
        "study '{value}' has no rows in the codes sheet",
        severity="warning",
    )


# --- Appraisal and findings --------------------------------------------------------------------


def _pair_keys(first: pd.Series, second: pd.Series) -> pd.Series:
    """``tool`` and ``domain`` (say) as one text key per row, for one hash lookup."""
    return first.astype(str) + CELL_SEPARATOR + second.astype(str)


def _tool_pairs(tools: Mapping[str, AppraisalTool], what: str) -> set[str]:
    """Every ``tool<sep>code`` a tool allows: ``what`` is domains, judgements or designs."""
    return {f"{t.code}{CELL_SEPARATOR}{code}" for t in tools.values() for code in getattr(t, what)}


def _check_appraisal(
    clean: pd.DataFrame, col: _Collector, codebook: Codebook, studies: pd.DataFrame | None
) -> None:
    """Each domain and judgement the row's own tool's; each appraised study judged on every
    domain of the tool exactly once; the tool meant for the study's design (a warning).

    A code that is no tool's at all is reported by the column check (vocabulary, with a
    did-you-mean); here only a code of the review that belongs to another tool.
    """
    tools = codebook.appraisal
    tool = clean["tool"]
    known_tool = (tool.isin(list(tools)) & ~col.skip).to_numpy()
    vocabularies = registry.review_vocabularies(codebook)
    domain_ok = _is_in(_pair_keys(tool, clean["domain"]), _tool_pairs(tools, "domains"))
    for column, what, vocabulary, rule, words in (
        ("domain", "domains", "appraisal_domains", "appraisal_domain", "a domain of"),
        (
            "judgement",
            "judgements",
            "appraisal_judgements",
            "appraisal_judgement",
            "on the scale of",
        ),
    ):
        values = clean[column]
        fits = _is_in(_pair_keys(tool, values), _tool_pairs(tools, what))
        other_tools = known_tool & values.isin(list(vocabularies[vocabulary])) & ~fits
        if not other_tools.any():
            continue
        allowed = {code: ", ".join(getattr(t, what)) for code, t in tools.items()}
        messages = (
            "'" + values + f"' is not {words} tool '" + tool + f"'; its {what} are: "
        ) + tool.map(allowed).fillna("")
        col.cells(other_tools, column, values, rule, "", messages=messages)

    # Rows that name a domain of a tool for a study of the studies sheet count as judging it
    # (their judgement may still be wrong). Rows of an unknown study are reported as such.
    known_study = (
        _is_in(clean["study_id"], set(studies["study_id"]) - {""})
        if studies is not None
        else pd.Series(False, index=clean.index)
    )
    judged = clean[known_tool & domain_ok & known_study]
    keys = ["study_id", "tool", "domain"]
    repeated = judged.duplicated(keys, keep="first")
    if repeated.any():
        first_row = judged[~repeated].set_index(keys)[SOURCE_ROW]
        again = judged[repeated]
        rows = first_row.reindex(pd.MultiIndex.from_frame(again[keys])).to_numpy()
        messages = pd.Series("", index=clean.index, dtype=object)
        messages[again.index] = [
            f"study '{s}' already has a judgement for {t} domain '{d}' at row {int(r)}; "
            "judge each domain once per study"
            for s, t, d, r in zip(
                again["study_id"], again["tool"], again["domain"], rows, strict=True
            )
        ]
        col.cells(
            clean.index.isin(again.index),
            "domain",
            clean["domain"],
            "appraisal_domain_repeated",
            "",
            messages=messages,
        )

    # Every domain of the tool, for each study it appraises: what is expected, less what is
    # there, located at the study's first row with that tool.
    appraised = judged.drop_duplicates(["study_id", "tool"], keep="first")
    every_domain = pd.DataFrame(
        [(t.code, d) for t in tools.values() for d in t.domains], columns=["tool", "domain"]
    )
    expected = appraised[["study_id", "tool", SOURCE_ROW]].merge(every_domain, on="tool")
    there = judged[keys].drop_duplicates().assign(judged=True)
    missing = expected.merge(there, on=keys, how="left")
    missing = missing[missing["judged"].isna()].sort_values([SOURCE_ROW, "tool"], kind="stable")
    for study, code, domain, row in zip(
        missing["study_id"], missing["tool"], missing["domain"], missing[SOURCE_ROW], strict=True
    ):
        col.note(
            Finding.error(
                col.sheet.name,
                int(row),
                "domain",
                domain,
                "appraisal_domain_missing",
                f"study '{study}' has no judgement for {code} domain '{domain}' "
                f"({tools[code].domains[domain]}); judge every domain of the tool once for "
                "each study it appraises",
            )
        )

    if studies is None or appraised.empty:
        return
    design_of = studies.drop_duplicates("study_id").set_index("study_id")["design"]
    design = appraised["study_id"].map(design_of).fillna("")
    misfit = (design != "") & ~_is_in(
        _pair_keys(appraised["tool"], design), _tool_pairs(tools, "designs")
    )
    labels = codebook.vocabularies.get("design", {})
    for study, code, study_design, row in zip(
        appraised["study_id"][misfit],
        appraised["tool"][misfit],
        design[misfit],
        appraised[SOURCE_ROW][misfit],
        strict=True,
    ):
        meant = ", ".join(tools[code].designs)
        col.note(
            Finding.warning(
                col.sheet.name,
                int(row),
                "tool",
                code,
                "appraisal_design",
                f"tool '{code}' is meant for {meant}, but study '{study}' is '{study_design}' "
                f"({labels.get(study_design, study_design)}); check the tool or the study's "
                "design",
            )
        )


#: What each type of finding is judged on (evsynth.certainty's domains and components).
GRADE_COLUMNS: tuple[str, ...] = GRADE_DOMAINS
CERQUAL_COLUMNS: tuple[str, ...] = (*CERQUAL_COMPONENTS, "confidence")
#: Per type: the columns it needs, and the columns only the other type takes.
FINDING_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "effect": (("outcome", *GRADE_COLUMNS), ("theme", *CERQUAL_COLUMNS)),
    "qualitative": (("theme", *CERQUAL_COLUMNS), ("outcome", "start", "upgrade", *GRADE_COLUMNS)),
}
_NEEDS = {
    "outcome": "the outcome code (codebook) whose effect it states",
    "theme": "the theme code (codebook) it belongs to",
    "confidence": "the overall GRADE-CERQual confidence: high, moderate, low or very_low",
    **{name: "a GRADE judgement: not_serious, serious or very_serious" for name in GRADE_COLUMNS},
    **{
        name: "a GRADE-CERQual concern: no_or_very_minor, minor, moderate or serious"
        for name in CERQUAL_COMPONENTS
    },
}


def _check_finding_studies(clean: pd.DataFrame, col: _Collector, study_ids: pa.Array) -> None:
    """Each study a finding rests on is in the studies sheet (every unknown one named)."""
    parts = _explode_multi(clean["study_ids"])
    unknown = parts[~_is_in(parts, study_ids).to_numpy()]
    if unknown.empty:
        return
    listed = unknown.groupby(level=0).agg(list)
    mask = clean.index.isin(listed.index)
    messages = pd.Series("", index=clean.index, dtype=object)
    messages[listed.index] = [
        ("study " if len(ids) == 1 else "studies ")
        + ", ".join(f"'{i}'" for i in ids)
        + (" is" if len(ids) == 1 else " are")
        + " not in the studies sheet"
        for ids in listed
    ]
    values = pd.Series("", index=clean.index, dtype=object)
    values[listed.index] = [ids[0] for ids in listed]
    col.cells(mask, "study_ids", values, "reference", "", messages=messages)


def _check_findings(clean: pd.DataFrame, col: _Collector) -> None:
    """Unique IDs; each type with its own columns filled and the other type's blank; a
    downgrade explained (a warning: GRADE asks for the reason of each)."""
    ids = clean["finding_id"]
    duplicated = (ids != "") & ids.duplicated(keep="first")
    if duplicated.any():
        first_row = clean[~duplicated].drop_duplicates("finding_id")
        first_row = first_row.set_index("finding_id")[SOURCE_ROW]
        messages = (
            "finding_id '"
            + ids
            + "' is already used at row "
            + ids.map(first_row).fillna(0).astype(int).astype(str)
        )
        col.cells(duplicated, "finding_id", ids, "unique", "", messages=messages)
    for kind, (needed, other) in FINDING_COLUMNS.items():
        rows = clean["type"] == kind
        for name in needed:
            col.cells(
                rows & (clean[name] == ""),
                name,
                clean[name],
                "finding_required",
                f"an {kind} finding needs '{name}': {_NEEDS[name]}",
            )
        other_kind = next(k for k in FINDING_COLUMNS if k != kind)
        for name in other:
            col.cells(
                rows & (clean[name] != ""),
                name,
                clean[name],
                "finding_not_for_type",
                f"'{name}' is for {other_kind} findings; leave it blank on an {kind} finding "
                "(or correct 'type')",
            )
    downgraded = (clean[list(GRADE_COLUMNS)].isin(["serious", "very_serious"])).any(axis=1)
    col.cells(
        (clean["type"] == "effect") & downgraded & (clean["explanation"] == ""),
        "explanation",
        clean["explanation"],
        "finding_explanation",
        "this effect finding is rated down (a serious or very_serious domain) with no "
        "explanation; say why in 'explanation', as a summary of findings table must",
        severity="warning",
    )


# --- The stage ---------------------------------------------------------------------------------


def validate_review(
    sheets_location: Path | str, codebook_path: Path | str, current_year: int | None = None
) -> ValidationResult:
    """Validate one review's sheets against its codebook. Never raises for bad data."""
    intake: Intake = read_sheets(sheets_location)
    try:
        codebook = load_codebook(codebook_path)
    except InputError as exc:
        # Without a codebook nothing can be checked, but the files are still read, so that
        # every file that cannot be read at all is reported in the same run.
        findings = sorted_findings([*exc.findings, *intake.findings])
        return ValidationResult({}, findings, _summary(intake, {}, findings, codebook_path))
    specs = sheet_specs(codebook, current_year)
    findings = list(intake.findings)
    for name in OPTIONAL_SHEETS:
        optional = intake.sheets.get(name)
        if optional is not None and optional.frame.empty:
            del intake.sheets[name]  # the template's header and nothing else: not provided
    studies = intake.sheets.get("studies")
    if studies is not None and studies.frame.empty:
        findings.append(
            Finding.error(
                "studies",
                None,
                "",
                "",
                "no_records",
                f"{studies.source}: the studies sheet has no records, only its header; a review "
                "needs at least one included study",
            )
        )
    clean: dict[str, pd.DataFrame] = {}
    collectors: dict[str, _Collector] = {}
    for name in SHEETS:
        if name in intake.sheets:
            clean[name], collectors[name] = _check_sheet(intake.sheets[name], specs[name])

    if "studies" in clean:
        _check_studies(clean["studies"], collectors["studies"])
        others = [n for n in ("codes", "outcomes", "appraisal", "findings") if n in clean]
        # Only a sheet that names studies needs them looked up.
        study_ids = (
            _known_ids(clean["studies"]["study_id"]) if others else pa.array([], pa.string())
        )
        for name in ("codes", "outcomes"):
            if name in clean:
                _check_references(clean[name], collectors[name], study_ids)
        if "codes" in clean:
            _check_uncoded(clean["studies"], clean["codes"], collectors["studies"])
        if "screening" in clean:
            _check_screening(clean["screening"], collectors["screening"], len(clean["studies"]))
        if "appraisal" in clean:
            _check_references(clean["appraisal"], collectors["appraisal"], study_ids)
        if "findings" in clean:
            _check_finding_studies(clean["findings"], collectors["findings"], study_ids)
    if "appraisal" in clean:
        designs = clean["studies"] if "studies" in clean else None
        _check_appraisal(clean["appraisal"], collectors["appraisal"], codebook, designs)
    if "findings" in clean:
        _check_findings(clean["findings"], collectors["findings"])
    if "codes" in clean:
        _check_codes(clean["codes"], collectors["codes"])
    if "outcomes" in clean:
        columns = _Columns(clean["outcomes"])  # each column converted once for the three
        _check_outcomes(clean["outcomes"], collectors["outcomes"], columns)
        _check_arms(clean["outcomes"], collectors["outcomes"], columns)
        clean["outcomes"] = _with_effects(clean["outcomes"], collectors["outcomes"], columns)

    for name, col in collectors.items():
        findings += col.findings
        clean[name] = clean[name][~col.bad].reset_index(drop=True)
    findings = sorted_findings(findings)
    summary = _summary(intake, collectors, findings, codebook_path)
    return ValidationResult(clean, findings, summary, specs)


def _summary(
    intake: Intake,
    collectors: dict[str, _Collector],
    findings: list[Finding],
    codebook_path: Path | str,
) -> dict:
    sheets = {}
    for name in SHEETS:
        if name not in intake.sheets and not any(f.sheet == name for f in findings):
            continue
        rows_read = len(intake.sheets[name].frame) if name in intake.sheets else 0
        bad = int(collectors[name].bad.sum()) if name in collectors else rows_read
        sheet = intake.sheets.get(name)
        sheets[name] = {
            "rows_read": rows_read,
            "rows_valid": rows_read - bad,
            # Empty rows and unnamed empty columns dropped without a finding (a spreadsheet's
            # formatted but unused cells).
            "blank_rows_ignored": sheet.blank_rows if sheet is not None else 0,
            "blank_columns_ignored": sheet.blank_columns if sheet is not None else 0,
            "errors": sum(f.severity == "error" and f.sheet == name for f in findings),
            "warnings": sum(f.severity == "warning" and f.sheet == name for f in findings),
        }
    codebook_path = Path(codebook_path)
    return {
        "passed": not any(f.severity == "error" for f in findings),
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
        "sheets": sheets,
        "inputs": dict(sorted(intake.hashes.items())),
        "codebook": {str(codebook_path): sha256_file(codebook_path)}
        if codebook_path.is_file()
        else {},
    }


@dataclass(frozen=True)
class ValidationPaths:
    """Every file the validate stage writes, as its rule names them: the findings, and each
    clean table (``clean``, by sheet) as CSV for reviewers and as typed Parquet (``typed``)
    for the stages after it (:mod:`evsynth.handoff`). A sheet's table is written when its
    path is given (the workflow's rule names every sheet's)."""

    issues: Path
    summary: Path
    report: Path
    clean: Mapping[str, Path]
    typed: Mapping[str, Path]


def added_columns(sheet: str) -> dict[str, str]:
    """The columns a clean table adds after the sheet's and ``source_row`` (the registry's
    ``clean/<sheet>``: ``se`` of the outcomes), with their types."""
    return dict(_added_columns(sheet))


@cache  # the package's registry: the same for every review, resolved once per process
def _added_columns(sheet: str) -> tuple[tuple[str, str], ...]:
    own = set(registry.core_columns(sheet)) | {SOURCE_ROW}
    fields = registry.table_schema(f"clean/{sheet}")["fields"]
    return tuple((f["name"], f["type"]) for f in fields if f["name"] not in own)


def write_validation(result: ValidationResult, paths: ValidationPaths) -> None:
    """Write issues.csv, summary.json, report.md and the clean tables (always all of them)."""
    from evsynth.handoff import write_typed

    for path in (paths.issues, paths.summary, paths.report):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_issues_csv(result.findings, paths.issues)
    paths.summary.write_text(
        json.dumps(result.summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    paths.report.write_text(validation_report(result), encoding="utf-8")
    for name in [s for s in SHEETS if s in paths.clean]:
        # A sheet that is absent or unreadable still gets its (empty) table, with the header.
        specs = result.specs.get(name, [])
        added = added_columns(name)
        columns = [s.name for s in specs] + [SOURCE_ROW] + list(added)
        frame = result.clean.get(name, pd.DataFrame(columns=columns))
        write_table(frame, paths.clean[name])  # formulas neutralised, as everywhere
        types = {s.name: s.type for s in specs if not s.multi} | {SOURCE_ROW: "integer"} | added
        write_typed(frame, paths.typed[name], types)


#: What would be Markdown in a table cell of report.md, and nothing else: the report is read
#: as plain text as often as it is rendered, so "row(s)" and "'included'" stay as typed.
_MARKUP = re.compile(
    r"[\\`*|\[\]$~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|<(?=[A-Za-z/!?])"
    r"|&(?=#?[0-9A-Za-z]+;)"
)
_LINE_BREAKS = re.compile(r"[\r\n\t\u2028\u2029]+")


def report_text(value: object) -> str:
    """``value`` for a table cell of report.md: one line, markup characters escaped."""
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    return _MARKUP.sub(lambda match: "\\" + match[0], text)


def validation_report(result: ValidationResult) -> str:
    """A reviewer's read of the findings: counts per sheet, then findings by sheet and rule."""
    lines = ["# Validation report", ""]
    status = "passed" if result.summary.get("passed") else "FAILED"
    lines += [
        f"Validation {status}: {result.summary.get('errors', len(result.errors))} error(s), "
        f"{result.summary.get('warnings', 0)} warning(s).",
        "",
    ]
    if result.summary.get("sheets"):
        lines += [
            "| sheet | rows read | rows valid | errors | warnings |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, s in result.summary["sheets"].items():
            lines.append(
                f"| {name} | {s['rows_read']} | {s['rows_valid']} | {s['errors']} | "
                f"{s['warnings']} |"
            )
        lines.append("")
    by_group: dict[tuple[str, str, str], list[Finding]] = {}
    for f in result.findings:
        by_group.setdefault((f.sheet, f.severity, f.rule), []).append(f)
    # Groups in the order the findings are (errors first, sheets in the contract's order).
    for (sheet, severity, rule), group in sorted(
        by_group.items(), key=lambda item: sort_key(item[1][0])
    ):
        lines += [f"## {sheet}: {rule} ({severity}, {len(group)})", ""]
        lines += ["| row | column | value | message |", "|---:|---|---|---|"]
        for f in group[:200]:
            cells = [str(f.row or ""), *map(report_text, (f.column, f.value, f.message))]
            lines.append("| " + " | ".join(cells) + " |")
        if len(group) > 200:
            lines.append(f"| | | | … and {len(group) - 200} more in issues.csv |")
        lines.append("")
    return "\n".join(lines)


def run_validate(
    sheets: Path, codebook: Path, paths: ValidationPaths, current_year: int | None = None
) -> ValidationResult:
    """The validate stage: check everything and write all of it; never stop the run here."""
    result = validate_review(sheets, codebook, current_year)
    write_validation(result, paths)
    return result


def gate(
    review: str, summary_path: Path, issues_path: Path, report_path: Path, passed_path: Path
) -> None:
    """Stop the review when validation found errors; otherwise write ``passed_path``."""
    from evsynth.findings import read_issues_csv, stop_message
    from evsynth.runner import StopReview

    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if summary["errors"]:
        errors = [f for f in read_issues_csv(issues_path) if f.severity == "error"]
        raise StopReview(
            stop_message(
                f"Validation of review '{review}'",
                errors,
                issues_path,
                report_path,
                n_warnings=summary["warnings"],
            )
        )
    passed_path.write_text(
        f"validation passed with {summary['warnings']} warning(s)\n", encoding="utf-8"
    )
