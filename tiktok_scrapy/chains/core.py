"""ChainCore: the one owner of a crawl's chain state, and the interface others talk to.

One object per crawl holds every chain and its state, which page each chain expects next
and which request claimed it, the request budget, the page tracker and the checkpoint store
(with the JOBDIR lock). The spider plans chains and turns pages into new states; the chain
gate, progress, the report, daily mode and the network and refresh spiders read and change
that state only through the methods below, never through a spider's attributes. Components
find it with ``core_of(crawler)``, as they find ``crawler.stats``.

The commit protocol, in one place:

1. ``start()``: ``open()`` takes the JOBDIR lock, opens the store and checks the config;
   ``start_chains()`` registers the planned chains (and those born in earlier runs) with
   their stored states, reopening chains that ended incomplete.
2. A chain's request is admitted by the gate only if it is the page the chain ``expect``s
   next and no other request claimed it (``admit()``), and counted against the budget.
3. The spider parses a page into items and the chain's next state, and hands both to
   ``advance()``: the state is committed (feeds flushed first, then the store) only once
   every item of the page has been handed on (``item_scraped``/``item_dropped``), and only
   then is the chain's next page requested. A kill loses at most each chain's page in flight.
4. ``close()`` sums up: stats, the verdict, the store's finished flag, the lock released.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider

from tiktok_scrapy.api.windows import Window
from tiktok_scrapy.chains import meta
from tiktok_scrapy.chains.chain import Chain
from tiktok_scrapy.chains.lock import JobdirLock, JobdirLocked
from tiktok_scrapy.chains.state import (
    DONE,
    FAILED,
    OPEN,
    SPLIT,
    ChainState,
    copy_state,
)
from tiktok_scrapy.chains.store import CheckpointError, CheckpointStore
from tiktok_scrapy.chains.tracker import PageKey, PageTracker
from tiktok_scrapy.verdict import COMPLETE, INCOMPLETE, INCOMPLETE_CHAINS

if TYPE_CHECKING:
    from tiktok_scrapy.config import CrawlConfig

logger = logging.getLogger(__name__)

_ATTRIBUTE = "tiktok_chains"  # where the crawler carries its core (see core_of)


def core_of(crawler: Crawler | None) -> ChainCore | None:
    """The crawl's chain core, or None when the crawl is not one of this project's spiders."""
    return getattr(crawler, _ATTRIBUTE, None)


class ChainCore:
    """Chains, their states, claims, budget, tracker and checkpoint store of one crawl."""

    def __init__(
        self,
        crawler: Crawler,
        config: CrawlConfig | None,
        *,
        spider_name: str,
        config_arg: str | None = None,
        force: bool = False,
    ) -> None:
        self.crawler = crawler
        self.config = config
        self.spider_name = spider_name
        self.config_arg = config_arg  # how the config was given, for the "retry with" line
        self.force = force
        self.crawl_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.chains: dict[str, Chain] = {}  # read-only outside this class
        self._states: dict[str, ChainState] = {}  # in memory, ahead of the committed ones
        self._expected: dict[str, tuple[int, int]] = {}  # chain → (epoch, page) allowed next
        self._claims: dict[str, tuple[tuple[int, int], str]] = {}
        self.store: CheckpointStore | None = None
        self._lock: JobdirLock | None = None
        self._reopen_prefixes: tuple[str, ...] | None = None
        self._before_commit: list[Callable[[], None]] = []
        self._committed: list[Callable[[ChainState], None]] = []
        self._last_committed: dict[str, ChainState] = {}  # as the store holds them
        self.tracker = PageTracker(self._commit, defer=_call_soon)
        self.requests_sent = 0
        self._pages_at_start = 0
        setattr(crawler, _ATTRIBUTE, self)
        crawler.signals.connect(self._connect_item_signals, signal=signals.spider_opened)

    # --- wiring ------------------------------------------------------------------------
    @property
    def settings(self) -> Any:
        return self.crawler.settings

    @property
    def stats(self) -> Any:
        return self.crawler.stats

    def before_commit(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call ``hook()`` before each commit (feed files hand their lines to the OS);
        returns the function that stops it (a closed feed file)."""
        self._before_commit.append(hook)
        return lambda: self._before_commit.remove(hook)

    def on_commit(self, hook: Callable[[ChainState], None]) -> None:
        """Call ``hook(state)`` after each chain state is committed (network levels)."""
        self._committed.append(hook)

    def reopen_finished(self, prefixes: Iterable[str]) -> None:
        """Before ``open()``: finished chains whose ids start with one of ``prefixes`` start
        over, and the job is no longer finished (daily mode's re-crawled days)."""
        self._reopen_prefixes = tuple(prefixes)

    def _connect_item_signals(self) -> None:
        signals_ = self.crawler.signals
        signals_.connect(self._item_scraped, signal=signals.item_scraped)
        signals_.connect(self._item_dropped, signal=signals.item_dropped)
        signals_.connect(self._item_error, signal=signals.item_error)

    # --- opening -----------------------------------------------------------------------
    def open(self) -> dict[str, ChainState]:
        """Lock the JOBDIR, open the store, check the config; the states stored so far.

        Raises ``CloseSpider`` (jobdir_locked, checkpoint_error, config_mismatch,
        already_finished) when the crawl must not go on.
        """
        jobdir = self.settings.get("JOBDIR")
        self.stats.set_value("tiktok/crawl_id", self.crawl_id)
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
        store = self.store
        job_id = store.get_meta("job_id") or self.crawl_id
        runs = int(store.get_meta("runs") or 0) + 1
        store.set_meta("job_id", job_id)
        store.set_meta("runs", runs)
        self.stats.set_value("tiktok/job_id", job_id)
        self.stats.set_value("tiktok/run", runs)
        assert self.config is not None
        for warning in self.config.warnings:
            logger.warning("Config: %s", warning)
        fingerprint = self.config.fingerprint()
        stored_fingerprint = store.get_meta("config_fingerprint")
        if stored_fingerprint and stored_fingerprint != fingerprint and not self.force:
            logger.error(
                "JOBDIR %s belongs to a crawl with a different config; resume with the same "
                "config, use a new JOBDIR, or add -a force=true to resume anyway.",
                jobdir,
            )
            raise CloseSpider("config_mismatch")
        if self._reopen_prefixes is not None:
            self._reopen(store, self._reopen_prefixes)
        if store.get_meta("finished") and not self.force:
            logger.info(
                "The crawl in JOBDIR %s is complete: nothing to do (use a new JOBDIR for a new "
                "crawl).",
                jobdir,
            )
            self._states.update(store.load())  # for the verdict: every chain, as stored
            raise CloseSpider("already_finished")
        store.set_meta("config_fingerprint", fingerprint)
        store.set_meta("config", self.config.to_jsonable())
        store.set_meta("spider", self.spider_name)
        stored = store.load()
        self._last_committed.update(stored)
        self._pages_at_start = sum(s.pages for s in stored.values())
        if stored:
            logger.info(
                "Resuming from %s: %d chains stored, %d finished.",
                store.path,
                len(stored),
                sum(1 for s in stored.values() if s.finished),
            )
        return stored

    @staticmethod
    def _reopen(store: CheckpointStore, prefixes: tuple[str, ...]) -> None:
        store.set_meta("finished", False)
        for chain_id, state in store.load().items():
            if prefixes and chain_id.startswith(prefixes) and state.finished:
                store.save(ChainState(chain_id, spec=state.spec))

    def start_chains(
        self, planned: Iterable[Chain], stored: dict[str, ChainState]
    ) -> Iterator[tuple[Chain, ChainState]]:
        """Register the planned chains and those born in earlier runs (from their stored
        specs) with their states; yield the ones with pages left. A chain that ended
        incomplete last time is open again."""
        for chain in self._with_stored(planned, stored):
            state = stored.get(chain.id) or ChainState(chain.id)
            if state.state == FAILED:
                state = copy_state(state, state=OPEN, reason=None, empty_pages=0)
            state.idle_restarts = 0
            self._states[chain.id] = state
            if not state.finished:
                yield chain, state

    def _with_stored(
        self, planned: Iterable[Chain], stored: dict[str, ChainState]
    ) -> Iterator[Chain]:
        for chain in planned:
            self.chains[chain.id] = chain
            yield chain
        for chain_id, state in stored.items():  # chains born from splits in earlier runs
            if chain_id not in self.chains and state.spec:
                chain = Chain.from_spec(chain_id, state.spec)
                self.chains[chain_id] = chain
                yield chain

    def add(self, chain: Chain, state: ChainState | None = None) -> ChainState | None:
        """Register a chain born at run time and save it at once (before its parent's end is
        committed, so a kill in between loses no ground). A chain already known keeps its
        state (an earlier run saved it): None."""
        if chain.id in self._states:
            return None
        state = state or ChainState(chain.id)
        state.spec = chain.spec()
        self.chains[chain.id] = chain
        self._states[chain.id] = state
        if self.store:
            self.store.save(state)
        return state

    # --- reading -----------------------------------------------------------------------
    def state(self, chain_id: str) -> ChainState:
        """A chain's current (in-memory) state."""
        return self._states[chain_id]

    def states(self) -> list[ChainState]:
        """Every chain's current state."""
        return list(self._states.values())

    def is_current(self, chain_id: str, state: ChainState) -> bool:
        """Whether ``state`` is still the chain's state (nothing moved it on meanwhile)."""
        return self._states.get(chain_id) is state

    def committed(self, chain_id: str) -> ChainState | None:
        """A chain's last committed state (stored by an earlier run or committed in this
        one), or None."""
        return self._last_committed.get(chain_id)

    def job_meta(self, key: str) -> Any:
        """A value the JOBDIR keeps for the whole job (None without a store)."""
        return self.store.get_meta(key) if self.store else None

    def set_job_meta(self, key: str, value: Any) -> None:
        """Keep ``value`` for the whole job (nothing is kept before ``open()``)."""
        if self.store:
            self.store.set_meta(key, value)

    def families(self) -> set[str]:
        """Quota families of the chains so far (progress shows their quota left)."""
        return {chain.endpoint.family.value for chain in self.chains.values()}

    def knows(self, chain_id: str) -> bool:
        return chain_id in self._states

    def windows(self) -> list[tuple[Window | None, str]]:
        """``(window, state)`` of every chain (daily mode's days)."""
        return [
            (chain.window, self._states[chain.id].state)
            for chain in self.chains.values()
            if chain.id in self._states
        ]

    def current(self, response: Any) -> tuple[Chain, ChainState] | None:
        """The chain a response answers and its state, or None for a stale response (an
        earlier page or epoch of its chain, e.g. a duplicate)."""
        chain = self.chains[response.meta[meta.CHAIN]]
        state = self._states[chain.id]
        page, epoch = response.meta[meta.PAGE], response.meta.get(meta.EPOCH, 0)
        if (epoch, page) != (state.epoch, state.page):
            self.stats.inc_value("tiktok/pages/stale")
            return None
        return chain, state

    def pending_pages(self) -> int:
        """Pages parsed whose items have not all been handed on yet."""
        return self.tracker.pending_pages()

    def incomplete(self) -> list[ChainState]:
        """Chains that have not ended with all their data (failed, stalled, never ended)."""
        return [s for s in self._states.values() if not s.finished]

    def progress(self) -> dict[str, int]:
        """Chains by state, pages and items so far (for the progress log line)."""
        counts: dict[str, int] = {}
        for state in self._states.values():
            counts[state.state] = counts.get(state.state, 0) + 1
        return {
            "chains": len(self._states),
            "done": counts.get(DONE, 0) + counts.get(SPLIT, 0),
            "failed": counts.get(FAILED, 0),
            "pages": sum(s.pages for s in self._states.values()),
            "items": int(self.stats.get_value("tiktok/items", 0)),
            "requests": self.requests_sent,
        }

    # --- the gate ----------------------------------------------------------------------
    def expect(self, chain_id: str, state: ChainState) -> None:
        """The chain's next request is the one for ``state``'s page."""
        self._expected[chain_id] = (state.epoch, state.page)

    def expects(self, chain_id: str) -> bool:
        return chain_id in self._expected

    def admit(self, request: Request) -> bool:
        """Whether ``request`` may be sent: exactly one request claims the page each chain
        expects next; stale and duplicate ones are refused."""
        chain_id = request.meta.get(meta.CHAIN)
        if chain_id is None:
            return True
        key = (request.meta.get(meta.EPOCH, 0), request.meta.get(meta.PAGE, 0))
        if self._expected.get(chain_id) != key:
            return False
        owner = self._claims.get(chain_id)
        claim = request.meta.get(meta.CLAIM)
        if owner is None or owner[0] != key:
            claim = uuid.uuid4().hex
            request.meta[meta.CLAIM] = claim
            self._claims[chain_id] = (key, claim)
            return True
        return owner[1] == claim

    @property
    def budget(self) -> int | None:
        """The config's ``max_requests``: data requests this run may send (None: no limit)."""
        return getattr(self.config, "max_requests", None)

    def budget_spent(self) -> bool:
        return self.budget is not None and self.requests_sent >= self.budget

    def count_sent(self, request: Request) -> None:
        """The gate let ``request`` go: one more request sent (undone by ``uncount``)."""
        self.requests_sent += 1
        self.stats.inc_value("tiktok/requests_sent")
        request.meta[meta.COUNTED] = True

    def uncount(self, request: Request) -> None:
        """A later middleware refused a counted request (quota spent, no token): not sent."""
        if request.meta.pop(meta.COUNTED, False):
            self.requests_sent -= 1
            self.stats.inc_value("tiktok/requests_sent", -1)

    # --- state changes -----------------------------------------------------------------
    def advance(
        self,
        chain: Chain,
        state: ChainState,
        new_state: ChainState,
        items: int,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Page ``state.page`` of ``chain`` was parsed into ``items`` items and
        ``new_state``: commit it (then call ``then``) once those items are handed on."""
        self._states[chain.id] = new_state
        if new_state.state == OPEN:
            self.expect(chain.id, new_state)
        else:
            self._expected.pop(chain.id, None)
        key: PageKey = (chain.id, state.epoch, state.page)
        self.tracker.page_parsed(key, items, new_state, then)

    def restart(self, chain: Chain, state: ChainState, new_state: ChainState) -> None:
        """The chain starts over from ``new_state`` (a new epoch) after page ``state.page``."""
        self.advance(chain, state, new_state, 0)

    def end(self, chain: Chain, state: ChainState, status: str, reason: str) -> None:
        """End a chain (done, failed, split) after page ``state.page``, with a reason."""
        new_state = copy_state(state, state=status, reason=reason[:500])
        self.stats.inc_value(f"tiktok/chains/{status}")
        self.advance(chain, state, new_state, 0)

    def holds_back(self, chain_id: str) -> bool:
        """Whether pages of the chain are parsed but not yet committed."""
        return bool(self.tracker.pending(chain_id))

    @property
    def durable(self) -> bool:
        """Whether states survive the process (a JOBDIR)."""
        return bool(self.store and self.store.durable)

    def _commit(self, state: ChainState) -> None:
        for hook in self._before_commit:
            hook()  # the page's exported lines reach the OS before its checkpoint
        if self.store:
            self.store.save(state)
        self._last_committed[state.id] = state
        for hook in self._committed:
            hook(state)

    # --- items -------------------------------------------------------------------------
    @staticmethod
    def _item_key(item: Any) -> PageKey | None:
        crawl = item.get("_crawl") if isinstance(item, dict) else None
        if not crawl or "chain" not in crawl:
            return None
        return (crawl["chain"], crawl.get("epoch", 0), crawl.get("page", 0))

    def _item_scraped(self, item: Any) -> None:
        # Counted here for the project's CoreStats, which has no per-item receiver.
        self.stats.inc_value("item_scraped_count")
        if (key := self._item_key(item)) is not None:
            self.tracker.item_done(key)

    def _item_dropped(self, item: Any) -> None:
        if (key := self._item_key(item)) is not None:
            self.tracker.item_done(key)

    def _item_error(self, item: Any) -> None:
        if (key := self._item_key(item)) is not None:
            self.tracker.item_done(key, ok=False)

    # --- the end -----------------------------------------------------------------------
    def verdict(self, reason: str) -> tuple[str, str | None]:
        """``(complete|incomplete, why)`` over the whole crawl (every run of the JOBDIR)."""
        if reason in ("finished", "already_finished") and not self.incomplete():
            return COMPLETE, None
        return INCOMPLETE, INCOMPLETE_CHAINS if reason == "finished" else reason

    def resume_command(self) -> str:
        """The command that continues this crawl (retries what is missing)."""
        config = self.config_arg or ""
        if any(c in config for c in " '\"{}"):
            config = "'" + config.replace("'", "'\\''") + "'"
        jobdir = self.settings.get("JOBDIR")
        command = f"scrapy crawl {self.spider_name} -a config={config}"
        return f"{command} -s JOBDIR={jobdir}" if jobdir else command

    def close(self, reason: str) -> None:
        """Stats, the verdict and its log lines; the store's finished flag; the lock freed."""
        stats = self.stats
        progress = self.progress()
        pages_needed = progress["pages"] - self._pages_at_start
        sent = self.requests_sent
        ratio = sent / pages_needed if pages_needed else None
        stats.set_value("tiktok/requests_sent", sent)
        stats.set_value("tiktok/pages_needed", pages_needed)
        if ratio is not None:
            stats.set_value("tiktok/requests_per_page", round(ratio, 4))
        per_request = progress["items"] / sent if sent else None
        if per_request is not None:
            stats.set_value("tiktok/records_per_request", round(per_request, 2))
        verdict, why = self.verdict(reason)
        missing = self.incomplete()
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
            sent,
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


def _call_soon(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current signal dispatch is over.

    A page commits when its last item fires ``item_scraped``; the feed exporter writes that
    item in its own ``item_scraped`` receiver. Deferring the commit to the event loop's next
    turn makes it follow every receiver, whatever order they were connected in.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop (unit tests): nothing else is dispatching
        callback()
        return
    loop.call_soon(callback)
