"""The tests' Snakemake runner (tests/snakemake_runner.py) gives what ``python -m snakemake``
gives: the same return code, stdout and stderr, in the call's own environment and folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import snakemake_runner
from conftest import REPO
from snakemake_runner import SUBPROCESS_VARIABLE, run_snakemake

#: A workflow that prints what its process sees: a variable of the call's environment, the
#: working directory, sys.path, sys.argv[0] and any evsynth module imported before the run (none:
#: the forkserver imports none of them); a child process's line (file descriptor 1, as
#: Pandoc and Typst write); a line on stderr; and, asked to, whether matplotlib was imported
#: before it (the warm forkserver's sign).
PROBE = """\
import os, subprocess, sys
print("probe:", os.environ.get("RUNNER_PROBE", "unset"))
print("cwd:", os.getcwd())
print("path:", sys.path)
print("argv0:", sys.argv[0])
print("evsynth imported:", [m for m in sys.modules if m.split(".")[0] == "evsynth"])
print("a child process says:", flush=True)
subprocess.run(["echo", "hello from fd 1"], check=True)
print("to stderr", file=sys.stderr)
if "RUNNER_WARM" in os.environ:
    print("warm:", "matplotlib" in sys.modules)
if "RUNNER_SLEEP" in os.environ:
    import time
    time.sleep(float(os.environ["RUNNER_SLEEP"]))

rule all:
    input: []
"""


def command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *arguments]


def both(cmd: list[str], env: dict[str, str], cwd: Path | None = None):
    """The runner's result and the real subprocess's, for the same call."""
    forked = run_snakemake(cmd, env=env, timeout=300, cwd=cwd)
    real = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)
    return forked, real


#: What differs between any two runs: the header's date and random workflow ID, and the time
#: stamp of each job, such as ``[Tue Dec  1 04:13:36 2026]``.
RUN_STAMPS = re.compile(
    r"^ *(Date: .*|Workflow ID: .*|\[\w{3} \w{3} [ \d]\d [\d:]{8} \d{4}\])$", re.M
)


def without_run_stamps(text: str) -> str:
    return RUN_STAMPS.sub("<stamp>", text)


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    snakefile = tmp_path / "probe" / "Snakefile"
    snakefile.parent.mkdir()
    snakefile.write_text(PROBE, "utf-8")
    return snakefile


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


def test_a_failing_run_gives_the_same_status_and_message(forked, tmp_path: Path):
    missing = tmp_path / "no-such-config.yaml"
    cmd = command(
        "--snakefile", str(REPO / "workflow/Snakefile"), "--configfile", str(missing), "-n"
    )
    got, real = both(cmd, dict(os.environ), cwd=tmp_path)
    assert real.returncode == 1
    assert (got.returncode, got.stdout, got.stderr) == (real.returncode, real.stdout, real.stderr)
    assert f"No such file or directory: {str(missing)!r}" in got.stdout  # Snakemake logs there


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
    forked, probe: Path, tmp_path: Path
):
    before_env, before_cwd = dict(os.environ), os.getcwd()
    cmd = command("--snakefile", str(probe), "--cores", "1", "--dry-run")
    first = tmp_path / "first"
    first.mkdir()
    got, real = both(cmd, {**os.environ, "RUNNER_PROBE": "set for the first run"}, cwd=first)
    assert got.returncode == real.returncode == 0, got.stderr
    assert without_run_stamps(got.stdout) == without_run_stamps(real.stdout)
    assert got.stderr == real.stderr
    assert "probe: set for the first run" in got.stdout
    assert f"cwd: {first}" in got.stdout
    assert f"path: [{str(probe.parent)!r}, {str(first)!r}," in got.stdout  # no tests/, bench/
    assert "hello from fd 1" in got.stdout and "to stderr" in got.stderr
    # The next run in the same forkserver: its own environment and folder only.
    second = run_snakemake(cmd, env=dict(os.environ), timeout=300)
    assert second.returncode == 0, second.stderr
    assert "probe: unset" in second.stdout
    assert f"cwd: {before_cwd}" in second.stdout
    assert (dict(os.environ), os.getcwd()) == (before_env, before_cwd)


def test_the_forkserver_is_warm_and_a_real_subprocess_is_used_when_asked_or_needed(
    probe: Path, monkeypatch: pytest.MonkeyPatch
):
    cmd = command("--snakefile", str(probe), "--cores", "1", "--dry-run")
    env = {**os.environ, "RUNNER_WARM": "1"}
    monkeypatch.delenv(SUBPROCESS_VARIABLE, raising=False)
    assert "warm: True" in run_snakemake(cmd, env=env, timeout=300).stdout
    # A variable read at start-up or import that differs from the forkserver's: a fresh process.
    assert "warm: False" in run_snakemake(cmd, env={**env, "MPLBACKEND": "svg"}, timeout=300).stdout
    monkeypatch.setenv(SUBPROCESS_VARIABLE, "1")
    assert "warm: False" in run_snakemake(cmd, env=env, timeout=300).stdout


def test_a_run_past_its_timeout_is_killed_and_raises(forked, probe: Path):
    cmd = command("--snakefile", str(probe), "--cores", "1", "--dry-run")
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as raised:
        run_snakemake(cmd, env={**os.environ, "RUNNER_SLEEP": "60"}, timeout=5)
    assert time.monotonic() - start < 30
    assert raised.value.cmd == cmd and raised.value.timeout == 5
    assert "probe: unset" in raised.value.output  # what it printed before it was killed


def test_an_uncaught_exception_prints_its_traceback_and_gives_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # snakemake.cli.main turns an Exception into a message; anything else escaping it is what
    # Python itself would print. Checked in this process: the child runs the same function.
    import snakemake.cli

    def boom(argv=None):
        raise GeneratorExit("escaped Snakemake")

    monkeypatch.setattr(snakemake.cli, "main", boom)
    assert snakemake_runner._status_of_main() == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.rstrip().endswith("GeneratorExit: escaped Snakemake")


@pytest.mark.parametrize(
    ("code", "status", "printed"), [(None, 0, ""), (3, 3, ""), ("no", 1, "no\n")]
)
def test_system_exit_gives_pythons_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code, status, printed
):
    import snakemake.cli

    def stop(argv=None):
        raise SystemExit(code)

    monkeypatch.setattr(snakemake.cli, "main", stop)
    assert snakemake_runner._status_of_main() == status
    assert capsys.readouterr().err == printed


def test_only_a_snakemake_command_is_forked(forked):
    with pytest.raises(ValueError, match="not a"):
        run_snakemake(["snakemake", "--version"], env=dict(os.environ), timeout=10)
