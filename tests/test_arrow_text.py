"""Validation's fast paths in Arrow answer exactly as the Python and pandas code they stand in for.

Each fast path is a gate or a shortcut for the common, clean sheet; these tests draw many random
cells and files, with the characters that make the difference (separators, quotes, line breaks,
every kind of whitespace), and compare the two answers cell by cell.
"""

from __future__ import annotations

import csv
import io
import random
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evsynth import intake, validate

#: Characters that decide the answers below: separators, quotes, line ends, every Unicode
#: whitespace and some that are not (a non-breaking hyphen, a zero-width space).
PIECES = ["a", "B", "é", "1", ";", ",", '"', "\r", "\n", "\r\n", " ", "\t", "\x0b", "\x1c", "\x85",
          "\xa0", "\u2003", "\u3000", "\u2028", "\u200b", "\u2011", "#", ""]  # fmt: skip


def _cells(rng: random.Random, n: int, longest: int = 8) -> list[str]:
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, longest))) for _ in range(n)]


def test_whitespace_class_is_pythons_whitespace() -> None:
    """The RE2 class matches exactly the characters ``str.isspace`` (and ``str.strip``) takes."""
    every = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    matched = pc.match_substring_regex(pa.array(every), f"^{intake.WHITESPACE_CLASS}$")
    ours = {c for c, hit in zip(every, matched.to_pylist(), strict=True) if hit}
    assert ours == {c for c in every if c.isspace()}


def test_any_padded_and_may_contain_answer_as_python() -> None:
    rng = random.Random(11)
    for _ in range(400):
        cells = pd.Series(_cells(rng, rng.randint(1, 6)), dtype="str")
        texts = cells.tolist()
        assert intake.any_padded(cells) == any(t != t.strip() for t in texts), texts
        for needle in (";", "#", "Err:"):
            if any(needle in t for t in texts):  # a gate: never "no" when a cell holds it
                assert intake.may_contain(cells, needle), (needle, texts)
            assert intake.any_contains(cells, needle) == any(needle in t for t in texts)


def test_any_padded_on_a_slice_reads_only_its_cells() -> None:
    """A column sliced out of a longer one (as a sheet's rows are) is tested on its own cells."""
    cells = pd.Series([" padded", "plain", "also plain", "trailing "], dtype="str")
    assert not intake.any_padded(cells.iloc[1:3])
    assert intake.any_padded(cells.iloc[2:])


def _pandas_records(text: str) -> list[list[str]] | None:
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            header=None,
            engine="c",
        )
    except Exception:  # noqa: BLE001 - any refusal: the strict reader must refuse it too
        return None
    return frame.fillna("").astype(str).to_numpy().tolist()


def test_strict_reader_reads_what_pandas_reads_or_leaves_it() -> None:
    """Random files: wherever Arrow's reader takes a file, pandas' reader takes it too and
    gives the same cells; a quote left open, a short or long record leave it to pandas."""
    rng = random.Random(5)
    pieces = ["a", "b", ",", '"', '""', "\r", "\n", "\r\n", " ", ";", "é", "1"]
    taken = 0
    for _ in range(3000):
        header = rng.choice(["a,b\n", "a\n", "a,b,c\r\n", "x,y"])
        text = header + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        width = len(next(csv.reader(io.StringIO(header))))
        frame = intake._parse_strict(text.encode("utf-8"), width)
        if frame is None:
            continue
        taken += 1
        assert _pandas_records(text) == frame.to_numpy().tolist(), repr(text)
    assert taken > 300  # the comparison above ran on many files, not on none


def test_strict_reader_leaves_an_unclosed_quote_to_pandas() -> None:
    """A quote that never closes would make the rest of the file one cell: pandas reports it."""
    assert intake._parse_strict(b'id,name\n1,"open\n2,b\n', 2) is None
    assert intake._parse_strict(b'id,name\n1,a"b\n2,"c\n', 2) is None
    assert intake._parse_strict(b"id,name\n1\n", 2) is None  # a short record: pandas pads it
    blank = intake._parse_strict(b"id,name\n\n1,a\n\n", 2)  # blank records: blank rows, as pandas
    assert blank is not None and blank.to_numpy().tolist() == [
        ["id", "name"],
        ["", ""],
        ["1", "a"],
        ["", ""],
    ]
    frame = intake._parse_strict(b'id,name\r\n1,"a ""b"", c"\r\n2,\r\n', 2)
    assert frame is not None and frame.to_numpy().tolist() == [
        ["id", "name"],
        ["1", 'a "b", c'],
        ["2", ""],
    ]


def test_multi_normalisation_matches_rewriting_every_cell() -> None:
    """Only untidy or repeating cells are rewritten; the result is as if all had been."""
    rng = random.Random(7)
    pieces = ["a", "b", "A", "cc", ";", ";", " ", "\t", "\xa0", "\u3000", "é", ""]
    for _ in range(200):
        texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 9))) for _ in range(20)]
        values = pd.Series(texts, dtype="str", index=range(3, 23))
        fast = validate._normalise_multi(values)
        has = values.str.contains(";", regex=False)
        expected = values.copy()
        if has.any():
            expected[has] = validate._rewrite_multi(values[has])
        assert fast.tolist() == expected.tolist(), texts


def test_explode_multi_parts_are_python_stripped() -> None:
    values = pd.Series(["a; b\xa0;;c", "", "\u3000d ;e"], dtype="str", index=[4, 5, 6])
    parts = validate._explode_multi(values)
    assert parts.tolist() == ["a", "b", "c", "d", "e"]
    assert parts.index.tolist() == [4, 4, 4, 6, 6]


def test_whole_number_range_is_read_exactly() -> None:
    """The range check of whole numbers reads them with Arrow's cast: bounds hold at the edge."""
    spec = validate.ColumnSpec("year", "integer", minimum=1900, maximum=2026)
    sheet = intake.Sheet(
        "studies",
        "studies.csv",
        pd.DataFrame({"year": ["1899", "1900", "2026", "2027", "-0", "x", "9223372036854775807"]}),
        pd.Series(range(2, 9)),
    )
    col = validate._Collector(sheet)
    validate._check_column(col, spec, sheet.frame["year"].astype(str))
    flagged = sorted((f.row, f.rule) for f in col.findings)
    assert flagged == [(2, "range"), (5, "range"), (6, "range"), (7, "integer"), (8, "range")]
    assert np.flatnonzero(col.bad).tolist() == [0, 3, 4, 5, 6]


def test_repeating_parts_found_in_short_and_long_cells() -> None:
    """Cells that repeat a part, by pairwise comparison (few parts) or by counting (many)."""
    rng = random.Random(3)
    for longest in (4, 40):  # 40 parts: more than validate._FEW_PARTS, the counting branch
        texts = [";".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, longest)))
                 for _ in range(300)]  # fmt: skip
        flat, rows = validate._split_multi(pd.Series(texts, dtype="str"))
        expected = [i for i, t in enumerate(texts) if len(set(t.split(";"))) < t.count(";") + 1]
        assert validate._repeating(flat, rows).tolist() == expected


def test_strict_reader_takes_only_utf8() -> None:
    """The strict reader is trusted to check UTF-8 in place of Python's decoder: it refuses
    exactly the files the decoder refuses (overlong forms, surrogates, beyond U+10FFFF, cut)."""
    rng = random.Random(9)
    special = [
        *(b"\xed\xa0\x80", b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xf4\x90\x80\x80"),
        *(b"\xf5\x80\x80\x80", b"\xc2", b"\xe2\x82", b"\x80", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf"),
        *(b"\xed\x9f\xbf", b"\xc1\xbf", b"\xc2\x80", b"\xff"),
    ]
    picks = [0x80, 0xBF, 0x9F, 0xA0, 0x8F, 0x90, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0x61]
    drawn = [bytes(rng.choice(picks) for _ in range(rng.randint(1, 5))) for _ in range(3000)]
    cells = special + drawn
    for cell in cells:
        raw = b"id,name\n1," + cell + b"\n"
        try:
            raw.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            utf8 = False
        assert (intake._parse_strict(raw, 2) is not None) == utf8, cell
