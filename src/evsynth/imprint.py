"""A review's imprint: who publishes it, when, and how to cite it (``reviews.<id>.publication``).

The config's ``publication`` block is read once here into a :class:`Publication`; the report's
metadata (evsynth.report.metadata), the HTML masthead and the PDF cover and imprint all come
from it. Every value is data typed by a person: it is escaped for the format it is written into
(Markdown here, HTML in the masthead) and never read as markup.

The publication date is the date printed on the report and written into the PDF and Word
metadata; it is never the build time, so the same sources give the same bytes on any day.
"""

from __future__ import annotations

import datetime
import html
import re
from dataclasses import dataclass

from evsynth.escape import markdown_text as md

#: A DOI as registries write it: "10.", a registrant code, "/", a suffix without spaces.
DOI = re.compile(r"^10\.\d{4,9}/\S+$")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
#: What the imprint says when the config has no publication block (the report is a draft).
MISSING = "no publication details yet (the review's publication block in the config)"


class ImprintError(ValueError):
    """A publication block that cannot be printed; the message names the key."""


@dataclass(frozen=True)
class Publication:
    """The ``publication`` block, checked; optional text fields are "" when absent."""

    date: datetime.date
    organisation: str = ""
    authors: tuple[str, ...] = ()
    version: str = ""
    suggested_citation: str = ""
    licence: str = ""
    funder: str = ""
    acknowledgement: str = ""
    isbn: str = ""
    doi: str = ""
    keywords: tuple[str, ...] = ()


def parse_date(value: object, key: str = "publication.date") -> datetime.date:
    """An ISO date (``2024-05-01``; YAML may have read it as a date already)."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ImprintError(
            f"{key}: {str(value)!r} is not a date written as YYYY-MM-DD (e.g. 2024-05-01)"
        ) from None


def check_isbn(value: str) -> str:
    """The ISBN as given, if its check digit is right (ISBN-13 or ISBN-10)."""
    digits = re.sub(r"[\s-]", "", value).upper()
    if re.fullmatch(r"\d{13}", digits):
        total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
        ok = total % 10 == 0
    elif re.fullmatch(r"\d{9}[\dX]", digits):
        total = sum((10 - i) * (10 if d == "X" else int(d)) for i, d in enumerate(digits))
        ok = total % 11 == 0
    else:
        ok = False
    if not ok:
        raise ImprintError(
            f"publication.isbn: {value!r} is not a valid ISBN-13 or ISBN-10 (wrong length "
            "or check digit)"
        )
    return value.strip()


def text(block: dict, key: str) -> str:
    value = block.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ImprintError(f"publication.{key}: expected text, got {value!r}")
    return str(value).strip()


def read_publication(settings: dict) -> Publication | None:
    """The review's publication block, checked; None when the config has none.

    The review-level ``organisation`` key of earlier configs still names the organisation
    when the block does not; giving two different ones is an error rather than a guess."""
    block = settings.get("publication")
    legacy = (settings.get("organisation") or "").strip()
    if not block:
        return None
    if not isinstance(block, dict):
        raise ImprintError(f"publication: expected a block of keys, got {block!r}")
    if "date" not in block:
        raise ImprintError("publication.date: missing (the publication date, YYYY-MM-DD)")
    organisation = text(block, "organisation")
    if organisation and legacy and organisation != legacy:
        raise ImprintError(
            f"organisation {legacy!r} and publication.organisation {organisation!r} differ: "
            "give it once, as publication.organisation"
        )
    authors = block.get("authors") or []
    keywords = block.get("keywords") or []
    for key, values in (("authors", authors), ("keywords", keywords)):
        if not isinstance(values, list) or not all(
            isinstance(v, str) and v.strip() for v in values
        ):
            raise ImprintError(f"publication.{key}: expected a list of names, got {values!r}")
    doi = text(block, "doi")
    if doi and not DOI.match(doi):
        raise ImprintError(f"publication.doi: {doi!r} is not a DOI (10.<registrant>/<suffix>)")
    isbn = text(block, "isbn")
    return Publication(
        date=parse_date(block["date"]),
        organisation=organisation or legacy,
        authors=tuple(a.strip() for a in authors),
        version=text(block, "version"),
        suggested_citation=text(block, "suggested_citation"),
        licence=text(block, "licence"),
        funder=text(block, "funder"),
        acknowledgement=text(block, "acknowledgement"),
        isbn=check_isbn(isbn) if isbn else "",
        doi=doi,
        keywords=tuple(k.strip() for k in keywords),
    )


# --- Names, dates and the citation -------------------------------------------------------------


def display_name(author: str) -> str:
    """ "Family, Given" as "Given Family"; a name without a comma as written (never guessed)."""
    family, comma, given = author.partition(",")
    return f"{given.strip()} {family.strip()}" if comma and given.strip() else author


def initials(given: str) -> str:
    """ "Mary Ann" -> "M. A.", "Jean-Paul" -> "J.-P."."""
    return " ".join(
        "-".join(f"{part[0]}." for part in word.split("-") if part) for word in given.split()
    )


def citation_name(author: str) -> str:
    """ "Family, Given" as "Family, G."; a name without a comma as written."""
    family, comma, given = author.partition(",")
    return f"{family.strip()}, {initials(given)}" if comma and given.strip() else author


def join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def long_date(day: datetime.date) -> str:
    """``1 May 2024``, as the cover and imprint print it (no locale involved)."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def cited_title(title: str, format_label: str) -> str:
    """The title as cited: with the format named ("...: Strategic briefing") unless the title
    names it already, since one publication block serves every format of a review."""
    title = title.strip().rstrip(".")
    if not format_label or format_label.lower() in title.lower():
        return title
    return f"{title}: {format_label}"


def citation_markdown(pub: Publication, title: str) -> str:
    """The suggested citation as Markdown: the configured one, or composed as a publisher
    prints it (Harvard: authors (year) *Title*. Organisation. DOI), every part escaped."""
    if pub.suggested_citation:
        return md(pub.suggested_citation)
    names = [citation_name(a) for a in pub.authors]
    who = join_names(names) if names else pub.organisation
    parts = [f"{md(who)} ({pub.date.year}) *{md(title)}*."] if who else []
    if not who:
        parts.append(f"*{md(title)}* ({pub.date.year}).")
    if pub.organisation and names:
        parts.append(f"{md(pub.organisation)}.")
    if pub.doi:
        parts.append(md(f"https://doi.org/{pub.doi}"))
    return " ".join(parts)


# --- What the formats print --------------------------------------------------------------------


def imprint_markdown(pub: Publication | None, title: str, illustrative: bool) -> str:
    """The imprint ("About this publication") as Markdown paragraphs, one fact each; ``title``
    as cited (:func:`cited_title`)."""
    lines = []
    if pub is None:
        lines.append(f"**Draft:** {md(MISSING)}.")
    else:
        lines.append(f"**Suggested citation:** {citation_markdown(pub, title)}")
        published = f"**Published:** {md(long_date(pub.date))}"
        if pub.organisation:
            published += f" by {md(pub.organisation)}"
        if pub.version:
            published += f". **Version:** {md(pub.version)}"
        lines.append(published + ".")
        if pub.licence:
            lines.append(f"**Licence:** {md(pub.licence)}")
        if pub.funder:
            lines.append(f"**Funder:** {md(pub.funder)}")
        if pub.acknowledgement:
            lines.append(f"**Acknowledgements:** {md(pub.acknowledgement)}")
        ids = [f"ISBN {md(pub.isbn)}"] if pub.isbn else []
        ids += [f"DOI {md(pub.doi)}"] if pub.doi else []
        if ids:
            lines.append(f"**Identifiers:** {'; '.join(ids)}")
    if illustrative:
        lines.append(
            "**Illustrative:** every record, name and citation in this report is synthetic; "
            "no finding here is about any real study, programme or organisation."
        )
    return "\n\n".join(lines) + "\n"


def publication_metadata(
    pub: Publication | None, title: str, format_label: str, illustrative: bool
) -> dict:
    """The document metadata the imprint adds: Pandoc's ``author``, ``date``, ``keywords``
    (title block, HTML meta tags, Word core properties), ``abstract`` (the imprint panel in
    HTML and Word, page 2 of the PDF), and evsynth's own ``date-iso`` and ``version``."""
    meta: dict = {
        "abstract-title": "About this publication",
        "abstract": imprint_markdown(pub, cited_title(title, format_label), illustrative),
    }
    if pub is None:
        return meta
    meta["date"] = md(long_date(pub.date))
    meta["date-iso"] = pub.date.isoformat()
    if pub.authors:
        meta["author"] = [md(display_name(a)) for a in pub.authors]
    if pub.organisation:
        meta["organisation"] = md(pub.organisation)
    if pub.version:
        meta["version"] = md(pub.version)
    if pub.keywords:
        meta["keywords"] = [md(k) for k in pub.keywords]
    return meta


def masthead_html(
    logo_path: str, logo_alt: str, organisation: str, format_label: str, draft: list[str]
) -> str:
    """The HTML page's masthead (logo, organisation, format) and, for a draft, what is
    missing; every value escaped, as this goes into the page verbatim."""

    def esc(value: str) -> str:
        return html.escape(value, quote=True)

    parts = [
        '<header class="evs-masthead">',
        f'<img src="{esc(logo_path)}" alt="{esc(logo_alt)}" width="36" height="36"/>',
    ]
    if organisation:
        parts.append(f'<span class="evs-organisation">{esc(organisation)}</span>')
    parts.append(f'<span class="evs-format">{esc(format_label)}</span>')
    parts.append("</header>")
    if draft:
        parts.append(f'<p class="evs-draft"><strong>Draft:</strong> {esc("; ".join(draft))}</p>')
    return "\n".join(parts) + "\n"
