"""``make run``: one command that finishes, whatever the last run left behind.

A research lead should never need to know Snakemake's bookkeeping. This module wraps one
Snakemake run of the whole workflow and owns three things around it:

- **One run per folder.** An exclusive ``flock`` on ``.snakemake/evsynth-run.lock`` marks a run
  as live. The kernel drops it when the process dies, however it dies (``kill -9``, a closed
  laptop), so a lock that Snakemake left in ``.snakemake/locks/`` while nobody holds ours is
  stale by construction: it is released with a one-line notice and the interrupted jobs are
  redone (``--rerun-incomplete``). A run that is really going (ours, or a Snakemake started by
  hand in the same folder) is left alone and the second command says so.
- **Progress.** Each rule prints one line when it finishes (:mod:`evsynth.runner`); this module
  only frames them.
- **A summary that is always true.** After the run, each review is either listed with its
  report files, or named STOPPED with its first findings and the file that lists them all. A
  stopped review's earlier report files are removed, so last week's numbers are never taken
  for this week's; what counts as current is Snakemake's own view (``--summary``).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evsynth.findings import Finding, read_issues_csv
from evsynth.narrative import report_formats

PROJECT = Path(__file__).resolve().parents[2]
SNAKEFILE = PROJECT / "workflow" / "Snakefile"
CONFIG_SCHEMA = PROJECT / "workflow" / "schemas" / "config.schema.yaml"
#: Report files a render may write; all of them go when a review stops.
REPORT_EXTENSIONS = ("html", "pdf", "docx")
#: Findings shown per stopped review; the rest are in the file named after them.
SHOWN = 3
#: Exit status when another run holds the folder (EX_TEMPFAIL: try again later).
BUSY = 75


@dataclass
class ReviewState:
    """What the run left for one review: current, or stopped and why."""

    review: str
    reports: list[Path]
    stopped: bool
    pending_rules: list[str] = field(default_factory=list)


class RunLock:
    """An exclusive lock on the project folder for the life of this process."""

    def __init__(self, path: Path):
        self.path = path
        self.handle: io.TextIOWrapper | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return True

    def holder(self) -> str:
        """The pid written by the run that holds the lock (for the message)."""
        try:
            return self.path.read_text("utf-8").strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def snakemake_processes(workdir: Path) -> list[tuple[int, str]]:
    """Snakemake processes working in ``workdir`` (pid, command), read from /proc.

    Only Linux has /proc; elsewhere this finds nothing and our own lock is the only guard.
    """
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    me = os.getpid()
    target = workdir.resolve()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            command = (
                (entry / "cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode("utf-8", "replace")
                .strip()
            )
            if "snakemake" not in command or "--unlock" in command:
                continue
            if Path(os.readlink(entry / "cwd")).resolve() == target:
                found.append((int(entry.name), command))
        except OSError:  # the process ended while we looked, or is not ours to read
            continue
    return sorted(found)


def snakemake_command(config: Path, cores: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--configfile",
        str(config),
        "--cores",
        str(cores),
        # The rules run in this process's threads (also set by workflow/profiles/default;
        # said here too so that a user's --workflow-profile cannot slow every job down).
        "--force-use-threads",
        *extra,
    ]


def has_stale_lock(workdir: Path) -> bool:
    locks = workdir / ".snakemake" / "locks"
    return locks.is_dir() and any(locks.iterdir())


def release_stale_lock(config: Path) -> str | None:
    """Release Snakemake's lock; None when done, else what Snakemake said."""
    done = subprocess.run(
        snakemake_command(config, 1, "--unlock", "--quiet", "all"), capture_output=True, text=True
    )
    if done.returncode == 0:
        return None
    return "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])


def config_problems(config: object, schema_path: Path) -> list[str]:
    """Where the config breaks its JSON Schema, one line each (key path: reason)."""
    import jsonschema

    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    errors = [_reason(e) for e in jsonschema.Draft202012Validator(schema).iter_errors(config)]
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
        for e in sorted(errors, key=lambda e: list(map(str, e.absolute_path)))
    ]


def _reason(error: Any) -> Any:
    """The error a person can act on. A ``oneOf`` (``report``: a format or a list) says only
    "not valid under any of the given schemas"; the reason is in the alternative whose type
    the value has ('summary' is not one of …; a list's item 1 is not one of …)."""
    from jsonschema.exceptions import best_match

    if not error.context:
        return error
    branches: dict[object, list] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        subs
        for subs in branches.values()
        if not any(s.validator == "type" and not s.relative_path for s in subs)
    ]
    return best_match(fitting[0] if len(fitting) == 1 else error.context)


def read_config(config: Path) -> dict:
    return yaml.safe_load(config.read_text(encoding="utf-8")) or {}


def report_paths(results: Path, review: str, report: str | list[str]) -> list[Path]:
    """Every report file of a review, for each format its ``report`` setting names."""
    return [
        results / review / "report" / f"{fmt}.{ext}"
        for fmt in report_formats(report)
        for ext in REPORT_EXTENSIONS
    ]


def pending_outputs(config: Path) -> dict[str, list[str]] | None:
    """Per review, the rules whose outputs Snakemake would still (re)build; None if it can't say.

    Snakemake's ``--summary`` lists every output of the workflow with its plan; an output whose
    plan is not "no update" is not current, whatever its file on disk says.
    """
    done = subprocess.run(snakemake_command(config, 1, "--summary"), capture_output=True, text=True)
    if done.returncode != 0:
        return None
    pending: dict[str, list[str]] = {}
    lines = [line for line in done.stdout.splitlines() if line.startswith("results/")]
    for record in csv.reader(lines, delimiter="\t"):
        if len(record) < 6:
            continue
        path, rule, plan = record[0], record[2], record[5]
        parts = path.split("/")
        if len(parts) > 2 and plan != "no update":
            rules = pending.setdefault(parts[1], [])
            if rule not in rules:
                rules.append(rule)
    return pending


def review_states(
    config: dict, results: Path, pending: dict[str, list[str]] | None
) -> list[ReviewState]:
    """Each review as the run left it. With ``pending`` None (Snakemake could not plan the
    workflow at all) every review counts as stopped: nothing can be vouched for."""
    states = []
    for review, settings in sorted((config.get("reviews") or {}).items()):
        reports = [
            p
            for p in report_paths(results, review, settings.get("report", ""))
            if p.suffix != ".docx" or p.is_file()
        ]
        rules = ["(workflow)"] if pending is None else pending.get(review, [])
        missing = not all(p.is_file() for p in reports)
        states.append(ReviewState(review, reports, bool(rules) or missing, rules))
    return states


def withdraw_reports(state: ReviewState, results: Path) -> list[Path]:
    """Remove a stopped review's report files (and the provenance that vouches for them)."""
    removed = []
    for path in [*state.reports, results / state.review / "provenance.json"]:
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def first_findings(path: Path, shown: int = SHOWN) -> tuple[list[Finding], int]:
    try:
        errors = [f for f in read_issues_csv(path) if f.severity == "error"]
    except (OSError, KeyError, ValueError, csv.Error):
        return [], 0
    return errors[:shown], len(errors)


def finding_lines(errors: list[Finding], total: int, where: str) -> list[str]:
    """The first findings, how many more there are, and the file that lists them all."""
    more = [f"  … and {total - len(errors)} more."] if total > len(errors) else []
    return [*(f"  - {f.location()}: {f.message}" for f in errors), *more, f"  {where}"]


def why_stopped(state: ReviewState, results: Path) -> list[str]:
    """The lines under "STOPPED": the first findings and where all of them are."""
    base = results / state.review
    validation = base / "validation"
    summary_path = validation / "summary.json"
    try:
        summary = json.loads(summary_path.read_text("utf-8"))
    except (OSError, ValueError):
        summary = {}
    if summary.get("errors"):
        errors, total = first_findings(validation / "issues.csv")
        if errors:
            return finding_lines(
                errors,
                total,
                f"All {total} finding(s): "
                f"{validation / 'issues.csv'} (readable: "
                f"{validation / 'report.md'})",
            )
    narrative = validation / "narrative_issues.csv"
    errors, total = first_findings(narrative)
    if errors:
        return finding_lines(errors, total, f"All {total} narrative finding(s): {narrative}")
    rules = [r for r in state.pending_rules if r != "(workflow)"]
    logs = sorted({str(p) for rule in rules for p in Path("logs", rule).glob(f"{state.review}*")})
    if logs:
        return [
            f"  - step(s) not finished: {', '.join(rules)}; the message above says why, "
            f"and the log has the details: {', '.join(logs)}"
        ]
    return [
        "  - the workflow could not start: Snakemake's message above says why "
        "(`make dry-run` shows it again)."
    ]


def print_summary(states: list[ReviewState], results: Path) -> None:
    print("", flush=True)
    for state in states:
        if not state.stopped:
            width = len(state.review) + 2
            lines = [str(p) for p in state.reports if p.is_file()]
            print(f"{state.review}: {lines[0]}" + "".join(f"\n{' ' * width}{p}" for p in lines[1:]))
            continue
        removed = withdraw_reports(state, results)
        print(f"{state.review}: STOPPED", file=sys.stderr)
        for line in why_stopped(state, results):
            print(line, file=sys.stderr)
        if removed:
            print(
                f"  Its earlier report was removed ({', '.join(p.name for p in removed)}): it "
                "no longer matches the inputs.",
                file=sys.stderr,
            )
    sys.stderr.flush()


def run_pipeline(
    config: Path, cores: int = 2, results: Path = Path("results"), workdir: Path = Path(".")
) -> int:
    """Run the whole workflow for ``config``; print where the reports are or why not."""
    lock = RunLock(workdir / ".snakemake" / "evsynth-run.lock")
    if not lock.acquire():
        print(
            f"evsynth: another `make run` is already going in this folder (process "
            f"{lock.holder()}). Nothing was changed; wait for it to finish, or stop it, "
            "then run again.",
            file=sys.stderr,
        )
        return BUSY
    try:
        others = snakemake_processes(workdir)
        if others:
            pid, command = others[0]
            print(
                f"evsynth: Snakemake is already running in this folder (process {pid}: "
                f"{command[:100]}). Nothing was changed; wait for it to finish, then run "
                "again.",
                file=sys.stderr,
            )
            return BUSY
        if has_stale_lock(workdir):
            problem = release_stale_lock(config)
            if problem is not None:
                print(
                    "evsynth: an earlier run was interrupted and its lock could not be "
                    f"released, because Snakemake stopped:\n{problem}",
                    file=sys.stderr,
                )
                return 1
            print(
                "evsynth: an earlier run was interrupted; its lock was released and its "
                "unfinished steps will be redone.",
                file=sys.stderr,
            )
        try:
            settings = read_config(config)
        except (OSError, yaml.YAMLError) as exc:
            print(f"evsynth: cannot read the config {config}: {exc}", file=sys.stderr)
            return 1
        problems = config_problems(settings, CONFIG_SCHEMA)
        if problems:  # Snakemake would say so too, but its message is hidden by --quiet
            print(
                f"evsynth: {config} does not follow {CONFIG_SCHEMA.relative_to(PROJECT)}; "
                "nothing was run:",
                file=sys.stderr,
            )
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        reviews = sorted(settings["reviews"])
        print(f"evsynth: running {len(reviews)} review(s): {', '.join(reviews)}", flush=True)
        started = time.monotonic()
        status = subprocess.run(
            snakemake_command(config, cores, "--rerun-incomplete", "--keep-going", "--quiet", "all")
        ).returncode
        pending = {} if status == 0 else pending_outputs(config)
        states = review_states(settings, results, pending)
        print_summary(states, results)
        print(f"evsynth: finished in {time.monotonic() - started:.0f} s", flush=True)
        return 1 if status != 0 or any(s.stopped for s in states) else 0
    finally:
        lock.release()
