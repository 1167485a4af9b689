"""videos: TikTok's video query over a date range, one chain per window.

``scrapy crawl videos -a config=examples/quickstart.yaml``. The range is cut into windows
of ``window_days`` (at most 30, the API's limit); each window pages with the returned
``search_id`` and cursor. A window that keeps failing with 500s is split in halves down
to one day, then by ``TIKTOK_WINDOW_SPLIT_FIELD`` (e.g. ``video_length``).

Every video must fall inside the window its chain asked for (a page that does not is an
error, never data). Videos come newest first (decreasing id), so when a chain's search_id
dies the chain continues over what is left: the window narrowed to end on the day of the
oldest video seen, the cursor moved past that day's videos already seen, and any video not
older than the oldest seen dropped as a repeat.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from tiktok_scrapy.api.endpoints import VIDEO_LENGTHS, video_length_of
from tiktok_scrapy.api.windows import ONE_DAY, Window
from tiktok_scrapy.chains import Chain, ChainState, copy_state
from tiktok_scrapy.chains.chain import window_chain_id
from tiktok_scrapy.config import VideosConfig
from tiktok_scrapy.items import Video
from tiktok_scrapy.spiders.base import ResearchApiSpider


class VideosSpider(ResearchApiSpider):
    name = "videos"
    endpoint_name = "videos"
    item_class = Video
    cassette = "videos_quickstart"
    config: VideosConfig
    # The id (to drop repeats) and the creation time (to check the window and continue a
    # chain) are asked for whatever the config's ``fields``.
    needed_fields = ("id", "create_time")

    def plan(self) -> Iterator[Chain]:
        for window in self.config.windows():
            yield self.window_chain(window, self.config.query)

    def window_chain(
        self, window: Window, query: dict, suffix: str = "", parent: str | None = None
    ) -> Chain:
        start, end = window.api_dates()
        body: dict = {
            "query": query,
            "start_date": start,
            "end_date": end,
            "max_count": self.config.max_count,
        }
        if self.config.is_random:
            body["is_random"] = True
        return Chain(
            id=window_chain_id(self.name, start, end, suffix),
            endpoint=self.endpoint,
            body=body,
            input=str(window),
            window=window,
            fields=tuple(self.config.fields)
            + tuple(f for f in self.needed_fields if f not in self.config.fields),
            parent=parent,
            depth=self.core.chains[parent].depth + 1 if parent in self.core.chains else 0,
        )

    # --- what a page may hold, and where a chain continues ---------------------------
    def accept_records(
        self, chain: Chain, state: ChainState, new_state: ChainState, records: list
    ) -> tuple[list, str | None]:
        cont = state.continuation
        window = Window.from_json(cont["window"]) if cont.get("window") else chain.window
        if window is None or self.config.is_random:
            return records, None
        first = datetime(window.start.year, window.start.month, window.start.day, tzinfo=UTC)
        lo, hi = first.timestamp(), (first + timedelta(days=window.days)).timestamp()
        below = cont.get("below")
        kept = []
        seen = dict(cont)
        for record in records:
            if not isinstance(record, dict):
                continue
            created = record.get("create_time")
            if isinstance(created, int | float) and not lo <= created < hi:
                when = datetime.fromtimestamp(created, UTC).isoformat(timespec="seconds")
                return [], (
                    f"video {record.get('id')} was created {when}, outside the window "
                    f"{window} this page was asked for (a search_id of another query?)"
                )
            video_id = record.get("id")
            if isinstance(video_id, int):
                if below is not None and video_id >= below:
                    continue  # seen before this chain continued: a repeat
                _note_seen(seen, video_id, created)
            kept.append(record)
        if not _newest_first(records):
            # Everything that narrows a window or skips results relies on the documented
            # order; a chain that saw another one starts over instead (repeats, no loss).
            seen["unsorted"] = True
            self.crawler.stats.inc_value("tiktok/pages/not_newest_first")
        new_state.continuation = seen
        return kept, None

    def continuation(self, chain: Chain, state: ChainState) -> ChainState:
        cont = state.continuation
        window = Window.from_json(cont["window"]) if cont.get("window") else chain.window
        oldest = cont.get("oldest_id")
        if window is None or oldest is None or not cont.get("oldest_day") or cont.get("unsorted"):
            return super().continuation(chain, state)  # nothing (sorted) seen: start over
        day = min(max(date.fromisoformat(cont["oldest_day"]), window.start), window.end)
        # Only the oldest day's videos already seen lie before what is left in the narrowed
        # window; skip them, less one page (deleted videos also take slots).
        skip = max(0, int(cont.get("on_oldest_day", 0)) - int(chain.body["max_count"]))
        return copy_state(
            state,
            epoch=state.epoch + 1,
            page=0,
            cursor=skip or None,
            search_id=None,
            empty_pages=0,
            continuation={**cont, "window": Window(window.start, day).to_json(), "below": oldest},
        )

    # --- adaptive windows -------------------------------------------------------------
    def cut(
        self, chain: Chain, state: ChainState, new_state: ChainState, records: list, data: dict
    ) -> Iterable[tuple[Chain, ChainState]]:
        """A window whose first page proves it dense: the rest in parallel chains.

        Videos come newest first, so the first page covers the window's newest stretch,
        from its newest video down to its oldest. The results (slots: the cursor's advance,
        deleted videos included) per second of that stretch, times the window's length,
        estimate the window's pages. When more than ``TIKTOK_ADAPTIVE_PAGES_PER_CHAIN``
        are left, the days not yet seen are cut into as many chains as keep each near that
        many pages. A cut costs at most one partly filled page per new chain, so few long
        chains are cheap and many short ones fast; see docs/quota-and-retries.md.
        """
        window = _window_of(chain, state)
        if not self.config.adaptive or state.page != 0 or window is None:
            return ()
        seen = new_state.continuation
        if seen.get("unsorted"):
            return ()  # the first page is not newest first: what is left is unknown
        times = [
            r["create_time"]
            for r in records
            if isinstance(r, dict) and _is_time(r.get("create_time"))
        ]
        if not times or not seen.get("oldest_day") or seen.get("oldest_id") is None:
            return ()
        estimate = estimate_pages(
            window,
            max(times),
            min(times),
            _slots(state, data, len(records)),
            chain.body["max_count"],
        )
        per_chain = max(1, self.settings.getint("TIKTOK_ADAPTIVE_PAGES_PER_CHAIN"))
        left = estimate - 1
        oldest = min(max(date.fromisoformat(seen["oldest_day"]), window.start), window.end)
        rest = Window(window.start, oldest)
        parts = min(rest.days, math.ceil(left / per_chain))
        if left <= per_chain:
            return ()
        if 2 * parts > rest.days:
            # Near one chain a day anyway: make it exactly that, so a busy day shows itself
            # on its own first page (and is cut by field) one level sooner.
            parts = rest.days
        query = chain.body["query"]
        suffix = chain.id.partition("-".join(chain.window.api_dates()))[2] if chain.window else ""
        if parts < 2:  # one busy day left (an event): cut it by a field instead
            return self._partition(chain, rest, query, suffix, seen["oldest_id"], records)
        self.crawler.stats.inc_value("tiktok/windows/estimated_pages", round(estimate))
        children = []
        for part in cut_days(rest, parts):
            child = self.window_chain(part, query, suffix, chain.id)
            child_state = ChainState(child.id)
            if part.end == oldest:  # holds the day the first page stopped in: skip repeats
                # Moments after the first page, that day's videos already seen are exactly
                # the first results (deleted ones only move the rest later): skip them all.
                skip = int(seen.get("on_oldest_day", 0))
                child_state.cursor = skip or None
                child_state.continuation = {**seen, "below": seen["oldest_id"]}
                child_state.continuation.pop("window", None)
            children.append((child, child_state))
        return children

    def _partition(
        self, chain: Chain, day: Window, query: dict, suffix: str, below: int, seen: list
    ) -> list[tuple[Chain, ChainState]]:
        """The rest of one busy day as one chain per value of ``TIKTOK_WINDOW_SPLIT_FIELD``;
        each drops the videos the first page already brought (not older than ``below``)
        and, split by video_length, skips those it surely holds (their durations are on the
        page: the newest of each part)."""
        field = self.settings.get("TIKTOK_WINDOW_SPLIT_FIELD")
        if not field or f":{field}=" in chain.id:
            return []
        surely: Counter[str | None] = Counter()
        if field == "video_length":  # only videos of that day take its slots
            surely.update(
                video_length_of(r.get("video_duration"))
                for r in seen
                if isinstance(r, dict)
                and _is_time(r.get("create_time"))
                and datetime.fromtimestamp(r["create_time"], UTC).date() == day.start
            )
        children = []
        for value in self._partition_values(field, query):
            child = self.window_chain(
                day,
                {**query, "and": [*query.get("and", []), _eq(field, value)]},
                f"{suffix}:{field}={value}",
                chain.id,
            )
            skip = surely.get(value, 0)
            children.append(
                (child, ChainState(child.id, cursor=skip or None, continuation={"below": below}))
            )
        return children

    def cut_on_500(self, chain: Chain, state: ChainState) -> bool:
        window = _window_of(chain, state)
        return bool(
            self.config.adaptive and state.page == 0 and window is not None and window.days > 1
        )

    def split(self, chain: Chain, state: ChainState) -> Iterable[Chain]:
        window = chain.window
        if window is None:
            return ()
        halves = window.split()
        query = chain.body["query"]
        suffix = chain.id.partition("-".join(window.api_dates()))[2]  # e.g. ":region_code=FR"
        if halves:
            return [self.window_chain(h, query, suffix, chain.id) for h in halves]
        field = self.settings.get("TIKTOK_WINDOW_SPLIT_FIELD")
        if not field or f":{field}=" in chain.id:
            return ()
        values = self._partition_values(field, query)
        return [
            self.window_chain(
                window,
                {**query, "and": [*query.get("and", []), _eq(field, value)]},
                f"{suffix}:{field}={value}",
                chain.id,
            )
            for value in values
        ]

    @staticmethod
    def _partition_values(field: str, query: dict) -> list[str]:
        if field == "video_length":
            return list(VIDEO_LENGTHS)
        for condition in query.get("and", []):  # region_code: the regions the query names
            if condition.get("field_name") == field and condition.get("operation") == "IN":
                return list(condition.get("field_values", []))
        return []


def _window_of(chain: Chain, state: ChainState) -> Window | None:
    """The window a chain's next request covers (narrowed when it was continued)."""
    narrowed = state.continuation.get("window")
    return Window.from_json(narrowed) if narrowed else chain.window


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _slots(state: ChainState, data: dict, records: int) -> int:
    """Result slots the first page covered: the cursor's advance (deleted videos count)."""
    cursor, sent = data.get("cursor"), state.cursor or 0
    if isinstance(cursor, int) and cursor > sent:
        return max(cursor - sent, records)
    return records


def estimate_pages(
    window: Window, newest: float, oldest: float, slots: int, max_count: int
) -> float:
    """Pages a window needs, from its first page: ``slots`` results between ``newest`` and
    ``oldest`` (Unix times), extended at that rate over the whole window. The page's own
    span, not the window's end, sets the rate: a quiet last evening would otherwise hide a
    busy window."""
    covered = max(newest - oldest, 3600.0)  # at least an hour: no wild estimates
    total = slots * window.days * 86400 / covered
    return max(1.0, total / max_count)


def cut_days(window: Window, parts: int) -> list[Window]:
    """``window`` cut into ``parts`` runs of whole days, as equal as possible, oldest first."""
    days, out, start = window.days, [], window.start
    for i in range(parts):
        length = days // parts + (1 if i < days % parts else 0)
        end = start + timedelta(days=length - 1)
        out.append(Window(start, end))
        start = end + ONE_DAY
    return out


def _newest_first(records: list) -> bool:
    """Whether a page's videos come as documented: decreasing id, so newest first."""
    ids = [_as_id(r.get("id")) for r in records if isinstance(r, dict)]
    if any(i is None for i in ids) or any(a <= b for a, b in pairwise(ids)):  # type: ignore[operator]
        return False
    times = [r.get("create_time") for r in records if isinstance(r, dict)]
    known = [t for t in times if _is_time(t)]
    return all(a >= b for a, b in pairwise(known))


def _as_id(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _note_seen(seen: dict, video_id: int, created: object) -> None:
    """Track the oldest video of a chain and how many videos it has seen on that day."""
    if seen.get("oldest_id") is not None and video_id >= seen["oldest_id"]:
        return
    seen["oldest_id"] = video_id
    if isinstance(created, int | float):
        day = datetime.fromtimestamp(created, UTC).date().isoformat()
        seen["on_oldest_day"] = (
            seen.get("on_oldest_day", 0) + 1 if seen.get("oldest_day") == day else 1
        )
        seen["oldest_day"] = day


def _eq(field: str, value: str) -> dict:
    return {"field_name": field, "operation": "EQ", "field_values": [value]}
