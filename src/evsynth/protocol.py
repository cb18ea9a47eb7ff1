"""The review's protocol (the config's ``reviews.<id>.protocol`` block) as methods in plain words.

A report's methods say what the review set out to do: its question, which studies it took,
where and when it searched, how it screened, appraised and synthesised. That is the review
team's account, so it comes from the config, not from the pipeline's provenance (which the
method-and-audit appendix keeps). Three partials come from it:

- ``methods.md``: the protocol in full, for the summary of evidence and the evidence review;
- ``methods-short.md``: a few lines, for the strategic briefing's method note;
- ``swim.md``: how the synthesis meets SWiM's nine reporting items (Campbell et al., BMJ
  2020;368:l6890), for the evidence review.

Every config string is escaped (:func:`evsynth.escape.markdown_text`): the config is the
review team's text, printed as typed, never markup. A review without the block, or with items
left empty, renders as a draft whose notice says what is missing, as a missing narrative does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from evsynth.escape import markdown_text as md

#: Protocol items a finished report needs, in the order the methods give them, each with how a
#: reader is told it is missing. ``exclude`` is not among them: a review may have no exclusion
#: criteria beyond failing the inclusion ones.
REQUIRED_ITEMS: dict[str, str] = {
    "question": "the review question",
    "include": "the eligibility criteria",
    "sources": "the sources searched",
    "search_dates": "the search dates",
    "screening": "how records were screened",
    "appraisal": "how studies were appraised",
    "synthesis": "how the findings were synthesised",
}
NOT_STATED = "*Not yet stated: the review's protocol in the config leaves this out.*"


@dataclass(frozen=True)
class Protocol:
    """A review's protocol block, as the config schema shapes it (lists as tuples)."""

    question: str = ""
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    search_dates: str = ""
    screening: str = ""
    appraisal: str = ""
    synthesis: str = ""

    @classmethod
    def from_settings(cls, settings: Mapping) -> Protocol | None:
        """The review's protocol, or None when its config has no ``protocol`` block."""
        block = settings.get("protocol")
        if not block:
            return None

        def items(key: str) -> tuple[str, ...]:
            return tuple(str(x).strip() for x in block.get(key) or () if str(x).strip())

        def text(key: str) -> str:
            return str(block.get(key) or "").strip()

        return cls(
            question=text("question"),
            include=items("include"),
            exclude=items("exclude"),
            sources=items("sources"),
            search_dates=text("search_dates"),
            screening=text("screening"),
            appraisal=text("appraisal"),
            synthesis=text("synthesis"),
        )


def missing_items(protocol: Protocol | None) -> list[str]:
    """What a finished report's methods still need, as a reader is told it (none: complete)."""
    if protocol is None:
        return list(REQUIRED_ITEMS.values())
    return [words for key, words in REQUIRED_ITEMS.items() if not getattr(protocol, key)]


def is_draft(settings: Mapping) -> bool:
    """Whether the protocol leaves the report a draft (no block, or an item left empty)."""
    return bool(missing_items(Protocol.from_settings(settings)))


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def draft_notice(settings: Mapping) -> str:
    """The draft box a report carries while its protocol is missing or incomplete ("" when
    complete), naming what is missing and where it goes."""
    protocol = Protocol.from_settings(settings)
    missing = missing_items(protocol)
    if not missing:
        return ""
    if protocol is None:
        title = "Draft: no review protocol"
        body = (
            "This review's config has no `protocol` block, so the report cannot yet say how "
            f"the review was done: {_joined(missing)} are missing."
        )
    else:
        title = "Draft: review protocol incomplete"
        body = f"The review's `protocol` block in the config does not yet state {_joined(missing)}."
    return (
        f'::: {{.callout-warning title="{title}"}}\n{body} Add them to the config '
        "(config/README.md, `protocol`) and rerun to finish the report.\n:::\n"
    )


def _bullets(items: tuple[str, ...]) -> str:
    return "\n".join(f"- {md(item)}" for item in items) + "\n"


def _line(label: str, value: str) -> str:
    return f"**{label}.** {md(value) if value else NOT_STATED}\n"


def methods_full(protocol: Protocol | None) -> str:
    """The protocol in plain words, item by item (``methods.md``)."""
    if protocol is None:
        return (
            "*Draft: the review's method (its question, eligibility criteria, sources, search "
            "dates, screening, appraisal and synthesis) goes in the `protocol` block of this "
            "review in the config.*\n"
        )
    out = [_line("Review question", protocol.question)]
    if protocol.include:
        out.append("**Which studies we included.** A study was included if it met all of these:\n")
        out.append(_bullets(protocol.include))
    else:
        out.append(_line("Which studies we included", ""))
    if protocol.exclude:
        out.append("A study was excluded if any of these applied:\n")
        out.append(_bullets(protocol.exclude))
    if protocol.sources:
        out.append("**Where we searched.**\n")
        out.append(_bullets(protocol.sources))
    else:
        out.append(_line("Where we searched", ""))
    out.append(_line("When we searched", protocol.search_dates))
    out.append(_line("How we screened records", protocol.screening))
    out.append(_line("How we appraised the studies", protocol.appraisal))
    out.append(_line("How we brought the findings together", protocol.synthesis))
    return "\n".join(out)


def methods_short(protocol: Protocol | None) -> str:
    """The method in three lines, for a briefing (``methods-short.md``)."""
    if protocol is None:
        return (
            "*Draft: the review's question, sources and search dates go in the `protocol` "
            "block of this review in the config.*\n"
        )
    sources = "; ".join(md(s) for s in protocol.sources)
    searched = ", ".join(part for part in (sources, md(protocol.search_dates)) if part)
    lines = [
        f"**Review question:** {md(protocol.question) or NOT_STATED}",
        f"**Searched:** {searched or NOT_STATED}",
        f"**Included:** {'; '.join(md(i) for i in protocol.include) or NOT_STATED}",
    ]
    # Two trailing spaces end each line with a line break in HTML, PDF and Word alike.
    return "  \n".join(lines) + "\n"


def swim_items(estimator: str, sensitivity: str) -> str:
    """How the synthesis meets SWiM's nine items (``swim.md``): what the pipeline does, with the
    configured estimator (``estimator``, e.g. "REML") and the studies its sensitivity analysis
    leaves out (``sensitivity``, e.g. "rated low quality")."""
    rows = [
        (
            "Grouping studies",
            "By the codebook's themes (a study counts once for a theme and each parent theme) "
            "and, for effects, by outcome.",
        ),
        (
            "Standardised metric",
            "Direction of effect for every study and outcome; where two or more studies give "
            "a comparable effect size, the risk, odds or hazard ratio or the standardised mean "
            "difference.",
        ),
        (
            "Synthesis method",
            "Vote counting by direction of effect with an exact two-sided sign test; "
            f"random-effects meta-analysis ({estimator}) where effect sizes allow; thematic "
            "synthesis of the coded themes.",
        ),
        (
            "Prioritising results",
            "One vote per study and outcome: a study whose measures disagree counts as mixed "
            "unless 70% point one way. Qualitative studies and reviews do not vote.",
        ),
        (
            "Heterogeneity",
            "I² and the 95% prediction interval of each meta-analysis; a sensitivity analysis "
            f"leaving out studies {sensitivity}; direction of effect by study quality.",
        ),
        (
            "Certainty of evidence",
            "GRADE for effect findings, GRADE-CERQual for qualitative findings (see the "
            "summary of findings).",
        ),
        (
            "Data presentation",
            "Effect-direction plot, forest plots, evidence gap map, and tables by theme and "
            "outcome.",
        ),
        (
            "Reporting results",
            "Summary-of-findings tables with plain-language statements (GRADE guidance 26), "
            "each naming its studies.",
        ),
        ("Limitations", "Set out in the Limitations section."),
    ]
    table = ["| SWiM item | How this review meets it |", "|:--|:--|"]
    table += [f"| {item} | {how} |" for item, how in rows]
    return (
        "The synthesis is reported against SWiM, the reporting guideline for synthesis "
        "without meta-analysis (Campbell et al., BMJ 2020;368:l6890):\n\n"
        + "\n".join(table)
        + "\n\n: How the synthesis meets SWiM's nine items {#tbl-swim}\n"
    )


def protocol_partials(settings: Mapping, estimator: str, sensitivity: str) -> dict[str, str]:
    """The methods partials of a report (paths relative to ``_generated/``)."""
    protocol = Protocol.from_settings(settings)
    return {
        "methods.md": methods_full(protocol),
        "methods-short.md": methods_short(protocol),
        "swim.md": swim_items(estimator, sensitivity),
    }
