"""Free text from the sheets is data, never markup.

Every string a user typed (citations, excerpts, labels, messages quoting cell values) passes
through :func:`markdown_text` before it is written into a Markdown source. Pandoc's Markdown
treats any backslash-escaped ASCII punctuation as a literal character, so escaping all of it
makes emphasis, links, raw HTML, Quarto shortcodes (``{{< … >}}``), inline code, math
(``$…$``) and Typst commands (``#…``) print as typed. Pandoc then escapes the literal text
again for HTML and for Typst when it writes those formats.
"""

from __future__ import annotations

import re

# All printable ASCII punctuation: ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\t\u2028\u2029]+")


def markdown_text(value: object) -> str:
    """``value`` as Markdown that renders to exactly its text, on one line."""
    text = "" if value is None else str(value)
    text = _LINE_BREAKS.sub(" ", text)
    return _PUNCTUATION.sub(r"\\\1", text)
