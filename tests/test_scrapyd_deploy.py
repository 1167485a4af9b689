"""End to end on scrapyd: deploy the project's egg, schedule a crawl, read its items.

A real scrapyd (its own scrapyd.conf in a temp folder, loopback, a free port, basic auth)
and a standalone sandbox run as subprocesses. ``scrapyd-deploy`` builds the egg from a copy
of the source tree (the repository stays untouched) and reads the target's URL and
credentials from the environment through scrapy.cfg's ``${VAR}``s, as docs/deploy.md says.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from crawling import REPO

from tiktok_scrapy.sandbox.dataset import Dataset

pytestmark = pytest.mark.scrapyd

BIN = Path(sys.executable).parent
SEED = 3
USER, PASSWORD = "researcher", "scrapyd-test-password"
QUERY = {"and": [{"field_name": "hashtag_name", "operation": "EQ", "field_values": ["flood"]}]}
CONFIG = {"query": QUERY, "start_date": "2024-01-05", "end_date": "2024-01-07", "max_count": 5}
DEADLINE = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env() -> dict[str, str]:
    """No credentials, MongoDB or project settings leaking in from the shell."""
    drop = ("TIKTOK_", "MONGODB_", "SCRAPY_", "SCRAPYD_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tiktok_scrapy.sandbox", "--port", "0", "--seed", str(SEED)],
        cwd=REPO,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "http://" in line, f"sandbox did not start: {line!r}"
        yield line.split()[-1].rstrip("/")
    finally:
        _stop(proc)


class Scrapyd:
    """A scrapyd daemon in ``root``, and its JSON API with basic auth."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.items_dir = root / "items"
        (root / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            "bind_address = 127.0.0.1\n"
            f"http_port = {self.port}\n"
            f"username = {USER}\n"
            f"password = {PASSWORD}\n"
            f"eggs_dir = {root / 'eggs'}\n"
            f"logs_dir = {root / 'logs'}\n"
            f"items_dir = {self.items_dir}\n"
            f"dbs_dir = {root / 'dbs'}\n"
            "poll_interval = 0.2\n"
        )
        self.log = (root / "scrapyd.out").open("w")
        self.proc = subprocess.Popen(
            [str(BIN / "scrapyd")],
            cwd=root,
            env=_clean_env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def call(self, endpoint: str, data: list[tuple[str, str]] | None = None) -> dict:
        url = self.url + endpoint
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.output()
            try:
                if self.call("daemonstatus.json")["status"] == "ok":
                    return
            except OSError:
                time.sleep(0.2)  # polling a real daemon until it answers
        raise AssertionError(f"scrapyd did not start:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.root / "scrapyd.out").read_text()[-3000:]

    def stop(self) -> None:
        _stop(self.proc)
        self.log.close()


@pytest.fixture
def scrapyd(tmp_path) -> Iterator[Scrapyd]:
    root = tmp_path / "scrapyd"
    root.mkdir()
    daemon = Scrapyd(root)
    try:
        daemon.wait_ready()
        yield daemon
    finally:
        daemon.stop()


def _source_copy(target: Path) -> Path:
    """What scrapyd-deploy needs to build the egg, copied (the build writes build/, *.egg-info)."""
    target.mkdir()
    for name in ("setup.py", "scrapy.cfg"):
        shutil.copy2(REPO / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "tiktok_scrapy", target / "tiktok_scrapy", ignore=ignore)
    shutil.copytree(REPO / "examples", target / "examples", ignore=ignore)
    return target


def test_deploy_schedule_and_crawl_on_scrapyd(scrapyd, sandbox_url, tmp_path):
    source = _source_copy(tmp_path / "source")
    env = {
        **_clean_env(),
        "SCRAPYD_URL": scrapyd.url,
        "SCRAPYD_USERNAME": USER,
        "SCRAPYD_PASSWORD": PASSWORD,
    }
    deploy = subprocess.run(
        [str(BIN / "scrapyd-deploy")],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert deploy.returncode == 0 and '"status": "ok"' in deploy.stdout + deploy.stderr, (
        deploy.stdout + deploy.stderr + scrapyd.output()
    )
    spiders = scrapyd.call("listspiders.json?project=tiktok_scrapy")["spiders"]
    assert {"videos", "users", "comments", "followers"} <= set(spiders)

    # The egg carries the examples, and config.py finds them inside the zipped egg.
    [egg] = (scrapyd.root / "eggs" / "tiktok_scrapy").glob("*.egg")
    probe = (
        "import sys; from scrapyd.runner import activate_egg; activate_egg(sys.argv[1]); "
        "import tiktok_scrapy; from tiktok_scrapy.config import load_config; "
        "print(tiktok_scrapy.__file__, load_config('videos', 'quickstart').name)"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe, str(egg)],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert found.stdout.startswith(str(egg)) and "quickstart" in found.stdout, found.stderr

    outdir = tmp_path / "output"
    settings = {
        "TIKTOK_API_URL": sandbox_url,
        "TIKTOK_CLIENT_KEY": "scrapyd-test",
        "TIKTOK_CLIENT_SECRET": "sandbox-secret",
        "TIKTOK_QUOTA_LEDGER": str(tmp_path / "quota.sqlite"),
        "TIKTOK_OUTPUT_DIR": str(outdir),
        "TIKTOK_MAX_REQUESTS_PER_SECOND": "0",
    }
    job = scrapyd.call(
        "schedule.json",
        [
            ("project", "tiktok_scrapy"),
            ("spider", "videos"),
            ("config", json.dumps(CONFIG)),
            *(("setting", f"{key}={value}") for key, value in settings.items()),
        ],
    )
    assert job["status"] == "ok", job
    jobid = job["jobid"]

    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        jobs = scrapyd.call("listjobs.json?project=tiktok_scrapy")
        if any(j["id"] == jobid for j in jobs["finished"]):
            break
        time.sleep(0.5)  # polling the daemon's job status until the deadline
    else:
        pytest.fail(f"job {jobid} did not finish in {DEADLINE} s: {jobs}\n{scrapyd.output()}")

    log_path = scrapyd.root / "logs" / "tiktok_scrapy" / "videos" / f"{jobid}.log"
    log = log_path.read_text() if log_path.exists() else "(no log)"
    items_path = scrapyd.items_dir / "tiktok_scrapy" / "videos" / f"{jobid}.jl"
    assert items_path.exists(), log[-3000:]
    got = [json.loads(line)["id"] for line in items_path.read_text().splitlines() if line]

    truth = Dataset.generate(seed=SEED).truth_videos(QUERY, date(2024, 1, 5), date(2024, 1, 7))
    assert len(truth) > CONFIG["max_count"]  # several pages
    assert Counter(got) == Counter(v["id"] for v in truth), log[-3000:]
    stats = json.loads((outdir / "stats.json").read_text())
    assert stats["finish_reason"] == "finished"
    assert (outdir / "pages.jsonl").exists()  # page records go to TIKTOK_OUTPUT_DIR
    assert "sandbox-secret" not in log
    assert "Verdict: complete" in log  # listjobs says "finished" for any job: the log tells

    # A config the crawl refuses: the one-line error is in the job's log, where users look.
    bad = scrapyd.call(
        "schedule.json",
        [
            ("project", "tiktok_scrapy"),
            ("spider", "videos"),
            ("config", json.dumps({**CONFIG, "end_date": "2023-12-01"})),
            *(("setting", f"{key}={value}") for key, value in settings.items()),
        ],
    )
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        jobs = scrapyd.call("listjobs.json?project=tiktok_scrapy")
        if any(j["id"] == bad["jobid"] for j in jobs["finished"]):
            break
        time.sleep(0.5)  # polling the daemon's job status until the deadline
    bad_log = scrapyd.root / "logs" / "tiktok_scrapy" / "videos" / f"{bad['jobid']}.log"
    assert bad_log.exists() and "error: " in bad_log.read_text(), scrapyd.output()[-3000:]
