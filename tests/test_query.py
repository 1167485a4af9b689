"""Query validation: what TikTok refuses is refused here, naming the condition's path."""

from __future__ import annotations

from typing import Any

import pytest

from tiktok_scrapy.api.query import QueryError, condition, validate_query


def cond(field: str, op: str, *values: Any) -> dict[str, Any]:
    return {"field_name": field, "operation": op, "field_values": list(values)}


def test_normalises_a_valid_query() -> None:
    query = {
        "and": [cond("region_code", "in", "us", "gb"), cond("hashtag_name", "eq", "#flood")],
        "or": [],
        "not": [cond("video_length", "EQ", "short"), cond("music_id", "EQ", 2**63 - 1)],
    }
    assert validate_query(query) == {
        "and": [cond("region_code", "IN", "US", "GB"), cond("hashtag_name", "EQ", "flood")],
        "not": [cond("video_length", "EQ", "SHORT"), cond("music_id", "EQ", str(2**63 - 1))],
    }
    assert query["and"][0]["operation"] == "in"  # a copy: the input is untouched


def test_ordered_operations_on_dates_and_counts() -> None:
    query = {"and": [cond("create_date", "GTE", "20240229"), cond("view_count", "GT", 1000)]}
    assert validate_query(query)["and"][1]["field_values"] == ["1000"]


def and_(*conditions: Any) -> dict[str, Any]:
    return {"and": list(conditions)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, "query: empty"),
        ({"and": [], "not": []}, "query: empty"),
        ({"andd": [cond("keyword", "EQ", "x")]}, 'unknown key "andd" (did you mean "and"?)'),
        ({"and": cond("keyword", "EQ", "x")}, "query.and: expected a list"),
        (and_({"field_name": "keyword", "operation": "EQ"}), "query.and[0]: missing field_values"),
        (
            {"or": [cond("hashtag", "EQ", "x")]},
            'query.or[0].field_name: unknown field "hashtag" (did you mean "hashtag_name"?)',
        ),
        (
            and_(cond("keyword", "EQ", "a"), cond("keyword", "CONTAINS", "a")),
            'query.and[1].operation: unknown operation "CONTAINS" — use one of EQ, IN, GT',
        ),
        (and_(cond("keyword", "EQ", "a", "b")), "EQ takes exactly one value, got 2 — use IN"),
        (and_(cond("keyword", "IN")), "query.and[0].field_values: IN needs at least one value"),
        (
            and_(cond("username", "GT", "a")),
            "query.and[0].operation: GT does not apply to username",
        ),
        (
            and_(cond("create_date", "GT", "2024-01-01")),
            'create_date "2024-01-01" is not a YYYYMMDD date',
        ),
        (and_(cond("create_date", "LT", "20240230")), "is not a YYYYMMDD date"),
        (
            and_(cond("region_code", "EQ", "UK")),
            'query.and[0].field_values[0]: unknown region code "UK" — use "GB"',
        ),
        (and_(cond("region_code", "IN", "US", "ZZ")), "field_values[1]: unknown region code"),
        (
            and_(cond("video_length", "EQ", "MEDIUM")),
            'unknown video_length "MEDIUM" — use one of SHORT, MID',
        ),
        (and_(cond("video_id", "EQ", "12ab")), 'video_id "12ab" is not a numeric id'),
        (and_(cond("music_id", "EQ", 7.3e18)), "quote large ids"),
        (and_(cond("keyword", "EQ", "  ")), "field_values[0]: empty value"),
        (
            {"not": [{**cond("keyword", "EQ", "a"), "extra": 1}]},
            'query.not[0]: unknown key "extra"',
        ),
        ({"and": ["keyword"]}, "query.and[0]: expected an object"),
    ],
)
def test_refused_queries_name_the_path(query: dict, expected: str) -> None:
    with pytest.raises(QueryError) as info:
        validate_query(query)
    assert expected in str(info.value)
    assert isinstance(info.value, ValueError)


def test_condition_uses_eq_for_one_value_and_in_for_several() -> None:
    assert condition("keyword", ["a"])["operation"] == "EQ"
    assert condition("keyword", ["a", "b"])["operation"] == "IN"
