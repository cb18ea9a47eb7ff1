"""Render a review's report: stage the Quarto project, fill it, run an engine.

The Quarto project in ``reports/`` is copied to ``results/<review>/report/source/<format>/``
(so parallel renders, of two reviews or two formats of one, never share intermediates), the
review's partials are written to ``_generated/`` and its metadata to ``_metadata.yml``. Then:

- with ``quarto`` on PATH: ``quarto render <format>.qmd`` to HTML, Typst/PDF and DOCX there;
- otherwise the same sources go through Pandoc 3 (from ``pypandoc-binary``) to a
  self-contained HTML page, to Typst, which the ``typst`` wheel compiles to PDF, and to DOCX
  (styled by a reference document made from ``_brand.yml``: evsynth.docx_reference). This path
  does what Quarto does for these sources: it resolves ``{{< include >}}`` shortcodes, merges
  ``_quarto.yml``, ``_metadata.yml`` and the front matter, and applies the project's filter.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from evsynth.docx_reference import write_reference
from evsynth.findings import read_issues_csv, stop_message
from evsynth.imprint import ImprintError, masthead_html, read_publication
from evsynth.narrative import report_formats
from evsynth.narrative_markup import NarrativeMarkupError
from evsynth.outcomes import MetaAnalysisSettings
from evsynth.references import (
    PreparedReferences,
    ReferencesError,
    citeproc_args,
    prepare_references,
    references_section,
)
from evsynth.report import (
    FORMAT_LABELS,
    ReportInputs,
    ReviewResults,
    build_partials,
    draft_reasons,
    metadata,
)

log = logging.getLogger(__name__)

INCLUDE = re.compile(r"^[ \t]*\{\{<\s*include\s+(\S+)\s*>\}\}[ \t]*$", re.MULTILINE)
SHORTCODE = re.compile(r"\{\{<(.*?)>\}\}")
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
HTML_COMMENT = re.compile(r"<!--.*?-->\n?", re.DOTALL)
#: The body is read without raw HTML, raw-format blocks or YAML blocks: nothing evsynth writes
#: needs them, and the narrative check refuses them (this keeps any that slip by inert: they
#: print as text). The metadata comes from the merged YAML, not from the body.
READER = "markdown-raw_html-raw_attribute-raw_tex-yaml_metadata_block"
#: Typst gets a fixed timestamp so the same sources give the same PDF bytes.
PDF_TIMESTAMP = 0
#: The Word reference document, made per render from the brand (write_generated).
DOCX_REFERENCE = "_generated/reference.docx"
#: The Word-only filter (figures as PNG, boxes as styled paragraphs), after the project's.
DOCX_FILTER = "_assets/docx.lua"


class RenderError(Exception):
    """An engine failed; the message says which and where its log is."""


# --- Engines -----------------------------------------------------------------------------------


def quarto_path() -> str | None:
    return shutil.which("quarto")


def quarto_version() -> str | None:
    exe = quarto_path()
    if not exe:
        return None
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or None


def pandoc_path() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def pandoc_version() -> str | None:
    try:
        import pypandoc

        return pypandoc.get_pandoc_version()
    except (ImportError, OSError):
        return None


def typst_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("typst")
    except Exception:  # noqa: BLE001 - a missing engine is reported as None
        return None


def font_paths() -> list[str]:
    """Fonts for Typst: matplotlib's DejaVu family, so the PDF never depends on the machine."""
    import matplotlib

    return [str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")]


# --- Staging -----------------------------------------------------------------------------------


def stage_sources(reports_dir: Path, source_dir: Path) -> None:
    """A fresh per-review copy of the Quarto project (without the narrative folders)."""
    if source_dir.exists():
        shutil.rmtree(source_dir)

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n.startswith(".")}
        if Path(folder) == reports_dir:  # outputs of a manual `quarto render` in reports/
            skipped |= {
                n
                for n in names
                if n in ("narrative", "_freeze") or n.endswith((".html", ".pdf", ".docx"))
            }
        return skipped

    shutil.copytree(reports_dir, source_dir, ignore=ignore)


def write_generated(
    source_dir: Path, partials: dict[str, str], meta: dict, figures: list[Path]
) -> None:
    generated = source_dir / "_generated"
    for name, text in sorted(partials.items()):
        path = generated / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (source_dir / "_metadata.yml").write_text(
        yaml.safe_dump(meta, sort_keys=True, allow_unicode=True), encoding="utf-8"
    )
    # The report cites figures as figures/<file name> (evsynth.report), beside its sources.
    (source_dir / "figures").mkdir(parents=True, exist_ok=True)
    for path in figures:
        shutil.copy2(path, source_dir / "figures" / path.name)
    (generated / "brand.css").write_text(brand_css(source_dir / "_brand.yml"), encoding="utf-8")
    write_reference(pandoc_path(), source_dir / "_brand.yml", source_dir / DOCX_REFERENCE)


def brand_css(brand_path: Path) -> str:
    """The brand's colours and base font as the CSS variables report.css uses."""
    brand = yaml.safe_load(brand_path.read_text(encoding="utf-8"))
    colours = brand.get("color", {})
    palette = colours.get("palette", {})
    lines = [":root {"]
    for role in (
        "primary",
        "secondary",
        "tertiary",
        "light",
        "warning",
        "foreground",
        "background",
    ):
        if role in colours:
            lines.append(f"  --evs-{role}: {palette.get(colours[role], colours[role])};")
    family = brand.get("typography", {}).get("base", {}).get("family")
    if family:
        lines.append(f'  --evs-font: "{family}", "Helvetica Neue", Arial, sans-serif;')
    return "\n".join(lines) + "\n}\n"


def write_masthead(source_dir: Path, settings: dict, report_format: str) -> None:
    """The HTML page's masthead, from the config, over the staged copy of the project's
    static one (which a manual ``quarto render`` in reports/ still uses)."""
    project = yaml.safe_load((source_dir / "_quarto.yml").read_text(encoding="utf-8"))
    target = project.get("format", {}).get("html", {}).get("include-before-body")
    if not target:
        return
    brand = yaml.safe_load((source_dir / "_brand.yml").read_text(encoding="utf-8"))
    mark = brand.get("logo", {}).get("images", {}).get("mark", {})
    publication = read_publication(settings)
    organisation = publication.organisation if publication else settings.get("organisation")
    (source_dir / target).write_text(
        masthead_html(
            str(mark.get("path", "")),
            str(mark.get("alt", "logo")),
            organisation or "",
            FORMAT_LABELS[report_format],
            draft_reasons(settings, publication),
        ),
        encoding="utf-8",
    )


# --- The Pandoc + Typst path -------------------------------------------------------------------


def resolve_includes(path: Path, roots: tuple[Path, ...], seen: tuple[Path, ...] = ()) -> str:
    """The file's text with every ``{{< include file >}}`` replaced by that file, recursively
    (paths relative to the including file, as Quarto resolves them).

    Only files inside ``roots`` (the staged project) are followed, after resolving symlinks
    and ``..``: an include is never a way to publish an arbitrary file. (The narrative check
    refuses such includes first, naming file and line; this is the engine's own guard.)"""
    if path in seen:
        raise RenderError(f"{path}: includes itself (via {' -> '.join(map(str, seen))})")
    text = path.read_text(encoding="utf-8")
    text = FRONT_MATTER.sub("", text) if seen else text

    def include(match: re.Match) -> str:
        target = (path.parent / match.group(1)).resolve()
        if not any(target.is_relative_to(root.resolve()) for root in roots):
            raise RenderError(
                f"{path}: included file {match.group(1)} is outside the report "
                "project and the narrative folder; not included"
            )
        if not target.is_file():
            raise RenderError(f"{path}: included file {match.group(1)} not found")
        return resolve_includes(target, roots, (*seen, path)).rstrip("\n") + "\n"

    return INCLUDE.sub(include, text)


def flatten(source_dir: Path, qmd_name: str) -> tuple[str, dict]:
    """The document as one Markdown text, and its merged metadata (Quarto's precedence:
    project ``_quarto.yml`` < directory ``_metadata.yml`` < the document's front matter).

    The narrative's own includes were expanded from its folder before staging
    (:func:`evsynth.report.narrative_partials`), so includes here stay in the project."""
    text = HTML_COMMENT.sub("", resolve_includes((source_dir / qmd_name).resolve(), (source_dir,)))
    match = FRONT_MATTER.match(text)
    front = yaml.safe_load(match.group(1)) if match else {}
    body = text[match.end() :] if match else text
    leftover = SHORTCODE.search(body)
    if leftover:
        raise RenderError(
            f"{qmd_name}: shortcode {leftover.group(0)!r} is not supported "
            "without Quarto (only include is)"
        )
    project = yaml.safe_load((source_dir / "_quarto.yml").read_text(encoding="utf-8"))
    meta = {k: v for k, v in project.items() if k not in ("project", "format", "filters", "brand")}
    meta.update(yaml.safe_load((source_dir / "_metadata.yml").read_text(encoding="utf-8")))
    meta.update(front or {})
    meta["_format"] = project.get("format", {})
    return body, meta


def docx_epoch(meta: dict) -> int:
    """The time Pandoc writes into a DOCX (docProps/core.xml, zip entries): the document's
    ``date`` when it is an ISO date (``date-iso``, the imprint's publication date, first: the
    printed ``date`` reads "1 May 2024"), else 0 (like the PDF's); never the build time, so the
    same sources give the same bytes."""
    value = meta.get("date-iso", meta.get("date"))
    if isinstance(value, datetime.datetime):
        return max(0, int(value.replace(tzinfo=value.tzinfo or datetime.UTC).timestamp()))
    if isinstance(value, datetime.date):
        midnight = datetime.datetime.combine(value, datetime.time(), tzinfo=datetime.UTC)
        return max(0, int(midnight.timestamp()))
    try:
        return docx_epoch({"date": datetime.date.fromisoformat(str(value))})
    except ValueError:
        return 0


def run_pandoc(args: list[str], cwd: Path, epoch: int = 0) -> None:
    # SOURCE_DATE_EPOCH: Pandoc's dates in a DOCX (and its zip) come from it, not the clock.
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
    done = subprocess.run(
        [pandoc_path(), *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )
    if done.stderr.strip():
        log.info("pandoc: %s", done.stderr.strip())
    if done.returncode != 0:
        raise RenderError(f"pandoc failed ({done.returncode}): {done.stderr.strip()[:500]}")


def render_with_pandoc(
    source_dir: Path, qmd_name: str, html_path: Path, pdf_path: Path, docx_path: Path
) -> None:
    import typst

    body, meta = flatten(source_dir, qmd_name)
    formats = meta.pop("_format")
    stem = Path(qmd_name).stem
    flat = source_dir / f"{stem}.md"
    flat.write_text(body, encoding="utf-8")
    meta_file = source_dir / f"{stem}.meta.yml"
    meta_file.write_text(yaml.safe_dump(meta, sort_keys=True, allow_unicode=True), "utf-8")
    filters = [
        a
        for f in yaml.safe_load((source_dir / "_quarto.yml").read_text("utf-8")).get("filters", [])
        for a in ("--lua-filter", f)
    ]
    # Citations after the project's filter (as Quarto orders them), with the staged entries.
    common = ["--from", READER, "--metadata-file", meta_file.name, *filters, *citeproc_args(meta)]

    html = formats.get("html", {})
    html_args = [
        "--to",
        "html5",
        "--standalone",
        "--embed-resources",
        "--section-divs",
        "--output",
        str(html_path.resolve()),
    ]
    if html.get("toc"):
        html_args += ["--toc", f"--toc-depth={html.get('toc-depth', 2)}"]
    for css in [html.get("css")] if isinstance(html.get("css"), str) else html.get("css", []):
        html_args += ["--css", css]
    html_args += ["--css", "_generated/brand.css"]
    if html.get("include-before-body"):
        html_args += ["--include-before-body", html["include-before-body"]]
    run_pandoc([*common, *html_args, flat.name], source_dir)

    typ = source_dir / f"{stem}.typ"
    typst_opts = formats.get("typst", {})
    typst_args = [
        "--to",
        "typst",
        "--template",
        "_typst/pandoc.typ",
        "--output",
        typ.name,
        f"--shift-heading-level-by={typst_opts.get('shift-heading-level-by', 0)}",
    ]
    if typst_opts.get("toc"):
        typst_args += ["--toc", f"--toc-depth={typst_opts.get('toc-depth', 2)}"]
    run_pandoc([*common, *typst_args, flat.name], source_dir)
    try:
        _, warnings = typst.compile_with_warnings(
            str(typ),
            output=str(pdf_path.resolve()),
            root=str(source_dir),
            font_paths=font_paths(),
            ignore_system_fonts=True,
            timestamp=PDF_TIMESTAMP,
        )
    except Exception as exc:  # typst raises its own error type with the source location
        raise RenderError(f"typst failed on {typ}: {exc}") from exc
    for warning in warnings or []:
        log.info("typst: %s", warning)

    docx = formats.get("docx", {})
    docx_filters = [a for f in docx.get("filters", []) for a in ("--lua-filter", f)]
    docx_args = [
        "--to",
        "docx",
        "--reference-doc",
        docx.get("reference-doc", DOCX_REFERENCE),
        f"--shift-heading-level-by={docx.get('shift-heading-level-by', 0)}",
        "--output",
        str(docx_path.resolve()),
    ]
    if docx.get("toc"):
        docx_args += ["--toc", f"--toc-depth={docx.get('toc-depth', 2)}"]
    run_pandoc([*common, *docx_filters, *docx_args, flat.name], source_dir, docx_epoch(meta))


def publication_dates(source_dir: Path) -> dict:
    """The staged metadata's dates (the publication date, if the config gives one)."""
    meta = yaml.safe_load((source_dir / "_metadata.yml").read_text(encoding="utf-8")) or {}
    return {k: meta[k] for k in ("date-iso",) if k in meta}


def render_with_quarto(
    source_dir: Path, qmd_name: str, html_path: Path, pdf_path: Path, docx_path: Path
) -> None:
    exe = quarto_path()
    for fmt in ("html", "typst", "docx"):
        done = subprocess.run(
            [exe, "render", qmd_name, "--to", fmt],
            cwd=source_dir,
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "SOURCE_DATE_EPOCH": str(docx_epoch(publication_dates(source_dir)))},
        )
        log.info("quarto render --to %s: %s", fmt, done.stderr.strip())
        if done.returncode != 0:
            raise RenderError(f"quarto render --to {fmt} failed: {done.stderr.strip()[-500:]}")
    stem = Path(qmd_name).stem
    shutil.move(source_dir / f"{stem}.html", html_path)
    shutil.move(source_dir / f"{stem}.pdf", pdf_path)
    shutil.move(source_dir / f"{stem}.docx", docx_path)


def choose_engine() -> str:
    """``quarto`` when it is on PATH (unless EVSYNTH_ENGINE=pandoc says otherwise)."""
    wanted = os.environ.get("EVSYNTH_ENGINE", "auto")
    if wanted == "pandoc" or (wanted == "auto" and not quarto_path()):
        return "pandoc"
    if not quarto_path():
        raise RenderError("EVSYNTH_ENGINE=quarto but quarto is not on PATH")
    return "quarto"


# --- The stage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderPaths:
    """Where a render reads and writes, as its rule names them: the narrative findings
    (checked first), the figures the report shows, the staging folder for the filled
    sources, and the three reports."""

    narrative_issues: Path
    figures: tuple[Path, ...]
    source_dir: Path
    html: Path
    pdf: Path
    docx: Path


def checked(errors: list) -> str:
    """What the narrative check's errors are about: the narrative, the references file
    (evsynth.references adds its findings to the same file), or both."""
    sheets = {f.sheet for f in errors}
    if sheets == {"references"}:
        return "The references"
    return "The narrative and references" if "references" in sheets else "The narrative"


def review_references(review: str, settings: dict, res: ReviewResults) -> PreparedReferences | None:
    """The review's references file read for citeproc (None without one); a file that
    cannot be read stops the review with the file's (and line's) message."""
    from evsynth.runner import StopReview

    if not settings.get("references"):
        return None
    csl = Path(settings["csl"]) if settings.get("csl") else None
    included = res.studies["study_id"].astype(str).tolist()
    try:
        return prepare_references(Path(settings["references"]), csl, included, pandoc_path())
    except ReferencesError as exc:
        raise StopReview(f"The references of review '{review}': {exc.message}") from exc


def run_render(
    review: str,
    settings: dict,
    analysis: MetaAnalysisSettings,
    inputs: ReportInputs,
    reports_dir: Path,
    out: RenderPaths,
    report_format: str | None = None,
) -> str:
    """Fill and render one format of a review's report; returns the engine used.

    ``report_format``: the format to render (the rule's ``{format}``); None takes the one the
    settings name (``report`` naming a single format)."""
    from evsynth.runner import StopReview

    errors = [f for f in read_issues_csv(out.narrative_issues) if f.severity == "error"]
    if errors:
        raise StopReview(
            stop_message(f"{checked(errors)} of review '{review}'", errors, out.narrative_issues)
        )
    if report_format is None:
        (report_format,) = report_formats(settings["report"])
    narrative = Path(settings["narrative"]) if settings["narrative"] else None
    res = ReviewResults.load(inputs)
    references = review_references(review, settings, res)
    if references is not None:
        res = replace(res, references=references.cited)
    try:
        partials = build_partials(res, settings, report_format, narrative, analysis)
    except NarrativeMarkupError as exc:  # the narrative changed after it was checked
        raise StopReview(f"The narrative of review '{review}': {exc}") from exc
    partials["references.md"] = references_section(references is not None)
    try:
        meta = metadata(settings, report_format)
    except ImprintError as exc:
        raise StopReview(f"The config of review '{review}' (reviews.{review}): {exc}") from exc
    stage_sources(reports_dir, out.source_dir)
    if references is not None:
        meta = {**meta, **references.write(out.source_dir)}
    write_generated(out.source_dir, partials, meta, list(out.figures))
    write_masthead(out.source_dir, settings, report_format)
    engine = choose_engine()
    log.info("rendering %s for %s with %s", report_format, review, engine)
    render = render_with_quarto if engine == "quarto" else render_with_pandoc
    try:
        render(out.source_dir, f"{report_format}.qmd", out.html, out.pdf, out.docx)
    except (RenderError, subprocess.TimeoutExpired, OSError) as exc:
        raise StopReview(f"Rendering the {report_format} for '{review}' failed: {exc}") from exc
    return engine
