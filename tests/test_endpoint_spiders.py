"""Every per-input spider against the sandbox: exactly the dataset's truth, errors as outcomes.

One ``scrapy crawl`` per spider over a list of inputs that mixes a celebrity (many pages),
ordinary accounts, an unknown name, private and hidden accounts and a duplicate. The
unit tests at the end feed hand-made pages for what the sandbox never does (a time cursor
that repeats the boundary record, a millisecond cursor, the other reposted data key).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from crawling import CrawlResult
from inprocess import run_crawl_inprocess
from scrapy import Request, signals
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler
from settings_fixture import settings_dict

from tiktok_scrapy.sandbox import SandboxThread
from tiktok_scrapy.sandbox.dataset import Dataset, UserError
from tiktok_scrapy.spiders.base import ResearchApiSpider
from tiktok_scrapy.spiders.inputs import (
    BOUNDARY_MEMORY,
    FollowersSpider,
    LikedVideosSpider,
    RepostedVideosSpider,
    UsersSpider,
)

UNKNOWN = "no_such_account_zz9"
MAX_COUNT = 50  # several pages for the celebrity's followers and the bigger lists


# --- choosing inputs and computing the truth ---------------------------------------------
def plain_users(ds: Dataset) -> list[str]:
    special = ds.private_users | ds.hidden_users | ds.likes_private_users
    return [n for n in ds.usernames if n not in special and "\x00" not in n]


def account_inputs(ds: Dataset) -> list[str]:
    """A celebrity, two plain accounts with pinned and liked videos, and every error kind."""
    plain = plain_users(ds)
    busy = [n for n in plain[5:] if ds.pinned_videos(n) and ds.liked_videos(n)][:2]
    assert len(busy) == 2
    return [
        plain[0],
        *busy,
        UNKNOWN,
        min(ds.private_users),
        min(ds.hidden_users),
        min(ds.likes_private_users),
    ]


def sent(item: dict, key: str) -> Any:
    """A field as the API sent it: the pipeline strips NUL bytes, keeping the original."""
    return item.get("_original", {}).get(key, item.get(key))


def _ids(videos: list[dict]) -> list[int]:
    return [v["id"] for v in videos if not v.get("_deleted")]


# spider → (what the dataset serves for one account, as item keys; key of a crawled item)
TRUTH: dict[str, tuple[Callable[[Dataset, str], list[tuple]], Callable[[dict], tuple]]] = {
    "users": (lambda ds, n: [(ds.user(n)["username"],)], lambda i: (sent(i, "username"),)),
    "followers": (
        lambda ds, n: [(f["username"], n) for _, f in ds.followers(n)],
        lambda i: (sent(i, "source"), sent(i, "target")),
    ),
    "following": (
        lambda ds, n: [(n, f["username"]) for _, f in ds.following(n)],
        lambda i: (sent(i, "source"), sent(i, "target")),
    ),
    "liked_videos": (
        lambda ds, n: [(n, i) for i in _ids([v for _, v in ds.liked_videos(n)])],
        lambda i: (sent(i, "account"), i["id"]),
    ),
    "pinned_videos": (
        lambda ds, n: [(n, i) for i in _ids(ds.pinned_videos(n))],
        lambda i: (sent(i, "account"), i["id"]),
    ),
    "reposted_videos": (
        lambda ds, n: [(n, i) for i in _ids(ds.reposted_videos(n))],
        lambda i: (sent(i, "account"), i["id"]),
    ),
}
COLLECTION = {"users": "users", "followers": "follow_edges", "following": "follow_edges"}
RELATION = {"liked_videos": "liked", "pinned_videos": "pinned", "reposted_videos": "reposted"}


def truth(ds: Dataset, spider: str, names: list[str]) -> tuple[Counter, dict[str, str]]:
    """(item keys a perfect crawl yields, {input: API message} of the user-level errors)."""
    serve = TRUTH[spider][0]
    keys: Counter = Counter()
    errors: dict[str, str] = {}
    for name in names:
        try:
            keys.update(serve(ds, name))
        except UserError as exc:
            errors[name] = exc.message
    return keys, errors


def user_level_pages(result: CrawlResult) -> dict[str, str]:
    return {p["input"]: p["error"]["message"] for p in result.pages if p["outcome"] == "user_level"}


def input_config(spider: str, names: list[str], folder: Path) -> dict[str, Any]:
    """The same accounts given each way a researcher can (list, text, CSV, earlier output)."""
    doubled = [*names, "@" + names[0]]  # "@name" is the same account: one chain
    if spider == "followers":
        path = folder / "accounts.txt"
        path.write_text("# accounts\n" + "\n".join(doubled) + "\n", encoding="utf-8")
        return {"usernames_file": str(path), "max_count": MAX_COUNT}
    if spider == "following":
        path = folder / "accounts.csv"
        path.write_text(
            "n,account\n" + "".join(f"{i},{n}\n" for i, n in enumerate(doubled)), encoding="utf-8"
        )
        return {"usernames_file": str(path), "column": "account", "max_count": MAX_COUNT}
    if spider == "liked_videos":
        path = folder / "videos" / "job" / "videos.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text(
            "".join(
                json.dumps({"id": i + 2**60, "username": n}) + "\n" for i, n in enumerate(doubled)
            ),
            encoding="utf-8",
        )
        return {"from_output": str(folder / "videos"), "max_count": MAX_COUNT}
    return {"usernames": doubled, "max_count": MAX_COUNT}


# --- the crawls --------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize("spider", list(TRUTH))
def test_account_spider_returns_the_truth_and_records_user_level_errors(
    spider: str, sandbox: SandboxThread, tmp_path: Path
) -> None:
    ds = sandbox.dataset
    names = account_inputs(ds)
    expected, errors = truth(ds, spider, names)
    assert errors and UNKNOWN in errors  # the inputs do exercise user-level errors
    before = len(sandbox.requests(spider))

    result = run_crawl_inprocess(
        spider, input_config(spider, names, tmp_path), sandbox.url, tmp_path
    )
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["finish_reason"] == "finished"

    items = result.of(COLLECTION.get(spider, "user_videos"))
    assert Counter(TRUTH[spider][1](i) for i in items) == expected  # exact, nobody twice
    assert all(i["_crawl"]["endpoint"] == spider for i in items)
    assert result.stats["tiktok/outcomes/user_level"] == len(errors)
    assert user_level_pages(result) == errors  # the API's message, per input
    assert {p["input"] for p in result.pages} == set(names)  # one chain per input
    assert "tiktok/chains/failed" not in result.stats

    requests_sent = len(sandbox.requests(spider)) - before
    family = "follow" if spider in ("followers", "following") else "main"
    assert result.stats[f"tiktok/quota/requests/{family}"] == requests_sent
    assert not any(
        k.startswith("tiktok/quota/requests/") and not k.endswith(family) for k in result.stats
    )

    if spider == "users":
        for item in items:  # the whole user object, as served
            served = ds.user(sent(item, "username"))
            assert {k: sent(item, k) for k in item if k[0] != "_"} == served
    if spider in ("followers", "following"):
        names_shown = {
            f["username"]: f["display_name"]
            for n in names
            if n not in errors
            for _, f in getattr(ds, spider)(n)
        }
        assert all(
            set(i) - {"_original"} == {"source", "target", "display_name", "_crawl"} for i in items
        )
        listed = "source" if spider == "followers" else "target"
        assert all(sent(i, "display_name") == names_shown[sent(i, listed)] for i in items)
    if spider in RELATION:
        assert {i["relation"] for i in items} == {RELATION[spider]}
        video = ds.video(items[0]["id"])
        assert video is not None
        for key, value in video.items():
            if not key.startswith("_") and "\x00" not in str(value):
                assert items[0][key] == value, key


@pytest.mark.integration
def test_comments_stop_at_the_1000_cap_and_include_replies(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    ds = sandbox.dataset
    big = ds.many_comments_video_ids
    small = next(
        v["id"]
        for v in ds.truth_videos(
            {"and": [{"field_name": "region_code", "operation": "EQ", "field_values": ["US"]}]},
            ds.start,
            ds.start,
        )
        if 0 < v["comment_count"] < 100
    )
    parent = next(c for c in ds.comments(small) + ds.comments(big[0]) if c["reply_count"])
    unknown = 2**62 + 12345  # no such video: an empty list, not an error
    config = {
        "video_ids": [*big, small, unknown, big[0]],
        "comment_ids": [parent["id"]],
        "max_count": 30,
    }  # 30 does not divide 1,000: the last page must shrink
    before = len(sandbox.requests("comments"))

    result = run_crawl_inprocess("comments", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]

    by_chain: dict[str, Counter] = {}
    for c in result.of("comments"):
        by_chain.setdefault(c["_crawl"]["chain"], Counter())[c["id"]] += 1
    expected = {
        f"comments:video_id={v}": Counter(c["id"] for c in ds.comments(v)[:1000])
        for v in [*big, small]
    }
    expected[f"comments:comment_id={parent['id']}"] = Counter(
        c["id"] for c in ds.replies(parent["id"])
    )
    assert by_chain == expected
    assert all(len(by_chain[f"comments:video_id={v}"]) == 1000 for v in big)
    assert len({p["chain"] for p in result.pages}) == len(big) + 3  # duplicate dropped

    bodies = [r["body"] for r in sandbox.requests("comments")[before:]]
    bodies = [json.loads(b) if isinstance(b, str) else b for b in bodies]
    assert all(b.get("cursor", 0) + b["max_count"] <= 1000 for b in bodies)
    assert {b["max_count"] for b in bodies} == {30, 10}  # 33 pages of 30, then 10
    assert result.stats["tiktok/quota/requests/main"] == len(bodies)
    assert "tiktok/chains/failed" not in result.stats


@pytest.mark.integration
def test_playlists_gather_every_video_id_across_pages(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    ds = sandbox.dataset
    wanted = ds.playlist_ids[:5]
    config = {"playlist_ids": [*wanted, wanted[0]], "max_count": 40}

    result = run_crawl_inprocess("playlists", config, sandbox.url, tmp_path)
    assert result.returncode == 0, result.log[-3000:]

    got = {p["playlist_id"]: p for p in result.of("playlists")}
    assert len(result.of("playlists")) == len(wanted) == len(got)
    for playlist_id in wanted:
        served = ds.playlist(playlist_id)
        assert served is not None
        item = got[playlist_id]
        assert item["playlist_video_ids"] == served["playlist_video_ids"]  # order kept
        assert item["playlist_item_total"] == len(served["playlist_video_ids"])
        assert item["playlist_name"] == served["playlist_name"]
    assert max(p["page"] for p in result.pages) >= 2  # some playlist did span pages


# --- hand-made pages: what the sandbox does not do -----------------------------------------
class Engine:
    """Stands in for the engine: keeps the requests the spider schedules itself."""

    def __init__(self) -> None:
        self.scheduled: list[Request] = []

    def crawl(self, request: Request) -> None:
        self.scheduled.append(request)


def open_spider(
    cls: type[ResearchApiSpider], config: dict, extra: dict | None = None
) -> tuple[Any, list[Request]]:
    settings = settings_dict("TIKTOK_", TIKTOK_API_URL="http://127.0.0.1:9", **(extra or {}))
    crawler = get_crawler(cls, settings_dict=settings)
    spider = cls.from_crawler(crawler, config=json.dumps(config))
    crawler.spider = spider
    crawler.engine = Engine()  # type: ignore[assignment]
    crawler.signals.send_catch_log(signals.spider_opened, spider=spider)

    async def first_pages() -> list[Request]:
        return [request async for request in spider.start()]

    return spider, asyncio.run(first_pages())


def feed(spider: Any, request: Request, data: dict) -> tuple[list[dict], Request | None]:
    """Answer ``request`` with ``data``, hand the items on; the items and the next request."""
    envelope = {"data": data, "error": {"code": "ok", "message": "", "log_id": "0"}}
    response = TextResponse(
        request.url, status=200, body=json.dumps(envelope).encode(), request=request
    )
    out = list(spider.parse_page(response))
    items = [o for o in out if not isinstance(o, Request)]
    for item in items:
        spider.crawler.signals.send_catch_log(
            signals.item_scraped, item=item, response=response, spider=spider
        )
    scheduled = [o for o in out if isinstance(o, Request)] + spider.crawler.engine.scheduled
    spider.crawler.engine.scheduled = []
    assert len(scheduled) <= 1
    return items, (scheduled or [None])[0]


def body(request: Request) -> dict:
    return json.loads(request.body)


def accounts(*names: str) -> list[dict]:
    return [{"username": n, "display_name": n.upper()} for n in names]


def test_an_inclusive_time_cursor_does_not_repeat_an_edge() -> None:
    spider, (request,) = open_spider(FollowersSpider, {"usernames": ["x"], "max_count": 30})
    first = [f"f{i:02}" for i in range(30)]
    items, request = feed(
        spider,
        request,
        {"user_followers": accounts(*first), "cursor": 1_700_000_000, "has_more": True},
    )
    assert request is not None and body(request)["cursor"] == 1_700_000_000
    # "on or before the cursor": the two accounts that followed in that second come again
    items2, request = feed(
        spider,
        request,
        {
            "user_followers": accounts("f28", "f29", "g1"),
            "cursor": 1_699_000_000,
            "has_more": False,
        },
    )
    assert request is None
    edges = [(i["source"], i["target"], i["display_name"]) for i in items + items2]
    assert edges == [(n, "x", n.upper()) for n in [*first, "g1"]]
    assert spider.crawler.stats.get_value("tiktok/items/boundary_repeats") == 2
    state = spider.core.state("followers:username=x")
    assert state.extra["boundary"] == ["f28", "f29", "g1"]  # memory stays small
    assert len(spider.core.state("followers:username=x").extra["boundary"]) <= BOUNDARY_MEMORY


def test_liked_videos_send_back_a_millisecond_cursor_and_skip_repeats() -> None:
    spider, (request,) = open_spider(LikedVideosSpider, {"usernames": ["x"]})
    assert "cursor" not in body(request)
    big = 2**60
    items, request = feed(
        spider,
        request,
        {
            "user_liked_videos": [{"id": big}, {"id": big + 1}],
            "cursor": 1_700_000_000_123,
            "has_more": True,
        },
    )
    assert request is not None and body(request)["cursor"] == 1_700_000_000_123
    items2, _ = feed(
        spider,
        request,
        {
            "user_liked_videos": [{"id": big + 1}, {"id": big + 2}],
            "cursor": 1_690_000_000_000,
            "has_more": False,
        },
    )
    assert [(i["id"], i["account"], i["relation"]) for i in items + items2] == [
        (big + k, "x", "liked") for k in range(3)
    ]


def test_reposted_list_under_either_data_key() -> None:
    for key in ("reposted_videos", "user_reposted_videos"):
        spider, (request,) = open_spider(RepostedVideosSpider, {"usernames": ["x"]})
        items, _ = feed(spider, request, {key: [{"id": 7}], "cursor": 100, "has_more": False})
        assert [(i["id"], i["account"], i["relation"]) for i in items] == [(7, "x", "reposted")]


def test_user_info_keeps_the_requested_username_when_not_echoed() -> None:
    spider, (request,) = open_spider(UsersSpider, {"usernames": ["@Alice"]})
    assert body(request) == {"username": "Alice"}
    items, following = feed(spider, request, {"display_name": "A", "follower_count": 3})
    assert following is None
    assert [{k: v for k, v in i.items() if k != "_crawl"} for i in items] == [
        {"display_name": "A", "follower_count": 3, "username": "Alice"}
    ]


@pytest.mark.parametrize("jobdir", [False, True], ids=["no-jobdir", "jobdir"])
def test_next_page_waits_for_the_items_only_when_a_kill_could_outrun_them(
    tmp_path: Path, jobdir: bool
) -> None:
    """With a JOBDIR a chain's next page is asked for once its page is committed (a kill
    then costs one page a chain); without one, as soon as the page is parsed."""
    extra = {"JOBDIR": str(tmp_path / "job")} if jobdir else {}
    spider, (request,) = open_spider(FollowersSpider, {"usernames": ["x"]}, extra)
    data = {"user_followers": accounts("a", "b"), "cursor": 1_700_000_000, "has_more": True}
    envelope = {"data": data, "error": {"code": "ok", "message": "", "log_id": "0"}}
    response = TextResponse(
        request.url, status=200, body=json.dumps(envelope).encode(), request=request
    )
    items = list(spider.parse_page(response))
    assert len(items) == 2
    assert len(spider.crawler.engine.scheduled) == (0 if jobdir else 1)
    for item in items:
        spider.crawler.signals.send_catch_log(
            signals.item_scraped, item=item, response=response, spider=spider
        )
    assert len(spider.crawler.engine.scheduled) == 1
    assert body(spider.crawler.engine.scheduled[0])["cursor"] == 1_700_000_000
