"""The imprint (issue 13, item 1): the config's ``publication`` block read and checked, the
citation composed as a publisher prints it, and one hostile block rendered to HTML, PDF and
Word, where every value prints literally and the dates are the publication date."""

from __future__ import annotations

import datetime
import html
import shutil
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from pypdf import PdfReader

from conftest import REPO
from evsynth.escape import markdown_text as md
from evsynth.imprint import (
    ImprintError,
    citation_markdown,
    cited_title,
    masthead_html,
    read_publication,
)
from evsynth.render import RenderPaths, render_with_pandoc, run_render
from evsynth.report import metadata
from pdf_text import page_texts
from stage_paths import meta_settings
from test_report_findings import inputs, tiny_results  # noqa: F401 - a fixture, used by name

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text("utf-8"))
HOSTILE = '<script>alert(1)</script> #read("x") $x^2$ *em* @cite'
#: Long words the cover would break with a hyphen if it hyphenated.
LONG_WORDS = ("Responsiveness", "accountability", "interventions")
TITLE = f"Responsiveness and accountability in interventions {HOSTILE}"


def block(**given: object) -> dict:
    return {"date": "2024-05-01", **given}


def schema_problems(publication: dict) -> list[str]:
    config = {
        "reviews": {
            "r": {
                "title": "t",
                "sheets": "s",
                "codebook": "c",
                "report": "summary-of-evidence",
                "publication": publication,
            }
        }
    }
    return [e.message for e in Draft202012Validator(SCHEMA).iter_errors(config)]


def test_without_a_block_nothing_is_invented_and_the_report_is_a_draft():
    settings = {"title": "T", "narrative": "n/", "report": "summary-of-evidence"}
    assert read_publication(settings) is None
    meta = metadata(settings, "summary-of-evidence")
    for key in ("author", "date", "date-iso", "version", "keywords", "organisation"):
        assert key not in meta, key
    assert meta["draft"] is True
    assert "no imprint yet" in meta["draft-reasons"]
    assert "no publication details yet" in meta["abstract"]
    # The organisation of earlier configs still prints, with no other field made up.
    meta = metadata({**settings, "organisation": "Org"}, "summary-of-evidence")
    assert meta["organisation"] == "Org" and "author" not in meta


def test_a_block_gives_the_metadata_and_dates_never_the_build_time():
    settings = {
        "title": "T",
        "subtitle": "S",
        "narrative": "n/",
        "report": "strategic-briefing",
        "publication": block(authors=["Example, Jordan"], keywords=["k1", "k2"], version="2"),
    }
    meta = metadata(settings, "strategic-briefing")
    assert meta["date-iso"] == "2024-05-01" and meta["date"] == "1 May 2024"
    assert meta["author"] == ["Jordan Example"]
    assert meta["keywords"] == ["k1", "k2"]
    assert meta["subject"] == "Strategic briefing\\: S"  # escaped, as all config text
    assert "no imprint yet" not in meta.get("draft-reasons", "")


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        (block(date="2024-13-40"), "publication.date: '2024-13-40' is not a date"),
        (block(date="1 May 2024"), "publication.date: '1 May 2024' is not a date"),
        (block(isbn="978-0-00-000000-1"), "publication.isbn: '978-0-00-000000-1' is not a valid"),
        (block(doi="doi:10.1/x"), "publication.doi: 'doi:10.1/x' is not a DOI"),
        (block(authors="Example, Jordan"), "publication.authors: expected a list"),
        ({"organisation": "O"}, "publication.date: missing"),
    ],
)
def test_a_bad_block_is_refused_naming_the_key(given: dict, problem: str):
    with pytest.raises(ImprintError) as caught:
        read_publication({"publication": given})
    assert problem in str(caught.value)


def test_the_schema_names_a_bad_block_before_anything_runs():
    assert schema_problems(block()) == []
    assert schema_problems({"organisation": "O"}) == ["'date' is a required property"]
    assert any("does not match" in p for p in schema_problems(block(date="1/5/2024")))
    assert any("is not of type 'string'" in p for p in schema_problems(block(date=20240501)))
    assert any("Additional properties" in p for p in schema_problems(block(funders="x")))


def test_isbn_check_digits_and_the_organisation_of_earlier_configs():
    assert read_publication({"publication": block(isbn="978-0-306-40615-7")}).isbn
    assert read_publication({"publication": block(isbn="0-306-40615-2")}).isbn
    with pytest.raises(ImprintError, match="give it once"):
        read_publication({"organisation": "A", "publication": block(organisation="B")})
    legacy = read_publication({"organisation": "A", "publication": block()})
    assert legacy.organisation == "A"
    assert read_publication({"publication": block(date=datetime.date(2021, 11, 15))}).date == (
        datetime.date(2021, 11, 15)
    )


def test_the_citation_is_composed_as_a_publisher_prints_it():
    pub = read_publication(
        {
            "publication": block(
                authors=["Example, Jordan", "Sample, Mary-Ann Jo", "Team Name"],
                organisation="Example Practice Partnership",
                doi="10.5555/x.1",
            )
        }
    )
    title = cited_title("Working with families", "Strategic briefing")
    assert title == "Working with families: Strategic briefing"
    assert cited_title("Culturally responsive: summary of evidence", "Summary of evidence") == (
        "Culturally responsive: summary of evidence"
    )
    text = citation_markdown(pub, title).replace("\\", "")
    assert text == (
        "Example, J., Sample, M.-A. J. and Team Name (2024) *Working with families: Strategic "
        "briefing*. Example Practice Partnership. https://doi.org/10.5555/x.1"
    )
    # No authors: the organisation is the author; a configured citation is printed as written.
    corporate = read_publication({"publication": block(organisation="Org")})
    assert citation_markdown(corporate, "T").replace("\\", "") == "Org (2024) *T*."
    given = read_publication({"publication": block(suggested_citation="*As* <b>written</b>")})
    assert citation_markdown(given, "T") == md("*As* <b>written</b>")


def test_the_masthead_escapes_every_value():
    page = masthead_html("_assets/logo.svg", 'a "logo"', HOSTILE, "Summary of evidence", [HOSTILE])
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'alt="a &quot;logo&quot;"' in page
    assert page.count(html.escape(HOSTILE)) == 2


def hostile_settings() -> dict:
    return {
        "title": TITLE,
        "subtitle": f"Subtitle {HOSTILE}",
        "report": "summary-of-evidence",
        "narrative": "",
        "illustrative": True,
        "organisation": "",
        "publication": {
            "organisation": f"Org {HOSTILE}",
            "authors": ["Example, Jordan", f"{HOSTILE}, Jo"],
            "date": "2024-05-01",
            "version": f"1.0 {HOSTILE}",
            "licence": f"CC BY 4.0 {HOSTILE}",
            "funder": f"Fund {HOSTILE}",
            "doi": "10.5555/evsynth.test",
            "keywords": ["domestic abuse", f"kw {HOSTILE}"],
        },
    }


def squeeze(text: str) -> str:
    return "".join(text.split())


def test_a_hostile_imprint_prints_literally_in_html_pdf_and_word(
    tiny_results: Path,  # noqa: F811 - the imported fixture
    tmp_path: Path,
):
    issues = tmp_path / "narrative_issues.csv"
    issues.write_text("severity,sheet,row,column,value,rule,message\n", "utf-8")
    out = tmp_path / "report"
    paths = RenderPaths(
        narrative_issues=issues,
        figures=tuple(sorted((tiny_results / "figures").glob("*.*"))),
        source_dir=out / "source",
        html=out / "r.html",
        pdf=out / "r.pdf",
        docx=out / "r.docx",
    )
    run_render(
        review="tiny",
        settings=hostile_settings(),
        analysis=meta_settings(),
        inputs=inputs(tiny_results, None),
        reports_dir=REPO / "reports",
        out=paths,
        report_format="summary-of-evidence",
    )
    # PDF metadata from the config, the creation date the publication date.
    reader = PdfReader(paths.pdf)
    info = reader.metadata
    assert info.title == TITLE
    assert info.author == f"Jordan Example, Jo {HOSTILE}"
    assert info.subject == f"Summary of evidence: Subtitle {HOSTILE}"
    assert info["/Keywords"] == f"domestic abuse, kw {HOSTILE}"
    assert info["/CreationDate"] == "D:20240501000000Z"
    # Page 1 is the cover, and only the cover; the title is never hyphenated on it.
    cover = page_texts(paths.pdf)[0]
    for word in LONG_WORDS:
        assert word in cover.split(), word
    assert squeeze(HOSTILE) in squeeze(cover)
    for text in ("SUMMARY OF EVIDENCE", "1 May 2024", "Jordan Example", f"Org {HOSTILE}"):
        assert squeeze(text) in squeeze(cover), text
    assert "Contents" not in cover and "Page 1" not in cover
    # Page 2: the contents and the imprint, every value literal.
    second = squeeze(page_texts(paths.pdf)[1])
    assert "Contents" in second and "Aboutthispublication" in second
    for text in (
        f"Published: 1 May 2024 by Org {HOSTILE}. Version: 1.0 {HOSTILE}.",
        f"Licence: CC BY 4.0 {HOSTILE}",
        f"Funder: Fund {HOSTILE}",
        "DOI 10.5555/evsynth.test",
        f"Example, J. and {HOSTILE}, J. (2024) {TITLE}: Summary of evidence",
    ):
        assert squeeze(text) in second, text

    # HTML: the masthead from the config and the imprint panel, escaped.
    raw = paths.html.read_text("utf-8")
    assert "<script>alert" not in raw and "<em>em</em>" not in raw
    page = " ".join(html.unescape(raw).split())
    assert f'<span class="evs-organisation">Org {HOSTILE}</span>' in page
    assert '<span class="evs-format">Summary of evidence</span>' in page
    assert f"<strong>Licence:</strong> CC BY 4.0 {HOSTILE}" in page
    assert f'<p class="author">Jo {HOSTILE}</p>' in page

    # Word: title block, imprint paragraphs and core properties.
    from docx import Document

    document = Document(str(paths.docx))
    styled = [(p.style.name, p.text) for p in document.paragraphs]
    assert ("Title", TITLE) in styled and ("Date", "1 May 2024") in styled
    assert ("Abstract Title", "About this publication") in styled
    assert ("Abstract", f"Funder: Fund {HOSTILE}") in styled
    core = document.core_properties
    assert (core.title, core.author) == (TITLE, f"Jordan Example; Jo {HOSTILE}")
    assert core.keywords == f"domestic abuse, kw {HOSTILE}"
    assert core.created == datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)

    # The same sources give the same bytes: nothing reads the clock.
    again = tmp_path / "again"
    shutil.copytree(paths.source_dir, again)
    render_with_pandoc(
        again, "summary-of-evidence.qmd", again / "r.html", again / "r.pdf", again / "r.docx"
    )
    for name in ("r.pdf", "r.docx", "r.html"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
