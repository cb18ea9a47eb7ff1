"""Command line: ``evsynth`` (or ``python -m evsynth.cli``).

- ``explain-failure``: after a failed run, say in plain words which reviews stopped and why,
  from the findings files, so the last thing on the terminal is the user's next step.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from evsynth.findings import read_issues_csv, stop_message


def explain_failure(config_path: Path, results_root: Path = Path("results")) -> int:
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        print(f"evsynth: cannot read the config {config_path}: {exc}", file=sys.stderr)
        return 1
    reviews = sorted(config.get("reviews") or {})
    print("\nevsynth: the run did not finish.", file=sys.stderr)
    explained = False
    for review in reviews:
        base = results_root / review / "validation"
        summary_path, issues_path = base / "summary.json", base / "issues.csv"
        if summary_path.is_file() and issues_path.is_file():
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            if summary.get("errors"):
                errors = [f for f in read_issues_csv(issues_path) if f.severity == "error"]
                print(f"\nReview '{review}': " + stop_message(
                    "Validation", errors, issues_path, base / "report.md",
                    n_warnings=summary.get("warnings")), file=sys.stderr)
                explained = True
                continue
        narrative = base / "narrative_issues.csv"
        if narrative.is_file():
            errors = [f for f in read_issues_csv(narrative) if f.severity == "error"]
            if errors:
                print(f"\nReview '{review}': " + stop_message("The narrative", errors, narrative),
                      file=sys.stderr)
                explained = True
    if not explained:
        print("No validation errors were recorded; the messages above say which step failed, "
              "and logs/<rule>/<review>.log has the details.", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evsynth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    explain = sub.add_parser("explain-failure", help="summarise why a run stopped")
    explain.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    explain.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    if args.command == "explain-failure":
        return explain_failure(args.config, args.results)
    return 2


if __name__ == "__main__":
    sys.exit(main())
