"""refresh: check stored videos and comments; list (and on request purge) what is gone.

``scrapy crawl refresh -a config=examples/refresh.yaml``. TikTok's research terms ask for
stored data to be refreshed regularly (every 15 days) and for what is no longer available
to be deleted (docs/compliance.md). The ids come from ``from_output`` (a videos or comments
output, a crawl's output folder, or an id list with ``category``), else from MongoDB
(``videos`` and ``comments`` last seen before the cutoff), and only those last crawled more
than ``older_than_days`` ago are checked.

- ``method: compliance`` (default): one batch compliance task per 10,000 ids of a category
  (``TIKTOK_COMPLIANCE_BATCH_IDS``): create it (multipart upload), poll its status with
  growing pauses (``TIKTOK_COMPLIANCE_POLL_INTERVAL`` .. ``_POLL_MAX``, taken in the
  callback, so no download slot is held), download the ids still valid. A task id is a
  checkpoint: a killed refresh resumed with its JOBDIR polls the same task again. A Failed
  task is created anew (``TIKTOK_COMPLIANCE_TASK_RETRIES`` times).
- ``method: requery``: videos only, asked back with the video query ``video_id IN [...]``
  (100 ids a request, within 30-day windows of their creation day); the videos returned
  are yielded again (fresh counts and snapshots).

Ids not confirmed are unavailable: ``unavailable.jsonl`` (``{"id", "category",
"unavailable_since"}``) and with MongoDB ``unavailable_since`` on the stored document.
``purge: true`` then deletes them (``tiktok_scrapy.purge``) once every check is done.
Stats ``tiktok/refresh/*``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from scrapy import Request
from scrapy.exceptions import CloseSpider
from scrapy.http import JsonRequest, Response

from tiktok_scrapy.api.endpoints import (
    ENDPOINTS,
    MAX_WINDOW_DAYS,
    TASK_COMPLETED,
    TASK_FAILED,
    TASK_PROCESSING,
    BodyKind,
    Pagination,
)
from tiktok_scrapy.api.errors import Outcome, classification
from tiktok_scrapy.api.windows import Window
from tiktok_scrapy.chains import DONE, FAILED, Chain, ChainState, copy_state, meta
from tiktok_scrapy.compliance import (
    COLLECTIONS,
    multipart_body,
    poll_delay,
    task_batches,
    valid_ids,
)
from tiktok_scrapy.config import ConfigError, RefreshConfig
from tiktok_scrapy.items import ApiItem, Unavailable, Video
from tiktok_scrapy.spiders.base import ResearchApiSpider
from tiktok_scrapy.storage.backend import mongodb_uri

logger = logging.getLogger(__name__)

IDS_PER_REQUEST = 100  # requery: one page holds them all (max_count 100), deleted ones too
CREATE = ENDPOINTS["validation_task_create"]
STATUS = ENDPOINTS["validation_task_status"]
DOWNLOAD = ENDPOINTS["validation_task_download"]
BATCHES_KEY = "refresh_batches"  # JOBDIR meta: the task files, fixed at the first run


def day_of_id(video_id: int) -> date:
    """The UTC day a video was created: its id's upper 32 bits are the create_time."""
    return datetime.fromtimestamp(video_id >> 32, UTC).date()


def batches(
    ids: list[int], size: int = IDS_PER_REQUEST, max_days: int = MAX_WINDOW_DAYS
) -> list[tuple[Window, list[int]]]:
    """Ids sorted by creation day, cut into batches of <= ``size`` within <= ``max_days``."""
    out: list[tuple[Window, list[int]]] = []
    batch: list[int] = []
    for video_id in sorted(set(ids), key=lambda i: (day_of_id(i), i)):
        day = day_of_id(video_id)
        if batch and (len(batch) >= size or (day - day_of_id(batch[0])).days >= max_days):
            out.append((Window(day_of_id(batch[0]), day_of_id(batch[-1])), batch))
            batch = []
        batch.append(video_id)
    if batch:
        out.append((Window(day_of_id(batch[0]), day_of_id(batch[-1])), batch))
    return out


class RefreshSpider(ResearchApiSpider):
    name = "refresh"
    endpoint_name = "videos"
    item_class = Video
    config: RefreshConfig
    plan_is_cheap = False

    @property
    def item_classes(self) -> tuple[type, ...]:
        """Feeds to write: fresh videos only when re-querying them."""
        requery = self.config is not None and self.config.method == "requery"
        return (Video, Unavailable) if requery else (Unavailable,)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unavailable: Counter[str] = Counter()
        self.checked: Counter[str] = Counter()
        self.sources: dict[str, list] = {}  # category -> files read (purge cleans them)

    def parse_page(self, response: Response) -> Iterator[Any]:
        """As every spider's, but without ``scrapy check`` contracts: a refresh's inputs are
        a previous crawl's stored videos, which a cassette cannot carry."""
        return super().parse_page(response)

    @property
    def cutoff(self) -> datetime:
        """Records last seen before this are due for a check."""
        return datetime.now(UTC) - timedelta(days=self.config.older_than_days)

    # --- inputs ----------------------------------------------------------------------
    def stored_ids(self) -> dict[str, list[int]]:
        """Ids per category of stored records last seen before the cutoff."""
        if self.config.from_output:
            stored = self.config.inputs()  # a wrong kind of input is a ConfigError here
            self.sources = {k: list(v) for k, v in stored.files.items()}
            return {
                category: sorted(i for i, seen in ids.items() if self._old(seen))
                for category, ids in stored.ids.items()
            }
        uri = mongodb_uri(self.settings)
        if uri:
            return self._ids_from_mongodb(uri)
        logger.error(
            "refresh: nothing to check — give from_output: <a videos or comments crawl's "
            "output folder or file, or an id list with category>, or set MONGODB_URI"
        )
        raise CloseSpider("no_input")

    def _old(self, seen: datetime | None) -> bool:
        return seen is None or seen.astimezone(UTC) <= self.cutoff

    def _categories(self) -> list[str]:
        if self.config.method == "requery":
            return ["video"]
        return [self.config.category] if self.config.category else list(COLLECTIONS)

    def _ids_from_mongodb(self, uri: str) -> dict[str, list[int]]:
        from tiktok_scrapy.storage.mongo import make_client

        client = make_client(self.settings, uri)
        try:
            db = client[self.settings.get("MONGODB_DATABASE")]
            query = {"last_seen": {"$lte": self.cutoff}, "unavailable_since": {"$exists": False}}
            return {
                category: sorted(
                    int(doc["id"])
                    for doc in db[COLLECTIONS[category]].find(query, {"id": 1})
                    if str(doc.get("id", "")).isdigit()
                )
                for category in self._categories()
            }
        finally:
            client.close()

    # --- chains --------------------------------------------------------------------------
    def plan(self) -> Iterator[Chain]:
        if self.config.method == "requery":
            yield from self._requery_chains()
        else:
            yield from self._task_chains()

    def _task_chains(self) -> Iterator[Chain]:
        """One chain per task file; the files are fixed in the JOBDIR at the first run, so a
        resumed refresh asks about the same ids under the same task ids."""
        planned = self.core.job_meta(BATCHES_KEY)
        if planned is None:
            size = self.settings.getint("TIKTOK_COMPLIANCE_BATCH_IDS")
            planned = [
                {"id": f"compliance:{category}:{number}", "category": category, "ids": batch}
                for category, ids in self.stored_ids().items()
                for number, batch in enumerate(task_batches(ids, size))
            ]
            # (Under `scrapy plan` no JOBDIR is open: nothing is kept.)
            self.core.set_job_meta(BATCHES_KEY, planned)
            sources = {k: [str(p) for p in v] for k, v in self.sources.items()}
            self.core.set_job_meta("refresh_sources", sources)
            counts = Counter[str]()
            for batch in planned:
                counts[batch["category"]] += len(batch["ids"])
            logger.info(
                "refresh: %s last seen before %s to check in %d compliance task(s).",
                " and ".join(f"{n} {c}s" for c, n in counts.items()) or "nothing",
                self.cutoff.isoformat(timespec="seconds"),
                len(planned),
            )
        else:
            self.sources = self.core.job_meta("refresh_sources") or {}
        for batch in planned:
            yield Chain(
                id=batch["id"],
                endpoint=CREATE,
                body={"category": batch["category"]},
                input=f"{len(batch['ids'])} {batch['category']} ids",
                extra={"category": batch["category"], "ids": batch["ids"]},
            )

    def _requery_chains(self) -> Iterator[Chain]:
        ids = self.stored_ids().get("video", [])
        logger.info(
            "refresh: %d stored videos last seen before %s.",
            len(ids),
            self.cutoff.isoformat(timespec="seconds"),
        )
        for number, (window, batch) in enumerate(batches(ids, self.config.max_count)):
            start, end = window.api_dates()
            yield Chain(
                id=f"refresh:{start}-{end}:{number}",
                endpoint=self.endpoint,
                body={
                    "query": {
                        "and": [
                            {
                                "field_name": "video_id",
                                "operation": "IN",
                                "field_values": [str(i) for i in batch],
                            }
                        ]
                    },
                    "start_date": start,
                    "end_date": end,
                    "max_count": self.config.max_count,
                },
                input=str(window),
                window=window,
                fields=tuple(self.config.fields),
            )

    # --- requery: videos returned are fresh copies; the rest are gone ---------------------
    def make_items(
        self, chain: Chain, records: list, data: dict, state: ChainState, done: bool
    ) -> list[ApiItem]:
        videos = [Video(r) for r in records if isinstance(r, dict) and "id" in r]
        seen = [*state.extra.get("seen", []), *(v["id"] for v in videos)]
        state.extra = {**state.extra, "seen": seen}
        if not done:
            return videos
        asked = [int(v) for v in chain.body["query"]["and"][0]["field_values"]]
        gone = sorted(set(asked) - set(seen))
        state.extra = {**state.extra, "category": "video", "gone": gone, "checked": len(asked)}
        return [*videos, *self._found("video", asked, gone)]  # type: ignore[list-item]

    def _found(self, category: str, asked: list[int], gone: list[int]) -> list[Unavailable]:
        """Count a finished check; the items for the unavailable ids (the MongoDB pipeline
        marks their stored records)."""
        since = datetime.now(UTC).isoformat(timespec="seconds")
        self.checked[category] += len(asked)
        self.unavailable[category] += len(gone)
        stats = self.crawler.stats
        stats.inc_value("tiktok/refresh/checked", len(asked))
        stats.inc_value("tiktok/refresh/unavailable", len(gone))
        stats.inc_value(f"tiktok/refresh/checked/{category}", len(asked))
        stats.inc_value(f"tiktok/refresh/unavailable/{category}", len(gone))
        return [
            Unavailable({"id": i, "category": category, "unavailable_since": since}) for i in gone
        ]

    # --- compliance tasks: create, poll, download -----------------------------------------
    def page_request(self, chain: Chain, state: ChainState) -> Request:
        if chain.endpoint.pagination is not Pagination.TASK:
            return super().page_request(chain, state)
        task_id = state.extra.get("task_id")
        if task_id is None:
            endpoint = CREATE
        elif state.extra.get("status") == TASK_COMPLETED:
            endpoint = DOWNLOAD
        else:
            endpoint = STATUS
        self.core.expect(chain.id, state)
        request_meta = {
            meta.CHAIN: chain.id,
            meta.ENDPOINT: endpoint.name,
            meta.PAGE: state.page,
            meta.EPOCH: state.epoch,
            "handle_httpstatus_all": True,
        }
        url = endpoint.url(self.api_url)
        if endpoint.body_kind is BodyKind.MULTIPART:
            body, content_type = multipart_body(chain.extra["category"], chain.extra["ids"])
            return Request(
                url,
                method="POST",
                body=body,
                headers={"Content-Type": content_type},
                callback=self.parse_task,
                errback=self.page_failed,
                dont_filter=True,
                meta=request_meta,
            )
        return JsonRequest(
            url,
            data={"task_id": task_id},  # as the API sent it: an int above 2**63 stays exact
            callback=self.parse_task,
            errback=self.page_failed,
            dont_filter=True,
            meta=request_meta,
        )

    async def parse_task(self, response: Response) -> AsyncIterator[Any]:
        """One step of a compliance task: record the page, commit the chain's new state
        (a new task id first of all), then pause and ask for the next step."""
        current = self.chain_of(response)
        if current is None:
            return
        chain, state = current
        endpoint = ENDPOINTS[response.meta[meta.ENDPOINT]]
        classified = classification(response)
        outcome = Outcome(response.meta.get(meta.OUTCOME) or classified.outcome)
        payload = classified.payload or {}
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        record = self._page_record(response, chain, classified, outcome, data)
        record["endpoint"] = endpoint.name
        if endpoint is CREATE:
            ids = chain.extra["ids"]
            record["request_body"] = f"category={chain.extra['category']}, file_data={len(ids)} ids"
        self.crawler.stats.inc_value(f"tiktok/pages/{outcome.value}")
        self._send_record(record)

        if outcome is not Outcome.OK:
            new_state = self._task_trouble(chain, state, endpoint, outcome, classified)
            if new_state is None:
                return
            items: list[Any] = []
            delay = 0.0
        elif endpoint is CREATE:
            new_state, items, delay = self._created(chain, state, data, classified.log_id)
        elif endpoint is STATUS:
            new_state, items, delay = self._polled(chain, state, data)
        else:
            new_state, items, delay = self._downloaded(chain, state, response, classified, data)
        # From now on the gate drops any copy of the step just answered; the new state is
        # committed at once if there are no items.
        self.core.advance(chain, state, new_state, len(items))
        for item in items:
            yield item
        if new_state.finished or new_state.state == FAILED:
            return
        if not await self._pause(delay) or not self.core.is_current(chain.id, new_state):
            return  # closing: the checkpoint holds the task; a resume goes on from it
        yield self.page_request(chain, new_state)

    def _created(
        self, chain: Chain, state: ChainState, data: dict, log_id: str | None
    ) -> tuple[ChainState, list, float]:
        task_id = data.get("task_id")
        if (
            isinstance(task_id, bool)
            or not isinstance(task_id, int | str)
            or not str(task_id).isdigit()
        ):
            logger.error(
                "refresh: the create call for %s answered no task id (log_id %s); stopping.",
                chain.id,
                log_id,
            )
            raise CloseSpider("api_error")
        logger.info(
            "refresh: compliance task %s created for %s (%s).", task_id, chain.input, chain.id
        )
        self.crawler.stats.inc_value("tiktok/refresh/tasks_created")
        extra = {**state.extra, "task_id": task_id, "status": TASK_PROCESSING, "polls": 0}
        new_state = copy_state(state, page=state.page + 1, pages=state.pages + 1, extra=extra)
        return new_state, [], self._poll_delay(0)

    def _polled(
        self, chain: Chain, state: ChainState, data: dict
    ) -> tuple[ChainState, list, float]:
        answered = str(data.get("task_status") or "").strip()
        statuses = (TASK_PROCESSING, TASK_COMPLETED, TASK_FAILED)
        status = next((s for s in statuses if s.lower() == answered.lower()), answered)
        extra = dict(state.extra)
        advanced = {"page": state.page + 1, "pages": state.pages + 1}
        self.crawler.stats.inc_value("tiktok/refresh/polls")
        if status == TASK_COMPLETED:
            extra["status"] = TASK_COMPLETED
            return copy_state(state, **advanced, extra=extra), [], 0.0
        if status == TASK_FAILED:
            failed = int(extra.get("failed_tasks", 0)) + 1
            task_id = extra.pop("task_id", None)
            extra.update(failed_tasks=failed, status=None, polls=0)
            retries = self.settings.getint("TIKTOK_COMPLIANCE_TASK_RETRIES")
            self.crawler.stats.inc_value("tiktok/refresh/tasks_failed")
            if failed > retries:
                reason = f"compliance task failed {failed} times (last: {task_id})"
                logger.error("refresh: %s for %s; resume to try again.", reason, chain.id)
                self.crawler.stats.inc_value("tiktok/chains/failed")
                extra["failed_tasks"] = 0  # a resume gets its own tries
                return (
                    copy_state(state, **advanced, extra=extra, state=FAILED, reason=reason),
                    [],
                    0.0,
                )
            logger.warning(
                "refresh: compliance task %s (%s) Failed; creating it again (%d/%d).",
                task_id,
                chain.id,
                failed,
                retries,
            )
            return copy_state(state, **advanced, extra=extra), [], self._poll_delay(failed - 1)
        if status != TASK_PROCESSING:
            logger.warning(
                "refresh: task %s answered status %r; polling on.", extra.get("task_id"), status
            )
        polls = int(extra.get("polls", 0)) + 1
        extra["polls"] = polls
        if polls % 10 == 0:
            logger.info(
                "refresh: task %s still processing after %d polls.", extra.get("task_id"), polls
            )
        return copy_state(state, **advanced, extra=extra), [], self._poll_delay(polls)

    def _downloaded(
        self, chain: Chain, state: ChainState, response: Response, classified: Any, data: dict
    ) -> tuple[ChainState, list, float]:
        if classified.payload is not None:  # an envelope where a file was expected
            found = {
                int(i) for v in data.values() if isinstance(v, list) for i in v if str(i).isdigit()
            }
        else:
            found = valid_ids(response.body)
        category, asked = chain.extra["category"], chain.extra["ids"]
        gone = sorted(set(asked) - found)
        task_id = state.extra.get("task_id")
        if len(asked) > 1 and len(gone) == len(asked):
            if not state.extra.get("all_gone_once"):
                # An empty result would have everything purged: make sure it is no glitch.
                logger.warning(
                    "refresh: task %s says none of its %d %s ids is available; downloading "
                    "the result once more to be sure.",
                    task_id,
                    len(asked),
                    category,
                )
                extra = {**state.extra, "all_gone_once": True}
                return (
                    copy_state(state, page=state.page + 1, pages=state.pages + 1, extra=extra),
                    [],
                    0.0,
                )
            logger.warning(
                "refresh: every one of the %d %s ids of task %s is unavailable — check the "
                "input is what you think it is before purging.",
                len(asked),
                category,
                task_id,
            )
        extra = {**state.extra, "category": category, "gone": gone, "checked": len(asked)}
        new_state = copy_state(
            state,
            page=state.page + 1,
            pages=state.pages + 1,
            extra=extra,
            state=DONE,
            reason="complete",
            items=state.items + len(gone),
        )
        items = self._found(category, asked, gone)
        crawl = self._provenance(chain, state, {}, classified.log_id)
        crawl["endpoint"] = DOWNLOAD.name
        for item in items:
            item["_crawl"] = dict(crawl)
        self.crawler.stats.inc_value("tiktok/items", len(items))
        return new_state, items, 0.0

    def _task_trouble(
        self, chain: Chain, state: ChainState, endpoint: Any, outcome: Outcome, classified: Any
    ) -> ChainState | None:
        """A step that did not work out: the new state to go on from, or None (ended)."""
        message = f"{classified.code}: {classified.message}"
        if outcome is Outcome.QUOTA:
            raise CloseSpider("quota_exhausted")
        if outcome is Outcome.REFRESH_TOKEN:
            logger.error(
                "The API rejected a freshly fetched access token (%s, log_id %s): check that "
                "the client key is approved for the Research API; stopping.",
                message,
                classified.log_id,
            )
            raise CloseSpider("auth_failed")
        if outcome is Outcome.RETRY:  # retries spent: the task id stays for the next run
            logger.warning(
                "refresh: %s of %s failed after retries: %s", endpoint.name, chain.id, message
            )
            self._end_chain(chain, state, FAILED, message)
            return None
        lost = int(state.extra.get("lost_tasks", 0))
        if endpoint is not CREATE and lost < 1:
            # The API does not know the task (expired, or created elsewhere): a new one.
            logger.warning(
                "refresh: %s refused task %s (%s); creating the task again.",
                endpoint.name,
                state.extra.get("task_id"),
                message,
            )
            extra = {
                k: v for k, v in state.extra.items() if k not in ("task_id", "status", "polls")
            }
            extra["lost_tasks"] = lost + 1
            return copy_state(state, page=state.page + 1, pages=state.pages + 1, extra=extra)
        logger.error(
            "The API refused %s of %s: %s (log_id %s). This is a bug in the request or a "
            "missing API approval (scope research.data.basic); stopping.",
            endpoint.name,
            chain.id,
            message,
            classified.log_id,
        )
        self._end_chain(chain, state, FAILED, message)
        raise CloseSpider("api_error")

    def _poll_delay(self, polls: int) -> float:
        return poll_delay(
            polls,
            self.settings.getfloat("TIKTOK_COMPLIANCE_POLL_INTERVAL"),
            self.settings.getfloat("TIKTOK_COMPLIANCE_POLL_MAX"),
        )

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` in the callback (no download slot held); False if the crawl
        started closing meanwhile."""
        end = time.monotonic() + seconds
        while not self._closing():
            left = end - time.monotonic()
            if left <= 0:
                return True
            await asyncio.sleep(min(left, 1.0))
        return False

    def _closing(self) -> bool:
        slot = getattr(self.crawler.engine, "_slot", None)
        return slot is None or getattr(slot, "closing", None) is not None

    # --- the end -------------------------------------------------------------------------
    def findings(self) -> tuple[dict[str, int], dict[str, set[int]]]:
        """Ids checked and ids found unavailable per category, over every finished check of
        this job (this run and the runs it resumed)."""
        checked: Counter[str] = Counter()
        gone: dict[str, set[int]] = {}
        for state in self.core.states():
            category = state.extra.get("category")
            if category and state.finished:
                checked[category] += int(state.extra.get("checked", 0))
                gone.setdefault(category, set()).update(state.extra.get("gone", ()))
        return dict(checked), gone

    def closed(self, reason: str) -> None:
        checked, unavailable = sum(self.checked.values()), sum(self.unavailable.values())
        logger.info(
            "refresh: %d %s checked, %d no longer available%s.",
            checked,
            " and ".join(f"{c}s" for c in self.checked) or "records",
            unavailable,
            ""
            if unavailable == 0
            else " (listed in unavailable.jsonl, or unavailable_since in MongoDB)",
        )
        if self.config.purge:
            self._purge(reason)
        super().closed(reason)

    def _purge(self, reason: str) -> None:
        from tiktok_scrapy.purge import run_purge

        unfinished = [s.id for s in self.core.incomplete()]
        if reason != "finished" or unfinished:
            logger.warning(
                "refresh: purge skipped — %d check(s) unfinished (%s); resume with the same "
                "JOBDIR to finish them and purge.",
                len(unfinished),
                reason,
            )
            return
        try:
            entry = run_purge(
                self.config, self.settings, self.sources, self.core.crawl_id, *self.findings()
            )
            self.crawler.stats.set_value("tiktok/refresh/purged", entry["deleted_total"])
        except ConfigError as error:
            logger.error("refresh: purge failed: %s", error)
