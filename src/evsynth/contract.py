"""The data contract's fixed vocabularies (docs/contract.md §2), in one place.

Codebooks add each review's own codes; these are the same for every review.
"""

from __future__ import annotations

MULTI_SEPARATOR = ";"
STUDY_ID_PATTERN = r"[A-Za-z0-9._-]+"
SOURCE_TYPES = {"academic": "Academic literature", "grey": "Grey literature"}
QUALITY = {"high": "High", "moderate": "Moderate", "low": "Low", "not_appraised": "Not appraised"}
DIRECTIONS = {"benefit": "Benefit", "harm": "Harm", "no_effect": "No effect", "mixed": "Mixed",
              "unclear": "Unclear"}
EFFECT_MEASURES = {"smd": "Standardised mean difference", "md": "Mean difference",
                   "or": "Odds ratio", "rr": "Risk ratio", "hr": "Hazard ratio",
                   "rd": "Risk difference"}
RATIO_MEASURES = frozenset({"or", "rr", "hr"})
SCREENING_STAGES = {
    "identified_databases": "Records identified from databases",
    "identified_other": "Records identified from other sources",
    "duplicates_removed": "Duplicate records removed",
    "screened": "Records screened",
    "excluded_screening": "Records excluded at screening",
    "full_text_assessed": "Reports assessed for eligibility",
    "excluded_full_text": "Reports excluded",
    "included": "Studies included in the review",
}

#: The columns the contract defines for each sheet (a review's codebook may add study fields).
#: A file whose first row names none of them is not taken for that sheet at all.
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "studies": ("study_id", "citation", "year", "source_type", "country", "design",
                "intervention_type", "quality"),
    "codes": ("study_id", "code", "coder", "excerpt", "page"),
    "outcomes": ("study_id", "outcome", "measure", "direction", "effect_measure", "estimate",
                 "ci_lower", "ci_upper", "n", "follow_up_months"),
    "screening": ("stage", "count", "reason"),
}

#: Error values a spreadsheet shows in a cell whose formula failed (Excel, LibreOffice, Google
#: Sheets). Exported to CSV or read from a workbook they look like text, but they are not data.
SPREADSHEET_ERROR_PATTERN = (
    r"#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|GETTING_DATA|SPILL!|CALC!|FIELD!|BLOCKED!|"
    r"CONNECT!|BUSY!|UNKNOWN!|EXTERNAL!|PYTHON!|ERROR!)|Err:[0-9]{3}"
)
