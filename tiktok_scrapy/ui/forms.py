"""The query builder's form as a crawl config, validated by the same models as the CLI.

The form's fields are named like the config keys; a spider shows only the keys its model
has. Lists are typed one per line or comma-separated; the input list of an input spider is
one textarea (``inputs``) for that spider's list key. A ``ConfigError`` is mapped back to
the field it names (the first `key` in backticks, else the first key named in it), so the
page can show the CLI's one-line message next to that field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from tiktok_scrapy.config import SPIDER_CONFIGS, ConfigError, CrawlConfig, VideosConfig, load_config

# Keys the form offers as text lists (one per line or comma-separated).
LIST_KEYS = (
    "hashtags",
    "keywords",
    "regions",
    "usernames",
    "music_ids",
    "effect_ids",
    "exclude_hashtags",
    "exclude_keywords",
    "exclude_regions",
    "exclude_usernames",
    "search_terms",
    "creator_usernames",
    "advertiser_business_ids",
)
TEXT_KEYS = (
    "name",
    "start_date",
    "end_date",
    "fields",
    "from_output",
    "column",
    "country_code",
    "creator_country_code",
    "search_type",
)
NUMBER_KEYS = ("max_items", "max_requests", "max_minutes", "window_days", "max_count", "depth")
BOOL_KEYS = ("is_random", "only_with_comments")
JSON_KEYS = ("query",)
# Every key the form can send; anything else in a POST is ignored.
FORM_KEYS = (*LIST_KEYS, *TEXT_KEYS, *NUMBER_KEYS, *BOOL_KEYS, *JSON_KEYS, "video_length")
INPUTS = "inputs"
WHERE = "inline config"  # how load_config names a config given as JSON: said by the field


def input_key(spider: str) -> str | None:
    """The list key an input spider reads its names or ids from (``usernames``, ...)."""
    model = SPIDER_CONFIGS.get(spider)
    keys = getattr(model, "input_keys", ()) if model else ()
    if spider == "videos" or not keys:
        return None
    return keys[0] if keys[0] in model.model_fields and not keys[0].endswith("_file") else None


def spider_keys() -> dict[str, list[str]]:
    """For each spider, the form fields it shows (its model's keys the form knows)."""
    result = {}
    for spider, model in SPIDER_CONFIGS.items():
        keys = [k for k in FORM_KEYS if k in model.model_fields]
        if input_key(spider):
            keys = [k for k in keys if k != input_key(spider)] + [INPUTS]
        result[spider] = keys
    return result


def split_list(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def number(text: str) -> int | float | str:
    """A number typed in a form as one (a YAML that says ``max_count: 50``); else the text,
    for the model to name what is wrong with it."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def form_to_config(spider: str, form: Any) -> dict[str, Any]:
    """The config mapping a form describes: only the keys given, and only the spider's.

    ``form`` is a multi-dict (Starlette's ``FormData``) or a plain dict of strings/lists.
    A JSON ``query`` that does not parse stays a string: the model says what is wrong.
    """
    model = SPIDER_CONFIGS.get(spider)
    if model is None:
        return {}
    known = model.model_fields

    def get(key: str) -> str:
        value = form.get(key)
        return "" if value is None else str(value).strip()

    raw: dict[str, Any] = {}
    for key in LIST_KEYS:
        if key in known and get(key):
            raw[key] = split_list(get(key))
    for key in TEXT_KEYS:
        if key in known and get(key):
            raw[key] = split_list(get(key)) if key == "fields" and get(key) != "all" else get(key)
    for key in NUMBER_KEYS:
        if key in known and get(key):
            raw[key] = number(get(key))
    for key in BOOL_KEYS:
        if key in known and get(key):
            raw[key] = get(key).lower() in ("on", "true", "1", "yes")
    if "query" in known and get("query"):
        try:
            raw["query"] = json.loads(get("query"))
        except ValueError:
            raw["query"] = get("query")
    if "video_length" in known:
        lengths = (
            form.getlist("video_length")
            if hasattr(form, "getlist")
            else form.get("video_length", [])
        )
        lengths = [lengths] if isinstance(lengths, str) else list(lengths)
        if lengths:
            raw["video_length"] = lengths
    key = input_key(spider)
    if key and get(INPUTS):
        raw[key] = split_list(get(INPUTS))
    return raw


@dataclass
class Checked:
    """What the page shows after a check: errors by field, the query, the YAML."""

    spider: str
    raw: dict[str, Any]
    config: CrawlConfig | None = None
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.config is not None and not self.errors

    def query_json(self) -> str:
        if isinstance(self.config, VideosConfig):
            return json.dumps(self.config.query, indent=2)
        if self.config is not None:
            return json.dumps(self.config.to_jsonable(), indent=2, default=str)
        return ""

    def yaml(self) -> str:
        return yaml.safe_dump({"spider": self.spider, **self.raw}, sort_keys=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "errors": self.errors,
            "warnings": self.warnings,
            "query": self.query_json(),
            "yaml": self.yaml() if self.raw else "",
            "config": json.dumps(self.raw),
        }


def check(spider: str, raw: dict[str, Any], *, read_inputs: bool = False) -> Checked:
    """Validate ``raw`` for ``spider`` as ``scrapy crawl -a config=<json>`` would."""
    checked = Checked(spider, raw)
    if spider not in SPIDER_CONFIGS:
        checked.errors["spider"] = f'no spider "{spider}"'
        return checked
    try:
        config = load_config(spider, json.dumps(raw, default=str))
        if read_inputs and hasattr(config, "inputs"):
            config.inputs()
    except ConfigError as error:
        for line in str(error).splitlines():
            line = line.removeprefix(f"{WHERE}: ")
            checked.errors.setdefault(field_of(spider, line), line)
        return checked
    checked.config = config
    checked.warnings = list(config.warnings)
    return checked


def field_of(spider: str, message: str) -> str:
    """The form field a one-line error is about ("" when it names none)."""
    keys = spider_keys().get(spider, [])
    inputs = set(getattr(SPIDER_CONFIGS.get(spider), "input_keys", ()))
    if message.startswith("no query"):
        return "hashtags"
    names = [
        *re.findall(r"`([a-z_]+)", message),
        *re.findall(r"^([a-z_]+)(?:\[\d+\])?[.:]", message),
        *re.findall(r"\b([a-z]+_[a-z_]+)\b", message),
    ]
    for name in names:
        if name in inputs and INPUTS in keys:
            return INPUTS
        if name in keys:
            return name
    return ""
