"""Spreadsheet formula injection (OWASP "CSV injection") and faults of the machine.

Cells a spreadsheet would run as formulas are written with a leading apostrophe into every CSV
evsynth writes, and evsynth's own readers give back exactly what was written; numbers are never
touched. A full disk or a read-only folder is reported as such, not as a bug in evsynth.
"""

from __future__ import annotations

import csv
import errno
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evsynth.findings import Finding, read_issues_csv, sorted_findings, write_issues_csv
from evsynth.runner import RuleFailed, run_rule
from evsynth.spreadsheet_safe import TRIGGERS, escape_text, is_armed, restore_text
from evsynth.tables import read_clean, read_results, write_table
from evsynth.validate import validate_review, write_validation
from stage_paths import meta_settings, outcomes_paths, report_inputs, tally_paths, validation_paths
from validation_helpers import copy_review, set_cell

HYPERLINK = '=HYPERLINK("http://x","click")'
DDE = "+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1+1)"
MINUS = "-2+3"
FORMULAS = (HYPERLINK, DDE, AT_SUM, MINUS, "\t=1+1", "\r=1+1", "-", "=")
NUMBERS = ("-0.5", "+3", "-1e-3", "-1.5E+03", "-.5", "-7", "-inf")


def raw_rows(path: Path) -> list[dict[str, str]]:
    """A CSV as a spreadsheet or a foreign program sees it: no evsynth reader involved."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def runnable(cell: str) -> bool:
    """Would a spreadsheet run this raw CSV cell as a formula? (A number is not run.)"""
    return cell[:1] in TRIGGERS and is_armed(cell)


# --- The rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_gets_one_apostrophe(value: str) -> None:
    assert escape_text(value) == "'" + value
    assert restore_text(escape_text(value)) == value


@pytest.mark.parametrize("value", NUMBERS)
def test_numbers_are_never_escaped(value: str) -> None:
    assert escape_text(value) == value
    assert restore_text(value) == value


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("'=x", "''=x"),  # an apostrophe the user typed before a trigger is kept
        ("''@y", "'''@y"),
        ("'", "'"),  # apostrophes before anything else are plain text
        ("'abc", "'abc"),
        ("'-0.5", "'-0.5"),
        ("", ""),
        ("plain text = fine", "plain text = fine"),
        ("5-6", "5-6"),
    ],
)
def test_existing_apostrophes_round_trip(value: str, written: str) -> None:
    assert escape_text(value) == written
    assert restore_text(written) == value


# --- Result tables and clean tables through write_table ----------------------------------------


def test_write_table_round_trip(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "outcome": [MINUS, "reoffending", "'=x"],
            "label": [HYPERLINK, AT_SUM, DDE],
            "k": [3, 4, 5],
            "pct_benefit": [-0.5, 12.5, float("nan")],
            "study_ids": ["@S1;S2", "S3", "-"],
            "=total": ["-0.5", "+3", "=1"],  # a header from data: a crosstab's category column
        }
    )
    before = frame.copy()
    path = tmp_path / "outcomes" / "direction.csv"
    write_table(frame, path)
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not changed

    rows = raw_rows(path)
    assert list(rows[0]) == ["outcome", "label", "k", "pct_benefit", "study_ids", "'=total"]
    assert [r["label"] for r in rows] == ["'" + HYPERLINK, "'" + AT_SUM, "'" + DDE]
    assert [r["outcome"] for r in rows] == ["'" + MINUS, "reoffending", "''=x"]
    assert [r["study_ids"] for r in rows] == ["'@S1;S2", "S3", "'-"]
    assert [r["pct_benefit"] for r in rows] == ["-0.5", "12.5", ""]
    assert [r["'=total"] for r in rows] == ["-0.5", "+3", "'=1"]

    text = read_clean(path)
    assert list(text.columns) == list(frame.columns)
    for column in ("outcome", "label", "study_ids", "=total"):
        assert list(text[column]) == list(frame[column]), column

    results = read_results(path)
    assert list(results.columns) == list(frame.columns)
    assert list(results["label"]) == list(frame["label"])
    assert list(results["outcome"]) == list(frame["outcome"])
    assert results["pct_benefit"].iloc[0] == -0.5
    assert list(results["k"]) == [3, 4, 5]


# --- A hostile review through validation -------------------------------------------------------


@pytest.fixture
def hostile_review(tmp_path: Path) -> tuple[Path, Path]:
    """The valid fixture review with formulas typed into free-text cells (which stay valid and
    reach the clean tables) and into number cells (which become findings in issues.csv)."""
    sheets, codebook = copy_review(tmp_path)
    for mutate in (
        set_cell("studies", 2, "citation", HYPERLINK),  # S01: valid, reaches clean
        set_cell("codes", 2, "excerpt", DDE),  # S01, coder_a: valid
        set_cell("codes", 2, "coder", AT_SUM),
        set_cell("outcomes", 5, "measure", MINUS),  # S04 wellbeing smd: valid, estimate < 0
        set_cell("outcomes", 5, "estimate", "-0.5"),
        set_cell("outcomes", 5, "ci_lower", "-0.9"),
        set_cell("outcomes", 5, "ci_upper", "-0.1"),
        set_cell("studies", 3, "sessions", AT_SUM),  # S02: errors with formula values
        set_cell("studies", 3, "year", "-0.5"),  # ... and with a number
        set_cell("studies", 3, "cost", MINUS),
    ):
        mutate(sheets, codebook)
    return sheets, codebook


def test_issues_csv_neutralises_formulas(hostile_review: tuple[Path, Path], tmp_path: Path):
    result = validate_review(*hostile_review)
    out = tmp_path / "out"
    write_validation(result, validation_paths(out / "validation", out / "clean"))
    issues = out / "validation" / "issues.csv"

    raw = {(r["sheet"], r["row"], r["column"]): r["value"] for r in raw_rows(issues)}
    assert raw[("studies", "3", "sessions")] == "'" + AT_SUM
    assert raw[("studies", "3", "cost")] == "'" + MINUS
    assert raw[("studies", "3", "year")] == "-0.5"  # a number stays a number
    assert not any(runnable(value) for value in raw.values())

    assert read_issues_csv(issues) == result.findings
    values = {(f.sheet, f.row, f.column): f.value for f in read_issues_csv(issues)}
    assert values[("studies", 3, "sessions")] == AT_SUM
    assert values[("studies", 3, "cost")] == MINUS


def test_clean_csvs_neutralise_formulas(hostile_review: tuple[Path, Path], tmp_path: Path):
    result = validate_review(*hostile_review)
    clean = tmp_path / "out" / "clean"
    write_validation(result, validation_paths(tmp_path / "out" / "validation", clean))

    studies = {r["study_id"]: r for r in raw_rows(clean / "studies.csv")}
    assert studies["S01"]["citation"] == "'" + HYPERLINK
    codes = raw_rows(clean / "codes.csv")
    assert ("S01", "'" + AT_SUM, "'" + DDE) in {
        (r["study_id"], r["coder"], r["excerpt"]) for r in codes
    }
    outcomes = {(r["study_id"], r["outcome"]): r for r in raw_rows(clean / "outcomes.csv")}
    s04 = outcomes[("S04", "wellbeing")]
    assert (s04["measure"], s04["estimate"], s04["ci_lower"]) == ("'" + MINUS, "-0.5", "-0.9")

    for sheet in ("studies", "codes", "outcomes", "screening"):
        # Text as validation made it (source_row is an int there; a CSV holds its digits).
        back = read_clean(clean / f"{sheet}.csv").astype(object)
        expected = result.clean[sheet].reset_index(drop=True).astype(str).astype(object)
        pd.testing.assert_frame_equal(back, expected, obj=sheet)
    assert read_clean(clean / "studies.csv").set_index("study_id").at["S01", "citation"] == (
        HYPERLINK
    )


# --- Faults of the machine ----------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """run_rule points the root logger at the rule's log: put the test runner's back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def fake_smk(tmp_path: Path, inputs: list[Path] | None = None) -> SimpleNamespace:
    """The parts of Snakemake's ``snakemake`` object that run_rule uses."""
    return SimpleNamespace(
        log=[str(tmp_path / "logs" / "tally.log")],
        wildcards={"review": "families"},
        rule="tally",
        input=[str(p) for p in inputs or []],
        output=[str(tmp_path / "results" / "themes.csv")],
    )


def run_failing(smk: SimpleNamespace, error: BaseException, capsys) -> tuple[int, str]:
    def step() -> None:
        raise error

    return run_failing_step(smk, step, capsys)


def run_failing_step(smk: SimpleNamespace, step, capsys) -> tuple[int, str]:
    """Run ``step`` through run_rule: 1 when the job failed (as Snakemake records it), and
    what the terminal showed."""
    Path(smk.log[0]).parent.mkdir(parents=True, exist_ok=True)
    with pytest.raises(RuleFailed):
        run_rule(smk, step)
    return 1, capsys.readouterr().err


@pytest.mark.usefixtures("restore_logging")
def test_disk_full_is_not_a_bug(tmp_path: Path, capsys) -> None:
    target = tmp_path / "results" / "themes.csv"
    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
    code, err = run_failing(fake_smk(tmp_path), error, capsys)
    assert code != 0
    assert f"the disk is full while writing {target}; free space and run again" in err
    assert "bug in evsynth" not in err and "Traceback" not in err
    log = (tmp_path / "logs" / "tally.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "No space left" in log


@pytest.mark.usefixtures("restore_logging")
def test_disk_full_without_a_file_name_names_the_output(tmp_path: Path, capsys) -> None:
    """A write() on an open file raises ENOSPC with no file name; wrapped by a library."""
    try:
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as inner:
            raise RuntimeError("could not save") from inner
    except RuntimeError as wrapped:
        error = wrapped
    code, err = run_failing(fake_smk(tmp_path), error, capsys)
    assert code != 0
    target = tmp_path / "results" / "themes.csv"
    assert f"the disk is full while writing {target}" in err
    assert "bug in evsynth" not in err and "Traceback" not in err


@pytest.mark.parametrize("number", [errno.EROFS, errno.EACCES])
@pytest.mark.usefixtures("restore_logging")
def test_read_only_output_is_not_a_bug(tmp_path: Path, capsys, number: int) -> None:
    target = tmp_path / "results" / "themes.csv"
    error = PermissionError(number, os.strerror(number), str(target))
    code, err = run_failing(fake_smk(tmp_path), error, capsys)
    assert code != 0
    assert f"cannot write {target}: read-only or permission denied" in err
    assert "bug in evsynth" not in err and "Traceback" not in err


@pytest.mark.usefixtures("restore_logging")
def test_unreadable_input_says_read(tmp_path: Path, capsys) -> None:
    sheets = tmp_path / "data" / "raw" / "families"
    target = sheets / "studies.csv"
    error = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
    code, err = run_failing(fake_smk(tmp_path, inputs=[sheets]), error, capsys)
    assert code != 0
    assert f"cannot read {target}: permission denied" in err


@pytest.mark.usefixtures("restore_logging")
def test_full_disk_that_also_fails_the_log(tmp_path: Path, capsys) -> None:
    """The log cannot be written either (here: its folder does not exist): still one message,
    no logging traceback on the terminal."""
    smk = fake_smk(tmp_path)
    smk.log = [str(tmp_path / "no" / "such" / "folder" / "tally.log")]

    def step() -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/x/out.csv")

    with pytest.raises(RuleFailed):
        run_rule(smk, step)
    err = capsys.readouterr().err
    assert "the disk is full while writing /x/out.csv" in err
    assert "Traceback" not in err and "Logging error" not in err


@pytest.mark.usefixtures("restore_logging")
def test_other_errors_are_still_bugs(tmp_path: Path, capsys) -> None:
    code, err = run_failing(fake_smk(tmp_path), ValueError("boom"), capsys)
    assert code != 0
    assert "This is a bug in evsynth" in err and "Traceback" not in err
    missing = FileNotFoundError(errno.ENOENT, "No such file", "x.csv")
    assert "bug in evsynth" in run_failing(fake_smk(tmp_path), missing, capsys)[1]


# --- Through the stages, to what the report reads ---------------------------------------------


def test_stages_write_safe_csvs_and_the_report_reads_the_originals(tiny: Path) -> None:
    """Formula text in a sheet and in codebook labels: every CSV the stages write shows it
    neutralised, and the report's loader gets the text exactly as the user typed it."""
    from evsynth.outcomes import run_outcomes
    from evsynth.report import ReviewResults
    from evsynth.tally import run_agreement, run_tally
    from evsynth.validate import run_validate

    book = (tiny / "codebook.yaml").read_text("utf-8")
    for old, new in (("Theme A", HYPERLINK), ("Re-offending", AT_SUM)):
        book = book.replace(f"label: {old}\n", f"label: '{new}'\n")
    (tiny / "codebook.yaml").write_text(book, "utf-8")
    set_cell("studies", 2, "citation", DDE)(tiny / "sheets", tiny / "codebook.yaml")

    out = tiny / "results"
    clean, codebook = out / "clean", tiny / "codebook.yaml"
    result = run_validate(tiny / "sheets", codebook, validation_paths(out / "validation", clean))
    assert not result.errors, [f.one_line() for f in result.errors]
    tallies = out / "tallies"
    run_tally(
        clean / "studies.parquet",
        clean / "codes.parquet",
        codebook,
        "union",
        tally_paths(tallies, out / "figures"),
    )
    run_agreement(
        clean / "codes.parquet", codebook, tallies / "agreement.csv", tallies / "disagreements.csv"
    )
    run_outcomes(
        clean / "studies.parquet",
        clean / "outcomes.parquet",
        clean / "codes.parquet",
        codebook,
        meta_settings(),
        "union",
        outcomes_paths(out / "outcomes", out / "figures"),
    )

    assert {r["code"]: r["label"] for r in raw_rows(tallies / "themes.csv")}["a"] == (
        "'" + HYPERLINK
    )
    direction = {r["outcome"]: r["label"] for r in raw_rows(out / "outcomes" / "direction.csv")}
    assert direction["reoffending"] == "'" + AT_SUM
    assert raw_rows(clean / "studies.csv")[0]["citation"] == "'" + DDE
    for path in out.rglob("*.csv"):  # no cell anywhere a spreadsheet would run
        for row in raw_rows(path):
            for column, value in [("(header)", name) for name in row] + list(row.items()):
                assert not runnable(value), (path, column, value)

    loaded = ReviewResults.load(report_inputs(out, codebook))
    assert loaded.studies.set_index("study_id").at["T1", "citation"] == DDE
    assert loaded.themes.set_index("code").at["a", "label"] == HYPERLINK
    assert loaded.direction.set_index("outcome").at["reoffending", "label"] == AT_SUM


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.usefixtures("restore_logging")
def test_real_full_device(tmp_path: Path, capsys) -> None:
    """A real ENOSPC: /dev/full refuses every write, and the error carries no file name."""
    smk = fake_smk(tmp_path)
    smk.output = ["/dev/full"]
    frame = pd.DataFrame({"label": [HYPERLINK] * 1000})
    code, err = run_failing_step(smk, lambda: write_table(frame, Path("/dev/full")), capsys)
    assert code != 0
    assert "the disk is full while writing /dev/full; free space and run again" in err
    assert "bug in evsynth" not in err and "Traceback" not in err


# --- Any text ----------------------------------------------------------------------------------

CELL_TEXT = st.text(alphabet=st.sampled_from(list("'=+-@\t\r\n\"., ;0123456789eEaxé")), max_size=12)


@given(CELL_TEXT)
def test_any_text_round_trips_and_is_never_runnable(value: str) -> None:
    written = escape_text(value)
    assert restore_text(written) == value
    assert not runnable(written)
    assert written in (value, "'" + value)  # at most one apostrophe, and only in front


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CELL_TEXT, CELL_TEXT), min_size=1, max_size=5))
def test_any_table_round_trips_through_write_table(rows: list[tuple[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["citation", "excerpt"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "studies.csv"
        write_table(frame, path)
        back = read_clean(path)
    assert list(back.columns) == ["citation", "excerpt"]
    assert [tuple(r) for r in back.itertuples(index=False)] == rows


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(CELL_TEXT, CELL_TEXT), min_size=1, max_size=5))
def test_any_findings_round_trip_through_issues_csv(cells: list[tuple[str, str]]) -> None:
    findings = [
        Finding.error("studies", row, column, value, "vocabulary", f"'{value}' is not a code")
        for row, (column, value) in enumerate(cells, start=2)
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "issues.csv"
        write_issues_csv(findings, path)
        assert not any(runnable(v) for row in raw_rows(path) for v in row.values())
        assert read_issues_csv(path) == sorted_findings(findings)


@pytest.mark.usefixtures("restore_logging")
def test_jobs_running_at_once_keep_their_logs_apart(tmp_path: Path) -> None:
    """The workflow runs its jobs as threads of one process: each job's log holds its own
    records only, whichever module logs them, and no handler is left behind."""
    root = logging.getLogger()
    before = root.handlers[:]
    both_started = threading.Barrier(2, timeout=10)

    def job(name: str) -> None:
        smk = fake_smk(tmp_path / name)
        smk.rule = name
        Path(smk.log[0]).parent.mkdir(parents=True, exist_ok=True)

        def step() -> None:
            both_started.wait()  # both handlers are on the root logger now
            for i in range(50):
                logging.getLogger(f"evsynth.{name}").info("%s line %d", name, i)

        run_rule(smk, step)

    threads = [threading.Thread(target=job, args=(name,)) for name in ("tally", "outcomes")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, other in (("tally", "outcomes"), ("outcomes", "tally")):
        log = (tmp_path / name / "logs" / "tally.log").read_text(encoding="utf-8")
        assert f"{name} line 49" in log and log.count(f"{name} line") == 50
        assert other not in log
    assert root.handlers == before
