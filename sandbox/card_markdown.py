"""What Teams reads as markdown on a card: TextBlock text and FactSet titles and values. A RichTextBlock's
TextRuns are shown as they are. Tests use this to see a posted card as Teams would render it (the sandbox page
draws cards with Microsoft's renderer, which asks its host, static/sandbox.js, for markdown where Teams renders it)."""

from __future__ import annotations

import re
from typing import Any

# A markdown link, as the sandbox page (and Teams) renders it: [label](target).
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def markdown_texts(node: Any) -> list[str]:
    """Every string on the card that Teams renders as markdown."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
            found.append(node["text"])
        if node.get("type") == "FactSet":
            found += [str(fact.get(key, "")) for fact in node.get("facts", []) if isinstance(fact, dict)
                      for key in ("title", "value")]
        for value in node.values():
            found += markdown_texts(value)
    elif isinstance(node, list):
        for value in node:
            found += markdown_texts(value)
    return found


def markdown_links(card: Any) -> list[str]:
    """The targets of the links Teams would draw from markdown on this card."""
    return [match.group(2) for text in markdown_texts(card) for match in _LINK.finditer(text)]


def literal_texts(node: Any) -> list[str]:
    """Every TextRun's text: what Teams shows character for character."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextRun" and isinstance(node.get("text"), str):
            found.append(node["text"])
        for value in node.values():
            found += literal_texts(value)
    elif isinstance(node, list):
        for value in node:
            found += literal_texts(value)
    return found
