"""docs/meta.md: every Request.meta key the project sets and reads, from the chain core.

    .venv/bin/python tools/meta_docs.py          # rewrite docs/meta.md
    .venv/bin/python tools/meta_docs.py --check  # exit 1 if it is out of date

Generated from the module object: its constants (``CHAIN = "tiktok_chain"``) and its
docstring's list (``- ``tiktok_chain`` (str): what it is``). ``tests/test_reference_docs.py``
fails when a constant is undocumented, a documented key has no constant (Scrapy's own keys
excepted), or the page is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType

from generated_page import write_or_check

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# The one import of the meta keys' module (they belong to the chain core).
from tiktok_scrapy.chains import meta as META_MODULE  # noqa: E402

PAGE = REPO / "docs" / "meta.md"
ENTRY = re.compile(r"^- ``(?P<key>[a-z0-9_]+)``(?: \((?P<type>[^)]*)\))?: (?P<meaning>.*)$")


def constants(module: ModuleType = META_MODULE) -> dict[str, str]:
    """meta key -> the constant that names it (``{"tiktok_chain": "CHAIN"}``)."""
    return {
        value: name
        for name, value in vars(module).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str)
    }


def documented(module: ModuleType = META_MODULE) -> dict[str, tuple[str, str]]:
    """meta key -> (type, meaning), from the module docstring's list."""
    entries: dict[str, tuple[str, str]] = {}
    key = None
    for line in (module.__doc__ or "").splitlines():
        match = ENTRY.match(line)
        if match:
            key = match["key"]
            entries[key] = (match["type"] or "", match["meaning"].strip())
        elif key and line.startswith("  ") and line.strip():
            kind, meaning = entries[key]
            entries[key] = (kind, f"{meaning} {line.strip()}")
        else:
            key = None
    return entries


def markdown(module: ModuleType = META_MODULE) -> str:
    names = constants(module)
    lines = [
        "# Request.meta reference",
        "",
        f"Every `Request.meta` key this project sets and reads, generated from `{module.__name__}` "
        "(its constants and its docstring) by `python tools/meta_docs.py`; "
        "`tests/test_reference_docs.py` keeps the page in sync. Code reads and writes a key "
        f"through its constant (`meta.CHAIN`), never the text.",
        "",
        "| key | constant | type | what it is |",
        "|---|---|---|---|",
    ]
    for key, (kind, meaning) in documented(module).items():
        constant = f"`{names[key]}`" if key in names else "(Scrapy's own)"
        cells = (f"`{key}`", constant, kind, meaning.replace("``", "`"))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    return write_or_check(PAGE, markdown(), argv, "meta_docs.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
