"""The video query language: validation and normalisation of TikTok's query object.

A query is ``{"and": [cond…], "or": [cond…], "not": [cond…]}`` with
``cond = {"field_name", "operation", "field_values"}``. TikTok answers a bad query with a
terse ``invalid_params``; checking it here first lets the config name the exact condition
and the fix, and lets the sandbox refuse exactly what TikTok refuses.
No Scrapy imports.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tiktok_scrapy.api.endpoints import (
    QUERY_FIELDS,
    QUERY_OPERATIONS,
    QUERY_ORDERED_FIELDS,
    VIDEO_LENGTHS,
)
from tiktok_scrapy.api.regions import REGION_CODES, REGION_HINTS
from tiktok_scrapy.text import excerpt, is_ascii_digits

QUERY_KEYS: tuple[str, ...] = ("and", "or", "not")
CONDITION_KEYS: tuple[str, ...] = ("field_name", "operation", "field_values")
ID_FIELDS: frozenset[str] = frozenset({"video_id", "music_id", "effect_id"})
COUNT_FIELDS: frozenset[str] = frozenset({"view_count", "comment_count"})
MAX_ID_DIGITS = 20  # ids are 64-bit: at most 20 digits


class QueryError(ValueError):
    """A query TikTok would refuse; the message starts with the condition's path."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean "x"?)' for the closest choice, or ''."""
    match = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""


def validate_query(query: Any, path: str = "query") -> dict[str, list[dict[str, Any]]]:
    """A normalised copy of ``query`` or ``QueryError`` naming what is wrong and where.

    Normalised: empty lists dropped, operations upper-cased, values as strings, region
    codes and video lengths upper-cased, hashtags without ``#``.
    """
    if not isinstance(query, dict):
        raise QueryError(
            f"{path}: expected an object with and/or/not lists, got {type(query).__name__}"
        )
    for key in query:
        if key not in QUERY_KEYS:
            raise QueryError(
                f'{path}: unknown key "{key}"{did_you_mean(key, QUERY_KEYS)} — use and, or, not'
            )
    normalised: dict[str, list[dict[str, Any]]] = {}
    for key in QUERY_KEYS:
        conditions = query.get(key)
        if conditions in (None, []):
            continue
        if not isinstance(conditions, list):
            raise QueryError(
                f"{path}.{key}: expected a list of conditions, got {type(conditions).__name__}"
            )
        normalised[key] = [
            validate_condition(cond, f"{path}.{key}[{i}]") for i, cond in enumerate(conditions)
        ]
    if not normalised:
        raise QueryError(f"{path}: empty — give at least one condition in and, or or not")
    return normalised


def validate_condition(cond: Any, path: str) -> dict[str, Any]:
    """One condition, normalised, or ``QueryError``."""
    if not isinstance(cond, dict):
        raise QueryError(
            f"{path}: expected an object with field_name, operation, "
            f"field_values, got {type(cond).__name__}"
        )
    for key in cond:
        if key not in CONDITION_KEYS:
            raise QueryError(
                f'{path}: unknown key "{key}"{did_you_mean(key, CONDITION_KEYS)} '
                f"— use field_name, operation, field_values"
            )
    for key in CONDITION_KEYS:
        if key not in cond:
            raise QueryError(f"{path}: missing {key}")
    field = cond["field_name"]
    if field not in QUERY_FIELDS:
        raise QueryError(
            f'{path}.field_name: unknown field "{field}"'
            f"{did_you_mean(field, QUERY_FIELDS)} — use one of " + ", ".join(QUERY_FIELDS)
        )
    operation = str(cond["operation"]).upper()
    if operation not in QUERY_OPERATIONS:
        raise QueryError(
            f'{path}.operation: unknown operation "{cond["operation"]}" '
            f"— use one of " + ", ".join(QUERY_OPERATIONS)
        )
    values = cond["field_values"]
    if not isinstance(values, list):
        raise QueryError(f'{path}.field_values: expected a list, e.g. ["{values}"]')
    if operation == "IN" and not values:
        raise QueryError(f"{path}.field_values: IN needs at least one value")
    if operation != "IN" and len(values) != 1:
        hint = " — use IN for several values" if operation == "EQ" else ""
        raise QueryError(
            f"{path}.field_values: {operation} takes exactly one value, got {len(values)}{hint}"
        )
    if operation not in ("EQ", "IN") and field not in QUERY_ORDERED_FIELDS:
        raise QueryError(
            f"{path}.operation: {operation} does not apply to {field} — use EQ "
            f"or IN (GT/GTE/LT/LTE work on " + ", ".join(sorted(QUERY_ORDERED_FIELDS)) + ")"
        )
    normalised_values = [
        normalise_value(field, value, f"{path}.field_values[{i}]") for i, value in enumerate(values)
    ]
    return {"field_name": field, "operation": operation, "field_values": normalised_values}


def normalise_value(field: str, value: Any, path: str) -> str:
    """One field value as the string TikTok expects, or ``QueryError``."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise QueryError(
            f"{path}: expected a string, got {value!r}"
            + (
                " — quote large ids so they are not read as floats"
                if isinstance(value, float)
                else ""
            )
        )
    text = str(value).strip()
    if not text:
        raise QueryError(f"{path}: empty value")
    if field == "create_date":
        return _check_create_date(text, path)
    if field == "region_code":
        return check_region(text, path)
    if field == "video_length":
        return check_video_length(text, path)
    # ASCII digits only: "²".isdigit() is true and int("²") raises; full-width digits
    # would silently become another number.
    if field in ID_FIELDS and not (is_ascii_digits(text) and len(text) <= MAX_ID_DIGITS):
        raise QueryError(f'{path}: {field} "{excerpt(text, 40)}" is not a numeric id')
    if field in COUNT_FIELDS and not (is_ascii_digits(text) and len(text) <= MAX_ID_DIGITS):
        raise QueryError(f'{path}: {field} "{excerpt(text, 40)}" is not a whole number')
    if field == "hashtag_name":
        return text.lstrip("#")
    return text


def _check_create_date(text: str, path: str) -> str:
    try:
        if len(text) != 8 or not text.isdigit():
            raise ValueError
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        raise QueryError(
            f'{path}: create_date "{text}" is not a YYYYMMDD date, e.g. "20240131"'
        ) from None
    return text


def check_region(text: str, path: str) -> str:
    """An upper-cased ISO-3166 alpha-2 code, or ``QueryError`` with a hint."""
    code = text.upper()
    if code in REGION_CODES:
        return code
    hint = REGION_HINTS.get(code)
    fix = f'use "{hint}"' if hint else "use a two-letter ISO 3166 code such as US, GB, DE"
    raise QueryError(f'{path}: unknown region code "{text}" — {fix}')


def check_video_length(text: str, path: str) -> str:
    """One of SHORT, MID, LONG, EXTRA_LONG (any case), or ``QueryError``."""
    length = text.upper().replace("-", "_")
    if length in VIDEO_LENGTHS:
        return length
    raise QueryError(
        f'{path}: unknown video_length "{text}" — use one of ' + ", ".join(VIDEO_LENGTHS)
    )


def condition(field: str, values: list[str]) -> dict[str, Any]:
    """A condition for ``values``: EQ for one, IN for several."""
    return {
        "field_name": field,
        "operation": "EQ" if len(values) == 1 else "IN",
        "field_values": list(values),
    }
