"""ResearchApiSpider: config → chains → paged JSON POSTs → items, page records, checkpoints.

A *chain* is one paginated sequence of requests (an endpoint, a body without cursor, and
for video queries a date window). Chains are independent and run concurrently; the pages
of one chain are strictly sequential, each sending the cursor (and search_id) the previous
page returned. A subclass says what it crawls: ``endpoint_name``, ``item_class``, how the
config becomes chains (``plan``) and, if needed, how records become items (``make_items``).

Every response becomes a page record (signal ``page_recorded``); each item carries its
provenance under ``_crawl``. The chains' states belong to the crawl's chain core
(``tiktok_scrapy.chains``), which commits each chain's position once its page's items are
handed on, so ``-s JOBDIR=…`` resumes exactly where it stopped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import JsonRequest, Response
from twisted.python.failure import Failure

from tiktok_scrapy.api.endpoints import ENDPOINTS, Endpoint
from tiktok_scrapy.api.errors import Outcome, classification
from tiktok_scrapy.api.windows import Window
from tiktok_scrapy.chains import (
    COMPLETE_ENDS,
    DONE,
    FAILED,
    OPEN,
    SPLIT,
    Chain,
    ChainCore,
    ChainState,
    copy_state,
    meta,
)
from tiktok_scrapy.config import ConfigError, CrawlConfig, load_config
from tiktok_scrapy.items import ApiItem
from tiktok_scrapy.signals import page_items, page_recorded
from tiktok_scrapy.verdict import INCOMPLETE_CHAINS

__all__ = ["COMPLETE_ENDS", "Chain", "ResearchApiSpider"]

logger = logging.getLogger(__name__)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class ResearchApiSpider(Spider):
    """Base of every Research API spider: what a crawl asks for and how pages become items.

    The chains' states live in the crawl's ``ChainCore`` (``self.core``); this class plans
    chains, builds their requests and turns each page into items and the chain's next state.
    """

    endpoint_name: ClassVar[str]
    item_class: ClassVar[type[ApiItem]]
    # The cassette (fixtures/cassettes/<name>) `scrapy check` replays; default: the name.
    cassette: ClassVar[str | None] = None
    core: ChainCore

    def __init__(self, config: str | None = None, force: Any = False, **kwargs: Any) -> None:
        private = {k: v for k, v in kwargs.items() if k.startswith("_")}  # scrapyd's _job
        overrides = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        super().__init__(**private)
        # `scrapy check` builds every spider with no arguments; its @cassette contract then
        # gives the spider the config recorded with the cassette (``use_config``).
        checking = config is None and not overrides and os.environ.get("SCRAPY_CHECK")
        self.config: CrawlConfig = (
            None if checking else load_config(self.name, config, overrides)  # type: ignore[assignment]
        )
        self.force = _truthy(force)
        self.config_arg = config  # how the config was given, for the "retry with" line
        self.endpoint: Endpoint = ENDPOINTS[self.endpoint_name]
        self._unauthorised = False

    # --- Scrapy wiring -----------------------------------------------------------------
    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ResearchApiSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.core = ChainCore(
            crawler,
            spider.config,
            spider_name=spider.name,
            config_arg=spider.config_arg,
            force=spider.force,
        )
        spider.core.on_commit(spider.chain_committed)
        crawler.signals.connect(spider._spider_idle, signal=signals.spider_idle)
        return spider

    def use_config(self, config: CrawlConfig) -> None:
        """Crawl with ``config`` (``scrapy check``'s cassettes bring their own)."""
        self.config = config
        self.core.config = config

    @property
    def api_url(self) -> str:
        return self.settings.get("TIKTOK_API_URL")

    # --- what a subclass provides --------------------------------------------------------
    def plan(self) -> Iterable[Chain]:
        """The chains this config asks for, in a stable order with stable ids."""
        raise NotImplementedError

    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        """Items for one page's records (default: one ``item_class`` per record)."""
        return [self.item_class(record) for record in records if isinstance(record, dict)]

    def feed_fields(self) -> list[str] | None:
        """Columns of a CSV feed of this spider's items (None: from the first item)."""
        fields = getattr(self.config, "fields", None)
        if not fields or getattr(self, "item_classes", None):
            return None
        return [*fields, *(f for f in self.needed_fields if f not in fields), "_crawl"]

    # Whether ``plan()`` may be called again just to count the chains (progress's total);
    # not for refresh, whose plan reads every stored id again.
    plan_is_cheap: ClassVar[bool] = True

    # Fields the spider asks the API for whatever the config's ``fields`` (videos: id,
    # create_time).
    needed_fields: ClassVar[tuple[str, ...]] = ()

    def first_cursor(self, chain: Chain) -> Any:
        """Cursor for a chain's first page (None: send none)."""
        return chain.endpoint.first_cursor

    def chain_committed(self, state: ChainState) -> None:
        """Hook: a chain's state was just committed (the network spider grows levels here)."""

    # --- start ---------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        stored = self.core.open()
        try:
            chains = list(self.core.start_chains(self.plan(), stored))
        except ConfigError as error:  # e.g. an input file that has gone missing
            logger.error("Config: %s", error)
            raise CloseSpider("config_error") from None
        for chain, state in chains:
            request = self.page_request(chain, state)
            if state.search_id and chain.endpoint.sends_search_id:
                # A search_id stored by an earlier run is likely expired (or from another
                # server): when the API says so, continue without it at once instead of
                # spending TIKTOK_SEARCH_ID_RETRY_TIMES requests on retries meant for a
                # just-issued one.
                request.meta[meta.SEARCH_ID_RETRIES] = self.settings.getint(
                    "TIKTOK_SEARCH_ID_RETRY_TIMES"
                )
            yield request

    # --- requests ------------------------------------------------------------------------
    def page_request(self, chain: Chain, state: ChainState) -> Request:
        """The request for ``state``'s page of ``chain`` (the chain now expects it)."""
        body = dict(chain.body)
        endpoint = chain.endpoint
        if window := state.continuation.get("window"):  # a continuation over what is left
            body["start_date"], body["end_date"] = Window.from_json(window).api_dates()
        cursor = self._sent_cursor(chain, state)
        if cursor is not None and endpoint.cursor_key:
            body[endpoint.cursor_key] = cursor
        if endpoint.cap is not None and "max_count" in body:
            body["max_count"] = min(body["max_count"], endpoint.cap - (cursor or 0))
        if state.search_id and endpoint.sends_search_id:
            body["search_id"] = state.search_id
        if endpoint.fields_in_body:
            body["fields"] = ",".join(chain.fields or endpoint.fields)
        self.core.expect(chain.id, state)
        return JsonRequest(
            chain.endpoint.url(self.api_url, chain.fields),
            data=body,
            callback=self.parse_page,
            errback=self.page_failed,
            dont_filter=True,
            priority=chain.depth,
            meta={
                meta.CHAIN: chain.id,
                meta.ENDPOINT: chain.endpoint.name,
                meta.PAGE: state.page,
                meta.EPOCH: state.epoch,
                meta.CUT_ON_500: self.cut_on_500(chain, state),
                "handle_httpstatus_all": True,
            },
        )

    def cut_on_500(self, chain: Chain, state: ChainState) -> bool:
        """Whether a 500 to this page means "too big": give up at once so ``split()`` cuts
        the chain, instead of retrying at full size (videos: an adaptive wide window's
        first page)."""
        return False

    # --- responses -----------------------------------------------------------------------
    def parse_page(self, response: Response) -> Iterator[Any]:
        """Turn one API response into items, a page record and the chain's next step.

        Checked by ``scrapy check`` on each spider's recorded cassette (no network):

        @cassette
        @returns items 1
        """
        current = self.chain_of(response)
        if current is None:
            return
        chain, state = current
        classified = classification(response)  # as the middlewares saw it: classified once
        outcome = Outcome(response.meta.get(meta.OUTCOME) or classified.outcome)
        data = (classified.payload or {}).get("data") or {}
        if not isinstance(data, dict):
            data = {}
        record = self._page_record(response, chain, classified, outcome, data)
        self.crawler.stats.inc_value(f"tiktok/pages/{outcome.value}")

        if outcome is Outcome.OK:
            yield from self._on_data(response, chain, state, data, record, classified.log_id)
            return
        self._send_record(record)
        if outcome is Outcome.USER_LEVEL:
            self.crawler.stats.inc_value("tiktok/outcomes/user_level")
            self._end_chain(chain, state, DONE, f"user_level: {classified.message}")
        elif outcome is Outcome.SEARCH_ID_INVALID:
            yield from self._restart_chain(chain, state, classified.message)
        elif outcome is Outcome.RETRY:
            yield from self._on_gave_up(chain, state, f"{classified.code}: {classified.message}")
        elif outcome is Outcome.QUOTA:
            raise CloseSpider("quota_exhausted")
        elif outcome is Outcome.REFRESH_TOKEN:
            logger.error(
                "The API rejected a freshly fetched access token (%s %s, log_id %s): check "
                "that the client key is approved for the Research API; stopping.",
                classified.code,
                classified.message,
                classified.log_id,
            )
            raise CloseSpider("auth_failed")
        elif classified.code == "scope_not_authorized":
            self._end_chain(chain, state, FAILED, f"{classified.code}: {classified.message}")
            self._stop_unauthorised(chain.endpoint, classified)
        else:
            logger.error(
                "The API refused a request of chain %s: %s %s (log_id %s). This is a bug in the "
                "request or a missing API approval; stopping.",
                chain.id,
                classified.code,
                classified.message,
                classified.log_id,
            )
            self._end_chain(chain, state, FAILED, f"{classified.code}: {classified.message}")
            raise CloseSpider("api_error")

    def _stop_unauthorised(self, endpoint: Endpoint, classified: Any) -> None:
        """The client lacks the endpoint's approval: one line naming it, then stop."""
        if not self._unauthorised:
            self._unauthorised = True
            self.crawler.stats.set_value("tiktok/unauthorised", endpoint.requirement)
            logger.error(
                "This client is not authorised for the %s: %s needs %s (the API answered "
                "scope_not_authorized: %s, log_id %s) — ask TikTok to add it to your research "
                "project; stopping.",
                endpoint.access.value,
                endpoint.path,
                endpoint.requirement,
                classified.message or "no message",
                classified.log_id,
            )
        raise CloseSpider("scope_not_authorized")

    def chain_of(self, response: Response) -> tuple[Chain, ChainState] | None:
        """The chain a response answers and its state, or None for a stale response."""
        return self.core.current(response)

    def _on_data(
        self,
        response: Response,
        chain: Chain,
        state: ChainState,
        data: dict,
        record: dict,
        log_id: str | None,
    ) -> Iterator[Any]:
        endpoint = chain.endpoint
        raw = endpoint.records(data)
        sent_cursor = self._sent_cursor(chain, state)
        next_cursor = endpoint.next_cursor(data, sent_cursor)
        page_size = chain.body.get(endpoint.count_param) if endpoint.count_param else None
        has_more = endpoint.has_more(data, raw, page_size)
        moved = next_cursor is not None and next_cursor != sent_cursor
        # A page that says has_more but brings nothing or leaves the cursor where it was
        # made no progress; a few in a row (TIKTOK_STALL_EMPTY_PAGES) end the chain
        # incomplete, to be continued by the next run, instead of spending quota.
        no_progress = has_more and (not raw or not moved)
        empty = state.empty_pages + 1 if no_progress else 0
        reason = self.end_reason(chain, has_more, sent_cursor, next_cursor, empty)
        if reason is None and not moved:
            next_cursor = sent_cursor  # ask the same page again
        status = OPEN if reason is None else DONE if reason in COMPLETE_ENDS else FAILED
        new_state = copy_state(
            state,
            page=state.page + 1,
            cursor=next_cursor,
            search_id=data.get("search_id") or state.search_id,
            pages=state.pages + 1,
            empty_pages=empty,
            state=status,
            reason=reason,
        )
        records, problem = self.accept_records(chain, state, new_state, raw)
        if problem is not None:  # data that cannot belong to this chain: not stored
            record["outcome"] = "window_mismatch"
            record["error"] = {"code": "window_mismatch", "message": problem, "log_id": log_id}
            self.crawler.stats.inc_value("tiktok/pages/window_mismatch")
            self._send_record(record)
            yield from self._restart_chain(chain, state, problem, kind="window_mismatch")
            return
        children = list(self.cut(chain, state, new_state, raw, data)) if status == OPEN else []
        cut_requests: list[Request] = []
        if children:  # the rest of this chain is crawled by smaller chains, in parallel
            status = new_state.state = SPLIT
            new_state.reason = "split: dense"
            record["split_into"] = [child.id for child, _ in children]
            self.crawler.stats.inc_value("tiktok/chains/split_dense")
            cut_requests = self._adopt(children)
        items = self.make_items(chain, records, data, new_state, status != OPEN)
        new_state.items = state.items + len(items)
        if items:
            new_state.idle_restarts = 0
        record["items"] = len(items)
        if reason and reason != "complete":
            record["outcome"] = reason
            self.crawler.stats.inc_value(f"tiktok/chains/ended/{reason}")
        if status == FAILED:
            self.crawler.stats.inc_value("tiktok/chains/failed")
            logger.warning(
                "Chain %s ended incomplete after page %d (%s): the next run of this JOBDIR "
                "continues it.",
                chain.id,
                state.page,
                reason,
            )
        self._send_record(record)

        crawl = self._provenance(chain, state, data, log_id)
        for item in items:
            item["_crawl"] = dict(crawl)
        then = partial(self._schedule, chain, new_state) if status == OPEN else None
        # No JOBDIR, so no checkpoint for a kill to outrun: ask for the next page while
        # this one's items are handed on (at most two pages of a chain held).
        at_once = then is not None and not self.core.durable and not self.core.holds_back(chain.id)
        self.crawler.stats.inc_value("tiktok/items", len(items))
        # A page without items commits (and requests its successor) at once; one with
        # items when the last of them has been handed on.
        self.core.advance(chain, state, new_state, len(items), None if at_once else then)
        if at_once and then is not None:
            then()
        if items:
            self.crawler.signals.send_catch_log(page_items, items=items)
        yield from items
        if children:
            logger.info(
                "Chain %s is dense: the rest of its window goes to %d chains (%s).",
                chain.id,
                len(children),
                ", ".join(child.id for child, _ in children),
            )
            yield from cut_requests

    def cut(
        self, chain: Chain, state: ChainState, new_state: ChainState, records: list, data: dict
    ) -> Iterable[tuple[Chain, ChainState]]:
        """Chains (with their first states) to crawl the rest of ``chain`` in parallel,
        when its page shows it is worth it (videos: a dense window); none by default."""
        return ()

    def _adopt(self, children: list[tuple[Chain, ChainState]]) -> list[Request]:
        """Register chains born at run time (cuts, splits) and request their first pages.

        A child an earlier run already saved (it was killed before its parent's page was
        committed) keeps its stored state. Saved at once, before the parent's end is
        committed, so a kill in between loses no ground.
        """
        requests = []
        for child, child_state in children:
            state = self.core.add(child, child_state)
            if state is not None:
                requests.append(self.page_request(child, state))
        return requests

    def accept_records(
        self, chain: Chain, state: ChainState, new_state: ChainState, records: list
    ) -> tuple[list, str | None]:
        """The page's records to keep, or a problem that makes the page not this chain's
        data (videos: outside the window asked for). May note progress in ``new_state``."""
        return records, None

    def continuation(self, chain: Chain, state: ChainState) -> ChainState:
        """The state a chain starts again from after its search_id died (default: its
        first page, anew). Videos continue over the part of the window not yet seen."""
        return copy_state(
            state,
            epoch=state.epoch + 1,
            page=0,
            cursor=None,
            search_id=None,
            pages=0,
            empty_pages=0,
            continuation={},
        )

    def _sent_cursor(self, chain: Chain, state: ChainState) -> Any:
        """The cursor the request for ``state``'s page carries (None: none)."""
        if state.page or state.cursor is not None:
            return state.cursor
        return self.first_cursor(chain)

    def _schedule(self, chain: Chain, state: ChainState) -> None:
        """Request a chain's next page (called once the previous page is committed)."""
        if self.core.is_current(chain.id, state):
            self.crawler.engine.crawl(self.page_request(chain, state))

    def end_reason(
        self, chain: Chain, has_more: bool, sent: Any, next_cursor: Any, empty: int
    ) -> str | None:
        """Why a chain stops after this page, or None to fetch the next one.

        ``empty`` counts the pages in a row that made no progress (no records, or the
        cursor unmoved). Reasons in ``COMPLETE_ENDS`` end the chain complete; any other
        ends it incomplete, for the next run to continue.
        """
        if not has_more:
            return "complete"
        cap = chain.endpoint.cap
        if cap is not None and isinstance(next_cursor, int) and next_cursor >= cap:
            return "cap_reached"
        if empty >= max(1, self.settings.getint("TIKTOK_STALL_EMPTY_PAGES")):
            return "stalled_cursor" if next_cursor in (None, sent) else "empty_pages"
        return None

    def _provenance(self, chain: Chain, state: ChainState, data: dict, log_id: str | None) -> dict:
        crawl = {
            "crawl_id": self.core.crawl_id,
            "chain": chain.id,
            "endpoint": chain.endpoint.name,
            "query_id": self.config.query_id(),
            "page": state.page,
            "cursor": self._sent_cursor(chain, state),
            "log_id": log_id,
            "crawled_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if chain.window:
            crawl["window"] = str(chain.window)
        search_id = data.get("search_id") or state.search_id
        if search_id:
            crawl["search_id"] = search_id
        if state.epoch:
            crawl["epoch"] = state.epoch
        return crawl

    def page_failed(self, failure: Failure) -> None:
        """Errback: the request never got a usable response after its retries."""
        if failure.check(IgnoreRequest):
            return  # dropped on purpose (duplicate, quota stop, budget): the chain resumes
        request = failure.request
        chain = self.core.chains.get(request.meta.get(meta.CHAIN))
        if chain is None:
            return
        state = self.core.state(chain.id)
        sent = (request.meta.get(meta.EPOCH, 0), request.meta.get(meta.PAGE))
        if sent != (state.epoch, state.page):
            return
        message = f"{type(failure.value).__name__}: {failure.value}"
        logger.warning("Chain %s page %s failed: %s", chain.id, state.page, message)
        self._send_record(
            self._base_record(chain, state, request.body)
            | {"status": None, "outcome": "network_error", "error": {"message": message}}
        )
        self._end_chain(chain, state, FAILED, message)

    # --- chain state changes ---------------------------------------------------------------
    def _end_chain(self, chain: Chain, state: ChainState, status: str, reason: str) -> None:
        self.core.end(chain, state, status, reason)

    def _restart_chain(
        self, chain: Chain, state: ChainState, message: str, kind: str = "search_id_expired"
    ) -> Iterator[Request]:
        """A search_id that stays invalid (or pages of another query): continue without it.

        A chain restarts again only after its last restart brought a new item, so a
        search_id that dies faster than a chain can page costs a bounded number of requests;
        then the chain ends incomplete and the next run continues it.
        """
        if state.idle_restarts >= 1:
            logger.warning(
                "Chain %s: %s — again before any new item; it ends incomplete (the next run "
                "continues it).",
                chain.id,
                message,
            )
            self._end_chain(chain, state, FAILED, f"{kind}: {message}")
            return
        new_state = self.continuation(chain, state)
        new_state.idle_restarts = state.idle_restarts + 1
        logger.warning(
            "Chain %s: %s — continuing without its search_id%s.",
            chain.id,
            message,
            f" over {Window.from_json(w)}"
            if (w := new_state.continuation.get("window"))
            else " from its first page",
        )
        self.crawler.stats.inc_value("tiktok/chains/restarted")
        self.core.restart(chain, state, new_state)
        yield self.page_request(chain, new_state)

    def _on_gave_up(self, chain: Chain, state: ChainState, reason: str) -> Iterator[Request]:
        """Retries exhausted: split the chain if the subclass can, else mark it failed."""
        children = list(self.split(chain, state))
        if not children:
            logger.warning("Chain %s failed after retries: %s", chain.id, reason)
            self._end_chain(chain, state, FAILED, reason)
            return
        logger.warning(
            "Chain %s keeps failing (%s): split into %s.",
            chain.id,
            reason,
            ", ".join(c.id for c in children),
        )
        requests = self._adopt([(child, ChainState(child.id)) for child in children])
        self._end_chain(chain, state, SPLIT, f"split: {reason}")
        yield from requests

    def split(self, chain: Chain, state: ChainState) -> Iterable[Chain]:
        """Smaller chains covering the same ground (videos: halves of the window)."""
        return ()

    # --- page records --------------------------------------------------------------------
    def _base_record(self, chain: Chain, state: ChainState, body: bytes | str | None) -> dict:
        record = {
            "crawl_id": self.core.crawl_id,
            "chain": chain.id,
            "endpoint": chain.endpoint.name,
            "query_id": self.config.query_id(),
            "page": state.page,
            "epoch": state.epoch,
            "input": chain.input,
            "request_body": _body_text(body),
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        if chain.window:
            record["window"] = str(chain.window)
        return record

    def _page_record(
        self, response: Response, chain: Chain, classified: Any, outcome: Outcome, data: dict
    ) -> dict:
        state = self.core.state(chain.id)
        record = self._base_record(chain, state, response.request.body)
        record.update(
            status=response.status,
            outcome=outcome.value,
            error={
                "code": classified.code,
                "message": classified.message,
                "log_id": classified.log_id,
            },
            search_id=data.get("search_id"),
            cursor=data.get("cursor"),
            has_more=data.get("has_more"),
            items=0,
            latency=response.meta.get("download_latency"),
        )
        return record

    def _send_record(self, record: dict) -> None:
        self.crawler.signals.send_catch_log(page_recorded, record=record)

    # --- the end -------------------------------------------------------------------------
    def _spider_idle(self) -> None:
        # Nothing left to request: Scrapy would close with "finished". Never say so while
        # a chain is missing data.
        if self.core.incomplete():
            raise CloseSpider(INCOMPLETE_CHAINS)

    def closed(self, reason: str) -> None:
        """Scrapy calls this as the spider closes: the core sums the crawl up."""
        self.core.close(reason)


def _body_text(body: bytes | str | None) -> str | None:
    if body is None:
        return None
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else body
