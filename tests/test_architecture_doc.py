"""docs/architecture.md lists every module and whom it calls, as the code says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_module_map_is_generated_from_the_code() -> None:
    check = subprocess.run(
        [sys.executable, str(REPO / "tools" / "module_map.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_module_has_a_docstring_that_says_what_it_is_for() -> None:
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "(no docstring)" not in page
