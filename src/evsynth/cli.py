"""Command line: ``evsynth`` (or ``python -m evsynth.cli``).

- ``run``: the whole workflow (``make run``): recovers from an interrupted run, shows progress,
  and ends with where each review's report is, or why it stopped.
- ``new-review``: scaffold a review (config block, starter codebook, data folder, workbook).
- ``template``: an Excel extraction workbook for a codebook, with drop-down lists.
- ``import eppi|covidence|references``: a review's sheets, codebook or references file from
  an EPPI-Reviewer, Covidence or reference-manager export (evsynth.importers); ``export-ris``:
  the included studies as RIS for a reference manager.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run_template(codebook: Path, out: Path) -> int:
    from evsynth.findings import InputError
    from evsynth.template import write_template

    # A lead's sheets live under data/raw/ and nothing may overwrite them; a new, empty
    # workbook there is the lead's own request (step 2 of `make new-review`).
    if out.resolve().is_relative_to(Path("data/raw").resolve()) and out.exists():
        print(
            f"evsynth: {out} exists and is not overwritten (data/raw/ holds the lead's own "
            "sheets, which evsynth only reads); delete it first if you mean to replace it",
            file=sys.stderr,
        )
        return 2
    try:
        write_template(codebook, out)
    except InputError as exc:
        print(f"evsynth: the codebook {codebook} has problems:", file=sys.stderr)
        for finding in exc.findings[:10]:
            print(f"  - {finding.column}: {finding.message}", file=sys.stderr)
        return 1
    print(f"Wrote {out}: fill one row per record; validate with `make run`.")
    return 0


def add_import_parsers(sub: argparse._SubParsersAction) -> None:
    """``import <tool>`` and ``export-ris``: each writes only what it names, never over a
    lead's file without --force (evsynth.importers.common)."""
    imp = sub.add_parser(
        "import", help="bring a review's data from EPPI-Reviewer, Covidence or RIS/BibTeX"
    )
    tools = imp.add_subparsers(dest="tool", required=True)
    eppi = tools.add_parser(
        "eppi", help="EPPI-Reviewer JSON export -> codebook, codes and studies sheets"
    )
    eppi.add_argument("export", type=Path)
    covidence = tools.add_parser(
        "covidence", help="Covidence extraction CSV + mapping file -> studies and outcomes sheets"
    )
    covidence.add_argument("export", type=Path)
    covidence.add_argument("--mapping", type=Path, required=True)
    refs = tools.add_parser(
        "references", help="RIS or BibTeX -> the review's references file, keyed by study_id"
    )
    refs.add_argument("export", type=Path)
    for tool in (eppi, covidence, refs):
        tool.add_argument("--review", required=True, help="review id (data/raw/<review>/)")
        tool.add_argument("--force", action="store_true", help="replace files that exist")
    ris = sub.add_parser("export-ris", help="the review's included studies as RIS")
    ris.add_argument("--review", required=True)
    ris.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    ris.add_argument("--out", type=Path, required=True)


def run_import(args: argparse.Namespace) -> int:
    """Run one importer; a problem is one plain message on stderr and exit status 2."""
    import importlib

    from evsynth.importers.common import ImportProblem

    name = "references" if args.command == "export-ris" else args.tool
    module = importlib.import_module(f"evsynth.importers.{name}")
    try:
        return module.main(args)
    except ImportProblem as exc:
        print(f"evsynth: {exc}\nNothing was written.", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="evsynth", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole workflow and say where the reports are")
    run.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    run.add_argument("--cores", type=int, default=2)
    new = sub.add_parser("new-review", help="scaffold a new review and say what to do next")
    new.add_argument("review", help="review id: lower-case letters, digits and '-'")
    new.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    template = sub.add_parser("template", help="write an Excel extraction template from a codebook")
    template.add_argument("--codebook", type=Path, required=True)
    template.add_argument("--out", type=Path, required=True)
    add_import_parsers(sub)
    args = parser.parse_args(argv)
    if args.command in ("import", "export-ris"):
        return run_import(args)
    if args.command == "run":
        from evsynth.run import run_pipeline

        return run_pipeline(args.config, args.cores)
    if args.command == "new-review":
        from evsynth.scaffold import new_review

        return new_review(args.review, args.config)
    if args.command == "template":
        return run_template(args.codebook, args.out)
    return 2


if __name__ == "__main__":
    sys.exit(main())
