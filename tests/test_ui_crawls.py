"""Crawls through the UI's routes, as real processes against the sandbox: start, watch,
stop gracefully (SIGINT once: verdict incomplete, ``shutdown``, exit status 3), resume on
the same JOBDIR to ``complete``, then its exports."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from settings_fixture import project_settings
from starlette.testclient import TestClient

from tiktok_scrapy.ui.app import UiConfig, create_app
from tiktok_scrapy.ui.jobs import JobStore

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 120.0

pytestmark = pytest.mark.integration


def wait_for(c: TestClient, url: str, done) -> dict:
    deadline = time.monotonic() + DEADLINE
    while True:
        state = c.get(url).json()
        if done(state):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.2)


def test_stop_gracefully_then_resume_to_complete(tmp_path: Path) -> None:
    settings = project_settings()
    store = JobStore(
        tmp_path / "ui",
        settings={"TIKTOK_SANDBOX_OPTIONS": json.dumps({"latency_ms": 300})},
        cwd=ROOT,
    )
    app = create_app(UiConfig(settings, store))
    config = {
        "hashtags": ["flood"],
        "start_date": "2024-01-01",
        "end_date": "2024-01-12",
        "window_days": 1,
        "max_count": 5,
    }
    with TestClient(app, base_url="http://127.0.0.1:8642") as c:
        c.get("/")
        csrf = c.cookies["tiktok_ui_csrf"]
        started = c.post(
            "/crawls/start",
            data={
                "spider": "videos",
                "config": json.dumps(config),
                "sandbox": "on",
                "csrf_token": csrf,
            },
            follow_redirects=False,
        )
        assert started.status_code == 303
        page = started.headers["location"]
        progress = page + "/progress.json"
        wait_for(c, progress, lambda s: (s["pages"] or 0) >= 2)

        assert c.post(page + "/stop", data={"csrf_token": csrf}).status_code == 200
        stopped = wait_for(c, progress, lambda s: s["status"] == "ended" and s["verdict"])
        assert stopped["verdict"] == "incomplete"
        assert stopped["exit_status"] == 3 and "Ctrl-C or a signal" in stopped["meaning"]
        job = store.get(page.rsplit("/", 1)[1])
        assert store.returncode(job) == 3
        items_before = stopped["items"]

        assert c.post(page + "/resume", data={"csrf_token": csrf}).status_code == 200
        done = wait_for(
            c, progress, lambda s: s["status"] == "ended" and s["verdict"] == "complete"
        )
        assert done["exit_status"] == 0 and done["items"] > items_before
        assert done["done"] == done["chains"] == 12
        job = store.get(job.id)
        assert [run["returncode"] for run in job.runs] == [3, 0]

        # A graceful stop fetches nothing twice: every video once in the CSV.
        rows = list(csv.DictReader(io.StringIO(c.get(page + "/csv/videos.csv").text)))
        ids = [row["id"] for row in rows]
        assert len(ids) == len(set(ids)) == done["items"]
        assert "Verdict: complete" in c.get(page).text
