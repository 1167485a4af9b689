"""Record the committed cassettes (fixtures/cassettes/) from the sandbox.

    .venv/bin/python tools/record_cassettes.py            # every case
    .venv/bin/python tools/record_cassettes.py videos_500  # some cases

Each case is a spider, a small config and sandbox options (faults included). The inputs
(users, videos, playlists) are picked from the sandbox dataset (seed 0) so every cassette
stays a few pages long. ``tests/test_cassettes.py`` replays the same cases with no sandbox
and compares the items with the dataset's truth; re-record after changing the crawler's
requests (a replay then stops with ``cassette_miss``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tiktok_scrapy.sandbox import SandboxThread, adlib, shop  # noqa: E402
from tiktok_scrapy.sandbox.dataset import Dataset  # noqa: E402

CASSETTE_DIR = REPO / "fixtures" / "cassettes"
SEED = 0
# A fixed sandbox clock: Date headers, log_ids and "now" cursors are the same every time.
CLOCK = "2024-04-15T12:00:00Z"
RECORDER_KEY = "cassette-recorder"
SECRET = "sandbox-secret"
ADDONS = {"tiktok_scrapy.addons.TikTokAddon": 0, "tiktok_scrapy.cassettes.CassetteAddon": 10}
FLOOD_STORM = {
    "and": [{"field_name": "hashtag_name", "operation": "IN", "field_values": ["flood", "storm"]}]
}


@dataclass(frozen=True)
class Case:
    """One cassette: what to crawl, against which sandbox faults, and what to expect."""

    name: str
    spider: str
    config: dict[str, Any]
    sandbox: dict[str, Any] = field(default_factory=dict)
    finish_reason: str = "finished"
    note: str = ""


@cache
def dataset() -> Dataset:
    return Dataset.generate(seed=SEED)


def _public_users() -> list[str]:
    data = dataset()
    hidden = data.private_users | data.likes_private_users | data.hidden_users
    return [u for u in data.usernames if u not in hidden and "\x00" not in u]


def _user_with(what: str, low: int, high: int) -> str:
    """The first public user whose ``what`` list has low..high entries."""
    listing = getattr(dataset(), what)
    for username in _public_users():
        if low <= len(listing(username)) <= high:
            return username
    raise LookupError(f"no user with {low}..{high} {what}")


def _video_with_comments(low: int, high: int) -> int:
    for video in dataset().truth_videos(FLOOD_STORM, date(2024, 1, 2), date(2024, 1, 9)):
        if low <= len(dataset().comments(video["id"])) <= high:
            return video["id"]
    raise LookupError("no video with few comments")


def _shop_with_products(count: int) -> int:
    data = shop.shop_data(SEED)
    return next(s["shop_id"] for s in data.shops if len(data.products(s["shop_id"])) == count)


def _product_with_reviews(count: int) -> int:
    data = shop.shop_data(SEED)
    products = (p for s in data.shops for p in data.products(s["shop_id"]))
    return next(p["product_id"] for p in products if len(data.reviews(p["product_id"])) == count)


def _smallest_playlist() -> int:
    data = dataset()
    return min(data.playlist_ids, key=lambda p: len(data.playlist(p)["playlist_video_ids"]))


@cache
def cases() -> dict[str, Case]:
    """Every committed cassette, by name."""
    data = dataset()
    videos = {
        "query": FLOOD_STORM,
        "start_date": "2024-01-02",
        "end_date": "2024-01-04",
        "max_count": 3,
        "window_days": 1,  # recorded with daily windows (not the adaptive default)
    }
    private = sorted(data.private_users)[0]
    likes_private = sorted(data.likes_private_users)[0]
    hidden = sorted(data.hidden_users)[0]
    listed = [
        Case(
            "videos_quickstart",
            "videos",
            videos,
            note="two daily chains, a few pages each (the @cassette contract uses it)",
        ),
        Case(
            "videos_500",
            "videos",
            videos,
            {"error_rate": 0.3, "fault_seed": 3},
            note="500 internal_error, retried until the page comes",
        ),
        Case(
            "videos_transient_400",
            "videos",
            videos,
            {"transient_400_rate": 0.3, "fault_seed": 1},
            note='400 "Invalid count or cursor", retried',
        ),
        Case(
            "videos_empty_pages",
            "videos",
            videos,
            {"trailing_empty_pages": 2},
            note="empty pages that still say has_more",
        ),
        # One chain: where a crawl stopped by a 429 ends must not depend on concurrency.
        Case(
            "videos_429",
            "videos",
            {**videos, "start_date": "2024-01-04", "end_date": "2024-01-04", "max_count": 2},
            {"quota_main": 2},
            finish_reason="quota_exhausted",
            note="daily quota spent after 2 requests: 429, the crawl stops resumably",
        ),
        Case(
            "users",
            "users",
            {"usernames": [*_public_users()[:2], hidden]},
            note="two profiles and one the API cannot return (user-level error)",
        ),
        Case(
            "comments",
            "comments",
            {"video_ids": [_video_with_comments(4, 9)], "max_count": 3},
            note="a video with a handful of comments, 3 per page",
        ),
        Case(
            "followers",
            "followers",
            {"usernames": [_user_with("followers", 4, 9), private], "max_count": 3},
            note="followers of one account, and a private account",
        ),
        Case(
            "following", "following", {"usernames": [_user_with("following", 4, 9)], "max_count": 3}
        ),
        Case(
            "liked_videos",
            "liked_videos",
            {"usernames": [_user_with("liked_videos", 4, 9), likes_private], "max_count": 3},
            note="one account's likes, and an account whose likes are private",
        ),
        Case("pinned_videos", "pinned_videos", {"usernames": [_user_with("pinned_videos", 2, 3)]}),
        Case(
            "reposted_videos",
            "reposted_videos",
            {"usernames": [_user_with("reposted_videos", 4, 9)], "max_count": 3},
        ),
        Case("playlists", "playlists", {"playlist_ids": [_smallest_playlist()], "max_count": 2}),
        Case(
            "network",
            "network",
            {"seeds": [_user_with("following", 1, 3)], "direction": "following", "depth": 1},
        ),
        Case(
            "shops",
            "shops",
            {"shop_names": ["Free Soul", "No Such Shop"]},
            note="a name two shops share, and a name no shop has",
        ),
        Case(
            "products",
            "products",
            {"shop_ids": [_shop_with_products(10)], "max_count": 5},
            note="10 products, 5 a page: two full pages, then the empty one that ends it",
        ),
        Case(
            "product_reviews",
            "product_reviews",
            {"product_ids": [_product_with_reviews(9)], "max_count": 4},
            note="9 reviews, 4 a page: the short third page ends it",
        ),
        Case(
            "ads",
            "ads",
            {**AD_RANGE, "search_terms": ["coffee"], "max_count": 3},
            note="7 ads, 3 a page: each next page asked for with the returned search_id",
        ),
        Case(
            "ad_details",
            "ad_details",
            {"ad_ids": [*_ads()[:2], 12345]},
            note="two ads' details, and an ad id that does not exist (user-level)",
        ),
        Case("advertisers", "advertisers", {"search_terms": ["awesome"], "max_count": 3}),
        Case(
            "commercial_content",
            "commercial_content",
            {"start_date": "2023-01-01", "end_date": "2023-01-07", "max_count": 4},
            note="6 records, 4 a page",
        ),
    ]
    return {case.name: case for case in listed}


AD_RANGE = {"start_date": "2023-01-01", "end_date": "2023-02-28"}


def _ads() -> list[int]:
    found = adlib.ad_library(SEED).query_ads(20230101, 20230228, "ALL", "coffee")
    return [a["ad"]["id"] for a in found]


def crawl_command(case: Case, settings: dict[str, Any]) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "crawl",
        case.spider,
        "-a",
        f"config={json.dumps(case.config)}",
    ]
    for key, value in settings.items():
        text = json.dumps(value) if isinstance(value, dict | list) else str(value)
        command += ["-s", f"{key}={text}"]
    return command


def crawl_env() -> dict[str, str]:
    """The crawl's environment: the project by its settings module, no credentials leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIKTOK_", "MONGODB_"))}
    env["SCRAPY_SETTINGS_MODULE"] = "tiktok_scrapy.settings"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def record(case: Case, cassette_dir: Path = CASSETTE_DIR) -> subprocess.CompletedProcess:
    """Record one case against a fresh in-process sandbox; returns the crawl's process."""
    with (
        tempfile.TemporaryDirectory(prefix=f"record-{case.name}-") as tmp,
        SandboxThread({"seed": SEED, "clock": CLOCK, **case.sandbox}) as sandbox,
    ):
        settings = {
            "ADDONS": ADDONS,
            "CASSETTE_MODE": "record",
            "CASSETTE_NAME": case.name,
            "CASSETTE_DIR": str(cassette_dir),
            "TIKTOK_API_URL": sandbox.url,
            "TIKTOK_CLIENT_KEY": RECORDER_KEY,
            "TIKTOK_CLIENT_SECRET": SECRET,
            "TIKTOK_QUOTA_LEDGER": str(Path(tmp) / "quota.sqlite"),
            "TIKTOK_OUTPUT_DIR": str(Path(tmp) / "out"),
            "TIKTOK_RETRY_BACKOFF_BASE": 0.01,
            "TIKTOK_RETRY_BACKOFF_MAX": 0.05,
            "TIKTOK_MAX_REQUESTS_PER_SECOND": 0,
            # One request at a time: retries and pages land in the cassette in order.
            "CONCURRENT_REQUESTS": 1,
            "LOG_LEVEL": "INFO",
        }
        return subprocess.run(
            crawl_command(case, settings),
            cwd=tmp,
            env=crawl_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def main(names: list[str]) -> int:
    chosen = [cases()[n] for n in names] if names else list(cases().values())
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(record, chosen))
    failed = 0
    for case, proc in zip(chosen, results, strict=True):
        count = len(list((CASSETTE_DIR / case.name).glob("[0-9]*.json")))
        ok = proc.returncode == 0 and count > 0
        failed += not ok
        print(f"{'ok ' if ok else 'FAILED'} {case.name}: {count} interactions")
        if not ok:
            print(proc.stderr[-3000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
