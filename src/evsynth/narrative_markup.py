"""What the lead's Markdown may contain, and its includes, confined to the narrative folder.

The narrative is the one piece of the report written as markup rather than escaped as data, so
it is checked before anything renders. The choice made here is to **refuse, not sanitise**,
markup that only some output formats honour or that reaches outside the report:

- raw HTML (tags, ``<!DOCTYPE``/``<?``/``<![CDATA[``), raw-format blocks and spans
  (```` ```{=html} ````, `` `…`{=typst} ``), event-handler attributes (``{onclick=…}``) and
  YAML metadata blocks in mid-text are errors naming the file and line. The same prose must
  read the same in HTML, PDF and Word; raw HTML is live in HTML and silently dropped in the
  others, and a metadata block can set ``header-includes`` or ``css`` (which
  ``--embed-resources`` would read from any path). HTML comments stay allowed: they are notes
  to oneself, removed before rendering.
- ``{{< include FILE >}}`` is allowed only for a Markdown file of the narrative folder itself
  (after resolving symlinks and ``..``), on a line of its own; evsynth expands it before the report
  is staged. Every other shortcode is an error (``{{< env … >}}`` would print the renderer's
  environment under Quarto).
- images must be relative paths inside the report project (``figures/themes.svg``): no
  scheme, no absolute path, no ``..``, since an embedded image is read from disk.
- ``javascript:``, ``vbscript:`` and ``data:`` link targets are a warning here and are dropped
  by the report's Pandoc filter (``reports/_filters/evsynth.lua``), which also strips event
  attributes and unsafe image sources from whatever reaches it, whatever this check missed.

Markup inside code spans and fenced code blocks is literal in every format and is not refused
(shortcodes are, wherever they are: Quarto expands them even in code).
"""

from __future__ import annotations

import re
from pathlib import Path

from evsynth.findings import Finding

SHEET = "narrative"

SHORTCODE = re.compile(r"\{\{<(.*?)>\}\}")
INCLUDE_ARGS = re.compile(r"^\s*include\s+(\S+)\s*$")
INCLUDE_LINE = re.compile(r"^[ \t]*\{\{<\s*include\s+(\S+)\s*>\}\}[ \t]*$", re.MULTILINE)
HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
#: A tag as Pandoc's raw_html extension reads one, or a declaration / processing instruction.
HTML_TAG = re.compile(r"(?<!\\)<(?:/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|[!?][A-Za-z\[])")
RAW_FORMAT = re.compile(r"\{\s*=\s*[A-Za-z0-9_-]+\s*\}")
EVENT_ATTRIBUTE = re.compile(r"\{[^{}]*?(?<![\w-])on[a-z]+\s*=", re.IGNORECASE)
UNSAFE_TARGET = re.compile(
    r"(?:\]\(|(?<!\\)<|\]:)\s*+<?\s*+(javascript|vbscript|data)\s*+:", re.IGNORECASE
)
IMAGE_TARGET = re.compile(r"!\[[^\[\]]*\]\(\s*+<?([^)\s>]+)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
BACKTICKS = re.compile(r"`+")
#: A narrative file larger than this is refused unread (a long section is ~50 kB of prose),
#: so the check's time and memory stay bounded whatever the folder holds.
MAX_NARRATIVE_BYTES = 1_000_000
#: Findings of one rule in one file after which the rest are summed up in one more finding.
MAX_FINDINGS_PER_RULE = 20
#: Included text is expanded at most this deep (a chain of includes is a mistake, not a design).
MAX_INCLUDE_DEPTH = 8


class NarrativeMarkupError(ValueError):
    """An include that the check refuses was met while expanding (the check runs first)."""


def _mask(text: str) -> str:
    """``text`` with HTML comments blanked (newlines kept, so line numbers stay true)."""
    return HTML_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def include_target(path: Path, folder: Path, target: str) -> tuple[Path | None, str]:
    """The file ``{{< include target >}}`` in ``path`` names, if it is a Markdown file of the
    narrative folder itself (symlinks and ``..`` resolved); else ``None`` and why not. (Files
    of the folder are the ones the workflow watches and this module checks.)"""
    name = target.strip("\"'")
    resolved = (path.parent / name).resolve()
    if resolved.parent != folder.resolve() or resolved.suffix != ".md":
        return None, (
            f"include '{name}' is not a Markdown file of the narrative folder; only "
            f"files in {folder} may be included"
        )
    if not resolved.is_file():
        return None, f"included file '{name}' not found in {folder}"
    return resolved, ""


def capped(findings: list[Finding]) -> list[Finding]:
    """At most :data:`MAX_FINDINGS_PER_RULE` findings per file and rule, then one that says
    how many more there are (a pasted web page must not bury the first, useful ones)."""
    kept: list[Finding] = []
    counts: dict[tuple[str, str], int] = {}
    for finding in findings:
        key = (finding.column, finding.rule)
        counts[key] = counts.get(key, 0) + 1
        if counts[key] <= MAX_FINDINGS_PER_RULE:
            kept.append(finding)
    for (column, rule), n in counts.items():
        if n > MAX_FINDINGS_PER_RULE:
            first = next(f for f in kept if (f.column, f.rule) == (column, rule))
            kept.append(
                Finding(
                    first.severity,
                    SHEET,
                    None,
                    column,
                    "",
                    rule,
                    f"… and {n - MAX_FINDINGS_PER_RULE} more like this in this file",
                )
            )
    return kept


def outside_folder(path: Path, folder: Path) -> bool:
    """Whether ``path`` (a narrative file, perhaps a symlink) is really a file elsewhere."""
    return path.resolve().parent != folder.resolve()


def include_loop(target: Path, folder: Path, seen: tuple[Path, ...]) -> str | None:
    """Why following the includes from ``target`` would not end, or ``None``."""
    if target in seen:
        return f"'{target.name}' includes itself (via {' -> '.join(p.name for p in seen)})"
    if len(seen) >= MAX_INCLUDE_DEPTH:
        return f"includes nest more than {MAX_INCLUDE_DEPTH} deep"
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # the included file's own check reports it
    for match in INCLUDE_LINE.finditer(text):
        nested, _ = include_target(target, folder, match.group(1))
        problem = nested and include_loop(nested, folder, (*seen, target))
        if problem:
            return problem
    return None


def markup_findings(path: Path, folder: Path, text: str) -> list[Finding]:
    """Findings for the markup of one narrative file (each included file is checked as a
    file of the folder)."""
    findings: list[Finding] = []

    def error(line_no: int, value: str, rule: str, message: str) -> None:
        findings.append(Finding.error(SHEET, line_no, str(path), value, rule, message))

    lines = _mask(text).split("\n")
    fence: str | None = None
    for line_no, line in enumerate(lines, start=1):
        for match in shortcodes(line):
            findings += _shortcode_findings(path, folder, line, line_no, match)
        opened = FENCE.match(line)
        if fence is not None:
            if (
                opened
                and opened.group(1)[0] == fence[0]
                and len(opened.group(1)) >= len(fence)
                and not opened.group(2).strip()
            ):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            if RAW_FORMAT.search(opened.group(2)) or opened.group(2).strip().startswith("="):
                error(
                    line_no,
                    line.strip(),
                    "narrative_raw_markup",
                    "a raw-format block is shown in one output format only; write the "
                    "content as Markdown",
                )
            continue
        if RAW_FORMAT.search(line):
            error(
                line_no,
                RAW_FORMAT.search(line).group(0),
                "narrative_raw_markup",
                "a raw-format span ({=html}, {=typst}…) is shown in one output format "
                "only; write the content as Markdown",
            )
        prose = without_code_spans(line)
        tag = HTML_TAG.search(prose)
        if tag:
            error(
                line_no,
                tag.group(0),
                "narrative_raw_markup",
                f"raw HTML {tag.group(0)!r} is not allowed: the PDF and Word versions drop "
                "it; use Markdown (or write \\< to show a literal '<')",
            )
        event = EVENT_ATTRIBUTE.search(prose)
        if event:
            error(
                line_no,
                event.group(0),
                "narrative_raw_markup",
                "event-handler attributes (on…=) are not allowed in the narrative",
            )
        for image in IMAGE_TARGET.finditer(prose):
            problem = image_problem(image.group(1))
            if problem:
                error(line_no, image.group(1), "narrative_image_path", problem)
        unsafe = UNSAFE_TARGET.search(prose)
        if unsafe:
            findings.append(
                Finding.warning(
                    SHEET,
                    line_no,
                    str(path),
                    unsafe.group(0),
                    "narrative_unsafe_link",
                    f"a {unsafe.group(1).lower()}: link target is dropped from the report "
                    "(only the link text is shown)",
                )
            )
        if (
            line.strip() == "---"
            and (line_no == 1 or not lines[line_no - 2].strip())
            and line_no < len(lines)
            and lines[line_no].strip()
        ):
            error(
                line_no,
                line.strip(),
                "narrative_raw_markup",
                "a '---' line followed by text starts a YAML metadata block, which could "
                "change the report's settings; use '***' for a horizontal rule",
            )
    return findings


def shortcodes(line: str) -> list[re.Match]:
    """Every ``{{< … >}}`` in ``line``, as :data:`SHORTCODE` finds them, in linear time (the
    lazy regex alone rescans the rest of the line from each of many unclosed openers)."""
    found, pos = [], 0
    while (start := line.find("{{<", pos)) >= 0:
        end = line.find(">}}", start + 3)
        if end < 0:
            break
        found.append(SHORTCODE.match(line, start, end + 3))
        pos = end + 3
    return found


def without_code_spans(line: str) -> str:
    """``line`` with its inline code spans blanked: a run of n backticks opens a span that
    the next run of exactly n backticks closes (CommonMark). Linear time: a regex with a
    back-reference takes cubic time on a long run of backticks."""
    runs = list(BACKTICKS.finditer(line))
    next_same: list[int | None] = [None] * len(runs)
    last: dict[int, int] = {}
    for i in range(len(runs) - 1, -1, -1):
        width = len(runs[i].group(0))
        next_same[i] = last.get(width)
        last[width] = i
    out, i, start = [], 0, 0
    while i < len(runs):
        close = next_same[i]
        if close is None:
            i += 1
            continue
        out += [line[start : runs[i].start()], " " * (runs[close].end() - runs[i].start())]
        start, i = runs[close].end(), close + 1
    return "".join(out) + line[start:]


def image_problem(target: str) -> str | None:
    """Why an image target may not be embedded, or ``None``."""
    if SCHEME.match(target) or target.startswith(("/", "\\")):
        return (
            f"image '{target}' is not a file of the report: use a path relative to the "
            "report project, such as figures/themes.svg"
        )
    if ".." in re.split(r"[\\/]", target):
        return f"image '{target}' reaches outside the report project ('..')"
    return None


def _shortcode_findings(
    path: Path, folder: Path, line: str, line_no: int, match: re.Match
) -> list[Finding]:
    def error(message: str, rule: str = "narrative_include") -> list[Finding]:
        return [Finding.error(SHEET, line_no, str(path), match.group(0), rule, message)]

    include = INCLUDE_ARGS.match(match.group(1))
    if not include:
        return error(
            f"shortcode {match.group(0)!r} is not allowed in the narrative (only "
            "{{< include FILE >}} of a file in the narrative folder is)",
            "narrative_shortcode",
        )
    if not INCLUDE_LINE.match(line):
        return error("an include must stand on a line of its own")
    target, problem = include_target(path, folder, include.group(1))
    if target is None:
        return error(problem)
    loop = include_loop(target, folder, (path.resolve(),))
    return error(loop) if loop else []


def expand_includes(path: Path, folder: Path, seen: tuple[Path, ...] = ()) -> str:
    """``path``'s text with each confined ``{{< include >}}`` replaced by the included file.

    :func:`markup_findings` refuses every other include before the report is built; meeting
    one here is a bug, so it raises rather than following it.
    """
    if outside_folder(path, folder):
        raise NarrativeMarkupError(f"{path}: a link to a file outside the narrative folder")
    text = path.read_text(encoding="utf-8")

    def include(match: re.Match) -> str:
        target, problem = include_target(path, folder, match.group(1))
        if target is None or include_loop(target, folder, (*seen, path.resolve())):
            raise NarrativeMarkupError(f"{path}: {problem or 'an include loop'}")
        return expand_includes(target, folder, (*seen, path.resolve())).rstrip("\n")

    return INCLUDE_LINE.sub(include, text)
