"""Write the endpoint table of docs/endpoints.md from ``tiktok_scrapy.api.endpoints``.

    .venv/bin/python tools/endpoint_docs.py          # rewrite the table
    .venv/bin/python tools/endpoint_docs.py --check  # exit 1 if it is out of date

The table between the BEGIN/END markers is generated: the endpoint facts live in the code's
table only, and ``tests/test_endpoint_docs.py`` fails when the page falls behind.
"""

from __future__ import annotations

import sys
from pathlib import Path

from generated_page import write_or_check

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tiktok_scrapy.api.endpoints import markdown_table  # noqa: E402

PAGE = REPO / "docs" / "endpoints.md"
BEGIN, END = "<!-- BEGIN endpoint table -->\n", "<!-- END endpoint table -->\n"


def rendered(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}{markdown_table()}{END}{tail}"


def main(argv: list[str]) -> int:
    return write_or_check(
        PAGE, rendered(PAGE.read_text(encoding="utf-8")), argv, "endpoint_docs.py"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
