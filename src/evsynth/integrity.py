"""Is what is on disk what the results were built from? The check that makes a rerun honest.

Snakemake judges files by their modification time, and two things escape that:

- an input edited and then given back its old date (restored from a backup, ``cp -p``,
  unzipped): its results look current;
- a result damaged after the run (truncated, edited, half copied): the next steps read it as
  if it were what its rule wrote.

So every job records, next to its results, the SHA-256 of each file it read and of each file
it wrote (:func:`recorded`; two ``sha256sum``-format files per job under
``results/<review>/checksums/``, so ``sha256sum -c`` checks them by hand too). Before every
run, :func:`unvouched_outputs` compares the files with those records: the results of a job
whose inputs changed are stale, a result whose bytes changed is damaged, and a result with no
record cannot be vouched for. The workflow removes them (:func:`remove_unvouched`), so that
Snakemake rebuilds them as it rebuilds any missing file, and nothing else.

Hashing reads 1 MiB at a time, so memory stays flat whatever the size; a file is hashed once
per process unless it changes.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evsynth.intake import sha256_file

#: The folder of a review's per-job records, relative to ``results/<review>/``.
CHECKSUMS_DIR = "checksums"
#: A record is one line per file; anything larger is not one of ours and is not read.
MAX_RECORD_BYTES = 4 << 20
_LINE = re.compile(r"^([0-9a-f]{64})  (.+)$")


@functools.lru_cache(maxsize=4096)
def _cached_sha256(path: str, size: int, mtime_ns: int, inode: int) -> str:
    # Keyed by the file's stat as well as its name: a file rewritten while the process lives
    # (a job, a test session) is hashed again rather than served from the cache.
    return sha256_file(Path(path))


def file_sha256(path: Path) -> str | None:
    """SHA-256 of a regular file's bytes; ``None`` if there is no such file."""
    try:
        if not path.is_file():
            return None
        stat = path.stat()
    except OSError:
        return None
    return _cached_sha256(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def record_text(paths: Iterable[Path | str]) -> str:
    """``sha256sum`` lines for the files among ``paths`` that exist, sorted by path."""
    lines = []
    for path in sorted({str(p) for p in paths}):
        digest = file_sha256(Path(path))
        if digest is not None:
            lines.append(f"{digest}  {path}\n")
    return "".join(lines)


def write_atomic(text: str, target: Path) -> None:
    """Write ``text`` to a temporary file and rename it: a record is whole or absent."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)


def read_record(record: Path) -> dict[Path, str] | None:
    """The path -> SHA-256 pairs of a record; ``None`` if it is missing or not a record.

    A line that is not ``<64 hex>  <path>`` is skipped; its file then counts as unrecorded.
    """
    try:
        if record.stat().st_size > MAX_RECORD_BYTES:
            return None
        text = record.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    pairs = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            pairs[Path(match.group(2))] = match.group(1)
    return pairs


@dataclass(frozen=True)
class Job:
    """One job's declared outputs and where its records are (``<stem>.{inputs,outputs}.sha256``)."""

    stem: Path
    outputs: tuple[Path, ...]

    @property
    def inputs_record(self) -> Path:
        return self.stem.with_name(self.stem.name + ".inputs.sha256")

    @property
    def outputs_record(self) -> Path:
        return self.stem.with_name(self.stem.name + ".outputs.sha256")


def recorded(
    step: Callable[[], object],
    inputs: Iterable[Path | str],
    outputs: Iterable[Path | str],
    stem: Path | str,
) -> Callable[[], None]:
    """``step`` with its records: what a rule adapter hands to ``run_rule``.

    The inputs are hashed before the step runs, so a file edited while it runs is recorded as
    it was read, and the next run finds the change.
    """
    job = Job(Path(stem), tuple(Path(str(p)) for p in outputs))
    input_paths = [str(p) for p in inputs]

    def run() -> None:
        inputs_text = record_text(input_paths)
        step()
        write_atomic(inputs_text, job.inputs_record)
        write_atomic(record_text(job.outputs), job.outputs_record)

    return run


def recorded_rule(smk: Any, step: Callable[[], object]) -> Callable[[], None]:
    """:func:`recorded` for a Snakemake job: every input but the gate's ``passed`` marker
    (it only orders the steps; a rule reads nothing from it), every output, and the record
    stem the rule gives as ``params.checksums``."""
    marker = smk.input.get("passed")
    inputs = [p for p in smk.input if p != marker]
    return recorded(step, inputs, list(smk.output), smk.params.checksums)


@dataclass(frozen=True)
class Unvouched:
    """Results of one job that cannot be trusted. ``kind`` is stale, damaged or unrecorded;
    ``cause`` names the first changed input of a stale job, ``damaged`` the damaged files;
    ``remove`` is what to remove so that Snakemake reruns the job."""

    rule: str
    kind: str
    remove: tuple[Path, ...]
    cause: str = ""
    damaged: tuple[Path, ...] = ()


def unvouched_outputs(
    job: Job, rule: str, expected: dict[Path, str | None], keep: frozenset[Path] = frozenset()
) -> Unvouched | None:
    """The job's outputs to remove because they are stale, damaged or unrecorded, if any.

    ``expected`` maps every result of the run to the SHA-256 its own job recorded (``None``
    if none): a job that read a result is judged against what that result should be, so a
    damaged clean table makes its own job rerun, not every step that read it.

    ``keep`` are results later steps read by content (their own records say when they are
    stale): they are never removed, since a missing one would rerun every step that reads it;
    another output of their job is removed instead, which reruns the job, which rewrites them.

    Only the job's declared outputs are ever returned, whatever a record says, so a damaged
    or hand-edited record can never point the removal at an input or anywhere else.
    """
    existing = tuple(p for p in job.outputs if p.is_file())
    if not existing:
        return None
    removable = tuple(p for p in existing if p not in keep)
    if not removable and len(existing) == len(job.outputs):
        removable = existing[:1]  # nothing else to remove: the job must rerun all the same
    inputs, outputs = read_record(job.inputs_record), read_record(job.outputs_record)
    if inputs is None or outputs is None:
        return Unvouched(rule, "unrecorded", removable)
    for path, digest in sorted(inputs.items()):
        if path in expected:  # a result: as its job recorded it (a missing one is rebuilt)
            should_be = expected[path] or file_sha256(path)
            if should_be is not None and should_be != digest:
                return Unvouched(rule, "stale", removable, str(path))
        elif file_sha256(path) != digest:  # an input of the review: as it is now
            return Unvouched(rule, "stale", removable, str(path))
    damaged = tuple(p for p in existing if outputs.get(p) != file_sha256(p))
    if not damaged:
        return None
    remove = tuple(p for p in damaged if p not in keep) or removable
    return Unvouched(rule, "damaged", remove, damaged=damaged)


def remove_unvouched(
    jobs: Iterable[tuple[Job, str]], keep: frozenset[Path] = frozenset()
) -> list[str]:
    """Remove the stale, damaged or unrecorded results of ``jobs`` (job, rule name), so that
    Snakemake reruns their jobs; see :func:`unvouched_outputs`.

    Returns short notices: one per damaged file, one per changed input naming the steps that
    are redone, one for all unrecorded results, and one per file that could not be removed.
    """
    jobs = list(jobs)
    expected: dict[Path, str | None] = {}
    for job, _ in jobs:
        record = read_record(job.outputs_record) or {}
        expected.update({p: record.get(p) for p in job.outputs})
    # Every verdict first, against the files as they are, then the removals: a result removed
    # here must not make the steps that read it look stale.
    verdicts = [v for job, rule in jobs if (v := unvouched_outputs(job, rule, expected, keep))]
    notices = []
    for found in verdicts:
        for path in found.remove:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                notices.append(
                    f"evsynth: cannot remove {path} ({exc.strerror}), which is "
                    f"{found.kind}: remove it and run again."
                )
    stale: dict[str, list[str]] = {}
    unrecorded: list[str] = []
    for found in verdicts:
        if found.kind == "damaged":
            notices += [
                f"evsynth: {p} is not what rule {found.rule} wrote (its SHA-256 differs); "
                f"redoing {found.rule}."
                for p in found.damaged
            ]
        elif found.kind == "stale":
            stale.setdefault(found.cause, []).append(found.rule)
        else:
            unrecorded.append(found.rule)
    for cause, rules in stale.items():
        notices.append(f"evsynth: {cause} changed since the last run; redoing {_rule_list(rules)}.")
    if unrecorded:
        notices.append(
            f"evsynth: no record of what {_rule_list(unrecorded)} read and wrote; redoing them."
        )
    return notices


def _rule_list(rules: list[str]) -> str:
    counts: dict[str, int] = {}
    for rule in rules:
        counts[rule] = counts.get(rule, 0) + 1
    return ", ".join(rule if n == 1 else f"{rule} (x{n})" for rule, n in counts.items())
