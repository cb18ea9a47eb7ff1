"""From result tables to the rendered report, with inputs built to break it (issues 9 and 10).

- Codes that look like numbers (theme codes ``1``, ``1.1``, ``1.10``, ``2``; outcome ``2``)
  give the right live figures and tables: never 0 for a code read back as the integer 2, and
  1.1 and 1.10 stay two themes.
- A narrative cannot publish a file from outside its folder, nor put live script in the HTML:
  the run stops naming the file and line, and the secret appears in no output file.
- Narrative findings are located by file path and line.
- Labels with ``$``, ``\\``, ``_``, ``^`` and ``{}`` print literally in every figure.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, TINY
from evsynth import registry
from evsynth.codebook import load_codebook
from evsynth.narrative import check_narrative
from evsynth.narrative_markup import NarrativeMarkupError, expand_includes
from evsynth.render import RenderError, pandoc_path, resolve_includes
from evsynth.tables import RESULT_TABLES, read_results, result_columns
from test_workflow import snakemake

SECRET = "TOPSECRET-7f3a9c"


def html_text(path: Path) -> str:
    """The visible text of an HTML page, white space collapsed."""
    body = path.read_text("utf-8").split("<body", 1)[1]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


# --- A. Codes are text everywhere --------------------------------------------------------------

NUMERIC_CODEBOOK = """\
review: tiny
vocabularies:
  design:
    rct: Randomised controlled trial
    qualitative: Qualitative study
  intervention_type:
    group: Group programme
    individual: One-to-one work
fields:
  setting:
    label: Setting
    type: category
    required: true
    values:
      community: Community
      health: Health
themes:
  - code: "1"
    label: Theme one
    children:
      - code: "1.1"
        label: Sub one-one
      - code: "1.10"
        label: Sub one-ten
  - code: "2"
    label: Theme two
outcomes:
  "2":
    label: Re-offending
    benefit: decrease
  wellbeing:
    label: Wellbeing
    benefit: increase
"""
THEME_CODES = {"a": "1", "a.one": "1.1", "a.two": "1.10", "b": "2"}


def numeric_coded_review(tmp_path: Path) -> Path:
    """The tiny review with codes that look like numbers. Hand counts, rolled up the tree
    (codes forward by union; T3 is also given 1.10 so that 1.1 and 1.10 differ):
    1 = {T1..T5} = 5 (100%), 1.1 = {T1, T2} = 2 (40%), 1.10 = {T1, T3, T4} = 3 (60%),
    2 = {T2, T3, T4} = 3; outcome 2: T1 benefit, T4 benefit, T2 no effect -> k 3, benefit 2;
    pooled RR from T1 and T4."""
    workdir = tmp_path / "tiny"
    shutil.copytree(TINY, workdir)
    (workdir / "codebook.yaml").write_text(NUMERIC_CODEBOOK, "utf-8")
    codes = pd.read_csv(workdir / "sheets/codes.csv", dtype=str, keep_default_na=False)
    codes["code"] = codes["code"].map(THEME_CODES)
    extra = pd.DataFrame(
        [{"study_id": "T3", "code": "1.10", "coder": "coder_a", "excerpt": "", "page": ""}]
    )
    pd.concat([codes, extra]).to_csv(workdir / "sheets/codes.csv", index=False)
    outcomes = workdir / "sheets/outcomes.csv"
    outcomes.write_text(outcomes.read_text("utf-8").replace(",reoffending,", ",2,"), "utf-8")
    narrative = workdir / "narrative"
    (narrative / "theme-a.md").unlink()
    (narrative / "theme-1.md").write_text(
        "Theme one note: {{label:1.10}} has {{n:1.10}} records.\n", "utf-8"
    )
    (narrative / "why.md").write_text(
        "We reviewed {{n_studies}} records. Outcome two was reported by {{k:2}} studies, "
        "{{benefit:2}} of them showing benefit (pooled {{pooled:2:rr}}).\n\n"
        "Theme one: {{n:1}} records ({{pct:1}}). Sub-theme {{label:1.1}} has {{n:1.1}} "
        "records ({{pct:1.1}}); sub-theme {{label:1.10}} has {{n:1.10}} ({{pct:1.10}}).\n",
        "utf-8",
    )
    return workdir


@pytest.mark.workflow
def test_codes_that_look_like_numbers_give_the_right_figures_and_tables(tmp_path: Path):
    workdir = numeric_coded_review(tmp_path)
    done = snakemake(workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    text = html_text(workdir / "results/tiny/report/summary-of-evidence.html")
    # Live figures: an outcome coded "2" is found (was "0 studies, 0 of them").
    assert "Outcome two was reported by 3 studies, 2 of them showing benefit" in text
    assert "(pooled 0.63 (95% CI 0.46 to 0.85))" in text  # not "not pooled (fewer than…)"
    assert "Theme one: 5 records (100%)" in text
    # 1.1 and 1.10 are two themes with their own counts (as floats they were one).
    assert "Sub-theme Sub one-one has 2 records (40%)" in text
    assert "sub-theme Sub one-ten has 3 (60%)" in text
    assert "Theme one note: Sub one-ten has 3 records." in text
    # Tables: the sub-theme table and the direction table.
    assert "Sub one-one 2 40% Sub one-ten 3 60%" in text
    assert "Re-offending 3 2 0 1 0 0" in text
    # And the result tables read back keep the codes as written.
    themes = read_results(workdir / "results/tiny/tallies/themes.csv")
    assert list(themes["code"]) == ["1", "1.1", "1.10", "2"]
    assert list(themes["n_studies"]) == [5, 2, 3, 3]
    direction = read_results(workdir / "results/tiny/outcomes/direction.csv")
    assert list(direction["outcome"]) == ["2", "wellbeing"]
    assert direction["k"].tolist() == [3, 3]
    # Every column the stages wrote is declared, as text or as a number, exactly once.
    for path in sorted((workdir / "results/tiny").glob("*/*.csv")):
        table = f"{path.parent.name}/{path.stem}"
        if path.parent.name not in ("tallies", "outcomes"):
            continue
        declared = result_columns(table)
        header = path.read_text("utf-8").split("\n", 1)[0].split(",")
        if not declared.counts_after:
            # x-optional columns (direction's excluded_*) are written only when a design of
            # the codebook does not vote; the tiny review marks none.
            optional = {
                f["name"] for f in registry.table_schema(table)["fields"] if f.get("x-optional")
            }
            assert set(header) == (set(declared.text) | set(declared.numbers)) - optional, table
        assert not set(declared.text) & set(declared.numbers), table


def test_read_results_keeps_codes_as_text_and_only_declared_numbers(tmp_path: Path):
    path = tmp_path / "outcomes" / "direction.csv"
    path.parent.mkdir()
    path.write_text(
        "outcome,k,n_benefit,n_harm,n_no_effect,n_mixed,n_unclear,sign_test_p,label,"
        "pct_benefit,benefit_ci_lower,benefit_ci_upper,study_ids\n"
        "2,13,11,0,2,0,0,0.0009765625,007,84.6,57.8,95.7,1;2;3\n"
        "1.10,1,0,0,1,0,0,,1e3,0,0,79.3,01\n",
        "utf-8",
    )
    table = read_results(path)
    assert table["outcome"].tolist() == ["2", "1.10"]
    assert table["label"].tolist() == ["007", "1e3"]
    assert table["study_ids"].tolist() == ["1;2;3", "01"]
    assert table["k"].tolist() == [13, 1]
    assert pd.isna(table["sign_test_p"].iloc[1])
    with pytest.raises(KeyError, match="not a declared result table"):
        read_results(tmp_path / "outcomes" / "nothing.csv")
    assert "tallies/themes" in RESULT_TABLES


# --- B. The narrative cannot publish files or script ---------------------------------------------


@pytest.fixture
def codebook():
    return load_codebook(TINY / "codebook.yaml")


def hostile_folder(tmp_path: Path, why: str) -> Path:
    folder = tmp_path / "narrative"
    shutil.copytree(TINY / "narrative", folder)
    (tmp_path / "secret.txt").write_text(SECRET + "\n", "utf-8")
    (folder / "why.md").write_text("Fine first line.\n\n" + why + "\n", "utf-8")
    return folder


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("{{< include /etc/passwd >}}", "narrative_include"),
        ("{{< include ../secret.txt >}}", "narrative_include"),
        ('{{< include "../secret.txt" >}}', "narrative_include"),
        ("{{< include link.md >}}", "narrative_include"),  # a symlink out of the folder
        ("{{< include missing.md >}}", "narrative_include"),
        ("Inline {{< include recommendations.md >}} mid-line", "narrative_include"),
        ("{{< env HOME >}}", "narrative_shortcode"),
        ("{{< meta title >}}", "narrative_shortcode"),
        ("<script>alert(1)</script>", "narrative_raw_markup"),
        ('Text <img src=x onerror="alert(1)"> more', "narrative_raw_markup"),
        ("<!DOCTYPE html>", "narrative_raw_markup"),
        ("`<b>x</b>`{=html}", "narrative_raw_markup"),
        ("```{=html}", "narrative_raw_markup"),
        ('![x](figures/themes.svg){onerror="alert(1)"}', "narrative_raw_markup"),
        ('[s]{ONCLICK="alert(1)"}', "narrative_raw_markup"),
        ("![x](/etc/passwd)", "narrative_image_path"),
        ("![x](../../secret.txt)", "narrative_image_path"),
        ("![x](https://example.org/track.png)", "narrative_image_path"),
        ("![x](data:image/svg+xml;base64,AAAA)", "narrative_image_path"),
    ],
)
def test_hostile_narrative_lines_are_errors_naming_file_and_line(tmp_path, codebook, line, rule):
    folder = hostile_folder(tmp_path, line)
    (folder / "link.md").symlink_to(tmp_path / "secret.txt")
    findings = [
        f
        for f in check_narrative(folder, "summary-of-evidence", codebook)
        if f.severity == "error" and f.column.endswith("why.md")
    ]
    assert [(f.rule, f.row) for f in findings] == [(rule, 3)]
    assert findings[0].location() == f"{folder / 'why.md'}, line 3"
    assert SECRET not in findings[0].message + findings[0].value


def test_a_section_that_links_outside_the_folder_is_refused_unread(tmp_path, codebook):
    folder = hostile_folder(tmp_path, "Fine.")
    (folder / "why.md").unlink()
    (folder / "why.md").symlink_to(tmp_path / "secret.txt")
    findings = check_narrative(folder, "summary-of-evidence", codebook)
    assert [(f.rule, f.location()) for f in findings] == [
        ("narrative_include", str(folder / "why.md"))
    ]
    with pytest.raises(NarrativeMarkupError):
        expand_includes(folder / "why.md", folder)


def test_a_metadata_block_in_the_narrative_is_refused(tmp_path, codebook):
    folder = hostile_folder(tmp_path, "---\nheader-includes: '<script>x</script>'\n---")
    findings = [
        f
        for f in check_narrative(folder, "summary-of-evidence", codebook)
        if f.column.endswith("why.md")
    ]
    assert ("narrative_raw_markup", 3) in [(f.rule, f.row) for f in findings]


@pytest.mark.parametrize(
    "line",
    [
        "[click](javascript:alert(1))",
        "[d](data:text/html,x)",
        "<JavaScript:alert(1)>",
        "[v](  VBScript:msgbox)",
    ],
)
def test_script_link_targets_are_warnings(tmp_path, codebook, line):
    folder = hostile_folder(tmp_path, line)
    findings = [
        f
        for f in check_narrative(folder, "summary-of-evidence", codebook)
        if f.column.endswith("why.md")
    ]
    assert [(f.severity, f.rule, f.row) for f in findings] == [
        ("warning", "narrative_unsafe_link", 3)
    ]


@pytest.mark.parametrize(
    "line",
    [
        "Literal `<script>` in code and `{{n_studies}}` too.",
        "A comment <!-- <b>note</b> --> is a note to oneself.",
        "An autolink <https://example.org> and \\<b> escaped.",
        "Heading\n---\ntext after a setext heading",
        "***",
        "```\n<script>in a code block</script>\n```",
        "![Themes](figures/themes.svg)",
        "{{< include recommendations.md >}}",
    ],
)
def test_ordinary_markdown_is_not_refused(tmp_path, codebook, line):
    folder = hostile_folder(tmp_path, line)
    findings = [
        f
        for f in check_narrative(folder, "summary-of-evidence", codebook)
        if f.column.endswith("why.md")
    ]
    assert findings == []


def test_includes_are_expanded_from_the_folder_and_nowhere_else(tmp_path):
    folder = hostile_folder(tmp_path, "{{< include recommendations.md >}}")
    assert "Keep the tests small" in expand_includes(folder / "why.md", folder)
    (folder / "why.md").write_text("{{< include ../secret.txt >}}\n", "utf-8")
    with pytest.raises(NarrativeMarkupError):
        expand_includes(folder / "why.md", folder)
    (folder / "why.md").write_text("{{< include why.md >}}\n", "utf-8")
    with pytest.raises(NarrativeMarkupError):
        expand_includes(folder / "why.md", folder)


def test_the_engine_follows_includes_only_inside_the_project(tmp_path):
    project = tmp_path / "source"
    project.mkdir()
    (tmp_path / "secret.txt").write_text(SECRET, "utf-8")
    (project / "ok.md").write_text("fine\n", "utf-8")
    (project / "link.md").symlink_to(tmp_path / "secret.txt")
    for target in ("/etc/passwd", "../secret.txt", "link.md", "_x/../../secret.txt"):
        (project / "doc.qmd").write_text(f"{{{{< include {target} >}}}}\n", "utf-8")
        with pytest.raises(RenderError, match="outside the report project"):
            resolve_includes(project / "doc.qmd", (project,))
    (project / "doc.qmd").write_text("{{< include ok.md >}}\n", "utf-8")
    assert resolve_includes(project / "doc.qmd", (project,)).strip() == "fine"


def test_the_pandoc_filter_leaves_nothing_live(tmp_path):
    """What the check misses (entity-encoded targets, say) the filter makes inert."""
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[a](&#106;avascript:alert(1)) [b](java\tscript:alert(2)) <JAVASCRIPT:alert(3)>\n\n"
        "[c](data:text/html,x) ![d](/etc/passwd) ![e](../secret.png)\n\n"
        '![f](figures/ok.svg){onerror="alert(4)"} [g]{OnClick="alert(5)" .keep}\n\n'
        '::: {.callout-note title="T" onmouseover="alert(6)"}\nbody\n:::\n',
        "utf-8",
    )
    for fmt in ("html5", "typst"):
        done = subprocess.run(
            [
                pandoc_path(),
                "--from",
                "markdown",
                "--to",
                fmt,
                "--lua-filter",
                str(REPO / "reports/_filters/evsynth.lua"),
                str(doc),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        out = done.stdout.lower()
        # No live target (the link text stays as inert text), no handler, no outside image.
        assert not re.search(
            r'(?:href=|src=|link\(|image\()"\s*(?:javascript|vbscript|data):', out
        ), (fmt, out)
        assert not re.search(r"\bon[a-z]+=", out), (fmt, out)
        assert "/etc/passwd" not in out and "../secret.png" not in out, fmt
        assert "figures/ok.svg" in out, fmt


@pytest.mark.workflow
def test_a_hostile_narrative_stops_the_render_and_leaks_nothing(tmp_path: Path):
    workdir = tmp_path / "tiny"
    shutil.copytree(TINY, workdir)
    (tmp_path / "secret.txt").write_text(SECRET + "\n", "utf-8")
    (workdir / "narrative/link.md").symlink_to(tmp_path / "secret.txt")
    why = workdir / "narrative/why.md"
    why.write_text(
        why.read_text("utf-8")
        + "\n".join(
            [
                "",
                f"{{{{< include {tmp_path / 'secret.txt'} >}}}}",  # line 5
                "{{< include ../../secret.txt >}}",  # line 6
                "{{< include link.md >}}",  # line 7
                '<img src=x onerror="alert(1)">',  # line 8
                "[x](javascript:alert(2))",  # line 9
                "",
            ]
        ),
        "utf-8",
    )
    done = snakemake(workdir)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "The narrative of review 'tiny' has 5 error(s)" in done.stderr
    assert "narrative/link.md: this file links to a file outside the narrative folder" in (
        done.stderr
    )
    for line in (5, 6, 7, 8):
        assert f"narrative/why.md, line {line}:" in done.stderr, line
    assert not (workdir / "results/tiny/report/summary-of-evidence.html").exists()
    for path in [*workdir.rglob("*"), *(REPO / "logs").glob("**/tiny*")]:
        if path.is_file() and not path.is_symlink():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in done.stdout + done.stderr


# --- D. Labels print literally in every figure ---------------------------------------------------

HOSTILE_LABELS = [
    "Spend $\\undefinedmacro{x}$ per head",
    "Cost in $ (a_b^c)",
    "Back\\slash {braces}",
    "$$",
    "x_1^2 {}",
]


def test_labels_with_tex_characters_print_literally_in_every_figure(tmp_path: Path, monkeypatch):
    from evsynth import figures as figures_module
    from evsynth.outcomes import run_outcomes
    from evsynth.prisma import run_prisma
    from evsynth.tally import run_tally
    from evsynth.validate import run_validate
    from stage_paths import meta_settings, outcomes_paths, tally_paths, validation_paths

    # SVG text as <text> elements (not glyph paths) so the test can read what was drawn.
    monkeypatch.setitem(figures_module.STYLE, "svg.fonttype", "none")
    review = tmp_path / "tiny"
    shutil.copytree(TINY, review)
    book = (review / "codebook.yaml").read_text("utf-8")
    for old, new in [
        ("Theme A", HOSTILE_LABELS[0]),
        ("A one", HOSTILE_LABELS[1]),
        ("A two", HOSTILE_LABELS[2]),
        ("Theme B", HOSTILE_LABELS[3]),
        ("Re-offending", HOSTILE_LABELS[4]),
        ("Wellbeing", HOSTILE_LABELS[0]),
    ]:
        book = book.replace(f"label: {old}\n", f"label: '{new}'\n")
    (review / "codebook.yaml").write_text(book, "utf-8")
    screening = review / "sheets/screening.csv"
    screening.write_text(
        screening.read_text("utf-8").replace(
            "Wrong population", "Wrong $\\frac{a}{b}$ population_x"
        ),
        "utf-8",
    )
    clean, figures = tmp_path / "clean", tmp_path / "figures"
    result = run_validate(
        review / "sheets",
        review / "codebook.yaml",
        validation_paths(tmp_path / "validation", clean),
    )
    assert not result.errors, [f.one_line() for f in result.errors]
    run_tally(
        clean / "studies.parquet",
        clean / "codes.parquet",
        review / "codebook.yaml",
        "union",
        tally_paths(tmp_path, figures),
    )
    run_outcomes(
        clean / "studies.parquet",
        clean / "outcomes.parquet",
        clean / "codes.parquet",
        review / "codebook.yaml",
        meta_settings(),
        "union",
        outcomes_paths(tmp_path / "outcomes", figures),
    )
    run_prisma(clean / "screening.parquet", figures / "prisma")
    # Each label drawn as typed, in one piece: mathtext would split it, drop the "$" and set
    # the rest in italics (or, for "$\\undefinedmacro$", crash).
    drawn = {
        name: html.unescape((figures / f"{name}.svg").read_text("utf-8"))
        for name in ("themes", "direction", "effect_direction", "gap_map", "prisma")
    }
    for label in HOSTILE_LABELS[:4]:  # the theme labels (children indented)
        assert re.search(rf">\s*{re.escape(label)}</text>", drawn["themes"]), label
    assert f">{HOSTILE_LABELS[4]}</text>" in drawn["direction"]
    assert HOSTILE_LABELS[4] in drawn["effect_direction"]
    assert HOSTILE_LABELS[1] in drawn["gap_map"]
    assert "Wrong $\\frac{a}{b}$ population_x" in drawn["prisma"]


def test_a_huge_or_pathological_narrative_is_checked_in_bounded_time(tmp_path, codebook):
    import time

    folder = hostile_folder(tmp_path, "Fine.")
    # Lines that make naive patterns backtrack: unclosed live figures, code spans, shortcodes.
    nasty = [
        "{{" + " " * 20000,
        "x " + "`" * 20000,
        "{{<" * 7000,
        "](" + " " * 20000,
        "![" * 10000,
    ]
    (folder / "why.md").write_text("\n".join(nasty + ["<b>x</b>"] * 500) + "\n", "utf-8")
    started = time.perf_counter()
    findings = check_narrative(folder, "summary-of-evidence", codebook)
    assert time.perf_counter() - started < 10
    raw = [f for f in findings if f.rule == "narrative_raw_markup"]
    assert len(raw) == 21 and raw[-1].message == "… and 480 more like this in this file"
    (folder / "why.md").write_bytes(b"x" * 1_000_001)
    assert [
        f.rule
        for f in check_narrative(folder, "summary-of-evidence", codebook)
        if f.column.endswith("why.md")
    ] == ["narrative_too_large"]
