"""StatsFile: the crawl's stats as ``stats.json`` in the output folder, over all its runs.

Scrapy only logs its stats; a file lets a researcher (and the tests, and the crawl report)
read the verdict, finish reason, requests, items and quota spend after the fact. A crawl
resumed from a JOBDIR is one crawl: when the folder already holds the stats of an earlier
run of the same job (``tiktok/job_id``), counters are added up, the latest run's verdict,
finish reason and times are kept, and each run's own stats are listed under ``runs``. So a
resume, or a run with nothing left to do, never shows a crawl as having collected nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from tiktok_scrapy.chains import core_of

# Stats that describe the crawl's state or one moment, not an amount: the latest run's.
LATEST = (
    "finish_",
    "start_time",
    "tiktok/verdict",
    "tiktok/chains/total",
    "tiktok/chains/incomplete",
    "tiktok/crawl_id",
    "tiktok/job_id",
    "tiktok/run",
    "tiktok/requests_per_page",
    "tiktok/records_per_request",
    "memusage/",
    "log_count/",
)


class StatsFile:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsFile:
        if (core := core_of(crawler)) is None or core.config is None:  # no crawl config
            raise NotConfigured
        ext = cls(crawler)
        # Connected late so that it runs after the stats have their final values.
        crawler.signals.connect(ext.write, signal=signals.engine_stopped)
        return ext

    def write(self) -> None:
        folder = Path(self.crawler.settings["TIKTOK_OUTPUT_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "stats.json"
        stats = accumulate(_read(path), self.crawler.stats.get_stats())
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(stats, indent=1, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)  # never a half-written stats.json


def accumulate(previous: dict[str, Any] | None, run: dict[str, Any]) -> dict[str, Any]:
    """The crawl's stats after ``run``, given what earlier runs of the same job wrote."""
    run = json.loads(json.dumps(run, default=str))  # plain values, as they are written
    job = run.get("tiktok/job_id")
    if not previous or job is None or previous.get("tiktok/job_id") != job:
        return {**run, "runs": [run]}
    runs = [*previous.get("runs", []), run]
    total: dict[str, Any] = {}
    for one in runs:
        for key, value in one.items():
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and not key.startswith(LATEST)
                and isinstance(total.get(key, 0), int | float)
            ):
                total[key] = total.get(key, 0) + value
            else:
                total[key] = value
    for key in list(total):
        if key.startswith(LATEST) and key not in run:
            del total[key]  # e.g. incomplete_ids of an earlier run, now complete
    total.update({k: v for k, v in run.items() if k.startswith(LATEST)})
    sent, needed = total.get("tiktok/requests_sent"), total.get("tiktok/pages_needed")
    if sent is not None and needed:
        total["tiktok/requests_per_page"] = round(sent / needed, 4)
    items = total.get("tiktok/items")
    if sent and items is not None:
        total["tiktok/records_per_request"] = round(items / sent, 2)
    total["start_time"] = runs[0].get("start_time", run.get("start_time"))
    total["runs"] = runs
    return total


def _read(path: Path) -> dict[str, Any] | None:
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return previous if isinstance(previous, dict) else None
