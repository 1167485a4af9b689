"""Every Shop and ad-library spider into MongoDB (mongomock unless MONGODB_URI is set).

One document per natural key (a product crawled twice stays one document with two
provenance entries), ``_crawl`` and ``_queries`` on each, the collections' indexes made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from crawling import REPO, env_for_subprocess

from tiktok_scrapy.sandbox import adlib, shop
from tiktok_scrapy.spiders.shop import review_key

pytestmark = pytest.mark.integration


def test_shop_and_ad_library_items_are_upserted_with_provenance(make_sandbox, tmp_path):
    sandbox = make_sandbox()
    data, library = shop.of(sandbox.dataset), adlib.of(sandbox.dataset)
    shop_ids = [s["shop_id"] for s in data.by_name("Free Soul")]
    product_ids = [p["product_id"] for s in shop_ids for p in data.products(s)][:6]
    ad_range = {"start_date": "2023-01-01", "end_date": "2023-02-28"}
    ads = library.query_ads(20230101, 20230228, "ALL", "sale")
    configs = {
        "shops": {"shop_names": ["Free Soul"]},
        "products": {"shop_ids": shop_ids},
        "product_reviews": {"product_ids": product_ids},
        "ads": {**ad_range, "search_terms": ["sale"]},
        "ad_details": {"ad_ids": [a["ad"]["id"] for a in ads[:5]]},
        "advertisers": {"search_terms": ["nordic"]},
        "commercial_content": ad_range,
    }
    env = env_for_subprocess()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests" / "helpers"), env["PYTHONPATH"]])
    if os.environ.get("MONGODB_URI"):
        env["MONGODB_URI"] = os.environ["MONGODB_URI"]
    database = f"tiktok_scrapy_test_{uuid.uuid4().hex[:8]}"
    script = Path(__file__).parent / "helpers" / "mongo_commerce.py"
    proc = subprocess.run(
        [sys.executable, str(script), sandbox.url, str(tmp_path), database, json.dumps(configs)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["crawls"] == ["finished"] * 8

    truth = {
        "shops": {(str(s),) for s in shop_ids},
        "products": {(str(p["product_id"]),) for s in shop_ids for p in data.products(s)},
        "product_reviews": {
            (str(p), review_key(p, r)) for p in product_ids for r in data.reviews(p)
        },
        "ads": {(str(a["ad"]["id"]),) for a in ads},
        "ad_details": {(str(a["ad"]["id"]),) for a in ads[:5]},
        "advertisers": {(str(a["business_id"]),) for a in library.find_advertisers("nordic")[:50]},
        "commercial_content": {(c["id"],) for c in library.query_contents(20230101, 20230228)},
    }
    for collection, keys in truth.items():
        stored = summary[collection]
        assert {tuple(k) for k in stored["keys"]} == keys, collection
        assert stored["documents"] == stored["distinct"] == len(keys) > 0, collection
        assert stored["provenance"], collection
        assert any(name.endswith("_unique") for name in stored["indexes"]), collection
    assert summary["products"]["queries"] == [2]  # crawled twice: one document, two entries
    assert summary["product_snapshots"] == 2 * len(truth["products"])
