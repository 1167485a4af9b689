"""The UI with ``SCRAPYD_URL``: crawls are scrapyd jobs (schedule.json, listjobs.json,
cancel.json) on a real daemon running the deployed egg; the egg carries the UI's assets."""

from __future__ import annotations

import json
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from settings_fixture import project_settings
from starlette.testclient import TestClient
from test_scrapyd_deploy import BIN, PASSWORD, USER, _clean_env, _source_copy
from test_scrapyd_deploy import scrapyd as scrapyd

from tiktok_scrapy.ui.app import UiConfig, create_app
from tiktok_scrapy.ui.jobs import JobStore

pytestmark = pytest.mark.scrapyd
DEADLINE = 120.0


def test_crawls_run_as_scrapyd_jobs(scrapyd, tmp_path: Path, monkeypatch) -> None:
    env = {
        **_clean_env(),
        "SCRAPYD_URL": scrapyd.url,
        "SCRAPYD_USERNAME": USER,
        "SCRAPYD_PASSWORD": PASSWORD,
    }
    deploy = subprocess.run(
        [str(BIN / "scrapyd-deploy")],
        cwd=_source_copy(tmp_path / "source"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr + scrapyd.output()
    [egg] = (scrapyd.root / "eggs" / "tiktok_scrapy").glob("*.egg")
    names = zipfile.ZipFile(egg).namelist()
    assert "tiktok_scrapy/ui/static/ui.js" in names
    assert "tiktok_scrapy/ui/templates/builder.html" in names

    monkeypatch.setenv("SCRAPYD_USERNAME", USER)
    monkeypatch.setenv("SCRAPYD_PASSWORD", PASSWORD)
    store = JobStore(tmp_path / "ui", scrapyd_url=scrapyd.url)
    app = create_app(UiConfig(project_settings(), store))
    config = {"hashtags": ["flood"], "start_date": "2024-01-05", "end_date": "2024-01-07"}
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
        assert started.status_code == 303, started.text
        page = started.headers["location"]
        job = store.get(page.rsplit("/", 1)[1])
        assert job.backend == "scrapyd" and job.runs[0]["scrapyd_job"]

        deadline = time.monotonic() + DEADLINE
        while (state := c.get(page + "/progress.json").json())["status"] != "ended":
            assert time.monotonic() < deadline, (state, scrapyd.output())
            time.sleep(0.5)  # polling the daemon's job list until the deadline
        assert state["verdict"] == "complete", scrapyd.output()
        listing = c.get("/crawls").text
        assert job.runs[0]["scrapyd_job"] in listing  # scrapyd's own job list
        assert PASSWORD not in listing
