"""Text checks shared by configs, settings and input files: what a person cannot see.

A zero-width space in a username, a byte-order mark in the middle of a list, full-width
digits in an id or a lone surrogate all look fine on screen and then cost quota for
nothing (or crash later). These helpers find them and describe them, and cut any value
echoed in a message down to a short excerpt. No Scrapy imports.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

EXCERPT = 80
# Categories nobody types on purpose in a config or a list of names: format characters
# (zero-width space, BOM, direction marks), surrogates, private use, unassigned, controls,
# and line/paragraph separators.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Cs", "Co", "Cn", "Cc", "Zl", "Zp"})
ALLOWED_CONTROLS = frozenset("\t\n\r")
ZWJ = "\u200d"


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """``value`` as at most ``limit`` characters on one line, for messages."""
    text = value[: limit * 4] if isinstance(value, str) else _short_repr(value, limit * 4)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = " ".join(text.split("\n")) if "\n" in text or "\r" in text else text
    text = text.replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(message: str, limit: int = 600) -> str:
    """A message as one line of at most ``limit`` characters: a safety net for values that
    slipped into a message without going through ``excerpt``."""
    text = " ".join(message.splitlines()) if "\n" in message or "\r" in message else message
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_repr(value: Any, limit: int) -> str:
    """repr() of a value without building the whole of a huge nested one."""
    if isinstance(value, list | tuple | dict | set) and len(value) > 20:
        items = list(value.items() if isinstance(value, dict) else value)[:20]
        return _short_repr(type(value)(items) if not isinstance(value, set) else items, limit)
    try:
        text = repr(value)
    except (RecursionError, ValueError):
        return f"<{type(value).__name__}>"
    return text[:limit]


def invisible_at(text: str, start: int = 0) -> int | None:
    """Index of the first character a person cannot see (or should not type), else None.

    Tabs and newlines are fine; a zero-width joiner between two non-ASCII characters is
    part of an emoji (🏳️‍🌈) and fine too. Spaces other than the plain one (no-break,
    ideographic ...) count as invisible.
    """
    for index in range(start, len(text)):
        char = text[index]
        if char.isascii() and (char.isprintable() or char in ALLOWED_CONTROLS):
            continue
        category = unicodedata.category(char)
        if category == "Zs" or (category in INVISIBLE_CATEGORIES and char not in ALLOWED_CONTROLS):
            if char == ZWJ and _joins_emoji(text, index):
                continue
            return index
    return None


def _joins_emoji(text: str, index: int) -> bool:
    before = text[index - 1] if index > 0 else " "
    after = text[index + 1] if index + 1 < len(text) else " "
    return not before.isascii() and not after.isascii()


def describe(char: str) -> str:
    """``U+200B (ZERO WIDTH SPACE)`` for a character."""
    name = unicodedata.name(char, "")
    if not name:
        name = {"Cs": "a lone surrogate", "Cc": "a control character"}.get(
            unicodedata.category(char), "an unassigned character"
        )
    return f"U+{ord(char):04X} ({name})"


def line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``index`` in ``text``."""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def invisible_message(text: str, index: int) -> str:
    """What to say about the invisible character at ``index`` of a value."""
    return (
        f"invisible or unusual character {describe(text[index])} — delete it "
        f"(retype the value; copying from web pages and spreadsheets brings these along)"
    )


def is_ascii_digits(text: str) -> bool:
    """Only 0-9: ``isdigit()`` also says yes to superscripts, Arabic-Indic and full-width
    digits, which ``int()`` then refuses or silently converts."""
    return bool(text) and text.isascii() and text.isdigit()


def expand_user(path: Path) -> Path:
    """``~/x`` expanded; ``~nobody/x`` (no such user) left as it is instead of raising."""
    try:
        return path.expanduser()
    except RuntimeError:
        return path
