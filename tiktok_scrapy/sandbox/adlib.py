"""The Commercial Content API in the sandbox: ads, ad details, advertisers, commercial content.

Deterministic from the dataset's seed, built on first use, served as the spec pages
("commercial-content-api-*") describe: ``filters`` with a date range that starts on or after
2022-10-01, ``max_count`` at most 50 (default 10), and paging by sending back the returned
``search_id`` while ``has_more`` is true. The search_id is a token of the query and the
position (like the real one, it changes from page to page), so it survives a sandbox
restart; one sent with other filters is "invalid or expired". The advertiser query pages
not at all (its page documents no search_id). Where pages disagree, both readings are
accepted: ``country`` for ``country_code`` (the getting-started page), dates as strings
or integers.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from random import Random
from typing import TYPE_CHECKING, Any

from tiktok_scrapy.api.endpoints import AD_COUNTRIES, ADLIB_FIRST_DAY, EEA_COUNTRIES
from tiktok_scrapy.sandbox.dataset import MIN_ID, derive, unix
from tiktok_scrapy.sandbox.faults import search_id_message

if TYPE_CHECKING:
    from tiktok_scrapy.sandbox.app import Call
    from tiktok_scrapy.sandbox.dataset import Dataset

FIRST = date(2022, 10, 1)
LAST = date(2024, 3, 31)
ADVERTISERS = 40
ADS = 400
CONTENTS = 300
BRANDS = ("Awesome", "Nordic", "Verde", "Urban", "Stella", "Kaffee", "Maison", "Iberia")
KINDS = ("Food Co.", "Drinks", "Games", "Fashion", "Travel", "Bank", "Studio", "Beauty")
PHRASES = (
    "coffee morning", "mobile games", "summer sale", "new collection", "fast delivery",
    "free trial", "coffee beans", "travel deals", "spring sale", "mobile banking",
)  # fmt: skip
SIZES = ("0K", "1K", "3K", "11K", "30K", "120K", "2M", "15M")
ACCOUNT_KEYS = frozenset({"follower_count", "avatar_url", "profile_url"})


def _ymd(day: date) -> int:
    return int(day.strftime("%Y%m%d"))


def size_value(text: str) -> int:
    """ "11K" -> 11000 (K, M, B after an integer under 1000)."""
    return int(text[:-1]) * {"K": 10**3, "M": 10**6, "B": 10**9}[text[-1].upper()]


def size_text(value: int) -> str:
    """11000 -> "11K", 2_121_000 -> "2M": an integer under 1000 with K, M or B."""
    for suffix, unit in (("B", 10**9), ("M", 10**6)):
        if value >= unit:
            return f"{value // unit}{suffix}"
    return f"{max(1, value // 1000)}K"


@dataclass
class AdLibrary:
    """Advertisers, ads and commercial content of one seed (read-only once built)."""

    seed: int
    advertisers: list[dict] = field(init=False)
    ads: list[dict] = field(init=False)  # full detail records, newest first
    contents: list[dict] = field(init=False)  # newest first

    def __post_init__(self) -> None:
        rng = Random(derive(self.seed, "adlib"))
        span = (LAST - FIRST).days
        self.advertisers = [
            {
                "business_id": rng.randrange(10**14, 10**16),
                "business_name": f"{BRANDS[i % len(BRANDS)]} {KINDS[i // len(BRANDS) % 8]}",
                "country_code": rng.choice((*AD_COUNTRIES, "US")),
            }
            for i in range(ADVERTISERS)
        ]
        ads = []
        for _ in range(ADS):
            owner = rng.choice(self.advertisers)
            first = FIRST + timedelta(days=rng.randrange(span + 1))
            last = min(LAST, first + timedelta(days=rng.randrange(60)))
            countries = sorted(rng.sample(AD_COUNTRIES, rng.randrange(1, 4)))
            seen = {c: rng.choice(SIZES[1:]) for c in countries}
            total = sum(size_value(v) for v in seen.values())
            ads.append(
                {
                    "ad": {
                        "id": rng.randrange(MIN_ID, 2**63),
                        "first_shown_date": _ymd(first),
                        "last_shown_date": _ymd(last),
                        "status": rng.choice(("active", "inactive")),
                        "videos": [{"url": f"https://cdn.example/ad/{rng.getrandbits(40):x}.mp4"}],
                        "image_urls": [f"https://cdn.example/ad/{rng.getrandbits(40):x}.jpeg"],
                        "reach": {
                            "unique_users_seen": size_text(total),
                            "unique_users_seen_by_country": seen,
                        },
                        "title": f"{rng.choice(PHRASES).title()} — {owner['business_name']}",
                        "call_to_action": rng.choice(("Shop now", "Learn more", "Download")),
                        "advertising_objective": rng.choice(("Reach", "Traffic", "Sales")),
                    },
                    "advertiser": {
                        "business_id": owner["business_id"],
                        "business_name": owner["business_name"],
                        "paid_by": owner["business_name"],
                        "country_code": owner["country_code"],
                        "tiktok_account": {
                            "follower_count": rng.randrange(0, 3_000_000),
                            "profile_url": f"https://www.tiktok.com/@adv{owner['business_id']}",
                        },
                    },
                    "ad_group": {
                        "targeting_info": {
                            "number_of_users_targeted": rng.choice(SIZES[2:]),
                            "country": countries,
                            "gender": {"female": True, "male": rng.random() < 0.8},
                            "audience_targeting": rng.choice(("Yes", "No")),
                        }
                    },
                    "_reach": total,
                }
            )
        ads.sort(key=lambda a: (-a["ad"]["first_shown_date"], a["ad"]["id"]))
        self.ads = ads
        contents = []
        for _ in range(CONTENTS):
            day = FIRST + timedelta(days=rng.randrange(span + 1))
            at = unix(day) + rng.randrange(86400)
            username = f"creator_{rng.randrange(60):02d}"
            content = {
                "id": f"v0{rng.getrandbits(96):024x}",
                "create_date": day.strftime("%Y%m%d"),
                "create_timestamp": at,
                "label": rng.choice(("Paid partnership", "Promotional content")),
                "brand_names": rng.sample(BRANDS, rng.randrange(0, 3)),
                "creator": {"username": username},
                "videos": [
                    {
                        "url": f"https://www.tiktok.com/@{username}/video/{rng.getrandbits(62)}",
                        "cover_image_url": f"https://cdn.example/c/{rng.getrandbits(40):x}.jpeg",
                    }
                ],
                "_country": EEA_COUNTRIES[derive(self.seed, "creator", username) % 30],
            }
            if not content["brand_names"]:
                del content["brand_names"]  # empty values are absent
            contents.append(content)
        contents.sort(key=lambda c: (-c["create_timestamp"], c["id"]))
        self.contents = contents

    def ad(self, ad_id: int) -> dict | None:
        return next((a for a in self.ads if a["ad"]["id"] == ad_id), None)

    def query_ads(
        self,
        first: int,
        last: int,
        country: str = "ALL",
        term: str | None = None,
        fuzzy: bool = False,
        business_ids: list[int] | None = None,
        size: tuple[int | None, int | None] = (None, None),
    ) -> list[dict]:
        """The ads a query matches, in the order they are served."""
        found = []
        for record in self.ads:
            ad = record["ad"]
            if not first <= ad["first_shown_date"] <= last:
                continue
            if country != "ALL" and country not in record["ad_group"]["targeting_info"]["country"]:
                continue
            if term is not None:
                if not matches(ad["title"], term, fuzzy):
                    continue
            elif business_ids and record["advertiser"]["business_id"] not in business_ids:
                continue
            low, high = size
            if (low is not None and record["_reach"] < low) or (
                high is not None and record["_reach"] > high
            ):
                continue
            found.append(record)
        return found

    def query_contents(
        self, first: int, last: int, country: str = "ALL", usernames: list[str] | None = None
    ) -> list[dict]:
        return [
            c
            for c in self.contents
            if first <= int(c["create_date"]) <= last
            and (country == "ALL" or c["_country"] == country)
            and (not usernames or c["creator"]["username"] in usernames)
        ]

    def find_advertisers(self, term: str) -> list[dict]:
        return [a for a in self.advertisers if matches(a["business_name"], term, fuzzy=True)]


def matches(text: str, term: str, fuzzy: bool) -> bool:
    """exact_phrase: the phrase appears; fuzzy_phrase: any of its words does."""
    text, term = text.casefold(), term.casefold().strip()
    if fuzzy:
        return any(word in text for word in term.split())
    return term in text


@cache
def ad_library(seed: int) -> AdLibrary:
    return AdLibrary(seed)


def of(dataset: Dataset) -> AdLibrary:
    """The ad library that goes with a sandbox dataset."""
    return ad_library(dataset.seed)


# --- serving -------------------------------------------------------------------------------
def _error(message: str) -> Exception:
    from tiktok_scrapy.sandbox.app import ApiError

    return ApiError(message)


def project(fields: tuple[str, ...], record: dict) -> dict:
    """The requested ``object.key`` fields of a nested record (absent keys stay absent)."""
    out: dict[str, Any] = {}
    for name in fields:
        top, _, inner = name.partition(".")
        source = record.get(top)
        if not inner:
            if source is not None and not top.startswith("_"):
                out[top] = source
            continue
        if not isinstance(source, dict):
            continue
        if top == "advertiser" and inner in ACCOUNT_KEYS:
            account = source.get("tiktok_account", {})
            if inner in account:
                out.setdefault(top, {}).setdefault("tiktok_account", {})[inner] = account[inner]
            continue
        key = {"paid_for_by": "paid_by"}.get(inner, inner) if top == "advertiser" else inner
        if key in source:
            out.setdefault(top, {})[key] = source[key]
    return out


def _filters(call: Call, allowed: frozenset[str]) -> dict[str, Any]:
    filters = call.body.get("filters")
    if not isinstance(filters, dict):
        raise _error("Missing filters: give an object with a date range.")
    unknown = sorted(set(filters) - allowed)
    if unknown:
        raise _error(f"Unknown filter(s): {', '.join(unknown)}.")
    return filters


def _date_range(filters: dict[str, Any], key: str) -> tuple[int, int]:
    value = filters.get(key)
    if not isinstance(value, dict):
        raise _error(f"Missing {key}: give {{min, max}} as YYYYMMDD.")
    bounds = []
    for end in ("min", "max"):
        text = str(value.get(end, ""))
        if len(text) != 8 or not text.isdigit():
            raise _error(f"Invalid {key}.{end} {value.get(end)!r}: expected YYYYMMDD.")
        bounds.append(int(text))
    first, last = bounds
    if first < int(ADLIB_FIRST_DAY):
        raise _error(f"Invalid {key}.min: must be on or after {ADLIB_FIRST_DAY}.")
    if last < first:
        raise _error(f"Invalid {key}: max is before min.")
    return first, last


def _country(value: Any, allowed: tuple[str, ...], key: str) -> str:
    code = "ALL" if value in (None, "") else str(value).upper()
    if code != "ALL" and code not in allowed:
        raise _error(f"Invalid {key} {value!r}: not a supported country.")
    return code


def _size(filters: dict[str, Any]) -> tuple[int | None, int | None]:
    value = filters.get("unique_users_seen_size_range")
    if value is None:
        return (None, None)
    if not isinstance(value, dict):
        raise _error("Invalid unique_users_seen_size_range: give {min, max}.")
    bounds: list[int | None] = []
    for end in ("min", "max"):
        text = value.get(end)
        if text is None:
            bounds.append(None)
            continue
        text = str(text)
        if not (text[:-1].isdigit() and len(text) <= 4 and text[-1:].upper() in "KMB"):
            raise _error(f"Invalid unique_users_seen_size_range.{end} {text!r}: e.g. 10K, 2M.")
        bounds.append(size_value(text))
    return bounds[0], bounds[1]


def _search_page(call: Call, key: str, matched: list[dict], fingerprint: str) -> dict[str, Any]:
    """A page of ``matched`` at the search_id's position; the next search_id if more."""
    offset = 0
    search_id = call.body.get("search_id")
    if search_id not in (None, ""):
        offset = _position(str(search_id), fingerprint)
    size = call.max_count()
    chunk = matched[offset : offset + size]
    data: dict[str, Any] = {key: [project(call.fields, r) for r in chunk]}
    more = offset + size < len(matched)
    data["has_more"] = more
    if more:
        data["search_id"] = _token(fingerprint, offset + size)
    return data


def _token(fingerprint: str, offset: int) -> str:
    raw = json.dumps({"last_sort": [offset, fingerprint]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _position(search_id: str, fingerprint: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(search_id + "=" * (-len(search_id) % 4))
        offset, owner = json.loads(raw)["last_sort"]
    except (ValueError, KeyError, TypeError):
        raise _error(search_id_message(search_id)) from None
    if owner != fingerprint or not isinstance(offset, int) or offset < 0:
        raise _error(search_id_message(search_id))
    return offset


def _fingerprint(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


AD_FILTERS = frozenset(
    {
        "ad_published_date_range",
        "country_code",
        "country",
        "advertiser_business_ids",
        "unique_users_seen_size_range",
    }
)
CONTENT_FILTERS = frozenset(
    {"content_published_date_range", "creator_country_code", "creator_usernames"}
)


def serve_ads(call: Call) -> dict[str, Any]:
    filters = _filters(call, AD_FILTERS)
    first, last = _date_range(filters, "ad_published_date_range")
    country = _country(filters.get("country_code", filters.get("country")), AD_COUNTRIES, "country")
    term = call.body.get("search_term")
    if term is not None and (not isinstance(term, str) or len(term) > 50):
        raise _error("Invalid search_term: a string of at most 50 characters.")
    search_type = str(call.body.get("search_type") or "exact_phrase").lower()
    if search_type not in ("exact_phrase", "fuzzy_phrase"):
        raise _error(f"Invalid search_type {search_type!r}: exact_phrase or fuzzy_phrase.")
    ids = filters.get("advertiser_business_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise _error("Invalid advertiser_business_ids: a list of integers.")
    size = _size(filters)
    library = of(call.dataset)
    matched = library.query_ads(
        first, last, country, term, search_type == "fuzzy_phrase", ids, size
    )
    fingerprint = _fingerprint(first, last, country, term, search_type, ids, size)
    return _search_page(call, "ads", matched, fingerprint)


def serve_ad_detail(call: Call) -> dict[str, Any]:
    ad_id = call.id_arg("ad_id")
    assert ad_id is not None
    record = of(call.dataset).ad(ad_id)
    if record is None:
        raise _error(f"Ad {ad_id} cannot be found.")
    return project(call.fields, record)


def serve_advertisers(call: Call) -> dict[str, Any]:
    term = call.str_arg("search_term")
    if len(term) > 50:
        raise _error("Invalid search_term: at most 50 characters.")
    found = of(call.dataset).find_advertisers(term)[: call.max_count()]
    return {"advertisers": [project(call.fields, a) for a in found]}


def serve_commercial_content(call: Call) -> dict[str, Any]:
    filters = _filters(call, CONTENT_FILTERS)
    first, last = _date_range(filters, "content_published_date_range")
    country = _country(filters.get("creator_country_code"), EEA_COUNTRIES, "creator_country_code")
    usernames = filters.get("creator_usernames") or []
    if not isinstance(usernames, list) or not all(isinstance(u, str) for u in usernames):
        raise _error("Invalid creator_usernames: a list of usernames.")
    matched = of(call.dataset).query_contents(first, last, country, usernames)
    fingerprint = _fingerprint(first, last, country, sorted(usernames))
    return _search_page(call, "commercial_contents", matched, fingerprint)


QUERY_KEYS = frozenset({"filters", "max_count", "search_id"})
BODY_KEYS: dict[str, frozenset[str]] = {
    "ads": QUERY_KEYS | {"search_term", "search_type"},
    "ad_details": frozenset({"ad_id"}),
    "advertisers": frozenset({"search_term", "max_count"}),
    "commercial_content": QUERY_KEYS,
}
SERVERS = {
    "ads": serve_ads,
    "ad_details": serve_ad_detail,
    "advertisers": serve_advertisers,
    "commercial_content": serve_commercial_content,
}
