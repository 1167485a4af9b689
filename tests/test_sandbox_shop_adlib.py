"""The sandbox's TikTok Shop and ad-library endpoints: the protocol their spec pages describe."""

from __future__ import annotations

import pytest
from test_sandbox_api import Api

from tiktok_scrapy.api.endpoints import ENDPOINTS
from tiktok_scrapy.sandbox import OptionsError, SandboxOptions, SandboxThread, adlib, shop

RANGE = {"ad_published_date_range": {"min": "20230101", "max": "20230630"}}


@pytest.fixture(scope="module")
def api(sandbox: SandboxThread) -> Api:
    return Api(sandbox)


def test_products_page_by_number_without_has_more(sandbox: SandboxThread, api: Api) -> None:
    data = shop.of(sandbox.dataset)
    shop_id = next(s["shop_id"] for s in data.shops if len(data.products(s["shop_id"])) == 17)
    pages = []
    for start in (1, 2, 3):
        reply = api.call(
            "products", {"shop_id": str(shop_id), "page_start": start, "page_size": 10}
        )
        assert reply.status == 200 and "has_more" not in reply.data
        pages.append([p["product_id"] for p in reply.data["product_data"]])
    assert [len(p) for p in pages] == [10, 7, 0]
    assert pages[0] + pages[1] == [p["product_id"] for p in data.products(shop_id)]


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("products", {"shop_id": 1, "page_size": 11}, "page_size"),
        ("products", {"shop_id": 1, "page_start": 0}, "page_start"),
        ("shops", {"shop_name": "Free Soul", "limit": 11}, "limit"),
        (
            "ads",
            {"filters": {"ad_published_date_range": {"min": "20220930", "max": "20230101"}}},
            "20221001",
        ),
        ("ads", {"filters": RANGE, "max_count": 51}, "max_count"),
        ("ads", {"filters": {**RANGE, "country_code": "US"}}, "country"),
        ("ads", {"filters": RANGE, "search_id": "bm90LWEtdG9rZW4"}, "invalid or expired"),
        ("commercial_content", {"filters": RANGE}, "Unknown filter"),
        ("advertisers", {"search_term": "x" * 51}, "50"),
    ],
)
def test_bad_requests_are_400_invalid_params(api: Api, name: str, body: dict, message: str) -> None:
    reply = api.call(name, body)
    assert reply.status == 400 and reply.json["error"]["code"] == "invalid_params"
    assert message in reply.json["error"]["message"]


def test_ad_query_pages_by_search_id_and_refuses_it_for_other_filters(
    sandbox: SandboxThread, api: Api
) -> None:
    truth = adlib.of(sandbox.dataset).query_ads(20230101, 20230630)
    first = api.call("ads", {"filters": RANGE, "max_count": 50})
    assert first.status == 200 and first.data["has_more"] is True
    second = api.call(
        "ads", {"filters": RANGE, "max_count": 50, "search_id": first.data["search_id"]}
    )
    ids = [a["ad"]["id"] for a in first.data["ads"] + second.data["ads"]]
    assert ids == [a["ad"]["id"] for a in truth[:100]]
    assert second.data["search_id"] != first.data["search_id"]  # it moves, like TikTok's
    other = {**RANGE, "country_code": "FR"}
    moved = api.call("ads", {"filters": other, "search_id": first.data["search_id"]})
    assert moved.status == 400 and "invalid or expired" in moved.json["error"]["message"]
    # The getting-started page's "country" is taken for "country_code".
    alias = api.call("ads", {"filters": {**RANGE, "country": "FR"}, "max_count": 50})
    assert alias.data["ads"] == api.call("ads", {"filters": other, "max_count": 50}).data["ads"]


def test_nested_fields_are_projected(sandbox: SandboxThread, api: Api) -> None:
    ad = adlib.of(sandbox.dataset).ads[0]
    fields = "ad.id,advertiser.follower_count,advertiser.paid_for_by,ad_group.targeting_info"
    reply = api.call("ad_details", {"ad_id": ad["ad"]["id"]}, fields)
    assert reply.data == {
        "ad": {"id": ad["ad"]["id"]},
        "advertiser": {
            "paid_by": ad["advertiser"]["paid_by"],
            "tiktok_account": {
                "follower_count": ad["advertiser"]["tiktok_account"]["follower_count"]
            },
        },
        "ad_group": {"targeting_info": ad["ad_group"]["targeting_info"]},
    }
    missing = api.call("ad_details", {"ad_id": 12345}, "ad.id")
    assert missing.status == 400 and "cannot be found" in missing.json["error"]["message"]


def test_denied_access_answers_scope_not_authorized_and_spends_nothing(make_sandbox) -> None:
    sandbox = make_sandbox(denied_access="no-ads:adlib", scope_denied_status=403)
    refused = Api(sandbox, "no-ads").call("advertisers", {"search_term": "awesome"})
    assert refused.status == 403 and refused.json["error"]["code"] == "scope_not_authorized"
    assert ENDPOINTS["advertisers"].scope in refused.json["error"]["message"]
    assert Api(sandbox, "no-ads").call("shops", {"shop_name": "Free Soul"}).status == 200
    assert Api(sandbox, "other").call("advertisers", {"search_term": "awesome"}).status == 200
    assert sandbox.stats()["quota_by_client"]["no-ads"] == {"main": 1}


def test_denied_access_option_is_checked() -> None:
    with pytest.raises(OptionsError, match="client_key:approval"):
        SandboxOptions.from_dict({"denied_access": "someone:everything"})
    with pytest.raises(OptionsError, match="401 or 403"):
        SandboxOptions.from_dict({"scope_denied_status": 500})
    scope = ENDPOINTS["ads"].scope
    assert SandboxOptions.from_dict({"denied_access": f"a:{scope}, b:shop"}).denied_access
