"""Mutation check: does the test suite catch realistic bugs?

Each mutant below is one small, plausible mistake in the code (a ``>=`` that became ``>``, the
wrong degrees of freedom, the last repeat kept instead of the first): the file, the exact
original text, what it becomes, a short name, and the test files that should fail because of
it. The script copies the project to a temporary folder, applies each mutant there in turn,
runs only that mutant's test files against the copy and restores the file. A mutant is
*killed* when a test fails and *survives* when all pass. The shared working tree is never
written.

    .venv/bin/python tools/mutate.py               # every mutant; exit 1 when score < 90%
    .venv/bin/python tools/mutate.py --only NAME   # some mutants (repeatable)
    .venv/bin/python tools/mutate.py --list        # the list, without running anything

The list is checked before anything runs: a mutant whose original text is not in its file
exactly once is an error of the list (exit 2), so the list cannot silently go stale as the
code changes. Every test run asserts that the mutated module was imported from the copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PASS_SCORE = 90.0
TIMEOUT_SECONDS = 180
#: pytest's exit status when the guard plugin finds the module imported from elsewhere.
GUARD_FAILED = 99

STATS = "tests/test_stats.py"
OUTCOMES = "tests/test_outcomes.py"
TALLY = "tests/test_tally.py"
VALIDATE = "tests/test_validate.py"
INTAKE = "tests/test_intake.py"
CODEBOOK = "tests/test_codebook.py"
NARRATIVE = "tests/test_narrative.py"
SECTIONS = "tests/test_mutants_narrative.py"
RENDER = "tests/test_mutants_render.py"
ESCAPE = "tests/test_mutants_escape.py"
WRITERS = "tests/test_table_writers.py"
SPREADSHEET = "tests/test_spreadsheet_safety.py"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    original: str  # must occur exactly once in the file
    replacement: str
    tests: tuple[str, ...]  # test files (or node ids) that should fail
    reader: str = ""  # for a data file: the module that reads it (checked to be the copy's)

    @property
    def module(self) -> str:
        if self.reader:
            return self.reader
        return ".".join(Path(self.path).with_suffix("").parts[1:])  # src/evsynth/x.py -> evsynth.x


def _m(name: str, module: str, original: str, replacement: str, *tests: str) -> Mutant:
    return Mutant(name, f"src/evsynth/{module}.py", original, replacement, tests)


MUTANTS: tuple[Mutant, ...] = (
    # --- stats: the estimators ------------------------------------------------------------------
    _m(
        "q_p_uses_k_df",
        "stats",
        "q_p=float(special.chdtrc(df, q))",
        "q_p=float(special.chdtrc(d.y.size, q))",
        STATS,
    ),
    _m(
        "q_p_uses_k_minus_2_df",
        "stats",
        "q_p=float(special.chdtrc(df, q))",
        "q_p=float(special.chdtrc(df - 1, q))",
        STATS,
    ),
    _m(
        "typical_variance_k_not_df",
        "stats",
        "typical_v=df / tr_p,\n        trace_p=tr_p,",
        "typical_v=(df + 1) / tr_p,\n        trace_p=tr_p,",
        STATS,
    ),
    _m(
        "dl_tau2_subtracts_k",
        "stats",
        "tau2 = max(0.0, (het.q - het.q_df) / het.trace_p)",
        "tau2 = max(0.0, (het.q - het.q_df - 1) / het.trace_p)",
        STATS,
    ),
    _m(
        "i2_from_q",
        "stats",
        "pi_upper=pi_hi,\n        tau2=tau2,\n        i2=100.0 * tau2 / (tau2 + s2),",
        "pi_upper=pi_hi,\n        tau2=tau2,\n"
        "        i2=100.0 * max(0.0, het.q - het.q_df) / max(het.q, 1e-300),",
        STATS,
    ),
    _m(
        "prediction_interval_from_two_studies",
        "stats",
        "    if k < 3:\n        return (math.nan",
        "    if k < 2:\n        return (math.nan",
        STATS,
    ),
    _m(
        "reml_zero_check_reversed",
        "stats",
        "_reml_loglik(0.0, d.y, d.v) > _reml_loglik(tau2, d.y, d.v)",
        "_reml_loglik(0.0, d.y, d.v) < _reml_loglik(tau2, d.y, d.v)",
        STATS,
    ),
    _m(
        "hk_t_quantile_k_df", "stats", "special.stdtrit(k - 1, 0.5", "special.stdtrit(k, 0.5", STATS
    ),
    _m("hk_scale_divides_by_k", "stats", "rss / (k - 1)", "rss / k", STATS),
    _m(
        "normal_quantile_one_sided",
        "stats",
        "special.ndtri(0.5 + level / 2.0)",
        "special.ndtri(level)",
        STATS,
    ),
    _m(
        "wilson_centre_without_z2",
        "stats",
        "centre = 2.0 * n * p + z2",
        "centre = 2.0 * n * p",
        STATS,
    ),
    _m(
        "wilson_half_width_wald",
        "stats",
        "math.sqrt(z2 + 4.0 * n * p * (1.0 - p))",
        "math.sqrt(4.0 * n * p * (1.0 - p))",
        STATS,
    ),
    _m(
        "sign_test_one_sided",
        "stats",
        "2.0 * special.bdtr(smaller, n, 0.5)",
        "special.bdtr(smaller, n, 0.5)",
        STATS,
    ),
    _m(
        "egger_t_degrees_of_freedom",
        "stats",
        "special.stdtr(k - 2, -abs(intercept / se))",
        "special.stdtr(k - 1, -abs(intercept / se))",
        STATS,
    ),
    _m("se_from_ci_one_z", "stats", "(hi - lo) / (2.0 * z)", "(hi - lo) / z", STATS),
    _m(
        "kappa_chance_uses_one_rater",
        "stats",
        "(n - yes_a) * (n - yes_b)) / (n * n)",
        "(n - yes_a) * (n - yes_a)) / (n * n)",
        STATS,
        TALLY,
    ),
    # --- stats: the batched estimators the outcomes stage pools with (*_many) ----------------
    _m(
        "many_q_p_uses_k_df",
        "stats",
        "q=q, q_df=df, q_p=special.gammaincc(df * 0.5, q * 0.5)",
        "q=q, q_df=df, q_p=special.gammaincc(g.k * 0.5, q * 0.5)",
        STATS,
        OUTCOMES,
    ),
    _m(
        "many_typical_variance_k_not_df",
        "stats",
        "typical_v=df / tr_p, trace_p=tr_p",
        "typical_v=(df + 1) / tr_p, trace_p=tr_p",
        STATS,
        OUTCOMES,
    ),
    _m(
        "many_dl_tau2_subtracts_k",
        "stats",
        "tau2 = np.maximum(0.0, (het.q - het.q_df) / het.trace_p)",
        "tau2 = np.maximum(0.0, (het.q - het.q_df - 1) / het.trace_p)",
        STATS,
        OUTCOMES,
    ),
    _m(
        "many_prediction_interval_from_two_studies",
        "stats",
        "half = np.where(g.k >= 3, _Z",
        "half = np.where(g.k >= 2, _Z",
        STATS,
        OUTCOMES,
    ),
    _m(
        "many_i2_from_q",
        "stats",
        "pi_upper=mu + half,\n        tau2=tau2,\n        i2=100.0 * tau2 / (tau2 + s2),",
        "pi_upper=mu + half,\n        tau2=tau2,\n"
        "        i2=100.0 * np.maximum(0.0, het.q - het.q_df) / np.maximum(het.q, 1e-300),",
        STATS,
        OUTCOMES,
    ),
    _m(
        "many_hk_t_quantile_k_df",
        "stats",
        "crit = special.stdtrit(g.k - 1,",
        "crit = special.stdtrit(g.k,",
        STATS,
        OUTCOMES,
    ),
    # --- outcomes: vote counting and pooling -----------------------------------------------------
    _m(
        "direction_70_rule_strict",
        "outcomes",
        "(share >= AGREEMENT_SHARE)",
        "(share > AGREEMENT_SHARE)",
        OUTCOMES,
    ),
    _m(
        "direction_share_60", "outcomes", "AGREEMENT_SHARE = 0.7", "AGREEMENT_SHARE = 0.6", OUTCOMES
    ),
    _m(
        "direction_no_effect_majority_decides",
        "outcomes",
        'np.isin(top, ["benefit", "harm"])',
        'np.isin(top, ["benefit", "harm", "no_effect"])',
        OUTCOMES,
    ),
    _m(
        "direction_any_study_decided",
        "outcomes",
        "(votes > 0).sum(axis=1) == 1",
        "(votes > 0).sum(axis=1) >= 1",
        OUTCOMES,
    ),
    _m(
        "sign_test_counts_no_effect_as_harm",
        "outcomes",
        'sign_test(n["benefit"], n["harm"])',
        'sign_test(n["benefit"], n["harm"] + n["no_effect"])',
        OUTCOMES,
    ),
    _m(
        "benefit_ci_over_votes_only",
        "outcomes",
        'wilson_interval(n["benefit"], k)',
        'wilson_interval(n["benefit"], n["benefit"] + n["harm"])',
        OUTCOMES,
    ),
    _m(
        "pct_benefit_over_votes_only",
        "outcomes",
        '"pct_benefit": 100 * n["benefit"] / k',
        '"pct_benefit": 100 * n["benefit"] / max(1, n["benefit"] + n["harm"])',
        OUTCOMES,
    ),
    _m(
        "last_repeated_estimate_pooled",
        "outcomes",
        'rows.drop_duplicates(["study_id", "outcome", "effect_measure"], keep="first")',
        'rows.drop_duplicates(["study_id", "outcome", "effect_measure"], keep="last")',
        OUTCOMES,
    ),
    _m(
        "only_or_on_log_scale",
        "outcomes",
        'ratio = rows["effect_measure"].isin(RATIO_MEASURES).to_numpy()',
        'ratio = rows["effect_measure"].isin(["or"]).to_numpy()',
        OUTCOMES,
    ),
    _m("pooling_needs_three", "outcomes", "if len(data) >= 2\n", "if len(data) >= 3\n", OUTCOMES),
    _m(
        "sensitivity_keeps_only_excluded",
        "outcomes",
        'kept = group[~group["quality"].isin(',
        'kept = group[group["quality"].isin(',
        OUTCOMES,
    ),
    _m(
        "ratio_not_back_transformed",
        "outcomes",
        "back = np.exp if measure in RATIO_MEASURES else (lambda x: x)",
        "back = (lambda x: x)",
        OUTCOMES,
    ),
    _m(
        "gap_map_counts_all_theme_studies",
        "outcomes",
        '"n_studies": n.sum(axis=1),',
        '"n_studies": np.repeat(np.diff(csc.indptr), len(codebook.outcomes)),',  # all, not voting
        OUTCOMES,
    ),
    # --- tally: themes and double coding ---------------------------------------------------------
    _m(
        "themes_not_rolled_up",
        "tally",
        "rolled = (direct @ _ancestor_matrix(codebook)).tocsr()",
        "rolled = direct.tocsr()",
        TALLY,
    ),
    _m(
        "theme_pct_of_coded_studies",
        "tally",
        "round(100 * int(k) / n_included, 1) if n_included",
        "round(100 * int(k) / len(inc.study_ids), 1) if len(inc.study_ids)",
        TALLY,
    ),
    _m(
        "consensus_any_coder",
        "tally",
        "keep[named] = applied_by[by_pair] >= n_coders[s]",
        "keep[named] = applied_by[by_pair] >= 1",
        TALLY,
    ),
    _m(
        "double_coded_with_one_coder",
        "tally",
        "double = n_coders >= 2",
        "double = n_coders >= 1",
        TALLY,
    ),
    _m("pooled_agreement_over_studies", "tally", "pooled = n * len(coded)", "pooled = n", TALLY),
    _m(
        "disagreement_coders_swapped",
        "tally",
        '"applied_by": np.where(by_first, a, b)',
        '"applied_by": np.where(by_first, b, a)',
        TALLY,
    ),
    _m(
        "crosstab_first_value_only",
        "tally",
        "exploded = given.str.split(MULTI_SEPARATOR).explode()\n",
        "exploded = given.str.split(MULTI_SEPARATOR).str[0]\n",
        TALLY,
    ),
    # --- validation: validate.py -----------------------------------------------------------------
    _m(
        "range_minimum_zero_ignored",
        "validate",
        "low = spec.minimum if spec.minimum is not None else -np.inf",
        "low = spec.minimum or -np.inf",
        VALIDATE,
    ),
    _m(
        "range_minimum_exclusive",
        "validate",
        "((numbers < low) | (numbers > high))",
        "((numbers <= low) | (numbers > high))",
        VALIDATE,
    ),
    _m(
        "range_maximum_exclusive",
        "validate",
        "((numbers < low) | (numbers > high))",
        "((numbers < low) | (numbers >= high))",
        VALIDATE,
    ),
    Mutant(
        "sample_size_minimum_zero",
        "src/evsynth/schemas/tables.yaml",
        "description: Sample size\n        constraints: {minimum: 1}",
        "description: Sample size\n        constraints: {minimum: 0}",
        (VALIDATE,),
        reader="evsynth.registry",
    ),
    _m(
        "year_maximum_next_year",
        "registry",
        'constraints["maximum"] = current_year',
        'constraints["maximum"] = current_year + 1',
        VALIDATE,
    ),
    _m(
        "duplicate_id_names_its_own_row",
        "validate",
        'clean.groupby("study_id")[SOURCE_ROW].first()',
        'clean.groupby("study_id")[SOURCE_ROW].last()',
        VALIDATE,
    ),
    _m(
        "duplicate_id_flags_the_first",
        "validate",
        'ids.duplicated(keep="first")\n    if duplicated.any():\n        first_row = clean.groupby',
        'ids.duplicated(keep="last")\n    if duplicated.any():\n        first_row = clean.groupby',
        VALIDATE,
    ),
    _m(
        "no_codes_inverted",
        "validate",
        'uncoded = (studies["study_id"] != "") & ~_is_in(studies["study_id"], codes["study_id"])',
        'uncoded = (studies["study_id"] != "") & _is_in(studies["study_id"], codes["study_id"])',
        VALIDATE,
    ),
    _m(
        "no_codes_is_an_error",
        "validate",
        '"study \'{value}\' has no rows in the codes sheet",\n        severity="warning"',
        '"study \'{value}\' has no rows in the codes sheet",\n        severity="error"',
        VALIDATE,
    ),
    _m(
        "repeated_estimate_flags_the_first",
        "validate",
        'repeated[usable] = clean.loc[usable, keys].duplicated(keep="first").to_numpy()',
        'repeated[usable] = clean.loc[usable, keys].duplicated(keep="last").to_numpy()',
        VALIDATE,
    ),
    _m(
        "ci_order_strict",
        "validate",
        "~((lo <= est) & (est <= hi))",
        "~((lo < est) & (est < hi))",
        VALIDATE,
    ),
    _m(
        "ratio_zero_allowed",
        "validate",
        "ratio & (numbers <= 0),",
        "ratio & (numbers < 0),",
        VALIDATE,
    ),
    _m(
        "zero_width_interval_allowed",
        "validate",
        "usable & ~disorder & (lo == hi)",
        "usable & ~disorder & (lo > hi)",
        VALIDATE,
    ),
    _m(
        "integer_accepts_decimals",
        "validate",
        r'_INTEGER = r"[+-]?[0-9]+(?:\.0*)?"',
        r'_INTEGER = r"[+-]?[0-9]+(?:\.[0-9]*)?"',
        VALIDATE,
    ),
    _m(
        "duplicate_code_ignores_coder",
        "validate",
        'clean.duplicated(["study_id", "code", "coder"], keep="first")',
        'clean.duplicated(["study_id", "code"], keep="first")',
        VALIDATE,
    ),
    _m(
        "screening_included_only_above",
        "validate",
        "elif included != n_studies:",
        "elif included > n_studies:",
        VALIDATE,
    ),
    _m(
        "screening_subtracts_nothing",
        "validate",
        "sum(get(s) or 0 for s in plus) - sum(get(s) or 0 for s in minus)",
        "sum(get(s) or 0 for s in plus) + 0 * sum(get(s) or 0 for s in minus)",
        VALIDATE,
    ),
    Mutant(
        "boolean_words_swapped",
        "src/evsynth/schemas/tables.yaml",
        'trueValues: ["true", "yes", "y", "1"]\n  falseValues: ["false", "no", "n", "0"]',
        'trueValues: ["true", "yes", "y", "0"]\n  falseValues: ["false", "no", "n", "1"]',
        (VALIDATE,),
        reader="evsynth.registry",
    ),
    _m(
        "missing_column_rows_kept",
        "validate",
        "        col.bad[:] = True",
        "        col.bad[:] = False",
        VALIDATE,
    ),
    # --- table writers: spreadsheet_safe.py, tables.py, handoff.py ------------------------------
    _m(
        "escape_gate_misses_apostrophe",
        "spreadsheet_safe",
        'for c in sorted(_WRITE_STARTS)) + "]"',
        'for c in sorted(TRIGGERS)) + "]"',
        WRITERS,
        SPREADSHEET,
    ),
    _m(
        "carriage_return_quotes_nothing",
        "spreadsheet_safe",
        'return text, bool(pc.any(pc.match_substring(text, "\\r")).as_py())',
        "return text, False",
        WRITERS,
    ),
    _m(
        "csv_quotes_miss_line_feed",
        "tables",
        """_CSV_SPECIAL = '[,"\\n]'""",
        """_CSV_SPECIAL = '[,"]'""",
        WRITERS,
    ),
    _m(
        "typed_text_keeps_nulls",
        "handoff",
        'return pc.fill_null(strings, "").cast(pa.string())',
        "return strings.cast(pa.string())",
        WRITERS,
    ),
    # --- validation: intake.py (reading sheets) --------------------------------------------------
    _m(
        "first_data_row_one", "intake", "FIRST_DATA_ROW = 2", "FIRST_DATA_ROW = 1", INTAKE, VALIDATE
    ),
    _m(
        "every_row_ragged",
        "intake",
        "if len(record) > width:",
        "if len(record) >= width:",
        INTAKE,
        VALIDATE,
    ),
    _m(
        "column_limit_off_by_one",
        "intake",
        "if len(names) > MAX_COLUMNS:",
        "if len(names) >= MAX_COLUMNS:",
        INTAKE,
        VALIDATE,
    ),
    _m("bom_partly_removed", "intake", "raw = raw[3:]", "raw = raw[2:]", INTAKE, VALIDATE),
    _m(
        "outcomes_sheet_optional",
        "intake",
        'REQUIRED_SHEETS: tuple[str, ...] = ("studies", "codes", "outcomes")',
        'REQUIRED_SHEETS: tuple[str, ...] = ("studies", "codes")',
        INTAKE,
        VALIDATE,
    ),
    _m(
        "workbook_dates_keep_time",
        "intake",
        "return value.date().isoformat() if value.time() == dt.time() else value.isoformat()",
        "return value.isoformat()",
        INTAKE,
        VALIDATE,
    ),
    # --- validation: codebook.py -----------------------------------------------------------------
    _m(
        "lineage_without_ancestors",
        "codebook",
        "out[theme.code] = (theme.code, *(out[theme.parent] if theme.parent else ()))",
        "out[theme.code] = (theme.code,)",
        CODEBOOK,
        TALLY,
    ),
    _m(
        "duplicate_codes_only_top_level",
        "codebook",
        '            walk(node.get("children") or [], [*where, "children"])',
        "            pass",
        CODEBOOK,
        VALIDATE,
    ),
    _m(
        "field_clash_only_study_id",
        "codebook",
        "if name in CORE_STUDY_COLUMNS:",
        'if name == "study_id":',
        CODEBOOK,
        VALIDATE,
    ),
    _m(
        "top_level_includes_second_level",
        "codebook",
        "return [t for t in self.themes if t.level == 1]",
        "return [t for t in self.themes if t.level <= 2]",
        CODEBOOK,
        NARRATIVE,
        SECTIONS,
    ),
    # --- narrative and render: the briefing ------------------------------------------------------
    _m(
        "briefing_reflective_questions_optional",
        "narrative",
        '"reflective-questions": True',
        '"reflective-questions": False',
        NARRATIVE,
        SECTIONS,
    ),
    _m(
        "briefing_key_messages_optional",
        "narrative",
        '"key-messages": True',
        '"key-messages": False',
        NARRATIVE,
        SECTIONS,
    ),
    _m(
        "summary_recommendations_optional",
        "narrative",
        '"recommendations": True',
        '"recommendations": False',
        NARRATIVE,
        SECTIONS,
    ),
    _m(
        "theme_section_any_level",
        "narrative",
        "if code not in top_codes:",
        "if code not in codebook.theme_by_code:",
        NARRATIVE,
        SECTIONS,
    ),
    _m(
        "pooled_figure_extra_parts",
        "narrative",
        "if len(args) != 2:",
        "if len(args) < 2:",
        NARRATIVE,
        SECTIONS,
    ),
    _m(
        "number_at_line_start_not_escaped",
        "narrative",
        'filled = PAREN_MARKER.sub(r"\\1\\\\(\\2)", filled, count=1)',
        "filled = filled",
        NARRATIVE,
        SECTIONS,
    ),
    _m(
        "html_not_self_contained",
        "render",
        '"--embed-resources",\n',
        "\n",
        RENDER,
    ),
    # --- escape: sheet text is never markup ------------------------------------------------------
    _m(
        "escape_misses_braces_and_tilde",
        "escape",
        r'_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")',
        r'_PUNCTUATION = re.compile(r"([!-/:-@\[-`])")',
        ESCAPE,
    ),
    _m(
        "escape_misses_hash_and_dollar",
        "escape",
        r'_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")',
        r'_PUNCTUATION = re.compile(r"([!\"%-/:-@\[-`{-~])")',
        ESCAPE,
    ),
    _m(
        "escape_keeps_tabs_and_separators",
        "escape",
        r'_LINE_BREAKS = re.compile(r"[\r\n\t\u2028\u2029]+")',
        r'_LINE_BREAKS = re.compile(r"[\r\n]+")',
        ESCAPE,
    ),
    _m(
        "escape_none_as_text",
        "escape",
        'text = "" if value is None else str(value)',
        "text = str(value)",
        ESCAPE,
    ),
)

#: Loaded into every test run (``-p``): stops it unless the mutated module is the copy's.
GUARD = """
import importlib, os
import pytest

def pytest_sessionstart(session):
    module = importlib.import_module(os.environ["EVSYNTH_MUTATE_MODULE"])
    wanted = os.path.realpath(os.environ["EVSYNTH_MUTATE_FILE"])
    if os.path.realpath(module.__file__) != wanted:
        pytest.exit(f"{module.__name__} imported from {module.__file__}, not {wanted}",
                    returncode=GUARD_FAILED)
""".replace("GUARD_FAILED", str(GUARD_FAILED))


@dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | timeout | error
    seconds: float
    detail: str = ""


def check_list(mutants: tuple[Mutant, ...], root: Path) -> list[str]:
    """Problems with the list itself: duplicate names, missing files, snippets not found once."""
    problems = []
    names = [m.name for m in mutants]
    problems += [f"{n}: name used twice" for n in sorted({n for n in names if names.count(n) > 1})]
    for m in mutants:
        path = root / m.path
        if not path.is_file():
            problems.append(f"{m.name}: {m.path} does not exist")
            continue
        count = path.read_text(encoding="utf-8").count(m.original)
        if count != 1:
            problems.append(f"{m.name}: original text found {count} times in {m.path}, not once")
        if m.original == m.replacement:
            problems.append(f"{m.name}: replacement equals the original")
        for test in m.tests:
            if not (root / test.split("::")[0]).is_file():
                problems.append(f"{m.name}: test file {test} does not exist")
    return problems


def copy_project(root: Path, target: Path) -> None:
    """The working tree's tracked and untracked, not ignored, files (no .git, .venv, results)."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        )
        .stdout.decode("utf-8")
        .split("\0")
    )
    for name in listed:
        source = root / name
        if not name or not source.is_file() or "__pycache__" in Path(name).parts:
            continue  # deleted in the working tree, or a cache
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)


def run_tests(
    copy: Path, guard_dir: Path, module: str, module_file: Path, tests: list[str], timeout: float
) -> tuple[int | None, str]:
    """pytest on ``tests`` in the copy: (exit status or None on timeout, output tail)."""
    shutil.rmtree(copy / ".hypothesis", ignore_errors=True)  # no examples carried between runs
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(copy / "src"), str(guard_dir)]),
        "PYTHONDONTWRITEBYTECODE": "1",  # a same-size edit must never be read from a stale .pyc
        "EVSYNTH_MUTATE_MODULE": module,
        "EVSYNTH_MUTATE_FILE": str(module_file),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "mutate_guard",
        "--hypothesis-seed=0",
        "-m",
        "not workflow",
        *tests,
    ]
    process = subprocess.Popen(
        command,
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the run we started, and what it started
        output, _ = process.communicate()
        return None, output[-2000:]
    return process.returncode, output[-2000:]


def run_mutant(m: Mutant, copy: Path, guard_dir: Path, timeout: float) -> Outcome:
    path = copy / m.path
    original = path.read_text(encoding="utf-8")
    start = time.monotonic()
    try:
        path.write_text(original.replace(m.original, m.replacement, 1), encoding="utf-8")
        module_file = copy / "src" / Path(*m.module.split(".")).with_suffix(".py")
        code, output = run_tests(copy, guard_dir, m.module, module_file, list(m.tests), timeout)
    finally:
        path.write_text(original, encoding="utf-8")
    seconds = time.monotonic() - start
    if code is None:
        return Outcome(m, "timeout", seconds)  # counted as killed: the tests did not pass
    if code == 0:
        return Outcome(m, "survived", seconds)
    if code in (1, 2):  # tests failed, or the mutant broke a test module's import
        return Outcome(m, "killed", seconds)
    return Outcome(m, "error", seconds, output)  # guard, usage or internal error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this mutant (repeatable)",
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT_SECONDS,
        help="seconds per mutant (default %(default)s)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the run of the unmutated tests first"
    )
    args = parser.parse_args(argv)

    problems = check_list(MUTANTS, REPO)
    unknown = sorted(set(args.only) - {m.name for m in MUTANTS})
    problems += [f"{n}: no such mutant" for n in unknown]
    if problems:
        print("mutant list is out of date:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name:42} {m.path:26} {' '.join(m.tests)}")
        return 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="evsynth-mutate-") as tmp:
        copy, guard_dir = Path(tmp) / "repo", Path(tmp) / "guard"
        guard_dir.mkdir()
        (guard_dir / "mutate_guard.py").write_text(GUARD, encoding="utf-8")
        copy_project(REPO, copy)
        if not args.no_baseline:
            tests = sorted({t for m in chosen for t in m.tests})
            code, output = run_tests(
                copy,
                guard_dir,
                "evsynth.stats",
                copy / "src/evsynth/stats.py",
                tests,
                4 * args.timeout,
            )
            if code != 0:
                print(
                    f"the unmutated tests do not pass (exit {code}); fix them first:\n{output}",
                    file=sys.stderr,
                )
                return 2
            print(
                f"baseline: {len(tests)} test files pass unmutated "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
        outcomes = []
        for m in chosen:
            outcome = run_mutant(m, copy, guard_dir, args.timeout)
            outcomes.append(outcome)
            print(f"{outcome.status:8} {outcome.seconds:6.1f} s  {m.name:42} {m.path}", flush=True)
            if outcome.status == "error":
                print(outcome.detail, file=sys.stderr)
                return 2

    killed = sum(o.status in ("killed", "timeout") for o in outcomes)
    score = 100.0 * killed / len(outcomes)
    survivors = [o.mutant.name for o in outcomes if o.status == "survived"]
    print(
        f"score: {killed}/{len(outcomes)} killed = {score:.1f}% "
        f"(pass mark {PASS_SCORE:.0f}%), {time.monotonic() - started:.0f} s"
    )
    if survivors:
        print("survived: " + ", ".join(survivors))
    return 0 if score >= PASS_SCORE else 1


if __name__ == "__main__":
    sys.exit(main())
