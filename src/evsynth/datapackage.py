"""A Frictionless Data Package descriptor for a review's result tables.

``results/<review>/datapackage.json`` describes every CSV the run wrote (path, fields, types,
descriptions), so a reviewer or another tool can read the tables without guessing
(Frictionless Data Package v1 / Table Schema). Every schema comes from the table registry
(``schemas/tables.yaml``, :mod:`evsynth.registry`); nothing is inferred from the values.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from evsynth import registry
from evsynth.codebook import Codebook, load_codebook
from evsynth.intake import sha256_file
from evsynth.spreadsheet_safe import restore_text


def header(path: Path) -> list[str]:
    """The column names of a CSV evsynth wrote (an escaped name read back as written)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [str(restore_text(name)) for name in next(csv.reader(handle), [])]


def resource(review_dir: Path, path: Path, codebook: Codebook | None = None) -> dict:
    """One table's resource: its schema is the registry's declaration resolved for the review
    (same column, same type in every review); only the count columns of a crosstab are named
    from the file's header. A column the registry does not declare raises ``ValueError``."""
    rel = path.relative_to(review_dir).as_posix()
    key = rel.removesuffix(".csv")
    name = key.replace("/", "-").replace("_", "-").lower()
    # No current_year: the year's upper bound would make the file change with the calendar.
    schema = registry.table_schema(key, codebook, columns=header(path))
    return {
        "name": name,
        "path": rel,
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "description": schema["description"],
        "hash": f"sha256:{sha256_file(path)}",
        "schema": {"fields": schema["fields"]},
    }


def build_datapackage(
    review: str, title: str, review_dir: Path, tables: list[Path], codebook: Codebook | None = None
) -> dict:
    return {
        "profile": "tabular-data-package",
        "name": review,
        "title": title,
        "description": "Result tables of an evsynth run; every file can be rebuilt from the "
        "inputs named in provenance.json.",
        "resources": [resource(review_dir, p, codebook) for p in sorted(tables)],
    }


def run_datapackage(
    review: str,
    title: str,
    review_dir: Path,
    tables: list[Path],
    out_path: Path,
    codebook_path: Path | None = None,
) -> None:
    """Write ``datapackage.json``; ``codebook_path`` gives the studies sheet's review fields
    and the codes each vocabulary column may hold."""
    codebook = load_codebook(codebook_path) if codebook_path is not None else None
    package = build_datapackage(review, title, review_dir, tables, codebook)
    out_path.write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n", "utf-8")
