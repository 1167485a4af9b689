"""Crawl configs: what a researcher asks for, validated before a single request is spent.

Every spider runs as ``scrapy crawl <spider> -a config=<source> [-a key=value ...]``.
``load_config`` reads the source (a YAML/JSON file, inline JSON as scrapyd passes it, or
the name of a shipped example), applies the ``-a`` overrides and validates it with the
pydantic model of that spider's input kind. Every mistake becomes a ``ConfigError`` of one
or two lines naming the file, the key and the fix — never a traceback — because the people
running this are researchers, not Python programmers. Keys: docs/configuration.md.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import importlib.resources
import json
import re
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Union

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

import tiktok_scrapy
from tiktok_scrapy.api.endpoints import (
    AD_COUNTRIES,
    ADLIB_FIRST_DAY,
    ADLIB_MAX_COUNT,
    EEA_COUNTRIES,
    ENDPOINTS,
    MAX_COUNT,
    MAX_WINDOW_DAYS,
    SHOP_PAGE_SIZE,
)
from tiktok_scrapy.api.query import (
    QueryError,
    check_region,
    check_video_length,
    condition,
    did_you_mean,
    validate_query,
)
from tiktok_scrapy.api.windows import Window, check_day, latest_settled_day, plan_windows
from tiktok_scrapy.inputs import (
    InputError,
    dedupe,
    has_comments,
    is_id,
    read_output,
    read_values,
)
from tiktok_scrapy.inputs import to_ids as _to_ids
from tiktok_scrapy.text import (
    excerpt,
    expand_user,
    invisible_at,
    invisible_message,
    line_column,
    one_line,
)

DOCS = "docs/configuration.md"
EXAMPLES_PACKAGE = "tiktok_scrapy.examples"
LIMIT_KEYS = frozenset({"max_items", "max_requests", "max_minutes"})
# A config is a few keys and lists: anything far bigger is a mistake or an attack (a YAML
# alias bomb expands 482 bytes into millions of values).
MAX_CONFIG_BYTES = 1_000_000
MAX_NODES = 20_000
MAX_DEPTH = 32
# Day counts and durations beyond these are typos (and would overflow date arithmetic).
MAX_DAYS = 3650
MAX_MINUTES = 60 * 24 * 366
UTF_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


class ConfigError(Exception):
    """One line for a person: what is wrong, where (file, key), how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(str(message)))


# --- Value types ------------------------------------------------------------------------


def _parse_date(value: Any) -> date:
    """YYYY-MM-DD, YYYYMMDD (string or int) or a YAML date, as a UTC calendar day."""
    if isinstance(value, datetime):
        return check_day(value.date())
    if isinstance(value, date):
        return check_day(value)
    text = str(value).strip() if isinstance(value, str) or type(value) is int else ""
    if text.isascii() and re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}|\d{8}", text):
        for fmt in ("%Y-%m-%d", "%Y%m%d"):
            try:
                return check_day(datetime.strptime(text, fmt).date())
            except ValueError as exc:
                if "is before" in str(exc) or "ahead" in str(exc):
                    raise
        raise ValueError(
            f"{text} is not a day on the calendar — write YYYY-MM-DD with a real month and day"
        )
    raise ValueError(f'"{excerpt(value, 40)}" is not a date — write YYYY-MM-DD, e.g. 2024-01-31')


def _as_list(value: Any) -> list:
    """A single value or a list, as a list (YAML lets people write either)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _as_ids(value: Any) -> list[int]:
    try:
        return _to_ids(_as_list(value), "expected numeric ids")
    except InputError as exc:
        raise ValueError(f"{exc} — write ids as whole numbers, e.g. 7312345678901234567") from None


def _as_strings(value: Any) -> list[str]:
    items = _as_list(value)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ValueError(f"expected text, got {excerpt(item)}")
    return [str(item).strip() for item in items if str(item).strip()]


def _comma_message(key: str, i: int, value: str) -> str:
    parts = [p.strip() for p in value.split(",") if p.strip()][:3]
    return (
        f'{key}[{i}]: "{excerpt(value, 40)}" holds a comma — YAML reads `{key}: a, b` as one '
        f"text, not a list; write a list: {key}: [{', '.join(excerpt(p, 20) for p in parts)}]"
    )


def check_names(values: list[str], key: str, kind: str) -> list[str]:
    """Hashtags or usernames as TikTok knows them: no commas, spaces, # or @ inside."""
    for i, value in enumerate(values):
        if "," in value:
            raise ValueError(_comma_message(key, i, value))
        bad = next((c for c in value if c.isspace() or c in "#@"), None)
        if bad is not None:
            what = "a space" if bad.isspace() else f"a {bad}"
            raise ValueError(
                f'{key}[{i}]: "{excerpt(value, 40)}" holds {what} — {kind} have none; '
                f"give each one as its own list item"
                + (" (in YAML, # after a space starts a comment)" if bad == "#" else "")
            )
    return [v for v in values if v]


DateValue = Annotated[date, BeforeValidator(_parse_date)]
IdList = Annotated[list[int], BeforeValidator(_as_ids)]
StrList = Annotated[list[str], BeforeValidator(_as_strings)]
MaxCount = Annotated[int, Field(ge=1, le=MAX_COUNT)]


def _fields_for(spider: str, value: Any) -> tuple[str, ...]:
    """``fields`` as the endpoint's field names: "all" (default), a list or "a,b,c"."""
    known = ENDPOINTS[spider].fields
    if value is None or value == "all" or value == ["all"]:
        return known
    if not known:
        if value in ((), []):  # what to_jsonable() writes for these endpoints
            return ()
        raise ValueError(f"the {spider} endpoint takes no fields — remove the key")
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else _as_list(value)
    names = [str(n) for n in names if str(n).strip()]
    if not names:
        raise ValueError('empty — leave it out or write "all" for every field')
    for name in names:
        if name not in known:
            raise ValueError(
                f'unknown field "{excerpt(name, 40)}" for {spider}{did_you_mean(name, known)} '
                f"— use some of: {', '.join(known)}"
            )
    return tuple(dedupe(names))


# Lists whose order does not change what is crawled: chains are named by their input, an
# IN condition matches any of its values, and fields are a set.
UNORDERED_INPUTS = frozenset({"usernames", "video_ids", "comment_ids", "playlist_ids", "seeds"})


def _unordered(data: dict[str, Any], spider: str) -> dict[str, Any]:
    """``data`` with its set-like lists in one canonical order (for the fingerprint)."""

    def canonical(values: list) -> list:
        return sorted(set(values), key=lambda v: (type(v).__name__, v))

    data = copy.deepcopy(data)
    for key in UNORDERED_INPUTS.intersection(data):
        data[key] = canonical(data[key])
    if data.get("fields"):
        data["fields"] = _field_order(spider, data["fields"])
    for conditions in (data.get("query") or {}).values():
        for cond in conditions if isinstance(conditions, list) else ():
            if isinstance(cond, dict) and cond.get("operation") == "IN":
                cond["field_values"] = canonical(cond.get("field_values") or [])
    return data


def _field_order(spider: str, fields: list[str]) -> list[str]:
    """``fields`` in their endpoint's order (so the default "all" keeps its fingerprint)."""
    for name in (spider, "users", "videos"):
        known = ENDPOINTS[name].fields if name in ENDPOINTS else ()
        if set(fields) <= set(known):
            return [f for f in known if f in fields]
    return sorted(set(fields))


# --- Models -----------------------------------------------------------------------------


class CrawlConfig(BaseModel):
    """Keys common to every spider: a label and the crawl's limits."""

    model_config = ConfigDict(extra="forbid")
    default_spider: ClassVar[str] = ""

    name: str | None = None
    max_items: int | None = Field(None, ge=1, le=10**12)
    max_requests: int | None = Field(None, ge=1, le=10**12)
    max_minutes: float | None = Field(None, gt=0, le=MAX_MINUTES, allow_inf_nan=False)
    warnings: list[str] = Field(default_factory=list, exclude=True)

    _spider: str = PrivateAttr(default="")
    _base_dir: Path | None = PrivateAttr(default=None)
    _where: str = PrivateAttr(default="config")

    @model_validator(mode="after")
    def _bind_context(self, info: ValidationInfo) -> CrawlConfig:
        context = info.context or {}
        self._spider = context.get("spider") or self.default_spider
        self._base_dir = context.get("base_dir")
        self._where = context.get("where", "config")
        return self

    @property
    def spider(self) -> str:
        """The spider this config was loaded for."""
        return self._spider

    def to_jsonable(self) -> dict[str, Any]:
        """The config as stored in the JOBDIR and the crawls record (dates as ISO strings)."""
        return self.model_dump(mode="json", exclude_none=True)

    def _canonical(self) -> str:
        data = {k: v for k, v in self.to_jsonable().items() if k not in LIMIT_KEYS}
        data["spider"] = self.spider
        data = _unordered(data, self.spider)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def fingerprint(self) -> str:
        """sha256 of what is crawled (limits excluded): resuming a different config is refused.

        Lists that are sets (inputs, IN values, fields) count by content, not order.
        """
        return hashlib.sha256(self._canonical().encode()).hexdigest()

    def query_id(self) -> str:
        """The label that provenance records: ``name``, or a short hash of the config."""
        return self.name or self.fingerprint()[:12]

    def resolve(self, path: Path) -> Path:
        """A relative path from the current folder if it exists there, else the config's."""
        path = expand_user(path)
        if path.is_absolute():
            return path
        candidates = [Path.cwd() / path]
        if self._base_dir is not None:
            candidates.append(self._base_dir / path)
        return next((c for c in candidates if _exists(c)), candidates[0])

    def _read(self, key: str, reader: typing.Callable[[Path], list]) -> list:
        """Run a file reader for ``key``; its errors become ConfigErrors naming the key."""
        path = getattr(self, key)
        resolved = self.resolve(path)
        try:
            return reader(resolved)
        except InputError as exc:
            where = f"{self._where}: {key}"
            if not _exists(resolved):
                looked = " or ".join(str(c) for c in {Path.cwd(), self._base_dir} if c)
                raise ConfigError(
                    f"{where}: {excerpt(str(path), 120)} not found (looked in {looked}) — "
                    f"check the path; relative paths are read from the current folder "
                    f"first, then the config's folder"
                ) from None
            raise ConfigError(f"{where}: {exc}") from None
        except OSError as exc:
            if not _exists(resolved):
                raise ConfigError(
                    f"{self._where}: {key}: {excerpt(str(path), 120)} not found "
                    f"({exc.strerror}) — check the path"
                ) from None
            raise ConfigError(
                f"{self._where}: {key}: cannot read {excerpt(str(resolved), 120)}: {exc.strerror}"
            ) from None


SHORTHAND: dict[str, str] = {
    "hashtags": "hashtag_name",
    "keywords": "keyword",
    "regions": "region_code",
    "usernames": "username",
    "music_ids": "music_id",
    "effect_ids": "effect_id",
    "video_length": "video_length",
}
EXCLUDE_SHORTHAND: dict[str, str] = {
    "exclude_hashtags": "hashtag_name",
    "exclude_keywords": "keyword",
    "exclude_regions": "region_code",
    "exclude_usernames": "username",
}
_SHORT = Field(default_factory=list, exclude=True)


class VideosConfig(CrawlConfig):
    """Video query: TikTok's query object (or shorthand for it) over a date range."""

    default_spider: ClassVar[str] = "videos"

    query: dict[str, Any] = Field(default_factory=dict)
    start_date: DateValue | None = None  # required unless mode is daily
    end_date: DateValue | None = None  # required unless mode is daily
    # Continuous crawling (tiktok_scrapy.continuous): "daily" crawls the newest complete
    # day (today - lag_days, UTC) each run, catches up missed days from its ledger and
    # re-crawls a day recrawl_after_days later (late-indexed videos, settled counts).
    mode: typing.Literal["range", "daily"] = "range"
    lag_days: int = Field(2, ge=2, le=MAX_DAYS)
    recrawl_after_days: int | None = Field(None, ge=1, le=MAX_DAYS)
    fields: tuple[str, ...] = Field("all", validate_default=True)
    max_count: MaxCount = 100
    # None (default): adaptive windows — the widest the API allows, cut while crawling where
    # the first page proves a window dense (spiders/videos.py). A number: fixed windows.
    window_days: int | None = Field(None, ge=1, le=MAX_WINDOW_DAYS)
    is_random: bool = False
    # Shorthand, expanded into ``query`` (and excluded from dumps: the query says it all).
    hashtags: StrList = _SHORT
    keywords: StrList = _SHORT
    regions: StrList = _SHORT
    usernames: StrList = _SHORT
    music_ids: StrList = _SHORT
    effect_ids: StrList = _SHORT
    video_length: StrList = _SHORT
    exclude_hashtags: StrList = _SHORT
    exclude_keywords: StrList = _SHORT
    exclude_regions: StrList = _SHORT
    exclude_usernames: StrList = _SHORT

    @field_validator("fields", mode="before")
    @classmethod
    def _check_fields(cls, value: Any) -> tuple[str, ...]:
        return _fields_for("videos", value)

    @field_validator("regions", "exclude_regions", mode="before")
    @classmethod
    def _norway(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare NO (Norway) as false; no other boolean means anything here.
        return ["NO" if v is False else v for v in _as_list(value)]

    @field_validator("regions", "exclude_regions", "video_length", "music_ids", "effect_ids")
    @classmethod
    def _no_commas(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for i, v in enumerate(value):
            if "," in v:
                raise ValueError(_comma_message(info.field_name or "", i, v))
        return value

    @field_validator("regions", "exclude_regions")
    @classmethod
    def _check_regions(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [check_region(v, f"{info.field_name}[{i}]") for i, v in enumerate(value)]

    @field_validator("video_length")
    @classmethod
    def _check_lengths(cls, value: list[str]) -> list[str]:
        return [check_video_length(v, f"video_length[{i}]") for i, v in enumerate(value)]

    @field_validator("music_ids", "effect_ids")
    @classmethod
    def _check_ids(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for i, v in enumerate(value):
            if not is_id(v):
                raise ValueError(
                    f'{info.field_name}[{i}]: "{excerpt(v, 40)}" is not a numeric id — write '
                    f"it with the digits 0-9 only"
                )
        return value

    @field_validator("hashtags", "exclude_hashtags")
    @classmethod
    def _strip_hash(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return check_names([v.lstrip("#") for v in value], info.field_name, "hashtags")

    @field_validator("usernames", "exclude_usernames")
    @classmethod
    def _strip_at(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return check_names([v.lstrip("@") for v in value], info.field_name, "usernames")

    _daily_windows: list[Window] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build(self) -> VideosConfig:
        self.query = self._expanded_query()
        if self.mode == "daily":
            return self  # the days come from the ledger at run time (continuous.py)
        for key in ("start_date", "end_date"):
            if getattr(self, key) is None:
                raise ValueError(f"`{key}` is required — {FIXES[key]} (or set mode: daily)")
        assert self.start_date is not None and self.end_date is not None
        if self.start_date > self.end_date:
            raise ValueError(
                f"start_date {self.start_date} is after end_date {self.end_date} — swap them"
            )
        settled = latest_settled_day()
        if self.end_date > settled:
            self.warnings.append(
                f"end_date {self.end_date} is inside TikTok's ~48 h lag: videos after "
                f"{settled} may not be queryable yet — use end_date: {settled} or recrawl later"
            )
        return self

    def _expanded_query(self) -> dict[str, Any]:
        query = copy.deepcopy(self.query)
        if not isinstance(query, dict):
            raise ValueError(
                f"query: expected an object with and/or/not lists, got {excerpt(query)}"
            )
        ands = [condition(f, getattr(self, k)) for k, f in SHORTHAND.items() if getattr(self, k)]
        nots = [
            condition(f, getattr(self, k)) for k, f in EXCLUDE_SHORTHAND.items() if getattr(self, k)
        ]
        if ands:
            query["and"] = [*(query.get("and") or []), *ands]
        if nots:
            query["not"] = [*(query.get("not") or []), *nots]
        if not any(query.get(k) for k in ("and", "or", "not")) and set(query) <= {
            "and",
            "or",
            "not",
        }:
            raise ValueError(
                "no query — give `query` or a shorthand such as hashtags, "
                "keywords, regions or usernames (see examples/quickstart.yaml)"
            )
        try:
            return validate_query(query)
        except QueryError as exc:
            raise ValueError(str(exc)) from None

    def windows(self) -> list[Window]:
        """The date windows to query, oldest first, each at most ``window_days`` long.

        Daily mode: the days ``continuous.prepare_daily`` chose for this run.
        """
        if self.mode == "daily" and self._daily_windows is not None:
            return list(self._daily_windows)
        if self.start_date is None or self.end_date is None:  # daily, not yet planned
            raise ConfigError(
                f"{self._where}: mode: daily picks its days at run time — run "
                f"it with `scrapy crawl videos` or `scrapy plan videos`"
            )
        return plan_windows(self.start_date, self.end_date, self.window_days or MAX_WINDOW_DAYS)

    @property
    def adaptive(self) -> bool:
        """Windows are cut by what the pages show (no ``window_days``, not daily mode)."""
        return self.window_days is None and self.mode != "daily" and not self.is_random

    def set_daily_windows(self, windows: list[Window]) -> None:
        """Daily mode: the windows this run crawls (set by ``continuous.prepare_daily``)."""
        self._daily_windows = list(windows)


class _InputsMixin:
    """Checks shared by the configs whose inputs are lists and files."""

    input_keys: ClassVar[tuple[str, ...]]

    def _require_input(self) -> None:
        if not any(getattr(self, key) for key in self.input_keys):
            keys = ", ".join(f"`{k}`" for k in self.input_keys)
            raise ValueError(f"no input — give one of {keys}")


class UserInputsConfig(_InputsMixin, CrawlConfig):
    """Per-account endpoints: users, followers, following, liked/pinned/reposted videos."""

    default_spider: ClassVar[str] = "users"
    input_keys: ClassVar[tuple[str, ...]] = ("usernames", "usernames_file", "from_output")

    usernames: StrList = Field(default_factory=list)
    usernames_file: Path | None = None
    from_output: Path | None = None
    column: str = "username"
    max_count: MaxCount = 100
    fields: tuple[str, ...] = Field("all", validate_default=True)

    @field_validator("fields", mode="before")
    @classmethod
    def _check_fields(cls, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        return _fields_for((info.context or {}).get("spider") or cls.default_spider, value)

    @field_validator("usernames")
    @classmethod
    def _strip_at(cls, value: list[str]) -> list[str]:
        return check_names([v.lstrip("@") for v in value], "usernames", "usernames")

    @model_validator(mode="after")
    def _check_inputs(self) -> UserInputsConfig:
        self._require_input()
        return self

    def inputs(self) -> list[str]:
        """Usernames from the list, the file and the earlier output; each once, order kept."""
        names: list[str] = list(self.usernames)
        if self.usernames_file:
            names += self._read(
                "usernames_file", lambda p: read_values(p, self.column, kind="name")
            )
        if self.from_output:
            column = None if self.column == "username" else self.column
            names += self._read("from_output", lambda p: read_output(p, "username", column))
        names = dedupe(str(n).strip().lstrip("@") for n in names if str(n).strip())
        if not names:
            raise ConfigError(
                f"{self._where}: no usernames found in "
                f"{', '.join(k for k in self.input_keys if getattr(self, k))} "
                f"— check the file or give `usernames`"
            )
        return names


class VideoInputsConfig(_InputsMixin, CrawlConfig):
    """Comments: of videos (by id, from a file or an earlier videos crawl) or of comments."""

    default_spider: ClassVar[str] = "comments"
    input_keys: ClassVar[tuple[str, ...]] = (
        "video_ids",
        "video_ids_file",
        "from_output",
        "comment_ids",
    )

    video_ids: IdList = Field(default_factory=list)
    video_ids_file: Path | None = None
    from_output: Path | None = None
    column: str = "id"
    only_with_comments: bool = False
    comment_ids: IdList = Field(default_factory=list)
    max_count: MaxCount = 100
    fields: tuple[str, ...] = Field("all", validate_default=True)

    @field_validator("fields", mode="before")
    @classmethod
    def _check_fields(cls, value: Any) -> tuple[str, ...]:
        return _fields_for("comments", value)

    @model_validator(mode="after")
    def _check_inputs(self) -> VideoInputsConfig:
        self._require_input()
        return self

    def inputs(self) -> list[tuple[str, int]]:
        """``("video_id", id)`` then ``("comment_id", id)`` pairs, each once, order kept."""
        keep = has_comments if self.only_with_comments else None
        ids: list = list(self.video_ids)
        if self.video_ids_file:
            ids += self._read(
                "video_ids_file", lambda p: read_values(p, self.column, keep, kind="id")
            )
        if self.from_output:
            column = None if self.column == "id" else self.column
            ids += self._read("from_output", lambda p: read_output(p, "video_id", column, keep))
        try:
            video_ids = _to_ids(ids, "video ids")
        except InputError as exc:
            raise ConfigError(f"{self._where}: {exc} — give numeric video ids") from None
        pairs = [("video_id", i) for i in video_ids] + [("comment_id", i) for i in self.comment_ids]
        pairs = dedupe(pairs)
        if not pairs:
            raise ConfigError(
                f"{self._where}: no video ids found in the given inputs — check "
                f"the file (only_with_comments drops videos without comments)"
            )
        return pairs


class PlaylistInputsConfig(_InputsMixin, CrawlConfig):
    """Playlists: by id, from a file or from the ``playlist_id`` of crawled videos."""

    default_spider: ClassVar[str] = "playlists"
    input_keys: ClassVar[tuple[str, ...]] = ("playlist_ids", "playlist_ids_file", "from_output")

    playlist_ids: IdList = Field(default_factory=list)
    playlist_ids_file: Path | None = None
    from_output: Path | None = None
    column: str = "playlist_id"
    max_count: MaxCount = 100

    @model_validator(mode="after")
    def _check_inputs(self) -> PlaylistInputsConfig:
        self._require_input()
        return self

    def inputs(self) -> list[int]:
        """Playlist ids, each once, order kept."""
        ids: list = list(self.playlist_ids)
        if self.playlist_ids_file:
            ids += self._read("playlist_ids_file", lambda p: read_values(p, self.column, kind="id"))
        if self.from_output:
            column = None if self.column == "playlist_id" else self.column
            ids += self._read("from_output", lambda p: read_output(p, "playlist_id", column))
        try:
            playlist_ids = dedupe(i for i in _to_ids(ids, "playlist ids") if i)
        except InputError as exc:
            raise ConfigError(f"{self._where}: {exc} — give numeric playlist ids") from None
        if not playlist_ids:
            raise ConfigError(
                f"{self._where}: no playlist ids found in the given inputs — "
                f"videos without a playlist have no playlist_id"
            )
        return playlist_ids


class NetworkConfig(_InputsMixin, CrawlConfig):
    """Snowball over followers/following from seed accounts to ``depth`` levels."""

    default_spider: ClassVar[str] = "network"
    input_keys: ClassVar[tuple[str, ...]] = ("seeds", "seeds_file", "from_output")

    seeds: StrList = Field(default_factory=list)
    seeds_file: Path | None = None
    from_output: Path | None = None
    column: str = "username"
    direction: typing.Literal["followers", "following", "both"] = "both"
    depth: int = Field(1, ge=1, le=5)
    max_users_per_level: int | None = Field(None, ge=1)
    max_edges_per_user: int | None = Field(None, ge=1)
    max_count: MaxCount = 100
    fields: tuple[str, ...] = Field("all", validate_default=True)  # user-info fields

    @field_validator("fields", mode="before")
    @classmethod
    def _check_fields(cls, value: Any) -> tuple[str, ...]:
        return _fields_for("users", value)

    @field_validator("seeds")
    @classmethod
    def _strip_at(cls, value: list[str]) -> list[str]:
        return check_names([v.lstrip("@") for v in value], "seeds", "usernames")

    @model_validator(mode="after")
    def _check_inputs(self) -> NetworkConfig:
        self._require_input()
        return self

    def directions(self) -> tuple[str, ...]:
        """The follow endpoints crawled per node: followers, following or both."""
        return ("followers", "following") if self.direction == "both" else (self.direction,)

    def inputs(self) -> list[str]:
        """Seed usernames from the list, the file and the earlier output; each once."""
        names: list[str] = list(self.seeds)
        if self.seeds_file:
            names += self._read("seeds_file", lambda p: read_values(p, self.column, kind="name"))
        if self.from_output:
            column = None if self.column == "username" else self.column
            names += self._read("from_output", lambda p: read_output(p, "username", column))
        names = dedupe(str(n).strip().lstrip("@") for n in names if str(n).strip())
        if not names:
            raise ConfigError(
                f"{self._where}: no seed usernames found — check the file or give `seeds`"
            )
        return names


class RefreshConfig(CrawlConfig):
    """Check stored videos and comments older than ``older_than_days`` (the 15-day duty):
    with batch compliance tasks (``method: compliance``) or by re-querying videos
    (``method: requery``); ``purge`` deletes what is gone. See docs/compliance.md."""

    default_spider: ClassVar[str] = "refresh"

    from_output: Path | None = None  # videos/comments output or id list; default: MongoDB
    category: typing.Literal["video", "comment"] | None = None  # what an id list holds
    method: typing.Literal["compliance", "requery"] = "compliance"
    older_than_days: int = Field(15, ge=0, le=MAX_DAYS)
    purge: bool = False  # delete unavailable records from the outputs / MongoDB
    keep_originals: bool = False  # purge: keep each original file beside the cleaned one
    fields: tuple[str, ...] = Field("all", validate_default=True)
    max_count: MaxCount = 100

    @field_validator("fields", mode="before")
    @classmethod
    def _check_fields(cls, value: Any) -> tuple[str, ...]:
        return _fields_for("videos", value)

    @model_validator(mode="after")
    def _check_method(self) -> RefreshConfig:
        if self.method == "requery" and self.category == "comment":
            raise ValueError(
                "method: requery re-queries videos only — use method: compliance for comments"
            )
        return self

    def inputs(self) -> Any:
        """The ids stored in ``from_output`` per category (``compliance.Stored``); None
        without it (MongoDB). Input of a kind refresh cannot check is refused here."""
        from tiktok_scrapy.compliance import read_stored

        if not self.from_output:
            return None
        stored = self._read("from_output", lambda p: [read_stored(p, self.category)])[0]
        if self.method == "requery" and set(stored.ids) - {"video"}:
            raise ConfigError(
                f"{self._where}: from_output: holds comments, and method: requery re-queries "
                "videos only — use method: compliance"
            )
        return stored


# --- TikTok Shop and the Commercial Content API ------------------------------------------

ShopPageSize = Annotated[int, Field(ge=1, le=SHOP_PAGE_SIZE)]
AdlibMaxCount = Annotated[int, Field(ge=1, le=ADLIB_MAX_COUNT)]
ADLIB_FIRST = date(int(ADLIB_FIRST_DAY[:4]), int(ADLIB_FIRST_DAY[4:6]), int(ADLIB_FIRST_DAY[6:]))


class _ListInputsConfig(_InputsMixin, CrawlConfig):
    """One chain per value: a list, a file, or an earlier crawl's output (``from_output``).

    A subclass names its list key (``<key>_file`` is its file), the kind of value that
    ``inputs.read_output`` finds in earlier outputs, and whether values are numeric ids.
    """

    list_key: ClassVar[str]
    output_kind: ClassVar[str | None] = None
    numeric: ClassVar[bool] = True
    # Keys a record needs to be stored (natural keys): always requested with ``fields``.
    key_fields: ClassVar[tuple[str, ...]] = ()

    column: str = ""
    fields: tuple[str, ...] = Field("all", validate_default=True)

    @field_validator("fields", mode="before")
    @classmethod
    def _check_fields(cls, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        names = _fields_for((info.context or {}).get("spider") or cls.default_spider, value)
        return tuple(dedupe([*cls.key_fields, *names])) if names else names

    @model_validator(mode="after")
    def _check_inputs(self) -> _ListInputsConfig:
        self._require_input()
        return self

    @property
    def _default_column(self) -> str:
        return self.list_key.removesuffix("s")

    def inputs(self) -> list:
        """The values from the list, the file and the earlier output; each once, order kept."""
        column = self.column or self._default_column
        values: list = list(getattr(self, self.list_key))
        file_key = f"{self.list_key}_file"
        if getattr(self, file_key, None):
            values += self._read(file_key, lambda p: read_values(p, column))
        if getattr(self, "from_output", None) and self.output_kind:
            kind = self.output_kind
            values += self._read("from_output", lambda p: read_output(p, kind, self.column or None))
        if self.numeric:
            try:
                values = _to_ids(values, self.list_key.replace("_", " "))
            except InputError as exc:
                raise ConfigError(f"{self._where}: {exc} — give numeric ids") from None
        else:
            values = [str(v).strip() for v in values if str(v).strip()]
        values = dedupe(values)
        if not values:
            raise ConfigError(
                f"{self._where}: no {self.list_key.replace('_', ' ')} found in "
                f"{', '.join(k for k in self.input_keys if getattr(self, k))} — check the file"
            )
        return values


class ShopsConfig(_ListInputsConfig):
    """TikTok Shop info by shop name (EU shops)."""

    default_spider: ClassVar[str] = "shops"
    input_keys: ClassVar[tuple[str, ...]] = ("shop_names", "shop_names_file")
    list_key: ClassVar[str] = "shop_names"
    numeric: ClassVar[bool] = False
    key_fields: ClassVar[tuple[str, ...]] = ("shop_id",)

    shop_names: StrList = Field(default_factory=list)
    shop_names_file: Path | None = None
    max_count: ShopPageSize = SHOP_PAGE_SIZE  # sent as ``limit``: shops per name


class ProductsConfig(_ListInputsConfig):
    """A shop's products by shop id, or from an earlier ``shops`` crawl."""

    default_spider: ClassVar[str] = "products"
    input_keys: ClassVar[tuple[str, ...]] = ("shop_ids", "shop_ids_file", "from_output")
    list_key: ClassVar[str] = "shop_ids"
    output_kind: ClassVar[str | None] = "shop_id"
    key_fields: ClassVar[tuple[str, ...]] = ("product_id",)

    shop_ids: IdList = Field(default_factory=list)
    shop_ids_file: Path | None = None
    from_output: Path | None = None
    max_count: ShopPageSize = SHOP_PAGE_SIZE  # sent as ``page_size``


class ProductReviewsConfig(_ListInputsConfig):
    """A product's reviews by product id, or from an earlier ``products`` crawl."""

    default_spider: ClassVar[str] = "product_reviews"
    input_keys: ClassVar[tuple[str, ...]] = ("product_ids", "product_ids_file", "from_output")
    list_key: ClassVar[str] = "product_ids"
    output_kind: ClassVar[str | None] = "product_id"

    product_ids: IdList = Field(default_factory=list)
    product_ids_file: Path | None = None
    from_output: Path | None = None
    max_count: ShopPageSize = SHOP_PAGE_SIZE  # sent as ``page_size``


class AdDetailsConfig(_ListInputsConfig):
    """Ad details by ad id, or from an earlier ``ads`` crawl."""

    default_spider: ClassVar[str] = "ad_details"
    input_keys: ClassVar[tuple[str, ...]] = ("ad_ids", "ad_ids_file", "from_output")
    list_key: ClassVar[str] = "ad_ids"
    output_kind: ClassVar[str | None] = "ad_id"

    ad_ids: IdList = Field(default_factory=list)
    ad_ids_file: Path | None = None
    from_output: Path | None = None


def _search_terms(value: list[str]) -> list[str]:
    for term in value:
        if len(term) > 50:
            raise ValueError(f'"{term[:60]}" is longer than the API\'s 50 characters — shorten it')
    return value


SearchTerms = Annotated[list[str], BeforeValidator(_as_strings), AfterValidator(_search_terms)]


class AdvertisersConfig(_ListInputsConfig):
    """Advertisers of the ad library by search term."""

    default_spider: ClassVar[str] = "advertisers"
    input_keys: ClassVar[tuple[str, ...]] = ("search_terms", "search_terms_file")
    list_key: ClassVar[str] = "search_terms"
    numeric: ClassVar[bool] = False
    key_fields: ClassVar[tuple[str, ...]] = ("business_id",)

    search_terms: SearchTerms = Field(default_factory=list)
    search_terms_file: Path | None = None
    max_count: AdlibMaxCount = ADLIB_MAX_COUNT


class _AdlibRangeConfig(CrawlConfig):
    """A date range of the ad library (from 2022-10-01) and its filters."""

    range_key: ClassVar[str]  # the filter that holds the date range
    key_fields: ClassVar[tuple[str, ...]] = ()  # always requested (natural keys)
    start_date: DateValue
    end_date: DateValue
    max_count: AdlibMaxCount = ADLIB_MAX_COUNT
    fields: tuple[str, ...] = Field("all", validate_default=True)

    @field_validator("fields", mode="before")
    @classmethod
    def _check_fields(cls, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        names = _fields_for((info.context or {}).get("spider") or cls.default_spider, value)
        return tuple(dedupe([*cls.key_fields, *names]))

    @model_validator(mode="after")
    def _check_range(self) -> _AdlibRangeConfig:
        if self.start_date < ADLIB_FIRST:
            raise ValueError(
                f"start_date {self.start_date} is before {ADLIB_FIRST}: the ad library starts "
                f"there — use start_date: {ADLIB_FIRST} or later"
            )
        if self.start_date > self.end_date:
            raise ValueError(
                f"start_date {self.start_date} is after end_date {self.end_date} — swap them"
            )
        return self

    def date_range(self) -> dict[str, str]:
        return {"min": self.start_date.strftime("%Y%m%d"), "max": self.end_date.strftime("%Y%m%d")}

    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        """(label, body without paging keys) of each chain, in a stable order."""
        raise NotImplementedError

    def inputs(self) -> list[str]:
        """The chains' labels (reads ``from_output`` files now, as other inputs are read)."""
        return [label for label, _ in self.requests()]


def _country(value: Any, allowed: tuple[str, ...], key: str) -> str:
    code = "NO" if value is False else str(value).strip().upper()  # YAML's bare NO
    if code != "ALL" and code not in allowed:
        raise ValueError(
            f'{key}: "{value}" is not a supported country{did_you_mean(code, allowed)} — '
            f"use ALL or one of {', '.join(allowed)}"
        )
    return code


SIZE_PATTERN = r"^[0-9]{1,3}[KMB]$"


class SizeRange(BaseModel):
    """unique_users_seen_size_range: e.g. {min: 10K, max: 1M} (an integer < 1000 + K/M/B)."""

    model_config = ConfigDict(extra="forbid")
    min: Annotated[str, Field(pattern=SIZE_PATTERN)] | None = None
    max: Annotated[str, Field(pattern=SIZE_PATTERN)] | None = None


class AdsConfig(_AdlibRangeConfig):
    """Ads published in a date range, by country, search term(s) or advertiser ids."""

    default_spider: ClassVar[str] = "ads"
    range_key: ClassVar[str] = "ad_published_date_range"
    key_fields: ClassVar[tuple[str, ...]] = ("ad.id",)
    ids_per_chain: ClassVar[int] = 50

    country_code: str = "ALL"
    search_terms: SearchTerms = Field(default_factory=list)
    search_type: typing.Literal["exact_phrase", "fuzzy_phrase"] | None = None
    advertiser_business_ids: IdList = Field(default_factory=list)
    from_output: Path | None = None  # an earlier ``advertisers`` crawl: its business ids
    unique_users_seen_size_range: SizeRange | None = None

    @field_validator("country_code", mode="before")
    @classmethod
    def _check_country(cls, value: Any) -> str:
        return _country(value, AD_COUNTRIES, "country_code")

    @model_validator(mode="after")
    def _warn_ignored_ids(self) -> AdsConfig:
        if self.search_terms and (self.advertiser_business_ids or self.from_output):
            self.warnings.append(
                "with search_terms the API ignores advertiser_business_ids: the ads of those "
                "advertisers are not selected — crawl them in a config of their own"
            )
        return self

    def _business_ids(self) -> list[int]:
        ids: list = list(self.advertiser_business_ids)
        if self.from_output:
            ids += self._read("from_output", lambda p: read_output(p, "business_id"))
        try:
            return dedupe(_to_ids(ids, "advertiser business ids"))
        except InputError as exc:
            raise ConfigError(f"{self._where}: {exc} — give numeric business ids") from None

    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        filters: dict[str, Any] = {self.range_key: self.date_range()}
        filters["country_code"] = self.country_code
        if self.unique_users_seen_size_range:
            size = self.unique_users_seen_size_range.model_dump(exclude_none=True)
            filters["unique_users_seen_size_range"] = size
        base = f"{self.country_code}:{self.date_range()['min']}-{self.date_range()['max']}"
        extra = {"search_type": self.search_type} if self.search_type else {}
        if self.search_terms:
            return [
                (f"{base}:term={term}", {"filters": filters, "search_term": term, **extra})
                for term in dedupe(self.search_terms)
            ]
        ids = self._business_ids()
        if not ids:
            return [(base, {"filters": filters})]
        step = self.ids_per_chain
        return [
            (
                f"{base}:advertisers={i // step + 1}",
                {"filters": {**filters, "advertiser_business_ids": ids[i : i + step]}},
            )
            for i in range(0, len(ids), step)
        ]


class CommercialContentConfig(_AdlibRangeConfig):
    """Commercial content (paid partnerships, promotions) published in a date range."""

    default_spider: ClassVar[str] = "commercial_content"
    range_key: ClassVar[str] = "content_published_date_range"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)

    creator_country_code: str = "ALL"
    creator_usernames: StrList = Field(default_factory=list)

    @field_validator("creator_country_code", mode="before")
    @classmethod
    def _check_country(cls, value: Any) -> str:
        return _country(value, EEA_COUNTRIES, "creator_country_code")

    @field_validator("creator_usernames")
    @classmethod
    def _strip_at(cls, value: list[str]) -> list[str]:
        return [v.lstrip("@") for v in value if v.lstrip("@")]

    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        filters: dict[str, Any] = {
            self.range_key: self.date_range(),
            "creator_country_code": self.creator_country_code,
        }
        if self.creator_usernames:
            filters["creator_usernames"] = dedupe(self.creator_usernames)
        label = f"{self.creator_country_code}:{self.date_range()['min']}-{self.date_range()['max']}"
        return [(label, {"filters": filters})]


SPIDER_CONFIGS: dict[str, type[CrawlConfig]] = {
    "videos": VideosConfig,
    "users": UserInputsConfig,
    "followers": UserInputsConfig,
    "following": UserInputsConfig,
    "liked_videos": UserInputsConfig,
    "pinned_videos": UserInputsConfig,
    "reposted_videos": UserInputsConfig,
    "comments": VideoInputsConfig,
    "playlists": PlaylistInputsConfig,
    "network": NetworkConfig,
    "refresh": RefreshConfig,
    "shops": ShopsConfig,
    "products": ProductsConfig,
    "product_reviews": ProductReviewsConfig,
    "ads": AdsConfig,
    "ad_details": AdDetailsConfig,
    "advertisers": AdvertisersConfig,
    "commercial_content": CommercialContentConfig,
}

# --- Loading ----------------------------------------------------------------------------


def load_config(
    spider: str, source: str | None, overrides: Mapping[str, str] | None = None
) -> CrawlConfig:
    """The validated config for ``spider`` from ``source`` plus ``-a key=value`` overrides."""
    model = SPIDER_CONFIGS.get(spider)
    if model is None:
        hint = did_you_mean(spider, SPIDER_CONFIGS)
        raise ConfigError(
            f'no config model for spider "{spider}"{hint} — spiders: {", ".join(SPIDER_CONFIGS)}'
        )
    if source is None or not str(source).strip():
        raise ConfigError(
            f"no config given — run `scrapy crawl {spider} -a config=my.yaml` "
            f"(a file, inline JSON, or an example name such as quickstart; "
            f"see {DOCS})"
        )
    raw, where, base_dir = read_source(str(source))
    declared = raw.pop("spider", None)
    if declared is not None and declared != spider:
        declared = excerpt(declared, 40)
        raise ConfigError(
            f"{where}: this config is for the {declared} spider — run "
            f"`scrapy crawl {declared}`, or change `spider:` to {spider}"
        )
    given_by: dict[str, str] = {}
    for key, value in (overrides or {}).items():
        if key.startswith("_") or key == "config":
            continue  # scrapyd's _job/_version and the config argument itself
        argument = f"-a {excerpt(key, 40)}={excerpt(value)}"
        if key not in model.model_fields or key == "warnings":
            raise ConfigError(_unknown_key(argument, key, model, spider))
        raw[key] = _coerce_override(model, key, value)
        _check_tree({key: raw[key]}, argument)
        given_by[key] = argument
    context = {"spider": spider, "base_dir": base_dir, "where": where}
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, model, spider, where, given_by)) from None


def read_source(source: str) -> tuple[dict[str, Any], str, Path | None]:
    """``(raw mapping, where for messages, folder for relative paths)`` of a config source."""
    text = source.strip()
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"inline config: {len(text):,} characters — a config is at most "
            f"{MAX_CONFIG_BYTES:,}; put long lists in a file (usernames_file, video_ids_file)"
        )
    if text.startswith("{") or "\n" in text:
        return _parse(text, "inline config", json_first=True), "inline config", None
    path = expand_user(Path(text))
    if _is_file(path):
        content = _read_config_file(path, excerpt(text, 200))
        raw = _parse(content, excerpt(text, 200), json_first=path.suffix.lower() == ".json")
        return raw, excerpt(text, 200), path.resolve().parent
    example = _find_example(text)
    if example is not None:
        content, folder = example
        return _parse(content, f"example {text}"), f"example {text}", folder
    names = example_names()
    raise ConfigError(
        f'config "{excerpt(text)}" not found: no such file and no shipped example of that '
        f"name{did_you_mean(Path(text).stem, names)} — examples: {', '.join(names)}"
    )


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def _read_config_file(path: Path, where: str) -> str:
    """A config file's text: UTF-8 (a leading BOM is fine), at most MAX_CONFIG_BYTES."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{where}: {size:,} bytes — a config is at most {MAX_CONFIG_BYTES:,}; put "
                f"long lists in a file (usernames_file, video_ids_file)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the config: {exc.strerror}") from None
    return decode_text(data, where)


def decode_text(data: bytes, where: str) -> str:
    """UTF-8 text without its BOM, or ConfigError saying which encoding to save it in."""
    for bom, name in UTF_BOMS:
        if data.startswith(bom):
            raise ConfigError(
                f"{where}: the file is {name} text — save it as UTF-8 (in most editors: "
                f'"Save as" > encoding UTF-8)'
            )
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise ConfigError(
            f"{where} line {line}: NUL bytes: the file is not UTF-8 text (it looks like "
            f"UTF-16) — save it as UTF-8"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        utf16 = b"\x00" in data[:200]
        hint = " (it looks like UTF-16)" if utf16 else ""
        raise ConfigError(
            f"{where} line {line}: byte 0x{data[exc.start]:02X} is not UTF-8{hint} — save "
            f"the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def _parse(text: str, where: str, json_first: bool = False) -> dict[str, Any]:
    """A config text as a mapping; syntax errors and invisible characters name the line."""
    _check_invisible(text, where)
    data: Any
    if json_first:
        try:
            data = _load_json(text, where)
        except json.JSONDecodeError as exc:
            try:
                data = _load_yaml(text, where)
            except ConfigError:
                if not text.lstrip().startswith(("{", "[")):
                    raise  # YAML that is not JSON: the YAML error says more
                raise ConfigError(
                    f"{where}: JSON syntax error at line {exc.lineno} column {exc.colno}: {exc.msg}"
                ) from None
    else:
        data = _load_yaml(text, where)
    if data is None:
        raise ConfigError(f"{where}: the config is empty — see {DOCS} for the keys")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: expected `key: value` pairs at the top level, got a {type(data).__name__}"
        )
    _check_tree(data, where)
    return data


def _check_invisible(text: str, where: str) -> None:
    """The first invisible character outside a ``#`` comment, named by line and column."""
    index = invisible_at(text)
    while index is not None:
        prefix = text[text.rfind("\n", 0, index) + 1 : index]
        in_comment = (
            re.search(r"(^|\s)#", prefix) and prefix.count('"') % 2 == 0 and "'" not in prefix
        )
        if not in_comment:
            line, column = line_column(text, index)
            raise ConfigError(
                f"{where} line {line} column {column}: {invisible_message(text, index)}"
            )
        index = invisible_at(text, index + 1)


def _load_json(text: str, where: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise ConfigError(
                    f"{where}: key `{excerpt(key, 40)}` appears twice in one object — keep "
                    f"one (JSON would silently keep only the last)"
                )
            seen[key] = value
        return seen

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except RecursionError:
        raise ConfigError(_too_deep(where)) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ConfigError(f"{where}: {excerpt(str(exc), 100)}") from None


def _too_deep(where: str) -> str:
    return (
        f"{where}: nested more than {MAX_DEPTH} levels deep — a config is a few levels "
        f"of keys and lists"
    )


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader without its silent surprises (see ``_load_yaml``)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen and key != "<<":
                    raise ConfigError(
                        f"{self.where} line {line}: key `{excerpt(key, 40)}` appears twice "
                        f"(also on line {seen[key]}) — keep one (YAML would silently keep "
                        f"only the last)"
                    )
                seen[key] = line
                self._check_comment_trap(value_node, f"`{excerpt(key, 40)}`")
        return super().construct_mapping(node, deep=deep)

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> list:
        for child in node.value:
            self._check_comment_trap(child, "a list item")
        return super().construct_sequence(node, deep=deep)

    def _check_comment_trap(self, node: yaml.Node, what: str) -> None:
        """A value left empty because an unquoted ``#`` started a comment."""
        if not (
            isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null") and node.value == ""
        ):
            return
        # "#flood" right after the colon or dash; "  # a note" is a comment on purpose.
        if re.search(r"(:|^\s*-)\s+#[^\s#]", _line_of(node.start_mark)):
            raise ConfigError(
                f"{self.where} line {node.start_mark.line + 1}: {what} is empty because YAML "
                f"reads `#` as the start of a comment — quote the value "
                f'(hashtags: ["#flood"]) or leave out the # (hashtags: [flood])'
            )

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more than 4,300 digits
            raise ConfigError(
                f"{self.where} line {node.start_mark.line + 1}: a number of "
                f"{len(node.value):,} digits — far too long for any key"
            ) from None

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return node.value  # "2024-02-30": the key's validator names it


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def _line_of(mark: Any) -> str:
    buffer = getattr(mark, "buffer", None)
    if not isinstance(buffer, str):
        return ""
    start = buffer.rfind("\n", 0, mark.pointer) + 1
    end = buffer.find("\n", mark.pointer)
    return buffer[start : end if end >= 0 else len(buffer)]


def _load_yaml(text: str, where: str) -> Any:
    """YAML without duplicate keys, alias bombs, or silently dropped ``#`` values."""
    try:
        loader = _StrictLoader(text)
    except yaml.YAMLError as exc:  # a character YAML refuses (checked before parsing)
        raise ConfigError(f"{where}: YAML cannot read it ({excerpt(str(exc), 100)})") from None
    loader.where = where  # type: ignore[attr-defined]
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_node_size(node, where)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        number = _comment_line(text, exc.context_mark, exc.problem_mark)
        hint = " — check indentation, colons and quotes there"
        if number is not None:
            hint = (
                " — in YAML an unquoted # starts a comment, so the rest of that line was "
                'dropped: quote values that start with # (hashtags: ["#flood"]) or leave '
                "out the #"
            )
        elif mark:
            number = mark.line + 1
        line = f" line {number}" if number else ""
        problem = excerpt(str(exc.problem or exc.context), 100)
        raise ConfigError(f"{where}{line}: YAML syntax error ({problem}){hint}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: YAML syntax error ({excerpt(str(exc), 100)})") from None
    except RecursionError:
        raise ConfigError(_too_deep(where)) from None
    finally:
        loader.dispose()


def _comment_line(text: str, *marks: Any) -> int | None:
    """The line (1-based) between the marks where a ``#`` cut a value short, if any."""
    lines = [m.line for m in marks if m is not None]
    if not lines:
        return None
    rows = text.splitlines()
    for number in range(min(lines), min(max(lines), len(rows) - 1) + 1):
        if re.search(r"[\[{,]\s*#|:\s+#[^\s#]", rows[number]):  # [#flood], key: #flood
            return number + 1
    return None


def _check_node_size(root: yaml.Node, where: str) -> None:
    """Refuse documents that expand to too many values (aliases count each time used)."""
    count = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(
                f"{where}: the config expands to more than {MAX_NODES:,} values (YAML "
                f"anchors & and aliases * count each time they are used) — write it out plainly"
            )
        if depth > MAX_DEPTH:
            raise ConfigError(_too_deep(where))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))


def _check_tree(data: Any, where: str) -> None:
    """Bounded size and depth, and no invisible characters (JSON escapes such as \\u200b)."""
    count = 0
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(f"{where}: the config has more than {MAX_NODES:,} values")
        if depth > MAX_DEPTH:
            raise ConfigError(_too_deep(where))
        if isinstance(value, dict):
            for key, child in value.items():
                if isinstance(key, str):
                    _check_string(key, f"{path}.{key}" if path else key, where, is_key=True)
                name = excerpt(str(key), 40)
                stack.append((child, f"{path}.{name}" if path else name, depth + 1))
        elif isinstance(value, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(value))
        elif isinstance(value, str):
            _check_string(value, path, where)


def _check_string(value: str, path: str, where: str, is_key: bool = False) -> None:
    index = invisible_at(value)
    if index is not None:
        what = "key" if is_key else f"`{excerpt(path, 60)}`"
        raise ConfigError(f"{where}: {what}: {invisible_message(value, index)}")


def _example_dirs() -> list[Any]:
    """Where shipped examples live: package data, then a source checkout's examples/."""
    dirs: list[Any] = []
    with contextlib.suppress(ModuleNotFoundError, TypeError):
        dirs.append(importlib.resources.files(EXAMPLES_PACKAGE))
    checkout = Path(tiktok_scrapy.__file__).resolve().parents[1] / "examples"
    if checkout.is_dir():
        dirs.append(checkout)
    return dirs


def _find_example(name: str) -> tuple[str, Path | None] | None:
    """``(text, folder)`` of the shipped example ``name`` (with or without .yaml/.json)."""
    candidates = (
        [name]
        if Path(name).suffix in (".yaml", ".yml", ".json")
        else [name + ".yaml", name + ".yml", name + ".json"]
    )
    for folder in _example_dirs():
        for candidate in candidates:
            entry = folder.joinpath(candidate)
            if entry.is_file():
                real = Path(str(folder))
                return entry.read_text(encoding="utf-8"), real if real.is_dir() else None
    return None


def example_names() -> list[str]:
    """Names of the shipped examples (without suffix)."""
    names: set[str] = set()
    for folder in _example_dirs():
        names.update(
            e.name.rsplit(".", 1)[0]
            for e in folder.iterdir()
            if e.name.endswith((".yaml", ".yml", ".json"))
        )
    return sorted(names)


# --- Overrides and messages -------------------------------------------------------------


def _is_listy(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return True
    if origin in (Union, types.UnionType, Annotated):
        return any(_is_listy(arg) for arg in typing.get_args(annotation))
    return False


def _coerce_override(model: type[CrawlConfig], key: str, value: str) -> Any:
    """An ``-a key=value`` string as the key's type: lists split on commas, objects parsed."""
    annotation = model.model_fields[key].annotation
    text = value.strip()
    if text.lower() in ("none", "null") and not _is_listy(annotation):
        return None
    if text.startswith(("[", "{")):
        where = f"-a {excerpt(key, 40)}={excerpt(value)}"
        try:
            return _load_yaml(text, where)
        except ConfigError as exc:
            if "YAML syntax error" not in str(exc):
                raise  # too big, too deep, a duplicate key ...
            raise ConfigError(f"{where}: cannot parse the value as JSON") from None
    if _is_listy(annotation):
        if key == "fields" and text == "all":
            return "all"
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


HINTS: dict[str, str] = {
    "location": "there is no location filter; `regions` filters by the country where the "
    "account registered (region_code), not where a video was made",
    "country": "use `regions` (the account's registration country; there is no geotag)",
    "countries": "use `regions` (the account's registration country; there is no geotag)",
    "max_results": "use `max_items` (stop after that many items)",
    "limit": "use `max_items`, `max_requests` or `max_minutes`",
    "since": "use `start_date`",
    "until": "use `end_date`",
}


def _unknown_key(where: str, key: str, model: type[CrawlConfig], spider: str) -> str:
    """Name the unknown key and the likely fix: a spelling, another spider, a hint."""
    if key == "fields" and "fields" not in model.model_fields:
        return f"{where}: the {spider} endpoint takes no fields — remove `fields`"
    hint = key if key in HINTS else None
    if hint is None and key not in model.model_fields:
        close = difflib.get_close_matches(key, [*model.model_fields, *HINTS], n=1, cutoff=0.8)
        hint = close[0] if close and close[0] in HINTS else None
    if hint:
        return f"{where}: unknown key `{excerpt(key, 40)}` for {spider} — {HINTS[hint]}"
    owners = [s for s, m in SPIDER_CONFIGS.items() if m is not model and key in m.model_fields]
    if owners:
        return (
            f"{where}: `{excerpt(key, 40)}` is not a {spider} key — it is for the "
            f"{', '.join(owners)} "
            f"spider{'s' if len(owners) > 1 else ''}; remove it or run one of those"
        )
    known = [k for k in model.model_fields if k != "warnings"]
    suggestion = did_you_mean(key, known)
    fix = f"remove it or fix the spelling{suggestion}" if suggestion else f"see {DOCS}"
    return f"{where}: unknown key `{excerpt(key, 40)}` for {spider} — {fix}"


FIXES: dict[str, str] = {
    "max_count": f"the API returns at most {MAX_COUNT} per page; use 1 to {MAX_COUNT}",
    "window_days": f"TikTok allows at most {MAX_WINDOW_DAYS} days per request; use 1 to "
    f"{MAX_WINDOW_DAYS}",
    "start_date": "write YYYY-MM-DD, e.g. start_date: 2024-01-01",
    "end_date": "write YYYY-MM-DD, e.g. end_date: 2024-01-31",
}
TYPE_WORDS: dict[str, str] = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "text",
    "list": "a list",
    "dict": "an object (key: value pairs)",
    "path": "a file path",
}


def _explain(
    exc: ValidationError,
    model: type[CrawlConfig],
    spider: str,
    where: str,
    given_by: Mapping[str, str],
) -> str:
    """Pydantic's errors as one line for a person: the first two, and how many more."""
    # Unknown keys first: a misspelt key is usually why a required one looks missing.
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    lines = [_explain_one(e, model, spider, where, given_by) for e in errors]
    lines = dedupe(lines)
    message = lines[0]
    if len(lines) > 1:
        message += "; also " + lines[1].removeprefix(f"{where}: ")
    if len(lines) > 2:
        message += f" (and {len(lines) - 2} more problems)"
    return message


def _explain_one(
    error: Mapping[str, Any],
    model: type[CrawlConfig],
    spider: str,
    where: str,
    given_by: Mapping[str, str],
) -> str:
    loc = error.get("loc") or ()
    key = excerpt(str(loc[0]), 40) if loc else ""
    path = key + "".join(f"[{p}]" if isinstance(p, int) else f".{excerpt(p, 40)}" for p in loc[1:])
    where = given_by.get(key, where)
    kind = error["type"]
    value = error.get("input")
    msg = excerpt(str(error.get("msg", "")).removeprefix("Value error, "), 400)
    if kind == "extra_forbidden":
        return _unknown_key(where, key, model, spider)
    if kind == "missing":
        return f"{where}: `{key}` is required — {FIXES.get(key, f'see {DOCS}')}"
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        bound = {
            "less_than_equal": "at most",
            "greater_than_equal": "at least",
            "less_than": "below",
            "greater_than": "above",
        }[kind]
        limit = next(iter((error.get("ctx") or {}).values()), "")
        fix = FIXES.get(key, f"use a value {bound} {limit}")
        return f"{where}: `{path}` is {excerpt(value)}, must be {bound} {limit} — {fix}"
    if kind == "value_error" or kind.startswith("query"):
        if not key:
            return f"{where}: {msg}"
        return f"{where}: {msg}" if msg.startswith(key) else f"{where}: `{path}`: {msg}"
    expected = next((w for t, w in TYPE_WORDS.items() if kind.startswith(t)), None)
    if expected:
        return f"{where}: `{path}` should be {expected}, got {excerpt(value)}"
    return f"{where}: `{path}`: {msg}"
