"""A review's references: an optional bibliography keyed by ``study_id``, cited through citeproc.

The file (BibTeX ``.bib``, RIS ``.ris`` or CSL JSON ``.json``) is read by Pandoc itself, which
normalises all three to CSL JSON; evsynth never parses bibliographic syntax. The entries are
checked against the included studies (a study without an entry, an entry without a study: a
warning each), and the entries of included studies are staged beside the report sources for
Pandoc's ``--citeproc`` (or Quarto's ``bibliography:``), under citation keys that no study ID
can break (:func:`cite_key`). :func:`cite` is what the report writes where it cites studies.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from evsynth.escape import markdown_text as md
from evsynth.findings import Finding
from evsynth.inputfile import RefusedFile, read_limited

#: The ``sheet`` of a references finding; ``column`` holds the file, ``row`` its line.
SHEET = "references"
#: Pandoc's reader for each file type the ``references`` setting may name.
READERS = {".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris", ".json": "csljson"}
#: A review's bibliography is some hundreds of entries (~100 KB). 2 MiB holds ~9,800 BibTeX
#: entries, which Pandoc reads in 7 s with a 550 MB peak; 8 MiB took 33 s and 1.2 GB, on every
#: check and render, so the bound is 2 MiB.
MAX_BYTES = 2 * 2**20
#: Pandoc's heap is capped too (GHC runtime option), so no input can take the machine's memory.
PANDOC_HEAP = "-M1g"
PANDOC_TIMEOUT_S = 120
#: The APA 7th edition style bundled with the report project (reports/_csl/, CC BY-SA 3.0),
#: relative to the staged sources.
DEFAULT_CSL = "_csl/apa.csl"
#: Where a render stages the entries and a configured style, relative to the staged sources.
STAGED_BIBLIOGRAPHY = "_generated/references.json"
STAGED_CSL = "_generated/style.csl"
#: A study ID used as the citation key as it is: Pandoc reads it inside ``@{…}`` unchanged.
#: Anything else (spaces, braces, ``]``, ``;``, ``@``, backslashes, non-ASCII) gets a key
#: made from its hash, which starts with ``_`` and so never equals an ID kept as it is.
PLAIN_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/+-]*")
PANDOC_LINE = re.compile(r"line (\d+)")
MAX_CSL_BYTES = 2 * 2**20


class ReferencesError(Exception):
    """A references file that cannot be used; the message names the file (and line)."""

    def __init__(
        self,
        message: str,
        rule: str = "references_unreadable",
        line: int | None = None,
        reason: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.line = line
        #: The message without the file and line (a finding names those in its own columns).
        self.reason = reason if reason is not None else message.split(": ", 1)[-1]


@dataclass(frozen=True)
class Bibliography:
    """The entries of a references file as CSL JSON items (in file order), and its text."""

    path: Path
    items: tuple[dict, ...]
    text: str

    def ids(self) -> list[str]:
        return [str(item.get("id", "")) for item in self.items]


# --- Reading -----------------------------------------------------------------------------------


def read_references(path: Path, pandoc: str) -> Bibliography:
    """The file's entries as CSL JSON, through ``pandoc -f <reader> -t csljson``.

    Raises :class:`ReferencesError` for a file of another type, a file that is not a bounded
    regular UTF-8 file, and one Pandoc cannot read (with Pandoc's line where it gives one)."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ReferencesError(
            f"{path}: not a references file evsynth reads; use BibTeX (.bib), RIS (.ris) or "
            "CSL JSON (.json)",
            "references_format",
        )
    try:
        data = read_limited(path, MAX_BYTES, "references file")
    except RefusedFile as exc:
        raise ReferencesError(exc.message, exc.rule) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        reason = "not UTF-8 text; save it as UTF-8"
        raise ReferencesError(f"{path} (line {line}): {reason}", line=line, reason=reason) from None
    if reader == "csljson":  # Pandoc's JSON errors give no line; Python's parser does
        try:
            json.loads(text)
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            reason = f"not readable as CSL JSON: {getattr(exc, 'msg', exc)}"
            where = f" (line {line})" if line else ""
            raise ReferencesError(f"{path}{where}: {reason}", line=line, reason=reason) from None
    # The bytes read and checked are what Pandoc gets, on stdin: never the path again.
    try:
        done = subprocess.run(
            [pandoc, "+RTS", PANDOC_HEAP, "-RTS", "--from", reader, "--to", "csljson"],
            input=text,
            capture_output=True,
            text=True,
            timeout=PANDOC_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ReferencesError(
            f"{path}: Pandoc took over {PANDOC_TIMEOUT_S} s to read it; is it the right file?"
        ) from None
    if done.returncode != 0:
        raise pandoc_error(path, reader, done.stderr)
    try:
        items = json.loads(done.stdout)
    except ValueError:
        raise ReferencesError(f"{path}: Pandoc gave no readable entries") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ReferencesError(f"{path}: Pandoc gave no readable entries")
    return Bibliography(path, tuple(items), text)


def pandoc_error(path: Path, reader: str, stderr: str) -> ReferencesError:
    """Pandoc's parse error as a finding message: the file, the line, the reason (short)."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    reason = " ".join(ln for ln in lines if not ln.startswith("[WARNING]"))[:300]
    found = PANDOC_LINE.search(reason)
    line = int(found.group(1)) if found else None
    where = f" (line {line})" if line else ""
    reason = re.sub(r'^Error at (".*?" )?\(line \d+, column \d+\):\s*', "", reason)
    kind = {"bibtex": "BibTeX", "ris": "RIS", "csljson": "CSL JSON"}[reader]
    reason = f"not readable as {kind}: {reason or 'Pandoc gave no reason'}"
    return ReferencesError(f"{path}{where}: {reason}", line=line, reason=reason)


def entry_line(text: str, key: str) -> int | None:
    """The line where the entry ``key`` starts, as the file's own syntax names a key (BibTeX
    ``@type{key,``, RIS ``ID  - key``, CSL JSON ``"id": "key"``); None when not found."""
    patterns = (
        r"@\w+\s*[{(]\s*" + re.escape(key) + r"\s*,",
        r"^ID  - " + re.escape(key) + r"\s*$",
        r'"id"\s*:\s*' + re.escape(json.dumps(key)),
    )
    for pattern in patterns:
        found = re.search(pattern, text, re.MULTILINE)
        if found:
            return text.count("\n", 0, found.start()) + 1
    return None


# --- Checking ----------------------------------------------------------------------------------


def check_references(
    path: Path | None, csl: Path | None, studies: pd.DataFrame, pandoc: str
) -> list[Finding]:
    """Findings for a review's references file against its included studies (``studies``:
    the clean studies table, ``study_id`` and ``source_row``). No file: no findings."""
    findings: list[Finding] = []
    if csl is not None and not csl.is_file():
        findings.append(
            Finding.error(
                SHEET, None, str(csl), "", "references_csl_missing", "the CSL style is not a file"
            )
        )
    if path is None:
        return findings
    try:
        bib = read_references(path, pandoc)
    except ReferencesError as exc:
        return [*findings, Finding.error(SHEET, exc.line, str(path), "", exc.rule, exc.reason)]
    ids = bib.ids()
    seen: set[str] = set()
    for key in ids:
        line = entry_line(bib.text, key)
        if not key:
            findings.append(
                Finding.warning(
                    SHEET, None, str(path), "", "references_no_key", "an entry has no key; ignored"
                )
            )
        elif key in seen:
            findings.append(
                Finding.warning(
                    SHEET,
                    line,
                    str(path),
                    key,
                    "references_duplicate_entry",
                    f"entry '{key}' appears more than once; the first is used",
                )
            )
        seen.add(key)
    included = studies["study_id"].astype(str).tolist()
    for key in sorted(seen - set(included) - {""}):
        findings.append(
            Finding.warning(
                SHEET,
                entry_line(bib.text, key),
                str(path),
                key,
                "references_unused_entry",
                f"entry '{key}' is not the study_id of an included study; "
                "left out of the reference list",
            )
        )
    rows = studies.set_index(studies["study_id"].astype(str))["source_row"]
    for study in included:
        if study not in seen:
            findings.append(
                Finding.warning(
                    "studies",
                    int(rows[study]) if not pd.isna(rows[study]) else None,
                    "study_id",
                    study,
                    "references_missing_entry",
                    f"study '{study}' has no entry in {path}; it is cited by its ID and "
                    "left out of the reference list",
                )
            )
    return findings


def run_check_references(
    references: str | None, csl: str | None, studies_path: Path, pandoc: str
) -> list[Finding]:
    """The check as the narrative rule runs it (paths as the config names them)."""
    from evsynth.handoff import read_typed

    studies = read_typed(studies_path)
    return check_references(
        Path(references) if references else None, Path(csl) if csl else None, studies, pandoc
    )


# --- Staging and citing ------------------------------------------------------------------------


def cite_key(study_id: str) -> str:
    """The citation key of a study: its ID where Pandoc reads that unchanged inside ``@{…}``,
    else ``_`` and 20 hex digits of its SHA-256 (no ID can then close the citation early,
    start another, or carry markup into the source)."""
    if PLAIN_KEY.fullmatch(study_id):
        return study_id
    return "_" + hashlib.sha256(study_id.encode("utf-8")).hexdigest()[:20]


def staged_items(bib: Bibliography, included: Collection[str]) -> list[dict]:
    """The entries of included studies (the first of any duplicate), keyed by :func:`cite_key`,
    in study-ID order (citeproc sorts the list by the style; this keeps the file stable)."""
    first: dict[str, dict] = {}
    for item in bib.items:
        key = str(item.get("id", ""))
        if key in included and key not in first:
            first[key] = item
    return [{**first[k], "id": cite_key(k)} for k in sorted(first)]


def read_style(path: Path) -> bytes:
    """A configured CSL style's bytes (bounded, a regular file)."""
    try:
        return read_limited(path, MAX_CSL_BYTES, "CSL style")
    except RefusedFile as exc:
        raise ReferencesError(exc.message, exc.rule) from None


@dataclass(frozen=True)
class PreparedReferences:
    """A review's references, read and checked, ready to stage: the included studies'
    entries (keyed by :func:`cite_key`), a configured style's bytes (None: the bundled APA),
    and the included studies that have an entry (the ones :func:`cite` cites)."""

    items: tuple[dict, ...]
    style: bytes | None
    cited: frozenset[str]

    def write(self, source_dir: Path) -> dict:
        """Write the entries (and a configured style) beside the report sources; returns the
        document metadata that points citeproc at them."""
        target = source_dir / STAGED_BIBLIOGRAPHY
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(list(self.items), ensure_ascii=False, indent=1, sort_keys=True)
        target.write_text(text + "\n", encoding="utf-8")
        style = DEFAULT_CSL
        if self.style is not None:
            (source_dir / STAGED_CSL).write_bytes(self.style)
            style = STAGED_CSL
        return citeproc_metadata(STAGED_BIBLIOGRAPHY, style)


def prepare_references(
    references: Path, csl: Path | None, included: Collection[str], pandoc: str
) -> PreparedReferences:
    """Read ``references`` (and a configured ``csl``) for a render; raises
    :class:`ReferencesError` when either cannot be used."""
    bib = read_references(references, pandoc)
    style = read_style(csl) if csl is not None else None
    cited = frozenset(bib.ids()) & frozenset(included)
    return PreparedReferences(tuple(staged_items(bib, set(included))), style, cited)


def citeproc_metadata(bibliography: str, csl: str) -> dict:
    """Document metadata for citeproc (Pandoc's ``--citeproc`` and Quarto alike): the staged
    files, and every staged entry in the list (``nocite``), so the reference list is complete
    even for a study cited nowhere in the text."""
    return {
        "bibliography": bibliography,
        "csl": csl,
        "nocite": "[@*]",
        "link-citations": True,
    }


def citeproc_args(meta: dict) -> list[str]:
    """Pandoc's options for a document whose metadata names a bibliography (else none)."""
    if not meta.get("bibliography"):
        return []
    return ["--citeproc", "--bibliography", str(meta["bibliography"]), "--csl", str(meta["csl"])]


def references_section(present: bool) -> str:
    """The "References" section (the ``_generated/references.md`` partial): citeproc fills
    the ``#refs`` div with the list, sorted by the style. Empty without references."""
    if not present:
        return ""
    return "## References {#references}\n\n::: {#refs}\n:::\n"


def cite(ids: Sequence[str], cited: Collection[str], *, prose: bool = False) -> str:
    """Markdown that cites the studies ``ids``.

    Studies in ``cited`` (those with a references entry) become one Pandoc citation,
    ``[@{FA03}; @{FA07}]``, which citeproc renders in the style ("(Author, 2007; …)"); any
    other ID is printed as escaped text after it. With nothing cited (no references file)
    this is the IDs as before: "FA03, FA07, FA15" (escaped as one text), or with ``prose``
    "FA03, FA07 and FA15".
    """
    ids = [str(i).strip() for i in ids if str(i).strip()]
    if not prose and not any(i in cited for i in ids):
        return md(", ".join(ids))  # byte for byte what the tables printed before references
    keyed = [i for i in ids if i in cited]
    plain = [md(i) for i in ids if i not in cited]
    parts = ["[" + "; ".join(f"@{{{cite_key(i)}}}" for i in keyed) + "]"] if keyed else []
    parts += plain
    if prose and len(parts) > 1:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    return ", ".join(parts)


def cite_in_text(study_id: str, cited: Collection[str], fallback: str) -> str:
    """A study named in running text ("Author (2007)") where it has an entry, else
    ``fallback`` (Markdown, e.g. the escaped free-text citation)."""
    return f"@{{{cite_key(study_id)}}}" if study_id in cited else fallback


def add_reference_findings(
    issues_path: Path, references: str | None, csl: str | None, studies_path: Path, pandoc: str
) -> None:
    """Add the references check's findings to the narrative check's file (the one the
    render and `make run` already read for findings that stop a report)."""
    from evsynth.findings import read_issues_csv, write_issues_csv

    found = run_check_references(references, csl, studies_path, pandoc)
    if found:
        write_issues_csv([*read_issues_csv(issues_path), *found], issues_path)
