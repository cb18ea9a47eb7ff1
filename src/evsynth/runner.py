"""The bridge between a Snakemake rule and a stage function: logging and clean failure.

A script under ``scripts/`` calls :func:`run_rule` once. Whatever goes wrong, the user sees a
short message on the terminal; the traceback, if there is one, goes only to the rule's log.

The rules run inside Snakemake's own process, each job in a thread of its pool
(:func:`run_adapter`, ``--force-use-threads``): a job then costs what its work costs, not a
fresh interpreter importing pandas, pyarrow, scipy and matplotlib (1-2 s a job, most of a small
review's run). So nothing here may touch process-wide state for one job alone: each job's log
handler takes only its own thread's records, and a failure raises :class:`RuleFailed` for
Snakemake to record rather than exiting the process.
A full disk, a used-up quota, a read-only folder or a denied permission is the machine, not a
bug: the message says which file and what to do (:func:`machine_fault`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import runpy
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from evsynth.findings import InputError


class StopReview(Exception):
    """An expected stop (such as validation errors): the message is all the user needs."""


class RuleFailed(Exception):
    """A job stopped; the reason has been printed on the terminal and written to its log."""


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


#: Held while the first job imports the plotting stack (see :func:`_import_plotting`).
_PLOTTING_IMPORT = threading.Lock()


def _import_plotting() -> None:
    """Import matplotlib (through evsynth.figures) once, one thread at a time. Two jobs
    importing it at the same moment can see a partially initialised module (matplotlib's
    own modules import one another), which failed a run now and then; after the first job
    this is a dictionary lookup."""
    with _PLOTTING_IMPORT:
        import evsynth.figures.style  # noqa: F401 - imported for its side effect only


def run_adapter(script: Path, job: Any) -> None:
    """Run a ``scripts/`` adapter in this process with ``job`` as its ``snakemake`` object.

    ``job`` carries what a Snakemake ``run:`` block sees (input, output, params, wildcards,
    log, rule), the same names a ``script:`` gets, so an adapter reads the same either way.
    """
    try:
        _import_plotting()
        runpy.run_path(str(script), init_globals={"snakemake": job}, run_name="__main__")
    except RuleFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - failed before run_rule took over (an import)
        # The same one paragraph as run_rule gives, and the traceback in the job's log,
        # rather than a bare traceback from Snakemake and an empty log.
        log_path = job.log[0] if getattr(job, "log", None) else None
        if log_path:
            with contextlib.suppress(OSError):
                Path(log_path).write_text(traceback.format_exc(), encoding="utf-8")
        _fail(
            f"evsynth: internal error in rule '{getattr(job, 'rule', script.stem)}' before it "
            f"started: {type(exc).__name__}: {exc}\nThis is a bug in evsynth, not in your "
            f"data; the details are in {log_path}. Please report it with that file."
        )


def figure_stem(smk: Any, name: str) -> Path:
    """Figure ``name``'s declared SVG (output ``<name>_svg``) without its suffix: a stage
    writes the .png and the .svg there."""
    return Path(str(smk.output[f"{name}_svg"])).with_suffix("")


def run_rule(smk: Any, step: Callable[[], object]) -> None:
    """Route this job's logging to its log, run ``step``, turn failures into one paragraph."""
    log_path = smk.log[0] if smk.log else None
    where = ", ".join(f"{k}={v}" for k, v in dict(smk.wildcards.items()).items())
    with _job_log(log_path) as log:
        log.info("rule %s (%s) starting", smk.rule, where)
        try:
            step()
        except StopReview as exc:
            log.error("%s", exc)
            _fail(str(exc))
        except InputError as exc:
            log.error("%s", exc)
            lines = "\n".join(f"  - {f.one_line()}" for f in exc.findings[:5])
            _fail(f"evsynth: cannot continue ({where}):\n{lines}")
        except Exception as exc:  # noqa: BLE001 - last resort: no traceback on the terminal
            log.exception("unexpected failure")
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
        log.info("rule %s (%s) done", smk.rule, where)
    progress(smk)


class _job_log:  # noqa: N801 - used as a context manager, named like one
    """This thread's records, from the ``evsynth`` loggers and the root logger alike, to the
    job's log file, for as long as the job runs.

    The handler sits on the root logger, shared by every job running at the same time, so it
    keeps only records made in its own thread (a stage may log from any module).
    """

    def __init__(self, log_path: str | None) -> None:
        self.handler: logging.Handler | None = None
        if log_path:
            # delay: the file is opened at the first record, inside the handler, so a
            # read-only or full disk is reported by the stop message rather than a traceback.
            self.handler = _QuietFileHandler(log_path, delay=True, encoding="utf-8")
            self.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            thread = threading.get_ident()
            self.handler.addFilter(lambda record: record.thread == thread)

    def __enter__(self) -> logging.Logger:
        root = logging.getLogger()
        if self.handler is not None:
            root.addHandler(self.handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        return logging.getLogger("evsynth.rule")

    def __exit__(self, *exc: object) -> None:
        if self.handler is not None:
            logging.getLogger().removeHandler(self.handler)
            self.handler.close()


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


def _fail(message: str) -> NoReturn:
    print(message, file=sys.stderr, flush=True)
    raise RuleFailed(message)
