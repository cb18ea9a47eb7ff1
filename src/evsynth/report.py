"""Report content: the Markdown partials that fill a format's Quarto source.

Everything here reads result files and formats them; nothing is computed anew (the numbers
come from the tally and outcomes stages). All text that came from the sheets or the codebook
goes through :func:`evsynth.escape.markdown_text`. The lead's narrative is their own Markdown
and is kept as written, with live figures filled in.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evsynth.codebook import Codebook, load_codebook
from evsynth.contract import EFFECT_MEASURES, QUALITY
from evsynth.escape import markdown_text as md
from evsynth.handoff import read_typed
from evsynth.narrative import SECTIONS, THEME_SECTION_PREFIX, fill, narrative_files
from evsynth.narrative_markup import expand_includes
from evsynth.outcomes import MetaAnalysisSettings, sensitivity_label
from evsynth.tables import read_results

FORMAT_LABELS = {
    "summary-of-evidence": "Summary of evidence",
    "strategic-briefing": "Strategic briefing",
}
FIGURE_WIDTH = "100%"
SOURCE_SHORT = {"academic": "Academic", "grey": "Grey"}


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


def pct(value: float) -> str:
    return f"{value:.0f}%"


def p_value(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def number(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def pooled_text(row: pd.Series) -> str:
    return (
        f"{number(row['estimate'])} (95% CI {number(row['ci_lower'])} to {number(row['ci_upper'])})"
    )


def pipe_table(
    headers: list[str],
    rows: list[list[str]],
    widths: list[int],
    align: str | None = None,
    caption: str | None = None,
) -> str:
    """A Markdown pipe table; ``widths`` are relative column widths, ``align`` 'l'/'r' each.

    Cells must already be Markdown (escaped where they hold free text).
    """
    align = align or "l" * len(headers)
    rule = [
        ("-" * (w - 1) + ":") if a == "r" else ("-" * w) for w, a in zip(widths, align, strict=True)
    ]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    if caption:
        lines += ["", f": {caption}"]
    return "\n".join(lines) + "\n"


def figure(path: str, caption: str, alt: str, ident: str) -> str:
    alt_attr = alt.replace("\\", "\\\\").replace('"', '\\"')
    return f'![{caption}]({path}){{#{ident} fig-alt="{alt_attr}" width="{FIGURE_WIDTH}"}}\n'


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
    return figures


def main_analyses(meta: pd.DataFrame) -> pd.DataFrame:
    return meta[meta["analysis"] == "main"] if len(meta) else meta


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
                "Flow diagram from records identified, through duplicates removed "
                "and screening exclusions, to full-text exclusions by reason and the "
                f"{figures['n_studies']} studies included.",
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
            "Horizontal bar chart of the number and percentage of included records coded "
            "with each theme, with sub-themes indented under their parent theme.",
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
        text = narrative.get(f"{THEME_SECTION_PREFIX}{top.code}", "")
        if text:
            out.append(text)
    return "\n".join(out)


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
            "Grid of studies (rows, grouped by quality) by outcomes (columns), with an upward, "
            "downward, diamond, circle or question-mark marker where a study reported the outcome, "
            "and the sign-test p value under each outcome.",
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
                "estimate (filled diamond), the 95% prediction interval, and, where some studies "
                f"were {excluded_quality_phrase(analysis.sensitivity_exclude_quality)}, the pooled "
                "estimate without them (hollow diamond).",
                "Forest plots, one panel per pooled outcome, listing each study's estimate and 95% "
                "confidence interval and weight, the pooled random-effects estimate and its "
                "prediction interval.",
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


def at_a_glance() -> str:
    return (
        "The evidence gap map shows, for each theme, how many studies also report each outcome "
        "and which way their results point; empty cells are gaps in the evidence.\n\n"
        + figure(
            "figures/gap_map.svg",
            "Evidence gap map: for each theme and sub-theme, the number of studies coded with it "
            "that report each outcome (bubble area and count). Colour shows the net direction, "
            "(benefit − harm) ÷ studies, from all harm (vermillion) to all benefit (blue); grey "
            "means no study in the cell found benefit or harm; a small dot marks a gap.",
            "Bubble grid of themes (rows) by outcomes (columns); bubble size is the number of "
            "studies, colour their net direction of effect, and small dots mark theme–outcome "
            "pairs with no studies.",
            "fig-gap-map",
        )
    )


def further_reading(narrative: dict[str, str]) -> str:
    text = narrative.get("further-reading", "")
    return f"## Further reading {{#further-reading}}\n\n{text}" if text else ""


def included_studies(res: ReviewResults) -> str:
    rows = []
    design = res.codebook.vocabularies["design"]
    for r in res.studies.sort_values("study_id").itertuples(index=False):
        rows.append(
            [
                md(r.study_id),
                md(r.citation),
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
        "prediction intervals; ratio measures are pooled on the log scale.\n",
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
            "at-a-glance.md": at_a_glance(),
            "further-reading.md": further_reading(narrative),
            "included-studies.md": included_studies(res),
            "method-audit.md": method_audit(res, analysis),
        }
    )
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
    if settings.get("organisation"):
        meta["organisation"] = md(settings["organisation"])
    if settings.get("illustrative"):
        meta["notice"] = "Illustrative data: not real findings"
    if not settings.get("narrative"):
        meta["draft"] = True
    return meta
