"""Text from someone else (a node's report, a pull request's topology) as it is shown: one place
that escapes it for a terminal and for markdown, so that no input can move a cursor, fake a
line or close an HTML element of the output around it."""

from __future__ import annotations


def shown(text: str) -> str:
    """TEXT for a terminal: control characters, lone surrogates and other unprintables as escapes."""
    return "".join(char if char.isprintable() else char.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for char in text)


MARKDOWN_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;", "`": "&#96;", "*": "&#42;", "_": "&#95;",
                    "[": "&#91;", "]": "&#93;", "\\": "&#92;"}


def markdown_text(text: str) -> str:
    """TEXT inside a markdown table or list: no HTML, no markup, one line."""
    return "".join(MARKDOWN_SPECIAL.get(char, char) for char in shown(text))
