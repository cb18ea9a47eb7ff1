"""The two bundled example reviews, rendered in their house formats and read back as a
reader would: PDF text (PDFium, tests/pdf_text.py) and the HTML page."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import yaml
from docx import Document
from pypdf import PdfReader

from conftest import REPO
from pdf_text import page_texts, pdf_text
from test_workflow import snakemake

pytestmark = pytest.mark.workflow

#: Each format's sections in order, as its model has them (issue 13): findings first, the
#: statistics and the audit in lettered appendices.
SUMMARY_HEADINGS = [
    "Key findings",
    "Why we did this review",
    "How we did it",
    "What we found",
    "Recommendations",
    "Limitations",
    "Appendix A. Summary of findings tables",
    "Appendix B. Outcome evidence in detail",
    "Appendix C. Quality of the evidence",
    "Appendix D. Study characteristics",
    "Appendix E. Included studies",
    "Appendix F. Method and audit",
]
BRIEFING_HEADINGS = [
    "Key messages",
    "Context",
    "What the evidence tells us",
    "Implications for practice and for leaders",
    "Reflective questions",
    "Further resources for practitioners",
    "Appendix A. Included studies",
    "Appendix B. Method and audit",
]
#: The strategic briefing's body (key messages to further resources) fits this many A4 pages.
BRIEFING_BODY_PAGES = 8


def body_of(text: str, opener: str) -> str:
    """The document's body: from its opening box (``opener``, a box title, which the contents
    do not list) to its first appendix."""
    return text[text.index(opener) :].split("Appendix A.", 1)[0]


def in_order(text: str, headings: list[str]) -> bool:
    """Whether every heading is in ``text``, in this order."""
    at = 0
    for heading in headings:
        at = text.find(heading, at)
        if at < 0:
            return False
    return True


def words(text: str) -> str:
    return " ".join(text.split())


def flat(text: str) -> str:
    """Text without white space or hyphens (Typst hyphenates prose and table cells: "uncer-
    tain", and soft hyphens in "Re\u00adoffending"), for finding a sentence in PDF text."""
    return "".join(text.split()).replace("-", "").replace("\u00ad", "")


def pdf_words(path: Path) -> str:
    return words(pdf_text(path))


def body_words(path: Path) -> str:
    """The PDF's text without its running header and footer (the first and last line of each
    page after the cover), so that a sentence broken across pages reads whole."""
    pages = [page.splitlines() for page in page_texts(path)]
    return words("\n".join("\n".join(lines[1:-1]) for lines in pages[1:]))


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_summary_of_evidence_pdf(examples: Path):
    base = examples / "results/culturally-responsive"
    text = pdf_words(base / "report/summary-of-evidence.pdf")
    assert in_order(text, SUMMARY_HEADINGS)
    assert "Illustrative data" in text
    assert "We included 46 records: 26 from the academic literature and 20 from the grey" in text
    squeezed = flat(text)
    # The key findings box opens the body: every finding with its certainty or confidence.
    box = flat(text.split("Key findings", 1)[1].split("Why we did this review", 1)[0])
    for finding in rows(base / "findings/summary_of_findings.csv"):
        assert flat(finding["plain_language"]) in box
        assert flat(f"({finding['certainty'].replace('_', ' ').capitalize()} certainty") in box
    for finding in rows(base / "findings/qualitative_findings.csv"):
        assert flat(finding["statement"]) in box
        level = finding["confidence"].replace("_", " ").capitalize()
        assert flat(f"({level} confidence; {len(finding['study_ids'].split(';'))} studies.)") in box
    # One view of each theme's numbers: its sub-theme table, not also the all-themes chart.
    body = body_of(text, "Key findings")
    themes = {r["code"]: r for r in rows(base / "tallies/themes.csv")}
    assert f"coded in {themes['cc']['n_studies']} of 46 included records" in body
    assert "Included records coded with each theme" not in body
    # The subgroup, leave-one-out and small-study results, one plain sentence each (issue 14).
    squeezed_body = flat(body)
    assert flat("by delivering organisation") in squeezed_body
    assert flat("(test for subgroup differences, p = ") in squeezed_body
    assert flat("leaving out a single study") in squeezed_body
    assert flat("No outcome had the 10 or more studies needed") in squeezed_body
    assert "Input files" not in body and "SHA-256" in text  # hashes in the appendix
    assert "PRISMA 2020 flow diagram" in text
    # The appendix lists every included record.
    for study in rows(base / "clean/studies.csv"):
        assert study["study_id"] in text
    # Per theme, the findings in words with their confidence and studies, and the live
    # figures citing them ({{certainty:ID}}, {{studies:ID}}).
    assert flat("Qualitative findings (GRADE-CERQual)") in squeezed
    for finding in rows(base / "findings/qualitative_findings.csv"):
        assert flat(finding["statement"]) in squeezed, finding["finding_id"]
        assert flat(finding["study_ids"].replace(";", ", ")) in squeezed
    trust = next(
        r
        for r in rows(base / "findings/qualitative_findings.csv")
        if r["finding_id"] == "trust-and-racism"
    )
    ids = trust["study_ids"].split(";")
    assert (
        flat(
            f"we have {trust['confidence']} confidence in the one on trust and experiences of "
            f"racism, drawn from {', '.join(ids[:-1])} and {ids[-1]}."
        )
        in squeezed
    )
    assert flat("Appraisal of each study (traffic-light plot") in squeezed
    reader = PdfReader(base / "report/summary-of-evidence.pdf")
    assert reader.metadata.title.startswith("Culturally responsive interventions")
    assert reader.outline, "the PDF has bookmarks"


def test_strategic_briefing_pdf(examples: Path):
    base = examples / "results/families"
    pdf = base / "report/strategic-briefing.pdf"
    text = pdf_words(pdf)
    assert in_order(text, BRIEFING_HEADINGS)
    assert "This briefing draws on 32 records" in text
    body = body_of(text, "Key messages")
    # For leaders, no statistics in the body: the pooled estimates are in the evidence review.
    pooled = [r for r in rows(base / "outcomes/meta_analysis.csv") if r["analysis"] == "main"]
    assert pooled
    for r in pooled:
        assert f"{float(r['estimate']):.2f} (95% CI" not in body
    assert "sign test" not in body.lower() and "Forest plot" not in body
    assert flat("leaving out a single study changed whether") in flat(body)
    assert "FA32" in text
    # The key messages lead with the findings in plain words; the pooled re-offending
    # finding's prediction interval crosses no effect, and the message says so plainly.
    key = flat(text.split("Key messages", 1)[1].split("Context", 1)[0])
    sof = {r["finding_id"]: r for r in rows(base / "findings/summary_of_findings.csv")}
    every = sof["reoffending-all"]
    assert float(every["pi_lower"]) < 1 < float(every["pi_upper"])
    assert every["ci_crosses_no_effect"] == "false" and every["pi_crosses_no_effect"] == "true"
    assert flat(every["plain_language"]) in key
    assert flat("in a new setting the work may make no difference") in key
    assert flat("How sure we are: very low certainty") in key
    assert key.index(flat(every["plain_language"])) < key.index(flat("Every figure in this"))
    assert flat("Taking them all together, our certainty is very low") in flat(body)
    # The one plain evidence table: GRADE's symbols with the certainty, and the study IDs.
    table = flat(body.split("What the evidence says about outcomes", 1)[1])
    assert flat("⊕◯◯◯ Very low") in table and flat("⊕⊕⊕◯ Moderate") in table
    for finding in sof.values():
        assert flat(finding["study_ids"].replace(";", ", ")) in table
    assert "Findings checks. 1 warning from the findings stage" in text
    assert "findings/warnings.csv" in text


def test_strategic_briefing_body_fits_eight_pages(examples: Path):
    """The briefing's body, from its key messages to its further resources, within eight A4
    pages (issue 13); the appendices follow."""
    pdf = examples / "results/families/report/strategic-briefing.pdf"
    reader = PdfReader(pdf)
    pages = [words(page) for page in page_texts(pdf)]
    first = next(i for i, page in enumerate(pages) if "Key messages" in page)
    # The last page naming the first appendix: the contents name it too.
    appendix = max(i for i, page in enumerate(pages) if "Appendix A. Included studies" in page)
    body_pages = appendix - first + 1
    print(f"strategic briefing: {len(pages)} pages, body {body_pages} pages")
    assert body_pages <= BRIEFING_BODY_PAGES
    for page in reader.pages[:appendix]:
        assert page.mediabox.width == pytest.approx(595.28, abs=0.5)  # A4
        assert page.mediabox.height == pytest.approx(841.89, abs=0.5)


@pytest.mark.parametrize(
    "review, fmt, headings",
    [
        ("culturally-responsive", "summary-of-evidence", SUMMARY_HEADINGS),
        ("families", "strategic-briefing", BRIEFING_HEADINGS),
    ],
)
def test_html_is_self_contained_with_every_section(examples: Path, review, fmt, headings):
    html = words((examples / f"results/{review}/report/{fmt}.html").read_text("utf-8"))
    for heading in headings:
        assert heading in html, heading
    assert 'src="http' not in html and 'href="http' not in html.split("</head>")[0]
    assert "<img" in html and 'alt="' in html
    assert 'name="viewport"' in html


def test_editing_one_narrative_file_rerenders_that_report_alone(examples: Path, tmp_path: Path):
    # On a copy: even a dry run removes the results an edit makes stale (evsynth.integrity),
    # and the other tests read the examples' reports.
    examples = Path(shutil.copytree(examples, tmp_path / "examples", symlinks=True))
    target = examples / "reports/narrative/families/context.md"
    target.write_text(target.read_text("utf-8") + "\nOne more sentence.\n", "utf-8")
    done = snakemake(examples, "--dry-run")
    assert done.returncode == 0
    plan = done.stdout.splitlines()
    wildcards = [line.strip() for line in plan if line.strip().startswith("wildcards:")]
    assert wildcards and all("review=families" in line for line in wildcards), wildcards
    stats = plan[plan.index("Job stats:") + 3 :]  # after the "job count" header and its rule
    jobs = {
        line.split()[0]
        for line in stats[: stats.index(next(line for line in stats if line.startswith("total")))]
    }
    # The narrative check, the render, and the bookkeeping that lists their outputs; no
    # validation, tallies or outcomes, and nothing for the other review.
    assert jobs == {"check_narrative", "render", "provenance", "datapackage", "all"}, jobs


# --- The evidence review, and a review rendering two formats (issue 13) ----------------------

#: The evidence review's sections, in order (its PDF outline, HTML and Word headings); other
#: sections (the reference list) may sit between them.
EVIDENCE_REVIEW_HEADINGS = [
    "Introduction",
    "Review question and methods",
    "Studies found and their characteristics",
    "Quality of the evidence",
    "Thematic synthesis",
    "Effect direction and meta-analyses",
    "Summary of findings",
    "Limitations",
    "Conclusion",
    "Appendix A. Included studies",
    "Appendix B. Method and audit",
]
FAMILIES_FORMATS = {
    "evidence-review": "Evidence review",
    "strategic-briefing": "Strategic briefing",
}


def headings_in_order(found: list[str], expected: list[str]) -> bool:
    """Whether ``expected`` appears in ``found`` in this order (others may come between)."""
    rest = iter(found)
    return all(any(heading == f for f in rest) for heading in expected)


def html_headings(path: Path) -> list[str]:
    html = path.read_text("utf-8")
    return [
        " ".join(re.sub(r"<[^>]+>", "", h).split())
        for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html, re.S)
    ]


def test_families_renders_both_formats_each_in_its_own_folder(examples: Path):
    base = examples / "results/families/report"
    assert sorted(p.name for p in base.iterdir() if p.is_file()) == sorted(
        f"{fmt}.{ext}" for fmt in FAMILIES_FORMATS for ext in ("docx", "html", "pdf")
    )
    for fmt, label in FAMILIES_FORMATS.items():
        # Each format staged apart, so the two renders share no intermediates.
        assert (base / "source" / fmt / f"{fmt}.qmd").is_file()
        assert (base / "source" / fmt / "_generated" / "methods.md").is_file()
        reader = PdfReader(base / f"{fmt}.pdf")
        assert len(reader.pages) >= 3
        assert label in page_texts(base / f"{fmt}.pdf")[1]  # the running header
        html = (base / f"{fmt}.html").read_text("utf-8")
        assert label in html
        document = Document(str(base / f"{fmt}.docx"))
        assert any(p.style.name == "Heading 1" for p in document.paragraphs)
    assert not (base / "source" / "_generated").exists()  # nothing staged outside a format


def test_evidence_review_has_every_section_in_order(examples: Path):
    base = examples / "results/families/report"
    outline = [
        o.title for o in PdfReader(base / "evidence-review.pdf").outline if not isinstance(o, list)
    ]
    assert headings_in_order(outline, EVIDENCE_REVIEW_HEADINGS), outline
    html = html_headings(base / "evidence-review.html")
    assert headings_in_order(html, EVIDENCE_REVIEW_HEADINGS), html
    document = Document(str(base / "evidence-review.docx"))
    word = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings_in_order(word, EVIDENCE_REVIEW_HEADINGS), word
    # The full account shows what the briefing leaves out: every figure of the review.
    text = pdf_words(base / "evidence-review.pdf")
    for caption in ("Effect direction plot", "Forest plots", "Evidence gap map"):
        assert caption in text, caption
    assert "Effect findings (GRADE)" in text and "Qualitative findings (GRADE-CERQual)" in text
    # The lead's introduction and conclusion, with their live figures filled in.
    assert "This evidence review gives the full account" in text
    assert "Across 32 illustrative records" in text


def test_evidence_review_methods_show_the_protocol(examples: Path):
    protocol = yaml.safe_load((examples / "config.yaml").read_text("utf-8"))["reviews"]["families"][
        "protocol"
    ]
    text = pdf_words(examples / "results/families/report/evidence-review.pdf")
    methods = flat(text.split("Review question and methods", 2)[2].split("Studies found and", 1)[0])
    expected = [
        protocol["question"],
        *protocol["include"],
        *protocol["exclude"],
        *protocol["sources"],
        protocol["search_dates"],
        protocol["screening"],
        protocol["appraisal"],
        protocol["synthesis"],
    ]
    positions = [methods.find(flat(item)) for item in expected]
    assert -1 not in positions, [e for e, p in zip(expected, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    for item in ("Grouping studies", "Standardised metric", "Certainty of evidence"):
        assert flat(item) in methods, item  # SWiM's items
    assert flat("random-effects meta-analysis (REML)") in methods
    # A complete protocol: no draft box for it in either format.
    for fmt in FAMILIES_FORMATS:
        html = (examples / f"results/families/report/{fmt}.html").read_text("utf-8")
        assert "review protocol" not in html.lower(), fmt


# --- References (issue 13): citeproc with the bundled APA style --------------------------------

REFERENCE_REPORTS = [
    ("culturally-responsive", "summary-of-evidence"),
    ("families", "evidence-review"),
    ("families", "strategic-briefing"),
]
#: An APA reference list entry of the examples' fictional references: "Illustrative Study 07.
#: (2011)." (the group author, then the year).
APA_ENTRY = re.compile(r"Illustrative Study (\d\d)\. \((\d{4})\)\.")


def study_years(examples: Path, review: str) -> dict[str, str]:
    return {r["study_id"]: r["year"] for r in rows(examples / f"data/raw/{review}/studies.csv")}


def listed(text: str, prefix: str) -> list[str]:
    """The study IDs of the reference list's entries, in the order printed."""
    return [f"{prefix}{number}" for number, _ in APA_ENTRY.findall(text)]


@pytest.mark.parametrize(("review", "fmt"), REFERENCE_REPORTS)
def test_reference_list_is_complete_and_sorted_in_html_pdf_and_word(
    examples: Path, review: str, fmt: str
):
    years = study_years(examples, review)
    prefix = next(iter(years))[:2]
    expected = sorted(years)  # APA sorts by author: "Illustrative Study 01" < "… 02" < …
    base = examples / f"results/{review}/report"

    html = (base / f"{fmt}.html").read_text("utf-8")
    heading = html.index('<section id="references"')
    refs = html[html.index('id="refs"', heading) :]
    assert re.findall(r'<div id="ref-([^"]+)" class="csl-entry"', refs) == expected
    assert listed(words(re.sub(r"<[^>]+>", "", refs)), prefix) == expected

    text = pdf_words(base / f"{fmt}.pdf")
    # The last "References" is the list's heading (the contents lists it first).
    pdf_refs = text[text.rindex("References") :].replace("\u00ad", "")
    assert listed(pdf_refs, prefix) == expected

    paragraphs = [p.text for p in Document(str(base / f"{fmt}.docx")).paragraphs]
    start = max(i for i, p in enumerate(paragraphs) if p.strip() == "References")
    assert listed(words(" ".join(paragraphs[start:])), prefix) == expected
    # Each entry carries its year as the studies sheet gives it.
    for number, year in APA_ENTRY.findall(pdf_refs):
        assert years[f"{prefix}{number}"] == year


def test_findings_cite_their_studies_in_the_text(examples: Path):
    """A qualitative finding's studies are cited author-date, linked to the list, in the
    HTML, and printed the same way in the PDF and the Word file."""
    review, fmt = "culturally-responsive", "summary-of-evidence"
    years = study_years(examples, review)
    finding = rows(examples / f"results/{review}/findings/qualitative_findings.csv")[0]
    first = sorted(finding["study_ids"].split(";"))[0]
    citation = f"Illustrative Study {first[2:]}, {years[first]}"
    base = examples / f"results/{review}/report"
    html = (base / f"{fmt}.html").read_text("utf-8")
    assert f'<a href="#ref-{first}" role="doc-biblioref">{citation}</a>' in html
    assert flat(f"({citation};") in flat(body_words(base / f"{fmt}.pdf"))
    docx_text = " ".join(p.text for p in Document(str(base / f"{fmt}.docx")).paragraphs)
    assert f"({citation};" in docx_text
    # The included-studies table names each study in the text form: "Author (year)".
    assert f'Illustrative Study {first[2:]} (<a href="#ref-{first}"' in html


def example_formats(examples: Path) -> list[tuple[str, str, dict]]:
    """(review, format, review settings) for every format each example renders."""
    config = yaml.safe_load((examples / "config.yaml").read_text("utf-8"))
    out = []
    for review, settings in sorted(config["reviews"].items()):
        formats = settings["report"]
        for fmt in [formats] if isinstance(formats, str) else formats:
            out.append((review, fmt, settings))
    return out


def test_every_format_has_a_cover_an_imprint_and_metadata_from_the_config(examples: Path):
    """Issue 13, item 1: page 1 is the cover (and nothing else), page 2 holds the contents and
    the imprint; PDF and Word metadata and dates come from the publication block, never the
    clock; the HTML has the masthead and the imprint panel."""
    from evsynth.imprint import display_name
    from evsynth.report import FORMAT_LABELS

    assert len(example_formats(examples)) == 3
    for review, fmt, settings in example_formats(examples):
        pub = settings["publication"]
        label = FORMAT_LABELS[fmt]
        authors = [display_name(a) for a in pub["authors"]]
        base = examples / f"results/{review}/report"
        reader = PdfReader(base / f"{fmt}.pdf")
        info = reader.metadata
        assert info.title == settings["title"], fmt
        assert info.author == ", ".join(authors)
        assert info.subject == f"{label}: {settings['subtitle']}"
        assert info["/Keywords"] == ", ".join(pub["keywords"])
        assert info["/CreationDate"] == f"D:{pub['date'].replace('-', '')}000000Z"
        # The cover: format, title (no word hyphenated), subtitle, authors, organisation,
        # date and version; no contents, no page number.
        cover = page_texts(base / f"{fmt}.pdf")[0]
        assert "\u00ad" not in cover and not re.search(r"\w-\n", cover), cover
        for text in (label.upper(), settings["title"], pub["organisation"], pub["version"]):
            assert words(text) in words(cover), (fmt, text)
        assert all(name in cover for name in authors)
        assert "Contents" not in cover and "Page 1 of" not in cover
        second = words(page_texts(base / f"{fmt}.pdf")[1])
        assert "Contents" in second and "About this publication" in second
        for key in ("licence", "funder"):
            assert flat(pub[key]) in flat(second), (fmt, key)
        assert flat(f"Version: {pub['version']}") in flat(second)
        # The HTML: masthead from the config, then the imprint panel.
        page = (base / f"{fmt}.html").read_text("utf-8")
        assert f'<span class="evs-organisation">{pub["organisation"]}</span>' in page
        assert f'<span class="evs-format">{label}</span>' in page
        assert '<div class="abstract-title">About this publication</div>' in page
        assert 'class="evs-draft"' not in page  # narrative, protocol and imprint all given
        # Word: core properties and the imprint paragraphs.
        document = Document(str(base / f"{fmt}.docx"))
        core = document.core_properties
        assert (core.title, core.author) == (settings["title"], "; ".join(authors))
        assert core.subject == f"{label}: {settings['subtitle']}"
        assert core.keywords == ", ".join(pub["keywords"])
        assert core.created.date().isoformat() == pub["date"]
        styled = [(p.style.name, p.text) for p in document.paragraphs]
        assert ("Abstract Title", "About this publication") in styled
        assert any(s == "Abstract" and t.startswith("Suggested citation:") for s, t in styled)


# --- Layout, measured (issue 13, item 6) ---------------------------------------------------------


def example_reports(examples: Path, suffix: str) -> list[Path]:
    found = sorted((examples / "results").glob(f"*/report/*.{suffix}"))
    assert len(found) >= 3, found  # every format of both examples
    return found


def test_no_page_but_the_last_is_mostly_blank(examples: Path):
    """The blank-page check (evsynth.layout) on every PDF the examples render: no page but a
    format's last has more than 40% of its body blank below its last content."""
    from evsynth.layout import blank_shares, failing_pages

    for pdf in example_reports(examples, "pdf"):
        shares = blank_shares(pdf)
        measured = ", ".join(f"{p.page}: {p.blank_share:.0%}" for p in shares)
        print(f"{pdf.parent.parent.name}/{pdf.name}: {len(shares)} pages ({measured})")
        assert not failing_pages(shares), f"{pdf.name}: {measured}"


def test_html_and_pdf_name_the_same_format(examples: Path):
    """The HTML masthead, the PDF cover and the PDF running header carry one format label."""
    from evsynth.report import FORMAT_LABELS

    for html in example_reports(examples, "html"):
        label = FORMAT_LABELS[html.stem]
        page = html.read_text("utf-8")
        assert re.findall(r'<span class="evs-format">([^<]*)</span>', page) == [label]
        pages = page_texts(html.with_suffix(".pdf"))
        assert label.upper() in pages[0]
        header = pages[2].splitlines()[0]
        assert header.endswith(label), (html.name, header)
        others = set(FORMAT_LABELS.values()) - {label}
        assert not any(f'"evs-format">{o}<' in page for o in others)


def test_phone_tables_scroll_with_a_cue_and_figures_scale(examples: Path):
    """At 390 px every table scrolls sideways inside a focusable wrapper that shows a hint
    (wide tables) and a scroll bar; figures are not held wider than the screen."""
    css = (REPO / "reports/_assets/report.css").read_text("utf-8")
    assert "Scroll sideways" in css and ".evs-scroll::-webkit-scrollbar-thumb" in css
    assert not re.search(r"img[^{]*\{[^}]*width:\s*\d+rem", css), "a figure held at a width"
    for html in example_reports(examples, "html"):
        page = html.read_text("utf-8")
        tables = page.count("<table")
        wrapped = re.findall(r'<div class="evs-scroll[^"]*"[^>]*>\s*<table', page)
        assert tables and len(wrapped) == tables, (html.name, tables, len(wrapped))
        assert all('tabindex="0"' in w and 'role="region"' in w for w in wrapped)
        assert 'class="evs-scroll evs-wide"' in page  # some table is wide enough for the hint


def alt_texts(page: str) -> str:
    """Every image's alt text in the page (figures are inlined as data: URIs), unescaped."""
    import html

    return " ".join(html.unescape(a) for a in re.findall(r'<img [^>]*?\balt="([^"]*)"', page))


def test_figures_carry_their_data_in_the_alt_text(examples: Path):
    """The themes chart's alt text lists each theme with its count and percentage; the forest
    plot's each study's estimate and CI and each pooled estimate (read from the result
    tables, so a wrong number in the alt text fails here)."""
    charts = {"themes": 0, "forest": 0}
    for html in example_reports(examples, "html"):
        base = html.parent.parent
        text = alt_texts(html.read_text("utf-8"))
        # Each format shows the charts it shows (the lead decides); those it shows carry data.
        if "coded with each theme" in text:
            charts["themes"] += 1
            check_themes_alt(text, base)
        if "Forest plots, one per pooled outcome" in text:
            charts["forest"] += 1
            check_forest_alt(text, base)
    assert all(charts.values()), charts  # each chart is checked in some format


def check_themes_alt(text: str, base: Path) -> None:
    for theme in rows(base / "tallies/themes.csv"):
        entry = f"{theme['label']} {theme['n_studies']} ({float(theme['pct_studies']):.0f}%)"
        assert entry in text, (base.name, entry)


def check_forest_alt(text: str, base: Path) -> None:
    estimates = rows(base / "clean/outcomes.csv")
    for pooled in rows(base / "outcomes/meta_analysis.csv"):
        if pooled["analysis"] != "main":
            continue
        assert (
            f"pooled {float(pooled['estimate']):.2f} (95% CI "
            f"{float(pooled['ci_lower']):.2f} to {float(pooled['ci_upper']):.2f})"
        ) in text
        for sid in pooled["study_ids"].split(";"):
            own = next(
                e
                for e in estimates
                if (e["study_id"], e["outcome"], e["effect_measure"])
                == (sid, pooled["outcome"], pooled["effect_measure"])
            )
            assert (
                f"{sid} {float(own['estimate']):.2f} (95% CI {float(own['ci_lower']):.2f} "
                f"to {float(own['ci_upper']):.2f})"
            ) in text, (base.name, sid)


def test_culturally_responsive_pools_reoffending_by_delivery_organisation(examples: Path):
    """Issue 14's must-show: the culturally-responsive example pools re-offending within
    by-and-for and within mainstream services (config meta_analysis.subgroups: [delivery_org]),
    with the test for subgroup differences in its report; the families codebook has no such
    field, so that review skips it with a note instead of failing."""
    base = examples / "results/culturally-responsive"
    table = [
        r
        for r in rows(base / "outcomes/subgroups.csv")
        if (r["outcome"], r["field"]) == ("reoffending", "delivery_org")
    ]
    assert {r["value"] for r in table} == {"by_and_for", "mainstream_specialist"}
    assert all(int(r["k"]) >= 2 and r["tau2"] != "" for r in table)
    assert len({(r["q_between"], r["p_between"]) for r in table}) == 1
    assert table[0]["df_between"] == "1" and table[0]["p_between"] != ""
    families = rows(examples / "results/families/outcomes/subgroups.csv")
    assert [(r["field"], r["note"].split(":")[0]) for r in families] == [
        ("delivery_org", "skipped")
    ]
    text = body_words(base / "report/summary-of-evidence.pdf")
    section = flat(text.split("Subgroup analyses", 1)[1])
    for r in table:
        low, high = float(r["ci_lower"]), float(r["ci_upper"])
        assert flat(f"{float(r['estimate']):.2f} ({low:.2f} to {high:.2f})") in section
    q, p = float(table[0]["q_between"]), float(table[0]["p_between"])
    assert flat(f"Q = {q:.2f}, df = 1, p = {p:.3f}") in section
    html = (base / "report/summary-of-evidence.html").read_text("utf-8")
    assert f"test for subgroup differences Q {q:.2f}, df 1, p {p:.3f}" in html


def test_evidence_review_reports_small_study_effects_not_assessed_below_ten(examples: Path):
    """Issue 14 item 4 in the families example (no outcome has 10 estimates): every outcome and
    measure with estimates is in small_study.csv as "not assessed (k < 10)", and the evidence
    review says so in its small-study section, with no funnel plot."""
    base = examples / "results/families"
    table = rows(base / "outcomes/small_study.csv")
    estimated = {
        (r["outcome"], r["effect_measure"])
        for r in rows(base / "clean/outcomes.csv")
        if r["estimate"] and r["effect_measure"]
    }
    assert {(r["outcome"], r["effect_measure"]) for r in table} == estimated
    assert all(int(r["k"]) < 10 for r in table)
    assert {r["assessed"] for r in table} == {"not assessed (k < 10)"}
    assert all(r["egger_p"] == "" for r in table)
    for ext in ("png", "svg"):
        assert (base / f"figures/funnel.{ext}").is_file()
    text = body_words(base / "report/evidence-review.pdf")
    section = text.split("Small-study effects", 1)[1]
    assert section.count("not assessed (k < 10)") == len(table)
    assert "funnel.svg" not in (base / "report/evidence-review.html").read_text("utf-8")


def test_evidence_review_shows_leave_one_out_and_the_common_effect(examples: Path):
    # Issue 14 items 3 and 5: the leave_one_out rule's table, meta_analysis.csv's new
    # columns, and the evidence review's sensitivity table and prediction-interval method.
    base = examples / "results/families"
    loo = rows(base / "outcomes/leave_one_out.csv")
    meta = [r for r in rows(base / "outcomes/meta_analysis.csv") if r["analysis"] == "main"]
    for m in meta:
        key = (m["outcome"], m["effect_measure"])
        drops = [r for r in loo if (r["outcome"], r["effect_measure"]) == key]
        assert len(drops) == (int(m["k"]) if int(m["k"]) >= 3 else 0), m["outcome"]
        assert m["pi_method"] == "normal" and m["test"] == "z" and m["ce_estimate"]
    text = flat(pdf_words(base / "report/evidence-review.pdf"))
    assert flat("Sensitivity of the pooled estimates: common effect and leave-one-out") in text
    assert flat("the prediction interval from the normal quantile") in text


def test_effects_from_arm_level_data_and_mantel_haenszel(examples: Path):
    """Issue 14 items 1 and 3: the culturally-responsive re-offending studies give only their
    2x2 counts; the clean outcomes hold each computed odds ratio with its CI and se, and
    meta_analysis.csv the Mantel-Haenszel estimate beside the random-effects one. The families
    SMD row that gives means beside its estimate agrees to the decimals given: no warning, and
    no Mantel-Haenszel estimate where the studies give no counts."""
    import math

    base = examples / "results/culturally-responsive"
    clean = {(r["study_id"], r["outcome"]): r for r in rows(base / "clean/outcomes.csv")}
    cr05 = clean[("CR05", "reoffending")]
    # 41/110 vs 51/104: OR = (41 × 53) / (69 × 51), log-scale SE √(1/41 + 1/69 + 1/51 + 1/53).
    assert float(cr05["estimate"]) == pytest.approx(41 * 53 / (69 * 51), rel=1e-9)
    assert float(cr05["se"]) == pytest.approx(math.sqrt(1 / 41 + 1 / 69 + 1 / 51 + 1 / 53))
    assert float(cr05["ci_lower"]) < float(cr05["estimate"]) < float(cr05["ci_upper"])
    pooled = rows(base / "outcomes/meta_analysis.csv")
    main = next(r for r in pooled if (r["outcome"], r["analysis"]) == ("reoffending", "main"))
    assert float(main["mh_ci_lower"]) < float(main["mh_estimate"]) < float(main["mh_ci_upper"])
    for review in ("culturally-responsive", "families"):
        issues = rows(examples / f"results/{review}/validation/issues.csv")
        assert not [r for r in issues if r["rule"].startswith("arm_")], review
    families = rows(examples / "results/families/outcomes/meta_analysis.csv")
    assert families and all(r["mh_estimate"] == "" for r in families)
    fa05 = next(
        r
        for r in rows(examples / "results/families/clean/outcomes.csv")
        if (r["study_id"], r["outcome"]) == ("FA05", "child_wellbeing")
    )
    assert round(float(fa05["estimate"]), 2) == 0.32 and fa05["se"] != ""
