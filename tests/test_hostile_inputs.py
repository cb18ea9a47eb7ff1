"""Inputs built to hang, exhaust memory or mislead, and spreadsheets as real tools save them.

Each test builds the file in a temporary folder and checks the located finding (sheet, row,
column or file), its severity, that no traceback escapes, and that time and memory stay small.
The inputs that could take the machine down (a stray cell at XFD1048576, a zip bomb, a named
pipe, /dev/zero, a YAML alias bomb) are validated in a child process under an address-space
limit and a timeout, so a regression fails the test instead of hanging or swapping the host;
the child also shows that nothing is written outside the test's folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Font, PatternFill

from evsynth import intake
from evsynth.codebook import MAX_YAML_DEPTH, load_codebook
from evsynth.findings import InputError
from evsynth.template import write_template
from evsynth.validate import run_validate, validate_review
from stage_paths import validation_paths
from validation_helpers import (
    VALID,
    as_excel_value,
    copy_review,
    read_rows,
    set_cell,
    where,
    workbook_from_folder,
    write_rows,
)

TINY = Path(__file__).parent / "data" / "tiny"
#: Address space and time a child validation may use; the inputs below, if read naively, need
#: gigabytes (18 GB for XFD1048576) or never finish (a pipe, /dev/zero).
CHILD_MEMORY = 1536 * 2**20
CHILD_TIMEOUT = 120
#: What a refused input may cost inside the child (the interpreter and libraries are ~90 MB).
MAX_SECONDS, MAX_RSS_MB = 10, 400

_CHILD = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    limit = int(sys.argv[4])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from evsynth.validate import ValidationPaths, run_validate

    def peak_mb():
        # Linux keeps ru_maxrss across exec, so a child of a large pytest process would report
        # its parent's peak; VmHWM belongs to this process's own memory map.
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    start = time.perf_counter()
    out = Path(sys.argv[3])
    sheets = ("studies", "codes", "outcomes", "screening")
    paths = ValidationPaths(
        out / "validation/issues.csv", out / "validation/summary.json",
        out / "validation/report.md", {n: out / f"clean/{n}.csv" for n in sheets},
        {n: out / f"clean/{n}.parquet" for n in sheets})
    result = run_validate(Path(sys.argv[1]), Path(sys.argv[2]), paths)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "findings": [[f.severity, f.sheet, f.row, f.column, f.rule, f.value, f.message]
                     for f in result.findings],
        "seconds": seconds,
        "rss_mb": peak_mb(),
    }))
""")


def _snapshot(folder: Path) -> dict[str, str]:
    """Every path under ``folder`` with a hash of regular files (pipes are not opened)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            out[str(path)] = "(other)"
        else:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def validate_in_child(tmp_path: Path, location: Path, codebook: Path) -> dict:
    """run_validate in a child process with bounded memory and time, run from ``tmp_path``.

    Returns the findings, the seconds the validation took and the child's peak RSS. Checks
    that the inputs are unchanged and that the only new files are the outputs under ``out``.
    """
    out = tmp_path / "out"
    before = _snapshot(tmp_path)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(location),
                str(codebook),
                str(out),
                str(CHILD_MEMORY),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"validating {location} did not finish in {CHILD_TIMEOUT} s")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    after = _snapshot(tmp_path)
    assert {p: h for p, h in after.items() if p in before} == before  # inputs untouched
    assert all(Path(p).is_relative_to(out) for p in set(after) - set(before))
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["seconds"] < MAX_SECONDS, report["seconds"]
    assert report["rss_mb"] < MAX_RSS_MB, report["rss_mb"]
    return report


def errors_of(report: dict) -> list[list]:
    return [f for f in report["findings"] if f[0] == "error"]


# --- A. Spreadsheets as LibreOffice Calc saves them ------------------------------------------


def _filled_template(tmp_path: Path) -> Path:
    """The template for the tiny review, filled with its rows (screening left as the header)
    and then formatted the way Calc saves a sheet someone worked in: about 1,000 rows and
    several columns past the data carry styles and row heights but no values."""
    template = write_template(TINY / "codebook.yaml", tmp_path / "template.xlsx")
    book = openpyxl.load_workbook(template)
    grey = PatternFill("solid", fgColor="EEEEEE")
    for name in ("studies", "codes", "outcomes", "screening"):
        worksheet = book[name]
        header = [c.value for c in worksheet[1]]
        if name != "screening":
            rows = read_rows(TINY / "sheets", name)
            # The template offers every column; the sheet fills the ones it has (the outcomes
            # sheet's optional arm-level columns stay blank).
            assert set(rows[0]) <= set(header), set(rows[0]) - set(header)
            for record in rows[1:]:
                by_name = dict(zip(rows[0], record, strict=True))
                worksheet.append([as_excel_value(by_name.get(c, "")) for c in header])
        for row in range(worksheet.max_row + 1, 1025):
            worksheet.row_dimensions[row].height = 12.8
            for column in range(1, len(header) + 4):  # and three formatted columns past it
                cell = worksheet.cell(row=row, column=column)
                cell.fill = grey
                cell.font = Font(name="Liberation Sans")
    path = tmp_path / "filled.xlsx"
    book.save(path)
    return path


@pytest.fixture(scope="session")  # kept to the end: xdist may run other modules in between
def filled_template(tmp_path_factory) -> Path:
    return _filled_template(tmp_path_factory.mktemp("template"))


def test_a_workbook_with_1000_formatted_empty_rows_gives_no_findings(filled_template):
    path = filled_template
    with zipfile.ZipFile(path) as archive:  # the empty rows really are in the file
        sheet = archive.read("xl/worksheets/sheet2.xml")
    assert sheet.count(b"<row ") > 1000
    result = validate_review(path, TINY / "codebook.yaml")
    assert result.findings == [], [f.one_line() for f in result.findings]
    assert result.summary["passed"]
    assert "screening" not in result.clean or result.clean["screening"].empty
    sheets = result.summary["sheets"]
    assert set(sheets) == {"studies", "codes", "outcomes"}  # a header-only screening: absent
    assert sheets["studies"]["rows_read"] == 5
    assert sheets["studies"]["blank_rows_ignored"] == 1024 - 6
    tidy = validate_review(TINY / "sheets", TINY / "codebook.yaml")
    for name in ("studies", "codes", "outcomes"):
        assert result.clean[name].equals(tidy.clean[name]), name


@pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed"
)
def test_a_workbook_saved_by_libreoffice_gives_no_findings(tmp_path, filled_template):
    source = filled_template
    converted = tmp_path / "calc"
    profile = (tmp_path / "lo-profile").as_uri()  # never the user's own profile
    done = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(converted),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    saved = converted / "filled.xlsx"
    assert saved.exists(), done.stdout + done.stderr
    with zipfile.ZipFile(saved) as archive:
        assert b"LibreOffice" in archive.read("docProps/app.xml")
    result = validate_review(saved, TINY / "codebook.yaml")
    assert result.findings == [], [f.one_line() for f in result.findings]


# --- C. Inputs that would exhaust memory or hang ---------------------------------------------


def test_a_stray_value_in_the_last_cell_is_refused_with_its_address(tmp_path):
    sheets, codebook = copy_review(tmp_path)

    def stray(book: openpyxl.Workbook) -> None:
        book["studies"]["XFD1048576"] = "x"

    path = workbook_from_folder(sheets, tmp_path / "review.xlsx", edit=stray)
    assert path.stat().st_size < 20_000
    report = validate_in_child(tmp_path, path, codebook)
    (error,) = errors_of(report)
    assert error[1:5] == ["studies", 1048576, "(column XFD)", "cell_limit"]
    assert "cell XFD1048576" in error[6] and str(path) in error[6]


def test_a_value_past_column_500_is_refused(tmp_path):
    sheets, codebook = copy_review(tmp_path)

    def far(book: openpyxl.Workbook) -> None:
        book["codes"].cell(row=3, column=intake.MAX_COLUMNS + 1, value="note")

    result = validate_review(workbook_from_folder(sheets, tmp_path / "r.xlsx", edit=far), codebook)
    assert [where(f) for f in result.errors] == [("error", "codes", 3, "(column SG)", "cell_limit")]
    assert "cell SG3" in result.errors[0].message


def test_a_csv_header_wider_than_the_limit_is_refused(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    rows = read_rows(sheets, "outcomes")
    rows[0] += [f"x{i}" for i in range(intake.MAX_COLUMNS)]
    write_rows(sheets, "outcomes", rows)
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.errors] == [("error", "outcomes", 1, "", "column_limit")]


def _deflate_zip(path: Path, members: list[tuple[str, bytes, int, int]]) -> None:
    """Write a zip from already-deflated members: (name, raw deflate stream, CRC-32, size)."""
    with path.open("wb") as handle:
        central = b""
        for name, stream, crc, size in members:
            offset = handle.tell()
            fields = (20, 0, 8, 0, 0x21, crc, len(stream), size, len(name.encode()), 0)
            handle.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + name.encode())
            handle.write(stream)
            central += (
                struct.pack("<IH", 0x02014B50, 20)
                + struct.pack("<HHHHHIIIHHHHHII", *fields, 0, 0, 0, 0, offset)
                + name.encode()
            )
        start = handle.tell()
        handle.write(central)
        handle.write(
            struct.pack(
                "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), start, 0
            )
        )


def _deflated(data: bytes) -> tuple[bytes, int, int]:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(), zlib.crc32(data), len(data)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    """A 1.5 MB workbook whose first worksheet unpacks to 1.5 GB of XML (whitespace)."""
    sheets, codebook = copy_review(tmp_path)
    good = workbook_from_folder(sheets, tmp_path / "good.xlsx")
    head = (
        b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><sheetData>'
    )
    block, tail, repeats = b" " * 2**20, b"</sheetData></worksheet>", 1500
    # Deflate blocks flushed with Z_FULL_FLUSH are independent, so one packed block repeated
    # is a valid stream of the block repeated: the bomb is built without packing 1.5 GB.
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed_head = packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)
    packed_block = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    assert packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH) == packed_block
    stream = packed_head + packed_block * repeats + packer.compress(tail) + packer.flush()
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    size = len(head) + len(block) * repeats + len(tail)
    members = []
    with zipfile.ZipFile(good) as archive:
        for name in archive.namelist():
            if name == "xl/worksheets/sheet1.xml":
                members.append((name, stream, zlib.crc32(tail, crc), size))
            else:
                members.append((name, *_deflated(archive.read(name))))
    bomb = tmp_path / "review.xlsx"
    _deflate_zip(bomb, members)
    assert bomb.stat().st_size < 2_000_000
    with zipfile.ZipFile(bomb) as archive:  # a real zip, declaring its real size
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size > 1.5e9
        with archive.open("xl/worksheets/sheet1.xml") as part:
            assert part.read(len(head) + 10) == head + b" " * 10
    report = validate_in_child(tmp_path, bomb, codebook)
    (error,) = errors_of(report)
    assert error[1:5] == ["(workbook)", None, "", "workbook_too_large"]
    assert str(bomb) in error[6] and "unpacks to 1,500 MiB" in error[6]


def test_a_highly_packed_part_is_refused_even_under_the_size_limit(tmp_path, monkeypatch):
    sheets, codebook = copy_review(tmp_path)
    monkeypatch.setattr(intake, "RATIO_CHECK_BYTES", 1000)
    monkeypatch.setattr(intake, "MAX_COMPRESSION_RATIO", 5)
    path = workbook_from_folder(sheets, tmp_path / "r.xlsx")
    (error,) = validate_review(path, codebook).errors
    assert (error.sheet, error.rule) == ("(workbook)", "workbook_too_large")
    assert "zip bomb" in error.message


def test_an_encrypted_workbook_says_what_it_is_and_how_to_save_it(tmp_path):
    _, codebook = copy_review(tmp_path)
    path = tmp_path / "review.xlsx"
    # An encrypted .xlsx is an OLE2 compound file (as a .xls is): this header, then sectors.
    path.write_bytes(intake.OLE2_MAGIC + bytes(512 - 8) + b"\x00" * 4096)
    (error,) = validate_review(path, codebook).errors
    assert (error.sheet, error.row, error.rule) == ("(workbook)", None, "workbook_unreadable")
    assert str(path) in error.message
    assert "password-protected" in error.message and ".xls" in error.message
    assert "not a zip file" not in error.message


def _make(kind: str, path: Path) -> None:
    if kind == "device":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)


@pytest.mark.parametrize("kind", ["device", "fifo"])
@pytest.mark.parametrize("form", ["csv", "workbook"])
def test_a_sheet_that_is_a_device_or_a_pipe_is_refused_at_once(tmp_path, kind, form):
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    sheets, codebook = copy_review(tmp_path)
    if form == "csv":
        target = sheets / "codes.csv"
        target.unlink()
        location, sheet = sheets, "codes"
    else:
        target = location = tmp_path / "review.xlsx"
        sheet = "(workbook)"
    _make(kind, target)
    report = validate_in_child(tmp_path, location, codebook)
    (error,) = errors_of(report)
    assert error[1:5] == [sheet, None, "", "file_unreadable"]
    assert str(target) in error[6]
    assert ("a device" if kind == "device" else "a named pipe") in error[6]


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_codebook_that_is_a_device_or_a_pipe_is_refused_at_once(tmp_path, kind):
    sheets, codebook = copy_review(tmp_path)
    codebook.unlink()
    _make(kind, codebook)
    report = validate_in_child(tmp_path, sheets, codebook)
    (error,) = errors_of(report)
    assert error[1:5] == ["codebook", None, "", "file_unreadable"]
    assert str(codebook) in error[6]


def test_a_csv_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    sheets, codebook = copy_review(tmp_path)
    monkeypatch.setattr(intake, "MAX_CSV_BYTES", 250)
    result = validate_review(sheets, codebook)
    too_large = {f.sheet for f in result.errors if f.rule == "file_too_large"}
    assert too_large == {"studies", "outcomes"}  # the other two are under 250 bytes
    assert all(str(sheets) in f.message for f in result.errors)


def test_a_yaml_alias_bomb_is_refused_with_its_line(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    laughs = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    text = (VALID / "codebook.yaml").read_text(encoding="utf-8")
    codebook.write_text(text + "\n".join(laughs) + "\n", encoding="utf-8")
    assert codebook.stat().st_size - len(text) < 1200  # the "billion laughs": 9^10 values
    # lol5's aliases (*l4, about 66,000 values each) are the first to go over the budget.
    line = text.count("\n") + 6
    report = validate_in_child(tmp_path, sheets, codebook)
    (error,) = errors_of(report)
    assert error[1:5] == ["codebook", None, "", "yaml_aliases"]
    assert f"{codebook} line {line}:" in error[6]


@pytest.mark.parametrize("style", ["block", "flow"])
def test_a_codebook_nested_1000_deep_is_refused_with_its_line(tmp_path, style):
    sheets, codebook = copy_review(tmp_path)
    text = (VALID / "codebook.yaml").read_text(encoding="utf-8")
    if style == "flow":
        deep = "deep: " + "[" * 1000 + "]" * 1000 + "\n"
    else:
        deep = "deep:\n" + "".join(" " * (i + 1) + "-\n" for i in range(1000)) + " " * 1001 + "x\n"
    codebook.write_text(text + deep, encoding="utf-8")
    report = validate_in_child(tmp_path, sheets, codebook)
    (error,) = errors_of(report)
    assert error[1:5] == ["codebook", None, "", "yaml_depth"]
    assert f"{codebook} line " in error[6]


def _theme_tree(levels: int) -> str:
    lines, indent = ["themes:"], "  "
    for level in range(levels):
        lines += [f"{indent}- code: t{level}", f"{indent}  label: Theme {level}"]
        if level < levels - 1:
            lines.append(f"{indent}  children:")
            indent += "    "
    return "\n".join(lines) + "\n"


def test_the_deepest_allowed_theme_tree_loads_and_one_more_level_does_not(tmp_path):
    text = (VALID / "codebook.yaml").read_text(encoding="utf-8")
    before, after = text[: text.index("themes:")], text[text.index("outcomes:") :]
    deepest = (MAX_YAML_DEPTH - 1) // 2  # a theme at level L is nested 2L + 1 deep
    path = tmp_path / "codebook.yaml"
    path.write_text(before + _theme_tree(deepest) + after, encoding="utf-8")
    assert load_codebook(path).themes[-1].level == deepest
    path.write_text(before + _theme_tree(deepest + 1) + after, encoding="utf-8")
    with pytest.raises(InputError) as refused:
        load_codebook(path)
    assert [f.rule for f in refused.value.findings] == ["yaml_depth"]


# --- D. Messages that help --------------------------------------------------------------------


@pytest.mark.parametrize(("delimiter", "word"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_csv_with_another_delimiter_is_one_error(tmp_path, delimiter, word):
    sheets, codebook = copy_review(tmp_path)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(
        read_rows(sheets, "studies")
    )
    (sheets / "studies.csv").write_text(buffer.getvalue(), encoding="utf-8")
    result = validate_review(sheets, codebook)
    studies = [f for f in result.findings if f.sheet == "studies"]
    assert [where(f) for f in studies] == [("error", "studies", 1, "", "csv_delimiter")]
    assert word in studies[0].message and "CSV UTF-8 (Comma delimited)" in studies[0].message
    assert len(result.errors) == 1  # not 'study_id not in the studies sheet' for every code


def test_trailing_unnamed_columns_of_spaces_are_ignored(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    rows = read_rows(sheets, "studies")
    write_rows(
        sheets, "studies", [r + [" "] * 300 if i else r + [""] * 300 for i, r in enumerate(rows)]
    )
    result = validate_review(sheets, codebook)
    assert result.findings == [], [f.one_line() for f in result.findings[:5]]
    assert result.summary["sheets"]["studies"]["blank_columns_ignored"] == 300


@pytest.mark.parametrize(
    "value",
    ["#REF!", "#N/A", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "Err:502"],
)
def test_a_spreadsheet_error_value_is_an_error_at_its_cell(tmp_path, value):
    sheets, codebook = copy_review(tmp_path)
    set_cell("outcomes", 3, "estimate", value)(sheets, codebook)
    set_cell("studies", 4, "citation", value)(sheets, codebook)
    result = validate_review(sheets, codebook)
    assert {where(f) for f in result.errors} == {
        ("error", "outcomes", 3, "estimate", "spreadsheet_error"),
        ("error", "studies", 4, "citation", "spreadsheet_error"),
    }
    assert all(f.value == value for f in result.errors if f.rule == "spreadsheet_error")


def test_a_workbook_error_cell_is_an_error_at_its_cell(tmp_path):
    sheets, codebook = copy_review(tmp_path)

    def failed(book: openpyxl.Workbook) -> None:
        cell = book["outcomes"]["I2"]  # column n
        cell.value = "#DIV/0!"
        assert cell.data_type == "e"  # stored as an error value, as Excel stores it

    path = workbook_from_folder(sheets, tmp_path / "r.xlsx", edit=failed)
    result = validate_review(path, codebook)
    assert [where(f) for f in result.errors] == [("error", "outcomes", 2, "n", "spreadsheet_error")]


SECRET = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
PRIVATE_FILES = {
    "ssh_key": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n-----END OPENSSH KEY-----\n",
    "shadow": f"root:$6${SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    "shadow_with_commas": f"user,{SECRET},x\nroot,{SECRET},y,z\n",
    "binary": "\udcff".join(["", SECRET, ""]),
}


@pytest.mark.parametrize("kind", sorted(PRIVATE_FILES))
def test_a_file_that_is_not_a_sheet_is_never_quoted(tmp_path, kind):
    sheets, codebook = copy_review(tmp_path)
    private = tmp_path / "private" / "id_rsa"
    private.parent.mkdir()
    private.write_bytes(PRIVATE_FILES[kind].encode("utf-8", "surrogateescape"))
    (sheets / "studies.csv").unlink()
    (sheets / "studies.csv").symlink_to(private)
    out = tmp_path / "out"
    result = run_validate(sheets, codebook, validation_paths(out / "validation", out / "clean"))
    studies = [f for f in result.findings if f.sheet == "studies"]
    assert [where(f) for f in studies] == [("error", "studies", 1, "", "not_a_sheet")]
    assert str(sheets / "studies.csv") in studies[0].message
    for written in out.rglob("*"):
        if written.is_file():
            data = written.read_bytes()  # text and typed (Parquet) outputs alike
            for secret in (SECRET[:12], "OPENSSH", "daemon"):
                assert secret.encode("utf-8") not in data, (written, secret)


@pytest.mark.parametrize("name", ["id_rsa", "shadow.xlsx", "shadow.csv"])
def test_a_config_pointing_at_a_private_file_names_it_without_quoting_it(tmp_path, name):
    _, codebook = copy_review(tmp_path)
    private = tmp_path / name
    private.write_text(PRIVATE_FILES["shadow"], encoding="utf-8")
    out = tmp_path / "out"
    result = run_validate(private, codebook, validation_paths(out / "validation", out / "clean"))
    (error,) = result.errors
    assert str(private) in error.message
    issues = (out / "validation" / "issues.csv").read_text(encoding="utf-8")
    assert SECRET[:12] not in issues and "daemon" not in issues


def test_a_studies_sheet_with_only_a_header_is_an_error(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    write_rows(sheets, "studies", read_rows(sheets, "studies")[:1])
    for name in ("codes", "outcomes", "screening"):
        (sheets / f"{name}.csv").unlink()
    write_rows(sheets, "codes", [["study_id", "code"]])
    write_rows(sheets, "outcomes", [["study_id", "outcome", "direction"]])
    result = validate_review(sheets, codebook)
    assert [where(f) for f in result.errors] == [("error", "studies", None, "", "no_records")]
    assert not result.summary["passed"]


def test_a_screening_sheet_with_only_a_header_is_not_provided(tmp_path):
    sheets, codebook = copy_review(tmp_path)
    write_rows(sheets, "screening", [["stage", "count", "reason"], ["", "", ""]])
    result = validate_review(sheets, codebook)
    assert result.findings == []
    assert "screening" not in result.summary["sheets"]
    assert "screening" not in result.clean
