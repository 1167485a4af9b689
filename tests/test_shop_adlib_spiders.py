"""TikTok Shop and the Commercial Content API against the sandbox: exactly its truth.

Shop spiders are chained as a researcher would (shops by name → products from that
output → reviews from that output); ad-library spiders run with each kind of filter. A
client without the Shop or ad-library approval gets one line naming the scope, a
``scope_not_authorized`` close reason and exit status 5. Unit tests at the end feed the
table's paging rules what the sandbox does not send (``has_more`` as a string, a Shop
page with ``has_more``, a search without a search_id).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from crawling import SANDBOX_KEY
from inprocess import run_crawl_inprocess

from tiktok_scrapy.api.endpoints import ENDPOINTS, Pagination
from tiktok_scrapy.config import ConfigError, load_config
from tiktok_scrapy.sandbox import SandboxThread, adlib, shop
from tiktok_scrapy.sandbox.adlib import project
from tiktok_scrapy.spiders.shop import review_key


def served(sandbox: SandboxThread, endpoint: str) -> list[dict]:
    bodies = [r["body"] for r in sandbox.requests(endpoint)]
    return [json.loads(b) if isinstance(b, str) else b for b in bodies]


def strip(item: dict, *ours: str) -> dict:
    """An item as the API sent it: without provenance and the keys the spider adds."""
    return {k: v for k, v in item.items() if not k.startswith("_") and k not in ours}


# --- TikTok Shop ---------------------------------------------------------------------------
@pytest.mark.integration
def test_shops_products_and_reviews_chain_through_outputs_to_the_truth(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    data = shop.of(sandbox.dataset)
    names = ["Free Soul", "casa verde", "No Such Shop", "Atelier Nord", "Free Soul"]
    shops = run_crawl_inprocess("shops", {"shop_names": names}, sandbox.url, tmp_path / "shops")
    assert shops.returncode == 0, shops.log[-3000:]
    expected_shops = [s for n in dict.fromkeys(names) for s in data.by_name(n)]
    assert len(expected_shops) == 5  # two names find two shops each; one finds none
    got = {s["shop_id"]: s for s in shops.of("shops")}
    assert len(got) == len(shops.of("shops")) == len(expected_shops)
    for truth in expected_shops:
        assert strip(got[truth["shop_id"]], "requested_name") == truth
    assert {s["requested_name"] for s in got.values()} == {
        "Free Soul",
        "casa verde",
        "Atelier Nord",
    }
    assert len(shops.pages) == 4 and all(p["outcome"] == "ok" for p in shops.pages)
    bodies = served(sandbox, "shops")
    assert all(b["limit"] == 10 and "fields" in b for b in bodies)

    products = run_crawl_inprocess(
        "products",
        {"from_output": str(shops.outdir), "max_count": 10},
        sandbox.url,
        tmp_path / "products",
    )
    assert products.returncode == 0, products.log[-3000:]
    expected = Counter(
        (s["shop_id"], p["product_id"]) for s in expected_shops for p in data.products(s["shop_id"])
    )
    assert Counter((p["shop_id"], p["product_id"]) for p in products.of("products")) == expected
    truth_products = {
        p["product_id"]: p for s in expected_shops for p in data.products(s["shop_id"])
    }
    for item in products.of("products"):
        assert strip(item, "shop_id") == truth_products[item["product_id"]]
    # Numbered pages of 10 from 1; a shop of exactly 10k products ends on an empty page.
    pages_per_shop = Counter(b["shop_id"] for b in served(sandbox, "products"))
    for s in expected_shops:
        assert pages_per_shop[s["shop_id"]] == len(data.products(s["shop_id"])) // 10 + 1
    starts = [b["page_start"] for b in served(sandbox, "products")]
    assert min(starts) == 1 and all(b["page_size"] == 10 for b in served(sandbox, "products"))
    assert products.stats["tiktok/quota/requests/main"] == len(served(sandbox, "products"))

    reviews = run_crawl_inprocess(
        "product_reviews",
        {"from_output": str(products.outdir), "max_count": 4},
        sandbox.url,
        tmp_path / "reviews",
    )
    assert reviews.returncode == 0, reviews.log[-3000:]
    expected_reviews = Counter(
        (pid, review_key(pid, r)) for pid in truth_products for r in data.reviews(pid)
    )
    got_reviews = Counter((r["product_id"], r["review_key"]) for r in reviews.of("product_reviews"))
    assert got_reviews == expected_reviews and sum(expected_reviews.values()) > 50
    first = reviews.of("product_reviews")[0]
    assert strip(first, "product_id", "review_key", "create_datetime") in data.reviews(
        first["product_id"]
    )
    assert first["create_datetime"].startswith("2024-")  # milliseconds read as such
    assert all(i["_crawl"]["endpoint"] == "product_reviews" for i in reviews.of("product_reviews"))
    assert "tiktok/chains/failed" not in reviews.stats
    assert reviews.stats.get("tiktok/validation/invalid/product_reviews") is None


# --- Commercial Content API ------------------------------------------------------------------
AD_RANGE = {"start_date": "2023-01-01", "end_date": "2023-06-30"}


@pytest.mark.integration
def test_ads_by_term_and_by_advertiser_then_their_details(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    library = adlib.of(sandbox.dataset)
    in_france = library.query_ads(20230101, 20230630, "FR")
    owners = list(dict.fromkeys(a["advertiser"]["business_id"] for a in in_france))[:3]
    config = {**AD_RANGE, "max_count": 7, "country_code": "ALL", "search_terms": ["coffee"]}
    by_term = run_crawl_inprocess("ads", config, sandbox.url, tmp_path / "terms")
    assert by_term.returncode == 0, by_term.log[-3000:]
    truth = library.query_ads(20230101, 20230630, "ALL", "coffee")
    assert Counter(a["ad_id"] for a in by_term.of("ads")) == Counter(t["ad"]["id"] for t in truth)
    assert len(truth) > 7 * 2  # several pages, each sending the last search_id back
    bodies = served(sandbox, "ads")
    assert "search_id" not in bodies[0] and all("search_id" in b for b in bodies[1:])
    assert len(bodies) == -(-len(truth) // 7)
    fields = ENDPOINTS["ads"].fields
    by_id = {t["ad"]["id"]: t for t in truth}
    for item in by_term.of("ads"):
        record = by_id[item["ad_id"]]
        assert strip(item, "ad_id", "business_id") == project(fields, record)
        assert item["business_id"] == record["advertiser"]["business_id"]
    assert by_term.stats["tiktok/quota/requests/adlib"] == len(bodies)

    config = {**AD_RANGE, "country_code": "FR", "advertiser_business_ids": owners}
    by_owner = run_crawl_inprocess("ads", config, sandbox.url, tmp_path / "owners")
    assert by_owner.returncode == 0, by_owner.log[-3000:]
    truth = library.query_ads(20230101, 20230630, "FR", None, business_ids=owners)
    assert {a["ad_id"] for a in by_owner.of("ads")} == {t["ad"]["id"] for t in truth}
    assert truth and all(a["business_id"] in owners for a in by_owner.of("ads"))

    details = run_crawl_inprocess(
        "ad_details",
        {"from_output": str(by_term.outdir), "ad_ids": [12345]},  # 12345: no such ad
        sandbox.url,
        tmp_path / "details",
    )
    assert details.returncode == 0, details.log[-3000:]
    wanted = [a["ad_id"] for a in by_term.of("ads")]
    assert Counter(d["ad_id"] for d in details.of("ad_details")) == Counter(wanted)
    for item in details.of("ad_details"):
        record = library.ad(item["ad_id"])
        assert record is not None
        assert strip(item, "ad_id", "business_id") == project(
            ENDPOINTS["ad_details"].fields, record
        )
        assert item["ad_group"]["targeting_info"]["country"]
    assert details.stats["tiktok/outcomes/user_level"] == 1  # the unknown ad, recorded


@pytest.mark.integration
def test_advertisers_and_commercial_content(sandbox: SandboxThread, tmp_path: Path) -> None:
    library = adlib.of(sandbox.dataset)
    terms = ["awesome", "Drinks", "zzz-nobody"]
    found = run_crawl_inprocess(
        "advertisers", {"search_terms": terms, "max_count": 3}, sandbox.url, tmp_path
    )
    assert found.returncode == 0, found.log[-3000:]
    expected = Counter(
        (t, a["business_id"]) for t in terms for a in library.find_advertisers(t)[:3]
    )
    assert Counter((a["search_term"], a["business_id"]) for a in found.of("advertisers")) == (
        expected
    )
    assert len(found.pages) == len(terms)  # no paging documented: one request per term

    config = {
        **AD_RANGE,
        "creator_country_code": "ALL",
        "max_count": 50,
        "fields": ["id", "create_date", "creator"],
    }
    contents = run_crawl_inprocess("commercial_content", config, sandbox.url, tmp_path / "cc")
    assert contents.returncode == 0, contents.log[-3000:]
    truth = library.query_contents(20230101, 20230630)
    assert Counter(c["id"] for c in contents.of("commercial_content")) == Counter(
        t["id"] for t in truth
    )
    assert all(
        set(strip(c)) == {"id", "create_date", "creator"} for c in contents.of("commercial_content")
    )
    assert contents.stats["tiktok/quota/requests/adlib"] == len(contents.pages)


# --- a client without the approval -------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize(
    ("spider", "config", "denied", "status", "named"),
    [
        (
            "shops",
            {"shop_names": ["Free Soul", "Casa Verde"]},
            "shop",
            401,
            ENDPOINTS["shops"].scope,
        ),
        (
            "ads",
            {**AD_RANGE, "search_terms": ["coffee", "sale"]},
            "adlib",
            403,
            ENDPOINTS["ads"].scope,
        ),
    ],
)
def test_a_client_without_the_approval_stops_with_one_line_naming_the_scope(
    make_sandbox_process,
    tmp_path: Path,
    spider: str,
    config: dict,
    denied: str,
    status: int,
    named: str,
) -> None:
    sandbox = make_sandbox_process(
        denied_access=f"{SANDBOX_KEY}:{denied},someone-else:research", scope_denied_status=status
    )
    result = run_crawl_inprocess(spider, config, sandbox.url, tmp_path)
    assert result.returncode == 5, result.log[-3000:]
    assert result.stats["finish_reason"] == "scope_not_authorized"
    lines = [line for line in result.log.splitlines() if "not authorised" in line]
    assert len(lines) == 1 and named in lines[0] and "ERROR" in lines[0], lines
    assert "Traceback" not in result.log
    assert ENDPOINTS[spider].access.value in lines[0]
    assert "sandbox-secret" not in result.log


@pytest.mark.integration
def test_the_approval_is_per_product(make_sandbox_process, tmp_path: Path) -> None:
    """A client without the ad library still crawls Shop data (and the Research API)."""
    sandbox = make_sandbox_process(denied_access=f"{SANDBOX_KEY}:adlib")
    result = run_crawl_inprocess("shops", {"shop_names": ["Free Soul"]}, sandbox.url, tmp_path)
    assert result.returncode == 0 and result.stats["finish_reason"] == "finished"
    assert len(result.of("shops")) == 2


# --- the table's paging rules, on pages the sandbox does not send -------------------------------
def test_has_more_as_a_string_and_page_numbers_without_has_more() -> None:
    ads, products = ENDPOINTS["ads"], ENDPOINTS["products"]
    assert ads.has_more({"has_more": "true"}, [], 10) is True
    assert ads.has_more({"has_more": "false"}, [{}], 10) is False
    assert ads.has_more({"has_more": True}, [], 10) is True
    assert products.has_more({}, [{}] * 10, 10) is True  # a full page: there may be more
    assert products.has_more({}, [{}] * 9, 10) is False
    assert products.has_more({"has_more": False}, [{}] * 10, 10) is False  # said: believed
    assert ENDPOINTS["shops"].has_more({"has_more": True}, [{}], 10) is False  # one answer


def test_positions_by_pagination_kind() -> None:
    products, ads = ENDPOINTS["products"], ENDPOINTS["ads"]
    assert products.pagination is Pagination.PAGE and products.cursor_key == "page_start"
    assert products.first_cursor == 1 and products.next_cursor({}, 1) == 2
    assert ads.pagination is Pagination.SEARCH and ads.cursor_key is None
    assert ads.next_cursor({"search_id": "abc"}, 0) == 1
    assert ads.next_cursor({}, 3) is None  # has_more without a search_id: no way on
    assert ENDPOINTS["comments"].next_cursor({"cursor": 40}, 20) == 40


def test_sandbox_reads_fields_from_the_body_or_the_query_string(sandbox: SandboxThread) -> None:
    import urllib.request

    token = json.loads(
        urllib.request.urlopen(
            f"{sandbox.url}/v2/oauth/token/",
            b"client_key=k&client_secret=sandbox-secret&grant_type=client_credentials",
        ).read()
    )["access_token"]
    name = shop.of(sandbox.dataset).shops[0]["shop_name"]

    def ask(url: str, body: dict) -> dict:
        request = urllib.request.Request(
            url,
            json.dumps(body).encode(),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        return json.loads(urllib.request.urlopen(request).read())

    path = sandbox.url + ENDPOINTS["shops"].path
    in_body = ask(path, {"shop_name": name, "fields": "shop_id,shop_name", "limit": 1})
    in_query = ask(path + "?fields=shop_id,shop_name", {"shop_name": name, "limit": 1})
    assert in_body == {**in_query, "error": in_body["error"]}
    assert set(in_body["data"]["shop_data"][0]) == {"shop_id", "shop_name"}


@pytest.mark.parametrize(
    ("spider", "config", "message"),
    [
        ("ads", {"start_date": "2022-09-30", "end_date": "2023-01-01"}, "2022-10-01"),
        ("ads", {**AD_RANGE, "country_code": "US"}, "not a supported country"),
        ("commercial_content", {**AD_RANGE, "creator_country_code": "GB"}, "supported"),
        ("ads", {**AD_RANGE, "max_count": 51}, "50"),
        ("products", {"shop_ids": [1], "max_count": 11}, "10"),
        ("advertisers", {"search_terms": ["x" * 51]}, "50 characters"),
        ("product_reviews", {"product_ids": ["abc"]}, "numeric"),
    ],
)
def test_config_mistakes_are_one_line(spider: str, config: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(spider, json.dumps(config))
    assert message in str(error.value) and "\n" not in str(error.value).strip()


def test_natural_keys_are_always_requested() -> None:
    config = load_config("shops", json.dumps({"shop_names": ["a"], "fields": ["shop_name"]}))
    assert config.fields == ("shop_id", "shop_name")
    ads = load_config("ads", json.dumps({**AD_RANGE, "fields": "ad.reach"}))
    assert ads.fields == ("ad.id", "ad.reach")
    ads = load_config(
        "ads", json.dumps({**AD_RANGE, "advertiser_business_ids": list(range(1, 121))})
    )
    bodies = ads.requests()
    assert len(bodies) == 3 and len(bodies[0][1]["filters"]["advertiser_business_ids"]) == 50


# --- faults ------------------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize("spider", ["products", "ads"])
def test_faults_are_retried_and_nothing_is_lost(
    make_sandbox_process, tmp_path: Path, spider: str
) -> None:
    sandbox = make_sandbox_process(
        error_rate=0.15, transient_400_rate=0.1, non_json_rate=0.05, html_504_rate=0.05
    )
    if spider == "products":
        data = shop.of(sandbox.dataset)
        config: dict = {"shop_ids": [s["shop_id"] for s in data.shops], "max_count": 4}
        truth = Counter(p["product_id"] for s in data.shops for p in data.products(s["shop_id"]))
        key = "product_id"
    else:
        config = {**AD_RANGE, "search_terms": ["sale", "coffee"], "max_count": 5}
        library = adlib.of(sandbox.dataset)
        ads = [library.query_ads(20230101, 20230630, "ALL", t) for t in ("sale", "coffee")]
        truth = Counter(a["ad"]["id"] for found in ads for a in found)
        key = "ad_id"
    result = run_crawl_inprocess(spider, config, sandbox.url, tmp_path)
    assert result.returncode == 0 and result.stats["finish_reason"] == "finished", result.log[
        -3000:
    ]
    assert Counter(i[key] for i in result.of(spider)) == truth
    assert result.stats.get("tiktok/retry/count", 0) > 0
    assert "tiktok/chains/failed" not in result.stats
