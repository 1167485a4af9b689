"""videos: TikTok's video query over a date range, one chain per window.

``scrapy crawl videos -a config=examples/quickstart.yaml``. The range is cut into windows
of ``window_days`` (at most 30, the API's limit); each window pages with the returned
``search_id`` and cursor. A window that keeps failing with 500s is split in halves down
to one day, then by ``TIKTOK_WINDOW_SPLIT_FIELD`` (e.g. ``video_length``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tiktok_scrapy.api.endpoints import VIDEO_LENGTHS
from tiktok_scrapy.api.windows import Window
from tiktok_scrapy.checkpoints import ChainState
from tiktok_scrapy.config import VideosConfig
from tiktok_scrapy.items import Video
from tiktok_scrapy.spiders.base import Chain, ResearchApiSpider


class VideosSpider(ResearchApiSpider):
    name = "videos"
    endpoint_name = "videos"
    item_class = Video
    cassette = "videos_quickstart"
    config: VideosConfig

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
            id=f"videos:{start}-{end}{suffix}",
            endpoint=self.endpoint,
            body=body,
            input=str(window),
            window=window,
            fields=tuple(self.config.fields),
            parent=parent,
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


def _eq(field: str, value: str) -> dict:
    return {"field_name": field, "operation": "EQ", "field_values": [value]}
