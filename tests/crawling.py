"""Run project spiders as real ``scrapy crawl`` subprocesses against a sandbox URL.

Scrapy's reactor runs once per process, so integration tests crawl in subprocesses, the
way a researcher does, and read the JSON Lines, page records and stats.json it writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Real API responses (2024, personal strings replaced), copied from shared/api-samples.
SAMPLES = REPO / "fixtures" / "api-samples"
# A query every video matches: a day of the default sandbox data is several small pages.
ALL_VIDEOS = {
    "and": [
        {
            "field_name": "video_length",
            "operation": "IN",
            "field_values": ["SHORT", "MID", "LONG", "EXTRA_LONG"],
        }
    ]
}
SANDBOX_KEY = "test-client"
SANDBOX_SECRET = "sandbox-secret"


@dataclass
class CrawlResult:
    returncode: int
    log: str
    outdir: Path
    items: dict[str, list[dict]] = field(default_factory=dict)
    pages: list[dict] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    # stats.json as written (in-process crawls: ``stats`` is the crawler's own stats).
    stats_file: dict[str, Any] = field(default_factory=dict)

    def of(self, collection: str) -> list[dict]:
        return self.items.get(collection, [])


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def crawl_command(
    spider: str,
    config: dict | str,
    url: str,
    tmp: Path,
    settings: dict[str, Any] | None = None,
    args: dict[str, str] | None = None,
) -> tuple[list[str], Path]:
    config_arg = config if isinstance(config, str) else json.dumps(config)
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"config={config_arg}"]
    for key, value in (args or {}).items():
        command += ["-a", f"{key}={value}"]
    base, outdir = crawl_settings(url, tmp, settings)
    for key, value in base.items():
        command += ["-s", f"{key}={value}"]
    return command, outdir


def crawl_settings(
    url: str, tmp: Path, settings: dict[str, Any] | None = None
) -> tuple[dict[str, str], Path]:
    """The ``-s`` settings of a test crawl (sandbox, credentials, folders under ``tmp``)."""
    outdir = tmp / "out"
    ledger = tmp / "quota.sqlite"
    base = {
        "TIKTOK_API_URL": url,
        "TIKTOK_CLIENT_KEY": SANDBOX_KEY,
        "TIKTOK_CLIENT_SECRET": SANDBOX_SECRET,
        "TIKTOK_QUOTA_LEDGER": str(ledger),
        "TIKTOK_OUTPUT_DIR": str(outdir),
        "TIKTOK_RETRY_BACKOFF_BASE": "0.01",
        "TIKTOK_RETRY_BACKOFF_MAX": "0.05",
        # The outage breaker's pause (30 s): a sandbox that fails on purpose trips it.
        "TIKTOK_OUTAGE_PAUSE": "0.05",
        # With MongoDB, a crawl's last batch waits this long (2 s) before it is written.
        "MONGODB_FLUSH_SECONDS": "0.05",
        "TIKTOK_MAX_REQUESTS_PER_SECOND": "0",
        "LOG_LEVEL": os.environ.get("CRAWL_LOG_LEVEL", "INFO"),
    }
    base.update({k: str(v) for k, v in (settings or {}).items()})
    return base, outdir


def run_crawl(
    spider: str,
    config: dict | str,
    url: str,
    tmp: Path,
    settings: dict[str, Any] | None = None,
    args: dict[str, str] | None = None,
    timeout: float = 180,
) -> CrawlResult:
    command, outdir = crawl_command(spider, config, url, tmp, settings, args)
    tmp.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        command,
        cwd=tmp,
        env=env_for_subprocess(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return collect(proc.returncode, proc.stderr + proc.stdout, outdir)


def collect(returncode: int, log: str, outdir: Path) -> CrawlResult:
    result = CrawlResult(returncode, log, outdir)
    if outdir.exists():
        for path in outdir.glob("*.jsonl"):
            if path.stem == "pages":
                result.pages = read_jsonl(path)
            else:
                result.items[path.stem] = read_jsonl(path)
        stats = outdir / "stats.json"
        if stats.exists():
            result.stats = json.loads(stats.read_text())
            result.stats_file = result.stats
    return result


def env_for_subprocess() -> dict[str, str]:
    """The environment crawls run with: no credentials or MongoDB leaking in from the shell.

    The crawl runs in a temporary folder, so the project is found by its settings module.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIKTOK_", "MONGODB_"))}
    env["SCRAPY_SETTINGS_MODULE"] = "tiktok_scrapy.settings"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env
