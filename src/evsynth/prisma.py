"""The PRISMA 2020 flow: the screening sheet's counts per stage, drawn by
:func:`evsynth.figures.prisma_diagram`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def stage_counts(screening: pd.DataFrame) -> dict[str, int]:
    counts = screening.assign(count=screening["count"].astype(int)).groupby("stage")["count"]
    return {stage: int(total) for stage, total in counts.sum().items()}


def full_text_exclusions(screening: pd.DataFrame) -> pd.DataFrame:
    """The rows giving reasons (and counts) for reports excluded at full text, in sheet order."""
    return screening[screening["stage"] == "excluded_full_text"]


def run_prisma(screening_path: Path, figure_path: Path) -> None:
    from evsynth.figures import placeholder, prisma_diagram
    from evsynth.handoff import read_typed

    screening = read_typed(screening_path)
    if screening.empty:
        # The rule's outputs must exist; a review without screening gets a placeholder.
        placeholder(figure_path, "No screening sheet: no PRISMA flow diagram")
        return
    prisma_diagram(stage_counts(screening), full_text_exclusions(screening), figure_path)
