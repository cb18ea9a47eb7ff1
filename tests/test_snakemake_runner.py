"""The tests' Snakemake runner (tests/snakemake_runner.py) gives what ``python -m snakemake``
gives: the same return code, stdout and stderr, in the call's own environment and folder.

Each comparison needs a fresh ``python -m snakemake`` as its reference, ~2 s of CPU for the
import alone, so the file starts three: the tiny review's dry run, one failing run of the probe
below (shared by three tests and the xdist workers through :func:`probe_runs`) and a usage
error.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import NamedTuple

import pytest

import snakemake_runner
from conftest import REPO, built_once
from snakemake_runner import SUBPROCESS_VARIABLE, run_snakemake

#: A workflow that prints what its process sees: a variable of the call's environment, the
#: working directory, sys.path, sys.argv[0], any evsynth module imported before the run (none:
#: the forkserver imports none of them) and whether matplotlib was (the warm forkserver's
#: sign); a child process's line (file descriptor 1, as Pandoc and Typst write); a line on
#: stderr. Asked to, it then sleeps, or fails for a missing input.
PROBE = """\
import os, subprocess, sys
print("probe:", os.environ.get("RUNNER_PROBE", "unset"))
print("cwd:", os.getcwd())
print("path:", sys.path)
print("argv0:", sys.argv[0])
print("evsynth imported:", [m for m in sys.modules if m.split(".")[0] == "evsynth"])
print("warm:", "matplotlib" in sys.modules)
print("a child process says:", flush=True)
subprocess.run(["echo", "hello from fd 1"], check=True)
print("to stderr", file=sys.stderr)
if "RUNNER_SLEEP" in os.environ:
    import time
    time.sleep(float(os.environ["RUNNER_SLEEP"]))

rule all:
    input: ["no-such-input"] if "RUNNER_FAIL" in os.environ else []
"""


def command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *arguments]


def both(cmd: list[str], env: dict[str, str], cwd: Path | None = None):
    """The runner's result and the real subprocess's, for the same call."""
    forked = run_snakemake(cmd, env=env, timeout=300, cwd=cwd)
    real = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)
    return forked, real


#: What differs between any two runs: the header's date and random workflow ID, the time
#: stamp of each job, such as ``[Tue Dec  1 04:13:36 2026]``, and the probe's warmth (a forked
#: run's matplotlib is imported, a fresh one's is not).
RUN_STAMPS = re.compile(
    r"^ *(Date: .*|Workflow ID: .*|\[\w{3} \w{3} [ \d]\d [\d:]{8} \d{4}\]|warm: (True|False))$",
    re.M,
)


def without_run_stamps(text: str) -> str:
    return RUN_STAMPS.sub("<stamp>", text)


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    snakefile = tmp_path_factory.mktemp("probe") / "Snakefile"
    snakefile.write_text(PROBE, "utf-8")
    return snakefile


def probe_command(probe: Path) -> list[str]:
    return command("--snakefile", str(probe), "--cores", "1", "--dry-run")


class ProbeRuns(NamedTuple):
    """One call of the probe, in its own folder and environment, that fails for a missing
    input: ``forked`` by the runner, ``real`` as the real subprocess it runs when asked to."""

    cmd: list[str]
    snakefile: Path
    workdir: Path
    forked: subprocess.CompletedProcess[str]
    real: subprocess.CompletedProcess[str]
    #: the test process's environment and folder were the same after the forked run
    nothing_leaked: bool


@pytest.fixture(scope="session")
def probe_runs(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> ProbeRuns:
    """The reference of three tests, run once for the session (and shared by the xdist
    workers): each would otherwise start its own fresh interpreter (~2 s of CPU). The real run
    goes through the runner's own subprocess way (``EVSYNTH_TEST_SUBPROCESS=1``), which the
    warmth test checks is a fresh process."""

    def build(folder: Path) -> None:
        snakefile, workdir = folder / "probe" / "Snakefile", folder / "first"
        snakefile.parent.mkdir(parents=True)
        snakefile.write_text(PROBE, "utf-8")
        workdir.mkdir()
        cmd = probe_command(snakefile)
        env = {**os.environ, "RUNNER_PROBE": "set for the first run", "RUNNER_FAIL": "1"}
        env.pop(SUBPROCESS_VARIABLE, None)
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv(SUBPROCESS_VARIABLE, raising=False)
            before = (dict(os.environ), os.getcwd())
            forked = run_snakemake(cmd, env=env, timeout=300, cwd=workdir)
            nothing_leaked = (dict(os.environ), os.getcwd()) == before
            patch.setenv(SUBPROCESS_VARIABLE, "1")
            real = run_snakemake(cmd, env=env, timeout=300, cwd=workdir)
        runs = {
            "cmd": cmd,
            "forked": [forked.args, forked.returncode, forked.stdout, forked.stderr],
            "real": [real.args, real.returncode, real.stdout, real.stderr],
            "nothing_leaked": nothing_leaked,
        }
        (folder / "runs.json").write_text(json.dumps(runs), "utf-8")

    folder = built_once(tmp_path_factory, worker_id, "runner-probe", build)
    runs = json.loads((folder / "runs.json").read_text("utf-8"))
    return ProbeRuns(
        runs["cmd"],
        folder / "probe" / "Snakefile",
        folder / "first",
        subprocess.CompletedProcess(*runs["forked"]),
        subprocess.CompletedProcess(*runs["real"]),
        runs["nothing_leaked"],
    )


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's own way, whatever the session was started with."""
    monkeypatch.delenv(SUBPROCESS_VARIABLE, raising=False)


def test_a_dry_run_of_the_tiny_review_gives_the_same_text(forked, tiny: Path):
    # --quiet host rules: the job counts, without the per-job lines, whose order (a set's)
    # changes from one run to the next.
    cmd = command(
        "--snakefile",
        str(REPO / "workflow/Snakefile"),
        "--directory",
        str(tiny),
        "--configfile",
        str(tiny / "config.yaml"),
        "--cores",
        "2",
        "--dry-run",
        "--quiet",
        "host",
        "rules",
    )
    got, real = both(cmd, {**os.environ, "EVSYNTH_ENGINE": "pandoc"})
    assert real.returncode == 0, real.stderr
    assert (got.args, got.returncode, got.stdout, got.stderr) == (
        real.args,
        real.returncode,
        real.stdout,
        real.stderr,
    )
    assert "total                 21" in got.stdout


def test_a_failing_run_gives_the_same_status_and_message(probe_runs: ProbeRuns):
    got, real = probe_runs.forked, probe_runs.real
    assert real.returncode == 1, real.stderr
    assert (got.args, got.returncode, got.stderr) == (real.args, real.returncode, real.stderr)
    # The header (run and working directory, command) and the error, which Snakemake logs on
    # stdout, all the same.
    assert without_run_stamps(got.stdout) == without_run_stamps(real.stdout)
    assert f"Run directory: {probe_runs.workdir}\n" in got.stdout
    assert "Missing input files for rule all:" in got.stdout


def test_a_usage_error_keeps_argparses_exit_status(forked, tmp_path: Path):
    got, real = both(command("--no-such-option"), dict(os.environ), cwd=tmp_path)
    assert real.returncode == 2
    assert (got.returncode, got.stdout) == (real.returncode, real.stdout)
    # The usage between them lists some choices in a set's order, which changes from one
    # interpreter to the next (the hash seed): the same lines, in some other order within.
    ends = [(r.stderr.splitlines()[0], r.stderr.splitlines()[-1]) for r in (got, real)]
    assert (
        ends[0]
        == ends[1]
        == (
            "usage: __main__.py [-h] [--dry-run] [--profile PROFILE]",
            "__main__.py: error: unrecognized arguments: --no-such-option",
        )
    )
    assert sorted(got.stderr) == sorted(real.stderr)


def test_each_run_sees_its_own_environment_and_folder_and_nothing_leaks(
    forked, probe: Path, probe_runs: ProbeRuns
):
    folders = str(probe_runs.snakefile.parent), str(probe_runs.workdir)
    for run in (probe_runs.forked, probe_runs.real):  # the real one: the expectations are right
        assert "probe: set for the first run" in run.stdout
        assert f"cwd: {folders[1]}\n" in run.stdout
        assert "path: [{!r}, {!r},".format(*folders) in run.stdout  # not tests/, bench/
        assert "evsynth imported: []" in run.stdout
        assert "hello from fd 1" in run.stdout and "to stderr" in run.stderr
    assert probe_runs.nothing_leaked
    # The next run (in the same forkserver unless another xdist worker ran the first): its own
    # environment and folder only.
    before_env, before_cwd = dict(os.environ), os.getcwd()
    second = run_snakemake(probe_command(probe), env=dict(os.environ), timeout=300)
    assert second.returncode == 0, second.stderr
    assert "probe: unset" in second.stdout
    assert f"cwd: {before_cwd}\n" in second.stdout
    assert (dict(os.environ), os.getcwd()) == (before_env, before_cwd)


def test_the_forkserver_is_warm_and_a_real_subprocess_is_used_when_asked_or_needed(
    probe_runs: ProbeRuns, monkeypatch: pytest.MonkeyPatch
):
    assert "warm: True" in probe_runs.forked.stdout
    assert "warm: False" in probe_runs.real.stdout  # asked: EVSYNTH_TEST_SUBPROCESS=1
    # Needed: a variable read at start-up or import that differs from the forkserver's. That
    # the runner's subprocess is a fresh process was just seen; here, only that it is used.
    calls = []

    def subprocess_run(*arguments):
        calls.append(arguments)
        return subprocess.CompletedProcess(arguments[0], 0, "", "")

    monkeypatch.delenv(SUBPROCESS_VARIABLE, raising=False)
    monkeypatch.setattr(snakemake_runner, "_subprocess", subprocess_run)
    env = {**os.environ, "MPLBACKEND": "svg"}
    run_snakemake(probe_runs.cmd, env=env, timeout=300)
    assert calls == [(probe_runs.cmd, env, 300, None)]


def test_a_run_past_its_timeout_is_killed_and_raises(forked, probe: Path):
    cmd = probe_command(probe)
    env = {**os.environ, "RUNNER_SLEEP": "60"}
    # The shortest timeout by which the probe has printed, so that what a killed run printed
    # is seen: 1 s, doubled while the machine is too busy for that.
    for timeout in (1, 2, 4, 8):
        start = time.monotonic()
        with pytest.raises(subprocess.TimeoutExpired) as raised:
            run_snakemake(cmd, env=env, timeout=timeout)
        assert time.monotonic() - start < 30  # killed, not waited for: the probe sleeps 60 s
        assert raised.value.cmd == cmd and raised.value.timeout == timeout
        if "a child process says:" in (raised.value.output or ""):
            break
    assert "probe: unset" in raised.value.output  # what it printed before it was killed


@pytest.fixture
def fake_snakemake_cli(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """What ``python -m snakemake`` imports for its ``main``, without importing Snakemake's
    command line (1.5 s) into this process: the tests below replace ``main`` anyway."""
    module = types.ModuleType("snakemake.cli")
    monkeypatch.setitem(sys.modules, "snakemake.cli", module)
    return module


def test_an_uncaught_exception_prints_its_traceback_and_gives_status_1(
    fake_snakemake_cli, capsys: pytest.CaptureFixture[str]
):
    # snakemake.cli.main turns an Exception into a message; anything else escaping it is what
    # Python itself would print. Checked in this process: the child runs the same function.
    def boom(argv=None):
        raise GeneratorExit("escaped Snakemake")

    fake_snakemake_cli.main = boom
    assert snakemake_runner._status_of_main() == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.rstrip().endswith("GeneratorExit: escaped Snakemake")


@pytest.mark.parametrize(
    ("code", "status", "printed"), [(None, 0, ""), (3, 3, ""), ("no", 1, "no\n")]
)
def test_system_exit_gives_pythons_status(
    fake_snakemake_cli, capsys: pytest.CaptureFixture[str], code, status, printed
):
    def stop(argv=None):
        raise SystemExit(code)

    fake_snakemake_cli.main = stop
    assert snakemake_runner._status_of_main() == status
    assert capsys.readouterr().err == printed


def test_only_a_snakemake_command_is_forked(forked):
    with pytest.raises(ValueError, match="not a"):
        run_snakemake(["snakemake", "--version"], env=dict(os.environ), timeout=10)
