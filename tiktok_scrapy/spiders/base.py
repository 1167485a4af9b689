"""ResearchApiSpider: config → chains → paged JSON POSTs → items, page records, checkpoints.

A *chain* is one paginated sequence of requests (an endpoint, a body without cursor, and
for video queries a date window). Chains are independent and run concurrently; the pages
of one chain are strictly sequential, each sending the cursor (and search_id) the previous
page returned. A subclass says what it crawls: ``endpoint_name``, ``item_class``, how the
config becomes chains (``plan``) and, if needed, how records become items (``make_items``).

Every response becomes a page record (signal ``page_recorded``); each item carries its
provenance under ``_crawl``; each chain's position is checkpointed (``checkpoints.py``)
once its page's items are handed on, so ``-s JOBDIR=…`` resumes exactly where it stopped.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import JsonRequest, Response
from twisted.python.failure import Failure

from tiktok_scrapy import meta
from tiktok_scrapy.api.endpoints import ENDPOINTS, Endpoint
from tiktok_scrapy.api.errors import Outcome, classify
from tiktok_scrapy.api.windows import Window
from tiktok_scrapy.checkpoints import (
    DONE,
    FAILED,
    OPEN,
    SPLIT,
    ChainState,
    CheckpointError,
    CheckpointStore,
    copy_state,
)
from tiktok_scrapy.config import ConfigError, CrawlConfig, load_config
from tiktok_scrapy.feedstorage import flush_feeds
from tiktok_scrapy.items import ApiItem
from tiktok_scrapy.jobdir_lock import JobdirLock, JobdirLocked
from tiktok_scrapy.page_tracker import PageKey, PageTracker
from tiktok_scrapy.signals import page_items, page_recorded
from tiktok_scrapy.verdict import COMPLETE, INCOMPLETE, INCOMPLETE_CHAINS

# Reasons a chain ends with all its data: the API said has_more false, hit a documented cap
# (comments), or the config's own cap. Every other end is incomplete (state FAILED) and the
# next run of the same JOBDIR retries the chain from where it stopped.
COMPLETE_ENDS = frozenset({"complete", "cap_reached", "edge_cap"})

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chain:
    """One paginated sequence: endpoint + body (without cursor/search_id) + its input."""

    id: str
    endpoint: Endpoint
    body: dict
    input: Any
    window: Window | None = None
    fields: tuple[str, ...] | None = None
    parent: str | None = None
    # Cuts and splits between this chain and the one the config planned. Deeper chains are
    # requested first: they hold the busiest days, so they set the crawl's wall time.
    depth: int = 0
    # What a chain's requests need beyond its body (refresh: a task's category and ids);
    # rebuilt from the config on resume, so not part of ``spec()``.
    extra: dict = field(default_factory=dict, compare=False)

    def spec(self) -> dict:
        """Enough to rebuild a chain that the config alone does not imply (splits)."""
        return {
            "endpoint": self.endpoint.name,
            "body": self.body,
            "input": self.input,
            "window": self.window.to_json() if self.window else None,
            "fields": list(self.fields) if self.fields else None,
            "parent": self.parent,
            "depth": self.depth,
        }

    @classmethod
    def from_spec(cls, chain_id: str, spec: dict) -> Chain:
        return cls(
            id=chain_id,
            endpoint=ENDPOINTS[spec["endpoint"]],
            body=spec["body"],
            input=spec["input"],
            window=Window.from_json(spec["window"]) if spec.get("window") else None,
            fields=tuple(spec["fields"]) if spec.get("fields") else None,
            parent=spec.get("parent"),
            depth=int(spec.get("depth") or 0),
        )


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class ResearchApiSpider(Spider):
    """Base of every Research API spider."""

    endpoint_name: ClassVar[str]
    item_class: ClassVar[type[ApiItem]]
    # The cassette (fixtures/cassettes/<name>) `scrapy check` replays; default: the name.
    cassette: ClassVar[str | None] = None

    def __init__(self, config: str | None = None, force: Any = False, **kwargs: Any) -> None:
        private = {k: v for k, v in kwargs.items() if k.startswith("_")}  # scrapyd's _job
        overrides = {k: v for k, v in kwargs.items() if not k.startswith("_")}
        super().__init__(**private)
        # `scrapy check` builds every spider with no arguments; its @cassette contract then
        # gives the spider the config recorded with the cassette.
        checking = config is None and not overrides and os.environ.get("SCRAPY_CHECK")
        self.config: CrawlConfig = (
            None if checking else load_config(self.name, config, overrides)  # type: ignore[assignment]
        )
        self.force = _truthy(force)
        self.endpoint: Endpoint = ENDPOINTS[self.endpoint_name]
        self.chains: dict[str, Chain] = {}
        self.states: dict[str, ChainState] = {}  # in-memory, ahead of the committed ones
        self.expected: dict[str, tuple[int, int]] = {}  # chain → (epoch, page) allowed next
        self._claims: dict[str, tuple[tuple[int, int], str]] = {}
        self.crawl_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.config_arg = config  # how the config was given, for the "resume with" line
        self.store: CheckpointStore | None = None
        self._lock: JobdirLock | None = None
        self.tracker = PageTracker(self._commit)
        self._pages_at_start = 0
        self.requests_sent = 0
        self._unauthorised = False

    # --- Scrapy wiring -----------------------------------------------------------------
    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ResearchApiSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._connect_item_signals, signal=signals.spider_opened)
        crawler.signals.connect(spider._spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._spider_idle, signal=signals.spider_idle)
        return spider

    def _connect_item_signals(self) -> None:
        # Connected now, after the extensions (the feed exporter among them), so that an
        # item counts as handed on only after every other item_scraped handler has run.
        signals_ = self.crawler.signals
        signals_.connect(self._item_scraped, signal=signals.item_scraped)
        signals_.connect(self._item_dropped, signal=signals.item_dropped)
        signals_.connect(self._item_error, signal=signals.item_error)

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

    # Fields the spider asks the API for whatever the config's ``fields`` (videos: id,
    # create_time).
    needed_fields: ClassVar[tuple[str, ...]] = ()

    def first_cursor(self, chain: Chain) -> Any:
        """Cursor for a chain's first page (None: send none)."""
        return chain.endpoint.first_cursor

    # --- start ---------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        self._open_store()
        stored = self.store.load() if self.store else {}
        finished = sum(1 for s in stored.values() if s.finished)
        self._pages_at_start = sum(s.pages for s in stored.values())
        if stored:
            logger.info(
                "Resuming from %s: %d chains stored, %d finished.",
                self.store.path,
                len(stored),
                finished,
            )
        try:
            chains = list(self._all_chains(stored))
        except ConfigError as error:  # e.g. an input file that has gone missing
            logger.error("Config: %s", error)
            raise CloseSpider("config_error") from None
        for chain in chains:
            state = stored.get(chain.id) or ChainState(chain.id)
            if state.state == FAILED:  # a chain that ended incomplete last time: again
                state = copy_state(state, state=OPEN, reason=None, empty_pages=0)
            state.idle_restarts = 0
            self.states[chain.id] = state
            if state.finished:
                continue
            request = self._page_request(chain, state)
            if state.search_id and chain.endpoint.sends_search_id:
                # A search_id stored by an earlier run is likely expired (or from another
                # server): when the API says so, continue without it at once instead of
                # spending TIKTOK_SEARCH_ID_RETRY_TIMES requests on retries meant for a
                # just-issued one.
                request.meta[meta.SEARCH_ID_RETRIES] = self.settings.getint(
                    "TIKTOK_SEARCH_ID_RETRY_TIMES"
                )
            yield request

    def _all_chains(self, stored: dict[str, ChainState]) -> Iterator[Chain]:
        for chain in self.plan():
            self.chains[chain.id] = chain
            yield chain
        for chain_id, state in stored.items():  # chains born from splits in earlier runs
            if chain_id not in self.chains and state.spec:
                chain = Chain.from_spec(chain_id, state.spec)
                self.chains[chain_id] = chain
                yield chain

    def _open_store(self) -> None:
        jobdir = self.settings.get("JOBDIR")
        self.crawler.stats.set_value("tiktok/crawl_id", self.crawl_id)
        try:
            if jobdir:
                self._lock = JobdirLock(jobdir).acquire()
            self.store = CheckpointStore(jobdir)
        except JobdirLocked as error:
            logger.error("%s.", error)
            raise CloseSpider("jobdir_locked") from None
        except CheckpointError as error:
            logger.error("JOBDIR %s: %s.", jobdir, error)
            raise CloseSpider("checkpoint_error") from None
        job_id = self.store.get_meta("job_id") or self.crawl_id
        runs = int(self.store.get_meta("runs") or 0) + 1
        self.store.set_meta("job_id", job_id)
        self.store.set_meta("runs", runs)
        self.crawler.stats.set_value("tiktok/job_id", job_id)
        self.crawler.stats.set_value("tiktok/run", runs)
        for warning in self.config.warnings:
            logger.warning("Config: %s", warning)
        fingerprint = self.config.fingerprint()
        stored = self.store.get_meta("config_fingerprint")
        if stored and stored != fingerprint and not self.force:
            logger.error(
                "JOBDIR %s belongs to a crawl with a different config; resume with the same "
                "config, use a new JOBDIR, or add -a force=true to resume anyway.",
                jobdir,
            )
            raise CloseSpider("config_mismatch")
        if self.store.get_meta("finished") and not self.force:
            logger.info(
                "The crawl in JOBDIR %s is complete: nothing to do (use a new JOBDIR for a new "
                "crawl).",
                jobdir,
            )
            self.states.update(self.store.load())  # for the verdict: every chain, as stored
            raise CloseSpider("already_finished")
        self.store.set_meta("config_fingerprint", fingerprint)
        self.store.set_meta("config", self.config.to_jsonable())
        self.store.set_meta("spider", self.name)

    # --- requests ------------------------------------------------------------------------
    def _page_request(self, chain: Chain, state: ChainState) -> JsonRequest:
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
        self.expected[chain.id] = (state.epoch, state.page)
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

    def admit(self, request: Request) -> bool:
        """Let through only the one request each chain expects next (see ChainGate)."""
        chain_id = request.meta.get(meta.CHAIN)
        if chain_id is None:
            return True
        key = (request.meta.get(meta.EPOCH, 0), request.meta.get(meta.PAGE, 0))
        if self.expected.get(chain_id) != key:
            return False
        owner = self._claims.get(chain_id)
        claim = request.meta.get(meta.CLAIM)
        if owner is None or owner[0] != key:
            claim = uuid.uuid4().hex
            request.meta[meta.CLAIM] = claim
            self._claims[chain_id] = (key, claim)
            return True
        return owner[1] == claim

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
        try:
            payload = response.json()
        except (ValueError, AttributeError):
            payload = None
        classified = classify(response.status, payload if payload is not None else response.body)
        outcome = Outcome(response.meta.get(meta.OUTCOME) or classified.outcome)
        data = (payload or {}).get("data") or {} if isinstance(payload, dict) else {}
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
        """The chain a response answers and its state, or None for a stale response (an
        earlier page or epoch of its chain, e.g. a duplicate after a resume)."""
        chain = self.chains[response.meta[meta.CHAIN]]
        state = self.states[chain.id]
        page, epoch = response.meta[meta.PAGE], response.meta.get(meta.EPOCH, 0)
        if (epoch, page) != (state.epoch, state.page):
            self.crawler.stats.inc_value("tiktok/pages/stale")
            return None
        return chain, state

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
        self.states[chain.id] = new_state
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
        key: PageKey = (chain.id, state.epoch, state.page)
        for item in items:
            item["_crawl"] = dict(crawl)
        if status == OPEN:
            self.expected[chain.id] = (new_state.epoch, new_state.page)
            then: Callable[[], None] | None = partial(self._schedule, chain, new_state)
            if not (self.store and self.store.durable) and not self.tracker.pending(chain.id):
                # No JOBDIR, so no checkpoint for a kill to outrun: ask for the next page
                # while this one's items are handed on (at most two pages of a chain held).
                then()
                then = None
        else:
            self.expected.pop(chain.id, None)
            then = None
        self.crawler.stats.inc_value("tiktok/items", len(items))
        # A page without items commits (and requests its successor) at once; one with
        # items when the last of them has been handed on.
        self.tracker.page_parsed(key, len(items), new_state, then)
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
        """Register chains born at run time (cuts, splits), save them, request their pages.

        A child an earlier run already saved (it was killed before its parent's page was
        committed) keeps its stored state. Saved at once, before the parent's end is
        committed, so a kill in between loses no ground.
        """
        requests = []
        for child, child_state in children:
            if child.id in self.states:
                continue
            self.chains[child.id] = child
            child_state.spec = child.spec()
            self.states[child.id] = child_state
            if self.store:
                self.store.save(child_state)
            requests.append(self._page_request(child, child_state))
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
        if self.states.get(chain.id) is state:
            self.crawler.engine.crawl(self._page_request(chain, state))

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
            "crawl_id": self.crawl_id,
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
        chain = self.chains.get(request.meta.get(meta.CHAIN))
        if chain is None:
            return
        state = self.states[chain.id]
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
        new_state = copy_state(state, state=status, reason=reason[:500])
        self.states[chain.id] = new_state
        self.expected.pop(chain.id, None)
        self.crawler.stats.inc_value(f"tiktok/chains/{status}")
        self.tracker.page_parsed((chain.id, state.epoch, state.page), 0, new_state)

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
        self.states[chain.id] = new_state
        self.tracker.page_parsed((chain.id, state.epoch, state.page), 0, new_state)
        yield self._page_request(chain, new_state)

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

    def _commit(self, state: ChainState) -> None:
        flush_feeds()  # the page's exported lines reach the OS before its checkpoint
        if self.store:
            self.store.save(state)
        self.chain_committed(state)

    def chain_committed(self, state: ChainState) -> None:
        """Hook: a chain's state was just committed (the network spider grows levels here)."""

    # --- page records --------------------------------------------------------------------
    def _base_record(self, chain: Chain, state: ChainState, body: bytes | str | None) -> dict:
        record = {
            "crawl_id": self.crawl_id,
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
        state = self.states[chain.id]
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

    # --- item bookkeeping ----------------------------------------------------------------
    @staticmethod
    def _item_key(item: Any) -> PageKey | None:
        crawl = item.get("_crawl") if isinstance(item, dict) else None
        if not crawl or "chain" not in crawl:
            return None
        return (crawl["chain"], crawl.get("epoch", 0), crawl.get("page", 0))

    def _item_scraped(self, item: Any) -> None:
        # Counted here for the project's CoreStats, which has no per-item receiver.
        self.crawler.stats.inc_value("item_scraped_count")
        if (key := self._item_key(item)) is not None:
            self.tracker.item_done(key)

    def _item_dropped(self, item: Any) -> None:
        if (key := self._item_key(item)) is not None:
            self.tracker.item_done(key)

    def _item_error(self, item: Any) -> None:
        if (key := self._item_key(item)) is not None:
            self.tracker.item_done(key, ok=False)

    # --- the end -------------------------------------------------------------------------
    def progress(self) -> dict[str, int]:
        """Chains by state, pages and items so far (for the progress log line)."""
        counts: dict[str, int] = {}
        for state in self.states.values():
            counts[state.state] = counts.get(state.state, 0) + 1
        return {
            "chains": len(self.states),
            "done": counts.get(DONE, 0) + counts.get(SPLIT, 0),
            "failed": counts.get(FAILED, 0),
            "pages": sum(s.pages for s in self.states.values()),
            "items": int(self.crawler.stats.get_value("tiktok/items", 0)),
            "requests": self.requests_sent,
        }

    def incomplete_chains(self) -> list[ChainState]:
        """Chains that have not ended with all their data (failed, stalled, never ended)."""
        return [s for s in self.states.values() if not s.finished]

    def _spider_idle(self) -> None:
        # Nothing left to request: Scrapy would close with "finished". Never say so while
        # a chain is missing data.
        if self.incomplete_chains():
            raise CloseSpider(INCOMPLETE_CHAINS)

    def verdict(self, reason: str) -> tuple[str, str | None]:
        """``(complete|incomplete, why)`` over the whole crawl (every run of the JOBDIR)."""
        if reason in ("finished", "already_finished") and not self.incomplete_chains():
            return COMPLETE, None
        return INCOMPLETE, INCOMPLETE_CHAINS if reason == "finished" else reason

    def resume_command(self) -> str:
        """The command that continues this crawl (retries what is missing)."""
        config = self.config_arg or ""
        if any(c in config for c in " '\"{}"):
            config = "'" + config.replace("'", "'\\''") + "'"
        jobdir = self.settings.get("JOBDIR")
        command = f"scrapy crawl {self.name} -a config={config}"
        return f"{command} -s JOBDIR={jobdir}" if jobdir else command

    def _spider_closed(self, reason: str) -> None:
        stats = self.crawler.stats
        progress = self.progress()
        pages_needed = progress["pages"] - self._pages_at_start
        ratio = self.requests_sent / pages_needed if pages_needed else None
        stats.set_value("tiktok/requests_sent", self.requests_sent)
        stats.set_value("tiktok/pages_needed", pages_needed)
        if ratio is not None:
            stats.set_value("tiktok/requests_per_page", round(ratio, 4))
        per_request = progress["items"] / self.requests_sent if self.requests_sent else None
        if per_request is not None:
            stats.set_value("tiktok/records_per_request", round(per_request, 2))
        verdict, why = self.verdict(reason)
        missing = self.incomplete_chains()
        stats.set_value("tiktok/verdict", verdict)
        stats.set_value("tiktok/verdict/reason", why or "complete")
        stats.set_value("tiktok/chains/total", progress["chains"])
        stats.set_value("tiktok/chains/incomplete", len(missing))
        if missing:
            stats.set_value("tiktok/chains/incomplete_ids", sorted(s.id for s in missing)[:50])
        if self.store:
            if verdict == COMPLETE and self.store.durable:
                self.store.set_meta("finished", True)
            self.store.set_meta("verdict", {"verdict": verdict, "reason": why})
            self.store.close()
        if self._lock is not None:
            self._lock.release()
        logger.info(
            "Crawl %s closed (%s): %d/%d chains done, %d incomplete, %d items, %d requests for "
            "%d pages (%s requests per page, %s records per request).",
            self.crawl_id,
            reason,
            progress["done"],
            progress["chains"],
            len(missing),
            progress["items"],
            self.requests_sent,
            pages_needed,
            f"{ratio:.3f}" if ratio is not None else "n/a",
            f"{per_request:.1f}" if per_request is not None else "n/a",
        )
        if verdict == COMPLETE:
            logger.info("Verdict: complete — every chain ended with all its data.")
            return
        names = ", ".join(sorted(s.id for s in missing)[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        logger.warning(
            "Verdict: INCOMPLETE (%s)%s. %s",
            why,
            f": chains {names}{more} are missing data" if missing else "",
            f"Retry what is missing with: {self.resume_command()}"
            if self.settings.get("JOBDIR")
            else "Nothing can be resumed without a JOBDIR: run the crawl again with "
            "-s JOBDIR=crawls/NAME to make it resumable.",
        )


def _body_text(body: bytes | str | None) -> str | None:
    if body is None:
        return None
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else body
