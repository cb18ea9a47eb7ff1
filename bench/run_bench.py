"""evsynth at scale: stage times and peak memory on synthetic reviews, against reference tools.

Usage (from the project root; ``make bench`` runs it after installing the ``bench`` extras):

    .venv/bin/python bench/run_bench.py                      # 1k, 10k and 100k studies
    .venv/bin/python bench/run_bench.py --sizes 1000,10000   # smaller sizes only
    .venv/bin/python bench/run_bench.py --figures            # also time the figures
    .venv/bin/python bench/run_bench.py --only meta          # only evsynth against PyMARE
    .venv/bin/python bench/run_bench.py --no-snakemake       # without the run through Snakemake

For each size a synthetic review (``bench/synthetic.py``; 10 code rows and 2 outcome rows per
study by default) is written to a temporary folder, and every stage runs in a fresh Python
process through its ``run_*`` entry point: ``validate`` (run_validate), ``tally`` (run_tally,
one run_crosstab, run_agreement) and ``outcomes`` (run_outcomes: direction and REML
meta-analysis). Figures are switched off in those stages and, with ``--figures``, timed on their
own. A stage's time is measured inside its process around the call (interpreter start and
imports excluded, reported apart); its memory is the process's peak resident set size
(``getrusage(RUSAGE_SELF).ru_maxrss``, which includes the interpreter and the imported
libraries). The same processes time a bare ``pandas.read_csv`` of the three sheets, evsynth's
validation of the studies sheet alone and ``frictionless`` validating that sheet against the
same Table Schema, the registry's (``evsynth.registry.sheet_schema``). The same review then runs
through the real workflow as one command (``python -m snakemake`` on workflow/Snakefile, its
targets the validation, the tallies and the outcome tables, not the report), timed from launch
to exit with start-up, its memory the peak RSS of that process (its jobs run as threads in it).
Finally 1,000 random meta-analyses are pooled by evsynth's ``reml`` and
``dersimonian_laird`` (one call per group) and ``reml_many`` and ``dersimonian_laird_many``
(one call for all groups, as the outcomes stage pools), and by PyMARE's estimators.

Nothing is written outside the temporary folder (deleted at the end unless ``--keep``); the
results are printed, not saved.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAKEFILE = ROOT / "workflow" / "Snakefile"
DEFAULT_SIZES = (1_000, 10_000, 100_000)
CROSSTAB_FIELD = "setting"  # the synthetic codebook's review-specific category field

# Targets (printed as PASS/MISS next to the figures).
TARGET_READ_RATIO = 4.0  # validate+tally+outcomes within this multiple of a bare read_csv
TARGET_SNAKEMAKE_RATIO = 10.0  # the same through Snakemake (one command, start-up included)
TARGET_FRICTIONLESS = 10.0  # evsynth validation at least this many times faster
TARGET_PYMARE_DIFF = 1e-6  # largest |difference| in estimate and tau2
TARGET_PYMARE_SPEED = 10.0  # evsynth's batched call at least this many times faster
# Each meta-analysis timing is the best of META_REPEAT batches, a batch being as many calls as
# fill META_BATCH_SECONDS (timeit's way): a single call of under a millisecond, timed alone,
# moves by half its time with the machine's load. Calls over META_SLOW_SECONDS are timed one
# at a time, best of 3. Both tools are timed exactly alike.
META_REPEAT = 7
META_BATCH_SECONDS = 0.05
META_SLOW_SECONDS = 1.0
TARGET_PEAK_MB = 1024.0  # peak memory of any stage and of the Snakemake run, largest size
SNAKEMAKE_CORES = 2


# --- Workers: each runs in its own process and prints one JSON line ---------------------------


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def _no_figures() -> None:
    """Stages import their figure functions when called: make every one of them a no-op.

    Every function the package evsynth.figures exports (from its modules) is swapped, and any
    other name asked of the package gets a no-op too, so a stage that draws a new kind of
    figure is still timed without it.
    """
    import evsynth.figures as figures

    def nothing(*args, **kwargs) -> None:
        return None

    for name in _figure_functions(figures):
        setattr(figures, name, nothing)
    figures.__getattr__ = lambda name: nothing


def _figure_functions(figures) -> list[str]:
    """The names of the functions the package ``figures`` exports from its own modules (the
    stages import them from the package when they draw)."""
    import types

    prefix = figures.__name__ + "."
    return [
        name
        for name, value in vars(figures).items()
        if isinstance(value, types.FunctionType) and value.__module__.startswith(prefix)
    ]


def _time_figures(parts: dict[str, float]) -> None:
    """Wrap every function evsynth.figures exports so the time spent drawing adds up in
    ``parts`` under the function's name (calls between figure functions counted once, at the
    top)."""
    import functools

    import evsynth.figures as figures

    depth = [0]

    def timed(name, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            depth[0] += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    parts[name] = parts.get(name, 0.0) + time.perf_counter() - start

        return wrapper

    for name in _figure_functions(figures):
        setattr(figures, name, timed(name, getattr(figures, name)))


def _run_tally(clean: Path, codebook: Path, out: Path, parts: dict[str, float]) -> None:
    from evsynth import tally

    studies, codes = clean / "studies.parquet", clean / "codes.parquet"
    t = out / "tallies"
    paths = tally.TallyPaths(
        themes=t / "themes.csv",
        cooccurrence=t / "cooccurrence.csv",
        characteristics=t / "characteristics.csv",
        figure=out / "figures" / "themes",
    )
    _timed(parts, "run_tally", lambda: tally.run_tally(studies, codes, codebook, "union", paths))
    _timed(
        parts,
        "run_crosstab",
        lambda: tally.run_crosstab(
            studies, codes, codebook, "union", CROSSTAB_FIELD, t / f"themes_by_{CROSSTAB_FIELD}.csv"
        ),
    )
    _timed(
        parts,
        "run_agreement",
        lambda: tally.run_agreement(codes, codebook, t / "agreement.csv", t / "disagreements.csv"),
    )


def _run_outcomes(clean: Path, codebook: Path, out: Path, parts: dict[str, float]) -> None:
    """run_outcomes as the workflow calls it (with the codes, for the gap map)."""
    from evsynth import outcomes

    o, f = out / "outcomes", out / "figures"
    paths = outcomes.OutcomesPaths(
        direction=o / "direction.csv",
        direction_by_quality=o / "direction_by_quality.csv",
        meta_analysis=o / "meta_analysis.csv",
        gap_map=o / "gap_map.csv",
        direction_figure=f / "direction",
        forest_figure=f / "forest",
        effect_direction_figure=f / "effect_direction",
        gap_map_figure=f / "gap_map",
    )
    settings = outcomes.MetaAnalysisSettings("REML", False, ("low",))
    _timed(
        parts,
        "run_outcomes",
        lambda: outcomes.run_outcomes(
            clean / "studies.parquet",
            clean / "outcomes.parquet",
            clean / "codes.parquet",
            codebook,
            settings,
            "union",
            paths,
        ),
    )


def _timed(parts: dict[str, float], name: str, call) -> object:
    start = time.perf_counter()
    result = call()
    parts[name] = time.perf_counter() - start
    return result


def worker(stage: str, folder: Path, options: dict) -> dict:
    """Run one stage on the review in ``folder``; return its times and memory."""
    import_start = time.perf_counter()
    import pandas as pd  # noqa: F401 - imported before timing, as every stage needs it
    import synthetic  # bench/synthetic.py: this script's folder is on the import path

    from evsynth import outcomes, tally, validate  # noqa: F401 - import cost

    sheets, codebook = folder / "sheets", folder / "codebook.yaml"
    out = folder / "results"
    clean = out / "clean"
    parts: dict[str, float] = {}
    if stage in ("tally", "outcomes"):
        _no_figures()
    if stage == "figures":
        import evsynth.figures  # noqa: F401 - matplotlib's import is not a figure's time
    if stage == "frictionless":
        import frictionless
    if stage == "meta":
        import numpy as np
        from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator

        from evsynth.stats import dersimonian_laird, dersimonian_laird_many, reml, reml_many
    import_seconds = time.perf_counter() - import_start
    baseline = _peak_mb()
    extra: dict = {}

    if stage == "generate":
        _timed(
            parts,
            "generate",
            lambda: synthetic.write_synthetic_review(
                folder,
                options["n"],
                options["codes_per_study"],
                options["outcomes_per_study"],
                options["seed"],
            ),
        )
    elif stage == "read":
        for name in ("studies", "codes", "outcomes"):
            _timed(parts, name, lambda name=name: pd.read_csv(sheets / f"{name}.csv"))
    elif stage == "validate":
        names = ("studies", "codes", "outcomes", "screening")
        paths = validate.ValidationPaths(
            issues=out / "validation/issues.csv",
            summary=out / "validation/summary.json",
            report=out / "validation/report.md",
            clean={n: clean / f"{n}.csv" for n in names},
            typed={n: clean / f"{n}.parquet" for n in names},
        )
        result = _timed(
            parts, "run_validate", lambda: validate.run_validate(sheets, codebook, paths)
        )
        extra = {"errors": result.summary["errors"], "warnings": result.summary["warnings"]}
    elif stage == "tally":
        _run_tally(clean, codebook, out, parts)
    elif stage == "outcomes":
        _run_outcomes(clean, codebook, out, parts)
    elif stage == "figures":
        # The tally and outcomes stages again, with their figures, timing each figure call.
        figures_out = folder / "with_figures"
        _time_figures(parts)
        _run_tally(clean, codebook, figures_out, {})
        _run_outcomes(clean, codebook, figures_out, {})
    elif stage == "evsynth_studies":
        # The studies sheet alone (the other two sheets are reported missing, cheaply).
        alone = folder / "studies_only"
        alone.mkdir(exist_ok=True)
        shutil.copyfile(sheets / "studies.csv", alone / "studies.csv")
        result = _timed(parts, "validate_review", lambda: validate.validate_review(alone, codebook))
        extra = {
            "studies_errors": result.summary["sheets"]["studies"]["errors"],
            "studies_warnings": result.summary["sheets"]["studies"]["warnings"],
        }
    elif stage == "frictionless":
        schema = frictionless.Schema.from_descriptor(
            studies_schema(codebook, sheets / "studies.csv")
        )
        # A relative path under basepath: frictionless refuses absolute paths as unsafe.
        resource_ = frictionless.Resource(path="studies.csv", basepath=str(sheets), schema=schema)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = _timed(parts, "validate", lambda: resource_.validate(limit_errors=100_000))
        extra = {
            "valid": bool(report.valid),
            "errors": len(report.flatten(["type"])),
            "rows": report.tasks[0].stats.get("rows") if report.tasks else None,
        }
    elif stage == "meta":
        extra = meta_comparison(
            options["groups"],
            options["seed"],
            parts,
            np,
            {"REML": (reml, reml_many), "DL": (dersimonian_laird, dersimonian_laird_many)},
            VarianceBasedLikelihoodEstimator,
            DerSimonianLaird,
        )
    else:
        raise SystemExit(f"unknown stage {stage}")
    return {
        "seconds": sum(parts.values()),
        "parts": parts,
        "peak_mb": _peak_mb(),
        "baseline_mb": baseline,
        "import_seconds": import_seconds,
        **extra,
    }


def studies_schema(codebook_path: Path, sheet: Path) -> dict:
    """The studies sheet's Table Schema from the project's registry (``evsynth.registry``,
    ``schemas/tables.yaml``), resolved for the review's codebook and this year, as validation
    resolves it: frictionless then checks the very constraints evsynth declares (required,
    unique, pattern, integer range, enums and the multi-valued columns' patterns). The ``x-``
    properties stay in: Table Schema allows extra properties and frictionless ignores them.

    An optional column the sheet does not have (``coder``, which only importers write) is left
    out, as validation reads it as blank: frictionless matches fields to columns by position,
    and would otherwise report the sheet's later columns under the wrong names. A required
    column is always kept."""
    import csv

    from evsynth import registry
    from evsynth.codebook import load_codebook

    schema = registry.sheet_schema("studies", load_codebook(codebook_path), dt.date.today().year)
    with sheet.open(encoding="utf-8", newline="") as handle:
        header = {name.strip().lower() for name in next(csv.reader(handle), [])}
    fields = [
        f
        for f in schema["fields"]
        if f["name"] in header or f.get("constraints", {}).get("required")
    ]
    # An empty cell is missing, as validation reads it (Table Schema's default, said outright).
    return {**schema, "fields": fields, "missingValues": [""]}


def meta_comparison(
    groups: int, seed: int, parts: dict, np, ours: dict, likelihood_estimator, dl_estimator
) -> dict:
    """Pool ``groups`` random meta-analyses (k 2-30) with evsynth and PyMARE; compare.

    ``ours`` maps "REML" and "DL" to evsynth's (one-group, batched) functions. Every timing is
    the best of ``META_REPEAT`` batches of many calls (see META_BATCH_SECONDS); agreement is
    measured on evsynth's batched results (and the one-group results against them). The
    batched calls are timed call against call: the data arranged beforehand as each takes
    them (evsynth: three long arrays, as a table holds them; PyMARE: a k x n matrix per k),
    and arranging them timed apart.
    """
    rng = np.random.default_rng(seed)
    data = []
    for _ in range(groups):
        k = int(rng.integers(2, 31))
        vi = rng.uniform(0.005, 0.5, k)
        tau2 = float(rng.choice([0.0, 0.02, 0.1, 0.5]))
        yi = rng.normal(rng.normal(0.0, 0.5), np.sqrt(vi + tau2))
        data.append((yi, vi))

    def pymare_one(make):
        out = []
        for yi, vi in data:
            fit = make().fit(y=yi[:, None], v=vi[:, None], X=np.ones((len(yi), 1)))
            out.append(
                (
                    float(np.ravel(fit.params_["fe_params"])[0]),
                    float(np.ravel(fit.params_["tau2"])[0]),
                )
            )
        return out

    def best(name, call):
        """The result of ``call``; in ``parts[name]`` its time per call, the best of
        META_REPEAT batches of calls (the first, untimed call sizes the batch)."""
        start = time.perf_counter()
        result = call()
        first = time.perf_counter() - start
        if first > META_SLOW_SECONDS:  # seconds a call: the first counts, 3 in all
            times = [first]
            for _ in range(2):
                _timed(parts, name, call)
                times.append(parts[name])
        else:
            number = max(1, int(META_BATCH_SECONDS / max(first, 1e-6)))
            times = []
            for _ in range(META_REPEAT):
                start = time.perf_counter()
                for _ in range(number):
                    call()
                times.append((time.perf_counter() - start) / number)
        parts[name] = min(times)
        return result

    def arrange_by_k():
        """PyMARE's batched input: the datasets of each k as the columns of k x n matrices."""
        by_k: dict[int, list[int]] = {}
        for i, (yi, _) in enumerate(data):
            by_k.setdefault(len(yi), []).append(i)
        return [
            (
                idx,
                np.column_stack([data[i][0] for i in idx]),
                np.column_stack([data[i][1] for i in idx]),
                np.ones((k, 1)),
            )
            for k, idx in sorted(by_k.items())
        ]

    def arrange_long():
        """evsynth's batched input: the studies of all groups as three long arrays."""
        return (
            np.concatenate([y for y, _ in data]),
            np.concatenate([v for _, v in data]),
            np.repeat(np.arange(len(data)), [len(y) for y, _ in data]),
        )

    by_k = best("arrange_pymare_by_k", arrange_by_k)
    long = best("arrange_evsynth_long", arrange_long)

    def pymare_batched(make):
        """PyMARE's own strength: all datasets of the same k in one vectorised fit."""
        return [(idx, make().fit(y=y, v=v, X=x)) for idx, y, v, x in by_k]

    def pymare_batched_results(fits) -> list:
        out = [None] * len(data)
        for idx, fit in fits:
            est = np.ravel(fit.params_["fe_params"])
            tau2 = np.ravel(fit.params_["tau2"])
            for j, i in enumerate(idx):
                out[i] = (float(est[j]), float(tau2[j]))
        return out

    result = {}
    theirs = {"REML": lambda: likelihood_estimator(method="REML"), "DL": dl_estimator}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, (one_group, many) in ours.items():
            fits = best(f"evsynth_{label}", lambda f=one_group: [f(y, v) for y, v in data])
            fits_many = best(f"evsynth_batched_{label}", lambda m=many: m(*long))
            one = best(f"pymare_{label}", lambda t=theirs[label]: pymare_one(t))
            batch = pymare_batched_results(
                best(f"pymare_batched_{label}", lambda t=theirs[label]: pymare_batched(t))
            )
            ours_now = list(zip(fits_many.estimate, fits_many.tau2, strict=True))
            result[label] = {
                "max_diff_estimate": max(
                    abs(f[0] - p[0]) for f, p in zip(ours_now, one, strict=True)
                ),
                "max_diff_tau2": max(abs(f[1] - p[1]) for f, p in zip(ours_now, one, strict=True)),
                "max_diff_batched": max(
                    max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip(one, batch, strict=True)
                ),
                "max_diff_one_group": max(
                    max(abs(f.estimate - m[0]), abs(f.tau2 - m[1]))
                    for f, m in zip(fits, ours_now, strict=True)
                ),
            }
    return {"groups": groups, "repeat": META_REPEAT, "methods": result}  # batches of calls


# --- The driver --------------------------------------------------------------------------------


def run_stage(stage: str, folder: Path, timeout: float | None = None, **options) -> dict:
    """Run one stage in a fresh interpreter; its JSON line, plus the process's wall time."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        stage,
        "--dir",
        str(folder),
        "--options",
        json.dumps(options),
    ]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env={**os.environ, "MPLBACKEND": "Agg"},
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"failed": f"exit {done.returncode}: {tail}"}
    return {**json.loads(lines[-1]), "wall": wall}


# --- Through Snakemake --------------------------------------------------------------------------

RULE_LINE = re.compile(r"^(?:local)?rule (\w+):$")
JOBID_LINE = re.compile(r"^\s+jobid: (\d+)$")
FINISHED_LINE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)")


def workflow_targets(review: str, codebook: Path) -> list[str]:
    """Sheets to tallies and outcomes, not the report: the validation (findings and gate), every
    tally the workflow writes (themes, co-occurrence, characteristics, agreement and one
    crosstab per field the package crosses with) and the outcome tables, as the rules under
    workflow/rules/ name them. Snakemake runs whatever these need and nothing else."""
    from evsynth.codebook import crosstab_fields

    r = f"results/{review}"
    tallies = ("themes", "cooccurrence", "characteristics", "agreement")
    outcomes = ("direction", "direction_by_quality", "meta_analysis", "gap_map")
    return [
        f"{r}/validation/issues.csv",
        f"{r}/validation/passed.txt",
        *(f"{r}/tallies/{name}.csv" for name in tallies),
        *(f"{r}/tallies/themes_by_{field}.csv" for field in crosstab_fields(codebook)),
        *(f"{r}/outcomes/{name}.csv" for name in outcomes),
    ]


def _job_times(lines: list[tuple[float, str]], wall: float) -> dict:
    """Where a Snakemake run's time went, from the moment each line of its log arrived: start-up
    (launch to the first job: interpreter, Snakefile, config check, DAG), the jobs (first job
    start to last job end; jobs overlap on 2 cores) and after them, and each rule's jobs added
    up (from its "rule" line to its "Finished jobid" line)."""
    started: dict[str, tuple[str, float]] = {}
    rules: dict[str, float] = {}
    pending: tuple[str, float] | None = None
    first = last = None
    for at, line in lines:
        if match := RULE_LINE.match(line):
            pending = (match.group(1), at)
            first = at if first is None else first
        elif (match := JOBID_LINE.match(line)) and pending:
            started[match.group(1)] = pending
            pending = None
        elif (match := FINISHED_LINE.match(line)) and match.group(1) in started:
            rule, begun = started.pop(match.group(1))
            rules[rule] = rules.get(rule, 0.0) + at - begun
            last = at
    if first is None or last is None:
        return {"rules": rules}
    return {"startup": first, "jobs": last - first, "after": wall - last, "rules": rules}


def run_snakemake(folder: Path, timeout: float) -> dict:
    """The review in ``folder`` through the real workflow as one command, in a fresh working
    folder: wall time from launch to exit, and the peak RSS of the process (its jobs run as
    threads inside it; a child it spawned and waited for counts too, as ``wait4`` reports)."""
    import synthetic
    import yaml

    workdir = folder / "workflow_run"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    config = workdir / "config.yaml"
    review = {
        "title": "Synthetic review (benchmark)",
        "sheets": str(folder / "sheets"),
        "codebook": str(folder / "codebook.yaml"),
        "report": "summary-of-evidence",
    }
    config.write_text(yaml.safe_dump({"reviews": {synthetic.REVIEW_ID: review}}), "utf-8")
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        "--cores",
        str(SNAKEMAKE_CORES),
        # As `make run` says it too (evsynth.run); the workflow's default profile sets it.
        "--force-use-threads",
        *workflow_targets(synthetic.REVIEW_ID, folder / "codebook.yaml"),
    ]
    env = {**os.environ, "MPLBACKEND": "Agg", "EVSYNTH_ENGINE": "pandoc"}
    lines: list[tuple[float, str]] = []
    timed_out: list[bool] = []
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so a timeout stops all of it
    )

    def read() -> None:
        # Each line with the moment it arrived: Snakemake logs to stderr, line by line.
        for line in process.stdout:
            lines.append((time.perf_counter() - start, line.rstrip("\n")))

    def stop() -> None:
        timed_out.append(True)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended as the timer fired
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    timer = threading.Timer(timeout, stop)
    timer.start()
    # wait4 rather than Popen.wait: the child's own resource usage, not the sum of every
    # process this script has waited for (RUSAGE_CHILDREN would hold the earlier stages too).
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=10)
    if timed_out or process.returncode != 0:
        why = f"timed out after {timeout:.0f} s" if timed_out else f"exit {process.returncode}"
        return {"failed": why, "tail": [line for _, line in lines[-15:]]}
    peak = usage.ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return {"seconds": wall, "peak_mb": peak, **_job_times(lines, wall)}


def _fastest(attempts: list[dict]) -> dict:
    """The fastest of repeated runs (its parts too); peak memory is the largest seen."""
    done = [a for a in attempts if "failed" not in a]
    if not done:
        return attempts[-1]
    best = dict(min(done, key=lambda a: a["seconds"]))
    best["peak_mb"] = max(a["peak_mb"] for a in done)
    return best


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}" if seconds < 0.1 else f"{seconds * 1000:.0f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    if not rows:  # e.g. the stage tables under --only meta
        return
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated numbers of studies (default 1000,10000,100000)",
    )
    parser.add_argument("--codes-per-study", type=int, default=10)
    parser.add_argument("--outcomes-per-study", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--groups",
        type=int,
        default=1000,
        help="meta-analyses in the PyMARE comparison (default 1000)",
    )
    parser.add_argument(
        "--figures",
        action="store_true",
        help="also time the figures (theme chart, direction chart, forest plot)",
    )
    parser.add_argument(
        "--figure-timeout",
        type=float,
        default=900.0,
        help="seconds before the figures process is stopped (default 900)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each stage this many times and keep the fastest (default 1)",
    )
    parser.add_argument(
        "--snakemake-timeout",
        type=float,
        default=1800.0,
        help="seconds before the Snakemake run is stopped (default 1800)",
    )
    parser.add_argument(
        "--no-snakemake", action="store_true", help="skip the run through the Snakemake workflow"
    )
    parser.add_argument("--no-frictionless", action="store_true")
    parser.add_argument("--no-pymare", action="store_true")
    parser.add_argument(
        "--only",
        choices=("stages", "meta"),
        help="run only the pipeline stages, or only the meta-analysis comparison with PyMARE",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.dir, json.loads(args.options))))
        return 0

    import pandas as pd

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.only == "meta":
        sizes = []
    print("evsynth benchmark")
    print(
        f"machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}; "
        f"Python {platform.python_version()}; pandas {pd.__version__}; "
        f"numpy {_version('numpy')}; evsynth {_version('evsynth')}"
    )
    print(f"compared with: frictionless {_version('frictionless')}; PyMARE {_version('pymare')}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"synthetic reviews: {args.codes_per_study} code rows and {args.outcomes_per_study} "
        f"outcome rows per study, seed {args.seed}; each stage in a fresh process, times "
        f"inside it (imports excluded), best of {max(1, args.repeat)}; memory = the "
        f"process's peak RSS; load average at start {load:.1f}",
        flush=True,
    )

    temp = Path(tempfile.mkdtemp(prefix="evsynth-bench-"))
    results: dict[int, dict[str, dict]] = {}
    try:
        for n in sizes:
            folder = temp / f"n{n}"
            folder.mkdir()
            runs: dict[str, dict] = {}
            stages = ["generate", "read", "validate", "tally", "outcomes"]
            stages += [] if args.no_snakemake else ["snakemake"]
            stages += ["figures"] if args.figures else []
            stages += ["evsynth_studies"] + ([] if args.no_frictionless else ["frictionless"])
            for stage in stages:
                print(f"  {n:>7} studies: {stage} ...", end="", flush=True, file=sys.stderr)
                timeout = args.figure_timeout if stage == "figures" else None
                tries = 1 if stage == "generate" else max(1, args.repeat)
                if stage == "snakemake":
                    attempts = [run_snakemake(folder, args.snakemake_timeout) for _ in range(tries)]
                else:
                    attempts = [
                        run_stage(
                            stage,
                            folder,
                            timeout,
                            n=n,
                            seed=args.seed,
                            codes_per_study=args.codes_per_study,
                            outcomes_per_study=args.outcomes_per_study,
                        )
                        for _ in range(tries)
                    ]
                runs[stage] = _fastest(attempts)
                run = runs[stage]
                print(
                    f" {run.get('failed') or _s(run['seconds']) + ' s'}",
                    file=sys.stderr,
                    flush=True,
                )
            results[n] = runs
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
        skip_meta = args.no_pymare or args.only == "stages"
        meta = None if skip_meta else run_stage("meta", temp, groups=args.groups, seed=args.seed)
    finally:
        if args.keep:
            print(f"\nkept: {temp}")
        else:
            shutil.rmtree(temp, ignore_errors=True)

    report(results, meta, args)
    return 0


def _get(run: dict, key: str = "seconds") -> float | None:
    return None if not run or "failed" in run else run.get(key)


#: Our processes whose peak memory the memory target covers (read_csv and the reference tools
#: are not ours; the figures count when timed).
OURS = ("validate", "tally", "outcomes", "snakemake", "figures", "evsynth_studies")
#: The rules of a Snakemake run shown apart, in the workflow's order.
SNAKEMAKE_RULES = ("validate", "validation_gate", "tally", "crosstab", "agreement", "outcomes")


def report(results: dict[int, dict[str, dict]], meta: dict | None, args) -> None:
    core = ("validate", "tally", "outcomes")
    rows, memory, parts_rows, snake_rows, checks = [], [], [], [], []
    for n, runs in results.items():
        read = _get(runs["read"])
        stage_s = [_get(runs[s]) for s in core]
        total = sum(stage_s) if None not in stage_s else None
        ratio = total / read if total is not None and read else None
        snake = runs.get("snakemake", {})
        snake_s = _get(snake)
        snake_ratio = snake_s / read if snake_s is not None and read else None
        rows.append(
            [
                f"{n:,}",
                f"{n * args.codes_per_study:,}",
                f"{n * args.outcomes_per_study:,}",
                _s(_get(runs["generate"])),
                _s(read),
                *map(_s, stage_s),
                _s(total),
                _x(ratio),
                _s(snake_s),
                _x(snake_ratio),
            ]
        )
        peaks = [_get(runs[s], "peak_mb") for s in ("read", *core)]
        ours = [p for s in OURS if (p := _get(runs.get(s, {}), "peak_mb")) is not None]
        peak = max(ours, default=None)
        memory.append(
            [
                f"{n:,}",
                *[_s(p) for p in peaks],
                _s(_get(snake, "peak_mb")),
                _s(peak),
                _s(_get(runs["validate"], "baseline_mb")),
            ]
        )
        tally_parts = runs["tally"].get("parts", {})
        parts_rows.append(
            [
                f"{n:,}",
                *[_s(tally_parts.get(k)) for k in ("run_tally", "run_crosstab", "run_agreement")],
                _s(_get(runs["outcomes"])),
                str(runs["validate"].get("errors", "-")),
                str(runs["validate"].get("warnings", "-")),
                _s(_get(runs["validate"], "import_seconds")),
            ]
        )
        if snake_s is not None:
            rules = snake.get("rules", {})
            snake_rows.append(
                [
                    f"{n:,}",
                    _s(snake_s),
                    _s(snake.get("startup")),
                    _s(snake.get("jobs")),
                    _s(snake.get("after")),
                    *[_s(rules.get(rule)) for rule in SNAKEMAKE_RULES],
                    _s(snake.get("peak_mb")),
                ]
            )
        unmeasured = [s for s in OURS if "failed" in runs.get(s, {})]
        checks.append((n, ratio, snake_ratio, peak, unmeasured, snake.get("failed")))
    print_table(
        "Stage wall time (s); Snakemake = the same review through the workflow, one command",
        [
            "studies",
            "code rows",
            "outcome rows",
            "generate",
            "read_csv",
            "validate",
            "tally",
            "outcomes",
            "V+T+O",
            "V+T+O / read_csv",
            "Snakemake",
            "Snakemake / read_csv",
        ],
        rows,
    )
    print_table(
        "Peak memory (MB, max RSS of the stage's process; Snakemake: of its process, jobs in it)",
        [
            "studies",
            "read_csv",
            "validate",
            "tally",
            "outcomes",
            "Snakemake",
            "max of ours",
            "after imports",
        ],
        memory,
    )
    print_table(
        "Stage parts (s) and validation findings",
        [
            "studies",
            "run_tally",
            "run_crosstab",
            "run_agreement",
            "run_outcomes",
            "errors",
            "warnings",
            "imports (s)",
        ],
        parts_rows,
    )
    print_table(
        "Through Snakemake (s): launch to first job (start-up), first job start to last job end,"
        " last job end to exit; each rule's jobs added up (from Snakemake's log lines as they"
        f" came; jobs overlap on {SNAKEMAKE_CORES} cores; tally and outcomes draw their figures)",
        ["studies", "wall", "start-up", "jobs", "after", *SNAKEMAKE_RULES, "peak MB"],
        snake_rows,
    )
    for n, runs in results.items():
        for stage in (
            "validate",
            "tally",
            "outcomes",
            "snakemake",
            "figures",
            "evsynth_studies",
            "frictionless",
        ):
            if "failed" in runs.get(stage, {}):
                print(f"  note: {n:,} studies, {stage} failed: {runs[stage]['failed']}")
                for line in runs[stage].get("tail", []):
                    print(f"    | {line}")

    if args.figures:
        names = sorted({k for runs in results.values() for k in runs["figures"].get("parts", {})})
        fig_rows = []
        for n, runs in results.items():
            parts = runs["figures"].get("parts", {})
            fig_rows.append(
                [
                    f"{n:,}",
                    *[_s(parts.get(k)) for k in names],
                    _s(_get(runs["figures"])),
                    runs["figures"].get("failed", _s(_get(runs["figures"], "peak_mb"))),
                ]
            )
        print_table(
            "Figures (s): the figure functions the tally and outcomes stages call, timed apart",
            ["studies", *names, "all figures", "peak MB"],
            fig_rows,
        )

    fl_rows, fl_checks = [], []
    if not args.no_frictionless:
        for n, runs in results.items():
            ours, theirs = _get(runs["evsynth_studies"]), _get(runs["frictionless"])
            speedup = theirs / ours if ours and theirs else None
            # Equal terms only when frictionless, on the same declared constraints, finds the
            # generated sheet valid, as evsynth does: otherwise the speedup is not comparable.
            valid = runs["frictionless"].get("valid")
            met = None if speedup is None else speedup >= TARGET_FRICTIONLESS and valid is True
            fl_checks.append((n, speedup, met, runs["frictionless"].get("errors", "-")))
            fl_rows.append(
                [
                    f"{n:,}",
                    _s(ours),
                    _s(_get(runs["validate"])),
                    _s(theirs),
                    _x(speedup),
                    str(runs["frictionless"].get("rows", "-")),
                    str(valid if valid is not None else "-"),
                    _verdict(met),
                ]
            )
        print_table(
            "Validating the studies sheet: evsynth against frictionless validate, both on the "
            "registry's Table Schema of the sheet (evsynth.registry.sheet_schema)",
            [
                "studies",
                "evsynth studies (s)",
                "evsynth all sheets (s)",
                "frictionless (s)",
                "speedup",
                "rows checked",
                "valid",
                "target",
            ],
            fl_rows,
        )

    meta_rows = []
    if meta and "failed" not in meta:
        parts = meta["parts"]
        for label, diffs in meta["methods"].items():
            ours, per_group = parts[f"evsynth_batched_{label}"], parts[f"evsynth_{label}"]
            one, batch = parts[f"pymare_{label}"], parts[f"pymare_batched_{label}"]
            meta_rows.append(
                [
                    label,
                    f"{diffs['max_diff_estimate']:.1e}",
                    f"{diffs['max_diff_tau2']:.1e}",
                    f"{diffs['max_diff_one_group']:.1e}",
                    _ms(ours),
                    _ms(per_group),
                    _ms(one),
                    _x(one / ours),
                    _ms(batch),
                    _x(batch / ours),
                ]
            )
        print_table(
            f"Meta-analysis of {meta['groups']:,} groups (k 2-30), time per call, best of "
            f"{meta.get('repeat', 1)} batches of many calls (calls over a second: best of 3): "
            "evsynth's batched call against PyMARE (data "
            f"arranged beforehand: {_ms(parts['arrange_evsynth_long'])} ms for evsynth, "
            f"{_ms(parts['arrange_pymare_by_k'])} ms for PyMARE batched)",
            [
                "method",
                "max |d estimate|",
                "max |d tau2|",
                "one-group vs batched",
                "evsynth batched (ms)",
                "evsynth per group (ms)",
                "PyMARE per group (ms)",
                "speedup",
                "PyMARE batched by k (ms)",
                "speedup",
            ],
            meta_rows,
        )
    elif meta:
        print(f"\nMeta-analysis comparison failed: {meta['failed']}")

    # --- Targets ---
    if checks:
        print("\nTargets (at the largest size run; stated for 100,000 studies)")
        n, ratio, snake_ratio, peak, unmeasured, snake_failed = checks[-1]
        at = f"{n:,} studies"
        print(
            f"  [{_verdict(None if ratio is None else ratio <= TARGET_READ_RATIO)}] "
            f"validate+tally+outcomes {_x(ratio)} a bare read_csv (target <= "
            f"{TARGET_READ_RATIO:g}x), {at}"
        )
        if not args.no_snakemake:
            # A failed or stopped run is a miss, not "n/a": the figure is the workflow's own.
            met = snake_ratio is not None and snake_ratio <= TARGET_SNAKEMAKE_RATIO
            figure = (
                f"failed ({snake_failed}; its last lines are above)"
                if snake_failed
                else f"{_x(snake_ratio)} a bare read_csv, start-up included"
            )
            print(
                f"  [{_verdict(met)}] sheets to tallies and outcomes through Snakemake {figure} "
                f"(target <= {TARGET_SNAKEMAKE_RATIO:g}x), {at}"
            )
    else:
        print("\nTargets")
    if fl_checks:
        fn, speedup, met, errors = fl_checks[-1]
        print(
            f"  [{_verdict(met)}] studies-sheet validation {_x(speedup)} faster than "
            f"frictionless on the registry's schema (target >= {TARGET_FRICTIONLESS:g}x; "
            f"frictionless found {errors} errors), {fn:,} studies"
        )
    if meta and "failed" not in meta:
        worst = max(
            max(d["max_diff_estimate"], d["max_diff_tau2"]) for d in meta["methods"].values()
        )
        print(
            f"  [{_verdict(worst <= TARGET_PYMARE_DIFF)}] PyMARE agreement (REML and DL): "
            f"largest |difference| in estimate and tau2 {worst:.1e} (target <= "
            f"{TARGET_PYMARE_DIFF:g})"
        )
        parts = meta["parts"]
        for label in meta["methods"]:
            ours = parts[f"evsynth_batched_{label}"]
            speed = parts[f"pymare_{label}"] / ours
            batch = parts[f"pymare_batched_{label}"] / ours
            print(
                f"  [{_verdict(speed >= TARGET_PYMARE_SPEED)}] {label}: evsynth's batched "
                f"call {_x(speed)} faster than PyMARE fitted per group (target >= "
                f"{TARGET_PYMARE_SPEED:g}x)"
            )
            print(
                f"  [{_verdict(batch >= TARGET_PYMARE_SPEED)}] {label}: evsynth's batched "
                f"call {_x(batch)} faster than PyMARE batched by k (target >= "
                f"{TARGET_PYMARE_SPEED:g}x)"
            )
    if not checks:
        return
    print(
        f"  [{_verdict(None if peak is None else peak < TARGET_PEAK_MB)}] peak memory "
        f"{_s(peak)} MB, the largest of every stage and the Snakemake run (target < "
        f"{TARGET_PEAK_MB:,.0f} MB), {at}"
        + (f"; not measured, as they failed: {', '.join(unmeasured)}" if unmeasured else "")
    )
    if n != 100_000:
        print(
            "  (100,000 studies not run: the targets above are read at "
            f"{n:,}; run --sizes 100000 for the stated ones)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
