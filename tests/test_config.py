"""Crawl configs: loading, shorthand, overrides, examples and messages meant for people."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from tiktok_scrapy.api import windows as windows_module
from tiktok_scrapy.api.endpoints import USER_FIELDS, VIDEO_FIELDS
from tiktok_scrapy.config import (
    SPIDER_CONFIGS,
    ConfigError,
    UserInputsConfig,
    VideosConfig,
    example_names,
    load_config,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BASE = {"hashtags": ["flood"], "start_date": "2024-01-01", "end_date": "2024-01-07"}


def inline(**data: Any) -> str:
    return json.dumps(data)


def videos(**changes: Any) -> VideosConfig:
    config = load_config("videos", inline(**{**BASE, **changes}))
    assert isinstance(config, VideosConfig)
    return config


def error_of(spider: str, source: str | None, overrides: dict | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(spider, source, overrides)
    message = str(info.value)
    assert "Traceback" not in message and len(message.splitlines()) <= 2, message
    return message


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(windows_module, "utc_today", lambda: date(2024, 6, 1))


# --- shorthand ------------------------------------------------------------------------


def test_shorthand_single_value_is_eq_several_are_in() -> None:
    config = videos(
        hashtags=["#flood", "storm"],
        regions="us",
        video_length=["short", "MID"],
        keywords="rain",
        music_ids=[7312345678901234567],
    )
    assert config.query == {
        "and": [
            {"field_name": "hashtag_name", "operation": "IN", "field_values": ["flood", "storm"]},
            {"field_name": "keyword", "operation": "EQ", "field_values": ["rain"]},
            {"field_name": "region_code", "operation": "EQ", "field_values": ["US"]},
            {"field_name": "music_id", "operation": "EQ", "field_values": ["7312345678901234567"]},
            {"field_name": "video_length", "operation": "IN", "field_values": ["SHORT", "MID"]},
        ]
    }


def test_shorthand_is_anded_onto_an_explicit_query_and_excludes_go_to_not() -> None:
    query = {
        "or": [{"field_name": "keyword", "operation": "EQ", "field_values": ["rain"]}],
        "not": [{"field_name": "region_code", "operation": "EQ", "field_values": ["US"]}],
    }
    config = videos(
        query=query,
        hashtags=None,
        usernames=["@user_1"],
        exclude_hashtags=["fyp", "foryou"],
        exclude_regions=["gb"],
    )
    assert config.query["or"] == query["or"]
    assert config.query["and"] == [
        {"field_name": "username", "operation": "EQ", "field_values": ["user_1"]}
    ]
    assert [c["field_values"] for c in config.query["not"]] == [["US"], ["fyp", "foryou"], ["GB"]]


def test_norway_survives_yaml(tmp_path: Path) -> None:
    path = tmp_path / "no.yaml"
    path.write_text(
        "regions: [NO, se]\nhashtags: flood\nstart_date: 2024-01-01\nend_date: 2024-01-02\n"
    )
    config = load_config("videos", str(path))
    assert config.query["and"][1]["field_values"] == ["NO", "SE"]


def test_dates_in_every_accepted_form() -> None:
    config = videos(start_date=20240105, end_date="20240110")
    assert (config.start_date, config.end_date) == (date(2024, 1, 5), date(2024, 1, 10))
    assert [str(w) for w in videos(window_days=3).windows()] == [
        "2024-01-01..2024-01-03",
        "2024-01-04..2024-01-06",
        "2024-01-07..2024-01-07",
    ]


def test_fields_default_per_endpoint_and_subsets() -> None:
    assert videos().fields == VIDEO_FIELDS
    assert videos(fields="id, username,id").fields == ("id", "username")
    users = load_config("users", inline(usernames=["a"]))
    assert users.fields == USER_FIELDS and users.spider == "users"
    assert load_config("liked_videos", inline(usernames=["a"])).fields == VIDEO_FIELDS
    assert load_config("followers", inline(usernames=["a"])).fields == ()


# --- the 48 h lag -----------------------------------------------------------------------


def test_end_date_inside_the_lag_warns_with_the_date_to_use() -> None:
    config = videos(start_date="2024-05-25", end_date="2024-05-31")
    assert len(config.warnings) == 1
    assert "use end_date: 2024-05-30" in config.warnings[0]
    assert videos(start_date="2024-05-25", end_date="2024-05-30").warnings == []
    assert "warnings" not in config.to_jsonable()


# --- overrides --------------------------------------------------------------------------


def test_overrides_are_converted_to_each_keys_type() -> None:
    config = load_config(
        "videos",
        inline(**BASE),
        {
            "end_date": "2024-01-05",
            "max_count": "50",
            "hashtags": "flood, storm",
            "is_random": "true",
            "fields": "id,username",
            "window_days": "2",
            "_job": "abc",
        },
    )
    assert config.end_date == date(2024, 1, 5)
    assert config.max_count == 50 and config.is_random is True and config.window_days == 2
    assert config.query["and"][0]["field_values"] == ["flood", "storm"]
    assert config.fields == ("id", "username")
    query = json.dumps(
        {"and": [{"field_name": "keyword", "operation": "EQ", "field_values": ["x"]}]}
    )
    assert load_config("videos", inline(**BASE), {"query": query, "hashtags": ""}).query == {
        "and": [{"field_name": "keyword", "operation": "EQ", "field_values": ["x"]}]
    }


def test_override_errors_name_the_argument() -> None:
    message = error_of("videos", inline(**BASE), {"max_count": "many"})
    assert message.startswith("-a max_count=many:") and "whole number" in message
    message = error_of("videos", inline(**BASE), {"maxcount": "5"})
    assert "unknown key `maxcount`" in message and '"max_count"' in message


# --- sources ----------------------------------------------------------------------------


def test_inline_json_and_inline_yaml() -> None:
    assert load_config("users", '{"usernames": ["a", "b"]}').inputs() == ["a", "b"]
    assert load_config("users", "{usernames: [a]}").inputs() == ["a"]


def test_yaml_and_json_files(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**BASE, "name": "mine"}))
    (tmp_path / "c.json").write_text(json.dumps({**BASE, "name": "mine"}))
    from_yaml = load_config("videos", str(tmp_path / "c.yaml"))
    from_json = load_config("videos", str(tmp_path / "c.json"))
    assert from_yaml.query_id() == "mine" == from_json.query_id()
    assert from_yaml.fingerprint() == from_json.fingerprint()


@pytest.mark.parametrize("name", ["quickstart", "quickstart.yaml"])
def test_example_lookup_by_name(name: str) -> None:
    config = load_config("videos", name)
    assert config.query_id() == "quickstart" and len(config.windows()) == 7


def test_every_shipped_example_validates_and_reads_its_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = tmp_path / "data" / "videos" / "20240101T000000Z"
    job.mkdir(parents=True)
    (job / "videos.jsonl").write_text(
        json.dumps(
            {
                "id": 7312345678901234567,
                "username": "user_0a1b2c3d",
                "comment_count": 3,
                "playlist_id": 7300000000000000001,
            }
        )
        + "\n"
    )
    for spider, record in {  # earlier Shop and ad-library outputs for the chained examples
        "shops": {"shop_id": 7494754040961993092, "shop_name": "Free Soul"},
        "products": {"product_id": 1729587769570529799, "shop_id": 7494754040961993092},
        "ads": {"ad_id": 104836593772645, "ad": {"id": 104836593772645}},
    }.items():
        folder = tmp_path / "data" / spider / "20240101T000000Z"
        folder.mkdir(parents=True)
        (folder / f"{spider}.jsonl").write_text(json.dumps(record) + "\n")
    monkeypatch.chdir(tmp_path)
    names = example_names()
    assert {"quickstart", "raw_query", "event_window", "users", "playlists"} <= set(names)
    spiders_seen = set()
    for name in names:
        spider = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())["spider"]
        config = load_config(spider, name)
        spiders_seen.add(spider)
        if isinstance(config, VideosConfig):
            assert config.windows() and config.start_date >= date(2024, 1, 1)
            assert config.end_date <= date(2024, 3, 31)  # the sandbox's default data
        else:
            assert config.inputs(), name
    assert spiders_seen == set(SPIDER_CONFIGS)


def test_raw_query_example_is_kept_verbatim() -> None:
    config = load_config("videos", "raw_query")
    assert config.query["not"] == [
        {"field_name": "video_length", "operation": "EQ", "field_values": ["SHORT"]}
    ]


# --- fingerprint and dumps --------------------------------------------------------------


def test_fingerprint_ignores_limits_but_not_the_query() -> None:
    base = videos()
    assert videos(max_items=10, max_minutes=1.5, max_requests=3).fingerprint() == base.fingerprint()
    assert videos(hashtags=["storm"]).fingerprint() != base.fingerprint()
    assert len(base.query_id()) == 12 and base.query_id() == base.fingerprint()[:12]
    assert videos(name="study-1").query_id() == "study-1"


def test_fingerprint_ignores_the_order_of_sets() -> None:
    base = videos(regions=["FR", "DE"], hashtags=["flood", "storm"], keywords=["a", "b"])
    same = videos(regions=["DE", "FR"], hashtags=["storm", "flood"], keywords=["b", "a"])
    assert same.fingerprint() == base.fingerprint()
    assert (
        videos(fields="view_count,id").fingerprint() == videos(fields="id,view_count").fingerprint()
    )
    assert videos(fields=list(reversed(VIDEO_FIELDS))).fingerprint() == videos().fingerprint()
    in_query = {
        "and": [{"field_name": "region_code", "operation": "IN", "field_values": ["FR", "DE"]}]
    }
    swapped = {"and": [{**in_query["and"][0], "field_values": ["DE", "FR"]}]}
    assert (
        videos(hashtags=[], query=in_query).fingerprint()
        == videos(hashtags=[], query=swapped).fingerprint()
    )
    users = [load_config("followers", inline(usernames=n)) for n in (["a", "b"], ["b", "a"])]
    assert users[0].fingerprint() == users[1].fingerprint()
    comments = [load_config("comments", inline(video_ids=i)) for i in ([1, 2], [2, 1])]
    assert comments[0].fingerprint() == comments[1].fingerprint()
    # What is crawled still counts: another set, or a value moved out of the IN list.
    assert videos(regions=["FR"]).fingerprint() != videos(regions=["FR", "DE"]).fingerprint()
    assert videos(regions=["FR"], exclude_regions=["DE"]).fingerprint() != base.fingerprint()
    assert videos(fields="id").fingerprint() != videos(fields="id,view_count").fingerprint()


def test_dump_round_trips_to_the_same_config() -> None:
    config = videos(regions=["us"], exclude_keywords=["ad"], max_items=5)
    dumped = config.to_jsonable()
    assert dumped["start_date"] == "2024-01-01" and "hashtags" not in dumped
    again = load_config("videos", json.dumps(dumped))
    assert again.fingerprint() == config.fingerprint() and again.max_items == 5


def test_same_inputs_for_another_spider_is_another_fingerprint() -> None:
    source = inline(usernames=["a"])
    assert (
        load_config("followers", source).fingerprint()
        != load_config("following", source).fingerprint()
    )


# --- messages for people ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spider", "data", "expected"),
    [
        ("videos", {**BASE, "hashtag": ["x"]}, ["`hashtag`", '"hashtags"']),
        (
            "videos",
            {**BASE, "usernames_file": "u.txt"},
            ["`usernames_file` is not a videos key", "users"],
        ),
        ("videos", {**BASE, "location": "Berlin"}, ["no location filter", "regions"]),
        ("videos", {**BASE, "max_count": 150}, ["`max_count` is 150", "use 1 to 100"]),
        ("videos", {**BASE, "window_days": 45}, ["`window_days` is 45", "30 days"]),
        ("videos", {**BASE, "is_random": "maybe"}, ["`is_random` should be true or false"]),
        ("videos", {**BASE, "start_date": "2024-13-01"}, ["start_date", "YYYY-MM-DD"]),
        ("videos", {**BASE, "start_date": "2024-02-01"}, ["after end_date", "swap"]),
        ("videos", {"hashtags": "x", "start_date": "2024-01-01"}, ["`end_date` is required"]),
        ("videos", {**BASE, "fields": ["id", "likes"]}, ['unknown field "likes"', "like_count"]),
        ("videos", {**BASE, "regions": ["UK"]}, ['regions[0]: unknown region code "UK"', "GB"]),
        ("videos", {**BASE, "video_length": "medium"}, ["video_length[0]", "SHORT, MID"]),
        ("videos", {k: v for k, v in BASE.items() if k != "hashtags"}, ["no query", "hashtags"]),
        (
            "videos",
            {
                **BASE,
                "query": {
                    "and": [
                        {"field_name": "keyword", "operation": "EQ", "field_values": ["a", "b"]}
                    ]
                },
            },
            ["query.and[0].field_values", "use IN"],
        ),
        (
            "videos",
            {
                **BASE,
                "query": {
                    "and": [{"field_name": "keyword", "operation": "LIKE", "field_values": ["a"]}]
                },
            },
            ['query.and[0].operation: unknown operation "LIKE"'],
        ),
        ("users", {}, ["no input", "`usernames`", "`from_output`"]),
        ("followers", {"usernames": ["a"], "fields": ["display_name"]}, ["takes no fields"]),
        ("playlists", {"playlist_ids": [1], "fields": "all"}, ["takes no fields"]),
        ("comments", {"video_ids": [1.5]}, ["`video_ids`", "whole numbers"]),
        ("users", {"usernames": "a", "max_items": 0}, ["`max_items` is 0", "at least 1"]),
    ],
)
def test_config_errors_name_key_and_fix(spider: str, data: dict, expected: list[str]) -> None:
    message = error_of(spider, json.dumps(data))
    assert message.startswith("inline config: ")
    for part in expected:
        assert part in message


def test_missing_config_says_how_to_pass_one() -> None:
    assert "-a config=" in error_of("videos", None)


def test_unknown_example_suggests_the_closest() -> None:
    message = error_of("videos", "quickstrat")
    assert 'did you mean "quickstart"' in message and "not found" in message


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("hashtags: [flood\nstart_date: 2024-01-01\nend_date: x: y\n")
    message = error_of("videos", str(path))
    assert message.startswith(f"{path} line ") and "YAML syntax error" in message


def test_bad_inline_json_names_the_position() -> None:
    assert "JSON syntax error at line 1" in error_of("videos", '{"hashtags": [}')


def test_config_meant_for_another_spider(tmp_path: Path) -> None:
    assert "run `scrapy crawl videos`" in error_of("users", "quickstart")


def test_too_many_problems_fit_in_two_lines() -> None:
    message = error_of("videos", inline(a=1, b=2, c=3, d=4))
    assert "more problems" in message


def test_missing_input_file_is_named_at_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config("users", inline(usernames_file="nowhere.txt"))
    with pytest.raises(ConfigError) as info:
        config.inputs()
    assert "usernames_file: nowhere.txt not found" in str(info.value)


def test_relative_paths_try_cwd_then_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, cwd = tmp_path / "study", tmp_path / "cwd"
    folder.mkdir()
    cwd.mkdir()
    (folder / "config.yaml").write_text("usernames_file: names.txt\n")
    (folder / "names.txt").write_text("from_config_folder\n")
    monkeypatch.chdir(cwd)
    config = load_config("users", str(folder / "config.yaml"))
    assert config.inputs() == ["from_config_folder"]
    (cwd / "names.txt").write_text("from_cwd\n")
    assert config.inputs() == ["from_cwd"]


def test_models_can_be_built_directly() -> None:
    config = UserInputsConfig(usernames=["a"])
    assert config.spider == "users" and config.fields == USER_FIELDS
