"""What an Adaptive Card text block would format: a small reader of the Markdown subset Teams
interprets (bold, italic, links, lists; Microsoft Learn, "Adaptive Cards: Text features") plus
HTML-like tags, autolinks and the ``{{DATE()}}`` / ``{{TIME()}}`` functions, honouring CommonMark
backslash escapes. Enough to tell whether untrusted text could render as anything but text."""

from __future__ import annotations

import re

_ESCAPED = re.compile(r"\\[!-/:-@\[-`{-~]")
_FEATURES = {
    "link": re.compile(r"\[[^\]]*\]\([^)]*\)"),
    "bold": re.compile(r"\*\*\S(?:.*?\S)?\*\*|__\S(?:.*?\S)?__"),
    "italic": re.compile(
        r"(?<![*\w])\*(?!\s)[^*]+(?<!\s)\*(?![*\w])|(?<!\w)_(?!\s)[^_]+(?<!\s)_(?!\w)"
    ),
    "list": re.compile(r"(?m)^[ \t]*(?:[-+*]|\d+[.)])(?:[ \t]|$)"),
    "tag or autolink": re.compile(r"<[A-Za-z/!]"),
    "code": re.compile(r"`[^`]+`"),
    "function": re.compile(r"\{\{"),
}


def formatting(text: str) -> list[str]:
    """Return the names of the formatting features *text* would show (empty: plain text)."""
    plain = _ESCAPED.sub("\0", text)  # an escaped character is literal: it forms nothing
    return [name for name, pattern in _FEATURES.items() if pattern.search(plain)]


def card_markdown(card: dict[str, object]) -> list[str]:
    """Return every text of a card that Teams reads as Markdown: text blocks and facts."""
    texts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
                texts.append(node["text"])
            if node.get("type") == "FactSet":
                for fact in node.get("facts", []):
                    texts.extend([fact["title"], fact["value"]])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return texts
