"""A whole crawl into MongoDB, twice: one document per video, two provenance entries.

The crawls run in a subprocess (one reactor, two crawls). Without MONGODB_URI they write to
an in-memory mongomock client, so this always runs; with MONGODB_URI (e.g.
``MONGODB_URI=mongodb://localhost:27017 make test``) the same crawl goes into that real
server, in a throw-away database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
from crawling import REPO, env_for_subprocess

pytestmark = pytest.mark.integration


def test_crawling_the_same_query_twice_keeps_one_document_per_video(make_sandbox, tmp_path):
    sandbox = make_sandbox()
    env = env_for_subprocess()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), env["PYTHONPATH"]])
    if os.environ.get("MONGODB_URI"):
        env["MONGODB_URI"] = os.environ["MONGODB_URI"]
    database = f"tiktok_scrapy_test_{uuid.uuid4().hex[:8]}"
    script = Path(__file__).parent / "helpers" / "mongo_crawl_twice.py"
    proc = subprocess.run(
        [sys.executable, str(script), sandbox.url, str(tmp_path), database],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])

    query = {"and": [{"field_name": "hashtag_name", "operation": "EQ", "field_values": ["flood"]}]}
    truth = sorted(
        v["id"] for v in sandbox.dataset.truth_videos(query, date(2024, 1, 3), date(2024, 1, 5))
    )
    assert summary["ids"] == truth  # exactly the truth, one document each
    assert summary["videos"] == summary["distinct_ids"] == len(truth)
    assert summary["queries_per_video"] == [2]  # both crawls recorded on every video
    assert summary["snapshots"] == 2 * len(truth)
    assert summary["crawls"] == ["finished", "finished"]
    assert summary["pages"] == len(sandbox.requests())  # every response, as a page record
    assert summary["jsonl_files"] == []  # with MongoDB on, no JSON Lines feeds
