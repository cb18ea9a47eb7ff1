"""The data contract's fixed vocabularies and sheet columns (docs/contract.md §2), as the table
registry declares them (``schemas/tables.yaml``, read by :mod:`evsynth.registry`).

Codebooks add each review's own codes; these are the same for every review.
"""

from __future__ import annotations

from evsynth import registry

MULTI_SEPARATOR = registry.MULTI_SEPARATOR
#: The study_id rule, as the table registry declares it (``schemas/tables.yaml``).
STUDY_ID_PATTERN: str = next(
    f["constraints"]["pattern"]
    for f in registry.sheet_schema("studies")["fields"]
    if f["name"] == "study_id"
)
# The fixed vocabularies (code -> label) live in the registry; these names are kept for the
# modules that format them.
SOURCE_TYPES = registry.vocabulary("source_type")
QUALITY = registry.vocabulary("quality")
DIRECTIONS = registry.vocabulary("direction")
EFFECT_MEASURES = registry.vocabulary("effect_measure")
RATIO_MEASURES = frozenset({"or", "rr", "hr"})
SCREENING_STAGES = registry.vocabulary("screening_stage")

#: The columns the contract defines for each sheet (a review's codebook may add study fields).
#: A file whose first row names none of them is not taken for that sheet at all.
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    sheet: registry.core_columns(sheet) for sheet in registry.sheet_names()
}

#: Error values a spreadsheet shows in a cell whose formula failed (Excel, LibreOffice, Google
#: Sheets). Exported to CSV or read from a workbook they look like text, but they are not data.
SPREADSHEET_ERROR_PATTERN = (
    r"#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!|FIELD!|BLOCKED!|"
    r"CONNECT!|BUSY!|UNKNOWN!|EXTERNAL!|PYTHON!|ERROR!)|Err:[0-9]{3}"
)


def interval_holds(lower, upper, value):  # noqa: ANN001, ANN201 - floats or numpy arrays
    """Whether an interval holds ``value`` strictly inside it: the one rule for "the CI (or
    PI) crosses no effect" and "crosses a threshold", wherever the pipeline decides it (the
    findings stage, the certainty signals, leave-one-out). A bound exactly at the value does
    not cross it. Works on floats and, elementwise, on numpy arrays."""
    return (lower < value) & (value < upper)


def no_effect(effect_measure: str) -> float:
    """The value of no effect on the reported scale: 1 for a ratio measure, else 0."""
    return 1.0 if effect_measure in RATIO_MEASURES else 0.0
