"""Study appraisal: each study's judgements by tool and domain, and per domain the share of
studies (and of meta-analysis weight) at each judgement, every count with its study IDs.

The appraisal sheet (data contract §2) holds one row per study, tool and domain; validation has
already checked that the study, the tool, the domain and the judgement exist, and that every
domain of a tool is judged once per appraised study. Tools, domains and judgements come from
the codebook's ``appraisal:`` block (:class:`evsynth.codebook.AppraisalTool`), whose order
(domains as listed, judgements best to worst) is the order of the tables and plots.

**Weights.** The weighted share follows robvis's ``rob_summary(weighted = TRUE)`` (McGuinness
& Higgins, Res Synth Methods 2021;12:55-61): a domain's bar is split by the studies' weight in
the meta-analysis rather than by their number. The input is one row per study and pooled
analysis (``study_id``, ``outcome``, ``weight``; an analysis is an outcome, or an outcome and
effect measure where the table has ``effect_measure``), ``weight`` being the study's share of
that analysis's random-effects weight, as the forest plot prints it
(:func:`evsynth.outcomes.pooled_study_weights`). A study pooled in several analyses is weighted
by the mean of its shares over all the analyses in the table::

    w_s = (1 / A) * sum over analyses a of share(s, a)      (A = number of analyses)

so that each pooled analysis counts once, however many studies it has, and within it each study
counts by its share; a study in no pooled analysis has weight 0 and counts in the unweighted
share only. In a domain, the weighted share of judgement j is the sum of w_s over the studies
judged j, divided by the sum of w_s over all studies judged in that domain with that tool
(``A`` cancels: the definition is the plain sum of shares, normalised). Where no weights are
given, or the domain's appraised studies carry no weight, ``pct_weight`` is blank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evsynth.codebook import AppraisalTool, Codebook
from evsynth.handoff import read_typed
from evsynth.tables import read_clean, write_table

ID_SEPARATOR = ";"

BY_STUDY_COLUMNS = [
    "study_id",
    "tool",
    "tool_label",
    "domain",
    "domain_label",
    "judgement",
    "judgement_label",
    "level",
    "support",
    "weight",
]
SUMMARY_COLUMNS = [
    "tool",
    "tool_label",
    "domain",
    "domain_label",
    "judgement",
    "judgement_label",
    "level",
    "n_studies",
    "n_appraised",
    "pct_studies",
    "pct_weight",
    "study_ids",
]
APPRAISAL_COLUMNS = ("study_id", "tool", "domain", "judgement", "support")


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].fillna("").astype(str) if column in frame else pd.Series("", frame.index)


def study_weights(weights: pd.DataFrame | None) -> dict[str, float]:
    """Each study's meta-analysis weight ``w_s`` as the module docstring defines it: the mean of
    its shares over every pooled analysis in ``weights`` (study_id, outcome[, effect_measure],
    weight). Empty without weights. A weight that is not a finite number >= 0 is refused: it
    would tilt every weighted share silently."""
    if weights is None or weights.empty:
        return {}
    missing = [c for c in ("study_id", "outcome", "weight") if c not in weights]
    if missing:
        raise ValueError(f"the weights table needs columns study_id, outcome, weight: no {missing}")
    share = pd.to_numeric(weights["weight"], errors="coerce").astype(float)
    bad = ~np.isfinite(share.to_numpy()) | (share.to_numpy() < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"the weights table's row {row + 2} has weight {weights['weight'].iloc[row]!r}: "
            "a weight must be a finite number >= 0"
        )
    keys = ["outcome"] + (["effect_measure"] if "effect_measure" in weights else [])
    analysis = weights[keys].astype(str).agg("\x1f".join, axis=1)
    n_analyses = analysis.nunique()
    total = share.groupby(weights["study_id"].astype(str)).sum() / n_analyses
    return {str(s): float(w) for s, w in total.items()}


def _check_against_codebook(appraisal: pd.DataFrame, tools: Mapping[str, AppraisalTool]) -> None:
    """Validation guarantees every code is known and every cell judged once; a clean table that
    breaks that is a bug upstream, and must stop here rather than print a wrong share."""
    for tool_code, rows in appraisal.groupby("tool", sort=True):
        tool = tools.get(str(tool_code))
        if tool is None:
            raise ValueError(f"appraisal tool '{tool_code}' is not in the codebook")
        unknown_domain = sorted(set(rows["domain"]) - set(tool.domains))
        unknown_judgement = sorted(set(rows["judgement"]) - set(tool.judgements))
        if unknown_domain or unknown_judgement:
            raise ValueError(
                f"appraisal tool '{tool_code}': domains {unknown_domain} or judgements "
                f"{unknown_judgement} are not in the codebook"
            )
    repeated = appraisal.duplicated(["study_id", "tool", "domain"], keep=False)
    if repeated.any():
        first = appraisal[repeated].iloc[0]
        raise ValueError(
            f"study '{first['study_id']}' has more than one judgement for tool "
            f"'{first['tool']}', domain '{first['domain']}'"
        )


def by_study(
    appraisal: pd.DataFrame, codebook: Codebook, weights: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """``appraisal/by_study.csv``: one row per study, tool and domain, with the labels and the
    display level of the judgement, the support text as given and the study's weight ``w_s``
    (blank without weights; 0 for a study in no pooled analysis). Sorted by tool (codebook
    order), study ID, then domain in the tool's order."""
    frame = pd.DataFrame({c: _text(appraisal, c) for c in APPRAISAL_COLUMNS})
    _check_against_codebook(frame, codebook.appraisal)
    tools = codebook.appraisal
    tool_rank = {code: i for i, code in enumerate(tools)}
    rows = []
    for r in frame.itertuples(index=False):
        tool = tools[r.tool]
        judgement = tool.judgements[r.judgement]
        rows.append(
            {
                "study_id": r.study_id,
                "tool": r.tool,
                "tool_label": tool.label,
                "domain": r.domain,
                "domain_label": tool.domains[r.domain],
                "judgement": r.judgement,
                "judgement_label": judgement.label,
                "level": judgement.level,
                "support": r.support,
                "weight": np.nan if weights is None else weights.get(r.study_id, 0.0),
                "_order": (tool_rank[r.tool], r.study_id, list(tool.domains).index(r.domain)),
            }
        )
    rows.sort(key=lambda row: row["_order"])
    out = pd.DataFrame(rows, columns=[*BY_STUDY_COLUMNS, "_order"])
    return out.drop(columns="_order").reset_index(drop=True)


def summary(
    judged: pd.DataFrame, codebook: Codebook, weights: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """``appraisal/summary.csv``: per tool (codebook order, tools no study was appraised with
    left out), domain (the tool's order) and judgement (its scale, best first, zeros listed):
    the studies at that judgement (``n_studies``, ``study_ids``), of ``n_appraised`` judged in
    the domain with the tool; ``pct_studies`` their share (%), ``pct_weight`` their share of the
    meta-analysis weight (%, module docstring; blank where there is none). ``judged`` is
    :func:`by_study`'s table."""
    rows = []
    for tool_code, tool in codebook.appraisal.items():
        used = judged[judged["tool"] == tool_code]
        if used.empty:
            continue
        for domain, domain_label in tool.domains.items():
            cells = used[used["domain"] == domain]
            n_appraised = len(cells)
            w = np.array([(weights or {}).get(s, 0.0) for s in cells["study_id"]], dtype=float)
            weighted = weights is not None and w.sum() > 0
            for code, judgement in tool.judgements.items():
                at = (cells["judgement"] == code).to_numpy()
                ids = sorted(cells["study_id"][at])
                rows.append(
                    {
                        "tool": tool_code,
                        "tool_label": tool.label,
                        "domain": domain,
                        "domain_label": domain_label,
                        "judgement": code,
                        "judgement_label": judgement.label,
                        "level": judgement.level,
                        "n_studies": len(ids),
                        "n_appraised": n_appraised,
                        "pct_studies": 100 * len(ids) / n_appraised if n_appraised else np.nan,
                        "pct_weight": 100 * w[at].sum() / w.sum() if weighted else np.nan,
                        "study_ids": ID_SEPARATOR.join(ids),
                    }
                )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


@dataclass(frozen=True)
class AppraisalPaths:
    """Every file the appraisal stage writes, as its rule names them; each ``*_figure`` is a
    figure's path without suffix (written as ``.png`` and ``.svg``)."""

    by_study: Path
    summary: Path
    traffic_light_figure: Path
    summary_figure: Path


def run_appraisal(
    appraisal_path: Path, codebook_path: Path, weights_path: Path | None, out: AppraisalPaths
) -> None:
    """The appraisal stage: ``by_study`` and ``summary`` tables, the traffic-light plot (one
    panel per tool) and the summary bar plot, each where ``out`` says. ``appraisal_path`` is the
    clean appraisal table (Parquet); ``weights_path`` an optional per-study weights CSV
    (study_id, outcome[, effect_measure], weight)."""
    from evsynth.codebook import load_codebook
    from evsynth.figures import appraisal_summary_plot, traffic_light_plot

    codebook = load_codebook(codebook_path)
    appraisal = read_typed(appraisal_path)
    weights = study_weights(read_clean(weights_path)) if weights_path is not None else None
    judged = by_study(appraisal, codebook, weights)
    table = summary(judged, codebook, weights)
    write_table(judged, out.by_study)
    write_table(table, out.summary)
    traffic_light_plot(judged, codebook.appraisal, out.traffic_light_figure)
    appraisal_summary_plot(table, out.summary_figure, weighted=weights is not None)
