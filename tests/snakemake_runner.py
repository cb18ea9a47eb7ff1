"""``python -m snakemake ...`` for the tests, forked from a warm interpreter instead of started.

Why: about 33 test calls run the workflow through Snakemake, ~180 s of the suite's time. A
fresh interpreter spends ~1.3 s importing Snakemake and ~1.5 s importing pandas, pyarrow,
matplotlib and scipy before it does any work, most of a small run: the tiny review took
9.5-11 s of CPU as a subprocess and 6.5-7.3 s forked from here (the forkserver's own start
costs 3.7 s of CPU once per pytest process), on the 2-core machine.

How: each pytest process (each xdist worker) starts, on its first call, a multiprocessing
forkserver that imports those third-party modules once (:data:`PRELOAD`: never evsynth's own
modules, so nothing of the project is imported, nor any environment variable read by it,
before a run's environment is in place). Each call forks a child from it that does what
``python -m snakemake`` does at its start: stdout and stderr go to files (file descriptors 1
and 2, so Pandoc's and Typst's output lands there too), the environment is replaced by the
call's, the working directory and ``sys.path`` are the ones a fresh interpreter would have,
then ``snakemake.cli.main`` runs and its exit status (or an uncaught exception's traceback and
status 1) ends the child as Python's own exit would, atexit handlers included. The caller gets
a :class:`subprocess.CompletedProcess` with the same args, return code and text. The
forkserver is stopped and waited for when the pytest process (each xdist worker) exits.

What stays a real subprocess: ``make run``'s wrapper (``python -m evsynth.cli run``, which
starts Snakemake itself: tests/conftest.py's shared tiny build and tests/test_run.py, the
suite's end-to-end runs, which also kill runs and read /proc command lines), every other
command, a call whose startup variables (:data:`STARTUP_VARIABLES`) differ from the
forkserver's, and every call when the environment variable ``EVSYNTH_TEST_SUBPROCESS=1`` is
set, to check that both ways give the same results.

What still differs from a fresh process: the children of one forkserver share its hash seed
(a set's order is the same from run to run, where a fresh process draws a new seed each time);
stdin is /dev/null; the preloaded objects are frozen out of garbage collection
(:func:`gc.freeze`); the child's parent is the forkserver and /proc shows the forkserver's
command line; and multiprocessing imports the test process's main module in the child (nothing
under ``python -m pytest`` and xdist; a script that calls this needs its
``if __name__ == "__main__"`` guard).
"""

from __future__ import annotations

import atexit
import functools
import gc
import json
import locale
import multiprocessing
import multiprocessing.forkserver
import os
import re
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

#: Imported once by the forkserver. Third-party only; each was checked not to read at import an
#: environment variable that a test sets (the tests set only EVSYNTH_ENGINE).
PRELOAD = (
    "snakemake_runner",
    "snakemake.cli",
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.parquet",
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib.backends.backend_agg",
    "scipy.special",
    "scipy.stats",
    "yaml",
    # What a run imports next (about 0.4 s a run, measured with -X importtime): the Word
    # writer, the modules Snakemake loads for its storage and report plugins, Arrow's CSV reader.
    "docx",
    "smart_open",
    "jsonschema",
    "snakemake.report.html_reporter",
    "platformdirs",
    "pyarrow.csv",
)
#: Set to 1 to run every call as a real subprocess instead.
SUBPROCESS_VARIABLE = "EVSYNTH_TEST_SUBPROCESS"
#: Environment variables read when an interpreter starts or a preloaded module is imported (the
#: hash seed, encodings, PYTHONPATH, matplotlib's and the BLAS's settings, cache folders,
#: PATH for the solvers Snakemake's scheduler looks for): a call whose values differ from the
#: forkserver's runs as a real subprocess, since a forked child would keep the forkserver's.
STARTUP_VARIABLES = re.compile(
    r"PYTHON.*|MPL.*|MATPLOTLIB.*|OPENBLAS.*|OMP_.*|MKL_.*|NPY_.*|NUMPY_.*|PANDAS_.*|SCIPY_.*"
    r"|ARROW_.*|LC_.*|LANG|LANGUAGE|HOME|XDG_.*|TMPDIR|TMP|TEMP|PATH"
)
_MODULE = ("-m", "snakemake")


def run_snakemake(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
    cwd=cwd)`` for ``command = [sys.executable, "-m", "snakemake", *arguments]``, run in a
    child forked from the warm forkserver (or as that very subprocess, see the module)."""
    command = [str(part) for part in command]
    env = {str(k): str(v) for k, v in env.items()}
    if os.environ.get(SUBPROCESS_VARIABLE) == "1":
        return _subprocess(command, env, timeout, cwd)
    if command[:1] != [sys.executable] or tuple(command[1:3]) != _MODULE:
        raise ValueError(f"not a `{sys.executable} -m snakemake` command: {command}")
    context, startup = _forkserver()
    if _startup_variables(env) != startup:
        return _subprocess(command, env, timeout, cwd)
    workdir = os.path.abspath(cwd if cwd is not None else os.getcwd())
    with tempfile.TemporaryDirectory(prefix="snakemake-run-") as folder:
        out, err = Path(folder, "stdout"), Path(folder, "stderr")
        out.touch()  # empty if the child dies before it gets to write
        err.touch()
        child = context.Process(
            target=_child,
            args=(command[3:], env, workdir, _fresh_sys_path(env, workdir), str(out), str(err)),
            name="snakemake",
        )
        child.start()
        try:
            child.join(timeout)
            timed_out = child.exitcode is None
        finally:
            if child.exitcode is None:  # timed out, or the wait was interrupted: as run() does
                child.kill()
                child.join()
        code = child.exitcode
        child.close()
        stdout, stderr = _text(out), _text(err)
    if timed_out:
        raise subprocess.TimeoutExpired(command, timeout, output=stdout, stderr=stderr)
    return subprocess.CompletedProcess(command, code, stdout, stderr)


def _subprocess(
    command: list[str], env: dict[str, str], timeout: float, cwd: str | os.PathLike[str] | None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd
    )


@functools.cache
def _forkserver() -> tuple[multiprocessing.context.ForkServerContext, dict[str, str]]:
    """The forkserver's context, started now (on this process's first call), and the startup
    variables it was started with."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    startup = _startup_variables(os.environ)
    multiprocessing.forkserver.ensure_running()
    atexit.register(_stop_forkserver)
    return context, startup


def _startup_variables(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if STARTUP_VARIABLES.fullmatch(k)}


def _stop_forkserver() -> None:
    """Stop the forkserver and wait for it, as this process exits. It would stop by itself
    once this process is gone (its pipe closes), but a moment later, after pytest has
    returned; waiting here leaves nothing behind when pytest returns."""
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    stop = getattr(server, "_stop", None)  # CPython's own, used by its tests
    if stop is not None:
        stop()


def _fresh_sys_path(env: Mapping[str, str], workdir: str) -> list[str]:
    """``sys.path`` of ``python -m snakemake`` started with ``env`` in ``workdir`` once it has
    imported Snakemake: the working directory first, then what the interpreter puts there
    (PYTHONPATH, the standard library, site-packages) and what Snakemake's import adds, without
    the folders pytest and tests/conftest.py add (tests/, bench/)."""
    startup = tuple(sorted(_startup_variables(env).items()))
    rest = _interpreter_path(startup)
    return rest if "PYTHONSAFEPATH" in env else [workdir, *rest]


@functools.cache
def _interpreter_path(startup: tuple[tuple[str, str], ...]) -> list[str]:
    """The interpreter's own ``sys.path`` entries under these startup variables (PYTHONPATH,
    HOME), after ``import snakemake``, which appends its pip-deployments folder: asked once,
    0.2 s."""
    env = {**dict(startup), "PYTHONSAFEPATH": "1"}  # not '' first: the caller puts the folder
    probe = "import json, sys, snakemake; print(json.dumps(sys.path))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout)


def _text(path: Path) -> str:
    """The bytes as ``subprocess.run(..., text=True)`` gives them: the locale's encoding and
    universal newlines."""
    data = path.read_bytes().decode(locale.getpreferredencoding(False))
    return data.replace("\r\n", "\n").replace("\r", "\n")


def _child(
    argv: list[str],
    env: dict[str, str],
    workdir: str,
    path: list[str],
    out: str,
    err: str,
) -> None:
    """In the forked child: become ``python -m snakemake <argv>`` and exit as it would."""
    # The ~225,000 objects the forkserver preloaded live as long as the run: freezing them keeps
    # each of the run's full collections from walking them again (and from writing to, so
    # copying, the pages they share with the forkserver): 0.27 s of collecting in a tiny run
    # becomes 0.07 s.
    gc.freeze()
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, name in ((1, out), (2, err)):
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.environ.clear()  # putenv/unsetenv too: Pandoc and Typst inherit this environment
    os.environ.update(env)
    os.chdir(workdir)
    _retake_import_time_state()
    sys.path[:] = path
    sys.argv = ["-m", *argv]  # runpy puts snakemake/__main__.py first, as -m does
    _exit(_status_of_main())


def _retake_import_time_state() -> None:
    """What a preloaded module took from the process when the forkserver imported it, taken
    again from this one, as it would be in a fresh interpreter: Snakemake's run directory
    (printed in its header) is the working directory at import."""
    workflow = sys.modules.get("snakemake.workflow")
    if workflow is not None:
        workflow.Workflow._rundir = str(Path.cwd().absolute())


def _status_of_main() -> int:
    """Snakemake's exit status, with Python's rules for SystemExit and uncaught exceptions."""
    try:
        # What `python -m snakemake` runs: snakemake/__main__.py as the __main__ module, which
        # calls snakemake.cli.main() on sys.argv.
        runpy.run_module("snakemake", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        if stop.code is None:
            return 0
        if isinstance(stop.code, int):
            return stop.code & 0xFF
        print(stop.code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        _exit_flush()
        # Python ends by SIGINT then, so that its parent sees the interrupt
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        return 130
    except BaseException:  # noqa: BLE001 - the interpreter's last resort, as python does
        sys.excepthook(*sys.exc_info())
        return 1
    return 0


def _exit(code: int) -> None:
    """End the child as the interpreter ends: threads joined, atexit run, streams flushed."""
    threading._shutdown()  # type: ignore[attr-defined]  # what Py_FinalizeEx calls first
    atexit._run_exitfuncs()
    _exit_flush()
    os._exit(code)


def _exit_flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
