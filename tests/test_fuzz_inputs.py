"""Fuzzing every input a researcher gives: configs, ``-a`` values, ``-s`` settings, input
files, and the bodies the sandbox receives (issue 18).

Each property calls the function ``scrapy crawl`` uses (:func:`preflight`) in-process: an
input is either accepted — and then usable downstream without an exception — or refused
with a ConfigError/SettingsError of one short line; nothing else may escape. The real
processes (exit status 2, one stderr line, nothing sent) are checked in
test_bad_inputs.py. Derandomized with a bounded number of examples (200 per property), so
CI is deterministic and the file runs in well under a minute.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy import Request
from scrapy.settings import Settings
from settings_fixture import project_settings

from tiktok_scrapy.api.endpoints import ENDPOINTS, TOKEN_PATH
from tiktok_scrapy.api.query import QUERY_KEYS
from tiktok_scrapy.config import SPIDER_CONFIGS, CrawlConfig, VideosConfig
from tiktok_scrapy.continuous import run_today
from tiktok_scrapy.middlewares.quota import daily_limits
from tiktok_scrapy.preflight import BAD_INPUT, preflight
from tiktok_scrapy.sandbox import SandboxOptions
from tiktok_scrapy.sandbox.app import BODY_KEYS, answer
from tiktok_scrapy.sandbox.dataset import Dataset
from tiktok_scrapy.sandbox.state import SandboxState
from tiktok_scrapy.settings_check import SettingsError, check_settings
from tiktok_scrapy.settings_spec import SETTINGS, SPEC
from tiktok_scrapy.text import invisible_at

# CI: a fixed number of derandomized examples. Locally, FUZZ_EXAMPLES=5000 explores more
# (with a random seed; hypothesis prints how to reproduce a failure).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Pieces that broke something once, or look as if they might.
NASTY = [
    "\u200b",
    "\ufeff",
    "\ud800",
    "\udcff",
    "\u00b2",
    "\uff11\uff12\uff13",
    "\u0663",
    "\u00a0",
    "\u2028",
    "\x00",
    "\x1b",
    "#",
    " #note",
    ",",
    ", ",
    ":",
    ": ",
    "- ",
    "&a ",
    "*a",
    "[",
    "]",
    "{",
    "}",
    "'",
    '"',
    "\n",
    "\n  ",
    "\t",
    "@",
    "9999-12-31",
    "2024-02-30",
    "2024-01-01",
    "20240101",
    "1e-300",
    "nan",
    "-1",
    "0",
    "1.5",
    "7312345678901234567",
    "9" * 30,
    "null",
    "true",
    "no",
    "flood",
    "all",
    "US",
    "{nope}",
    "{spider}",
    "~",
    "~nobody/",
    "/",
    "\U0001f3f3\ufe0f\u200d\U0001f308",
]
# Digits that are not 0-9, and numbers that are not ids.
NUMBER_LIKE = [
    "\u00b2",
    "\uff11\uff12\uff13",
    "\u0663\u0664",
    "\u2460",
    "12",
    "9" * 25,
    "9" * 5000,
    "-1",
    "1.5",
    " 7 ",
    "1_000",
    "20240230",
    "99991231",
]
KEYS = sorted({key for model in SPIDER_CONFIGS.values() for key in model.model_fields})
GOOD = {"hashtags": ["flood"], "start_date": "2024-01-01", "end_date": "2024-01-07"}

piece = st.one_of(st.sampled_from(NASTY + NUMBER_LIKE), st.text(max_size=6))
nasty_text = st.lists(piece, max_size=5).map("".join)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(nasty_text, inner, max_size=4)
    ),
    max_leaves=12,
)
config_dicts = st.dictionaries(st.sampled_from([*KEYS, "spider", "junk"]), json_values, max_size=6)
_names = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


PROJECT = project_settings()


def outcome(spider: str, spargs: dict[str, Any], given: Settings = PROJECT) -> CrawlConfig | None:
    """The config preflight accepts, or None after checking its refusal is one short line."""
    try:
        config = preflight(spider, spargs, given, SPIDER_CONFIGS)
    except BAD_INPUT as error:
        message = str(error)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        assert len(message) < 700, message
        assert "Traceback" not in message
        return None
    # Accepted: what the crawl does with a config next must not raise either.
    config.fingerprint()
    json.dumps(config.to_jsonable(), ensure_ascii=False).encode("utf-8")
    if isinstance(config, VideosConfig) and config.mode == "range":
        config.windows()
    return config


def write(workdir: Path, suffix: str, data: bytes) -> str:
    path = workdir / f"f{next(_names)}{suffix}"
    path.write_bytes(data)
    return str(path)


def encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-sig":
        return "\ufeff".encode() + text.encode("utf-8", "surrogatepass")
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1"])


# --- configs ------------------------------------------------------------------------------


@FUZZ
@given(
    spider=st.sampled_from(sorted(SPIDER_CONFIGS)),
    data=config_dicts,
    base=st.booleans(),
    form=st.sampled_from(["json", "json-ascii", "yaml", "inline"]),
)
def test_structured_configs(workdir: Path, spider: str, data: dict, base: bool, form: str):
    data = {**GOOD, **data} if base and spider == "videos" else data
    if form == "inline":
        source = json.dumps(data, ensure_ascii=False)
    elif form.startswith("json"):
        text = json.dumps(data, ensure_ascii=form == "json-ascii")
        source = write(workdir, ".json", text.encode("utf-8", "surrogatepass"))
    else:
        try:
            text = yaml.safe_dump(data, allow_unicode=True)
        except yaml.YAMLError:
            text = json.dumps(data)
        source = write(workdir, ".yaml", text.encode("utf-8", "surrogatepass"))
    outcome(spider, {"config": source})


yaml_lines = st.lists(
    st.tuples(st.sampled_from([*KEYS, "junk"]), nasty_text, st.sampled_from(["", "  ", "- "])),
    max_size=8,
)


@FUZZ
@given(
    spider=st.sampled_from(["videos", "users", "comments", "network"]),
    rows=yaml_lines,
    encoding=ENCODINGS,
)
def test_hand_written_yaml(workdir: Path, spider: str, rows: list, encoding: str) -> None:
    text = "\n".join(f"{indent}{key}: {value}" for key, value, indent in rows)
    outcome(spider, {"config": write(workdir, ".yaml", encode(text, encoding))})


@FUZZ
@given(text=st.text(max_size=200), json_first=st.booleans())
def test_any_text_at_all(workdir: Path, text: str, json_first: bool) -> None:
    outcome(
        "videos",
        {"config": write(workdir, ".json" if json_first else ".yaml", encode(text, "utf-8"))},
    )


# --- -a values -----------------------------------------------------------------------------


@FUZZ
@given(
    spider=st.sampled_from(["videos", "users", "comments", "playlists"]),
    args=st.dictionaries(
        st.sampled_from([*KEYS, "dry_run", "force", "_job", "junk"]), nasty_text, max_size=3
    ),
)
def test_arguments(spider: str, args: dict[str, str]) -> None:
    configs = {
        "videos": GOOD,
        "users": {"usernames": ["alice"]},
        "comments": {"video_ids": [1]},
        "playlists": {"playlist_ids": [1]},
    }
    args.pop("config", None)
    outcome(spider, {"config": json.dumps(configs[spider]), **args})


# --- -s settings ----------------------------------------------------------------------------

INTERESTING = [
    "1e-300",
    "1e300",
    "nan",
    "inf",
    "-0",
    "{}",
    "[]",
    "null",
    "None",
    "True",
    "yes",
    '{"main": 1}',
    '{"main": "x"}',
    '{"seed": 2}',
    "data/{spider}/{job}",
    "state/{query_id}",
    "2024-01-01",
    "https://example.org",
    "http://127.0.0.1:9",
    " https://x.org",
    "https://x.org/\u200b",
    "mongodb://h",
    "pymongo.MongoClient",
    "stop",
    "video_length",
    "INFO",
]


def read_as_components_do(spec_name: str, given: Settings) -> None:
    """Read an accepted value the way the component that uses it does."""
    spec = SPEC[spec_name]
    if spec.kind == "int":
        value = given.getint(spec_name)
        assert spec.minimum is None or value >= spec.minimum or (spec.zero_is_off and value == 0)
    elif spec.kind == "float":
        value = given.getfloat(spec_name)
        assert math.isfinite(value)
        assert spec.minimum is None or value >= spec.minimum or (spec.zero_is_off and value == 0)
    elif spec.kind == "bool":
        given.getbool(spec_name)
    elif spec.kind == "quota":
        assert all(v >= 0 for v in daily_limits(given).values())
    elif spec.kind == "sandbox":
        SandboxOptions.from_dict(given.getdict(spec_name))
    elif spec.kind == "template":
        given.get(spec_name).format(spider="videos", job="j", query_id="q")
    elif spec.kind == "date" and given.get(spec_name):
        assert run_today(given) >= date(2016, 1, 1)
    elif spec.kind == "url":
        Request(given.get(spec_name) + TOKEN_PATH, method="POST")
    elif spec.kind == "log_level":
        logging.getLogger("fuzz").setLevel(given.get(spec_name))
    elif spec.kind == "choice" and given.get(spec_name):
        assert given.get(spec_name) in spec.choices


@FUZZ
@given(
    name=st.sampled_from([s.name for s in SETTINGS if s.kind != "jobdir"]),
    value=st.one_of(st.sampled_from(INTERESTING), nasty_text),
)
def test_settings(name: str, value: str) -> None:
    given_settings = project_settings(**{name: value})
    try:
        check_settings(given_settings)
    except SettingsError as error:
        message = str(error)
        assert "\n" not in message and len(message) < 700, message
        assert message.startswith(f"-s {name}=")
        return
    read_as_components_do(name, given_settings)


@FUZZ
@given(name=st.text(min_size=1, max_size=12).map(lambda s: "TIKTOK_" + s), value=nasty_text)
def test_unknown_setting_names(name: str, value: str) -> None:
    try:
        check_settings(project_settings(**{name: value}))
    except SettingsError as error:
        assert "\n" not in str(error) and len(str(error)) < 700
    else:
        assert name in SPEC


# --- input files --------------------------------------------------------------------------

INPUTS = {
    "usernames": ("users", "usernames_file", "name"),
    "seeds": ("network", "seeds_file", "name"),
    "video_ids": ("comments", "video_ids_file", "id"),
    "playlist_ids": ("playlists", "playlist_ids_file", "id"),
}


@FUZZ
@given(
    which=st.sampled_from(sorted(INPUTS)),
    lines=st.lists(nasty_text, min_size=1, max_size=8),
    suffix=st.sampled_from([".txt", ".csv", ".jsonl"]),
    encoding=ENCODINGS,
)
def test_input_files(workdir: Path, which: str, lines: list, suffix: str, encoding: str):
    spider, key, kind = INPUTS[which]
    column = "value"
    if suffix == ".csv":
        text = column + "\n" + "\n".join(lines)
    elif suffix == ".jsonl":
        text = "\n".join(json.dumps({column: line}) for line in lines)
    else:
        text = "\n".join(lines)
    path = write(workdir, suffix, encode(text, encoding))
    config = outcome(spider, {"config": json.dumps({key: path, "column": column})})
    if config is None or suffix == ".jsonl":  # JSON Lines are earlier outputs: taken as is
        return
    values = config.inputs()
    for value in values:
        if kind == "id":
            assert isinstance(value, int | tuple)
        else:
            assert invisible_at(value) is None and not any(c.isspace() for c in value)


# --- the sandbox ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> tuple[SandboxState, Dataset]:
    options = SandboxOptions(quota_main=10**9, quota_follow=10**9, end=date(2024, 1, 10))
    dataset = Dataset.generate(seed=0, scale=0.05, start=options.start, end=options.end)
    return SandboxState(options), dataset


condition = st.fixed_dictionaries(
    {
        "field_name": st.sampled_from(
            ["music_id", "video_id", "effect_id", "create_date", "region_code", "view_count"]
        ),
        "operation": st.sampled_from(["EQ", "IN", "GT"]),
        "field_values": st.lists(
            st.one_of(st.sampled_from(NUMBER_LIKE), nasty_text), min_size=1, max_size=2
        ),
    }
)
VALID: dict[str, dict[str, Any]] = {
    "videos": {
        "query": {
            "and": [{"field_name": "region_code", "operation": "EQ", "field_values": ["US"]}]
        },
        "start_date": "20240101",
        "end_date": "20240102",
    },
    "comments": {"video_id": 1},
    "playlists": {"playlist_id": 1},
}


def body_for(endpoint: str, changes: dict[str, Any]) -> bytes:
    """A valid body of the endpoint with some keys replaced: bad values get past the
    checks of the other keys, as far as the serving code."""
    return json.dumps({**VALID.get(endpoint, {"username": "alice"}), **changes}).encode()


def bodies(endpoint: str) -> st.SearchStrategy[tuple[str, bytes]]:
    keys = sorted(BODY_KEYS[endpoint])
    changed = st.dictionaries(st.sampled_from(keys), json_values, max_size=2)
    return st.tuples(
        st.just(endpoint),
        st.one_of(
            changed.map(lambda changes: body_for(endpoint, changes)),
            json_values.map(lambda b: json.dumps(b).encode()),
            st.binary(max_size=40),
        ),
    )


def sandbox_status(served: tuple, endpoint: str, body: bytes) -> None:
    state, dataset = served
    spec = ENDPOINTS[endpoint]
    fields = ",".join(spec.fields[:2]) if spec.fields else None
    response = answer(state, dataset, spec, "client", body, fields)
    assert response.status < 500, response.body[:300]
    if response.status != 200:
        assert json.loads(response.body)["error"]["code"] != "internal_error"


@FUZZ
@given(case=st.sampled_from(sorted(e for e in ENDPOINTS if e in BODY_KEYS)).flatmap(bodies))
def test_sandbox_never_answers_500_to_a_bad_body(served: tuple, case: tuple[str, bytes]):
    sandbox_status(served, *case)


@FUZZ
@given(conditions=st.lists(condition, min_size=1, max_size=2), key=st.sampled_from(QUERY_KEYS))
def test_sandbox_never_answers_500_to_a_bad_query(served: tuple, conditions: list, key: str):
    body = body_for("videos", {"query": {key: conditions}})
    sandbox_status(served, "videos", body)
