"""Evaluate a (validated) video query against sandbox videos.

The query language is TikTok's: ``{"and": [...], "or": [...], "not": [...]}`` of conditions
``{"field_name", "operation", "field_values"}``. A query is compiled once into a predicate,
because the sandbox runs it over every video of a window (up to ~1M at benchmark scale).
Values arrive as strings (as in TikTok's docs) or ints; both are accepted. The query is
assumed valid: the server rejects bad ones before they get here.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

Video = Mapping[str, Any]
Predicate = Callable[[Video], bool]

VIDEO_LENGTH_ORDER: dict[str, int] = {"SHORT": 0, "MID": 1, "LONG": 2, "EXTRA_LONG": 3}

_ORDERED_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "GT": operator.gt,
    "GTE": operator.ge,
    "LT": operator.lt,
    "LTE": operator.le,
}


def video_length_category(duration: float) -> str:
    """TikTok's video_length bucket for a duration in seconds."""
    if duration < 15:
        return "SHORT"
    if duration <= 60:
        return "MID"
    if duration <= 300:
        return "LONG"
    return "EXTRA_LONG"


# --- what each field reads from a video: one value, or several for list-valued fields ---


def _one(key: str) -> Callable[[Video], tuple]:
    def get(video: Video) -> tuple:
        value = video.get(key)
        return () if value is None else (value,)

    return get


def _create_date(video: Video) -> tuple[str, ...]:
    date_str = video.get("_date")
    if date_str is None:  # not a sandbox-made video: derive it
        date_str = datetime.fromtimestamp(video["create_time"], UTC).strftime("%Y%m%d")
    return (date_str,)


def _hashtags(video: Video) -> tuple[str, ...]:
    return tuple(h.lower() for h in video.get("hashtag_names") or ())


def _effects(video: Video) -> tuple[int, ...]:
    """Effect ids as numbers: the API sends strings of digits, a query may send either."""
    return tuple(int(e) for e in video.get("effect_ids") or () if str(e).strip().isdigit())


def _video_length(video: Video) -> tuple[int, ...]:
    duration = video.get("video_duration")
    if duration is None:
        return ()
    return (VIDEO_LENGTH_ORDER[video_length_category(duration)],)


def _region(video: Video) -> tuple[str, ...]:
    region = video.get("region_code")
    return () if region is None else (region.upper(),)


def _int(value: Any) -> int:
    return int(str(value).strip())


def _length(value: Any) -> int:
    return VIDEO_LENGTH_ORDER[str(value).strip().upper()]


# field -> (extract values from a video, convert a query value)
_FIELDS: dict[str, tuple[Callable[[Video], tuple], Callable[[Any], Any]]] = {
    "create_date": (_create_date, lambda v: str(v).strip()),
    "username": (_one("username"), str),
    "region_code": (_region, lambda v: str(v).strip().upper()),
    "video_id": (_one("id"), _int),
    "hashtag_name": (_hashtags, lambda v: str(v).strip().lstrip("#").lower()),
    "music_id": (_one("music_id"), _int),
    "effect_id": (_effects, _int),
    "video_length": (_video_length, _length),
    "view_count": (_one("view_count"), _int),
    "comment_count": (_one("comment_count"), _int),
}


def _keyword_condition(operation: str, values: list[Any]) -> Predicate:
    """Keyword: case-insensitive substring of the description (TikTok's is fuzzier)."""
    needles = [str(v).lower() for v in values]
    if operation in _ORDERED_OPS:  # meaningless for text; the server rejects it
        return lambda video: False

    def match(video: Video) -> bool:
        text = (video.get("video_description") or "").lower()
        return any(n in text for n in needles)

    return match


def compile_condition(condition: Mapping[str, Any]) -> Predicate:
    """One condition -> predicate. EQ/IN: any value matches; GT..LTE: against the first."""
    field = condition["field_name"]
    operation = str(condition["operation"]).upper()
    values = list(condition.get("field_values") or ())
    if field == "keyword":
        return _keyword_condition(operation, values)
    try:
        extract, convert = _FIELDS[field]
    except KeyError:
        raise ValueError(f"unknown query field {field!r}") from None
    converted = [convert(v) for v in values]
    if operation in ("EQ", "IN"):
        wanted = frozenset(converted)
        return lambda video: any(x in wanted for x in extract(video))
    if operation in _ORDERED_OPS:
        if not converted:
            return lambda video: False
        compare, bound = _ORDERED_OPS[operation], converted[0]
        return lambda video: any(compare(x, bound) for x in extract(video))
    raise ValueError(f"unknown query operation {operation!r}")


def compile_query(query: Mapping[str, Iterable[Mapping[str, Any]]]) -> Predicate:
    """``and`` = all hold, ``or`` = at least one holds (if any given), ``not`` = none holds."""
    must = [compile_condition(c) for c in query.get("and") or ()]
    some = [compile_condition(c) for c in query.get("or") or ()]
    never = [compile_condition(c) for c in query.get("not") or ()]

    def predicate(video: Video) -> bool:
        return (
            all(p(video) for p in must)
            and (not some or any(p(video) for p in some))
            and not any(p(video) for p in never)
        )

    return predicate


def matches(query: Mapping[str, Any], video: Video) -> bool:
    """Convenience for one-off checks; compile_query once for many videos."""
    return compile_query(query)(video)


def date_bounds(query: Mapping[str, Any]) -> tuple[date | None, date | None]:
    """The narrowest [first, last] UTC days the ``and`` create_date conditions allow.

    Lets the dataset skip generating days no match can come from (None: unbounded).
    """
    first: date | None = None
    last: date | None = None
    one_day = timedelta(days=1)
    for condition in query.get("and") or ():
        values = condition.get("field_values") or ()
        if condition.get("field_name") != "create_date" or not values:
            continue
        days = [datetime.strptime(str(v).strip(), "%Y%m%d").date() for v in values]
        operation = str(condition.get("operation")).upper()
        low = {"EQ": min(days), "IN": min(days), "GTE": days[0], "GT": days[0] + one_day}
        high = {"EQ": max(days), "IN": max(days), "LTE": days[0], "LT": days[0] - one_day}
        if operation in low:
            first = low[operation] if first is None else max(first, low[operation])
        if operation in high:
            last = high[operation] if last is None else min(last, high[operation])
    return first, last
