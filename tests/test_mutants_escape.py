"""Sheet text is data, never markup (README, "Free text from the sheets"): whatever a cell
holds, evsynth.escape.markdown_text makes Markdown that Pandoc reads back as exactly that text,
on one line. Checked through Pandoc itself, the engine that reads it."""

from __future__ import annotations

import json
import subprocess

import pytest

from evsynth.escape import markdown_text
from evsynth.render import pandoc_path

HOSTILE = [
    "{{< include secret.qmd >}}",  # Quarto shortcode
    "{{n_studies}} and {~~struck~~}",  # a live figure's braces, CriticMarkup
    "<script>alert(1)</script> &amp; <b>bold</b>",
    "`{python} 1+1` and ``code``",
    "$x^2$ and $$y$$ cost $5",
    '#read("/etc/passwd") #set page(width: 1cm)',  # Typst commands
    "*em* _em_ **strong** ~sub~ ^sup^ ~~del~~",
    "[link](javascript:alert(1)) ![img](x.png) <http://x.org>",
    "# Not a heading",
    "1. not a list",
    "- not a list either",
    "> not a quote",
    "| a | b |",
    "a\\b \\*",
    "@smith2010 [@jones] note[^1]",
    "line one\nline two\r\nline three",
    "tab\tseparated\u2028line\u2029paragraph",
    "ends with a backslash\\",
]


def _read_back(texts: list[str]) -> list[str]:
    """What Pandoc reads from each escaped text: the plain strings of its one paragraph."""
    source = "\n\n".join(markdown_text(t) for t in texts)
    done = subprocess.run(
        [pandoc_path(), "--from", "markdown", "--to", "json"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    blocks = json.loads(done.stdout)["blocks"]
    return [_plain(block) for block in blocks]


def _plain(node: object) -> str:
    """The text of a Pandoc AST node: Str as written, Space and SoftBreak as one space."""
    if isinstance(node, list):
        return "".join(_plain(n) for n in node)
    if isinstance(node, dict):
        kind = node.get("t")
        if kind == "Str":
            return node["c"]
        if kind in ("Space", "SoftBreak"):
            return " "
        return _plain(node.get("c", []))
    return ""


def test_hostile_text_reads_back_as_itself_on_one_line():
    got = _read_back(HOSTILE)
    expected = [
        t.replace("\r\n", " ")
        .replace("\n", " ")
        .replace("\t", " ")
        .replace("\u2028", " ")
        .replace("\u2029", " ")
        for t in HOSTILE
    ]
    assert len(got) == len(HOSTILE)  # one paragraph each: nothing became a list or heading
    assert got == expected


def test_every_ascii_punctuation_character_is_literal():
    punctuation = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum())
    assert _read_back([punctuation, "a" + punctuation + "a"]) == [
        punctuation,
        "a" + punctuation + "a",
    ]


@pytest.mark.parametrize("value, text", [(None, ""), (12, "12"), (1.5, "1\\.5")])
def test_values_that_are_not_text(value, text):
    assert markdown_text(value) == text
