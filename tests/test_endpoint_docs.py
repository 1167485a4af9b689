"""The endpoint page is generated from the table, and `scrapy list` shows every endpoint."""

from __future__ import annotations

import subprocess
import sys

from crawling import REPO, env_for_subprocess

from tiktok_scrapy.api.endpoints import ENDPOINTS


def test_docs_endpoint_table_is_generated_from_the_code() -> None:
    check = [sys.executable, str(REPO / "tools" / "endpoint_docs.py"), "--check"]
    assert subprocess.run(check, check=False).returncode == 0, (
        "docs/endpoints.md is out of date: run .venv/bin/python tools/endpoint_docs.py"
    )
    page = (REPO / "docs" / "endpoints.md").read_text(encoding="utf-8")
    assert all(f"| `{name}` |" in page for name in ENDPOINTS)


def test_scrapy_list_shows_a_spider_per_endpoint(tmp_path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"],
        cwd=tmp_path,
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    # Every endpoint a spider of its own, but for the batch compliance task steps, which
    # the refresh spider drives.
    spidered = {name for name, e in ENDPOINTS.items() if e.pagination.value != "task"}
    assert spidered <= set(listed) and "refresh" in listed
