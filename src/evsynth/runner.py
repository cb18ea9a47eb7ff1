"""The bridge between a Snakemake rule and a stage function: logging and clean failure.

A script under ``scripts/`` calls :func:`run_rule` once. Whatever goes wrong, the user sees a
short message on the terminal; the traceback, if there is one, goes only to the rule's log.
A full disk, a used-up quota, a read-only folder or a denied permission is the machine, not a
bug: the message says which file and what to do (:func:`machine_fault`).
"""

from __future__ import annotations

import errno
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from evsynth.findings import InputError


class StopReview(Exception):
    """An expected stop (such as validation errors): the message is all the user needs."""


#: OSError numbers that mean the machine refused a write (or a read), not a fault of evsynth.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
NOT_PERMITTED = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


class _QuietFileHandler(logging.FileHandler):
    """A rule log that fails silently: on a full disk the log cannot be written either, and
    logging's default answer is a traceback on the terminal, the very thing to avoid."""

    def emit(self, record: logging.LogRecord) -> None:
        try:  # FileHandler opens a delayed file outside its own error handling
            super().emit(record)
        except Exception:  # noqa: BLE001 - a log that cannot be written must not stop the rule
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        pass


def run_rule(smk: Any, step: Callable[[], object]) -> None:
    """Route logging to the rule's log, run ``step``, and turn failures into one paragraph."""
    log_path = smk.log[0] if smk.log else None
    # delay: the log file is opened at the first record, inside the handler, so a read-only
    # or full disk is reported by the message below rather than by a traceback here.
    handlers = [_QuietFileHandler(log_path, delay=True, encoding="utf-8")] if log_path else None
    logging.basicConfig(
        handlers=handlers,
        level=logging.INFO,
        force=True,
        format="%(levelname)s %(name)s: %(message)s",
    )
    where = ", ".join(f"{k}={v}" for k, v in dict(smk.wildcards.items()).items())
    logging.info("rule %s (%s) starting", smk.rule, where)
    try:
        step()
    except StopReview as exc:
        logging.error("%s", exc)
        _fail(str(exc))
    except InputError as exc:
        logging.error("%s", exc)
        lines = "\n".join(f"  - {f.one_line()}" for f in exc.findings[:5])
        _fail(f"evsynth: cannot continue ({where}):\n{lines}")
    except Exception as exc:  # noqa: BLE001 - last resort: no traceback on the terminal
        logging.exception("unexpected failure")
        machine = machine_fault(
            exc, _paths(getattr(smk, "input", ())), _paths(getattr(smk, "output", ()))
        )
        if machine is not None:
            _fail(f"evsynth: {machine} (rule '{smk.rule}', {where}; details in {log_path})")
        _fail(
            f"evsynth: internal error in rule '{smk.rule}' ({where}): "
            f"{type(exc).__name__}: {exc}\nThis is a bug in evsynth, not in your data; the "
            f"details are in {log_path}. Please report it with that file."
        )
    logging.info("rule %s (%s) done", smk.rule, where)
    progress(smk)


def progress(smk: Any) -> None:
    """One line on the terminal per finished step, so a long run shows where it is.

    Printed by the step itself rather than parsed from Snakemake's log, whose wording changes
    between versions; ``make run`` keeps Snakemake's own output quiet.
    """
    wildcards = dict(smk.wildcards.items())
    review = wildcards.pop("review", "")
    detail = f" ({', '.join(wildcards.values())})" if wildcards else ""
    print(f"  {review}: {smk.rule}{detail} done", file=sys.stderr, flush=True)


def machine_fault(
    exc: BaseException, inputs: Iterable[Path] = (), outputs: Iterable[Path] = ()
) -> str | None:
    """What the machine refused, in plain words, if ``exc`` (or what caused it) is a full
    disk, a used-up quota, a read-only file system or a denied permission; else ``None``.

    A denied permission on one of the rule's ``inputs`` (or a file inside an input folder) is
    a read; anything else is a write. Without a file name, the rule's first output is named.
    """
    error = next(
        (e for e in _chain(exc) if isinstance(e, OSError) and e.errno in DISK_FULL | NOT_PERMITTED),
        None,
    )
    if error is None:
        return None
    outputs = list(outputs)
    named = error.filename if error.filename is not None else error.filename2
    path = str(named) if named is not None else (str(outputs[0]) if outputs else "its outputs")
    if error.errno == errno.ENOSPC:
        return f"the disk is full while writing {path}; free space and run again"
    if error.errno == errno.EDQUOT:
        return f"the disk quota is used up while writing {path}; free space and run again"
    if error.errno != errno.EROFS and named is not None and _is_within(Path(path), inputs):
        return f"cannot read {path}: permission denied; make it readable and run again"
    return (
        f"cannot write {path}: read-only or permission denied; make its folder writable "
        "and run again"
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or during (a library may wrap an
    OSError in its own error), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _paths(named: Any) -> list[Path]:
    """A Snakemake input or output list as paths (its entries may be nested lists)."""
    out: list[Path] = []
    for item in named or ():
        if isinstance(item, (list, tuple)):
            out.extend(Path(str(i)) for i in item)
        else:
            out.append(Path(str(item)))
    return out


def _is_within(path: Path, folders: Iterable[Path]) -> bool:
    target = path.resolve()
    for folder in folders:
        base = Path(folder).resolve()
        if target == base or base in target.parents:
            return True
    return False


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)
