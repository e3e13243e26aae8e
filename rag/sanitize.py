"""Cleaning text that comes from outside: source files at parse time, anything printed to a terminal.

- :func:`strip_controls` removes terminal escape sequences (CSI ``ESC [ … m``, OSC ``ESC ] … BEL``,
  their one-byte C1 forms), every other control character but newline and tab, and the Unicode
  bidirectional overrides that reorder what a terminal shows.
- :func:`neutralize_tags` removes the project's own prompt delimiters (``<paper …>``, ``</paper>``)
  so that source text can never open or close a source block in a prompt.
- :func:`sanitize_source` does both; the corpus parsers run every field through it.
- :func:`terminal_safe` is what the CLI prints: controls stripped, newlines kept.
"""

from __future__ import annotations

import re

# ESC [ params intermediates final | ESC ] … (BEL | ESC \) | ESC P/X/^/_ … ESC \ | ESC + one char;
# the same with the one-byte C1 introducers (U+009B CSI, U+009D OSC, U+0090 DCS …).
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
_SPACE_LIKE = re.compile(r"[\r\x0b\x0c\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
PAPER_TAG = re.compile(r"<\s*/?\s*paper\b[^<>]{0,200}>", re.IGNORECASE)  # a whole tag, attributes included
_TAG_START = re.compile(r"<(?=\s*/?\s*paper\b)", re.IGNORECASE)  # what is left: "< paper-level" keeps its words


def strip_controls(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (newline and tab kept;
    carriage returns, vertical tabs and form feeds become spaces)."""
    text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", _SPACE_LIKE.sub(" ", text))


def neutralize_tags(text: str) -> str:
    """``text`` without ``<paper …>`` / ``</paper>`` tags (each becomes a space); an unclosed ``<paper``
    keeps its words and loses its ``<`` (shown as ``‹``)."""
    return _TAG_START.sub("‹", PAPER_TAG.sub(" ", text))


def sanitize_source(text: str) -> str:
    """Source text made safe as data: no controls, no escapes, no prompt delimiters."""
    return neutralize_tags(strip_controls(text))


def terminal_safe(text: object) -> str:
    """Text that can be written to a terminal: no escape sequences or control characters."""
    return strip_controls(str(text))
