"""The table writers' fast paths write what the pandas code they stand in for wrote, byte for byte.

``tables.write_table`` makes in Arrow the CSV lines pandas' ``to_csv`` and the csv writer made,
escaping text in Arrow too (``spreadsheet_safe.escape_arrow``) and quoting as the csv writer
quotes; ``handoff.write_typed`` takes pandas' Arrow strings and whole numbers as they are.
These tests draw many random tables, with the characters that decide the escaping and the
quoting (triggers, apostrophes, quotes, commas, line ends) and every kind of column a stage
writes, and compare the files with those of the reference: pandas' ``to_csv`` of the escaped
frame, and the Parquet writer's old conversion.
"""

from __future__ import annotations

import datetime
import random
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from evsynth import handoff, spreadsheet_safe, tables
from evsynth.handoff import write_typed
from evsynth.spreadsheet_safe import TRIGGERS, escape_arrow, escape_text
from evsynth.tables import write_table, write_table_pandas

#: Pieces of cells: every trigger, apostrophes, what makes the csv writer quote, number parts
#: (so that "-0.5" stays a number and "-0.5x" does not), and text that is plain.
PIECES = ["=", "+", "-", "@", "\t", "\r", "\n", "\r\n", "'", "''", '"', ",", " ", "0", "1.5",
          "e3", "inf", "nan", "a", "é", "=x", "HYPERLINK(\"a\")", ";", ""]  # fmt: skip


def _text(rng: random.Random, longest: int = 5) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, longest)))


def _column(rng: random.Random, rows: int) -> object:
    """One column of a kind a stage hands to write_table (text mostly, as tables are)."""
    kind = rng.choice(["str", "str", "str", "object", "int", "uint8", "bool", "float", "float32"])
    if kind == "str":
        cells = [None if rng.random() < 0.15 else _text(rng) for _ in range(rows)]
        return pd.array(cells, dtype="str")
    if kind == "object":
        # Objects whose str() is not their repr(): the csv writer writes str().
        others = [None, np.nan, 3, -2.5, True, pd.NA, Decimal("1.50"), datetime.date(2020, 1, 2)]
        cells = [rng.choice(others) if rng.random() < 0.3 else _text(rng) for _ in range(rows)]
        if rows:  # pandas' own escaping fails on an object column holding no string
            cells[0] = _text(rng) + "x"
        return pd.Series(cells, dtype=object)
    if kind == "int":
        return np.array([rng.randint(-(10**12), 10**12) for _ in range(rows)], dtype=np.int64)
    if kind == "uint8":
        return np.array([rng.randint(0, 255) for _ in range(rows)], dtype=np.uint8)
    if kind == "bool":
        return np.array([rng.random() < 0.5 for _ in range(rows)], dtype=bool)
    specials = [np.nan, np.inf, -np.inf, -0.0, 0.1, 1e-300, 123456789012.5, -1 / 3]
    cells = [rng.choice(specials) if rng.random() < 0.3 else rng.gauss(0, 1e3) for _ in range(rows)]
    return np.array(cells, dtype=np.float32 if kind == "float32" else np.float64)


def _frame(rng: random.Random) -> pd.DataFrame:
    rows = rng.randint(0, 7)
    names = [_text(rng, 3) + str(i) for i in range(rng.randint(1, 5))]
    if rng.random() < 0.1:  # a header with a bare carriage return quotes the whole file
        names[0] = "\r" + names[0]
    return pd.DataFrame(dict(zip(names, [_column(rng, rows) for _ in names], strict=True)))


def test_write_table_writes_what_pandas_to_csv_wrote(tmp_path: Path, monkeypatch) -> None:
    rng = random.Random(3)
    carriage_returns = escaped = 0
    for case in range(200):
        frame = _frame(rng)
        # Lines made in batches of rows: every batch size gives the same bytes.
        monkeypatch.setattr(tables, "BATCH_ROWS", rng.choice([1, 3, 65_536]))
        before = frame.copy()
        write_table(frame, tmp_path / "fast.csv")
        write_table_pandas(frame, tmp_path / "pandas.csv")
        fast = (tmp_path / "fast.csv").read_bytes()
        assert fast == (tmp_path / "pandas.csv").read_bytes(), (case, frame.to_dict("list"))
        pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not changed
        carriage_returns += b"\r" in fast  # quoted throughout
        escaped += b"'=" in fast
    # The draws reach both quotings and the escaping.
    assert 20 < carriage_returns < 180 and escaped > 25


def test_write_table_leaves_other_columns_and_headers_to_pandas(tmp_path: Path) -> None:
    """Categoricals, nullable numbers, dates, number headers, no columns: pandas' own bytes."""
    frames = [
        pd.DataFrame({"c": pd.Categorical(["=a", "b", None]), "n": [1, 2, 3]}),
        pd.DataFrame({"n": pd.array([1, None, -3], dtype="Int64"), "t": ["=x", "y", "z"]}),
        pd.DataFrame({"d": pd.to_datetime(["2020-01-02", None]), "t": ["-x", "+1"]}),
        pd.DataFrame([["=x", 1.5]], columns=[0, 2.5]),
        pd.DataFrame({"s": pd.array(["=a", None], dtype="string[python]")}),
        pd.DataFrame(index=range(3)),
    ]
    for frame in frames:
        write_table(frame, tmp_path / "fast.csv")
        write_table_pandas(frame, tmp_path / "pandas.csv")
        assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_escape_arrow_is_escape_text_on_every_cell() -> None:
    rng = random.Random(7)
    for _ in range(300):
        cells = [None if rng.random() < 0.1 else _text(rng, 4) for _ in range(rng.randint(0, 8))]
        chunks = [pa.array(cells[:2], pa.large_string()), pa.array(cells[2:], pa.large_string())]
        escaped, carriage_return = escape_arrow(pa.chunked_array(chunks))
        assert escaped.to_pylist() == [None if c is None else escape_text(c) for c in cells]
        assert carriage_return == any(c is not None and "\r" in c for c in cells)


def test_escape_gate_is_the_first_characters_of_the_rule() -> None:
    """The Arrow pattern lets through exactly a cell starting with a trigger or an apostrophe
    (a cell starting with anything else is never armed); checked on every first character of
    the Basic Multilingual Plane."""
    firsts = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    hits = pc.match_substring_regex(
        pa.array([c + "=x" for c in firsts]), spreadsheet_safe._WRITE_GATE
    )
    assert {c for c, hit in zip(firsts, hits.to_pylist(), strict=True) if hit} == TRIGGERS | {"'"}


# --- The typed Parquet hand-off ------------------------------------------------------------------


def _typed_reference(frame: pd.DataFrame, path: Path, types: dict[str, str]) -> None:
    """write_typed as it was: every column through pandas' fillna and astype to text."""
    arrays = []
    for name in frame.columns:
        text = pa.array(frame[name].fillna("").astype("str"), type=pa.string())
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        kind = types.get(name)
        if kind in ("integer", "number"):
            present = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
            text = pc.cast(present, pa.int64() if kind == "integer" else pa.float64())
        arrays.append(text)
    table = pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns])
    pq.write_table(table, path, write_statistics=False, store_schema=False)


def _typed_frame(rng: random.Random) -> tuple[pd.DataFrame, dict[str, str]]:
    """A clean table as validation hands it over: text (blank or missing), numbers as text,
    source_row as whole numbers; now and then an absent sheet's empty object columns."""
    rows = rng.randint(0, 6)
    if rng.random() < 0.1:
        return pd.DataFrame(columns=["study_id", "n", "source_row"]), {"n": "integer"}
    columns: dict[str, object] = {}
    types: dict[str, str] = {}
    for i in range(rng.randint(1, 5)):
        kind = rng.choice(["text", "text", "integer", "number", "object"])
        name = f"c{i}"
        if kind == "integer":
            cells = [rng.choice(["", None, str(rng.randint(-99, 99))]) for _ in range(rows)]
        elif kind == "number":
            cells = [rng.choice(["", None, "1.5", "-0.25", "1e-3", "7"]) for _ in range(rows)]
        else:
            cells = [None if rng.random() < 0.2 else _text(rng) for _ in range(rows)]
        columns[name] = pd.Series(cells, dtype=object if kind == "object" else "str")
        if kind in ("integer", "number"):
            types[name] = kind
    columns["source_row"] = np.arange(rows, dtype=np.int64) + 2
    types["source_row"] = "integer"
    return pd.DataFrame(columns), types


def test_write_typed_writes_what_the_pandas_conversion_wrote(tmp_path: Path) -> None:
    rng = random.Random(5)
    for case in range(200):
        frame, types = _typed_frame(rng)
        write_typed(frame, tmp_path / "fast.parquet", types)
        _typed_reference(frame, tmp_path / "reference.parquet", types)
        fast = (tmp_path / "fast.parquet").read_bytes()
        assert fast == (tmp_path / "reference.parquet").read_bytes(), (case, types)


@pytest.mark.parametrize("values", [["1", "x"], [1.5, 2.0]])
def test_write_typed_other_columns_as_before(tmp_path: Path, values: list) -> None:
    """Columns of any other kind (floats, mixed objects) still go through pandas' text."""
    frame = pd.DataFrame({"a": pd.Series([*values, None], dtype=object), "b": [*values, 3]})
    write_typed(frame, tmp_path / "fast.parquet", {})
    _typed_reference(frame, tmp_path / "reference.parquet", {})
    assert (tmp_path / "fast.parquet").read_bytes() == (tmp_path / "reference.parquet").read_bytes()


def test_both_writers_write_the_same_bytes_without_pandas_private_column_walk(
    tmp_path: Path, monkeypatch
) -> None:
    """``handoff.column_arrays`` uses pandas' private ``_iter_column_arrays`` (what its own CSV
    writer uses); a pandas without it must get the same files through the public ``.array``."""
    rng = random.Random(11)
    frames = [_frame(rng) for _ in range(40)]
    typed = [_typed_frame(rng) for _ in range(40)]

    def write_all(folder: Path) -> dict[str, bytes]:
        folder.mkdir()
        for i, frame in enumerate(frames):
            write_table(frame, folder / f"{i}.csv")
        for i, (frame, types) in enumerate(typed):
            write_typed(frame, folder / f"{i}.parquet", types)
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}

    private = write_all(tmp_path / "private")
    # (pandas' own to_csv, which write_table falls back on, needs the private method itself.)
    monkeypatch.setattr(tables, "column_arrays", handoff.public_column_arrays)
    monkeypatch.setattr(handoff, "column_arrays", handoff.public_column_arrays)
    assert write_all(tmp_path / "public") == private
