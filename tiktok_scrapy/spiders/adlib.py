"""The Commercial Content API (the ad library): ads, ad details, advertisers, commercial content.

``ads`` and ``commercial_content`` query a date range (from 2022-10-01) with filters, one
chain per search term or batch of advertiser ids; ``advertisers`` searches by term and
``ad_details`` fetches ads by id (from a list or an earlier ``ads`` crawl). The query
endpoints page by sending back the returned ``search_id`` while ``has_more`` holds
(``Pagination.SEARCH`` in ``api.endpoints``). The ad library needs its own approval (the
table's ``scope``); without it the crawl stops at the first answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tiktok_scrapy.chains import Chain
from tiktok_scrapy.config import AdsConfig, CommercialContentConfig
from tiktok_scrapy.items import Ad, AdDetail, Advertiser, ApiItem, CommercialContent
from tiktok_scrapy.spiders.base import ResearchApiSpider
from tiktok_scrapy.spiders.inputs import InputSpider


def business_id(advertiser: Any) -> Any:
    """The advertiser's business id (the ad query's example spells it ``buisness_id``)."""
    if not isinstance(advertiser, dict):
        return None
    return advertiser.get("business_id", advertiser.get("buisness_id"))


class _RangeQuerySpider(ResearchApiSpider):
    """One chain per filter set of the config; each pages with its search_id."""

    config: AdsConfig | CommercialContentConfig

    def plan(self) -> Iterator[Chain]:
        for label, body in self.config.requests():
            yield Chain(
                id=f"{self.name}:{label}",
                endpoint=self.endpoint,
                body={**body, "max_count": self.config.max_count},
                input=label,
                fields=tuple(self.config.fields),
            )


class AdsSpider(_RangeQuerySpider):
    """ads: the ads of a date range, by country and search term or advertiser ids."""

    name = "ads"
    endpoint_name = "ads"
    item_class = Ad

    def make_items(
        self, chain: Chain, records: list, data: dict, state: Any, done: bool
    ) -> list[ApiItem]:
        return [ad_item(Ad, r) for r in records if isinstance(r, dict)]


class CommercialContentSpider(_RangeQuerySpider):
    """commercial_content: paid partnerships and promotions of a date range."""

    name = "commercial_content"
    endpoint_name = "commercial_content"
    item_class = CommercialContent


class AdDetailsSpider(InputSpider):
    """ad_details: one ad's details (targeting, reach by country) per ad id."""

    name = "ad_details"
    endpoint_name = "ad_details"
    item_class = AdDetail

    def make_item(self, chain: Chain, record: dict) -> ApiItem | None:
        item = ad_item(AdDetail, record)
        item["ad_id"] = chain.input
        return item


class AdvertisersSpider(InputSpider):
    """advertisers: the advertisers each search term finds."""

    name = "advertisers"
    endpoint_name = "advertisers"
    item_class = Advertiser

    def make_item(self, chain: Chain, record: dict) -> ApiItem | None:
        found = {**record, "search_term": chain.input}
        if "business_id" not in found and business_id(record) is not None:
            found["business_id"] = business_id(record)
        return Advertiser(found)


def ad_item(cls: type[ApiItem], record: dict) -> ApiItem:
    """An ad as sent, plus its ``ad_id`` and ``business_id`` at the top."""
    ad = record.get("ad") if isinstance(record.get("ad"), dict) else {}
    item = cls({**record, "ad_id": ad.get("id")})
    if (owner := business_id(record.get("advertiser"))) is not None:
        item["business_id"] = owner
    return item
