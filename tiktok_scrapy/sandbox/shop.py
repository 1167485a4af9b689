"""TikTok Shop in the sandbox: EU shops, their products and the products' reviews.

Deterministic from the dataset's seed (``derive``), built on first use. What the spec pages
("research-api-specs-query-tiktok-shop-*") say, served as they say it: shop info by name
(``limit`` at most 10) under ``shop_data``; products of a shop and reviews of a product by
``page_start`` (from 1) and ``page_size`` (at most 10) under ``product_data`` and
``review_data``, with no ``has_more`` (the pages document none: a short page is the last).
``fields`` is read from the query string or, as in the pages' examples, from the body.
Reviews carry ``create_time`` in milliseconds, as the reviews page's example does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from random import Random
from typing import TYPE_CHECKING, Any

from tiktok_scrapy.sandbox.dataset import MIN_ID, derive, unix

if TYPE_CHECKING:
    from tiktok_scrapy.sandbox.app import Call
    from tiktok_scrapy.sandbox.dataset import Dataset

SHOPS = 14
WORDS = (
    "Free Soul", "Atelier Nord", "Casa Verde", "Lumière", "Blue Harbour", "Kleine Welt",
    "Sol y Mar", "Polar Craft", "Mode Milano", "Hygge Home", "Green Leaf", "Piccolo",
)  # fmt: skip
GOODS = ("lip oil", "phone case", "tea set", "sneakers", "scarf", "candle", "backpack", "lamp")
RATINGS = ("ONE", "TWO", "THREE", "FOUR", "FIVE")
CURRENCIES = ("EUR", "GBP", "PLN", "SEK")
PAGE_KEYS = frozenset({"page_start", "page_size", "fields"})


@dataclass
class ShopData:
    """Shops, products and reviews of one seed (read-only once built)."""

    seed: int
    shops: list[dict] = field(init=False)
    _products: dict[int, list[dict]] = field(init=False, default_factory=dict)
    _reviews: dict[int, list[dict]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        rng = Random(derive(self.seed, "shops"))
        self.shops = []
        for i in range(SHOPS):
            # Two shops share a name: a name can find more than one shop.
            name = WORDS[i % len(WORDS)]
            shop = {
                "shop_id": rng.randrange(MIN_ID, 2**63),
                "shop_name": name,
                "shop_rating": f"{rng.uniform(3.0, 5.0):.1f}",
                "shop_review_count": rng.randrange(0, 40_000),
                "item_sold_count": rng.randrange(0, 3_000_000_000),
                "shop_performance_value": rng.randrange(50, 100),
            }
            if i == 5:
                del shop["shop_performance_value"]  # empty values are absent
            self.shops.append(shop)

    def by_name(self, name: str) -> list[dict]:
        wanted = name.strip().casefold()
        return [s for s in self.shops if s["shop_name"].casefold() == wanted]

    def products(self, shop_id: int) -> list[dict]:
        """A shop's products in listing order (unknown shop: none)."""
        if shop_id not in self._products:
            shop = next((s for s in self.shops if s["shop_id"] == shop_id), None)
            self._products[shop_id] = self._make_products(shop) if shop else []
        return self._products[shop_id]

    def _make_products(self, shop: dict) -> list[dict]:
        rng = Random(derive(self.seed, "products", shop["shop_id"]))
        # Some shops list an exact multiple of 10: the crawler must take the empty page.
        count = rng.choice((0, 3, 10, 17, 20, 26, 34))
        products = []
        for _ in range(count):
            stars = [rng.randrange(0, 3000) for _ in range(5)]
            product = {
                "product_id": rng.randrange(MIN_ID, 2**63),
                "product_name": f"{rng.choice(GOODS)} {rng.randrange(100, 999)}",
                "product_description": rng.choice(("", "Handmade in the EU.", "Édition été 🌞")),
                "product_price": [f"{rng.uniform(2, 200):.2f}{rng.choice(CURRENCIES)}"],
                "product_rating": f"{rng.uniform(1.0, 5.0):.1f}",
                "product_sold_count": rng.randrange(0, 200_000),
                "product_review_count": sum(stars),
                **{f"product_rating_{n}_count": stars[n - 1] for n in range(1, 6)},
                "shop_name": shop["shop_name"],
            }
            if not product["product_description"]:
                del product["product_description"]
            products.append(product)
        return products

    def reviews(self, product_id: int) -> list[dict]:
        """A product's reviews, newest first (unknown product: none)."""
        if product_id not in self._reviews:
            self._reviews[product_id] = self._make_reviews(product_id)
        return self._reviews[product_id]

    def _make_reviews(self, product_id: int) -> list[dict]:
        product = self._product(product_id)
        if product is None:
            return []
        rng = Random(derive(self.seed, "reviews", product_id))
        count = rng.choice((0, 1, 9, 10, 14, 23))
        start = unix(date(2024, 1, 1))
        times = sorted((start + rng.randrange(0, 90 * 86400) for _ in range(count)), reverse=True)
        reviews = []
        for at in times:
            review = {
                "product_name": product["product_name"],
                "review_text": rng.choice(("Great!", "", "Nicht wie beschrieben.", "Top ✓")),
                "review_like_count": rng.randrange(0, 50),
                "create_time": at * 1000 + rng.randrange(1000),
                "review_rating": rng.choice(RATINGS),
                "display_name": f"b***{rng.randrange(10, 99)}",
            }
            reviews.append(review)
        return reviews

    def _product(self, product_id: int) -> dict | None:
        for shop in self.shops:
            for product in self.products(shop["shop_id"]):
                if product["product_id"] == product_id:
                    return product
        return None


@cache
def shop_data(seed: int) -> ShopData:
    return ShopData(seed)


def of(dataset: Dataset) -> ShopData:
    """The shop data that goes with a sandbox dataset."""
    return shop_data(dataset.seed)


# --- serving -------------------------------------------------------------------------------
def page(call: Call, key: str, items: list[dict]) -> dict[str, Any]:
    """One numbered page (``page_start`` from 1), without ``has_more``, as documented."""
    start = call.int_arg("page_start", 1, minimum=1)
    assert start is not None
    size = call.max_count()
    chunk = items[(start - 1) * size : start * size]
    return {key: [call.project(x) for x in chunk]}


def serve_shops(call: Call) -> dict[str, Any]:
    found = of(call.dataset).by_name(call.str_arg("shop_name"))
    return {"shop_data": [call.project(s) for s in found[: call.max_count()]]}


def serve_products(call: Call) -> dict[str, Any]:
    shop_id = call.id_arg("shop_id")
    assert shop_id is not None
    return page(call, "product_data", of(call.dataset).products(shop_id))


def serve_reviews(call: Call) -> dict[str, Any]:
    product_id = call.id_arg("product_id")
    assert product_id is not None
    return page(call, "review_data", of(call.dataset).reviews(product_id))


BODY_KEYS: dict[str, frozenset[str]] = {
    "shops": frozenset({"shop_name", "limit", "fields"}),
    "products": frozenset({"shop_id"}) | PAGE_KEYS,
    "product_reviews": frozenset({"product_id"}) | PAGE_KEYS,
}
SERVERS = {"shops": serve_shops, "products": serve_products, "product_reviews": serve_reviews}
