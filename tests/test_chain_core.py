"""The chain core: the one owner of a crawl's chain state, and who may touch what.

- No component outside ``tiktok_scrapy/chains`` and the spiders reads a spider's private
  state: what they use of a spider is a short public list, checked on the code itself.
- Nobody outside the core reaches into the core's private attributes.
- The core's own protocol: one claim per expected page, the budget, commits after the
  page's items, daily mode's reopening.
"""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.utils.test import get_crawler

from tiktok_scrapy.api.endpoints import ENDPOINTS
from tiktok_scrapy.chains import DONE, OPEN, Chain, ChainCore, ChainState, copy_state, core_of, meta
from tiktok_scrapy.chains.store import CheckpointStore
from tiktok_scrapy.config import load_config

PACKAGE = Path(__file__).resolve().parents[1] / "tiktok_scrapy"

# What components may use of a spider: its name, settings and crawler, its config, and the
# public hooks a spider class declares (what it plans, which items, which cassette).
SPIDER_PUBLIC = {
    "__module__",
    "__mro__",
    "cassette",
    "config",
    "core",
    "crawler",
    "endpoint_name",
    "feed_fields",
    "from_crawler",
    "item_class",
    "item_classes",
    "name",
    "page_request",
    "plan",
    "plan_is_cheap",
    "settings",
    "use_config",
}


def _is_spider(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in {"spider", "spidercls"}) or (
        isinstance(node, ast.Attribute) and node.attr == "spider"
    )


def _is_core(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "core") or (
        isinstance(node, ast.Attribute) and node.attr == "core"
    )


def _uses(path: Path) -> list[tuple[str, str, int]]:
    """``(whose, attribute, line)`` of every spider or core attribute used in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        target, name = None, None
        if isinstance(node, ast.Attribute):
            target, name = node.value, node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "hasattr", "setattr"}
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
        ):
            target, name = node.args[0], str(node.args[1].value)
        if target is None or name is None:
            continue
        if _is_spider(target):
            found.append(("spider", name, node.lineno))
        elif _is_core(target):
            found.append(("core", name, node.lineno))
    return found


def test_no_component_outside_the_core_touches_a_spiders_private_state() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(("chains/", "spiders/")):
            continue
        for whose, name, line in _uses(path):
            if whose == "spider" and name not in SPIDER_PUBLIC:
                wrong.append(f"{rel}:{line}: spider.{name}")
            if whose == "core" and name.startswith("_"):
                wrong.append(f"{rel}:{line}: core.{name}")
    assert not wrong, "use the chain core's interface instead:\n" + "\n".join(wrong)


def test_spiders_use_only_the_cores_public_interface() -> None:
    wrong = [
        f"spiders/{path.name}:{line}: core.{name}"
        for path in sorted((PACKAGE / "spiders").glob("*.py"))
        for whose, name, line in _uses(path)
        if whose == "core" and name.startswith("_")
    ]
    assert not wrong, "\n".join(wrong)


# --- the core's protocol ------------------------------------------------------------------
def _core(tmp_path: Path | None = None, **config: object) -> ChainCore:
    settings = {"JOBDIR": str(tmp_path)} if tmp_path else {}
    crawler = get_crawler(settings_dict=settings)
    body = json.dumps({"usernames": ["a", "b"], **config})
    return ChainCore(crawler, load_config("users", body), spider_name="users")


def _chain(name: str) -> Chain:
    return Chain(f"users:username={name}", ENDPOINTS["users"], {"username": name}, name)


def _request(chain: Chain, state: ChainState) -> Request:
    return Request(
        "http://api.invalid/",
        meta={meta.CHAIN: chain.id, meta.PAGE: state.page, meta.EPOCH: state.epoch},
    )


def test_the_crawler_carries_its_core() -> None:
    core = _core()
    assert core_of(core.crawler) is core
    assert core_of(get_crawler()) is None


def test_one_request_claims_the_page_a_chain_expects() -> None:
    core = _core()
    chain = _chain("a")
    state = core.add(chain)
    assert state is not None
    first, copy = _request(chain, state), _request(chain, state)
    assert not core.admit(first)  # nothing expected yet
    core.expect(chain.id, state)
    assert core.admit(first)
    assert not core.admit(copy)  # a duplicate of the page: refused
    assert core.admit(first)  # the claimant itself again (a retry): let through
    later = copy_state(state, page=1)
    core.expect(chain.id, later)
    assert not core.admit(first)  # a stale page


def test_the_budget_counts_requests_sent_and_undoes_refused_ones() -> None:
    core = _core(max_requests=2)
    request = Request("http://api.invalid/")
    core.count_sent(request)
    assert not core.budget_spent()
    core.uncount(request)  # a later middleware refused it
    core.uncount(request)  # only once
    assert core.requests_sent == 0
    core.count_sent(Request("http://api.invalid/"))
    core.count_sent(Request("http://api.invalid/"))
    assert core.budget_spent()
    assert core.stats.get_value("tiktok/requests_sent") == 2


def test_a_page_commits_after_its_items_and_after_the_item_signal_is_over(
    tmp_path: Path,
) -> None:
    core = _core(tmp_path)
    core.open()
    chain = _chain("a")
    (_, state), *_ = core.start_chains([chain], {})
    flushed: list[str] = []
    core.before_commit(lambda: flushed.append("flush"))
    committed: list[ChainState] = []
    core.on_commit(committed.append)
    new_state = copy_state(state, page=1, pages=1, state=DONE, reason="complete")
    item = {"_crawl": {"chain": chain.id, "epoch": 0, "page": 0}}

    async def hand_on() -> None:
        core.advance(chain, state, new_state, 2)
        core._item_scraped(item)
        core._item_scraped(item)
        assert committed == []  # not inside the signal dispatch of the last item
        await asyncio.sleep(0)

    asyncio.run(hand_on())
    assert committed == [new_state] and flushed == ["flush"]
    assert CheckpointStore(tmp_path).load()[chain.id].state == DONE
    assert core.incomplete() == [] and core.progress()["done"] == 1


def test_a_page_whose_item_failed_is_not_committed(tmp_path: Path) -> None:
    core = _core(tmp_path)
    core.open()
    chain = _chain("a")
    (_, state), *_ = core.start_chains([chain], {})
    core.advance(chain, state, copy_state(state, page=1, state=OPEN), 1)
    core._item_error({"_crawl": {"chain": chain.id, "epoch": 0, "page": 0}})
    assert chain.id not in CheckpointStore(tmp_path).load()
    assert core.holds_back(chain.id)


def test_daily_reopening_starts_finished_days_over(tmp_path: Path) -> None:
    core = _core(tmp_path)
    core.open()
    chain = _chain("a")
    (_, state), *_ = core.start_chains([chain], {})
    core.advance(chain, state, copy_state(state, state=DONE, reason="complete", pages=3), 0)
    core.close("finished")

    again = _core(tmp_path)
    with pytest.raises(CloseSpider) as closed:
        again.open()
    assert closed.value.reason == "already_finished"
    again.close("already_finished")

    reopened = _core(tmp_path)
    reopened.reopen_finished(["users:username=a"])
    stored = reopened.open()
    assert stored[chain.id].state == OPEN and stored[chain.id].pages == 0


def test_a_closed_feed_file_is_no_longer_flushed_before_commits(tmp_path: Path) -> None:
    from tiktok_scrapy.feedstorage import PageFlushedFileFeedStorage

    core = _core()
    storage = PageFlushedFileFeedStorage.from_crawler(core.crawler, str(tmp_path / "a.jsonl"))
    first = storage.open(None)
    first.write(b'{"id": 1}\n')
    core._commit(ChainState("c"))  # the commit hands the page's lines to the OS first
    assert (tmp_path / "a.jsonl").read_bytes() == b'{"id": 1}\n'
    first.close()  # e.g. a finished feed batch: its flush leaves the commit hooks
    assert core._before_commit == []
