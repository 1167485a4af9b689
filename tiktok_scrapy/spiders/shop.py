"""TikTok Shop (EU shops): shop info by name, a shop's products, a product's reviews.

Each is one chain per input, chained through outputs: ``shops`` finds shops (and their
``shop_id``) by name, ``products`` reads those ids (``from_output``) and pages through
``page_start``/``page_size``, ``product_reviews`` does the same for product ids. The
endpoints, page sizes and data keys are rows of ``api.endpoints``.
"""

from __future__ import annotations

import hashlib
import json

from tiktok_scrapy.chains import Chain
from tiktok_scrapy.items import ApiItem, Product, ProductReview, Shop
from tiktok_scrapy.spiders.inputs import InputSpider

# What identifies a review (reviews carry no id of their own).
REVIEW_IDENTITY = ("create_time", "review_text", "review_rating", "display_name")


class ShopsSpider(InputSpider):
    """shops: the EU shops found by each name, with the name they were asked for."""

    name = "shops"
    endpoint_name = "shops"
    item_class = Shop

    def make_item(self, chain: Chain, record: dict) -> ApiItem | None:
        return Shop({**record, "requested_name": chain.input})


class ProductsSpider(InputSpider):
    """products: every product of each shop, with the shop's id."""

    name = "products"
    endpoint_name = "products"
    item_class = Product

    def make_item(self, chain: Chain, record: dict) -> ApiItem | None:
        return Product({**record, "shop_id": record.get("shop_id", chain.input)})


class ProductReviewsSpider(InputSpider):
    """product_reviews: every review of each product, keyed by a digest of its content."""

    name = "product_reviews"
    endpoint_name = "product_reviews"
    item_class = ProductReview

    def make_item(self, chain: Chain, record: dict) -> ApiItem | None:
        return ProductReview(
            {**record, "product_id": chain.input, "review_key": review_key(chain.input, record)}
        )


def review_key(product_id: int, review: dict) -> str:
    """A stable key for a review: the same review crawled twice gets the same key."""
    identity = [product_id, *(review.get(k) for k in REVIEW_IDENTITY)]
    text = json.dumps(identity, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
