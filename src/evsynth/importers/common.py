"""What every importer shares: where it may write, and how.

An importer writes only a review's sheets folder (``data/raw/<review>/``) and its codebook
(``config/codebooks/<review>.yaml``), and only files that do not exist yet: a lead's sheets are
never overwritten unless they ask (``--force``). It writes all its files or none: each file is
written beside its target and moved into place only once every file has been made, so a
refused or failed import leaves nothing half written.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evsynth.spreadsheet_safe import texts_quoting

#: A review id, as `make new-review` accepts it (evsynth.scaffold).
REVIEW_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
#: An export larger than this is refused before it is read: memory stays bounded.
MAX_EXPORT_BYTES = 64 << 20


class ImportProblem(Exception):
    """A located, plain reason an import cannot go ahead (printed as is, no traceback)."""


@dataclass(frozen=True)
class Targets:
    """Where an import for ``review`` writes, relative to the project root ``root``."""

    root: Path
    review: str

    @property
    def sheets(self) -> Path:
        return self.root / "data" / "raw" / self.review

    @property
    def codebook(self) -> Path:
        return self.root / "config" / "codebooks" / f"{self.review}.yaml"


def targets(review: str, root: Path = Path(".")) -> Targets:
    if not REVIEW_ID.match(review):
        raise ImportProblem(
            f"review id {review!r}: use lower-case letters, digits and '-' (at most 64), "
            "starting with a letter or digit"
        )
    return Targets(root, review)


def check_export(path: Path, suffixes: tuple[str, ...]) -> None:
    """Refuse an export that is missing, not a regular file, of the wrong kind or too large,
    before anything reads it."""
    if not path.is_file():
        raise ImportProblem(f"{path}: no such file")
    if path.suffix.lower() not in suffixes:
        raise ImportProblem(
            f"{path}: expected a {' or '.join(suffixes)} file, not {path.suffix or 'no suffix'}"
        )
    size = path.stat().st_size
    if size > MAX_EXPORT_BYTES:
        raise ImportProblem(
            f"{path}: {size:,} bytes is more than the {MAX_EXPORT_BYTES:,} an import reads"
        )


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; this is a one-shot command
    os.umask(mask)
    return mask


def write_all(files: dict[Path, str], *, force: bool, allowed: Targets) -> list[Path]:
    """Write every file (path -> text, UTF-8) or none; return the paths written.

    Refuses a path outside the review's sheets folder and codebook, and (without ``force``) any
    path that exists, naming every one, before writing anything."""
    inside = [allowed.sheets.resolve(), allowed.codebook.resolve()]
    for path in files:
        resolved = path.resolve()
        if not (resolved == inside[1] or resolved.is_relative_to(inside[0])):
            raise ImportProblem(
                f"{path}: an import writes only {allowed.sheets}/ and {allowed.codebook}"
            )
    existing = sorted(str(p) for p in files if p.exists())
    if existing and not force:
        raise ImportProblem(
            "not overwriting the lead's files (add --force to replace them): " + ", ".join(existing)
        )
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in sorted(files.items()):
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
            # mkstemp makes the file readable by its owner only; a lead's sheet is an ordinary
            # file, as the umask would make it (read by the team that shares the project).
            os.chmod(temp, 0o666 & ~_umask())
            staged.append((Path(temp), path))
        for temp, path in staged:
            os.replace(temp, path)
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
    return [path for _, path in staged]


def sheet_csv(columns: Sequence[str], rows: list[dict[str, str]]) -> str:
    """A sheet's CSV text: the header, then each row's cells verbatim ("" where a row lacks a
    column). A cell holding a bare CR gets every field quoted (spreadsheet_safe.texts_quoting):
    unquoted, a reader would end the row there."""
    out = io.StringIO()
    values = [v for row in rows for v in row.values()]
    writer = csv.DictWriter(
        out, list(columns), restval="", lineterminator="\n", quoting=texts_quoting(values)
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
