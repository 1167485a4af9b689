"""Write a generated docs page, or with ``--check`` tell whether it is current.

Every generator in ``tools/`` (module map, endpoints, stats and meta references) ends the
same way; the tests run them with ``--check`` so a page cannot drift from the code.
"""

from __future__ import annotations

from pathlib import Path


def write_or_check(page: Path, text: str, argv: list[str], script: str) -> int:
    """``--check`` in ``argv``: 0 if ``page`` holds ``text``, else 1 and a line saying how
    to regenerate it (``script``). Otherwise write it."""
    if "--check" in argv:
        if page.read_text(encoding="utf-8") != text:
            print(f"{page.name} is out of date: run python tools/{script}")
            return 1
        return 0
    page.write_text(text, encoding="utf-8")
    return 0
