"""Report content: the Markdown partials that fill a format's Quarto source.

Everything here reads result files and formats them; nothing is computed anew (the numbers
come from the tally and outcomes stages). All text that came from the sheets or the codebook
goes through :func:`evsynth.escape.markdown_text`. The lead's narrative is their own Markdown
and is kept as written, with live figures filled in.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evsynth import alt_text, registry
from evsynth.codebook import Codebook, load_codebook
from evsynth.contract import EFFECT_MEASURES, QUALITY
from evsynth.effect_size_report import effect_size_partials
from evsynth.escape import markdown_text as md
from evsynth.handoff import read_typed
from evsynth.imprint import Publication, publication_metadata, read_publication
from evsynth.markdown_blocks import (
    figure,
    is_missing,
    main_analyses,
    number,
    p_value,
    pct,
    pipe_table,
    study_word,
)
from evsynth.narrative import (
    FINDING_FIGURES,
    SECTIONS,
    THEME_SECTION_PREFIX,
    fill,
    narrative_files,
)
from evsynth.narrative_markup import expand_includes
from evsynth.outcomes import MetaAnalysisSettings, sensitivity_label
from evsynth.protocol import draft_notice, is_draft, protocol_partials
from evsynth.references import cite, cite_in_text
from evsynth.sensitivity import prediction_interval_phrase, sensitivity_partials
from evsynth.small_study import small_study_partials
from evsynth.subgroups import subgroup_partials
from evsynth.tables import read_results

FORMAT_LABELS = {
    "summary-of-evidence": "Summary of evidence",
    "strategic-briefing": "Strategic briefing",
    "evidence-review": "Evidence review",
}
SOURCE_SHORT = {"academic": "Academic", "grey": "Grey"}
#: GRADE's certainty levels as its summary-of-findings tables print them (GRADE handbook 5.1;
#: GRADEpro): a filled circle-plus per level, an empty circle for each level below high.
CERTAINTY_LABELS = registry.vocabulary("certainty")
CERTAINTY_SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very_low": "⊕◯◯◯"}
ID_SEPARATOR = ";"


@dataclass(frozen=True)
class ReportInputs:
    """Every result file the report reads, as the render rule names them."""

    codebook: Path
    studies: Path  # clean/studies.parquet
    screening: Path  # clean/screening.parquet
    themes: Path
    characteristics: Path
    direction: Path
    meta_analysis: Path
    agreement: Path
    validation_summary: Path
    # The findings and appraisal stages' tables (issue 12). None: the caller has no such stage
    # (a review is then reported as one without findings or appraisal); the workflow always
    # names them, and a review without those sheets gets them with a header and no rows.
    summary_of_findings: Path | None = None
    qualitative_findings: Path | None = None
    findings_warnings: Path | None = None
    appraisal_summary: Path | None = None
    # Read only for the figures' alt text (evsynth.alt_text); None: the alt text gives what
    # the other tables hold.
    outcomes: Path | None = None  # clean/outcomes.parquet: each study's estimate
    study_weights: Path | None = None
    gap_map: Path | None = None
    small_study: Path | None = None  # outcomes/small_study.csv (evsynth.small_study)
    subgroups: Path | None = None  # outcomes/subgroups.csv (evsynth.subgroups)
    leave_one_out: Path | None = None  # outcomes/leave_one_out.csv (evsynth.sensitivity)


def _optional_table(path: Path | None, table: str) -> pd.DataFrame:
    """The table, or without a path an empty one with the table's declared columns (so a
    section reading it finds no rows, rather than no column)."""
    if path is not None:
        return read_results(path, table)
    names = [f["name"] for f in registry.table_schema(table)["fields"]]
    return pd.DataFrame({name: pd.Series(dtype=object) for name in names})


@dataclass
class ReviewResults:
    """The result files of one review, as the report reads them."""

    codebook: Codebook
    studies: pd.DataFrame
    screening: pd.DataFrame
    themes: pd.DataFrame
    characteristics: pd.DataFrame
    direction: pd.DataFrame
    meta: pd.DataFrame
    agreement: pd.DataFrame
    validation: dict
    summary_of_findings: pd.DataFrame
    qualitative_findings: pd.DataFrame
    findings_warnings: pd.DataFrame
    appraisal_summary: pd.DataFrame
    #: The included studies that have an entry in the review's references file (empty: no
    #: file); these are cited through citeproc (evsynth.references.cite), the rest by ID.
    references: frozenset[str] = frozenset()
    #: For the figures' alt text: clean outcomes, study weights, gap-map cells (empty: none).
    outcomes: pd.DataFrame = field(default_factory=pd.DataFrame)
    study_weights: pd.DataFrame = field(default_factory=pd.DataFrame)
    gap_map: pd.DataFrame = field(default_factory=pd.DataFrame)
    small_study: pd.DataFrame = field(default_factory=pd.DataFrame)
    subgroups: pd.DataFrame = field(default_factory=pd.DataFrame)
    leave_one_out: pd.DataFrame = field(default_factory=pd.DataFrame)

    @classmethod
    def load(cls, paths: ReportInputs) -> ReviewResults:
        return cls(
            codebook=load_codebook(paths.codebook),
            studies=read_typed(paths.studies),
            screening=read_typed(paths.screening),
            # Codes, IDs and labels come back as text, numbers only where declared
            # (evsynth.tables.RESULT_TABLES): an outcome coded "2" must match the codebook's "2".
            themes=read_results(paths.themes, "tallies/themes"),
            characteristics=read_results(paths.characteristics, "tallies/characteristics"),
            direction=read_results(paths.direction, "outcomes/direction"),
            meta=read_results(paths.meta_analysis, "outcomes/meta_analysis"),
            agreement=read_results(paths.agreement, "tallies/agreement"),
            validation=json.loads(paths.validation_summary.read_text("utf-8")),
            summary_of_findings=_optional_table(
                paths.summary_of_findings, "findings/summary_of_findings"
            ),
            qualitative_findings=_optional_table(
                paths.qualitative_findings, "findings/qualitative_findings"
            ),
            findings_warnings=_optional_table(paths.findings_warnings, "findings/warnings"),
            appraisal_summary=_optional_table(paths.appraisal_summary, "appraisal/summary"),
            outcomes=read_typed(paths.outcomes) if paths.outcomes else pd.DataFrame(),
            study_weights=_optional_table(paths.study_weights, "outcomes/study_weights"),
            gap_map=_optional_table(paths.gap_map, "outcomes/gap_map"),
            small_study=_optional_table(paths.small_study, "outcomes/small_study"),
            subgroups=_optional_table(paths.subgroups, "outcomes/subgroups"),
            leave_one_out=_optional_table(paths.leave_one_out, "outcomes/leave_one_out"),
        )

    def characteristic(self, name: str) -> pd.DataFrame:
        """The rows of ``tallies/characteristics.csv`` for one characteristic, in its order."""
        table = self.characteristics
        return table[table["characteristic"] == name]

    def n_with(self, name: str, value: str) -> int:
        """Included studies whose ``name`` is ``value`` (0 where none is)."""
        rows = self.characteristic(name)
        found = rows[rows["value"] == value]
        return int(found["n_studies"].iloc[0]) if len(found) else 0

    @property
    def n_included(self) -> int:
        return self.n_with("included", "all")


# --- Formatting --------------------------------------------------------------------------------


def pooled_text(row: pd.Series) -> str:
    return (
        f"{number(row['estimate'])} (95% CI {number(row['ci_lower'])} to {number(row['ci_upper'])})"
    )


def study_list(ids: str) -> str:
    """A ``;``-separated ID list as prose, escaped: "FA03, FA07 and FA15"."""
    items = [md(i.strip()) for i in str(ids).split(ID_SEPARATOR) if i.strip()]
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def certainty_word(level: str) -> str:
    """``very_low`` -> "very low" (for prose; the tables print the label, "Very low")."""
    return CERTAINTY_LABELS.get(level, level).lower()


def certainty_cell(level: str) -> str:
    """The GRADE symbols and the level's label, e.g. "⊕⊕⊕◯ Moderate"."""
    return f"{CERTAINTY_SYMBOLS.get(level, '')} {md(CERTAINTY_LABELS.get(level, level))}".strip()


def prediction_crosses_no_effect(row: pd.Series) -> bool:
    """Whether the finding's 95% prediction interval holds the value of no effect, as the
    findings stage decided it (``pi_crosses_no_effect``): a new setting may then see no
    difference (issue 12)."""
    return row["pi_crosses_no_effect"] == "true"


def votes_text(row: pd.Series) -> str:
    """A vote count as the findings table gives it: "benefit 4, harm 0 (no effect 1, mixed 1,
    unclear 1); sign test p = 0.125"."""
    others = [
        f"{name} {int(row[column])}"
        for name, column in (
            ("no effect", "n_no_effect"),
            ("mixed", "n_mixed"),
            ("unclear", "n_unclear"),
        )
        if not is_missing(row[column]) and int(row[column])
    ]
    text = f"benefit {int(row['n_benefit'])}, harm {int(row['n_harm'])}"
    if others:
        text += f" ({', '.join(others)})"
    if not is_missing(row["sign_test_p"]):
        text += f"; sign test p = {p_value(row['sign_test_p'])}"
    if not is_missing(row["n_not_voting"]) and int(row["n_not_voting"]):
        text += f"; {int(row['n_not_voting'])} not counted (design does not vote)"
    return text


def effect_cell(row: pd.Series) -> str:
    """The finding's effect, as the summary-of-findings table gives it: the pooled estimate
    with its 95% CI and prediction interval, or the direction counts with the sign test."""
    if row["synthesis"] != "meta_analysis":
        return "Direction of effect: " + votes_text(row)
    text = (
        f"{md(str(row['effect_measure']).upper())} {number(row['estimate'])} (95% CI "
        f"{number(row['ci_lower'])} to {number(row['ci_upper'])})"
    )
    if not is_missing(row["pi_lower"]) and not is_missing(row["pi_upper"]):
        text += f"; 95% PI {number(row['pi_lower'])} to {number(row['pi_upper'])}"
    return text


def participants_text(row: pd.Series) -> str:
    """The studies and participants: "5 (2,526)", or "7 (857 in 5)" where only some studies
    gave their n."""
    k = int(row["k"])
    if is_missing(row["participants"]) or is_missing(row["participants_k"]):
        return str(k)
    n, n_k = int(row["participants"]), int(row["participants_k"])
    if n_k == 0:
        return f"{k} (n not reported)"
    return f"{k} ({n:,})" if n_k == k else f"{k} ({n:,} in {n_k})"


def label_of(vocabulary: dict[str, str], code: str) -> str:
    return vocabulary.get(code, code)


# --- Live figures ------------------------------------------------------------------------------


def live_figures(res: ReviewResults) -> dict[str, str]:
    """Every live figure the narrative may cite, formatted as it is printed."""
    n = res.n_included
    source = res.characteristic("source_type").set_index("value")
    years = res.characteristic("year")["value"]  # ascending, only years some study has
    figures = {
        "n_studies": str(n),
        "n_academic": str(res.n_with("source_type", "academic")),
        "n_grey": str(res.n_with("source_type", "grey")),
        "pct_academic": pct(source.loc["academic", "pct_studies"]) if n else "0%",
        "pct_grey": pct(source.loc["grey", "pct_studies"]) if n else "0%",
        "year_min": years.iloc[0] if len(years) else "n/a",
        "year_max": years.iloc[-1] if len(years) else "n/a",
        "n_countries": str(len(res.characteristic("country"))),
        "n_outcomes": str(len(res.direction)),
    }
    for row in res.themes.itertuples(index=False):
        figures[f"n:{row.code}"] = str(row.n_studies)
        figures[f"pct:{row.code}"] = pct(row.pct_studies)
        figures[f"label:{row.code}"] = md(row.label)
    by_outcome = res.direction.set_index("outcome") if len(res.direction) else None
    for code in res.codebook.outcomes:
        known = by_outcome is not None and code in by_outcome.index
        figures[f"k:{code}"] = str(int(by_outcome.loc[code, "k"])) if known else "0"
        figures[f"benefit:{code}"] = str(int(by_outcome.loc[code, "n_benefit"])) if known else "0"
        figures[f"sign_p:{code}"] = p_value(by_outcome.loc[code, "sign_test_p"]) if known else "n/a"
        for measure in EFFECT_MEASURES:
            figures[f"pooled:{code}:{measure}"] = "not pooled (fewer than two estimates)"
    for _, row in main_analyses(res.meta).iterrows():
        figures[f"pooled:{row['outcome']}:{row['effect_measure']}"] = pooled_text(row)
    figures.update(finding_figures(res))
    return figures


def finding_figures(res: ReviewResults) -> dict[str, str]:
    """``{{certainty:ID}}``, ``{{statement:ID}}`` and ``{{studies:ID}}`` for every finding:
    the certainty (GRADE) or confidence (GRADE-CERQual) in words, the plain-language
    statement, and the study IDs as prose, each from the findings tables."""
    figures = {}
    tables = (
        (res.summary_of_findings, "certainty"),
        (res.qualitative_findings, "confidence"),
    )
    for table, level_column in tables:
        for _, row in table.iterrows():
            fid = row["finding_id"]
            values = {
                "certainty": certainty_word(row[level_column]),
                "statement": md(row["plain_language"]),
                "studies": study_list(row["study_ids"]),
            }
            figures.update({f"{kind}:{fid}": values[kind] for kind in FINDING_FIGURES})
    return figures


# --- Narrative ---------------------------------------------------------------------------------


def narrative_partials(
    folder: Path | None, report_format: str, figures: dict[str, str]
) -> dict[str, str]:
    """``narrative/<section>.md`` for every section of the format (empty when optional and
    absent; a visible placeholder in a draft, where there is no narrative folder at all).

    Includes are expanded here, from the narrative folder only (evsynth.narrative_markup), so
    the staged sources hold no include that could reach elsewhere."""
    files = narrative_files(folder) if folder else {}
    out = {}
    for section, required in SECTIONS[report_format].items():
        if section in files:
            out[section] = fill(expand_includes(files[section], folder), figures)
        elif required and folder is None:
            out[section] = (
                f"*Draft: the lead's text for this section goes in "
                f"`{section}.md` in the review's narrative folder.*\n"
            )
        else:
            out[section] = ""
    for name, path in files.items():
        if name.startswith(THEME_SECTION_PREFIX):
            out[name] = fill(expand_includes(path, folder), figures)
    return out


# --- Sections ----------------------------------------------------------------------------------


def notice(settings: dict, draft: bool) -> str:
    parts = []
    if settings.get("illustrative"):
        parts.append(
            '::: {.callout-warning title="Illustrative data"}\n'
            "Every record in this report is synthetic, made up to show how the pipeline works. "
            "Citations are fictional, and no finding here is a finding about any real study, "
            "programme or organisation.\n:::\n"
        )
    if draft:
        parts.append(
            '::: {.callout-warning title="Draft: figures only"}\n'
            "This review has no narrative folder yet, so the lead's text is missing. Every "
            "number and chart below is live; add the narrative and rerun to finish the "
            "report.\n:::\n"
        )
    return "\n".join(parts)


def counts_table(rows: pd.DataFrame, heading: str, caption: str) -> str:
    """Studies per value of a characteristic (``tallies/characteristics.csv`` rows), the
    values some study has, in the table's order."""
    shown = rows[(rows["n_studies"] > 0) & (rows["value"] != "not_recorded")]
    cells = [
        [md(r.label), str(int(r.n_studies)), pct(r.pct_studies)]
        for r in shown.itertuples(index=False)
    ]
    return pipe_table([heading, "Studies", "%"], cells, [40, 10, 8], "lrr", caption)


def countries_phrase(n_countries: str) -> str:
    return {"0": "with no country recorded", "1": "from 1 country"}.get(
        n_countries, f"from {n_countries} countries"
    )


def what_we_did(res: ReviewResults, figures: dict[str, str]) -> str:
    out = [
        f"We included **{figures['n_studies']} records**: {figures['n_academic']} from the "
        f"academic literature ({figures['pct_academic']}) and {figures['n_grey']} from the grey "
        f"literature ({figures['pct_grey']}), published between {figures['year_min']} and "
        f"{figures['year_max']}, {countries_phrase(figures['n_countries'])}. Each record was "
        f"coded against the review's codebook of {len(res.themes)} themes.\n",
    ]
    if len(res.screening):
        out.append(
            figure(
                "figures/prisma.svg",
                "PRISMA 2020 flow diagram: records identified, screened, assessed and "
                "included, with the reasons full-text reports were excluded.",
                alt_text.prisma(res.screening),
                "fig-prisma",
            )
        )
    out.append(
        counts_table(
            res.characteristic("design"), "Study design", "Included records by study design"
        )
    )
    out.append(
        counts_table(
            res.characteristic("quality"),
            "Quality appraisal",
            "Included records by quality appraisal",
        )
    )
    countries = res.characteristic("country")  # most records first, then by name
    if len(countries):
        listed = "; ".join(
            f"{md(r.value)} ({int(r.n_studies)})" for r in countries.itertuples(index=False)
        )
        out.append(f"Countries (records): {listed}.\n")
    return "\n".join(out)


def key_findings(res: ReviewResults, narrative: dict[str, str]) -> str:
    n = res.n_included
    out = [
        figure(
            "figures/themes.svg",
            f"Included records coded with each theme (of {n}); a record counts once for a "
            "theme and for each of its parent themes.",
            alt_text.themes(res.themes, n),
            "fig-themes",
        ),
    ]
    themes = res.themes.set_index("code")
    for top in res.codebook.top_level_themes():
        row = themes.loc[top.code]
        out.append(f"### {md(top.label)}\n")
        out.append(
            f"Coded in **{int(row['n_studies'])} of {n}** included records "
            f"({pct(row['pct_studies'])}).\n"
        )
        children = res.codebook.children(top.code)
        if children:
            rows = [
                [
                    md(c.label),
                    str(int(themes.loc[c.code, "n_studies"])),
                    pct(themes.loc[c.code, "pct_studies"]),
                ]
                for c in children
            ]
            out.append(
                pipe_table(
                    ["Sub-theme", "Records", "% of included"],
                    rows,
                    [40, 10, 12],
                    "lrr",
                    f"{md(top.label)}: records per sub-theme",
                )
            )
        out.append(theme_findings(res, top.code))
        text = narrative.get(f"{THEME_SECTION_PREFIX}{top.code}", "")
        if text:
            out.append(text)
    return "\n".join(out)


def theme_findings(res: ReviewResults, top_code: str) -> str:
    """The qualitative findings whose theme is ``top_code`` or below it, each with its
    GRADE-CERQual confidence and its studies ("" when there are none)."""
    table = res.qualitative_findings
    if table.empty:
        return ""
    lineage = res.codebook.lineage
    rows = [r for _, r in table.iterrows() if top_code in lineage.get(r["theme"], (r["theme"],))]
    if not rows:
        return ""
    items = [
        f"- {md(r['statement'])} *{md(CERTAINTY_LABELS.get(r['confidence'], r['confidence']))} "
        f"confidence; {study_word(int(r['k']))}: {cited(r['study_ids'], res.references)}.*"
        for r in rows
    ]
    return "**Review findings (GRADE-CERQual)**\n\n" + "\n".join(items) + "\n"


def summary_of_findings(
    res: ReviewResults, heading: str = "Summary of findings {#summary-of-findings}"
) -> str:
    """The review's findings with how sure we can be of each: a GRADE summary-of-findings
    table for effect findings (explanations as lettered notes under it, as GRADE tables give
    them) and a GRADE-CERQual summary of qualitative findings. "" without findings.

    ``heading``: the section's heading (Markdown, with its identifier); an appendix in the
    shorter formats, a section of its own in the evidence review."""
    sof, qual = res.summary_of_findings, res.qualitative_findings
    if sof.empty and qual.empty:
        return ""
    out = [
        f"## {heading}\n",
        "Each finding is the review team's, with the studies it rests on. Certainty in effect "
        "findings is rated with GRADE (⊕⊕⊕⊕ high, ⊕⊕⊕◯ moderate, ⊕⊕◯◯ low, ⊕◯◯◯ very low); "
        "confidence in qualitative findings with GRADE-CERQual. The ratings are the review "
        "team's judgements; the checks the pipeline ran beside them are in "
        "`findings/signals.csv`.\n",
    ]
    if len(sof):
        out.append("### Effect findings (GRADE) {#sof-effects}\n")
        rows, notes = [], []
        for i, (_, r) in enumerate(sof.iterrows()):
            letter = note_letter(i)
            rows.append(
                [
                    md(r["label"]),
                    participants_text(r),
                    effect_cell(r),
                    f"{certainty_cell(r['certainty'])}^{letter}^",
                    md(r["plain_language"]),
                    study_ids_cell(r["study_ids"]),
                ]
            )
            notes.append(
                f"{letter}. **{md(r['label'])}** ({md(r['finding_id'])}). *The finding:* "
                f"{md(r['statement'])} *Certainty:* {md(r['explanation'])}"
            )
        out.append(
            pipe_table(
                [
                    "Outcome",
                    "Studies (participants)",
                    "Effect",
                    "Certainty",
                    "What the evidence says",
                    "Study IDs",
                ],
                rows,
                [13, 11, 21, 12, 26, 17],
                caption="Summary of findings: effect findings, each over its own studies "
                "(CI confidence interval, PI prediction interval)",
            )
        )
        out.append("\n".join(notes) + "\n")
    if len(qual):
        out.append("### Qualitative findings (GRADE-CERQual) {#sof-qualitative}\n")
        rows = [
            [
                md(r["statement"]),
                md(CERTAINTY_LABELS.get(r["confidence"], r["confidence"])),
                md(r["explanation"]),
                study_ids_cell(r["study_ids"]),
            ]
            for _, r in qual.iterrows()
        ]
        out.append(
            pipe_table(
                ["Finding", "Confidence", "Explanation", "Study IDs"],
                rows,
                [33, 14, 37, 16],
                caption="Summary of qualitative findings (GRADE-CERQual)",
            )
        )
    return "\n".join(out)


def study_ids_cell(ids: str) -> str:
    """A table's study IDs, "FA03, FA07": IDs, not author-date citations, because a table's
    column is narrow and an ID is short; the prose cites the same studies in full, and the
    included-studies appendix gives each ID's reference."""
    return md(", ".join(split_ids(ids)))


def split_ids(ids: str) -> list[str]:
    return [i.strip() for i in str(ids).split(ID_SEPARATOR) if i.strip()]


def note_letter(i: int) -> str:
    """a, b, ..., z, aa, ab, ... (the note markers of a summary-of-findings table)."""
    letters = ""
    i += 1
    while i:
        i, rest = divmod(i - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def effect_reading(row: pd.Series) -> str:
    """What an effect finding's numbers mean, in words a leader can repeat: whether the
    confidence interval or the prediction interval holds no effect (as the findings stage
    decided: ``ci_crosses_no_effect``, ``pi_crosses_no_effect``), or how the studies' results
    point, for a vote count. No estimate or interval is quoted: those are in the summary of
    findings table."""
    if row["synthesis"] == "meta_analysis":
        if row.get("ci_crosses_no_effect", "") == "true":
            return (
                "The combined result is also compatible with no difference: the studies do not "
                "show a clear effect on average."
            )
        if prediction_crosses_no_effect(row):
            return (
                "The studies show an effect on average, but it varies between settings: in a "
                "new setting the work may make no difference."
            )
        if row["pi_crosses_no_effect"] == "false":
            return (
                "The studies show an effect on average, and it is likely to hold in a new setting."
            )
        return (
            "The studies show an effect on average; they are too few to tell whether it holds "
            "in other settings."
        )
    voting = int(row["k"]) - (0 if is_missing(row["n_not_voting"]) else int(row["n_not_voting"]))
    benefit, harm = int(row["n_benefit"]), int(row["n_harm"])
    text = (
        f"Of the {study_word(voting)} counted, {benefit} found benefit and "
        f"{'none' if harm == 0 else harm} found harm"
    )
    neither = voting - benefit - harm
    if neither:
        text += f"; the other {neither} found no clear difference, or mixed or unclear results"
    return text + " (the studies could not be combined in one estimate)."


def certainty_phrase(level: str, kind: str = "certainty") -> str:
    """The level in words: "low certainty ⊕⊕◯◯" (GRADE), "moderate confidence" (CERQual)."""
    symbols = f" {CERTAINTY_SYMBOLS[level]}" if kind == "certainty" else ""
    return f"{certainty_word(level)} {kind}{symbols}"


def cited(ids: str, references: Collection[str] = frozenset()) -> str:
    """The studies behind a finding, as the report cites them: through citeproc where they
    have a references entry (``references``), else by ID ("FA03, FA07 and FA15")."""
    return cite(split_ids(ids), references, prose=True)


def key_message_findings(res: ReviewResults) -> str:
    """The briefing's key messages open with the effect findings in plain language: the
    GRADE guidance 26 statement, what the interval means (said plainly where it holds no
    effect), and how sure we are, with the IDs of the studies behind it (short, as a box
    needs; the evidence table and the theme sections cite them in full). The estimates
    themselves are in the summary of findings, not here."""
    sof = res.summary_of_findings
    if sof.empty:
        return ""
    items = [
        f"- **{md(r['label'])}.** {md(r['plain_language'])} {effect_reading(r)} "
        f"*How sure we are: {certainty_phrase(r['certainty'])}; "
        f"{study_word(int(r['k']))}: {study_list(r['study_ids'])}.*"
        for _, r in sof.iterrows()
    ]
    return "\n".join(items) + "\n"


def key_findings_box(res: ReviewResults) -> str:
    """The summary of evidence's page-1 box: every finding in one sentence with how sure we
    can be of it (GRADE certainty for effects, GRADE-CERQual confidence for qualitative
    findings) and how many studies it rests on; the studies are cited where each finding is
    discussed. "" without findings (the box then holds the lead's text only)."""
    items = [
        f"- **{md(r['label'])}.** {md(r['plain_language'])} "
        f"*({certainty_phrase(r['certainty']).capitalize()}; {study_word(int(r['k']))}.)*"
        for _, r in res.summary_of_findings.iterrows()
    ]
    # A qualitative finding by its statement: its plain-language form adds GRADE-CERQual's
    # definition of the level ("It is likely that the review finding is a reasonable
    # representation..."), which the level in brackets says in two words.
    items += [
        f"- **{md(r['label'])}.** {md(r['statement'])} "
        f"*({certainty_phrase(r['confidence'], 'confidence').capitalize()}; "
        f"{study_word(int(r['k']))}.)*"
        for _, r in res.qualitative_findings.iterrows()
    ]
    return "\n".join(items) + "\n" if items else ""


def plain_evidence_table(res: ReviewResults) -> str:
    """The one evidence table of the short formats: per effect finding, what the evidence
    says, how sure we can be, and the studies; no statistics. "" without effect findings."""
    sof = res.summary_of_findings
    if sof.empty:
        return ""
    rows = [
        [
            md(r["label"]),
            f"{md(r['plain_language'])} {effect_reading(r)}",
            certainty_cell(r["certainty"]),
            f"{int(r['k'])}: {study_ids_cell(r['study_ids'])}",
        ]
        for _, r in sof.iterrows()
    ]
    return pipe_table(
        ["Outcome", "What the evidence says", "How sure we are (GRADE)", "Studies"],
        rows,
        [14, 46, 16, 24],
        caption="What the evidence says about outcomes, and how sure we can be (the "
        "estimates and the reasons for each rating are in the summary of findings tables)",
    )


def findings_in_words(res: ReviewResults, top_code: str) -> str:
    """A theme's qualitative findings as prose items: the finding, how much confidence we
    can have in it (GRADE-CERQual) and the studies it rests on. "" when there are none."""
    table = res.qualitative_findings
    if table.empty:
        return ""
    lineage = res.codebook.lineage
    rows = [r for _, r in table.iterrows() if top_code in lineage.get(r["theme"], (r["theme"],))]
    return "".join(
        f"- {md(r['statement'])} *{certainty_phrase(r['confidence'], 'confidence').capitalize()}"
        f"; {study_word(int(r['k']))}: {cited(r['study_ids'], res.references)}.*\n"
        for r in rows
    )


def theme_sections(res: ReviewResults, narrative: dict[str, str], *, table: bool) -> str:
    """Per top-level theme: its findings in words (with confidence and cited studies), the
    lead's text on it, and, where ``table``, one table of its sub-themes: a single view of
    each theme's numbers, not a chart, a table and prose repeating one another."""
    n = res.n_included
    themes = res.themes.set_index("code")
    out = []
    for top in res.codebook.top_level_themes():
        row = themes.loc[top.code]
        out.append(f"### {md(top.label)}\n")
        words = findings_in_words(res, top.code)
        if words:
            out.append(words)
        text = narrative.get(f"{THEME_SECTION_PREFIX}{top.code}", "")
        if text:
            out.append(text)
        children = res.codebook.children(top.code)
        if table and children:
            rows = [
                [
                    md(c.label),
                    str(int(themes.loc[c.code, "n_studies"])),
                    pct(themes.loc[c.code, "pct_studies"]),
                ]
                for c in children
            ]
            out.append(
                pipe_table(
                    ["Sub-theme", "Records", "% of included"],
                    rows,
                    [40, 10, 12],
                    "lrr",
                    f"{md(top.label)}: coded in {int(row['n_studies'])} of {n} included "
                    f"records ({pct(row['pct_studies'])}), by sub-theme",
                )
            )
    return "\n".join(out)


def records_sentence(res: ReviewResults, figures: dict[str, str]) -> str:
    """The records included, in one sentence (the tables are in the study characteristics)."""
    return (
        f"We included **{figures['n_studies']} records**: {figures['n_academic']} from the "
        f"academic literature and {figures['n_grey']} from the grey literature, published "
        f"between {figures['year_min']} and {figures['year_max']}, "
        f"{countries_phrase(figures['n_countries'])}. Each was coded against the review's "
        f"codebook of {len(res.themes)} themes and sub-themes.\n"
    )


def companion_pointer(settings: dict, report_format: str) -> str:
    """Where the full account is: the companion evidence review when the review renders one
    beside this format, else the result files."""
    formats = settings["report"] if isinstance(settings["report"], list) else [settings["report"]]
    if "evidence-review" in formats and report_format != "evidence-review":
        return (
            "This document is published with its companion **evidence review** "
            "(`evidence-review.pdf`, beside this file), which sets out the review's methods, "
            "every included study, the statistics and the reasons behind each certainty "
            "rating.\n"
        )
    return (
        "The statistics behind each finding, study by study, are in the appendices and in the "
        "review's result files, where every number is listed with its study IDs.\n"
    )


APPENDIX_LETTERS = "ABCDEFGH"


def appendices(
    res: ReviewResults,
    report_format: str,
    figures: dict[str, str],
    analysis: MetaAnalysisSettings,
) -> str:
    """The format's appendices, lettered in order, skipping those a review has nothing for:
    the technical detail (statistics, appraisal plots, study list, validation counts and
    input hashes) a reader may check but need not read to take in the findings."""
    parts: list[tuple[str, str, str]] = []  # (title, identifier, body without heading)
    if report_format == "summary-of-evidence":
        sof = summary_of_findings(res, heading="")
        if sof:
            parts.append(("Summary of findings tables", "summary-of-findings", sof))
        # The subgroup comparisons with their test (issue 14) close the outcome evidence.
        subgroups = subgroup_partials(res.subgroups)["subgroups.md"]
        detail = outcomes_section(res, analysis) + ("\n" + subgroups if subgroups else "")
        parts.append(("Outcome evidence in detail", "outcomes", detail))
        appraisal = appraisal_section(res, heading="")
        if appraisal:
            parts.append(("Quality of the evidence", "appraisal", appraisal))
        parts.append(("Study characteristics", "characteristics", what_we_did(res, figures)))
    parts.append(("Included studies", "included-studies", included_studies(res)))
    parts.append(("Method and audit", "method-audit", method_audit(res, analysis)))
    out = []
    for letter, (title, ident, body) in zip(APPENDIX_LETTERS, parts, strict=False):
        body = body.removeprefix("## \n")  # a section whose heading is this one
        out.append(f"## Appendix {letter}. {title} {{#{ident}}}\n\n{body}")
    return "\n".join(out)


def appraisal_section(
    res: ReviewResults, heading: str = "Quality of the evidence {#appraisal}"
) -> str:
    """The studies' appraisal as robvis draws it: the traffic-light and summary plots, with
    which tools appraised how many studies (from ``appraisal/summary.csv``). "" without it."""
    table = res.appraisal_summary
    if table.empty:
        return ""
    tools = table.drop_duplicates("tool")  # n_appraised is given on every row of a tool
    listed = "; ".join(
        f"{md(r['tool_label'])}: {study_word(int(r['n_appraised']))}" for _, r in tools.iterrows()
    )
    return "\n".join(
        [
            f"## {heading}\n",
            f"Each study was appraised with the tool that fits its design ({listed}). "
            "The judgements per study and domain, with the reviewers' support for each, are "
            "in `appraisal/by_study.csv`.\n",
            figure(
                "figures/appraisal_traffic_light.svg",
                "Appraisal of each study (traffic-light plot, as robvis draws it), one panel "
                "per appraisal tool: a row per study, a column per domain; colour and symbol "
                "give the judgement, with the key and the domains' names under each panel.",
                alt_text.appraisal(table, share=False),
                "fig-appraisal-traffic-light",
            ),
            figure(
                "figures/appraisal_summary.svg",
                "Appraisal summary per domain, one panel per tool: the share of the studies "
                "at each judgement, weighted by meta-analysis weight where the studies carry "
                "one (the panel's title says which).",
                alt_text.appraisal(table, share=True),
                "fig-appraisal-summary",
            ),
        ]
    )


def findings_warnings_line(res: ReviewResults) -> str:
    """The method audit's line on the findings stage's warnings, or "" without findings."""
    if res.summary_of_findings.empty and res.qualitative_findings.empty:
        return ""
    n = len(res.findings_warnings)
    if n == 0:
        return (
            "**Findings checks.** Every check the pipeline ran beside the review team's "
            "certainty and confidence ratings agreed with them (`findings/signals.csv`).\n"
        )
    return (
        f"**Findings checks.** {n} warning{'s' if n != 1 else ''} from the findings stage: "
        "where a check the pipeline ran disagrees with the review team's rating, or a "
        "rating is at odds with the guidance. The ratings shown are the team's; each "
        "warning names its finding in `findings/warnings.csv`.\n"
    )


def excluded_quality_phrase(excluded: tuple[str, ...]) -> str:
    """The studies a sensitivity analysis leaves out, for a caption: "rated low quality"."""
    names = [QUALITY.get(q, q).lower() for q in excluded]
    return "rated " + " or ".join(names) + (" quality" if "not_appraised" not in excluded else "")


def method_phrase(analysis: MetaAnalysisSettings) -> str:
    """The estimator as configured, e.g. "REML" or "DerSimonian–Laird, with the Hartung–Knapp
    adjustment"."""
    name = {"REML": "REML", "DL": "DerSimonian–Laird"}.get(analysis.method, analysis.method)
    return name + (", with the Hartung–Knapp adjustment" if analysis.hartung_knapp else "")


def outcomes_section(res: ReviewResults, analysis: MetaAnalysisSettings) -> str:
    if res.direction.empty:
        return "No included record reported an outcome that the codebook tracks.\n"
    out = [
        "Studies are counted by the direction of their effect, not by statistical "
        "significance (Cochrane Handbook, chapter 12). The sign test compares the studies "
        "showing benefit with those showing harm; studies with no effect, mixed or unclear "
        "results are shown but are not counted as votes.\n",
    ]
    rows = []
    for r in res.direction.itertuples(index=False):
        rows.append(
            [
                md(r.label),
                str(r.k),
                str(r.n_benefit),
                str(r.n_harm),
                str(r.n_no_effect),
                str(r.n_mixed),
                str(r.n_unclear),
                p_value(r.sign_test_p),
            ]
        )
    out.append(
        pipe_table(
            [
                "Outcome",
                "Studies",
                "Benefit",
                "Harm",
                "No effect",
                "Mixed",
                "Unclear",
                "Sign test p",
            ],
            rows,
            [24, 8, 8, 6, 9, 6, 8, 10],
            "lrrrrrrr",
            "Direction of effect by outcome",
        )
    )
    out.append(
        figure(
            "figures/effect_direction.svg",
            "Effect direction plot (Boon & Thomson 2021): one row per study reporting an outcome, "
            "one column per outcome. ▲ benefit, ▼ harm, ◆ mixed, ○ no effect, ? unclear; marker "
            "size shows sample size (< 50 or not reported, 50–300, > 300); rows are shaded by "
            "study quality. The last row gives the sign test of benefit against harm.",
            alt_text.effect_direction(res.direction),
            "fig-effect-direction",
        )
    )
    pooled = main_analyses(res.meta)
    if len(pooled):
        rows = [
            [
                md(r.label),
                md(EFFECT_MEASURES[r.effect_measure]),
                str(r.k),
                f"{number(r.estimate)} ({number(r.ci_lower)} to {number(r.ci_upper)})",
                f"{number(r.pi_lower)} to {number(r.pi_upper)}",
                f"{r.i2:.0f}%",
                r.method,
            ]
            for r in pooled.itertuples(index=False)
        ]
        out.append(
            pipe_table(
                [
                    "Outcome",
                    "Measure",
                    "k",
                    "Pooled (95% CI)",
                    "95% prediction interval",
                    "I²",
                    "Method",
                ],
                rows,
                [18, 18, 4, 18, 16, 6, 8],
                "llrllrl",
                "Random-effects meta-analyses (k ≥ 2 studies with an estimate)",
            )
        )
        out.append(
            figure(
                "figures/forest.svg",
                "Forest plots, one per pooled outcome and effect measure: study estimates with 95% "
                "confidence intervals (square size shows the random-effects weight), the pooled "
                "estimate (filled diamond), the 95% prediction interval (from "
                f"{prediction_interval_phrase(analysis)}"
                "), and, where some studies "
                f"were {excluded_quality_phrase(analysis.sensitivity_exclude_quality)}, the pooled "
                "estimate without them (hollow diamond).",
                alt_text.forest(pooled, res.outcomes, res.study_weights),
                "fig-forest",
            )
        )
        sens = res.meta[res.meta["analysis"] == "sensitivity"]
        without = sensitivity_label(analysis.sensitivity_exclude_quality)
        without = without[:1].lower() + without[1:]
        for r in sens.itertuples(index=False):
            out.append(
                f"Sensitivity analysis for {md(r.label)} ({r.effect_measure.upper()}), "
                f"{without}: {number(r.estimate)} (95% CI "
                f"{number(r.ci_lower)} to {number(r.ci_upper)}), k = {r.k}.\n"
            )
    return "\n".join(out)


def limitations(res: ReviewResults) -> str:
    n = res.n_included
    not_appraised = res.n_with("quality", "not_appraised")
    low = res.n_with("quality", "low")
    lines = [
        f"- {not_appraised} of {n} records were not appraised for quality and {low} were "
        "appraised as low quality.",
        "- Counts show how often a theme was discussed, not how strong the evidence for it is.",
    ]
    if len(res.direction):
        lines.append(
            "- Outcome evidence is summarised by direction of effect; pooled "
            "estimates appear only where two or more studies reported a comparable "
            "effect size."
        )
    return "\n".join(lines) + "\n"


def evidence_base(figures: dict[str, str]) -> str:
    return (
        f"This briefing draws on **{figures['n_studies']} records** "
        f"({figures['n_academic']} academic, {figures['n_grey']} grey literature, "
        f"{figures['year_min']}–{figures['year_max']}).\n"
    )


def at_a_glance(res: ReviewResults) -> str:
    return (
        "The evidence gap map shows, for each theme, how many studies also report each outcome "
        "and which way their results point; empty cells are gaps in the evidence.\n\n"
        + figure(
            "figures/gap_map.svg",
            "Evidence gap map: for each theme and sub-theme, the number of studies coded with it "
            "that report each outcome (bubble area and count). Colour shows the net direction, "
            "(benefit − harm) ÷ studies, from all harm (vermillion) to all benefit (blue); grey "
            "means no study in the cell found benefit or harm; a small dot marks a gap.",
            alt_text.gap_map(res.gap_map, res.themes, res.direction)
            if len(res.gap_map)
            else "Bubble grid of themes (rows) by outcomes (columns); bubble size is the number "
            "of studies, colour their net direction of effect, and small dots mark gaps.",
            "fig-gap-map",
        )
    )


def further_reading(narrative: dict[str, str]) -> str:
    text = narrative.get("further-reading", "")
    return f"## Further resources for practitioners {{#further-reading}}\n\n{text}" if text else ""


def included_studies(res: ReviewResults) -> str:
    rows = []
    design = res.codebook.vocabularies["design"]
    for r in res.studies.sort_values("study_id").itertuples(index=False):
        rows.append(
            [
                md(r.study_id),
                cite_in_text(r.study_id, res.references, md(r.citation)),
                md(r.year),
                md(SOURCE_SHORT.get(r.source_type, r.source_type)),
                md(label_of(design, r.design)),
                md(label_of(QUALITY, r.quality)),
            ]
        )
    id_width = max([7] + [len(r.study_id) + 2 for r in res.studies.itertuples(index=False)])
    return pipe_table(
        ["ID", "Citation", "Year", "Source", "Design", "Quality"],
        rows,
        [id_width, 51 - id_width, 6, 10, 18, 12],
        caption=f"The {len(rows)} included records",
    )


def method_audit(res: ReviewResults, analysis: MetaAnalysisSettings) -> str:
    v = res.validation
    out = [
        "This report was generated by evsynth from the review's coded extraction sheets. "
        "Each number can be traced: `validation/issues.csv` lists every finding by sheet, row "
        "and column; `tallies/themes.csv` lists the study IDs behind every theme count; "
        "`provenance.json` records the inputs' hashes and the software versions.\n",
        "**Methods.** Themes are counted once per record, rolled up from sub-themes to parent "
        "themes. Outcome direction is vote-counted by direction of effect with an exact "
        "two-sided sign test (Cochrane Handbook ch. 12; SWiM). Pooled estimates use a "
        f"random-effects model ({method_phrase(analysis)}) with 95% confidence and "
        "prediction intervals, the prediction interval from "
        f"{prediction_interval_phrase(analysis)}; "
        "ratio measures are pooled on the log scale.\n",
    ]
    rows = [
        [md(name), str(s["rows_read"]), str(s["rows_valid"]), str(s["errors"]), str(s["warnings"])]
        for name, s in sorted(v.get("sheets", {}).items())
    ]
    out.append(
        pipe_table(
            ["Sheet", "Rows read", "Rows valid", "Errors", "Warnings"],
            rows,
            [14, 10, 10, 8, 10],
            "lrrrr",
            "Validation summary",
        )
    )
    hashes = [
        [md(Path(p).name), f"`{h[:16]}`"]
        for p, h in sorted({**v.get("inputs", {}), **v.get("codebook", {})}.items())
    ]
    out.append(
        pipe_table(
            ["Input file", "SHA-256 (first 16 hex digits)"], hashes, [30, 30], caption="Input files"
        )
    )
    agreement = res.agreement
    if len(agreement):
        overall = agreement[agreement["code"] == "(all codes)"].iloc[0]
        kappa = overall["kappa"]
        n_double = int(agreement["n_double_coded"].iloc[0])  # the same for every code
        out.append(
            f"**Double coding.** {n_double} records were coded by two coders; pooled "
            "over all codes, agreement was "
            f"{overall['pct_agreement']:.1f}% (Cohen's κ = {number(kappa)}). "
            "Per-code figures are in `tallies/agreement.csv`.\n"
        )
    if not (res.summary_of_findings.empty and res.qualitative_findings.empty):
        out.append(
            "**Certainty of the findings.** Effect findings are rated with GRADE: the rating "
            "starts high when every contributing study is randomised and low otherwise "
            "(unless the review team sets it), drops one level per serious and two per very "
            "serious concern, rises for a large effect, a dose-response or opposing "
            "confounding, and stays between very low and high. Qualitative "
            "findings are rated with GRADE-CERQual, whose overall confidence is the review "
            "team's judgement. The plain-language statements follow GRADE guidance 26 "
            "(Santesso et al., J Clin Epidemiol 2020;119:126–135).\n"
        )
    warnings = findings_warnings_line(res)
    if warnings:
        out.append(warnings)
    return "\n".join(out)


def build_partials(
    res: ReviewResults,
    settings: dict,
    report_format: str,
    narrative_dir: Path | None,
    analysis: MetaAnalysisSettings,
) -> dict[str, str]:
    """Every ``_generated/`` file of a report: path relative to ``_generated/`` -> Markdown."""
    figures = live_figures(res)
    narrative = narrative_partials(narrative_dir, report_format, figures)
    partials = {
        f"narrative/{k}.md": v
        for k, v in narrative.items()
        if not k.startswith(THEME_SECTION_PREFIX)
    }
    partials.update(
        {
            "notice.md": notice(settings, draft=narrative_dir is None),
            "what-we-did.md": what_we_did(res, figures),
            "key-findings.md": key_findings(res, narrative),
            "outcomes.md": outcomes_section(res, analysis),
            "limitations.md": limitations(res),
            "evidence-base.md": evidence_base(figures),
            "at-a-glance.md": at_a_glance(res),
            "summary-of-findings.md": summary_of_findings(res),
            "key-message-findings.md": key_message_findings(res),
            "appraisal.md": appraisal_section(res),
            "further-reading.md": further_reading(narrative),
            # The short formats' shapes (issue 13): findings in words, one view per theme.
            "key-findings-box.md": key_findings_box(res),
            "themes-with-tables.md": theme_sections(res, narrative, table=True),
            "themes-in-words.md": theme_sections(res, narrative, table=False),
            "plain-evidence-table.md": plain_evidence_table(res),
            "records.md": records_sentence(res, figures),
            "companion.md": companion_pointer(settings, report_format),
            "appendices.md": appendices(res, report_format, figures, analysis),
            **small_study_partials(res.small_study, main_analyses(res.meta), res.outcomes),
            **subgroup_partials(res.subgroups),
            **sensitivity_partials(res.meta, res.leave_one_out),
            **effect_size_partials(res.meta, res.outcomes),
        }
    )
    # Methods from the config's protocol block; a missing or incomplete one is a draft.
    partials.update(
        protocol_partials(
            settings,
            method_phrase(analysis),
            excluded_quality_phrase(analysis.sensitivity_exclude_quality),
        )
    )
    partials["notice.md"] += draft_notice(settings)
    return partials


def metadata(settings: dict, report_format: str) -> dict:
    """Document metadata (``_metadata.yml``); user text escaped, as Markdown metadata is."""
    meta = {
        "title": md(settings["title"]),
        "format-label": FORMAT_LABELS[report_format],
        "lang": "en-GB",
    }
    if settings.get("subtitle"):
        meta["subtitle"] = md(settings["subtitle"])
    if settings.get("organisation"):  # the key of earlier configs; publication's wins
        meta["organisation"] = md(settings["organisation"])
    if settings.get("illustrative"):
        meta["notice"] = "Illustrative data: not real findings"
    # Subject and keywords of the PDF and Word files: what the document is, and its topics.
    meta["subject"] = md(
        f"{FORMAT_LABELS[report_format]}: {settings['subtitle']}"
        if settings.get("subtitle")
        else FORMAT_LABELS[report_format]
    )
    publication = read_publication(settings)
    meta.update(
        publication_metadata(
            publication,
            settings["title"],
            FORMAT_LABELS[report_format],
            bool(settings.get("illustrative")),
        )
    )
    reasons = draft_reasons(settings, publication)
    if reasons:
        meta["draft"] = True
        meta["draft-reasons"] = md("; ".join(reasons))
    return meta


def draft_reasons(settings: dict, publication: Publication | None) -> list[str]:
    """Why the report is a draft (none: it is not), as its footer and masthead say it."""
    reasons = []
    if not settings.get("narrative"):
        reasons.append("figures only, no narrative yet")
    if is_draft(settings):
        reasons.append("review protocol incomplete")
    if publication is None:
        reasons.append("no imprint yet")
    return reasons
