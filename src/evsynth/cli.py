"""Command line: ``evsynth`` (or ``python -m evsynth.cli``).

- ``template``: an Excel extraction workbook for a codebook, with drop-down lists.
- ``summary``: after a run, where each review's report is, or which file says why it
  stopped; so the last thing on the terminal is the user's next step.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from evsynth.findings import read_issues_csv

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def config_problems(config: dict, schema_path: Path) -> list[str]:
    """Where the config breaks its JSON Schema, one line each (key path: reason)."""
    import jsonschema

    if not schema_path.is_file():  # an installed package without the workflow folder
        return []
    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    errors = jsonschema.Draft202012Validator(schema).iter_errors(config)
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
            for e in sorted(errors, key=lambda e: list(map(str, e.absolute_path)))]


def run_summary(config_path: Path, results_root: Path = Path("results")) -> int:
    """After a run: each review's report paths, or why it stopped. Non-zero if any stopped."""
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        print(f"evsynth: cannot read the config {config_path}: {exc}", file=sys.stderr)
        return 1
    problems = config_problems(config, SCHEMA)
    if problems:
        print(f"evsynth: {config_path} does not follow workflow/schemas/config.schema.yaml; "
              "nothing was run:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    stopped = 0
    print("")
    for review, settings in sorted((config.get("reviews") or {}).items()):
        base = results_root / review
        fmt = settings.get("report", "")
        reports = [base / "report" / f"{fmt}.{ext}" for ext in ("html", "pdf")]
        if all(p.is_file() for p in reports):
            print(f"{review}: {reports[0]}\n{' ' * (len(review) + 2)}{reports[1]}")
            continue
        stopped += 1
        print(f"{review}: STOPPED. {_why_stopped(base)}", file=sys.stderr)
    return 1 if stopped else 0


def _why_stopped(base: Path) -> str:
    validation = base / "validation"
    summary_path = validation / "summary.json"
    if summary_path.is_file() and json.loads(summary_path.read_text("utf-8")).get("errors"):
        return f"Fix the findings in {validation / 'issues.csv'} (see {validation / 'report.md'})."
    narrative = validation / "narrative_issues.csv"
    if narrative.is_file() and any(f.severity == "error" for f in read_issues_csv(narrative)):
        return f"Fix the narrative findings in {narrative}."
    return ("Any message above says why; logs/<rule>/<review>.log has the details. If there "
            "is none, the run may not have started: `make dry-run` shows Snakemake's own "
            "message, and after a killed run `make unlock` releases its lock.")


def run_template(codebook: Path, out: Path) -> int:
    from evsynth.findings import InputError
    from evsynth.template import write_template

    if out.resolve().is_relative_to(Path("data/raw").resolve()):
        print("evsynth: templates are not written under data/raw/ (raw data is read-only)",
              file=sys.stderr)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evsynth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    summary = sub.add_parser("summary", help="where the reports are, or why a review stopped")
    summary.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    summary.add_argument("--results", type=Path, default=Path("results"))
    template = sub.add_parser("template", help="write an Excel extraction template from a codebook")
    template.add_argument("--codebook", type=Path, required=True)
    template.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "summary":
        return run_summary(args.config, args.results)
    if args.command == "template":
        return run_template(args.codebook, args.out)
    return 2


if __name__ == "__main__":
    sys.exit(main())
