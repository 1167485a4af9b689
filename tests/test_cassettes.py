"""Cassettes: scrubbing, matching, and every committed cassette replayed with no sandbox.

The replays are crawls in the test process (``scrapy crawl``'s settings, tests/inprocess.py)
pointed at a closed port: anything sent to the network would fail. Items are compared with
the sandbox dataset's truth, computed here from the seed the cassettes were recorded with
(tools/record_cassettes.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from crawling import CrawlResult
from inprocess import crawl_inprocess
from scrapy import Spider
from scrapy.http import JsonRequest, Request, TextResponse
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from tiktok_scrapy.cassettes import (
    TOKEN_PLACEHOLDER,
    CassetteAddon,
    CassetteStorage,
    Scrubber,
    match_key,
    request_key,
)
from tiktok_scrapy.sandbox import adlib, shop
from tiktok_scrapy.spiders.shop import review_key
from tools.record_cassettes import ADDONS, CASSETTE_DIR, Case, cases, crawl_command, crawl_env

TOKEN_URL = "http://127.0.0.1:5000/v2/oauth/token/"
QUERY_URL = "http://127.0.0.1:5000/v2/research/video/query/?fields=id"
CLOSED_PORT_URL = "http://127.0.0.1:9"
MISS = Case(
    "videos_quickstart",
    "videos",
    {"hashtags": ["flood"], "start_date": "2024-01-02", "end_date": "2024-01-02"},
)


# --- matching and scrubbing, in process ---------------------------------------------------


def test_match_key_ignores_key_order_origin_and_token_credentials():
    a = match_key("POST", QUERY_URL, {"b": 1, "a": {"y": 2, "x": 1}})
    b = match_key(
        "post",
        "https://open.tiktokapis.com/v2/research/video/query/?fields=id",
        {"a": {"x": 1, "y": 2}, "b": 1},
    )
    assert a == b
    assert a != match_key("POST", QUERY_URL, {"b": 2, "a": {"x": 1, "y": 2}})
    assert match_key("POST", TOKEN_URL, {"client_secret": "one"}) == match_key(
        "POST", "https://x/v2/oauth/token/", {"client_secret": "two"}
    )


def test_request_key_ignores_authorization():
    plain = JsonRequest(QUERY_URL, data={"cursor": 3})
    signed = JsonRequest(QUERY_URL, data={"cursor": 3}, headers={"Authorization": "Bearer clt.abc"})
    assert request_key(plain) == request_key(signed)


def test_scrubber_removes_secret_tokens_and_bearer_headers():
    scrub = Scrubber({"sandbox-secret": "<client_secret>"})
    scrub.learn_token("opaque-token-42")
    text = scrub.text('secret=sandbox-secret t=opaque-token-42 clt.AbC.9-x "Bearer xyz"')
    assert "sandbox-secret" not in text and "opaque-token-42" not in text
    assert "clt." not in text and "xyz" not in text
    assert text.count(TOKEN_PLACEHOLDER) == 3


def _storage(tmp_path: Path, mode: str) -> tuple[CassetteStorage, Spider]:
    settings = Settings(
        {
            "CASSETTE_MODE": mode,
            "CASSETTE_NAME": "unit",
            "CASSETTE_DIR": str(tmp_path),
            "TIKTOK_CLIENT_SECRET": "s3cret-xyz",
        }
    )
    storage = CassetteStorage(settings)
    spider = Spider(name="videos")
    spider.crawler = get_crawler(Spider)
    storage.open_spider(spider)
    return storage, spider


def _json_response(request: Request, status: int, body: dict) -> TextResponse:
    return TextResponse(
        request.url,
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        request=request,
    )


def test_record_then_replay_follows_the_recorded_sequence(tmp_path, monkeypatch):
    closed: list[str] = []
    monkeypatch.setattr(
        "tiktok_scrapy.cassettes.close_spider_soon", lambda crawler, reason: closed.append(reason)
    )
    storage, spider = _storage(tmp_path, "record")
    token_request = Request(
        TOKEN_URL,
        method="POST",
        body=b"client_key=me&client_secret=s3cret-xyz",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    storage.store_response(
        spider,
        token_request,
        _json_response(token_request, 200, {"access_token": "clt.real-token", "expires_in": 7200}),
    )
    page = JsonRequest(
        QUERY_URL,
        data={"cursor": 0, "max_count": 2},
        headers={"Authorization": "Bearer clt.real-token"},
    )
    storage.store_response(spider, page, _json_response(page, 500, {"error": {"code": "x"}}))
    storage.store_response(spider, page, _json_response(page, 200, {"data": {"videos": []}}))
    storage.close_spider(spider)
    files = sorted((tmp_path / "unit").iterdir())
    assert [f.name for f in files] == [
        "0001-token.json",
        "0002-videos.json",
        "0003-videos.json",
        "cassette.json",
    ]
    text = "".join(f.read_text() for f in files)
    assert "s3cret-xyz" not in text and "clt." not in text and "Authorization" not in text

    replay, spider = _storage(tmp_path, "replay")
    token = replay.retrieve_response(spider, token_request)
    assert token.json()["access_token"] == TOKEN_PLACEHOLDER
    same_page = JsonRequest(
        "https://elsewhere/v2/research/video/query/?fields=id", data={"max_count": 2, "cursor": 0}
    )
    assert replay.retrieve_response(spider, same_page).status == 500  # the retry's story
    assert replay.retrieve_response(spider, same_page).status == 200
    assert replay.retrieve_response(spider, same_page) is None  # asked once more: a miss
    assert spider.crawler.stats.get_value("cassette/miss") == 1
    assert closed == ["cassette_miss"]


def test_addon_derives_httpcache_and_safe_replay_settings(monkeypatch):
    monkeypatch.delenv("TIKTOK_CLIENT_KEY", raising=False)
    monkeypatch.delenv("TIKTOK_CLIENT_SECRET", raising=False)
    settings = Settings()
    settings.setmodule("tiktok_scrapy.settings", priority="project")
    settings.set("CASSETTE_MODE", "replay", priority="cmdline")
    settings.set("TIKTOK_RETRY_BACKOFF_MAX", 9, priority="cmdline")
    CassetteAddon().update_settings(settings)
    assert settings.getbool("HTTPCACHE_ENABLED")
    assert settings.getbool("HTTPCACHE_IGNORE_MISSING")  # never the network
    assert settings.get("HTTPCACHE_STORAGE") == "tiktok_scrapy.cassettes.CassetteStorage"
    assert not settings.getbool("TIKTOK_QUOTA_ENABLED")
    assert settings.get("TIKTOK_CLIENT_SECRET")
    assert settings.getfloat("TIKTOK_RETRY_BACKOFF_BASE") == 0
    assert settings.getfloat("TIKTOK_RETRY_BACKOFF_MAX") == 9  # the user's choice stays


# --- the committed cassettes --------------------------------------------------------------


def test_committed_cassettes_hold_no_secret_token_or_authorization():
    files = list(CASSETTE_DIR.rglob("*.json"))
    assert len(files) > 3 * len(cases())
    for path in files:
        text = path.read_text(encoding="utf-8")
        for needle in ("sandbox-secret", "clt.", "Authorization", "cassette-recorder"):
            assert needle.lower() not in text.lower(), f"{needle} in {path}"


def test_every_spider_has_a_cassette():
    spiders = {case.spider for case in cases().values()}
    assert spiders == {
        "videos",
        "users",
        "comments",
        "followers",
        "following",
        "liked_videos",
        "pinned_videos",
        "reposted_videos",
        "playlists",
        "network",
        "shops",
        "products",
        "product_reviews",
        "ads",
        "ad_details",
        "advertisers",
        "commercial_content",
    }
    for name in cases():
        assert (CASSETTE_DIR / name / "cassette.json").is_file(), name


def _replay_command(case: Case, outdir: Path, ledger: Path) -> list[str]:
    return crawl_command(
        case,
        {
            "ADDONS": ADDONS,
            "CASSETTE_MODE": "replay",
            "CASSETTE_NAME": case.name,
            "CASSETTE_DIR": str(CASSETTE_DIR),
            "TIKTOK_API_URL": CLOSED_PORT_URL,  # anything sent would fail
            "TIKTOK_QUOTA_LEDGER": str(ledger),
            "TIKTOK_OUTPUT_DIR": str(outdir),
            "LOG_LEVEL": "INFO",
        },
    )


def _replay_settings(case: Case, outdir: Path, ledger: Path) -> dict[str, str]:
    """The ``-s`` values of ``_replay_command``, as ``scrapy crawl`` receives them."""
    command = _replay_command(case, outdir, ledger)
    return dict(command[i + 1].split("=", 1) for i, arg in enumerate(command) if arg == "-s")


@pytest.fixture(scope="module")
def replays(tmp_path_factory) -> dict[str, CrawlResult]:
    """Every cassette (and one deliberate miss) replayed, one after another in this process
    (tests/inprocess.py): the same command's settings, no sandbox, a closed port."""
    results = {}
    for name, case in {**cases(), "miss": MISS}.items():
        tmp = tmp_path_factory.mktemp(name)
        outdir, ledger = tmp / "out", tmp / "quota.sqlite"
        spargs = {"config": json.dumps(case.config)}
        values = _replay_settings(case, outdir, ledger)
        result = crawl_inprocess(case.spider, spargs, values, tmp, outdir, timeout=120)
        result.stats["ledger_written"] = ledger.exists()
        results[name] = result
    return results


def _ok(result: CrawlResult, reason: str = "finished") -> None:
    from tiktok_scrapy.verdict import exit_status

    expected = exit_status(reason, "complete" if reason == "finished" else "incomplete")
    assert result.returncode == expected, result.log[-3000:]
    assert result.stats.get("finish_reason") == reason, result.log[-3000:]
    assert not result.stats["ledger_written"]  # replay spends no quota
    assert result.stats.get("cassette/miss") is None


def _ids(items: list[dict], key: str = "id") -> Counter:
    return Counter(item[key] for item in items)


@pytest.fixture(scope="module")
def data():
    from tools.record_cassettes import dataset

    return dataset()


@pytest.mark.parametrize(
    "name", ["videos_quickstart", "videos_500", "videos_transient_400", "videos_empty_pages"]
)
def test_video_cassettes_replay_the_sandbox_truth(replays, data, name):
    result, config = replays[name], cases()[name].config
    _ok(result)
    truth = data.truth_videos(
        config["query"],
        date.fromisoformat(config["start_date"]),
        date.fromisoformat(config["end_date"]),
    )
    assert len(truth) > config["max_count"]  # several pages
    assert _ids(result.of("videos")) == _ids(truth)


def test_fault_cassettes_replay_their_faults(replays):
    assert replays["videos_500"].stats.get("tiktok/retry/reason_count/internal_error", 0) >= 2
    assert replays["videos_transient_400"].stats.get("tiktok/retry/count", 0) >= 1
    empty = [p for p in replays["videos_empty_pages"].pages if p["items"] == 0]
    assert empty and all(p["status"] == 200 for p in empty)


def test_429_cassette_stops_resumably_with_the_pages_before_it(replays, data):
    result, config = replays["videos_429"], cases()["videos_429"].config
    _ok(result, "quota_exhausted")
    day = date.fromisoformat(config["start_date"])
    truth = _ids(data.truth_videos(config["query"], day, day))
    got = _ids(result.of("videos"))
    assert got and not got - truth and sum(got.values()) < sum(truth.values())
    assert result.stats.get("tiktok/quota/429") == 1


def test_users_cassette(replays, data):
    result, names = replays["users"], cases()["users"].config["usernames"]
    _ok(result)
    users = {u["username"]: u for u in result.of("users")}
    assert set(users) == set(names[:2])  # the hidden account is a user-level outcome
    for name in names[:2]:
        assert users[name]["follower_count"] == data.user(name)["follower_count"]
    assert [p["outcome"] for p in result.pages].count("user_level") == 1


def test_comments_cassette(replays, data):
    result, config = replays["comments"], cases()["comments"].config
    _ok(result)
    truth = data.comments(config["video_ids"][0])
    assert len(truth) > config["max_count"]
    assert _ids(result.of("comments")) == _ids(truth)


@pytest.mark.parametrize(
    ("name", "listing", "listed_is_source"),
    [("followers", "followers", True), ("following", "following", False)],
)
def test_follow_cassettes(replays, data, name, listing, listed_is_source):
    result, config = replays[name], cases()[name].config
    _ok(result)
    account = config["usernames"][0]
    truth = [edge["username"] for _, edge in getattr(data, listing)(account)]
    side, other = ("source", "target") if listed_is_source else ("target", "source")
    assert Counter(e[side] for e in result.of("follow_edges")) == Counter(truth)
    assert {e[other] for e in result.of("follow_edges")} == {account}
    if len(config["usernames"]) > 1:  # the private account
        assert [p["outcome"] for p in result.pages].count("user_level") == 1


def _user_videos(result: CrawlResult, account: str) -> Counter:
    return _ids([v for v in result.of("user_videos") if v["account"] == account])


def test_user_video_cassettes(replays, data):
    liked = cases()["liked_videos"].config["usernames"]
    _ok(replays["liked_videos"])
    assert _user_videos(replays["liked_videos"], liked[0]) == _ids(
        [v for _, v in data.liked_videos(liked[0])]
    )
    assert not _user_videos(replays["liked_videos"], liked[1])  # private likes
    assert [p["outcome"] for p in replays["liked_videos"].pages].count("user_level") == 1
    for name, listing in (
        ("pinned_videos", data.pinned_videos),
        ("reposted_videos", data.reposted_videos),
    ):
        _ok(replays[name])
        account = cases()[name].config["usernames"][0]
        assert _user_videos(replays[name], account) == _ids(listing(account)), name


def test_playlists_cassette(replays, data):
    result, config = replays["playlists"], cases()["playlists"].config
    _ok(result)
    [playlist] = result.of("playlists")
    truth = data.playlist(config["playlist_ids"][0])
    assert len(truth["playlist_video_ids"]) > config["max_count"]  # several pages
    assert playlist["playlist_video_ids"] == truth["playlist_video_ids"]


def test_shop_cassettes(replays):
    data = shop.shop_data(0)
    shops = replays["shops"]
    _ok(shops)
    assert {s["shop_id"] for s in shops.of("shops")} == {
        s["shop_id"] for s in data.by_name("Free Soul")
    }
    products = replays["products"]
    _ok(products)
    shop_id = cases()["products"].config["shop_ids"][0]
    assert _ids(products.of("products"), "product_id") == _ids(data.products(shop_id), "product_id")
    assert [p["request_body"].count('"page_start"') for p in products.pages] == [1, 1, 1]
    reviews = replays["product_reviews"]
    _ok(reviews)
    product_id = cases()["product_reviews"].config["product_ids"][0]
    keys = Counter(review_key(product_id, r) for r in data.reviews(product_id))
    assert Counter(r["review_key"] for r in reviews.of("product_reviews")) == keys


def test_ad_library_cassettes(replays):
    library = adlib.ad_library(0)
    ads = replays["ads"]
    _ok(ads)
    truth = library.query_ads(20230101, 20230228, "ALL", "coffee")
    assert _ids(ads.of("ads"), "ad_id") == Counter(a["ad"]["id"] for a in truth)
    assert len(ads.pages) == -(-len(truth) // cases()["ads"].config["max_count"])
    details = replays["ad_details"]
    _ok(details)
    assert _ids(details.of("ad_details"), "ad_id") == Counter(
        cases()["ad_details"].config["ad_ids"][:2]
    )
    assert details.stats["tiktok/outcomes/user_level"] == 1
    advertisers = replays["advertisers"]
    _ok(advertisers)
    assert _ids(advertisers.of("advertisers"), "business_id") == Counter(
        a["business_id"] for a in library.find_advertisers("awesome")[:3]
    )
    contents = replays["commercial_content"]
    _ok(contents)
    truth = library.query_contents(20230101, 20230107)
    assert _ids(contents.of("commercial_content")) == Counter(c["id"] for c in truth)


def test_unrecorded_request_stops_the_crawl_with_one_line_and_sends_nothing(replays):
    result = replays["miss"]
    assert result.stats.get("finish_reason") == "cassette_miss"
    errors = [line for line in result.log.splitlines() if " ERROR: " in line]
    assert (
        len(errors) == 1 and "no recorded response for POST /v2/research/video/query/" in errors[0]
    ), result.log[-3000:]
    assert result.stats.get("downloader/response_count", 0) == 1  # the token, replayed
    assert "Connection refused" not in result.log
    assert not result.of("videos")


# --- scrapy check ---------------------------------------------------------------------------

CONTRACT_SPIDERS = '''
from tiktok_scrapy.spiders.videos import VideosSpider as Base


class VideosSpider(Base):
    def parse_page(self, response):
        """@cassette videos_quickstart
        @returns items 1
        @scrapes id create_time
        """
        return super().parse_page(response)

    def parse_strict(self, response):
        """A contract that must fail: the check really reads the replayed items.

        @cassette videos_quickstart
        @scrapes no_such_field
        """
        return self.parse_page(response)
'''


def test_scrapy_check_runs_contracts_on_a_cassette(tmp_path):
    (tmp_path / "contract_spiders.py").write_text(CONTRACT_SPIDERS)
    env = crawl_env()
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "check",
        "videos",
        "-a",
        "config=quickstart",
        "-s",
        "SPIDER_MODULES=contract_spiders",
        "-s",
        f"CASSETTE_DIR={CASSETTE_DIR}",
        "-s",
        f"ADDONS={json.dumps(ADDONS)}",
        "-s",
        f"TIKTOK_API_URL={CLOSED_PORT_URL}",
        "-s",
        f"TIKTOK_OUTPUT_DIR={tmp_path / 'out'}",
    ]
    proc = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Ran 3 contracts" in output and "FAILED (failures=1)" in output, output
    assert "no_such_field" in output and "parse_strict" in output
    assert "[videos] parse_page" not in output  # parse_page's two contracts passed


def test_scrapy_check_of_every_project_spider_replays_its_cassette(tmp_path):
    """`scrapy check` with no arguments: each spider's contracts run on its own cassette."""
    env = crawl_env()
    command = [
        sys.executable,
        "-m",
        "scrapy",
        "check",
        "-s",
        f"CASSETTE_DIR={CASSETTE_DIR}",
        "-s",
        f"TIKTOK_API_URL={CLOSED_PORT_URL}",
    ]
    proc = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "Ran 17 contracts" in output and "OK" in output
    assert not any(tmp_path.iterdir())  # no output files, nothing written
